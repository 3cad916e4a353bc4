//! Mandate's schemas (Cedar human and JSON formats), type checker and lints.

pub mod lint;
pub mod schema;
pub mod typecheck;

pub use typecheck::{ValidationResult, validate, validate_policies};
