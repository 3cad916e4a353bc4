//! Audit records and the sink interface. Every decision, agent lifecycle change and policy-set
//! change produces one record; the engine hands it to its sink.

use crate::engine::{Decision, DecisionError, Layer, Request};
use crate::version::{ChangeRef, PolicyVersion};
use mandate_agents::Agent;
use mandate_quota::ChargeOutcome;

/// The engine version written into every record.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One audit record.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditRecord {
    /// A decision.
    Decision {
        /// The decision id.
        decision_id: String,
        /// When (ms since the Unix epoch).
        at_ms: u64,
        /// The acting principal.
        principal: String,
        /// The delegation chain, nearest first.
        on_behalf_of: Vec<String>,
        /// The action.
        action: String,
        /// The resource.
        resource: String,
        /// The context, in Cedar's JSON encoding.
        context: serde_json::Value,
        /// `allow` or `deny`.
        decision: &'static str,
        /// The deciding layer.
        layer: Layer,
        /// Determining policies or reasons.
        reasons: Vec<String>,
        /// Errors.
        errors: Vec<DecisionError>,
        /// The principal that failed a lifecycle or delegation check.
        denied_principal: Option<String>,
        /// Quota outcomes.
        quota: Vec<ChargeOutcome>,
        /// Whether nothing was charged.
        dry_run: bool,
        /// The policy version.
        policy_version: String,
        /// Mandate's version.
        engine_version: &'static str,
    },
    /// An agent lifecycle change.
    Lifecycle {
        /// When.
        at_ms: u64,
        /// `register`, `update`, `suspend`, `resume` or `revoke`.
        op: String,
        /// The agent's uid.
        agent: String,
        /// Who did it.
        actor: String,
        /// Why.
        reason: String,
        /// Mandate's version.
        engine_version: &'static str,
    },
    /// A policy-set change: `load`, `reload`, `rollback` or `failed_reload`.
    PolicyChange {
        /// When.
        at_ms: u64,
        /// What happened.
        op: String,
        /// The version now running (for `failed_reload`, the one that stays).
        version: Option<String>,
        /// The version it replaced.
        previous: Option<String>,
        /// Who, why, and the change reference (commit, approval).
        change: ChangeRef,
        /// `(policies, quotas)`.
        counts: Option<(usize, usize)>,
        /// For a failed reload, the rendered diagnostics.
        diagnostics: Option<String>,
        /// Mandate's version.
        engine_version: &'static str,
    },
}

impl AuditRecord {
    /// The record's canonical JSON (what the audit log hashes and writes): equal to the canonical
    /// form of its `serde_json::Value`, but a decision record (the common one) is written field
    /// by field, without building that value.
    ///
    /// # Errors
    /// A context nested past the audit record's depth limit.
    pub fn canonical(&self) -> Result<Vec<u8>, String> {
        use mandate_audit::encode;
        let AuditRecord::Decision {
            decision_id,
            at_ms,
            principal,
            on_behalf_of,
            action,
            resource,
            context,
            decision,
            layer,
            reasons,
            errors,
            denied_principal,
            quota,
            dry_run,
            policy_version,
            engine_version,
        } = self
        else {
            let value = serde_json::to_value(self).map_err(|e| e.to_string())?;
            return mandate_audit::canonical_json(&value);
        };
        let strings = |out: &mut Vec<u8>, items: &[String]| {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode::string(out, item);
            }
            out.push(b']');
        };
        let nested = |out: &mut Vec<u8>, v: &dyn erased::Serialize| -> Result<(), String> {
            let value = v.to_value()?;
            encode::value(out, &value, 1)
        };
        let mut out = Vec::with_capacity(512);
        // Keys in byte order.
        out.extend_from_slice(b"{\"action\":");
        encode::string(&mut out, action);
        out.extend_from_slice(b",\"at_ms\":");
        encode::u64(&mut out, *at_ms);
        out.extend_from_slice(b",\"context\":");
        encode::value(&mut out, context, 1)?;
        out.extend_from_slice(b",\"decision\":");
        encode::string(&mut out, decision);
        out.extend_from_slice(b",\"decision_id\":");
        encode::string(&mut out, decision_id);
        out.extend_from_slice(b",\"denied_principal\":");
        match denied_principal {
            Some(p) => encode::string(&mut out, p),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"dry_run\":");
        out.extend_from_slice(if *dry_run { b"true" } else { b"false" });
        out.extend_from_slice(b",\"engine_version\":");
        encode::string(&mut out, engine_version);
        out.extend_from_slice(b",\"errors\":");
        if errors.is_empty() {
            out.extend_from_slice(b"[]");
        } else {
            nested(&mut out, errors)?;
        }
        out.extend_from_slice(b",\"kind\":\"decision\",\"layer\":");
        nested(&mut out, layer)?;
        out.extend_from_slice(b",\"on_behalf_of\":");
        strings(&mut out, on_behalf_of);
        out.extend_from_slice(b",\"policy_version\":");
        encode::string(&mut out, policy_version);
        out.extend_from_slice(b",\"principal\":");
        encode::string(&mut out, principal);
        out.extend_from_slice(b",\"quota\":");
        if quota.is_empty() {
            out.extend_from_slice(b"[]");
        } else {
            nested(&mut out, quota)?;
        }
        out.extend_from_slice(b",\"reasons\":");
        strings(&mut out, reasons);
        out.extend_from_slice(b",\"resource\":");
        encode::string(&mut out, resource);
        out.push(b'}');
        Ok(out)
    }

    pub(crate) fn decision(request: &Request, d: &Decision) -> Self {
        AuditRecord::Decision {
            decision_id: d.id.clone(),
            at_ms: d.at_ms,
            principal: request.principal.to_string(),
            on_behalf_of: request
                .on_behalf_of
                .iter()
                .map(ToString::to_string)
                .collect(),
            action: request.action.to_string(),
            resource: request.resource.to_string(),
            context: request.context.to_json(),
            decision: d.decision_str(),
            layer: d.layer,
            reasons: d.reasons.iter().map(ToString::to_string).collect(),
            errors: d.errors.clone(),
            denied_principal: d.denied_principal.clone(),
            quota: d.quota.clone(),
            dry_run: d.dry_run,
            policy_version: d.policy_version.to_string(),
            engine_version: ENGINE_VERSION,
        }
    }

    pub(crate) fn lifecycle(
        op: &str,
        agent: &Agent,
        actor: &str,
        reason: &str,
        at_ms: u64,
    ) -> Self {
        AuditRecord::Lifecycle {
            at_ms,
            op: op.to_string(),
            agent: crate::agents::agent_uid(agent).to_string(),
            actor: actor.to_string(),
            reason: reason.to_string(),
            engine_version: ENGINE_VERSION,
        }
    }

    pub(crate) fn policy_change(
        op: &str,
        version: &PolicyVersion,
        previous: Option<&PolicyVersion>,
    ) -> Self {
        AuditRecord::PolicyChange {
            at_ms: version.loaded_ms,
            op: op.to_string(),
            version: Some(version.id.to_string()),
            previous: previous.map(|p| p.id.to_string()),
            change: version.change.clone(),
            counts: Some(version.counts),
            diagnostics: None,
            engine_version: ENGINE_VERSION,
        }
    }

    pub(crate) fn policy_failure(change: &ChangeRef, at_ms: u64, diagnostics: &str) -> Self {
        AuditRecord::PolicyChange {
            at_ms,
            op: "failed_reload".to_string(),
            version: None,
            previous: None,
            change: change.clone(),
            counts: None,
            diagnostics: Some(diagnostics.to_string()),
            engine_version: ENGINE_VERSION,
        }
    }

    /// Replaces who/why/when of a policy change (a rollback is made by its caller, not by the
    /// version's original author).
    pub(crate) fn set_change(&mut self, new: &ChangeRef, now: u64) {
        if let AuditRecord::PolicyChange { change, at_ms, .. } = self {
            *change = new.clone();
            *at_ms = now;
        }
    }
}

/// Where audit records go.
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Whether records are wanted at all (a disabled sink costs nothing per decision).
    fn enabled(&self) -> bool {
        true
    }
    /// Appends one record.
    ///
    /// # Errors
    /// The record could not be written.
    fn append(&self, record: &AuditRecord) -> Result<(), String>;
    /// Appends one record the engine no longer needs (the engine calls this one). The default
    /// calls `append`; a sink that hands records to another thread overrides it to avoid a copy.
    ///
    /// # Errors
    /// The record could not be written (or, for a queueing sink, accepted).
    fn append_owned(&self, record: AuditRecord) -> Result<(), String> {
        self.append(&record)
    }
    /// Appends the record of a decision (the engine calls this one for decisions). The default
    /// builds the `AuditRecord` here and calls `append_owned`; a sink that writes on another
    /// thread overrides it to build the record there, off the decision path.
    ///
    /// # Errors
    /// As `append_owned`.
    fn append_decision(&self, request: &Request, decision: &Decision) -> Result<(), String> {
        self.append_owned(AuditRecord::decision(request, decision))
    }
    /// Records the sink accepted without error but could not write later (a queueing sink in
    /// buffered mode whose write failed). The engine adds them to `Engine::audit_failures`.
    fn lost_records(&self) -> u64 {
        0
    }
    /// Waits until every record accepted so far is written and synced.
    ///
    /// # Errors
    /// A write or sync failed.
    fn flush(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A sink that keeps nothing: the default when no audit trail is configured.
#[derive(Debug, Default)]
pub struct NullSink;

impl AuditSink for NullSink {
    fn enabled(&self) -> bool {
        false
    }
    fn append(&self, _record: &AuditRecord) -> Result<(), String> {
        Ok(())
    }
}

/// A sink that keeps records in memory (tests, the demo).
#[derive(Debug, Default)]
pub struct MemorySink {
    records: std::sync::Mutex<Vec<AuditRecord>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        MemorySink::default()
    }
    /// A copy of the records so far.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl AuditSink for MemorySink {
    fn append(&self, record: &AuditRecord) -> Result<(), String> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(record.clone());
        Ok(())
    }
}

/// The default durable sink: a hash-chained, checkpointed JSON Lines file
/// (`mandate_audit::AuditLog`; format and verification in the `mandate-audit` crate and
/// `docs/audit.md`), written by a writer thread behind a bounded queue
/// (`mandate_audit::AuditWriter`): with `Durability::Fsync` (the default, *durable*) a decision
/// returns once its record is written and synced, concurrent decisions sharing syncs (group
/// commit); with `Durability::Buffered` it returns once the record is queued, and a full queue
/// makes it wait (back-pressure), never drops. Records are serialized and masked on the writer
/// thread. Context fields named in `mask` are replaced by their SHA-256 (`Hash`) or
/// `"[redacted]"` (`Redact`) before the record is written.
#[derive(Debug)]
pub struct FileSink {
    writer: mandate_audit::AuditWriter,
    mask: std::sync::Arc<[String]>,
    mode: mandate_audit::Mask,
}

impl FileSink {
    /// Opens (or creates) the log at `path`, verifying what is already there, and starts its
    /// writer thread.
    ///
    /// # Errors
    /// An unreadable, locked or damaged log.
    pub fn open(
        path: &std::path::Path,
        options: mandate_audit::AuditOptions,
    ) -> Result<Self, mandate_audit::AuditError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| mandate_audit::AuditError::Io {
                path: dir.to_path_buf(),
                action: "create the directory of",
                source,
            })?;
        }
        Ok(FileSink {
            writer: mandate_audit::AuditWriter::open(path, options)?,
            mask: std::sync::Arc::from(Vec::new()),
            mode: mandate_audit::Mask::Hash,
        })
    }

    /// Masks these dotted paths of each record (e.g. `context.api_key`) before writing.
    #[must_use]
    pub fn with_mask(mut self, paths: Vec<String>, mode: mandate_audit::Mask) -> Self {
        self.mask = std::sync::Arc::from(paths);
        self.mode = mode;
        self
    }

    /// The underlying log (head, length, public key).
    pub fn log(&self) -> &mandate_audit::AuditLog {
        self.writer.log()
    }

    /// The writer thread in front of the log (queue depth, counters, flush, checkpoint).
    pub fn writer(&self) -> &mandate_audit::AuditWriter {
        &self.writer
    }
}

impl AuditSink for FileSink {
    fn append(&self, record: &AuditRecord) -> Result<(), String> {
        self.append_owned(record.clone())
    }

    fn append_decision(&self, request: &Request, decision: &Decision) -> Result<(), String> {
        if !self.mask.is_empty() {
            return self.append_owned(AuditRecord::decision(request, decision));
        }
        // The request's values are shared (`Arc`), so the copies are cheap; the record is built
        // and encoded on the writer thread, and freed there too.
        let request = request.clone();
        let decision = decision.clone();
        self.writer
            .append_canonical_with(Box::new(move || {
                AuditRecord::decision(&request, &decision).canonical()
            }))
            .map_err(|e| e.to_string())
    }

    fn append_owned(&self, record: AuditRecord) -> Result<(), String> {
        let mask = std::sync::Arc::clone(&self.mask);
        let mode = self.mode;
        if self.mask.is_empty() {
            return self
                .writer
                .append_canonical_with(Box::new(move || record.canonical()))
                .map_err(|e| e.to_string());
        }
        self.writer
            .append_with(Box::new(move || {
                let mut value = serde_json::to_value(&record).map_err(|e| e.to_string())?;
                if !mask.is_empty() {
                    let paths: Vec<&str> = mask.iter().map(String::as_str).collect();
                    mandate_audit::mask(&mut value, &paths, mode);
                }
                Ok(value)
            }))
            .map_err(|e| e.to_string())
    }

    fn lost_records(&self) -> u64 {
        self.writer.lost()
    }

    fn flush(&self) -> Result<(), String> {
        self.writer.flush().map_err(|e| e.to_string())
    }
}

/// `serde_json::to_value` behind a trait object, for the few nested fields of a record.
mod erased {
    pub(super) trait Serialize {
        fn to_value(&self) -> Result<serde_json::Value, String>;
    }
    impl<T: serde::Serialize> Serialize for T {
        fn to_value(&self) -> Result<serde_json::Value, String> {
            serde_json::to_value(self).map_err(|e| e.to_string())
        }
    }
}
