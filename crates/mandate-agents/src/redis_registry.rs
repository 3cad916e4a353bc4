//! The Redis registry: one registry shared by many nodes. Layout in the crate docs.

use crate::error::RegistryError;
use crate::memory::lock;
use crate::model::{Agent, AgentState};
use crate::registry::{Registry, mutating_methods};
use crate::rules::{self, Op};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// Options of [`RedisRegistry::connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisRegistryOptions {
    /// Bound on connecting and on each command's reply; past it a call fails with
    /// [`RegistryError::Timeout`] instead of hanging. Default 200 ms.
    pub timeout_ms: u64,
    /// Prefix of every key, so several registries can share one Redis. Default `"mandate:"`.
    pub key_prefix: String,
}

impl Default for RedisRegistryOptions {
    fn default() -> Self {
        Self {
            timeout_ms: 200,
            key_prefix: "mandate:".to_owned(),
        }
    }
}

/// The value of an agent's field in the `states` hash: what the hot path reads.
#[derive(Serialize, Deserialize)]
struct StateRecord {
    state: AgentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_ms: Option<u64>,
}

/// Compare-and-set of one agent: writes the new record and state only if the stored record is
/// still the one the client read (absent when ARGV[2] is "0"), then bumps the version.
/// Returns the new version, or 0 if the record changed meanwhile (the client retries).
const CAS_SCRIPT: &str = r"
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '0' then
  if cur then return 0 end
elseif cur ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
return redis.call('INCR', KEYS[3])
";

/// How many times a transition is retried when other nodes keep changing the same agent.
const MAX_ATTEMPTS: u32 = 32;

/// A registry kept in Redis and shared by every node that connects to it. Every
/// [`state`](Registry::state) call reads Redis (one `HGET`), so a revocation made on one node
/// is seen by every node's next decision. Transitions are atomic compare-and-set Lua scripts
/// and follow the same rules as the other back ends.
pub struct RedisRegistry {
    client: redis::Client,
    timeout: Duration,
    agents_key: String,
    states_key: String,
    version_key: String,
    script: redis::Script,
    /// Idle connections; a connection that saw an error is dropped, not returned.
    pool: Mutex<Vec<redis::Connection>>,
}

impl fmt::Debug for RedisRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRegistry")
            .field("timeout", &self.timeout)
            .field("agents_key", &self.agents_key)
            .finish_non_exhaustive()
    }
}

fn redis_error(e: &redis::RedisError) -> RegistryError {
    if e.is_timeout() {
        RegistryError::Timeout(e.to_string())
    } else {
        RegistryError::Unavailable(e.to_string())
    }
}

fn field(entity_type: &str, id: &str) -> Result<String, RegistryError> {
    serde_json::to_string(&(entity_type, id))
        .map_err(|e| RegistryError::Unavailable(format!("cannot encode key: {e}")))
}

fn bad_record(e: &serde_json::Error) -> RegistryError {
    RegistryError::Unavailable(format!("invalid agent record in Redis: {e}"))
}

impl RedisRegistry {
    /// Connects to `url` (`redis://host:port/db`) and checks the server answers, within
    /// `options.timeout_ms`.
    pub fn connect(url: &str, options: RedisRegistryOptions) -> Result<Self, RegistryError> {
        let client = redis::Client::open(url)
            .map_err(|e| RegistryError::Unavailable(format!("invalid Redis URL: {e}")))?;
        let prefix = &options.key_prefix;
        let registry = RedisRegistry {
            client,
            timeout: Duration::from_millis(options.timeout_ms.max(1)),
            agents_key: format!("{prefix}agents"),
            states_key: format!("{prefix}states"),
            version_key: format!("{prefix}version"),
            script: redis::Script::new(CAS_SCRIPT),
            pool: Mutex::new(Vec::new()),
        };
        registry.with_conn(|conn| redis::cmd("PING").query::<String>(conn))?;
        Ok(registry)
    }

    fn connection(&self) -> Result<redis::Connection, RegistryError> {
        if let Some(conn) = lock(&self.pool).pop() {
            return Ok(conn);
        }
        let conn = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|e| redis_error(&e))?;
        conn.set_read_timeout(Some(self.timeout))
            .and_then(|()| conn.set_write_timeout(Some(self.timeout)))
            .map_err(|e| redis_error(&e))?;
        Ok(conn)
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, RegistryError> {
        let mut conn = self.connection()?;
        match f(&mut conn) {
            Ok(value) => {
                lock(&self.pool).push(conn);
                Ok(value)
            }
            // The connection may hold a half-read reply: drop it.
            Err(e) => Err(redis_error(&e)),
        }
    }

    fn load(&self, field: &str) -> Result<Option<String>, RegistryError> {
        self.with_conn(|conn| {
            redis::cmd("HGET")
                .arg(&self.agents_key)
                .arg(field)
                .query::<Option<String>>(conn)
        })
    }

    fn mutate(&self, op: &Op) -> Result<Agent, RegistryError> {
        let (entity_type, id) = op.target();
        let field = field(entity_type, id)?;
        for _ in 0..MAX_ATTEMPTS {
            let stored = self.load(&field)?;
            let current: Option<Agent> = stored
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| bad_record(&e))?;
            let next = rules::apply(current.as_ref(), op)?;
            let next_json = serde_json::to_string(&next).map_err(|e| bad_record(&e))?;
            let state_json = serde_json::to_string(&StateRecord {
                state: next.state.clone(),
                expires_ms: next.expires_ms,
            })
            .map_err(|e| bad_record(&e))?;
            let version: i64 = self.with_conn(|conn| {
                self.script
                    .key(&self.agents_key)
                    .key(&self.states_key)
                    .key(&self.version_key)
                    .arg(&field)
                    .arg(if stored.is_some() { "1" } else { "0" })
                    .arg(stored.as_deref().unwrap_or_default())
                    .arg(&next_json)
                    .arg(&state_json)
                    .invoke(conn)
            })?;
            if version > 0 {
                return Ok(next);
            }
        }
        Err(RegistryError::Unavailable(format!(
            "agent changed concurrently {MAX_ATTEMPTS} times; try again"
        )))
    }
}

impl Registry for RedisRegistry {
    mutating_methods!();

    fn get(&self, entity_type: &str, id: &str) -> Result<Option<Agent>, RegistryError> {
        let field = field(entity_type, id)?;
        self.load(&field)?
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| bad_record(&e))
    }

    fn state(
        &self,
        entity_type: &str,
        id: &str,
    ) -> Result<Option<(AgentState, Option<u64>)>, RegistryError> {
        let field = field(entity_type, id)?;
        let stored = self.with_conn(|conn| {
            redis::cmd("HGET")
                .arg(&self.states_key)
                .arg(&field)
                .query::<Option<String>>(conn)
        })?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let record: StateRecord = serde_json::from_str(&stored).map_err(|e| bad_record(&e))?;
        Ok(Some((record.state, record.expires_ms)))
    }

    fn list(&self) -> Result<Vec<Agent>, RegistryError> {
        let stored = self.with_conn(|conn| {
            redis::cmd("HVALS")
                .arg(&self.agents_key)
                .query::<Vec<String>>(conn)
        })?;
        let mut agents = stored
            .iter()
            .map(|s| serde_json::from_str::<Agent>(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad_record(&e))?;
        agents.sort_by(|a, b| (&a.entity_type, &a.id).cmp(&(&b.entity_type, &b.id)));
        Ok(agents)
    }

    fn version(&self) -> Result<u64, RegistryError> {
        let version = self.with_conn(|conn| {
            redis::cmd("GET")
                .arg(&self.version_key)
                .query::<Option<u64>>(conn)
        })?;
        Ok(version.unwrap_or(0))
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
