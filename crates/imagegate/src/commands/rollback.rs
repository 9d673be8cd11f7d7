//! `imagegate rollback`: point the stable tag back at the image it named before.

use imagegate_contract::ExitStatus;

use crate::cli::{GlobalArgs, RollbackArgs};
use crate::error::CliError;
use crate::runtime::Runtime;
use crate::settings::{resolve, select_images};

pub fn run(global: &GlobalArgs, args: &RollbackArgs) -> Result<ExitStatus, CliError> {
    let settings = resolve(global)?;
    let name = select_images(&settings.config, std::slice::from_ref(&args.image))?[0].name.clone();
    let runtime = Runtime::open(settings)?;
    let image = &runtime.settings.config.images[&name];
    let report = imagegate_gate::rollback(&runtime.context(), image)?;
    runtime.progress.clear();
    println!("{name}: {}", report.message);
    Ok(ExitStatus::Success)
}
