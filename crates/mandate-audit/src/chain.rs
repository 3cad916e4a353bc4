//! Line rendering and the chain state machine shared by [`crate::verify`] and
//! [`crate::AuditLog::open`].

use std::io::BufRead;

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::canonical::{from_hex, write_canonical, write_hex, write_string, write_u64};
use crate::verify::{VerifyError, VerifyErrorKind, VerifyReport};

/// Longest line (without its newline) the writer produces and the reader accepts.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Bytes an entry line adds around its record at most (a 20-digit `seq`, two hashes, the keys).
pub(crate) const ENTRY_OVERHEAD: usize = 186;

/// Longest record (its canonical JSON) that fits a line of [`MAX_LINE_BYTES`] whatever its
/// sequence number.
pub const MAX_RECORD_BYTES: usize = MAX_LINE_BYTES - ENTRY_OVERHEAD;

/// The `prev` of entry 0.
pub(crate) const ZERO_HASH: [u8; 32] = [0; 32];

/// Prefix of every signed checkpoint message.
pub(crate) const SIGNATURE_CONTEXT: &[u8] = b"mandate-audit checkpoint v1\n";

/// The payload of one entry, its canonical record bytes already rendered.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body<'a> {
    /// Canonical JSON of a caller record.
    Record(&'a [u8]),
    /// A marker for `n` records dropped by the caller.
    Dropped(u64),
}

/// `SHA-256(0x00 || prev || {"record":R,"seq":N})` (or `{"dropped":D,"seq":N}`).
pub(crate) fn entry_hash(prev: &[u8; 32], seq: u64, body: Body<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(prev);
    match body {
        Body::Record(record) => {
            hasher.update(b"{\"record\":");
            hasher.update(record);
        }
        Body::Dropped(count) => {
            hasher.update(b"{\"dropped\":");
            hasher.update(count.to_string().as_bytes());
        }
    }
    hasher.update(b",\"seq\":");
    hasher.update(seq.to_string().as_bytes());
    hasher.update(b"}");
    hasher.finalize().into()
}

/// Appends `{"seq":N,"prev":"P","record":R,"hash":"H"}` (or `"dropped":D`) and a newline.
pub(crate) fn render_entry(
    out: &mut Vec<u8>,
    seq: u64,
    prev: &[u8; 32],
    body: Body<'_>,
    hash: &[u8; 32],
) {
    out.extend_from_slice(b"{\"seq\":");
    write_u64(out, seq);
    out.extend_from_slice(b",\"prev\":\"");
    write_hex(out, prev);
    match body {
        Body::Record(record) => {
            out.extend_from_slice(b"\",\"record\":");
            out.extend_from_slice(record);
        }
        Body::Dropped(count) => {
            out.extend_from_slice(b"\",\"dropped\":");
            write_u64(out, count);
        }
    }
    out.extend_from_slice(b",\"hash\":\"");
    write_hex(out, hash);
    out.extend_from_slice(b"\"}\n");
}

/// The fields of a checkpoint line.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    pub(crate) seq: u64,
    pub(crate) head: [u8; 32],
    pub(crate) count: u64,
    /// Number of checkpoints before this one in the file.
    pub(crate) index: u64,
    pub(crate) at_ms: u64,
    pub(crate) key_id: Option<String>,
}

/// Appends `{"checkpoint":{"at_ms":T,"count":C,"head":"H","index":I,"seq":S}` and, when present,
/// `,"key_id":"K"`: the line without `sig` and without its closing brace.
fn render_checkpoint_open(out: &mut Vec<u8>, checkpoint: &Checkpoint) {
    out.extend_from_slice(b"{\"checkpoint\":{\"at_ms\":");
    write_u64(out, checkpoint.at_ms);
    out.extend_from_slice(b",\"count\":");
    write_u64(out, checkpoint.count);
    out.extend_from_slice(b",\"head\":\"");
    write_hex(out, &checkpoint.head);
    out.extend_from_slice(b"\",\"index\":");
    write_u64(out, checkpoint.index);
    out.extend_from_slice(b",\"seq\":");
    write_u64(out, checkpoint.seq);
    out.push(b'}');
    if let Some(key_id) = &checkpoint.key_id {
        out.extend_from_slice(b",\"key_id\":");
        write_string(out, key_id);
    }
}

/// The bytes an Ed25519 checkpoint signature covers.
pub(crate) fn signature_message(checkpoint: &Checkpoint) -> Vec<u8> {
    let mut message = SIGNATURE_CONTEXT.to_vec();
    render_checkpoint_open(&mut message, checkpoint);
    message.push(b'}');
    message
}

/// Appends the full checkpoint line and a newline.
pub(crate) fn render_checkpoint(
    out: &mut Vec<u8>,
    checkpoint: &Checkpoint,
    sig: Option<&[u8; 64]>,
) {
    render_checkpoint_open(out, checkpoint);
    if let Some(sig) = sig {
        out.extend_from_slice(b",\"sig\":\"");
        write_hex(out, sig);
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

/// Chain state after the lines read so far.
#[derive(Debug)]
pub(crate) struct Chain {
    pub(crate) next_seq: u64,
    pub(crate) head: [u8; 32],
    pub(crate) dropped: u64,
    pub(crate) markers: u64,
    pub(crate) checkpoints: u64,
    pub(crate) signed_checkpoints: u64,
    pub(crate) last_checkpoint_seq: Option<u64>,
    /// 1-based number of the last line fed.
    pub(crate) line: u64,
    public_key: Option<VerifyingKey>,
    require_signatures: bool,
    anchor: Option<(u64, [u8; 32])>,
    anchor_seen: bool,
    record_buf: Vec<u8>,
    line_buf: Vec<u8>,
}

impl Chain {
    pub(crate) fn new(
        public_key: Option<VerifyingKey>,
        require_signatures: bool,
        anchor: Option<(u64, [u8; 32])>,
    ) -> Self {
        Self {
            next_seq: 0,
            head: ZERO_HASH,
            dropped: 0,
            markers: 0,
            checkpoints: 0,
            signed_checkpoints: 0,
            last_checkpoint_seq: None,
            line: 0,
            public_key,
            require_signatures,
            anchor,
            anchor_seen: false,
            record_buf: Vec::new(),
            line_buf: Vec::new(),
        }
    }

    fn error(&self, seq: Option<u64>, kind: VerifyErrorKind) -> VerifyError {
        VerifyError {
            line: Some(self.line),
            seq,
            kind,
        }
    }

    fn garbage(&self, seq: Option<u64>, reason: &str) -> VerifyError {
        self.error(
            seq,
            VerifyErrorKind::Garbage {
                reason: reason.to_owned(),
            },
        )
    }

    /// Entries after the last checkpoint.
    pub(crate) fn after_last_checkpoint(&self) -> u64 {
        match self.last_checkpoint_seq {
            Some(seq) => self.next_seq.saturating_sub(seq.saturating_add(1)),
            None => self.next_seq,
        }
    }

    /// Checks one complete line (its newline removed) and advances the state.
    pub(crate) fn feed(&mut self, line: &[u8]) -> Result<(), VerifyError> {
        self.line = self.line.saturating_add(1);
        let value: Value = serde_json::from_slice(line).map_err(|err| {
            self.error(
                None,
                VerifyErrorKind::Garbage {
                    reason: format!("invalid JSON: {err}"),
                },
            )
        })?;
        let Value::Object(map) = value else {
            return Err(self.garbage(None, "not a JSON object"));
        };
        if map.contains_key("checkpoint") {
            self.feed_checkpoint(line, &map)
        } else {
            self.feed_entry(line, &map)
        }
    }

    fn feed_entry(&mut self, line: &[u8], map: &Map<String, Value>) -> Result<(), VerifyError> {
        let Some(seq) = map.get("seq").and_then(Value::as_u64) else {
            return Err(self.garbage(None, "missing or invalid `seq`"));
        };
        if map.len() != 4 {
            return Err(self.garbage(
                Some(seq),
                "an entry has exactly the fields `seq`, `prev`, `record` or `dropped`, and `hash`",
            ));
        }
        let Some(prev) = hex_field::<32>(map, "prev") else {
            return Err(self.garbage(Some(seq), "missing or invalid `prev`"));
        };
        let Some(hash) = hex_field::<32>(map, "hash") else {
            return Err(self.garbage(Some(seq), "missing or invalid `hash`"));
        };
        if seq != self.next_seq {
            let kind = if seq > self.next_seq {
                VerifyErrorKind::SeqGap {
                    expected: self.next_seq,
                    found: seq,
                }
            } else {
                VerifyErrorKind::SeqRegression {
                    expected: self.next_seq,
                    found: seq,
                }
            };
            return Err(self.error(Some(seq), kind));
        }
        let mut record_buf = std::mem::take(&mut self.record_buf);
        record_buf.clear();
        let body = if let Some(record) = map.get("record") {
            if write_canonical(&mut record_buf, record).is_err() {
                self.record_buf = record_buf;
                return Err(self.garbage(Some(seq), "record nested too deeply"));
            }
            Body::Record(&record_buf)
        } else if let Some(count) = map.get("dropped").and_then(Value::as_u64) {
            Body::Dropped(count)
        } else {
            self.record_buf = record_buf;
            return Err(self.garbage(Some(seq), "an entry needs `record` or a numeric `dropped`"));
        };
        let mut line_buf = std::mem::take(&mut self.line_buf);
        line_buf.clear();
        render_entry(&mut line_buf, seq, &prev, body, &hash);
        let canonical = line_buf.strip_suffix(b"\n") == Some(line);
        let computed = entry_hash(&prev, seq, body);
        let dropped = match body {
            Body::Dropped(count) => Some(count),
            Body::Record(_) => None,
        };
        self.line_buf = line_buf;
        self.record_buf = record_buf;
        if !canonical {
            return Err(self.error(Some(seq), VerifyErrorKind::NonCanonical));
        }
        if prev != self.head {
            return Err(self.error(Some(seq), VerifyErrorKind::BrokenLink));
        }
        if computed != hash {
            return Err(self.error(Some(seq), VerifyErrorKind::BadHash));
        }
        if let Some((anchor_seq, anchor_head)) = self.anchor
            && anchor_seq == seq
        {
            if anchor_head != hash {
                return Err(self.error(Some(seq), VerifyErrorKind::AnchorMismatch { seq }));
            }
            self.anchor_seen = true;
        }
        if let Some(count) = dropped {
            self.dropped = self.dropped.saturating_add(count);
            self.markers = self.markers.saturating_add(1);
        }
        self.head = hash;
        self.next_seq = seq.saturating_add(1);
        Ok(())
    }

    fn feed_checkpoint(
        &mut self,
        line: &[u8],
        map: &Map<String, Value>,
    ) -> Result<(), VerifyError> {
        let Some(Value::Object(inner)) = map.get("checkpoint") else {
            return Err(self.garbage(None, "`checkpoint` is not an object"));
        };
        let number = |name: &str| inner.get(name).and_then(Value::as_u64);
        let (Some(seq), Some(count), Some(index), Some(at_ms), Some(head)) = (
            number("seq"),
            number("count"),
            number("index"),
            number("at_ms"),
            hex_field::<32>(inner, "head"),
        ) else {
            return Err(self.garbage(
                None,
                "a checkpoint needs numeric `seq`, `count`, `index`, `at_ms` and a hex `head`",
            ));
        };
        let key_id = match map.get("key_id") {
            None => None,
            Some(Value::String(key_id)) => Some(key_id.clone()),
            Some(_) => return Err(self.garbage(Some(seq), "`key_id` is not a string")),
        };
        let sig = match map.get("sig") {
            None => None,
            Some(_) => match hex_field::<64>(map, "sig") {
                Some(sig) => Some(sig),
                None => return Err(self.garbage(Some(seq), "`sig` is not 128 hex digits")),
            },
        };
        let checkpoint = Checkpoint {
            seq,
            head,
            count,
            index,
            at_ms,
            key_id,
        };
        let mut line_buf = std::mem::take(&mut self.line_buf);
        line_buf.clear();
        render_checkpoint(&mut line_buf, &checkpoint, sig.as_ref());
        let canonical = line_buf.strip_suffix(b"\n") == Some(line);
        self.line_buf = line_buf;
        if !canonical {
            return Err(self.error(Some(seq), VerifyErrorKind::NonCanonical));
        }
        let last = self.next_seq.checked_sub(1);
        match last {
            Some(last) if seq == last => {}
            Some(last) if seq < last => {
                return Err(self.error(Some(seq), VerifyErrorKind::CheckpointBehind { last }));
            }
            _ => return Err(self.error(Some(seq), VerifyErrorKind::CheckpointAhead { last })),
        }
        if self.last_checkpoint_seq == Some(seq) {
            return Err(self.error(Some(seq), VerifyErrorKind::DuplicateCheckpoint));
        }
        if head != self.head {
            return Err(self.error(Some(seq), VerifyErrorKind::CheckpointHeadMismatch));
        }
        if index != self.checkpoints {
            return Err(self.error(
                Some(seq),
                VerifyErrorKind::CheckpointIndexMismatch {
                    expected: self.checkpoints,
                    found: index,
                },
            ));
        }
        if seq.checked_add(1) != Some(count) {
            return Err(self.error(
                Some(seq),
                VerifyErrorKind::CheckpointCountMismatch { count },
            ));
        }
        match (sig, &self.public_key) {
            (Some(sig), Some(public_key)) => {
                let message = signature_message(&checkpoint);
                let signature = Signature::from_bytes(&sig);
                if public_key.verify_strict(&message, &signature).is_err() {
                    return Err(self.error(Some(seq), VerifyErrorKind::BadSignature));
                }
                self.signed_checkpoints = self.signed_checkpoints.saturating_add(1);
            }
            (None, _) if self.require_signatures => {
                return Err(self.error(Some(seq), VerifyErrorKind::MissingSignature));
            }
            _ => {}
        }
        self.checkpoints = self.checkpoints.saturating_add(1);
        self.last_checkpoint_seq = Some(seq);
        Ok(())
    }

    /// Final checks once every line has been fed.
    pub(crate) fn finish(&self, min_records: Option<u64>) -> Result<VerifyReport, VerifyError> {
        if let Some((seq, _)) = self.anchor
            && !self.anchor_seen
        {
            return Err(VerifyError {
                line: None,
                seq: Some(seq),
                kind: VerifyErrorKind::AnchorMissing {
                    seq,
                    records: self.next_seq,
                },
            });
        }
        if let Some(min) = min_records
            && self.next_seq < min
        {
            return Err(VerifyError {
                line: None,
                seq: None,
                kind: VerifyErrorKind::TooFewRecords {
                    min,
                    found: self.next_seq,
                },
            });
        }
        let last_seq = self.next_seq.checked_sub(1);
        Ok(VerifyReport {
            records: self.next_seq,
            checkpoints: self.checkpoints,
            signed_checkpoints: self.signed_checkpoints,
            head: crate::canonical::to_hex(&self.head),
            dropped: self.dropped,
            markers: self.markers,
            first_seq: last_seq.map(|_| 0),
            last_seq,
            after_last_checkpoint: self.after_last_checkpoint(),
        })
    }
}

fn hex_field<const N: usize>(map: &Map<String, Value>, name: &str) -> Option<[u8; N]> {
    map.get(name)
        .and_then(Value::as_str)
        .and_then(|text| from_hex::<N>(text, false))
}

/// What [`scan`] found at the end of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// Bytes up to the end of the last complete line.
    pub(crate) good_len: u64,
    /// Bytes after it (a final line without its newline), 0 when the input ends cleanly.
    pub(crate) torn_len: u64,
}

/// Feeds every complete line of `reader` to `chain`.
pub(crate) fn scan<R: BufRead>(mut reader: R, chain: &mut Chain) -> Result<ScanEnd, VerifyError> {
    let mut buf = Vec::new();
    let mut good_len: u64 = 0;
    let limit = u64::try_from(MAX_LINE_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    loop {
        buf.clear();
        let read = std::io::Read::take(&mut reader, limit)
            .read_until(b'\n', &mut buf)
            .map_err(|err| VerifyError {
                line: Some(chain.line.saturating_add(1)),
                seq: None,
                kind: VerifyErrorKind::Io(err),
            })?;
        if read == 0 {
            return Ok(ScanEnd {
                good_len,
                torn_len: 0,
            });
        }
        let Some(line) = buf.strip_suffix(b"\n") else {
            if buf.len() > MAX_LINE_BYTES {
                return Err(VerifyError {
                    line: Some(chain.line.saturating_add(1)),
                    seq: None,
                    kind: VerifyErrorKind::LineTooLong {
                        max: MAX_LINE_BYTES,
                    },
                });
            }
            return Ok(ScanEnd {
                good_len,
                torn_len: u64::try_from(buf.len()).unwrap_or(u64::MAX),
            });
        };
        chain.feed(line)?;
        good_len = good_len.saturating_add(u64::try_from(buf.len()).unwrap_or(u64::MAX));
    }
}
