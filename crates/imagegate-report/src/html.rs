//! One self-contained HTML page for a run: the overall decision and when, where (branch, commit
//! and CI run, linked on the provider when known) and with which imagegate it was made; then per
//! image the digests, the counts, a card for every test that differs (regressions first, each
//! headed by its likeliest culprit with the evidence folded beneath), the package diff, and the
//! suite runs with the last lines of their output.
//!
//! The layout holds from 1400 px down to 400 px: tests are cards that reflow, wide tables
//! scroll inside their own box, and ids wrap between their parts (`<wbr>` after separators)
//! rather than mid-word. `tests/html_chromium.rs` checks this in a real browser.
//!
//! The page needs nothing from outside: the style is inline and there is no script, so it can
//! be stored as a CI artifact and opened or printed anywhere. Everything that comes from the
//! images (test ids, messages, package names) is escaped, and a Content-Security-Policy that
//! allows no script at all backs the escaping up should it ever miss something.

use std::fmt::Write;

use imagegate_contract::{CandidateSource, Decision, GateReport, PackageChange, PackageDiff, TestEntry};
use imagegate_results::Counts;

use crate::text::{clean, message_excerpt, prose_parts};
use crate::{
    attempts, decision_tally, direction_mark, overall_decision, plural, promotion_word, short, version_change,
};

/// Lines and characters of a failure message shown in the tests table.
const MESSAGE_LINES: usize = 14;
const MESSAGE_CHARACTERS: usize = 1500;

/// Light and dark colours chosen for at least 4.5:1 contrast of text on its background; badges
/// keep their colours on paper, and rows are told apart by a word as well as by colour.
const STYLE: &str = r#"
:root {
  color-scheme: light dark;
  --text: #1f2328; --muted: #59636e; --background: #ffffff; --surface: #f6f8fa; --border: #d1d9e0;
  --code: #eff2f5;
  --regression: #b42318; --pass: #1a7f37; --error: #9a6700; --flaky: #8250df; --preexisting: #59636e;
  --fixed: #1a7f37; --badge-text: #ffffff;
  --regression-soft: #fdecea; --error-soft: #fff5d6;
}
@media (prefers-color-scheme: dark) {
  :root {
    --text: #e6edf3; --muted: #9ea7b3; --background: #0d1117; --surface: #151b23; --border: #3d444d;
    --code: #1f2630;
    --regression: #ff7b72; --pass: #3fb950; --error: #d29922; --flaky: #bc8cff; --preexisting: #9ea7b3;
    --fixed: #3fb950; --badge-text: #0d1117;
    --regression-soft: #3b1a1a; --error-soft: #3a2d0d;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0 auto; max-width: 1240px; padding: 24px 32px 48px;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  color: var(--text); background: var(--background);
}
h1 { font-size: 26px; margin: 0 0 6px; display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
h2 { font-size: 21px; margin: 40px 0 8px; padding-top: 16px; border-top: 2px solid var(--border);
  display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
h3 { font-size: 16px; margin: 24px 0 8px; }
h4 { font-size: 14px; margin: 16px 0 6px; color: var(--muted); }
p { margin: 6px 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
code { background: var(--code); padding: 1px 4px; border-radius: 4px; overflow-wrap: break-word; }
/* Digests are hex: any place is as good as another to break them. */
code.digest { overflow-wrap: anywhere; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; background: var(--surface);
  border: 1px solid var(--border); border-radius: 6px; padding: 6px 8px; font-size: 12px; line-height: 1.45; }
a { color: inherit; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 13px; font-weight: 700;
  letter-spacing: 0.04em; text-transform: uppercase; color: var(--badge-text);
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.badge.pass { background: var(--pass); }
.badge.regression { background: var(--regression); }
.badge.error { background: var(--error); }
.summary { font-size: 16px; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 16px; margin: 12px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: break-word; }
/* A table wider than the page scrolls inside its own box instead of pushing the page wider. */
.scroll { overflow-x: auto; max-width: 100%; }
table { width: 100%; border-collapse: collapse; margin: 8px 0 4px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--border); }
th { background: var(--surface); font-size: 13px; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
table.counts, table.packages { width: auto; }
/* Versions and names stay whole in their cells; a path wraps between its folders. */
td code, th code { white-space: nowrap; }
td code.path { white-space: normal; }
tr { break-inside: avoid; }
article.test { border: 1px solid var(--border); border-left: 4px solid var(--preexisting); border-radius: 6px;
  padding: 8px 12px; margin: 8px 0; break-inside: avoid; }
article.test.regression { border-left-color: var(--regression); }
article.test.flaky { border-left-color: var(--flaky); }
article.test.fixed { border-left-color: var(--fixed); }
.test-head { margin: 0 0 4px; }
.class { font-weight: 700; margin-right: 6px; }
article.regression .class { color: var(--regression); }
article.flaky .class { color: var(--flaky); }
article.fixed .class { color: var(--fixed); }
code.id { font-size: 14px; }
.likely { font-weight: 700; font-size: 15px; }
.likely.none { font-weight: 400; color: var(--muted); }
.attempts { color: var(--muted); font-size: 13px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--muted); font-size: 13px; }
details[open] > summary { margin-bottom: 4px; }
.reason { color: var(--muted); font-size: 13px; }
ul.suspects { margin: 6px 0; padding-left: 18px; font-size: 13px; }
.callout { border: 1px solid var(--border); border-left: 4px solid var(--error); background: var(--error-soft);
  border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
.callout.regression { border-left-color: var(--regression); background: var(--regression-soft); }
.callout ul { margin: 4px 0; padding-left: 20px; }
@media (max-width: 600px) {
  body { padding: 12px 12px 32px; }
  h1 { font-size: 22px; }
  h2 { font-size: 19px; }
}
@media print {
  :root { color-scheme: light; --text: #000000; --muted: #444444; --background: #ffffff; --surface: #f2f2f2;
    --border: #999999; --code: #f2f2f2; --regression-soft: #ffffff; --error-soft: #ffffff; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
}
"#;

/// The HTML page of a run: every image's report on one page.
pub fn gate_html(reports: &[GateReport]) -> String {
    let mut out = String::new();
    let overall = overall_decision(reports);
    let title = match overall {
        Some(decision) => format!(
            "imagegate: {} ({})",
            decision.as_str(),
            reports.iter().map(|report| report.image.as_str()).collect::<Vec<_>>().join(", ")
        ),
        None => "imagegate: no images gated".to_owned(),
    };
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"color-scheme\" content=\"light dark\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");

    out.push_str("<header>\n<h1>");
    if let Some(decision) = overall {
        out.push_str(&badge(decision));
        out.push(' ');
    }
    let _ = writeln!(out, "imagegate gate report</h1>");
    let _ = writeln!(out, "<p class=\"muted\">{}: {}.</p>", plural(reports.len(), "image"), decision_tally(reports));
    run_facts(&mut out, reports);
    // One image needs no table of images: its section follows.
    if reports.len() > 1 {
        overview(&mut out, reports);
    }
    out.push_str("</header>\n");

    let run_commit = reports.first().map(|report| report.commit.as_str());
    for (index, report) in reports.iter().enumerate() {
        image_section(&mut out, report, &anchor(index, &report.image), run_commit);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// When, where and with what the run was made: the first thing a reader checks is that the
/// report is about the commit and the run they have in mind.
fn run_facts(out: &mut String, reports: &[GateReport]) {
    let Some(first) = reports.first() else { return };
    let mut facts: Vec<(&str, String)> = Vec::new();
    // Images are gated one after the other: the run started with the first.
    if let Some(started) = reports.iter().filter_map(|report| report.started_at.as_deref()).min() {
        facts.push(("Started", escape(&readable_time(started))));
    }
    if let Some(branch) = &first.branch {
        facts.push(("Branch", format!("<code>{}</code>", escape(branch))));
    }
    facts.push(("Commit", commit_html(first)));
    if let Some(links) = &first.links {
        if let Some(run_url) = &links.run_url {
            facts.push(("CI run", link(run_url, &format!("{} run", links.provider))));
        } else {
            facts.push(("CI", escape(&links.provider)));
        }
    }
    if let Some(version) = &first.imagegate_version {
        facts.push(("imagegate", escape(version)));
    }
    out.push_str("<dl class=\"facts run\">\n");
    for (term, description) in facts {
        let _ = writeln!(out, "<dt>{term}</dt><dd>{description}</dd>");
    }
    out.push_str("</dl>\n");
}

/// `2026-12-04T13:37:05Z` as `2026-12-04 13:37:05 UTC`; anything else as it is.
fn readable_time(timestamp: &str) -> String {
    match timestamp.strip_suffix('Z').and_then(|time| time.split_once('T')) {
        Some((date, time)) => format!("{date} {time} UTC"),
        None => timestamp.to_owned(),
    }
}

/// The commit, linked to its page on the provider when the report knows it.
fn commit_html(report: &GateReport) -> String {
    let code = format!("<code class=\"digest\">{}</code>", escape(&report.commit));
    match report.links.as_ref().and_then(|links| links.commit_url.as_deref()).filter(|url| is_web_url(url)) {
        Some(url) => format!("<a href=\"{}\">{code}</a>", escape(url)),
        None => code,
    }
}

/// A link to a page on the provider's site. Only `https` and `http` addresses become links:
/// the URLs come from the CI environment, which a report does not trust to be sane.
fn link(url: &str, text: &str) -> String {
    if is_web_url(url) { format!("<a href=\"{}\">{}</a>", escape(url), escape(text)) } else { escape(text) }
}

fn is_web_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// One line per image, linking to its section.
fn overview(out: &mut String, reports: &[GateReport]) {
    out.push_str(
        "<div class=\"scroll\">\n<table class=\"overview\">\n<thead><tr><th>Image</th><th>Decision</th>\
         <th>Candidate</th><th>Stable</th><th class=\"number\">Tests</th><th class=\"number\">Regressions</th>\
         <th class=\"number\">Flaky</th><th class=\"number\">Pre-existing</th><th class=\"number\">Fixed</th></tr>\
         </thead>\n<tbody>\n",
    );
    for (index, report) in reports.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td><code>{}</code></td><td>{}</td>\
             <td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td>\
             <td class=\"number\">{}</td><td class=\"number\">{}</td></tr>",
            anchor(index, &report.image),
            escape(&report.image),
            badge(report.decision),
            escape(short(&report.candidate.digest)),
            report.incumbent.as_ref().map_or_else(
                || "<span class=\"muted\">none yet</span>".to_owned(),
                |incumbent| format!("<code>{}</code>", escape(short(&incumbent.digest)))
            ),
            report.counts.tests,
            report.regressions.len(),
            report.flaky.len(),
            report.preexisting.len(),
            if report.fixed_not_measured.is_some() {
                "not measured".to_owned()
            } else {
                report.fixed.len().to_string()
            },
        );
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

fn image_section(out: &mut String, report: &GateReport, anchor: &str, run_commit: Option<&str>) {
    let _ = writeln!(out, "<section class=\"image\" id=\"{anchor}\">");
    let _ = writeln!(out, "<h2>{} {}</h2>", badge(report.decision), escape(&report.image));
    let _ = writeln!(out, "<p class=\"summary\">{}</p>", prose(&report.summary));
    facts(out, report, run_commit);
    counts_table(out, report);

    if !report.errors.is_empty() {
        out.push_str("<div class=\"callout\">\n<strong>No verdict could be reached</strong>\n<ul>\n");
        for error in &report.errors {
            let _ = writeln!(out, "<li>{}</li>", prose(error));
        }
        out.push_str("</ul>\n");
        if report.runs.iter().any(|run| run.output_tail.is_some()) {
            let _ = writeln!(
                out,
                "<p>The last lines of each run's output are under <a href=\"#{anchor}-runs\">Suite runs</a>.</p>"
            );
        }
        out.push_str("</div>\n");
    }

    culprits_section(out, report);
    tests_section(out, report);
    if let Some(diff) = &report.packages {
        packages(out, diff);
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "<h3>Warnings ({})</h3>\n<ul>", report.warnings.len());
        for warning in &report.warnings {
            let _ = writeln!(out, "<li>{}</li>", prose(warning));
        }
        out.push_str("</ul>\n");
    }
    runs_table(out, report, anchor);
    out.push_str("</section>\n");
}

/// The image's own facts; the commit only when it is not the one the page's header names.
fn facts(out: &mut String, report: &GateReport, run_commit: Option<&str>) {
    out.push_str("<dl class=\"facts\">\n");
    let source = match report.candidate.source {
        CandidateSource::Built => "built now",
        CandidateSource::Reused => "reused: recipe unchanged",
    };
    let _ = writeln!(
        out,
        "<dt>Candidate</dt><dd><code class=\"digest\">{}</code><br>{} <span class=\"muted\">({source})</span></dd>",
        escape(&report.candidate.digest),
        breakable(&report.candidate.reference)
    );
    match &report.incumbent {
        Some(incumbent) => {
            let _ = writeln!(
                out,
                "<dt>Stable</dt><dd><code class=\"digest\">{}</code><br>{}</dd>",
                escape(&incumbent.digest),
                breakable(&incumbent.reference)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<dt>Stable</dt><dd>none yet: <code>{}</code> does not exist (bootstrap)</dd>",
                breakable(&report.stable_tag)
            );
        }
    }
    if run_commit != Some(report.commit.as_str()) {
        let _ = writeln!(
            out,
            "<dt>Commit</dt><dd>{}{}</dd>",
            commit_html(report),
            report
                .branch
                .as_deref()
                .map(|branch| format!(" on <code>{}</code>", breakable(branch)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "<dt>Recipe inputs</dt><dd><code class=\"digest\">{}</code></dd>",
        escape(&report.candidate.inputs_digest)
    );
    let _ = writeln!(out, "<dt>Engine</dt><dd>{}</dd>", escape(&report.engine));
    if let Some(verdict_id) = report.verdict_id {
        let _ = writeln!(out, "<dt>Verdict</dt><dd>#{verdict_id}</dd>");
    }
    if let Some(promotion) = &report.promotion {
        let _ = writeln!(
            out,
            "<dt>Promotion</dt><dd><strong>{}</strong>: {}</dd>",
            promotion_word(promotion.status),
            prose(&promotion.message)
        );
    }
    out.push_str("</dl>\n");
}

fn counts_table(out: &mut String, report: &GateReport) {
    if report.runs.is_empty() {
        return;
    }
    out.push_str(
        "<div class=\"scroll\">\n<table class=\"counts\">\n<thead><tr><th>Results</th><th class=\"number\">Tests</th>\
         <th class=\"number\">Passed</th><th class=\"number\">Failed</th><th class=\"number\">Errors</th>\
         <th class=\"number\">Skipped</th></tr></thead>\n<tbody>\n",
    );
    let row = |out: &mut String, name: &str, counts: &Counts| {
        let _ = writeln!(
            out,
            "<tr><td>{name}</td><td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td>\
             <td class=\"number\">{}</td><td class=\"number\">{}</td></tr>",
            counts.tests, counts.passed, counts.failed, counts.errors, counts.skipped
        );
    };
    row(out, "candidate", &report.counts);
    if let Some(counts) = report.incumbent.as_ref().and_then(|incumbent| incumbent.counts.as_ref()) {
        row(out, "stable", counts);
    }
    out.push_str("</tbody>\n</table>\n</div>\n<p class=\"muted\">By each test's last attempt.</p>\n");
}

/// Every listed test as a card, regressions first, then flaky, pre-existing and fixed ones.
/// Cards rather than a table: a test id, a culprit and a traceback need the whole width at
/// 400 px as much as at 1400.
fn culprits_section(out: &mut String, report: &GateReport) {
    let proof = crate::culprit_lines(report, &|text: &str| format!("<code>{}</code>", escape(text)), &|text: &str| {
        escape(text)
    });
    if proof.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h3>Culprit proof</h3>");
    for (index, line) in proof.iter().enumerate() {
        let class = if index == 0 && line.starts_with("confirmed") { "likely" } else { "muted" };
        // The line's names are escaped inside their code spans; the words around them are ours.
        let _ = writeln!(out, "<p class=\"{class}\">{line}</p>");
    }
}

fn tests_section(out: &mut String, report: &GateReport) {
    let classes: [(&str, &str, &str, &[TestEntry]); 4] = [
        ("regression", "regression", "Regressions", &report.regressions),
        ("flaky", "flaky", "Flaky, not blocking", &report.flaky),
        ("preexisting", "pre-existing", "Pre-existing failures, not blocking", &report.preexisting),
        ("fixed", "fixed", "Fixed", &report.fixed),
    ];
    let total: usize = classes.iter().map(|(_, _, _, entries)| entries.len()).sum();
    if total == 0 {
        let _ = writeln!(out, "<h3>Tests that differ</h3>");
        if !report.runs.is_empty() {
            out.push_str("<p>No test differs between the images.</p>\n");
        }
        return;
    }
    for (css_class, word, title, entries) in classes {
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h3>{title} ({})</h3>", entries.len());
        for entry in entries {
            test_card(out, entry, css_class, word, report.packages.is_some());
        }
    }
}

/// One test: its id and class, for a regression the likeliest culprit as a headline, its
/// attempts, then the evidence folded beneath. A regression's failure message stays in view;
/// the other classes fold theirs, as they do not block.
fn test_card(out: &mut String, entry: &TestEntry, css_class: &str, word: &str, packages_read: bool) {
    let _ = writeln!(
        out,
        "<article class=\"test {css_class}\">\n<p class=\"test-head\"><span class=\"class\">{word}</span> \
         <code class=\"id\">{}</code></p>",
        breakable(&entry.id)
    );
    if css_class == "regression" {
        match entry.suspects.first() {
            Some(suspect) => {
                let _ = writeln!(
                    out,
                    "<p class=\"likely\">likely: <code>{}</code> {}</p>",
                    breakable(&suspect.name),
                    escape(&version_change(suspect.from.as_deref(), suspect.to.as_deref()))
                );
            }
            None if packages_read => {
                out.push_str(
                    "<p class=\"likely none\">likely cause: nothing in the failure points at a changed package</p>\n",
                );
            }
            None => {}
        }
    }
    let _ = writeln!(
        out,
        "<p class=\"attempts\">candidate: {} · stable: {}</p>",
        escape(&attempts(&entry.candidate)),
        if entry.incumbent.is_empty() { "—".to_owned() } else { escape(&attempts(&entry.incumbent)) },
    );
    let message = entry
        .message
        .as_deref()
        .and_then(|message| message_excerpt(message, MESSAGE_LINES, MESSAGE_CHARACTERS))
        .map(|excerpt| format!("<pre>{}</pre>\n", escape(&excerpt)));
    let fold_message = css_class != "regression";
    let summary = if entry.suspects.is_empty() {
        if fold_message && message.is_some() { "Why, and the failure message" } else { "Why" }
    } else {
        "Evidence"
    };
    let _ = writeln!(out, "<details><summary>{summary}</summary>\n<p class=\"reason\">{}</p>", escape(&entry.reason));
    suspects(out, entry);
    if fold_message && let Some(message) = &message {
        out.push_str(message);
    }
    out.push_str("</details>\n");
    if !fold_message && let Some(message) = &message {
        out.push_str(message);
    }
    out.push_str("</article>\n");
}

/// A regression's likely causes, likeliest first, each with what points at it.
fn suspects(out: &mut String, entry: &TestEntry) {
    if entry.suspects.is_empty() {
        return;
    }
    out.push_str("<ul class=\"suspects\">");
    for (rank, suspect) in entry.suspects.iter().enumerate() {
        let evidence = if suspect.evidence.trim().is_empty() {
            String::new()
        } else {
            format!(": <span class=\"muted\">{}</span>", escape(&suspect.evidence))
        };
        let _ = write!(
            out,
            "<li>{}: <code>{}</code> {} <span class=\"muted\">({})</span>{evidence}</li>",
            if rank == 0 { "likely" } else { "also" },
            breakable(&suspect.name),
            escape(&version_change(suspect.from.as_deref(), suspect.to.as_deref())),
            escape(&suspect.ecosystem)
        );
    }
    out.push_str("</ul>\n");
}

fn packages(out: &mut String, diff: &PackageDiff) {
    let _ = writeln!(
        out,
        "<h3>Packages, stable → candidate</h3>\n<p>{} changed, {} added, {} removed{}</p>",
        diff.changed.len(),
        diff.added.len(),
        diff.removed.len(),
        if diff.totals.is_empty() {
            String::new()
        } else {
            let totals: Vec<String> = diff
                .totals
                .iter()
                .map(|(ecosystem, [stable, candidate])| format!("{} {stable} → {candidate}", escape(ecosystem)))
                .collect();
            format!(" <span class=\"muted\">· packages in each image: {}</span>", totals.join(", "))
        }
    );
    for warning in &diff.warnings {
        let _ = writeln!(out, "<p class=\"callout\">{}</p>", prose(warning));
    }
    if !diff.changed.is_empty() {
        let with_location = diff.changed.iter().any(|change| !change.location.trim().is_empty());
        let _ = writeln!(
            out,
            "<h4>Changed ({})</h4>\n<div class=\"scroll\">\n<table class=\"packages\">\n<thead><tr><th>Package</th>\
             <th>Ecosystem</th><th>Stable</th><th>Candidate</th><th>Direction</th>{}</tr></thead>\n<tbody>",
            diff.changed.len(),
            if with_location { "<th>Location</th>" } else { "" }
        );
        for change in &diff.changed {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td>\
                 <td>{} {}</td>{}</tr>",
                escape(&change.name),
                escape(&change.ecosystem),
                escape(change.from.as_deref().unwrap_or("—")),
                escape(change.to.as_deref().unwrap_or("—")),
                direction_mark(&change.direction),
                escape(&change.direction),
                location_cell(change, with_location)
            );
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
    }
    for (title, changes, version_of) in [
        ("Added", &diff.added, (|change: &PackageChange| change.to.clone()) as fn(&PackageChange) -> Option<String>),
        ("Removed", &diff.removed, |change: &PackageChange| change.from.clone()),
    ] {
        if changes.is_empty() {
            continue;
        }
        let with_location = changes.iter().any(|change| !change.location.trim().is_empty());
        let _ = writeln!(
            out,
            "<h4>{title} ({})</h4>\n<div class=\"scroll\">\n<table class=\"packages\">\n<thead><tr><th>Package</th>\
             <th>Ecosystem</th><th>Version</th>{}</tr></thead>\n<tbody>",
            changes.len(),
            if with_location { "<th>Location</th>" } else { "" }
        );
        for change in changes {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td>{}</tr>",
                escape(&change.name),
                escape(&change.ecosystem),
                escape(version_of(change).as_deref().unwrap_or("—")),
                location_cell(change, with_location)
            );
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
    }
}

fn location_cell(change: &PackageChange, with_location: bool) -> String {
    match (with_location, change.location.trim().is_empty()) {
        (false, _) => String::new(),
        (true, true) => "<td></td>".to_owned(),
        (true, false) => format!("<td><code class=\"path\">{}</code></td>", breakable(&change.location)),
    }
}

/// The suite runs, then the last lines of each one's output: the log files stay on the
/// machine that ran the gate, so the report carries what a reader needs of them.
fn runs_table(out: &mut String, report: &GateReport, anchor: &str) {
    if report.runs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h3 id=\"{anchor}-runs\">Suite runs</h3>\n<div class=\"scroll\">\n<table class=\"runs\">\n<thead><tr>\
         <th>Image</th><th>Purpose</th><th class=\"number\">Exit status</th><th class=\"number\">Duration</th>\
         <th class=\"number\">Tests</th></tr></thead>\n<tbody>"
    );
    for run in &report.runs {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"number\">{}</td><td class=\"number\">{:.1} s</td>\
             <td class=\"number\">{}</td></tr>",
            escape(&run.image),
            escape(&run.purpose),
            exit_status(run),
            run.duration_seconds,
            run.tests,
        );
    }
    out.push_str("</tbody>\n</table>\n</div>\n<p class=\"muted\">Exit statuses are shown for information: the verdict rests on the results.</p>\n");
    for run in &report.runs {
        let Some(tail) = run.output_tail.as_deref().filter(|tail| !tail.trim().is_empty()) else { continue };
        let _ = writeln!(
            out,
            "<details class=\"output\"><summary>Last lines of the {} {} run <span class=\"muted\">({})</span></summary>\n\
             <pre>{}</pre>\n</details>",
            escape(&run.image),
            escape(&run.purpose),
            exit_status(run),
            escape(tail.trim_matches('\n'))
        );
    }
}

fn exit_status(run: &imagegate_contract::RunSummary) -> String {
    match (run.timed_out, run.exit_code) {
        (true, _) => "timed out".to_owned(),
        (false, Some(code)) => format!("exit {code}"),
        (false, None) => "killed".to_owned(),
    }
}

fn badge(decision: Decision) -> String {
    let word = decision.as_str();
    format!("<span class=\"badge {word}\">{word}</span>")
}

/// A fragment id for image number `index` (names may repeat or hold any character).
fn anchor(index: usize, image: &str) -> String {
    let slug: String =
        image.chars().map(|character| if character.is_ascii_alphanumeric() { character } else { '-' }).collect();
    format!("image-{}-{slug}", index + 1)
}

/// `text` cleaned and escaped for element content and double- or single-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in clean(text).chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            character => out.push(character),
        }
    }
    out
}

/// `text` escaped, with a line-break opportunity after each separator of an id or a path
/// (`.`, `/`, `:`, `_`, `-`, `[`, `,`), so that a long test id wraps between its parts rather
/// than mid-word. A part longer than the line still breaks (`overflow-wrap: break-word`).
fn breakable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let text = clean(text);
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        out.push_str(&escape(character.encode_utf8(&mut [0; 4])));
        let separator = matches!(character, '.' | '/' | ':' | '_' | '-' | '[' | ',');
        // Never between the two colons of `::`, nor at the very end.
        if separator && characters.peek().is_some_and(|next| *next != character) {
            out.push_str("<wbr>");
        }
    }
    out
}

/// imagegate's own prose, with the parts it quotes in backticks as `<code>`.
fn prose(text: &str) -> String {
    prose_parts(text)
        .into_iter()
        .map(|(is_code, part)| if is_code { format!("<code>{}</code>", escape(part)) } else { escape(part) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn snapshot_run() {
        insta::assert_snapshot!(gate_html(&[
            fixtures::regression(),
            fixtures::pass_with_flaky_and_fixed(),
            fixtures::error(),
            fixtures::bootstrap(),
        ]));
    }

    #[test]
    fn snapshot_hostile_output() {
        insta::assert_snapshot!(gate_html(&[fixtures::hostile()]));
    }

    #[test]
    fn a_test_named_like_a_script_tag_is_shown_as_text() {
        let mut report = fixtures::regression();
        report.regressions[0].id = "<script>alert(1)</script>".to_owned();
        let html = gate_html(&[report]);
        assert!(!html.contains("<script"), "no script element");
        assert!(html.replace("<wbr>", "").contains("<code class=\"id\">&lt;script&gt;alert(1)&lt;/script&gt;</code>"));
    }

    #[test]
    fn hostile_output_adds_no_markup() {
        let html = gate_html(&[fixtures::hostile()]);
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<b>"));
        assert!(html.contains("&lt;img src=x onerror=&quot;document.title=&#39;EXEC&#39;+&#39;UTED&#39;&quot;&gt;"));
        assert!(!html.contains('\u{1b}') && !html.contains('\u{0}'));
        // The only elements are the report's own.
        let tags: std::collections::BTreeSet<String> = html
            .split('<')
            .skip(1)
            .map(|rest| rest.split([' ', '>', '\n']).next().unwrap_or_default().trim_start_matches('/').to_owned())
            .collect();
        let expected = [
            "!DOCTYPE", "a", "article", "br", "code", "dd", "details", "div", "dl", "dt", "h1", "h2", "h3", "h4",
            "head", "header", "html", "li", "meta", "p", "pre", "section", "span", "strong", "style", "summary",
            "table", "tbody", "td", "th", "thead", "title", "tr", "ul", "wbr", "body",
        ];
        for tag in &tags {
            assert!(expected.contains(&tag.as_str()), "unexpected element <{tag}>");
        }
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = gate_html(&[fixtures::regression()]);
        // The fixture's messages quote URLs as text; none may be loaded.
        for external in ["src=", "<link", "@import", "url(", "<script", "<iframe", "<object"] {
            assert!(!html.contains(external), "{external}");
        }
        // Links to the provider's pages are followed only when clicked; nothing else points out.
        for (index, _) in html.match_indices("href=\"http") {
            assert!(html[..index].ends_with("<a "), "{}", &html[index.saturating_sub(40)..index + 40]);
        }
        assert!(html.contains("<a href=\"https://github.com/acme/web/actions/runs/7001\">GitHub Actions run</a>"));
        assert!(html.contains("<meta name=\"color-scheme\" content=\"light dark\">"));
    }

    #[test]
    fn regressions_come_first_in_the_tests_table() {
        let html = gate_html(&[fixtures::regression()]);
        let position = |needle: &str| html.find(needle).unwrap_or(usize::MAX);
        assert!(position("test_login_redirects_to_next") < position("test_expiry_after_ttl"));
        assert!(position("test_session_cookie_is_secure") < position("test_send_mail_smtp"));
        assert!(html.contains("likely: <code>werkzeug</code> 2.2.3 → 2.3.0"));
    }

    #[test]
    fn only_web_addresses_from_the_ci_environment_become_links() {
        let mut report = fixtures::regression();
        if let Some(links) = report.links.as_mut() {
            links.commit_url = Some("javascript:alert(1)".to_owned());
            links.run_url = Some("data:text/html,<b>x</b>".to_owned());
        }
        let html = gate_html(&[report]);
        assert!(!html.contains("javascript:") && !html.contains("data:text"), "no such link");
        assert!(html.contains("<dt>CI run</dt><dd>GitHub Actions run</dd>"));
    }

    #[test]
    fn anchors_are_unique_and_plain() {
        assert_eq!(anchor(0, "web"), "image-1-web");
        assert_eq!(anchor(1, "a b\"<"), "image-2-a-b--");
    }
}
