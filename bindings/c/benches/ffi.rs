//! What the C ABI costs: the reference workloads of `shared/bench/agent-platform` (n10, n100,
//! n1000) decided through (a) the Rust API, `mandate::Engine::authorize`, and (b) the C fast
//! path `mandate_authorize` of `libmandate.so`, in the same run, with the ratio (b) / (a).
//!
//! A third path, (a) plus reading each request's JSON in the timed loop, is what `mandate
//! authorize --request-json` pays per request.
//!
//! (a) reads each request once, outside the timed loop, as `mandate authorize --request-json`
//! does (`Engine::request_from_json`), and times `Engine::authorize`. (b) builds the C strings
//! once, outside the timed loop, and times what a C caller pays per decision: `mandate_authorize`
//! (handle lookup, UTF-8 and uid parsing, context JSON typed by the schema, the request checked
//! against the schema, the decision, its strings copied out) and `mandate_decision_free`.
//! Before timing, every request is decided through both and the decisions must agree.
//!
//! The library is loaded with `dlopen` from the target directory (a bench target cannot link a
//! crate that is only a `cdylib`/`staticlib`), exactly as a C program would call it. Linux only.
//! `cargo bench` does not rebuild the `cdylib` for a bench, so build it first; the benchmark
//! refuses a library older than one of its sources:
//!
//! ```sh
//! cargo build -p mandate-c --release && cargo bench -p mandate-c --bench ffi
//! ```
//!
//! After the criterion groups, a summary measures the paths in alternating rounds (each round
//! decides every request once through each; the median round gives the time per decision, the
//! median of the rounds' own ratios gives the ratio), so that load from other processes affects
//! all paths alike. `MANDATE_C_BENCH_ROUNDS` sets the number of rounds (default 101).
//!
//! `shared/` is found at `$MANDATE_SHARED` or `../shared`; without it the benchmark says it
//! skips, except under `CI=true`, where that is a failure.
#![expect(
    unsafe_code,
    reason = "calls the C ABI of libmandate.so through dlopen/dlsym; every unsafe block has a SAFETY comment"
)]
#![expect(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `mandate_request` of `include/mandate.h`.
#[repr(C)]
struct CRequest {
    principal: *const c_char,
    action: *const c_char,
    resource: *const c_char,
    context_json: *const c_char,
    on_behalf_of: *const *const c_char,
    on_behalf_of_len: usize,
    flags: u32,
}

/// `mandate_decision` of `include/mandate.h` (the two enums are C `int`s).
#[repr(C)]
struct CDecision {
    decision: c_int,
    layer: c_int,
    reasons: *mut *mut c_char,
    reasons_len: usize,
    id: *mut c_char,
    policy_version: *mut c_char,
    denied_principal: *mut c_char,
    errors_json: *mut c_char,
}

impl CDecision {
    const EMPTY: CDecision = CDecision {
        decision: 0,
        layer: 0,
        reasons: std::ptr::null_mut(),
        reasons_len: 0,
        id: std::ptr::null_mut(),
        policy_version: std::ptr::null_mut(),
        denied_principal: std::ptr::null_mut(),
        errors_json: std::ptr::null_mut(),
    };
}

const MANDATE_OK: c_int = 0;
const MANDATE_DECISION_ALLOW: c_int = 1;

type NewFromDir = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_void,
    *mut *mut c_void,
    *mut *mut c_void,
) -> c_int;
type Authorize =
    unsafe extern "C" fn(*const c_void, *const CRequest, *mut CDecision, *mut *mut c_void) -> c_int;
type DecisionFree = unsafe extern "C" fn(*mut CDecision);
type EngineFree = unsafe extern "C" fn(*mut c_void);
type LastError = unsafe extern "C" fn() -> *const c_char;

unsafe extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *const c_char;
}
const RTLD_NOW: c_int = 2;

/// The entry points of `libmandate.so`.
struct Lib {
    new_from_dir: NewFromDir,
    authorize: Authorize,
    decision_free: DecisionFree,
    engine_free: EngineFree,
    last_error: LastError,
}

fn dl_error() -> String {
    // SAFETY: `dlerror` returns NULL or a NUL-terminated message valid until the next dl call.
    let p = unsafe { dlerror() };
    if p.is_null() {
        return "unknown dlopen error".into();
    }
    // SAFETY: not NULL, NUL-terminated (above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// `libmandate.so` next to the bench executable (`target/<profile>/deps/`) or one level up.
fn library_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MANDATE_C_LIBRARY") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("bench directory");
    [deps.join("libmandate.so"), deps.join("../libmandate.so")]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "libmandate.so not found beside {}: build it first (cargo build -p mandate-c --release) or set MANDATE_C_LIBRARY",
                deps.display()
            )
        })
}

/// Fails when `lib` is older than one of the sources it was built from (listed by cargo in
/// `libmandate.d` beside it): the numbers would describe other code.
fn check_fresh(lib: &Path) {
    let built = std::fs::metadata(lib)
        .and_then(|m| m.modified())
        .expect("library mtime");
    let dir = lib.parent().expect("library directory");
    let Some(deps) = [dir.join("libmandate.d"), dir.join("../libmandate.d")]
        .into_iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
    else {
        println!(
            "note: no libmandate.d beside {}: freshness not checked",
            lib.display()
        );
        return;
    };
    for line in deps.lines() {
        let Some((_, sources)) = line.split_once(": ") else {
            continue;
        };
        for source in sources.split_whitespace() {
            let changed = std::fs::metadata(source).and_then(|m| m.modified());
            if changed.is_ok_and(|t| t > built) {
                panic!(
                    "{} is older than {source}: run `cargo build -p mandate-c --release` first",
                    lib.display()
                );
            }
        }
    }
}

impl Lib {
    fn load() -> Lib {
        let path = library_path();
        check_fresh(&path);
        let c_path = CString::new(path.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: a NUL-terminated path; loading runs the library's initialisers (none of ours).
        let handle = unsafe { dlopen(c_path.as_ptr(), RTLD_NOW) };
        assert!(
            !handle.is_null(),
            "dlopen {}: {}",
            path.display(),
            dl_error()
        );
        let sym = |name: &CStr| {
            // SAFETY: `handle` is a live library handle (never closed); `name` is NUL-terminated.
            let p = unsafe { dlsym(handle, name.as_ptr()) };
            assert!(!p.is_null(), "dlsym {name:?}: {}", dl_error());
            p
        };
        // SAFETY: each symbol is the function of that name in include/mandate.h, whose C
        // signature the function pointer types above mirror.
        unsafe {
            Lib {
                new_from_dir: std::mem::transmute::<*mut c_void, NewFromDir>(sym(
                    c"mandate_engine_new_from_dir",
                )),
                authorize: std::mem::transmute::<*mut c_void, Authorize>(sym(c"mandate_authorize")),
                decision_free: std::mem::transmute::<*mut c_void, DecisionFree>(sym(
                    c"mandate_decision_free",
                )),
                engine_free: std::mem::transmute::<*mut c_void, EngineFree>(sym(
                    c"mandate_engine_free",
                )),
                last_error: std::mem::transmute::<*mut c_void, LastError>(sym(
                    c"mandate_last_error_message",
                )),
            }
        }
    }

    fn last_error(&self) -> String {
        // SAFETY: returns NULL or a string valid until the next failing call on this thread.
        let p = unsafe { (self.last_error)() };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: not NULL, NUL-terminated.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// A request's C strings, built once; `req` points into them (their buffers never move).
struct CReq {
    _strings: [CString; 4],
    req: CRequest,
}

fn uid_text(v: &serde_json::Value) -> String {
    format!(
        "{}::{}",
        v["type"].as_str().expect("type"),
        serde_json::Value::String(v["id"].as_str().expect("id").to_string())
    )
}

struct Workload {
    name: String,
    rust: mandate::Engine,
    rust_requests: Vec<mandate::Request>,
    request_texts: Vec<String>,
    c_engine: *mut c_void,
    c_requests: Vec<CReq>,
}

fn load(lib: &Lib, name: &str, dir: &Path) -> Workload {
    let policies = dir.join("policies.cedar");
    let schema = dir.join("schema.cedarschema");
    let entities = dir.join("entities.json");
    let rust = mandate::Engine::builder()
        .policy_dir(&policies)
        .schema_path(&schema)
        .entities_path(&entities)
        .build()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = std::fs::read_to_string(dir.join("requests.json")).expect("requests.json");
    let json: Vec<serde_json::Value> = serde_json::from_str(&text).expect("requests");
    let request_texts: Vec<String> = json.iter().map(ToString::to_string).collect();
    let rust_requests = request_texts
        .iter()
        .map(|r| {
            rust.request_from_json(r)
                .unwrap_or_else(|d| panic!("{name}: {}", d.message))
        })
        .collect();
    let c_requests = json
        .iter()
        .map(|r| {
            let strings = [
                CString::new(uid_text(&r["principal"])).expect("uid"),
                CString::new(uid_text(&r["action"])).expect("uid"),
                CString::new(uid_text(&r["resource"])).expect("uid"),
                CString::new(r["context"].to_string()).expect("context"),
            ];
            let req = CRequest {
                principal: strings[0].as_ptr(),
                action: strings[1].as_ptr(),
                resource: strings[2].as_ptr(),
                context_json: strings[3].as_ptr(),
                on_behalf_of: std::ptr::null(),
                on_behalf_of_len: 0,
                flags: 0,
            };
            CReq {
                _strings: strings,
                req,
            }
        })
        .collect();
    let path = |p: &Path| CString::new(p.to_string_lossy().as_bytes()).expect("path");
    let (p, s, e) = (path(&policies), path(&schema), path(&entities));
    let mut c_engine = std::ptr::null_mut();
    // SAFETY: NUL-terminated paths, NULL options (defaults), valid out-pointer, NULL err.
    let status = unsafe {
        (lib.new_from_dir)(
            p.as_ptr(),
            s.as_ptr(),
            e.as_ptr(),
            std::ptr::null(),
            &mut c_engine,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, MANDATE_OK, "{name}: {}", lib.last_error());
    Workload {
        name: name.to_string(),
        rust,
        rust_requests,
        request_texts,
        c_engine,
        c_requests,
    }
}

/// One decision through the C fast path, as a C caller makes it: decide, read, free.
#[inline(always)]
fn c_decide(lib: &Lib, engine: *const c_void, r: &CReq) -> bool {
    let mut d = CDecision::EMPTY;
    // SAFETY: a live engine handle, a request whose strings live in `r`, a valid decision.
    let status = unsafe { (lib.authorize)(engine, &r.req, &mut d, std::ptr::null_mut()) };
    let allowed = status == MANDATE_OK && d.decision == MANDATE_DECISION_ALLOW;
    // SAFETY: `d` was filled (or reset) by `mandate_authorize`; freed once.
    unsafe { (lib.decision_free)(&mut d) };
    allowed
}

/// Every request through both paths: same effect and same reasons, or the timing means nothing.
fn check_same_decisions(lib: &Lib, w: &Workload) {
    for (i, (rr, cr)) in w.rust_requests.iter().zip(&w.c_requests).enumerate() {
        let rust = w.rust.authorize(rr);
        let mut d = CDecision::EMPTY;
        // SAFETY: as in `c_decide`.
        let status = unsafe { (lib.authorize)(w.c_engine, &cr.req, &mut d, std::ptr::null_mut()) };
        assert_eq!(
            status,
            MANDATE_OK,
            "{} request {i}: {}",
            w.name,
            lib.last_error()
        );
        let reasons: Vec<String> = (0..d.reasons_len)
            .map(|k| {
                // SAFETY: `reasons` holds `reasons_len` NUL-terminated strings until freed.
                unsafe { CStr::from_ptr(*d.reasons.add(k)) }
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            d.decision == MANDATE_DECISION_ALLOW,
            rust.allowed,
            "{} request {i}",
            w.name
        );
        assert_eq!(
            reasons,
            rust.reasons
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>(),
            "{} request {i}",
            w.name
        );
        // SAFETY: filled by `mandate_authorize`; freed once.
        unsafe { (lib.decision_free)(&mut d) };
    }
}

/// Times per decision (ns): the Rust API on a request read beforehand, the Rust API reading
/// the request JSON too (`mandate authorize --request-json`), and the C fast path; and the
/// median over rounds of each round's ratios (C / Rust, C / (Rust + JSON)), which a burst of
/// load from other processes distorts less than the ratio of medians.
struct Times {
    rust: f64,
    rust_with_json: f64,
    c: f64,
    c_over_rust: f64,
    c_over_rust_with_json: f64,
}

/// Median over `rounds` alternating rounds of the mean time per decision of each path.
fn interleaved(lib: &Lib, w: &Workload, rounds: usize) -> Times {
    let n = w.rust_requests.len() as f64;
    let (mut rust, mut rust_with_json, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for r in &w.rust_requests {
            std::hint::black_box(w.rust.authorize(std::hint::black_box(r)));
        }
        rust.push(t.elapsed().as_nanos() as f64 / n);
        let t = Instant::now();
        for r in &w.c_requests {
            std::hint::black_box(c_decide(lib, w.c_engine, std::hint::black_box(r)));
        }
        c.push(t.elapsed().as_nanos() as f64 / n);
        let t = Instant::now();
        for text in &w.request_texts {
            let r = w
                .rust
                .request_from_json(std::hint::black_box(text))
                .expect("request");
            std::hint::black_box(w.rust.authorize(&r));
        }
        rust_with_json.push(t.elapsed().as_nanos() as f64 / n);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let ratios = |over: &[f64]| c.iter().zip(over).map(|(c, o)| c / o).collect::<Vec<_>>();
    Times {
        c_over_rust: median(ratios(&rust)),
        c_over_rust_with_json: median(ratios(&rust_with_json)),
        rust: median(rust),
        rust_with_json: median(rust_with_json),
        c: median(c),
    }
}

fn bench(c: &mut Criterion) {
    let dir = match mandate_test_support::shared_subdir("bench/agent-platform") {
        Ok(mandate_test_support::Shared::Found(dir)) => dir,
        Ok(mandate_test_support::Shared::Skip) => {
            println!("SKIPPED: shared/bench/agent-platform not found; no C ABI benchmark");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let lib = Lib::load();
    let rounds: usize = std::env::var("MANDATE_C_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(101);
    let mut summary = Vec::new();
    for n in ["n10", "n100", "n1000"] {
        let w = load(&lib, &format!("shared-{n}"), &dir.join(n));
        check_same_decisions(&lib, &w);
        let mut group = c.benchmark_group(format!("c-abi/{}", w.name));
        group.sample_size(20);
        let mut i = 0usize;
        group.bench_function("rust-api", |b| {
            b.iter(|| {
                i = (i + 1) % w.rust_requests.len();
                w.rust.authorize(w.rust_requests.get(i).expect("request"))
            });
        });
        let mut j = 0usize;
        group.bench_function("c-fast-path", |b| {
            b.iter(|| {
                j = (j + 1) % w.c_requests.len();
                c_decide(&lib, w.c_engine, w.c_requests.get(j).expect("request"))
            });
        });
        group.finish();
        summary.push((w.name.clone(), interleaved(&lib, &w, rounds)));
        // SAFETY: a live engine handle, freed once; no call on it is running.
        unsafe { (lib.engine_free)(w.c_engine) };
    }
    println!(
        "\nmean time per decision, median of {rounds} alternating rounds (one thread); ratios: median of the rounds' ratios"
    );
    println!(
        "{:<14} {:>12} {:>20} {:>12} {:>10} {:>16}",
        "workload", "Rust API", "Rust API + JSON req", "C fast path", "C / Rust", "C / (Rust+JSON)"
    );
    for (name, t) in summary {
        println!(
            "{name:<14} {:>9.3} us {:>17.3} us {:>9.3} us {:>9.3}x {:>15.3}x",
            t.rust / 1e3,
            t.rust_with_json / 1e3,
            t.c / 1e3,
            t.c_over_rust,
            t.c_over_rust_with_json
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
