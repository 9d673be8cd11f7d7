//! `imagegate build`: the candidate of each image, reused when the recipe is unchanged.

use imagegate_contract::{BUILD_SCHEMA, BuildEntry, BuildReport, CandidateRef, CandidateSource, ExitStatus};

use crate::cli::{BuildArgs, GlobalArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
use crate::settings::{resolve, select_images};

pub fn run(global: &GlobalArgs, args: &BuildArgs) -> Result<ExitStatus, CliError> {
    let runtime = Runtime::open(resolve(global)?)?;
    let images = select_images(&runtime.settings.config, &args.images)?;
    let context = runtime.context();
    imagegate_gate::preflight(&runtime.settings.config, context.engine, &images)?.into_result()?;
    let mut report =
        BuildReport { schema: BUILD_SCHEMA.to_owned(), engine: context.engine_name().to_owned(), images: Vec::new() };
    for image in images {
        let candidate = imagegate_gate::ensure_candidate(&context, image, args.refresh)?;
        runtime.progress.clear();
        if !args.json {
            println!(
                "{}: {} {} ({}, in {})",
                image.name,
                candidate.reference,
                candidate.image_id,
                match candidate.source {
                    CandidateSource::Built => "built",
                    CandidateSource::Reused => "reused",
                },
                report.engine
            );
        }
        report.images.push(BuildEntry {
            image: image.name.clone(),
            candidate: CandidateRef {
                digest: candidate.image_id,
                reference: candidate.reference,
                inputs_digest: candidate.inputs.digest,
                source: candidate.source,
            },
        });
    }
    if args.json {
        print_json(&report);
    }
    Ok(ExitStatus::Success)
}
