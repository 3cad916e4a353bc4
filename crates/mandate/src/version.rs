//! Policy-set versions: a parsed, validated and compiled policy set with its schema, identified by
//! a content hash, and the bounded history that `Engine::rollback` walks back through.

use crate::Limits;
use crate::limits::exceeded;
use crate::load::{FileDiagnostics, no_span};
use mandate_eval::authorizer::Policy;
use mandate_eval::{PolicySet, Uid};
use mandate_syntax::ast::{
    ActionConstraint, EntityRef, Expr, ExprKind, Literal, QuotaSpec, ScopeConstraint, Statement,
    StatementKind, Var,
};
use mandate_syntax::{Diagnostic, Dialect, ParseOptions, Source, Span};
use mandate_validate::schema::Schema;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

/// Where a policy set comes from.
#[derive(Clone, Debug)]
pub enum PolicySource {
    /// Policy files and directories (`*.cedar` strict Cedar, `*.mandate` with Mandate's
    /// extensions), read in sorted order.
    Paths(Vec<PathBuf>),
    /// In-memory texts: `(name, text)`; a name ending in `.cedar` is read as strict Cedar, anything
    /// else in the Mandate dialect.
    Texts(Vec<(String, String)>),
}

/// Where a schema comes from.
#[derive(Clone, Debug)]
pub enum SchemaSource {
    /// A `.cedarschema` file, or a JSON schema when the name ends in `.json`.
    Path(PathBuf),
    /// Schema text in Cedar syntax (`json: false`) or JSON (`json: true`).
    Text {
        /// The schema.
        text: String,
        /// Whether `text` is Cedar's JSON schema format.
        json: bool,
    },
}

/// Who changed the policies and under which reference (a commit, a review), recorded with the
/// version and in the audit trail.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChangeRef {
    /// Who made the change.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// The caller's reference, e.g. `git:3f2c1ab approved-by:bob`.
    pub reference: String,
}

/// A quota declaration ready to evaluate.
#[derive(Clone, Debug)]
pub(crate) struct CompiledQuota {
    /// Scope and conditions, evaluated like a policy's.
    pub policy: Policy,
    /// `limit N per D by E cost E`.
    pub spec: QuotaSpec,
    /// Whether the bucket expression reads only `principal` (so `quota status` can compute it
    /// without a request).
    pub bucket_needs_only_principal: bool,
    /// Whether charging needs the evaluator (conditions, `by` or `cost`); a quota without any
    /// is decided by its scope alone.
    pub needs_eval: bool,
}

/// From this many quotas on, a version indexes their scopes like the policies' (below it, a
/// linear scope check is cheaper than the index lookups).
pub(crate) const QUOTA_INDEX_MIN: usize = 8;

/// One immutable policy-set version.
#[derive(Debug)]
pub struct PolicyVersion {
    /// `sha256:` and the hex SHA-256 of the canonical policies and schema.
    pub id: Arc<str>,
    /// The policies, templates and quotas.
    pub policies: PolicySet,
    /// The schema, when one is configured.
    pub schema: Option<Arc<Schema>>,
    /// When it was loaded (milliseconds since the Unix epoch).
    pub loaded_ms: u64,
    /// Who loaded it and why.
    pub change: ChangeRef,
    /// Statement count by kind: `(policies + templates, quotas)`.
    pub counts: (usize, usize),
    pub(crate) quotas: Vec<CompiledQuota>,
    /// The decision index over the quotas' scopes, when there are at least `QUOTA_INDEX_MIN`.
    pub(crate) quota_index: Option<mandate_eval::index::Index>,
    pub(crate) source: PolicySource,
    pub(crate) schema_source: Option<SchemaSource>,
}

impl PolicyVersion {
    /// The first 12 hex digits of the hash, for display.
    pub fn short_id(&self) -> &str {
        self.id
            .strip_prefix("sha256:")
            .and_then(|h| h.get(..12))
            .unwrap_or(&self.id)
    }
}

/// Reads the texts of a policy source.
fn read_sources(
    source: &PolicySource,
    limits: &Limits,
) -> Result<Vec<Source>, Vec<FileDiagnostics>> {
    match source {
        PolicySource::Paths(paths) => {
            let files = crate::load::policy_files(paths).map_err(|d| vec![d])?;
            let mut out = Vec::with_capacity(files.len());
            for f in files {
                let text = crate::load::read_text_limited(&f, limits.max_source_bytes)
                    .map_err(|d| vec![d])?;
                out.push(Source::new(f.display().to_string(), text));
            }
            Ok(out)
        }
        PolicySource::Texts(texts) => Ok(texts
            .iter()
            .map(|(name, text)| Source::new(name.clone(), text.clone()))
            .collect()),
    }
}

/// Checks a source's size and line count against the limits, before it is parsed.
///
/// # Errors
/// `max_source_bytes` or `max_source_lines` exceeded (MD0019).
pub(crate) fn check_source(name: &str, text: &str, limits: &Limits) -> Result<(), FileDiagnostics> {
    if text.len() > limits.max_source_bytes {
        return Err(FileDiagnostics::bare(
            name,
            exceeded(
                "MD0019",
                "source too large (bytes)",
                "max_source_bytes",
                text.len(),
                limits.max_source_bytes,
            ),
        ));
    }
    // Line ends are counted up to one past the limit, so counting stops early.
    let lines = text
        .bytes()
        .filter(|&b| b == b'\n')
        .take(limits.max_source_lines.saturating_add(1))
        .count()
        + usize::from(!text.is_empty() && !text.ends_with('\n'));
    if lines > limits.max_source_lines {
        let lines = text.lines().count();
        return Err(FileDiagnostics::bare(
            name,
            exceeded(
                "MD0019",
                "too many lines in the source",
                "max_source_lines",
                lines,
                limits.max_source_lines,
            ),
        ));
    }
    Ok(())
}

/// Checks the string literals, entity ids and set literals of parsed statements against
/// `max_string_bytes` and `max_set_elements`; each violation points at its literal.
pub(crate) fn check_literals(statements: &[Statement], limits: &Limits) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let string = |len: usize, span: Span, out: &mut Vec<Diagnostic>| {
        if len > limits.max_string_bytes {
            out.push(
                exceeded(
                    "MD0019",
                    "string too long (bytes)",
                    "max_string_bytes",
                    len,
                    limits.max_string_bytes,
                )
                .with_label(span, "this string"),
            );
        }
    };
    for st in statements {
        for scope in [&st.principal, &st.resource] {
            if let ScopeConstraint::Eq(EntityRef::Uid(u))
            | ScopeConstraint::In(EntityRef::Uid(u))
            | ScopeConstraint::IsIn(_, EntityRef::Uid(u)) = scope
            {
                string(u.id.len(), u.span, &mut out);
            }
        }
        match &st.action {
            ActionConstraint::Eq(u) | ActionConstraint::In(u) => {
                string(u.id.len(), u.span, &mut out);
            }
            ActionConstraint::InList(list) => {
                if list.len() > limits.max_set_elements {
                    out.push(
                        exceeded(
                            "MD0019",
                            "too many actions in the scope's list",
                            "max_set_elements",
                            list.len(),
                            limits.max_set_elements,
                        )
                        .with_label(st.span, "in this statement"),
                    );
                }
                for u in list {
                    string(u.id.len(), u.span, &mut out);
                }
            }
            ActionConstraint::Any => {}
        }
        let mut exprs: Vec<&Expr> = st.conditions.iter().map(|c| &c.body).collect();
        if let StatementKind::Quota(spec) = &st.kind {
            exprs.extend(spec.by.iter().chain(spec.cost.iter()));
        }
        for e in exprs {
            e.walk(&mut |e| match &e.kind {
                ExprKind::Lit(Literal::String(s)) => string(s.len(), e.span, &mut out),
                ExprKind::Entity(u) => string(u.id.len(), u.span, &mut out),
                ExprKind::Set(es) if es.len() > limits.max_set_elements => out.push(
                    exceeded(
                        "MD0019",
                        "too many elements in a set literal",
                        "max_set_elements",
                        es.len(),
                        limits.max_set_elements,
                    )
                    .with_label(e.span, "this set"),
                ),
                _ => {}
            });
        }
    }
    out
}

/// Reads a schema source.
pub(crate) fn read_schema(
    source: &SchemaSource,
    limits: &Limits,
) -> Result<(Schema, String), Vec<FileDiagnostics>> {
    match source {
        SchemaSource::Path(p) => {
            let text =
                crate::load::read_text_limited(p, limits.max_source_bytes).map_err(|d| vec![d])?;
            check_source(&p.display().to_string(), &text, limits).map_err(|d| vec![d])?;
            let json = p.extension().is_some_and(|e| e == "json");
            let schema = crate::load::schema_from_str(&p.display().to_string(), &text, json)
                .map_err(|d| vec![d])?;
            Ok((schema, text))
        }
        SchemaSource::Text { text, json } => {
            check_source("<schema>", text, limits).map_err(|d| vec![d])?;
            let schema =
                crate::load::schema_from_str("<schema>", text, *json).map_err(|d| vec![d])?;
            Ok((schema, text.clone()))
        }
    }
}

/// Parses, validates (when `validate` and a schema is given) and compiles a policy set.
///
/// # Errors
/// Every diagnostic of every file when any is an error; the running version is unaffected.
pub(crate) fn build_version(
    source: PolicySource,
    schema_source: Option<SchemaSource>,
    validate: bool,
    limits: &Limits,
    change: ChangeRef,
    now_ms: u64,
) -> Result<PolicyVersion, Vec<FileDiagnostics>> {
    let (schema, schema_text) = match &schema_source {
        Some(s) => {
            let (schema, text) = read_schema(s, limits)?;
            (Some(Arc::new(schema)), text)
        }
        None => (None, String::new()),
    };
    let sources = read_sources(&source, limits)?;
    let mut set = PolicySet::new();
    let mut failed = Vec::new();
    for src in sources {
        if let Err(d) = check_source(src.name(), src.text(), limits) {
            failed.push(d);
            continue;
        }
        let dialect = Dialect::for_path(std::path::Path::new(src.name()));
        let parsed = mandate_syntax::parse(
            src.text(),
            ParseOptions {
                dialect,
                limits: limits.parse_limits(),
            },
        );
        if parsed.has_errors() {
            failed.push(FileDiagnostics {
                source: src,
                diagnostics: parsed.diagnostics,
            });
            continue;
        }
        let mut diagnostics = check_literals(&parsed.file.statements, limits);
        if !diagnostics.is_empty() {
            failed.push(FileDiagnostics {
                source: src,
                diagnostics,
            });
            continue;
        }
        if let (true, Some(schema)) = (validate, schema.as_deref()) {
            diagnostics.extend(
                mandate_validate::validate_policies(schema, &parsed.file.statements)
                    .into_iter()
                    .filter(Diagnostic::is_error),
            );
        }
        if let Err(d) = set.add_statements(parsed.file.statements) {
            diagnostics.extend(d);
        }
        // Checked after every file, so a huge set stops at the first file past the limit.
        if set.policies().len() > limits.max_policies {
            failed.push(FileDiagnostics::bare(
                src.name(),
                exceeded(
                    "MD0019",
                    "too many policies (after this file)",
                    "max_policies",
                    set.policies().len(),
                    limits.max_policies,
                )
                .with_label(no_span(), ""),
            ));
            return Err(failed);
        }
        if !diagnostics.is_empty() {
            failed.push(FileDiagnostics {
                source: src,
                diagnostics,
            });
        }
    }
    if !failed.is_empty() {
        return Err(failed);
    }
    // Build the decision index now, not on the first request.
    let _ = set.index();
    let quotas = compile_quotas(&set);
    let quota_index = (quotas.len() >= QUOTA_INDEX_MIN).then(|| {
        let policies: Vec<Policy> = quotas.iter().map(|q| q.policy.clone()).collect();
        mandate_eval::index::Index::build(&policies)
    });
    let id = content_hash(&set, &schema_text);
    let counts = (
        set.policies().len() + set.templates().count(),
        set.quotas().len(),
    );
    Ok(PolicyVersion {
        id: Arc::from(id),
        policies: set,
        schema,
        loaded_ms: now_ms,
        change,
        counts,
        quotas,
        quota_index,
        source,
        schema_source,
    })
}

fn compile_quotas(set: &PolicySet) -> Vec<CompiledQuota> {
    set.quotas()
        .iter()
        .filter_map(|s| {
            let StatementKind::Quota(spec) = &s.kind else {
                return None;
            };
            let bucket_needs_only_principal = spec.by.as_ref().is_none_or(|by| {
                let mut only = true;
                by.walk(&mut |e| {
                    if matches!(
                        e.kind,
                        ExprKind::Var(Var::Action | Var::Resource | Var::Context)
                    ) {
                        only = false;
                    }
                });
                only
            });
            Some(CompiledQuota {
                policy: Policy {
                    id: s.id.clone(),
                    statement: Arc::clone(s),
                    slot_principal: None,
                    slot_resource: None,
                },
                spec: spec.clone(),
                bucket_needs_only_principal,
                needs_eval: !s.conditions.is_empty() || spec.by.is_some() || spec.cost.is_some(),
            })
        })
        .collect()
}

/// SHA-256 over the canonical form: every statement (policies, templates, linked policies,
/// quotas) formatted by the formatter and sorted by id, then the schema text.
fn content_hash(set: &PolicySet, schema_text: &str) -> String {
    let mut items: Vec<(String, String)> = Vec::new();
    let mut push = |s: &Statement, id: &str| {
        items.push((
            id.to_string(),
            mandate_syntax::fmt::statement_to_string(
                s,
                &mandate_syntax::fmt::FormatOptions::default(),
            ),
        ));
    };
    for p in set.policies() {
        let mut linked = String::new();
        if let Some(v) = &p.slot_principal {
            linked.push_str(&format!("?principal={v};"));
        }
        if let Some(v) = &p.slot_resource {
            linked.push_str(&format!("?resource={v};"));
        }
        push(&p.statement, &format!("{}{linked}", p.id));
    }
    for t in set.templates() {
        push(t, &format!("template {}", t.id));
    }
    for q in set.quotas() {
        push(q, &q.id);
    }
    items.sort();
    let mut h = Sha256::new();
    for (id, text) in &items {
        h.update((id.len() as u64).to_le_bytes());
        h.update(id.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.update(b"schema\0");
    h.update(schema_text.as_bytes());
    let digest = h.finalize();
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256:");
    for b in digest.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Whether an entity uid names the engine's placeholder for "no request" (used by `quota status`).
pub(crate) fn placeholder_uid() -> Uid {
    Uid::new("__mandate::Unknown", "")
}
