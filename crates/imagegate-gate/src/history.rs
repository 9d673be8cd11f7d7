//! `history`: verdicts and pointer moves, oldest first.

use imagegate_contract::{Decision, GateReport, HISTORY_SCHEMA, HistoryEvent, HistoryReport};
use imagegate_store::{Event, PromotionKind};

use crate::{Context, GateError};

pub fn history(context: &Context<'_>, image: Option<&str>) -> Result<HistoryReport, GateError> {
    for config in context.config.images.values().filter(|config| image.is_none_or(|name| name == config.name)) {
        context.backend.sync(context, config)?;
    }
    let events = context
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
                },
                PromotionKind::Rollback => HistoryEvent::Rollback {
                    id: promotion.id,
                    image: promotion.image,
                    stable_tag: promotion.stable_tag,
                    from: promotion.from_digest,
                    to: promotion.to_digest,
                    at: promotion.created_at,
                },
            },
        })
        .collect();
    Ok(HistoryReport {
        schema: HISTORY_SCHEMA.to_owned(),
        engine: context.engine_name().to_owned(),
        store: context.backend.location(),
        events,
    })
}
