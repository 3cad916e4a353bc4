//! Stack safety for the recursive passes over expressions, values and JSON (RELIABILITY R3),
//! shared by every crate above this one (the validator, the evaluator, the JSON readers).
//!
//! Nesting is bounded (the parser's `max_nesting_depth`, `MAX_JSON_DEPTH` for JSON), but a host
//! may call us on a small thread stack (256 KiB is common for worker threads), and a debug
//! build's frames are several KiB each. Every recursive step goes through [`guarded`]: when less
//! than [`RED_ZONE`] is left, the step continues on a heap-allocated segment of [`SEGMENT`]
//! bytes (the `stacker` crate). On a normal stack this is one comparison per step.

/// Stack left below which a recursive step continues on a new segment.
pub const RED_ZONE: usize = 128 * 1024;
/// Size of a segment allocated when the stack runs low.
pub const SEGMENT: usize = 1024 * 1024;

/// Runs `f`, first moving to a new stack segment when the current one is nearly used up.
#[inline]
pub fn guarded<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}
