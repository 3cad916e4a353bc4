//! Status codes and error objects: what every C entry point returns. Safe code only.

use mandate::EngineError;
use mandate::load::FileDiagnostics;
use std::cell::RefCell;
use std::ffi::CString;

/// What a call did. Every function of the C API that can fail returns one.
///
/// A denied request is not an error: `mandate_authorize` returns `MANDATE_OK` and reports the
/// denial in the decision.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    non_camel_case_types,
    reason = "C enumerators are SCREAMING_CASE and must not collide across enums"
)]
pub enum MandateStatus {
    /// Success.
    MANDATE_OK = 0,
    /// A NULL pointer where a value is required, a string that is not UTF-8, an out-of-range
    /// option, or a malformed argument (an entity uid that is not `Type::"id"`).
    MANDATE_ERR_INVALID_ARGUMENT = 1,
    /// Policies, schema or entities with errors (the error carries the diagnostics as JSON), or
    /// a rollback with no earlier version kept.
    MANDATE_ERR_POLICY = 2,
    /// A request the engine cannot read: malformed JSON, or one the schema does not allow.
    MANDATE_ERR_REQUEST = 3,
    /// An agent lifecycle operation the registry refuses: unknown agent, existing or revoked id,
    /// illegal transition, or an agent that does not fit the schema.
    MANDATE_ERR_AGENT = 4,
    /// The quota store or the agent registry's storage failed, or a reservation is unknown,
    /// expired or already settled.
    MANDATE_ERR_STORE = 5,
    /// The audit log cannot be opened.
    MANDATE_ERR_AUDIT = 6,
    /// A file or directory cannot be read (`mandate_check_json`, `mandate_lint_json`).
    MANDATE_ERR_IO = 7,
    /// A bug in Mandate: a Rust panic, caught at the boundary. The engine handle it happened on
    /// is poisoned.
    MANDATE_ERR_PANIC = 8,
    /// The engine handle was poisoned by an earlier panic; free it and build a new one.
    MANDATE_ERR_POISONED = 9,
}

/// An error: a status, a message and, for policy errors, the diagnostics as JSON.
///
/// Opaque to C; read it with `mandate_error_code`, `mandate_error_message` and
/// `mandate_error_diagnostics_json`, free it with `mandate_error_free`.
#[derive(Debug)]
pub struct MandateError {
    pub(crate) status: MandateStatus,
    pub(crate) message: CString,
    pub(crate) diagnostics: Option<CString>,
}

/// A failure inside the binding, before it becomes a `MandateError`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: MandateStatus,
    pub message: String,
    pub diagnostics: Option<serde_json::Value>,
}

impl Failure {
    pub fn new(status: MandateStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            diagnostics: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::new(MandateStatus::MANDATE_ERR_INVALID_ARGUMENT, message)
    }

    pub fn request(message: impl Into<String>) -> Self {
        Failure::new(MandateStatus::MANDATE_ERR_REQUEST, message)
    }

    pub fn poisoned() -> Self {
        Failure::new(
            MandateStatus::MANDATE_ERR_POISONED,
            "the engine handle is poisoned by an earlier internal error (a panic); free it and build a new engine",
        )
    }

    /// A caught panic, with its message when it has one.
    pub fn panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Failure::new(
            MandateStatus::MANDATE_ERR_PANIC,
            format!("internal error in mandate (please report it): {message}"),
        )
    }

    /// Policy, schema or entity diagnostics.
    pub fn load(status: MandateStatus, files: &[FileDiagnostics]) -> Self {
        let text: String = files.iter().map(FileDiagnostics::render).collect();
        Failure {
            status,
            message: text.trim_end().to_string(),
            diagnostics: Some(crate::json::files_json(files)),
        }
    }

    /// One diagnostic about an input that has no file (a request).
    pub fn diagnostic(status: MandateStatus, d: &mandate::Diagnostic, name: &str) -> Self {
        let files = vec![FileDiagnostics::bare(name, d.clone())];
        let mut message = d.message.clone();
        if let Some(note) = &d.note {
            message.push_str(&format!(" ({note})"));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("; help: {help}"));
        }
        Failure {
            status,
            message,
            diagnostics: Some(crate::json::files_json(&files)),
        }
    }

    pub fn into_error(self) -> MandateError {
        MandateError {
            status: self.status,
            message: cstring_lossy(self.message),
            diagnostics: self.diagnostics.map(|d| cstring_lossy(d.to_string())),
        }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        use mandate::registry::RegistryError;
        match e {
            EngineError::Load(files) => Failure::load(MandateStatus::MANDATE_ERR_POLICY, &files),
            EngineError::Store(s) => Failure::new(MandateStatus::MANDATE_ERR_STORE, s.to_string()),
            EngineError::Registry(r) => {
                let status = match r {
                    RegistryError::AlreadyExists { .. }
                    | RegistryError::Revoked { .. }
                    | RegistryError::IllegalTransition { .. }
                    | RegistryError::NotFound { .. }
                    | RegistryError::InvalidSpec(_) => MandateStatus::MANDATE_ERR_AGENT,
                    _ => MandateStatus::MANDATE_ERR_STORE,
                };
                Failure::new(status, r.to_string())
            }
            EngineError::Invalid(m) => Failure::new(MandateStatus::MANDATE_ERR_AGENT, m),
            EngineError::NoPreviousVersion => Failure::new(
                MandateStatus::MANDATE_ERR_POLICY,
                EngineError::NoPreviousVersion.to_string(),
            ),
        }
    }
}

impl From<mandate::quota::StoreError> for Failure {
    fn from(e: mandate::quota::StoreError) -> Self {
        Failure::new(MandateStatus::MANDATE_ERR_STORE, e.to_string())
    }
}

/// A C string from Rust text; an interior NUL (possible in entity ids quoted in messages) is
/// written as `\0` so nothing is cut off.
pub(crate) fn cstring_lossy(text: String) -> CString {
    match CString::new(text) {
        Ok(c) => c,
        Err(e) => {
            let text = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\\0");
            CString::new(text).unwrap_or_default()
        }
    }
}

thread_local! {
    /// The message of the most recent failed call on this thread.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Remembers the message of a failure for `mandate_last_error_message`.
pub(crate) fn set_last_error(message: &CString) {
    LAST_ERROR.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = Some(message.clone());
        }
    });
}

/// The pointer behind `mandate_last_error_message`: valid until the next failing call on this
/// thread (the `CString` it points into is replaced only then).
pub(crate) fn last_error_ptr() -> *const std::ffi::c_char {
    LAST_ERROR.with(|cell| match cell.try_borrow() {
        Ok(slot) => slot.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        Err(_) => std::ptr::null(),
    })
}
