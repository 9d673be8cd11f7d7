//! Moving a stable pointer: promotion by compare-and-swap, and rollback.
//!
//! Architecture invariant: this is the only module that writes a stable tag. Every write
//! happens inside the store's write lock, after reading the tag's current target and checking
//! it against the stored verdict (promotion) or the stored history (rollback), and is verified
//! by reading the tag back. Within one state folder the lock makes the check and the write one
//! step; against writers outside imagegate the window is the few milliseconds between the read
//! and the `tag` call.

use imagegate_config::ImageConfig;
use imagegate_contract::{PromotionReport, PromotionStatus};
use imagegate_store::{NewPromotion, PromotionKind, Store};

use crate::candidate::{repository_of, short};
use crate::{Context, GateError};

/// A tag that keeps a promoted image in the engine after the stable tag moves on, so that
/// `rollback` can always return to it.
fn keep_tag(stable_tag: &str, digest: &str) -> String {
    format!("{}:promoted-{}", repository_of(stable_tag), short(digest))
}

fn current_target(context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
    Ok(context.engine.inspect_image(&image.stable_tag)?.map(|info| info.id))
}

fn verify(context: &Context<'_>, image: &ImageConfig, expected: Option<&str>) -> Result<(), GateError> {
    let found = current_target(context, image)?;
    if found.as_deref() != expected {
        return Err(GateError::VerifyFailed {
            stable_tag: image.stable_tag.clone(),
            expected: expected.unwrap_or("no image").to_owned(),
            found: found.unwrap_or_else(|| "no image".to_owned()),
        });
    }
    Ok(())
}

/// Promotes the candidate of the recipe as it is now, on the strength of its newest verdict.
pub fn promote(context: &Context<'_>, image: &ImageConfig) -> Result<PromotionReport, GateError> {
    let inputs = imagegate_config::inputs_digest(image)?;
    let engine = context.engine_name();
    let candidate = crate::candidate::find_existing(context, image, &inputs)?;
    let Some(candidate) = candidate else {
        return Err(GateError::Refused {
            message: format!("no candidate of the current recipe of `{}` has been built here", image.name),
            hint: "run `imagegate gate --promote`".to_owned(),
        });
    };
    let Some(verdict) = context.store.latest_verdict(engine, &image.name, &candidate)? else {
        return Err(GateError::Refused {
            message: format!("candidate {} of `{}` has no verdict", short(&candidate), image.name),
            hint: "run `imagegate gate` first; promotion needs a passing verdict".to_owned(),
        });
    };
    promote_verdict(context, image, verdict.id)
}

/// Promotes the candidate of verdict `verdict_id`, if that verdict passed and was reached
/// against the image the stable tag names now.
pub(crate) fn promote_verdict(
    context: &Context<'_>,
    image: &ImageConfig,
    verdict_id: i64,
) -> Result<PromotionReport, GateError> {
    context.store.exclusive(|store: &Store| {
        let engine = context.engine_name();
        let Some(verdict) = store.verdict(verdict_id)? else {
            return Err(GateError::Refused {
                message: format!("verdict {verdict_id} is not in the store"),
                hint: "run `imagegate gate` again".to_owned(),
            });
        };
        let candidate = verdict.candidate.clone();
        if verdict.decision != "pass" {
            return Err(GateError::Refused {
                message: format!(
                    "the newest verdict on candidate {} is `{}`, not `pass` (verdict {})",
                    short(&candidate),
                    verdict.decision,
                    verdict.id
                ),
                hint: "see `imagegate history` for what regressed; fix the project or the recipe and gate again"
                    .to_owned(),
            });
        }
        let rolled_back = store.promotions(engine, &image.name)?.into_iter().any(|record| {
            record.kind == PromotionKind::Rollback && record.from_digest.as_deref() == Some(candidate.as_str())
        });
        if rolled_back {
            return Err(GateError::Refused {
                message: format!("candidate {} was rolled back by hand and is not promoted again", short(&candidate)),
                hint: "change the recipe or rebuild with `imagegate gate --refresh` to get a new candidate".to_owned(),
            });
        }
        let current = current_target(context, image)?;
        if current.as_deref() == Some(candidate.as_str()) {
            return Ok(PromotionReport {
                status: PromotionStatus::UpToDate,
                message: format!("`{}` already names {}", image.stable_tag, short(&candidate)),
                from: current.clone(),
                to: current,
            });
        }
        if current != verdict.incumbent {
            return Err(GateError::PointerMoved {
                stable_tag: image.stable_tag.clone(),
                expected: verdict
                    .incumbent
                    .as_deref()
                    .map_or_else(|| "absent".to_owned(), |digest| short(digest).to_owned()),
                found: current.as_deref().map_or_else(|| "absent".to_owned(), |digest| short(digest).to_owned()),
            });
        }
        if let Some(previous) = &current {
            context.engine.tag(previous, &keep_tag(&image.stable_tag, previous))?;
        }
        context.engine.tag(&candidate, &keep_tag(&image.stable_tag, &candidate))?;
        context.engine.tag(&candidate, &image.stable_tag)?;
        verify(context, image, Some(&candidate))?;
        store.record_promotion(&NewPromotion {
            engine,
            image: &image.name,
            stable_tag: &image.stable_tag,
            kind: PromotionKind::Promote,
            from_digest: current.as_deref(),
            to_digest: Some(&candidate),
            verdict_id: Some(verdict.id),
        })?;
        context.progress.note(&image.name, &format!("promoted {} to `{}`", short(&candidate), image.stable_tag));
        Ok(PromotionReport {
            status: PromotionStatus::Promoted,
            message: format!(
                "`{}` moved from {} to {}",
                image.stable_tag,
                current.as_deref().map_or("nothing", short),
                short(&candidate)
            ),
            from: current,
            to: Some(candidate),
        })
    })
}

/// Points the stable tag back at the image it named before the promotion that put the current
/// image there. Refused when the tag does not name what the history says it should.
pub fn rollback(context: &Context<'_>, image: &ImageConfig) -> Result<PromotionReport, GateError> {
    context.store.exclusive(|store: &Store| {
        let engine = context.engine_name();
        let current = current_target(context, image)?;
        let Some(current_digest) = current.clone() else {
            return Err(GateError::Usage {
                message: format!("stable tag `{}` names no image; there is nothing to roll back", image.stable_tag),
                hint: "see `imagegate history` for what was promoted".to_owned(),
            });
        };
        let history = store.promotions(engine, &image.name)?;
        let Some(promotion) = history.iter().find(|record| {
            record.kind == PromotionKind::Promote && record.to_digest.as_deref() == Some(current_digest.as_str())
        }) else {
            return Err(GateError::Usage {
                message: format!(
                    "no recorded promotion put {} under `{}`, so there is no previous image to restore",
                    short(&current_digest),
                    image.stable_tag
                ),
                hint: "the tag was moved outside imagegate, or by another state folder; see `imagegate history`"
                    .to_owned(),
            });
        };
        let target = promotion.from_digest.clone();
        match &target {
            Some(previous) => {
                if context.engine.inspect_image(previous)?.is_none() {
                    return Err(GateError::Usage {
                        message: format!(
                            "the previous stable image {} is no longer in the {engine} engine",
                            short(previous)
                        ),
                        hint: format!(
                            "it was kept as `{}`; restore it from a backup or registry",
                            keep_tag(&image.stable_tag, previous)
                        ),
                    });
                }
                context.engine.tag(&current_digest, &keep_tag(&image.stable_tag, &current_digest))?;
                context.engine.tag(previous, &image.stable_tag)?;
            }
            None => {
                // The promotion being undone was the first one: before it there was no stable
                // image, so the tag goes away (the image stays under its keep tag).
                context.engine.tag(&current_digest, &keep_tag(&image.stable_tag, &current_digest))?;
                context.engine.untag(&image.stable_tag)?;
            }
        }
        verify(context, image, target.as_deref())?;
        store.record_promotion(&NewPromotion {
            engine,
            image: &image.name,
            stable_tag: &image.stable_tag,
            kind: PromotionKind::Rollback,
            from_digest: Some(&current_digest),
            to_digest: target.as_deref(),
            verdict_id: None,
        })?;
        Ok(PromotionReport {
            status: PromotionStatus::Promoted,
            message: format!(
                "`{}` rolled back from {} to {}",
                image.stable_tag,
                short(&current_digest),
                target.as_deref().map_or("no image (before the first promotion)", short)
            ),
            from: Some(current_digest),
            to: target,
        })
    })
}
