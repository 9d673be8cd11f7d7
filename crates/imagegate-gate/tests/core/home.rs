//! An in-memory home for the gate's tests: the stable pointer and its history kept in memory,
//! apart from the images (which stay in the in-memory engine), behind the same [`Backend`] the
//! local and registry stores implement.
//!
//! That the pointer does not live where the images do is the point: `promote.rs` must move it
//! through the interface alone. Tests can also make another writer move the pointer right
//! after the lock is taken (a compare-and-swap that must be refused), make a move not read back
//! (a broken home), and open the home read only (a fork's run).

use std::collections::BTreeMap;
use std::sync::Mutex;

use imagegate_config::ImageConfig;
use imagegate_contract::{GateReport, PromotionReport};
use imagegate_gate::{Backend, Context, GateError, LocalBackend, LockedWork, PointerLock, PointerMove, StablePointer};
use imagegate_store::{NewVerdict, PromotionKind};

/// The key the local store files this home's records under.
const SCOPE: &str = "memory";

/// A pointer move as the home recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub kind: PromotionKind,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Default)]
struct State {
    /// Stable pointers by stable tag.
    pointers: BTreeMap<String, String>,
    moves: Vec<Move>,
    /// Another writer's move, made as soon as the next lock is taken.
    intruder: Option<String>,
    /// Moves are accepted but not kept.
    lose_writes: bool,
}

pub struct MemoryHome {
    read_only: bool,
    state: Mutex<State>,
    /// The pointer's lock; the state's mutex only guards single reads and writes.
    lock: Mutex<()>,
}

impl MemoryHome {
    pub fn new(read_only: bool) -> MemoryHome {
        MemoryHome { read_only, state: Mutex::default(), lock: Mutex::new(()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the pointer of `stable_tag` names.
    pub fn pointer_of(&self, stable_tag: &str) -> Option<String> {
        self.state().pointers.get(stable_tag).cloned()
    }

    /// Every move recorded, oldest first.
    pub fn moves(&self) -> Vec<Move> {
        self.state().moves.clone()
    }

    /// Makes another writer move the pointer of `stable_tag` to `digest` once the next lock is
    /// taken, between this promoter's read and its write.
    pub fn move_under_the_next_lock(&self, digest: &str) {
        self.state().intruder = Some(digest.to_owned());
    }

    /// Makes every move vanish, as a home that does not keep writes.
    pub fn lose_writes(&self) {
        self.state().lose_writes = true;
    }
}

impl Backend for MemoryHome {
    fn scope(&self, _context: &Context<'_>) -> String {
        SCOPE.to_owned()
    }

    fn location(&self) -> Option<String> {
        Some("memory".to_owned())
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn sync(&self, _context: &Context<'_>, _image: &ImageConfig) -> Result<(), GateError> {
        Ok(())
    }

    // Candidates live in the engine, as in the local home.
    fn find_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
    ) -> Result<Option<String>, GateError> {
        LocalBackend.find_candidate(context, image, inputs)
    }

    fn reuse_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        digest: &str,
        local_tag: &str,
    ) -> Result<String, GateError> {
        LocalBackend.reuse_candidate(context, image, digest, local_tag)
    }

    fn publish_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
        image_id: &str,
        local_tag: &str,
    ) -> Result<(String, String), GateError> {
        LocalBackend.publish_candidate(context, image, inputs, image_id, local_tag)
    }

    fn runnable(&self, _context: &Context<'_>, _image: &ImageConfig, digest: &str) -> Result<String, GateError> {
        Ok(digest.to_owned())
    }

    fn record_verdict(
        &self,
        context: &Context<'_>,
        _image: &ImageConfig,
        verdict: &NewVerdict<'_>,
        _report: &GateReport,
    ) -> Result<i64, GateError> {
        // A read-only run's verdict is filed under the engine, where no promotion looks.
        let scope = if self.read_only { verdict.scope } else { SCOPE };
        Ok(context.store.record_verdict(&NewVerdict { scope, ..verdict.clone() })?)
    }

    fn record_move(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        movement: &PointerMove<'_>,
    ) -> Result<(), GateError> {
        assert!(!self.read_only, "a read-only home was asked to record a move");
        context.store.record_promotion(&imagegate_store::NewPromotion {
            scope: SCOPE,
            image: &image.name,
            stable_tag: &image.stable_tag,
            kind: movement.kind,
            from_digest: movement.from,
            to_digest: movement.to,
            verdict_id: movement.verdict_id,
        })?;
        self.state().moves.push(Move {
            kind: movement.kind,
            from: movement.from.map(str::to_owned),
            to: movement.to.map(str::to_owned),
        });
        Ok(())
    }

    fn pointer(&self) -> &dyn StablePointer {
        self
    }
}

impl StablePointer for MemoryHome {
    fn read(&self, _context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
        Ok(self.pointer_of(&image.stable_tag))
    }

    fn reference(&self, image: &ImageConfig) -> Result<String, GateError> {
        Ok(format!("memory/{}", image.stable_tag))
    }

    fn inputs(&self, _context: &Context<'_>, _image: &ImageConfig) -> Result<Option<String>, GateError> {
        Ok(None)
    }

    fn exclusive(
        &self,
        _context: &Context<'_>,
        image: &ImageConfig,
        _still_wanted: &dyn Fn() -> Result<(), GateError>,
        work: &mut LockedWork<'_>,
    ) -> Result<PromotionReport, GateError> {
        assert!(!self.read_only, "a read-only home was asked for its pointer's lock");
        let _held = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let intruder = self.state().intruder.take();
        if let Some(digest) = intruder {
            self.state().pointers.insert(image.stable_tag.clone(), digest);
        }
        work(&HeldPointer { home: self, stable_tag: &image.stable_tag })
    }
}

struct HeldPointer<'h> {
    home: &'h MemoryHome,
    stable_tag: &'h str,
}

impl PointerLock for HeldPointer<'_> {
    fn current(&self) -> Result<Option<String>, GateError> {
        Ok(self.home.pointer_of(self.stable_tag))
    }

    fn check_restorable(&self, _current: &str, _target: Option<&str>) -> Result<(), GateError> {
        Ok(())
    }

    fn move_to(&self, _kind: PromotionKind, _from: Option<&str>, to: Option<&str>) -> Result<(), GateError> {
        let mut state = self.home.state();
        if state.lose_writes {
            return Ok(());
        }
        match to {
            Some(digest) => state.pointers.insert(self.stable_tag.to_owned(), digest.to_owned()),
            None => state.pointers.remove(self.stable_tag),
        };
        Ok(())
    }
}
