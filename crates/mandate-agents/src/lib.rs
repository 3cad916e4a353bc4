//! The agent identity registry and lifecycle of Mandate.
//!
//! Mandate treats AI agents as first-class principals: each agent has an identity that an
//! operator registers, can suspend, resume and revoke, and that may expire. This crate keeps
//! those identities. It knows nothing of policies or entities: the `mandate` facade reads an
//! agent's [`State`] on each decision and turns agents into Cedar entities.
//!
//! # Model
//!
//! An agent is named by an entity uid in two parts, `entity_type` (`Platform::Agent`) and `id`
//! (`planner`). The id is any string (quotes, newlines, NUL, megabytes): it is stored and
//! compared as data and never assembled into code. An [`AgentSpec`] is what an operator
//! declares: owner, display name, parents, attributes (Cedar entity-JSON values, opaque here)
//! and an optional expiry. An [`Agent`] adds the lifecycle: `created_ms`, the stored
//! [`AgentState`] and the full history of [`Transition`]s, each recording who (`actor`), when
//! (`at_ms`, the caller's clock) and why (`reason`).
//!
//! # Lifecycle
//!
//! ```text
//!   register ──► active ──suspend──► suspended ──resume──► active
//!                  │                     │
//!                  └──────revoke─────────┴──► revoked (final; the id is never reused)
//! ```
//!
//! `update` changes the spec of an agent that is not revoked and leaves its state alone.
//! Everything else is an error: registering an existing id ([`RegistryError::AlreadyExists`])
//! or a revoked one ([`RegistryError::Revoked`]); suspending an agent that is not active,
//! resuming one that is not suspended, revoking or updating a revoked one
//! ([`RegistryError::IllegalTransition`]); naming an unknown id ([`RegistryError::NotFound`]).
//! Expiry is derived, not stored: an agent that is not revoked and whose `expires_ms <= now` is
//! [`State::Expired`] ([`Agent::effective_state`], [`effective_state`]).
//!
//! The clock is the caller's: every mutating call takes `now_ms`.
//!
//! # Back ends
//!
//! All implement [`Registry`] with the same rules (one shared implementation of them).
//!
//! - [`MemoryRegistry`]: a map behind a read-write lock. Writers are serialized by their own
//!   mutex, compute the new record under the read lock and take the write lock only to insert
//!   it, so readers never wait behind a writer's work. A `state` read observes every transition
//!   whose call returned before the read started (linearizable).
//! - [`FileRegistry`]: the same, made durable in a state directory (format below).
//! - [`RedisRegistry`]: one registry shared by many nodes (layout below).
//!
//! # File format and crash semantics
//!
//! The state directory holds:
//!
//! - `agents.lock`: an exclusive advisory lock (`flock`) held while the registry is open; a
//!   second opener waits briefly, then gets [`RegistryError::Locked`].
//! - `agents.journal`: JSON Lines, one entry per acknowledged mutation,
//!   `{"seq":N,"crc":C,"op":{"kind":"suspend",...}}`. `seq` counts up by one across the
//!   registry's life (it continues across checkpoints) and equals [`Registry::version`] after
//!   the entry. `crc` is the CRC-32 (IEEE) of `seq` as 8 little-endian bytes followed by the
//!   exact bytes of the `op` JSON. JSON escapes every control character, so an entry never
//!   contains a raw newline whatever the ids hold.
//! - `agents.snapshot.json`: `{"format":1,"seq":N,"crc":C,"agents":[...]}`, every agent
//!   (history included) as of entry `N`, with `crc` computed the same way over the `agents`
//!   JSON.
//!
//! A mutation is checked against the rules, appended to the journal and flushed with
//! `sync_data` before it is applied in memory and the call returns: an acknowledged change
//! survives a crash of the process or the machine. Before the journal passes
//! [`FileRegistryOptions::checkpoint_entries`] entries (1,000 by default), and on open when the
//! journal is not empty, a checkpoint writes the snapshot to a temporary file, syncs it, renames
//! it over the old one, syncs the directory, then empties the journal.
//!
//! On open the snapshot is loaded and the journal replayed. Bytes after the last newline are a
//! torn append (the process died before acknowledging it) and are dropped. Entries whose `seq`
//! is at most the snapshot's are skipped (a crash between the rename and the truncation).
//! Anything else wrong with a complete line (invalid JSON, a checksum mismatch, a `seq` that
//! does not follow, an entry that does not replay under the rules) is
//! [`RegistryError::Corrupt`] with the file and line: entries are never dropped silently.
//!
//! # Redis layout
//!
//! With the key prefix `P` (default `mandate:`) and `F` the JSON array `["<type>","<id>"]`
//! (an unambiguous encoding of the uid):
//!
//! - hash `P agents`, field `F`: the agent's JSON (spec, state, history);
//! - hash `P states`, field `F`: `{"state":{"state":"suspended","reason":..},"expires_ms":..}`,
//!   the only thing the hot path reads (one `HGET` per `state` call, so a revocation on one
//!   node is seen by every node's next decision);
//! - string `P version`: incremented by every transition.
//!
//! A transition reads the agent's record, applies the rules in Rust, and writes with a Lua
//! compare-and-set script that succeeds only if the record is still the one read (retried
//! otherwise), so concurrent nodes cannot lose or reorder transitions and a revoked id, which
//! stays as a tombstone, is never reused. Connecting and every command are bounded by
//! [`RedisRegistryOptions::timeout_ms`]: an unreachable server yields
//! [`RegistryError::Unavailable`] or [`RegistryError::Timeout`], never a hang.
//!
//! # Manifests
//!
//! [`Manifest`] reads agents declared in TOML (onboarding as code):
//!
//! ```toml
//! [[agent]]
//! type = "Platform::Agent"
//! id = "planner"
//! owner = 'Platform::Human::"alice"'     # or owner = { type = "Platform::Human", id = "alice" }
//! display_name = "Planning agent"
//! parents = ['Platform::Team::"research"']
//! expires = "2027-06-30T00:00:00Z"       # RFC 3339
//! [agent.attributes]
//! trust_level = 3
//! ```
//!
//! [`plan()`] compares a manifest with a registry; [`apply()`] registers and updates, and revokes
//! the agents the manifest no longer lists only when asked to prune.

mod error;
mod file;
mod manifest;
mod memory;
mod model;
mod redis_registry;
mod registry;
mod rules;

pub use error::RegistryError;
pub use file::{FileRegistry, FileRegistryOptions, JOURNAL_FILE, LOCK_FILE, SNAPSHOT_FILE};
pub use manifest::{ApplyReport, Manifest, ManifestError, Plan, apply, parse_entity_ref, plan};
pub use memory::MemoryRegistry;
pub use model::{
    Agent, AgentSpec, AgentState, EntityRef, State, Transition, TransitionKind, effective_state,
};
pub use redis_registry::{RedisRegistry, RedisRegistryOptions};
pub use registry::Registry;
