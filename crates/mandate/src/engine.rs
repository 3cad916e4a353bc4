//! The `Engine`: Mandate's agent-governance decision path.
//!
//! A decision runs four layers in order, and the first that denies decides:
//! 1. **lifecycle**: the principal and every link of its delegation chain that is a registered
//!    agent must be active (not suspended, revoked or expired);
//! 2. **policy**: Cedar-exact evaluation of the policy set for the principal;
//! 3. **delegation**: the same request must be allowed for every principal the agent acts for;
//! 4. **quota**: every applicable quota must have room for the request's cost; then all are
//!    charged at once.
//!
//! INVARIANT: a decision reads exactly one policy version (one `ArcSwap` load) and records its id,
//! so it can be replayed against that version.

use crate::agents::{AgentEntities, agent_json};
use crate::audit::{AuditRecord, AuditSink, NullSink};
use crate::load::FileDiagnostics;
use crate::version::{
    ChangeRef, CompiledQuota, PolicySource, PolicyVersion, SchemaSource, build_version,
    placeholder_uid,
};
use arc_swap::ArcSwap;
use mandate_agents::{Agent, AgentSpec, AgentState, MemoryRegistry, Registry, RegistryError};
use mandate_eval::authorizer::{Outcome, conditions_hold, scope_applies};
use mandate_eval::eval::{Env, eval};
use mandate_eval::{ErrorMode, Uid, Value};
use mandate_quota::{
    BucketStatus, Charge, ChargeOutcome, Clock, MemoryStore, QuotaStore, Settlement, StoreError,
    SystemClock,
};
use smallvec::SmallVec;
use smol_str::SmolStr;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Largest policy set an engine accepts by default (`Limits::max_policies`).
pub const MAX_POLICIES: usize = 1_000_000;

/// What to do when the quota store fails (unreachable, timeout, protocol error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreFailureMode {
    /// Deny the request (fail closed). The default.
    #[default]
    Deny,
    /// Allow the request without charging; the failure is still reported on the decision.
    Allow,
}

/// What to do when an audit record cannot be written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditFailureMode {
    /// Deny the request: no allow without its record (fail closed). The default.
    #[default]
    Deny,
    /// Return the decision anyway, with the failure on it and counted.
    BestEffort,
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How erroring policies count (`DenyOnForbidError` by default).
    pub error_mode: ErrorMode,
    /// Size and count limits (`Limits::default()` by default); the longest `on_behalf_of`
    /// chain accepted is `limits.max_delegation_depth` (default 4).
    pub limits: crate::Limits,
    /// Quota-store failure handling (default deny).
    pub on_store_failure: StoreFailureMode,
    /// Policy versions kept for rollback, the running one included (default 10).
    pub keep_versions: usize,
    /// What a decision does when its audit record cannot be written (default: deny).
    pub on_audit_failure: AuditFailureMode,
    /// Type-check policies against the schema on load and reload (default true; a set with type
    /// errors is rejected). Without a schema there is nothing to check.
    pub validate: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            error_mode: ErrorMode::DenyOnForbidError,
            limits: crate::Limits::default(),
            on_store_failure: StoreFailureMode::Deny,
            keep_versions: 10,
            validate: true,
            on_audit_failure: AuditFailureMode::Deny,
        }
    }
}

/// A request to the engine.
#[derive(Clone, Debug)]
pub struct Request {
    /// Who acts (usually an agent).
    pub principal: Uid,
    /// The action.
    pub action: Uid,
    /// The resource.
    pub resource: Uid,
    /// The context record.
    pub context: Value,
    /// The principals the agent acts for, nearest first (a person, or an agent that delegated).
    pub on_behalf_of: Vec<Uid>,
}

impl Request {
    /// A request with an empty context and no delegation.
    pub fn new(principal: Uid, action: Uid, resource: Uid) -> Self {
        Request {
            principal,
            action,
            resource,
            context: Value::empty_record(),
            on_behalf_of: Vec::new(),
        }
    }

    /// Sets the context.
    #[must_use]
    pub fn with_context(mut self, context: Value) -> Self {
        self.context = context;
        self
    }

    /// Sets the delegation chain.
    #[must_use]
    pub fn on_behalf_of(mut self, chain: Vec<Uid>) -> Self {
        self.on_behalf_of = chain;
        self
    }
}

/// The layer that decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The agent lifecycle gate.
    Lifecycle,
    /// Delegation: a principal of the `on_behalf_of` chain.
    Delegation,
    /// The policies.
    Policy,
    /// A quota.
    Quota,
}

impl Layer {
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Lifecycle => "lifecycle",
            Layer::Delegation => "delegation",
            Layer::Policy => "policy",
            Layer::Quota => "quota",
        }
    }
}

/// An error reported on a decision.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DecisionError {
    /// The policy or quota id, or the failing part: `quota-store`, `registry`, `entities`,
    /// `audit`, `delegation`, `internal` (a panic inside the decision: a quota store, registry,
    /// audit sink or clock that panicked; the decision is a deny).
    pub id: String,
    /// What went wrong.
    pub message: String,
}

/// The engine's answer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Decision {
    /// Unique decision id (also the reservation id for `settle` and `refund`).
    pub id: String,
    /// Whether the request is allowed.
    pub allowed: bool,
    /// The layer that decided.
    pub layer: Layer,
    /// The determining policies (satisfied permits for an allow, satisfied forbids for a deny),
    /// `lifecycle:<state>` for a lifecycle denial, or the refusing quota ids.
    pub reasons: Vec<SmolStr>,
    /// Errors met on the way.
    pub errors: Vec<DecisionError>,
    /// For a delegation or lifecycle denial, the principal that failed.
    pub denied_principal: Option<String>,
    /// Every applicable quota, with its bucket, usage and `retry_after_ms` when refused.
    pub quota: Vec<ChargeOutcome>,
    /// Whether this was a dry run (nothing charged).
    pub dry_run: bool,
    /// The policy version that decided.
    pub policy_version: Arc<str>,
    /// When (milliseconds since the Unix epoch).
    pub at_ms: u64,
}

impl Decision {
    /// `allow` or `deny`.
    pub fn decision_str(&self) -> &'static str {
        if self.allowed { "allow" } else { "deny" }
    }
}

/// Options for one decision.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuthorizeOptions {
    /// Report what would happen without charging quotas.
    pub dry_run: bool,
    /// Remember the quota charges under the decision id so `settle` or `refund` can adjust them
    /// later (for costs known only after the action).
    pub reserve: bool,
}

/// An engine that could not be built or changed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Policies, schema or entities with errors: every diagnostic.
    #[error("{}", render_files(.0))]
    Load(Vec<FileDiagnostics>),
    /// The quota store failed.
    #[error("quota store: {0}")]
    Store(#[from] StoreError),
    /// The agent registry refused or failed.
    #[error("agent registry: {0}")]
    Registry(#[from] RegistryError),
    /// An agent that does not fit the schema, or an invalid argument.
    #[error("{0}")]
    Invalid(String),
    /// `rollback` with no older version kept.
    #[error("no earlier policy version to roll back to")]
    NoPreviousVersion,
}

fn render_files(files: &[FileDiagnostics]) -> String {
    files
        .iter()
        .map(FileDiagnostics::render)
        .collect::<Vec<_>>()
        .join("")
}

/// Builds an [`Engine`].
#[derive(Debug, Default)]
pub struct EngineBuilder {
    source: Option<PolicySource>,
    schema: Option<SchemaSource>,
    entities_path: Option<PathBuf>,
    entities_text: Option<String>,
    quota_store: Option<Arc<dyn QuotaStore>>,
    registry: Option<Arc<dyn Registry>>,
    audit: Option<Arc<dyn AuditSink>>,
    clock: Option<Arc<dyn Clock>>,
    state_dir: Option<PathBuf>,
    audit_path: Option<PathBuf>,
    options: EngineOptions,
    change: ChangeRef,
    metrics: bool,
}

impl EngineBuilder {
    /// Policies from files and directories.
    #[must_use]
    pub fn policy_paths(mut self, paths: Vec<PathBuf>) -> Self {
        self.source = Some(PolicySource::Paths(paths));
        self
    }
    /// Policies from one directory.
    #[must_use]
    pub fn policy_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.policy_paths(vec![dir.into()])
    }
    /// Policies from texts `(name, text)`.
    #[must_use]
    pub fn policy_texts(mut self, texts: Vec<(String, String)>) -> Self {
        self.source = Some(PolicySource::Texts(texts));
        self
    }
    /// A schema file.
    #[must_use]
    pub fn schema_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.schema = Some(SchemaSource::Path(path.into()));
        self
    }
    /// A schema text (Cedar syntax, or JSON with `json`).
    #[must_use]
    pub fn schema_text(mut self, text: impl Into<String>, json: bool) -> Self {
        self.schema = Some(SchemaSource::Text {
            text: text.into(),
            json,
        });
        self
    }
    /// An entity file (Cedar entity JSON).
    #[must_use]
    pub fn entities_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.entities_path = Some(path.into());
        self
    }
    /// Entity JSON text.
    #[must_use]
    pub fn entities_json(mut self, text: impl Into<String>) -> Self {
        self.entities_text = Some(text.into());
        self
    }
    /// The quota store (default: in memory, or persistent in the state directory).
    #[must_use]
    pub fn quota_store(mut self, store: Arc<dyn QuotaStore>) -> Self {
        self.quota_store = Some(store);
        self
    }
    /// The agent registry (default: in memory, or persistent in the state directory).
    #[must_use]
    pub fn registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry = Some(registry);
        self
    }
    /// An audit log file (`FileSink` with default options: every record synced, a checkpoint
    /// every 1,000 records, unsigned). For signing and masking, build a `FileSink` and pass it to
    /// `audit`.
    #[must_use]
    pub fn audit_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.audit_path = Some(path.into());
        self
    }
    /// The audit sink (default: none, or `DIR/audit/audit.jsonl` with a state directory).
    #[must_use]
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }
    /// Emit decision metrics through the `metrics` facade (`mandate_decisions_total` by agent,
    /// outcome and layer; `mandate_quota_utilisation` and `mandate_quota_refusals_total` by
    /// quota); default off, since labelling by agent costs an allocation per decision. The audit
    /// writer's metrics are always emitted. See `docs/audit.md`.
    #[must_use]
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }
    /// The clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// A state directory for the embedded defaults: the quota journal in `quota/`, the agent
    /// registry in `agents/`, both crash-safe, and (unless another sink is given) the audit log
    /// `audit/audit.jsonl`.
    #[must_use]
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }
    /// Settings.
    #[must_use]
    pub fn options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }
    /// Size and count limits (default `Limits::default()`); replaces `options.limits`.
    #[must_use]
    pub fn limits(mut self, limits: crate::Limits) -> Self {
        self.options.limits = limits;
        self
    }
    /// Who loads the first version, and under which reference.
    #[must_use]
    pub fn change(mut self, change: ChangeRef) -> Self {
        self.change = change;
        self
    }

    /// Loads everything and builds the engine.
    ///
    /// # Errors
    /// Policies, schema or entities with errors; a state directory that cannot be opened.
    pub fn build(self) -> Result<Engine, EngineError> {
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let now = clock.now_ms();
        let source = self
            .source
            .unwrap_or_else(|| PolicySource::Texts(Vec::new()));
        let limits = self.options.limits;
        let version = build_version(
            source,
            self.schema,
            self.options.validate,
            &limits,
            self.change.clone(),
            now,
        )
        .map_err(EngineError::Load)?;
        let entities_json = match (&self.entities_path, &self.entities_text) {
            (Some(p), _) => {
                let text = crate::load::read_text(p).map_err(|d| EngineError::Load(vec![d]))?;
                Some((p.display().to_string(), text))
            }
            (None, Some(t)) => Some(("<entities>".to_string(), t.clone())),
            (None, None) => None,
        };
        let base = match &entities_json {
            Some((name, text)) => Some(Arc::new(
                mandate_eval::entities::parse_json_bounded(text)
                    .and_then(|json| {
                        crate::load::check_entity_limits(&json, &limits)?;
                        Ok(json)
                    })
                    .map_err(|e| {
                        EngineError::Load(vec![FileDiagnostics {
                            source: mandate_syntax::Source::new(name.clone(), text.clone()),
                            diagnostics: vec![crate::load::json_diag(
                                "MD0050",
                                "invalid entity JSON",
                                &e,
                            )],
                        }])
                    })?,
            )),
            None => None,
        };
        if let Some(dir) = &self.state_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                EngineError::Invalid(format!(
                    "cannot create the state directory `{}`: {e}",
                    dir.display()
                ))
            })?;
        }
        let store_shares_clock = self.quota_store.is_none();
        let quota_store: Arc<dyn QuotaStore> = match (self.quota_store, &self.state_dir) {
            (Some(s), _) => s,
            (None, Some(dir)) => Arc::new(MemoryStore::open(
                &dir.join("quota"),
                Arc::clone(&clock),
                mandate_quota::MemoryOptions::default(),
            )?),
            (None, None) => Arc::new(MemoryStore::new(Arc::clone(&clock))),
        };
        let registry: Arc<dyn Registry> = match (self.registry, &self.state_dir) {
            (Some(r), _) => r,
            (None, Some(dir)) => Arc::new(mandate_agents::FileRegistry::open(&dir.join("agents"))?),
            (None, None) => Arc::new(MemoryRegistry::new()),
        };
        let audit: Arc<dyn AuditSink> = match (self.audit, self.audit_path, &self.state_dir) {
            (Some(a), _, _) => a,
            (None, Some(path), _) => Arc::new(open_audit(&path, &limits)?),
            (None, None, Some(dir)) => {
                Arc::new(open_audit(&dir.join("audit").join("audit.jsonl"), &limits)?)
            }
            (None, None, None) => Arc::new(NullSink),
        };
        let agent_entities = AgentEntities::new(base, limits.json_limits());
        // Fail now, not on the first request, when the entities do not fit the schema.
        agent_entities
            .current(&version, registry.as_ref())
            .map_err(|e| EngineError::Load(vec![FileDiagnostics::bare("<entities>", e)]))?;
        let version = Arc::new(version);
        let inner = Inner {
            current: ArcSwap::new(Arc::clone(&version)),
            history: Mutex::new(VecDeque::from([Arc::clone(&version)])),
            reload_lock: Mutex::new(()),
            agent_entities,
            quota_store,
            store_shares_clock,
            registry,
            audit,
            clock,
            options: self.options,
            id_prefix: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
            seq: AtomicU64::new(0),
            audit_failures: AtomicU64::new(0),
            metrics: self.metrics,
        };
        let engine = Engine {
            inner: Arc::new(inner),
        };
        engine.audit_policy_change("load", &version, None);
        Ok(engine)
    }
}

struct Inner {
    current: ArcSwap<PolicyVersion>,
    /// Oldest first; the last is the running version.
    history: Mutex<VecDeque<Arc<PolicyVersion>>>,
    /// Serializes reloads and rollbacks (decisions never take it).
    reload_lock: Mutex<()>,
    agent_entities: AgentEntities,
    quota_store: Arc<dyn QuotaStore>,
    /// Whether the engine built the quota store on its own clock, so a decision can hand the
    /// store the time it already read.
    store_shares_clock: bool,
    registry: Arc<dyn Registry>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    options: EngineOptions,
    id_prefix: u64,
    seq: AtomicU64,
    audit_failures: AtomicU64,
    metrics: bool,
}

/// Mandate's decision engine. Cheap to clone (one `Arc`) and safe to share across threads.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("version", &self.inner.current.load().id)
            .field("quota_store", &self.inner.quota_store.name())
            .field("registry", &self.inner.registry.name())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Engine {
    /// Starts building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The running policy version.
    pub fn version(&self) -> Arc<PolicyVersion> {
        self.inner.current.load_full()
    }

    /// The kept versions, oldest first; the last is the running one.
    pub fn versions(&self) -> Vec<Arc<PolicyVersion>> {
        lock(&self.inner.history).iter().cloned().collect()
    }

    /// The clock's current time.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The settings.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }

    /// The engine's limits.
    pub fn limits(&self) -> &crate::Limits {
        &self.inner.options.limits
    }

    /// Checks a request given in parts (the bindings' typed path, with no JSON text to measure
    /// against `max_request_bytes`) against the limits that apply to its values:
    /// `max_string_bytes` for the entity ids and the context's strings and keys,
    /// `max_set_elements` for the context's arrays.
    ///
    /// # Errors
    /// The first value over its limit, with its JSON path (`$.principal.id`, `$.context.…`).
    pub fn check_request_parts(
        &self,
        uids: [(&Uid, &str); 3],
        context: Option<&serde_json::Value>,
    ) -> Result<(), crate::JsonError> {
        let limits = self.inner.options.limits.json_limits();
        for (uid, what) in uids {
            if uid.id.len() > limits.max_string_bytes {
                return Err(crate::JsonError::new(
                    format!("$.{what}.id"),
                    format!(
                        "string too long (bytes): {} is more than the limit `max_string_bytes` = {}",
                        uid.id.len(),
                        limits.max_string_bytes
                    ),
                )
                .help("reduce the input, or raise `max_string_bytes` (see docs/security.md)"));
            }
        }
        match context {
            Some(c) => mandate_eval::entities::check_json_sizes(c, "$.context", &limits),
            None => Ok(()),
        }
    }

    /// The quota store's name (`memory`, `redis`).
    pub fn quota_store_name(&self) -> &'static str {
        self.inner.quota_store.name()
    }

    fn next_id(&self) -> String {
        let n = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        // 32 lowercase hex digits, written without the formatter (this runs on every decision).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(32);
        for word in [self.inner.id_prefix, n] {
            for shift in (0..16).rev() {
                let digit = usize::try_from((word >> (shift * 4)) & 0xf).unwrap_or(0);
                out.push(char::from(HEX.get(digit).copied().unwrap_or(b'0')));
            }
        }
        out
    }

    /// Reads a request in the JSON format of `mandate authorize` (with `on_behalf_of`), using the
    /// running version's schema.
    ///
    /// # Errors
    /// Malformed JSON or a request the schema does not allow.
    pub fn request_from_json(&self, text: &str) -> Result<Request, mandate_syntax::Diagnostic> {
        let limits = &self.inner.options.limits;
        if text.len() > limits.max_request_bytes {
            return Err(crate::limits::exceeded(
                "MD0060",
                "request JSON too large (bytes)",
                "max_request_bytes",
                text.len(),
                limits.max_request_bytes,
            ));
        }
        let version = self.inner.current.load();
        let json = mandate_eval::entities::parse_json_bounded(text)
            .and_then(|json| {
                mandate_eval::entities::check_json_sizes(&json, "$", &limits.json_limits())?;
                Ok(json)
            })
            .map_err(|e| crate::load::json_diag("MD0060", "invalid request", &e))?;
        let parsed = mandate_eval::request::request_from_json(&json, version.schema.as_deref())
            .map_err(|e| crate::load::json_diag("MD0060", "invalid request", &e))?;
        Ok(Request {
            principal: parsed.request.principal,
            action: parsed.request.action,
            resource: parsed.request.resource,
            context: parsed.request.context,
            on_behalf_of: parsed.on_behalf_of,
        })
    }

    /// Decides a request, charging quotas.
    pub fn authorize(&self, request: &Request) -> Decision {
        self.authorize_with(request, AuthorizeOptions::default())
    }

    /// Decides a request with options (dry run, reservation).
    ///
    /// Never panics because a quota store, registry, audit sink or clock panicked: such a
    /// panic (or any other inside the decision) becomes a deny with an `internal` error, and the
    /// engine goes on deciding (RELIABILITY R9).
    pub fn authorize_with(&self, request: &Request, options: AuthorizeOptions) -> Decision {
        let decided = catch_unwind(AssertUnwindSafe(|| self.decide(request, options)));
        let mut decision = decided.unwrap_or_else(|panic| self.internal_error(options, &*panic));
        let audited = catch_unwind(AssertUnwindSafe(|| {
            self.write_decision_audit(request, &decision)
        }))
        .unwrap_or_else(|panic| {
            self.inner.audit_failures.fetch_add(1, Ordering::Relaxed);
            Err(format!(
                "the audit sink panicked: {}",
                panic_message(&*panic)
            ))
        });
        if let Err(e) = audited {
            decision.errors.push(DecisionError {
                id: "audit".into(),
                message: e,
            });
            if self.inner.options.on_audit_failure == AuditFailureMode::Deny && decision.allowed {
                decision.allowed = false;
                decision.reasons = vec![SmolStr::new("audit:unavailable")];
            }
        }
        if self.inner.metrics {
            crate::metrics::record_decision(request, &decision);
        }
        decision
    }

    /// Explains a request: every policy with its scope match, condition values and outcome, and
    /// for a denial the permits that came closest; the decision is a dry run (nothing charged,
    /// recorded in the audit trail like any decision). See `crate::explain`.
    pub fn explain(&self, request: &Request) -> crate::explain::Explanation {
        let decision = self.authorize_with(
            request,
            AuthorizeOptions {
                dry_run: true,
                reserve: false,
            },
        );
        let version = self.inner.current.load_full();
        let entities = self
            .inner
            .agent_entities
            .current(&version, self.inner.registry.as_ref())
            .map_err(|d| d.message);
        crate::explain::explain(
            request,
            &version,
            entities,
            decision,
            self.inner.options.error_mode,
        )
    }

    /// The decision for a request whose decision panicked: a deny naming the panic.
    fn internal_error(
        &self,
        options: AuthorizeOptions,
        panic: &(dyn std::any::Any + Send),
    ) -> Decision {
        let version = self.inner.current.load_full();
        Decision {
            id: self.next_id(),
            allowed: false,
            layer: Layer::Policy,
            reasons: vec![SmolStr::new("internal:error")],
            errors: vec![DecisionError {
                id: "internal".into(),
                message: format!("internal error while deciding: {}", panic_message(panic)),
            }],
            denied_principal: None,
            quota: Vec::new(),
            dry_run: options.dry_run,
            policy_version: version.id.clone(),
            at_ms: catch_unwind(AssertUnwindSafe(|| self.inner.clock.now_ms())).unwrap_or(0),
        }
    }

    fn decide(&self, request: &Request, options: AuthorizeOptions) -> Decision {
        let inner = &*self.inner;
        let version = inner.current.load_full();
        let now = inner.clock.now_ms();
        let mut d = Decision {
            id: self.next_id(),
            allowed: false,
            layer: Layer::Lifecycle,
            reasons: Vec::new(),
            errors: Vec::new(),
            denied_principal: None,
            quota: Vec::new(),
            dry_run: options.dry_run,
            policy_version: Arc::clone(&version.id),
            at_ms: now,
        };
        // 1. Lifecycle gate, for the principal and every link of the chain.
        let max_delegation = inner.options.limits.max_delegation_depth;
        if request.on_behalf_of.len() > max_delegation {
            d.layer = Layer::Delegation;
            d.reasons.push(SmolStr::new("delegation:too-long"));
            d.errors.push(DecisionError {
                id: "delegation".into(),
                message: format!(
                    "delegation chain too long (links): {} is more than the limit `max_delegation_depth` = {max_delegation}",
                    request.on_behalf_of.len(),
                ),
            });
            return d;
        }
        for who in std::iter::once(&request.principal).chain(&request.on_behalf_of) {
            match inner.registry.state(&who.ty, &who.id) {
                Ok(None) => {}
                Ok(Some((state, expires))) => {
                    let state_name = match state {
                        AgentState::Active if expires.is_some_and(|e| e <= now) => Some("expired"),
                        AgentState::Active => None,
                        AgentState::Suspended { .. } => Some("suspended"),
                        AgentState::Revoked { .. } => Some("revoked"),
                    };
                    if let Some(name) = state_name {
                        d.reasons.push(SmolStr::new(format!("lifecycle:{name}")));
                        d.denied_principal = Some(who.to_string());
                        return d;
                    }
                }
                Err(e) => {
                    d.reasons.push(SmolStr::new("lifecycle:unavailable"));
                    d.errors.push(DecisionError {
                        id: "registry".into(),
                        message: e.to_string(),
                    });
                    d.denied_principal = Some(who.to_string());
                    return d;
                }
            }
        }
        let entities = match inner
            .agent_entities
            .current(&version, inner.registry.as_ref())
        {
            Ok(e) => e,
            Err(diag) => {
                d.layer = Layer::Policy;
                d.errors.push(DecisionError {
                    id: "entities".into(),
                    message: diag.message,
                });
                return d;
            }
        };
        // 2. Policies, for the acting principal.
        let context = delegation_context(&request.context, &request.on_behalf_of);
        let core = mandate_eval::Request {
            principal: request.principal.clone(),
            action: request.action.clone(),
            resource: request.resource.clone(),
            context,
        };
        d.layer = Layer::Policy;
        let resp = mandate_eval::is_authorized(
            &version.policies,
            &core,
            &entities,
            inner.options.error_mode,
        );
        d.reasons = resp.reasons;
        d.errors
            .extend(resp.errors.into_iter().map(|e| DecisionError {
                id: e.policy.to_string(),
                message: e.error.to_string(),
            }));
        if resp.decision == mandate_eval::Decision::Deny {
            return d;
        }
        // 3. Delegation: every principal of the chain must be allowed the same request.
        for who in &request.on_behalf_of {
            let link = mandate_eval::Request {
                principal: who.clone(),
                ..core.clone()
            };
            let resp = mandate_eval::is_authorized(
                &version.policies,
                &link,
                &entities,
                inner.options.error_mode,
            );
            if resp.decision == mandate_eval::Decision::Deny {
                d.layer = Layer::Delegation;
                d.reasons = resp.reasons;
                d.errors
                    .extend(resp.errors.into_iter().map(|e| DecisionError {
                        id: e.policy.to_string(),
                        message: e.error.to_string(),
                    }));
                d.denied_principal = Some(who.to_string());
                return d;
            }
        }
        // 4. Quotas, charged to the acting principal's buckets.
        let charges = match quota_charges(&version, &core, &entities) {
            Ok(c) => c,
            Err((quota, message)) => {
                d.layer = Layer::Quota;
                d.reasons = vec![quota.clone()];
                d.errors.push(DecisionError {
                    id: quota.to_string(),
                    message,
                });
                return d;
            }
        };
        if charges.is_empty() {
            d.allowed = true;
            return d;
        }
        d.layer = Layer::Quota;
        let reservation = options.reserve.then_some(d.id.as_str());
        let charged = if inner.store_shares_clock {
            inner
                .quota_store
                .charge_with_time(&charges, reservation, options.dry_run, now)
        } else {
            inner
                .quota_store
                .charge(&charges, reservation, options.dry_run)
        };
        match charged {
            Ok(result) => {
                d.allowed = result.admitted;
                if !result.admitted {
                    d.reasons = result
                        .outcomes
                        .iter()
                        .filter(|o| !o.admitted)
                        .map(|o| o.quota.clone())
                        .collect();
                }
                d.quota = result.outcomes;
            }
            Err(e) => {
                d.errors.push(DecisionError {
                    id: "quota-store".into(),
                    message: e.to_string(),
                });
                match inner.options.on_store_failure {
                    StoreFailureMode::Deny => {
                        d.reasons = vec![SmolStr::new("quota-store:unavailable")];
                    }
                    StoreFailureMode::Allow => d.allowed = true,
                }
            }
        }
        d
    }

    /// Settles a reservation made with `AuthorizeOptions::reserve`: every quota of the decision
    /// charged by a `cost` expression is set to `actual` (quotas counting calls keep their charge).
    ///
    /// # Errors
    /// Unknown, expired or already settled reservation; a store failure.
    pub fn settle(&self, decision_id: &str, actual: u64) -> Result<Settlement, StoreError> {
        self.inner.quota_store.settle(decision_id, actual)
    }

    /// Releases a reservation entirely.
    ///
    /// # Errors
    /// As `settle`.
    pub fn refund(&self, decision_id: &str) -> Result<Settlement, StoreError> {
        self.inner.quota_store.refund(decision_id)
    }

    /// Every quota whose principal scope matches `principal`, with its bucket's usage. Quotas
    /// whose bucket depends on the action, resource or context are listed with `bucket: None`.
    ///
    /// # Errors
    /// A store failure.
    pub fn quota_status(&self, principal: &Uid) -> Result<Vec<QuotaStatus>, StoreError> {
        let version = self.inner.current.load_full();
        let entities = self
            .inner
            .agent_entities
            .current(&version, self.inner.registry.as_ref())
            .unwrap_or_default();
        let p = Value::entity(principal.clone());
        let unknown = Value::entity(placeholder_uid());
        let ctx = Value::empty_record();
        let env = Env {
            principal: &p,
            action: &unknown,
            resource: &unknown,
            context: &ctx,
            entities: &entities,
            slot_principal: None,
            slot_resource: None,
        };
        let mut out = Vec::new();
        let mut lookups = Vec::new();
        for q in &version.quotas {
            if !principal_scope_matches(&q.policy.statement.principal, principal, &entities) {
                continue;
            }
            let bucket = if q.bucket_needs_only_principal {
                match &q.spec.by {
                    None => Some(principal.to_smol_str()),
                    Some(by) => eval(by, &env).ok().and_then(|v| bucket_key(&v).ok()),
                }
            } else {
                None
            };
            let charge = Charge {
                quota: q.policy.id.clone(),
                bucket: bucket.clone().unwrap_or_default(),
                limit: q.spec.limit,
                window_ms: q.spec.per.millis,
                cost: 0,
                settles: false,
            };
            if bucket.is_some() {
                lookups.push(charge.clone());
            }
            out.push(QuotaStatus {
                quota: charge.quota.to_string(),
                bucket: bucket.map(|b| b.to_string()),
                limit: charge.limit,
                window_ms: charge.window_ms,
                window: q.spec.per.text.to_string(),
                status: None,
            });
        }
        let statuses = self.inner.quota_store.status(&lookups)?;
        for s in statuses {
            if let Some(o) = out
                .iter_mut()
                .find(|o| o.quota == s.quota && o.bucket.as_deref() == Some(s.bucket.as_str()))
            {
                o.status = Some(s);
            }
        }
        Ok(out)
    }

    /// Replaces the policies (and the schema, when `schema` is given; `None` keeps the running
    /// one) with a new version: parsed, validated and compiled first; only a set without errors replaces the running one, atomically, while
    /// decisions go on. A failed reload leaves the running version untouched.
    ///
    /// # Errors
    /// Every diagnostic of the new set.
    pub fn reload_policies(
        &self,
        source: PolicySource,
        schema: Option<SchemaSource>,
        change: ChangeRef,
    ) -> Result<Arc<PolicyVersion>, EngineError> {
        let _guard = lock(&self.inner.reload_lock);
        let now = self.inner.clock.now_ms();
        let schema = schema.or_else(|| self.inner.current.load().schema_source.clone());
        let built = build_version(
            source,
            schema,
            self.inner.options.validate,
            &self.inner.options.limits,
            change.clone(),
            now,
        )
        .and_then(|v| {
            // The entities must still load under the new schema.
            self.inner
                .agent_entities
                .current(&v, self.inner.registry.as_ref())
                .map_err(|d| vec![FileDiagnostics::bare("<entities>", d)])?;
            Ok(v)
        });
        let version = match built {
            Ok(v) => Arc::new(v),
            Err(files) => {
                let _ = self.write_audit(|| {
                    AuditRecord::policy_failure(&change, now, &render_files(&files))
                });
                return Err(EngineError::Load(files));
            }
        };
        let previous = self.inner.current.load_full();
        {
            let mut history = lock(&self.inner.history);
            history.push_back(Arc::clone(&version));
            while history.len() > self.inner.options.keep_versions.max(1) {
                history.pop_front();
            }
        }
        self.inner.current.store(Arc::clone(&version));
        self.audit_policy_change("reload", &version, Some(&previous));
        Ok(version)
    }

    /// Re-reads the running version's sources (files may have changed) as a new version.
    ///
    /// # Errors
    /// As `reload_policies`.
    pub fn reload(&self, change: ChangeRef) -> Result<Arc<PolicyVersion>, EngineError> {
        let v = self.inner.current.load_full();
        self.reload_policies(v.source.clone(), v.schema_source.clone(), change)
    }

    /// Returns to the previous kept version in one step.
    ///
    /// # Errors
    /// `NoPreviousVersion` when only one version is kept.
    pub fn rollback(&self, change: ChangeRef) -> Result<Arc<PolicyVersion>, EngineError> {
        let _guard = lock(&self.inner.reload_lock);
        let (previous, target) = {
            let mut history = lock(&self.inner.history);
            if history.len() < 2 {
                return Err(EngineError::NoPreviousVersion);
            }
            let previous = history.pop_back().ok_or(EngineError::NoPreviousVersion)?;
            let target = history
                .back()
                .cloned()
                .ok_or(EngineError::NoPreviousVersion)?;
            (previous, target)
        };
        self.inner.current.store(Arc::clone(&target));
        let mut record = AuditRecord::policy_change("rollback", &target, Some(&previous));
        record.set_change(&change, self.inner.clock.now_ms());
        let _ = self.write_audit(|| record);
        Ok(target)
    }

    fn audit_policy_change(
        &self,
        kind: &str,
        version: &PolicyVersion,
        previous: Option<&PolicyVersion>,
    ) {
        let _ = self.write_audit(|| AuditRecord::policy_change(kind, version, previous));
    }

    /// Hands a record to the audit sink (built only when the sink is enabled). Failures are
    /// counted in `audit_failures`.
    fn write_audit(&self, make: impl FnOnce() -> AuditRecord) -> Result<(), String> {
        let sink = &self.inner.audit;
        if !sink.enabled() {
            return Ok(());
        }
        sink.append_owned(make()).inspect_err(|_| {
            self.inner.audit_failures.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// Hands a decision to the audit sink (which builds its record, on its writer thread for a
    /// file sink). Failures are counted in `audit_failures`.
    fn write_decision_audit(&self, request: &Request, decision: &Decision) -> Result<(), String> {
        let sink = &self.inner.audit;
        if !sink.enabled() {
            return Ok(());
        }
        sink.append_decision(request, decision).inspect_err(|_| {
            self.inner.audit_failures.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// How many audit records could not be written since the engine started: refused ones
    /// (whose decisions carry an `audit` error) plus those a buffered sink accepted and then
    /// lost to a failed write.
    pub fn audit_failures(&self) -> u64 {
        self.inner
            .audit_failures
            .load(Ordering::Relaxed)
            .saturating_add(self.inner.audit.lost_records())
    }

    /// Waits until every audit record so far is written and synced (a no-op for a durable sink,
    /// useful with a buffered one before reading the log).
    ///
    /// # Errors
    /// The sink's write or sync failed.
    pub fn flush_audit(&self) -> Result<(), String> {
        self.inner.audit.flush()
    }

    /// The agent registry, with lifecycle operations that use the engine's clock, check agents
    /// against the schema and write audit records.
    pub fn agents(&self) -> Agents<'_> {
        Agents { engine: self }
    }
}

/// Lifecycle operations on the engine's agent registry.
#[derive(Debug)]
pub struct Agents<'a> {
    engine: &'a Engine,
}

impl Agents<'_> {
    fn inner(&self) -> &Inner {
        &self.engine.inner
    }

    /// Checks that an agent fits the schema (its attributes and parents), without registering it.
    ///
    /// # Errors
    /// A mismatch with the schema.
    pub fn check_spec(&self, spec: &AgentSpec) -> Result<(), EngineError> {
        let version = self.inner().current.load_full();
        if let Some(schema) = version.schema.as_deref() {
            let json = agent_json(spec, AgentState::Active, 0, Some(schema));
            let arr = serde_json::Value::Array(vec![json]);
            // Parents and the owner need not exist yet; only the shape is checked.
            let limits = self.inner().options.limits.json_limits();
            mandate_eval::Entities::from_json_value_limited(&arr, Some(schema), &limits)
                .map_err(|e| EngineError::Invalid(format!("agent does not fit the schema: {e}")))?;
        }
        Ok(())
    }

    fn audit(&self, kind: &str, agent: &Agent, actor: &str, reason: &str) {
        let now = self.inner().clock.now_ms();
        let _ = self
            .engine
            .write_audit(|| AuditRecord::lifecycle(kind, agent, actor, reason, now));
    }

    /// Registers a new agent.
    ///
    /// # Errors
    /// An existing or revoked id; an agent that does not fit the schema.
    pub fn register(
        &self,
        spec: AgentSpec,
        actor: &str,
        reason: &str,
    ) -> Result<Agent, EngineError> {
        self.check_spec(&spec)?;
        let now = self.inner().clock.now_ms();
        let agent = self.inner().registry.register(spec, actor, reason, now)?;
        self.audit("register", &agent, actor, reason);
        Ok(agent)
    }

    /// Updates an agent's owner, parents, attributes or expiry.
    ///
    /// # Errors
    /// Unknown or revoked agent; an agent that does not fit the schema.
    pub fn update(&self, spec: AgentSpec, actor: &str, reason: &str) -> Result<Agent, EngineError> {
        self.check_spec(&spec)?;
        let now = self.inner().clock.now_ms();
        let agent = self.inner().registry.update(spec, actor, reason, now)?;
        self.audit("update", &agent, actor, reason);
        Ok(agent)
    }

    /// Suspends an agent (reversible). When this returns, no decision anywhere in the process
    /// allows the agent.
    ///
    /// # Errors
    /// Unknown agent or an illegal transition.
    pub fn suspend(&self, agent: &Uid, actor: &str, reason: &str) -> Result<Agent, EngineError> {
        let now = self.inner().clock.now_ms();
        let a = self
            .inner()
            .registry
            .suspend(&agent.ty, &agent.id, actor, reason, now)?;
        self.audit("suspend", &a, actor, reason);
        Ok(a)
    }

    /// Resumes a suspended agent.
    ///
    /// # Errors
    /// Unknown agent or an illegal transition.
    pub fn resume(&self, agent: &Uid, actor: &str, reason: &str) -> Result<Agent, EngineError> {
        let now = self.inner().clock.now_ms();
        let a = self
            .inner()
            .registry
            .resume(&agent.ty, &agent.id, actor, reason, now)?;
        self.audit("resume", &a, actor, reason);
        Ok(a)
    }

    /// Revokes an agent for good; its id is never reused.
    ///
    /// # Errors
    /// Unknown agent or an illegal transition.
    pub fn revoke(&self, agent: &Uid, actor: &str, reason: &str) -> Result<Agent, EngineError> {
        let now = self.inner().clock.now_ms();
        let a = self
            .inner()
            .registry
            .revoke(&agent.ty, &agent.id, actor, reason, now)?;
        self.audit("revoke", &a, actor, reason);
        Ok(a)
    }

    /// One agent.
    ///
    /// # Errors
    /// A registry failure.
    pub fn get(&self, agent: &Uid) -> Result<Option<Agent>, EngineError> {
        Ok(self.inner().registry.get(&agent.ty, &agent.id)?)
    }

    /// Every agent, revoked ones included.
    ///
    /// # Errors
    /// A registry failure.
    pub fn list(&self) -> Result<Vec<Agent>, EngineError> {
        Ok(self.inner().registry.list()?)
    }

    /// The registry itself (for manifests: `mandate_agents::plan` / `apply`).
    pub fn registry(&self) -> &dyn Registry {
        self.inner().registry.as_ref()
    }
}

/// A quota's status for one principal.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QuotaStatus {
    /// The quota id.
    pub quota: String,
    /// The principal's bucket, or `None` when it depends on the request.
    pub bucket: Option<String>,
    /// Units per window.
    pub limit: u64,
    /// Window length in milliseconds.
    pub window_ms: u64,
    /// The window as written, e.g. `1h`.
    pub window: String,
    /// Usage, when the bucket is known.
    pub status: Option<BucketStatus>,
}

fn principal_scope_matches(
    c: &mandate_syntax::ast::ScopeConstraint,
    who: &Uid,
    entities: &mandate_eval::Entities,
) -> bool {
    use mandate_syntax::ast::{EntityRef, ScopeConstraint};
    let target = |r: &EntityRef| match r {
        EntityRef::Uid(u) => Some(Uid::from_ast(u)),
        EntityRef::Slot(..) => None,
    };
    match c {
        ScopeConstraint::Any => true,
        ScopeConstraint::Eq(r) => target(r).is_some_and(|t| *who == t),
        ScopeConstraint::In(r) => {
            target(r).is_some_and(|t| mandate_eval::eval::entity_in(who, &t, entities))
        }
        ScopeConstraint::Is(ty) => who.ty == ty.full,
        ScopeConstraint::IsIn(ty, r) => {
            who.ty == ty.full
                && target(r).is_some_and(|t| mandate_eval::eval::entity_in(who, &t, entities))
        }
    }
}

/// The context policies see: with a delegation chain, `context.delegation` holds the set of its
/// principals (unless the caller's context already has a `delegation` field).
fn delegation_context(context: &Value, chain: &[Uid]) -> Value {
    if chain.is_empty() {
        return context.clone();
    }
    match context {
        Value::Record(fields) if !fields.contains_key("delegation") => {
            let mut fields = (**fields).clone();
            fields.insert(
                SmolStr::new("delegation"),
                Value::set(chain.iter().cloned().map(Value::entity)),
            );
            Value::Record(Arc::new(fields))
        }
        other => other.clone(),
    }
}

/// The bucket name of a `by` value: an entity's uid or a string, in Cedar syntax.
fn bucket_key(v: &Value) -> Result<SmolStr, String> {
    match v {
        Value::Entity(uid) => Ok(uid.to_smol_str()),
        Value::String(_) => Ok(SmolStr::new(v.to_string())),
        other => Err(format!(
            "`by` must be an entity or a string, found {}",
            other.type_name()
        )),
    }
}

type QuotaErr = (SmolStr, String);

/// The charges of every quota that applies to the request (scope and conditions hold).
///
/// This runs on every decision, so it avoids work a quota does not need: the request's
/// variables become values only when a condition, `by` or `cost` is evaluated, the bucket of
/// the default `by principal` is rendered without the formatter and at most once per request,
/// charges are built in place, and from `QUOTA_INDEX_MIN` quotas on only the quotas the index
/// selects are looked at.
fn quota_charges(
    version: &PolicyVersion,
    core: &mandate_eval::Request,
    entities: &mandate_eval::Entities,
) -> Result<SmallVec<[Charge; 2]>, QuotaErr> {
    let mut charges = SmallVec::new();
    if version.quotas.is_empty() {
        return Ok(charges);
    }
    let mut scratch = QuotaScratch::default();
    match &version.quota_index {
        Some(index) => {
            let mut selected = Vec::new();
            index.candidates(
                &core.principal,
                &core.action,
                &core.resource,
                entities,
                &mut selected,
            );
            for i in selected {
                if let Some(q) = usize::try_from(i).ok().and_then(|i| version.quotas.get(i)) {
                    quota_charge(q, core, entities, &mut scratch, &mut charges)?;
                }
            }
        }
        None => {
            for q in &version.quotas {
                quota_charge(q, core, entities, &mut scratch, &mut charges)?;
            }
        }
    }
    Ok(charges)
}

/// What the quotas of one request share, each part made on first need.
#[derive(Default)]
struct QuotaScratch {
    /// The request's variables as values.
    values: Option<[Value; 3]>,
    /// The principal rendered as a bucket (the default `by`).
    principal: Option<SmolStr>,
}

/// The principal's bucket, rendered on first need.
fn principal_bucket(rendered: &mut Option<SmolStr>, principal: &Uid) -> SmolStr {
    rendered
        .get_or_insert_with(|| render_uid(principal))
        .clone()
}

/// `uid.to_smol_str()` (Cedar's `Type::"id"`), copied straight into an inline `SmolStr` when
/// it fits (23 bytes) and the id needs no escape (printable ASCII without `"` or `\\`): no
/// scratch buffer, no UTF-8 check (the parts are strings). Anything else goes to `to_smol_str`.
fn render_uid(uid: &Uid) -> SmolStr {
    let (ty, id) = (uid.ty.as_str(), uid.id.as_str());
    let plain = |b: u8| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
    if ty.len() + id.len() + 4 <= 23 && id.bytes().all(plain) {
        return SmolStr::from_iter([ty, "::\"", id, "\""]);
    }
    uid.to_smol_str()
}

/// The cost of a quota whose charge needs the evaluator only on paper: no conditions, `by`
/// absent or `principal`, `cost` absent or a non-negative integer literal (as in `quota(...)
/// limit N per D by principal cost 3`). Its bucket is the principal, rendered like `by`'s value.
fn literal_cost(q: &CompiledQuota) -> Option<u64> {
    use mandate_syntax::ast::{ExprKind, Literal, Var};
    if !q.policy.statement.conditions.is_empty() {
        return None;
    }
    if let Some(by) = &q.spec.by
        && !matches!(by.kind, ExprKind::Var(Var::Principal))
    {
        return None;
    }
    match q.spec.cost.as_ref().map(|c| &c.kind) {
        None => Some(1),
        Some(ExprKind::Lit(Literal::Long(n))) => u64::try_from(*n).ok(),
        Some(_) => None,
    }
}

/// Pushes the charge of one quota onto `charges`, unless its scope or conditions do not hold.
fn quota_charge(
    q: &CompiledQuota,
    core: &mandate_eval::Request,
    entities: &mandate_eval::Entities,
    scratch: &mut QuotaScratch,
    charges: &mut SmallVec<[Charge; 2]>,
) -> Result<(), QuotaErr> {
    if !scope_applies(&q.policy, core, entities) {
        return Ok(());
    }
    let fail = |m: String| (q.policy.id.clone(), m);
    let literal = if q.needs_eval {
        literal_cost(q)
    } else {
        Some(1)
    };
    let (bucket, cost) = if let Some(cost) = literal {
        (
            principal_bucket(&mut scratch.principal, &core.principal),
            cost,
        )
    } else {
        let [p, a, r] = scratch.values.get_or_insert_with(|| {
            [
                Value::entity(core.principal.clone()),
                Value::entity(core.action.clone()),
                Value::entity(core.resource.clone()),
            ]
        });
        match conditions_hold(&q.policy, core, p, a, r, entities) {
            Outcome::ScopeMismatch | Outcome::ConditionFalse => return Ok(()),
            Outcome::Error(e) => return Err(fail(format!("quota condition failed: {e}"))),
            Outcome::Satisfied => {}
        }
        let env = Env {
            principal: p,
            action: a,
            resource: r,
            context: &core.context,
            entities,
            slot_principal: None,
            slot_resource: None,
        };
        let bucket = match &q.spec.by {
            None => principal_bucket(&mut scratch.principal, &core.principal),
            Some(by) => {
                let v = eval(by, &env).map_err(|e| fail(format!("`by` failed: {e}")))?;
                bucket_key(&v).map_err(fail)?
            }
        };
        let cost = match &q.spec.cost {
            None => 1,
            Some(c) => match eval(c, &env).map_err(|e| fail(format!("`cost` failed: {e}")))? {
                Value::Long(n) => u64::try_from(n)
                    .map_err(|_| fail(format!("`cost` must not be negative, found {n}")))?,
                other => {
                    return Err(fail(format!(
                        "`cost` must be a Long, found {}",
                        other.type_name()
                    )));
                }
            },
        };
        (bucket, cost)
    };
    charges.push(Charge {
        quota: q.policy.id.clone(),
        bucket,
        limit: q.spec.limit,
        window_ms: q.spec.per.millis,
        cost,
        settles: q.spec.cost.is_some(),
    });
    Ok(())
}

fn open_audit(path: &Path, limits: &crate::Limits) -> Result<crate::audit::FileSink, EngineError> {
    crate::audit::FileSink::open(path, limits.audit_options())
        .map_err(|e| EngineError::Invalid(format!("audit log: {e}")))
}

/// Opens the default persistent state in `dir` (as `EngineBuilder::state_dir` would), for tools
/// that manage agents without deciding.
///
/// # Errors
/// The registry cannot be opened.
pub fn open_registry(dir: &Path) -> Result<Arc<dyn Registry>, EngineError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        EngineError::Invalid(format!(
            "cannot create the state directory `{}`: {e}",
            dir.display()
        ))
    })?;
    Ok(Arc::new(mandate_agents::FileRegistry::open(
        &dir.join("agents"),
    )?))
}

/// The text of a caught panic (`panic!` with a literal or a formatted message).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[cfg(test)]
mod quota_tests {
    #![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;
    use mandate_quota::ManualClock;

    fn engine(quotas: &str) -> Engine {
        Engine::builder()
            .policy_texts(vec![(
                "q.mandate".into(),
                format!("@id(\"open\") permit(principal, action, resource);\n{quotas}"),
            )])
            .clock(Arc::new(ManualClock::new(1_000_000)))
            .build()
            .unwrap()
    }

    fn request(id: &str) -> Request {
        Request::new(
            Uid::new("Agent", id),
            Uid::new("Action", "call"),
            Uid::new("Tool", "t"),
        )
    }

    /// A quota whose `by principal` and literal `cost` are taken without the evaluator charges
    /// exactly what the evaluator would (the second engine spells the same quotas so that they
    /// must be evaluated), including principals whose rendering needs escapes, a long one, a
    /// cost of 0, and two quotas sharing the rendered principal.
    #[test]
    fn literal_by_and_cost_charge_like_the_evaluator() {
        let literal = engine(
            "@id(\"calls\") quota(principal, action, resource) limit 7 per 1h;\n\
             @id(\"spend\") quota(principal, action, resource) limit 10 per 1d by principal cost 3;\n\
             @id(\"free\") quota(principal, action, resource) limit 1 per 1m by principal cost 0;\n",
        );
        let evaluated = engine(
            "@id(\"calls\") quota(principal, action, resource) when { true } limit 7 per 1h;\n\
             @id(\"spend\") quota(principal, action, resource) limit 10 per 1d by principal cost 1 + 2;\n\
             @id(\"free\") quota(principal, action, resource) when { true } limit 1 per 1m by principal cost 0;\n",
        );
        let long = "x".repeat(40);
        for id in ["a1", "quote\"and\\back", "ünï", long.as_str(), "a1"] {
            for _ in 0..4 {
                let (l, e) = (
                    literal.authorize(&request(id)),
                    evaluated.authorize(&request(id)),
                );
                assert_eq!(l.allowed, e.allowed, "{id}");
                assert_eq!(l.reasons, e.reasons, "{id}");
                assert_eq!(l.quota, e.quota, "{id}");
                assert_eq!(l.quota.len(), 3);
                assert_eq!(l.quota[0].bucket, Uid::new("Agent", id).to_string());
            }
        }
        // After 3 + 3 + 3 units, `spend` refuses the fourth request of one principal.
        let d = literal.authorize(&request("fresh"));
        assert!(d.allowed);
        assert_eq!(d.quota[1].used, 0);
        assert_eq!(d.quota[1].cost, 3);
    }

    /// The inline rendering of a principal is `to_smol_str`'s (hence Cedar's display).
    #[test]
    fn render_uid_matches_display() {
        let long = "x".repeat(30);
        for (ty, id) in [
            ("Agent", "a1"),
            ("A", ""),
            ("Agent", "fourteen-chars"),
            ("Agent", "fifteen-chars!!"),
            ("Agent", "quote\"and\\backslash"),
            ("Agent", "tab\there"),
            ("Agent", "del\u{7f}"),
            ("Agent", "ünï"),
            ("Agent", long.as_str()),
            ("Ns::Agent", "a b ~ {}"),
        ] {
            let uid = Uid::new(ty, id);
            assert_eq!(render_uid(&uid), uid.to_smol_str(), "{ty} {id}");
            assert_eq!(render_uid(&uid).as_str(), uid.to_string(), "{ty} {id}");
        }
    }

    /// A negative literal cost goes to the evaluator, which reports it.
    #[test]
    fn a_negative_literal_cost_is_an_error() {
        let e = engine(
            "@id(\"spend\") quota(principal, action, resource) limit 10 per 1d by principal cost -1;\n",
        );
        let d = e.authorize(&request("a"));
        assert!(!d.allowed);
        assert_eq!(d.layer, Layer::Quota);
        assert_eq!(d.errors[0].id, "spend");
        assert!(d.errors[0].message.contains("negative"), "{:?}", d.errors);
    }
}
