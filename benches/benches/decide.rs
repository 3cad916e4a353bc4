//! Decision latency: Mandate against the `cedar-policy` crate on identical workloads, in the same
//! run. Generated agent-platform workloads (10 to 10,000 policies; 100,000 for Mandate alone,
//! where Cedar needs about 0.1 s per decision) and, when `../shared` is present, the reference
//! workloads of `shared/bench/agent-platform`. After the criterion groups, a summary prints the
//! median time per decision of both engines and their ratio.
#![expect(
    clippy::print_stdout,
    clippy::expect_used,
    reason = "benchmark harness"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use mandate_benches::{Workload, generate, load_dir};
use std::str::FromStr;
use std::time::Instant;

struct MandateSide {
    policies: mandate::PolicySet,
    entities: mandate::Entities,
    requests: Vec<mandate::core::Request>,
}

struct CedarSide {
    policies: cedar_policy::PolicySet,
    entities: cedar_policy::Entities,
    requests: Vec<cedar_policy::Request>,
}

fn mandate_side(w: &Workload) -> MandateSide {
    let schema = mandate::Schema::from_cedarschema(&w.schema).expect("schema");
    let policies =
        mandate::load::policies_from_str("bench.cedar", &w.policies, mandate::Dialect::Cedar)
            .expect("policies");
    let entities = mandate::Entities::from_json_str(&w.entities, Some(&schema)).expect("entities");
    let json: Vec<serde_json::Value> = serde_json::from_str(&w.requests).expect("requests");
    let requests = json
        .iter()
        .map(|r| {
            mandate::request_from_json(r, Some(&schema))
                .expect("request")
                .request
        })
        .collect();
    let _ = policies.index();
    MandateSide {
        policies,
        entities,
        requests,
    }
}

fn cedar_side(w: &Workload) -> CedarSide {
    let (schema, _) = cedar_policy::Schema::from_cedarschema_str(&w.schema).expect("schema");
    let policies = cedar_policy::PolicySet::from_str(&w.policies).expect("policies");
    let entities =
        cedar_policy::Entities::from_json_str(&w.entities, Some(&schema)).expect("entities");
    let json: Vec<serde_json::Value> = serde_json::from_str(&w.requests).expect("requests");
    let uid = |v: &serde_json::Value| {
        let ty = v["type"].as_str().expect("type");
        let id = v["id"].as_str().expect("id");
        cedar_policy::EntityUid::from_type_name_and_id(
            cedar_policy::EntityTypeName::from_str(ty).expect("type"),
            cedar_policy::EntityId::new(id),
        )
    };
    let requests = json
        .iter()
        .map(|r| {
            let action = uid(&r["action"]);
            let ctx = cedar_policy::Context::from_json_value(
                r["context"].clone(),
                Some((&schema, &action)),
            )
            .expect("context");
            cedar_policy::Request::new(
                uid(&r["principal"]),
                action,
                uid(&r["resource"]),
                ctx,
                Some(&schema),
            )
            .expect("request")
        })
        .collect();
    CedarSide {
        policies,
        entities,
        requests,
    }
}

fn median_ns(
    mut f: impl FnMut(usize),
    n_requests: usize,
    min_iters: usize,
    budget_ms: u128,
) -> f64 {
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut i = 0usize;
    while samples.len() < min_iters
        || (start.elapsed().as_millis() < budget_ms && samples.len() < 200_000)
    {
        let t = Instant::now();
        f(i % n_requests);
        samples.push(t.elapsed().as_nanos());
        i += 1;
        if samples.len() >= min_iters && start.elapsed().as_millis() >= budget_ms {
            break;
        }
    }
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or(0) as f64
}

fn workloads() -> Vec<(Workload, bool)> {
    let mut out = Vec::new();
    for n in [10, 100, 1_000, 10_000] {
        out.push((generate(n, 5_000, 1_000, 42), true));
    }
    if std::env::var("MANDATE_BENCH_HUGE").is_ok() {
        out.push((generate(100_000, 5_000, 1_000, 42), false));
    }
    if let Ok(mandate_test_support::Shared::Found(dir)) =
        mandate_test_support::shared_subdir("bench/agent-platform")
    {
        for n in ["n10", "n100", "n1000", "n10000"] {
            if let Ok(mut w) = load_dir(&dir.join(n)) {
                w.name = format!("shared-{n}");
                out.push((w, true));
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut summary = Vec::new();
    for (w, with_cedar) in workloads() {
        let m = mandate_side(&w);
        let mut group = c.benchmark_group(format!("decide/{}", w.name));
        group.sample_size(20);
        let mut i = 0usize;
        group.bench_function("mandate", |b| {
            b.iter(|| {
                i = (i + 1) % m.requests.len();
                let r = m.requests.get(i).expect("request");
                mandate::core::is_authorized(&m.policies, r, &m.entities, mandate::ErrorMode::Cedar)
            });
        });
        let mandate_ns = median_ns(
            |k| {
                let r = m.requests.get(k).expect("request");
                std::hint::black_box(mandate::core::is_authorized(
                    &m.policies,
                    r,
                    &m.entities,
                    mandate::ErrorMode::Cedar,
                ));
            },
            m.requests.len(),
            2_000,
            1_000,
        );
        let mut cedar_ns = f64::NAN;
        if with_cedar {
            let cs = cedar_side(&w);
            let authorizer = cedar_policy::Authorizer::new();
            let mut j = 0usize;
            group.bench_function("cedar", |b| {
                b.iter(|| {
                    j = (j + 1) % cs.requests.len();
                    authorizer.is_authorized(
                        cs.requests.get(j).expect("request"),
                        &cs.policies,
                        &cs.entities,
                    )
                });
            });
            cedar_ns = median_ns(
                |k| {
                    std::hint::black_box(authorizer.is_authorized(
                        cs.requests.get(k).expect("request"),
                        &cs.policies,
                        &cs.entities,
                    ));
                },
                cs.requests.len(),
                50,
                2_000,
            );
            // Same decisions, or the comparison means nothing.
            for (mr, cr) in m.requests.iter().zip(cs.requests.iter()).take(200) {
                let md = mandate::core::is_authorized(
                    &m.policies,
                    mr,
                    &m.entities,
                    mandate::ErrorMode::Cedar,
                )
                .decision
                    == mandate::core::Decision::Allow;
                let cd = authorizer
                    .is_authorized(cr, &cs.policies, &cs.entities)
                    .decision()
                    == cedar_policy::Decision::Allow;
                assert_eq!(md, cd, "Mandate and Cedar disagree on workload {}", w.name);
            }
        }
        group.finish();
        summary.push((w.name.clone(), mandate_ns, cedar_ns));
    }
    println!("\nmedian time per decision (one thread)");
    println!(
        "{:<20} {:>14} {:>14} {:>10}",
        "workload", "mandate", "cedar-policy", "ratio"
    );
    for (name, m, c) in summary {
        let ratio = if c.is_nan() {
            "-".to_string()
        } else {
            format!("{:.0}x", c / m.max(1.0))
        };
        let cedar = if c.is_nan() {
            "-".to_string()
        } else {
            format!("{:.2} us", c / 1e3)
        };
        println!("{name:<20} {:>11.3} us {cedar:>14} {ratio:>10}", m / 1e3);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
