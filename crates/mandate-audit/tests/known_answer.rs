//! Known-answer tests: the chain is recomputed here from the documented definition, with a
//! separate, deliberately simple canonical JSON encoder, and cross-checked with Python.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code"
)]

mod common;

use std::fmt::Write as _;

use ed25519_dalek::{Signature, VerifyingKey};
use mandate_audit::{AuditLog, AuditOptions, Durability, VerifyOptions, verify};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// Canonical JSON written from the documented rules, independently of the crate.
fn canon(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|key| format!("{}:{}", quote(key), canon(&map[*key])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canon).collect::<Vec<_>>().join(",")
        ),
        Value::String(text) => quote(text),
        other => other.to_string(),
    }
}

fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn records() -> Vec<Value> {
    vec![
        json!({"zeta": 1, "alpha": {"y": [true, null, -3], "b": "x"}, "mid": 1.5}),
        json!({"text": "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓", "big": 18_446_744_073_709_551_615_u64}),
        json!([]),
        json!({"float": 1e300, "neg": -0.25, "one": 1.0}),
    ]
}

#[test]
fn chain_matches_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let options = AuditOptions {
        durability: Durability::Fsync,
        checkpoint_every: 0,
        ..AuditOptions::default()
    };
    let log = AuditLog::open(&path, options).unwrap();
    for record in records() {
        log.append(record).unwrap();
    }
    log.record_dropped(5).unwrap();
    let head = log.head();
    drop(log);

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        6,
        "five entries and the checkpoint written on drop"
    );

    let mut prev = [0u8; 32];
    for (seq, record) in records().iter().enumerate() {
        let body = format!("{{\"record\":{},\"seq\":{seq}}}", canon(record));
        let mut hasher = Sha256::new();
        hasher.update([0u8]);
        hasher.update(prev);
        hasher.update(body.as_bytes());
        let hash: [u8; 32] = hasher.finalize().into();
        let expected = format!(
            "{{\"seq\":{seq},\"prev\":\"{}\",\"record\":{},\"hash\":\"{}\"}}",
            hex(&prev),
            canon(record),
            hex(&hash)
        );
        assert_eq!(lines[seq], expected);
        prev = hash;
    }
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(prev);
    hasher.update(b"{\"dropped\":5,\"seq\":4}");
    let hash: [u8; 32] = hasher.finalize().into();
    assert_eq!(
        lines[4],
        format!(
            "{{\"seq\":4,\"prev\":\"{}\",\"dropped\":5,\"hash\":\"{}\"}}",
            hex(&prev),
            hex(&hash)
        )
    );
    assert_eq!(head, hex(&hash));
    assert!(lines[5].starts_with("{\"checkpoint\":{\"at_ms\":"));
    assert!(lines[5].ends_with(&format!(
        ",\"count\":5,\"head\":\"{}\",\"index\":0,\"seq\":4}}}}",
        hex(&hash)
    )));

    // A fixed value pinned once by hand: canonical form of record 0.
    assert_eq!(
        canon(&records()[0]),
        r#"{"alpha":{"b":"x","y":[true,null,-3]},"mid":1.5,"zeta":1}"#
    );

    let report = verify(&path, VerifyOptions::default()).unwrap();
    assert_eq!(
        (report.records, report.dropped, report.markers, report.head),
        (5, 5, 1, hex(&hash))
    );
}

#[test]
fn checkpoint_signature_matches_documented_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let options = AuditOptions {
        durability: Durability::Buffered,
        checkpoint_every: 2,
        signing_key: Some(common::SEED),
        key_id: Some("k\"1".to_owned()),
        queue_capacity: mandate_audit::DEFAULT_QUEUE_CAPACITY,
        rotate_bytes: 0,
        max_record_bytes: mandate_audit::MAX_LINE_BYTES,
    };
    let log = AuditLog::open(&path, options).unwrap();
    log.append(json!({"a": 1})).unwrap();
    log.append(json!({"a": 2})).unwrap();
    let head = log.head();
    drop(log);
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().nth(2).unwrap();
    let parsed: Value = serde_json::from_str(line).unwrap();
    let at_ms = parsed["checkpoint"]["at_ms"].as_u64().unwrap();
    let unsigned = format!(
        "{{\"checkpoint\":{{\"at_ms\":{at_ms},\"count\":2,\"head\":\"{head}\",\"index\":0,\"seq\":1}},\"key_id\":\"k\\\"1\""
    );
    let sig_hex = parsed["sig"].as_str().unwrap();
    assert_eq!(line, format!("{unsigned},\"sig\":\"{sig_hex}\"}}"));
    let message = format!("mandate-audit checkpoint v1\n{unsigned}}}");
    let sig_bytes: Vec<u8> = (0..64)
        .map(|i| u8::from_str_radix(&sig_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let signature = Signature::from_bytes(&sig_bytes.try_into().unwrap());
    let public = VerifyingKey::from_bytes(&mandate_audit::public_key(&common::SEED)).unwrap();
    public
        .verify_strict(message.as_bytes(), &signature)
        .unwrap();
}

const PYTHON_VERIFIER: &str = r#"
import hashlib, json, sys
prev = bytes(32); seq = 0; checkpoints = 0
for line in open(sys.argv[1], "rb"):
    assert line.endswith(b"\n"); line = line[:-1]
    if line.startswith(b'{"checkpoint":'):
        cp = json.loads(line)["checkpoint"]
        assert cp["seq"] == seq - 1 and cp["count"] == seq and bytes.fromhex(cp["head"]) == prev
        assert cp["index"] == checkpoints
        checkpoints += 1
        continue
    entry = json.loads(line); assert entry["seq"] == seq and bytes.fromhex(entry["prev"]) == prev
    start = len(b'{"seq":%d,"prev":"%s",' % (seq, entry["prev"].encode()))
    body = line[start:line.rindex(b',"hash":')]
    digest = hashlib.sha256(b"\x00" + prev + b"{" + body + b',"seq":%d}' % seq).digest()
    assert digest.hex() == entry["hash"]; prev = digest; seq += 1
print(seq, checkpoints, prev.hex())
"#;

#[test]
fn python_hashlib_cross_check() {
    let Ok(probe) = std::process::Command::new("python3")
        .arg("-c")
        .arg("import hashlib")
        .output()
    else {
        return; // no python3: the Rust known-answer test above still runs
    };
    if !probe.status.success() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    common::build_log(dir.path(), "audit.jsonl", 10, 4, true);
    let path = dir.path().join("audit.jsonl");
    {
        let log = AuditLog::open(
            &path,
            AuditOptions {
                signing_key: Some(common::SEED),
                ..AuditOptions::default()
            },
        )
        .unwrap();
        for record in records() {
            log.append(record).unwrap();
        }
        log.record_dropped(3).unwrap();
    }
    let script = dir.path().join("verify.py");
    std::fs::write(&script, PYTHON_VERIFIER).unwrap();
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = verify(&path, VerifyOptions::default()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{} {} {}", report.records, report.checkpoints, report.head)
    );
}
