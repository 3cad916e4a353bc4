//! The writer thread: [`AuditWriter`], a bounded queue in front of an [`AuditLog`] with group
//! commit.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use serde_json::Value;

use crate::canonical::{MAX_RECORD_DEPTH, write_canonical};
use crate::chain::Body;
use crate::log::{AuditError, AuditLog, AuditOptions, Durability};

/// A record that the writer thread turns into JSON (so that serializing and masking happen off
/// the caller's thread).
pub type DeferredRecord = Box<dyn FnOnce() -> Result<Value, String> + Send>;

/// A record that the writer thread encodes itself, straight to its canonical JSON (see
/// [`crate::encode`]), without a `serde_json::Value` in between.
pub type DeferredCanonical = Box<dyn FnOnce() -> Result<Vec<u8>, String> + Send>;

enum Source {
    /// Already encoded and checked by the caller.
    Canonical(Vec<u8>),
    /// Built and encoded by the writer thread.
    Deferred(DeferredRecord),
    /// Encoded by the writer thread, straight to canonical JSON.
    DeferredCanonical(DeferredCanonical),
}

/// Where the writer thread reports the outcome of one job to the caller waiting for it.
struct Completion {
    slot: Mutex<Option<Result<u64, String>>>,
    ready: Condvar,
}

impl Completion {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            slot: Mutex::new(None),
            ready: Condvar::new(),
        })
    }

    fn set(&self, result: Result<u64, String>) {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        *slot = Some(result);
        self.ready.notify_one();
    }

    fn wait(&self) -> Result<u64, String> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(result) = slot.take() {
                return result;
            }
            slot = self
                .ready
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

enum Job {
    Record {
        source: Source,
        /// `None`: nobody waits (buffered mode); a failure is counted in `lost`.
        done: Option<Arc<Completion>>,
    },
    /// Sync everything written so far (and, with `checkpoint`, write a checkpoint).
    Sync {
        checkpoint: bool,
        done: Arc<Completion>,
    },
}

struct State {
    queue: VecDeque<Job>,
    shutdown: bool,
    /// Set after a failed write or sync: every later append fails at once.
    failed: Option<String>,
    /// The writer thread waits on `work` (callers wake it only then: a notify is a system call).
    writer_waiting: bool,
    /// Callers waiting on `space`.
    space_waiters: usize,
}

struct Shared {
    path: PathBuf,
    capacity: usize,
    state: Mutex<State>,
    /// The writer thread waits here for jobs.
    work: Condvar,
    /// Callers wait here for room in the queue.
    space: Condvar,
    lost: AtomicU64,
    full_waits: AtomicU64,
    batches: AtomicU64,
    entries: AtomicU64,
    syncs: AtomicU64,
    last_sync_ns: AtomicU64,
    max_depth: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code path panics while holding the lock; a poisoned mutex still holds valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn poisoned(&self, reason: String) -> AuditError {
        AuditError::Poisoned {
            path: self.path.clone(),
            reason,
        }
    }

    fn not_written(&self, reason: String) -> AuditError {
        AuditError::NotWritten {
            path: self.path.clone(),
            reason,
        }
    }
}

/// Counters of an [`AuditWriter`] (all since it was opened, except `queue_depth`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Jobs waiting in the queue now.
    pub queue_depth: usize,
    /// Most jobs ever waiting at once (never more than the capacity).
    pub max_queue_depth: u64,
    /// Times a caller found the queue full and waited (back-pressure).
    pub full_waits: u64,
    /// Batches the writer thread took from the queue.
    pub batches: u64,
    /// Entries written (records and `dropped` markers).
    pub entries: u64,
    /// `sync_data` calls made by the writer thread for batches and flushes (checkpoints sync too).
    pub syncs: u64,
    /// Duration of the last batch sync, in nanoseconds.
    pub last_sync_ns: u64,
    /// Records accepted without waiting (buffered mode) that were not written: a write failed
    /// after they were queued, or the record could not be encoded (then a `dropped` marker takes
    /// its place in the log).
    pub lost: u64,
}

/// An [`AuditLog`] fed by a bounded queue and a writer thread that takes every queued record at
/// once, writes them with one write and syncs them with one `sync_data` (group commit).
///
/// - With [`Durability::Fsync`] (*durable*), [`AuditWriter::append`] returns only once its record
///   is written and synced; concurrent callers share syncs, so the cost of a sync is amortised
///   over everything that queued while the previous one ran.
/// - With [`Durability::Buffered`], `append` returns as soon as the record is queued. The writer
///   syncs whenever it finds the queue empty after a batch, and at every checkpoint; a crash
///   loses only records not yet synced, and a final line cut short shows as a torn tail
///   ([`crate::VerifyErrorKind::TornLine`]), removed on the next open.
///
/// In both modes a full queue makes the caller wait (back-pressure), never drops a record. After
/// a failed write or sync the log is poisoned: queued records fail (counted in
/// [`WriterStats::lost`] when nobody waits for them) and later appends fail at once.
///
/// Sequence numbers are assigned by the writer thread in queue order, so the file is exactly
/// what [`AuditLog`] writes and [`crate::verify`] expects. Dropping the writer drains the queue,
/// writes a final checkpoint and joins the thread; [`AuditWriter::close`] does the same and
/// reports errors.
pub struct AuditWriter {
    shared: Arc<Shared>,
    log: Arc<AuditLog>,
    durability: Durability,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditWriter")
            .field("log", &self.log)
            .field("durability", &self.durability)
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

impl AuditWriter {
    /// Opens the log at `path` as [`AuditLog::open`] does and starts its writer thread.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::open`]; [`AuditError::Io`] when the thread cannot be started.
    pub fn open(path: &Path, options: AuditOptions) -> Result<Self, AuditError> {
        let durability = options.durability;
        let capacity = options.queue_capacity.max(1);
        let log = Arc::new(AuditLog::open(path, options)?);
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            capacity,
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity.min(1 << 16)),
                shutdown: false,
                failed: None,
                writer_waiting: false,
                space_waiters: 0,
            }),
            work: Condvar::new(),
            space: Condvar::new(),
            lost: AtomicU64::new(0),
            full_waits: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            last_sync_ns: AtomicU64::new(0),
            max_depth: AtomicU64::new(0),
        });
        let thread = std::thread::Builder::new()
            .name("mandate-audit-writer".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                let log = Arc::clone(&log);
                move || run(&shared, &log, durability)
            })
            .map_err(|source| AuditError::Io {
                path: path.to_path_buf(),
                action: "start the writer thread of",
                source,
            })?;
        Ok(Self {
            shared,
            log,
            durability,
            thread: Some(thread),
        })
    }

    /// Queues `record` (encoded on the caller's thread). With [`Durability::Fsync`] returns once
    /// it is written and synced; with [`Durability::Buffered`] once it is queued.
    ///
    /// # Errors
    ///
    /// [`AuditError::RecordTooDeep`], [`AuditError::RecordTooLarge`] (nothing is queued);
    /// [`AuditError::Poisoned`] after an earlier failure, or when the write of this record fails
    /// (durable mode).
    pub fn append(&self, record: &Value) -> Result<(), AuditError> {
        match self.durability {
            Durability::Fsync => self.append_wait(record).map(|_| ()),
            Durability::Buffered => self.submit(Job::Record {
                source: Source::Canonical(encode(record, self.log.max_record_bytes())?),
                done: None,
            }),
        }
    }

    /// As [`AuditWriter::append`], but the record is built (serialized, masked) by the writer
    /// thread, off the caller's path. In buffered mode a record that then fails to build or
    /// encode is replaced in the log by a `dropped` marker and counted in [`WriterStats::lost`].
    ///
    /// # Errors
    ///
    /// As [`AuditWriter::append`]; in durable mode also the error `make` returns.
    pub fn append_with(&self, make: DeferredRecord) -> Result<(), AuditError> {
        self.append_source(Source::Deferred(make))
    }

    /// As [`AuditWriter::append_with`], but `make` returns the record's canonical JSON itself
    /// (written with [`crate::encode`]); the writer checks its size. The verifier re-encodes
    /// every record it reads, so bytes that are not canonical fail verification.
    ///
    /// # Errors
    ///
    /// As [`AuditWriter::append_with`].
    pub fn append_canonical_with(&self, make: DeferredCanonical) -> Result<(), AuditError> {
        self.append_source(Source::DeferredCanonical(make))
    }

    fn append_source(&self, source: Source) -> Result<(), AuditError> {
        match self.durability {
            Durability::Fsync => self.wait_for(source).map(|_| ()),
            Durability::Buffered => self.submit(Job::Record { source, done: None }),
        }
    }

    /// Queues `record` and waits until it is written (and, with [`Durability::Fsync`], synced),
    /// whatever the mode; returns its sequence number.
    ///
    /// # Errors
    ///
    /// As [`AuditWriter::append`].
    pub fn append_wait(&self, record: &Value) -> Result<u64, AuditError> {
        self.wait_for(Source::Canonical(encode(
            record,
            self.log.max_record_bytes(),
        )?))
    }

    fn wait_for(&self, source: Source) -> Result<u64, AuditError> {
        let done = Completion::new();
        self.submit(Job::Record {
            source,
            done: Some(Arc::clone(&done)),
        })?;
        done.wait()
            .map_err(|reason| self.shared.not_written(reason))
    }

    /// Waits until every record queued before this call is written and synced.
    ///
    /// # Errors
    ///
    /// [`AuditError::Poisoned`] after a failed write or sync.
    pub fn flush(&self) -> Result<(), AuditError> {
        self.sync_job(false)
    }

    /// As [`AuditWriter::flush`], then writes a checkpoint for the current head (unless the log
    /// already ends with one).
    ///
    /// # Errors
    ///
    /// As [`AuditWriter::flush`].
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        self.sync_job(true)
    }

    fn sync_job(&self, checkpoint: bool) -> Result<(), AuditError> {
        let done = Completion::new();
        self.submit(Job::Sync {
            checkpoint,
            done: Arc::clone(&done),
        })?;
        done.wait()
            .map(|_| ())
            .map_err(|reason| self.shared.not_written(reason))
    }

    fn submit(&self, job: Job) -> Result<(), AuditError> {
        let shared = &*self.shared;
        let mut state = shared.lock();
        loop {
            if let Some(reason) = &state.failed {
                return Err(shared.poisoned(reason.clone()));
            }
            if state.shutdown {
                return Err(shared.poisoned("the writer is closing".to_owned()));
            }
            if state.queue.len() < shared.capacity {
                break;
            }
            shared.full_waits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("mandate_audit_queue_full_total").increment(1);
            state.space_waiters = state.space_waiters.saturating_add(1);
            state = shared
                .space
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.space_waiters = state.space_waiters.saturating_sub(1);
        }
        state.queue.push_back(job);
        let depth = u64::try_from(state.queue.len()).unwrap_or(u64::MAX);
        shared.max_depth.fetch_max(depth, Ordering::Relaxed);
        let wake = std::mem::replace(&mut state.writer_waiting, false);
        drop(state);
        if wake {
            shared.work.notify_one();
        }
        Ok(())
    }

    /// The log being written (length, head, public key). Its own `append` bypasses the queue;
    /// use the writer's.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// The durability mode.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Jobs waiting in the queue now.
    pub fn queue_depth(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Records accepted in buffered mode but not written (see [`WriterStats::lost`]).
    pub fn lost(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }

    /// The writer's counters.
    pub fn stats(&self) -> WriterStats {
        let shared = &*self.shared;
        WriterStats {
            queue_depth: self.queue_depth(),
            max_queue_depth: shared.max_depth.load(Ordering::Relaxed),
            full_waits: shared.full_waits.load(Ordering::Relaxed),
            batches: shared.batches.load(Ordering::Relaxed),
            entries: shared.entries.load(Ordering::Relaxed),
            syncs: shared.syncs.load(Ordering::Relaxed),
            last_sync_ns: shared.last_sync_ns.load(Ordering::Relaxed),
            lost: shared.lost.load(Ordering::Relaxed),
        }
    }

    /// Drains the queue, stops the writer thread, writes a final checkpoint and closes the file.
    ///
    /// # Errors
    ///
    /// A write or sync that failed while draining, or the final checkpoint's failure.
    pub fn close(mut self) -> Result<(), AuditError> {
        self.stop();
        if let Some(reason) = self.shared.lock().failed.clone() {
            return Err(self.shared.poisoned(reason));
        }
        self.log.checkpoint()
    }

    fn stop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        // Callers blocked on a full queue see `shutdown` and fail.
        self.shared.space.notify_all();
        if let Some(thread) = self.thread.take() {
            // The thread does not panic; if it did, the log is dropped (and checkpointed) below.
            let _joined = thread.join();
        }
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        // Drains the queue; the `AuditLog` writes its final checkpoint when dropped.
        self.stop();
    }
}

/// Canonical bytes of a record, checked against the depth and line limits.
fn encode(value: &Value, max_record: usize) -> Result<Vec<u8>, AuditError> {
    let mut canonical = Vec::with_capacity(512);
    write_canonical(&mut canonical, value).map_err(|_| AuditError::RecordTooDeep {
        max: MAX_RECORD_DEPTH,
    })?;
    if canonical.len() > max_record {
        return Err(AuditError::RecordTooLarge {
            len: canonical.len(),
            max: max_record,
        });
    }
    Ok(canonical)
}

/// The bytes of a queued record (built now if deferred).
fn prepare(source: Source, max_record: usize) -> Result<Vec<u8>, String> {
    match source {
        Source::Canonical(bytes) => Ok(bytes),
        Source::Deferred(make) => {
            // A panic in the caller's closure must not kill the writer thread (durable callers
            // would wait forever): it fails this record only.
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(make))
                .unwrap_or_else(|_| Err("the record builder panicked".to_owned()));
            let value =
                built.map_err(|reason| format!("cannot build the audit record: {reason}"))?;
            encode(&value, max_record).map_err(|error| error.to_string())
        }
        Source::DeferredCanonical(make) => {
            let bytes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(make))
                .unwrap_or_else(|_| Err("the record builder panicked".to_owned()))
                .map_err(|reason| format!("cannot build the audit record: {reason}"))?;
            if bytes.len() > max_record {
                return Err(AuditError::RecordTooLarge {
                    len: bytes.len(),
                    max: max_record,
                }
                .to_string());
            }
            Ok(bytes)
        }
    }
}

/// A record ready for the log, and who waits for it.
struct Prepared {
    body: Option<Vec<u8>>,
    done: Option<Arc<Completion>>,
}

/// The writer thread's loop: take every queued job, write, sync, report; until shut down and
/// drained.
fn run(shared: &Shared, log: &AuditLog, durability: Durability) {
    let mut jobs: Vec<Job> = Vec::new();
    loop {
        let waiters = {
            let mut state = shared.lock();
            while state.queue.is_empty() && !state.shutdown {
                state.writer_waiting = true;
                state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.writer_waiting = false;
            if state.queue.is_empty() {
                return;
            }
            metrics::gauge!("mandate_audit_queue_depth").set(state.queue.len() as f64);
            jobs.extend(state.queue.drain(..));
            state.space_waiters
        };
        if waiters > 0 {
            shared.space.notify_all();
        }
        shared.batches.fetch_add(1, Ordering::Relaxed);
        process(shared, log, durability, &mut jobs);
        if durability == Durability::Buffered && shared.lock().queue.is_empty() {
            // Idle: sync what the batches since the last sync wrote.
            let started = Instant::now();
            if let Err(error) = log.sync_pending() {
                fail(shared, &error);
            }
            note_sync(shared, started);
        }
    }
}

fn note_sync(shared: &Shared, started: Instant) {
    shared.syncs.fetch_add(1, Ordering::Relaxed);
    let elapsed = started.elapsed();
    metrics::histogram!("mandate_audit_sync_seconds").record(elapsed.as_secs_f64());
    let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    shared.last_sync_ns.store(ns, Ordering::Relaxed);
}

fn fail(shared: &Shared, error: &AuditError) {
    let mut state = shared.lock();
    if state.failed.is_none() {
        state.failed = Some(error.to_string());
    }
}

/// Writes one batch: runs of records are appended together, sync jobs in between are done in
/// order.
fn process(shared: &Shared, log: &AuditLog, durability: Durability, jobs: &mut Vec<Job>) {
    let mut run: Vec<Prepared> = Vec::new();
    for job in jobs.drain(..) {
        match job {
            Job::Record { source, done } => match prepare(source, log.max_record_bytes()) {
                Ok(bytes) => run.push(Prepared {
                    body: Some(bytes),
                    done,
                }),
                Err(error) => match done {
                    Some(done) => done.set(Err(error)),
                    None => {
                        // Nobody waits: keep the gap visible with a `dropped` marker.
                        shared.lost.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("mandate_audit_lost_records_total").increment(1);
                        run.push(Prepared {
                            body: None,
                            done: None,
                        });
                    }
                },
            },
            Job::Sync { checkpoint, done } => {
                write_run(shared, log, durability, &mut run);
                let started = Instant::now();
                let result = if checkpoint {
                    log.checkpoint()
                } else {
                    log.sync_pending()
                };
                note_sync(shared, started);
                if let Err(error) = &result {
                    fail(shared, error);
                }
                done.set(result.map(|()| 0).map_err(|error| error.to_string()));
            }
        }
    }
    write_run(shared, log, durability, &mut run);
}

fn write_run(shared: &Shared, log: &AuditLog, durability: Durability, run: &mut Vec<Prepared>) {
    if run.is_empty() {
        return;
    }
    let bodies: Vec<Body<'_>> = run
        .iter()
        .map(|prepared| match &prepared.body {
            Some(bytes) => Body::Record(bytes),
            None => Body::Dropped(1),
        })
        .collect();
    let sync = durability == Durability::Fsync;
    let started = Instant::now();
    let outcome = log.append_batch(&bodies, sync);
    if sync {
        note_sync(shared, started);
    }
    drop(bodies);
    let written = u64::try_from(outcome.written).unwrap_or(u64::MAX);
    shared.entries.fetch_add(written, Ordering::Relaxed);
    metrics::counter!("mandate_audit_records_total").increment(written);
    let reason = outcome.error.as_ref().map(ToString::to_string);
    if let Some(error) = &outcome.error {
        fail(shared, error);
    }
    let mut seq = outcome.first_seq;
    for (index, prepared) in run.drain(..).enumerate() {
        let result = if index < outcome.written {
            Ok(seq)
        } else {
            Err(reason.clone().unwrap_or_default())
        };
        seq = seq.saturating_add(1);
        match (prepared.done, &result) {
            (Some(done), _) => done.set(result),
            // A marker's record was already counted when it failed to encode.
            (None, Err(_)) if prepared.body.is_some() => {
                shared.lost.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("mandate_audit_lost_records_total").increment(1);
            }
            (None, _) => {}
        }
    }
}
