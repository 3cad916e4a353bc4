//! Mandate's values, entity store, evaluator and authorizer.
//!
//! Pipeline: `mandate_syntax` parses statements into a `PolicySet`; `entities` loads Cedar entity
//! JSON (schema-based when a schema is given) and computes the ancestor closure once; `eval`
//! evaluates expressions with Cedar's semantics; `authorizer` decides requests.

pub mod authorizer;
pub mod entities;
pub mod eval;
pub mod ext;
pub mod index;
pub mod request;
pub use mandate_syntax::stack;
pub mod value;

pub use authorizer::{
    Decision, ErrorMode, Policy, PolicyError, PolicySet, Request, Response, is_authorized,
    is_authorized_unindexed,
};
pub use entities::{Entities, Entity, JsonError};
pub use eval::EvalError;
pub use value::{Uid, Value};
