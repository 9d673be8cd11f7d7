//! `prune`: removing old candidates from the registry store.
//!
//! Only candidates that were never promoted and are older than the cutoff go; never the
//! stable image, an image that was ever stable (rollback may return to it), or a candidate
//! whose age is unknown. Records stay: history keeps every verdict. Stored suite runs
//! (evidence) older than the cutoff go too.

use std::collections::BTreeSet;
use std::time::Duration;

use imagegate_config::ImageConfig;
use imagegate_contract::{PRUNE_SCHEMA, PruneAction, PruneCandidate};

pub use imagegate_contract::PruneReport;

use crate::{Context, GateError};

pub fn prune(
    context: &Context<'_>,
    images: &[&ImageConfig],
    older_than: Duration,
    dry_run: bool,
) -> Result<PruneReport, GateError> {
    let Some(registry) = context.backend.prunable() else {
        return Err(GateError::Usage {
            message: "`prune` removes candidates from a registry store, and none is configured".to_owned(),
            hint: "set `[store] registry = \"HOST[:PORT]/NAMESPACE\"`; local candidates are removed with `docker image prune`"
                .to_owned(),
        });
    };
    let span = jiff::SignedDuration::try_from(older_than).map_err(|error| GateError::Usage {
        message: format!("the age {older_than:?} is out of range: {error}"),
        hint: "give an age such as 30d".to_owned(),
    })?;
    let cutoff = jiff::Timestamp::now().checked_sub(span).map_err(|error| GateError::Usage {
        message: format!("the age {older_than:?} is out of range: {error}"),
        hint: "give an age such as 30d".to_owned(),
    })?;
    let scope = context.backend.scope(context);
    let mut candidates = Vec::new();
    let mut evidence_removed = 0;
    for image in images {
        // Stored suite runs that old are not worth keeping for reuse either.
        evidence_removed += registry.prune_evidence(image, cutoff, dry_run)?;
        crate::promote::sync(context, image)?;
        // Every image a recorded pointer move touched may be needed by a rollback.
        let protected: BTreeSet<String> = context
            .store
            .promotions(&scope, &image.name)?
            .into_iter()
            .flat_map(|record| [record.from_digest, record.to_digest])
            .flatten()
            .collect();
        for entry in registry.prune_plan(image, cutoff, &protected)? {
            let action = if entry.kept.is_some() { PruneAction::Kept } else { PruneAction::Removed };
            if action == PruneAction::Removed && !dry_run {
                registry.delete_candidate(image, &entry.digest)?;
                context.progress.note(&image.name, &format!("removed candidate `{}`", entry.tag));
            }
            candidates.push(PruneCandidate {
                image: image.name.clone(),
                tag: entry.tag,
                digest: entry.digest,
                created: entry.created,
                action,
                reason: entry.kept,
            });
        }
    }
    Ok(PruneReport {
        schema: PRUNE_SCHEMA.to_owned(),
        store: registry.location(),
        dry_run,
        cutoff: cutoff.to_string(),
        candidates,
        evidence_removed,
    })
}
