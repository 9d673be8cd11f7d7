//! Moving a stable pointer: promotion by compare-and-swap, and rollback — one algorithm each,
//! whatever home the pointer has (`backend.rs`).
//!
//! Architecture invariant: this is the only module that moves a stable pointer. Every move
//! happens under the pointer's lock (a machine-wide lock on the engine's tag locally, the
//! repository's lease in a registry), after reading the pointer's current target and checking
//! it against the stored verdict (promotion) or the stored history (rollback), and is verified
//! by reading the pointer back.
//!
//! Every move is two-phase ([`move_recorded`]): its intent is stored in the local store before
//! the pointer moves, and settled after the move was read back and recorded. A process killed at
//! any instant leaves either nothing, or a pending intent, which the next command settles
//! against the pointer ([`settle_interrupted`], run by [`sync`] before anything reads history):
//! completed (and recorded) when the pointer names the intent's target, abandoned otherwise. So
//! history never lacks a move the pointer shows, and `rollback` always finds the promotion that
//! put the current image there.

use imagegate_config::ImageConfig;
use imagegate_contract::{Decision, PromotionReport, PromotionStatus};
use imagegate_engine::{Liveness, Owner};
use imagegate_store::{MoveIntent, NewPromotion, PromotionKind, Store, VerdictRecord};

use crate::backend::{PointerLock, PointerMove};
use crate::{Context, GateError, short};

/// Brings the local store up to date with the backend's records, then settles the pointer moves
/// of killed processes. Every command calls it before it reads history.
pub(crate) fn sync(context: &Context<'_>, image: &ImageConfig) -> Result<(), GateError> {
    context.backend.sync(context, image)?;
    settle_interrupted(context, image)?;
    context.backend.settle_shared(context, image)
}

/// Settles the pending move intents of `image` whose process is gone: the move is completed
/// (recorded, if it was not yet) when the pointer names its target, abandoned otherwise. An
/// intent of a live process is its own to settle: it is mid-move.
pub(crate) fn settle_interrupted(context: &Context<'_>, image: &ImageConfig) -> Result<(), GateError> {
    let scope = context.backend.scope(context);
    let orphans: Vec<MoveIntent> = context
        .store
        .pending_moves(&scope, &image.name)?
        .into_iter()
        .filter(|intent| Owner::parse(&intent.owner).is_none_or(|owner| owner.liveness() == Liveness::Dead))
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    // The killed process may have written its record to a shared store before it died: import
    // it first, so that completing the move never records it twice.
    context.backend.sync(context, image)?;
    let current = context.backend.pointer().read(context, image)?;
    for intent in orphans {
        settle(context, image, &intent, current.as_deref())?;
    }
    Ok(())
}

pub(crate) fn settle(
    context: &Context<'_>,
    image: &ImageConfig,
    intent: &MoveIntent,
    current: Option<&str>,
) -> Result<(), GateError> {
    let what = match intent.kind {
        PromotionKind::Promote => "promotion",
        PromotionKind::Rollback => "rollback",
    };
    let ends = format!(
        "{} from {} to {}",
        what,
        intent.from_digest.as_deref().map_or("nothing", short),
        intent.to_digest.as_deref().map_or("nothing", short)
    );
    if current == intent.to_digest.as_deref() {
        if context.store.recorded_move_of(intent.id)?.is_none() {
            context.backend.record_move(
                context,
                image,
                &PointerMove {
                    kind: intent.kind,
                    from: intent.from_digest.as_deref(),
                    to: intent.to_digest.as_deref(),
                    verdict_id: intent.verdict_id,
                },
            )?;
        }
        context.store.complete_move(intent.id)?;
        context.progress.note(
            &image.name,
            &format!(
                "recorded the {ends} of `{}`: the process that made it (started {}) stopped before recording it",
                image.stable_tag, intent.created_at
            ),
        );
    } else {
        context.store.abandon_move(intent.id)?;
        context.progress.note(
            &image.name,
            &format!(
                "abandoned the interrupted {ends} of `{}` (started {}): the tag names {}",
                image.stable_tag,
                intent.created_at,
                current.map_or("no image", short)
            ),
        );
    }
    Ok(())
}

/// Moves the pointer under `lock` from `movement.from` to `movement.to` in two phases: the
/// intent first (committed), then the move, its read-back and its record, then the intent is
/// settled. A move that does not read back is abandoned and reported as a failure: another
/// writer's image is never recorded as ours.
fn move_recorded(
    context: &Context<'_>,
    image: &ImageConfig,
    lock: &dyn PointerLock,
    movement: &PointerMove<'_>,
) -> Result<(), GateError> {
    let scope = context.backend.scope(context);
    let intent = context.store.begin_move(
        &NewPromotion {
            scope: &scope,
            image: &image.name,
            stable_tag: &image.stable_tag,
            kind: movement.kind,
            from_digest: movement.from,
            to_digest: movement.to,
            verdict_id: movement.verdict_id,
        },
        &Owner::current().label(),
    )?;
    crate::failpoint!("move.intent");
    let moved = lock.intend(movement).and_then(|()| {
        lock.move_to(movement.kind, movement.from, movement.to).and_then(|()| {
            crate::failpoint!("move.moved");
            verify(lock, image, movement.to)
        })
    });
    if let Err(error) = moved {
        // Settled now if the pointer says how it ended; left pending (for the next command)
        // when even reading it fails.
        if let Ok(current) = lock.current()
            && let Some(pending) = context.store.pending_moves(&scope, &image.name)?.iter().find(|i| i.id == intent)
        {
            let _ = settle(context, image, pending, current.as_deref());
        }
        return Err(error);
    }
    crate::failpoint!("move.verified");
    context.backend.record_move(context, image, movement)?;
    crate::failpoint!("move.recorded");
    context.store.complete_move(intent)?;
    Ok(())
}

fn verify(lock: &dyn PointerLock, image: &ImageConfig, expected: Option<&str>) -> Result<(), GateError> {
    let mut found = lock.current()?;
    // Podman under load has been seen to answer "no such image" for a tag it made a moment
    // ago, and name it on the next read. Another writer's image is an answer; no image right
    // after our own write is asked again, briefly, before it counts as a failed move.
    for _ in 0..5 {
        if found.is_some() || expected.is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        found = lock.current()?;
    }
    if found.as_deref() != expected {
        return Err(GateError::VerifyFailed {
            stable_tag: image.stable_tag.clone(),
            expected: expected.unwrap_or("no image").to_owned(),
            found: found.unwrap_or_else(|| "no image".to_owned()),
        });
    }
    Ok(())
}

/// A run that may only read its store moves no pointer in it.
fn refuse_read_only(context: &Context<'_>) -> Result<(), GateError> {
    if context.backend.read_only() {
        return Err(GateError::Refused {
            message: "the store is read only in this run (code from a fork)".to_owned(),
            hint: "promote from a trusted run of the project's own branch".to_owned(),
        });
    }
    Ok(())
}

/// Promotes the candidate of the recipe as it is now, on the strength of its newest verdict.
pub fn promote(context: &Context<'_>, image: &ImageConfig) -> Result<PromotionReport, GateError> {
    sync(context, image)?;
    let inputs = imagegate_config::inputs_digest(image)?;
    let scope = context.backend.scope(context);
    let candidate = context.backend.find_candidate(context, image, &inputs.digest)?;
    let Some(candidate) = candidate else {
        return Err(GateError::Refused {
            message: format!("no candidate of the current recipe of `{}` has been built here", image.name),
            hint: "run `imagegate gate --promote`".to_owned(),
        });
    };
    let Some(verdict) = context.store.latest_verdict(&scope, &image.name, &candidate)? else {
        return Err(GateError::Refused {
            message: format!("candidate {} of `{}` has no verdict", short(&candidate), image.name),
            hint: "run `imagegate gate` first; promotion needs a passing verdict".to_owned(),
        });
    };
    promote_verdict(context, image, verdict.id)
}

/// Promotes the candidate of verdict `verdict_id`, if that verdict passed and was reached
/// against the image the stable pointer names now. The callers (`promote`, `gate`) brought the
/// local store up to date with the backend's records already.
///
/// The pointer is read before taking its lock (a loser learns at once that it lost) and again
/// under it; the move is read back before it is recorded.
pub(crate) fn promote_verdict(
    context: &Context<'_>,
    image: &ImageConfig,
    verdict_id: i64,
) -> Result<PromotionReport, GateError> {
    refuse_read_only(context)?;
    let store = context.store;
    let Some(verdict) = store.verdict(verdict_id)? else {
        return Err(GateError::Refused {
            message: format!("verdict {verdict_id} is not in the store"),
            hint: "run `imagegate gate` again".to_owned(),
        });
    };
    check_verdict(store, &context.backend.scope(context), image, &verdict)?;
    let candidate = verdict.candidate.as_str();
    let up_to_date = |current: Option<String>| PromotionReport {
        status: PromotionStatus::UpToDate,
        message: format!("`{}` already names {}", image.stable_tag, short(candidate)),
        from: current.clone(),
        to: current,
    };
    let pointer = context.backend.pointer();
    let current = pointer.read(context, image)?;
    if current.as_deref() == Some(candidate) {
        return Ok(up_to_date(current));
    }
    if current != verdict.incumbent {
        return Err(pointer_moved(image, verdict.incumbent.as_deref(), current.as_deref()));
    }
    let still_wanted = || {
        let current = pointer.read(context, image)?;
        if current != verdict.incumbent {
            return Err(pointer_moved(image, verdict.incumbent.as_deref(), current.as_deref()));
        }
        Ok(())
    };
    let outcome = pointer.exclusive(context, image, &still_wanted, &mut |lock| {
        let current = lock.current()?;
        if current.as_deref() == Some(candidate) {
            return Ok(up_to_date(current));
        }
        if current != verdict.incumbent {
            return Err(pointer_moved(image, verdict.incumbent.as_deref(), current.as_deref()));
        }
        move_recorded(
            context,
            image,
            lock,
            &PointerMove {
                kind: PromotionKind::Promote,
                from: current.as_deref(),
                to: Some(candidate),
                verdict_id: Some(verdict.id),
            },
        )?;
        context.progress.note(&image.name, &format!("promoted {} to `{}`", short(candidate), image.stable_tag));
        Ok(PromotionReport {
            status: PromotionStatus::Promoted,
            message: format!(
                "`{}` moved from {} to {}",
                image.stable_tag,
                current.as_deref().map_or("nothing", short),
                short(candidate)
            ),
            from: current,
            to: Some(candidate.to_owned()),
        })
    });
    match outcome {
        // Another promoter moved the tag to this very candidate while this one waited: the
        // promotion it asked for is done.
        Err(GateError::PointerMoved { .. }) => match pointer.read(context, image)? {
            current if current.as_deref() == Some(candidate) => Ok(PromotionReport {
                status: PromotionStatus::UpToDate,
                message: format!(
                    "already promoted: another promoter moved `{}` to {} meanwhile",
                    image.stable_tag,
                    short(candidate)
                ),
                from: current.clone(),
                to: current,
            }),
            _ => outcome,
        },
        _ => outcome,
    }
}

/// Points the stable pointer back at the image it named before the promotion that put the
/// current image there. Refused when the pointer does not name what the history says it should.
pub fn rollback(context: &Context<'_>, image: &ImageConfig) -> Result<PromotionReport, GateError> {
    refuse_read_only(context)?;
    sync(context, image)?;
    let scope = context.backend.scope(context);
    let no_wait_check = || Ok(());
    let pointer = context.backend.pointer();
    pointer.exclusive(context, image, &no_wait_check, &mut |lock| {
        let Some(current) = lock.current()? else {
            return Err(GateError::Usage {
                message: format!("stable tag `{}` names no image; there is nothing to roll back", image.stable_tag),
                hint: "see `imagegate history` for what was promoted".to_owned(),
            });
        };
        // A pointer with a history of its own (a lockfile's commits) says what it named before;
        // any clone can roll back, not only the state folder that promoted.
        let kept = pointer.previous(context, image, &current)?;
        let history = context.store.promotions(&scope, &image.name)?;
        let recorded = history.iter().find(|record| {
            record.kind == PromotionKind::Promote && record.to_digest.as_deref() == Some(current.as_str())
        });
        let target = match (kept, recorded) {
            (Some(previous), _) => previous,
            (None, Some(promotion)) => promotion.from_digest.clone(),
            (None, None) => {
                return Err(GateError::Usage {
                    message: format!(
                        "no recorded promotion put {} under `{}`, so there is no previous image to restore",
                        short(&current),
                        image.stable_tag
                    ),
                    hint: "the tag was moved outside imagegate, or by another state folder; see `imagegate history`"
                        .to_owned(),
                });
            }
        };
        // `None`: the promotion being undone was the first one, and before it there was no
        // stable image.
        lock.check_restorable(&current, target.as_deref())?;
        move_recorded(
            context,
            image,
            lock,
            &PointerMove {
                kind: PromotionKind::Rollback,
                from: Some(&current),
                to: target.as_deref(),
                verdict_id: None,
            },
        )?;
        Ok(PromotionReport {
            status: PromotionStatus::Promoted,
            message: format!(
                "`{}` rolled back from {} to {}",
                image.stable_tag,
                short(&current),
                target.as_deref().map_or("no image (before the first promotion)", short)
            ),
            from: Some(current),
            to: target,
        })
    })
}

/// Checks that `verdict` allows promoting its candidate: it passed, and the candidate was not
/// rolled back by hand before.
fn check_verdict(store: &Store, scope: &str, image: &ImageConfig, verdict: &VerdictRecord) -> Result<(), GateError> {
    let candidate = &verdict.candidate;
    if Decision::from_stored(&verdict.decision) != Decision::Pass {
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
