//! `mandate audit tail`: print the decisions of an audit log, each with its agent's rate over
//! the minute before it (by the records' own times); with `--follow`, keep printing decisions as
//! they are written, across rotations. The log is read without verifying it.
//!
//! Exit status: 0 done, 2 unreadable log.

use crate::audit_query::time_text;
use crate::output::{err, out};
use serde_json::Value as J;
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Window of the per-agent rate, in milliseconds.
const RATE_WINDOW_MS: u64 = 60_000;

/// Arguments of `mandate audit tail`.
#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// The log file, or a directory holding one log (rotated files first).
    pub file: PathBuf,
    /// Keep reading: print decisions as they are written (until interrupted).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// With --follow, how many of the decisions already in the log to print first.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub lines: usize,
    /// With --follow, how often to look for new records, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub interval_ms: u64,
}

/// Per-agent counters.
#[derive(Default)]
struct Agent {
    /// Times of the agent's decisions in the last `RATE_WINDOW_MS`.
    recent: VecDeque<u64>,
    decisions: u64,
    denied: u64,
    first_ms: u64,
    last_ms: u64,
}

#[derive(Default)]
struct Tail {
    agents: BTreeMap<String, Agent>,
    /// Bytes of an incomplete last line, kept until its newline arrives.
    partial: Vec<u8>,
}

impl Tail {
    /// Formats one log line if it is a decision (and counts it).
    fn line(&mut self, line: &[u8]) -> Option<String> {
        let J::Object(obj) = serde_json::from_slice::<J>(line).ok()? else {
            return None;
        };
        let seq = obj.get("seq").and_then(J::as_u64)?;
        let record = obj.get("record")?;
        if record.get("kind").and_then(J::as_str) != Some("decision") {
            return None;
        }
        let text = |key: &str| record.get(key).and_then(J::as_str).unwrap_or("");
        let at_ms = record.get("at_ms").and_then(J::as_u64).unwrap_or(0);
        let agent = self
            .agents
            .entry(text("principal").to_string())
            .or_default();
        if agent.decisions == 0 {
            agent.first_ms = at_ms;
        }
        agent.decisions += 1;
        agent.last_ms = agent.last_ms.max(at_ms);
        let allowed = text("decision") == "allow";
        if !allowed {
            agent.denied += 1;
        }
        agent.recent.push_back(at_ms);
        while agent
            .recent
            .front()
            .is_some_and(|&t| t.saturating_add(RATE_WINDOW_MS) <= at_ms)
        {
            agent.recent.pop_front();
        }
        let reasons = crate::audit_query::string_list(record.get("reasons")).join(",");
        Some(format!(
            "{}  #{seq}  {}  {:<5} {:<10} {} -> {}  [{reasons}]  {}/min\n",
            time_text(at_ms),
            text("principal"),
            text("decision"),
            text("layer"),
            text("action"),
            text("resource"),
            agent.recent.len(),
        ))
    }

    /// Feeds bytes read from the log; returns the formatted decisions of the complete lines.
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end.saturating_add(1));
        let complete = std::mem::replace(&mut self.partial, rest);
        complete
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| self.line(line))
            .collect()
    }

    fn summary(&self) -> String {
        let mut text = String::from("\nper agent: decisions, denied, average rate\n");
        for (name, agent) in &self.agents {
            let span_ms = agent.last_ms.saturating_sub(agent.first_ms);
            let rate = if span_ms == 0 {
                "-".to_string()
            } else {
                #[expect(clippy::cast_precision_loss, reason = "a rate for display")]
                let per_min = agent.decisions as f64 * 60_000.0 / span_ms as f64;
                format!("{per_min:.1}/min")
            };
            text.push_str(&format!(
                "  {name}  {}  {}  {rate}\n",
                agent.decisions, agent.denied
            ));
        }
        text
    }
}

/// The files to read: a file, or the log files of a directory in chain order.
fn files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_dir() {
        mandate::audit_log::log_files(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// Runs `mandate audit tail`.
pub fn run_tail(args: &TailArgs) -> u8 {
    let files = match files(&args.file) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            err(&format!(
                "error: `{}` holds no audit log (*.jsonl)\n",
                args.file.display()
            ));
            return 2;
        }
        Err(e) => {
            err(&format!("error: {e}\n"));
            return 2;
        }
    };
    let mut tail = Tail::default();
    let mut printed = Vec::new();
    let mut current = None;
    for file in &files {
        let mut handle = match std::fs::File::open(file) {
            Ok(handle) => handle,
            Err(e) => {
                err(&format!("error: cannot read `{}`: {e}\n", file.display()));
                return 2;
            }
        };
        let mut bytes = Vec::new();
        if let Err(e) = handle.read_to_end(&mut bytes) {
            err(&format!("error: cannot read `{}`: {e}\n", file.display()));
            return 2;
        }
        printed.extend(tail.feed(&bytes));
        current = Some((file.clone(), handle));
    }
    if !args.follow {
        out(&printed.concat());
        out(&tail.summary());
        return 0;
    }
    let skip = printed.len().saturating_sub(args.lines);
    out(&printed.get(skip..).unwrap_or_default().concat());
    let Some((path, mut handle)) = current else {
        return 2;
    };
    follow(&mut tail, &path, &mut handle, args.interval_ms.max(10))
}

/// Polls `path` for new bytes forever; when the file at `path` is replaced (rotated), finishes
/// the old one and continues with the new one from its start.
fn follow(tail: &mut Tail, path: &Path, handle: &mut std::fs::File, interval_ms: u64) -> u8 {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if let Err(e) = handle.read_to_end(&mut buf) {
            err(&format!("error: cannot read `{}`: {e}\n", path.display()));
            return 2;
        }
        let lines = tail.feed(&buf);
        if !lines.is_empty() {
            out(&lines.concat());
        }
        if replaced(path, handle) {
            // Read what the writer added to the old file before renaming it; its last line is
            // complete (rotation seals it), so nothing partial carries over.
            buf.clear();
            if handle.read_to_end(&mut buf).is_ok() {
                let lines = tail.feed(&buf);
                if !lines.is_empty() {
                    out(&lines.concat());
                }
            }
            tail.partial.clear();
            // If the new file cannot be opened yet, the next poll tries again.
            if let Ok(new) = std::fs::File::open(path) {
                *handle = new;
            }
        } else if let (Ok(meta), Ok(position)) = (handle.metadata(), handle.stream_position())
            && meta.len() < position
        {
            // A file cut back (rewritten) is read again from its start.
            tail.partial.clear();
            let _ = handle.seek(SeekFrom::Start(0));
        }
        std::thread::sleep(std::time::Duration::from_millis(interval_ms));
    }
}

/// Whether `path` now names another file than `handle` (or none).
#[cfg(unix)]
fn replaced(path: &Path, handle: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), handle.metadata()) {
        (Ok(now), Ok(open)) => now.ino() != open.ino() || now.dev() != open.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn replaced(_path: &Path, _handle: &std::fs::File) -> bool {
    false
}
