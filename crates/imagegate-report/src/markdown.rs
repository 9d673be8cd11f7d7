//! Markdown fit for a pull-request comment: the summary line first, regressions with their
//! messages and likely causes, the rest folded away.
//!
//! Test output is untrusted here in a particular way: a comment is rendered by GitHub for
//! everyone watching the pull request, so a failure message must not be able to add markup,
//! break out of its code block, or notify people by mentioning them. Test ids, package names
//! and versions go in code spans whose delimiters are longer than any backtick run they hold;
//! messages go in fences longer than any backtick run they hold; every other piece of text is
//! backslash-escaped, with mentions and issue references broken by a zero-width joiner.
//!
//! GitHub refuses comments over 65,536 characters. A document is rendered at the most detailed
//! level of [`LEVELS`] that stays under [`MAX_COMMENT_BYTES`], listing fewer tests and shorter
//! messages at each step down and saying how many it left out; at the last level, whole image
//! sections are left out once the budget is spent.

use std::fmt::Write;

use imagegate_contract::{CandidateSource, Decision, GateReport, PackageChange, PackageDiff, TestEntry};

use crate::text::{clean, longest_run, message_excerpt, one_line, prose_parts, shorten};
use crate::{
    and_more, attempts, count_phrase, decision_tally, direction_mark, overall_decision, plural, promotion_word, short,
};

/// The size a comment is kept under, in bytes (which are never fewer than characters), leaving
/// room below GitHub's limit for text a caller adds around it.
pub const MAX_COMMENT_BYTES: usize = 60_000;

/// How much detail one rendering shows.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Tests listed per list (regressions, flaky …), errors and warnings per image.
    entries: usize,
    /// Suspects listed per regression.
    suspects: usize,
    /// Lines and characters of each regression's message; no message at 0 lines.
    message_lines: usize,
    message_characters: usize,
    /// Package rows per image.
    packages: usize,
    /// Characters of any one id, name or line of prose.
    text_characters: usize,
}

/// From the most detail to the least; the first rendering that fits is used.
const LEVELS: [Limits; 5] = [
    Limits {
        entries: 100,
        suspects: 3,
        message_lines: 40,
        message_characters: 4000,
        packages: 300,
        text_characters: 500,
    },
    Limits {
        entries: 40,
        suspects: 3,
        message_lines: 20,
        message_characters: 2000,
        packages: 100,
        text_characters: 300,
    },
    Limits { entries: 15, suspects: 2, message_lines: 10, message_characters: 800, packages: 40, text_characters: 200 },
    Limits { entries: 5, suspects: 1, message_lines: 4, message_characters: 300, packages: 10, text_characters: 120 },
    Limits { entries: 3, suspects: 1, message_lines: 0, message_characters: 0, packages: 0, text_characters: 100 },
];

/// The most characters of a summary line, which is shown whole whenever it is sane.
const SUMMARY_CHARACTERS: usize = 1000;

/// What a comment can point its readers at beyond itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkdownLinks {
    /// The file name of the HTML report written beside the comment (`report.html`), which has
    /// every test in full; linked to the run's artifacts when the report knows where they are.
    pub html_report: Option<String>,
}

/// One image's verdict as a comment: the summary line first.
pub fn gate_markdown(report: &GateReport) -> String {
    run_markdown(std::slice::from_ref(report))
}

/// A whole run as one comment: a heading with the overall decision and the run's facts
/// (time, branch, commit, CI run, imagegate version), a table with one line per image when
/// there are several, then each image's section.
pub fn run_markdown(reports: &[GateReport]) -> String {
    run_markdown_with(reports, &MarkdownLinks::default())
}

/// [`run_markdown`], pointing readers at the HTML report for what the comment leaves out.
pub fn run_markdown_with(reports: &[GateReport], links: &MarkdownLinks) -> String {
    fitted(|limits, last| run_document(reports, links, limits, last.then_some(MAX_COMMENT_BYTES)))
}

/// The first rendering, from the most detailed level down, that fits in a comment.
fn fitted(render: impl Fn(Limits, bool) -> String) -> String {
    let mut rendered = String::new();
    for (index, limits) in LEVELS.iter().enumerate() {
        rendered = render(*limits, index + 1 == LEVELS.len());
        if rendered.len() <= MAX_COMMENT_BYTES {
            return rendered;
        }
    }
    // The last level bounds every part, so this is only reached by a document built from
    // absurd inputs; cutting it keeps the promise that the comment is accepted.
    let mut end = MAX_COMMENT_BYTES - 100;
    while !rendered.is_char_boundary(end) {
        end -= 1;
    }
    rendered.truncate(end);
    rendered.push_str("\n\n… (cut: too long for a comment)\n");
    rendered
}

/// Where the whole of what a comment leaves out can be read, as a clause: "the HTML report
/// (`report.html` in [the run's artifacts](…)) lists them all".
fn full_list(reports: &[GateReport], links: &MarkdownLinks) -> String {
    let artifacts = reports.iter().find_map(|report| report.links.as_ref()?.artifacts_url.as_deref());
    match (&links.html_report, artifacts) {
        (Some(file), Some(url)) => format!(
            "the HTML report ({} in [the run's artifacts]({})) lists them all",
            md_code(file, false),
            md_url(url)
        ),
        (Some(file), None) => format!("the HTML report ({}) lists them all", md_code(file, false)),
        (None, _) => "`imagegate gate --html report.html` or `--json` lists them all".to_owned(),
    }
}

fn mark(decision: Decision) -> &'static str {
    match decision {
        Decision::Pass => "✅",
        Decision::Regression => "❌",
        Decision::Error => "⚠️",
    }
}

fn run_document(reports: &[GateReport], links: &MarkdownLinks, limits: Limits, budget: Option<usize>) -> String {
    let mut out = String::new();
    let headline = match (overall_decision(reports), reports) {
        (None, _) => "imagegate: no images gated".to_owned(),
        (Some(decision), [report]) => format!(
            "{} imagegate: {} · {}",
            mark(decision),
            decision.as_str(),
            md_text(&shorten(&one_line(&report.image), limits.text_characters))
        ),
        (Some(decision), _) => format!("{} imagegate: {}", mark(decision), decision.as_str()),
    };
    let _ = writeln!(out, "## {headline}\n");
    if reports.is_empty() {
        return out;
    }
    let _ = writeln!(out, "{}\n", run_facts(reports, links));
    let full_list = full_list(reports, links);
    if let [report] = reports {
        image_body(&mut out, report, limits, 3, &full_list);
        return out;
    }
    let _ = writeln!(out, "{}: {}.\n", plural(reports.len(), "image"), decision_tally(reports));
    let _ =
        writeln!(out, "| image | decision | candidate | stable | tests | regressions | flaky | pre-existing | fixed |");
    let _ = writeln!(out, "|---|---|---|---|---:|---:|---:|---:|---:|");
    // With a budget, the table may take a third of it; the sections share the rest.
    let table_budget = budget.map(|budget| budget / 3);
    for (index, report) in reports.iter().enumerate() {
        let row = format!(
            "| {} | {} {} | {} | {} | {} | {} | {} | {} | {} |\n",
            md_text(&shorten(&one_line(&report.image), limits.text_characters)),
            mark(report.decision),
            report.decision.as_str(),
            md_code(short(&report.candidate.digest), true),
            report
                .incumbent
                .as_ref()
                .map_or_else(|| "none yet".to_owned(), |incumbent| md_code(short(&incumbent.digest), true)),
            report.counts.tests,
            report.regressions.len(),
            report.flaky.len(),
            report.preexisting.len(),
            fixed_count(report),
        );
        if table_budget.is_some_and(|table_budget| out.len() + row.len() > table_budget) {
            let _ = writeln!(out, "| … and {} more | | | | | | | | |", reports.len() - index);
            break;
        }
        out.push_str(&row);
    }
    for (index, report) in reports.iter().enumerate() {
        let mut section = String::new();
        let _ = writeln!(
            section,
            "\n### {} {}\n",
            mark(report.decision),
            md_text(&shorten(&one_line(&report.image), limits.text_characters))
        );
        image_body(&mut section, report, limits, 4, &full_list);
        // Room is kept for the note that says how many sections were left out.
        if budget.is_some_and(|budget| out.len() + section.len() > budget - 400) {
            let _ = writeln!(
                out,
                "\n{}, not shown here (a comment has a size limit): {full_list}.",
                and_more(reports.len() - index, "image")
            );
            break;
        }
        out.push_str(&section);
    }
    out
}

/// The line under the heading: when, on which branch and commit, in which CI run, with which
/// imagegate, and where the HTML report is.
fn run_facts(reports: &[GateReport], links: &MarkdownLinks) -> String {
    let mut facts = Vec::new();
    let Some(first) = reports.first() else { return String::new() };
    if let Some(started) = reports.iter().filter_map(|report| report.started_at.as_deref()).min() {
        facts.push(md_text(&readable_time(started)));
    }
    if let Some(branch) = &first.branch {
        facts.push(format!("branch {}", md_code(&shorten(branch, 200), false)));
    }
    let commit = md_code(short_commit(&first.commit), false);
    let run_links = first.links.as_ref();
    facts.push(match run_links.and_then(|links| links.commit_url.as_deref()) {
        Some(url) => format!("commit [{commit}]({})", md_url(url)),
        None => format!("commit {commit}"),
    });
    if let Some(run_links) = run_links {
        let provider = md_text(&one_line(&run_links.provider));
        facts.push(match run_links.run_url.as_deref() {
            Some(url) => format!("[{provider} run]({})", md_url(url)),
            None => provider,
        });
    }
    if let Some(file) = &links.html_report {
        facts.push(match run_links.and_then(|links| links.artifacts_url.as_deref()) {
            Some(url) => format!("[HTML report]({}): {}", md_url(url), md_code(file, false)),
            None => format!("HTML report: {}", md_code(file, false)),
        });
    }
    let engines: std::collections::BTreeSet<&str> = reports.iter().map(|report| report.engine.as_str()).collect();
    facts.push(md_text(&one_line(&engines.into_iter().collect::<Vec<_>>().join(", "))));
    if let Some(version) = &first.imagegate_version {
        facts.push(format!("imagegate {}", md_text(&one_line(version))));
    }
    facts.join(" · ")
}

/// `2026-12-04T13:37:05Z` as `2026-12-04 13:37 UTC`; anything else as it is.
fn readable_time(timestamp: &str) -> String {
    match timestamp.strip_suffix('Z').and_then(|time| time.split_once('T')) {
        Some((date, time)) => format!("{date} {} UTC", time.get(..5).unwrap_or(time)),
        None => timestamp.to_owned(),
    }
}

/// A URL from the CI environment as a Markdown link target: only `http(s)` addresses, with
/// the characters that would end the target percent-encoded.
fn md_url(url: &str) -> String {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return "#".to_owned();
    }
    let mut out = String::with_capacity(url.len());
    for character in url.chars() {
        match character {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            ' ' => out.push_str("%20"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            '`' => out.push_str("%60"),
            character if character.is_control() => {}
            character => out.push(character),
        }
    }
    out
}

/// The summary line without what the heading above it already says: `web: regression: ` of
/// `web: regression: 2 tests regressed …`.
fn summary_rest<'a>(report: &GateReport, summary: &'a str) -> &'a str {
    summary
        .strip_prefix(report.image.as_str())
        .and_then(|rest| rest.strip_prefix(": "))
        .map(|rest| {
            rest.strip_prefix(report.decision.as_str()).and_then(|rest| rest.strip_prefix(": ")).unwrap_or(rest)
        })
        .unwrap_or(summary)
}

/// One image's report; sub-headings at `heading_level`.
fn image_body(out: &mut String, report: &GateReport, limits: Limits, heading_level: usize, full_list: &str) {
    let heading = "#".repeat(heading_level);
    let summary = summary_rest(report, &report.summary);
    let _ = writeln!(out, "**{}**\n", md_prose(&shorten(&one_line(summary), SUMMARY_CHARACTERS), false));

    let source = match report.candidate.source {
        CandidateSource::Built => "built now",
        CandidateSource::Reused => "reused",
    };
    let _ = writeln!(out, "| | image | reference |\n|---|---|---|");
    let _ = writeln!(
        out,
        "| candidate | {} | {} ({source}) |",
        md_code(short(&report.candidate.digest), true),
        md_code(&shorten(&report.candidate.reference, limits.text_characters), true)
    );
    match &report.incumbent {
        Some(incumbent) => {
            let _ = writeln!(
                out,
                "| stable | {} | {} |",
                md_code(short(&incumbent.digest), true),
                md_code(&shorten(&incumbent.reference, limits.text_characters), true)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "| stable | none yet | {} (bootstrap) |",
                md_code(&shorten(&report.stable_tag, limits.text_characters), true)
            );
        }
    }

    if let Some(promotion) = &report.promotion {
        let status = promotion_word(promotion.status);
        let _ = writeln!(
            out,
            "\nPromotion: **{status}**: {}",
            md_prose(&shorten(&one_line(&promotion.message), limits.text_characters), false)
        );
    }
    if !report.runs.is_empty() {
        let mut line = format!("Tests: {} in the candidate ({})", report.counts.tests, count_phrase(&report.counts));
        if let Some(counts) = report.incumbent.as_ref().and_then(|incumbent| incumbent.counts.as_ref()) {
            let _ = write!(line, "; {} in the stable image ({})", counts.tests, count_phrase(counts));
        }
        let _ = writeln!(out, "\n{line}");
        let reused = crate::text::reused_runs(report);
        if !reused.is_empty() {
            let _ = writeln!(out, "\nNot run again: {}.", md_prose(&reused.join("; "), false));
        }
    }

    let errors_shown = limits.entries.max(3);
    for error in report.errors.iter().take(errors_shown) {
        let _ = writeln!(
            out,
            "\n> **No verdict:** {}",
            md_prose(&shorten(&one_line(error), limits.text_characters.max(300)), false)
        );
    }
    if report.errors.len() > errors_shown {
        let _ = writeln!(out, "\n> {}", and_more(report.errors.len() - errors_shown, "error"));
    }
    if !report.errors.is_empty() {
        for (label, tail, _) in crate::text::output_tails(report) {
            let _ = writeln!(out, "\n<details><summary>Last lines of the {label}</summary>\n");
            let _ = writeln!(out, "{}", fenced(&tail, ""));
            let _ = writeln!(out, "\n</details>");
        }
    }

    let proof = crate::culprit_lines(report, &|text: &str| md_code(text, false), &|text: &str| md_prose(text, false));
    if !proof.is_empty() {
        let _ = writeln!(out);
        for (index, line) in proof.iter().enumerate() {
            if index == 0 && line.starts_with("confirmed") {
                let _ = writeln!(out, "**{line}**  ");
            } else {
                let _ = writeln!(out, "{line}  ");
            }
        }
    }

    if !report.regressions.is_empty() {
        let _ = writeln!(out, "\n{heading} Regressions ({})\n", report.regressions.len());
        let shown = limits.entries.min(report.regressions.len());
        for entry in &report.regressions[..shown] {
            regression(out, entry, limits);
        }
        if report.regressions.len() > shown {
            let _ = writeln!(out, "\n{}: {full_list}.", and_more(report.regressions.len() - shown, "regression"));
        }
    }
    folded(out, "Flaky, not blocking", &report.flaky, limits, full_list);
    folded(out, "Pre-existing failures, not blocking", &report.preexisting, limits, full_list);
    folded(out, "Fixed", &report.fixed, limits, full_list);
    if let Some(reason) = &report.fixed_not_measured {
        let _ = writeln!(
            out,
            "\n**Fixed: not measured.** {}",
            md_text(&shorten(&one_line(reason), limits.text_characters))
        );
    }
    if let Some(diff) = &report.packages {
        packages(out, diff, limits);
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\n<details><summary>Warnings ({})</summary>\n", report.warnings.len());
        let shown = limits.entries.max(3).min(report.warnings.len());
        for warning in &report.warnings[..shown] {
            let _ = writeln!(out, "- {}", md_prose(&shorten(&one_line(warning), limits.text_characters), false));
        }
        if report.warnings.len() > shown {
            let _ = writeln!(out, "- … and {} more", report.warnings.len() - shown);
        }
        let _ = writeln!(out, "\n</details>");
    }
}

/// `4f1c2a9e8b7d` of a full commit id, keeping a `+dirty` mark.
fn short_commit(commit: &str) -> &str {
    if commit.len() > 12 && commit.is_char_boundary(12) && !commit.contains('+') { &commit[..12] } else { commit }
}

/// One regression: its id with the likeliest culprit as a headline, its attempts, then the
/// evidence (why, every suspect with what points at it, the failure message) folded beneath.
fn regression(out: &mut String, entry: &TestEntry, limits: Limits) {
    let headline = match entry.suspects.first() {
        Some(suspect) => format!(
            " · **likely: {} {}**",
            md_code(&shorten(&suspect.name, limits.text_characters), false),
            suspect_versions(suspect)
        ),
        None => String::new(),
    };
    // A backslash at the end of the line breaks it (CommonMark), keeping the attempts under the id.
    let _ = writeln!(out, "- {}{headline}\\", md_code(&shorten(&entry.id, limits.text_characters), false));
    let _ = writeln!(out, "  candidate: {}; stable: {}", attempts(&entry.candidate), incumbent_attempts(entry));
    let message = if limits.message_lines > 0 {
        entry
            .message
            .as_deref()
            .and_then(|message| message_excerpt(message, limits.message_lines, limits.message_characters))
    } else {
        None
    };
    let summary = match (entry.suspects.is_empty(), message.is_some()) {
        (false, true) => "Evidence and failure message",
        (false, false) => "Evidence",
        (true, true) => "Why, and the failure message",
        (true, false) => "Why",
    };
    let _ = writeln!(out, "\n  <details><summary>{summary}</summary>\n");
    let _ = writeln!(out, "  - why: {}", md_text(&shorten(&one_line(&entry.reason), limits.text_characters)));
    for (rank, suspect) in entry.suspects.iter().take(limits.suspects).enumerate() {
        let evidence = if suspect.evidence.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", md_text(&shorten(&one_line(&suspect.evidence), limits.text_characters)))
        };
        let _ = writeln!(
            out,
            "  - {}: {} {}{evidence}",
            if rank == 0 { "likely" } else { "also" },
            md_code(&shorten(&suspect.name, limits.text_characters), false),
            suspect_versions(suspect)
        );
    }
    if entry.suspects.len() > limits.suspects && limits.suspects > 0 {
        let _ = writeln!(out, "  - {}", and_more(entry.suspects.len() - limits.suspects, "suspect"));
    }
    if let Some(message) = message {
        let _ = writeln!(out, "\n{}", fenced(&message, "  "));
    }
    let _ = writeln!(out, "\n  </details>\n");
}

fn suspect_versions(suspect: &imagegate_contract::Suspect) -> String {
    match (&suspect.from, &suspect.to) {
        (Some(from), Some(to)) => format!("{} → {}", md_text(&one_line(from)), md_text(&one_line(to))),
        (None, Some(to)) => format!("new: {}", md_text(&one_line(to))),
        (Some(from), None) => format!("removed: {}", md_text(&one_line(from))),
        (None, None) => String::new(),
    }
}

fn incumbent_attempts(entry: &TestEntry) -> String {
    if entry.incumbent.is_empty() { "—".to_owned() } else { attempts(&entry.incumbent) }
}

/// A list folded in `<details>`, one line per test.
fn folded(out: &mut String, title: &str, entries: &[TestEntry], limits: Limits, full_list: &str) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n<details><summary>{title} ({})</summary>\n", entries.len());
    let shown = limits.entries.min(entries.len());
    for entry in &entries[..shown] {
        let _ = writeln!(
            out,
            "- {}: {} (candidate: {}; stable: {})",
            md_code(&shorten(&entry.id, limits.text_characters), false),
            md_text(&shorten(&one_line(&entry.reason), limits.text_characters)),
            attempts(&entry.candidate),
            incumbent_attempts(entry)
        );
    }
    if entries.len() > shown {
        let _ = writeln!(out, "- … and {} more: {full_list}", entries.len() - shown);
    }
    let _ = writeln!(out, "\n</details>");
}

/// The package diff folded in `<details>`: one table, changed packages first.
fn packages(out: &mut String, diff: &PackageDiff, limits: Limits) {
    let _ = writeln!(
        out,
        "\n<details><summary>Packages, stable → candidate: {} changed, {} added, {} removed</summary>\n",
        diff.changed.len(),
        diff.added.len(),
        diff.removed.len()
    );
    let rows: Vec<&PackageChange> = diff.changed.iter().chain(&diff.added).chain(&diff.removed).collect();
    let shown = limits.packages.min(rows.len());
    if shown > 0 {
        let with_location = rows.iter().any(|change| !change.location.trim().is_empty());
        let _ = writeln!(
            out,
            "| | package | ecosystem | stable | candidate |{}\n|---|---|---|---|---|{}",
            if with_location { " location |" } else { "" },
            if with_location { "---|" } else { "" }
        );
        let version = |version: &Option<String>| {
            version
                .as_deref()
                .map_or_else(|| "—".to_owned(), |version| md_code(&shorten(version, limits.text_characters), true))
        };
        for change in &rows[..shown] {
            let location = if with_location {
                let location = if change.location.trim().is_empty() {
                    String::new()
                } else {
                    md_code(&shorten(&change.location, limits.text_characters), true)
                };
                format!(" {location} |")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {} {} | {} | {} | {} | {} |{location}",
                direction_mark(&change.direction),
                md_text(&shorten(&one_line(&change.direction), 20)),
                md_code(&shorten(&change.name, limits.text_characters), true),
                md_text(&shorten(&one_line(&change.ecosystem), 20)),
                version(&change.from),
                version(&change.to),
            );
        }
    }
    if rows.len() > shown {
        let _ = writeln!(out, "\n{}", and_more(rows.len() - shown, "package"));
    }
    if !diff.totals.is_empty() {
        let totals: Vec<String> = diff
            .totals
            .iter()
            .map(|(ecosystem, [stable, candidate])| format!("{} {stable} → {candidate}", md_text(&one_line(ecosystem))))
            .collect();
        let _ = writeln!(out, "\nPackages in each image: {}", totals.join(" · "));
    }
    for warning in diff.warnings.iter().take(limits.entries.max(3)) {
        let _ = writeln!(out, "\n> {}", md_prose(&shorten(&one_line(warning), limits.text_characters), false));
    }
    let _ = writeln!(out, "\n</details>");
}

/// `text` as plain Markdown text that renders as itself: every character Markdown or GitHub
/// gives a meaning to is backslash-escaped, and `@name` and `#123` get a zero-width joiner
/// after the sign so that they neither notify anyone nor link an issue. `text` is one line.
fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut characters = text.chars().peekable();
    let mut at_start = true;
    while let Some(character) = characters.next() {
        match character {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '$' | '!' | '{' | '}' => {
                out.push('\\');
                out.push(character);
            }
            '@' | '#' => {
                if character == '#' {
                    out.push('\\');
                }
                out.push(character);
                if characters.peek().is_some_and(|next| next.is_alphanumeric()) {
                    out.push('\u{200D}');
                }
            }
            // At the start of a line these would begin a list, a heading underline or a
            // numbered list item.
            '-' | '+' | '=' if at_start => {
                out.push('\\');
                out.push(character);
            }
            '.' | ')'
                if !out.is_empty()
                    && out.chars().all(|character| character.is_ascii_digit())
                    && characters.peek().is_none_or(|next| *next == ' ') =>
            {
                out.push('\\');
                out.push(character);
            }
            character => out.push(character),
        }
        at_start = false;
    }
    out
}

/// imagegate's own prose: the parts it quotes in backticks become code spans, the rest plain
/// text. Either way nothing in it can become markup.
fn md_prose(text: &str, in_table: bool) -> String {
    prose_parts(text)
        .into_iter()
        .map(|(is_code, part)| if is_code { md_code(part, in_table) } else { md_text(part) })
        .collect()
}

/// `text` as a code span that nothing in it can end early: delimited by one backtick more than
/// the longest run in it, padded with spaces when it starts or ends with a backtick or a space
/// (Markdown strips one space each side). In a table cell, pipes are escaped, as GitHub splits
/// cells before it reads code spans.
fn md_code(text: &str, in_table: bool) -> String {
    let text = one_line(text);
    if text.is_empty() {
        return String::new();
    }
    let delimiter = "`".repeat(longest_run(&text, '`') + 1);
    let padding = if text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']) { " " } else { "" };
    let body = if in_table { escape_pipes(&text) } else { text };
    format!("{delimiter}{padding}{body}{padding}{delimiter}")
}

/// Pipes escaped for a table cell. A backslash right before a pipe is doubled too: GitHub reads
/// `\\` as an escaped backslash, which would leave the pipe free to end the cell.
fn escape_pipes(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '|' => out.push_str("\\|"),
            '\\' if characters.peek() == Some(&'|') => out.push_str("\\\\"),
            character => out.push(character),
        }
    }
    out
}

/// `content` in a fenced code block indented by `indent`: the fence is one backtick longer than
/// the longest run of backticks in the content, so no line of it can close the block.
fn fenced(content: &str, indent: &str) -> String {
    let content = clean(content);
    let fence = "`".repeat((longest_run(&content, '`') + 1).max(3));
    let mut out = format!("{indent}{fence}text\n");
    for line in content.lines() {
        out.push_str(indent);
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(indent);
    out.push_str(&fence);
    out
}

/// The fixed column: a count, or "not measured" when the incumbent ran only what the verdict
/// needed.
fn fixed_count(report: &GateReport) -> String {
    if report.fixed_not_measured.is_some() { "not measured".to_owned() } else { report.fixed.len().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn a_reused_run_says_from_when_and_where() {
        let fresh = gate_markdown(&fixtures::regression());
        assert!(!fresh.contains("reused"), "{fresh}");
        let text = gate_markdown(&fixtures::regression_with_reused_run());
        assert!(text.contains("the candidate's suite run, reused from 2026-03-01T10:00:00Z (local)"), "{text}");
    }

    #[test]
    fn snapshot_regression() {
        insta::assert_snapshot!(gate_markdown(&fixtures::regression()));
    }

    #[test]
    fn snapshot_pass_with_flaky_and_fixed() {
        insta::assert_snapshot!(gate_markdown(&fixtures::pass_with_flaky_and_fixed()));
    }

    #[test]
    fn snapshot_error() {
        insta::assert_snapshot!(gate_markdown(&fixtures::error()));
    }

    #[test]
    fn snapshot_bootstrap() {
        insta::assert_snapshot!(gate_markdown(&fixtures::bootstrap()));
    }

    #[test]
    fn snapshot_hostile_output() {
        insta::assert_snapshot!(gate_markdown(&fixtures::hostile()));
    }

    #[test]
    fn snapshot_run() {
        insta::assert_snapshot!(run_markdown(&[
            fixtures::regression(),
            fixtures::pass_with_flaky_and_fixed(),
            fixtures::error(),
            fixtures::bootstrap(),
        ]));
    }

    #[test]
    fn run_markdown_of_no_images_says_so() {
        assert_eq!(run_markdown(&[]), "## imagegate: no images gated\n\n");
    }

    #[test]
    fn fences_are_longer_than_any_backtick_run_in_the_message() {
        let block = fenced("a ``` b\n`````\nc", "  ");
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines.first(), Some(&"  ``````text"));
        assert_eq!(lines.last(), Some(&"  ``````"));
        // No line between the fences is a fence that long.
        assert!(lines[1..lines.len() - 1].iter().all(|line| longest_run(line, '`') < 6));
    }

    #[test]
    fn code_spans_hold_backticks_and_pipes() {
        assert_eq!(md_code("a`b", false), "``a`b``");
        assert_eq!(md_code("`start", false), "`` `start ``");
        assert_eq!(md_code("a|b", true), "`a\\|b`");
        assert_eq!(md_code("a\\|b", true), "`a\\\\\\|b`");
        assert_eq!(md_code("two\nlines", false), "`two lines`");
    }

    #[test]
    fn plain_text_cannot_add_markup_mentions_or_references() {
        let text = md_text("<img src=x> **bold** [link](http://x) @octocat #12 a|b `code` &amp; $x$");
        // Every character with a meaning is escaped.
        for special in ['<', '>', '*', '[', ']', '`', '|', '&', '$'] {
            for (index, _) in text.match_indices(special) {
                assert_eq!(text[..index].chars().last(), Some('\\'), "{special} unescaped in {text}");
            }
        }
        assert!(text.contains("@\u{200D}octocat"), "{text}");
        assert!(text.contains("\\#\u{200D}12"), "{text}");
        assert!(text.contains("a\\|b"), "{text}");
        assert!(text.contains("\\&amp;"), "{text}");
        assert_eq!(md_text("- item"), "\\- item");
        assert_eq!(md_text("1. item"), "1\\. item");
        assert_eq!(md_text("2.3.0"), "2.3.0");
    }

    #[test]
    fn prose_keeps_code_spans_and_escapes_the_rest() {
        assert_eq!(md_prose("`a:stable` left on <b>", false), "`a:stable` left on \\<b\\>");
    }

    /// `line` without its code spans, read as CommonMark does: a run of n backticks opens a
    /// span that the next run of exactly n backticks closes.
    fn outside_code_spans(line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            out.push_str(&rest[..start]);
            let run = rest[start..].chars().take_while(|character| *character == '`').count();
            let after = &rest[start + run..];
            let mut search = 0;
            let mut closed = None;
            while let Some(offset) = after[search..].find('`') {
                let position = search + offset;
                let length = after[position..].chars().take_while(|character| *character == '`').count();
                if length == run {
                    closed = Some(position + length);
                    break;
                }
                search = position + length;
            }
            match closed {
                Some(end) => rest = &after[end..],
                None => {
                    out.push_str(&rest[start..start + run]);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn outside_code_spans_reads_spans_like_commonmark() {
        assert_eq!(outside_code_spans("a `<b>` c ``x ` y`` d"), "a  c  d");
        assert_eq!(outside_code_spans("a ` b"), "a ` b");
    }

    /// The cells of a table row as GitHub splits them: at pipes not escaped by a backslash,
    /// where a backslash escapes any punctuation character.
    fn cells(row: &str) -> usize {
        let mut count = 0;
        let mut characters = row.trim().trim_matches('|').chars();
        while let Some(character) = characters.next() {
            match character {
                '\\' => {
                    characters.next();
                }
                '|' => count += 1,
                _ => {}
            }
        }
        count + 1
    }

    #[test]
    fn hostile_output_stays_in_its_code_block_and_table_cells() {
        let markdown = gate_markdown(&fixtures::hostile());
        // The message's own fence and `</details>` are inside a longer fence.
        let fence_line = markdown.lines().find(|line| line.trim_start().starts_with("````")).expect("a long fence");
        assert!(fence_line.trim_start().starts_with("````text"), "{fence_line}");
        // No raw HTML from test output: only the `<details>` and `<summary>` of the report.
        for line in markdown.lines() {
            if line.starts_with("  ") && !line.starts_with("  - ") {
                continue; // inside the fenced message
            }
            let stripped = outside_code_spans(line);
            let stripped = stripped.replace("<details>", "").replace("</details>", "").replace("<summary>", "");
            let stripped = stripped.replace("</summary>", "");
            assert!(!stripped.contains("<script") && !stripped.contains("<img") && !stripped.contains("<b>"), "{line}");
            assert!(!stripped.contains("@octocat") && !stripped.contains("@here"), "{line}");
        }
        // Every row of every table has as many cells as the table's header, whatever its text.
        let mut header_cells = None;
        for line in markdown.lines() {
            if !line.starts_with('|') {
                header_cells = None;
                continue;
            }
            let expected = *header_cells.get_or_insert(cells(line));
            assert_eq!(cells(line), expected, "{line}");
        }
    }

    #[test]
    fn a_huge_report_stays_under_the_comment_limit_and_says_what_it_left_out() {
        let mut report = fixtures::regression();
        let template = report.regressions[0].clone();
        report.regressions = (0..5000)
            .map(|index| {
                let mut entry = template.clone();
                entry.id = format!("tests.test_generated.test_case_{index:05}");
                entry.message = Some("E   AssertionError: something long\n".repeat(200));
                entry
            })
            .collect();
        report.flaky = report.regressions.clone();
        let markdown = gate_markdown(&report);
        assert!(markdown.len() <= MAX_COMMENT_BYTES, "{} bytes", markdown.len());
        assert!(markdown.contains("tests.test_generated.test_case_00000"));
        assert!(markdown.contains("more"), "says that it left tests out");
        assert!(markdown.contains("### Regressions (5000)"));
    }

    /// GitHub refuses a comment of 65,536 characters or more.
    const GITHUB_COMMENT_CHARACTERS: usize = 65_536;

    #[test]
    fn ten_thousand_regressions_fit_in_a_github_comment_and_say_where_the_rest_is() {
        let mut report = fixtures::regression();
        let template = report.regressions[0].clone();
        report.regressions = (0..10_000)
            .map(|index| {
                let mut entry = template.clone();
                entry.id = format!("tests.test_generated.GeneratedCase.test_case_{index:05}");
                entry.message = Some(format!("E   AssertionError: case {index} differs\n").repeat(60));
                entry
            })
            .collect();
        let links = MarkdownLinks { html_report: Some("report.html".to_owned()) };
        let markdown = run_markdown_with(&[report], &links);
        let characters = markdown.chars().count();
        assert!(characters < GITHUB_COMMENT_CHARACTERS, "{characters} characters");
        assert!(markdown.contains("### Regressions (10000)"));
        let shown = markdown.lines().filter(|line| line.starts_with("- `tests.test_generated.")).count();
        assert!(shown >= 3, "only {shown} regressions listed");
        assert!(markdown.contains("test_case_00000"));
        let note = format!(
            "… and {} more regressions: the HTML report (`report.html` in [the run's artifacts]\
             (https://github.com/acme/web/actions/runs/7001#artifacts)) lists them all.",
            10_000 - shown
        );
        assert!(markdown.contains(&note), "no note `{note}` in:\n{}", &markdown[markdown.len() - 2000..]);
    }

    #[test]
    fn one_image_has_one_heading_and_links_to_the_commit_the_run_and_the_html_report() {
        let links = MarkdownLinks { html_report: Some("report.html".to_owned()) };
        let markdown = run_markdown_with(&[fixtures::regression()], &links);
        let headings: Vec<&str> = markdown.lines().filter(|line| line.starts_with('#')).collect();
        assert_eq!(headings, ["## ❌ imagegate: regression · web", "### Regressions (2)"]);
        // The summary line does not say again what the heading says.
        assert!(markdown.contains("\n**2 tests regressed in candidate 9b1d4c7e2f30"), "{markdown}");
        assert!(!markdown.contains("web: regression:"), "{markdown}");
        assert!(!markdown.contains("verdict 17"), "a verdict number means nothing in a pull request");
        let facts = markdown.lines().nth(2).expect("the facts line");
        assert_eq!(
            facts,
            "2026-12-04 13:37 UTC · branch `main` · commit \
             [`4f1c2a9e8b7d`](https://github.com/acme/web/commit/4f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39) · \
             [GitHub Actions run](https://github.com/acme/web/actions/runs/7001) · \
             [HTML report](https://github.com/acme/web/actions/runs/7001#artifacts): `report.html` · docker · imagegate 0.1.0"
        );
        assert!(markdown.contains(
            "- `tests.test_auth.LoginTests.test_login_redirects_to_next` · **likely: `werkzeug` 2.2.3 → 2.3.0**"
        ));
    }

    #[test]
    fn urls_cannot_end_their_link_early_or_run_script() {
        assert_eq!(md_url("https://example.com/a (b)"), "https://example.com/a%20%28b%29");
        assert_eq!(md_url("javascript:alert(1)"), "#");
    }

    #[test]
    fn a_run_of_many_images_stays_under_the_comment_limit() {
        let mut reports = Vec::new();
        for index in 0..400 {
            let mut report = fixtures::regression();
            report.image = format!("image-{index:03}-with-a-rather-long-name-to-fill-the-table");
            reports.push(report);
        }
        let markdown = run_markdown(&reports);
        assert!(markdown.len() <= MAX_COMMENT_BYTES, "{} bytes", markdown.len());
        assert!(markdown.contains("more images, not shown here"), "{}", &markdown[markdown.len() - 500..]);
        assert!(markdown.contains("image-000"));
    }

    #[test]
    fn a_moderate_run_keeps_every_image_in_full_detail() {
        let reports = [fixtures::regression(), fixtures::pass_with_flaky_and_fixed()];
        let markdown = run_markdown(&reports);
        assert!(markdown.contains("### ❌ web"));
        assert!(markdown.contains("### ✅ tools"));
        assert!(markdown.contains("site-packages/werkzeug/… in the traceback"));
    }
}
