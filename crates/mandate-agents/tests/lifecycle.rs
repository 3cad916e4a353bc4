//! The lifecycle state machine on every local back end, expiry, and linearizable reads.
#![expect(clippy::unwrap_used, reason = "test code")]

use mandate_agents::{
    AgentSpec, AgentState, EntityRef, FileRegistry, MemoryRegistry, Registry, RegistryError, State,
    TransitionKind,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const T: &str = "Platform::Agent";

fn spec(id: &str) -> AgentSpec {
    AgentSpec::new(T, id, EntityRef::new("Platform::Human", "alice"))
}

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "mandate-agents-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lifecycle(reg: &dyn Registry) {
    let a = reg.register(spec("planner"), "ops", "onboard", 10).unwrap();
    assert_eq!(a.state, AgentState::Active);
    assert_eq!(a.created_ms, 10);
    assert_eq!(a.history.len(), 1);
    let v1 = reg.version().unwrap();

    let err = reg
        .register(spec("planner"), "ops", "again", 11)
        .unwrap_err();
    assert!(matches!(err, RegistryError::AlreadyExists { .. }));
    assert_eq!(
        err.to_string(),
        r#"agent Platform::Agent::"planner" already exists; use update to change it"#
    );

    // Illegal from active.
    let err = reg.resume(T, "planner", "ops", "x", 12).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot resume agent Platform::Agent::"planner": it is active"#
    );

    let s = reg.suspend(T, "planner", "sec", "anomaly", 20).unwrap();
    assert_eq!(
        s.state,
        AgentState::Suspended {
            reason: "anomaly".into()
        }
    );
    assert!(reg.version().unwrap() > v1);
    let err = reg.suspend(T, "planner", "sec", "again", 21).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot suspend agent Platform::Agent::"planner": it is suspended"#
    );

    // Update keeps the state.
    let mut changed = spec("planner");
    changed.display_name = Some("Planner".into());
    let u = reg.update(changed, "ops", "rename", 25).unwrap();
    assert_eq!(u.display_name.as_deref(), Some("Planner"));
    assert!(matches!(u.state, AgentState::Suspended { .. }));

    reg.resume(T, "planner", "sec", "cleared", 30).unwrap();
    let r = reg.revoke(T, "planner", "sec", "compromised", 40).unwrap();
    assert_eq!(r.effective_state(41), State::Revoked);

    for (result, to) in [
        (reg.revoke(T, "planner", "sec", "x", 50), "revoke"),
        (reg.suspend(T, "planner", "sec", "x", 50), "suspend"),
        (reg.resume(T, "planner", "sec", "x", 50), "resume"),
        (reg.update(spec("planner"), "sec", "x", 50), "update"),
    ] {
        let err = result.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(r#"cannot {to} agent Platform::Agent::"planner": it is revoked"#)
        );
    }
    let err = reg
        .register(spec("planner"), "ops", "reuse", 60)
        .unwrap_err();
    assert!(matches!(err, RegistryError::Revoked { .. }));
    assert_eq!(
        err.to_string(),
        r#"agent Platform::Agent::"planner" was revoked; identities are never reused, register a new id"#
    );

    let err = reg.suspend(T, "ghost", "ops", "x", 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"agent Platform::Agent::"ghost" is not registered"#
    );
    assert!(matches!(
        reg.update(spec("ghost"), "ops", "x", 1),
        Err(RegistryError::NotFound { .. })
    ));
    assert!(reg.get(T, "ghost").unwrap().is_none());
    assert!(reg.state(T, "ghost").unwrap().is_none());

    let full = reg.get(T, "planner").unwrap().unwrap();
    let kinds: Vec<_> = full.history.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [
            TransitionKind::Register,
            TransitionKind::Suspend,
            TransitionKind::Update,
            TransitionKind::Resume,
            TransitionKind::Revoke
        ]
    );
    let seqs: Vec<_> = full.history.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let last = full.history.last().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.reason.as_str(), last.at_ms),
        ("sec", "compromised", 40)
    );

    // Invalid names are rejected; ids are free.
    let mut bad = spec("x");
    bad.entity_type = "Platform::".into();
    assert!(matches!(
        reg.register(bad, "ops", "x", 1),
        Err(RegistryError::InvalidSpec(_))
    ));

    // Expiry is derived.
    let mut expiring = spec("temp");
    expiring.expires_ms = Some(100);
    let e = reg.register(expiring, "ops", "short-lived", 50).unwrap();
    assert_eq!(e.effective_state(99), State::Active);
    assert_eq!(e.effective_state(100), State::Expired);
    let (state, expires) = reg.state(T, "temp").unwrap().unwrap();
    assert_eq!(
        mandate_agents::effective_state(&state, expires, 200).as_str(),
        "expired"
    );
    let e = reg.suspend(T, "temp", "ops", "x", 60).unwrap();
    assert_eq!(e.effective_state(200), State::Expired);
    let e = reg.revoke(T, "temp", "ops", "x", 60).unwrap();
    assert_eq!(e.effective_state(200), State::Revoked);

    let ids: Vec<_> = reg.list().unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(ids, ["planner", "temp"]);
}

#[test]
fn memory_lifecycle() {
    let reg = MemoryRegistry::new();
    assert_eq!(reg.name(), "memory");
    lifecycle(&reg);
}

#[test]
fn file_lifecycle_and_reopen() {
    let dir = temp_dir("lifecycle");
    let before = {
        let reg = FileRegistry::open(&dir).unwrap();
        assert_eq!(reg.name(), "file");
        lifecycle(&reg);
        (reg.list().unwrap(), reg.version().unwrap())
    };
    let reg = FileRegistry::open(&dir).unwrap();
    assert_eq!((reg.list().unwrap(), reg.version().unwrap()), before);
    // The rules still hold after a reopen: the revoked id is not reused.
    assert!(matches!(
        reg.register(spec("planner"), "ops", "reuse", 70),
        Err(RegistryError::Revoked { .. })
    ));
    drop(reg);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[derive(Default)]
struct Markers {
    suspended: AtomicU64,
    resuming: AtomicU64,
    resumed: AtomicU64,
    suspending: AtomicU64,
}

/// Readers must never see `Active` when a suspend returned before their read started and the
/// matching resume had not started when their read ended, and must see `Active` when a resume
/// returned before their read started and the next suspend had not started when it ended.
fn linearizable_reads(reg: Arc<dyn Registry>, toggles: u64, reads_per_thread: u64) {
    reg.register(spec("hot"), "ops", "x", 0).unwrap();
    // Number of the last suspend that returned / resume that started / resume that returned /
    // suspend that started.
    let markers = Arc::new(Markers::default());
    let done = Arc::new(AtomicBool::new(false));
    let hold = || std::thread::sleep(std::time::Duration::from_micros(100));

    let writer = {
        let (reg, markers, done) = (Arc::clone(&reg), Arc::clone(&markers), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut k = 0;
            while !done.load(Ordering::SeqCst) && k < toggles {
                k += 1;
                markers.suspending.store(k, Ordering::SeqCst);
                reg.suspend(T, "hot", "w", "x", k).unwrap();
                markers.suspended.store(k, Ordering::SeqCst);
                hold();
                markers.resuming.store(k, Ordering::SeqCst);
                reg.resume(T, "hot", "w", "x", k).unwrap();
                markers.resumed.store(k, Ordering::SeqCst);
                hold();
            }
            k
        })
    };
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (reg, markers) = (Arc::clone(&reg), Arc::clone(&markers));
            std::thread::spawn(move || {
                let (mut checked_suspended, mut checked_active) = (0u64, 0u64);
                for _ in 0..reads_per_thread {
                    let suspended = markers.suspended.load(Ordering::SeqCst);
                    let resumed = markers.resumed.load(Ordering::SeqCst);
                    let (state, _) = reg.state(T, "hot").unwrap().unwrap();
                    let resuming = markers.resuming.load(Ordering::SeqCst);
                    let suspending = markers.suspending.load(Ordering::SeqCst);
                    if suspended > resuming {
                        checked_suspended += 1;
                        assert!(
                            !matches!(state, AgentState::Active),
                            "read after suspend #{suspended} returned saw active"
                        );
                    }
                    if resumed >= suspending && resumed > 0 {
                        checked_active += 1;
                        assert!(
                            matches!(state, AgentState::Active),
                            "read after resume #{resumed} returned saw {state:?}"
                        );
                    }
                }
                (checked_suspended, checked_active)
            })
        })
        .collect();
    let (mut checked_suspended, mut checked_active) = (0, 0);
    for reader in readers {
        let (s, a) = reader.join().unwrap();
        checked_suspended += s;
        checked_active += a;
    }
    done.store(true, Ordering::SeqCst);
    let toggled = writer.join().unwrap();
    assert!(toggled > 0);
    assert!(
        checked_suspended > 0 && checked_active > 0,
        "no read fell in a checked window ({checked_suspended}, {checked_active})"
    );
}

#[test]
fn memory_reads_are_linearizable() {
    linearizable_reads(Arc::new(MemoryRegistry::new()), u64::MAX, 100_000);
}

#[test]
fn file_reads_are_linearizable() {
    let dir = temp_dir("linear");
    linearizable_reads(Arc::new(FileRegistry::open(&dir).unwrap()), 2_000, 20_000);
    std::fs::remove_dir_all(&dir).unwrap();
}
