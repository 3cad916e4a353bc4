//! The [`Registry`] trait every back end implements.

use crate::error::RegistryError;
use crate::model::{Agent, AgentSpec, AgentState};

/// An agent identity registry: the lifecycle rules (see the crate docs) are the same for every
/// implementation. Mutating calls take the caller's clock, `now_ms` (milliseconds since the
/// Unix epoch), and record `actor` and `reason` in the agent's history.
pub trait Registry: Send + Sync + std::fmt::Debug {
    /// Creates an agent in state active. Errors: [`RegistryError::AlreadyExists`],
    /// [`RegistryError::Revoked`] (ids are never reused), [`RegistryError::InvalidSpec`].
    fn register(
        &self,
        spec: AgentSpec,
        actor: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<Agent, RegistryError>;

    /// Replaces owner, display name, parents, attributes and expiry of an existing agent that is
    /// not revoked; the state is unchanged.
    fn update(
        &self,
        spec: AgentSpec,
        actor: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<Agent, RegistryError>;

    /// Active → suspended.
    fn suspend(
        &self,
        entity_type: &str,
        id: &str,
        actor: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<Agent, RegistryError>;

    /// Suspended → active.
    fn resume(
        &self,
        entity_type: &str,
        id: &str,
        actor: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<Agent, RegistryError>;

    /// Active or suspended → revoked, for good.
    fn revoke(
        &self,
        entity_type: &str,
        id: &str,
        actor: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<Agent, RegistryError>;

    /// The agent with its history, if registered (revoked agents included).
    fn get(&self, entity_type: &str, id: &str) -> Result<Option<Agent>, RegistryError>;

    /// The stored state and expiry only: the hot path, called once per principal per decision.
    /// Cheap in memory (no history clone). Every transition whose call returned before this
    /// call started is observed.
    fn state(
        &self,
        entity_type: &str,
        id: &str,
    ) -> Result<Option<(AgentState, Option<u64>)>, RegistryError>;

    /// Every agent, revoked ones included, sorted by type then id.
    fn list(&self) -> Result<Vec<Agent>, RegistryError>;

    /// Increases on every change; lets the facade cache derived entities.
    fn version(&self) -> Result<u64, RegistryError>;

    /// The back end's name: `"memory"`, `"file"` or `"redis"`.
    fn name(&self) -> &'static str;
}

/// Expands to the five mutating methods of [`Registry`], each building an `Op` and passing it to
/// `self.mutate(&Op) -> Result<Agent, RegistryError>`.
macro_rules! mutating_methods {
    () => {
        fn register(
            &self,
            spec: $crate::model::AgentSpec,
            actor: &str,
            reason: &str,
            now_ms: u64,
        ) -> Result<$crate::model::Agent, $crate::error::RegistryError> {
            self.mutate(&$crate::rules::Op::Register {
                spec,
                actor: actor.to_owned(),
                reason: reason.to_owned(),
                at_ms: now_ms,
            })
        }

        fn update(
            &self,
            spec: $crate::model::AgentSpec,
            actor: &str,
            reason: &str,
            now_ms: u64,
        ) -> Result<$crate::model::Agent, $crate::error::RegistryError> {
            self.mutate(&$crate::rules::Op::Update {
                spec,
                actor: actor.to_owned(),
                reason: reason.to_owned(),
                at_ms: now_ms,
            })
        }

        fn suspend(
            &self,
            entity_type: &str,
            id: &str,
            actor: &str,
            reason: &str,
            now_ms: u64,
        ) -> Result<$crate::model::Agent, $crate::error::RegistryError> {
            self.mutate(&$crate::rules::Op::state_change(
                $crate::model::TransitionKind::Suspend,
                entity_type,
                id,
                actor,
                reason,
                now_ms,
            ))
        }

        fn resume(
            &self,
            entity_type: &str,
            id: &str,
            actor: &str,
            reason: &str,
            now_ms: u64,
        ) -> Result<$crate::model::Agent, $crate::error::RegistryError> {
            self.mutate(&$crate::rules::Op::state_change(
                $crate::model::TransitionKind::Resume,
                entity_type,
                id,
                actor,
                reason,
                now_ms,
            ))
        }

        fn revoke(
            &self,
            entity_type: &str,
            id: &str,
            actor: &str,
            reason: &str,
            now_ms: u64,
        ) -> Result<$crate::model::Agent, $crate::error::RegistryError> {
            self.mutate(&$crate::rules::Op::state_change(
                $crate::model::TransitionKind::Revoke,
                entity_type,
                id,
                actor,
                reason,
                now_ms,
            ))
        }
    };
}
pub(crate) use mutating_methods;
