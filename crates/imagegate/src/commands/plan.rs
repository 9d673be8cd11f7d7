//! `imagegate plan`: what `gate` would do, without building or running anything.

use imagegate_contract::ExitStatus;

use crate::cli::{GlobalArgs, PlanArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
use crate::settings::{resolve, select_images};

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Result<ExitStatus, CliError> {
    let runtime = Runtime::open(resolve(global)?)?;
    let images = select_images(&runtime.settings.config, &args.images)?;
    let report = imagegate_gate::plan(&runtime.context(), &images)?;
    if args.json {
        print_json(&report);
    } else {
        print!("{}", imagegate_report::plan_text(&report));
    }
    Ok(ExitStatus::Success)
}
