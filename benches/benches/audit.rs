//! What the audit trail costs a decision: the same allowed request through the engine without an
//! audit sink, with the file sink in `buffered` mode, and in `durable` mode (every decision waits
//! for its record's `sync_data`) with one caller and with 16 concurrent callers sharing syncs
//! (group commit). A same-run summary prints decisions per second for each and the cost of
//! buffered auditing against the engine without it. Logs go to a temporary directory (under
//! `MANDATE_BENCH_DIR` when set, e.g. a tmpfs to leave the disk out) that is removed afterwards.
#![expect(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::cast_precision_loss,
    reason = "benchmark harness"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use mandate::audit::FileSink;
use mandate::audit_log::{AuditOptions, Durability};
use mandate::{Engine, Request, Uid, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PERMIT: &str = "@id(\"open\") permit(principal, action == Action::\"call\", resource);\n";

fn engine(audit: Option<(&Path, Durability)>) -> Engine {
    let mut b = Engine::builder().policy_texts(vec![("b.mandate".into(), PERMIT.into())]);
    if let Some((path, durability)) = audit {
        let sink = FileSink::open(
            path,
            AuditOptions {
                durability,
                ..AuditOptions::default()
            },
        )
        .expect("audit log");
        b = b.audit(Arc::new(sink));
    }
    b.build().expect("engine")
}

fn request(agent: usize) -> Request {
    Request::new(
        Uid::new("Agent", format!("a{agent}")),
        Uid::new("Action", "call"),
        Uid::new("Tool", "t1"),
    )
    .with_context(Value::record([
        ("tokens".into(), Value::Long(120)),
        ("task".into(), Value::String("summarise the ticket".into())),
    ]))
}

struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let base =
            std::env::var_os("MANDATE_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = base.join(format!("mandate-audit-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        Dir(dir)
    }
    /// A fresh log path (any previous file of that name removed).
    fn log(&self, name: &str) -> PathBuf {
        let path = self.0.join(format!("{name}.jsonl"));
        let _ = std::fs::remove_file(&path);
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Decisions per second of `threads` callers deciding for about `run` (then waiting for the
/// audit sink to sync everything, which counts in the time).
fn throughput(e: &Engine, threads: usize, run: Duration) -> f64 {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                let r = request(t);
                let mut n = 0u64;
                while start.elapsed() < run {
                    for _ in 0..64 {
                        std::hint::black_box(e.authorize(&r));
                    }
                    n += 64;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().expect("caller")).sum();
    e.flush_audit().expect("flush");
    total as f64 / start.elapsed().as_secs_f64()
}

fn bench(c: &mut Criterion) {
    let dir = Dir::new();
    let r = request(0);
    {
        let mut g = c.benchmark_group("audit");
        let none = engine(None);
        g.bench_function("no audit", |b| {
            b.iter(|| std::hint::black_box(none.authorize(&r)))
        });
        let buffered = engine(Some((&dir.log("c-buffered"), Durability::Buffered)));
        g.bench_function("buffered", |b| {
            b.iter(|| std::hint::black_box(buffered.authorize(&r)))
        });
        drop(buffered);
        g.sample_size(10).measurement_time(Duration::from_secs(5));
        let durable = engine(Some((&dir.log("c-durable"), Durability::Fsync)));
        g.bench_function("durable, 1 caller", |b| {
            b.iter(|| std::hint::black_box(durable.authorize(&r)))
        });
        g.finish();
    }

    let run = Duration::from_secs(3);
    let cases: [(&str, Option<Durability>, usize); 6] = [
        ("no audit, 1 caller", None, 1),
        ("buffered, 1 caller", Some(Durability::Buffered), 1),
        ("durable, 1 caller", Some(Durability::Fsync), 1),
        ("no audit, 16 callers", None, 16),
        ("buffered, 16 callers", Some(Durability::Buffered), 16),
        ("durable, 16 callers", Some(Durability::Fsync), 16),
    ];
    let mut rates = Vec::new();
    for (name, durability, threads) in cases {
        let path = dir.log("summary");
        let e = engine(durability.map(|d| (path.as_path(), d)));
        let rate = throughput(&e, threads, run);
        drop(e);
        rates.push((name, rate));
    }
    println!(
        "\ndecisions per second (same run, {} s per case):",
        run.as_secs()
    );
    for (name, rate) in &rates {
        println!("  {name:<22} {rate:>12.0}");
    }
    let rate = |name: &str| {
        rates
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(f64::NAN, |(_, r)| *r)
    };
    println!(
        "  buffered costs {:.1}% of throughput with 1 caller, {:.1}% with 16 (target: under 20%)",
        100.0 * (1.0 - rate("buffered, 1 caller") / rate("no audit, 1 caller")),
        100.0 * (1.0 - rate("buffered, 16 callers") / rate("no audit, 16 callers")),
    );
    println!(
        "  durable with 16 callers: {:.0} decisions/s (target: at least 20,000)",
        rate("durable, 16 callers")
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
