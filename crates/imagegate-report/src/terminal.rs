//! Plain-text reports for a terminal or a CI log. Readable without colour: structure comes from
//! headings and indentation, and text from test output is cleaned of escape sequences so it
//! cannot restyle or command the terminal it is printed to.

use std::fmt::Write;

use imagegate_contract::{
    CandidateSource, Decision, GateReport, HistoryEvent, HistoryReport, PackageDiff, PlanAction, PlanReport,
    ResultsReport, TestEntry,
};

use crate::text::one_line;
use crate::{and_more, attempts, count_phrase, direction_mark, excerpt, plural, short, version_change};

/// The most suspects shown under one regression; the likeliest come first.
const SUSPECTS_SHOWN: usize = 3;

/// The most changed packages listed; a rebuilt Debian image can change hundreds.
const CHANGED_PACKAGES_SHOWN: usize = 40;

fn section(out: &mut String, title: &str, explanation: &str, entries: &[TestEntry], with_messages: bool) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title} ({}): {explanation}", entries.len());
    for entry in entries {
        let _ = writeln!(out, "  {}", one_line(&entry.id));
        // The likeliest culprit is the headline; what points at it and the other suspects follow.
        if let Some(suspect) = entry.suspects.first() {
            let _ = writeln!(
                out,
                "      likely: {} {}",
                one_line(&suspect.name),
                one_line(&version_change(suspect.from.as_deref(), suspect.to.as_deref()))
            );
        }
        let _ = writeln!(
            out,
            "      candidate: {}   stable: {}",
            attempts(&entry.candidate),
            if entry.incumbent.is_empty() { "—".to_owned() } else { attempts(&entry.incumbent) }
        );
        if !entry.reason.is_empty() {
            let _ = writeln!(out, "      why: {}", one_line(&entry.reason));
        }
        for (rank, suspect) in entry.suspects.iter().take(SUSPECTS_SHOWN).enumerate() {
            let evidence = if suspect.evidence.trim().is_empty() {
                "no evidence kept".to_owned()
            } else {
                one_line(&suspect.evidence)
            };
            if rank == 0 {
                let _ = writeln!(out, "      evidence: {evidence}");
            } else {
                let _ = writeln!(
                    out,
                    "      also: {} {} ({evidence})",
                    one_line(&suspect.name),
                    one_line(&version_change(suspect.from.as_deref(), suspect.to.as_deref())),
                );
            }
        }
        if entry.suspects.len() > SUSPECTS_SHOWN {
            let _ = writeln!(out, "      {}", and_more(entry.suspects.len() - SUSPECTS_SHOWN, "suspect"));
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
) {
    section(out, "Regressions", "passed in the stable image, fail in the candidate", regressions, true);
    section(out, "Flaky", "failed, then passed on a rerun; not blocking", flaky, false);
    section(out, "Pre-existing failures", "fail in both images; not blocking", preexisting, false);
    section(out, "Fixed", "fail in the stable image, pass in the candidate", fixed, false);
}

fn warnings_section(out: &mut String, warnings: &[String]) {
    if !warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for warning in warnings {
            let _ = writeln!(out, "  {}", one_line(warning));
        }
    }
}

/// The changed packages, one a line with its direction, and only the number of added and
/// removed ones: a version that moved is what usually explains a regression.
fn packages_section(out: &mut String, diff: &PackageDiff) {
    let _ = writeln!(
        out,
        "\nPackages (stable → candidate): {} changed, {} added, {} removed",
        diff.changed.len(),
        diff.added.len(),
        diff.removed.len()
    );
    let shown = &diff.changed[..diff.changed.len().min(CHANGED_PACKAGES_SHOWN)];
    let rows: Vec<[String; 3]> = shown
        .iter()
        .map(|change| {
            [
                one_line(&change.ecosystem),
                one_line(&change.name),
                one_line(&version_change(change.from.as_deref(), change.to.as_deref())),
            ]
        })
        .collect();
    let width = |column: usize| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0);
    let (ecosystem_width, name_width) = (width(0), width(1));
    for (change, [ecosystem, name, versions]) in shown.iter().zip(&rows) {
        let _ = writeln!(
            out,
            "  {} {ecosystem:<ecosystem_width$}  {name:<name_width$}  {versions}",
            direction_mark(&change.direction)
        );
    }
    if diff.changed.len() > shown.len() {
        let _ = writeln!(out, "  {}", and_more(diff.changed.len() - shown.len(), "changed package"));
    }
    if !diff.added.is_empty() || !diff.removed.is_empty() {
        let _ = writeln!(
            out,
            "  {} added, {} removed: `imagegate gate --json` lists them",
            plural(diff.added.len(), "package"),
            diff.removed.len()
        );
    }
    for warning in &diff.warnings {
        let _ = writeln!(out, "  note: {}", one_line(warning));
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
        let _ = writeln!(out, "no verdict: {}", one_line(error));
    }
    sections(&mut out, regressions, flaky, preexisting, fixed);
    warnings_section(&mut out, warnings);
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
    if let Some(links) = &report.links {
        if let Some(url) = &links.commit_url {
            let _ = writeln!(out, "             {url}");
        }
        match &links.run_url {
            Some(url) => {
                let _ = writeln!(out, "  ci run     {}: {url}", links.provider);
            }
            None => {
                let _ = writeln!(out, "  ci         {}", links.provider);
            }
        }
    }
    let _ = writeln!(out, "  engine     {}", report.engine);
    if report.started_at.is_some() || report.imagegate_version.is_some() {
        let started = report.started_at.as_deref().map(|started| format!("started {started}"));
        let version = report.imagegate_version.as_deref().map(|version| format!("imagegate {version}"));
        let _ = writeln!(out, "  run        {}", started.into_iter().chain(version).collect::<Vec<_>>().join(", "));
    }
    if !report.runs.is_empty() {
        let counts = &report.counts;
        let _ = writeln!(out, "  tests      {} in the candidate: {}", counts.tests, count_phrase(counts));
        if let Some(counts) = report.incumbent.as_ref().and_then(|incumbent| incumbent.counts.as_ref()) {
            let _ = writeln!(out, "             {} in the stable image: {}", counts.tests, count_phrase(counts));
        }
    }
    for line in crate::text::reused_runs(report) {
        let _ = writeln!(out, "  reused     {line}");
    }

    if !report.errors.is_empty() {
        let _ = writeln!(out, "\nNo verdict could be reached:");
        for error in &report.errors {
            let _ = writeln!(out, "  {}", one_line(error));
        }
        let tails = crate::text::output_tails(report);
        if let (true, Some(run)) = (tails.is_empty(), report.runs.first()) {
            let _ = writeln!(out, "  (suite output: {})", run.log);
        }
        for (label, tail, log) in tails {
            let _ = writeln!(out, "\n  Last lines of the {label} (all of it: {log}):");
            for line in tail.lines() {
                let _ = writeln!(out, "    | {line}");
            }
        }
    }
    let proof = crate::culprit_lines(report, &|text: &str| one_line(text), &|text: &str| one_line(text));
    if !proof.is_empty() {
        let _ =
            writeln!(out, "\nCulprit proof (packages put back to the stable image's versions, regressed tests rerun):");
        for line in proof {
            let _ = writeln!(out, "  {line}");
        }
    }
    sections(&mut out, &report.regressions, &report.flaky, &report.preexisting, &report.fixed);
    if let Some(reason) = &report.fixed_not_measured {
        let _ = writeln!(out, "\nFixed: not measured ({})", one_line(reason));
    }
    if let Some(diff) = &report.packages {
        packages_section(&mut out, diff);
    }
    warnings_section(&mut out, &report.warnings);
    let _ = writeln!(out, "\n{}", one_line(&report.summary));
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
        let _ = writeln!(
            out,
            "  inputs   {} ({})",
            short(&entry.inputs_digest),
            plural(entry.context_files, "context file")
        );
        let _ = writeln!(out, "  stable   {}  {}", entry.stable.as_deref().map_or("none", short), entry.stable_tag);
        if let Some(verdict) = &entry.last_verdict {
            let decision = verdict.decision.as_str();
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
    } else {
        let _ = writeln!(out, "engine: {}", report.engine);
    }
    for event in &report.events {
        let line = match event {
            HistoryEvent::Verdict { id, image, decision, candidate, incumbent, commit, regressions, at } => {
                let decision = decision.as_str();
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
            HistoryEvent::Promote { image, stable_tag, from, to, verdict_id, at, lockfile_commit, .. } => format!(
                "{at}  {image}  promote `{stable_tag}`: {} → {} (verdict #{}){}",
                from.as_deref().map_or("none", short),
                to.as_deref().map_or("none", short),
                verdict_id.map_or_else(|| "?".to_owned(), |id| id.to_string()),
                lockfile_commit_text(lockfile_commit.as_deref())
            ),
            HistoryEvent::Rollback { image, stable_tag, from, to, at, lockfile_commit, .. } => format!(
                "{at}  {image}  rollback `{stable_tag}`: {} → {}{}",
                from.as_deref().map_or("none", short),
                to.as_deref().map_or("none", short),
                lockfile_commit_text(lockfile_commit.as_deref())
            ),
        };
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The lockfile commit of a pointer move, when the pointer lives in git.
fn lockfile_commit_text(commit: Option<&str>) -> String {
    commit.map_or_else(String::new, |commit| format!(" in lockfile commit {}", commit.get(..12).unwrap_or(commit)))
}

pub fn results_text(report: &ResultsReport) -> String {
    let mut out = String::new();
    for line in &report.tests {
        let _ = writeln!(
            out,
            "{:<6} {}{}",
            line.outcome.as_str(),
            one_line(&line.id),
            if line.attempts.len() > 1 { format!("  ({})", attempts(&line.attempts)) } else { String::new() }
        );
        if line.outcome.is_failure()
            && let Some(message) = &line.message
        {
            let _ = writeln!(out, "{}", excerpt(message, 4, "       | "));
        }
    }
    for problem in &report.incomplete {
        let _ = writeln!(out, "incomplete: {}", one_line(problem));
    }
    let counts = &report.counts;
    let _ = writeln!(out, "{}: {}", plural(counts.tests, "test"), count_phrase(counts));
    out
}

/// `imagegate diff`: every package that differs between two images.
pub fn diff_text(diff: &PackageDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} → {}", one_line(&diff.from_image), one_line(&diff.to_image));
    let _ = writeln!(out, "{} changed, {} added, {} removed", diff.changed.len(), diff.added.len(), diff.removed.len());
    for (title, changes) in [("Changed", &diff.changed), ("Added", &diff.added), ("Removed", &diff.removed)] {
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}:");
        for change in changes {
            let location =
                if change.location.is_empty() { String::new() } else { format!("  ({})", one_line(&change.location)) };
            let _ = writeln!(
                out,
                "  {} {:<6} {}  {}{location}",
                direction_mark(&change.direction),
                one_line(&change.ecosystem),
                one_line(&change.name),
                one_line(&version_change(change.from.as_deref(), change.to.as_deref()))
            );
        }
    }
    for warning in &diff.warnings {
        let _ = writeln!(out, "note: {}", one_line(warning));
    }
    out
}

#[cfg(test)]
mod tests {
    use imagegate_contract::PackageChange;

    use super::*;
    use crate::fixtures;

    #[test]
    fn a_reused_run_says_from_when_and_where() {
        let fresh = gate_text(&fixtures::regression());
        assert!(!fresh.contains("reused"), "{fresh}");
        let text = gate_text(&fixtures::regression_with_reused_run());
        assert!(text.contains("the candidate's suite run, reused from 2026-03-01T10:00:00Z (local)"), "{text}");
    }

    #[test]
    fn snapshot_regression() {
        insta::assert_snapshot!(gate_text(&fixtures::regression()));
    }

    #[test]
    fn snapshot_pass_with_flaky_and_fixed() {
        insta::assert_snapshot!(gate_text(&fixtures::pass_with_flaky_and_fixed()));
    }

    #[test]
    fn snapshot_error() {
        insta::assert_snapshot!(gate_text(&fixtures::error()));
    }

    #[test]
    fn snapshot_bootstrap() {
        insta::assert_snapshot!(gate_text(&fixtures::bootstrap()));
    }

    #[test]
    fn snapshot_hostile_output() {
        insta::assert_snapshot!(gate_text(&fixtures::hostile()));
    }

    #[test]
    fn test_output_cannot_send_terminal_commands() {
        let text = gate_text(&fixtures::hostile());
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{0}'));
        assert!(text.contains("red bell"));
    }

    #[test]
    fn long_package_diffs_list_a_bounded_number_of_changes() {
        let mut report = fixtures::regression();
        if let Some(diff) = report.packages.as_mut() {
            let template = diff.changed[0].clone();
            diff.changed = (0..100)
                .map(|index| PackageChange { name: format!("package-{index:03}"), ..template.clone() })
                .collect();
        }
        let text = gate_text(&report);
        assert!(text.contains("package-039"));
        assert!(!text.contains("package-040"));
        assert!(text.contains("… and 60 more changed packages"));
    }

    #[test]
    fn compare_text_is_unchanged_by_the_package_section() {
        let report = fixtures::regression();
        let text = compare_text(&[], &report.flaky, &[], &[], &[], &["a warning".to_owned()]);
        assert_eq!(
            text,
            "Flaky (1): failed, then passed on a rerun; not blocking\n  tests.test_cache.test_expiry_after_ttl\n      \
             candidate: fail → pass   stable: pass\n      why: failed on attempt 1, passed on attempt 2\n\nWarnings:\n  \
             a warning\n"
        );
    }
}
