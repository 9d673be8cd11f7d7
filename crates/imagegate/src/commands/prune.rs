//! `imagegate prune`: remove old candidates that were never promoted from the registry store.

use imagegate_contract::{ExitStatus, PruneAction};

use crate::cli::{GlobalArgs, PruneArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};

pub fn run(global: &GlobalArgs, args: &PruneArgs) -> Result<ExitStatus, CliError> {
    let (runtime, names) = Runtime::open_for_images(global, &args.images)?;
    let config = &runtime.settings.config;
    let images: Vec<_> = names.iter().map(|name| &config.images[name]).collect();
    let older_than = args.older_than.unwrap_or(config.store.prune_after);
    let report = imagegate_gate::prune(&runtime.context(), &images, older_than, args.dry_run)?;
    runtime.progress.clear();
    if args.json {
        print_json(&report);
        return Ok(ExitStatus::Success);
    }
    let verb = if report.dry_run { "would remove" } else { "removed" };
    let mut removed = 0;
    for candidate in &report.candidates {
        match candidate.action {
            PruneAction::Removed => {
                removed += 1;
                println!(
                    "{}: {verb} {} ({})",
                    candidate.image,
                    candidate.tag,
                    candidate.created.as_deref().unwrap_or("?")
                );
            }
            PruneAction::Kept => println!(
                "{}: kept {}: {}",
                candidate.image,
                candidate.tag,
                candidate.reason.as_deref().unwrap_or_default()
            ),
        }
    }
    if report.evidence_removed > 0 {
        println!(
            "{} {verb}: suite runs stored for reuse before the cutoff",
            imagegate_contract::plural(report.evidence_removed, "stored run")
        );
    }
    println!(
        "{} {verb} from {} (created before {}){}",
        imagegate_contract::plural(removed, "candidate"),
        report.store,
        report.cutoff,
        if report.dry_run { "; run without --dry-run to remove them" } else { "" }
    );
    Ok(ExitStatus::Success)
}
