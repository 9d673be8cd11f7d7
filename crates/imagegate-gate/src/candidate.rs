//! The candidate of a recipe: reused when an image built from the same inputs exists, built
//! otherwise (or always, on a refresh).

use std::collections::BTreeMap;

use imagegate_config::{ImageConfig, InputsDigest};
use imagegate_contract::{CandidateSource, Decision, PLAN_SCHEMA, PlanAction, PlanEntry, PlanReport, VerdictSummary};
use imagegate_engine::BuildRequest;
use imagegate_store::{NewBuild, VerdictRecord};

use crate::{Context, GateError, short};

/// Label carrying the inputs digest on every image imagegate builds.
pub const LABEL_INPUTS: &str = "io.imagegate.inputs";
/// Label carrying the image's name in imagegate.toml.
pub const LABEL_IMAGE: &str = "io.imagegate.image";

/// The image under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `sha256:<hex>`.
    pub image_id: String,
    /// The engine tag it carries.
    pub reference: String,
    pub inputs: InputsDigest,
    pub source: CandidateSource,
}

/// The repository part of a reference (`acme/debian:12` → `acme/debian`).
pub(crate) fn repository_of(reference: &str) -> &str {
    let last_slash = reference.rfind('/').map_or(0, |index| index + 1);
    match reference[last_slash..].find(':') {
        Some(colon) => &reference[..last_slash + colon],
        None => reference,
    }
}

/// The tag a candidate of these inputs carries: beside the stable tag, named by the inputs.
pub fn candidate_tag(image: &ImageConfig, inputs_digest: &str) -> String {
    let hex = inputs_digest.trim_start_matches("sha256:");
    format!("{}:candidate-{}", repository_of(&image.stable_tag), &hex[..hex.len().min(16)])
}

/// The newest existing image built from `inputs` for this image, as the backend names it.
pub(crate) fn find_existing(
    context: &Context<'_>,
    image: &ImageConfig,
    inputs: &InputsDigest,
) -> Result<Option<String>, GateError> {
    context.backend.find_candidate(context, image, &inputs.digest)
}

/// What the stable pointer names now, as the backend names images.
pub fn current_stable(context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
    context.backend.pointer().read(context, image)
}

/// Computes the inputs digest of an image's recipe.
pub(crate) fn digest_inputs(context: &Context<'_>, image: &ImageConfig) -> Result<InputsDigest, GateError> {
    context.progress.start(&image.name, "hashing the recipe's inputs");
    let inputs = imagegate_config::inputs_digest(image)?;
    context.progress.finish(
        &image.name,
        &format!("inputs {} ({})", short(&inputs.digest), imagegate_contract::plural(inputs.files, "context file")),
    );
    Ok(inputs)
}

/// Finds the candidate for the recipe as it is now, building it when there is none or when
/// `refresh` asks for a rebuild without cache.
pub fn ensure_candidate(context: &Context<'_>, image: &ImageConfig, refresh: bool) -> Result<Candidate, GateError> {
    let inputs = digest_inputs(context, image)?;
    let existing = if refresh { None } else { find_existing(context, image, &inputs)? };
    ensure_candidate_for(context, image, refresh, inputs, existing)
}

/// [`ensure_candidate`] once the inputs are hashed and the candidate to reuse (`existing`,
/// never with `refresh`) was looked for.
pub(crate) fn ensure_candidate_for(
    context: &Context<'_>,
    image: &ImageConfig,
    refresh: bool,
    inputs: InputsDigest,
    existing: Option<String>,
) -> Result<Candidate, GateError> {
    let reference = candidate_tag(image, &inputs.digest);
    if let Some(image_id) = existing {
        context.progress.note(&image.name, &format!("reusing candidate {} (recipe unchanged)", short(&image_id)));
        let reference = context.backend.reuse_candidate(context, image, &image_id, &reference)?;
        return Ok(Candidate { image_id, reference, inputs, source: CandidateSource::Reused });
    }
    let logs = context.state_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|source| GateError::Io {
        operation: "create",
        path: logs.clone(),
        source,
    })?;
    let log_file = logs.join(format!("build-{}-{}.log", image.name, timestamp_for_files()));
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_INPUTS.to_owned(), inputs.digest.clone());
    labels.insert(LABEL_IMAGE.to_owned(), image.name.clone());
    let request = BuildRequest {
        dockerfile: image.dockerfile.clone(),
        context: image.context.clone(),
        build_args: image.build_args.clone(),
        target: image.target.clone(),
        platform: image.platform.clone(),
        network: context.config.engine.build_network.clone(),
        labels,
        tags: vec![reference.clone()],
        no_cache: refresh,
        log_file: log_file.clone(),
    };
    let how = if refresh { "rebuilding without cache (refresh)" } else { "building the candidate" };
    context.progress.start(&image.name, &format!("{how}; log: {}", log_file.display()));
    crate::failpoint!("build.start");
    let image_id = context.engine.build(&request)?;
    crate::failpoint!("build.built");
    context.progress.finish(&image.name, &format!("built {}", short(&image_id)));
    context.store.record_build(&NewBuild {
        engine: context.engine_name(),
        image: &image.name,
        inputs_digest: &inputs.digest,
        image_id: &image_id,
        refreshed: refresh,
    })?;
    crate::failpoint!("build.recorded");
    let (image_id, reference) =
        context.backend.publish_candidate(context, image, &inputs.digest, &image_id, &reference)?;
    Ok(Candidate { image_id, reference, inputs, source: CandidateSource::Built })
}

/// What `gate` would do for each image, without building or running anything.
pub fn plan(context: &Context<'_>, images: &[&ImageConfig]) -> Result<PlanReport, GateError> {
    let mut entries = Vec::new();
    let scope = context.backend.scope(context);
    for image in images {
        crate::promote::sync(context, image)?;
        let inputs = imagegate_config::inputs_digest(image)?;
        let existing = find_existing(context, image, &inputs)?;
        let stable = current_stable(context, image)?;
        let action = match &existing {
            Some(candidate) if stable.as_ref() == Some(candidate) => PlanAction::Current,
            Some(_) => PlanAction::Reuse,
            None => PlanAction::Build,
        };
        let last_verdict = match &existing {
            Some(candidate) => {
                context.store.latest_verdict(&scope, &image.name, candidate)?.map(|record| verdict_summary(&record))
            }
            None => None,
        };
        entries.push(PlanEntry {
            image: image.name.clone(),
            stable_tag: image.stable_tag.clone(),
            inputs_digest: inputs.digest,
            context_files: inputs.files,
            action,
            candidate: existing,
            stable,
            last_verdict,
        });
    }
    Ok(PlanReport {
        schema: PLAN_SCHEMA.to_owned(),
        engine: context.engine_name().to_owned(),
        store: context.backend.location(),
        images: entries,
        problems: Vec::new(),
        warnings: Vec::new(),
    })
}

pub(crate) fn verdict_summary(record: &VerdictRecord) -> VerdictSummary {
    VerdictSummary {
        id: record.id,
        decision: Decision::from_stored(&record.decision),
        candidate: record.candidate.clone(),
        incumbent: record.incumbent.clone(),
        commit: record.commit.clone(),
        created_at: record.created_at.clone(),
    }
}

pub(crate) fn timestamp_for_files() -> String {
    let now = jiff::Timestamp::now();
    format!("{}-{}", now.strftime("%Y%m%dT%H%M%S%.3fZ"), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_keeps_registry_ports() {
        assert_eq!(repository_of("acme/debian:12"), "acme/debian");
        assert_eq!(repository_of("localhost:5000/acme/debian:12"), "localhost:5000/acme/debian");
        assert_eq!(repository_of("localhost:5000/acme/debian"), "localhost:5000/acme/debian");
        assert_eq!(repository_of("debian"), "debian");
    }
}
