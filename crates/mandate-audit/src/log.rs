//! The writer: [`AuditLog`].

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer as _, SigningKey};
use fs4::fs_std::FileExt as _;
use serde_json::Value;

use crate::canonical::{MAX_RECORD_DEPTH, to_hex, write_canonical};
use crate::chain::{
    Body, Chain, Checkpoint, MAX_LINE_BYTES, entry_hash, render_checkpoint, render_entry, scan,
    signature_message,
};
use crate::verify::VerifyError;

/// When an appended entry reaches the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every [`AuditLog::append`] writes its line and calls `sync_data` before returning: an
    /// acknowledged entry survives a crash or power loss.
    #[default]
    Fsync,
    /// Every append hands its line to the operating system (it survives a crash of the process,
    /// not of the machine); `sync_data` runs at each checkpoint.
    Buffered,
}

/// How [`AuditLog::open`] writes.
#[derive(Clone)]
pub struct AuditOptions {
    /// When entries reach the disk.
    pub durability: Durability,
    /// Write a checkpoint after every this many entries; 0 disables automatic checkpoints
    /// (explicit [`AuditLog::checkpoint`] and [`AuditLog::close`] still write them).
    pub checkpoint_every: u64,
    /// Ed25519 secret key (32-byte seed) that signs checkpoints; unsigned checkpoints without it.
    pub signing_key: Option<[u8; 32]>,
    /// Names the signing key in each signed checkpoint (`key_id`), so a verifier can pick the
    /// public key. Ignored without `signing_key`.
    pub key_id: Option<String>,
    /// Bound of the queue in front of the writer thread of an [`crate::AuditWriter`]: a caller
    /// that finds it full waits for room (back-pressure, never a dropped record). Default 4096;
    /// 0 counts as 1. Unused by [`AuditLog`] itself.
    pub queue_capacity: usize,
    /// Rotate the file once it reaches this many bytes (0, the default: never): the writer seals
    /// it with a checkpoint, renames it to `STEM.NNNNNN.EXT` (`audit.000001.jsonl`, numbered
    /// from 1) and continues the same chain (sequence numbers, hashes, checkpoint indexes) in a
    /// new file at the configured path. Verify the directory with [`crate::verify_dir`].
    pub rotate_bytes: u64,
    /// Longest record, in bytes of its canonical JSON (the `record` of its entry line); a longer
    /// one is refused with [`AuditError::RecordTooLarge`]. Default, and most,
    /// [`crate::MAX_RECORD_BYTES`] (16 MiB less the entry's own fields, so that every line fits
    /// the verifier's [`MAX_LINE_BYTES`]); a larger value counts as that.
    pub max_record_bytes: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Fsync,
            checkpoint_every: 1000,
            signing_key: None,
            key_id: None,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            rotate_bytes: 0,
            max_record_bytes: crate::MAX_RECORD_BYTES,
        }
    }
}

/// Default of [`AuditOptions::queue_capacity`].
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

impl fmt::Debug for AuditOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditOptions")
            .field("durability", &self.durability)
            .field("checkpoint_every", &self.checkpoint_every)
            .field("signing_key", &self.signing_key.map(|_| "[redacted]"))
            .field("key_id", &self.key_id)
            .field("queue_capacity", &self.queue_capacity)
            .field("rotate_bytes", &self.rotate_bytes)
            .finish()
    }
}

/// Errors of [`AuditLog`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// An I/O operation failed. After a failed write or sync the log refuses further appends
    /// ([`AuditError::Poisoned`]); open it again, which repairs a torn final line.
    #[error("cannot {action} audit log `{}`: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The existing file does not verify; nothing is appended after damage.
    #[error("audit log `{}` is damaged at {source}", path.display())]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// The first problem, with its line number.
        source: VerifyError,
    },
    /// Another [`AuditLog`] (in this or another process) has the file open.
    #[error("audit log `{}` is already open for writing elsewhere", path.display())]
    Locked {
        /// The log file.
        path: PathBuf,
    },
    /// An earlier write or sync failed, so the file's end is uncertain.
    #[error("audit log `{}` refuses appends after an earlier failure ({reason}); open it again", path.display())]
    Poisoned {
        /// The log file.
        path: PathBuf,
        /// The earlier failure.
        reason: String,
    },
    /// The writer thread of an [`crate::AuditWriter`] could not write this record.
    #[error("audit record not written to `{}`: {reason}", path.display())]
    NotWritten {
        /// The log file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The record is nested more deeply than [`MAX_RECORD_DEPTH`].
    #[error("record nested more than {max} levels deep")]
    RecordTooDeep {
        /// The limit.
        max: usize,
    },
    /// The record's canonical JSON is longer than [`AuditOptions::max_record_bytes`].
    #[error(
        "audit record too large (bytes): {len} is more than the limit `max_audit_record_bytes` = {max}"
    )]
    RecordTooLarge {
        /// The record's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The entry line would exceed [`MAX_LINE_BYTES`].
    #[error("record too large: its line would be {len} bytes, the limit is {max}")]
    LineTooLong {
        /// The line's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The signing key is not usable.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
}

/// What [`AuditLog::append_batch`] did.
#[derive(Debug)]
pub(crate) struct BatchOutcome {
    /// Sequence number of the first body.
    pub(crate) first_seq: u64,
    /// The first `written` bodies were written (and synced when asked).
    pub(crate) written: usize,
    /// Why the others were not.
    pub(crate) error: Option<AuditError>,
}

/// A tamper-evident, append-only audit log file. See the crate documentation for the format.
///
/// Appends from many threads are serialized by a mutex; each entry's sequence number is assigned
/// under it. Dropping the log writes a final checkpoint on a best-effort basis; call
/// [`AuditLog::close`] to see its errors.
pub struct AuditLog {
    path: PathBuf,
    durability: Durability,
    checkpoint_every: u64,
    rotate_bytes: u64,
    max_record: usize,
    signing_key: Option<SigningKey>,
    key_id: Option<String>,
    torn_bytes_removed: u64,
    inner: Mutex<Inner>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .field("checkpoint_every", &self.checkpoint_every)
            .field("signed", &self.signing_key.is_some())
            .finish_non_exhaustive()
    }
}

struct Inner {
    file: File,
    next_seq: u64,
    head: [u8; 32],
    dropped: u64,
    /// Checkpoints in the file.
    checkpoints: u64,
    /// Entries written since the last checkpoint.
    after_checkpoint: u64,
    /// Bytes written since the last `sync_data`.
    unsynced: bool,
    poisoned: Option<String>,
    line_buf: Vec<u8>,
    /// Bytes in the current file.
    file_len: u64,
    /// Number of the last rotated file (0: none).
    rotations: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

impl AuditLog {
    /// The longest record accepted ([`AuditOptions::max_record_bytes`]).
    pub fn max_record_bytes(&self) -> usize {
        self.max_record
    }

    /// Opens (creating it if needed) the log at `path` for appending.
    ///
    /// The whole existing file is verified first (every hash, link and checkpoint, and every
    /// signature when a signing key is given), then the sequence continues after its last entry.
    /// A final line without a newline is the remains of a write cut short by a crash, never
    /// acknowledged: it is truncated away (see [`AuditLog::torn_bytes_removed`]). Any other
    /// damage fails the open with the line number and what is wrong.
    ///
    /// # Errors
    ///
    /// [`AuditError::Corrupt`] for a damaged file, [`AuditError::Locked`] if another writer has
    /// it open, [`AuditError::Io`] for I/O failures.
    pub fn open(path: &Path, options: AuditOptions) -> Result<Self, AuditError> {
        let io = |action: &'static str| {
            move |source: std::io::Error| AuditError::Io {
                path: path.to_path_buf(),
                action,
                source,
            }
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io("open"))?;
        if !file.try_lock_exclusive().map_err(io("lock"))? {
            return Err(AuditError::Locked {
                path: path.to_path_buf(),
            });
        }
        let signing_key = options.signing_key.as_ref().map(SigningKey::from_bytes);
        let mut chain = Chain::new(
            signing_key.as_ref().map(SigningKey::verifying_key),
            false,
            None,
        );
        // Files rotated away earlier hold the start of the chain.
        let rotated = rotated_files(path).map_err(io("list the rotated files of"))?;
        for (_, sibling) in &rotated {
            scan_sealed(sibling, &mut chain)?;
        }
        chain.line = 0;
        let end = scan(BufReader::with_capacity(1 << 16, &file), &mut chain).map_err(|source| {
            AuditError::Corrupt {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let mut torn_bytes_removed = 0;
        if end.torn_len > 0 {
            file.set_len(end.good_len)
                .map_err(io("truncate the torn final line of"))?;
            file.sync_all().map_err(io("sync"))?;
            torn_bytes_removed = end.torn_len;
        }
        if end.good_len == 0 {
            // A new (or empty) file: make its directory entry durable too.
            sync_parent_dir(path).map_err(io("sync the directory of"))?;
        }
        let inner = Inner {
            file,
            next_seq: chain.next_seq,
            head: chain.head,
            dropped: chain.dropped,
            checkpoints: chain.checkpoints,
            after_checkpoint: chain.after_last_checkpoint(),
            unsynced: false,
            poisoned: None,
            line_buf: Vec::new(),
            file_len: end.good_len,
            rotations: rotated.last().map_or(0, |(number, _)| *number),
        };
        Ok(Self {
            path: path.to_path_buf(),
            durability: options.durability,
            checkpoint_every: options.checkpoint_every,
            rotate_bytes: options.rotate_bytes,
            max_record: options.max_record_bytes.min(crate::MAX_RECORD_BYTES),
            signing_key,
            key_id: options.key_id,
            torn_bytes_removed,
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code path panics while holding the lock; a poisoned mutex still holds valid state.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `record` (normally a JSON object) and returns its sequence number.
    ///
    /// With [`Durability::Fsync`] the entry is on disk when this returns `Ok`.
    ///
    /// # Errors
    ///
    /// I/O failures (after which the log is poisoned), [`AuditError::RecordTooDeep`],
    /// [`AuditError::LineTooLong`], [`AuditError::Poisoned`].
    pub fn append(&self, record: Value) -> Result<u64, AuditError> {
        let mut canonical = Vec::with_capacity(256);
        write_canonical(&mut canonical, &record).map_err(|_| AuditError::RecordTooDeep {
            max: MAX_RECORD_DEPTH,
        })?;
        if canonical.len() > self.max_record {
            return Err(AuditError::RecordTooLarge {
                len: canonical.len(),
                max: self.max_record,
            });
        }
        self.append_body(Body::Record(&canonical))
    }

    /// Appends a marker entry `{"dropped": count}` recording that the caller dropped `count`
    /// records (best-effort mode), so the gap is visible and counted by [`crate::verify`].
    ///
    /// # Errors
    ///
    /// As [`AuditLog::append`].
    pub fn record_dropped(&self, count: u64) -> Result<u64, AuditError> {
        self.append_body(Body::Dropped(count))
    }

    fn append_body(&self, body: Body<'_>) -> Result<u64, AuditError> {
        let mut inner = self.lock();
        self.check_poisoned(&inner)?;
        let seq = inner.next_seq;
        let hash = entry_hash(&inner.head, seq, body);
        let mut line = std::mem::take(&mut inner.line_buf);
        line.clear();
        render_entry(&mut line, seq, &inner.head, body, &hash);
        let line_len = line.len().saturating_sub(1);
        if line_len > MAX_LINE_BYTES {
            return Err(AuditError::LineTooLong {
                len: line_len,
                max: MAX_LINE_BYTES,
            });
        }
        let written = self.write_line(&mut inner, &line);
        inner.line_buf = line;
        written?;
        if self.durability == Durability::Fsync {
            self.sync(&mut inner)?;
        }
        inner.next_seq = seq.saturating_add(1);
        inner.head = hash;
        inner.after_checkpoint = inner.after_checkpoint.saturating_add(1);
        if let Body::Dropped(count) = body {
            inner.dropped = inner.dropped.saturating_add(count);
        }
        let rotate_due = self.rotate_due(&inner, 0);
        if rotate_due
            || (self.checkpoint_every > 0 && inner.after_checkpoint >= self.checkpoint_every)
        {
            // The entry itself is written (and synced in `Fsync` mode), so it is acknowledged;
            // a failed checkpoint or rotation poisons the log and surfaces on the next call.
            let _poisoned_on_error = self
                .write_checkpoint(&mut inner, rotate_due)
                .and_then(|()| {
                    if rotate_due {
                        self.rotate(&mut inner)
                    } else {
                        Ok(())
                    }
                });
        }
        Ok(seq)
    }

    /// Appends `bodies` in order under one lock with as few writes and syncs as possible (group
    /// commit): the lines go to the file in one write (split only where a checkpoint falls due,
    /// which syncs the entries before it), then, with `sync`, one `sync_data`. Every body must
    /// fit [`MAX_LINE_BYTES`] (the writer thread checks before). Returns how many of the leading
    /// bodies were written (and synced, with `sync`) and the error that stopped the rest.
    pub(crate) fn append_batch(&self, bodies: &[Body<'_>], sync: bool) -> BatchOutcome {
        let mut inner = self.lock();
        let first_seq = inner.next_seq;
        if let Err(error) = self.check_poisoned(&inner) {
            return BatchOutcome {
                first_seq,
                written: 0,
                error: Some(error),
            };
        }
        let mut buf = std::mem::take(&mut inner.line_buf);
        buf.clear();
        // `written`: acknowledged entries; `pending`: rendered or written, not yet acknowledged.
        let mut written = 0usize;
        let mut pending = 0usize;
        let mut error = None;
        for body in bodies {
            let seq = inner.next_seq;
            let hash = entry_hash(&inner.head, seq, *body);
            render_entry(&mut buf, seq, &inner.head, *body, &hash);
            inner.next_seq = seq.saturating_add(1);
            inner.head = hash;
            inner.after_checkpoint = inner.after_checkpoint.saturating_add(1);
            if let Body::Dropped(count) = body {
                inner.dropped = inner.dropped.saturating_add(*count);
            }
            pending = pending.saturating_add(1);
            let rotate_due = self.rotate_due(&inner, buf.len());
            if rotate_due
                || (self.checkpoint_every > 0 && inner.after_checkpoint >= self.checkpoint_every)
            {
                if let Err(e) = self.write_line(&mut inner, &buf) {
                    error = Some(e);
                    break;
                }
                buf.clear();
                // Syncs the entries, then writes and syncs the checkpoint.
                let checkpointed = self.write_checkpoint(&mut inner, rotate_due);
                if checkpointed.is_ok() || !inner.unsynced {
                    written = written.saturating_add(pending);
                    pending = 0;
                }
                if let Err(e) = checkpointed {
                    error = Some(e);
                    break;
                }
                if rotate_due && let Err(e) = self.rotate(&mut inner) {
                    error = Some(e);
                    break;
                }
            }
        }
        if error.is_none() && pending > 0 {
            let flushed = self
                .write_line(&mut inner, &buf)
                .and_then(|()| if sync { self.sync(&mut inner) } else { Ok(()) });
            match flushed {
                Ok(()) => written = written.saturating_add(pending),
                Err(e) => error = Some(e),
            }
        }
        buf.clear();
        inner.line_buf = buf;
        BatchOutcome {
            first_seq,
            written,
            error,
        }
    }

    /// Syncs lines written but not yet synced.
    pub(crate) fn sync_pending(&self) -> Result<(), AuditError> {
        let mut inner = self.lock();
        self.check_poisoned(&inner)?;
        if inner.unsynced {
            self.sync(&mut inner)?;
        }
        Ok(())
    }

    fn check_poisoned(&self, inner: &Inner) -> Result<(), AuditError> {
        match &inner.poisoned {
            Some(reason) => Err(AuditError::Poisoned {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn fail(&self, inner: &mut Inner, action: &'static str, source: std::io::Error) -> AuditError {
        inner.poisoned = Some(format!("cannot {action}: {source}"));
        AuditError::Io {
            path: self.path.clone(),
            action,
            source,
        }
    }

    fn write_line(&self, inner: &mut Inner, line: &[u8]) -> Result<(), AuditError> {
        match inner.file.write_all(line) {
            Ok(()) => {
                inner.unsynced = true;
                inner.file_len = inner
                    .file_len
                    .saturating_add(u64::try_from(line.len()).unwrap_or(u64::MAX));
                Ok(())
            }
            Err(source) => Err(self.fail(inner, "write to", source)),
        }
    }

    /// Whether the current file, with `extra` more bytes, has reached the rotation size.
    fn rotate_due(&self, inner: &Inner, extra: usize) -> bool {
        self.rotate_bytes > 0
            && inner
                .file_len
                .saturating_add(u64::try_from(extra).unwrap_or(u64::MAX))
                >= self.rotate_bytes
    }

    /// Renames the current file (just sealed by a checkpoint) to the next `STEM.NNNNNN.EXT` and
    /// continues in a new, empty file at the configured path.
    fn rotate(&self, inner: &mut Inner) -> Result<(), AuditError> {
        let number = inner.rotations.saturating_add(1);
        let target = rotated_path(&self.path, number);
        if target.exists() {
            let taken = std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("`{}` already exists", target.display()),
            );
            return Err(self.fail(inner, "rotate", taken));
        }
        if let Err(source) = std::fs::rename(&self.path, &target) {
            return Err(self.fail(inner, "rotate", source));
        }
        let file = match OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&self.path)
        {
            Ok(file) => file,
            Err(source) => return Err(self.fail(inner, "create the next file of", source)),
        };
        match file.try_lock_exclusive() {
            Ok(true) => {}
            Ok(false) => {
                let locked = std::io::Error::other("another writer has it open");
                return Err(self.fail(inner, "lock the next file of", locked));
            }
            Err(source) => return Err(self.fail(inner, "lock the next file of", source)),
        }
        if let Err(source) = sync_parent_dir(&self.path) {
            return Err(self.fail(inner, "sync the directory of", source));
        }
        // Dropping the old handle releases the lock on the rotated file.
        inner.file = file;
        inner.file_len = 0;
        inner.unsynced = false;
        inner.rotations = number;
        Ok(())
    }

    /// Files rotated away so far.
    pub fn rotations(&self) -> u64 {
        self.lock().rotations
    }

    fn sync(&self, inner: &mut Inner) -> Result<(), AuditError> {
        match inner.file.sync_data() {
            Ok(()) => {
                inner.unsynced = false;
                Ok(())
            }
            Err(source) => Err(self.fail(inner, "sync", source)),
        }
    }

    /// Writes a checkpoint for the head. The entries it covers are synced first; the checkpoint
    /// line itself only with `sync_after` (automatic checkpoints leave it to the next sync: a
    /// checkpoint lost in a crash leaves entries after the last checkpoint, not damage).
    fn write_checkpoint(&self, inner: &mut Inner, sync_after: bool) -> Result<(), AuditError> {
        // Entries reach the disk before the checkpoint that covers them.
        if inner.unsynced {
            self.sync(inner)?;
        }
        let Some(seq) = inner.next_seq.checked_sub(1) else {
            return Ok(());
        };
        let checkpoint = Checkpoint {
            seq,
            head: inner.head,
            count: inner.next_seq,
            index: inner.checkpoints,
            at_ms: now_ms(),
            key_id: self.signing_key.as_ref().and(self.key_id.clone()),
        };
        let sig = self
            .signing_key
            .as_ref()
            .map(|key| key.sign(&signature_message(&checkpoint)).to_bytes());
        let mut line = Vec::with_capacity(320);
        render_checkpoint(&mut line, &checkpoint, sig.as_ref());
        self.write_line(inner, &line)?;
        if sync_after {
            self.sync(inner)?;
        }
        inner.checkpoints = inner.checkpoints.saturating_add(1);
        inner.after_checkpoint = 0;
        Ok(())
    }

    /// Writes a checkpoint for the current head (unless the last line already is one) and syncs.
    ///
    /// # Errors
    ///
    /// I/O failures (after which the log is poisoned), [`AuditError::Poisoned`].
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        let mut inner = self.lock();
        self.check_poisoned(&inner)?;
        if inner.after_checkpoint == 0 {
            if inner.unsynced {
                self.sync(&mut inner)?;
            }
            return Ok(());
        }
        self.write_checkpoint(&mut inner, true)
    }

    /// Writes a final checkpoint, syncs, and closes the file.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::checkpoint`].
    pub fn close(self) -> Result<(), AuditError> {
        self.checkpoint()
    }

    /// Number of entries in the log (records and `dropped` markers): the next sequence number.
    pub fn len(&self) -> u64 {
        self.lock().next_seq
    }

    /// Whether the log has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hash of the last entry as 64 lowercase hex digits (64 zeros for an empty log). Keep it
    /// together with [`AuditLog::len`] outside the log to detect a later rollback
    /// ([`crate::VerifyOptions::anchor`]).
    pub fn head(&self) -> String {
        to_hex(&self.lock().head)
    }

    /// Sum of the counts of all `dropped` markers in the log.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of a torn final line removed by [`AuditLog::open`] (0 when the file ended cleanly).
    pub fn torn_bytes_removed(&self) -> u64 {
        self.torn_bytes_removed
    }

    /// The Ed25519 public key matching the signing key, if any.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        self.signing_key
            .as_ref()
            .map(|key| key.verifying_key().to_bytes())
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        let mut inner = self.lock();
        if inner.poisoned.is_none() && (inner.after_checkpoint > 0 || inner.unsynced) {
            // Best effort: `close` reports errors, drop cannot.
            let _ignored = if inner.after_checkpoint > 0 {
                self.write_checkpoint(&mut inner, true)
            } else {
                self.sync(&mut inner)
            };
        }
    }
}

/// `STEM.NNNNNN.EXT` beside `path` (`audit.jsonl` → `audit.000001.jsonl`).
pub(crate) fn rotated_path(path: &Path, number: u64) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{number:06}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{number:06}"),
    };
    path.with_file_name(name)
}

/// The rotation number of `name` if it is a rotated file of `path` (`STEM.<digits>.EXT`).
pub(crate) fn rotation_number(path: &Path, name: &str) -> Option<u64> {
    let stem = path.file_stem()?.to_str()?;
    let rest = name.strip_prefix(stem)?.strip_prefix('.')?;
    let digits = match path.extension() {
        Some(ext) => rest.strip_suffix(ext.to_str()?)?.strip_suffix('.')?,
        None => rest,
    };
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The rotated files of the log at `path`, by number.
pub(crate) fn rotated_files(path: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(number) = name.to_str().and_then(|name| rotation_number(path, name)) {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Feeds a rotated file to `chain`: it must be complete and end with a checkpoint.
fn scan_sealed(path: &Path, chain: &mut Chain) -> Result<(), AuditError> {
    let corrupt = |source| AuditError::Corrupt {
        path: path.to_path_buf(),
        source,
    };
    chain.line = 0;
    let file = File::open(path).map_err(|source| AuditError::Io {
        path: path.to_path_buf(),
        action: "open",
        source,
    })?;
    let end = scan(BufReader::with_capacity(1 << 16, file), chain).map_err(corrupt)?;
    crate::verify::check_sealed_file(chain, end).map_err(corrupt)
}

#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
