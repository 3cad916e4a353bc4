//! The persistent memory store: reopen, crash safety, torn and corrupt journals, locking.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use mandate_quota::{
    Charge, ManualClock, MemoryOptions, MemoryStore, QuotaStore, StoreError, SystemClock,
};

const CHILD_ENV: &str = "MANDATE_QUOTA_PERSIST_CHILD_DIR";

fn charge(bucket: &str, limit: u64, cost: u64) -> Charge {
    Charge {
        quota: "q".into(),
        bucket: bucket.into(),
        limit,
        window_ms: 3_600_000,
        cost,
        settles: true,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mandate-quota-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(dir: &Path, clock: Arc<ManualClock>) -> Result<MemoryStore, StoreError> {
    MemoryStore::open(
        dir,
        clock,
        MemoryOptions {
            lock_wait_ms: 300,
            ..MemoryOptions::default()
        },
    )
}

fn used(store: &MemoryStore, bucket: &str) -> u64 {
    store.status(&[charge(bucket, 100, 0)]).unwrap()[0].used
}

#[test]
fn charges_and_reservations_survive_reopen() {
    let dir = temp_dir("reopen");
    let clock = Arc::new(ManualClock::new(1_000_000));
    {
        let store = open(&dir, clock.clone()).unwrap();
        assert!(
            store
                .charge(&[charge("a", 10, 4)], None, false)
                .unwrap()
                .admitted
        );
        assert!(
            store
                .charge(&[charge("a", 10, 3), charge("b", 10, 2)], Some("r1"), false)
                .unwrap()
                .admitted
        );
        assert!(
            store
                .charge(&[charge("c", 10, 5)], Some("r2"), false)
                .unwrap()
                .admitted
        );
        store.refund("r2").unwrap();
        assert!(
            !store
                .charge(&[charge("a", 10, 9)], None, false)
                .unwrap()
                .admitted
        );
    }
    clock.advance(1000);
    {
        let store = open(&dir, clock.clone()).unwrap();
        assert_eq!(
            (used(&store, "a"), used(&store, "b"), used(&store, "c")),
            (7, 2, 0)
        );
        assert!(matches!(
            store.refund("r2"),
            Err(StoreError::AlreadySettled(_))
        ));
        store.settle("r1", 1).unwrap();
        assert_eq!((used(&store, "a"), used(&store, "b")), (5, 1));
    }
    // Twice, so the second open reads a snapshot written by the first.
    let store = open(&dir, clock.clone()).unwrap();
    assert_eq!((used(&store, "a"), used(&store, "b")), (5, 1));
    assert!(matches!(
        store.settle("r1", 1),
        Err(StoreError::AlreadySettled(_))
    ));
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn second_opener_is_locked_out() {
    let dir = temp_dir("lock");
    let clock = Arc::new(ManualClock::new(0));
    let first = open(&dir, clock.clone()).unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        open(&dir, clock.clone()),
        Err(StoreError::Locked(_))
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    drop(first);
    open(&dir, clock).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn torn_final_line_is_ignored() {
    let dir = temp_dir("torn");
    let clock = Arc::new(ManualClock::new(0));
    {
        let store = open(&dir, clock.clone()).unwrap();
        store.charge(&[charge("a", 10, 2)], None, false).unwrap();
        store.charge(&[charge("a", 10, 3)], None, false).unwrap();
    }
    let journal = dir.join("journal.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    file.write_all(br#"{"n":3,"rec":{"op":"charge","t":0,"c":[{"q":"q","b":"a","#)
        .unwrap();
    drop(file);
    let store = open(&dir, clock).unwrap();
    assert_eq!(used(&store, "a"), 5);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_line_is_rejected_with_its_number() {
    let dir = temp_dir("corrupt");
    let clock = Arc::new(ManualClock::new(0));
    {
        let store = open(&dir, clock.clone()).unwrap();
        for cost in [1, 2, 3] {
            store.charge(&[charge("a", 10, cost)], None, false).unwrap();
        }
    }
    let journal = dir.join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let tampered = lines[1].replace(r#""c":2"#, r#""c":0"#);
    assert_ne!(tampered, lines[1]);
    std::fs::write(
        &journal,
        format!("{}\n{tampered}\n{}\n", lines[0], lines[2]),
    )
    .unwrap();
    match open(&dir, clock) {
        Err(StoreError::Corrupt {
            path,
            line,
            message,
        }) => {
            assert!(path.ends_with("journal.jsonl"), "{path}");
            assert_eq!(line, 2);
            assert!(message.contains("checksum"), "{message}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Child mode of [`killed_writer_loses_no_acknowledged_charge`]: charges distinct buckets in a
/// loop and prints each acknowledged one. Does nothing when run as an ordinary test.
#[test]
fn persistence_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = MemoryStore::open(
        Path::new(&dir),
        Arc::new(SystemClock),
        MemoryOptions::default(),
    )
    .unwrap();
    let mut stdout = std::io::stdout().lock();
    for i in 0u64.. {
        let result = store
            .charge(&[charge(&format!("k{i}"), 10, 1)], None, false)
            .unwrap();
        assert!(result.admitted);
        writeln!(stdout, "ack {i}").unwrap();
        stdout.flush().unwrap();
    }
}

#[test]
fn killed_writer_loses_no_acknowledged_charge() {
    let dir = temp_dir("kill");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let kill_after = 20 + u64::from(seed % 200);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "persistence_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut acked = Vec::new();
    let mut line = String::new();
    while (acked.len() as u64) < kill_after {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        // The harness may print `test persistence_child ... ` on the first line.
        if let Some((_, i)) = line.trim().split_once("ack ") {
            acked.push(i.parse::<u64>().unwrap());
        }
    }
    child.kill().unwrap();
    // Lines printed before the kill were acknowledged too.
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some((_, i)) = line.trim().split_once("ack ")
            && let Ok(i) = i.parse::<u64>()
        {
            acked.push(i);
        }
    }
    child.wait().unwrap();
    assert!(
        acked.len() as u64 >= kill_after,
        "child stopped early after {} charges",
        acked.len()
    );
    let store = MemoryStore::open(&dir, Arc::new(SystemClock), MemoryOptions::default()).unwrap();
    for i in &acked {
        assert_eq!(
            used(&store, &format!("k{i}")),
            1,
            "acknowledged charge k{i} lost"
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
