//! Helpers shared by the integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::Path;

use mandate_audit::{AuditLog, AuditOptions, Durability};
use serde_json::{Value, json};

/// A fixed signing key seed for tests.
pub const SEED: [u8; 32] = [7; 32];
/// A different seed, for wrong-key tests.
pub const OTHER_SEED: [u8; 32] = [9; 32];

/// A small record whose contents depend on `i`.
pub fn record(i: u64) -> Value {
    json!({"agent": format!("agent-{i}"), "decision": if i.is_multiple_of(3) { "deny" } else { "allow" }, "n": i, "ctx": {"z": [1, 2.5, null], "a": "é\"\n"}})
}

/// Writes a log of `n` records (checkpoints every `every`, signed when `signed`), closes it and
/// returns its bytes.
pub fn build_log(dir: &Path, name: &str, n: u64, every: u64, signed: bool) -> Vec<u8> {
    let path = dir.join(name);
    let options = AuditOptions {
        durability: Durability::Buffered,
        checkpoint_every: every,
        signing_key: signed.then_some(SEED),
        key_id: signed.then(|| "test-key".to_owned()),
        queue_capacity: mandate_audit::DEFAULT_QUEUE_CAPACITY,
        rotate_bytes: 0,
        max_record_bytes: mandate_audit::MAX_LINE_BYTES,
    };
    let log = AuditLog::open(&path, options).unwrap();
    for i in 0..n {
        log.append(record(i)).unwrap();
    }
    log.close().unwrap();
    std::fs::read(&path).unwrap()
}

/// Splits a log into lines, each keeping its newline.
pub fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&byte| byte == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Small deterministic PRNG (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    /// Next pseudo-random number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}
