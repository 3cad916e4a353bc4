//! Mandate's schemas (Cedar human and JSON formats), type checker and lints.

pub mod schema;
