//! `imagegate gate`: judge each image's candidate against its stable image, record the
//! verdict, and promote when asked and allowed.

use imagegate_contract::{Decision, ExitStatus, GateReport, PromotionStatus};
use imagegate_gate::{GateOptions, detect_project};

use crate::cli::{GateArgs, GlobalArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
use crate::settings::{promotion_policy, resolve, select_images};

/// The exit status a gate report stands for.
pub fn exit_status(report: &GateReport) -> ExitStatus {
    let promotion = match report.promotion.as_ref().map(|promotion| promotion.status) {
        Some(PromotionStatus::PointerMoved) => ExitStatus::PointerMoved,
        Some(PromotionStatus::Refused) => ExitStatus::Regression,
        _ => ExitStatus::Success,
    };
    let decision = match report.decision {
        Decision::Pass => ExitStatus::Success,
        Decision::Regression => ExitStatus::Regression,
        Decision::Error => ExitStatus::Infrastructure,
    };
    decision.worst(promotion)
}

pub fn run(global: &GlobalArgs, args: &GateArgs) -> Result<ExitStatus, CliError> {
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
    let options = GateOptions {
        refresh: args.refresh,
        promote: args.promote,
        promotion_allowed: promotion_policy(config, &project),
        project,
    };
    let context = runtime.context();
    let mut status = ExitStatus::Success;
    for name in &images {
        let image = &config.images[name];
        match imagegate_gate::gate_image(&context, image, &options) {
            Ok(report) => {
                runtime.progress.clear();
                status = status.worst(exit_status(&report));
                if args.json {
                    print_json(&report);
                } else {
                    print!("{}", imagegate_report::gate_text(&report));
                }
            }
            Err(error) => {
                // One image's infrastructure failure must not hide the others' verdicts.
                runtime.progress.clear();
                let error = CliError::from(error);
                eprintln!("error: {}: {}", name, crate::render(&error));
                status = status.worst(error.exit_status());
            }
        }
    }
    Ok(status)
}
