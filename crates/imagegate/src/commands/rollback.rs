//! `imagegate rollback`: point the stable tag back at the image it named before.

use imagegate_contract::{ExitStatus, POINTER_SCHEMA, PointerEntry, PointerReport};

use crate::cli::{GlobalArgs, RollbackArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
use crate::settings::{resolve, select_images};

pub fn run(global: &GlobalArgs, args: &RollbackArgs) -> Result<ExitStatus, CliError> {
    let settings = resolve(global)?;
    let name = select_images(&settings.config, std::slice::from_ref(&args.image))?[0].name.clone();
    let runtime = Runtime::open(settings)?;
    let image = &runtime.settings.config.images[&name];
    let context = runtime.context();
    let promotion = imagegate_gate::rollback(&context, image)?;
    runtime.progress.clear();
    if args.json {
        print_json(&PointerReport {
            schema: POINTER_SCHEMA.to_owned(),
            engine: context.engine_name().to_owned(),
            operation: "rollback".to_owned(),
            images: vec![PointerEntry {
                image: name,
                stable_tag: image.stable_tag.clone(),
                promotion: Some(promotion),
                error: None,
            }],
        });
    } else {
        println!("{name}: {} (in {})", promotion.message, context.engine_name());
    }
    Ok(ExitStatus::Success)
}
