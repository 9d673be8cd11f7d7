//! Where an image's candidates, stable pointer and records live: one interface, chosen once (by
//! `runtime.rs` of the CLI), so the workflow never asks which home it has.
//!
//! The interface is split in two, along what varies independently:
//! - [`Backend`]: where candidates are found, published and made runnable, and where verdicts and
//!   pointer moves are recorded (the local engine and SQLite store, or a registry store whose
//!   records the local store caches);
//! - [`StablePointer`]: where the stable pointer is read and moved, under that home's lock. It is
//!   its own trait because the pointer may live somewhere else than the images: an engine tag, a
//!   registry tag, or a file in git whose refused non-fast-forward push is a true compare-and-swap.
//!   A backend hands out its pointer ([`Backend::pointer`]); a pointer kept elsewhere is a
//!   backend that wraps another and hands out a different pointer.
//!
//! What stays out of both: the decisions. Which verdict allows a move, what the pointer must name
//! before it, and what a rollback returns to are decided once, in `promote.rs`, the only module
//! that calls [`PointerLock::move_to`]. Backends only say *how* to read, lock, move and record.

mod local;
mod lockfile;
mod registry;
mod tag_lock;

pub use local::LocalBackend;
pub use lockfile::LockfileBackend;
pub use registry::{RegistryBackend, transfer_with_retries};
pub use tag_lock::{LOCK_DIR_VARIABLE, lock_dir};

use imagegate_config::ImageConfig;
use imagegate_contract::{GateReport, PromotionReport};
use imagegate_registry::PruneEntry;
use imagegate_store::{NewVerdict, PromotionKind};

use crate::{Context, GateError};

/// The home of an image's candidates and records. Methods take the run's [`Context`] for the
/// engine, the local store and progress, which every home uses.
pub trait Backend {
    /// The key the local store files this home's verdicts and pointer moves under: the engine
    /// for the local home; the registry's location for a registry store (whose records every
    /// engine and machine shares).
    fn scope(&self, context: &Context<'_>) -> String;

    /// Where a shared store is, as reports name it; `None` for the local home.
    fn location(&self) -> Option<String>;

    /// Whether this run may only read this home (code from a fork): candidates built here stay
    /// in the engine, verdicts stay in the local store, and no pointer moves.
    fn read_only(&self) -> bool {
        false
    }

    /// Brings the local store up to date with the home's records, before anything reads them.
    fn sync(&self, context: &Context<'_>, image: &ImageConfig) -> Result<(), GateError>;

    /// Settles a pointer move that a process killed on another machine left half done, when
    /// the home keeps such intents itself (a registry's lease); called right after
    /// [`Backend::sync`]. Nothing by default: the local store's intents are settled by
    /// `promote.rs`.
    fn settle_shared(&self, _context: &Context<'_>, _image: &ImageConfig) -> Result<(), GateError> {
        Ok(())
    }

    /// The newest existing candidate built from the recipe with inputs digest `inputs`, by the
    /// digest this home names images by (an image id locally, a manifest digest in a registry).
    fn find_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
    ) -> Result<Option<String>, GateError>;

    /// The reference a reused candidate `digest` is handed on by; it may tag it first.
    fn reuse_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        digest: &str,
        local_tag: &str,
    ) -> Result<String, GateError>;

    /// Publishes a candidate just built here (image id `image_id`, tagged `local_tag`). Returns
    /// its digest in this home and the reference it is handed on by.
    fn publish_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
        image_id: &str,
        local_tag: &str,
    ) -> Result<(String, String), GateError>;

    /// What the engine runs for image `digest` of this home (pulling it first when needed).
    fn runnable(&self, context: &Context<'_>, image: &ImageConfig, digest: &str) -> Result<String, GateError>;

    /// The reference that names image `digest` of this home for as long as it is kept, as a
    /// pointer kept elsewhere (a lockfile) pins it for later jobs. By default the digest itself.
    fn reference_of(&self, _context: &Context<'_>, _image: &ImageConfig, digest: &str) -> Result<String, GateError> {
        Ok(digest.to_owned())
    }

    /// Records a verdict (with its whole report); returns its row id in the local store.
    fn record_verdict(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        verdict: &NewVerdict<'_>,
        report: &GateReport,
    ) -> Result<i64, GateError>;

    /// Records a pointer move. Called by `promote.rs` under the pointer's lock, right after the
    /// move was read back.
    fn record_move(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        movement: &PointerMove<'_>,
    ) -> Result<(), GateError>;

    /// Where this home's stable pointers live.
    fn pointer(&self) -> &dyn StablePointer;

    /// Publishes a kept experiment image of the culprit proof (the engine's `local` image)
    /// where the other machines of this store can pull it, under a tag of its own named by
    /// `key` (never a stable or candidate tag), and returns that reference. `None` for a store
    /// other machines do not share, and for a run that may not write (code from a fork).
    fn publish_experiment(
        &self,
        _context: &Context<'_>,
        _image: &ImageConfig,
        _local: &str,
        _key: &str,
    ) -> Result<Option<String>, GateError> {
        Ok(None)
    }

    /// Where this home keeps suite runs for other machines to reuse (`evidence.rs`); `None`
    /// for a home only this machine uses (the local store keeps them anyway).
    fn shared_evidence(&self) -> Option<&dyn crate::SharedEvidence> {
        None
    }

    /// The candidates `prune` may remove, when this home keeps them apart from the engine.
    fn prunable(&self) -> Option<&dyn Prunable> {
        None
    }
}

/// One move of a stable pointer, as it is recorded.
#[derive(Debug, Clone, Copy)]
pub struct PointerMove<'a> {
    pub kind: PromotionKind,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    /// The verdict that allowed a promotion; `None` for a rollback.
    pub verdict_id: Option<i64>,
}

/// A pointer move as the pointer's own home keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptMove {
    pub kind: PromotionKind,
    /// The commit (or other id) the home knows the move by.
    pub id: String,
    pub at: jiff::Timestamp,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The work done under a pointer's lock.
pub type LockedWork<'w> = dyn FnMut(&dyn PointerLock) -> Result<PromotionReport, GateError> + 'w;

/// Where an image's stable pointer lives, and how it is locked for a compare-and-swap.
pub trait StablePointer {
    /// The digest the pointer names now, in its home's terms; `None` when it names nothing.
    fn read(&self, context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError>;

    /// The pointer as a person or a later CI job pulls it.
    fn reference(&self, image: &ImageConfig) -> Result<String, GateError>;

    /// The inputs digest of the recipe of the image the pointer names, when it says.
    fn inputs(&self, context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError>;

    /// The reference the checked-out commit pins for its own later jobs, when the pointer lives
    /// in the repository (a lockfile); `None` for pointers kept outside it.
    fn pinned(&self, _context: &Context<'_>, _image: &ImageConfig) -> Result<Option<String>, GateError> {
        Ok(None)
    }

    /// The pointer's moves as its own home keeps them (a lockfile's commits), newest first; empty
    /// for homes whose moves only the store records.
    fn kept_moves(&self, _context: &Context<'_>, _image: &ImageConfig) -> Result<Vec<KeptMove>, GateError> {
        Ok(Vec::new())
    }

    /// What the pointer named before the move that made it name `current`, when the pointer's
    /// home keeps its own history (a lockfile's commits): `Some(None)` when that move was the
    /// first, `None` when this home keeps no history and the local store's record decides.
    fn previous(
        &self,
        _context: &Context<'_>,
        _image: &ImageConfig,
        _current: &str,
    ) -> Result<Option<Option<String>>, GateError> {
        Ok(None)
    }

    /// Runs `work` holding the pointer's lock: no other imagegate moves it meanwhile. While
    /// waiting for the lock, `still_wanted` is asked whether waiting still makes sense (its error
    /// ends the wait).
    fn exclusive(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        still_wanted: &dyn Fn() -> Result<(), GateError>,
        work: &mut LockedWork<'_>,
    ) -> Result<PromotionReport, GateError>;
}

/// A held pointer lock: what `promote.rs` reads and moves under it.
pub trait PointerLock {
    /// The digest the pointer names now, read under the lock.
    fn current(&self) -> Result<Option<String>, GateError>;

    /// Refuses, before anything moves, a rollback from `current` to `target` this home cannot
    /// make (the previous image is gone, or the pointer cannot be removed).
    fn check_restorable(&self, current: &str, target: Option<&str>) -> Result<(), GateError>;

    /// Announces the move about to be made where the pointer's home keeps it for others (a
    /// registry's lease), so that a holder killed mid-move is settled on any machine. Called
    /// right before [`PointerLock::move_to`], after the local intent is stored.
    fn intend(&self, _movement: &PointerMove<'_>) -> Result<(), GateError> {
        Ok(())
    }

    /// Moves the pointer from `from` to `to` (`None`: removes it), keeping what rollback may
    /// need. The caller reads it back with [`PointerLock::current`].
    fn move_to(&self, kind: PromotionKind, from: Option<&str>, to: Option<&str>) -> Result<(), GateError>;
}

/// Candidates kept apart from the engine, which `prune` removes.
pub trait Prunable {
    /// Where they are, as the prune report names it.
    fn location(&self) -> String;

    /// The image's candidates and whether each goes (see `RegistryStore::prune_plan`).
    fn prune_plan(
        &self,
        image: &ImageConfig,
        cutoff: jiff::Timestamp,
        protected: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<PruneEntry>, GateError>;

    fn delete_candidate(&self, image: &ImageConfig, digest: &str) -> Result<(), GateError>;

    /// Removes (unless `dry_run`) the image's stored suite runs recorded before `cutoff`, when
    /// this home keeps them; returns how many there were.
    fn prune_evidence(
        &self,
        _image: &ImageConfig,
        _cutoff: jiff::Timestamp,
        _dry_run: bool,
    ) -> Result<usize, GateError> {
        Ok(0)
    }
}
