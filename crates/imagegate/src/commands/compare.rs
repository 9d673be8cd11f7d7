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

fn list(comparison: &Comparison, class: Class) -> Vec<TestEntry> {
    comparison.of_class(class).map(imagegate_gate::test_entry).collect()
}

pub fn run(args: &CompareArgs) -> Result<ExitStatus, CliError> {
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
            "{}: {} tests in NEW, {} regressed, {} flaky, {} pre-existing, {} fixed",
            match decision {
                Decision::Pass => "pass",
                Decision::Regression => "regression",
                Decision::Error => "error",
            },
            report.counts.tests,
            report.regressions.len(),
            report.flaky.len(),
            report.preexisting.len(),
            report.fixed.len()
        );
    }
    Ok(match decision {
        Decision::Pass => ExitStatus::Success,
        Decision::Regression => ExitStatus::Regression,
        Decision::Error => ExitStatus::Infrastructure,
    })
}
