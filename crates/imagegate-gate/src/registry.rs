//! The gate's side of the registry store: candidates pushed and found there, images made
//! runnable in the local engine, and the registry's records mirrored into the local store.
//!
//! In registry mode an image's identity is its manifest digest in the registry (what `skopeo
//! inspect` shows under the stable tag after a promotion), and the local SQLite store is only
//! a cache of the registry's records: every verdict and pointer move is written to the
//! registry first, then imported locally under the record's digest.

use std::collections::HashSet;

use imagegate_config::ImageConfig;
use imagegate_registry::RegistryStore;
use imagegate_registry::records::{RECORD_SCHEMA, Record, RecordBody, RecordKind};
use imagegate_store::{NewPromotion, NewVerdict, PromotionKind, Store};

use crate::candidate::short;
use crate::{Context, GateError};

/// The key the local store files this context's records under: the engine locally, the
/// registry location in registry mode (records there are shared by every engine and machine).
pub(crate) fn scope(context: &Context<'_>) -> String {
    match context.registry {
        Some(registry) => format!("registry:{}", registry.location().display()),
        None => context.engine_name().to_owned(),
    }
}

/// What the engine must run for image `digest`: the digest itself locally; in registry mode
/// the local image id of `repository@digest`, pulled first when the engine lacks it.
pub fn runnable(context: &Context<'_>, image: &ImageConfig, digest: &str) -> Result<String, GateError> {
    let Some(registry) = context.registry else {
        return Ok(digest.to_owned());
    };
    // A read-only run's own candidate was never pushed: it is an image of this engine.
    if context.registry_read_only && context.engine.inspect_image(digest)?.is_some() {
        return Ok(digest.to_owned());
    }
    let Some((reference, image_id)) = registry.image_id(&image.stable_tag, digest)? else {
        return Err(GateError::Usage {
            message: format!("the registry {} no longer has image {}", registry.location().display(), short(digest)),
            hint: "it was deleted outside imagegate; run `imagegate gate` again to build or find a candidate"
                .to_owned(),
        });
    };
    if context.engine.inspect_image(&image_id)?.is_some() {
        return Ok(image_id);
    }
    context.progress.start(&image.name, &format!("pulling {} from the registry", short(digest)));
    context.engine.pull_from(&reference.to_string(), &context.registry_access)?;
    context.progress.finish(&image.name, &format!("pulled {}", short(digest)));
    match context.engine.inspect_image(&image_id)? {
        Some(_) => Ok(image_id),
        // An engine may store a pulled image under another id (a converted config): use the
        // name it was pulled by.
        None => Ok(reference.to_string()),
    }
}

/// Pushes a freshly built candidate under its immutable name and makes it the recipe's
/// newest candidate. Returns its manifest digest.
pub(crate) fn publish_candidate(
    context: &Context<'_>,
    registry: &RegistryStore,
    image: &ImageConfig,
    inputs_digest: &str,
    image_id: &str,
) -> Result<String, GateError> {
    let name = registry.candidate_name(&image.stable_tag, inputs_digest, image_id)?;
    context.engine.tag(image_id, &name.to_string())?;
    context.progress.start(&image.name, &format!("pushing the candidate to `{name}`"));
    context.engine.push(&name.to_string(), &context.registry_access)?;
    let stored = registry.register_candidate(&image.stable_tag, inputs_digest, image_id)?;
    context.progress.finish(&image.name, &format!("pushed {} as {}", short(image_id), short(&stored.digest)));
    Ok(stored.digest)
}

/// Imports every record of the image's repositories not yet in the local store: verdicts
/// first, so that each promotion finds the verdict it references.
pub(crate) fn sync_records(context: &Context<'_>, image: &ImageConfig) -> Result<(), GateError> {
    let Some(registry) = context.registry else {
        return Ok(());
    };
    let scope = scope(context);
    // Record tags name the first 16 hex digits of the record's digest: known ones are skipped
    // without fetching them.
    let known: HashSet<String> = context
        .store
        .imported_records()?
        .iter()
        .map(|digest| digest.trim_start_matches("sha256:").chars().take(16).collect())
        .collect();
    let mut records: Vec<Record> = Vec::new();
    for (repository, tag) in registry.record_tags(&image.stable_tag)? {
        let Some(parsed) = imagegate_registry::records::parse_record_tag(&tag) else { continue };
        if known.contains(parsed.record) {
            continue;
        }
        if let Some(record) = registry.read_record(&repository, &tag)?
            && record.body.image == image.name
        {
            records.push(record);
        }
    }
    for record in records.iter().filter(|record| record.body.kind == RecordKind::Verdict) {
        import(context.store, &scope, record)?;
    }
    for record in records.iter().filter(|record| record.body.kind != RecordKind::Verdict) {
        import(context.store, &scope, record)?;
    }
    Ok(())
}

/// Stores one registry record in the local store; returns its row id.
pub(crate) fn import(store: &Store, scope: &str, record: &Record) -> Result<i64, GateError> {
    let body = &record.body;
    let missing = |field: &str| GateError::Usage {
        message: format!("the registry record `{}` has no `{field}`", record.tag),
        hint: "it was not written by imagegate, or was damaged; delete that tag".to_owned(),
    };
    match body.kind {
        RecordKind::Verdict => {
            let report_json = body.report.as_ref().map(ToString::to_string).unwrap_or_else(|| "{}".to_owned());
            Ok(store.import_verdict(
                &record.digest,
                &NewVerdict {
                    engine: scope,
                    image: &body.image,
                    stable_tag: &body.stable_tag,
                    candidate: body.candidate.as_deref().ok_or_else(|| missing("candidate"))?,
                    inputs_digest: body.inputs_digest.as_deref().unwrap_or_default(),
                    incumbent: body.incumbent.as_deref(),
                    commit: body.commit.as_deref().unwrap_or_default(),
                    decision: body.decision.as_deref().ok_or_else(|| missing("decision"))?,
                    report_json: &report_json,
                },
                &body.created_at,
            )?)
        }
        RecordKind::Promote | RecordKind::Rollback => {
            let verdict_id = match &body.verdict_record {
                Some(verdict) => Some(store.verdict_id_of_record(verdict)?.ok_or_else(|| GateError::Usage {
                    message: format!(
                        "the registry record `{}` references verdict {verdict}, which the registry does not have",
                        record.tag
                    ),
                    hint: "a verdict record was deleted by hand; history before it is incomplete".to_owned(),
                })?),
                None => None,
            };
            Ok(store.import_promotion(
                &record.digest,
                &NewPromotion {
                    engine: scope,
                    image: &body.image,
                    stable_tag: &body.stable_tag,
                    kind: if body.kind == RecordKind::Rollback {
                        PromotionKind::Rollback
                    } else {
                        PromotionKind::Promote
                    },
                    from_digest: body.from.as_deref(),
                    to_digest: body.to.as_deref(),
                    verdict_id,
                },
                &body.created_at,
            )?)
        }
    }
}

/// A record body with the fields every kind has.
pub(crate) fn body(kind: RecordKind, image: &ImageConfig) -> RecordBody {
    RecordBody {
        schema: RECORD_SCHEMA.to_owned(),
        kind,
        image: image.name.clone(),
        stable_tag: image.stable_tag.clone(),
        created_at: jiff::Timestamp::now().to_string(),
        engine: None,
        candidate: None,
        inputs_digest: None,
        incumbent: None,
        commit: None,
        decision: None,
        report: None,
        from: None,
        to: None,
        verdict_record: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageConfig {
        let project = tempfile::tempdir().unwrap();
        std::fs::write(project.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let config = imagegate_config::load_str(
            &project.path().join("imagegate.toml"),
            "[images.app]\nstable_tag = \"acme/app:stable\"\n[images.app.suite]\ncommand = \"true\"\nresults = \"/r\"\n",
        );
        match config {
            Ok(config) => config.images["app"].clone(),
            Err(error) => panic!("{error}"),
        }
    }

    fn record(digest: &str, body: RecordBody) -> Record {
        Record { digest: digest.to_owned(), tag: format!("imagegate-record-{digest}"), body }
    }

    #[test]
    fn a_promotion_record_is_imported_against_its_verdict_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let image = image();
        let mut verdict = body(RecordKind::Verdict, &image);
        verdict.candidate = Some("sha256:c".to_owned());
        verdict.decision = Some("pass".to_owned());
        verdict.report = Some(serde_json::json!({"regressions": []}));
        let verdict_id = import(&store, "registry:r/ns", &record("sha256:v", verdict)).unwrap();
        let mut promotion = body(RecordKind::Promote, &image);
        promotion.to = Some("sha256:c".to_owned());
        promotion.verdict_record = Some("sha256:v".to_owned());
        let promotion = record("sha256:p", promotion);
        import(&store, "registry:r/ns", &promotion).unwrap();
        import(&store, "registry:r/ns", &promotion).unwrap();
        let promotions = store.promotions("registry:r/ns", "app").unwrap();
        assert_eq!(promotions.len(), 1);
        assert_eq!(promotions[0].verdict_id, Some(verdict_id));
        // Another scope (an engine, or another registry) does not see them.
        assert!(store.promotions("docker", "app").unwrap().is_empty());
    }

    #[test]
    fn a_promotion_whose_verdict_is_missing_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut promotion = body(RecordKind::Promote, &image());
        promotion.to = Some("sha256:c".to_owned());
        promotion.verdict_record = Some("sha256:gone".to_owned());
        let error = import(&store, "registry:r/ns", &record("sha256:p", promotion)).unwrap_err();
        assert!(error.to_string().contains("sha256:gone"), "{error}");
    }
}
