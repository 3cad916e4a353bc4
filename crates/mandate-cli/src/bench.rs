//! `mandate bench`: load a workload, check every request gets a decision, then time decisions
//! repeatedly on each thread and print one JSON object with load times, latency percentiles,
//! throughput and peak memory.

use crate::output::{err, out, report};
use mandate::core::{Request, is_authorized};
use mandate::{ErrorMode, request_from_json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `mandate bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Policy files or directories.
    #[arg(long, required = true, num_args = 1..)]
    policies: Vec<PathBuf>,
    /// Entity file.
    #[arg(long)]
    entities: PathBuf,
    /// Schema file.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// A JSON array of requests in the `authorize` format.
    #[arg(long)]
    requests: PathBuf,
    /// How long to measure, per thread.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Threads deciding concurrently.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Peak resident set size of this process in KiB (Linux), or 0 when unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the benchmark.
pub fn run(args: &BenchArgs) -> u8 {
    let t0 = Instant::now();
    let schema = match &args.schema {
        Some(p) => match mandate::load::load_schema(p) {
            Ok(s) => Some(s),
            Err(d) => {
                report(&[d]);
                return 2;
            }
        },
        None => None,
    };
    let policies = match mandate::load::load_policies(&args.policies) {
        Ok(p) => p,
        Err(files) => {
            report(&files);
            return 2;
        }
    };
    let load_policies = t0.elapsed();
    let t1 = Instant::now();
    let _ = policies.index();
    let compile = t1.elapsed();
    let t2 = Instant::now();
    let entities = match mandate::load::load_entities(&args.entities, schema.as_ref()) {
        Ok(e) => e,
        Err(d) => {
            report(&[d]);
            return 2;
        }
    };
    let load_entities = t2.elapsed();
    let text = match mandate::load::read_text(&args.requests) {
        Ok(t) => t,
        Err(d) => {
            report(&[d]);
            return 2;
        }
    };
    let json = match mandate::parse_json_bounded(&text) {
        Ok(serde_json::Value::Array(items)) => items,
        _ => {
            err("error: --requests must be a JSON array of requests\n");
            return 2;
        }
    };
    let mut requests: Vec<Request> = Vec::with_capacity(json.len());
    for (i, r) in json.iter().enumerate() {
        match request_from_json(r, schema.as_ref()) {
            Ok(p) => requests.push(p.request),
            Err(e) => {
                err(&format!("error: request {i}: {e}\n"));
                return 2;
            }
        }
    }
    if requests.is_empty() {
        err("error: no requests\n");
        return 2;
    }
    let (mut allow, mut deny) = (0u64, 0u64);
    for r in &requests {
        match is_authorized(&policies, r, &entities, ErrorMode::DenyOnForbidError).decision {
            mandate::core::Decision::Allow => allow += 1,
            mandate::core::Decision::Deny => deny += 1,
        }
    }
    let budget = Duration::from_secs_f64(args.seconds.max(0.01));
    let threads = args.threads.max(1);
    let results: Vec<(Vec<u32>, u64, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut lat_ns: Vec<u32> = Vec::with_capacity(1 << 20);
                    let start = Instant::now();
                    let mut n = 0u64;
                    'outer: loop {
                        for r in &requests {
                            let t = Instant::now();
                            let resp = is_authorized(
                                &policies,
                                r,
                                &entities,
                                ErrorMode::DenyOnForbidError,
                            );
                            let dt = t.elapsed();
                            std::hint::black_box(&resp);
                            if lat_ns.len() < (1 << 24) {
                                lat_ns.push(u32::try_from(dt.as_nanos()).unwrap_or(u32::MAX));
                            }
                            n += 1;
                            if n.is_multiple_of(64) && start.elapsed() >= budget {
                                break 'outer;
                            }
                        }
                        if start.elapsed() >= budget {
                            break;
                        }
                    }
                    (lat_ns, n, start.elapsed())
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut all: Vec<u32> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        let idx = ((all.len() as f64 - 1.0) * p).round() as usize;
        f64::from(all.get(idx).copied().unwrap_or(0)) / 1e3
    };
    let total: u64 = results.iter().map(|r| r.1).sum();
    let wall = results.iter().map(|r| r.2).max().unwrap_or(budget);
    let obj = serde_json::json!({
        "policies": policies.policies().len(),
        "entities": entities.len(),
        "requests": requests.len(),
        "threads": threads,
        "load_ms": {"policies": ms(load_policies), "entities": ms(load_entities), "compile": ms(compile)},
        "p50_us": pct(0.5),
        "p99_us": pct(0.99),
        "decisions_per_sec": total as f64 / wall.as_secs_f64(),
        "peak_rss_kib": peak_rss_kib(),
        "allow": allow,
        "deny": deny,
    });
    out(&format!("{obj}\n"));
    0
}
