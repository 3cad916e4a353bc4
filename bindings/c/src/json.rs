//! The safe half of the binding: building engines, reading requests, and the JSON the C API
//! returns (decisions, diagnostics, agents). No `unsafe` here; the entry points in `ffi` convert
//! C arguments and call these.

use crate::error::{Failure, MandateStatus};
use mandate::load::FileDiagnostics;
use mandate::registry::{AgentSpec, EntityRef};
use mandate::{
    AuditFailureMode, AuthorizeOptions, Decision, Engine, EngineOptions, ErrorMode, Request,
    StoreFailureMode, Uid,
};
use serde_json::{Value as Json, json};
use std::path::PathBuf;
use std::sync::Arc;

/// Engine settings read from a `mandate_options`, with C strings already converted.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    pub error_mode: u32,
    pub on_store_failure: u32,
    pub on_audit_failure: u32,
    pub no_validate: bool,
    pub max_delegation: u32,
    pub keep_versions: u32,
    pub state_dir: Option<String>,
    pub quota_store: Option<String>,
    pub audit_file: Option<String>,
    pub limits_json: Option<String>,
}

/// Where the policies come from.
pub(crate) enum Inputs {
    /// A directory (or file) of policies, with optional schema and entity files.
    Dir {
        policies: PathBuf,
        schema: Option<PathBuf>,
        entities: Option<PathBuf>,
    },
    /// Texts.
    Strings {
        policies: String,
        schema: Option<String>,
        entities: Option<String>,
    },
}

fn mode<T: Copy>(value: u32, what: &str, options: &[T]) -> Result<T, Failure> {
    usize::try_from(value)
        .ok()
        .and_then(|i| options.get(i).copied())
        .ok_or_else(|| Failure::invalid(format!("unknown {what} {value}")))
}

/// Builds an engine.
pub(crate) fn build_engine(inputs: Inputs, s: Settings) -> Result<Engine, Failure> {
    let defaults = EngineOptions::default();
    let options = EngineOptions {
        error_mode: mode(
            s.error_mode,
            "error_mode",
            &[ErrorMode::DenyOnForbidError, ErrorMode::Cedar],
        )?,
        on_store_failure: mode(
            s.on_store_failure,
            "on_store_failure",
            &[StoreFailureMode::Deny, StoreFailureMode::Allow],
        )?,
        on_audit_failure: mode(
            s.on_audit_failure,
            "on_audit_failure",
            &[AuditFailureMode::Deny, AuditFailureMode::BestEffort],
        )?,
        validate: !s.no_validate,
        limits: {
            let mut limits = defaults.limits;
            if s.max_delegation != 0 {
                limits.max_delegation_depth =
                    usize::try_from(s.max_delegation).unwrap_or(usize::MAX);
            }
            if let Some(text) = &s.limits_json {
                limits
                    .apply_json(text)
                    .map_err(|e| Failure::invalid(format!("options.limits_json: {e}")))?;
            }
            limits
        },
        keep_versions: match s.keep_versions {
            0 => defaults.keep_versions,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        },
    };
    let audit_options = options.limits.audit_options();
    let mut b = Engine::builder().options(options);
    b = match inputs {
        Inputs::Dir {
            policies,
            schema,
            entities,
        } => {
            b = b.policy_dir(policies);
            if let Some(p) = schema {
                b = b.schema_path(p);
            }
            if let Some(p) = entities {
                b = b.entities_path(p);
            }
            b
        }
        Inputs::Strings {
            policies,
            schema,
            entities,
        } => {
            b = b.policy_texts(vec![("<policies>".to_string(), policies)]);
            if let Some(t) = schema {
                let json = t.trim_start().starts_with('{');
                b = b.schema_text(t, json);
            }
            if let Some(t) = entities {
                b = b.entities_json(t);
            }
            b
        }
    };
    if let Some(dir) = s.state_dir {
        b = b.state_dir(dir);
    }
    match s.quota_store.as_deref() {
        None | Some("" | "memory") => {}
        Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
            let store =
                mandate::quota::RedisStore::connect(url, mandate::quota::RedisOptions::default())?;
            b = b.quota_store(Arc::new(store));
        }
        Some(other) => {
            return Err(Failure::invalid(format!(
                "unknown quota store `{other}`: use \"memory\" or \"redis://HOST:PORT/\""
            )));
        }
    }
    if let Some(path) = s.audit_file {
        let sink = mandate::audit::FileSink::open(std::path::Path::new(&path), audit_options)
            .map_err(|e| {
                Failure::new(
                    MandateStatus::MANDATE_ERR_AUDIT,
                    format!("cannot open the audit log `{path}`: {e}"),
                )
            })?;
        b = b.audit(Arc::new(sink));
    }
    Ok(b.build()?)
}

/// Cedar's reserved words, which cannot be identifiers in an entity type (a `match`, which
/// compiles to a switch on the length, rather than ten comparisons per segment).
fn is_reserved(word: &str) -> bool {
    matches!(
        word,
        "true" | "false" | "if" | "then" | "else" | "in" | "is" | "like" | "has" | "__cedar"
    )
}

/// The common case of an entity uid without parsing an expression: `A::B::"id"` with plain
/// identifiers and an id without escapes. Anything else returns `None` and goes to the parser.
pub(crate) fn simple_uid(text: &str) -> Option<Uid> {
    simple_uid_parts(text).map(|(ty, id)| Uid::new(ty, id))
}

/// [`simple_uid`] without allocating: the type and the id, borrowed from `text`. Byte scans
/// only (this runs three times per decision on the fast path).
fn simple_uid_parts(text: &str) -> Option<(&str, &str)> {
    // The first `"` opens the id; the type before it ends with `::`.
    let open = text.find('"')?;
    let ty = text.get(..open)?.strip_suffix("::")?;
    let id = text.get(open + 1..)?.strip_suffix('"')?;
    if id.bytes().any(|b| b == b'"' || b == b'\\') {
        return None;
    }
    let ident = |seg: &str| {
        let mut bytes = seg.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !is_reserved(seg)
    };
    // The type: identifiers separated by `::`.
    let mut rest = ty;
    loop {
        match rest.find(':') {
            None => return ident(rest).then_some((ty, id)),
            Some(i) => {
                if !ident(rest.get(..i)?) {
                    return None;
                }
                rest = rest.get(i..)?.strip_prefix("::")?;
            }
        }
    }
}

/// Parses `Type::"id"`.
pub(crate) fn parse_uid(text: &str, what: &str) -> Result<Uid, Failure> {
    if let Some(uid) = simple_uid(text) {
        return Ok(uid);
    }
    mandate::parse_uid_str(text).ok_or_else(|| {
        Failure::invalid(format!(
            "{what} `{text}` is not an entity uid: write it as Type::\"id\", e.g. Platform::Agent::\"planner\""
        ))
    })
}

/// A request in the JSON format of `mandate authorize`.
pub(crate) fn request_from_json(engine: &Engine, text: &str) -> Result<Request, Failure> {
    engine
        .request_from_json(text)
        .map_err(|d| Failure::diagnostic(MandateStatus::MANDATE_ERR_REQUEST, &d, "<request>"))
}

/// The uids of a request on the fast path, as the caller wrote them (`Type::"id"`).
pub(crate) struct UidTexts<'a> {
    pub principal: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
}

/// A request from the structured fast path: uids as `Type::"id"` text, the context as JSON
/// text. The uids are parsed here (in the common case by splitting, no expression parser); the
/// context and the request then go through the facade's `request_from_parts`, the reader of
/// `mandate authorize` after its uids: checked against the schema, context typed by it. No
/// JSON is built for the uids.
pub(crate) fn request_from_parts(
    engine: &Engine,
    uids: &UidTexts<'_>,
    context: Option<&str>,
    on_behalf_of: Vec<Uid>,
) -> Result<Request, Failure> {
    let principal = parse_uid(uids.principal, "request.principal")?;
    let action = parse_uid(uids.action, "request.action")?;
    let resource = parse_uid(uids.resource, "request.resource")?;
    let check = |context: Option<&serde_json::Value>| {
        engine
            .check_request_parts(
                [
                    (&principal, "principal"),
                    (&action, "action"),
                    (&resource, "resource"),
                ],
                context,
            )
            .map_err(|e| {
                Failure::request(format!("invalid request: {} (at {})", e.message, e.path))
            })
    };
    let version = engine.version();
    if context.is_none() && version.schema.is_none() {
        check(None)?;
        return Ok(Request::new(principal, action, resource).on_behalf_of(on_behalf_of));
    }
    let context = match context {
        None => None,
        Some(text) => {
            // The context is most of a request: it gets the request's limits.
            let limits = engine.limits();
            if text.len() > limits.max_request_bytes {
                return Err(Failure::request(format!(
                    "invalid context JSON: context JSON too large (bytes): {} is more than the limit `max_request_bytes` = {}",
                    text.len(),
                    limits.max_request_bytes
                )));
            }
            Some(mandate::parse_json_bounded(text).map_err(|e| {
                Failure::request(format!(
                    "invalid context JSON: {} (at {})",
                    e.message, e.path
                ))
            })?)
        }
    };
    check(context.as_ref())?;
    let parsed = mandate::request_from_parts(
        mandate::RequestParts {
            principal,
            action,
            resource,
            context: context.as_ref(),
            on_behalf_of,
            validate: true,
        },
        version.schema.as_deref(),
    )
    .map_err(|e| {
        let mut message = format!("invalid request: {} (at {})", e.message, e.path);
        if let Some(h) = &e.help {
            message.push_str(&format!("; help: {h}"));
        }
        Failure::request(message)
    })?;
    Ok(Request {
        principal: parsed.request.principal,
        action: parsed.request.action,
        resource: parsed.request.resource,
        context: parsed.request.context,
        on_behalf_of: parsed.on_behalf_of,
    })
}

/// Options for one decision from the request's flags.
pub(crate) fn authorize_options(flags: u32) -> Result<AuthorizeOptions, Failure> {
    if flags & !(crate::MANDATE_AUTHORIZE_DRY_RUN | crate::MANDATE_AUTHORIZE_RESERVE) != 0 {
        return Err(Failure::invalid(format!(
            "unknown authorize flags {flags:#x}"
        )));
    }
    Ok(AuthorizeOptions {
        dry_run: flags & crate::MANDATE_AUTHORIZE_DRY_RUN != 0,
        reserve: flags & crate::MANDATE_AUTHORIZE_RESERVE != 0,
    })
}

/// The JSON form of a decision: the same object `mandate authorize --format json` prints.
pub(crate) fn decision_json(d: &Decision) -> Json {
    let mut v = json!({
        "decision": d.decision_str(),
        "reasons": d.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "errors": d.errors,
        "layer": d.layer.as_str(),
        "id": d.id,
        "policy_version": &*d.policy_version,
    });
    if let Some(obj) = v.as_object_mut() {
        if !d.quota.is_empty() {
            obj.insert("quota".into(), json!(d.quota));
        }
        if let Some(p) = &d.denied_principal {
            obj.insert("denied_principal".into(), json!(p));
        }
        if d.dry_run {
            obj.insert("dry_run".into(), json!(true));
        }
    }
    v
}

/// Every diagnostic of every file, as `mandate check --format json` prints them.
pub(crate) fn files_json(files: &[FileDiagnostics]) -> Json {
    Json::Array(
        files
            .iter()
            .flat_map(|f| {
                f.diagnostics.iter().map(|d| {
                    let mut v = d.to_json(Some(&f.source));
                    if let (Some(obj), Some(lint)) =
                        (v.as_object_mut(), mandate::lint::by_code(d.code))
                    {
                        obj.insert("url".into(), lint.url().into());
                    }
                    v
                })
            })
            .collect(),
    )
}

/// An agent spec from the JSON of `mandate_agent_register_json`:
/// `{"agent": "T::\"id\"", "owner": "T::\"id\"", "parents": [...], "attributes": {...},
/// "display_name": "...", "expires_ms": N}`.
pub(crate) fn agent_spec_from_json(text: &str) -> Result<AgentSpec, Failure> {
    let json = mandate::parse_json_bounded(text)
        .map_err(|e| Failure::invalid(format!("invalid agent JSON: {}", e.message)))?;
    let obj = json
        .as_object()
        .ok_or_else(|| Failure::invalid("an agent spec must be a JSON object"))?;
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "agent" | "owner" | "parents" | "attributes" | "display_name" | "expires_ms"
        ) {
            return Err(Failure::invalid(format!(
                "unexpected field `{key}` in the agent spec (fields: agent, owner, parents, attributes, display_name, expires_ms)"
            )));
        }
    }
    let uid_field = |name: &str| -> Result<Uid, Failure> {
        match obj.get(name) {
            Some(Json::String(s)) => parse_uid(s, name),
            Some(_) => Err(Failure::invalid(format!(
                "`{name}` must be a string Type::\"id\""
            ))),
            None => Err(Failure::invalid(format!("the agent spec has no `{name}`"))),
        }
    };
    let agent = uid_field("agent")?;
    let owner = uid_field("owner")?;
    let mut spec = agent_spec(&agent, &owner, None)?;
    if let Some(parents) = obj.get("parents") {
        let items = parents
            .as_array()
            .ok_or_else(|| Failure::invalid("`parents` must be an array of Type::\"id\""))?;
        for item in items {
            let s = item
                .as_str()
                .ok_or_else(|| Failure::invalid("`parents` must be an array of Type::\"id\""))?;
            let p = parse_uid(s, "parent")?;
            spec.parents
                .push(EntityRef::new(p.ty.as_str(), p.id.as_str()));
        }
    }
    match obj.get("attributes") {
        None | Some(Json::Null) => {}
        Some(Json::Object(map)) => spec.attributes = map.clone(),
        Some(_) => return Err(Failure::invalid("`attributes` must be a JSON object")),
    }
    match obj.get("display_name") {
        None | Some(Json::Null) => {}
        Some(Json::String(s)) => spec.display_name = Some(s.clone()),
        Some(_) => return Err(Failure::invalid("`display_name` must be a string")),
    }
    match obj.get("expires_ms") {
        None | Some(Json::Null) => {}
        Some(v) => {
            spec.expires_ms =
                Some(v.as_u64().ok_or_else(|| {
                    Failure::invalid("`expires_ms` must be a non-negative integer")
                })?);
        }
    }
    Ok(spec)
}

/// An agent spec from a uid, an owner and optional attributes JSON.
pub(crate) fn agent_spec(
    agent: &Uid,
    owner: &Uid,
    attributes: Option<&str>,
) -> Result<AgentSpec, Failure> {
    let mut spec = AgentSpec::new(
        agent.ty.as_str(),
        agent.id.as_str(),
        EntityRef::new(owner.ty.as_str(), owner.id.as_str()),
    );
    if let Some(text) = attributes {
        match mandate::parse_json_bounded(text) {
            Ok(Json::Object(map)) => spec.attributes = map,
            Ok(_) => return Err(Failure::invalid("attributes must be a JSON object")),
            Err(e) => {
                return Err(Failure::invalid(format!(
                    "invalid attributes JSON: {}",
                    e.message
                )));
            }
        }
    }
    Ok(spec)
}

fn io_or_policy(files: Vec<FileDiagnostics>) -> Failure {
    let io = files
        .iter()
        .flat_map(|f| &f.diagnostics)
        .any(|d| d.code == "MD0030" || d.code == "MD0031");
    let status = if io {
        MandateStatus::MANDATE_ERR_IO
    } else {
        MandateStatus::MANDATE_ERR_POLICY
    };
    Failure::load(status, &files)
}

fn load_schema_for(
    schema: Option<PathBuf>,
    extra: &mut Vec<FileDiagnostics>,
) -> Result<Option<mandate::Schema>, Failure> {
    let Some(path) = schema else {
        return Ok(None);
    };
    match mandate::load::load_schema(&path) {
        Ok(s) => Ok(Some(s)),
        Err(d) => {
            if d.diagnostics
                .iter()
                .any(|x| x.code == "MD0030" || x.code == "MD0031")
            {
                return Err(io_or_policy(vec![d]));
            }
            extra.push(d);
            Ok(None)
        }
    }
}

/// `mandate check --format json`: parse errors and, with a schema, type errors.
pub(crate) fn check(paths: &[PathBuf], schema: Option<PathBuf>) -> Result<Json, Failure> {
    let files = mandate::load::parse_files(paths).map_err(|d| io_or_policy(vec![d]))?;
    let mut extra = Vec::new();
    let schema = load_schema_for(schema, &mut extra)?;
    let mut results: Vec<FileDiagnostics> = files
        .into_iter()
        .map(|f| {
            let mut diagnostics = f.parsed.diagnostics;
            if let Some(schema) = &schema
                && !diagnostics.iter().any(mandate::Diagnostic::is_error)
            {
                diagnostics.extend(mandate::validate_policies(
                    schema,
                    &f.parsed.file.statements,
                ));
            }
            FileDiagnostics {
                source: f.source,
                diagnostics,
            }
        })
        .collect();
    results.extend(extra);
    Ok(files_json(&results))
}

/// `mandate lint --format json`: `check` plus Mandate's lints, configured by `mandate.toml`
/// text when given (no configuration file is searched for).
pub(crate) fn lint(
    paths: &[PathBuf],
    schema: Option<PathBuf>,
    config: Option<&str>,
) -> Result<Json, Failure> {
    let parsed = mandate::load::parse_files(paths).map_err(|d| io_or_policy(vec![d]))?;
    let mut extra = Vec::new();
    let schema = load_schema_for(schema, &mut extra)?;
    let config = match config {
        None => mandate::lint::LintConfig::default(),
        Some(text) => mandate::lint::LintConfig::from_toml_str(text).map_err(|diagnostics| {
            Failure::load(
                MandateStatus::MANDATE_ERR_INVALID_ARGUMENT,
                &[FileDiagnostics {
                    source: mandate::Source::new("mandate.toml", text),
                    diagnostics,
                }],
            )
        })?,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let lint_files: Vec<mandate::lint::LintFile<'_>> = parsed
        .iter()
        .map(|f| mandate::lint::LintFile {
            source: &f.source,
            statements: &f.parsed.file.statements,
            parsed_cleanly: !f.parsed.has_errors(),
        })
        .collect();
    let options = mandate::lint::LintOptions {
        schema: schema.as_ref(),
        config: &config,
        now_millis: Some(now),
        policy_directory: paths.iter().any(|p| p.is_dir()) || parsed.len() > 1,
    };
    let lints = mandate::lint::lint(&lint_files, &options);
    let mut results: Vec<FileDiagnostics> = parsed
        .iter()
        .zip(lints)
        .map(|(f, lint_diags)| {
            let mut later: Vec<mandate::Diagnostic> = Vec::new();
            if let Some(schema) = &schema
                && !f.parsed.has_errors()
            {
                later.extend(mandate::validate_policies(
                    schema,
                    &f.parsed.file.statements,
                ));
            }
            later.extend(lint_diags);
            later.sort_by_key(|d| d.span().map_or(0, |s| s.start));
            let mut diagnostics = f.parsed.diagnostics.clone();
            diagnostics.extend(later);
            FileDiagnostics {
                source: f.source.clone(),
                diagnostics,
            }
        })
        .collect();
    results.extend(extra);
    Ok(files_json(&results))
}
