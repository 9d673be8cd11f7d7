//! The stable pointer as a lockfile in git (`[store] lockfile`): a backend that wraps the home
//! of the images (local or registry) and hands out a pointer whose truth is the lockfile on the
//! remote branch's tip.
//!
//! The tip is fetched once per run, on the first read, and kept: the gate's incumbent and the
//! promotion's expected entry are the same reading, and git's refused non-fast-forward push is
//! the compare-and-swap (`GitLockfile::move_pointer` fetches again and checks the expected
//! entry before each push). No lock is taken beyond that.
//!
//! After a push, the inner home's stable pointer (the engine or registry tag) is moved too, as
//! a convenience copy for people and tools that pull the tag; the lockfile stays the truth, so
//! a copy that fails is a warning, not a failed promotion.

use std::sync::Mutex;

use imagegate_config::ImageConfig;
use imagegate_contract::{GateReport, PromotionReport, PromotionStatus};
use imagegate_lockfile::{Entry, ErrorKind, GitLockfile, LockfileError, Tip};
use imagegate_store::{NewVerdict, PromotionKind};

use super::{Backend, KeptMove, LockedWork, PointerLock, PointerMove, Prunable, StablePointer};
use crate::{Context, GateError, short};

/// How many of the lockfile's commits `previous` looks through for the move to undo.
const HISTORY_DEPTH: usize = 200;

/// A home of images whose stable pointers live in a lockfile in git.
pub struct LockfileBackend {
    inner: Box<dyn Backend>,
    lockfile: GitLockfile,
    /// The remote tip as fetched at the first read of this run, kept up to date with this run's
    /// own moves.
    tip: Mutex<Option<Tip>>,
    /// Images whose pointer this run moved: their reference for later jobs is the new entry,
    /// not the one the checked-out commit pins.
    moved: Mutex<Vec<String>>,
    /// This run only reads the lockfile (code from a fork): nothing is pushed.
    read_only: bool,
}

impl LockfileBackend {
    /// Keeps candidates and records in `inner`, and the stable pointers in `lockfile`;
    /// `read_only`: this run may only read it (code from a fork), whatever `inner` allows.
    pub fn new(inner: Box<dyn Backend>, lockfile: GitLockfile, read_only: bool) -> LockfileBackend {
        LockfileBackend { inner, lockfile, tip: Mutex::new(None), moved: Mutex::new(Vec::new()), read_only }
    }

    /// The remote tip, fetched on the first call of the run.
    fn tip(&self) -> Result<Tip, GateError> {
        let mut tip = self.tip.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tip) = tip.as_ref() {
            return Ok(tip.clone());
        }
        let fetched = self.lockfile.read_remote()?;
        *tip = Some(fetched.clone());
        Ok(fetched)
    }

    fn entry(&self, image: &ImageConfig) -> Result<Option<Entry>, GateError> {
        Ok(self.tip()?.entry(&image.name))
    }

    /// Where the lockfile is, as messages name it.
    fn location_text(&self, tip: Option<&Tip>) -> String {
        match tip {
            Some(tip) => format!("{} on {}/{}", self.lockfile.path(), tip.remote, tip.branch),
            None => self.lockfile.path().to_owned(),
        }
    }

    /// A lost compare-and-swap is the gate's own `PointerMoved` (exit 4, reported as a lost
    /// promotion); everything else keeps the lockfile's message and kind.
    fn map_error(&self, image: &ImageConfig, error: LockfileError) -> GateError {
        if error.kind() == ErrorKind::PointerMoved
            && let LockfileError::PointerMoved { lockfile, expected, found, .. } = &error
        {
            return GateError::PointerMoved {
                stable_tag: format!("{} in {}", image.stable_tag, lockfile.replace('`', "")),
                expected: expected.as_deref().map_or_else(|| "absent".to_owned(), |digest| short(digest).to_owned()),
                found: found.as_deref().map_or_else(|| "absent".to_owned(), |digest| short(digest).to_owned()),
            };
        }
        GateError::Lockfile(error)
    }

    /// Moves the inner home's stable pointer to `to` after the lockfile moved: a copy of the
    /// truth for those who pull the tag. Its failure is reported, and changes nothing pushed.
    fn copy_to_inner(&self, context: &Context<'_>, image: &ImageConfig, kind: PromotionKind, to: &str) {
        let no_wait_check = || Ok(());
        let copied = self.inner.pointer().exclusive(context, image, &no_wait_check, &mut |lock| {
            let current = lock.current()?;
            if current.as_deref() != Some(to) {
                lock.move_to(kind, current.as_deref(), Some(to))?;
            }
            Ok(PromotionReport {
                status: PromotionStatus::Promoted,
                message: String::new(),
                from: current,
                to: Some(to.to_owned()),
            })
        });
        if let Err(error) = copied {
            context.progress.note(
                &image.name,
                &format!(
                    "warning: the lockfile names {} but `{}` was not moved with it: {}",
                    short(to),
                    image.stable_tag,
                    error.to_string().lines().next().unwrap_or_default()
                ),
            );
        }
    }
}

impl Backend for LockfileBackend {
    fn scope(&self, context: &Context<'_>) -> String {
        self.inner.scope(context)
    }

    fn location(&self) -> Option<String> {
        self.inner.location()
    }

    fn read_only(&self) -> bool {
        self.read_only || self.inner.read_only()
    }

    fn sync(&self, context: &Context<'_>, image: &ImageConfig) -> Result<(), GateError> {
        self.inner.sync(context, image)
    }

    fn find_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
    ) -> Result<Option<String>, GateError> {
        self.inner.find_candidate(context, image, inputs)
    }

    fn reuse_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        digest: &str,
        local_tag: &str,
    ) -> Result<String, GateError> {
        self.inner.reuse_candidate(context, image, digest, local_tag)
    }

    fn publish_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
        image_id: &str,
        local_tag: &str,
    ) -> Result<(String, String), GateError> {
        self.inner.publish_candidate(context, image, inputs, image_id, local_tag)
    }

    fn runnable(&self, context: &Context<'_>, image: &ImageConfig, digest: &str) -> Result<String, GateError> {
        self.inner.runnable(context, image, digest)
    }

    fn reference_of(&self, context: &Context<'_>, image: &ImageConfig, digest: &str) -> Result<String, GateError> {
        self.inner.reference_of(context, image, digest)
    }

    fn record_verdict(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        verdict: &NewVerdict<'_>,
        report: &GateReport,
    ) -> Result<i64, GateError> {
        self.inner.record_verdict(context, image, verdict, report)
    }

    fn record_move(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        movement: &PointerMove<'_>,
    ) -> Result<(), GateError> {
        self.inner.record_move(context, image, movement)
    }

    fn pointer(&self) -> &dyn StablePointer {
        self
    }

    fn prunable(&self) -> Option<&dyn Prunable> {
        self.inner.prunable()
    }

    fn shared_evidence(&self) -> Option<&dyn crate::SharedEvidence> {
        self.inner.shared_evidence()
    }

    fn publish_experiment(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        local: &str,
        key: &str,
    ) -> Result<Option<String>, GateError> {
        if self.read_only {
            return Ok(None);
        }
        self.inner.publish_experiment(context, image, local, key)
    }
}

impl StablePointer for LockfileBackend {
    fn read(&self, _context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
        Ok(self.entry(image)?.map(|entry| entry.digest))
    }

    /// The reference the remote tip's lockfile names; the inner tag while it names nothing.
    fn reference(&self, image: &ImageConfig) -> Result<String, GateError> {
        match self.entry(image)? {
            Some(entry) => Ok(entry.reference),
            None => self.inner.pointer().reference(image),
        }
    }

    fn inputs(&self, context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
        let Some(digest) = self.read(context, image)? else { return Ok(None) };
        // The convenience copy usually names the same image, and the inner home knows its
        // recipe; otherwise a local image id still carries its label.
        if self.inner.pointer().read(context, image)?.as_deref() == Some(digest.as_str()) {
            return self.inner.pointer().inputs(context, image);
        }
        Ok(context
            .engine
            .inspect_image(&digest)?
            .and_then(|info| info.labels.get(crate::candidate::LABEL_INPUTS).cloned()))
    }

    /// The checked-out commit's entry, unless this run moved the pointer: then the new one.
    fn pinned(&self, _context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
        let moved = self.moved.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&image.name);
        if moved {
            return Ok(self.entry(image)?.map(|entry| entry.reference));
        }
        let pinned = self.lockfile.pinned(&image.name).map_err(|error| self.map_error(image, error))?;
        Ok(pinned.map(|entry| entry.reference))
    }

    fn kept_moves(&self, _context: &Context<'_>, image: &ImageConfig) -> Result<Vec<KeptMove>, GateError> {
        let changes =
            self.lockfile.history(&image.name, HISTORY_DEPTH).map_err(|error| self.map_error(image, error))?;
        Ok(changes
            .into_iter()
            .map(|change| KeptMove {
                // imagegate's own rollback commits say so; any other change is a promotion.
                kind: if change.subject.starts_with("imagegate: roll back") {
                    PromotionKind::Rollback
                } else {
                    PromotionKind::Promote
                },
                id: change.commit,
                at: change.date,
                from: change.before.map(|entry| entry.digest),
                to: change.after.map(|entry| entry.digest),
            })
            .collect())
    }

    /// The promotion that put `current` there, as rollback in `promote.rs` reads the store's
    /// records: a rollback commit is passed over, so that rolling back twice goes further back
    /// rather than undoing the rollback.
    fn previous(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        current: &str,
    ) -> Result<Option<Option<String>>, GateError> {
        Ok(self
            .kept_moves(context, image)?
            .into_iter()
            .find(|kept| kept.kind == PromotionKind::Promote && kept.to.as_deref() == Some(current))
            .map(|kept| kept.from))
    }

    /// git's refused push is the compare-and-swap: the work runs at once, and each move checks
    /// the expected entry on a freshly fetched tip.
    fn exclusive(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        _still_wanted: &dyn Fn() -> Result<(), GateError>,
        work: &mut LockedWork<'_>,
    ) -> Result<PromotionReport, GateError> {
        work(&LockfileLock { backend: self, context, image })
    }
}

struct LockfileLock<'c, 'a> {
    backend: &'c LockfileBackend,
    context: &'c Context<'a>,
    image: &'c ImageConfig,
}

impl PointerLock for LockfileLock<'_, '_> {
    fn current(&self) -> Result<Option<String>, GateError> {
        self.backend.read(self.context, self.image)
    }

    fn check_restorable(&self, current: &str, target: Option<&str>) -> Result<(), GateError> {
        if target.is_none() {
            let tip = self.backend.tip().ok();
            return Err(GateError::Usage {
                message: format!(
                    "{} was the first stable image of `{}` in lockfile {}: rolling back would remove its entry, which imagegate does not do",
                    short(current),
                    self.image.name,
                    self.backend.location_text(tip.as_ref())
                ),
                hint: format!(
                    "gate and promote another candidate, or remove `[images.{}]` from the lockfile in a commit of your own",
                    self.image.name
                ),
            });
        }
        Ok(())
    }

    fn move_to(&self, kind: PromotionKind, from: Option<&str>, to: Option<&str>) -> Result<(), GateError> {
        let backend = self.backend;
        let Some(to) = to else {
            return self.check_restorable(from.unwrap_or_default(), None);
        };
        if backend.read_only() {
            return Err(GateError::Refused {
                message: "the lockfile is only read in this run (code from a fork)".to_owned(),
                hint: "promote from a trusted run of the project's own branch".to_owned(),
            });
        }
        let reference = backend.inner.reference_of(self.context, self.image, to)?;
        let entry = Entry::new(to, reference);
        let action = match kind {
            PromotionKind::Promote => "promote",
            PromotionKind::Rollback => "roll back",
        };
        let moved = backend
            .lockfile
            .move_pointer(&self.image.name, from, &entry, action)
            .map_err(|error| backend.map_error(self.image, error))?;
        {
            let mut tip = backend.tip.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(tip) = tip.as_mut() {
                tip.commit = moved.commit.clone();
                tip.lockfile.set(&self.image.name, &entry)?;
            }
            backend.moved.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(self.image.name.clone());
        }
        self.context.progress.note(
            &self.image.name,
            &format!(
                "lockfile {} now names {} (commit {}, {} push{})",
                backend.lockfile.path(),
                short(to),
                short(&moved.commit),
                moved.attempts,
                if moved.attempts == 1 { "" } else { "es" }
            ),
        );
        backend.copy_to_inner(self.context, self.image, kind, to);
        Ok(())
    }
}
