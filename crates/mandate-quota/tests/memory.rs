//! The memory store's semantics: sliding-window bound, atomicity, retry hints, reservations,
//! clock anomalies, concurrency and eviction.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::cloned_ref_to_slice_refs,
    reason = "test code"
)]

use std::sync::Arc;

use mandate_quota::{Charge, ManualClock, MemoryOptions, MemoryStore, QuotaStore, StoreError};
use proptest::prelude::*;

fn charge(quota: &str, bucket: &str, limit: u64, window_ms: u64, cost: u64) -> Charge {
    Charge {
        quota: quota.into(),
        bucket: bucket.into(),
        limit,
        window_ms,
        cost,
        settles: true,
    }
}

fn store(start: u64) -> (Arc<ManualClock>, MemoryStore) {
    let clock = Arc::new(ManualClock::new(start));
    let store = MemoryStore::new(clock.clone());
    (clock, store)
}

/// The quotas of the property test: (id, limit, window).
const QUOTAS: [(&str, u64, u64); 3] = [("a", 10, 1000), ("b", 25, 60_000), ("c", 3, 7)];
const BUCKETS: [&str; 2] = ["x", "y"];

#[derive(Clone, Debug)]
struct Step {
    /// Time step in ms; negative steps move the clock backwards.
    dt: i64,
    charges: Vec<(usize, usize, u64)>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![4 => 0i64..200, 1 => -500i64..0, 1 => 0i64..70_000],
        prop::collection::vec((0..QUOTAS.len(), 0..BUCKETS.len(), 0u64..12), 1..=3),
    )
        .prop_map(|(dt, charges)| Step { dt, charges })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn windows_never_exceed_limits(steps in prop::collection::vec(step(), 1..120)) {
        let (clock, store) = store(1_000_000);
        let mut now: u64 = 1_000_000;
        // (time, quota, bucket, cost) of every admitted charge.
        let mut log: Vec<(u64, usize, usize, u64)> = Vec::new();
        for step in &steps {
            now = now.saturating_add_signed(step.dt);
            clock.set(now);
            let charges: Vec<Charge> = step
                .charges
                .iter()
                .map(|&(q, b, cost)| {
                    let (id, limit, window) = QUOTAS[q];
                    charge(id, BUCKETS[b], limit, window, cost)
                })
                .collect();
            let before = store.status(&charges).unwrap();
            let result = store.charge(&charges, None, false).unwrap();
            let after = store.status(&charges).unwrap();
            if result.admitted {
                for &(q, b, cost) in &step.charges {
                    log.push((result.at_ms, q, b, cost));
                }
            } else {
                // All or nothing: a refused request changes nothing.
                prop_assert_eq!(before, after);
            }
        }
        for (q, &(_, limit, window)) in QUOTAS.iter().enumerate() {
            for b in 0..BUCKETS.len() {
                let events: Vec<(u64, u64)> = log
                    .iter()
                    .filter(|e| e.1 == q && e.2 == b)
                    .map(|e| (e.0, e.3))
                    .collect();
                for &(end, _) in &events {
                    let start = end.saturating_sub(window - 1);
                    let sum: u64 = events
                        .iter()
                        .filter(|e| e.0 >= start && e.0 <= end)
                        .map(|e| e.1)
                        .sum();
                    prop_assert!(sum <= limit, "quota {} bucket {} window ending {} has {} > {}", q, b, end, sum, limit);
                }
            }
        }
    }

    #[test]
    fn retry_after_is_exact(
        costs in prop::collection::vec((0u64..5, 0u64..300), 1..40),
        cost in 1u64..=10,
    ) {
        let (clock, store) = store(5_000);
        let mut now = 5_000u64;
        for &(c, dt) in &costs {
            now += dt;
            clock.set(now);
            store.charge(&[charge("q", "b", 10, 1000, c)], None, false).unwrap();
        }
        let probe = [charge("q", "b", 10, 1000, cost)];
        let result = store.charge(&probe, None, true).unwrap();
        if !result.admitted {
            let retry = result.retry_after_ms().unwrap();
            prop_assert!(retry > 0);
            clock.set(now + retry - 1);
            prop_assert!(!store.charge(&probe, None, true).unwrap().admitted, "admitted before the hint");
            clock.set(now + retry);
            prop_assert!(store.charge(&probe, None, false).unwrap().admitted, "refused at the hint");
        }
    }
}

#[test]
fn all_or_nothing_and_reports() {
    let (_clock, store) = store(0);
    let first = charge("q1", "alice", 5, 1000, 3);
    let second = charge("q2", "alice", 2, 1000, 3);
    let result = store
        .charge(&[first.clone(), second.clone()], None, false)
        .unwrap();
    assert!(!result.admitted);
    assert!(result.outcomes[0].admitted);
    assert!(!result.outcomes[1].admitted);
    assert_eq!(
        result.outcomes[1].retry_after_ms, None,
        "cost > limit never succeeds"
    );
    assert_eq!(result.retry_after_ms(), None);
    let status = store.status(&[first.clone()]).unwrap();
    assert_eq!(
        status[0].used, 0,
        "the refusal by the second charge left the first unchanged"
    );
    // Cost 0 is always admitted, even with limit 0.
    let free = store
        .charge(&[charge("q3", "alice", 0, 1000, 0)], None, false)
        .unwrap();
    assert!(free.admitted);
    // Dry run reports without charging.
    let dry = store.charge(&[first.clone()], None, true).unwrap();
    assert!(dry.admitted);
    assert_eq!(dry.outcomes[0].remaining, 2);
    assert_eq!(store.status(&[first.clone()]).unwrap()[0].used, 0);
    let real = store.charge(&[first.clone()], None, false).unwrap();
    assert!(real.admitted);
    assert_eq!((real.outcomes[0].used, real.outcomes[0].remaining), (0, 2));
    let status = store.status(&[first]).unwrap();
    assert_eq!((status[0].used, status[0].remaining), (3, 2));
    assert_eq!(status[0].reset_ms, Some(1000 / 32 + 1000 - 1 + 1));
}

#[test]
fn two_charges_on_one_bucket_in_one_request_add_up() {
    let (_clock, store) = store(0);
    let one = charge("q", "b", 5, 1000, 3);
    let result = store
        .charge(&[one.clone(), one.clone()], None, false)
        .unwrap();
    assert!(!result.admitted);
    assert_eq!(result.outcomes[1].used, 3);
    assert_eq!(result.outcomes[1].retry_after_ms, None);
}

#[test]
fn clock_backwards_never_frees_capacity() {
    let (clock, store) = store(100_000);
    let quota = charge("q", "b", 5, 1000, 5);
    assert!(
        store
            .charge(&[quota.clone()], None, false)
            .unwrap()
            .admitted
    );
    clock.set(99_500);
    assert!(
        !store
            .charge(&[quota.clone()], None, false)
            .unwrap()
            .admitted
    );
    clock.set(0);
    let result = store.charge(&[quota.clone()], None, false).unwrap();
    assert!(!result.admitted);
    assert_eq!(
        result.at_ms, 100_000,
        "the store keeps the largest time seen"
    );
    clock.set(101_100);
    assert!(store.charge(&[quota], None, false).unwrap().admitted);
}

#[test]
fn extreme_times_do_not_panic_or_grant() {
    let (clock, store) = store(u64::MAX - 10);
    let quota = charge("q", "b", 3, u64::MAX, 2);
    assert!(
        store
            .charge(&[quota.clone()], None, false)
            .unwrap()
            .admitted
    );
    clock.set(u64::MAX);
    let result = store.charge(&[quota.clone()], None, false).unwrap();
    assert!(!result.admitted);
    assert!(result.retry_after_ms().is_some());
    let status = store.status(&[quota.clone()]).unwrap();
    assert_eq!(status[0].used, 2);
    assert_eq!(status[0].reset_ms, Some(u64::MAX));
    let short = charge("q2", "b", 1, 1, 1);
    assert!(
        store
            .charge(&[short.clone()], None, false)
            .unwrap()
            .admitted
    );
    assert!(
        !store
            .charge(&[short.clone()], None, false)
            .unwrap()
            .admitted
    );
    clock.advance(u64::MAX);
    let huge = charge("q3", "b", u64::MAX, 1000, u64::MAX);
    assert!(store.charge(&[huge.clone()], None, false).unwrap().admitted);
    assert!(
        !store
            .charge(&[charge("q3", "b", u64::MAX, 1000, 1)], None, false)
            .unwrap()
            .admitted
    );
    let zero_window = charge("q4", "b", 1, 0, 1);
    assert!(
        store
            .charge(&[zero_window.clone()], None, false)
            .unwrap()
            .admitted
    );
    assert!(!store.charge(&[zero_window], None, false).unwrap().admitted);
}

#[test]
fn reserve_settle_refund_and_expiry() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let options = MemoryOptions {
        reservation_ttl_ms: 10_000,
        ..MemoryOptions::default()
    };
    let store = MemoryStore::with_options(clock.clone(), options);
    let quota = charge("q", "b", 100, 60_000, 10);
    let other = charge("q2", "b", 100, 60_000, 10);
    let used = |c: &Charge| store.status(std::slice::from_ref(c)).unwrap()[0].used;

    assert!(
        store
            .charge(&[quota.clone(), other.clone()], Some("d1"), false)
            .unwrap()
            .admitted
    );
    assert_eq!(used(&quota), 10);
    // Settle down: refunds the difference in the granule where it was charged.
    clock.advance(1000);
    let settlement = store.settle("d1", 4).unwrap();
    assert_eq!((settlement.reserved, settlement.actual), (20, 8));
    assert_eq!((used(&quota), used(&other)), (4, 4));
    assert!(matches!(
        store.settle("d1", 4),
        Err(StoreError::AlreadySettled(_))
    ));
    assert!(matches!(
        store.refund("d1"),
        Err(StoreError::AlreadySettled(_))
    ));
    assert!(matches!(
        store.settle("nope", 1),
        Err(StoreError::UnknownReservation(_))
    ));

    // Settle up, even beyond the limit: it was spent.
    assert!(
        store
            .charge(&[quota.clone()], Some("d2"), false)
            .unwrap()
            .admitted
    );
    store.settle("d2", 200).unwrap();
    assert_eq!(used(&quota), 204);
    assert!(
        !store
            .charge(&[charge("q", "b", 100, 60_000, 1)], None, false)
            .unwrap()
            .admitted
    );

    // Refund releases everything; a refused or dry-run charge makes no reservation.
    assert!(
        store
            .charge(&[other.clone()], Some("d3"), false)
            .unwrap()
            .admitted
    );
    assert_eq!(used(&other), 14);
    store.refund("d3").unwrap();
    assert_eq!(used(&other), 4);
    assert!(
        !store
            .charge(&[quota.clone()], Some("d4"), false)
            .unwrap()
            .admitted
    );
    assert!(matches!(
        store.refund("d4"),
        Err(StoreError::UnknownReservation(_))
    ));
    assert!(
        store
            .charge(&[other.clone()], Some("d5"), true)
            .unwrap()
            .admitted
    );
    assert!(matches!(
        store.refund("d5"),
        Err(StoreError::UnknownReservation(_))
    ));

    // Duplicate ids are refused while the first is remembered.
    assert!(
        store
            .charge(&[other.clone()], Some("d6"), false)
            .unwrap()
            .admitted
    );
    assert!(matches!(
        store.charge(&[other.clone()], Some("d6"), false),
        Err(StoreError::DuplicateReservation(_))
    ));
    // Expiry: final at the reserved amount.
    clock.advance(10_000);
    assert!(matches!(
        store.refund("d6"),
        Err(StoreError::ReservationExpired(_))
    ));
    assert_eq!(used(&other), 14);

    // A refund after the window passed has nothing to give back; a settle up charges now.
    let options = MemoryOptions {
        reservation_ttl_ms: 600_000,
        ..MemoryOptions::default()
    };
    let store = MemoryStore::with_options(clock.clone(), options);
    assert!(
        store
            .charge(&[quota.clone()], Some("late"), false)
            .unwrap()
            .admitted
    );
    clock.advance(120_000);
    store.settle("late", 30).unwrap();
    assert_eq!(store.status(&[quota.clone()]).unwrap()[0].used, 20);
}

#[test]
fn threads_admit_exactly_the_limit() {
    const THREADS: usize = 8;
    // About 3 s in a debug build on two cores, 0.2 s in release.
    const ATTEMPTS: usize = 100_000;
    const LIMIT: u64 = 12_345;
    let (_clock, store) = store(42);
    let store = Arc::new(store);
    let started = std::time::Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let charges = [charge("q", "shared", LIMIT, 60_000, 1)];
                let mut admitted = 0u64;
                for _ in 0..ATTEMPTS {
                    if store.charge(&charges, None, false).unwrap().admitted {
                        admitted += 1;
                    }
                }
                admitted
            })
        })
        .collect();
    let total: u64 = handles
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .sum();
    assert_eq!(total, LIMIT);
    let elapsed = started.elapsed();
    let per_call = elapsed.as_nanos() / (THREADS * ATTEMPTS) as u128;
    println!(
        "{} attempts in {elapsed:?} ({per_call} ns per attempt)",
        THREADS * ATTEMPTS
    );
}

/// Requests of one charge (the store's single-charge path) and of two charges (the general
/// path, which locks two shards) race on one bucket: the bucket still admits exactly its limit,
/// and every admitted two-charge request also charged its second bucket.
#[test]
fn one_and_two_charge_requests_share_a_bucket_exactly() {
    const THREADS: usize = 8;
    const ATTEMPTS: usize = 50_000;
    const LIMIT: u64 = 23_456;
    let (_clock, store) = store(42);
    let store = Arc::new(store);
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = store.clone();
            std::thread::spawn(move || {
                let shared = charge("q", "shared", LIMIT, 60_000, 1);
                let own = charge("p", &format!("own-{thread}"), u64::MAX, 60_000, 1);
                let mut admitted = (0u64, 0u64);
                for attempt in 0..ATTEMPTS {
                    if (thread + attempt) % 2 == 0 {
                        if store
                            .charge(&[shared.clone()], None, false)
                            .unwrap()
                            .admitted
                        {
                            admitted.0 += 1;
                        }
                    } else if store
                        .charge(&[shared.clone(), own.clone()], None, false)
                        .unwrap()
                        .admitted
                    {
                        admitted.1 += 1;
                    }
                }
                (thread, admitted)
            })
        })
        .collect();
    let mut total = 0;
    for handle in handles {
        let (thread, (single, double)) = handle.join().unwrap();
        total += single + double;
        let own = charge("p", &format!("own-{thread}"), u64::MAX, 60_000, 0);
        assert_eq!(
            store.status(&[own]).unwrap()[0].used,
            double,
            "thread {thread}"
        );
    }
    assert_eq!(total, LIMIT);
    let shared = charge("q", "shared", LIMIT, 60_000, 0);
    assert_eq!(store.status(&[shared]).unwrap()[0].used, LIMIT);
}

#[test]
fn eviction_bounds_memory() {
    let clock = Arc::new(ManualClock::new(0));
    let store = MemoryStore::new(clock.clone());
    for i in 0..100_000u32 {
        let bucket = format!("agent-{i}");
        assert!(
            store
                .charge(&[charge("q", &bucket, 5, 1000, 1)], None, false)
                .unwrap()
                .admitted
        );
        if i % 1000 == 999 {
            clock.advance(50);
        }
    }
    // Sweeps ran as shards grew; buckets whose window passed were dropped along the way.
    let churned = store.bucket_count();
    assert!(churned < 100_000, "lazy sweeps bounded the map: {churned}");
    clock.advance(2000);
    store.sweep();
    assert_eq!(store.bucket_count(), 0);
    // A single charge after the window does not resurrect the old buckets.
    assert!(
        store
            .charge(&[charge("q", "agent-1", 5, 1000, 1)], None, false)
            .unwrap()
            .admitted
    );
    assert_eq!(store.bucket_count(), 1);
}

/// Prints the cost of one charge on an existing bucket (run with `--release --nocapture`).
#[test]
fn single_charge_cost() {
    let (_clock, store) = store(1_000);
    let charges = [charge("requests", "agent-42", u64::MAX, 60_000, 1)];
    store.charge(&charges, None, false).unwrap();
    let rounds = 200_000u32;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(
            store
                .charge(std::hint::black_box(&charges), None, false)
                .unwrap(),
        );
    }
    println!("one charge: {:?}", started.elapsed() / rounds);
}

/// A caller's time hint is used as the clock reading, and like the clock it never moves the
/// store's time backwards.
#[test]
fn a_time_hint_replaces_the_clock_read_but_never_goes_back() {
    let (_clock, store) = store(1_000_000);
    let c = [charge("q", "b", 2, 1000, 1)];
    let r = store.charge_with_time(&c, None, false, 2_000_000).unwrap();
    assert_eq!(r.at_ms, 2_000_000);
    let r = store.charge_with_time(&c, None, false, 5).unwrap();
    assert_eq!(r.at_ms, 2_000_000, "an older hint must not move time back");
    // The bucket saw both charges in one window: the third is refused.
    let r = store.charge_with_time(&c, None, false, 2_000_001).unwrap();
    assert!(!r.admitted);
    // The plain clock (1_000_000) is older too: the store stays at its newest time.
    assert_eq!(store.charge(&c, None, true).unwrap().at_ms, 2_000_001);
}
