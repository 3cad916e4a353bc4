//! Offline verification of an audit log file.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;

use crate::canonical::from_hex;
use crate::chain::{Chain, ScanEnd, scan};

/// What [`verify`] checks beyond the file's own consistency.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Ed25519 public key of the writer. When given, every signed checkpoint's signature is
    /// checked; without it signatures are only checked for syntax.
    pub public_key: Option<[u8; 32]>,
    /// Every checkpoint must carry a valid signature (needs `public_key`).
    pub require_signatures: bool,
    /// The log must end with a checkpoint (as [`crate::AuditLog::close`] leaves it), so that no
    /// entry is outside a checkpoint; with `require_signatures`, outside a signed one. Without
    /// it, entries appended after the last checkpoint are accepted (a log still being written)
    /// and counted in [`VerifyReport::after_last_checkpoint`].
    pub require_sealed: bool,
    /// The log must hold at least this many entries. A log cut back to an earlier length
    /// (its tail removed together with the checkpoints in it) is internally consistent; only a
    /// length or head remembered outside the file reveals it.
    pub min_records: Option<u64>,
    /// The log must contain entry `anchor.seq` with hash `anchor.head`, as seen earlier (for
    /// example from [`crate::AuditLog::head`] or a checkpoint kept elsewhere). Detects both a
    /// rollback below `seq` and a rewritten history (fork).
    pub anchor: Option<Anchor>,
}

/// An entry hash remembered outside the log, see [`VerifyOptions::anchor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Sequence number of the entry.
    pub seq: u64,
    /// Its `hash`, 64 lowercase hex digits.
    pub head: String,
}

/// Summary of a log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of entries (caller records plus `dropped` markers).
    pub records: u64,
    /// Number of checkpoint lines.
    pub checkpoints: u64,
    /// Checkpoints whose signature was checked against [`VerifyOptions::public_key`].
    pub signed_checkpoints: u64,
    /// Hash of the last entry, 64 zeros for an empty log.
    pub head: String,
    /// Sum of the counts of all `dropped` markers.
    pub dropped: u64,
    /// Number of `dropped` marker entries.
    pub markers: u64,
    /// Sequence number of the first entry (always 0), `None` for an empty log.
    pub first_seq: Option<u64>,
    /// Sequence number of the last entry, `None` for an empty log.
    pub last_seq: Option<u64>,
    /// Entries after the last checkpoint: not covered by any (signed) checkpoint yet.
    pub after_last_checkpoint: u64,
}

/// Why a log did not verify, and where.
#[derive(Debug)]
pub struct VerifyError {
    /// 1-based line number of the offending line, `None` for whole-file conditions.
    pub line: Option<u64>,
    /// Sequence number of the offending entry or checkpoint, when known.
    pub seq: Option<u64>,
    /// What is wrong.
    pub kind: VerifyErrorKind,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.seq) {
            (Some(line), Some(seq)) => write!(f, "line {line} (seq {seq}): {}", self.kind),
            (Some(line), None) => write!(f, "line {line}: {}", self.kind),
            (None, Some(seq)) => write!(f, "seq {seq}: {}", self.kind),
            (None, None) => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            VerifyErrorKind::Io(err) => Some(err),
            _ => None,
        }
    }
}

/// The kinds of [`VerifyError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// The file could not be read.
    #[error("cannot read the log: {0}")]
    Io(std::io::Error),
    /// The line is not a well-formed entry or checkpoint.
    #[error("not an audit entry or checkpoint: {reason}")]
    Garbage {
        /// What is malformed.
        reason: String,
    },
    /// A line longer than [`crate::MAX_LINE_BYTES`].
    #[error("line longer than {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// The final line has no newline: a write interrupted by a crash. It was never acknowledged;
    /// [`crate::AuditLog::open`] removes it.
    #[error(
        "final line is incomplete (no trailing newline): a write cut short by a crash, removed when the log is next opened for writing"
    )]
    TornLine,
    /// The line parses but is not byte-for-byte the canonical encoding of its fields.
    #[error("line is not in canonical form (re-encoding its fields gives different bytes)")]
    NonCanonical,
    /// An entry's `seq` skips ahead: entries are missing.
    #[error("sequence gap: expected seq {expected}, found {found}")]
    SeqGap {
        /// The next sequence number.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// An entry's `seq` goes back: a duplicated or reordered entry.
    #[error("duplicate or reordered entry: expected seq {expected}, found {found}")]
    SeqRegression {
        /// The next sequence number.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// `prev` is not the hash of the previous entry.
    #[error("broken link: `prev` is not the hash of the previous entry")]
    BrokenLink,
    /// `hash` does not match the entry's contents.
    #[error("bad hash: `hash` does not match the entry's contents")]
    BadHash,
    /// A checkpoint for an entry that does not precede it: entries before it were removed.
    #[error("checkpoint claims more entries than precede it (last entry before it: {}): log truncated or lines removed", last.map_or_else(|| "none".to_owned(), |seq| format!("seq {seq}")))]
    CheckpointAhead {
        /// Sequence number of the last entry before the checkpoint.
        last: Option<u64>,
    },
    /// A checkpoint for an older entry than the one before it: lines were reordered.
    #[error("checkpoint is for an older entry than the latest one (seq {last}): lines reordered")]
    CheckpointBehind {
        /// Sequence number of the last entry before the checkpoint.
        last: u64,
    },
    /// A second checkpoint for the same entry.
    #[error("duplicate checkpoint for the same entry")]
    DuplicateCheckpoint,
    /// The checkpoint's `head` is not the hash of its entry.
    #[error("checkpoint head mismatch: `head` is not the hash of entry `seq`")]
    CheckpointHeadMismatch,
    /// The checkpoint's `count` is not `seq + 1`.
    #[error("checkpoint count {count} is not seq + 1")]
    CheckpointCountMismatch {
        /// The count found.
        count: u64,
    },
    /// The checkpoint's `index` is not the number of checkpoints before it: one was removed.
    #[error("checkpoint index {found}, expected {expected}: a checkpoint was removed or inserted")]
    CheckpointIndexMismatch {
        /// Number of checkpoints before this one.
        expected: u64,
        /// The index found.
        found: u64,
    },
    /// The checkpoint signature does not verify with the public key.
    #[error("bad signature: the checkpoint signature does not verify with the given public key")]
    BadSignature,
    /// A checkpoint without a signature while signatures are required.
    #[error("unsigned checkpoint but signatures are required")]
    MissingSignature,
    /// Signatures are required but no public key was given.
    #[error("signatures are required but no public key was given")]
    NoPublicKey,
    /// The public key is not a valid Ed25519 point.
    #[error("the public key is not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// The anchor's head is not 64 hex digits.
    #[error("the anchor head is not 64 hex digits")]
    InvalidAnchor,
    /// Entries after the last checkpoint while [`VerifyOptions::require_sealed`] is set.
    #[error("{entries} entries after the last checkpoint, but the log must end with a checkpoint")]
    Unsealed {
        /// Entries after the last checkpoint.
        entries: u64,
    },
    /// Fewer entries than [`VerifyOptions::min_records`]: truncated or rolled back.
    #[error("log has {found} entries but at least {min} were expected: truncated or rolled back")]
    TooFewRecords {
        /// The minimum expected.
        min: u64,
        /// The number found.
        found: u64,
    },
    /// The anchor entry is not in the log: truncated or rolled back.
    #[error(
        "anchor entry seq {seq} is missing (log has {records} entries): truncated or rolled back"
    )]
    AnchorMissing {
        /// The anchor's sequence number.
        seq: u64,
        /// The number of entries found.
        records: u64,
    },
    /// A file that is not the last of a rotated log does not end with a checkpoint (the writer
    /// seals every file before rotating it away): its end was cut off.
    #[error(
        "{entries} entries after the last checkpoint of a rotated file, which the writer always seals: the file was cut short"
    )]
    UnsealedFile {
        /// Entries after its last checkpoint.
        entries: u64,
    },
    /// The anchor entry has a different hash: history was rewritten.
    #[error("entry seq {seq} differs from the anchor: history rewritten")]
    AnchorMismatch {
        /// The anchor's sequence number.
        seq: u64,
    },
}

fn option_error(kind: VerifyErrorKind) -> VerifyError {
    VerifyError {
        line: None,
        seq: None,
        kind,
    }
}

/// Builds the chain checker for `options`.
fn chain_for(options: &VerifyOptions) -> Result<Chain, VerifyError> {
    let public_key = match &options.public_key {
        Some(bytes) => Some(
            VerifyingKey::from_bytes(bytes)
                .map_err(|_| option_error(VerifyErrorKind::InvalidPublicKey))?,
        ),
        None if options.require_signatures => {
            return Err(option_error(VerifyErrorKind::NoPublicKey));
        }
        None => None,
    };
    let anchor = match &options.anchor {
        Some(anchor) => Some((
            anchor.seq,
            from_hex::<32>(&anchor.head, true)
                .ok_or_else(|| option_error(VerifyErrorKind::InvalidAnchor))?,
        )),
        None => None,
    };
    Ok(Chain::new(public_key, options.require_signatures, anchor))
}

/// Verifies the audit log at `path`: every line, the whole chain, every checkpoint, and the
/// conditions in `options`. See the crate documentation for the format.
///
/// # Errors
///
/// The first problem found, with its line number and sequence number.
pub fn verify(path: &Path, options: VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let file = File::open(path).map_err(|err| option_error(VerifyErrorKind::Io(err)))?;
    verify_reader(file, options)
}

/// A rotated file, not the last of its log, must be complete and end with a checkpoint.
pub(crate) fn check_sealed_file(chain: &Chain, end: ScanEnd) -> Result<(), VerifyError> {
    if end.torn_len > 0 {
        return Err(VerifyError {
            line: Some(chain.line.saturating_add(1)),
            seq: None,
            kind: VerifyErrorKind::TornLine,
        });
    }
    let entries = chain.after_last_checkpoint();
    if entries > 0 {
        return Err(VerifyError {
            line: None,
            seq: chain.next_seq.checked_sub(1),
            kind: VerifyErrorKind::UnsealedFile { entries },
        });
    }
    Ok(())
}

/// Why a log of several files (see [`verify_dir`]) did not verify, and in which file.
#[derive(Debug)]
pub struct FilesVerifyError {
    /// The file the problem is in; `None` for conditions of the whole log (options, an empty
    /// directory, too few records, a missing anchor).
    pub file: Option<PathBuf>,
    /// What is wrong, with the line number within `file`.
    pub error: VerifyError,
}

impl fmt::Display for FilesVerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: {}", file.display(), self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for FilesVerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The files of the log in `dir`, in chain order: every `*.jsonl` file, rotated files
/// (`STEM.NNNNNN.jsonl`) by number before the file they were rotated from (`STEM.jsonl`).
/// Keep one log per directory.
///
/// # Errors
///
/// The directory cannot be read.
pub fn log_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<((String, u8, u64, String), PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !name.ends_with(".jsonl") || !path.is_file() {
            continue;
        }
        // `STEM.NNNNNN.jsonl` sorts as (STEM, 0, N); `STEM.jsonl` as (STEM, 1, 0).
        let key = name
            .strip_suffix(".jsonl")
            .and_then(|rest| rest.rsplit_once('.'))
            .and_then(|(stem, _digits)| {
                let base = dir.join(format!("{stem}.jsonl"));
                crate::log::rotation_number(&base, &name).map(|n| (stem.to_owned(), 0, n))
            })
            .map_or_else(
                || {
                    let stem = name.trim_end_matches(".jsonl").to_owned();
                    (stem, 1, 0, name.clone())
                },
                |(stem, rank, number)| (stem, rank, number, name.clone()),
            );
        files.push((key, path));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Verifies a log split over `files` (in chain order) as one chain: sequence numbers, hashes
/// and checkpoint indexes continue from one file to the next, every file but the last is
/// complete and ends with a checkpoint, and `options` apply to the whole. A deleted, reordered,
/// duplicated or cut-short file is detected (except the last ones, as for the end of a single
/// file: see [`VerifyOptions::min_records`] and [`VerifyOptions::anchor`]).
///
/// # Errors
///
/// The first problem found, with its file and line.
pub fn verify_files(
    files: &[PathBuf],
    options: VerifyOptions,
) -> Result<VerifyReport, FilesVerifyError> {
    let whole = |error| FilesVerifyError { file: None, error };
    let mut chain = chain_for(&options).map_err(whole)?;
    let Some((last, earlier)) = files.split_last() else {
        return Err(whole(option_error(VerifyErrorKind::Io(
            std::io::Error::new(std::io::ErrorKind::NotFound, "no audit log files (*.jsonl)"),
        ))));
    };
    for file in earlier.iter().chain(std::iter::once(last)) {
        let in_file = |error| FilesVerifyError {
            file: Some(file.clone()),
            error,
        };
        chain.line = 0;
        let reader =
            File::open(file).map_err(|err| in_file(option_error(VerifyErrorKind::Io(err))))?;
        let end = scan(BufReader::with_capacity(1 << 16, reader), &mut chain).map_err(in_file)?;
        if file == last {
            if end.torn_len > 0 {
                return Err(in_file(VerifyError {
                    line: Some(chain.line.saturating_add(1)),
                    seq: None,
                    kind: VerifyErrorKind::TornLine,
                }));
            }
        } else {
            check_sealed_file(&chain, end).map_err(in_file)?;
        }
    }
    finish(&chain, &options).map_err(whole)
}

/// [`verify_files`] over [`log_files`] of `dir`.
///
/// # Errors
///
/// As [`verify_files`]; an unreadable or empty directory.
pub fn verify_dir(dir: &Path, options: VerifyOptions) -> Result<VerifyReport, FilesVerifyError> {
    let files = log_files(dir).map_err(|err| FilesVerifyError {
        file: Some(dir.to_path_buf()),
        error: option_error(VerifyErrorKind::Io(err)),
    })?;
    verify_files(&files, options)
}

fn finish(chain: &Chain, options: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let report = chain.finish(options.min_records)?;
    if options.require_sealed && report.after_last_checkpoint > 0 {
        return Err(VerifyError {
            line: None,
            seq: report.last_seq,
            kind: VerifyErrorKind::Unsealed {
                entries: report.after_last_checkpoint,
            },
        });
    }
    Ok(report)
}

/// [`verify`] over any byte source (an in-memory copy, a pipe). Never panics, whatever the bytes.
///
/// # Errors
///
/// As [`verify`].
pub fn verify_reader<R: Read>(
    reader: R,
    options: VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    let mut chain = chain_for(&options)?;
    let end = scan(BufReader::with_capacity(1 << 16, reader), &mut chain)?;
    if end.torn_len > 0 {
        return Err(VerifyError {
            line: Some(chain.line.saturating_add(1)),
            seq: None,
            kind: VerifyErrorKind::TornLine,
        });
    }
    finish(&chain, &options)
}
