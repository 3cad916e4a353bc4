//! `mandate._native`: the Python extension behind the `mandate` package.
//!
//! A thin shim over the `mandate` facade: it converts Python values to the facade's types and
//! back, maps errors to Python exceptions and releases the GIL while the engine decides. No
//! policy logic lives here. The Python package (`python/mandate/`) adds the ergonomic layer
//! (argument defaults, the `agents` object, framework guards).
//!
//! INVARIANT: no Rust panic crosses into Python. Every entry point runs inside [`shield`], which
//! turns a panic into `mandate.InternalError`.

use mandate::audit::{AuditRecord, AuditSink};
use mandate::load::FileDiagnostics;
use mandate::registry::{AgentSpec, EntityRef};
use mandate::{
    AuditFailureMode, AuthorizeOptions, ChangeRef, Engine, EngineError, EngineOptions, ErrorMode,
    PolicySource, Request, SchemaSource, StoreFailureMode, Uid,
};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value as Json};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;

pyo3::create_exception!(
    mandate,
    MandateError,
    PyException,
    "Base class of every error Mandate raises."
);
pyo3::create_exception!(
    mandate,
    PolicyError,
    MandateError,
    "Policies, schema or entities with errors; `.diagnostics` lists them."
);
pyo3::create_exception!(
    mandate,
    RequestError,
    MandateError,
    "A request (or argument) the engine cannot read; `.diagnostics` lists the problems."
);
pyo3::create_exception!(
    mandate,
    StoreError,
    MandateError,
    "The quota store or the agent registry's storage failed."
);
pyo3::create_exception!(
    mandate,
    AgentError,
    MandateError,
    "An agent lifecycle operation the registry refuses (unknown agent, illegal transition)."
);
pyo3::create_exception!(
    mandate,
    InternalError,
    MandateError,
    "A bug in Mandate (a Rust panic), caught at the boundary."
);

/// Deepest Python value (nested dicts and lists) converted to JSON.
const MAX_DEPTH: usize = 64;

/// Runs `f`, turning a Rust panic into `mandate.InternalError`.
fn shield<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(InternalError::new_err(format!(
                "internal error in mandate (please report it): {message}"
            )))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON <-> Python

fn json_to_py<'py>(py: Python<'py>, value: &Json) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Json::Null => py.None().into_bound(py),
        Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Json::String(s) => PyString::new(py, s).into_any(),
        Json::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Json::Object(fields) => {
            let dict = PyDict::new(py);
            for (k, v) in fields {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

fn to_py<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| InternalError::new_err(format!("cannot convert a result: {e}")))?;
    json_to_py(py, &json)
}

/// An invalid request as a `RequestError` carrying its diagnostic.
fn request_diag(e: &mandate::JsonError) -> PyErr {
    let d = mandate::load::json_diag("MD0060", "invalid request", e);
    Python::attach(|py| diagnostic_err(py, &d, "<request>"))
}

fn request_err(message: impl Into<String>) -> PyErr {
    RequestError::new_err(message.into())
}

/// A Python value as JSON. `Entity` objects become Cedar's `{"__entity": …}` form.
fn py_to_json(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Json> {
    if depth > MAX_DEPTH {
        return Err(request_err(format!(
            "the value is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    if obj.is_none() {
        return Ok(Json::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Json::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        let n: i64 = obj.extract().map_err(|_| {
            request_err(format!(
                "integer `{obj}` does not fit in 64 bits (Cedar's Long)"
            ))
        })?;
        return Ok(Json::from(n));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Json::String(s.to_cow()?.into_owned()));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Json::Number)
            .ok_or_else(|| request_err(format!("`{f}` is not a finite number")));
    }
    if let Ok(e) = obj.cast::<PyEntity>() {
        let e = e.get();
        return Ok(serde_json::json!({"__entity": {"type": &*e.ty, "id": &*e.id}}));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| request_err(format!("record keys must be strings, found `{k}`")))?;
            map.insert(key.to_cow()?.into_owned(), py_to_json(&v, depth + 1)?);
        }
        return Ok(Json::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|v| py_to_json(&v, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Json::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|v| py_to_json(&v, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Json::Array);
    }
    if let Ok(items) = obj.try_iter() {
        // Sets and other iterables become Cedar sets.
        let mut out = Vec::new();
        for item in items {
            out.push(py_to_json(&item?, depth + 1)?);
        }
        return Ok(Json::Array(out));
    }
    let ty = obj.get_type().name()?;
    Err(request_err(format!(
        "cannot convert a `{ty}` to a Cedar value: use bool, int, str, dict, list, set or mandate.Entity"
    )))
}

/// An entity argument as a uid.
fn entity_uid(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Uid> {
    if let Ok(e) = obj.cast::<PyEntity>() {
        let e = e.get();
        return Ok(Uid::new(&*e.ty, &*e.id));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_cow()?;
        let s = &*s;
        return mandate::parse_uid_str(s).ok_or_else(|| {
            request_err(format!(
                "{what}: `{s}` is not an entity uid; write it as 'Type::\"id\"', e.g. 'Platform::Agent::\"planner\"'"
            ))
        });
    }
    if let Ok(t) = obj.cast::<PyTuple>()
        && let Ok((ty, id)) = t.extract::<(String, String)>()
    {
        return Ok(Uid::new(ty.as_str(), id.as_str()));
    }
    Err(request_err(format!(
        "{what} must be an entity: mandate.Entity, a (\"Type\", \"id\") tuple or a 'Type::\"id\"' string, found `{}`",
        obj.get_type().name()?
    )))
}

// ---------------------------------------------------------------------------------------------
// The per-call fast path

/// Most distinct entity type names remembered per thread as valid ([`type_name_ok`]).
const TYPE_NAME_CACHE: usize = 32;

thread_local! {
    /// Entity type names this thread has already found valid: a guard checks the same few type
    /// names on every call.
    static VALID_TYPE_NAMES: std::cell::RefCell<Vec<Box<str>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `ty` is a valid entity type name (`mandate::check_type_name`), remembered.
fn type_name_ok(ty: &str) -> bool {
    if VALID_TYPE_NAMES.with(|c| c.borrow().iter().any(|t| **t == *ty)) {
        return true;
    }
    if mandate::check_type_name(ty, "").is_err() {
        return false;
    }
    VALID_TYPE_NAMES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() < TYPE_NAME_CACHE {
            c.push(ty.into());
        }
    });
    true
}

/// `f` applied to a Python str's UTF-8 text, `None` if it has none (lone surrogates). Under
/// abi3-py39 pyo3 reads a str through a bytes object and then copies it into a `String`; this
/// borrows the bytes object's buffer instead.
fn with_str<R>(s: &Bound<'_, PyAny>, f: impl FnOnce(&str) -> Option<R>) -> Option<R> {
    let bytes = s.cast::<PyString>().ok()?.encode_utf8().ok()?;
    f(std::str::from_utf8(bytes.as_bytes()).ok()?)
}

/// An entity argument as a uid on the fast path: a `(type, id)` tuple of strs, a
/// `mandate.Entity` or a plain `Type::"id"` str with a valid type name; `None` otherwise (the
/// general path then reads it, or says what is wrong).
fn fast_uid(obj: &Bound<'_, PyAny>) -> Option<Uid> {
    if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() != 2 {
            return None;
        }
        let ty = t.get_item(0).ok()?;
        let id = t.get_item(1).ok()?;
        return with_str(&ty, |ty| {
            if !type_name_ok(ty) {
                return None;
            }
            with_str(&id, |id| Some(Uid::new(ty, id)))
        });
    }
    if let Ok(e) = obj.cast::<PyEntity>() {
        let e = e.get();
        return type_name_ok(&e.ty).then(|| Uid::new(&*e.ty, &*e.id));
    }
    if obj.is_instance_of::<PyString>() {
        return with_str(obj, |s| {
            mandate::parse_uid_str(s).filter(|u| type_name_ok(&u.ty))
        });
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Diagnostics and errors

/// One diagnostic as a dict: code, severity, message, file, line, column (1-based, of the primary
/// label), end_line, end_column, help, note, labels, and `rendered` (the source snippet).
fn diagnostic_json(d: &mandate::Diagnostic, source: &mandate::Source) -> Json {
    let has_text = !source.text().is_empty();
    let mut v = d.to_json(Some(source));
    if let Json::Object(obj) = &mut v {
        let first = obj
            .get("labels")
            .and_then(|l| l.as_array())
            .and_then(|l| l.first())
            .cloned();
        for key in ["line", "column", "end_line", "end_column"] {
            let value = first
                .as_ref()
                .filter(|_| has_text)
                .and_then(|f| f.get(key))
                .cloned()
                .unwrap_or(Json::Null);
            obj.insert(key.into(), value);
        }
        for key in ["help", "note"] {
            obj.entry(key).or_insert(Json::Null);
        }
        obj.insert(
            "rendered".into(),
            Json::String(mandate::diagnostics::render_all(
                std::slice::from_ref(d),
                Some(source),
            )),
        );
    }
    v
}

fn files_json(files: &[FileDiagnostics]) -> Json {
    Json::Array(
        files
            .iter()
            .flat_map(|f| f.diagnostics.iter().map(|d| diagnostic_json(d, &f.source)))
            .collect(),
    )
}

/// An exception of type `T` with a `diagnostics` attribute.
fn err_with_diagnostics<T: pyo3::PyTypeInfo>(
    py: Python<'_>,
    message: String,
    diagnostics: &Json,
) -> PyErr {
    let err = PyErr::new::<T, _>(message);
    let attached =
        json_to_py(py, diagnostics).and_then(|list| err.value(py).setattr("diagnostics", list));
    match attached {
        Ok(()) => err,
        Err(e) => e,
    }
}

fn engine_err(py: Python<'_>, e: EngineError) -> PyErr {
    match e {
        EngineError::Load(files) => {
            let message = e_render(&files);
            err_with_diagnostics::<PolicyError>(py, message, &files_json(&files))
        }
        EngineError::Store(s) => StoreError::new_err(s.to_string()),
        EngineError::Registry(r) => {
            let message = r.to_string();
            match r {
                mandate::registry::RegistryError::AlreadyExists { .. }
                | mandate::registry::RegistryError::Revoked { .. }
                | mandate::registry::RegistryError::IllegalTransition { .. }
                | mandate::registry::RegistryError::NotFound { .. }
                | mandate::registry::RegistryError::InvalidSpec(_) => AgentError::new_err(message),
                _ => StoreError::new_err(message),
            }
        }
        EngineError::Invalid(m) => AgentError::new_err(m),
        EngineError::NoPreviousVersion => err_with_diagnostics::<PolicyError>(
            py,
            EngineError::NoPreviousVersion.to_string(),
            &Json::Array(Vec::new()),
        ),
    }
}

fn e_render(files: &[FileDiagnostics]) -> String {
    let text: String = files.iter().map(FileDiagnostics::render).collect();
    text.trim_end().to_string()
}

fn diagnostic_err(py: Python<'_>, d: &mandate::Diagnostic, name: &str) -> PyErr {
    let source = mandate::Source::new(name, "");
    let json = Json::Array(vec![diagnostic_json(d, &source)]);
    let mut message = d.message.clone();
    if let Some(note) = &d.note {
        message.push_str(&format!(" ({note})"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\n  help: {help}"));
    }
    err_with_diagnostics::<RequestError>(py, message, &json)
}

// ---------------------------------------------------------------------------------------------
// Entity

/// An entity reference: a type (`Platform::Agent`) and an id (any string).
#[pyclass(frozen, eq, hash, module = "mandate", name = "Entity")]
#[derive(Clone, PartialEq, Eq, Hash)]
struct PyEntity {
    ty: Arc<str>,
    id: Arc<str>,
}

#[pymethods]
impl PyEntity {
    #[new]
    #[pyo3(signature = (entity_type, id))]
    fn new(entity_type: &str, id: &str) -> Self {
        PyEntity {
            ty: Arc::from(entity_type),
            id: Arc::from(id),
        }
    }

    /// Parses `Type::"id"`.
    #[staticmethod]
    fn parse(text: &Bound<'_, PyAny>) -> PyResult<Self> {
        shield(|| {
            let uid = entity_uid(text, "text")?;
            Ok(PyEntity {
                ty: Arc::from(uid.ty.as_str()),
                id: Arc::from(uid.id.as_str()),
            })
        })
    }

    /// The entity type, e.g. `Platform::Agent`.
    #[getter(r#type)]
    fn entity_type(&self) -> &str {
        &self.ty
    }

    /// The id.
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    fn __str__(&self) -> String {
        Uid::new(&*self.ty, &*self.id).to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Entity({}, {})",
            python_str_repr(&self.ty),
            python_str_repr(&self.id)
        )
    }
}

fn python_str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

// ---------------------------------------------------------------------------------------------
// Decision

/// The engine's answer to one request.
#[pyclass(frozen, module = "mandate", name = "Decision")]
struct PyDecision {
    inner: mandate::Decision,
}

#[pymethods]
impl PyDecision {
    /// Whether the request is allowed.
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.allowed
    }
    /// `"allow"` or `"deny"`.
    #[getter]
    fn decision(&self) -> &'static str {
        self.inner.decision_str()
    }
    /// The determining policies, `lifecycle:<state>`, or the refusing quota ids.
    #[getter]
    fn reasons(&self) -> Vec<String> {
        self.inner.reasons.iter().map(|r| r.to_string()).collect()
    }
    /// Errors met on the way: dicts with `id` and `message`.
    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.errors)
    }
    /// The layer that decided: `lifecycle`, `policy`, `delegation` or `quota`.
    #[getter]
    fn layer(&self) -> &'static str {
        self.inner.layer.as_str()
    }
    /// Every applicable quota: dicts with `quota`, `bucket`, `limit`, `window_ms`, `cost`,
    /// `used`, `remaining`, `admitted`, `retry_after_ms`.
    #[getter]
    fn quota<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.quota)
    }
    /// The decision id (also the reservation id for `settle` and `refund`).
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// The policy version (`sha256:…`) that decided.
    #[getter]
    fn policy_version(&self) -> &str {
        &self.inner.policy_version
    }
    /// For a lifecycle or delegation denial, the principal that failed (`Type::"id"`).
    #[getter]
    fn denied_principal(&self) -> Option<&str> {
        self.inner.denied_principal.as_deref()
    }
    /// Whether this was a dry run (nothing charged).
    #[getter]
    fn dry_run(&self) -> bool {
        self.inner.dry_run
    }
    /// When it was decided (milliseconds since the Unix epoch).
    #[getter]
    fn at_ms(&self) -> u64 {
        self.inner.at_ms
    }
    /// The same fields as a dict (the JSON of `mandate authorize --format json`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let d = &self.inner;
        let v = serde_json::json!({
            "decision": d.decision_str(),
            "allowed": d.allowed,
            "reasons": d.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "errors": d.errors,
            "layer": d.layer.as_str(),
            "quota": d.quota,
            "id": d.id,
            "policy_version": &*d.policy_version,
            "denied_principal": d.denied_principal,
            "dry_run": d.dry_run,
            "at_ms": d.at_ms,
        });
        json_to_py(py, &v)
    }
    /// A few lines for people: the decision, why, quotas and errors.
    fn explain(&self) -> String {
        explain(&self.inner)
    }
    fn __bool__(&self) -> bool {
        self.inner.allowed
    }
    fn __repr__(&self) -> String {
        let d = &self.inner;
        let reasons: Vec<String> = d.reasons.iter().map(|r| python_str_repr(r)).collect();
        let mut s = format!(
            "<Decision {} layer={} reasons=[{}]",
            d.decision_str(),
            d.layer.as_str(),
            reasons.join(", ")
        );
        if let Some(p) = &d.denied_principal {
            s.push_str(&format!(" denied_principal={}", python_str_repr(p)));
        }
        for q in d.quota.iter().filter(|q| !q.admitted) {
            s.push_str(&format!(
                " quota={}:{}/{}",
                python_str_repr(&q.quota),
                q.used,
                q.limit
            ));
        }
        if !d.errors.is_empty() {
            s.push_str(&format!(" errors={}", d.errors.len()));
        }
        if d.dry_run {
            s.push_str(" dry_run");
        }
        let version = d.policy_version.strip_prefix("sha256:").unwrap_or("");
        s.push_str(&format!(
            " version={}>",
            version.get(..12).unwrap_or(version)
        ));
        s
    }
}

/// The human form of a decision (as `mandate authorize` prints it).
fn explain(d: &mandate::Decision) -> String {
    let mut s = format!("{}\n", d.decision_str().to_uppercase());
    let reasons = d
        .reasons
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match (d.allowed, d.layer, reasons.is_empty()) {
        (false, mandate::Layer::Policy, true) => {
            s.push_str("  no policy permits this request (default deny)\n");
        }
        (false, mandate::Layer::Delegation, _) => {
            s.push_str(&format!(
                "  delegation: {} may not do this{}\n",
                d.denied_principal.as_deref().unwrap_or("a delegator"),
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(" (determined by: {reasons})")
                }
            ));
        }
        (false, mandate::Layer::Lifecycle, _) => {
            s.push_str(&format!(
                "  {}: {reasons}\n",
                d.denied_principal.as_deref().unwrap_or("principal")
            ));
        }
        (_, _, false) => s.push_str(&format!("  determined by: {reasons}\n")),
        _ => {}
    }
    for q in &d.quota {
        s.push_str(&format!(
            "  quota {} [{}]: {}/{} used{}{}\n",
            q.quota,
            q.bucket,
            q.used,
            q.limit,
            if q.admitted {
                format!(", charged {}", q.cost)
            } else {
                format!(", needs {}", q.cost)
            },
            q.retry_after_ms
                .map(|ms| format!(", retry after {ms} ms"))
                .unwrap_or_default()
        ));
    }
    for e in &d.errors {
        s.push_str(&format!("  error in {}: {}\n", e.id, e.message));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Audit sink calling Python

/// Hands each audit record, as a dict, to a Python callable. An exception in the callable is a
/// failed write (by default the decision then denies).
struct CallableSink {
    callback: Py<PyAny>,
}

impl std::fmt::Debug for CallableSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallableSink").finish_non_exhaustive()
    }
}

impl AuditSink for CallableSink {
    fn append(&self, record: &AuditRecord) -> Result<(), String> {
        Python::attach(|py| {
            let dict = to_py(py, record).map_err(|e| e.to_string())?;
            self.callback
                .call1(py, (dict,))
                .map(|_| ())
                .map_err(|e| format!("audit callback failed: {e}"))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Engine

fn change(actor: &str, reason: &str, reference: &str) -> ChangeRef {
    ChangeRef {
        actor: actor.to_string(),
        reason: reason.to_string(),
        reference: reference.to_string(),
    }
}

fn policy_source(
    paths: Option<Vec<PathBuf>>,
    texts: Option<Vec<(String, String)>>,
) -> PyResult<PolicySource> {
    match (paths, texts) {
        (Some(p), None) => Ok(PolicySource::Paths(p)),
        (None, Some(t)) => Ok(PolicySource::Texts(t)),
        (None, None) => Ok(PolicySource::Texts(Vec::new())),
        (Some(_), Some(_)) => Err(request_err("give policy paths or policy texts, not both")),
    }
}

fn schema_source(path: Option<PathBuf>, text: Option<String>, json: bool) -> Option<SchemaSource> {
    match (path, text) {
        (Some(p), _) => Some(SchemaSource::Path(p)),
        (None, Some(t)) => Some(SchemaSource::Text { text: t, json }),
        (None, None) => None,
    }
}

fn parse_mode<T>(value: &str, what: &str, options: &[(&str, T)]) -> PyResult<T>
where
    T: Copy,
{
    options
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            pyo3::exceptions::PyValueError::new_err(format!(
                "unknown {what} `{value}`: use one of {}",
                names.join(", ")
            ))
        })
}

/// The engine (native part; `mandate.Engine` wraps it).
#[pyclass(frozen, module = "mandate._native", name = "NativeEngine")]
struct NativeEngine {
    engine: Engine,
    /// Context keys already read, by Python object (the keys of a guard's context dicts are
    /// usually the same interned strs): their text, without encoding them again.
    context_keys: std::sync::Mutex<Vec<(Py<PyString>, Box<str>)>>,
}

/// Most context key objects [`NativeEngine::context_keys`] remembers.
const CONTEXT_KEY_CACHE: usize = 64;

impl NativeEngine {
    fn request(
        &self,
        principal: &Bound<'_, PyAny>,
        action: &Bound<'_, PyAny>,
        resource: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        on_behalf_of_arg: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Request> {
        if on_behalf_of_arg.is_none_or(|c| c.is_none())
            && let Some(request) = self.fast_request(principal, action, resource, context)
        {
            return Ok(request);
        }
        // The general path: every form of argument, and every error. Uids are built directly
        // and the context goes through JSON so the schema can type it.
        let uid = |obj: &Bound<'_, PyAny>, what: &str| -> PyResult<Uid> {
            // `format_args!` is lazy: the error path (`$.principal`) is written only for an error.
            let uid = match obj.cast::<PyDict>() {
                Ok(_) => mandate::uid_from_json(&py_to_json(obj, 0)?, format_args!("$.{what}")),
                Err(_) => {
                    let u = entity_uid(obj, what)?;
                    mandate::check_type_name(&u.ty, format_args!("$.{what}")).map(|()| u)
                }
            };
            uid.map_err(|e| request_diag(&e))
        };
        let principal = uid(principal, "principal")?;
        let action = uid(action, "action")?;
        let resource = uid(resource, "resource")?;
        let context_json = match context.filter(|c| !c.is_none()) {
            Some(ctx) => {
                if ctx.cast::<PyDict>().is_ok_and(|d| d.is_empty()) {
                    None
                } else {
                    let json = py_to_json(ctx, 0)?;
                    if !json.is_object() {
                        return Err(request_err("context must be a dict"));
                    }
                    Some(json)
                }
            }
            None => None,
        };
        let mut on_behalf_of = Vec::new();
        if let Some(chain) = on_behalf_of_arg.filter(|c| !c.is_none()) {
            let single = chain.is_instance_of::<PyString>()
                || chain.is_instance_of::<PyEntity>()
                || chain.is_instance_of::<PyTuple>()
                    && chain.len().ok() == Some(2)
                    && chain
                        .get_item(0)
                        .is_ok_and(|x| x.is_instance_of::<PyString>());
            if single {
                // One principal given on its own.
                on_behalf_of.push(uid(chain, "on_behalf_of")?);
            } else {
                for item in chain
                    .try_iter()
                    .map_err(|_| request_err("on_behalf_of must be a list of entities"))?
                {
                    on_behalf_of.push(uid(&item?, "on_behalf_of")?);
                }
            }
        }
        self.engine
            .check_request_parts(
                [
                    (&principal, "principal"),
                    (&action, "action"),
                    (&resource, "resource"),
                ],
                context_json.as_ref(),
            )
            .map_err(|e| request_diag(&e))?;
        let version = self.engine.version();
        let parsed = mandate::request_from_parts(
            mandate::RequestParts {
                principal,
                action,
                resource,
                context: context_json.as_ref(),
                on_behalf_of,
                validate: true,
            },
            version.schema.as_deref(),
        )
        .map_err(|e| request_diag(&e))?;
        Ok(Request {
            principal: parsed.request.principal,
            action: parsed.request.action,
            resource: parsed.request.resource,
            context: parsed.request.context,
            on_behalf_of: parsed.on_behalf_of,
        })
    }

    /// The common request without JSON: entities as `(type, id)` tuples (or `Entity`, or plain
    /// `Type::"id"` strs), a context dict of bool, int and str values, no delegation chain; the
    /// context is typed by `mandate::context_from_scalars`. `None` for anything else, and for
    /// anything the general path would reject (a limit, the schema): the general path then
    /// decides or gives the error, so both paths accept the same requests with the same result.
    fn fast_request(
        &self,
        principal: &Bound<'_, PyAny>,
        action: &Bound<'_, PyAny>,
        resource: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> Option<Request> {
        let principal = fast_uid(principal)?;
        let action = fast_uid(action)?;
        let resource = fast_uid(resource)?;
        let max_string = self.engine.limits().max_string_bytes;
        let mut fields = Vec::new();
        if let Some(ctx) = context.filter(|c| !c.is_none()) {
            let ctx = ctx.cast::<PyDict>().ok()?;
            fields.reserve(ctx.len());
            let mut keys = self.context_keys.lock().ok()?;
            for (k, v) in ctx.iter() {
                let cached = keys
                    .iter()
                    .find(|(o, _)| o.as_ptr() == k.as_ptr())
                    .map(|(_, t)| t);
                let key = match cached {
                    Some(text) if text.len() <= max_string => text.as_ref().into(),
                    Some(_) => return None,
                    None => {
                        let key = with_str(&k, |k| Some(Box::<str>::from(k)))?;
                        if key.len() > max_string {
                            return None;
                        }
                        let small = key.as_ref().into();
                        if keys.len() < CONTEXT_KEY_CACHE
                            && let Ok(obj) = k.cast::<PyString>()
                        {
                            keys.push((obj.clone().unbind(), key));
                        }
                        small
                    }
                };
                let value = if let Ok(b) = v.cast::<PyBool>() {
                    mandate::ContextScalar::Bool(b.is_true())
                } else if v.is_instance_of::<PyInt>() {
                    mandate::ContextScalar::Long(v.extract::<i64>().ok()?)
                } else {
                    with_str(&v, |s| {
                        (s.len() <= max_string).then(|| mandate::ContextScalar::String(s.into()))
                    })?
                };
                fields.push((key, value));
            }
        }
        self.engine
            .check_request_parts(
                [
                    (&principal, "principal"),
                    (&action, "action"),
                    (&resource, "resource"),
                ],
                None,
            )
            .ok()?;
        let version = self.engine.version();
        let schema = version.schema.as_deref();
        let context_type =
            mandate::check_request_scope(&principal, &action, &resource, true, schema).ok()?;
        let context = mandate::context_from_scalars(fields, context_type)?;
        Some(Request {
            principal,
            action,
            resource,
            context,
            on_behalf_of: Vec::new(),
        })
    }

    fn request_from_item(&self, item: &Bound<'_, PyAny>) -> PyResult<Request> {
        if let Ok(d) = item.cast::<PyDict>() {
            let get = |k: &str| d.get_item(k);
            let need = |k: &str| -> PyResult<Bound<'_, PyAny>> {
                get(k)?.ok_or_else(|| request_err(format!("the request has no `{k}`")))
            };
            let context = get("context")?;
            let chain = get("on_behalf_of")?;
            return self.request(
                &need("principal")?,
                &need("action")?,
                &need("resource")?,
                context.as_ref(),
                chain.as_ref(),
            );
        }
        if let Ok(t) = item.cast::<PyTuple>() {
            let n = t.len();
            if (3..=5).contains(&n) {
                let context = if n > 3 { Some(t.get_item(3)?) } else { None };
                let chain = if n > 4 { Some(t.get_item(4)?) } else { None };
                return self.request(
                    &t.get_item(0)?,
                    &t.get_item(1)?,
                    &t.get_item(2)?,
                    context.as_ref(),
                    chain.as_ref(),
                );
            }
        }
        Err(request_err(
            "a request is a dict with principal, action, resource (and optionally context, on_behalf_of) or a (principal, action, resource[, context[, on_behalf_of]]) tuple",
        ))
    }

    fn agent_spec(
        agent: &Bound<'_, PyAny>,
        owner: &Bound<'_, PyAny>,
        display_name: Option<String>,
        parents: Option<&Bound<'_, PyAny>>,
        attributes: Option<&Bound<'_, PyAny>>,
        expires_ms: Option<u64>,
    ) -> PyResult<AgentSpec> {
        let uid = entity_uid(agent, "agent")?;
        let owner = entity_uid(owner, "owner")?;
        let mut spec = AgentSpec::new(
            uid.ty.as_str(),
            uid.id.as_str(),
            EntityRef::new(owner.ty.as_str(), owner.id.as_str()),
        );
        spec.display_name = display_name;
        if let Some(parents) = parents.filter(|p| !p.is_none()) {
            for p in parents.try_iter()? {
                let p = entity_uid(&p?, "parents")?;
                spec.parents
                    .push(EntityRef::new(p.ty.as_str(), p.id.as_str()));
            }
        }
        if let Some(attrs) = attributes.filter(|a| !a.is_none()) {
            match py_to_json(attrs, 0)? {
                Json::Object(map) => spec.attributes = map,
                _ => return Err(request_err("attributes must be a dict")),
            }
        }
        spec.expires_ms = expires_ms;
        Ok(spec)
    }
}

#[pymethods]
impl NativeEngine {
    /// Builds an engine. Python's `Engine.from_dir` / `Engine.from_strings` call this.
    #[staticmethod]
    #[pyo3(signature = (
        *, policy_paths=None, policy_texts=None, schema_path=None, schema_text=None,
        schema_json=false, entities_path=None, entities_json=None, state_dir=None,
        quota_store=None, audit=None, error_mode="deny-on-forbid-error", validate=true,
        max_delegation=4, on_store_failure="deny", on_audit_failure="deny", keep_versions=10,
        actor="", reason="", reference="", limits=None
    ))]
    #[expect(clippy::too_many_arguments, reason = "keyword-only Python constructor")]
    fn build(
        py: Python<'_>,
        policy_paths: Option<Vec<PathBuf>>,
        policy_texts: Option<Vec<(String, String)>>,
        schema_path: Option<PathBuf>,
        schema_text: Option<String>,
        schema_json: bool,
        entities_path: Option<PathBuf>,
        entities_json: Option<String>,
        state_dir: Option<PathBuf>,
        quota_store: Option<String>,
        audit: Option<Py<PyAny>>,
        error_mode: &str,
        validate: bool,
        max_delegation: usize,
        on_store_failure: &str,
        on_audit_failure: &str,
        keep_versions: usize,
        actor: &str,
        reason: &str,
        reference: &str,
        limits: Option<std::collections::BTreeMap<String, usize>>,
    ) -> PyResult<Self> {
        shield(|| {
            // `max_delegation` is the older spelling of `limits["max_delegation_depth"]`; the
            // dict wins when it has both.
            let mut engine_limits = mandate::Limits {
                max_delegation_depth: max_delegation,
                ..mandate::Limits::default()
            };
            for (name, value) in limits.unwrap_or_default() {
                engine_limits
                    .set(&name, value)
                    .map_err(pyo3::exceptions::PyValueError::new_err)?;
            }
            let options = EngineOptions {
                error_mode: parse_mode(
                    error_mode,
                    "error_mode",
                    &[
                        ("deny-on-forbid-error", ErrorMode::DenyOnForbidError),
                        ("cedar", ErrorMode::Cedar),
                    ],
                )?,
                limits: engine_limits,
                on_store_failure: parse_mode(
                    on_store_failure,
                    "on_store_failure",
                    &[
                        ("deny", StoreFailureMode::Deny),
                        ("allow", StoreFailureMode::Allow),
                    ],
                )?,
                keep_versions,
                on_audit_failure: parse_mode(
                    on_audit_failure,
                    "on_audit_failure",
                    &[
                        ("deny", AuditFailureMode::Deny),
                        ("best-effort", AuditFailureMode::BestEffort),
                    ],
                )?,
                validate,
            };
            let mut builder = Engine::builder()
                .options(options)
                .change(change(actor, reason, reference));
            builder = match policy_source(policy_paths, policy_texts)? {
                PolicySource::Paths(p) => builder.policy_paths(p),
                PolicySource::Texts(t) => builder.policy_texts(t),
            };
            match schema_source(schema_path, schema_text, schema_json) {
                Some(SchemaSource::Path(p)) => builder = builder.schema_path(p),
                Some(SchemaSource::Text { text, json }) => {
                    builder = builder.schema_text(text, json);
                }
                None => {}
            }
            if let Some(p) = entities_path {
                builder = builder.entities_path(p);
            }
            if let Some(t) = entities_json {
                builder = builder.entities_json(t);
            }
            if let Some(dir) = state_dir {
                builder = builder.state_dir(dir);
            }
            match quota_store.as_deref() {
                None | Some("memory") => {}
                Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                    let store = py
                        .detach(|| {
                            mandate::quota::RedisStore::connect(
                                url,
                                mandate::quota::RedisOptions::default(),
                            )
                        })
                        .map_err(|e| StoreError::new_err(e.to_string()))?;
                    builder = builder.quota_store(Arc::new(store));
                }
                Some(other) => {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "unknown quota store `{other}`: use \"memory\" or \"redis://HOST:PORT/\""
                    )));
                }
            }
            if let Some(callback) = audit {
                builder = builder.audit(Arc::new(CallableSink { callback }));
            }
            let engine = py
                .detach(|| builder.build())
                .map_err(|e| engine_err(py, e))?;
            Ok(NativeEngine {
                engine,
                context_keys: std::sync::Mutex::default(),
            })
        })
    }

    /// Decides one request. The GIL is released while the engine decides.
    #[pyo3(signature = (principal, action, resource, context=None, on_behalf_of=None, dry_run=false, reserve=false))]
    #[expect(clippy::too_many_arguments, reason = "mirrors the Python signature")]
    fn authorize(
        &self,
        py: Python<'_>,
        principal: &Bound<'_, PyAny>,
        action: &Bound<'_, PyAny>,
        resource: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        on_behalf_of: Option<&Bound<'_, PyAny>>,
        dry_run: bool,
        reserve: bool,
    ) -> PyResult<PyDecision> {
        shield(|| {
            let request = self.request(principal, action, resource, context, on_behalf_of)?;
            let options = AuthorizeOptions { dry_run, reserve };
            let engine = &self.engine;
            let decision = py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    engine.authorize_with(&request, options)
                }))
            });
            match decision {
                Ok(inner) => Ok(PyDecision { inner }),
                Err(_) => Err(InternalError::new_err(
                    "internal error in mandate while deciding (please report it)",
                )),
            }
        })
    }

    /// Decides one request given as request JSON text (the form `mandate authorize
    /// --request-json` reads), checked against `max_request_bytes` before it is parsed. The GIL
    /// is released while the engine reads and decides.
    #[pyo3(signature = (request, dry_run=false, reserve=false))]
    fn authorize_json(
        &self,
        py: Python<'_>,
        request: &str,
        dry_run: bool,
        reserve: bool,
    ) -> PyResult<PyDecision> {
        shield(|| {
            let options = AuthorizeOptions { dry_run, reserve };
            let engine = &self.engine;
            let decided = py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    engine
                        .request_from_json(request)
                        .map(|r| engine.authorize_with(&r, options))
                }))
            });
            match decided {
                Ok(Ok(inner)) => Ok(PyDecision { inner }),
                Ok(Err(d)) => Err(diagnostic_err(py, &d, "<request>")),
                Err(_) => Err(InternalError::new_err(
                    "internal error in mandate while deciding (please report it)",
                )),
            }
        })
    }

    /// Decides many requests with one release of the GIL.
    #[pyo3(signature = (requests, dry_run=false, reserve=false))]
    fn authorize_many(
        &self,
        py: Python<'_>,
        requests: &Bound<'_, PyAny>,
        dry_run: bool,
        reserve: bool,
    ) -> PyResult<Vec<PyDecision>> {
        shield(|| {
            let mut parsed = Vec::new();
            for (i, item) in requests.try_iter()?.enumerate() {
                let item = item?;
                let request = self.request_from_item(&item).map_err(|e| {
                    let prefix = format!("request {i}: ");
                    let value = e.value(py);
                    let message = value.str().map(|s| s.to_string()).unwrap_or_default();
                    let new = PyErr::from_type(value.get_type(), format!("{prefix}{message}"));
                    if let Ok(d) = value.getattr("diagnostics") {
                        let _ = new.value(py).setattr("diagnostics", d);
                    }
                    new
                })?;
                parsed.push(request);
            }
            let options = AuthorizeOptions { dry_run, reserve };
            let engine = &self.engine;
            let decisions = py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    parsed
                        .iter()
                        .map(|r| engine.authorize_with(r, options))
                        .collect::<Vec<_>>()
                }))
            });
            match decisions {
                Ok(ds) => Ok(ds.into_iter().map(|inner| PyDecision { inner }).collect()),
                Err(_) => Err(InternalError::new_err(
                    "internal error in mandate while deciding (please report it)",
                )),
            }
        })
    }

    /// For benchmarks: decides the (already converted) requests `rounds` times in Rust, with the
    /// GIL released, and returns the mean nanoseconds per decision. This is the baseline the
    /// Python per-call overhead is measured against (`bindings/python/bench/`).
    #[pyo3(signature = (requests, rounds=1))]
    fn _time_decisions(
        &self,
        py: Python<'_>,
        requests: &Bound<'_, PyAny>,
        rounds: usize,
    ) -> PyResult<f64> {
        shield(|| {
            let mut parsed = Vec::new();
            for item in requests.try_iter()? {
                parsed.push(self.request_from_item(&item?)?);
            }
            let engine = &self.engine;
            let elapsed = py
                .detach(|| {
                    catch_unwind(AssertUnwindSafe(|| {
                        let start = std::time::Instant::now();
                        for _ in 0..rounds {
                            for r in &parsed {
                                std::hint::black_box(engine.authorize(r));
                            }
                        }
                        start.elapsed()
                    }))
                })
                .map_err(|_| InternalError::new_err("internal error in mandate while timing"))?;
            let n = parsed.len().saturating_mul(rounds).max(1);
            #[expect(clippy::cast_precision_loss, reason = "a mean for a report")]
            Ok(elapsed.as_nanos() as f64 / n as f64)
        })
    }

    /// The running policy version id (`sha256:…`).
    #[getter]
    fn policy_version(&self) -> String {
        self.engine.version().id.to_string()
    }

    /// The kept versions, oldest first: dicts with id, loaded_ms, policies, quotas, change.
    fn versions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let list: Vec<Json> = self
                .engine
                .versions()
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "id": &*v.id,
                        "loaded_ms": v.loaded_ms,
                        "policies": v.counts.0,
                        "quotas": v.counts.1,
                        "change": v.change,
                    })
                })
                .collect();
            json_to_py(py, &Json::Array(list))
        })
    }

    /// How many audit records could not be written.
    #[getter]
    fn audit_failures(&self) -> u64 {
        self.engine.audit_failures()
    }

    /// Re-reads the running sources as a new version; returns its id.
    #[pyo3(signature = (actor="", reason="", reference=""))]
    fn reload(
        &self,
        py: Python<'_>,
        actor: &str,
        reason: &str,
        reference: &str,
    ) -> PyResult<String> {
        shield(|| {
            let c = change(actor, reason, reference);
            py.detach(|| self.engine.reload(c))
                .map(|v| v.id.to_string())
                .map_err(|e| engine_err(py, e))
        })
    }

    /// Replaces the policies (and optionally the schema); returns the new version id.
    #[pyo3(signature = (*, policy_paths=None, policy_texts=None, schema_path=None, schema_text=None, schema_json=false, actor="", reason="", reference=""))]
    #[expect(clippy::too_many_arguments, reason = "keyword-only Python method")]
    fn reload_policies(
        &self,
        py: Python<'_>,
        policy_paths: Option<Vec<PathBuf>>,
        policy_texts: Option<Vec<(String, String)>>,
        schema_path: Option<PathBuf>,
        schema_text: Option<String>,
        schema_json: bool,
        actor: &str,
        reason: &str,
        reference: &str,
    ) -> PyResult<String> {
        shield(|| {
            let source = policy_source(policy_paths, policy_texts)?;
            let schema = schema_source(schema_path, schema_text, schema_json);
            let c = change(actor, reason, reference);
            py.detach(|| self.engine.reload_policies(source, schema, c))
                .map(|v| v.id.to_string())
                .map_err(|e| engine_err(py, e))
        })
    }

    /// Returns to the previous kept version; returns its id.
    #[pyo3(signature = (actor="", reason="", reference=""))]
    fn rollback(
        &self,
        py: Python<'_>,
        actor: &str,
        reason: &str,
        reference: &str,
    ) -> PyResult<String> {
        shield(|| {
            let c = change(actor, reason, reference);
            py.detach(|| self.engine.rollback(c))
                .map(|v| v.id.to_string())
                .map_err(|e| engine_err(py, e))
        })
    }

    /// Settles a reservation to the actual cost.
    fn settle<'py>(
        &self,
        py: Python<'py>,
        decision_id: &str,
        cost: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let s = py
                .detach(|| self.engine.settle(decision_id, cost))
                .map_err(|e| StoreError::new_err(e.to_string()))?;
            to_py(py, &s)
        })
    }

    /// Releases a reservation entirely.
    fn refund<'py>(&self, py: Python<'py>, decision_id: &str) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let s = py
                .detach(|| self.engine.refund(decision_id))
                .map_err(|e| StoreError::new_err(e.to_string()))?;
            to_py(py, &s)
        })
    }

    /// Every quota that applies to `principal`, with its usage.
    fn quota_status<'py>(
        &self,
        py: Python<'py>,
        principal: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let uid = entity_uid(principal, "principal")?;
            let s = py
                .detach(|| self.engine.quota_status(&uid))
                .map_err(|e| StoreError::new_err(e.to_string()))?;
            to_py(py, &s)
        })
    }

    /// Registers an agent; returns it as a dict.
    #[pyo3(signature = (agent, owner, *, display_name=None, parents=None, attributes=None, expires_ms=None, actor="", reason=""))]
    #[expect(
        clippy::too_many_arguments,
        reason = "keyword arguments of the Python method"
    )]
    fn agent_register<'py>(
        &self,
        py: Python<'py>,
        agent: &Bound<'py, PyAny>,
        owner: &Bound<'py, PyAny>,
        display_name: Option<String>,
        parents: Option<&Bound<'py, PyAny>>,
        attributes: Option<&Bound<'py, PyAny>>,
        expires_ms: Option<u64>,
        actor: &str,
        reason: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let spec =
                Self::agent_spec(agent, owner, display_name, parents, attributes, expires_ms)?;
            let a = py
                .detach(|| self.engine.agents().register(spec, actor, reason))
                .map_err(|e| engine_err(py, e))?;
            to_py(py, &a)
        })
    }

    /// Replaces an agent's owner, parents, attributes and expiry; returns it as a dict.
    #[pyo3(signature = (agent, owner, *, display_name=None, parents=None, attributes=None, expires_ms=None, actor="", reason=""))]
    #[expect(
        clippy::too_many_arguments,
        reason = "keyword arguments of the Python method"
    )]
    fn agent_update<'py>(
        &self,
        py: Python<'py>,
        agent: &Bound<'py, PyAny>,
        owner: &Bound<'py, PyAny>,
        display_name: Option<String>,
        parents: Option<&Bound<'py, PyAny>>,
        attributes: Option<&Bound<'py, PyAny>>,
        expires_ms: Option<u64>,
        actor: &str,
        reason: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let spec =
                Self::agent_spec(agent, owner, display_name, parents, attributes, expires_ms)?;
            let a = py
                .detach(|| self.engine.agents().update(spec, actor, reason))
                .map_err(|e| engine_err(py, e))?;
            to_py(py, &a)
        })
    }

    /// `suspend`, `resume` or `revoke` an agent; returns it as a dict.
    #[pyo3(signature = (op, agent, actor="", reason=""))]
    fn agent_transition<'py>(
        &self,
        py: Python<'py>,
        op: &str,
        agent: &Bound<'py, PyAny>,
        actor: &str,
        reason: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let uid = entity_uid(agent, "agent")?;
            let agents = self.engine.agents();
            let result = match op {
                "suspend" => py.detach(|| agents.suspend(&uid, actor, reason)),
                "resume" => py.detach(|| agents.resume(&uid, actor, reason)),
                "revoke" => py.detach(|| agents.revoke(&uid, actor, reason)),
                other => {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "unknown lifecycle operation `{other}`"
                    )));
                }
            };
            let a = result.map_err(|e| engine_err(py, e))?;
            to_py(py, &a)
        })
    }

    /// One agent as a dict, or None.
    fn agent_get<'py>(
        &self,
        py: Python<'py>,
        agent: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let uid = entity_uid(agent, "agent")?;
            let a = self
                .engine
                .agents()
                .get(&uid)
                .map_err(|e| engine_err(py, e))?;
            match a {
                Some(a) => to_py(py, &a),
                None => Ok(py.None().into_bound(py)),
            }
        })
    }

    /// Every agent (revoked ones included), as dicts.
    fn agent_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        shield(|| {
            let a = self.engine.agents().list().map_err(|e| engine_err(py, e))?;
            to_py(py, &a)
        })
    }

    /// The effective state of an agent now (`active`, `suspended`, `revoked`, `expired`), or None.
    fn agent_state(&self, py: Python<'_>, agent: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
        shield(|| {
            let uid = entity_uid(agent, "agent")?;
            let a = self
                .engine
                .agents()
                .get(&uid)
                .map_err(|e| engine_err(py, e))?;
            Ok(a.map(|a| a.effective_state(self.engine.now_ms()).as_str().to_string()))
        })
    }

    fn __repr__(&self) -> String {
        let v = self.engine.version();
        format!(
            "<mandate.Engine version={} policies={} quotas={} quota_store={}>",
            v.short_id(),
            v.counts.0,
            v.counts.1,
            self.engine.quota_store_name()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// check and lint

fn load_schema_for(
    py: Python<'_>,
    schema: Option<PathBuf>,
    out: &mut Vec<FileDiagnostics>,
) -> PyResult<Option<mandate::Schema>> {
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
                let files = vec![d];
                return Err(err_with_diagnostics::<PolicyError>(
                    py,
                    e_render(&files),
                    &files_json(&files),
                ));
            }
            out.push(d);
            Ok(None)
        }
    }
}

fn parse_paths(py: Python<'_>, paths: &[PathBuf]) -> PyResult<Vec<mandate::load::ParsedFile>> {
    mandate::load::parse_files(paths).map_err(|d| {
        let files = vec![d];
        err_with_diagnostics::<PolicyError>(py, e_render(&files), &files_json(&files))
    })
}

/// Parses policy files (and type-checks them against a schema); returns every diagnostic.
#[pyfunction]
#[pyo3(signature = (paths, schema=None))]
fn check<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    schema: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    shield(|| {
        let files = parse_paths(py, &paths)?;
        let mut extra = Vec::new();
        let schema = load_schema_for(py, schema, &mut extra)?;
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
        json_to_py(py, &files_json(&results))
    })
}

/// `check` plus Mandate's lints; returns every diagnostic.
#[pyfunction]
#[pyo3(signature = (paths, schema=None, config=None, now_ms=None))]
fn lint<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    schema: Option<PathBuf>,
    config: Option<String>,
    now_ms: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    shield(|| {
        let parsed = parse_paths(py, &paths)?;
        let mut extra = Vec::new();
        let schema = load_schema_for(py, schema, &mut extra)?;
        let config = match config {
            None => mandate::lint::LintConfig::default(),
            Some(text) => mandate::lint::LintConfig::from_toml_str(&text).map_err(|diags| {
                let files = vec![FileDiagnostics {
                    source: mandate::Source::new("mandate.toml", text.clone()),
                    diagnostics: diags,
                }];
                err_with_diagnostics::<PolicyError>(py, e_render(&files), &files_json(&files))
            })?,
        };
        let now = now_ms.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        });
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
        json_to_py(py, &files_json(&results))
    })
}

/// The version of the Rust engine.
#[pyfunction]
fn engine_version() -> &'static str {
    mandate::audit::ENGINE_VERSION
}

/// Every limit (`mandate::Limits`) with its default, as `limits=` takes them.
#[pyfunction]
fn default_limits() -> std::collections::BTreeMap<&'static str, usize> {
    let defaults = mandate::Limits::default();
    mandate::LIMIT_NAMES
        .iter()
        .filter_map(|name| Some((*name, defaults.get(name)?)))
        .collect()
}

/// Raises a Rust panic inside the boundary (tests that no panic crosses into Python).
#[pyfunction]
#[expect(
    clippy::panic,
    reason = "the tests need a panic to check that none crosses into Python"
)]
fn _panic_for_tests() -> PyResult<()> {
    shield(|| -> PyResult<()> {
        std::panic::panic_any("deliberate panic for tests".to_string());
    })
}

/// The native module.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{
        _panic_for_tests, AgentError, InternalError, MandateError, NativeEngine, PolicyError,
        PyDecision, PyEntity, RequestError, StoreError, check, default_limits, engine_version,
        lint,
    };
}
