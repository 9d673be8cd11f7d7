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
use imagegate_registry::RegistryStore;
use imagegate_registry::records::RecordKind;
use imagegate_store::{NewPromotion, PromotionKind, Store, VerdictRecord};

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

/// A run that may only read the registry store moves no pointer in it.
fn refuse_read_only(context: &Context<'_>) -> Result<(), GateError> {
    if context.registry.is_some() && context.writable_registry().is_none() {
        return Err(GateError::Refused {
            message: "the registry store is read only in this run (code from a fork)".to_owned(),
            hint: "promote from a trusted run of the project's own branch".to_owned(),
        });
    }
    Ok(())
}

/// Promotes the candidate of the recipe as it is now, on the strength of its newest verdict.
pub fn promote(context: &Context<'_>, image: &ImageConfig) -> Result<PromotionReport, GateError> {
    crate::registry::sync_records(context, image)?;
    let inputs = imagegate_config::inputs_digest(image)?;
    let scope = crate::registry::scope(context);
    let engine = scope.as_str();
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
    refuse_read_only(context)?;
    if let Some(registry) = context.registry {
        return registry_promote(context, registry, image, verdict_id);
    }
    context.store.exclusive(|store: &Store| {
        let engine = context.engine_name();
        let Some(verdict) = store.verdict(verdict_id)? else {
            return Err(GateError::Refused {
                message: format!("verdict {verdict_id} is not in the store"),
                hint: "run `imagegate gate` again".to_owned(),
            });
        };
        check_verdict(store, engine, image, &verdict)?;
        let candidate = verdict.candidate.clone();
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
            return Err(pointer_moved(image, verdict.incumbent.as_deref(), current.as_deref()));
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
    refuse_read_only(context)?;
    if let Some(registry) = context.registry {
        return registry_rollback(context, registry, image);
    }
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

/// Checks that `verdict` allows promoting its candidate: it passed, and the candidate was not
/// rolled back by hand before.
fn check_verdict(store: &Store, scope: &str, image: &ImageConfig, verdict: &VerdictRecord) -> Result<(), GateError> {
    let candidate = &verdict.candidate;
    if verdict.decision != "pass" {
        return Err(GateError::Refused {
            message: format!(
                "the newest verdict on candidate {} is `{}`, not `pass` (verdict {})",
                short(candidate),
                verdict.decision,
                verdict.id
            ),
            hint: "see `imagegate history` for what regressed; fix the project or the recipe and gate again".to_owned(),
        });
    }
    let rolled_back = store.promotions(scope, &image.name)?.into_iter().any(|record| {
        record.kind == PromotionKind::Rollback && record.from_digest.as_deref() == Some(candidate.as_str())
    });
    if rolled_back {
        return Err(GateError::Refused {
            message: format!("candidate {} was rolled back by hand and is not promoted again", short(candidate)),
            hint: "change the recipe or rebuild with `imagegate gate --refresh` to get a new candidate".to_owned(),
        });
    }
    Ok(())
}

fn pointer_moved(image: &ImageConfig, expected: Option<&str>, found: Option<&str>) -> GateError {
    GateError::PointerMoved {
        stable_tag: image.stable_tag.clone(),
        expected: expected.map_or_else(|| "absent".to_owned(), |digest| short(digest).to_owned()),
        found: found.map_or_else(|| "absent".to_owned(), |digest| short(digest).to_owned()),
    }
}

/// Moves the stable tag to `digest` while `lease` is ours (confirmed right before the write),
/// and reads it back.
fn move_under_lease(
    registry: &RegistryStore,
    lease: &imagegate_registry::lease::Lease,
    image: &ImageConfig,
    digest: &str,
) -> Result<(), GateError> {
    lease.confirm(registry.client())?;
    registry.move_stable(&image.stable_tag, digest)?;
    let found = registry.resolve_stable(&image.stable_tag)?;
    if found.as_deref() != Some(digest) {
        return Err(GateError::VerifyFailed {
            stable_tag: image.stable_tag.clone(),
            expected: digest.to_owned(),
            found: found.unwrap_or_else(|| "no image".to_owned()),
        });
    }
    Ok(())
}

/// Gives the lease up; failing that, it expires by itself, so that is only worth a warning.
fn release(
    context: &Context<'_>,
    registry: &RegistryStore,
    image: &ImageConfig,
    lease: imagegate_registry::lease::Lease,
) {
    if let Err(error) = lease.release(registry.client()) {
        context
            .progress
            .note(&image.name, &format!("warning: the lease was not released (it expires by itself): {error}"));
    }
}

/// Promotion in a registry: compare-and-swap emulated under the repository's lease.
///
/// The stable tag is read before taking the lease (a loser learns at once that it lost) and
/// again under it; the lease is confirmed right before the tag moves, and the tag is read
/// back after. The move itself is one manifest PUT, so an interrupted promotion leaves the
/// tag on the old or the new digest. The promotion record is written after the move: an
/// interruption between the two leaves a moved tag without its record, which `history` and
/// `rollback` then report as a move made outside imagegate.
fn registry_promote(
    context: &Context<'_>,
    registry: &RegistryStore,
    image: &ImageConfig,
    verdict_id: i64,
) -> Result<PromotionReport, GateError> {
    // The callers (`promote`, `gate`) imported the registry's records already.
    let scope = crate::registry::scope(context);
    let store = context.store;
    let Some(verdict) = store.verdict(verdict_id)? else {
        return Err(GateError::Refused {
            message: format!("verdict {verdict_id} is not in the store"),
            hint: "run `imagegate gate` again".to_owned(),
        });
    };
    check_verdict(store, &scope, image, &verdict)?;
    let candidate = verdict.candidate.clone();
    let up_to_date = |current: Option<String>| PromotionReport {
        status: PromotionStatus::UpToDate,
        message: format!("`{}` already names {}", image.stable_tag, short(&candidate)),
        from: current.clone(),
        to: current,
    };
    let current = registry.resolve_stable(&image.stable_tag)?;
    if current.as_deref() == Some(candidate.as_str()) {
        return Ok(up_to_date(current));
    }
    if current != verdict.incumbent {
        return Err(pointer_moved(image, verdict.incumbent.as_deref(), current.as_deref()));
    }
    context.progress.start(&image.name, &format!("taking the promotion lease of `{}`", image.stable_tag));
    let lease = registry.lease(&image.stable_tag, |state| {
        context.progress.note(&image.name, &format!("waiting for {} to finish promoting", state.holder));
        // Once the other promoter has moved the tag, this promotion has lost: no need to wait.
        let current = registry.resolve_stable(&image.stable_tag)?;
        if current != verdict.incumbent {
            return Err(pointer_moved(image, verdict.incumbent.as_deref(), current.as_deref()));
        }
        Ok(())
    })?;
    context.progress.finish(&image.name, "lease taken");
    let outcome = (|| {
        let current = registry.resolve_stable(&image.stable_tag)?;
        if current.as_deref() == Some(candidate.as_str()) {
            return Ok(up_to_date(current));
        }
        if current != verdict.incumbent {
            return Err(pointer_moved(image, verdict.incumbent.as_deref(), current.as_deref()));
        }
        if let Some(previous) = &current {
            registry.keep(&image.stable_tag, previous)?;
        }
        move_under_lease(registry, &lease, image, &candidate)?;
        let mut body = crate::registry::body(RecordKind::Promote, image);
        body.from = current.clone();
        body.to = Some(candidate.clone());
        body.verdict_record = store.record_of_verdict(verdict.id)?;
        let record = registry.write_record(&image.stable_tag, &candidate, &body)?;
        crate::registry::import(store, &scope, &record)?;
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
            to: Some(candidate.clone()),
        })
    })();
    release(context, registry, image, lease);
    outcome
}

/// Rollback in a registry: the stable tag goes back to the image the last promotion replaced,
/// under the lease, and a rollback record says so.
fn registry_rollback(
    context: &Context<'_>,
    registry: &RegistryStore,
    image: &ImageConfig,
) -> Result<PromotionReport, GateError> {
    let scope = crate::registry::scope(context);
    let store = context.store;
    crate::registry::sync_records(context, image)?;
    let lease = registry.lease(&image.stable_tag, |state| {
        context.progress.note(&image.name, &format!("waiting for {} to finish promoting", state.holder));
        Ok::<(), GateError>(())
    })?;
    let outcome = (|| {
        let Some(current) = registry.resolve_stable(&image.stable_tag)? else {
            return Err(GateError::Usage {
                message: format!("stable tag `{}` names no image; there is nothing to roll back", image.stable_tag),
                hint: "see `imagegate history` for what was promoted".to_owned(),
            });
        };
        let history = store.promotions(&scope, &image.name)?;
        let Some(promotion) = history.iter().find(|record| {
            record.kind == PromotionKind::Promote && record.to_digest.as_deref() == Some(current.as_str())
        }) else {
            return Err(GateError::Usage {
                message: format!(
                    "no recorded promotion put {} under `{}`, so there is no previous image to restore",
                    short(&current),
                    image.stable_tag
                ),
                hint: "the tag was moved outside imagegate; see `imagegate history`".to_owned(),
            });
        };
        let Some(previous) = promotion.from_digest.clone() else {
            return Err(GateError::Usage {
                message: format!(
                    "{} was the first image promoted to `{}`; before it the tag did not exist",
                    short(&current),
                    image.stable_tag
                ),
                hint: "a registry cannot remove one tag of an image; promote another candidate instead".to_owned(),
            });
        };
        move_under_lease(registry, &lease, image, &previous)?;
        let mut body = crate::registry::body(RecordKind::Rollback, image);
        body.from = Some(current.clone());
        body.to = Some(previous.clone());
        let record = registry.write_record(&image.stable_tag, &previous, &body)?;
        crate::registry::import(store, &scope, &record)?;
        Ok(PromotionReport {
            status: PromotionStatus::Promoted,
            message: format!("`{}` rolled back from {} to {}", image.stable_tag, short(&current), short(&previous)),
            from: Some(current),
            to: Some(previous),
        })
    })();
    release(context, registry, image, lease);
    outcome
}
