//! Renders imagegate's reports. Everything here is a pure function from a contract document to
//! text: no I/O, no colour codes (the text reads the same in a terminal, a CI log and a file).
//!
//! - [`gate_text`] and the other `*_text` functions: plain text for a terminal or a CI log;
//! - [`gate_markdown`] and [`run_markdown`]: a pull-request comment, kept under GitHub's size
//!   limit;
//! - [`gate_junit`]: the verdict as JUnit XML, so that any CI shows it as tests;
//! - [`gate_html`]: one self-contained page, readable on screen and on paper.
//!
//! Failure messages, test ids and package names come from inside the images under test and are
//! treated as untrusted everywhere: cleaned of control characters (`text.rs`), then escaped for
//! the format at hand, so that no test output can add markup, mentions or terminal commands.

#[cfg(test)]
mod fixtures;
mod html;
mod junit;
mod markdown;
mod terminal;
mod text;

pub use html::gate_html;
pub use junit::gate_junit;
pub use markdown::{MarkdownLinks, gate_markdown, run_markdown, run_markdown_with};
pub use terminal::{compare_text, diff_text, gate_text, history_text, plan_text, results_text};

use imagegate_contract::{Decision, GateReport, PromotionStatus};

pub(crate) use imagegate_contract::short_digest as short;

/// Outcomes of successive attempts, as `fail → fail → pass`.
pub(crate) fn attempts(outcomes: &[imagegate_results::Outcome]) -> String {
    if outcomes.is_empty() {
        return "missing".to_owned();
    }
    outcomes.iter().map(|outcome| outcome.as_str()).collect::<Vec<_>>().join(" → ")
}

/// The first `max_lines` lines of a message, cleaned of control characters, indented.
pub(crate) fn excerpt(message: &str, max_lines: usize, indent: &str) -> String {
    let message = text::clean(message);
    let mut lines: Vec<String> =
        message.trim_end().lines().take(max_lines).map(|line| format!("{indent}{line}")).collect();
    let total = message.trim_end().lines().count();
    if total > max_lines {
        lines.push(format!("{indent}… ({} more)", plural(total - max_lines, "line")));
    }
    lines.join("\n")
}

/// The decision of a whole run: an error anywhere outweighs a regression, which outweighs a
/// pass (as the exit codes rank them). `None` for a run with no images.
pub(crate) fn overall_decision(reports: &[GateReport]) -> Option<Decision> {
    let rank = |decision: Decision| match decision {
        Decision::Pass => 0,
        Decision::Regression => 1,
        Decision::Error => 2,
    };
    reports.iter().map(|report| report.decision).max_by_key(|decision| rank(*decision))
}

/// A promotion's status as the JSON report spells it.
pub(crate) fn promotion_word(status: PromotionStatus) -> &'static str {
    match status {
        PromotionStatus::Promoted => "promoted",
        PromotionStatus::UpToDate => "up-to-date",
        PromotionStatus::Blocked => "blocked",
        PromotionStatus::NotAllowed => "not-allowed",
        PromotionStatus::Refused => "refused",
        PromotionStatus::PointerMoved => "pointer-moved",
    }
}

/// How many images of a run ended in each decision, as `1 regression, 2 pass`.
pub(crate) fn decision_tally(reports: &[GateReport]) -> String {
    let count = |wanted: Decision| reports.iter().filter(|report| report.decision == wanted).count();
    let parts: Vec<String> =
        [(Decision::Error, "no verdict"), (Decision::Regression, "regressed"), (Decision::Pass, "passed")]
            .into_iter()
            .map(|(decision, word)| (count(decision), word))
            .filter(|(count, _)| *count > 0)
            .map(|(count, word)| format!("{count} {word}"))
            .collect();
    if parts.is_empty() { "no images".to_owned() } else { parts.join(", ") }
}

/// The mark of a package change's direction: `↑` upgrade, `↓` downgrade, `~` another version
/// that cannot be ordered, `+` added, `−` removed.
pub(crate) fn direction_mark(direction: &str) -> &'static str {
    match direction {
        "upgrade" => "↑",
        "downgrade" => "↓",
        "added" => "+",
        "removed" => "−",
        _ => "~",
    }
}

/// `2.2.3 → 2.3.0`, `added: 1.6.2` or `removed: 3.0.1`.
pub(crate) fn version_change(from: Option<&str>, to: Option<&str>) -> String {
    match (from, to) {
        (Some(from), Some(to)) => format!("{from} → {to}"),
        (None, Some(to)) => format!("added: {to}"),
        (Some(from), None) => format!("removed: {from}"),
        (None, None) => "no version".to_owned(),
    }
}

pub(crate) use imagegate_contract::{plural, plural_word};

/// `… and 3 more tests`: what a list left out, the noun agreeing with the count.
pub(crate) fn and_more(hidden: usize, singular: &str) -> String {
    format!("… and {hidden} more {}", plural_word(hidden, singular))
}

/// `409 passed, 2 failed, 1 error, 0 skipped`.
pub(crate) fn count_phrase(counts: &imagegate_results::Counts) -> String {
    format!(
        "{} passed, {} failed, {}, {} skipped",
        counts.passed,
        counts.failed,
        plural(counts.errors, "error"),
        counts.skipped
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_takes_twelve_hex_digits_and_survives_odd_input() {
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("ééééééééééééé"), "éééééééééééé");
    }

    #[test]
    fn overall_decision_ranks_error_over_regression_over_pass() {
        let (pass, regression, error) = (fixtures::bootstrap(), fixtures::regression(), fixtures::error());
        assert_eq!(overall_decision(&[]), None);
        assert_eq!(overall_decision(&[pass.clone(), pass.clone()]), Some(Decision::Pass));
        assert_eq!(overall_decision(&[pass.clone(), regression.clone()]), Some(Decision::Regression));
        assert_eq!(overall_decision(&[error.clone(), regression.clone(), pass.clone()]), Some(Decision::Error));
        assert_eq!(decision_tally(&[pass.clone(), regression, pass]), "1 regressed, 2 passed");
        assert_eq!(decision_tally(&[error]), "1 no verdict");
        assert_eq!(decision_tally(&[]), "no images");
    }

    #[test]
    fn plurals_agree_with_their_counts() {
        assert_eq!(plural(0, "test"), "0 tests");
        assert_eq!(plural(1, "test"), "1 test");
        assert_eq!(plural(2, "error"), "2 errors");
        assert_eq!(and_more(1, "package"), "… and 1 more package");
        assert_eq!(and_more(9960, "regression"), "… and 9960 more regressions");
        let counts = imagegate_results::Counts { tests: 4, passed: 2, failed: 1, errors: 1, skipped: 0 };
        assert_eq!(count_phrase(&counts), "2 passed, 1 failed, 1 error, 0 skipped");
    }

    #[test]
    fn direction_marks_and_version_changes() {
        assert_eq!(direction_mark("upgrade"), "↑");
        assert_eq!(direction_mark("downgrade"), "↓");
        assert_eq!(direction_mark("changed"), "~");
        assert_eq!(version_change(Some("1"), Some("2")), "1 → 2");
        assert_eq!(version_change(None, Some("2")), "added: 2");
        assert_eq!(version_change(Some("1"), None), "removed: 1");
    }
}
