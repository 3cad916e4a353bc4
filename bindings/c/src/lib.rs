//! `libmandate`: the C binding of Mandate (`include/mandate.h`, generated from this crate by
//! cbindgen).
//!
//! A thin shim over the `mandate` facade: it converts C arguments to the facade's types, calls
//! it, and converts results and errors back. No policy logic lives here.
//!
//! INVARIANTS (RELIABILITY R24, STYLE 45):
//! - no Rust panic unwinds into C: every entry point runs inside `catch_unwind`; a panic during a
//!   call on an engine poisons that engine handle (later calls return `MANDATE_ERR_POISONED`);
//! - NULL pointers and strings that are not UTF-8 are reported as `MANDATE_ERR_INVALID_ARGUMENT`,
//!   never dereferenced or trusted;
//! - engine and error handles are registry entries, not addresses: a freed (double free, use
//!   after free), foreign or garbage handle is reported, never dereferenced (`handles`);
//! - everything the library allocates for the caller has exactly one free function.
//!
//! `unsafe` is confined to the `ffi` module; `error`, `json` and the types here are safe code.

mod error;
mod ffi;
mod handles;
mod json;

pub use error::{MandateError, MandateStatus};
pub use ffi::*;

use std::ffi::c_char;

/// `mandate_request.flags`: decide without charging quotas (a dry run).
pub const MANDATE_AUTHORIZE_DRY_RUN: u32 = 1;
/// `mandate_request.flags`: keep the quota charges as a reservation under the decision id, for
/// `mandate_settle` / `mandate_refund`.
pub const MANDATE_AUTHORIZE_RESERVE: u32 = 2;

/// How erroring policies count; the values of `mandate_options.error_mode`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(non_camel_case_types, reason = "C enumerators are SCREAMING_CASE")]
pub enum MandateErrorMode {
    /// An erroring `forbid` denies (the default).
    MANDATE_ERROR_MODE_DENY_ON_FORBID_ERROR = 0,
    /// Cedar's semantics: erroring policies are skipped.
    MANDATE_ERROR_MODE_CEDAR = 1,
}

/// What a decision does when the quota store fails; the values of
/// `mandate_options.on_store_failure`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(non_camel_case_types, reason = "C enumerators are SCREAMING_CASE")]
pub enum MandateStoreFailure {
    /// Deny the request (fail closed; the default).
    MANDATE_STORE_FAILURE_DENY = 0,
    /// Allow without charging; the failure is reported on the decision.
    MANDATE_STORE_FAILURE_ALLOW = 1,
}

/// What a decision does when its audit record cannot be written; the values of
/// `mandate_options.on_audit_failure`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(non_camel_case_types, reason = "C enumerators are SCREAMING_CASE")]
pub enum MandateAuditFailure {
    /// Deny: no allow without its record (the default).
    MANDATE_AUDIT_FAILURE_DENY = 0,
    /// Return the decision anyway, with the failure on it.
    MANDATE_AUDIT_FAILURE_BEST_EFFORT = 1,
}

/// Engine settings. A zero-initialised struct (`mandate_options o = {0};`), or a NULL pointer
/// instead of the struct, means every default. Strings are borrowed for the duration of the
/// call only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MandateOptions {
    /// A `mandate_error_mode` value (default `MANDATE_ERROR_MODE_DENY_ON_FORBID_ERROR`).
    pub error_mode: u32,
    /// A `mandate_store_failure` value (default `MANDATE_STORE_FAILURE_DENY`).
    pub on_store_failure: u32,
    /// A `mandate_audit_failure` value (default `MANDATE_AUDIT_FAILURE_DENY`).
    pub on_audit_failure: u32,
    /// Non-zero: do not type-check the policies against the schema on load and reload
    /// (`mandate authorize` does not). Default 0: a set with type errors is rejected.
    pub no_validate: u8,
    /// Longest `on_behalf_of` chain accepted; 0 means the default (4).
    pub max_delegation: u32,
    /// Policy versions kept for `mandate_rollback`, the running one included; 0 means the
    /// default (10).
    pub keep_versions: u32,
    /// Directory for persistent state (agent registry, quota journal), created if missing;
    /// NULL keeps everything in memory.
    pub state_dir: *const c_char,
    /// Quota store: NULL or `"memory"` (default), or `"redis://HOST:PORT/"`.
    pub quota_store: *const c_char,
    /// Audit log: a hash-chained JSON Lines file (created, or verified and appended to); NULL
    /// for no audit trail.
    pub audit_file: *const c_char,
    /// Limits as a JSON object of names and non-negative integers, e.g.
    /// `{"max_entities": 10000, "max_request_bytes": 65536}` (the names and defaults are in
    /// docs/security.md); NULL keeps every default. A limit named here overrides
    /// `max_delegation`. An unknown name or a bad value is `MANDATE_ERR_INVALID_ARGUMENT`.
    pub limits_json: *const c_char,
}

/// A request for the structured fast path `mandate_authorize`. Every string is borrowed for the
/// duration of the call only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MandateRequest {
    /// The acting principal, as a Cedar entity uid: `Platform::Agent::"triage-bot"`.
    pub principal: *const c_char,
    /// The action: `Platform::Action::"InvokeTool"`.
    pub action: *const c_char,
    /// The resource: `Platform::Tool::"ticket-search"`.
    pub resource: *const c_char,
    /// The context as a JSON object (Cedar's JSON encoding; typed by the schema when there is
    /// one); NULL for an empty context.
    pub context_json: *const c_char,
    /// The principals the agent acts for, nearest first, as entity uids; NULL when
    /// `on_behalf_of_len` is 0.
    pub on_behalf_of: *const *const c_char,
    /// The number of entries of `on_behalf_of`.
    pub on_behalf_of_len: usize,
    /// `MANDATE_AUTHORIZE_DRY_RUN`, `MANDATE_AUTHORIZE_RESERVE`, or 0.
    pub flags: u32,
}

/// Allow or deny.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(non_camel_case_types, reason = "C enumerators are SCREAMING_CASE")]
pub enum MandateEffect {
    /// Denied (also the value of a zeroed or freed decision: fail closed).
    MANDATE_DECISION_DENY = 0,
    /// Allowed.
    MANDATE_DECISION_ALLOW = 1,
}

/// The layer that decided.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(non_camel_case_types, reason = "C enumerators are SCREAMING_CASE")]
pub enum MandateLayer {
    /// The agent lifecycle gate (suspended, revoked or expired agent).
    MANDATE_LAYER_LIFECYCLE = 0,
    /// The policies.
    MANDATE_LAYER_POLICY = 1,
    /// Delegation: a principal of the `on_behalf_of` chain may not do this.
    MANDATE_LAYER_DELEGATION = 2,
    /// A quota.
    MANDATE_LAYER_QUOTA = 3,
}

impl From<mandate::Layer> for MandateLayer {
    fn from(l: mandate::Layer) -> Self {
        match l {
            mandate::Layer::Lifecycle => MandateLayer::MANDATE_LAYER_LIFECYCLE,
            mandate::Layer::Policy => MandateLayer::MANDATE_LAYER_POLICY,
            mandate::Layer::Delegation => MandateLayer::MANDATE_LAYER_DELEGATION,
            mandate::Layer::Quota => MandateLayer::MANDATE_LAYER_QUOTA,
        }
    }
}

/// The result of `mandate_authorize`. The library fills it; the caller owns the strings in it
/// and releases them all with one `mandate_decision_free` (which also resets the struct, so a
/// second call is harmless).
#[repr(C)]
#[derive(Debug)]
pub struct MandateDecision {
    /// Allow or deny.
    pub decision: MandateEffect,
    /// The layer that decided.
    pub layer: MandateLayer,
    /// The determining policy ids (satisfied permits for an allow, satisfied forbids for a
    /// deny), `lifecycle:<state>` for a lifecycle denial, or the refusing quota ids. Empty for a
    /// default deny.
    pub reasons: *mut *mut c_char,
    /// The number of entries of `reasons`.
    pub reasons_len: usize,
    /// The decision id (also the reservation id for `mandate_settle` / `mandate_refund`).
    pub id: *mut c_char,
    /// The policy version that decided (`sha256:...`).
    pub policy_version: *mut c_char,
    /// For a lifecycle or delegation denial, the principal that failed; otherwise NULL.
    pub denied_principal: *mut c_char,
    /// Errors met on the way (erroring policies, store failures) as a JSON array of
    /// `{"id": ..., "message": ...}`; NULL when there were none.
    pub errors_json: *mut c_char,
}

impl MandateDecision {
    /// A deny with nothing allocated: what the struct holds before a decision and after
    /// `mandate_decision_free`.
    pub(crate) const EMPTY: MandateDecision = MandateDecision {
        decision: MandateEffect::MANDATE_DECISION_DENY,
        layer: MandateLayer::MANDATE_LAYER_POLICY,
        reasons: std::ptr::null_mut(),
        reasons_len: 0,
        id: std::ptr::null_mut(),
        policy_version: std::ptr::null_mut(),
        denied_principal: std::ptr::null_mut(),
        errors_json: std::ptr::null_mut(),
    };
}

/// An engine: policies, schema, entities, agent registry, quotas and audit trail.
///
/// Opaque to C: a `mandate_engine *` is a handle (a registry key, not an address). Built by
/// `mandate_engine_new_from_dir` / `mandate_engine_new_from_strings`, freed by
/// `mandate_engine_free`. Safe to use from many threads at once (every function taking a
/// `const mandate_engine *` may run concurrently with any other, reloads, lifecycle changes and
/// `mandate_engine_free` included: calls already running finish, later ones are refused). A
/// freed or unknown handle is `MANDATE_ERR_INVALID_ARGUMENT`, never undefined behaviour.
#[derive(Debug)]
pub struct MandateEngine {
    pub(crate) engine: mandate::Engine,
    /// Set when a panic was caught during a call on this handle.
    pub(crate) poisoned: std::sync::atomic::AtomicBool,
}
#[cfg(test)]
mod tests;
