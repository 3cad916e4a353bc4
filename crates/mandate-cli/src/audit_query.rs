//! `mandate audit query` and `mandate audit stats`: read an audit log (without verifying it; that
//! is `mandate audit verify`), filter its records, and summarize them per agent with anomalies
//! worth a look. Also the log reader `mandate replay` uses.
//!
//! Exit status: 0 done, 2 unreadable log or bad arguments.

use crate::output::{err, out};
use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One record of the log.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The entry's sequence number.
    pub seq: u64,
    /// The record (`kind` is `decision`, `lifecycle` or `policy_change`).
    pub record: J,
}

impl Entry {
    /// The record's `kind`.
    pub fn kind(&self) -> &str {
        self.str("kind")
    }
    /// A string field of the record (empty when absent).
    pub fn str(&self, key: &str) -> &str {
        self.record.get(key).and_then(J::as_str).unwrap_or("")
    }
    /// `at_ms`.
    pub fn at_ms(&self) -> u64 {
        self.record.get("at_ms").and_then(J::as_u64).unwrap_or(0)
    }
    /// The determining reasons.
    pub fn reasons(&self) -> Vec<String> {
        string_list(self.record.get("reasons"))
    }
    /// Whether the decision allowed.
    pub fn allowed(&self) -> bool {
        self.str("decision") == "allow"
    }
}

/// Strings of a JSON array (others skipped).
pub fn string_list(v: Option<&J>) -> Vec<String> {
    v.and_then(J::as_array)
        .map(|a| {
            a.iter()
                .filter_map(J::as_str)
                .map(ToString::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The records of a log file, or of every `*.jsonl` file of a directory in chain order (rotated
/// files by number, then the current file: `mandate_audit::log_files`).
/// Checkpoints, dropped-record markers, blank and unparseable lines are skipped (and counted).
pub struct Log {
    /// The records, in file order.
    pub entries: Vec<Entry>,
    /// Lines that are not entries with a record (checkpoints and markers excluded).
    pub unreadable_lines: usize,
}

/// Reads a log.
///
/// # Errors
/// The path cannot be read.
pub fn read_log(path: &Path) -> Result<Log, String> {
    let files = if path.is_dir() {
        // Rotated files first, in chain order.
        mandate::audit_log::log_files(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?
    } else {
        vec![path.to_path_buf()]
    };
    let mut log = Log {
        entries: Vec::new(),
        unreadable_lines: 0,
    };
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
        for line in text.lines() {
            if line.trim().is_empty() {
                continue;
            }
            let Ok(J::Object(mut obj)) = serde_json::from_str::<J>(line) else {
                log.unreadable_lines += 1;
                continue;
            };
            if obj.contains_key("checkpoint") || obj.contains_key("dropped") {
                continue;
            }
            let (Some(seq), Some(record)) = (
                obj.get("seq").and_then(J::as_u64),
                obj.remove("record").filter(J::is_object),
            ) else {
                log.unreadable_lines += 1;
                continue;
            };
            log.entries.push(Entry { seq, record });
        }
    }
    Ok(log)
}

/// Arguments of `mandate audit query`.
#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    /// The log file (e.g. STATE_DIR/audit/audit.jsonl) or a directory of `*.jsonl` logs.
    pub file: PathBuf,
    /// Only this principal (Cedar syntax, e.g. 'App::Agent::"a1"'); for lifecycle records, the
    /// agent.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only this action.
    #[arg(long)]
    pub action: Option<String>,
    /// Only this resource.
    #[arg(long)]
    pub resource: Option<String>,
    /// Only allowed or denied decisions.
    #[arg(long, value_parser = ["allow", "deny"])]
    pub decision: Option<String>,
    /// Only decisions made by this layer.
    #[arg(long, value_parser = ["lifecycle", "policy", "delegation", "quota"])]
    pub layer: Option<String>,
    /// Only records at or after this time (RFC 3339, e.g. 2025-01-31T12:00:00Z, or a date).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records before this time (RFC 3339, or a date).
    #[arg(long)]
    pub until: Option<String>,
    /// Which records: `decision` (default), `lifecycle`, `policy_change` or `all`.
    #[arg(long, default_value = "decision", value_parser = ["decision", "lifecycle", "policy_change", "all"])]
    pub kind: String,
    /// Output: `table` (default) or `json` (one record per line, with its `seq`).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

/// Arguments of `mandate audit stats`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// The log file or a directory of `*.jsonl` logs.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: crate::check::Format,
}

/// Parses an RFC 3339 timestamp (or a `YYYY-MM-DD` date, or milliseconds since the epoch) to
/// milliseconds since the Unix epoch.
pub fn parse_time(text: &str) -> Option<u64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<i64>().ok());
    let (date, rest) = match t.find(['T', 't', ' ']) {
        Some(i) => (t.get(..i)?, t.get(i + 1..)?),
        None => (t, ""),
    };
    let mut parts = date.split('-');
    let year = num(parts.next())?;
    let month = num(parts.next())?;
    let day = num(parts.next())?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day).checked_mul(86_400_000)?;
    if !rest.is_empty() {
        // hh:mm:ss[.fff](Z|±hh:mm)
        let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else {
            let i = rest.rfind(['+', '-'])?;
            let sign = if rest.get(i..i + 1)? == "-" { -1 } else { 1 };
            let off = rest.get(i + 1..)?;
            let (oh, om) = off
                .split_once(':')
                .unwrap_or((off.get(..2)?, off.get(2..)?));
            (
                rest.get(..i)?,
                sign * (num(Some(oh))? * 3_600_000 + num(Some(om))? * 60_000),
            )
        };
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
        let mut f = hms.split(':');
        let h = num(f.next())?;
        let m = num(f.next())?;
        let s = num(f.next()).unwrap_or(0);
        if f.next().is_some() || h > 23 || m > 59 || s > 60 {
            return None;
        }
        let frac_ms = if frac.is_empty() {
            0
        } else {
            if !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let digits: String = frac.chars().chain("000".chars()).take(3).collect();
            digits.parse::<i64>().ok()?
        };
        millis = millis
            .checked_add(h * 3_600_000 + m * 60_000 + s * 1000 + frac_ms)?
            .checked_sub(offset_ms)?;
    }
    u64::try_from(millis).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds as RFC 3339 text.
pub fn time_text(ms: u64) -> String {
    mandate::value::datetime_text(i64::try_from(ms).unwrap_or(i64::MAX))
}

fn canonical_uid(flag: &str, text: &str) -> Result<String, String> {
    mandate::parse_uid_str(text)
        .map(|u| u.to_string())
        .ok_or_else(|| format!("{flag}: `{text}` is not an entity uid (write it as Type::\"id\")"))
}

/// Runs `mandate audit query`.
pub fn run_query(args: &QueryArgs) -> u8 {
    let parse = || -> Result<_, String> {
        let principal = args
            .principal
            .as_deref()
            .map(|p| canonical_uid("--principal", p))
            .transpose()?;
        let action = args
            .action
            .as_deref()
            .map(|p| canonical_uid("--action", p))
            .transpose()?;
        let resource = args
            .resource
            .as_deref()
            .map(|p| canonical_uid("--resource", p))
            .transpose()?;
        let time = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|t| {
                    parse_time(t).ok_or_else(|| format!("{flag}: `{t}` is not an RFC 3339 time"))
                })
                .transpose()
        };
        Ok((
            principal,
            action,
            resource,
            time("--since", &args.since)?,
            time("--until", &args.until)?,
        ))
    };
    let (principal, action, resource, since, until) = match parse() {
        Ok(v) => v,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return 2;
        }
    };
    let log = match read_log(&args.file) {
        Ok(l) => l,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return 2;
        }
    };
    let decision_filters =
        action.is_some() || resource.is_some() || args.decision.is_some() || args.layer.is_some();
    let selected: Vec<&Entry> = log
        .entries
        .iter()
        .filter(|e| {
            let kind = e.kind();
            if args.kind != "all" && kind != args.kind {
                return false;
            }
            if decision_filters && kind != "decision" {
                return false;
            }
            let who = if kind == "lifecycle" {
                e.str("agent")
            } else {
                e.str("principal")
            };
            principal.as_deref().is_none_or(|p| who == p)
                && action.as_deref().is_none_or(|a| e.str("action") == a)
                && resource.as_deref().is_none_or(|r| e.str("resource") == r)
                && args
                    .decision
                    .as_deref()
                    .is_none_or(|d| e.str("decision") == d)
                && args.layer.as_deref().is_none_or(|l| e.str("layer") == l)
                && since.is_none_or(|s| e.at_ms() >= s)
                && until.is_none_or(|u| e.at_ms() < u)
        })
        .collect();
    if args.format == "json" {
        let mut buf = String::new();
        for e in &selected {
            let mut v = e.record.clone();
            if let Some(obj) = v.as_object_mut() {
                obj.insert("seq".into(), J::from(e.seq));
            }
            buf.push_str(&v.to_string());
            buf.push('\n');
        }
        out(&buf);
    } else {
        out(&table(&selected));
    }
    if log.unreadable_lines > 0 {
        err(&format!(
            "warning: {} lines are not audit entries and were skipped (`mandate audit verify` checks the file)\n",
            log.unreadable_lines
        ));
    }
    0
}

fn table(entries: &[&Entry]) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "SEQ".into(),
        "TIME".into(),
        "KIND".into(),
        "PRINCIPAL".into(),
        "ACTION / OP".into(),
        "RESOURCE".into(),
        "RESULT".into(),
    ]];
    for e in entries {
        let kind = e.kind();
        let row = match kind {
            "decision" => {
                let reasons = e.reasons().join(",");
                [
                    e.seq.to_string(),
                    time_text(e.at_ms()),
                    kind.to_string(),
                    e.str("principal").to_string(),
                    e.str("action").to_string(),
                    e.str("resource").to_string(),
                    format!(
                        "{} {}{}{}",
                        e.str("decision"),
                        e.str("layer"),
                        if reasons.is_empty() {
                            String::new()
                        } else {
                            format!(" [{reasons}]")
                        },
                        if e.record.get("dry_run").and_then(J::as_bool) == Some(true) {
                            " (dry run)"
                        } else {
                            ""
                        }
                    ),
                ]
            }
            "lifecycle" => [
                e.seq.to_string(),
                time_text(e.at_ms()),
                kind.to_string(),
                e.str("agent").to_string(),
                e.str("op").to_string(),
                String::new(),
                format!("by {}: {}", e.str("actor"), e.str("reason")),
            ],
            _ => [
                e.seq.to_string(),
                time_text(e.at_ms()),
                kind.to_string(),
                e.record
                    .get("change")
                    .and_then(|c| c.get("actor"))
                    .and_then(J::as_str)
                    .unwrap_or("")
                    .to_string(),
                e.str("op").to_string(),
                String::new(),
                e.str("version").to_string(),
            ],
        };
        rows.push(row);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(widths.iter()) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s.push_str(&format!("{} records\n", entries.len()));
    s
}

/// Per-agent figures.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct AgentStats {
    /// The principal.
    pub principal: String,
    /// Decisions (dry runs included).
    pub decisions: u64,
    /// Allowed.
    pub allowed: u64,
    /// Denied.
    pub denied: u64,
    /// `denied / decisions`.
    pub deny_rate: f64,
    /// Denials by the quota layer.
    pub quota_denials: u64,
    /// Denials by the lifecycle layer.
    pub lifecycle_denials: u64,
    /// Denials by the policy or delegation layer.
    pub policy_denials: u64,
    /// Lifecycle records about this agent (register, suspend, …).
    pub lifecycle_events: u64,
    /// Actions used, with counts.
    pub actions: BTreeMap<String, u64>,
    /// Things worth a look.
    pub anomalies: Vec<Anomaly>,
}

/// An anomaly and why it is flagged.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Anomaly {
    /// `high-deny-rate`, `deny-rate-above-overall`, `new-action` or `near-quota-limit`.
    pub kind: &'static str,
    /// Why.
    pub reason: String,
}

/// The thresholds of `audit stats`.
const HIGH_DENY_RATE: f64 = 0.5;
const HIGH_DENY_MIN: u64 = 20;
const ABOVE_OVERALL_MIN: u64 = 10;
const NEAR_LIMIT: f64 = 0.9;

/// Computes per-agent statistics and anomalies.
pub fn stats(log: &Log) -> (Vec<AgentStats>, u64, u64) {
    let mut agents: BTreeMap<String, AgentStats> = BTreeMap::new();
    let mut per_agent_actions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut near_limit: BTreeMap<String, Vec<(String, u64, u64)>> = BTreeMap::new();
    let (mut total, mut total_denied) = (0u64, 0u64);
    for e in &log.entries {
        match e.kind() {
            "decision" => {
                let principal = e.str("principal").to_string();
                let a = agents
                    .entry(principal.clone())
                    .or_insert_with(|| AgentStats {
                        principal: principal.clone(),
                        ..AgentStats::default()
                    });
                a.decisions += 1;
                total += 1;
                if e.allowed() {
                    a.allowed += 1;
                } else {
                    a.denied += 1;
                    total_denied += 1;
                    match e.str("layer") {
                        "quota" => a.quota_denials += 1,
                        "lifecycle" => a.lifecycle_denials += 1,
                        _ => a.policy_denials += 1,
                    }
                }
                let action = e.str("action").to_string();
                *a.actions.entry(action.clone()).or_default() += 1;
                per_agent_actions
                    .entry(principal.clone())
                    .or_default()
                    .push(action);
                for q in e
                    .record
                    .get("quota")
                    .and_then(J::as_array)
                    .into_iter()
                    .flatten()
                {
                    let field = |k: &str| q.get(k).and_then(J::as_u64).unwrap_or(0);
                    let (used, cost, limit) = (field("used"), field("cost"), field("limit"));
                    let after = used.saturating_add(cost);
                    #[expect(
                        clippy::cast_precision_loss,
                        reason = "a ratio for a threshold; quota figures are far below 2^52"
                    )]
                    let near = limit > 0 && after as f64 >= NEAR_LIMIT * limit as f64;
                    if near {
                        let quota = q.get("quota").and_then(J::as_str).unwrap_or("").to_string();
                        near_limit
                            .entry(principal.clone())
                            .or_default()
                            .push((quota, after, limit));
                    }
                }
            }
            "lifecycle" => {
                let agent = e.str("agent").to_string();
                agents
                    .entry(agent.clone())
                    .or_insert_with(|| AgentStats {
                        principal: agent,
                        ..AgentStats::default()
                    })
                    .lifecycle_events += 1;
            }
            _ => {}
        }
    }
    let overall = ratio(total_denied, total);
    for a in agents.values_mut() {
        a.deny_rate = ratio(a.denied, a.decisions);
        if a.decisions >= HIGH_DENY_MIN && a.deny_rate > HIGH_DENY_RATE {
            a.anomalies.push(Anomaly {
                kind: "high-deny-rate",
                reason: format!(
                    "{:.0}% of {} decisions denied (flagged above 50% with at least {HIGH_DENY_MIN} decisions)",
                    a.deny_rate * 100.0,
                    a.decisions
                ),
            });
        } else if a.decisions >= ABOVE_OVERALL_MIN
            && a.deny_rate >= 2.0 * overall
            && a.deny_rate - overall >= 0.25
        {
            a.anomalies.push(Anomaly {
                kind: "deny-rate-above-overall",
                reason: format!(
                    "{:.0}% of {} decisions denied, against {:.0}% overall",
                    a.deny_rate * 100.0,
                    a.decisions,
                    overall * 100.0
                ),
            });
        }
        if let Some(actions) = per_agent_actions.get(&a.principal)
            && actions.len() >= 10
        {
            let recent = actions.len().div_ceil(10);
            let split = actions.len().saturating_sub(recent);
            let (before, last) = actions.split_at(split);
            let before: BTreeSet<&String> = before.iter().collect();
            let new: BTreeSet<&String> = last.iter().filter(|x| !before.contains(x)).collect();
            for action in new {
                a.anomalies.push(Anomaly {
                    kind: "new-action",
                    reason: format!(
                        "{action} appears only in the last {recent} of {} decisions",
                        actions.len()
                    ),
                });
            }
        }
        if let Some(hits) = near_limit.get(&a.principal) {
            let mut per_quota: BTreeMap<&str, (usize, u64, u64)> = BTreeMap::new();
            for (quota, after, limit) in hits {
                let slot = per_quota.entry(quota.as_str()).or_insert((0, 0, *limit));
                slot.0 += 1;
                slot.1 = slot.1.max(*after);
            }
            for (quota, (count, peak, limit)) in per_quota {
                a.anomalies.push(Anomaly {
                    kind: "near-quota-limit",
                    reason: format!(
                        "{count} decisions at or above 90% of quota `{quota}` (peak {peak}/{limit})"
                    ),
                });
            }
        }
    }
    (agents.into_values().collect(), total, total_denied)
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        #[expect(
            clippy::cast_precision_loss,
            reason = "a rate; counts are far below 2^52"
        )]
        let r = n as f64 / d as f64;
        r
    }
}

/// Runs `mandate audit stats`.
pub fn run_stats(args: &StatsArgs) -> u8 {
    let log = match read_log(&args.file) {
        Ok(l) => l,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return 2;
        }
    };
    let (agents, total, denied) = stats(&log);
    let lifecycle = log
        .entries
        .iter()
        .filter(|e| e.kind() == "lifecycle")
        .count();
    let policy_changes = log
        .entries
        .iter()
        .filter(|e| e.kind() == "policy_change")
        .count();
    match args.format {
        crate::check::Format::Json => out(&format!(
            "{}\n",
            serde_json::json!({
                "decisions": total,
                "denied": denied,
                "deny_rate": ratio(denied, total),
                "lifecycle_events": lifecycle,
                "policy_changes": policy_changes,
                "agents": agents,
                "unreadable_lines": log.unreadable_lines,
            })
        )),
        crate::check::Format::Human => {
            let mut s = format!(
                "{total} decisions ({denied} denied, {:.1}%), {lifecycle} lifecycle events, {policy_changes} policy changes\n\n",
                ratio(denied, total) * 100.0
            );
            let header = [
                "PRINCIPAL",
                "DECISIONS",
                "DENY RATE",
                "POLICY DENIALS",
                "QUOTA DENIALS",
                "LIFECYCLE DENIALS",
                "LIFECYCLE EVENTS",
            ];
            let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
            for a in &agents {
                rows.push(vec![
                    a.principal.clone(),
                    a.decisions.to_string(),
                    format!("{:.1}%", a.deny_rate * 100.0),
                    a.policy_denials.to_string(),
                    a.quota_denials.to_string(),
                    a.lifecycle_denials.to_string(),
                    a.lifecycle_events.to_string(),
                ]);
            }
            let mut widths = vec![0usize; header.len()];
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            for row in &rows {
                let mut line = String::new();
                for (cell, w) in row.iter().zip(&widths) {
                    line.push_str(&format!("{cell:<w$}  "));
                }
                s.push_str(line.trim_end());
                s.push('\n');
            }
            let flagged: Vec<&AgentStats> =
                agents.iter().filter(|a| !a.anomalies.is_empty()).collect();
            s.push('\n');
            if flagged.is_empty() {
                s.push_str("no anomalies\n");
            } else {
                s.push_str("anomalies:\n");
                for a in flagged {
                    for an in &a.anomalies {
                        s.push_str(&format!("  {} {}: {}\n", a.principal, an.kind, an.reason));
                    }
                }
            }
            out(&s);
        }
    }
    if log.unreadable_lines > 0 {
        err(&format!(
            "warning: {} lines are not audit entries and were skipped\n",
            log.unreadable_lines
        ));
    }
    0
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "test code")]
    use super::parse_time;

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("2000-03-01T00:00:00.5Z"), Some(951_868_800_500));
        assert_eq!(
            parse_time("2000-03-01T01:00:00+01:00").unwrap(),
            951_868_800_000
        );
        assert_eq!(parse_time("12345"), Some(12345));
        assert_eq!(parse_time("2000-13-01"), None);
        assert_eq!(parse_time("yesterday"), None);
    }
}
