//! Mandate: an embeddable policy-as-code engine for AI agents, a strict superset of Cedar.
//!
//! This crate is the facade, the only public API; the CLI and the bindings use nothing else.
//!
//! Two levels:
//! - [`Engine`]: agent governance. Lifecycle gate, Cedar-exact policies, delegation, quotas,
//!   policy versions with reload and rollback, audit records. Cheap to clone, shared across
//!   threads.
//! - [`core`]: Cedar-exact authorization of one request against a policy set and entities,
//!   without state (what `mandate authorize` without a state directory and the conformance tests
//!   use).

pub mod agents;
pub mod audit;
pub mod engine;
pub mod explain;
pub mod limits;
pub mod load;
mod metrics;
pub mod version;

pub use engine::{
    Agents, AuditFailureMode, AuthorizeOptions, Decision, DecisionError, Engine, EngineBuilder,
    EngineError, EngineOptions, Layer, QuotaStatus, Request, StoreFailureMode, open_registry,
};
pub use explain::{
    ConditionExplanation, Explanation, NearMiss, PolicyExplanation, PrincipalExplanation,
    ScopeMatch,
};
pub use limits::{LIMIT_NAMES, Limits};
pub use mandate_agents as registry;
pub use mandate_audit as audit_log;
pub use mandate_quota as quota;
pub use version::{ChangeRef, PolicySource, PolicyVersion, SchemaSource};

/// Cedar-exact, stateless authorization.
pub mod core {
    pub use mandate_eval::authorizer::{Outcome, evaluate_policy, is_authorized_unindexed};
    pub use mandate_eval::{Decision, Request, Response, is_authorized};
}

pub use mandate_eval::authorizer::{Outcome, evaluate_policy};
pub use mandate_eval::entities::{
    ContextScalar, check_json_sizes, check_type_name, context_from_scalars, parse_json_bounded,
    parse_uid_str, uid_from_json,
};
pub use mandate_eval::request::{
    ParsedRequest, RequestParts, check_request_scope, request_from_json, request_from_parts,
};
pub use mandate_eval::value;
pub use mandate_eval::{
    Entities, Entity, ErrorMode, EvalError, JsonError, Policy, PolicyError, PolicySet, Uid, Value,
};
pub use mandate_syntax::{
    Diagnostic, Dialect, ParseOptions, Parsed, Severity, Source, Span, ast, diagnostics, fmt, parse,
};
pub use mandate_validate::lint;
pub use mandate_validate::schema::Schema;
pub use mandate_validate::validate_policies;
