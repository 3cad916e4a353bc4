//! The Mandate language front end: text → tokens (`lexer`, logos) → AST (`parser`, lalrpop grammar
//! in `grammar/mandate.lalrpop`), with one diagnostic model (`diagnostics`) and a formatter (`fmt`).
//!
//! This crate knows nothing of schemas, entities, clocks or I/O.
//!
//! ```
//! use mandate_syntax::{parse, ParseOptions};
//! let parsed = parse(r#"permit(principal, action == Action::"read", resource) when { context.ok };"#, ParseOptions::default());
//! assert!(!parsed.has_errors());
//! assert_eq!(parsed.file.statements[0].id, "policy0");
//! ```

pub mod ast;
pub mod diagnostics;
pub mod fmt;
pub mod lexer;
pub mod parser;
pub mod span;
pub mod stack;

pub use diagnostics::{Diagnostic, Severity};
pub use parser::{Dialect, ParseLimits, ParseOptions, Parsed, parse, parse_expr};
pub use span::{Source, Span};
