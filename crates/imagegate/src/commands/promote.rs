//! `imagegate promote`: move the stable tag to the candidate of the current recipe, if its
//! newest verdict passed against the image the tag names now.

use imagegate_contract::{ExitStatus, POINTER_SCHEMA, PointerEntry, PointerReport};

use crate::cli::{GlobalArgs, PromoteArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
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
    let mut report = PointerReport {
        schema: POINTER_SCHEMA.to_owned(),
        engine: context.engine_name().to_owned(),
        operation: "promote".to_owned(),
        images: Vec::new(),
    };
    for name in &images {
        let image = &config.images[name];
        let outcome = imagegate_gate::promote(&context, image);
        runtime.progress.clear();
        let entry = match outcome {
            Ok(promotion) => {
                if !args.json {
                    println!("{name}: {} (in {})", promotion.message, report.engine);
                }
                PointerEntry {
                    image: name.clone(),
                    stable_tag: image.stable_tag.clone(),
                    promotion: Some(promotion),
                    error: None,
                }
            }
            Err(error) => {
                let error = CliError::from(error);
                let message = crate::render(&error);
                eprintln!("error: {name}: {message}");
                status = status.worst(error.exit_status());
                PointerEntry {
                    image: name.clone(),
                    stable_tag: image.stable_tag.clone(),
                    promotion: None,
                    error: Some(message),
                }
            }
        };
        report.images.push(entry);
    }
    if args.json {
        print_json(&report);
    }
    Ok(status)
}
