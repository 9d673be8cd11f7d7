//! Markdown fit for a pull-request comment: the summary line first, regressions with their
//! messages, the rest folded away.

use std::fmt::Write;

use imagegate_contract::{Decision, GateReport, TestEntry};

use crate::{attempts, short};

fn folded(out: &mut String, title: &str, entries: &[TestEntry]) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n<details><summary>{title} ({})</summary>\n", entries.len());
    for entry in entries {
        let _ = writeln!(out, "- `{}`: {} (candidate: {})", entry.id, entry.reason, attempts(&entry.candidate));
    }
    let _ = writeln!(out, "\n</details>");
}

pub fn gate_markdown(report: &GateReport) -> String {
    let mut out = String::new();
    let mark = match report.decision {
        Decision::Pass => "✅",
        Decision::Regression => "❌",
        Decision::Error => "⚠️",
    };
    let _ = writeln!(out, "{mark} **{}**\n", report.summary);
    let _ = writeln!(out, "| | image | reference |\n|---|---|---|");
    let _ = writeln!(out, "| candidate | `{}` | `{}` |", short(&report.candidate.digest), report.candidate.reference);
    match &report.incumbent {
        Some(incumbent) => {
            let _ = writeln!(out, "| stable | `{}` | `{}` |", short(&incumbent.digest), incumbent.reference);
        }
        None => {
            let _ = writeln!(out, "| stable | none yet | `{}` |", report.stable_tag);
        }
    }
    for error in &report.errors {
        let _ = writeln!(out, "\n> **No verdict:** {error}");
    }
    if !report.regressions.is_empty() {
        let _ = writeln!(out, "\n### Regressions ({})\n", report.regressions.len());
        for entry in &report.regressions {
            let _ = writeln!(out, "- `{}`: {}", entry.id, entry.reason);
            if let Some(message) = entry.message.as_deref().filter(|message| !message.trim().is_empty()) {
                let body: String = message.lines().take(20).collect::<Vec<_>>().join("\n");
                let fence = if body.contains("```") { "~~~~" } else { "```" };
                let _ = writeln!(
                    out,
                    "\n  {fence}\n{}\n  {fence}",
                    body.lines().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
                );
            }
        }
    }
    folded(&mut out, "Flaky (not blocking)", &report.flaky);
    folded(&mut out, "Pre-existing failures (not blocking)", &report.preexisting);
    folded(&mut out, "Fixed", &report.fixed);
    out
}
