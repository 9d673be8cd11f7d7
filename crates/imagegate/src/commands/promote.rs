//! `imagegate promote`: move the stable tag to the candidate of the current recipe, if its
//! newest verdict passed against the image the tag names now.

use imagegate_contract::ExitStatus;

use crate::cli::{GlobalArgs, PromoteArgs};
use crate::error::CliError;
use crate::runtime::Runtime;
use crate::settings::promotion_policy;

pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> Result<ExitStatus, CliError> {
    let (runtime, images) = Runtime::open_for_images(global, &args.images)?;
    let config = &runtime.settings.config;
    let project = runtime.project(&args.project);
    if let Err(reason) = promotion_policy(config, &project) {
        return Err(CliError::usage(
            format!("promotion is not allowed here: {reason}"),
            "promote from a branch listed in `[promote] branches`",
        ));
    }
    let context = runtime.context();
    let mut status = ExitStatus::Success;
    for name in &images {
        let image = &config.images[name];
        match imagegate_gate::promote(&context, image) {
            Ok(report) => {
                runtime.progress.clear();
                println!("{name}: {}", report.message);
            }
            Err(error) => {
                runtime.progress.clear();
                let error = CliError::from(error);
                eprintln!("error: {name}: {}", crate::render(&error));
                status = status.worst(error.exit_status());
            }
        }
    }
    Ok(status)
}
