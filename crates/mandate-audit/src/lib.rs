//! Mandate's tamper-evident audit log.
//!
//! Records arrive as [`serde_json::Value`]s (normally objects: decisions, agent lifecycle
//! changes, policy-set changes, serialized by the caller); this crate adds sequencing, a SHA-256
//! hash chain, durability, Ed25519-signed checkpoints and offline verification. It depends on no
//! other Mandate crate. What to do when an append fails (deny, or drop and count) is the
//! caller's decision: [`AuditLog::append`] returns the error, and [`AuditLog::record_dropped`]
//! writes a marker so that dropped records stay visible.
//!
//! ```no_run
//! use mandate_audit::{AuditLog, AuditOptions, VerifyOptions, verify};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::path::Path::new("audit.jsonl");
//! let log = AuditLog::open(path, AuditOptions::default())?;
//! let seq = log.append(serde_json::json!({"decision": "allow", "agent": "a1"}))?;
//! log.close()?;
//! let report = verify(path, VerifyOptions::default())?;
//! assert_eq!(report.last_seq, Some(seq));
//! # Ok(()) }
//! ```
//!
//! # File format (version 1)
//!
//! One file, conventionally `audit.jsonl`, in [JSON Lines](https://jsonlines.org): UTF-8, each
//! line terminated by `\n` (a final line without `\n` is a torn write, see below). Entries and
//! checkpoints share the file, in order. Every line is the *exact* byte form given here; a
//! verifier re-encodes the parsed fields and rejects a line whose bytes differ, so no byte of a
//! line can change without detection (except `at_ms` and `key_id` of an unsigned checkpoint, which
//! nothing protects).
//!
//! ## Canonical JSON
//!
//! `canonical(v)`: JSON with no whitespace; object keys sorted by their UTF-8 bytes (equal to
//! Unicode code point order; this is *not* RFC 8785, which sorts by UTF-16 units), recursively;
//! strings escaped as `serde_json` escapes them (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other
//! characters below U+0020 as `\u00xx` with lowercase hex, everything else as raw UTF-8, which is
//! also what Python's `json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
//! produces); numbers as `serde_json` prints them (integers in decimal; floats in the shortest
//! form that reads back to the same `f64`, such as `1.5`, `1.0`, `1e300`). Python prints some
//! floats differently (`1e+300`), so a third-party verifier should hash the record bytes as they
//! appear in the line (they are canonical) rather than re-encode them. Records may nest at most
//! [`MAX_RECORD_DEPTH`] levels; lines are at most [`MAX_LINE_BYTES`] bytes.
//!
//! ## Entries
//!
//! ```text
//! {"seq":N,"prev":"P","record":R,"hash":"H"}
//! {"seq":N,"prev":"P","dropped":D,"hash":"H"}
//! ```
//!
//! exactly in this key order: `N` is the sequence number in decimal, starting at 0 and
//! increasing by 1 per entry; `P` is the `hash` of entry `N-1` as 64 lowercase hex digits (64
//! zeros for entry 0); `R` is `canonical(record)`; the second form is a marker for `D` records the
//! caller dropped ([`AuditLog::record_dropped`]); `H` is 64 lowercase hex digits of
//!
//! ```text
//! H = SHA-256( 0x00 || bytes(P) || {"record":R,"seq":N} )     (or {"dropped":D,"seq":N})
//! ```
//!
//! where `bytes(P)` is the 32 raw bytes of `P`, and the last part is the canonical JSON of the
//! entry without `prev` and `hash`. The `0x00` prefix is RFC 6962's leaf domain separator,
//! kept so that entry hashes can later become leaves of a Merkle tree.
//!
//! ## Checkpoints
//!
//! ```text
//! {"checkpoint":{"at_ms":T,"count":C,"head":"H","index":I,"seq":S},"key_id":"K","sig":"G"}
//! ```
//!
//! (canonical JSON, so keys sorted; `key_id` and `sig` only when the writer has a signing key).
//! A checkpoint follows entry `S` directly: `H` is that entry's hash, `C = S + 1` the number of
//! entries so far, `I` the number of checkpoints before this one in the file (so removing one
//! is detected), `T` the writer's clock in milliseconds since the Unix epoch, `K` a free-form
//! key name. `G` is the 128-hex-digit Ed25519 (RFC 8032, verified strictly) signature over
//!
//! ```text
//! "mandate-audit checkpoint v1\n" || {"checkpoint":{"at_ms":T,"count":C,"head":"H","index":I,"seq":S},"key_id":"K"}
//! ```
//!
//! that is, the fixed context string followed by the checkpoint line without `sig` (and without
//! its newline). The writer adds a checkpoint after every [`AuditOptions::checkpoint_every`]
//! entries (default 1000), on [`AuditLog::checkpoint`], on [`AuditLog::close`] and on drop,
//! never two for the same entry and never for an empty log.
//!
//! ## Verification rules
//!
//! [`verify`] checks, line by line: each line is complete, is an entry or a checkpoint in exactly
//! the form above; entry `seq`s are 0, 1, 2, … with no gap, duplicate or reordering; each `prev`
//! is the previous `hash`; each `hash` recomputes; each checkpoint refers to the entry just
//! before it, with the right `head`, `count` and `index`, at most one per entry; with a public key each
//! signature verifies; with [`VerifyOptions::require_signatures`] every checkpoint is signed.
//! Removing the tail of the file (with the checkpoints in it) leaves a consistent shorter log:
//! only a length or head kept elsewhere ([`VerifyOptions::min_records`],
//! [`VerifyOptions::anchor`]) detects that. Without signatures, whoever can write the file can
//! also rewrite it entirely with fresh hashes; the chain then only detects accidental damage and
//! edits that do not recompute it, and signed checkpoints (or an anchor kept elsewhere) are what
//! authenticate it. Entries after the last signed checkpoint are not covered by any signature
//! ([`VerifyReport::after_last_checkpoint`]).
//!
//! A third party can verify a log with Python's standard library:
//!
//! ```text
//! import hashlib, json
//! prev = bytes(32); seq = 0
//! for line in open("audit.jsonl", "rb"):
//!     assert line.endswith(b"\n"); line = line[:-1]
//!     if line.startswith(b'{"checkpoint":'):
//!         cp = json.loads(line)["checkpoint"]
//!         assert cp["seq"] == seq - 1 and cp["count"] == seq and bytes.fromhex(cp["head"]) == prev
//!         continue
//!     entry = json.loads(line); assert entry["seq"] == seq and bytes.fromhex(entry["prev"]) == prev
//!     start = len(b'{"seq":%d,"prev":"%s",' % (seq, entry["prev"].encode()))
//!     body = line[start:line.rindex(b',"hash":')]            # b'"record":R' or b'"dropped":D'
//!     digest = hashlib.sha256(b"\x00" + prev + b"{" + body + b',"seq":%d}' % seq).digest()
//!     assert digest.hex() == entry["hash"]; prev = digest; seq += 1
//! ```
//!
//! ## Durability and recovery
//!
//! With [`Durability::Fsync`] every append writes its line and calls `sync_data` before
//! returning, so an acknowledged entry survives a crash or power loss ([`AuditWriter`] batches the
//! appends of concurrent callers into one write and one sync). With
//! [`Durability::Buffered`] each line is handed to the operating system on append and synced at
//! checkpoints. Entries are always synced before the checkpoint that covers them (the checkpoint
//! line itself with the next sync, or at once by `checkpoint`, `close` and rotation). A failed write
//! or sync poisons the [`AuditLog`]: further appends fail until the log is opened again.
//!
//! [`AuditLog::open`] verifies the whole existing file (a full pass, not only the tail after
//! the last checkpoint: it is the one time a damaged middle can be caught before more is appended
//! to it) and continues the sequence. A final line without `\n` is a write cut short by a crash,
//! never acknowledged, and is truncated; any other damage fails the open with the line number
//! and what is wrong, and nothing is appended. The file is locked (advisory, exclusive) while open.
//!
//! Masking of sensitive fields before appending: [`mask`].

mod canonical;
mod chain;
mod keys;
mod log;
mod mask;
mod verify;
mod writer;

pub use canonical::MAX_RECORD_DEPTH;
pub use chain::{MAX_LINE_BYTES, MAX_RECORD_BYTES};
pub use keys::{
    KeyError, generate_key, key_to_hex, public_key, public_key_from_hex, public_key_hex,
    signing_key_from_hex,
};
pub use log::{AuditError, AuditLog, AuditOptions, DEFAULT_QUEUE_CAPACITY, Durability};
pub use mask::{Mask, REDACTED, mask};
pub use verify::{
    Anchor, FilesVerifyError, VerifyError, VerifyErrorKind, VerifyOptions, VerifyReport, log_files,
    verify, verify_dir, verify_files, verify_reader,
};
pub use writer::{AuditWriter, DeferredCanonical, DeferredRecord, WriterStats};

/// Writing canonical JSON piece by piece, for record types that encode themselves
/// ([`AuditWriter::append_canonical_with`]): the output must equal [`canonical_json`] of the
/// record's `serde_json::Value` (keys in byte order, no whitespace, `serde_json`'s escapes).
pub mod encode {
    use crate::canonical;

    /// Appends `text` as a JSON string.
    pub fn string(out: &mut Vec<u8>, text: &str) {
        canonical::write_string(out, text);
    }

    /// Appends `n` in decimal.
    pub fn u64(out: &mut Vec<u8>, n: u64) {
        canonical::write_u64(out, n);
    }

    /// Appends the canonical form of `value`, nested `depth` levels inside the record (the
    /// record itself is depth 0, its fields' values depth 1).
    ///
    /// # Errors
    /// Nesting deeper than [`crate::MAX_RECORD_DEPTH`] in all.
    pub fn value(out: &mut Vec<u8>, value: &serde_json::Value, depth: usize) -> Result<(), String> {
        canonical::write_value_at(out, value, depth).map_err(|_| {
            format!(
                "record nested more than {} levels deep",
                crate::MAX_RECORD_DEPTH
            )
        })
    }
}

/// The canonical JSON of `value` (the bytes the log hashes and writes).
///
/// # Errors
/// Nesting deeper than [`MAX_RECORD_DEPTH`].
pub fn canonical_json(value: &serde_json::Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    encode::value(&mut out, value, 0)?;
    Ok(out)
}
