//! The file registry: the in-memory store, made durable by an append-only journal and
//! periodic snapshots. The format and crash semantics are described in the crate docs.

use crate::error::RegistryError;
use crate::memory::{self, AgentMap, Store, lock};
use crate::model::{Agent, AgentState};
use crate::registry::{Registry, mutating_methods};
use crate::rules::{self, Op};
use fs4::fs_std::FileExt as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The journal's file name inside the state directory.
pub const JOURNAL_FILE: &str = "agents.journal";
/// The snapshot's file name inside the state directory.
pub const SNAPSHOT_FILE: &str = "agents.snapshot.json";
/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "agents.lock";
const SNAPSHOT_TMP: &str = "agents.snapshot.json.tmp";
const SNAPSHOT_FORMAT: u32 = 1;

/// Tuning for [`FileRegistry::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRegistryOptions {
    /// A checkpoint (snapshot + new journal) is written before the journal grows past this many
    /// entries. Default 1,000.
    pub checkpoint_entries: u64,
    /// How long `open` waits for another holder to release the directory before
    /// [`RegistryError::Locked`]. Default 500 ms.
    pub lock_wait_ms: u64,
}

impl Default for FileRegistryOptions {
    fn default() -> Self {
        Self {
            checkpoint_entries: 1_000,
            lock_wait_ms: 500,
        }
    }
}

/// One journal line as written.
#[derive(Serialize)]
struct LineOut<'a> {
    seq: u64,
    crc: u32,
    op: &'a RawValue,
}

/// One journal line as read; `op` stays raw so its exact bytes are checksummed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineIn<'a> {
    seq: u64,
    crc: u32,
    #[serde(borrow)]
    op: &'a RawValue,
}

#[derive(Serialize)]
struct SnapshotOut<'a> {
    format: u32,
    seq: u64,
    crc: u32,
    agents: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotIn<'a> {
    format: u32,
    seq: u64,
    crc: u32,
    #[serde(borrow)]
    agents: &'a RawValue,
}

/// The checksum of an entry: CRC-32 (IEEE) of the seq as 8 little-endian bytes, then the bytes
/// of the payload JSON.
fn checksum(seq: u64, payload: &str) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload.as_bytes());
    hasher.finalize()
}

#[derive(Debug)]
struct Journal {
    file: File,
    /// Bytes in the journal: a failed append is cut back to this length.
    len: u64,
    next_seq: u64,
    entries: u64,
    /// Set when an append failed and could not be undone: the journal's tail is unknown, so
    /// every later mutation fails until the registry is reopened (which repairs or reports it).
    failed: Option<String>,
}

/// A registry persisted in a directory: mutations are journaled and flushed to disk
/// (`sync_data`) before they return, so an acknowledged change survives a crash of the process
/// or the machine. One process at a time holds the directory (an exclusive lock on
/// `agents.lock`).
#[derive(Debug)]
pub struct FileRegistry {
    dir: PathBuf,
    options: FileRegistryOptions,
    writer: Mutex<Journal>,
    store: Store,
    /// Held for the registry's life: dropping it releases the directory.
    _lock: File,
}

fn corrupt(path: &Path, line: u64, message: impl Into<String>) -> RegistryError {
    RegistryError::Corrupt {
        path: path.to_owned(),
        line,
        message: message.into(),
    }
}

fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| RegistryError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, RegistryError> {
    match File::open(path) {
        Ok(mut f) => {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)
                .map_err(|e| RegistryError::io(path, e))?;
            Ok(Some(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RegistryError::io(path, e)),
    }
}

fn acquire_lock(path: &Path, wait: Duration) -> Result<File, RegistryError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| RegistryError::io(path, e))?;
    let deadline = Instant::now() + wait;
    loop {
        if file
            .try_lock_exclusive()
            .map_err(|e| RegistryError::io(path, e))?
        {
            return Ok(file);
        }
        if Instant::now() >= deadline {
            return Err(RegistryError::Locked {
                path: path.to_owned(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Loads the snapshot: the agents and the seq of the last entry it includes.
fn load_snapshot(path: &Path) -> Result<(AgentMap, u64), RegistryError> {
    let Some(bytes) = read_optional(path)? else {
        return Ok((AgentMap::new(), 0));
    };
    let snap: SnapshotIn<'_> = serde_json::from_slice(&bytes)
        .map_err(|e| corrupt(path, 1, format!("invalid snapshot JSON: {e}")))?;
    if snap.format != SNAPSHOT_FORMAT {
        return Err(corrupt(
            path,
            1,
            format!(
                "unknown snapshot format {} (this version reads {SNAPSHOT_FORMAT})",
                snap.format
            ),
        ));
    }
    if checksum(snap.seq, snap.agents.get()) != snap.crc {
        return Err(corrupt(path, 1, "snapshot checksum mismatch"));
    }
    let agents: Vec<Agent> = serde_json::from_str(snap.agents.get())
        .map_err(|e| corrupt(path, 1, format!("invalid agent in snapshot: {e}")))?;
    let mut map = AgentMap::new();
    for agent in agents {
        memory::insert(&mut map, agent);
    }
    Ok((map, snap.seq))
}

/// Replays the journal over `map`; returns the last seq applied (or `snapshot_seq`).
fn replay(
    path: &Path,
    bytes: &[u8],
    map: &mut AgentMap,
    snapshot_seq: u64,
) -> Result<u64, RegistryError> {
    let mut last = snapshot_seq;
    let mut previous: Option<u64> = None;
    let mut rest = bytes;
    let mut line_no: u64 = 0;
    // Only lines ended by '\n' are entries; bytes after the last '\n' are a torn write (the
    // process died mid-append, before the entry was acknowledged) and are dropped.
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let (line, tail) = rest.split_at(end);
        rest = tail.get(1..).unwrap_or_default();
        line_no = line_no.saturating_add(1);
        let entry: LineIn<'_> = serde_json::from_slice(line)
            .map_err(|e| corrupt(path, line_no, format!("invalid journal entry: {e}")))?;
        if checksum(entry.seq, entry.op.get()) != entry.crc {
            return Err(corrupt(
                path,
                line_no,
                format!("checksum mismatch in entry seq {}", entry.seq),
            ));
        }
        let expected = match previous {
            Some(p) => p.saturating_add(1),
            None => snapshot_seq.saturating_add(1),
        };
        let in_order = match previous {
            Some(_) => entry.seq == expected,
            // The first entry may precede the snapshot's end (see below), never skip past it.
            None => entry.seq >= 1 && entry.seq <= expected,
        };
        if !in_order {
            return Err(corrupt(
                path,
                line_no,
                format!("sequence gap: expected seq {expected}, found {}", entry.seq),
            ));
        }
        previous = Some(entry.seq);
        if entry.seq <= snapshot_seq {
            // Already in the snapshot: a crash fell between the snapshot and the new journal.
            continue;
        }
        let op: Op = serde_json::from_str(entry.op.get()).map_err(|e| {
            corrupt(
                path,
                line_no,
                format!("invalid operation in seq {}: {e}", entry.seq),
            )
        })?;
        let (entity_type, id) = op.target();
        let next = rules::apply(memory::lookup(map, entity_type, id), &op).map_err(|e| {
            corrupt(
                path,
                line_no,
                format!("entry seq {} does not replay: {e}", entry.seq),
            )
        })?;
        memory::insert(map, next);
        last = entry.seq;
    }
    Ok(last)
}

impl FileRegistry {
    /// Opens (or creates) the registry in `state_dir` with default options.
    pub fn open(state_dir: &Path) -> Result<Self, RegistryError> {
        Self::open_with(state_dir, FileRegistryOptions::default())
    }

    /// Opens (or creates) the registry in `state_dir`: takes the directory lock, loads the
    /// snapshot, replays the journal (dropping a torn final line), and checkpoints if the
    /// journal held anything.
    ///
    /// Errors: [`RegistryError::Locked`] if another registry holds the directory,
    /// [`RegistryError::Corrupt`] for a damaged snapshot or journal entry (a bad checksum, a
    /// sequence gap, invalid JSON, an entry that does not replay), [`RegistryError::Io`].
    pub fn open_with(
        state_dir: &Path,
        options: FileRegistryOptions,
    ) -> Result<Self, RegistryError> {
        fs::create_dir_all(state_dir).map_err(|e| RegistryError::io(state_dir, e))?;
        let lock_file = acquire_lock(
            &state_dir.join(LOCK_FILE),
            Duration::from_millis(options.lock_wait_ms),
        )?;
        let snapshot_path = state_dir.join(SNAPSHOT_FILE);
        let journal_path = state_dir.join(JOURNAL_FILE);
        let (mut map, snapshot_seq) = load_snapshot(&snapshot_path)?;
        let journal_bytes = read_optional(&journal_path)?.unwrap_or_default();
        let last = replay(&journal_path, &journal_bytes, &mut map, snapshot_seq)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(|e| RegistryError::io(&journal_path, e))?;
        let registry = FileRegistry {
            dir: state_dir.to_owned(),
            options,
            writer: Mutex::new(Journal {
                file,
                len: u64::try_from(journal_bytes.len()).unwrap_or(u64::MAX),
                next_seq: last.saturating_add(1),
                entries: 0,
                failed: None,
            }),
            store: Store::with(map, last),
            _lock: lock_file,
        };
        if !journal_bytes.is_empty() {
            let mut journal = lock(&registry.writer);
            registry.checkpoint(&mut journal)?;
        }
        sync_dir(state_dir)?;
        Ok(registry)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a snapshot of every agent and starts a new, empty journal; the seq continues.
    pub fn checkpoint_now(&self) -> Result<(), RegistryError> {
        let mut journal = lock(&self.writer);
        self.checkpoint(&mut journal)
    }

    fn checkpoint(&self, journal: &mut Journal) -> Result<(), RegistryError> {
        let seq = journal.next_seq.saturating_sub(1);
        let tmp = self.dir.join(SNAPSHOT_TMP);
        let snapshot_path = self.dir.join(SNAPSHOT_FILE);
        let agents_json = self.store.with_map(|map| {
            let mut agents: Vec<&Agent> = map.values().flat_map(|ids| ids.values()).collect();
            agents.sort_by(|a, b| (&a.entity_type, &a.id).cmp(&(&b.entity_type, &b.id)));
            serde_json::to_string(&agents)
        });
        let agents_json = agents_json.map_err(|e| RegistryError::io(&tmp, e.into()))?;
        let raw =
            RawValue::from_string(agents_json).map_err(|e| RegistryError::io(&tmp, e.into()))?;
        let mut text = serde_json::to_string(&SnapshotOut {
            format: SNAPSHOT_FORMAT,
            seq,
            crc: checksum(seq, raw.get()),
            agents: &raw,
        })
        .map_err(|e| RegistryError::io(&tmp, e.into()))?;
        text.push('\n');
        let mut file = File::create(&tmp).map_err(|e| RegistryError::io(&tmp, e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| RegistryError::io(&tmp, e))?;
        drop(file);
        fs::rename(&tmp, &snapshot_path).map_err(|e| RegistryError::io(&snapshot_path, e))?;
        sync_dir(&self.dir)?;
        // From here the snapshot holds every entry: the old ones left in the journal by a
        // crash before the truncation are skipped on replay (seq <= snapshot seq).
        let journal_path = self.dir.join(JOURNAL_FILE);
        journal
            .file
            .set_len(0)
            .and_then(|()| journal.file.sync_all())
            .map_err(|e| RegistryError::io(&journal_path, e))?;
        journal.len = 0;
        journal.entries = 0;
        Ok(())
    }

    fn append(&self, journal: &mut Journal, op: &Op) -> Result<(), RegistryError> {
        let path = self.dir.join(JOURNAL_FILE);
        let seq = journal.next_seq;
        let op_json = serde_json::to_string(op).map_err(|e| RegistryError::io(&path, e.into()))?;
        let raw = RawValue::from_string(op_json).map_err(|e| RegistryError::io(&path, e.into()))?;
        let mut line = serde_json::to_string(&LineOut {
            seq,
            crc: checksum(seq, raw.get()),
            op: &raw,
        })
        .map_err(|e| RegistryError::io(&path, e.into()))?;
        line.push('\n');
        let written = journal
            .file
            .write_all(line.as_bytes())
            .and_then(|()| journal.file.sync_data());
        if let Err(e) = written {
            // Cut a partial line off so later entries do not follow garbage.
            let undone = journal
                .file
                .set_len(journal.len)
                .and_then(|()| journal.file.sync_data());
            if let Err(undo) = undone {
                journal.failed = Some(format!(
                    "an append failed ({e}) and could not be undone ({undo}); reopen the registry"
                ));
            }
            return Err(RegistryError::io(&path, e));
        }
        journal.len = journal
            .len
            .saturating_add(u64::try_from(line.len()).unwrap_or(u64::MAX));
        journal.next_seq = seq.saturating_add(1);
        journal.entries = journal.entries.saturating_add(1);
        Ok(())
    }

    fn mutate(&self, op: &Op) -> Result<Agent, RegistryError> {
        let mut journal = lock(&self.writer);
        if let Some(failed) = &journal.failed {
            return Err(RegistryError::io(
                self.dir.join(JOURNAL_FILE),
                std::io::Error::other(failed.clone()),
            ));
        }
        let agent = self.store.prepare(op)?;
        if journal.entries >= self.options.checkpoint_entries {
            self.checkpoint(&mut journal)?;
        }
        self.append(&mut journal, op)?;
        self.store.commit(agent.clone());
        Ok(agent)
    }
}

impl Registry for FileRegistry {
    mutating_methods!();

    fn get(&self, entity_type: &str, id: &str) -> Result<Option<Agent>, RegistryError> {
        Ok(self.store.get(entity_type, id))
    }

    fn state(
        &self,
        entity_type: &str,
        id: &str,
    ) -> Result<Option<(AgentState, Option<u64>)>, RegistryError> {
        Ok(self.store.state(entity_type, id))
    }

    fn list(&self) -> Result<Vec<Agent>, RegistryError> {
        Ok(self.store.list())
    }

    fn version(&self) -> Result<u64, RegistryError> {
        Ok(self.store.version())
    }

    fn name(&self) -> &'static str {
        "file"
    }
}
