//! The on-disk format of a persistent [`MemoryStore`](crate::MemoryStore): framed JSON lines
//! with a CRC32 each, a journal appended and synced before every acknowledgement, and a
//! snapshot written atomically at open.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The journal's file name inside the state directory.
pub(crate) const JOURNAL_FILE: &str = "journal.jsonl";
/// The snapshot's file name inside the state directory.
pub(crate) const SNAPSHOT_FILE: &str = "snapshot.jsonl";
/// The temporary name a snapshot is written under before its rename.
pub(crate) const SNAPSHOT_TEMP_FILE: &str = "snapshot.jsonl.tmp";
/// The lock file's name inside the state directory.
pub(crate) const LOCK_FILE: &str = "lock";
/// The snapshot format version.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// One charge as journaled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ChargeRecord {
    pub(crate) q: smol_str::SmolStr,
    pub(crate) b: smol_str::SmolStr,
    pub(crate) l: u64,
    pub(crate) w: u64,
    pub(crate) c: u64,
    /// Whether a reservation covers the charge (absent in old journals: covered).
    #[serde(default = "covered")]
    pub(crate) s: bool,
}

fn covered() -> bool {
    true
}

/// One reserved charge as snapshotted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ReservedRecord {
    pub(crate) q: String,
    pub(crate) b: String,
    pub(crate) w: u64,
    pub(crate) g: u64,
    pub(crate) a: u64,
}

/// One line of the journal or the snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Record {
    /// An admitted request (journal).
    Charge {
        t: u64,
        c: Vec<ChargeRecord>,
        r: Option<String>,
    },
    /// A settled reservation (journal).
    Settle { t: u64, r: String, a: u64 },
    /// A refunded reservation (journal).
    Refund { t: u64, r: String },
    /// The first line of a snapshot: the last journal sequence number it includes.
    Header { v: u32, seq: u64, t: u64 },
    /// A live bucket (snapshot): window, head granule and non-zero granule counts.
    Bucket {
        q: String,
        b: String,
        w: u64,
        h: u64,
        g: Vec<(u64, u64)>,
    },
    /// A reservation not yet forgotten (snapshot).
    Reservation {
        r: String,
        t: u64,
        s: bool,
        e: Vec<ReservedRecord>,
    },
}

#[derive(Serialize)]
struct FramedOut<'a> {
    n: u64,
    rec: &'a Record,
}

#[derive(Deserialize)]
struct FramedIn {
    n: u64,
    rec: Record,
    crc: String,
}

const CRC_FIELD: &[u8] = b",\"crc\":\"";

/// Frames a record as one line: `{"n":N,"rec":{...},"crc":"xxxxxxxx"}\n`, where the CRC32
/// covers the bytes before `,"crc"`.
pub(crate) fn frame(seq: u64, record: &Record) -> Result<Vec<u8>, StoreError> {
    let mut line = serde_json::to_vec(&FramedOut {
        n: seq,
        rec: record,
    })
    .map_err(|error| StoreError::Io(format!("cannot encode a journal record: {error}")))?;
    // Drop the closing brace, append the checksum of what precedes it.
    line.pop();
    let crc = crc32fast::hash(&line);
    line.extend_from_slice(CRC_FIELD);
    line.extend_from_slice(format!("{crc:08x}\"}}\n").as_bytes());
    Ok(line)
}

/// Checks and decodes one complete line (without its newline).
fn unframe(line: &[u8]) -> Result<(u64, Record), String> {
    let at = line
        .windows(CRC_FIELD.len())
        .rposition(|window| window == CRC_FIELD)
        .ok_or_else(|| "no checksum".to_owned())?;
    let body = line.get(..at).ok_or_else(|| "no checksum".to_owned())?;
    let framed: FramedIn =
        serde_json::from_slice(line).map_err(|error| format!("not a journal record: {error}"))?;
    let expected = format!("{:08x}", crc32fast::hash(body));
    if framed.crc != expected {
        return Err(format!(
            "checksum mismatch (stored {}, computed {expected})",
            framed.crc
        ));
    }
    Ok((framed.n, framed.rec))
}

fn io_error(path: &Path, what: &str, error: &std::io::Error) -> StoreError {
    StoreError::Io(format!("cannot {what} `{}`: {error}", path.display()))
}

/// Reads the records of a state file. With `tolerate_torn_tail`, a final line without a
/// newline (a write cut by a crash) is dropped and the file truncated before it; otherwise it
/// is corruption. Returns an empty list when the file does not exist.
pub(crate) fn read_records(
    path: &Path,
    tolerate_torn_tail: bool,
) -> Result<Vec<(u64, Record)>, StoreError> {
    let mut file = match OpenOptions::new()
        .read(true)
        .write(tolerate_torn_tail)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_error(path, "open", &error)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|error| io_error(path, "read", &error))?;
    let complete = bytes
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |at| at + 1);
    if complete < bytes.len() {
        if tolerate_torn_tail {
            let length = u64::try_from(complete).unwrap_or(u64::MAX);
            file.set_len(length)
                .map_err(|error| io_error(path, "truncate", &error))?;
            file.sync_all()
                .map_err(|error| io_error(path, "sync", &error))?;
        } else {
            return Err(StoreError::Corrupt {
                path: path.display().to_string(),
                line: bytes.iter().filter(|&&byte| byte == b'\n').count() + 1,
                message: "incomplete final line".to_owned(),
            });
        }
    }
    let mut records = Vec::new();
    let body = bytes.get(..complete).unwrap_or_default();
    for (index, line) in body.split(|&byte| byte == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let record = unframe(line).map_err(|message| StoreError::Corrupt {
            path: path.display().to_string(),
            line: index + 1,
            message,
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Writes `lines` to `dir/SNAPSHOT_FILE` atomically: a temporary file, synced, renamed over
/// the old snapshot, and the directory synced.
pub(crate) fn write_snapshot(dir: &Path, lines: &[u8]) -> Result<(), StoreError> {
    let temp = dir.join(SNAPSHOT_TEMP_FILE);
    let target = dir.join(SNAPSHOT_FILE);
    let mut file = File::create(&temp).map_err(|error| io_error(&temp, "create", &error))?;
    file.write_all(lines)
        .map_err(|error| io_error(&temp, "write", &error))?;
    file.sync_all()
        .map_err(|error| io_error(&temp, "sync", &error))?;
    drop(file);
    std::fs::rename(&temp, &target).map_err(|error| io_error(&target, "replace", &error))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    // Directories can be opened and synced on Unix; elsewhere this is best effort.
    match File::open(dir) {
        Ok(handle) => {
            if cfg!(unix) {
                handle
                    .sync_all()
                    .map_err(|error| io_error(dir, "sync", &error))?;
            }
            Ok(())
        }
        Err(error) => Err(io_error(dir, "open", &error)),
    }
}

/// The open journal.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    next_seq: u64,
    length: u64,
}

impl Journal {
    /// Empties the journal (its records are in the snapshot) and opens it for appending.
    pub(crate) fn restart(dir: &Path, next_seq: u64) -> Result<Self, StoreError> {
        let path = dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|error| io_error(&path, "open", &error))?;
        file.set_len(0)
            .map_err(|error| io_error(&path, "truncate", &error))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|error| io_error(&path, "seek", &error))?;
        file.sync_all()
            .map_err(|error| io_error(&path, "sync", &error))?;
        sync_dir(dir)?;
        Ok(Self {
            file,
            path,
            next_seq,
            length: 0,
        })
    }

    /// Appends one record and syncs it to disk before returning.
    pub(crate) fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        let line = frame(self.next_seq, record)?;
        let written = self
            .file
            .write_all(&line)
            .map_err(|error| io_error(&self.path, "append to", &error))
            .and_then(|()| {
                self.file
                    .sync_data()
                    .map_err(|error| io_error(&self.path, "sync", &error))
            });
        if let Err(error) = written {
            // Cut a partial line so that later appends do not turn it into a corrupt one.
            let _ = self.file.set_len(self.length);
            let _ = self.file.seek(SeekFrom::Start(self.length));
            return Err(error);
        }
        self.length = self
            .length
            .saturating_add(u64::try_from(line.len()).unwrap_or(u64::MAX));
        self.next_seq = self.next_seq.saturating_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn frame_round_trips_and_detects_flips() {
        let record = Record::Settle {
            t: 5,
            r: "d\"1".to_owned(),
            a: 3,
        };
        let line = frame(7, &record).unwrap();
        let (seq, back) = unframe(line.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(seq, 7);
        assert!(matches!(back, Record::Settle { t: 5, a: 3, .. }));
        let mut bad = line.clone();
        let position = bad.iter().position(|&byte| byte == b'5').unwrap();
        if let Some(byte) = bad.get_mut(position) {
            *byte = b'6';
        }
        assert!(unframe(bad.strip_suffix(b"\n").unwrap()).is_err());
    }
}
