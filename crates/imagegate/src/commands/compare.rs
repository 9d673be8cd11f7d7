//! `imagegate compare BASE NEW`: the gate's judgement on two result sets, offline. Usable in any
//! CI: BASE is the run before a change, NEW the run after it, at the same commit.

use imagegate_compare::{Class, Comparison, Decision as CompareDecision};
use imagegate_contract::{COMPARE_SCHEMA, Decision, ExitStatus, TestEntry};
use serde::Serialize;

use crate::cli::CompareArgs;
use crate::commands::results::read_paths;
use crate::error::CliError;
use crate::runtime::print_json;

/// `imagegate compare --json`.
#[derive(Debug, Serialize)]
struct CompareReport {
    schema: &'static str,
    decision: Decision,
    /// The new results' counts, by each test's last attempt (the gate's `counts`).
    counts: imagegate_results::Counts,
    base_counts: Option<imagegate_results::Counts>,
    regressions: Vec<TestEntry>,
    flaky: Vec<TestEntry>,
    preexisting: Vec<TestEntry>,
    fixed: Vec<TestEntry>,
    errors: Vec<String>,
    warnings: Vec<String>,
}

/// A gate's run folder holds the candidate's runs and the incumbent's side by side
/// (`candidate-suite/`, `incumbent-suite/`, …). Read as one result set, the two images' results
/// would count as attempts of the same tests, and a regression would pass as a flake: refuse.
fn refuse_runs_of_two_images(which: &str, path: &std::path::Path) -> Result<(), CliError> {
    if !path.is_dir() {
        return Ok(());
    }
    let mut candidate = None;
    let mut incumbent = None;
    // A run folder, or an image's folder of run folders: two levels cover both.
    for entry in walkdir::WalkDir::new(path).min_depth(1).max_depth(2).sort_by_file_name() {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        // The full suite runs name the two sides best; reruns only if there are none.
        let slot = match name.split_once('-') {
            Some(("candidate", _)) => &mut candidate,
            Some(("incumbent", _)) => &mut incumbent,
            _ => continue,
        };
        if slot.is_none() || name.ends_with("-suite") {
            *slot = Some(entry.path().to_path_buf());
        }
    }
    let (Some(candidate), Some(incumbent)) = (candidate, incumbent) else { return Ok(()) };
    Err(CliError::usage(
        format!(
            "{which} `{}` holds runs of two images (`{}` and `{}`): read together, the stable image's results would count as attempts of the candidate's tests",
            path.display(),
            relative(&candidate, path),
            relative(&incumbent, path)
        ),
        format!(
            "compare the stable image's run with the candidate's: `imagegate compare {} {}`",
            incumbent.display(),
            candidate.display()
        ),
    ))
}

fn relative(path: &std::path::Path, base: &std::path::Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

fn list(comparison: &Comparison, class: Class) -> Vec<TestEntry> {
    comparison.of_class(class).map(imagegate_gate::test_entry).collect()
}

pub fn run(args: &CompareArgs) -> Result<ExitStatus, CliError> {
    for (which, path) in [("BASE", &args.base), ("NEW", &args.new)] {
        refuse_runs_of_two_images(which, path)?;
    }
    let base = read_paths(std::slice::from_ref(&args.base))?;
    let new = read_paths(std::slice::from_ref(&args.new))?;
    let comparison = imagegate_compare::compare(&new, Some(&base), None);
    let decision = match comparison.decision {
        CompareDecision::Pass => Decision::Pass,
        CompareDecision::Regression => Decision::Regression,
        CompareDecision::Error => Decision::Error,
    };
    let report = CompareReport {
        schema: COMPARE_SCHEMA,
        decision,
        counts: comparison.candidate_counts,
        base_counts: comparison.incumbent_counts,
        regressions: list(&comparison, Class::Regression),
        flaky: list(&comparison, Class::Flaky),
        preexisting: list(&comparison, Class::Preexisting),
        fixed: list(&comparison, Class::Fixed),
        errors: comparison.errors.clone(),
        warnings: comparison.warnings.clone(),
    };
    if args.json {
        print_json(&report);
    } else {
        print!(
            "{}",
            imagegate_report::compare_text(
                &report.regressions,
                &report.flaky,
                &report.preexisting,
                &report.fixed,
                &report.errors,
                &report.warnings
            )
        );
        println!(
            "{}: {} in NEW, {} regressed, {} flaky, {} pre-existing, {} fixed",
            decision.as_str(),
            imagegate_contract::plural(report.counts.tests, "test"),
            report.regressions.len(),
            report.flaky.len(),
            report.preexisting.len(),
            report.fixed.len()
        );
    }
    Ok(crate::error::decision_status(decision))
}
