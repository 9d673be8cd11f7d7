//! `imagegate promote`: move the stable tag to the candidate of the current recipe, if its
//! newest verdict passed against the image the tag names now.

use imagegate_contract::ExitStatus;
use imagegate_gate::detect_project;

use crate::cli::{GlobalArgs, PromoteArgs};
use crate::error::CliError;
use crate::runtime::Runtime;
use crate::settings::{promotion_policy, resolve, select_images};

pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> Result<ExitStatus, CliError> {
    let settings = resolve(global)?;
    let images: Vec<String> =
        select_images(&settings.config, &args.images)?.iter().map(|image| image.name.clone()).collect();
    let runtime = Runtime::open(settings)?;
    let config = &runtime.settings.config;
    let project = detect_project(
        &config.root,
        args.project.commit.clone(),
        args.project.branch.clone(),
        &runtime.settings.state_dir,
    );
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
