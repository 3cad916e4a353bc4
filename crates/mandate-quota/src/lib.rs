//! Quota enforcement for Mandate (docs below are expanded at the end).

mod journal;
mod memory;
mod redis_store;
mod types;
mod window;

pub use memory::{MemoryOptions, MemoryStore};
pub use redis_store::{RedisOptions, RedisStore};
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
