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

/// The culprit proof's lead sentences, confirmed culprits first: "confirmed: putting
/// `MarkupSafe` back to 2.0.1 makes all 3 regressions pass (pin `MarkupSafe<2.1.0`)". `code`
/// wraps a name or pin (backticks in Markdown, nothing in a terminal), `plain` escapes other
/// text from the images (versions, notes). Empty without a proof.
pub(crate) fn culprit_lines(
    report: &GateReport,
    code: &dyn Fn(&str) -> String,
    plain: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let total = report.regressions.len();
    let mut lines = Vec::new();
    for culprit in report.culprits.iter().filter(|culprit| culprit.verdict == "confirmed") {
        let target = match culprit.from.as_deref() {
            Some(from) => format!("back to {}", plain(from)),
            None => "out (the candidate added it)".to_owned(),
        };
        let fixed = culprit.regressions.len();
        let effect = if fixed == total {
            match total {
                1 => "makes the regression pass".to_owned(),
                2 => "makes both regressions pass".to_owned(),
                _ => format!("makes all {total} regressions pass"),
            }
        } else {
            format!("makes {fixed} of the {total} regressions pass")
        };
        let mut line = if culprit.partners.is_empty() {
            format!("confirmed: putting {} {target} {effect}", code(&culprit.name))
        } else {
            let partners: Vec<String> = culprit.partners.iter().map(|name| code(name)).collect();
            format!(
                "confirmed: putting {} {target} {effect} (together with {})",
                code(&culprit.name),
                partners.join(", ")
            )
        };
        if let Some(pin) = &culprit.pin {
            line.push_str(&format!("; pin {}", code(pin)));
        }
        if let Some(note) = &culprit.note {
            line.push_str(&format!(" — {}", plain(note)));
        }
        lines.push(line);
    }
    let cleared = report.culprits.iter().filter(|culprit| culprit.verdict == "cleared").count();
    let inconclusive: Vec<&imagegate_contract::Culprit> =
        report.culprits.iter().filter(|culprit| culprit.verdict == "inconclusive").collect();
    if !report.culprits.is_empty() && lines.is_empty() && inconclusive.is_empty() {
        lines.push(format!(
            "no changed package causes the regressions: putting them back leaves them failing ({} cleared)",
            plural(cleared, "package")
        ));
    } else if cleared > 0 {
        lines.push(format!("cleared: {}", plural(cleared, "other changed package")));
    }
    for culprit in inconclusive {
        lines.push(format!(
            "inconclusive: {} {}{}",
            code(&culprit.name),
            plain(&version_change(culprit.from.as_deref(), culprit.to.as_deref())),
            culprit.note.as_deref().map(|note| format!(" ({})", plain(note))).unwrap_or_default()
        ));
    }
    lines
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
    fn the_culprit_proof_leads_with_the_confirmed_package_and_its_pin() {
        let report = fixtures::regression_with_culprits();
        let lines = culprit_lines(&report, &|text: &str| format!("`{text}`"), &|text: &str| text.to_owned());
        assert_eq!(
            lines,
            vec![
                "confirmed: putting `werkzeug` back to 2.2.3 makes both regressions pass; pin `werkzeug<2.3.0`",
                "cleared: 2 other changed packages",
                "inconclusive: `libssl3` 3.0.11-1 → 3.0.13-1 (<b>cannot</b> be put back)",
            ]
        );
        let terminal = terminal::gate_text(&report);
        let markdown = markdown::gate_markdown(&report);
        let html = html::gate_html(std::slice::from_ref(&report));
        let lead = "confirmed: putting";
        for (format, text) in [("terminal", &terminal), ("markdown", &markdown), ("html", &html)] {
            let proof = text.find(lead).unwrap_or_else(|| panic!("{format}: no proof line"));
            // Before the regressions' details.
            let details =
                text.find("test_login_redirects_to_next").unwrap_or_else(|| panic!("{format}: no regression"));
            assert!(proof < details, "{format}: the proof comes after the regressions");
        }
        assert!(
            markdown.contains(
                "**confirmed: putting `werkzeug` back to 2.2.3 makes both regressions pass; pin `werkzeug<2.3.0`**"
            ),
            "{markdown}"
        );
        assert!(html.contains("&lt;b&gt;cannot&lt;/b&gt;") && !html.contains("<b>cannot</b>"), "html escapes notes");
    }

    #[test]
    fn a_proof_that_clears_every_package_says_no_package_causes_the_regressions() {
        let mut report = fixtures::regression_with_culprits();
        for culprit in &mut report.culprits {
            culprit.verdict = "cleared".to_owned();
        }
        let lines = culprit_lines(&report, &|text: &str| text.to_owned(), &|text: &str| text.to_owned());
        assert_eq!(
            lines,
            vec![
                "no changed package causes the regressions: putting them back leaves them failing (4 packages cleared)"
            ]
        );
        assert!(
            culprit_lines(&fixtures::regression(), &|text: &str| text.to_owned(), &|text: &str| text.to_owned())
                .is_empty()
        );
    }

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
