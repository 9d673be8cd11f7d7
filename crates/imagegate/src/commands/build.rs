//! `imagegate build`: the candidate of each image, reused when the recipe is unchanged.

use imagegate_contract::ExitStatus;

use crate::cli::{BuildArgs, GlobalArgs};
use crate::error::CliError;
use crate::runtime::Runtime;
use crate::settings::{resolve, select_images};

pub fn run(global: &GlobalArgs, args: &BuildArgs) -> Result<ExitStatus, CliError> {
    let runtime = Runtime::open(resolve(global)?)?;
    let images = select_images(&runtime.settings.config, &args.images)?;
    let context = runtime.context();
    imagegate_gate::preflight(&runtime.settings.config, context.engine, &images)?.into_result()?;
    for image in images {
        let candidate = imagegate_gate::ensure_candidate(&context, image, args.refresh)?;
        runtime.progress.clear();
        println!(
            "{}: {} {} ({})",
            image.name,
            candidate.reference,
            candidate.image_id,
            match candidate.source {
                imagegate_contract::CandidateSource::Built => "built",
                imagegate_contract::CandidateSource::Reused => "reused",
            }
        );
    }
    Ok(ExitStatus::Success)
}
