//! The registry's error type.

use crate::model::uid_display;
use std::path::PathBuf;

/// Why a registry call failed. Ids in messages are escaped and shortened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// `register` of an id that is registered (and not revoked).
    #[error("agent {} already exists; use update to change it", uid_display(.entity_type, .id))]
    AlreadyExists {
        /// The agent's entity type.
        entity_type: String,
        /// The agent's id.
        id: String,
    },
    /// `register` (or a manifest) names an id that was revoked.
    #[error("agent {} was revoked; identities are never reused, register a new id", uid_display(.entity_type, .id))]
    Revoked {
        /// The agent's entity type.
        entity_type: String,
        /// The agent's id.
        id: String,
    },
    /// A transition the lifecycle forbids, such as resuming an active agent.
    #[error("cannot {to} agent {}: it is {from}", uid_display(.entity_type, .id))]
    IllegalTransition {
        /// The agent's entity type.
        entity_type: String,
        /// The agent's id.
        id: String,
        /// The stored state: `"active"`, `"suspended"` or `"revoked"`.
        from: &'static str,
        /// The transition attempted: `"suspend"`, `"resume"`, `"revoke"` or `"update"`.
        to: &'static str,
    },
    /// No agent has this id.
    #[error("agent {} is not registered", uid_display(.entity_type, .id))]
    NotFound {
        /// The agent's entity type.
        entity_type: String,
        /// The agent's id.
        id: String,
    },
    /// The spec is malformed (for example an entity type that is not `Name::Name`).
    #[error("invalid agent spec: {0}")]
    InvalidSpec(String),
    /// The registry's files are damaged: entries are never dropped silently.
    #[error("{}:{line}: registry file is corrupt: {message}", .path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// The 1-based line of the damaged entry.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// Another process (or registry in this process) holds the state directory.
    #[error("{}: registry is locked by another process", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A file operation failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The shared store could not be reached or answered with an error.
    #[error("registry unavailable: {0}")]
    Unavailable(String),
    /// The shared store did not answer within the configured timeout.
    #[error("registry timed out: {0}")]
    Timeout(String),
}

impl RegistryError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RegistryError::Io {
            path: path.into(),
            source,
        }
    }
}
