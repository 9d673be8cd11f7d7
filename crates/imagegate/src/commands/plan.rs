//! `imagegate plan`: what `gate` would do, without building or running anything, after a
//! preflight that finds what would make the build or the suite fail (exit 2 when it finds any).

use imagegate_contract::ExitStatus;

use crate::cli::{GlobalArgs, PlanArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
use crate::settings::{resolve, select_images};

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Result<ExitStatus, CliError> {
    let runtime = Runtime::open(resolve(global)?)?;
    let images = select_images(&runtime.settings.config, &args.images)?;
    let context = runtime.context();
    let preflight = imagegate_gate::preflight(&runtime.settings.config, context.engine, &images)?;
    let mut report = imagegate_gate::plan(&context, &images)?;
    report.problems = preflight.problems;
    report.warnings = preflight.warnings;
    if args.json {
        print_json(&report);
    } else {
        println!("engine: {}", report.engine);
        print!("{}", imagegate_report::plan_text(&report));
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        for problem in &report.problems {
            eprintln!("error: {problem}");
        }
        if !report.problems.is_empty() {
            let count = report.problems.len();
            eprintln!(
                "error: preflight found {count} problem{}; `gate` and `build` would stop before building",
                if count == 1 { "" } else { "s" }
            );
        }
    }
    Ok(if report.problems.is_empty() { ExitStatus::Success } else { ExitStatus::Usage })
}
