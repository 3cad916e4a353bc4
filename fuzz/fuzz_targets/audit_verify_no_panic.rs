//! The audit verifier never panics on any bytes, and what it reports for a log it accepts is
//! consistent (RELIABILITY R1 for the audit reader, R17).
//!
//! The first input byte chooses the options and the form; the rest is the log:
//!
//! - bits 0–4: `VerifyOptions` as `mandate audit verify` builds them: the writer's public key,
//!   `--require-signatures`, `--require-sealed`, `--min-records`, `--anchor` (sequence number
//!   and head from the valid log below, or a wrong head);
//! - bits 5–6, the form:
//!   0. the bytes as one log (`verify_reader`, as `verify` of a file);
//!   1. a valid signed log of 7 records with checkpoints (written once per process with
//!      `AuditLog`), edited: the next two bytes give an offset, the third how many bytes to
//!      delete there, the rest is inserted; so mutations reach the hash, checkpoint and
//!      signature checks, not only the line parser;
//!   2. a valid rotated log (4 files) in a directory, one file (next byte) edited as in form 1,
//!      verified as a directory (`verify_dir`, as `mandate audit verify DIR`);
//!   3. the bytes split on NUL into up to 3 files of a rotated log (`audit.000001.jsonl`, ...,
//!      the last `audit.jsonl`) in a directory (`verify_dir`).
//!
//! For every accepted log: `records` is `last_seq + 1`, the first sequence number is 0, the head
//! is 64 hex digits, signed checkpoints are at most all checkpoints (all of them with
//! `require_signatures`), entries after the last checkpoint are at most `records` (none with
//! `require_sealed`), and `min_records` holds. Every error renders to a non-empty message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mandate::audit_log::{
    Anchor, AuditLog, AuditOptions, Durability, VerifyOptions, VerifyReport, public_key,
    verify_dir, verify_reader,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SEED: [u8; 32] = [7; 32];

struct Fixture {
    /// A valid single-file log.
    single: Vec<u8>,
    /// Its head and last sequence number, for anchors.
    head: String,
    last_seq: u64,
    /// The files of a valid rotated log, in chain order, with their names.
    rotated: Vec<(String, Vec<u8>)>,
    /// Where forms 2 and 3 write their files (one directory per process, emptied each time).
    dir: PathBuf,
}

fn write_log(path: &Path, n: u64, rotate_bytes: u64) {
    let options = AuditOptions {
        durability: Durability::Buffered,
        checkpoint_every: 3,
        signing_key: Some(SEED),
        key_id: Some("fuzz".into()),
        rotate_bytes,
        ..AuditOptions::default()
    };
    let log = AuditLog::open(path, options).expect("open the fixture log");
    for i in 0..n {
        log.append(json!({"agent": format!("agent-{i}"), "allowed": i % 2 == 0, "n": i, "ctx": {"s": "é\"\n", "l": [1, 2.5, null]}}))
            .expect("append to the fixture log");
        if i == 1 {
            log.record_dropped(2).expect("a dropped marker");
        }
    }
    log.close().expect("close the fixture log");
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("mandate-fuzz-audit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (single_dir, rotated_dir, dir) =
            (base.join("single"), base.join("rotated"), base.join("work"));
        for d in [&single_dir, &rotated_dir, &dir] {
            std::fs::create_dir_all(d).expect("create the fixture directories");
        }
        write_log(&single_dir.join("audit.jsonl"), 7, 0);
        let single = std::fs::read(single_dir.join("audit.jsonl")).expect("read the fixture log");
        let report = verify_reader(&single[..], options(0b00111, None, None))
            .expect("the fixture log verifies");
        write_log(&rotated_dir.join("audit.jsonl"), 12, 600);
        let rotated: Vec<(String, Vec<u8>)> = mandate::audit_log::log_files(&rotated_dir)
            .expect("list the rotated fixture")
            .into_iter()
            .map(|p| {
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("x.jsonl")
                    .to_owned();
                (
                    name,
                    std::fs::read(&p).expect("read a rotated fixture file"),
                )
            })
            .collect();
        assert!(rotated.len() > 1, "the fixture log did not rotate");
        verify_dir(&rotated_dir, VerifyOptions::default()).expect("the rotated fixture verifies");
        // Only the work directory stays (a few small files, under the process id).
        let _ = std::fs::remove_dir_all(&single_dir);
        let _ = std::fs::remove_dir_all(&rotated_dir);
        Fixture {
            single,
            head: report.head,
            last_seq: report.last_seq.unwrap_or(0),
            rotated,
            dir,
        }
    })
}

/// `VerifyOptions` from the low five bits of `flags`; `anchor_byte` picks the anchor: the
/// valid log's head (`valid`, when given) or a wrong one.
fn options(flags: u8, anchor_byte: Option<u8>, valid: Option<(&str, u64)>) -> VerifyOptions {
    let b = anchor_byte.unwrap_or(0);
    VerifyOptions {
        public_key: (flags & 1 != 0).then(|| public_key(&SEED)),
        require_signatures: flags & 2 != 0,
        require_sealed: flags & 4 != 0,
        min_records: (flags & 8 != 0).then_some(u64::from(b % 16)),
        anchor: (flags & 16 != 0).then(|| match valid {
            Some((head, seq)) if b & 1 == 0 => Anchor {
                seq,
                head: head.to_owned(),
            },
            _ => Anchor {
                seq: u64::from(b >> 1),
                head: format!("{b:064x}"),
            },
        }),
    }
}

fn check_report(r: &VerifyReport, options: &VerifyOptions) {
    match r.last_seq {
        None => {
            assert_eq!(r.records, 0, "{r:?}");
            assert_eq!(r.first_seq, None, "{r:?}");
        }
        Some(last) => {
            assert_eq!(r.records, last + 1, "{r:?}");
            assert_eq!(r.first_seq, Some(0), "{r:?}");
        }
    }
    assert!(
        r.head.len() == 64 && r.head.bytes().all(|b| b.is_ascii_hexdigit()),
        "{r:?}"
    );
    assert!(r.signed_checkpoints <= r.checkpoints, "{r:?}");
    assert!(r.after_last_checkpoint <= r.records, "{r:?}");
    assert!(r.markers <= r.records, "{r:?}");
    if options.require_signatures {
        assert_eq!(r.signed_checkpoints, r.checkpoints, "{r:?} {options:?}");
    }
    if options.require_sealed {
        assert_eq!(r.after_last_checkpoint, 0, "{r:?} {options:?}");
    }
    if let Some(min) = options.min_records {
        assert!(r.records >= min, "{r:?} {options:?}");
    }
}

/// `bytes` with `edit` applied: offset (2 bytes), deletion length (1 byte), inserted bytes.
fn edited(bytes: &[u8], edit: &[u8]) -> Vec<u8> {
    let (head, insert) = edit.split_at(edit.len().min(3));
    let offset = match head {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => 0,
    } % (bytes.len() + 1);
    let delete = usize::from(head.get(2).copied().unwrap_or(0)).min(bytes.len() - offset);
    let mut out = Vec::with_capacity(bytes.len() + insert.len());
    out.extend_from_slice(&bytes[..offset]);
    out.extend_from_slice(insert);
    out.extend_from_slice(&bytes[offset + delete..]);
    out
}

fn verify_files_in_dir(dir: &Path, files: &[(String, Vec<u8>)], options: VerifyOptions) {
    for entry in std::fs::read_dir(dir).expect("read the work directory") {
        let path = entry.expect("a directory entry").path();
        std::fs::remove_file(&path).expect("empty the work directory");
    }
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("write a log file");
    }
    match verify_dir(dir, options.clone()) {
        Ok(r) => check_report(&r, &options),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let options = options(
        mode & 0b11111,
        rest.first().copied(),
        Some((&f.head, f.last_seq)),
    );
    match (mode >> 5) & 0b11 {
        0 | 1 => {
            let log = if mode >> 5 & 1 == 0 {
                rest.to_vec()
            } else {
                edited(&f.single, rest)
            };
            match verify_reader(&log[..], options.clone()) {
                Ok(r) => check_report(&r, &options),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        2 => {
            let Some((&which, edit)) = rest.split_first() else {
                return;
            };
            let mut files = f.rotated.clone();
            let i = usize::from(which) % files.len();
            files[i].1 = edited(&files[i].1, edit);
            verify_files_in_dir(&f.dir, &files, options);
        }
        _ => {
            let parts: Vec<&[u8]> = rest.splitn(3, |&b| b == 0).collect();
            let files: Vec<(String, Vec<u8>)> = parts
                .iter()
                .enumerate()
                .map(|(i, bytes)| {
                    let name = if i + 1 == parts.len() {
                        "audit.jsonl".to_owned()
                    } else {
                        format!("audit.{:06}.jsonl", i + 1)
                    };
                    (name, bytes.to_vec())
                })
                .collect();
            verify_files_in_dir(&f.dir, &files, options);
        }
    }
});
