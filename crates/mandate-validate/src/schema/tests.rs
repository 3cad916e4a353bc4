//! Unit tests for schema loading.
