//! The in-memory registry, and the store the file registry builds on.

use crate::error::RegistryError;
use crate::model::{Agent, AgentState};
use crate::registry::{Registry, mutating_methods};
use crate::rules::{self, Op};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Agents by entity type, then id: two levels so lookups by `&str` allocate nothing.
pub(crate) type AgentMap = HashMap<String, HashMap<String, Agent>>;

/// The shared in-memory state: readers take the read lock only for a lookup; writers compute the
/// new record under the read lock and take the write lock only to insert it, so readers never
/// wait behind a writer's I/O. Writers are serialized by their own mutex (held by the caller).
#[derive(Debug, Default)]
pub(crate) struct Store {
    map: RwLock<AgentMap>,
    version: AtomicU64,
}

impl Store {
    /// A store holding `map`, at `version`.
    pub(crate) fn with(map: AgentMap, version: u64) -> Self {
        Self {
            map: RwLock::new(map),
            version: AtomicU64::new(version),
        }
    }

    // A panic while a guard is held cannot leave a half-written record: records are replaced
    // whole by one `insert`, so a poisoned lock still guards consistent data.
    fn read(&self) -> RwLockReadGuard<'_, AgentMap> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, AgentMap> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, entity_type: &str, id: &str) -> Option<Agent> {
        self.read()
            .get(entity_type)
            .and_then(|ids| ids.get(id))
            .cloned()
    }

    pub(crate) fn state(&self, entity_type: &str, id: &str) -> Option<(AgentState, Option<u64>)> {
        self.read()
            .get(entity_type)
            .and_then(|ids| ids.get(id))
            .map(|a| (a.state.clone(), a.expires_ms))
    }

    /// Every agent, sorted by type then id.
    pub(crate) fn list(&self) -> Vec<Agent> {
        let mut all: Vec<Agent> = self
            .read()
            .values()
            .flat_map(|ids| ids.values().cloned())
            .collect();
        all.sort_by(|a, b| (&a.entity_type, &a.id).cmp(&(&b.entity_type, &b.id)));
        all
    }

    /// Runs `f` over the map under the read lock.
    pub(crate) fn with_map<T>(&self, f: impl FnOnce(&AgentMap) -> T) -> T {
        f(&self.read())
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// The record `op` would produce. The caller must hold the writer mutex until `commit`.
    pub(crate) fn prepare(&self, op: &Op) -> Result<Agent, RegistryError> {
        let (entity_type, id) = op.target();
        let map = self.read();
        let current = map.get(entity_type).and_then(|ids| ids.get(id));
        rules::apply(current, op)
    }

    /// Stores a prepared record; visible to every read that starts after this returns.
    pub(crate) fn commit(&self, agent: Agent) {
        let mut map = self.write();
        map.entry(agent.entity_type.clone())
            .or_default()
            .insert(agent.id.clone(), agent);
        self.version.fetch_add(1, Ordering::SeqCst);
    }
}

/// Inserts a record into a map (used when loading).
pub(crate) fn insert(map: &mut AgentMap, agent: Agent) {
    map.entry(agent.entity_type.clone())
        .or_default()
        .insert(agent.id.clone(), agent);
}

/// Looks a record up in a map (used when loading).
pub(crate) fn lookup<'m>(map: &'m AgentMap, entity_type: &str, id: &str) -> Option<&'m Agent> {
    map.get(entity_type).and_then(|ids| ids.get(id))
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registry in process memory: fast, lost on exit. Revoked agents stay as tombstones so
/// their ids are never reused.
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    writer: Mutex<()>,
    store: Store,
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn mutate(&self, op: &Op) -> Result<Agent, RegistryError> {
        let _writer = lock(&self.writer);
        let agent = self.store.prepare(op)?;
        self.store.commit(agent.clone());
        Ok(agent)
    }
}

impl Registry for MemoryRegistry {
    mutating_methods!();

    fn get(&self, entity_type: &str, id: &str) -> Result<Option<Agent>, RegistryError> {
        Ok(self.store.get(entity_type, id))
    }

    fn state(
        &self,
        entity_type: &str,
        id: &str,
    ) -> Result<Option<(AgentState, Option<u64>)>, RegistryError> {
        Ok(self.store.state(entity_type, id))
    }

    fn list(&self) -> Result<Vec<Agent>, RegistryError> {
        Ok(self.store.list())
    }

    fn version(&self) -> Result<u64, RegistryError> {
        Ok(self.store.version())
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}
