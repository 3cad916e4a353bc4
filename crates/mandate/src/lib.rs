//! Mandate: an embeddable policy-as-code engine for AI agents, a strict superset of Cedar.
//!
//! This crate is the facade, the only public API; the CLI and the bindings use nothing else.
//! Today it offers loading (policy files and directories, schemas, entities, requests) and
//! Cedar-exact authorization; the agent-governance `Engine` (quotas, lifecycle, delegation,
//! audit) is built on top of it.

pub mod load;

pub use mandate_eval::authorizer::{Outcome, evaluate_policy};
pub use mandate_eval::entities::parse_json_bounded;
pub use mandate_eval::request::{ParsedRequest, request_from_json};
pub use mandate_eval::{
    Decision, Entities, Entity, ErrorMode, EvalError, JsonError, Policy, PolicyError, PolicySet,
    Request, Response, Uid, Value, is_authorized,
};
pub use mandate_syntax::{
    Diagnostic, Dialect, ParseOptions, Parsed, Severity, Source, Span, ast, diagnostics, fmt, parse,
};
pub use mandate_validate::lint;
pub use mandate_validate::schema::Schema;
pub use mandate_validate::validate_policies;
