//! Plain-text reports for a terminal or a CI log.

use std::fmt::Write;

use imagegate_contract::{
    CandidateSource, Decision, GateReport, HistoryEvent, HistoryReport, PlanAction, PlanReport, ResultsReport,
    TestEntry,
};

use crate::{attempts, excerpt, short};

fn section(out: &mut String, title: &str, explanation: &str, entries: &[TestEntry], with_messages: bool) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title} ({}): {explanation}", entries.len());
    for entry in entries {
        let _ = writeln!(out, "  {}", entry.id);
        let _ = writeln!(
            out,
            "      candidate: {}   stable: {}",
            attempts(&entry.candidate),
            if entry.incumbent.is_empty() { "—".to_owned() } else { attempts(&entry.incumbent) }
        );
        if !entry.reason.is_empty() {
            let _ = writeln!(out, "      why: {}", entry.reason);
        }
        if with_messages && let Some(message) = entry.message.as_deref().filter(|message| !message.trim().is_empty()) {
            let _ = writeln!(out, "{}", excerpt(message, 8, "      | "));
        }
    }
}

fn sections(
    out: &mut String,
    regressions: &[TestEntry],
    flaky: &[TestEntry],
    preexisting: &[TestEntry],
    fixed: &[TestEntry],
    warnings: &[String],
) {
    section(out, "Regressions", "passed in the stable image, fail in the candidate", regressions, true);
    section(out, "Flaky", "failed, then passed on a rerun; not blocking", flaky, false);
    section(out, "Pre-existing failures", "fail in both images; not blocking", preexisting, false);
    section(out, "Fixed", "fail in the stable image, pass in the candidate", fixed, false);
    if !warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for warning in warnings {
            let _ = writeln!(out, "  {warning}");
        }
    }
}

/// `imagegate compare`: the lists of an offline comparison (BASE plays the stable image).
pub fn compare_text(
    regressions: &[TestEntry],
    flaky: &[TestEntry],
    preexisting: &[TestEntry],
    fixed: &[TestEntry],
    errors: &[String],
    warnings: &[String],
) -> String {
    let mut out = String::new();
    for error in errors {
        let _ = writeln!(out, "no verdict: {error}");
    }
    sections(&mut out, regressions, flaky, preexisting, fixed, warnings);
    out.trim_start_matches('\n').to_owned()
}

/// The gate's report for a person: what regressed, with the failure messages.
pub fn gate_text(report: &GateReport) -> String {
    let mut out = String::new();
    let decision = match report.decision {
        Decision::Pass => "PASS",
        Decision::Regression => "REGRESSION",
        Decision::Error => "ERROR",
    };
    let _ = writeln!(out, "{} — {decision}", report.image);
    let source = match report.candidate.source {
        CandidateSource::Built => "built now",
        CandidateSource::Reused => "reused: recipe unchanged",
    };
    let _ =
        writeln!(out, "  candidate  {}  {} ({source})", short(&report.candidate.digest), report.candidate.reference);
    match &report.incumbent {
        Some(incumbent) => {
            let _ = writeln!(out, "  stable     {}  {}", short(&incumbent.digest), incumbent.reference);
        }
        None => {
            let _ = writeln!(out, "  stable     none yet: `{}` does not exist (bootstrap)", report.stable_tag);
        }
    }
    let _ = writeln!(
        out,
        "  commit     {}{}",
        report.commit,
        report.branch.as_deref().map(|branch| format!(" on {branch}")).unwrap_or_default()
    );
    if !report.runs.is_empty() {
        let counts = &report.counts;
        let _ = writeln!(
            out,
            "  tests      {} in the candidate: {} passed, {} failed, {} errors, {} skipped",
            counts.tests, counts.passed, counts.failed, counts.errors, counts.skipped
        );
        if let Some(counts) = report.incumbent.as_ref().and_then(|incumbent| incumbent.counts.as_ref()) {
            let _ = writeln!(
                out,
                "             {} in the stable image: {} passed, {} failed, {} errors, {} skipped",
                counts.tests, counts.passed, counts.failed, counts.errors, counts.skipped
            );
        }
    }

    if !report.errors.is_empty() {
        let _ = writeln!(out, "\nNo verdict could be reached:");
        for error in &report.errors {
            let _ = writeln!(out, "  {error}");
        }
        if let Some(run) = report.runs.first() {
            let _ = writeln!(out, "  (suite output: {})", run.log);
        }
    }
    sections(&mut out, &report.regressions, &report.flaky, &report.preexisting, &report.fixed, &report.warnings);
    let _ = writeln!(out, "\n{}", report.summary);
    out
}

pub fn plan_text(report: &PlanReport) -> String {
    let mut out = String::new();
    for entry in &report.images {
        let action = match entry.action {
            PlanAction::Reuse => format!("reuse candidate {}", entry.candidate.as_deref().map_or("?", short)),
            PlanAction::Build => "build a candidate (no image of this recipe yet)".to_owned(),
            PlanAction::Current => format!(
                "nothing to do: candidate {} is the stable image",
                entry.candidate.as_deref().map_or("?", short)
            ),
        };
        let _ = writeln!(out, "{}: {action}", entry.image);
        let _ = writeln!(out, "  inputs   {} ({} context files)", short(&entry.inputs_digest), entry.context_files);
        let _ = writeln!(out, "  stable   {}  {}", entry.stable.as_deref().map_or("none", short), entry.stable_tag);
        if let Some(verdict) = &entry.last_verdict {
            let decision = match verdict.decision {
                Decision::Pass => "pass",
                Decision::Regression => "regression",
                Decision::Error => "error",
            };
            let _ = writeln!(
                out,
                "  verdict  {decision} against {} at {} ({})",
                verdict.incumbent.as_deref().map_or("no stable image", short),
                verdict.commit,
                verdict.created_at
            );
        }
    }
    out
}

pub fn history_text(report: &HistoryReport) -> String {
    let mut out = String::new();
    if report.events.is_empty() {
        let _ = writeln!(out, "no verdicts or promotions recorded for the {} engine", report.engine);
    }
    for event in &report.events {
        let line = match event {
            HistoryEvent::Verdict { id, image, decision, candidate, incumbent, commit, regressions, at } => {
                let decision = match decision {
                    Decision::Pass => "pass",
                    Decision::Regression => "regression",
                    Decision::Error => "error",
                };
                let mut line = format!(
                    "{at}  {image}  verdict #{id} {decision}: {} against {} at {}",
                    short(candidate),
                    incumbent.as_deref().map_or("none", short),
                    commit.get(..12).unwrap_or(commit)
                );
                if !regressions.is_empty() {
                    let _ = write!(line, " ({} regressed: {})", regressions.len(), regressions.join(", "));
                }
                line
            }
            HistoryEvent::Promote { image, stable_tag, from, to, verdict_id, at, .. } => format!(
                "{at}  {image}  promote `{stable_tag}`: {} → {} (verdict #{})",
                from.as_deref().map_or("none", short),
                to.as_deref().map_or("none", short),
                verdict_id.map_or_else(|| "?".to_owned(), |id| id.to_string())
            ),
            HistoryEvent::Rollback { image, stable_tag, from, to, at, .. } => format!(
                "{at}  {image}  rollback `{stable_tag}`: {} → {}",
                from.as_deref().map_or("none", short),
                to.as_deref().map_or("none", short)
            ),
        };
        let _ = writeln!(out, "{line}");
    }
    out
}

pub fn results_text(report: &ResultsReport) -> String {
    let mut out = String::new();
    for line in &report.tests {
        let _ = writeln!(
            out,
            "{:<6} {}{}",
            line.outcome.as_str(),
            line.id,
            if line.attempts.len() > 1 { format!("  ({})", attempts(&line.attempts)) } else { String::new() }
        );
        if line.outcome.is_failure()
            && let Some(message) = &line.message
        {
            let _ = writeln!(out, "{}", excerpt(message, 4, "       | "));
        }
    }
    for problem in &report.incomplete {
        let _ = writeln!(out, "incomplete: {problem}");
    }
    let counts = &report.counts;
    let _ = writeln!(
        out,
        "{} tests: {} passed, {} failed, {} errors, {} skipped",
        counts.tests, counts.passed, counts.failed, counts.errors, counts.skipped
    );
    out
}
