//! Reopening, torn tails, damage at open, locking, masking and key helpers.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::io::Write as _;

use mandate_audit::{
    AuditError, AuditLog, AuditOptions, Durability, Mask, VerifyErrorKind, VerifyOptions, mask,
    verify,
};
use serde_json::json;

fn options() -> AuditOptions {
    AuditOptions {
        durability: Durability::Fsync,
        checkpoint_every: 3,
        signing_key: Some(common::SEED),
        key_id: None,
        queue_capacity: mandate_audit::DEFAULT_QUEUE_CAPACITY,
        rotate_bytes: 0,
        max_record_bytes: mandate_audit::MAX_LINE_BYTES,
    }
}

#[test]
fn reopen_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, options()).unwrap();
    assert!(log.is_empty());
    assert_eq!(log.head(), "0".repeat(64));
    for i in 0..5 {
        assert_eq!(log.append(common::record(i)).unwrap(), i);
    }
    assert_eq!(log.record_dropped(4).unwrap(), 5);
    let head = log.head();
    log.close().unwrap();
    let log = AuditLog::open(&path, options()).unwrap();
    assert_eq!((log.len(), log.head(), log.dropped()), (6, head, 4));
    assert_eq!(log.append(json!({"after": "reopen"})).unwrap(), 6);
    drop(log);
    let report = verify(
        &path,
        VerifyOptions {
            public_key: Some(mandate_audit::public_key(&common::SEED)),
            require_signatures: true,
            require_sealed: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        (
            report.records,
            report.dropped,
            report.markers,
            report.checkpoints
        ),
        (7, 4, 1, 3)
    );
    assert_eq!((report.first_seq, report.last_seq), (Some(0), Some(6)));
}

#[test]
fn torn_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, options()).unwrap();
    log.append(json!({"a": 1})).unwrap();
    log.append(json!({"a": 2})).unwrap();
    drop(log);
    let clean_len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"seq\":2,\"prev\":\"ab")
        .unwrap();
    let err = verify(&path, VerifyOptions::default()).unwrap_err();
    assert!(matches!(err.kind, VerifyErrorKind::TornLine), "{err}");
    let log = AuditLog::open(&path, options()).unwrap();
    assert_eq!(log.torn_bytes_removed(), 19);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), clean_len);
    assert_eq!(log.append(json!({"a": 3})).unwrap(), 2);
    drop(log);
    assert_eq!(verify(&path, VerifyOptions::default()).unwrap().records, 3);
}

#[test]
fn damaged_middle_line_fails_open_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, options()).unwrap();
    for i in 0..6 {
        log.append(common::record(i)).unwrap();
    }
    drop(log);
    let text = std::fs::read_to_string(&path).unwrap();
    let damaged = text.replacen("agent-4", "agent-5", 1);
    std::fs::write(&path, &damaged).unwrap();
    let err = AuditLog::open(&path, options()).unwrap_err();
    let message = err.to_string();
    let AuditError::Corrupt { source, .. } = err else {
        panic!("{message}")
    };
    assert_eq!((source.line, source.seq), (Some(6), Some(4)), "{message}");
    assert!(matches!(source.kind, VerifyErrorKind::BadHash));
    assert!(
        message.contains("audit.jsonl") && message.contains("line 6 (seq 4)"),
        "{message}"
    );
    // Nothing was appended after the damage.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), damaged);
    // A complete garbage final line is damage, not a torn write.
    std::fs::write(&path, format!("{text}garbage\n")).unwrap();
    assert!(matches!(
        AuditLog::open(&path, options()),
        Err(AuditError::Corrupt { .. })
    ));
    // A signature made with another key fails the open too.
    std::fs::write(&path, &text).unwrap();
    let other = AuditOptions {
        signing_key: Some(common::OTHER_SEED),
        ..options()
    };
    assert!(matches!(
        AuditLog::open(&path, other),
        Err(AuditError::Corrupt { .. })
    ));
}

#[test]
fn second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, options()).unwrap();
    assert!(matches!(
        AuditLog::open(&path, options()),
        Err(AuditError::Locked { .. })
    ));
    drop(log);
    AuditLog::open(&path, options()).unwrap();
}

#[test]
fn oversized_and_overdeep_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, options()).unwrap();
    let mut deep = json!(1);
    for _ in 0..=mandate_audit::MAX_RECORD_DEPTH {
        deep = json!([deep]);
    }
    assert!(matches!(
        log.append(deep),
        Err(AuditError::RecordTooDeep { .. })
    ));
    let mut ok_deep = json!(1);
    for _ in 0..mandate_audit::MAX_RECORD_DEPTH {
        ok_deep = json!([ok_deep]);
    }
    assert_eq!(log.append(ok_deep).unwrap(), 0);
    let huge = json!({"x": "y".repeat(mandate_audit::MAX_LINE_BYTES)});
    assert!(matches!(
        log.append(huge),
        Err(AuditError::RecordTooLarge { .. })
    ));
    assert_eq!(log.append(json!({})).unwrap(), 1);
    drop(log);
    assert_eq!(verify(&path, VerifyOptions::default()).unwrap().records, 2);
}

#[test]
fn masking_redacts_and_hashes() {
    let mut record = json!({"context": {"api_key": "sk-123", "user": {"email": "a@b.c"}, "list": [{"t": 1}, {"t": {"b": 2, "a": 1}}]}, "keep": 1});
    let replaced = mask(
        &mut record,
        &["context.api_key", "context.missing", "keep.deeper"],
        Mask::Redact,
    );
    assert_eq!(replaced, 1);
    assert_eq!(record["context"]["api_key"], "[redacted]");
    let replaced = mask(
        &mut record,
        &["context.user.email", "context.list.1.t"],
        Mask::Hash,
    );
    assert_eq!(replaced, 2);
    use sha2::{Digest as _, Sha256};
    let expected = |canonical: &str| {
        format!(
            "sha256:{}",
            Sha256::digest(canonical.as_bytes())
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        )
    };
    assert_eq!(record["context"]["user"]["email"], expected("\"a@b.c\""));
    assert_eq!(
        record["context"]["list"][1]["t"],
        expected("{\"a\":1,\"b\":2}")
    );
    assert_eq!(record["keep"], 1);
}

#[test]
fn key_helpers_round_trip() {
    let seed = mandate_audit::generate_key().unwrap();
    let text = format!("{}\n", mandate_audit::key_to_hex(&seed));
    assert_eq!(mandate_audit::signing_key_from_hex(&text).unwrap(), seed);
    let public = mandate_audit::public_key_hex(&seed);
    assert_eq!(
        mandate_audit::public_key_from_hex(&public).unwrap(),
        mandate_audit::public_key(&seed)
    );
    assert!(mandate_audit::signing_key_from_hex("abc").is_err());
    assert!(mandate_audit::public_key_from_hex(&"zz".repeat(32)).is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(
        &path,
        AuditOptions {
            signing_key: Some(seed),
            key_id: Some("k1".into()),
            ..options()
        },
    )
    .unwrap();
    assert_eq!(log.public_key(), Some(mandate_audit::public_key(&seed)));
    log.append(json!({})).unwrap();
    log.close().unwrap();
    let report = verify(
        &path,
        VerifyOptions {
            public_key: Some(mandate_audit::public_key(&seed)),
            require_signatures: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.signed_checkpoints, 1);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("\"key_id\":\"k1\"")
    );
    assert!(
        !format!("{:?}", options()).contains("7, 7"),
        "Debug must not print the key"
    );
}
