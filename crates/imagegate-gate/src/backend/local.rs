//! The local home: candidates and the stable tag in the engine, records in the embedded SQLite
//! store, and a machine-wide lock on the engine's tag around every pointer move
//! (`tag_lock.rs`).
//!
//! The lock makes a pointer's check and write one step for every imagegate on the machine that
//! drives the same engine, whatever its state folder; against writers outside imagegate the
//! window is the few milliseconds between the read and the engine's `tag`, which the read-back
//! after the move catches.

use imagegate_config::ImageConfig;
use imagegate_contract::GateReport;
use imagegate_store::{NewPromotion, NewVerdict, PromotionKind, Store};

use super::{Backend, LockedWork, PointerLock, PointerMove, StablePointer};
use crate::candidate::{LABEL_IMAGE, LABEL_INPUTS, repository_of};
use crate::{Context, GateError, short};

/// Candidates, stable tags and records on this machine only.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalBackend;

/// A tag that keeps a promoted image in the engine after the stable tag moves on, so that
/// `rollback` can always return to it.
fn keep_tag(stable_tag: &str, digest: &str) -> String {
    format!("{}:promoted-{}", repository_of(stable_tag), short(digest))
}

impl Backend for LocalBackend {
    fn scope(&self, context: &Context<'_>) -> String {
        context.engine_name().to_owned()
    }

    fn location(&self) -> Option<String> {
        None
    }

    fn sync(&self, _context: &Context<'_>, _image: &ImageConfig) -> Result<(), GateError> {
        Ok(())
    }

    fn find_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
    ) -> Result<Option<String>, GateError> {
        for build in context.store.builds_for(context.engine_name(), &image.name, inputs)? {
            if context.engine.inspect_image(&build.image_id)?.is_some() {
                return Ok(Some(build.image_id));
            }
        }
        // The state folder may be new (a fresh clone) while the engine keeps images: the label
        // says which recipe an image was built from.
        let labelled = context.engine.images_with_label(LABEL_INPUTS, inputs)?;
        Ok(labelled
            .into_iter()
            .find(|info| info.labels.get(LABEL_IMAGE).is_some_and(|name| name == &image.name))
            .map(|info| info.id))
    }

    fn reuse_candidate(
        &self,
        context: &Context<'_>,
        _image: &ImageConfig,
        digest: &str,
        local_tag: &str,
    ) -> Result<String, GateError> {
        // Keep the tag on the image we test, whatever happened to tags since.
        context.engine.tag(digest, local_tag)?;
        Ok(local_tag.to_owned())
    }

    fn publish_candidate(
        &self,
        _context: &Context<'_>,
        _image: &ImageConfig,
        _inputs: &str,
        image_id: &str,
        local_tag: &str,
    ) -> Result<(String, String), GateError> {
        Ok((image_id.to_owned(), local_tag.to_owned()))
    }

    fn runnable(&self, _context: &Context<'_>, _image: &ImageConfig, digest: &str) -> Result<String, GateError> {
        Ok(digest.to_owned())
    }

    /// The tag a promotion keeps on the image (see [`keep_tag`]), which `move_to` makes.
    fn reference_of(&self, _context: &Context<'_>, image: &ImageConfig, digest: &str) -> Result<String, GateError> {
        Ok(keep_tag(&image.stable_tag, digest))
    }

    fn record_verdict(
        &self,
        context: &Context<'_>,
        _image: &ImageConfig,
        verdict: &NewVerdict<'_>,
        _report: &GateReport,
    ) -> Result<i64, GateError> {
        Ok(context.store.record_verdict(verdict)?)
    }

    fn record_move(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        movement: &PointerMove<'_>,
    ) -> Result<(), GateError> {
        record_locally(context.store, &self.scope(context), image, movement)
    }

    fn pointer(&self) -> &dyn StablePointer {
        self
    }
}

/// Records a pointer move in the local store under `scope`.
pub(crate) fn record_locally(
    store: &Store,
    scope: &str,
    image: &ImageConfig,
    movement: &PointerMove<'_>,
) -> Result<(), GateError> {
    store.record_promotion(&NewPromotion {
        scope,
        image: &image.name,
        stable_tag: &image.stable_tag,
        kind: movement.kind,
        from_digest: movement.from,
        to_digest: movement.to,
        verdict_id: movement.verdict_id,
    })?;
    Ok(())
}

/// The engine's tag is the local stable pointer.
impl StablePointer for LocalBackend {
    fn read(&self, context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
        Ok(context.engine.inspect_image(&image.stable_tag)?.map(|info| info.id))
    }

    fn reference(&self, image: &ImageConfig) -> Result<String, GateError> {
        Ok(image.stable_tag.clone())
    }

    fn inputs(&self, context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
        Ok(context.engine.inspect_image(&image.stable_tag)?.and_then(|info| info.labels.get(LABEL_INPUTS).cloned()))
    }

    fn exclusive(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        still_wanted: &dyn Fn() -> Result<(), GateError>,
        work: &mut LockedWork<'_>,
    ) -> Result<imagegate_contract::PromotionReport, GateError> {
        // Not the store's write lock: the intent of a move must be committed before the tag
        // moves (see `promote.rs`), and other state folders share the engine's tags.
        let engine = context.engine.identity()?;
        let waiting = |path: &std::path::Path| {
            context.progress.note(
                &image.name,
                &format!("waiting for another imagegate moving `{}` (lock `{}`)", image.stable_tag, path.display()),
            );
        };
        let _lock = super::tag_lock::acquire(&engine, &image.stable_tag, still_wanted, &waiting)?;
        work(&EngineTagLock { context, image })
    }
}

struct EngineTagLock<'c, 'a> {
    context: &'c Context<'a>,
    image: &'c ImageConfig,
}

impl PointerLock for EngineTagLock<'_, '_> {
    fn current(&self) -> Result<Option<String>, GateError> {
        LocalBackend.read(self.context, self.image)
    }

    fn check_restorable(&self, _current: &str, target: Option<&str>) -> Result<(), GateError> {
        let Some(previous) = target else {
            // Before the first promotion there was no stable image: the tag goes away.
            return Ok(());
        };
        if self.context.engine.inspect_image(previous)?.is_none() {
            return Err(GateError::Usage {
                message: format!(
                    "the previous stable image {} is no longer in the {} engine",
                    short(previous),
                    self.context.engine_name()
                ),
                hint: format!(
                    "it was kept as `{}`; restore it from a backup or registry",
                    keep_tag(&self.image.stable_tag, previous)
                ),
            });
        }
        Ok(())
    }

    fn move_to(&self, _kind: PromotionKind, from: Option<&str>, to: Option<&str>) -> Result<(), GateError> {
        let (engine, stable_tag) = (self.context.engine, &self.image.stable_tag);
        // Both ends keep a tag of their own, so that the engine never drops an image a rollback
        // may return to.
        for digest in [from, to].into_iter().flatten() {
            engine.tag(digest, &keep_tag(stable_tag, digest))?;
        }
        match to {
            Some(digest) => engine.tag(digest, stable_tag)?,
            None => engine.untag(stable_tag)?,
        }
        Ok(())
    }
}
