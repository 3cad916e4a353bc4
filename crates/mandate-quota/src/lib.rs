//! Quota enforcement for Mandate: sliding-window counters that decide whether a request's
//! quota charges fit, independent of the policy language.
//!
//! The engine evaluates `quota` declarations (scope, conditions, the `by` bucket expression
//! and `cost`) and hands a [`QuotaStore`] a list of [`Charge`]s. The store admits the request
//! only if *every* charge has room, and then charges them all atomically: a refusal by one
//! charge leaves every other bucket unchanged. A cost above the limit is always refused (with
//! `retry_after_ms: None`); a cost of 0 is always admitted and still reported.
//!
//! Two stores implement the trait: [`MemoryStore`] (in process, optionally persistent with
//! [`MemoryStore::open`]) and [`RedisStore`] (shared by every node using the same Redis).
//!
//! # Semantics: `limit N per D`
//!
//! The units charged to one bucket within *any* window of length `D` ms never exceed `N`.
//! Windows are half-open in whole milliseconds: the window ending at `t` holds the charges made
//! at times `t - D + 1 ..= t`.
//!
//! # Algorithm and precision
//!
//! Each window is cut into granules of `g = ceil(D / 32)` ms ([`GRANULES`] = 32), granule `k`
//! holding times `k*g ..= k*g + g - 1`. A bucket keeps one counter per granule in a ring of at
//! most 33 counters (`(D - 1) / g + 2`, the most granules one window can touch). A charge at
//! time `t` is admitted when the sum of every granule that *intersects* the window ending at
//! `t`, plus the cost, is at most `N`, and is then added to the granule of `t`.
//!
//! Counting a granule that overlaps the window at all as if it were wholly inside is
//! conservative: for every window, all charges inside it were counted when the latest of them
//! was admitted, so the bound `N` per window is exact, never exceeded. The price is that the
//! effective window can be up to one granule (`D/32`, about 3 %) longer than `D`: a request may
//! be refused up to `g - 1` ms before a strict sliding window would admit it.
//!
//! `retry_after_ms` is exact for this scheme: granule `k` leaves the window at time
//! `(k + 1)*g + D - 1`, and the hint is the first such time at which enough units have left for
//! the cost to fit, assuming nothing else is charged meanwhile. Retrying at `now + hint`
//! succeeds, retrying one millisecond earlier does not (`tests/memory.rs` checks both). The hint
//! is at most `D + g` ms. [`BucketStatus::reset_ms`] is the absolute time at which the newest
//! non-empty granule leaves the window. [`ChargeResult::retry_after_ms`] combines the hints of
//! a request.
//!
//! # Time
//!
//! The memory store reads an injectable [`Clock`] ([`SystemClock`], or [`ManualClock`] in tests)
//! and evaluates at `max(now, largest time seen)`, per store and per bucket: a clock that steps
//! backwards never frees capacity. All time arithmetic saturates in the direction that never
//! grants capacity, so times near `u64::MAX` neither panic nor wrap. The Redis store uses the
//! Redis server's `TIME` as its only time source, also never going below the newest granule of
//! a bucket.
//!
//! # Reservations: reserve, then settle
//!
//! A charge made with a reservation id (the decision id) remembers, per charge, the bucket, the
//! granule charged and the amount. [`QuotaStore::settle`] sets each charge of the reservation to
//! the actual amount: a smaller amount is refunded from the granule where it was charged while
//! that granule is still in the window (afterwards there is nothing left to refund); a larger
//! amount is charged to that granule (or to the current one once it left the window), even
//! beyond the limit, because it was spent. [`QuotaStore::refund`] releases the whole amount.
//! A reservation can be settled or refunded once ([`StoreError::AlreadySettled`]) and only
//! within its time to live (default one hour): after that it is final at its reserved amount
//! and both return [`StoreError::ReservationExpired`]; after twice the TTL it is forgotten
//! ([`StoreError::UnknownReservation`]). Reusing an id still remembered is
//! [`StoreError::DuplicateReservation`]. Refused and dry-run requests make no reservation.
//! [`Settlement`] reports amounts summed over the reservation's charges.
//!
//! # The memory store
//!
//! Buckets live in 64 shards, each a `Mutex` over one hash table of `(quota, bucket) -> ring`
//! looked up by `&str` without allocating (one FxHash per charge picks both the shard and the
//! slot); a request locks the shards it needs in ascending order (deduplicated), so concurrent
//! multi-charge requests cannot deadlock and there is no global lock. A request of a single
//! charge (the common case) locks its one shard and finds its ring once for both the check and
//! the charge. Each ring keeps the exact total of its counters, so the units in the window are
//! known without summing the granules while the time is within a granule of the ring's newest
//! one. Reservations live in 64 separately locked shards. It is exact under concurrency
//! (8 threads x 100,000 attempts on one bucket admit exactly the limit, also when one- and
//! two-charge requests race on it).
//!
//! Memory per bucket: the ring (`8 * slots` bytes, at most 264), the two key strings, and
//! about 100 bytes of ring header and table overhead. A shard sweeps out buckets whose window has
//! fully passed when it grows past [`MemoryOptions::sweep_threshold`] buckets and then each
//! time it doubles; [`MemoryStore::sweep`] does it on demand. Expired reservations are swept
//! the same way after twice their TTL.
//!
//! A window length that changes for an existing bucket (a policy edit) re-lays its ring
//! conservatively: the units in the old window move to the current granule.
//!
//! # Persistence format
//!
//! [`MemoryStore::open`] takes an exclusive lock on `lock` in the state directory for the
//! store's lifetime (a second opener waits up to [`MemoryOptions::lock_wait_ms`], then gets
//! [`StoreError::Locked`]). The directory holds two files of JSON lines, each line framed as
//!
//! ```text
//! {"n":SEQ,"rec":{"op":"charge",...},"crc":"1a2b3c4d"}
//! ```
//!
//! where `crc` is the CRC32 (hex) of the line's bytes before `,"crc"`:
//!
//! - `journal.jsonl`: one record per admitted charge (`op: charge`, with its time, charges and
//!   reservation id), settle (`op: settle`) and refund (`op: refund`), appended, then
//!   `sync_data`ed *before* the call returns, so nothing acknowledged is lost in a crash. The
//!   write happens while the request's shard locks are held, so records of one bucket are in
//!   the order they were applied; in persistent mode the journal's lock serialises writers
//!   (throughput is bounded by the disk's sync latency).
//! - `snapshot.jsonl`: a header (`op: header`, format version, the last journal sequence
//!   number included, the store time), then one line per live bucket (window, head granule,
//!   non-zero granule counts) and per remembered reservation.
//!
//! Opening loads the snapshot, replays journal records whose sequence number is above the
//! snapshot's, and compacts: a new snapshot is written to a temporary file, synced, renamed
//! over the old one and the directory synced; then the journal is emptied. A crash at any point
//! of this is safe, since replay skips records the snapshot already holds. A final journal line
//! without a newline is a torn write from a crash: it is dropped and the file truncated. A
//! complete line with a bad checksum or that does not parse is [`StoreError::Corrupt`] with the
//! file and 1-based line number.
//!
//! # The Redis store
//!
//! [`RedisStore`] keeps each bucket in a hash `PREFIX b:LEN:QUOTA:BUCKET` (`LEN` is the byte
//! length of the quota id, so ids cannot collide) whose fields are granule indices and values
//! unit counts, and each reservation in a hash `PREFIX r:ID`. One Lua script
//! ([`CHARGE_SCRIPT`], run with `EVALSHA`, falling back to `EVAL`) reads `TIME`, sums the live
//! granules of every bucket, computes the hints, and only when all fit increments the current
//! granules and records the reservation: the check and charge of all buckets is one atomic
//! server-side step. Expired granule fields are deleted as they are met; bucket keys expire on
//! their own (`PEXPIRE` to the end of the newest granule's window, never shortened) and
//! reservations after twice their TTL. [`FINISH_SCRIPT`] settles and refunds atomically, so a
//! reservation made on one node can be settled from another. Lua numbers are doubles, so
//! limits, costs and windows are clamped to 2^53 - 1 (a smaller limit never admits more). The
//! scripts touch reservation-named bucket keys not passed in `KEYS`: standalone Redis (or a
//! single-shard deployment) is required, Redis Cluster is not supported.
//!
//! # Failure behaviour
//!
//! Redis is used through a small pool of synchronous connections ([`RedisOptions::pool_size`])
//! with connect, read and write timeouts of [`RedisOptions::timeout_ms`] (default 200 ms). An
//! unreachable server gives [`StoreError::Unavailable`], a stalled one [`StoreError::Timeout`],
//! each within a small multiple of the timeout (connect plus one round trip, two when the
//! script must be loaded); a connection that failed is dropped and the next call reconnects.
//! Nothing panics or waits without bound. What a refused store means for a decision (fail
//! closed or open) is the caller's choice. The memory store fails only on I/O errors of its
//! journal ([`StoreError::Io`]); a failed journal write leaves the state unchanged.

mod journal;
mod memory;
mod redis_store;
mod types;
mod window;

pub use memory::{MemoryOptions, MemoryStore};
pub use redis_store::{CHARGE_SCRIPT, FINISH_SCRIPT, RedisOptions, RedisStore};
pub use types::{
    BucketStatus, Charge, ChargeOutcome, ChargeResult, Clock, ManualClock, Settlement, StoreError,
    SystemClock,
};
pub use window::GRANULES;

/// A place where quota counters live: checks and charges requests atomically.
pub trait QuotaStore: Send + Sync + std::fmt::Debug {
    /// Checks all charges and, when every one has room and `dry_run` is false, charges them all
    /// atomically. With `reservation = Some(id)` the charged amounts are remembered for
    /// [`settle`](QuotaStore::settle) and [`refund`](QuotaStore::refund).
    fn charge(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
    ) -> Result<ChargeResult, StoreError>;

    /// [`charge`](QuotaStore::charge) with the caller's reading of the store's clock, `now_ms`:
    /// a caller that shares the store's clock (the engine, for the store it built itself) passes
    /// the time it already read and saves a clock read per decision. The store still never
    /// evaluates earlier than a time it has seen. Stores with their own time source (Redis)
    /// ignore the hint, as the default implementation does.
    fn charge_with_time(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
        now_ms: u64,
    ) -> Result<ChargeResult, StoreError> {
        let _ = now_ms;
        self.charge(charges, reservation, dry_run)
    }

    /// Settles a reservation to the `actual` units of each of its charges: charges the
    /// difference when `actual` exceeds the reserved amount (even beyond the limit: it was
    /// spent), refunds it otherwise.
    fn settle(&self, reservation: &str, actual: u64) -> Result<Settlement, StoreError>;

    /// Releases the whole reserved amount of every charge of a reservation.
    fn refund(&self, reservation: &str) -> Result<Settlement, StoreError>;

    /// The state of the given buckets (their `cost` is ignored).
    fn status(&self, buckets: &[Charge]) -> Result<Vec<BucketStatus>, StoreError>;

    /// The store's kind: `"memory"` or `"redis"`.
    fn name(&self) -> &'static str;
}
