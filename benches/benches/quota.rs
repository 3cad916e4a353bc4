//! What quotas add to a decision: the same allowed request through the engine without a quota,
//! with one in-memory quota, with two, and (when `REDIS_URL` is set) with one quota in Redis.
//! Limits are high enough never to refuse, so every iteration charges. A summary prints the
//! median per decision and the overhead over the quota-free engine.
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

/// Median nanoseconds per decision of each engine, measured in interleaved rounds so that a
/// change in machine load affects every case alike.
fn medians_ns(engines: &[&Engine], r: &Request) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(41); engines.len()];
    for _ in 0..41 {
        for (e, out) in engines.iter().zip(&mut samples) {
            let start = Instant::now();
            for _ in 0..2_000 {
                std::hint::black_box(e.authorize(r));
            }
            out.push(start.elapsed().as_nanos() as f64 / 2_000.0);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s.get(s.len() / 2).copied().unwrap_or(0.0)
        })
        .collect()
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
    let engines: Vec<&Engine> = cases.iter().map(|(_, e)| e).collect();
    let medians = medians_ns(&engines, &r);
    let base = medians[0];
    println!("\nmedian per decision (same run, interleaved):");
    for ((name, _), m) in cases.iter().zip(&medians) {
        println!(
            "  {name:<18} {m:>10.0} ns   (+{:.0} ns over no quota)",
            m - base
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
