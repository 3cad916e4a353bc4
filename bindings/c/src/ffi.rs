//! The C entry points. Every function here:
//! - runs its body inside [`guard`] (no panic unwinds into C); calls on an engine go through
//!   [`with_engine`], which also poisons the handle when a panic is caught;
//! - checks every pointer for NULL and every string for UTF-8 before use;
//! - sets `*err` (when `err` is not NULL) to NULL on success and to a new error on failure, and
//!   sets owned out-parameters to NULL before doing anything else.
//!
//! Ownership (mirrored in `docs/c.md`): strings returned through `char **` are freed with
//! `mandate_string_free`; errors with `mandate_error_free`; decisions with
//! `mandate_decision_free`; engines with `mandate_engine_free`. Everything passed in is borrowed
//! for the duration of the call only.
//!
//! Engine and error handles are registry entries, never dereferenced (see `handles`): a freed,
//! foreign or garbage handle is reported, not undefined behaviour.

#![expect(
    unsafe_code,
    reason = "the C ABI: `#[unsafe(no_mangle)]` entry points reading raw pointers from C; every unsafe block has a SAFETY comment"
)]

use crate::error::{Failure, MandateError, MandateStatus, cstring_lossy, last_error_ptr};
use crate::handles;
use crate::json::{self, Inputs, Settings};
use crate::{MandateDecision, MandateEffect, MandateEngine, MandateOptions, MandateRequest};
use mandate::{ChangeRef, Engine};
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };

// ---------------------------------------------------------------------------------------------
// Argument conversion

/// Reads an optional borrowed C string.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and unchanged until the
/// returned reference is dropped (the duration of the C call).
unsafe fn opt_str<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: `p` is not NULL, and the caller guarantees a NUL-terminated string valid for 'a.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map(Some).map_err(|e| {
        Failure::invalid(format!(
            "{what} is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

/// Reads a required borrowed C string.
///
/// # Safety
/// As [`opt_str`].
unsafe fn req_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded contract.
    unsafe { opt_str(p, what) }?.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// Reads an array of `len` borrowed C strings.
///
/// # Safety
/// `items` is NULL (then `len` must be 0) or points to `len` readable pointers, each satisfying
/// [`opt_str`]'s contract.
unsafe fn str_array<'a>(
    items: *const *const c_char,
    len: usize,
    what: &str,
) -> Result<Vec<&'a str>, Failure> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if items.is_null() {
        return Err(Failure::invalid(format!(
            "{what} is NULL but its length is {len}"
        )));
    }
    // SAFETY: `items` is not NULL and the caller guarantees `len` readable elements.
    let slice = unsafe { std::slice::from_raw_parts(items, len) };
    slice
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // SAFETY: each element satisfies `req_str`'s contract (caller guarantee).
            unsafe { req_str(*p, &format!("{what}[{i}]")) }
        })
        .collect()
}

/// Sets an owned out-parameter to NULL, when there is one.
///
/// # Safety
/// `out` is NULL or valid for writes.
unsafe fn clear_out<T>(out: *mut *mut T) {
    if !out.is_null() {
        // SAFETY: `out` is not NULL and valid for writes (caller guarantee).
        unsafe { out.write(std::ptr::null_mut()) };
    }
}

/// Hands a string to the caller through `out` (freed with `mandate_string_free`).
///
/// # Safety
/// `out` is NULL or valid for writes.
unsafe fn give_string(out: *mut *mut c_char, text: String) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::invalid("the result pointer is NULL"));
    }
    let raw = cstring_lossy(text).into_raw();
    handles::insert_string(raw.addr());
    // SAFETY: `out` is not NULL and valid for writes (caller guarantee).
    unsafe { out.write(raw) };
    Ok(())
}

/// A string for a field of a `mandate_decision` (freed by `mandate_decision_free`, so not in
/// the string registry): one allocation, sized for the terminating NUL.
fn string_ptr(text: &str) -> *mut c_char {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    match CString::new(bytes) {
        Ok(c) => c.into_raw(),
        Err(e) => cstring_lossy(String::from_utf8_lossy(&e.into_vec()).into_owned()).into_raw(),
    }
}

/// Frees a string made by [`string_ptr`] (or given by [`give_string`] and already removed from
/// the registry).
///
/// # Safety
/// `s` is NULL or came from `CString::into_raw` and is freed once.
unsafe fn free_cstring(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from `CString::into_raw` and is freed once (caller guarantee).
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Remembers a message about a misused handle for `mandate_last_error_message`, for the free
/// functions and accessors, which have no status to return.
fn note_misuse(message: String) {
    crate::error::set_last_error(&cstring_lossy(message));
}

/// The message for a handle that is not live.
fn not_live(what: &str, handle: usize) -> String {
    format!(
        "{what} {handle:#x} is not live: it was freed already, or was never returned by this library"
    )
}

// ---------------------------------------------------------------------------------------------
// Panic guard

/// Drops a panic payload without letting a panicking `Drop` escape.
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// Runs `f` with every panic caught, and reports its outcome: the status, and the error through
/// `err` (also remembered for `mandate_last_error_message`).
///
/// # Safety
/// `err` is NULL or valid for writes.
unsafe fn guard(
    err: *mut *mut MandateError,
    f: impl FnOnce() -> Result<(), Failure>,
) -> MandateStatus {
    let outcome = catch_unwind(AssertUnwindSafe(|| f().map_err(Failure::into_error)));
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(payload) => {
            let made = catch_unwind(AssertUnwindSafe(|| Failure::panic(&*payload).into_error()));
            drop_payload(payload);
            Some(made.unwrap_or_else(|again| {
                drop_payload(again);
                MandateError {
                    status: MandateStatus::MANDATE_ERR_PANIC,
                    message: c"internal error in mandate".to_owned(),
                    diagnostics: None,
                }
            }))
        }
    };
    match error {
        None => {
            // SAFETY: `err` is NULL or valid for writes (caller guarantee).
            unsafe { clear_out(err) };
            MandateStatus::MANDATE_OK
        }
        Some(e) => {
            let status = e.status;
            crate::error::set_last_error(&e.message);
            if err.is_null() {
                drop(e);
            } else {
                let handle = handles::insert_error(e);
                // SAFETY: `err` is not NULL and valid for writes (caller guarantee).
                unsafe { err.write(std::ptr::without_provenance_mut(handle)) };
            }
            status
        }
    }
}

/// The engine behind a handle: NULL and handles that are not live (freed, foreign, garbage)
/// are `MANDATE_ERR_INVALID_ARGUMENT`. The handle is never dereferenced.
fn live_engine(engine: *const MandateEngine) -> Result<std::sync::Arc<MandateEngine>, Failure> {
    if engine.is_null() {
        return Err(Failure::invalid("engine is NULL"));
    }
    handles::engine(engine.addr())
        .ok_or_else(|| Failure::invalid(not_live("engine handle", engine.addr())))
}

/// [`guard`] for a call on an engine: checks the handle is live, refuses a poisoned one, and
/// poisons it when `f` panics. The call holds its own reference to the engine, so a concurrent
/// `mandate_engine_free` cannot pull it away.
///
/// # Safety
/// `err` is NULL or valid for writes. (`engine` may be anything: it is only looked up.)
unsafe fn with_engine(
    engine: *const MandateEngine,
    err: *mut *mut MandateError,
    f: impl FnOnce(&Engine) -> Result<(), Failure>,
) -> MandateStatus {
    let body = || {
        let handle = live_engine(engine)?;
        if handle.poisoned.load(Ordering::Acquire) {
            return Err(Failure::poisoned());
        }
        match catch_unwind(AssertUnwindSafe(|| f(&handle.engine))) {
            Ok(result) => result,
            Err(payload) => {
                handle.poisoned.store(true, Ordering::Release);
                let failure = Failure::panic(&*payload);
                drop_payload(payload);
                Err(failure)
            }
        }
    };
    // SAFETY: `err` is NULL or valid for writes (caller guarantee).
    unsafe { guard(err, body) }
}

// ---------------------------------------------------------------------------------------------
// Errors and strings

/// Looks up a live error for an accessor; `None` (with a note for `mandate_last_error_message`)
/// for NULL or a handle that is not live.
fn error_field<T>(error: *const MandateError, f: impl FnOnce(&MandateError) -> T) -> Option<T> {
    if error.is_null() {
        return None;
    }
    let found = handles::with_error(error.addr(), f);
    if found.is_none() {
        note_misuse(not_live("error handle", error.addr()));
    }
    found
}

/// The status of an error: `MANDATE_OK` for NULL, `MANDATE_ERR_INVALID_ARGUMENT` for a handle
/// that is not live (already freed, or not from this library).
///
/// # Safety
/// None: any value is accepted (handles are looked up, never dereferenced). Declared `unsafe`
/// for symmetry with the rest of the API.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_error_code(error: *const MandateError) -> MandateStatus {
    catch_unwind(AssertUnwindSafe(|| {
        if error.is_null() {
            return MandateStatus::MANDATE_OK;
        }
        error_field(error, |e| e.status).unwrap_or(MandateStatus::MANDATE_ERR_INVALID_ARGUMENT)
    }))
    .unwrap_or(MandateStatus::MANDATE_ERR_PANIC)
}

/// The message of an error, UTF-8 (possibly several lines, for policy diagnostics rendered
/// with their source). Borrowed: valid until `mandate_error_free(error)`. NULL for NULL and for
/// a handle that is not live (already freed, or not from this library).
///
/// # Safety
/// None: any value is accepted (handles are looked up, never dereferenced).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_error_message(error: *const MandateError) -> *const c_char {
    catch_unwind(AssertUnwindSafe(|| {
        error_field(error, |e| e.message.as_ptr()).unwrap_or(std::ptr::null())
    }))
    .unwrap_or(std::ptr::null())
}

/// The diagnostics of an error as a JSON array (the objects of `mandate check --format json`:
/// code, severity, message, file, labels with line and column, help, note), or NULL when the
/// error has none (only policy, schema, entity and request errors do). Borrowed: valid until
/// `mandate_error_free(error)`.
///
/// NULL also for a handle that is not live.
///
/// # Safety
/// None: any value is accepted (handles are looked up, never dereferenced).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_error_diagnostics_json(
    error: *const MandateError,
) -> *const c_char {
    catch_unwind(AssertUnwindSafe(|| {
        error_field(error, |e| {
            e.diagnostics
                .as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr())
        })
        .unwrap_or(std::ptr::null())
    }))
    .unwrap_or(std::ptr::null())
}

/// Frees an error. NULL is a no-op; so is a handle that is not live (freed already, or not from
/// this library), which is reported through `mandate_last_error_message` instead of being
/// undefined behaviour.
///
/// # Safety
/// None: any value is accepted (handles are looked up, never dereferenced). The strings
/// borrowed from the error are invalid afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_error_free(error: *mut MandateError) {
    if error.is_null() {
        return;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        match handles::remove_error(error.addr()) {
            Some(e) => drop_payload(Box::new(e)),
            None => note_misuse(format!(
                "mandate_error_free: {}; nothing was freed",
                not_live("error handle", error.addr())
            )),
        }
    }));
    if let Err(payload) = result {
        drop_payload(payload);
    }
}

/// The message of the most recent failed call on the calling thread, or NULL if none has
/// failed yet. Borrowed: valid until the next failing call on this thread. A convenience for
/// callers that pass NULL as `err`.
#[unsafe(no_mangle)]
pub extern "C" fn mandate_last_error_message() -> *const c_char {
    catch_unwind(last_error_ptr).unwrap_or(std::ptr::null())
}

/// Frees a string returned by this library through a `char **` out-parameter. NULL is a
/// no-op; so is a pointer that is not a live string of this library (freed already, a string of
/// a `mandate_decision`, or memory the library did not allocate), which is reported through
/// `mandate_last_error_message`. (A second free is not detected when the allocator has since
/// reused the address for a new string returned by the library: that string is freed.)
///
/// # Safety
/// `s` is NULL, or any pointer; it is dereferenced only when it is a live string of this
/// library. The string must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        if handles::remove_string(s.addr()) {
            // SAFETY: `s` was registered by `give_string`, so it came from `CString::into_raw`;
            // it has just been removed from the registry, so it is freed once.
            unsafe { free_cstring(s) };
        } else {
            note_misuse(format!(
                "mandate_string_free: {:#x} is not a live string returned by this library (freed already, part of a mandate_decision, or not ours); nothing was freed",
                s.addr()
            ));
        }
    }));
    if let Err(payload) = result {
        drop_payload(payload);
    }
}

/// The library version, e.g. `"0.1.0"`. Static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn mandate_version() -> *const c_char {
    VERSION.as_ptr()
}

// ---------------------------------------------------------------------------------------------
// Engines

/// # Safety
/// `options` is NULL or points to a readable `mandate_options` whose strings satisfy
/// [`opt_str`]'s contract.
unsafe fn settings(options: *const MandateOptions) -> Result<Settings, Failure> {
    // SAFETY: `options` is NULL or readable (caller guarantee); `as_ref` checks NULL. Every
    // field is an integer or a pointer, so any bit pattern is a valid value.
    let Some(o) = (unsafe { options.as_ref() }) else {
        return Ok(Settings::default());
    };
    // SAFETY: the option strings satisfy `opt_str`'s contract (caller guarantee).
    let (state_dir, quota_store, audit_file, limits_json) = unsafe {
        (
            opt_str(o.state_dir, "options.state_dir")?,
            opt_str(o.quota_store, "options.quota_store")?,
            opt_str(o.audit_file, "options.audit_file")?,
            opt_str(o.limits_json, "options.limits_json")?,
        )
    };
    Ok(Settings {
        error_mode: o.error_mode,
        on_store_failure: o.on_store_failure,
        on_audit_failure: o.on_audit_failure,
        no_validate: o.no_validate != 0,
        max_delegation: o.max_delegation,
        keep_versions: o.keep_versions,
        state_dir: state_dir.map(str::to_string),
        quota_store: quota_store.map(str::to_string),
        audit_file: audit_file.map(str::to_string),
        limits_json: limits_json.map(str::to_string),
    })
}

/// Hands a new engine to the caller: registers it and writes its handle (not an address).
///
/// # Safety
/// `out` is valid for writes (checked for NULL by the caller of this helper).
unsafe fn give_engine(out: *mut *mut MandateEngine, engine: Engine) {
    let handle = handles::insert_engine(MandateEngine {
        engine,
        poisoned: AtomicBool::new(false),
    });
    // SAFETY: `out` is not NULL and valid for writes (caller guarantee).
    unsafe { out.write(std::ptr::without_provenance_mut(handle)) };
}

/// Builds an engine from files: a policy directory (every `*.cedar` file in strict Cedar,
/// every `*.mandate` file with Mandate's extensions, in sorted order; or a single policy file),
/// an optional schema file (`.cedarschema`, or JSON when it ends in `.json`) and an optional
/// entity file (Cedar entity JSON). On success `*out` is the new engine (free it with
/// `mandate_engine_free`); on failure `*out` is NULL and, for policy errors, the error carries
/// every diagnostic (`mandate_error_diagnostics_json`).
///
/// `schema_path`, `entities_path`, `options` and `err` may be NULL.
///
/// # Safety
/// Strings are NULL or NUL-terminated; `options` is NULL or readable; `out` and `err` are NULL
/// or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_engine_new_from_dir(
    policy_dir: *const c_char,
    schema_path: *const c_char,
    entities_path: *const c_char,
    options: *const MandateOptions,
    out: *mut *mut MandateEngine,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: `out` is NULL or valid for writes (caller guarantee).
    unsafe { clear_out(out) };
    let body = || {
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        // SAFETY: the strings and `options` satisfy the helpers' contracts (caller guarantee).
        let (policies, schema, entities, settings) = unsafe {
            (
                req_str(policy_dir, "policy_dir")?,
                opt_str(schema_path, "schema_path")?,
                opt_str(entities_path, "entities_path")?,
                settings(options)?,
            )
        };
        let inputs = Inputs::Dir {
            policies: PathBuf::from(policies),
            schema: schema.map(PathBuf::from),
            entities: entities.map(PathBuf::from),
        };
        let engine = json::build_engine(inputs, settings)?;
        // SAFETY: `out` was checked for NULL above and is valid for writes (caller guarantee).
        unsafe { give_engine(out, engine) };
        Ok(())
    };
    // SAFETY: `err` is NULL or valid for writes (caller guarantee).
    unsafe { guard(err, body) }
}

/// Builds an engine from texts: policies (Mandate dialect, a superset of Cedar), an optional
/// schema (Cedar schema syntax, or Cedar's JSON schema format when it starts with `{`), and
/// optional entities (Cedar entity JSON). Otherwise as `mandate_engine_new_from_dir`.
///
/// # Safety
/// As `mandate_engine_new_from_dir`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_engine_new_from_strings(
    policies: *const c_char,
    schema: *const c_char,
    entities: *const c_char,
    options: *const MandateOptions,
    out: *mut *mut MandateEngine,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: `out` is NULL or valid for writes (caller guarantee).
    unsafe { clear_out(out) };
    let body = || {
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        // SAFETY: the strings and `options` satisfy the helpers' contracts (caller guarantee).
        let (policies, schema, entities, settings) = unsafe {
            (
                req_str(policies, "policies")?,
                opt_str(schema, "schema")?,
                opt_str(entities, "entities")?,
                settings(options)?,
            )
        };
        let inputs = Inputs::Strings {
            policies: policies.to_string(),
            schema: schema.map(str::to_string),
            entities: entities.map(str::to_string),
        };
        let engine = json::build_engine(inputs, settings)?;
        // SAFETY: `out` was checked for NULL above and is valid for writes (caller guarantee).
        unsafe { give_engine(out, engine) };
        Ok(())
    };
    // SAFETY: `err` is NULL or valid for writes (caller guarantee).
    unsafe { guard(err, body) }
}

/// Frees an engine (a poisoned one too). NULL is a no-op; so is a handle that is not live
/// (freed already, or not from this library), which is reported through
/// `mandate_last_error_message` instead of being undefined behaviour. Calls running on the
/// handle in other threads finish normally (the engine is dropped when the last returns); calls
/// made afterwards fail with `MANDATE_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// None: any value is accepted (handles are looked up, never dereferenced).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_engine_free(engine: *mut MandateEngine) {
    if engine.is_null() {
        return;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        match handles::remove_engine(engine.addr()) {
            // Dropping closes the audit log and state files (unless a running call still holds the
            // engine); a panic there must not reach C.
            Some(handle) => drop_payload(Box::new(handle)),
            None => note_misuse(format!(
                "mandate_engine_free: {}; nothing was freed",
                not_live("engine handle", engine.addr())
            )),
        }
    }));
    if let Err(payload) = result {
        drop_payload(payload);
    }
}

/// Whether an earlier panic poisoned the handle: 1 poisoned, 0 not (also for NULL), -1 for a
/// handle that is not live (freed already, or not from this library).
///
/// # Safety
/// None: any value is accepted (handles are looked up, never dereferenced).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_engine_is_poisoned(engine: *const MandateEngine) -> i32 {
    if engine.is_null() {
        return 0;
    }
    catch_unwind(AssertUnwindSafe(|| match live_engine(engine) {
        Ok(h) => i32::from(h.poisoned.load(Ordering::Acquire)),
        Err(f) => {
            note_misuse(f.message);
            -1
        }
    }))
    .unwrap_or(-1)
}

/// The id of the running policy version (`sha256:...`) through `*result` (free it with
/// `mandate_string_free`).
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); `result` and `err` are NULL or valid for
/// writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_engine_policy_version(
    engine: *const MandateEngine,
    result: *mut *mut c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: `result` is NULL or valid for writes (caller guarantee).
    unsafe { clear_out(result) };
    let body = |e: &Engine| -> Result<(), Failure> {
        // SAFETY: `result` is NULL or valid for writes (caller guarantee).
        unsafe { give_string(result, e.version().id.to_string()) }
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

// ---------------------------------------------------------------------------------------------
// Decisions

/// Decides a request given in the JSON format of `mandate authorize` (`principal`, `action`,
/// `resource` as `{"type": ..., "id": ...}`, `context`, optional `on_behalf_of`) and returns
/// through `*result_json` the decision in the JSON of `mandate authorize --format json`
/// (`decision`, `reasons`, `errors`, `layer`, `id`, `policy_version`, and `quota`,
/// `denied_principal`, `dry_run` when they apply). Free it with `mandate_string_free`.
///
/// A deny is a successful call (`MANDATE_OK`); `MANDATE_ERR_REQUEST` means the request could
/// not be read.
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); `request_json` is NULL or NUL-terminated;
/// `result_json` and `err` are NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_authorize_json(
    engine: *const MandateEngine,
    request_json: *const c_char,
    result_json: *mut *mut c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { mandate_authorize_json_flags(engine, request_json, 0, result_json, err) }
}

/// `mandate_authorize_json` with `MANDATE_AUTHORIZE_*` flags (dry run, reservation).
///
/// # Safety
/// As `mandate_authorize_json`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_authorize_json_flags(
    engine: *const MandateEngine,
    request_json: *const c_char,
    flags: u32,
    result_json: *mut *mut c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: `result_json` is NULL or valid for writes (caller guarantee).
    unsafe { clear_out(result_json) };
    let body = |e: &Engine| -> Result<(), Failure> {
        if result_json.is_null() {
            return Err(Failure::invalid("result_json is NULL"));
        }
        // SAFETY: `request_json` is NULL or NUL-terminated (caller guarantee).
        let text = unsafe { req_str(request_json, "request_json") }?;
        let options = json::authorize_options(flags)?;
        let request = json::request_from_json(e, text)?;
        let decision = e.authorize_with(&request, options);
        // SAFETY: `result_json` is not NULL and valid for writes (caller guarantee).
        unsafe { give_string(result_json, json::decision_json(&decision).to_string()) }
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

/// The structured fast path: decides `request` (borrowed strings, entity uids as
/// `Type::"id"`) and fills `*decision`, which the caller then releases with
/// `mandate_decision_free`. `*decision` is reset (to an empty deny) before anything else, so
/// it is always safe to free, even after an error.
///
/// A deny is a successful call (`MANDATE_OK`). Errors: `MANDATE_ERR_INVALID_ARGUMENT` (NULL,
/// not UTF-8, not an entity uid), `MANDATE_ERR_REQUEST` (bad context JSON, or a request the
/// schema does not allow).
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); `request` is NULL or readable, with
/// strings that are NULL or NUL-terminated and `on_behalf_of` holding `on_behalf_of_len` pointers;
/// `decision` and `err` are NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_authorize(
    engine: *const MandateEngine,
    request: *const MandateRequest,
    decision: *mut MandateDecision,
    err: *mut *mut MandateError,
) -> MandateStatus {
    if !decision.is_null() {
        // SAFETY: `decision` is not NULL and valid for writes (caller guarantee); `write` does
        // not read (or drop) what was there.
        unsafe { decision.write(MandateDecision::EMPTY) };
    }
    let body = |e: &Engine| -> Result<(), Failure> {
        if decision.is_null() {
            return Err(Failure::invalid("decision is NULL"));
        }
        // SAFETY: `request` is NULL or readable (caller guarantee); `as_ref` checks NULL.
        // Every field is a pointer or an integer, so any bit pattern is valid.
        let r = unsafe { request.as_ref() }.ok_or_else(|| Failure::invalid("request is NULL"))?;
        // SAFETY: the request's strings and array satisfy the helpers' contracts (caller
        // guarantee).
        let (principal, action, resource, context, chain) = unsafe {
            (
                req_str(r.principal, "request.principal")?,
                req_str(r.action, "request.action")?,
                req_str(r.resource, "request.resource")?,
                opt_str(r.context_json, "request.context_json")?,
                str_array(r.on_behalf_of, r.on_behalf_of_len, "request.on_behalf_of")?,
            )
        };
        let options = json::authorize_options(r.flags)?;
        let chain = chain
            .into_iter()
            .map(|s| json::parse_uid(s, "request.on_behalf_of"))
            .collect::<Result<Vec<_>, _>>()?;
        let uids = json::UidTexts {
            principal,
            action,
            resource,
        };
        let req = json::request_from_parts(e, &uids, context, chain)?;
        let d = e.authorize_with(&req, options);
        let reasons: Box<[*mut c_char]> = d.reasons.iter().map(|r| string_ptr(r)).collect();
        let reasons_len = reasons.len();
        let filled = MandateDecision {
            decision: if d.allowed {
                MandateEffect::MANDATE_DECISION_ALLOW
            } else {
                MandateEffect::MANDATE_DECISION_DENY
            },
            layer: d.layer.into(),
            reasons: if reasons_len == 0 {
                std::ptr::null_mut()
            } else {
                Box::into_raw(reasons).cast::<*mut c_char>()
            },
            reasons_len,
            id: string_ptr(&d.id),
            policy_version: string_ptr(&d.policy_version),
            denied_principal: d
                .denied_principal
                .as_deref()
                .map_or(std::ptr::null_mut(), string_ptr),
            errors_json: if d.errors.is_empty() {
                std::ptr::null_mut()
            } else {
                string_ptr(&serde_json::json!(d.errors).to_string())
            },
        };
        // SAFETY: `decision` is not NULL and valid for writes (caller guarantee); it holds
        // `EMPTY` (written above), which owns nothing, so overwriting leaks nothing.
        unsafe { decision.write(filled) };
        Ok(())
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

/// Frees the strings of a decision filled by `mandate_authorize` and resets it to an empty
/// deny, so freeing twice is harmless. NULL is a no-op. The struct itself is the caller's.
///
/// # Safety
/// `decision` is NULL, or a decision filled by `mandate_authorize` (or reset by it or by this
/// function) whose pointers the caller has not changed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_decision_free(decision: *mut MandateDecision) {
    if decision.is_null() {
        return;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `decision` is not NULL and points to a decision filled by this library
        // (caller guarantee); only its pointer and length fields are read, by value, so the
        // enum fields are never read.
        let (reasons, reasons_len, strings) = unsafe {
            (
                (*decision).reasons,
                (*decision).reasons_len,
                [
                    (*decision).id,
                    (*decision).policy_version,
                    (*decision).denied_principal,
                    (*decision).errors_json,
                ],
            )
        };
        if !reasons.is_null() {
            // SAFETY: `reasons` came from `Box::into_raw` of a boxed slice of `reasons_len`
            // pointers in `mandate_authorize`, and is freed once (it is reset below).
            let boxed =
                unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(reasons, reasons_len)) };
            for s in boxed.iter() {
                // SAFETY: each reason came from `CString::into_raw` and is freed once.
                unsafe { free_cstring(*s) };
            }
        }
        for s in strings {
            // SAFETY: each string is NULL or came from `CString::into_raw`, freed once.
            unsafe { free_cstring(s) };
        }
        // SAFETY: `decision` is not NULL and valid for writes (caller guarantee).
        unsafe { decision.write(MandateDecision::EMPTY) };
    }));
    if let Err(payload) = result {
        drop_payload(payload);
    }
}

// ---------------------------------------------------------------------------------------------
// Agents

/// Registers an agent: `agent_uid` and `owner_uid` as `Type::"id"`, `attrs_json` its
/// attributes as a JSON object in Cedar's entity-JSON encoding (NULL for none), `actor` and
/// `reason` recorded in its history and the audit trail (NULL for empty). For parents, a
/// display name or an expiry use `mandate_agent_register_json`.
///
/// Errors: `MANDATE_ERR_AGENT` (existing or revoked id, does not fit the schema),
/// `MANDATE_ERR_STORE` (registry storage).
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); strings are NULL or NUL-terminated; `err`
/// is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_agent_register(
    engine: *const MandateEngine,
    agent_uid: *const c_char,
    owner_uid: *const c_char,
    attrs_json: *const c_char,
    actor: *const c_char,
    reason: *const c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    let body = |e: &Engine| -> Result<(), Failure> {
        // SAFETY: the strings are NULL or NUL-terminated (caller guarantee).
        let (agent, owner, attrs, actor, reason) = unsafe {
            (
                req_str(agent_uid, "agent_uid")?,
                req_str(owner_uid, "owner_uid")?,
                opt_str(attrs_json, "attrs_json")?,
                opt_str(actor, "actor")?.unwrap_or(""),
                opt_str(reason, "reason")?.unwrap_or(""),
            )
        };
        let agent = json::parse_uid(agent, "agent_uid")?;
        let owner = json::parse_uid(owner, "owner_uid")?;
        let spec = json::agent_spec(&agent, &owner, attrs)?;
        e.agents().register(spec, actor, reason)?;
        Ok(())
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

/// Registers an agent described by JSON: `{"agent": "T::\"id\"", "owner": "T::\"id\"",
/// "parents": ["T::\"id\"", ...], "attributes": {...}, "display_name": "...",
/// "expires_ms": N}` (only `agent` and `owner` are required). Otherwise as
/// `mandate_agent_register`.
///
/// # Safety
/// As `mandate_agent_register`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_agent_register_json(
    engine: *const MandateEngine,
    spec_json: *const c_char,
    actor: *const c_char,
    reason: *const c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    let body = |e: &Engine| -> Result<(), Failure> {
        // SAFETY: the strings are NULL or NUL-terminated (caller guarantee).
        let (spec, actor, reason) = unsafe {
            (
                req_str(spec_json, "spec_json")?,
                opt_str(actor, "actor")?.unwrap_or(""),
                opt_str(reason, "reason")?.unwrap_or(""),
            )
        };
        let spec = json::agent_spec_from_json(spec)?;
        e.agents().register(spec, actor, reason)?;
        Ok(())
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

#[derive(Clone, Copy)]
enum Transition {
    Suspend,
    Resume,
    Revoke,
}

/// # Safety
/// As `mandate_agent_suspend`.
unsafe fn transition(
    engine: *const MandateEngine,
    agent_uid: *const c_char,
    actor: *const c_char,
    reason: *const c_char,
    err: *mut *mut MandateError,
    which: Transition,
) -> MandateStatus {
    let body = |e: &Engine| -> Result<(), Failure> {
        // SAFETY: the strings are NULL or NUL-terminated (caller guarantee).
        let (agent, actor, reason) = unsafe {
            (
                req_str(agent_uid, "agent_uid")?,
                opt_str(actor, "actor")?.unwrap_or(""),
                opt_str(reason, "reason")?.unwrap_or(""),
            )
        };
        let agent = json::parse_uid(agent, "agent_uid")?;
        let agents = e.agents();
        match which {
            Transition::Suspend => agents.suspend(&agent, actor, reason),
            Transition::Resume => agents.resume(&agent, actor, reason),
            Transition::Revoke => agents.revoke(&agent, actor, reason),
        }?;
        Ok(())
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

/// Suspends an agent (reversible with `mandate_agent_resume`). When this returns, no decision
/// in the process allows the agent. `actor` and `reason` may be NULL.
///
/// Errors: `MANDATE_ERR_AGENT` (unknown agent, illegal transition), `MANDATE_ERR_STORE`.
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); strings are NULL or NUL-terminated; `err`
/// is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_agent_suspend(
    engine: *const MandateEngine,
    agent_uid: *const c_char,
    actor: *const c_char,
    reason: *const c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { transition(engine, agent_uid, actor, reason, err, Transition::Suspend) }
}

/// Resumes a suspended agent. As `mandate_agent_suspend`.
///
/// # Safety
/// As `mandate_agent_suspend`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_agent_resume(
    engine: *const MandateEngine,
    agent_uid: *const c_char,
    actor: *const c_char,
    reason: *const c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { transition(engine, agent_uid, actor, reason, err, Transition::Resume) }
}

/// Revokes an agent for good (its id is never reused). As `mandate_agent_suspend`.
///
/// # Safety
/// As `mandate_agent_suspend`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_agent_revoke(
    engine: *const MandateEngine,
    agent_uid: *const c_char,
    actor: *const c_char,
    reason: *const c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { transition(engine, agent_uid, actor, reason, err, Transition::Revoke) }
}

/// One agent as JSON (type, id, owner, parents, attributes, state, history) through
/// `*result_json`, or the JSON text `null` when it was never registered. Free it with
/// `mandate_string_free`.
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); `agent_uid` is NULL or NUL-terminated;
/// `result_json` and `err` are NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_agent_get_json(
    engine: *const MandateEngine,
    agent_uid: *const c_char,
    result_json: *mut *mut c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: `result_json` is NULL or valid for writes (caller guarantee).
    unsafe { clear_out(result_json) };
    let body = |e: &Engine| -> Result<(), Failure> {
        if result_json.is_null() {
            return Err(Failure::invalid("result_json is NULL"));
        }
        // SAFETY: `agent_uid` is NULL or NUL-terminated (caller guarantee).
        let agent = unsafe { req_str(agent_uid, "agent_uid") }?;
        let agent = json::parse_uid(agent, "agent_uid")?;
        let found = e.agents().get(&agent)?;
        let text = serde_json::to_string(&found)
            .map_err(|e| Failure::invalid(format!("cannot convert the agent: {e}")))?;
        // SAFETY: `result_json` is not NULL and valid for writes (caller guarantee).
        unsafe { give_string(result_json, text) }
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

// ---------------------------------------------------------------------------------------------
// Policy versions and quotas

/// Re-reads the running version's policy and schema sources (files may have changed) as a new
/// version, atomically, while decisions go on. A set with errors leaves the running version in
/// place and returns `MANDATE_ERR_POLICY` with the diagnostics.
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); `err` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_reload(
    engine: *const MandateEngine,
    err: *mut *mut MandateError,
) -> MandateStatus {
    let body = |e: &Engine| -> Result<(), Failure> {
        e.reload(ChangeRef::default())?;
        Ok(())
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

/// Returns to the previous kept policy version. `MANDATE_ERR_POLICY` when there is none.
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); `err` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_rollback(
    engine: *const MandateEngine,
    err: *mut *mut MandateError,
) -> MandateStatus {
    let body = |e: &Engine| -> Result<(), Failure> {
        e.rollback(ChangeRef::default())?;
        Ok(())
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

/// Settles a reservation (a decision made with `MANDATE_AUTHORIZE_RESERVE`): every quota of
/// the decision charged by a `cost` expression is set to `cost`. `MANDATE_ERR_STORE` for an
/// unknown, expired or already settled reservation.
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); `decision_id` is NULL or NUL-terminated;
/// `err` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_settle(
    engine: *const MandateEngine,
    decision_id: *const c_char,
    cost: u64,
    err: *mut *mut MandateError,
) -> MandateStatus {
    let body = |e: &Engine| -> Result<(), Failure> {
        // SAFETY: `decision_id` is NULL or NUL-terminated (caller guarantee).
        let id = unsafe { req_str(decision_id, "decision_id") }?;
        e.settle(id, cost)?;
        Ok(())
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

/// Releases a reservation entirely. As `mandate_settle`.
///
/// # Safety
/// As `mandate_settle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_refund(
    engine: *const MandateEngine,
    decision_id: *const c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    let body = |e: &Engine| -> Result<(), Failure> {
        // SAFETY: `decision_id` is NULL or NUL-terminated (caller guarantee).
        let id = unsafe { req_str(decision_id, "decision_id") }?;
        e.refund(id)?;
        Ok(())
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}

// ---------------------------------------------------------------------------------------------
// check and lint

/// # Safety
/// `paths` holds `paths_len` NUL-terminated strings (or is NULL with 0); `schema_path` is NULL
/// or NUL-terminated.
unsafe fn path_args(
    paths: *const *const c_char,
    paths_len: usize,
    schema_path: *const c_char,
) -> Result<(Vec<PathBuf>, Option<PathBuf>), Failure> {
    // SAFETY: forwarded caller guarantees.
    let (list, schema) = unsafe {
        (
            str_array(paths, paths_len, "paths")?,
            opt_str(schema_path, "schema_path")?,
        )
    };
    if list.is_empty() {
        return Err(Failure::invalid("no paths given"));
    }
    Ok((
        list.into_iter().map(PathBuf::from).collect(),
        schema.map(PathBuf::from),
    ))
}

/// Parses policy files and directories (and type-checks them against the schema at
/// `schema_path`, which may be NULL) and returns every diagnostic through `*result_json`, as
/// the JSON array `mandate check --format json` prints (empty when all is well). Free it with
/// `mandate_string_free`. Findings are a successful call; `MANDATE_ERR_IO` means a path cannot
/// be read.
///
/// # Safety
/// `paths` holds `paths_len` pointers that are NUL-terminated strings; `schema_path` is NULL or
/// NUL-terminated; `result_json` and `err` are NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_check_json(
    paths: *const *const c_char,
    paths_len: usize,
    schema_path: *const c_char,
    result_json: *mut *mut c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: `result_json` is NULL or valid for writes (caller guarantee).
    unsafe { clear_out(result_json) };
    let body = || {
        if result_json.is_null() {
            return Err(Failure::invalid("result_json is NULL"));
        }
        // SAFETY: forwarded caller guarantees.
        let (paths, schema) = unsafe { path_args(paths, paths_len, schema_path) }?;
        let out = json::check(&paths, schema)?;
        // SAFETY: `result_json` is not NULL and valid for writes (caller guarantee).
        unsafe { give_string(result_json, out.to_string()) }
    };
    // SAFETY: `err` is NULL or valid for writes (caller guarantee).
    unsafe { guard(err, body) }
}

/// `mandate_check_json` plus Mandate's lints, configured by `config_toml` (the text of a
/// `mandate.toml`; NULL for the defaults; no file is searched for). Diagnostics of lints carry
/// a `url`.
///
/// # Safety
/// As `mandate_check_json`; `config_toml` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mandate_lint_json(
    paths: *const *const c_char,
    paths_len: usize,
    schema_path: *const c_char,
    config_toml: *const c_char,
    result_json: *mut *mut c_char,
    err: *mut *mut MandateError,
) -> MandateStatus {
    // SAFETY: `result_json` is NULL or valid for writes (caller guarantee).
    unsafe { clear_out(result_json) };
    let body = || {
        if result_json.is_null() {
            return Err(Failure::invalid("result_json is NULL"));
        }
        // SAFETY: forwarded caller guarantees.
        let (paths, schema, config) = unsafe {
            let (paths, schema) = path_args(paths, paths_len, schema_path)?;
            (paths, schema, opt_str(config_toml, "config_toml")?)
        };
        let out = json::lint(&paths, schema, config)?;
        // SAFETY: `result_json` is not NULL and valid for writes (caller guarantee).
        unsafe { give_string(result_json, out.to_string()) }
    };
    // SAFETY: `err` is NULL or valid for writes (caller guarantee).
    unsafe { guard(err, body) }
}

// ---------------------------------------------------------------------------------------------
// Testing

/// FOR TESTS ONLY: panics inside the boundary during a call on `engine`, so hosts can check
/// their handling of `MANDATE_ERR_PANIC` and `MANDATE_ERR_POISONED`. Returns
/// `MANDATE_ERR_PANIC` and poisons the handle. Never call it in production.
///
/// # Safety
/// `engine` is any value (looked up, never dereferenced); `err` is NULL or valid for writes.
#[unsafe(no_mangle)]
#[expect(
    clippy::panic,
    reason = "the tests need a panic to check that none crosses into C"
)]
pub unsafe extern "C" fn mandate_testing_panic(
    engine: *const MandateEngine,
    err: *mut *mut MandateError,
) -> MandateStatus {
    let body = |_: &Engine| -> Result<(), Failure> {
        panic!("deliberate panic for tests (mandate_testing_panic)");
    };
    // SAFETY: forwarded caller guarantees.
    unsafe { with_engine(engine, err, body) }
}
