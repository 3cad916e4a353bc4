//! The Redis registry. Needs `REDIS_URL` (skipped without it, except under `CI=true`).
//! Locally: `redis-server --port 6391 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes
//! --pidfile /tmp/redis-6391.pid` and `REDIS_URL=redis://127.0.0.1:6391/`.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code"
)]

use mandate_agents::{
    AgentSpec, AgentState, EntityRef, RedisRegistry, RedisRegistryOptions, Registry, RegistryError,
    TransitionKind,
};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: &str = "Platform::Agent";
const CHILD_ENV: &str = "MANDATE_AGENTS_REDIS_REVOKE";

fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "REDIS_URL must be set under CI=true"
            );
            println!("SKIPPED: REDIS_URL not set");
            None
        }
    }
}

/// A key prefix of its own for each test run, so runs do not see each other's agents.
fn options() -> RedisRegistryOptions {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    RedisRegistryOptions {
        key_prefix: format!("mandate-test:{}:{nanos}:", std::process::id()),
        timeout_ms: 2_000,
    }
}

fn spec(id: &str) -> AgentSpec {
    AgentSpec::new(T, id, EntityRef::new("Platform::Human", "alice"))
}

#[test]
fn redis_lifecycle_and_hostile_ids() {
    let Some(url) = redis_url() else { return };
    let reg = RedisRegistry::connect(&url, options()).unwrap();
    assert_eq!(reg.name(), "redis");
    assert_eq!(reg.version().unwrap(), 0);
    reg.register(spec("a"), "ops", "x", 1).unwrap();
    assert!(matches!(
        reg.register(spec("a"), "ops", "x", 1),
        Err(RegistryError::AlreadyExists { .. })
    ));
    let err = reg.resume(T, "a", "ops", "x", 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot resume agent Platform::Agent::"a": it is active"#
    );
    reg.suspend(T, "a", "sec", "why", 3).unwrap();
    assert_eq!(
        reg.state(T, "a").unwrap(),
        Some((
            AgentState::Suspended {
                reason: "why".into()
            },
            None
        ))
    );
    reg.revoke(T, "a", "sec", "gone", 4).unwrap();
    assert!(matches!(
        reg.register(spec("a"), "ops", "x", 5),
        Err(RegistryError::Revoked { .. })
    ));
    assert!(matches!(
        reg.update(spec("a"), "ops", "x", 5),
        Err(RegistryError::IllegalTransition { .. })
    ));
    let a = reg.get(T, "a").unwrap().unwrap();
    let kinds: Vec<_> = a.history.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [
            TransitionKind::Register,
            TransitionKind::Suspend,
            TransitionKind::Revoke
        ]
    );
    assert_eq!(reg.version().unwrap(), 3);
    assert!(reg.state(T, "ghost").unwrap().is_none());

    for id in [
        "quote \" \"); permit(",
        "nl\n\0nul \u{202e}bidi",
        "[\"Platform::Agent\",\"a\"]",
    ] {
        reg.register(spec(id), "ops", id, 1).unwrap();
        assert_eq!(reg.get(T, id).unwrap().unwrap().id, id);
    }
    let big = "x".repeat(1 << 20);
    reg.register(spec(&big), "ops", "big", 1).unwrap();
    assert_eq!(reg.get(T, &big).unwrap().unwrap().id, big);
    assert_eq!(reg.list().unwrap().len(), 5);
}

/// Child mode: revokes the agent named in the environment and exits.
#[test]
fn redis_revoke_child() {
    let Ok(target) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (url, prefix, id) = {
        let mut parts = target.splitn(3, '\u{1f}');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let reg = RedisRegistry::connect(
        &url,
        RedisRegistryOptions {
            key_prefix: prefix,
            timeout_ms: 2_000,
        },
    )
    .unwrap();
    reg.revoke(T, &id, "other-node", "compromised", 10).unwrap();
}

#[test]
fn revocation_on_one_node_is_seen_by_another() {
    let Some(url) = redis_url() else { return };
    let options = options();
    let reg = RedisRegistry::connect(&url, options.clone()).unwrap();
    reg.register(spec("shared"), "ops", "x", 1).unwrap();
    assert!(matches!(
        reg.state(T, "shared").unwrap(),
        Some((AgentState::Active, None))
    ));
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "redis_revoke_child", "--test-threads=1"])
        .stdout(Stdio::null())
        .env(
            CHILD_ENV,
            format!("{url}\u{1f}{}\u{1f}shared", options.key_prefix),
        )
        .status()
        .unwrap();
    assert!(status.success());
    // The very next read sees it: no cache.
    match reg.state(T, "shared").unwrap() {
        Some((AgentState::Revoked { reason }, None)) => assert_eq!(reason, "compromised"),
        other => panic!("expected revoked, got {other:?}"),
    }
    let a = reg.get(T, "shared").unwrap().unwrap();
    assert_eq!(a.history.last().unwrap().actor, "other-node");
}

#[test]
fn concurrent_transitions_are_atomic() {
    let Some(url) = redis_url() else { return };
    let options = options();
    let reg = std::sync::Arc::new(RedisRegistry::connect(&url, options).unwrap());
    reg.register(spec("race"), "ops", "x", 1).unwrap();
    // Eight threads try to suspend at once: exactly one wins.
    let handles: Vec<_> = (0..8)
        .map(|n| {
            let reg = std::sync::Arc::clone(&reg);
            std::thread::spawn(move || reg.suspend(T, "race", &format!("t{n}"), "x", 2).is_ok())
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(wins, 1);
    assert_eq!(reg.get(T, "race").unwrap().unwrap().history.len(), 2);
}

#[test]
fn unreachable_redis_fails_fast() {
    let start = Instant::now();
    let err = RedisRegistry::connect(
        "redis://127.0.0.1:1/",
        RedisRegistryOptions {
            timeout_ms: 200,
            ..RedisRegistryOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unavailable(_) | RegistryError::Timeout(_)
        ),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // A non-routable address times out within the bound instead of hanging.
    let start = Instant::now();
    let err = RedisRegistry::connect(
        "redis://10.255.255.1:6379/",
        RedisRegistryOptions {
            timeout_ms: 200,
            ..RedisRegistryOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unavailable(_) | RegistryError::Timeout(_)
        ),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(
        RedisRegistry::connect("not a url", RedisRegistryOptions::default()),
        Err(RegistryError::Unavailable(_))
    ));
}
