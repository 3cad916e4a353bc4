//! The lifecycle rules, shared by every back end (and by journal replay).

use crate::error::RegistryError;
use crate::model::{Agent, AgentSpec, AgentState, Transition, TransitionKind};
use serde::{Deserialize, Serialize};

/// One mutating operation, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum Op {
    Register {
        spec: AgentSpec,
        actor: String,
        reason: String,
        at_ms: u64,
    },
    Update {
        spec: AgentSpec,
        actor: String,
        reason: String,
        at_ms: u64,
    },
    Suspend {
        entity_type: String,
        id: String,
        actor: String,
        reason: String,
        at_ms: u64,
    },
    Resume {
        entity_type: String,
        id: String,
        actor: String,
        reason: String,
        at_ms: u64,
    },
    Revoke {
        entity_type: String,
        id: String,
        actor: String,
        reason: String,
        at_ms: u64,
    },
}

impl Op {
    /// A state change of an existing agent.
    pub(crate) fn state_change(
        kind: TransitionKind,
        entity_type: &str,
        id: &str,
        actor: &str,
        reason: &str,
        at_ms: u64,
    ) -> Op {
        let (entity_type, id, actor, reason) = (
            entity_type.to_owned(),
            id.to_owned(),
            actor.to_owned(),
            reason.to_owned(),
        );
        match kind {
            TransitionKind::Suspend => Op::Suspend {
                entity_type,
                id,
                actor,
                reason,
                at_ms,
            },
            TransitionKind::Resume => Op::Resume {
                entity_type,
                id,
                actor,
                reason,
                at_ms,
            },
            // Register and Update carry a spec and are built directly.
            TransitionKind::Revoke | TransitionKind::Register | TransitionKind::Update => {
                Op::Revoke {
                    entity_type,
                    id,
                    actor,
                    reason,
                    at_ms,
                }
            }
        }
    }

    /// The agent this operation concerns.
    pub(crate) fn target(&self) -> (&str, &str) {
        match self {
            Op::Register { spec, .. } | Op::Update { spec, .. } => (&spec.entity_type, &spec.id),
            Op::Suspend {
                entity_type, id, ..
            }
            | Op::Resume {
                entity_type, id, ..
            }
            | Op::Revoke {
                entity_type, id, ..
            } => (entity_type, id),
        }
    }
}

/// Checks that `name` is `Ident(::Ident)*`, Ident = `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_entity_type(name: &str) -> bool {
    !name.is_empty()
        && name.split("::").all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn check_type(what: &str, name: &str) -> Result<(), RegistryError> {
    if is_entity_type(name) {
        Ok(())
    } else {
        Err(RegistryError::InvalidSpec(format!(
            "{what} type {:?} is not a valid entity type name such as `Platform::Agent`",
            name.chars().take(64).collect::<String>()
        )))
    }
}

/// Validates the names in a spec (ids are data and are never restricted).
pub(crate) fn validate_spec(spec: &AgentSpec) -> Result<(), RegistryError> {
    check_type("agent", &spec.entity_type)?;
    check_type("owner", &spec.owner.entity_type)?;
    for parent in &spec.parents {
        check_type("parent", &parent.entity_type)?;
    }
    Ok(())
}

fn transition(kind: TransitionKind, seq: u64, actor: &str, reason: &str, at_ms: u64) -> Transition {
    Transition {
        seq,
        kind,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        at_ms,
    }
}

fn next_seq(agent: &Agent) -> u64 {
    agent.history.last().map_or(1, |t| t.seq.saturating_add(1))
}

fn illegal(agent: &Agent, to: TransitionKind) -> RegistryError {
    RegistryError::IllegalTransition {
        entity_type: agent.entity_type.clone(),
        id: agent.id.clone(),
        from: agent.state.kind().as_str(),
        to: to.as_str(),
    }
}

fn apply_spec(agent: &mut Agent, spec: &AgentSpec) {
    let AgentSpec {
        entity_type: _,
        id: _,
        owner,
        display_name,
        parents,
        attributes,
        expires_ms,
    } = spec.clone();
    agent.owner = owner;
    agent.display_name = display_name;
    agent.parents = parents;
    agent.attributes = attributes;
    agent.expires_ms = expires_ms;
}

/// Applies `op` to the current record of its agent, returning the new record, or the error the
/// lifecycle rules give. Pure: the caller stores the result.
pub(crate) fn apply(current: Option<&Agent>, op: &Op) -> Result<Agent, RegistryError> {
    let (entity_type, id) = op.target();
    let not_found = || RegistryError::NotFound {
        entity_type: entity_type.to_owned(),
        id: id.to_owned(),
    };
    match op {
        Op::Register {
            spec,
            actor,
            reason,
            at_ms,
        } => {
            validate_spec(spec)?;
            match current {
                Some(agent) if matches!(agent.state, AgentState::Revoked { .. }) => {
                    Err(RegistryError::Revoked {
                        entity_type: entity_type.to_owned(),
                        id: id.to_owned(),
                    })
                }
                Some(_) => Err(RegistryError::AlreadyExists {
                    entity_type: entity_type.to_owned(),
                    id: id.to_owned(),
                }),
                None => {
                    let spec = spec.clone();
                    Ok(Agent {
                        entity_type: spec.entity_type,
                        id: spec.id,
                        owner: spec.owner,
                        display_name: spec.display_name,
                        parents: spec.parents,
                        attributes: spec.attributes,
                        expires_ms: spec.expires_ms,
                        created_ms: *at_ms,
                        state: AgentState::Active,
                        history: vec![transition(
                            TransitionKind::Register,
                            1,
                            actor,
                            reason,
                            *at_ms,
                        )],
                    })
                }
            }
        }
        Op::Update {
            spec,
            actor,
            reason,
            at_ms,
        } => {
            validate_spec(spec)?;
            let agent = current.ok_or_else(not_found)?;
            if matches!(agent.state, AgentState::Revoked { .. }) {
                return Err(illegal(agent, TransitionKind::Update));
            }
            let mut next = agent.clone();
            apply_spec(&mut next, spec);
            let seq = next_seq(agent);
            next.history.push(transition(
                TransitionKind::Update,
                seq,
                actor,
                reason,
                *at_ms,
            ));
            Ok(next)
        }
        Op::Suspend {
            actor,
            reason,
            at_ms,
            ..
        } => {
            let agent = current.ok_or_else(not_found)?;
            if !matches!(agent.state, AgentState::Active) {
                return Err(illegal(agent, TransitionKind::Suspend));
            }
            let mut next = agent.clone();
            next.state = AgentState::Suspended {
                reason: reason.clone(),
            };
            let seq = next_seq(agent);
            next.history.push(transition(
                TransitionKind::Suspend,
                seq,
                actor,
                reason,
                *at_ms,
            ));
            Ok(next)
        }
        Op::Resume {
            actor,
            reason,
            at_ms,
            ..
        } => {
            let agent = current.ok_or_else(not_found)?;
            if !matches!(agent.state, AgentState::Suspended { .. }) {
                return Err(illegal(agent, TransitionKind::Resume));
            }
            let mut next = agent.clone();
            next.state = AgentState::Active;
            let seq = next_seq(agent);
            next.history.push(transition(
                TransitionKind::Resume,
                seq,
                actor,
                reason,
                *at_ms,
            ));
            Ok(next)
        }
        Op::Revoke {
            actor,
            reason,
            at_ms,
            ..
        } => {
            let agent = current.ok_or_else(not_found)?;
            if matches!(agent.state, AgentState::Revoked { .. }) {
                return Err(illegal(agent, TransitionKind::Revoke));
            }
            let mut next = agent.clone();
            next.state = AgentState::Revoked {
                reason: reason.clone(),
            };
            let seq = next_seq(agent);
            next.history.push(transition(
                TransitionKind::Revoke,
                seq,
                actor,
                reason,
                *at_ms,
            ));
            Ok(next)
        }
    }
}
