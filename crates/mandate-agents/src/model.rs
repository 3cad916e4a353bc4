//! The data model: specs, agents, states and transitions.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A reference to an entity, in two parts: `Platform::Human` and `alice` for
/// `Platform::Human::"alice"`.
///
/// The id is data: any string, including quotes, newlines and NUL. It is never pasted into code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityRef {
    /// The entity type, `Namespace::Type` (identifiers separated by `::`).
    #[serde(rename = "type")]
    pub entity_type: String,
    /// The entity id, any string.
    pub id: String,
}

impl EntityRef {
    /// A reference from its two parts.
    pub fn new(entity_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            entity_type: entity_type.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for EntityRef {
    /// Cedar syntax, `Type::"id"`, with the id escaped (and shortened past 64 characters).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", uid_display(&self.entity_type, &self.id))
    }
}

/// `Type::"id"` with the id escaped as a Cedar string and cut to 64 characters (for messages).
pub(crate) fn uid_display(entity_type: &str, id: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::with_capacity(entity_type.len() + id.len().min(MAX) + 8);
    out.push_str(entity_type);
    out.push_str("::\"");
    for (n, c) in id.chars().enumerate() {
        if n == MAX {
            out.push('…');
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Bidirectional formatting characters, escaped in messages so they cannot reorder the text.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}')
}

/// What an operator declares about an agent: everything but its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    /// The agent's entity type, e.g. `Platform::Agent`.
    pub entity_type: String,
    /// The agent's id, any string.
    pub id: String,
    /// Who answers for the agent (usually a human or a team).
    pub owner: EntityRef,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The entities the agent is `in` (groups, teams).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<EntityRef>,
    /// Attribute values in Cedar's entity-JSON form; opaque to this crate.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// When the identity expires, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

impl AgentSpec {
    /// A spec with no display name, parents, attributes or expiry.
    pub fn new(entity_type: impl Into<String>, id: impl Into<String>, owner: EntityRef) -> Self {
        Self {
            entity_type: entity_type.into(),
            id: id.into(),
            owner,
            display_name: None,
            parents: Vec::new(),
            attributes: serde_json::Map::new(),
            expires_ms: None,
        }
    }

    /// The agent's own reference.
    pub fn uid(&self) -> EntityRef {
        EntityRef::new(self.entity_type.clone(), self.id.clone())
    }

    /// The names of the fields (`owner`, `display_name`, `parents`, `attributes`, `expires`)
    /// that differ between `self` and `other`; the identity is not compared.
    pub fn changed_fields(&self, other: &AgentSpec) -> Vec<String> {
        let mut changed = Vec::new();
        if self.owner != other.owner {
            changed.push("owner".to_owned());
        }
        if self.display_name != other.display_name {
            changed.push("display_name".to_owned());
        }
        if self.parents != other.parents {
            changed.push("parents".to_owned());
        }
        if self.attributes != other.attributes {
            changed.push("attributes".to_owned());
        }
        if self.expires_ms != other.expires_ms {
            changed.push("expires".to_owned());
        }
        changed
    }
}

/// The stored lifecycle state of an agent. Expiry is not stored: see [`Agent::effective_state`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum AgentState {
    /// The agent may act.
    Active,
    /// Temporarily barred; [`Registry::resume`](crate::Registry::resume) lifts it.
    Suspended {
        /// Why it was suspended.
        reason: String,
    },
    /// Permanently barred; the identity is never reused.
    Revoked {
        /// Why it was revoked.
        reason: String,
    },
}

impl AgentState {
    /// The state without its reason (expiry not considered).
    pub fn kind(&self) -> State {
        match self {
            AgentState::Active => State::Active,
            AgentState::Suspended { .. } => State::Suspended,
            AgentState::Revoked { .. } => State::Revoked,
        }
    }
}

/// The state an authorization decision uses: the stored state with expiry applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The agent may act.
    Active,
    /// Suspended.
    Suspended,
    /// Revoked.
    Revoked,
    /// Not revoked, but its `expires_ms` has passed.
    Expired,
}

impl State {
    /// `"active"`, `"suspended"`, `"revoked"` or `"expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Suspended => "suspended",
            State::Revoked => "revoked",
            State::Expired => "expired",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The effective state from a stored state and expiry, as [`Registry::state`](crate::Registry::state)
/// returns them: revoked stays revoked; otherwise an agent whose `expires_ms <= now_ms` is expired.
pub fn effective_state(state: &AgentState, expires_ms: Option<u64>, now_ms: u64) -> State {
    match state {
        AgentState::Revoked { .. } => State::Revoked,
        _ if expires_ms.is_some_and(|e| e <= now_ms) => State::Expired,
        other => other.kind(),
    }
}

/// The kind of a lifecycle transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransitionKind {
    /// The agent was created.
    Register,
    /// Its spec changed.
    Update,
    /// It was suspended.
    Suspend,
    /// A suspension was lifted.
    Resume,
    /// It was revoked, for good.
    Revoke,
}

impl TransitionKind {
    /// `"register"`, `"update"`, `"suspend"`, `"resume"` or `"revoke"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Register => "register",
            TransitionKind::Update => "update",
            TransitionKind::Suspend => "suspend",
            TransitionKind::Resume => "resume",
            TransitionKind::Revoke => "revoke",
        }
    }
}

impl fmt::Display for TransitionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of an agent's history: who did what, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Position in this agent's history, from 1.
    pub seq: u64,
    /// What happened.
    pub kind: TransitionKind,
    /// Who did it (a free-form principal name given by the caller).
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When, in milliseconds since the Unix epoch (the caller's clock).
    pub at_ms: u64,
}

/// A registered agent: its spec, lifecycle state and full history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's entity type.
    pub entity_type: String,
    /// The agent's id.
    pub id: String,
    /// Who answers for the agent.
    pub owner: EntityRef,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The entities the agent is `in`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<EntityRef>,
    /// Attribute values in Cedar's entity-JSON form.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Expiry, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// When it was registered.
    pub created_ms: u64,
    /// The stored lifecycle state.
    pub state: AgentState,
    /// Every transition, oldest first.
    pub history: Vec<Transition>,
}

impl Agent {
    /// The effective state at `now_ms` (see [`effective_state`]).
    pub fn effective_state(&self, now_ms: u64) -> State {
        effective_state(&self.state, self.expires_ms, now_ms)
    }

    /// The agent's spec (a copy).
    pub fn spec(&self) -> AgentSpec {
        AgentSpec {
            entity_type: self.entity_type.clone(),
            id: self.id.clone(),
            owner: self.owner.clone(),
            display_name: self.display_name.clone(),
            parents: self.parents.clone(),
            attributes: self.attributes.clone(),
            expires_ms: self.expires_ms,
        }
    }

    /// The agent's own reference.
    pub fn uid(&self) -> EntityRef {
        EntityRef::new(self.entity_type.clone(), self.id.clone())
    }
}
