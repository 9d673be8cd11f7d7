//! `imagegate history`: recorded verdicts, promotions and rollbacks.

use imagegate_contract::ExitStatus;

use crate::cli::{GlobalArgs, HistoryArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
use crate::settings::{resolve, select_images};

pub fn run(global: &GlobalArgs, args: &HistoryArgs) -> Result<ExitStatus, CliError> {
    let settings = resolve(global)?;
    if let Some(name) = &args.image {
        select_images(&settings.config, std::slice::from_ref(name))?;
    }
    let runtime = Runtime::open(settings)?;
    let report = imagegate_gate::history(&runtime.context(), args.image.as_deref())?;
    if args.json {
        print_json(&report);
    } else {
        print!("{}", imagegate_report::history_text(&report));
    }
    Ok(ExitStatus::Success)
}
