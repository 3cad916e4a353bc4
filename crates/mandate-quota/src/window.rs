//! Sliding-window arithmetic over granules, shared by the memory store and (as Lua) the Redis
//! script. All arithmetic is saturating in the direction that never grants capacity.

/// Target number of granules per window. A window of `D` ms is cut into granules of
/// `ceil(D / GRANULES)` ms, so a bucket keeps at most `GRANULES + 1` counters.
pub const GRANULES: u64 = 32;

/// The granule layout of one window length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// The window length in ms (at least 1).
    pub(crate) window: u64,
    /// The granule length in ms (at least 1).
    pub(crate) granule: u64,
    /// How many granules can intersect one window: the ring size.
    pub(crate) slots: u64,
    /// `(window - 1) % granule`, for finding the oldest granule of a window without dividing.
    rem: u64,
}

impl Geometry {
    /// The layout of a window of `window_ms` ms (0 is treated as 1 ms).
    pub(crate) fn new(window_ms: u64) -> Self {
        let window = window_ms.max(1);
        let granule = window.div_ceil(GRANULES).max(1);
        let slots = (window - 1) / granule + 2;
        Self {
            window,
            granule,
            slots,
            rem: (window - 1) % granule,
        }
    }

    /// Whether this is the layout of a window of `window_ms` ms (cheaper than comparing with
    /// `Geometry::new(window_ms)`, which divides).
    pub(crate) fn is_for(&self, window_ms: u64) -> bool {
        self.window == window_ms.max(1)
    }

    /// The index of the granule holding time `t`.
    pub(crate) fn granule_of(&self, t: u64) -> u64 {
        t / self.granule
    }

    /// The oldest granule that intersects the window `(t - window, t]`.
    pub(crate) fn lowest_granule(&self, t: u64) -> u64 {
        t.saturating_sub(self.window - 1) / self.granule
    }

    /// The first time at which granule `k` no longer intersects the window. Saturates at
    /// `u64::MAX` (the end of time) rather than wrapping.
    pub(crate) fn expiry_of(&self, k: u64) -> u64 {
        k.saturating_add(1)
            .saturating_mul(self.granule)
            .saturating_add(self.window - 1)
    }

    /// The start time of granule `k` (saturating).
    pub(crate) fn start_of(&self, k: u64) -> u64 {
        k.saturating_mul(self.granule)
    }
}

/// The counters of one bucket: a ring of `slots` granule counters ending at granule `head`.
///
/// Every slot that holds no granule of `head - slots + 1 ..= head` is 0, so `total`, the sum of
/// all slots, is the sum of the granules the ring holds. Counts are written only through
/// [`Ring::set`] and [`Ring::advance`], which keep `total`.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    pub(crate) geometry: Geometry,
    /// The newest granule the ring holds; it holds `head - slots + 1 ..= head`.
    pub(crate) head: u64,
    /// `head % slots`, kept so the hot path finds slots without dividing.
    head_slot: u64,
    counts: Box<[u64]>,
    /// The exact sum of `counts` (at most 33 counts of `u64`, so it cannot overflow).
    total: u128,
}

/// What a check of one charge against a ring found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Check {
    pub(crate) used: u64,
    pub(crate) admitted: bool,
    pub(crate) retry_after_ms: Option<u64>,
}

impl Ring {
    /// An empty ring whose head is the granule of `t`.
    pub(crate) fn new(geometry: Geometry, t: u64) -> Self {
        let size = usize::try_from(geometry.slots).unwrap_or(usize::MAX);
        let head = geometry.granule_of(t);
        Self {
            geometry,
            head,
            head_slot: head % geometry.slots,
            counts: vec![0; size].into_boxed_slice(),
            total: 0,
        }
    }

    fn set_head(&mut self, k: u64) {
        self.head = k;
        self.head_slot = k % self.geometry.slots;
    }

    /// The slot of granule `k` (`k % slots`); without a division for the granules the ring
    /// holds.
    fn index(&self, k: u64) -> usize {
        let slots = self.geometry.slots;
        let slot = if k <= self.head && self.head - k < slots {
            let back = self.head - k;
            if self.head_slot >= back {
                self.head_slot - back
            } else {
                self.head_slot + slots - back
            }
        } else {
            k % slots
        };
        usize::try_from(slot).unwrap_or(0)
    }

    /// Whether `t` falls in the head granule; then the remainder of `t` in it.
    fn in_head(&self, t: u64) -> Option<u64> {
        let start = self.geometry.start_of(self.head);
        (t >= start && t - start < self.geometry.granule).then(|| t - start)
    }

    /// `geometry.granule_of(t)`, without a division when `t` is in the head granule.
    fn granule_at(&self, t: u64) -> u64 {
        match self.in_head(t) {
            Some(_) => self.head,
            None => self.geometry.granule_of(t),
        }
    }

    /// `geometry.lowest_granule(t)`, without a division when `t` is in the head granule:
    /// with `window - 1 = q*granule + rem` and `t = head*granule + r`, the oldest granule is
    /// `head - q`, or one less when `r < rem`.
    fn lowest(&self, t: u64) -> u64 {
        match self.in_head(t) {
            Some(r) if t >= self.geometry.window - 1 => {
                let q = self.geometry.slots - 2;
                self.head
                    .saturating_sub(q)
                    .saturating_sub(u64::from(r < self.geometry.rem))
            }
            _ => self.geometry.lowest_granule(t),
        }
    }

    /// The count of granule `k`, 0 when the ring does not hold it.
    fn count(&self, k: u64) -> u64 {
        if k > self.head || self.head - k >= self.geometry.slots {
            return 0;
        }
        self.counts.get(self.index(k)).copied().unwrap_or(0)
    }

    /// Sets the count of granule `k` to `f(count)`, keeping `total`; `false` (and nothing
    /// changed) when the ring does not hold `k`.
    fn set(&mut self, k: u64, f: impl FnOnce(u64) -> u64) -> bool {
        if k > self.head || self.head - k >= self.geometry.slots {
            return false;
        }
        let index = self.index(k);
        let Some(slot) = self.counts.get_mut(index) else {
            return false;
        };
        let new = f(*slot);
        self.total = self.total.saturating_sub(u128::from(*slot)) + u128::from(new);
        *slot = new;
        true
    }

    /// The time this ring is evaluated at: never before its newest granule, so a charge made
    /// by a thread whose clock reading is older cannot ignore counts in later granules.
    pub(crate) fn effective_time(&self, t: u64) -> u64 {
        t.max(self.geometry.start_of(self.head))
    }

    /// The range of granules of the window at `t` that the ring holds.
    fn live_range(&self, t: u64) -> std::ops::RangeInclusive<u64> {
        let oldest_held = self.head.saturating_sub(self.geometry.slots - 1);
        let low = self.lowest(t).max(oldest_held);
        low..=self.head
    }

    /// Units charged in the window ending at `t`.
    pub(crate) fn used(&self, t: u64) -> u64 {
        self.sum(self.live_range(self.effective_time(t)))
    }

    /// The units in `range` (a [`Ring::live_range`]), saturating.
    fn sum(&self, range: std::ops::RangeInclusive<u64>) -> u64 {
        let (low, high) = (*range.start(), *range.end());
        if low > high {
            return 0;
        }
        // While `t` is in or near the head granule (every charge of a busy bucket), the window
        // covers every granule the ring holds or all but the oldest: the kept total answers.
        // Clamping the exact sum equals the saturating sum of the walk below.
        let clamp = |sum: u128| u64::try_from(sum).unwrap_or(u64::MAX);
        let oldest = self.head.saturating_sub(self.geometry.slots - 1);
        if low == oldest {
            return clamp(self.total);
        }
        if low == oldest.saturating_add(1) {
            return clamp(self.total.saturating_sub(u128::from(self.count(oldest))));
        }
        // Walk the ring from the slot of `low` without a division per granule: this loop is
        // the hot path of every charge.
        let len = self.counts.len();
        let span = usize::try_from(high - low)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .min(len);
        let start = self.index(low);
        let (tail, head) = self.counts.split_at(start.min(len));
        let first = span.min(head.len());
        let rest = span - first;
        let sum_of = |slots: &[u64]| {
            slots
                .iter()
                .fold(0u64, |sum, &count| sum.saturating_add(count))
        };
        sum_of(head.get(..first).unwrap_or_default())
            .saturating_add(sum_of(tail.get(..rest).unwrap_or_default()))
    }

    /// Checks whether `cost` more units fit in `limit` at time `t`, given `pending` units
    /// already accepted for this bucket by earlier charges of the same request.
    pub(crate) fn check(&self, t: u64, limit: u64, cost: u64, pending: u64) -> Check {
        let range = self.live_range(self.effective_time(t));
        let used = self.sum(range.clone()).saturating_add(pending);
        let granules = range.map(|k| (k, self.count(k)));
        check_counts(used, limit, cost, t, self.geometry, granules)
    }

    /// Moves the head to the granule of `t`, clearing granules that left the ring.
    pub(crate) fn advance(&mut self, t: u64) {
        let target = self.granule_at(t);
        if target <= self.head {
            return;
        }
        let clear = (target - self.head).min(self.geometry.slots);
        for step in 1..=clear {
            let k = target - clear + step;
            let index = self.index(k);
            if let Some(slot) = self.counts.get_mut(index) {
                self.total = self.total.saturating_sub(u128::from(*slot));
                *slot = 0;
            }
        }
        self.set_head(target);
    }

    /// Adds `amount` at time `t` to the current granule; returns the granule charged.
    pub(crate) fn add(&mut self, t: u64, amount: u64) -> u64 {
        let t = self.effective_time(t);
        self.advance(t);
        let k = self.head;
        self.set(k, |count| count.saturating_add(amount));
        k
    }

    /// Adjusts granule `k` (where a reservation was charged) by `delta` at time `t`: a positive
    /// delta goes to `k` while it is in the window, otherwise to the current granule (it was
    /// spent); a negative delta is refunded from `k` only while `k` is in the window.
    pub(crate) fn adjust(&mut self, t: u64, k: u64, increase: u64, decrease: u64) {
        let t = self.effective_time(t);
        self.advance(t);
        let in_window = k >= self.lowest(t);
        if increase > 0 && !(in_window && self.set(k, |count| count.saturating_add(increase))) {
            let head = self.head;
            self.set(head, |count| count.saturating_add(increase));
        }
        if decrease > 0 && in_window {
            self.set(k, |count| count.saturating_sub(decrease));
        }
    }

    /// When the usage at `t` drops to zero with no new charges; `None` when it is zero.
    pub(crate) fn reset_at(&self, t: u64) -> Option<u64> {
        let t = self.effective_time(t);
        self.live_range(t)
            .rev()
            .find(|&k| self.count(k) > 0)
            .map(|k| self.geometry.expiry_of(k))
    }

    /// Whether no granule of the window at `t` holds any unit (the bucket can be evicted).
    pub(crate) fn is_idle(&self, t: u64) -> bool {
        self.used(t) == 0
    }

    /// Rebuilds the ring for a new window length, conservatively: the units in the old window
    /// move to the current granule of the new layout.
    pub(crate) fn relayout(&mut self, geometry: Geometry, t: u64) {
        let used = self.used(t);
        let t = self.effective_time(t);
        *self = Ring::new(geometry, t);
        self.add(t, used);
    }

    /// The granule counts as `(granule, count)` pairs, oldest first (for snapshots).
    pub(crate) fn granules(&self) -> Vec<(u64, u64)> {
        let oldest = self.head.saturating_sub(self.geometry.slots - 1);
        (oldest..=self.head)
            .map(|k| (k, self.count(k)))
            .filter(|&(_, c)| c > 0)
            .collect()
    }

    /// Rebuilds a ring from snapshot granules.
    pub(crate) fn from_granules(geometry: Geometry, head: u64, granules: &[(u64, u64)]) -> Self {
        let mut ring = Ring::new(geometry, geometry.start_of(head));
        ring.set_head(head);
        for &(k, c) in granules {
            ring.set(k, |count| count.saturating_add(c));
        }
        ring
    }
}

/// The admission rule and retry computation over live `(granule, count)` pairs, oldest first.
pub(crate) fn check_counts(
    used: u64,
    limit: u64,
    cost: u64,
    t: u64,
    geometry: Geometry,
    granules: impl Iterator<Item = (u64, u64)>,
) -> Check {
    if cost == 0 {
        return Check {
            used,
            admitted: true,
            retry_after_ms: Some(0),
        };
    }
    if cost > limit {
        return Check {
            used,
            admitted: false,
            retry_after_ms: None,
        };
    }
    let budget = limit - cost;
    if used <= budget {
        return Check {
            used,
            admitted: true,
            retry_after_ms: Some(0),
        };
    }
    let mut left = used;
    for (k, count) in granules {
        left = left.saturating_sub(count);
        if left <= budget {
            let at = geometry.expiry_of(k);
            return Check {
                used,
                admitted: false,
                retry_after_ms: Some(at.saturating_sub(t)),
            };
        }
    }
    // Only units of this very request remain (two charges of one request on one bucket whose
    // costs together exceed the limit): the request can never succeed.
    Check {
        used,
        admitted: false,
        retry_after_ms: None,
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use proptest::prop_oneof;
    use proptest::strategy::{Just, Strategy};

    #[test]
    fn geometry_bounds() {
        for window in [0, 1, 2, 31, 32, 33, 1000, 60_000, u64::MAX] {
            let geometry = Geometry::new(window);
            assert!(geometry.slots <= GRANULES + 1, "{window}");
            assert!(geometry.granule >= 1);
        }
        let geometry = Geometry::new(u64::MAX);
        assert_eq!(geometry.expiry_of(u64::MAX), u64::MAX);
        let ring = Ring::new(geometry, u64::MAX);
        assert_eq!(ring.used(u64::MAX), 0);
    }

    /// The division-free paths agree with plain division for every time around the head.
    #[test]
    fn fast_paths_agree_with_division() {
        for window in [1, 2, 3, 31, 32, 33, 97, 1000, 60_000, 3_600_000] {
            let geometry = Geometry::new(window);
            for start in [0, 1, 5, window, window * 7 + 3, 1_700_000_000_000] {
                let mut ring = Ring::new(geometry, start);
                for step in 0..(3 * geometry.granule + 5).min(500) {
                    let t = start + step * geometry.granule.div_ceil(7).max(1);
                    ring.advance(t);
                    assert_eq!(ring.head, geometry.granule_of(t), "{window} {t}");
                    assert_eq!(ring.granule_at(t), geometry.granule_of(t), "{window} {t}");
                    assert_eq!(ring.lowest(t), geometry.lowest_granule(t), "{window} {t}");
                    let oldest = ring.head.saturating_sub(geometry.slots - 1);
                    for k in oldest..=ring.head + 2 {
                        assert_eq!(ring.index(k) as u64, k % geometry.slots, "{window} {t} {k}");
                    }
                }
            }
        }
    }

    /// The units in the window by the simplest definition: every held granule of the window.
    fn used_by_definition(ring: &Ring, t: u64) -> u64 {
        let t = ring.effective_time(t);
        let oldest = ring.head.saturating_sub(ring.geometry.slots - 1);
        let low = ring.geometry.lowest_granule(t).max(oldest);
        (low..=ring.head).fold(0u64, |sum, k| sum.saturating_add(ring.count(k)))
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(i64, u64),
        Adjust(u64, u64, u64, i64),
        Relayout(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let amount =
            prop_oneof![8 => 0u64..20, 1 => Just(u64::MAX), 1 => (u64::MAX - 5)..=u64::MAX];
        let dt = prop_oneof![6 => 0i64..40, 1 => -100i64..0, 1 => 0i64..3_000];
        prop_oneof![
            8 => (dt.clone(), amount.clone()).prop_map(|(dt, a)| Op::Add(dt, a)),
            2 => (0u64..40, amount.clone(), amount, dt).prop_map(|(back, i, d, dt)| Op::Adjust(back, i, d, dt)),
            1 => prop_oneof![Just(1u64), Just(7), Just(100), Just(1000), Just(999)].prop_map(Op::Relayout),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// The kept total always equals the sum of the counts, and `used` (which answers from
        /// the total near the head) equals the walk over the window's granules, at times in
        /// the head granule, around it, before it and long after it.
        #[test]
        fn kept_total_agrees_with_the_counts(
            window in prop_oneof![Just(1u64), Just(2), Just(7), Just(33), Just(100), Just(1000)],
            start in prop_oneof![Just(0u64), 0u64..5_000, Just(u64::MAX - 10_000)],
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            let mut ring = Ring::new(Geometry::new(window), start);
            let mut now = start;
            for op in ops {
                match op {
                    Op::Add(dt, amount) => {
                        now = now.saturating_add_signed(dt);
                        ring.add(now, amount);
                    }
                    Op::Adjust(back, increase, decrease, dt) => {
                        now = now.saturating_add_signed(dt);
                        ring.adjust(now, ring.head.saturating_sub(back), increase, decrease);
                    }
                    Op::Relayout(window) => ring.relayout(Geometry::new(window), now),
                }
                let sum: u128 = ring.counts.iter().map(|&c| u128::from(c)).sum();
                proptest::prop_assert_eq!(ring.total, sum);
                let g = ring.geometry.granule;
                let head_start = ring.geometry.start_of(ring.head);
                for t in [
                    now,
                    head_start,
                    head_start.saturating_add(g - 1),
                    head_start.saturating_add(g),
                    head_start.saturating_add(g.saturating_mul(2)),
                    head_start.saturating_add(ring.geometry.window),
                    head_start.saturating_add(ring.geometry.window.saturating_mul(3)),
                    head_start.saturating_sub(1),
                    now.saturating_sub(5_000),
                ] {
                    proptest::prop_assert_eq!(ring.used(t), used_by_definition(&ring, t), "t = {}", t);
                }
            }
        }
    }

    #[test]
    fn retry_is_exact() {
        let geometry = Geometry::new(1000);
        let mut ring = Ring::new(geometry, 0);
        ring.add(10, 5);
        let check = ring.check(500, 5, 1, 0);
        assert!(!check.admitted);
        let retry = check.retry_after_ms.unwrap();
        assert!(!ring.check(500 + retry - 1, 5, 1, 0).admitted);
        assert!(ring.check(500 + retry, 5, 1, 0).admitted);
    }
}
