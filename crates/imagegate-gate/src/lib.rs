//! The gate's workflow, from a recipe to a moved (or unmoved) stable pointer: find or build
//! the candidate, run the suite in the candidate and the incumbent at the same project commit,
//! rerun failures, judge, record the verdict, and promote by compare-and-swap.
//!
//! Architecture invariant: `promote.rs` is the only module that writes a stable pointer, and it
//! does so only inside the store's write lock, after checking a stored passing verdict against
//! the pointer's current target.

mod candidate;
mod error;
mod gate;
mod history;
mod packages;
mod preflight;
mod progress;
mod project;
mod promote;
mod prune;
mod registry;
mod results_dir;
mod shard;
mod suite;

pub use candidate::{Candidate, LABEL_IMAGE, LABEL_INPUTS, candidate_tag, current_stable, ensure_candidate, plan};
pub use error::GateError;
pub use gate::{
    Evidence, GateOptions, Selection, Subjects, collect_evidence, gate_image, judge, resolve_subjects, test_entry,
};
pub use history::history;
pub use packages::{image_inventory, package_diff};
pub use preflight::{Preflight, preflight};
pub use progress::{Progress, SilentProgress};
pub use project::{Project, detect_project};
pub use promote::{promote, rollback};
pub use prune::{PruneReport, prune};
pub use registry::runnable;
pub use results_dir::read_results_dir;
pub use shard::{SHARD_SCHEMA, Shard, ShardRecord, judge_shards, run_shard, slice};
pub use suite::LABEL_RUN;
pub use suite::{SuiteRun, run_suite};

use std::path::PathBuf;

use imagegate_config::Config;
use imagegate_engine::{Engine, RegistryAccess};
use imagegate_registry::RegistryStore;
use imagegate_store::Store;

/// Everything a command works with, resolved once before any work starts.
pub struct Context<'a> {
    pub config: &'a Config,
    pub engine: &'a dyn Engine,
    pub store: &'a Store,
    pub progress: &'a dyn Progress,
    /// Where run artefacts (logs, copied-out results) go.
    pub state_dir: PathBuf,
    /// The registry store, when `[store] registry` is set: candidates, stable tags and records
    /// live there, and `store` is a cache of its records.
    pub registry: Option<&'a RegistryStore>,
    /// How the engine reaches that registry.
    pub registry_access: RegistryAccess,
    /// Whether the registry store is only read (a run of untrusted code, such as a pull request
    /// from a fork): candidates and incumbents are found and pulled there, but a candidate built
    /// here stays in this engine and the verdict is kept in the local store only.
    pub registry_read_only: bool,
}

impl Context<'_> {
    pub fn engine_name(&self) -> &'static str {
        self.engine.kind().as_str()
    }

    /// The registry store when this run may write to it.
    pub(crate) fn writable_registry(&self) -> Option<&RegistryStore> {
        self.registry.filter(|_| !self.registry_read_only)
    }
}
