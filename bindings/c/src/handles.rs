//! Registries of the live objects the library hands to C (RELIABILITY R24): double frees and
//! uses after free of handles are detected and reported, never undefined behaviour. Safe code
//! only.
//!
//! - **Engines and errors** are opaque handles that are *not addresses*: each is a number drawn
//!   from a process-wide counter (never 0, never reused while the counter has not gone round,
//!   which takes 2^60 handles on 64-bit targets), looked up in a registry on every call. The
//!   library never dereferences a `mandate_engine *` or `mandate_error *`, so a freed, foreign or
//!   garbage handle is simply not found: the call fails with `MANDATE_ERR_INVALID_ARGUMENT` (a
//!   free function does nothing and says so through `mandate_last_error_message`). A call holds
//!   its own reference to the engine (an `Arc`), so `mandate_engine_free` running concurrently
//!   with calls on the same handle is safe: the running calls finish on the engine, which is
//!   dropped when the last of them returns, and later calls are refused.
//! - **Strings** (`char *` results) must be real addresses, since C reads them. Their addresses
//!   are registered while live: `mandate_string_free` of a pointer the library did not return, or
//!   returned and already freed, does nothing and says so. What cannot be detected: a second
//!   free of a string whose address the allocator has since reused for a new string the library
//!   returned (the second free then frees the new one), and reads through a freed string (C
//!   reads them directly).
//! - **Decisions** are caller-owned structs: `mandate_decision_free` resets the struct, so
//!   freeing it twice is harmless; a copy of the struct freed twice is not detected.
//!
//! Cost on the decision path: one read lock and one `Arc` clone (two atomic increments and two
//! decrements) per call.

use crate::MandateEngine;
use crate::error::MandateError;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// Handles step by 16 so that they look like aligned pointers to debuggers and tools.
const STEP: u64 = 16;

static NEXT: AtomicU64 = AtomicU64::new(1);

static ENGINES: RwLock<FxHashMap<usize, Arc<MandateEngine>>> =
    RwLock::new(HashMap::with_hasher(FxBuildHasher));
static ERRORS: Mutex<FxHashMap<usize, MandateError>> =
    Mutex::new(HashMap::with_hasher(FxBuildHasher));
static STRINGS: Mutex<FxHashSet<usize>> = Mutex::new(HashSet::with_hasher(FxBuildHasher));

/// A fresh handle value not present in `map` (on a 32-bit target the counter can wrap; a value
/// still in use is skipped).
fn fresh<V>(map: &FxHashMap<usize, V>) -> usize {
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let Some(id) = n
            .checked_mul(STEP)
            .and_then(|v| usize::try_from(v).ok())
            .filter(|&v| v != 0)
        else {
            // Out of the target's address range: start again from the bottom.
            NEXT.store(1, Ordering::Relaxed);
            continue;
        };
        if !map.contains_key(&id) {
            return id;
        }
    }
}

/// Registers an engine and returns its handle value.
pub(crate) fn insert_engine(engine: MandateEngine) -> usize {
    let mut map = ENGINES.write().unwrap_or_else(PoisonError::into_inner);
    let id = fresh(&map);
    map.insert(id, Arc::new(engine));
    id
}

/// The engine behind a handle value, if it is live.
pub(crate) fn engine(handle: usize) -> Option<Arc<MandateEngine>> {
    ENGINES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&handle)
        .cloned()
}

/// Unregisters an engine; `None` when the handle is not live (freed already, or never ours).
/// The engine itself is dropped when the returned `Arc` and those of running calls are gone.
pub(crate) fn remove_engine(handle: usize) -> Option<Arc<MandateEngine>> {
    ENGINES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&handle)
}

/// Registers an error and returns its handle value.
pub(crate) fn insert_error(error: MandateError) -> usize {
    let mut map = ERRORS.lock().unwrap_or_else(PoisonError::into_inner);
    let id = fresh(&map);
    map.insert(id, error);
    id
}

/// Runs `f` on a live error; `None` when the handle is not live.
pub(crate) fn with_error<T>(handle: usize, f: impl FnOnce(&MandateError) -> T) -> Option<T> {
    ERRORS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&handle)
        .map(f)
}

/// Unregisters an error, returning it to be dropped; `None` when the handle is not live.
pub(crate) fn remove_error(handle: usize) -> Option<MandateError> {
    ERRORS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&handle)
}

/// Records the address of a string handed to C.
pub(crate) fn insert_string(address: usize) {
    STRINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(address);
}

/// Forgets the address of a string handed to C; false when it was not live.
pub(crate) fn remove_string(address: usize) -> bool {
    STRINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&address)
}
