//! `history`: verdicts and pointer moves, oldest first.
//!
//! A pointer whose home keeps its own history (a lockfile's commits) adds it: each recorded
//! move is matched with the commit that made it, and moves the store never recorded (made from
//! another clone, or by hand) are listed too, with id 0.

use imagegate_contract::{Decision, GateReport, HISTORY_SCHEMA, HistoryEvent, HistoryReport};
use imagegate_store::{Event, PromotionKind};

use crate::backend::KeptMove;
use crate::{Context, GateError};

pub fn history(context: &Context<'_>, image: Option<&str>) -> Result<HistoryReport, GateError> {
    for config in context.config.images.values().filter(|config| image.is_none_or(|name| name == config.name)) {
        crate::promote::sync(context, config)?;
    }
    let mut events: Vec<HistoryEvent> = context
        .store
        .history(&context.backend.scope(context), image)?
        .into_iter()
        .map(|event| match event {
            Event::Verdict(verdict) => {
                let regressions = serde_json::from_str::<GateReport>(&verdict.report_json)
                    .map(|report| report.regressions.into_iter().map(|entry| entry.id).collect())
                    .unwrap_or_default();
                HistoryEvent::Verdict {
                    id: verdict.id,
                    image: verdict.image,
                    decision: Decision::from_stored(&verdict.decision),
                    candidate: verdict.candidate,
                    incumbent: verdict.incumbent,
                    commit: verdict.commit,
                    regressions,
                    at: verdict.created_at,
                }
            }
            Event::Promotion(promotion) => match promotion.kind {
                PromotionKind::Promote => HistoryEvent::Promote {
                    id: promotion.id,
                    image: promotion.image,
                    stable_tag: promotion.stable_tag,
                    from: promotion.from_digest,
                    to: promotion.to_digest,
                    verdict_id: promotion.verdict_id,
                    at: promotion.created_at,
                    lockfile_commit: None,
                },
                PromotionKind::Rollback => HistoryEvent::Rollback {
                    id: promotion.id,
                    image: promotion.image,
                    stable_tag: promotion.stable_tag,
                    from: promotion.from_digest,
                    to: promotion.to_digest,
                    at: promotion.created_at,
                    lockfile_commit: None,
                },
            },
        })
        .collect();
    for config in context.config.images.values().filter(|config| image.is_none_or(|name| name == config.name)) {
        let kept = context.backend.pointer().kept_moves(context, config)?;
        merge_kept_moves(&mut events, &config.name, &config.stable_tag, kept);
    }
    Ok(HistoryReport {
        schema: HISTORY_SCHEMA.to_owned(),
        engine: context.engine_name().to_owned(),
        store: context.backend.location(),
        events,
    })
}

/// Matches each kept move (newest first) with the newest recorded move of the same kind, image
/// and digests that has no commit yet; the rest become events of their own. Events stay oldest
/// first.
fn merge_kept_moves(events: &mut Vec<HistoryEvent>, name: &str, stable_tag: &str, kept: Vec<KeptMove>) {
    if kept.is_empty() {
        return;
    }
    for kept_move in kept.into_iter().rev() {
        let matched = events.iter_mut().find_map(|event| match event {
            HistoryEvent::Promote { image, from, to, lockfile_commit: commit @ None, .. }
                if kept_move.kind == PromotionKind::Promote
                    && image == name
                    && *from == kept_move.from
                    && *to == kept_move.to =>
            {
                Some(commit)
            }
            HistoryEvent::Rollback { image, from, to, lockfile_commit: commit @ None, .. }
                if kept_move.kind == PromotionKind::Rollback
                    && image == name
                    && *from == kept_move.from
                    && *to == kept_move.to =>
            {
                Some(commit)
            }
            _ => None,
        });
        match matched {
            Some(commit) => *commit = Some(kept_move.id),
            None => events.push(match kept_move.kind {
                PromotionKind::Promote => HistoryEvent::Promote {
                    id: 0,
                    image: name.to_owned(),
                    stable_tag: stable_tag.to_owned(),
                    from: kept_move.from,
                    to: kept_move.to,
                    verdict_id: None,
                    at: kept_move.at.to_string(),
                    lockfile_commit: Some(kept_move.id),
                },
                PromotionKind::Rollback => HistoryEvent::Rollback {
                    id: 0,
                    image: name.to_owned(),
                    stable_tag: stable_tag.to_owned(),
                    from: kept_move.from,
                    to: kept_move.to,
                    at: kept_move.at.to_string(),
                    lockfile_commit: Some(kept_move.id),
                },
            }),
        }
    }
    // By the second, as commits are dated, and stable: within one second the store's events keep
    // their order and the moves known only from the lockfile follow them in the lockfile's order.
    events.sort_by_key(|event| {
        let at = match event {
            HistoryEvent::Verdict { at, .. } | HistoryEvent::Promote { at, .. } | HistoryEvent::Rollback { at, .. } => {
                at
            }
        };
        at.parse::<jiff::Timestamp>().ok().map(|at| at.as_second())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promote(id: i64, from: Option<&str>, to: &str, at: &str) -> HistoryEvent {
        HistoryEvent::Promote {
            id,
            image: "ci".into(),
            stable_tag: "acme/ci:stable".into(),
            from: from.map(Into::into),
            to: Some(to.into()),
            verdict_id: Some(id),
            at: at.into(),
            lockfile_commit: None,
        }
    }

    fn kept(kind: PromotionKind, id: &str, from: Option<&str>, to: &str, at: &str) -> KeptMove {
        KeptMove {
            kind,
            id: id.into(),
            at: at.parse().expect("a timestamp"),
            from: from.map(Into::into),
            to: Some(to.into()),
        }
    }

    #[test]
    fn recorded_moves_get_their_commit_and_moves_known_only_from_the_lockfile_follow_in_order() {
        let mut events =
            vec![promote(1, None, "a", "2026-01-01T10:00:00.2Z"), promote(2, Some("a"), "b", "2026-01-01T10:00:05.7Z")];
        // Newest first, as the lockfile's history lists them; the rollback was made elsewhere,
        // in the same second as the second promotion.
        let kept = vec![
            kept(PromotionKind::Rollback, "c3", Some("b"), "a", "2026-01-01T10:00:05Z"),
            kept(PromotionKind::Promote, "c2", Some("a"), "b", "2026-01-01T10:00:05Z"),
            kept(PromotionKind::Promote, "c1", None, "a", "2026-01-01T10:00:00Z"),
        ];
        merge_kept_moves(&mut events, "ci", "acme/ci:stable", kept);
        let summary: Vec<(&str, i64, Option<&str>)> = events
            .iter()
            .map(|event| match event {
                HistoryEvent::Promote { id, lockfile_commit, .. } => ("promote", *id, lockfile_commit.as_deref()),
                HistoryEvent::Rollback { id, lockfile_commit, .. } => ("rollback", *id, lockfile_commit.as_deref()),
                HistoryEvent::Verdict { id, .. } => ("verdict", *id, None),
            })
            .collect();
        assert_eq!(summary, [("promote", 1, Some("c1")), ("promote", 2, Some("c2")), ("rollback", 0, Some("c3"))]);
    }
}
