//! The Redis store. Needs `REDIS_URL` (e.g. `redis://127.0.0.1:6390/`); without it the tests
//! print `SKIPPED` and pass, except under `CI=true`, where they fail.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs,
    reason = "test code"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mandate_quota::{Charge, QuotaStore, RedisOptions, RedisStore, StoreError};

const CHILD_ENV: &str = "MANDATE_QUOTA_REDIS_CHILD_PREFIX";

fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "REDIS_URL must be set in CI"
            );
            println!("SKIPPED: REDIS_URL not set");
            None
        }
    }
}

fn unique_prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("mandate-test:{name}:{}:{nanos}:", std::process::id())
}

fn connect(url: &str, prefix: &str) -> RedisStore {
    RedisStore::connect(
        url,
        RedisOptions {
            key_prefix: prefix.to_owned(),
            ..RedisOptions::default()
        },
    )
    .unwrap()
}

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

#[test]
fn atomic_multi_charge_and_reservations() {
    let Some(url) = redis_url() else { return };
    let store = connect(&url, &unique_prefix("basic"));
    assert_eq!(store.name(), "redis");
    let first = charge("q1", "alice", 5, 60_000, 3);
    let second = charge("q2", "alice", 2, 60_000, 3);
    let result = store
        .charge(&[first.clone(), second.clone()], None, false)
        .unwrap();
    assert!(!result.admitted);
    assert!(result.outcomes[0].admitted);
    assert_eq!(result.outcomes[1].retry_after_ms, None);
    assert_eq!(
        store.status(&[first.clone()]).unwrap()[0].used,
        0,
        "all or nothing"
    );

    let dry = store.charge(&[first.clone()], None, true).unwrap();
    assert!(dry.admitted);
    assert_eq!(store.status(&[first.clone()]).unwrap()[0].used, 0);

    let ok = store
        .charge(
            &[first.clone(), charge("q2", "alice", 2, 60_000, 1)],
            Some("d1"),
            false,
        )
        .unwrap();
    assert!(ok.admitted);
    assert_eq!(ok.outcomes[0].remaining, 2);
    let status = store.status(&[first.clone()]).unwrap();
    assert_eq!((status[0].used, status[0].remaining), (3, 2));
    assert!(status[0].reset_ms.unwrap() > ok.at_ms);
    let refused = store.charge(&[first.clone()], None, false).unwrap();
    assert!(!refused.admitted);
    let retry = refused.retry_after_ms().unwrap();
    // At most one window plus one granule (60 000 / 32 ms).
    assert!(retry > 0 && retry <= 60_000 + 1875, "{retry}");

    assert!(matches!(
        store.charge(&[first.clone()], Some("d1"), false),
        Err(StoreError::DuplicateReservation(_))
    ));
    let settlement = store.settle("d1", 1).unwrap();
    assert_eq!((settlement.reserved, settlement.actual), (4, 2));
    assert_eq!(store.status(&[first.clone()]).unwrap()[0].used, 1);
    assert!(matches!(
        store.settle("d1", 1),
        Err(StoreError::AlreadySettled(_))
    ));
    assert!(matches!(
        store.refund("nope"),
        Err(StoreError::UnknownReservation(_))
    ));
    assert!(
        store
            .charge(&[first.clone()], Some("d2"), false)
            .unwrap()
            .admitted
    );
    store.refund("d2").unwrap();
    assert_eq!(store.status(&[first.clone()]).unwrap()[0].used, 1);
    assert!(
        store
            .charge(&[first.clone()], Some("d3"), false)
            .unwrap()
            .admitted
    );
    store.settle("d3", 50).unwrap();
    assert_eq!(
        store.status(&[first]).unwrap()[0].used,
        51,
        "settled beyond the limit: it was spent"
    );
}

#[test]
fn expired_reservation_is_final() {
    let Some(url) = redis_url() else { return };
    let options = RedisOptions {
        key_prefix: unique_prefix("expiry"),
        reservation_ttl_ms: 50,
        ..RedisOptions::default()
    };
    let store = RedisStore::connect(&url, options).unwrap();
    let quota = charge("q", "b", 10, 60_000, 4);
    assert!(
        store
            .charge(&[quota.clone()], Some("r"), false)
            .unwrap()
            .admitted
    );
    std::thread::sleep(Duration::from_millis(60));
    assert!(matches!(
        store.refund("r"),
        Err(StoreError::ReservationExpired(_))
    ));
    assert_eq!(store.status(&[quota]).unwrap()[0].used, 4);
}

/// Child mode of [`two_processes_admit_exactly_the_limit`].
#[test]
fn redis_child() {
    let Ok(prefix) = std::env::var(CHILD_ENV) else {
        return;
    };
    let Some(url) = redis_url() else { return };
    let store = connect(&url, &prefix);
    let mut admitted = 0u64;
    for _ in 0..2000 {
        if store
            .charge(&[charge("q", "shared", 1500, 600_000, 1)], None, false)
            .unwrap()
            .admitted
        {
            admitted += 1;
        }
    }
    println!("admitted {admitted}");
}

#[test]
fn two_processes_admit_exactly_the_limit() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("race");
    let children: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "redis_child", "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, &prefix)
                .env("REDIS_URL", &url)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0u64;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        // The harness may print `test redis_child ... ` on the same line.
        let (_, count) = text.split_once("admitted ").unwrap();
        total += count
            .split_whitespace()
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    assert_eq!(total, 1500);
    let store = connect(&url, &prefix);
    assert_eq!(
        store
            .status(&[charge("q", "shared", 1500, 600_000, 0)])
            .unwrap()[0]
            .used,
        1500
    );
}

struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut own = Self { child, port };
        let stdout = own.child.stdout.take().unwrap();
        for line in BufReader::new(stdout).lines() {
            if line.unwrap().contains("Ready to accept connections") {
                break;
            }
        }
        own
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.signal_quietly();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OwnRedis {
    fn signal_quietly(&self) -> std::io::Result<std::process::ExitStatus> {
        Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()
    }
}

#[test]
fn failures_are_bounded_errors() {
    if redis_url().is_none() {
        return;
    }
    let mut redis = OwnRedis::start();
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let options = RedisOptions {
        key_prefix: unique_prefix("fail"),
        timeout_ms: 200,
        ..RedisOptions::default()
    };
    let store = RedisStore::connect(&url, options).unwrap();
    let quota = [charge("q", "b", 1_000_000, 60_000, 1)];
    assert!(store.charge(&quota, None, false).unwrap().admitted);

    // A stalled server: every call times out within a bounded time.
    redis.signal("-STOP");
    for _ in 0..3 {
        let started = Instant::now();
        let error = store.charge(&quota, None, false).unwrap_err();
        assert!(
            matches!(error, StoreError::Timeout(_) | StoreError::Unavailable(_)),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    }
    redis.signal("-CONT");
    let started = Instant::now();
    loop {
        match store.charge(&quota, None, false) {
            Ok(result) => {
                assert!(result.admitted);
                break;
            }
            Err(_) if started.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(error) => panic!("no recovery after SIGCONT: {error:?}"),
        }
    }

    // A dead server: refused connections, promptly.
    redis.child.kill().unwrap();
    redis.child.wait().unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        let error = store.charge(&quota, None, false).unwrap_err();
        assert!(
            matches!(error, StoreError::Unavailable(_) | StoreError::Timeout(_)),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        let error = store.settle("x", 1).unwrap_err();
        assert!(
            matches!(error, StoreError::Unavailable(_) | StoreError::Timeout(_)),
            "{error:?}"
        );
    }
    assert!(matches!(
        RedisStore::connect(&url, RedisOptions::default()),
        Err(StoreError::Unavailable(_) | StoreError::Timeout(_))
    ));
}
