//! The gate's judgement: compares a candidate image's per-test results with the incumbent's, at
//! the same project commit, and decides whether the candidate does at least as well.
//!
//! Architecture invariant: this crate performs no I/O and knows nothing of engines, stores or
//! registries. It is a pure function of result sets, so every rule is unit-tested here.

mod classify;

pub use classify::{Class, Comparison, Decision, Entry, Evidence, compare, incumbent_confirmation, rerun_targets};
