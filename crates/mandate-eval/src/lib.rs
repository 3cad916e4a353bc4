//! Mandate's values, entity store, evaluator and authorizer.
