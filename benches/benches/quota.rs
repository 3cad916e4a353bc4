//! What quotas add to a decision: the same allowed request through the engine without a quota,
//! with one in-memory quota, with two, and (when `REDIS_URL` is set) with one quota in Redis.
//! Limits are high enough never to refuse, so every iteration charges. A same-run summary
//! prints the median per decision, the overhead over the quota-free engine (the median of
//! same-round differences), and the store alone.
#![expect(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    reason = "benchmark harness"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use mandate::quota::QuotaStore;
use mandate::{Engine, Request, Uid};
use std::sync::Arc;
use std::time::Instant;

const PERMIT: &str = "@id(\"open\") permit(principal, action == Action::\"call\", resource);\n";
const ONE: &str = "@id(\"calls\") quota(principal, action, resource) limit 1000000000000 per 1h;\n";
const TWO: &str = "@id(\"spend\") quota(principal, action, resource) limit 1000000000000 per 1d by principal cost 3;\n";

fn engine(policies: &str, store: Option<Arc<dyn mandate::quota::QuotaStore>>) -> Engine {
    let mut b = Engine::builder().policy_texts(vec![("b.mandate".into(), policies.into())]);
    if let Some(s) = store {
        b = b.quota_store(s);
    }
    b.build().expect("engine")
}

fn request() -> Request {
    Request::new(
        Uid::new("Agent", "a1"),
        Uid::new("Action", "call"),
        Uid::new("Tool", "t1"),
    )
}

/// Rounds of the same-run summary, and calls per case and round: many short rounds, so that
/// on a loaded machine a good share of them runs without being preempted.
const ROUNDS: usize = 1_001;
const PER_ROUND: u32 = 250;

/// Nanoseconds per call of each case in interleaved rounds (each round times every case once,
/// one after the other), so that a change in machine load affects every case alike:
/// `samples[case][round]`.
fn rounds_ns(cases: &[&dyn Fn()]) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for _ in 0..ROUNDS {
        for (case, out) in cases.iter().zip(&mut samples) {
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                case();
            }
            out.push(start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND));
        }
    }
    samples
}

/// The `q` quantile (0.5: the median) of `values`.
fn quantile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() - 1) as f64 * q).round() as usize;
    values.get(at).copied().unwrap_or(0.0)
}

fn bench(c: &mut Criterion) {
    let r = request();
    let mut cases: Vec<(&str, Engine)> = vec![
        ("no quota", engine(PERMIT, None)),
        ("1 quota, memory", engine(&format!("{PERMIT}{ONE}"), None)),
        (
            "2 quotas, memory",
            engine(&format!("{PERMIT}{ONE}{TWO}"), None),
        ),
    ];
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let store =
                mandate::quota::RedisStore::connect(&url, mandate::quota::RedisOptions::default())
                    .expect("redis");
            cases.push((
                "1 quota, redis",
                engine(&format!("{PERMIT}{ONE}"), Some(Arc::new(store))),
            ));
        }
        Err(_) => println!("SKIPPED: the Redis case (REDIS_URL not set)"),
    }
    // The in-memory store alone: one charge of a request, as the engine makes it.
    let store = mandate::quota::MemoryStore::new(Arc::new(mandate::quota::SystemClock));
    let charge = [mandate::quota::Charge {
        quota: "calls".into(),
        bucket: "Agent::\"a1\"".into(),
        limit: 1_000_000_000_000,
        window_ms: 3_600_000,
        cost: 1,
        settles: false,
    }];
    c.bench_function("quota/store alone, 1 charge", |b| {
        b.iter(|| std::hint::black_box(store.charge(&charge, None, false)))
    });
    let mut g = c.benchmark_group("quota");
    for (name, e) in &cases {
        g.bench_function(*name, |b| b.iter(|| std::hint::black_box(e.authorize(&r))));
    }
    g.finish();
    if std::env::args().any(|a| a == "--profile-time") {
        // Profiling one case (`--profile-time`, e.g. under `perf record`): no summary.
        return;
    }
    // The same-run summary: every engine and the store alone, interleaved. Each case is given
    // as the median and the 10th percentile of its rounds (the rounds least disturbed by other
    // processes), and the overhead over the quota-free engine as the difference of those.
    let mut timed: Vec<&dyn Fn()> = Vec::new();
    let deciders: Vec<Box<dyn Fn()>> = cases
        .iter()
        .map(|(_, e)| {
            let r = &r;
            Box::new(move || {
                std::hint::black_box(e.authorize(r));
            }) as Box<dyn Fn()>
        })
        .collect();
    timed.extend(deciders.iter().map(|d| &**d));
    let store_alone = || {
        std::hint::black_box(store.charge(std::hint::black_box(&charge), None, false)).ok();
    };
    timed.push(&store_alone);
    let samples = rounds_ns(&timed);
    let stats: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (quantile(s.clone(), 0.5), quantile(s.clone(), 0.1)))
        .collect();
    let (base_median, base_p10) = stats[0];
    println!(
        "\nper call, same run ({ROUNDS} interleaved rounds of {PER_ROUND} calls): median, 10th percentile"
    );
    for (i, name) in cases
        .iter()
        .map(|(name, _)| *name)
        .chain(["store alone, 1 charge"])
        .enumerate()
    {
        let (m, p10) = stats[i];
        if i == 0 || i == cases.len() {
            println!("  {name:<22} {m:>7.0} ns {p10:>7.0} ns");
        } else {
            println!(
                "  {name:<22} {m:>7.0} ns {p10:>7.0} ns   added over no quota: {:>5.0} ns {:>5.0} ns",
                m - base_median,
                p10 - base_p10
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
