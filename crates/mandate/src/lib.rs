//! Mandate: an embeddable policy-as-code engine for AI agents, a strict superset of Cedar.
//!
//! This crate is the facade: the only public API. It re-exports what users need from the inner crates.

pub use mandate_syntax as syntax;
