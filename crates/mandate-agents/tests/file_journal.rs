//! The file registry's durability: hostile ids round-trip, killed writers lose no acknowledged
//! operation, damage is reported with its line, the directory is locked.
#![expect(clippy::unwrap_used, clippy::panic, reason = "test code")]

use mandate_agents::{
    AgentSpec, AgentState, EntityRef, FileRegistry, FileRegistryOptions, JOURNAL_FILE, Registry,
    RegistryError, SNAPSHOT_FILE,
};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: &str = "Platform::Agent";
const CHILD_ENV: &str = "MANDATE_AGENTS_CRASH_CHILD_DIR";

fn spec(id: &str) -> AgentSpec {
    AgentSpec::new(T, id, EntityRef::new("Platform::Human", "alice"))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mandate-agents-{name}-{}-{}",
        std::process::id(),
        nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hostile_ids() -> Vec<String> {
    vec![
        r#"quote " inside"#.to_owned(),
        r#""); permit(principal, action, resource);//"#.to_owned(),
        "line\nbreak\r\nand\ttab".to_owned(),
        "nul\0byte".to_owned(),
        "bidi \u{202e}evil\u{2066}x\u{2069}\u{200f}".to_owned(),
        "line separator \u{2028} and \u{2029}".to_owned(),
        "backslash \\ \\\" \\u{41}".to_owned(),
        String::new(),
        "é 漢字 🦀".to_owned(),
        "x".repeat(1 << 20),
    ]
}

#[test]
fn hostile_ids_survive_journal_and_reopen() {
    let dir = temp_dir("hostile");
    let ids = hostile_ids();
    let expected = {
        let reg = FileRegistry::open(&dir).unwrap();
        for id in &ids {
            let mut s = spec(id);
            s.owner = EntityRef::new("Platform::Human", id.clone());
            s.parents = vec![EntityRef::new("Platform::Team", id.clone())];
            s.display_name = Some(id.clone());
            s.attributes
                .insert(id.clone(), serde_json::Value::String(id.clone()));
            reg.register(s, id, id, 1).unwrap();
            reg.suspend(T, id, id, id, 2).unwrap();
        }
        reg.list().unwrap()
    };
    assert_eq!(expected.len(), ids.len());
    // Reopen replays the journal (then checkpoints); reopen again reads the snapshot.
    for _ in 0..2 {
        let reg = FileRegistry::open(&dir).unwrap();
        assert_eq!(reg.list().unwrap(), expected);
        for id in &ids {
            let agent = reg.get(T, id).unwrap().unwrap();
            assert_eq!(agent.id.as_bytes(), id.as_bytes());
            assert_eq!(agent.owner.id.as_bytes(), id.as_bytes());
            assert_eq!(
                agent.history.last().unwrap().reason.as_bytes(),
                id.as_bytes()
            );
            assert!(matches!(
                reg.state(T, id).unwrap(),
                Some((AgentState::Suspended { .. }, None))
            ));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Child mode of [`killed_writer_loses_no_acknowledged_op`]: registers and suspends agents in
/// a loop, printing each operation once its call has returned.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let reg = FileRegistry::open_with(
        Path::new(&dir),
        FileRegistryOptions {
            checkpoint_entries: 37,
            ..FileRegistryOptions::default()
        },
    )
    .unwrap();
    let start = reg.list().unwrap().len();
    let mut out = std::io::stdout().lock();
    for n in start.. {
        let id = format!("agent-{n}");
        reg.register(spec(&id), "child", "crash test", 1).unwrap();
        writeln!(out, "ACK register {id}").unwrap();
        out.flush().unwrap();
        reg.suspend(T, &id, "child", "crash test", 2).unwrap();
        writeln!(out, "ACK suspend {id}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn killed_writer_loses_no_acknowledged_op() {
    let dir = temp_dir("crash");
    let exe = std::env::current_exe().unwrap();
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for round in 0..6u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| {
                    let (op, id) = line.strip_prefix("ACK ")?.split_once(' ')?;
                    Some((op.to_owned(), id.to_owned()))
                })
                .collect::<Vec<_>>()
        });
        // Kill at a pseudo-random point once the child is writing.
        let delay = 80 + u64::try_from(nanos() % 170).unwrap() + round * 13;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        acknowledged.extend(acks);

        let reg = FileRegistry::open(&dir).unwrap();
        for (op, id) in &acknowledged {
            let agent = reg
                .get(T, id)
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged {op} of {id} lost"));
            if op == "suspend" {
                assert!(
                    matches!(agent.state, AgentState::Suspended { .. }),
                    "round {round}: acknowledged suspend of {id} lost"
                );
            }
        }
    }
    assert!(
        acknowledged.len() > 10,
        "the child acknowledged too little to test anything: {}",
        acknowledged.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn journal_with_entries(name: &str, n: usize) -> PathBuf {
    let dir = temp_dir(name);
    let reg = FileRegistry::open(&dir).unwrap();
    for i in 0..n {
        reg.register(spec(&format!("a{i}")), "ops", "x", 1).unwrap();
    }
    dir
}

#[test]
fn torn_tail_is_dropped() {
    let dir = journal_with_entries("torn", 3);
    let journal = dir.join(JOURNAL_FILE);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    file.write_all(br#"{"seq":4,"crc":1,"op":{"kind":"reg"#)
        .unwrap();
    drop(file);
    let reg = FileRegistry::open(&dir).unwrap();
    assert_eq!(reg.list().unwrap().len(), 3);
    assert_eq!(reg.version().unwrap(), 3);
    // The torn bytes are gone: new entries follow cleanly.
    reg.register(spec("a3"), "ops", "x", 1).unwrap();
    drop(reg);
    let reg = FileRegistry::open(&dir).unwrap();
    assert_eq!(reg.list().unwrap().len(), 4);
    drop(reg);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn assert_corrupt(dir: &Path, file: &str, line: u64, message_part: &str) {
    match FileRegistry::open(dir) {
        Err(RegistryError::Corrupt {
            path,
            line: got,
            message,
        }) => {
            assert_eq!(path, dir.join(file));
            assert_eq!(got, line, "{message}");
            assert!(message.contains(message_part), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn flipped_byte_is_corruption_with_line() {
    let dir = journal_with_entries("flip", 3);
    let journal = dir.join(JOURNAL_FILE);
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    // Change "a1" into "b1" inside line 2: valid JSON, wrong checksum.
    let damaged = text.replacen("\"a1\"", "\"b1\"", 1);
    assert_ne!(damaged, text);
    std::fs::write(&journal, &damaged).unwrap();
    assert_corrupt(&dir, JOURNAL_FILE, 2, "checksum mismatch");
    let err = FileRegistry::open(&dir).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "agents.journal:2: registry file is corrupt: checksum mismatch in entry seq 2"
        ),
        "{err}"
    );

    // Invalid JSON on line 2.
    std::fs::write(&journal, text.replacen("{\"seq\":2", "{\"seq\";2", 1)).unwrap();
    assert_corrupt(&dir, JOURNAL_FILE, 2, "invalid journal entry");

    // A gap: line 2 removed.
    let gap = format!("{}\n{}\n", lines.first().unwrap(), lines.get(2).unwrap());
    std::fs::write(&journal, gap).unwrap();
    assert_corrupt(
        &dir,
        JOURNAL_FILE,
        2,
        "sequence gap: expected seq 2, found 3",
    );

    // The original still opens.
    std::fs::write(&journal, &text).unwrap();
    let reg = FileRegistry::open(&dir).unwrap();
    assert_eq!(reg.list().unwrap().len(), 3);
    drop(reg);

    // A damaged snapshot is reported too.
    let snapshot = dir.join(SNAPSHOT_FILE);
    let snap = std::fs::read_to_string(&snapshot).unwrap();
    std::fs::write(&snapshot, snap.replacen("\"a2\"", "\"a9\"", 1)).unwrap();
    assert_corrupt(&dir, SNAPSHOT_FILE, 1, "snapshot checksum mismatch");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn entries_already_in_snapshot_are_skipped() {
    // Simulates a crash after the snapshot's rename, before the journal was emptied.
    let dir = journal_with_entries("skip", 3);
    let journal = dir.join(JOURNAL_FILE);
    let text = std::fs::read_to_string(&journal).unwrap();
    let reg = FileRegistry::open(&dir).unwrap();
    reg.checkpoint_now().unwrap();
    drop(reg);
    std::fs::write(&journal, &text).unwrap();
    let reg = FileRegistry::open(&dir).unwrap();
    assert_eq!(reg.list().unwrap().len(), 3);
    assert_eq!(reg.version().unwrap(), 3);
    reg.register(spec("a3"), "ops", "x", 1).unwrap();
    assert_eq!(reg.version().unwrap(), 4);
    drop(reg);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoints_keep_everything() {
    let dir = temp_dir("checkpoint");
    let options = FileRegistryOptions {
        checkpoint_entries: 10,
        ..FileRegistryOptions::default()
    };
    {
        let reg = FileRegistry::open_with(&dir, options).unwrap();
        for i in 0..45 {
            reg.register(spec(&format!("a{i}")), "ops", "x", 1).unwrap();
        }
        let lines = std::fs::read_to_string(dir.join(JOURNAL_FILE))
            .unwrap()
            .lines()
            .count();
        assert!(lines <= 10, "journal has {lines} entries");
        assert_eq!(reg.version().unwrap(), 45);
    }
    let reg = FileRegistry::open_with(&dir, options).unwrap();
    assert_eq!(reg.list().unwrap().len(), 45);
    assert_eq!(reg.version().unwrap(), 45);
    drop(reg);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn second_opener_is_locked() {
    let dir = temp_dir("locked");
    let first = FileRegistry::open(&dir).unwrap();
    let start = Instant::now();
    let err = FileRegistry::open_with(
        &dir,
        FileRegistryOptions {
            lock_wait_ms: 100,
            ..FileRegistryOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, RegistryError::Locked { .. }), "{err}");
    assert!(
        err.to_string()
            .ends_with("registry is locked by another process")
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(first);
    FileRegistry::open(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
