//! Renders imagegate's reports for people. Everything here is a pure function from a contract
//! document to text: no I/O, no colour codes (the text reads the same in a terminal, a CI log
//! and a file).

mod markdown;
mod terminal;

pub use markdown::gate_markdown;
pub use terminal::{compare_text, gate_text, history_text, plan_text, results_text};

/// `sha256:0123456789abcdef…` → `0123456789ab`.
pub(crate) fn short(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

/// Outcomes of successive attempts, as `fail → fail → pass`.
pub(crate) fn attempts(outcomes: &[imagegate_results::Outcome]) -> String {
    if outcomes.is_empty() {
        return "missing".to_owned();
    }
    outcomes.iter().map(|outcome| outcome.as_str()).collect::<Vec<_>>().join(" → ")
}

/// The first `max_lines` lines of a message, indented.
pub(crate) fn excerpt(message: &str, max_lines: usize, indent: &str) -> String {
    let mut lines: Vec<String> =
        message.trim_end().lines().take(max_lines).map(|line| format!("{indent}{line}")).collect();
    let total = message.trim_end().lines().count();
    if total > max_lines {
        lines.push(format!("{indent}… ({} more lines)", total - max_lines));
    }
    lines.join("\n")
}
