//! The in-process store: sharded sliding-window counters, optionally persistent.

use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::journal::{self, ChargeRecord, Journal, Record, ReservedRecord};
use crate::window::{Check, Geometry, Ring, check_counts};
use crate::{
    BucketStatus, Charge, ChargeOutcome, ChargeResult, Clock, QuotaStore, Settlement, StoreError,
};

/// The number of bucket shards (and of reservation shards).
const SHARDS: usize = 64;

/// Options of a [`MemoryStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryOptions {
    /// How long a reservation can be settled or refunded, in ms (default one hour). After
    /// that it counts as final at its reserved amount; it is forgotten after twice this time.
    pub reservation_ttl_ms: u64,
    /// A shard is swept for idle buckets (whose window has fully passed) when it holds more
    /// than this many buckets, and again each time it doubles (default 1024; 64 shards).
    pub sweep_threshold: usize,
    /// How long [`MemoryStore::open`] waits for another process to release the state
    /// directory before failing with [`StoreError::Locked`], in ms (default 3000).
    pub lock_wait_ms: u64,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self {
            reservation_ttl_ms: 3_600_000,
            sweep_threshold: 1024,
            lock_wait_ms: 3000,
        }
    }
}

/// One bucket of a shard.
#[derive(Debug)]
struct Entry {
    quota: Box<str>,
    bucket: Box<str>,
    ring: Ring,
}

/// Where a bucket lives: its hash (computed once per charge) picks the shard and probes the
/// shard's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    hash: u64,
}

impl Key {
    fn of(quota: &str, bucket: &str) -> Self {
        let mut hasher = rustc_hash::FxHasher::default();
        quota.hash(&mut hasher);
        bucket.hash(&mut hasher);
        Self {
            hash: hasher.finish(),
        }
    }

    /// The shard: bits the table's probing does not use (hashbrown takes the low bits for the
    /// position and the top seven for the tag).
    fn shard(self) -> usize {
        usize::try_from((self.hash >> 32) % SHARDS as u64).unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Shard {
    buckets: HashTable<Entry>,
    sweep_at: usize,
}

impl Shard {
    fn get(&self, key: Key, quota: &str, bucket: &str) -> Option<&Ring> {
        self.buckets
            .find(key.hash, |e| &*e.quota == quota && &*e.bucket == bucket)
            .map(|e| &e.ring)
    }

    fn get_mut(&mut self, key: Key, quota: &str, bucket: &str) -> Option<&mut Ring> {
        self.buckets
            .find_mut(key.hash, |e| &*e.quota == quota && &*e.bucket == bucket)
            .map(|e| &mut e.ring)
    }

    fn insert(&mut self, key: Key, quota: &str, bucket: &str, ring: Ring) -> &mut Ring {
        let entry = Entry {
            quota: quota.into(),
            bucket: bucket.into(),
            ring,
        };
        let rehash = |e: &Entry| Key::of(&e.quota, &e.bucket).hash;
        &mut self
            .buckets
            .insert_unique(key.hash, entry, rehash)
            .into_mut()
            .ring
    }

    /// The ring of a bucket, created (or re-laid for a new window) as needed.
    fn ring(
        &mut self,
        key: Key,
        quota: &str,
        bucket: &str,
        geometry: Geometry,
        t: u64,
    ) -> &mut Ring {
        let rehash = |e: &Entry| Key::of(&e.quota, &e.bucket).hash;
        let same = |e: &Entry| &*e.quota == quota && &*e.bucket == bucket;
        match self.buckets.entry(key.hash, same, rehash) {
            hashbrown::hash_table::Entry::Occupied(entry) => {
                let ring = &mut entry.into_mut().ring;
                if ring.geometry != geometry {
                    ring.relayout(geometry, t);
                }
                ring
            }
            hashbrown::hash_table::Entry::Vacant(entry) => {
                let entry = entry.insert(Entry {
                    quota: quota.into(),
                    bucket: bucket.into(),
                    ring: Ring::new(geometry, t),
                });
                &mut entry.into_mut().ring
            }
        }
    }

    fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Evicts buckets whose window has fully passed when the shard grew past its threshold.
    fn maybe_sweep(&mut self, t: u64, threshold: usize) {
        if self.len() <= self.sweep_at.max(threshold) {
            return;
        }
        self.buckets.retain(|e| !e.ring.is_idle(t));
        self.sweep_at = self.len().saturating_mul(2).max(threshold);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReservationState {
    /// Inserted by a charge still in progress.
    Pending,
    Open,
    Settled,
}

#[derive(Clone, Debug)]
struct Reserved {
    quota: Box<str>,
    bucket: Box<str>,
    window_ms: u64,
    granule: u64,
    amount: u64,
}

#[derive(Clone, Debug)]
struct Reservation {
    created_ms: u64,
    state: ReservationState,
    entries: Vec<Reserved>,
}

#[derive(Debug, Default)]
struct ReservationShard {
    map: FxHashMap<String, Reservation>,
    sweep_at: usize,
}

impl ReservationShard {
    fn maybe_sweep(&mut self, t: u64, ttl: u64, threshold: usize) {
        if self.map.len() <= self.sweep_at.max(threshold) {
            return;
        }
        let forget_after = ttl.saturating_mul(2);
        self.map.retain(|_, reservation| {
            reservation.state == ReservationState::Pending
                || t < reservation.created_ms.saturating_add(forget_after)
        });
        self.sweep_at = self.map.len().saturating_mul(2).max(threshold);
    }
}

/// The in-process [`QuotaStore`]: exact, sharded, bounded in memory, and persistent when
/// opened on a state directory.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    options: MemoryOptions,
    last_ms: AtomicU64,
    shards: Box<[Mutex<Shard>]>,
    reservations: Box<[Mutex<ReservationShard>]>,
    journal: Option<Mutex<Journal>>,
    state_dir: Option<PathBuf>,
    /// Held (locked) for the store's lifetime when persistent.
    _lock: Option<File>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MemoryStore")
            .field("clock", &self.clock)
            .field("options", &self.options)
            .field("last_ms", &self.last_ms)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code path panics while holding a lock; if one ever did, the data is still consistent
    // at statement granularity, so recover it rather than propagate the panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn reservation_shard_of(id: &str) -> usize {
    let mut hasher = rustc_hash::FxHasher::default();
    id.hash(&mut hasher);
    usize::try_from(hasher.finish() % SHARDS as u64).unwrap_or(0)
}

/// The locked shards of one operation; up to four shards need no allocation.
enum Guards<'a> {
    One(usize, MutexGuard<'a, Shard>),
    Many(SmallVec<[(usize, MutexGuard<'a, Shard>); 4]>),
}

fn guard_for<'g>(guards: &'g mut Guards<'_>, index: usize) -> Option<&'g mut Shard> {
    match guards {
        Guards::One(shard, guard) => (*shard == index).then_some(&mut **guard),
        Guards::Many(guards) => guards
            .iter_mut()
            .find(|(shard, _)| *shard == index)
            .map(|(_, guard)| &mut **guard),
    }
}

impl MemoryStore {
    /// A non-persistent store with default options.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_options(clock, MemoryOptions::default())
    }

    /// A non-persistent store.
    pub fn with_options(clock: Arc<dyn Clock>, options: MemoryOptions) -> Self {
        Self {
            clock,
            options,
            last_ms: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            reservations: (0..SHARDS)
                .map(|_| Mutex::new(ReservationShard::default()))
                .collect(),
            journal: None,
            state_dir: None,
            _lock: None,
        }
    }

    /// A persistent store on `state_dir` (created if missing): takes the directory's lock,
    /// loads the snapshot, replays the journal, writes a fresh snapshot and empties the
    /// journal. Every later admitted charge, settle and refund is journaled and synced before
    /// the call returns.
    pub fn open(
        state_dir: &Path,
        clock: Arc<dyn Clock>,
        options: MemoryOptions,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|error| {
            StoreError::Io(format!("cannot create `{}`: {error}", state_dir.display()))
        })?;
        let lock_file = take_lock(state_dir, options.lock_wait_ms)?;
        let mut store = Self::with_options(clock, options);
        store.state_dir = Some(state_dir.to_path_buf());
        store._lock = Some(lock_file);
        let seq = store.replay(state_dir)?;
        store.write_snapshot(state_dir, seq)?;
        store.journal = Some(Mutex::new(Journal::restart(
            state_dir,
            seq.saturating_add(1),
        )?));
        Ok(store)
    }

    /// The number of buckets currently held in memory (live or not yet swept).
    pub fn bucket_count(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    /// Evicts every bucket whose window has fully passed, now.
    pub fn sweep(&self) {
        let t = self.now();
        for shard in &*self.shards {
            let mut shard = lock(shard);
            shard.sweep_at = 0;
            shard.maybe_sweep(t, 0);
            shard.sweep_at = self
                .options
                .sweep_threshold
                .max(shard.len().saturating_mul(2));
        }
    }

    /// The store's time: the clock, but never earlier than any time seen before.
    fn now(&self) -> u64 {
        self.now_from(self.clock.now_ms())
    }

    /// The store's time for a clock reading `now`: never earlier than any time seen before.
    fn now_from(&self, now: u64) -> u64 {
        // Most calls fall in a millisecond already seen: a load then suffices, and the
        // read-modify-write (a locked instruction) is paid once per millisecond.
        let last = self.last_ms.load(Ordering::SeqCst);
        if now <= last {
            return last;
        }
        self.last_ms.fetch_max(now, Ordering::SeqCst).max(now)
    }

    fn observe(&self, t: u64) {
        self.last_ms.fetch_max(t, Ordering::SeqCst);
    }

    /// Locks the shards of `indices` in ascending order (deduplicated), so that concurrent
    /// multi-charge requests cannot deadlock.
    fn lock_shards(&self, mut indices: impl ExactSizeIterator<Item = usize>) -> Guards<'_> {
        if indices.len() == 1
            && let Some(index) = indices.next()
            && let Some(shard) = self.shards.get(index)
        {
            return Guards::One(index, lock(shard));
        }
        let mut indices: SmallVec<[usize; 4]> = indices.collect();
        indices.sort_unstable();
        indices.dedup();
        Guards::Many(
            indices
                .into_iter()
                .filter_map(|index| self.shards.get(index).map(|shard| (index, lock(shard))))
                .collect(),
        )
    }

    fn journal(&self, record: &Record) -> Result<(), StoreError> {
        match &self.journal {
            Some(journal) => lock(journal).append(record),
            None => Ok(()),
        }
    }

    /// Journals an admitted request (persistent stores only); called with its shards locked,
    /// before the charges are applied.
    fn journal_charges(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        t: u64,
    ) -> Result<(), StoreError> {
        if self.journal.is_none() {
            return Ok(());
        }
        self.journal(&Record::Charge {
            t,
            c: charges
                .iter()
                .map(|charge| ChargeRecord {
                    q: charge.quota.clone(),
                    b: charge.bucket.clone(),
                    l: charge.limit,
                    w: charge.window_ms,
                    c: charge.cost,
                    s: charge.settles,
                })
                .collect(),
            r: reservation.map(str::to_owned),
        })
    }

    /// Checks and, when admitted (or `replay`), applies `charges` at time `t`.
    fn charge_at(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
        t: u64,
        replay: bool,
    ) -> Result<(ChargeResult, Vec<Reserved>), StoreError> {
        match charges {
            [charge] => self.charge_one(charge, reservation, dry_run, t, replay),
            _ => self.charge_many(charges, reservation, dry_run, t, replay),
        }
    }

    /// [`charge_at`](Self::charge_at) for a request of one charge, the common case: one shard
    /// locked, one table lookup for the check and the charge, no per-request key list.
    /// Equivalent to `charge_many` on a one-charge slice (a unit test compares the two).
    fn charge_one(
        &self,
        charge: &Charge,
        reservation: Option<&str>,
        dry_run: bool,
        t: u64,
        replay: bool,
    ) -> Result<(ChargeResult, Vec<Reserved>), StoreError> {
        let key = Key::of(&charge.quota, &charge.bucket);
        let Some(shard) = self.shards.get(key.shard()) else {
            return self.charge_many(
                std::slice::from_ref(charge),
                reservation,
                dry_run,
                t,
                replay,
            );
        };
        let mut shard = lock(shard);
        let apply = |admitted: bool| replay || (admitted && !dry_run);
        let (check, granule) = match shard.get_mut(key, &charge.quota, &charge.bucket) {
            Some(ring) if ring.geometry.is_for(charge.window_ms) => {
                let check = ring.check(t, charge.limit, charge.cost, 0);
                if apply(check.admitted) {
                    if !replay && self.journal.is_some() {
                        self.journal_charges(std::slice::from_ref(charge), reservation, t)?;
                    }
                    let granule = if charge.cost == 0 {
                        ring.geometry.granule_of(ring.effective_time(t))
                    } else {
                        ring.add(t, charge.cost)
                    };
                    (check, Some(granule))
                } else {
                    (check, None)
                }
            }
            existing => {
                // A new bucket, or one laid out for another window length (a policy edit).
                let geometry = Geometry::new(charge.window_ms);
                let check = match existing {
                    Some(ring) => {
                        let mut relaid = ring.clone();
                        relaid.relayout(geometry, t);
                        relaid.check(t, charge.limit, charge.cost, 0)
                    }
                    None => check_counts(
                        0,
                        charge.limit,
                        charge.cost,
                        t,
                        geometry,
                        std::iter::empty(),
                    ),
                };
                if apply(check.admitted) {
                    if !replay && self.journal.is_some() {
                        self.journal_charges(std::slice::from_ref(charge), reservation, t)?;
                    }
                    let granule = if charge.cost == 0 {
                        geometry.granule_of(t)
                    } else {
                        let granule = shard
                            .ring(key, &charge.quota, &charge.bucket, geometry, t)
                            .add(t, charge.cost);
                        shard.maybe_sweep(t, self.options.sweep_threshold);
                        granule
                    };
                    (check, Some(granule))
                } else {
                    (check, None)
                }
            }
        };
        drop(shard);
        let mut reserved = Vec::new();
        if let Some(granule) = granule
            && reservation.is_some()
            && charge.settles
        {
            reserved.push(Reserved {
                quota: charge.quota.as_str().into(),
                bucket: charge.bucket.as_str().into(),
                window_ms: charge.window_ms,
                granule,
                amount: charge.cost,
            });
        }
        let admitted = check.admitted;
        let mut outcome = outcome(charge, check);
        outcome.remaining = if admitted {
            charge
                .limit
                .saturating_sub(outcome.used.saturating_add(charge.cost))
        } else {
            charge.limit.saturating_sub(outcome.used)
        };
        Ok((
            ChargeResult {
                admitted,
                at_ms: t,
                outcomes: vec![outcome],
            },
            reserved,
        ))
    }

    /// [`charge_at`](Self::charge_at) for any number of charges: locks every shard involved
    /// (in ascending order), checks all, then applies all.
    fn charge_many(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
        t: u64,
        replay: bool,
    ) -> Result<(ChargeResult, Vec<Reserved>), StoreError> {
        let keys: SmallVec<[Key; 4]> = charges
            .iter()
            .map(|charge| Key::of(&charge.quota, &charge.bucket))
            .collect();
        let mut guards = self.lock_shards(keys.iter().map(|key| key.shard()));
        let mut outcomes = Vec::with_capacity(charges.len());
        let mut admitted = true;
        for (position, (charge, &key)) in charges.iter().zip(&keys).enumerate() {
            let pending: u64 = charges
                .iter()
                .take(position)
                .filter(|earlier| earlier.quota == charge.quota && earlier.bucket == charge.bucket)
                .fold(0u64, |sum, earlier| sum.saturating_add(earlier.cost));
            let ring = guard_for(&mut guards, key.shard())
                .and_then(|shard| shard.get(key, &charge.quota, &charge.bucket));
            let check = match ring {
                Some(ring) if ring.geometry.is_for(charge.window_ms) => {
                    ring.check(t, charge.limit, charge.cost, pending)
                }
                Some(ring) => {
                    let mut relaid = ring.clone();
                    relaid.relayout(Geometry::new(charge.window_ms), t);
                    relaid.check(t, charge.limit, charge.cost, pending)
                }
                None => check_counts(
                    pending,
                    charge.limit,
                    charge.cost,
                    t,
                    Geometry::new(charge.window_ms),
                    std::iter::empty(),
                ),
            };
            admitted &= check.admitted;
            outcomes.push(outcome(charge, check));
        }
        let mut reserved = Vec::new();
        if replay || (admitted && !dry_run) {
            if !replay && self.journal.is_some() {
                self.journal_charges(charges, reservation, t)?;
            }
            for (charge, &key) in charges.iter().zip(&keys) {
                let Some(shard) = guard_for(&mut guards, key.shard()) else {
                    continue;
                };
                let granule = if charge.cost == 0 {
                    match shard.get(key, &charge.quota, &charge.bucket) {
                        Some(ring) if ring.geometry.is_for(charge.window_ms) => {
                            ring.geometry.granule_of(ring.effective_time(t))
                        }
                        _ => Geometry::new(charge.window_ms).granule_of(t),
                    }
                } else {
                    let existing = shard
                        .get_mut(key, &charge.quota, &charge.bucket)
                        .filter(|ring| ring.geometry.is_for(charge.window_ms))
                        .map(|ring| ring.add(t, charge.cost));
                    match existing {
                        Some(granule) => granule,
                        None => {
                            let granule = shard
                                .ring(
                                    key,
                                    &charge.quota,
                                    &charge.bucket,
                                    Geometry::new(charge.window_ms),
                                    t,
                                )
                                .add(t, charge.cost);
                            shard.maybe_sweep(t, self.options.sweep_threshold);
                            granule
                        }
                    }
                };
                if reservation.is_some() && charge.settles {
                    reserved.push(Reserved {
                        quota: charge.quota.as_str().into(),
                        bucket: charge.bucket.as_str().into(),
                        window_ms: charge.window_ms,
                        granule,
                        amount: charge.cost,
                    });
                }
            }
        }
        for (outcome, charge) in outcomes.iter_mut().zip(charges) {
            outcome.remaining = if admitted {
                charge
                    .limit
                    .saturating_sub(outcome.used.saturating_add(charge.cost))
            } else {
                charge.limit.saturating_sub(outcome.used)
            };
        }
        Ok((
            ChargeResult {
                admitted,
                at_ms: t,
                outcomes,
            },
            reserved,
        ))
    }

    /// Checks and charges at store time `t` (see `QuotaStore::charge`).
    fn charge_now(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
        t: u64,
    ) -> Result<ChargeResult, StoreError> {
        let reserve = reservation.filter(|_| !dry_run);
        if let Some(id) = reserve {
            let Some(shard) = self.reservations.get(reservation_shard_of(id)) else {
                return Err(StoreError::UnknownReservation(id.to_owned()));
            };
            let mut shard = lock(shard);
            let forget_after = self.options.reservation_ttl_ms.saturating_mul(2);
            if let Some(existing) = shard.map.get(id)
                && (existing.state == ReservationState::Pending
                    || t < existing.created_ms.saturating_add(forget_after))
            {
                return Err(StoreError::DuplicateReservation(id.to_owned()));
            }
            shard.map.insert(
                id.to_owned(),
                Reservation {
                    created_ms: t,
                    state: ReservationState::Pending,
                    entries: Vec::new(),
                },
            );
        }
        let result = self.charge_at(charges, reserve, dry_run, t, false);
        if let Some(id) = reserve
            && let Some(shard) = self.reservations.get(reservation_shard_of(id))
        {
            let mut shard = lock(shard);
            match &result {
                Ok((outcome, reserved)) if outcome.admitted => {
                    shard.map.insert(
                        id.to_owned(),
                        Reservation {
                            created_ms: t,
                            state: ReservationState::Open,
                            entries: reserved.clone(),
                        },
                    );
                    shard.maybe_sweep(
                        t,
                        self.options.reservation_ttl_ms,
                        self.options.sweep_threshold,
                    );
                }
                _ => {
                    shard.map.remove(id);
                }
            }
        }
        result.map(|(result, _)| result)
    }

    /// Settles (`Some(actual)`) or refunds (`None`) a reservation at time `t`.
    fn finish(
        &self,
        id: &str,
        actual: Option<u64>,
        t: u64,
        replay: bool,
    ) -> Result<Settlement, StoreError> {
        let Some(reservations) = self.reservations.get(reservation_shard_of(id)) else {
            return Err(StoreError::UnknownReservation(id.to_owned()));
        };
        let mut reservations = lock(reservations);
        let Some(reservation) = reservations.map.get_mut(id) else {
            return Err(StoreError::UnknownReservation(id.to_owned()));
        };
        if !replay {
            match reservation.state {
                ReservationState::Pending => {
                    return Err(StoreError::UnknownReservation(id.to_owned()));
                }
                ReservationState::Settled => return Err(StoreError::AlreadySettled(id.to_owned())),
                ReservationState::Open => {}
            }
            if t >= reservation
                .created_ms
                .saturating_add(self.options.reservation_ttl_ms)
            {
                return Err(StoreError::ReservationExpired(id.to_owned()));
            }
        }
        let mut guards = self.lock_shards(
            reservation
                .entries
                .iter()
                .map(|entry| Key::of(&entry.quota, &entry.bucket).shard()),
        );
        if !replay && self.journal.is_some() {
            let record = match actual {
                Some(actual) => Record::Settle {
                    t,
                    r: id.to_owned(),
                    a: actual,
                },
                None => Record::Refund {
                    t,
                    r: id.to_owned(),
                },
            };
            self.journal(&record)?;
        }
        let target = actual.unwrap_or(0);
        let mut reserved_total = 0u64;
        let mut actual_total = 0u64;
        for entry in &reservation.entries {
            reserved_total = reserved_total.saturating_add(entry.amount);
            actual_total = actual_total.saturating_add(target);
            let increase = target.saturating_sub(entry.amount);
            let decrease = entry.amount.saturating_sub(target);
            let geometry = Geometry::new(entry.window_ms);
            let key = Key::of(&entry.quota, &entry.bucket);
            let Some(shard) = guard_for(&mut guards, key.shard()) else {
                continue;
            };
            match shard.get_mut(key, &entry.quota, &entry.bucket) {
                Some(ring) if ring.geometry == geometry => {
                    ring.adjust(t, entry.granule, increase, decrease);
                }
                _ if increase > 0 => {
                    shard
                        .ring(key, &entry.quota, &entry.bucket, geometry, t)
                        .add(t, increase);
                }
                _ => {}
            }
        }
        reservation.state = ReservationState::Settled;
        Ok(Settlement {
            reservation: id.to_owned(),
            reserved: reserved_total,
            actual: actual_total,
        })
    }

    /// Loads the snapshot and replays the journal; returns the last sequence number applied.
    fn replay(&self, dir: &Path) -> Result<u64, StoreError> {
        let mut seq = 0u64;
        let snapshot_path = dir.join(journal::SNAPSHOT_FILE);
        for (line, (_, record)) in journal::read_records(&snapshot_path, false)?
            .into_iter()
            .enumerate()
        {
            match record {
                Record::Header { v, seq: last, t } => {
                    if v != journal::FORMAT_VERSION {
                        return Err(StoreError::Corrupt {
                            path: snapshot_path.display().to_string(),
                            line: line + 1,
                            message: format!("unsupported snapshot version {v}"),
                        });
                    }
                    seq = last;
                    self.observe(t);
                }
                Record::Bucket { q, b, w, h, g } => {
                    let geometry = Geometry::new(w);
                    let key = Key::of(&q, &b);
                    if let Some(shard) = self.shards.get(key.shard()) {
                        let ring = Ring::from_granules(geometry, h, &g);
                        let mut shard = lock(shard);
                        match shard.get_mut(key, &q, &b) {
                            Some(existing) => *existing = ring,
                            None => {
                                shard.insert(key, &q, &b, ring);
                            }
                        }
                    }
                }
                Record::Reservation { r, t, s, e } => {
                    let entries = e
                        .into_iter()
                        .map(|entry| Reserved {
                            quota: entry.q.into(),
                            bucket: entry.b.into(),
                            window_ms: entry.w,
                            granule: entry.g,
                            amount: entry.a,
                        })
                        .collect();
                    let state = if s {
                        ReservationState::Settled
                    } else {
                        ReservationState::Open
                    };
                    if let Some(shard) = self.reservations.get(reservation_shard_of(&r)) {
                        lock(shard).map.insert(
                            r,
                            Reservation {
                                created_ms: t,
                                state,
                                entries,
                            },
                        );
                    }
                }
                Record::Charge { .. } | Record::Settle { .. } | Record::Refund { .. } => {
                    return Err(StoreError::Corrupt {
                        path: snapshot_path.display().to_string(),
                        line: line + 1,
                        message: "journal record in a snapshot".to_owned(),
                    });
                }
            }
        }
        let journal_path = dir.join(journal::JOURNAL_FILE);
        for (line, (n, record)) in journal::read_records(&journal_path, true)?
            .into_iter()
            .enumerate()
        {
            if n <= seq {
                continue;
            }
            seq = n;
            match record {
                Record::Charge { t, c, r } => {
                    self.observe(t);
                    let charges: Vec<Charge> = c
                        .into_iter()
                        .map(|charge| Charge {
                            quota: charge.q,
                            bucket: charge.b,
                            limit: charge.l,
                            window_ms: charge.w,
                            cost: charge.c,
                            settles: charge.s,
                        })
                        .collect();
                    let (_, reserved) = self.charge_at(&charges, r.as_deref(), false, t, true)?;
                    if let Some(id) = r {
                        self.insert_reservation(
                            id,
                            Reservation {
                                created_ms: t,
                                state: ReservationState::Open,
                                entries: reserved,
                            },
                            t,
                        );
                    }
                }
                Record::Settle { t, r, a } => {
                    self.observe(t);
                    let _ = self.finish(&r, Some(a), t, true);
                }
                Record::Refund { t, r } => {
                    self.observe(t);
                    let _ = self.finish(&r, None, t, true);
                }
                Record::Header { .. } | Record::Bucket { .. } | Record::Reservation { .. } => {
                    return Err(StoreError::Corrupt {
                        path: journal_path.display().to_string(),
                        line: line + 1,
                        message: "snapshot record in the journal".to_owned(),
                    });
                }
            }
        }
        Ok(seq)
    }

    fn insert_reservation(&self, id: String, reservation: Reservation, t: u64) {
        if let Some(shard) = self.reservations.get(reservation_shard_of(&id)) {
            let mut shard = lock(shard);
            shard.map.insert(id, reservation);
            shard.maybe_sweep(
                t,
                self.options.reservation_ttl_ms,
                self.options.sweep_threshold,
            );
        }
    }

    /// Writes the live state as the new snapshot (called at open, before any other use).
    fn write_snapshot(&self, dir: &Path, seq: u64) -> Result<(), StoreError> {
        let t = self.last_ms.load(Ordering::SeqCst);
        let mut lines = journal::frame(
            0,
            &Record::Header {
                v: journal::FORMAT_VERSION,
                seq,
                t,
            },
        )?;
        let mut n = 1u64;
        for shard in &*self.shards {
            let shard = lock(shard);
            for Entry {
                quota,
                bucket,
                ring,
            } in &shard.buckets
            {
                if ring.is_idle(t) {
                    continue;
                }
                let record = Record::Bucket {
                    q: quota.to_string(),
                    b: bucket.to_string(),
                    w: ring.geometry.window,
                    h: ring.head,
                    g: ring.granules(),
                };
                lines.extend(journal::frame(n, &record)?);
                n = n.saturating_add(1);
            }
        }
        let forget_after = self.options.reservation_ttl_ms.saturating_mul(2);
        for shard in &*self.reservations {
            let shard = lock(shard);
            for (id, reservation) in &shard.map {
                if reservation.state == ReservationState::Pending
                    || t >= reservation.created_ms.saturating_add(forget_after)
                {
                    continue;
                }
                let record = Record::Reservation {
                    r: id.clone(),
                    t: reservation.created_ms,
                    s: reservation.state == ReservationState::Settled,
                    e: reservation
                        .entries
                        .iter()
                        .map(|entry| ReservedRecord {
                            q: entry.quota.to_string(),
                            b: entry.bucket.to_string(),
                            w: entry.window_ms,
                            g: entry.granule,
                            a: entry.amount,
                        })
                        .collect(),
                };
                lines.extend(journal::frame(n, &record)?);
                n = n.saturating_add(1);
            }
        }
        journal::write_snapshot(dir, &lines)
    }
}

fn take_lock(dir: &Path, wait_ms: u64) -> Result<File, StoreError> {
    use fs4::fs_std::FileExt as _;
    let path = dir.join(journal::LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| StoreError::Io(format!("cannot open `{}`: {error}", path.display())))?;
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    loop {
        match file.try_lock_exclusive() {
            Ok(true) => return Ok(file),
            Ok(false) => {}
            Err(error) => {
                return Err(StoreError::Io(format!(
                    "cannot lock `{}`: {error}",
                    path.display()
                )));
            }
        }
        if Instant::now() >= deadline {
            return Err(StoreError::Locked(dir.display().to_string()));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn outcome(charge: &Charge, check: Check) -> ChargeOutcome {
    ChargeOutcome {
        quota: charge.quota.clone(),
        bucket: charge.bucket.clone(),
        limit: charge.limit,
        window_ms: charge.window_ms,
        cost: charge.cost,
        used: check.used,
        remaining: 0,
        admitted: check.admitted,
        retry_after_ms: check.retry_after_ms,
    }
}

impl QuotaStore for MemoryStore {
    fn charge(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
    ) -> Result<ChargeResult, StoreError> {
        self.charge_now(charges, reservation, dry_run, self.now())
    }

    fn charge_with_time(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
        now_ms: u64,
    ) -> Result<ChargeResult, StoreError> {
        self.charge_now(charges, reservation, dry_run, self.now_from(now_ms))
    }

    fn settle(&self, reservation: &str, actual: u64) -> Result<Settlement, StoreError> {
        let t = self.now();
        self.finish(reservation, Some(actual), t, false)
    }

    fn refund(&self, reservation: &str) -> Result<Settlement, StoreError> {
        let t = self.now();
        self.finish(reservation, None, t, false)
    }

    fn status(&self, buckets: &[Charge]) -> Result<Vec<BucketStatus>, StoreError> {
        let t = self.now();
        Ok(buckets
            .iter()
            .map(|charge| {
                let key = Key::of(&charge.quota, &charge.bucket);
                let shard = self.shards.get(key.shard()).map(lock);
                let (used, reset_ms) = shard
                    .as_ref()
                    .and_then(|shard| shard.get(key, &charge.quota, &charge.bucket))
                    .map_or((0, None), |ring| (ring.used(t), ring.reset_at(t)));
                BucketStatus {
                    quota: charge.quota.clone(),
                    bucket: charge.bucket.clone(),
                    limit: charge.limit,
                    window_ms: charge.window_ms,
                    used,
                    remaining: charge.limit.saturating_sub(used),
                    reset_ms,
                }
            })
            .collect())
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;
    use crate::ManualClock;
    use proptest::prelude::*;

    /// (quota, limit) pairs and window lengths the property test draws from; the same quota
    /// appears with two windows so that re-laying a ring is exercised.
    const QUOTAS: [(&str, u64); 3] = [("a", 10), ("b", 3), ("c", 40)];
    const WINDOWS: [u64; 3] = [7, 1000, 60_000];

    #[derive(Clone, Debug)]
    struct Op {
        dt: i64,
        quota: usize,
        bucket: usize,
        window: usize,
        cost: u64,
        dry_run: bool,
        reserve: bool,
        settles: bool,
    }

    fn op() -> impl Strategy<Value = Op> {
        (
            prop_oneof![4 => 0i64..300, 1 => -2_000i64..0, 1 => 0i64..90_000],
            0..QUOTAS.len(),
            0usize..2,
            prop_oneof![6 => Just(1usize), 1 => 0..WINDOWS.len()],
            prop_oneof![1 => Just(0u64), 6 => 1u64..6, 1 => 5u64..50],
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(dt, quota, bucket, window, cost, dry_run, reserve, settles)| Op {
                    dt,
                    quota,
                    bucket,
                    window,
                    cost,
                    dry_run,
                    reserve,
                    settles,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The one-charge path gives exactly what the general path gives on a one-charge
        /// request, result and reservation entries, and leaves the buckets in the same state.
        /// (The status probe reads at the store's newest time; the charges do not move it.)
        #[test]
        fn one_charge_path_equals_the_general_path(ops in prop::collection::vec(op(), 1..150)) {
            let clock = Arc::new(ManualClock::new(0));
            let options = MemoryOptions { sweep_threshold: 2, ..MemoryOptions::default() };
            let fast = MemoryStore::with_options(clock.clone(), options.clone());
            let general = MemoryStore::with_options(clock.clone(), options);
            let mut now = 500_000u64;
            for op in &ops {
                now = now.saturating_add_signed(op.dt);
                clock.set(now);
                let (quota, limit) = QUOTAS[op.quota];
                let charge = Charge {
                    quota: quota.into(),
                    bucket: ["x", "y"][op.bucket].into(),
                    limit,
                    window_ms: WINDOWS[op.window],
                    cost: op.cost,
                    settles: op.settles,
                };
                let reservation = op.reserve.then_some("r");
                // Times straight from the clock, which moves backwards at times: as when a
                // thread charges with an older reading than another's, the rings must never
                // go back (`Ring::effective_time`).
                let t = now;
                let one = fast.charge_one(&charge, reservation, op.dry_run, t, false).unwrap();
                let many = general
                    .charge_many(std::slice::from_ref(&charge), reservation, op.dry_run, t, false)
                    .unwrap();
                prop_assert_eq!(&one.0, &many.0);
                prop_assert_eq!(format!("{:?}", one.1), format!("{:?}", many.1));
                let probe: Vec<Charge> = QUOTAS
                    .iter()
                    .flat_map(|&(quota, limit)| {
                        ["x", "y"].into_iter().map(move |bucket| Charge {
                            quota: quota.into(),
                            bucket: bucket.into(),
                            limit,
                            window_ms: WINDOWS[1],
                            cost: 0,
                            settles: false,
                        })
                    })
                    .collect();
                prop_assert_eq!(fast.status(&probe).unwrap(), general.status(&probe).unwrap());
                prop_assert_eq!(fast.bucket_count(), general.bucket_count());
            }
        }
    }
}
