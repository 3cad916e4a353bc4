//! Rotation by size: the chain continues across files, the directory verifies as one log, and
//! a deleted, reordered or cut-short file is detected.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::path::{Path, PathBuf};

use mandate_audit::{
    AuditLog, AuditOptions, AuditWriter, Durability, VerifyErrorKind, VerifyOptions, log_files,
    verify_dir, verify_files,
};

fn options(rotate_bytes: u64) -> AuditOptions {
    AuditOptions {
        durability: Durability::Buffered,
        checkpoint_every: 5,
        signing_key: Some(common::SEED),
        key_id: None,
        queue_capacity: 16,
        rotate_bytes,
        max_record_bytes: mandate_audit::MAX_LINE_BYTES,
    }
}

fn signed() -> VerifyOptions {
    VerifyOptions {
        public_key: Some(mandate_audit::public_key(&common::SEED)),
        require_signatures: true,
        ..VerifyOptions::default()
    }
}

/// Writes `n` records to `dir/audit.jsonl`, rotating every 1,500 bytes; returns the files.
fn rotated_log(dir: &Path, n: u64) -> Vec<PathBuf> {
    let log = AuditLog::open(&dir.join("audit.jsonl"), options(1500)).unwrap();
    for i in 0..n {
        log.append(common::record(i)).unwrap();
    }
    assert!(log.rotations() >= 3, "only {} rotations", log.rotations());
    log.close().unwrap();
    log_files(dir).unwrap()
}

#[test]
fn the_chain_continues_across_files_and_the_directory_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let files = rotated_log(dir.path(), 60);
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.first().unwrap(), "audit.000001.jsonl");
    assert_eq!(names.last().unwrap(), "audit.jsonl");
    let report = verify_dir(dir.path(), signed()).unwrap();
    assert_eq!(report.records, 60);
    // Every file but the last starts where the previous one ended and ends with a checkpoint.
    let mut next_seq = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        if text.is_empty() {
            // Only the current file can be empty (rotated just after its last entry).
            assert_eq!(file, files.last().unwrap());
            continue;
        }
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["seq"], next_seq, "{}", file.display());
        next_seq += text.lines().filter(|l| l.starts_with("{\"seq\"")).count() as u64;
        assert!(text.lines().last().unwrap().starts_with("{\"checkpoint\""));
    }
    // A single file other than the first does not verify alone (it does not start at 0).
    assert!(mandate_audit::verify(&files[1], signed()).is_err());
}

#[test]
fn reopening_continues_after_the_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let files = rotated_log(dir.path(), 40);
    let log = AuditLog::open(&dir.path().join("audit.jsonl"), options(1500)).unwrap();
    assert_eq!(log.len(), 40);
    assert_eq!(log.rotations(), files.len() as u64 - 1);
    assert_eq!(log.append(common::record(40)).unwrap(), 40);
    log.close().unwrap();
    // Through the writer thread too.
    let writer = AuditWriter::open(&dir.path().join("audit.jsonl"), options(1500)).unwrap();
    for i in 41..80 {
        writer.append(&common::record(i)).unwrap();
    }
    writer.close().unwrap();
    let report = verify_dir(dir.path(), signed()).unwrap();
    assert_eq!(report.records, 80);
    assert!(log_files(dir.path()).unwrap().len() > files.len());
}

#[test]
fn a_deleted_middle_file_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let files = rotated_log(dir.path(), 60);
    std::fs::remove_file(&files[1]).unwrap();
    let err = verify_dir(dir.path(), signed()).unwrap_err();
    assert_eq!(err.file.as_deref(), Some(files[2].as_path()), "{err}");
    assert!(
        matches!(err.error.kind, VerifyErrorKind::SeqGap { .. }),
        "{err}"
    );
    // Reopening for writing refuses the broken chain too.
    assert!(AuditLog::open(&dir.path().join("audit.jsonl"), options(1500)).is_err());
}

#[test]
fn a_deleted_first_file_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let files = rotated_log(dir.path(), 60);
    std::fs::remove_file(&files[0]).unwrap();
    let err = verify_dir(dir.path(), signed()).unwrap_err();
    assert!(
        matches!(err.error.kind, VerifyErrorKind::SeqGap { expected: 0, .. }),
        "{err}"
    );
}

#[test]
fn swapped_or_cut_files_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let files = rotated_log(dir.path(), 60);
    // Two files in the wrong order.
    let mut swapped = files.clone();
    swapped.swap(0, 1);
    assert!(verify_files(&swapped, signed()).is_err());
    // The same file twice.
    let mut doubled = files.clone();
    doubled.insert(1, files[0].clone());
    assert!(verify_files(&doubled, signed()).is_err());
    // A rotated file cut back to a line boundary before its final checkpoint.
    let text = std::fs::read_to_string(&files[1]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut: String = lines[..lines.len() - 1]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&files[1], cut).unwrap();
    match verify_dir(dir.path(), signed()) {
        Err(err) => assert!(
            matches!(err.error.kind, VerifyErrorKind::UnsealedFile { .. }),
            "{err}"
        ),
        Ok(report) => panic!("a cut file verified: {report:?}"),
    }
}

#[test]
fn an_empty_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(verify_dir(dir.path(), VerifyOptions::default()).is_err());
}
