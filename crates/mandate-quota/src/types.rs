//! The data exchanged with a [`QuotaStore`](crate::QuotaStore), the clocks and the error type.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use smol_str::SmolStr;

/// A source of wall-clock time in milliseconds since the Unix epoch.
///
/// Stores never trust a clock to be monotonic: each store keeps the largest time it has seen
/// and evaluates windows at `max(now, largest)`, so a clock stepping backwards never frees
/// capacity.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock set by hand, for tests and simulations. It may be moved backwards.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        Self {
            now: AtomicU64::new(start_ms),
        }
    }

    /// Sets the time to `ms` (which may be earlier than the current time).
    pub fn set(&self, ms: u64) {
        self.now.store(ms, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms`, saturating at `u64::MAX`.
    pub fn advance(&self, ms: u64) {
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(ms))
            });
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// One quota charge: `cost` units into bucket `bucket` of quota `quota`, whose limit is
/// `limit` units per sliding window of `window_ms` milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    /// The quota's id (the `@id` of the `quota` declaration).
    pub quota: SmolStr,
    /// The bucket within the quota (the value of its `by` expression, rendered as a string).
    pub bucket: SmolStr,
    /// The maximum units per window.
    pub limit: u64,
    /// The window length in milliseconds (0 is treated as 1).
    pub window_ms: u64,
    /// The units this request costs (ignored by [`QuotaStore::status`](crate::QuotaStore::status)).
    pub cost: u64,
    /// Whether a reservation made with this charge covers it, so that `settle` sets it to the
    /// actual amount and `refund` releases it. The facade sets it for quotas with a `cost`
    /// expression; call counts (no `cost`) keep their charge when a reservation is settled.
    pub settles: bool,
}

/// What the store found for one charge of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChargeOutcome {
    /// The quota's id.
    pub quota: SmolStr,
    /// The bucket.
    pub bucket: SmolStr,
    /// The limit checked.
    pub limit: u64,
    /// The window length checked, in milliseconds.
    pub window_ms: u64,
    /// The units asked for.
    pub cost: u64,
    /// Units in the window before this charge (including earlier charges of the same request
    /// on the same bucket).
    pub used: u64,
    /// Units left after the charge when the whole request was admitted (or would be, for a dry
    /// run), else units left before it.
    pub remaining: u64,
    /// Whether this charge alone had room.
    pub admitted: bool,
    /// In how many milliseconds this charge alone would next have room, assuming nothing else
    /// is charged meanwhile: `Some(0)` when it has room now, `None` when never (cost > limit).
    pub retry_after_ms: Option<u64>,
}

/// The result of [`QuotaStore::charge`](crate::QuotaStore::charge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChargeResult {
    /// Whether every charge had room (and, unless a dry run, all were charged).
    pub admitted: bool,
    /// The store time the request was evaluated at, in ms since the epoch.
    pub at_ms: u64,
    /// One outcome per charge, in request order.
    pub outcomes: Vec<ChargeOutcome>,
}

impl ChargeResult {
    /// In how many milliseconds the whole request could next succeed: the largest
    /// `retry_after_ms` of its charges, `None` if one of them never can.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.outcomes.iter().try_fold(0u64, |max, outcome| {
            outcome.retry_after_ms.map(|retry| max.max(retry))
        })
    }
}

/// The state of one bucket, from [`QuotaStore::status`](crate::QuotaStore::status).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BucketStatus {
    /// The quota's id.
    pub quota: SmolStr,
    /// The bucket.
    pub bucket: SmolStr,
    /// The limit, as given.
    pub limit: u64,
    /// The window length, as given, in milliseconds.
    pub window_ms: u64,
    /// Units in the current window.
    pub used: u64,
    /// `limit - used`, or 0.
    pub remaining: u64,
    /// The absolute time (ms since the epoch) when `used` drops to 0 if nothing more is
    /// charged; `None` when nothing is used.
    pub reset_ms: Option<u64>,
}

/// The result of [`QuotaStore::settle`](crate::QuotaStore::settle) or
/// [`QuotaStore::refund`](crate::QuotaStore::refund).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settlement {
    /// The reservation id.
    pub reservation: String,
    /// Units reserved, summed over the reservation's charges.
    pub reserved: u64,
    /// Units finally charged, summed over the reservation's charges (`actual` times the number
    /// of charges for a settle, 0 for a refund).
    pub actual: u64,
}

/// Why a quota store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing service cannot be reached.
    #[error("quota store unavailable: {0}")]
    Unavailable(String),
    /// The backing service did not answer in time.
    #[error("quota store timed out: {0}")]
    Timeout(String),
    /// The backing service answered something unexpected.
    #[error("quota store protocol error: {0}")]
    Protocol(String),
    /// Reading or writing the state directory failed.
    #[error("quota state i/o error: {0}")]
    Io(String),
    /// A state file holds a complete line that fails its checksum or does not parse.
    #[error("corrupt quota state in `{path}` line {line}: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// No reservation has this id (never made, refused, or forgotten long after expiry).
    #[error("unknown reservation `{0}`")]
    UnknownReservation(String),
    /// The reservation outlived its time to live: it counts as final at its reserved amount.
    #[error("reservation `{0}` expired and was kept at its reserved amount")]
    ReservationExpired(String),
    /// The reservation was already settled or refunded.
    #[error("reservation `{0}` is already settled")]
    AlreadySettled(String),
    /// A reservation with this id is still open, so it cannot be made again.
    #[error("reservation `{0}` already exists")]
    DuplicateReservation(String),
    /// Another process holds the state directory.
    #[error("quota state directory `{0}` is in use by another process")]
    Locked(String),
}
