//! The gate's workflow, from a recipe to a moved (or unmoved) stable pointer: find or build
//! the candidate, run the suite in the candidate and the incumbent at the same project commit,
//! rerun failures, judge, record the verdict, and promote by compare-and-swap.
//!
//! Where candidates, stable pointers and records live is one interface, [`Backend`]
//! (`backend.rs`), chosen once by the caller; the workflow never asks which one it has.
//!
//! Architecture invariant: `promote.rs` is the only module that moves a stable pointer, and it
//! does so only under the pointer's lock, after checking a stored passing verdict against the
//! pointer's current target.

/// A step a test may stop the process at: with the `failpoints` feature, `FAILPOINTS=NAME=…`
/// (the `fail` crate's actions, such as `sleep(60000)`) acts here, and the step announces itself
/// on stderr first so that the test knows when to kill the process. Without the feature it is
/// nothing at all.
macro_rules! failpoint {
    ($name:literal) => {{
        #[cfg(feature = "failpoints")]
        crate::failpoints::reached($name);
        fail::fail_point!($name);
    }};
}
pub(crate) use failpoint;

mod backend;
mod candidate;
mod culprits;
mod error;
mod evidence;
#[cfg(feature = "failpoints")]
mod failpoints;
mod gate;
mod history;
mod packages;
mod preflight;
mod progress;
mod project;
mod promote;
mod prune;
mod report;
mod results_dir;
mod shard;
mod suite;
mod transplant;

pub use backend::{
    Backend, KeptMove, LOCK_DIR_VARIABLE, LocalBackend, LockedWork, LockfileBackend, PointerLock, PointerMove,
    Prunable, RegistryBackend, StablePointer, lock_dir, transfer_with_retries,
};
pub use candidate::{Candidate, LABEL_IMAGE, LABEL_INPUTS, candidate_tag, current_stable, ensure_candidate, plan};
pub use error::GateError;
pub use evidence::SharedEvidence;
pub use gate::{
    Evidence, GateOptions, Runnable, Selection, Subjects, collect_evidence, gate_image, judge, resolve_subjects,
};
pub use history::history;
pub use packages::{image_inventory, package_diff};
pub use preflight::{Preflight, preflight};
pub use progress::{Progress, SilentProgress};
pub use project::{Project, detect_project};
pub use promote::{promote, rollback};
pub use prune::{PruneReport, prune};
pub use report::{test_entry, up_to_date};
pub use results_dir::read_results_dir;
pub use shard::{SHARD_SCHEMA, Shard, ShardRecord, judge_shards, run_shard, slice};
pub use suite::LABEL_RUN;
pub use suite::{ImageFolders, SuiteRun, run_suite};

use std::path::PathBuf;

use imagegate_config::Config;
use imagegate_engine::Engine;
use imagegate_store::Store;

/// Everything a command works with, resolved once before any work starts.
pub struct Context<'a> {
    pub config: &'a Config,
    pub engine: &'a dyn Engine,
    pub store: &'a Store,
    pub progress: &'a dyn Progress,
    /// Where run artefacts (logs, copied-out results) go.
    pub state_dir: PathBuf,
    /// Where candidates, stable pointers and records live. With a shared home (a registry),
    /// `store` is a cache of its records.
    pub backend: &'a dyn Backend,
    /// Make every suite run again rather than reuse a stored run (`gate --fresh`).
    pub fresh: bool,
    /// What images hold in the folders runs copy out, asked of the engine once per image: one
    /// value per process.
    pub image_folders: &'a ImageFolders,
}

impl Context<'_> {
    pub fn engine_name(&self) -> &'static str {
        self.engine.kind().as_str()
    }
}

/// What the engine runs for image `digest` of the context's backend (pulled first when needed).
pub fn runnable(
    context: &Context<'_>,
    image: &imagegate_config::ImageConfig,
    digest: &str,
) -> Result<String, GateError> {
    context.backend.runnable(context, image, digest)
}

pub(crate) use imagegate_contract::short_digest as short;
