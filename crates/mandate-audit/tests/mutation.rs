//! Mutation suite: every change to a valid log must be rejected by `verify`.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::print_stderr,
    reason = "test code"
)]

mod common;

use common::{OTHER_SEED, Rng, SEED, build_log, lines};
use mandate_audit::{Anchor, VerifyErrorKind, VerifyOptions, verify_reader};

fn signed_options() -> VerifyOptions {
    VerifyOptions {
        public_key: Some(mandate_audit::public_key(&SEED)),
        require_signatures: true,
        ..VerifyOptions::default()
    }
}

fn accepts(bytes: &[u8], options: VerifyOptions) -> bool {
    verify_reader(bytes, options).is_ok()
}

/// Byte ranges of the `at_ms` digits of unsigned checkpoints: the one field nothing protects.
fn unprotected_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let needle = b"{\"checkpoint\":{\"at_ms\":";
    let mut offset = 0;
    for line in lines(bytes) {
        if line.starts_with(needle) && !line.windows(6).any(|w| w == b"\"sig\":") {
            let start = offset + needle.len();
            let len = line[needle.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            ranges.push(start..start + len);
        }
        offset += line.len();
    }
    ranges
}

#[test]
fn a_flip_at_every_byte_is_detected_in_small_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut total = 0u64;
    let mut unprotected_undetected = 0u64;
    for n in 1..=8 {
        // Signature checks are slow in debug builds: signed logs up to 4 records.
        for signed in [false, true]
            .into_iter()
            .filter(|&signed| !signed || n <= 4)
        {
            let bytes = build_log(
                dir.path(),
                &format!("flip-{n}-{signed}.jsonl"),
                n,
                4,
                signed,
            );
            let options = if signed {
                signed_options()
            } else {
                VerifyOptions::default()
            };
            assert!(accepts(&bytes, options.clone()), "n={n} signed={signed}");
            let unprotected = unprotected_ranges(&bytes);
            // One bit per byte, cycling through the 8 bit positions (flipping all 8 bits of every
            // byte also passes, but takes minutes in a debug build).
            for pos in 0..bytes.len() {
                let bit = (pos + n as usize) % 8;
                let mut mutated = bytes.clone();
                mutated[pos] ^= 1 << bit;
                total += 1;
                if accepts(&mutated, options.clone()) {
                    assert!(
                        unprotected.iter().any(|range| range.contains(&pos)),
                        "undetected flip n={n} signed={signed} pos={pos} bit={bit}: {}",
                        String::from_utf8_lossy(&mutated)
                    );
                    unprotected_undetected += 1;
                }
            }
        }
    }
    // Only digit-to-digit flips of unsigned `at_ms` fields pass, as documented.
    assert!(total > 10_000, "{total}");
    eprintln!("bit flips: {total}, undetected (unsigned at_ms only): {unprotected_undetected}");
}

#[test]
fn random_byte_changes_are_detected_in_larger_signed_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for n in 9..=16 {
        let bytes = build_log(dir.path(), &format!("rand-{n}.jsonl"), n, 4, true);
        for _ in 0..200 {
            let mut mutated = bytes.clone();
            let pos = rng.below(bytes.len());
            let xor = (rng.next() % 255 + 1) as u8;
            mutated[pos] ^= xor;
            assert!(
                !accepts(&mutated, signed_options()),
                "n={n} pos={pos} xor={xor}"
            );
        }
    }
}

#[test]
fn structural_mutations_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    for n in 1..=16 {
        let bytes = build_log(dir.path(), &format!("struct-{n}.jsonl"), n, 4, true);
        let original = lines(&bytes);
        let count = original.len();
        let join = |parts: &[Vec<u8>]| parts.concat();
        // Delete any line except the last (a checkpoint): removing the final checkpoint leaves
        // a valid log that is not sealed.
        for idx in 0..count {
            let mut mutated = original.clone();
            mutated.remove(idx);
            let sealed = VerifyOptions {
                require_sealed: true,
                ..signed_options()
            };
            assert!(!accepts(&join(&mutated), sealed), "delete n={n} idx={idx}");
        }
        // Swap every pair.
        for first in 0..count {
            for second in first + 1..count {
                let mut mutated = original.clone();
                mutated.swap(first, second);
                assert!(
                    !accepts(&join(&mutated), signed_options()),
                    "swap n={n} {first} {second}"
                );
            }
        }
        // Duplicate every line, in place and at the end.
        for idx in 0..count {
            let mut mutated = original.clone();
            mutated.insert(idx, original[idx].clone());
            assert!(
                !accepts(&join(&mutated), signed_options()),
                "dup n={n} idx={idx}"
            );
            let mut mutated = original.clone();
            mutated.push(original[idx].clone());
            assert!(
                !accepts(&join(&mutated), signed_options()),
                "dup-end n={n} idx={idx}"
            );
        }
        // Entries removed before a checkpoint that stays: the checkpoint claims more.
        for (idx, line) in original.iter().enumerate() {
            if line.starts_with(b"{\"checkpoint\"") && idx >= 1 {
                let mut mutated = original.clone();
                mutated.remove(idx - 1);
                let err = verify_reader(&join(&mutated)[..], signed_options()).unwrap_err();
                assert!(
                    matches!(err.kind, VerifyErrorKind::CheckpointAhead { .. }),
                    "{err}"
                );
            }
        }
        // Roll back to an older checkpoint (tail removed): consistent on its own, detected by
        // the length or head remembered outside the log.
        let full = verify_reader(&bytes[..], signed_options()).unwrap();
        for (idx, line) in original.iter().enumerate().take(count - 1) {
            if line.starts_with(b"{\"checkpoint\"") {
                let rolled = join(&original[..=idx]);
                assert!(
                    accepts(&rolled, signed_options()),
                    "rollback alone is consistent"
                );
                let min = VerifyOptions {
                    min_records: Some(full.records),
                    ..signed_options()
                };
                let err = verify_reader(&rolled[..], min).unwrap_err();
                assert!(
                    matches!(err.kind, VerifyErrorKind::TooFewRecords { .. }),
                    "{err}"
                );
                let anchor = Anchor {
                    seq: full.last_seq.unwrap(),
                    head: full.head.clone(),
                };
                let anchored = VerifyOptions {
                    anchor: Some(anchor),
                    ..signed_options()
                };
                let err = verify_reader(&rolled[..], anchored).unwrap_err();
                assert!(
                    matches!(err.kind, VerifyErrorKind::AnchorMissing { .. }),
                    "{err}"
                );
            }
        }
        // Insert a forged entry with a correct hash and link in the middle.
        if n >= 2 {
            let forged = {
                let path = dir.path().join(format!("other-{n}.jsonl"));
                let log =
                    mandate_audit::AuditLog::open(&path, mandate_audit::AuditOptions::default())
                        .unwrap();
                log.append(serde_json::json!({"forged": 0})).unwrap();
                log.append(serde_json::json!({"forged": 1})).unwrap();
                drop(log);
                lines(&std::fs::read(&path).unwrap())[1].clone() // a valid seq-1 entry of another chain
            };
            let mut mutated = original.clone();
            mutated.insert(1, forged.clone());
            assert!(!accepts(&join(&mutated), signed_options()), "insert n={n}");
            let mut mutated = original.clone();
            mutated[1] = forged;
            if !mutated[1].starts_with(b"{\"checkpoint\"") {
                assert!(!accepts(&join(&mutated), signed_options()), "replace n={n}");
            }
        }
    }
}

#[test]
fn rewritten_history_is_detected_by_signatures_and_anchor() {
    let dir = tempfile::tempdir().unwrap();
    // Same length, different records, written without the key: a consistent chain.
    let honest = build_log(dir.path(), "honest.jsonl", 8, 4, true);
    let forged = {
        let path = dir.path().join("forged.jsonl");
        let log = mandate_audit::AuditLog::open(
            &path,
            mandate_audit::AuditOptions {
                checkpoint_every: 4,
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..8 {
            log.append(serde_json::json!({"forged": i})).unwrap();
        }
        log.close().unwrap();
        std::fs::read(&path).unwrap()
    };
    assert!(
        accepts(&forged, VerifyOptions::default()),
        "unsigned forgery is self-consistent"
    );
    let err = verify_reader(&forged[..], signed_options()).unwrap_err();
    assert!(
        matches!(err.kind, VerifyErrorKind::MissingSignature),
        "{err}"
    );
    let report = verify_reader(&honest[..], signed_options()).unwrap();
    let anchor = Anchor {
        seq: 7,
        head: report.head,
    };
    let err = verify_reader(
        &forged[..],
        VerifyOptions {
            anchor: Some(anchor),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err.kind, VerifyErrorKind::AnchorMismatch { .. }),
        "{err}"
    );
    // Signed checkpoints copied from the honest log onto the forged entries.
    let mut mixed = lines(&forged);
    for (idx, line) in lines(&honest).into_iter().enumerate() {
        if line.starts_with(b"{\"checkpoint\"") {
            mixed[idx] = line;
        }
    }
    let err = verify_reader(&mixed.concat()[..], signed_options()).unwrap_err();
    assert!(
        matches!(err.kind, VerifyErrorKind::CheckpointHeadMismatch),
        "{err}"
    );
}

#[test]
fn signature_problems_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = build_log(dir.path(), "sig.jsonl", 8, 4, true);
    let text = String::from_utf8(bytes.clone()).unwrap();
    // Wrong key.
    let wrong = VerifyOptions {
        public_key: Some(mandate_audit::public_key(&OTHER_SEED)),
        ..VerifyOptions::default()
    };
    let err = verify_reader(&bytes[..], wrong).unwrap_err();
    assert!(matches!(err.kind, VerifyErrorKind::BadSignature), "{err}");
    assert_eq!(err.line, Some(5));
    // Signature of another checkpoint swapped in.
    let sigs: Vec<&str> = text
        .match_indices("\"sig\":\"")
        .map(|(at, _)| &text[at + 7..at + 7 + 128])
        .collect();
    assert_eq!(sigs.len(), 2);
    let swapped = text
        .replacen(sigs[0], "X", 1)
        .replacen(sigs[1], sigs[0], 1)
        .replacen('X', sigs[1], 1);
    let err = verify_reader(swapped.as_bytes(), signed_options()).unwrap_err();
    assert!(matches!(err.kind, VerifyErrorKind::BadSignature), "{err}");
    // Signature removed.
    let unsigned = text.replacen(&format!(",\"sig\":\"{}\"", sigs[0]), "", 1);
    let err = verify_reader(unsigned.as_bytes(), signed_options()).unwrap_err();
    assert!(
        matches!(err.kind, VerifyErrorKind::MissingSignature),
        "{err}"
    );
    // Required signatures without a key is an option error.
    let err = verify_reader(
        &bytes[..],
        VerifyOptions {
            require_signatures: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err.kind, VerifyErrorKind::NoPublicKey), "{err}");
    // key_id is signed too.
    let renamed = text.replacen("test-key", "test-kez", 1);
    let err = verify_reader(renamed.as_bytes(), signed_options()).unwrap_err();
    assert!(matches!(err.kind, VerifyErrorKind::BadSignature), "{err}");
}

#[test]
fn error_kinds_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = build_log(dir.path(), "kinds.jsonl", 6, 0, false);
    let original = lines(&bytes);
    let check = |mutated: Vec<Vec<u8>>, line: u64, pred: fn(&VerifyErrorKind) -> bool| {
        let err = verify_reader(&mutated.concat()[..], VerifyOptions::default()).unwrap_err();
        assert_eq!(err.line, Some(line), "{err}");
        assert!(pred(&err.kind), "{err}");
        assert!(
            err.to_string().starts_with(&format!("line {line}")),
            "{err}"
        );
    };
    let mut gap = original.clone();
    gap.remove(2);
    check(gap, 3, |kind| {
        matches!(
            kind,
            VerifyErrorKind::SeqGap {
                expected: 2,
                found: 3
            }
        )
    });
    let mut dup = original.clone();
    dup.insert(3, original[2].clone());
    check(dup, 4, |kind| {
        matches!(
            kind,
            VerifyErrorKind::SeqRegression {
                expected: 3,
                found: 2
            }
        )
    });
    let mut garbage = original.clone();
    garbage[1] = b"hello\n".to_vec();
    check(garbage, 2, |kind| {
        matches!(kind, VerifyErrorKind::Garbage { .. })
    });
    let mut bad_hash = original.clone();
    let text = String::from_utf8(bad_hash[2].clone())
        .unwrap()
        .replace("agent-2", "agent-X");
    bad_hash[2] = text.into_bytes();
    check(bad_hash, 3, |kind| matches!(kind, VerifyErrorKind::BadHash));
    let mut spaced = original.clone();
    let text = String::from_utf8(spaced[2].clone())
        .unwrap()
        .replacen(',', ", ", 1);
    spaced[2] = text.into_bytes();
    check(spaced, 3, |kind| {
        matches!(kind, VerifyErrorKind::NonCanonical)
    });
    let mut torn = original.clone();
    torn.last_mut().unwrap().pop();
    let err = verify_reader(&torn.concat()[..], VerifyOptions::default()).unwrap_err();
    assert!(matches!(err.kind, VerifyErrorKind::TornLine), "{err}");
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(42);
    let dir = tempfile::tempdir().unwrap();
    let seed_log = build_log(dir.path(), "seed.jsonl", 5, 2, true);
    for round in 0..3000 {
        let len = rng.below(400);
        let mut bytes: Vec<u8> = if round % 2 == 0 {
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let mut copy = seed_log.clone();
            for _ in 0..=rng.below(8) {
                let pos = rng.below(copy.len());
                let alphabet = b"{}[]\":,\n0123456789abcdef \\";
                copy[pos] = alphabet[rng.below(alphabet.len())];
            }
            copy
        };
        if round % 7 == 0 {
            bytes.extend_from_slice(&[b'['; 300]);
            bytes.push(b'\n');
        }
        let _ = verify_reader(&bytes[..], signed_options());
        let _ = verify_reader(&bytes[..], VerifyOptions::default());
    }
}
