//! The gate's own verdict as JUnit XML, so that any CI shows it the way it shows tests.
//!
//! Each image is a `<testsuite name="imagegate: IMAGE">`. Its first case, `verdict`, fails when
//! the decision is `regression` (a `<failure>`) or `error` (an `<error>`). Then one case per
//! listed test, classname `imagegate.IMAGE`, name the test id: regressions fail with their
//! message; flaky, pre-existing and fixed tests pass with a note in `<system-out>`. Pre-existing
//! failures pass on purpose: they fail in the stable image too, so they are not the candidate's
//! fault and must not turn the CI's view of the candidate red.
//!
//! Text from test output is cleaned of characters XML 1.0 does not allow (see `text.rs`) and
//! escaped, so the document always parses.

use std::fmt::Write;

use imagegate_contract::{Decision, GateReport, TestEntry};

use crate::text::{clean, one_line, shorten};
use crate::{attempts, promotion_word, version_change};

/// The most characters of a `message` attribute: CIs show it on one line.
const MESSAGE_ATTRIBUTE_CHARACTERS: usize = 500;

/// The JUnit XML document of a run: one test suite per image.
pub fn gate_junit(reports: &[GateReport]) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for report in reports {
        let suite = Suite::of(report);
        tests += suite.tests;
        failures += suite.failures;
        errors += suite.errors;
        suites.push_str(&suite.xml);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"imagegate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n\
         {suites}</testsuites>\n"
    )
}

/// One image's suite, with the counts its parent element sums.
struct Suite {
    xml: String,
    tests: usize,
    failures: usize,
    errors: usize,
}

impl Suite {
    fn of(report: &GateReport) -> Suite {
        let classname = attribute(&format!("imagegate.{}", report.image));
        let mut cases = String::new();
        verdict_case(&mut cases, report, &classname);
        for entry in &report.regressions {
            regression_case(&mut cases, entry, &classname);
        }
        let notes = [
            ("flaky, not blocking", &report.flaky),
            ("pre-existing failure, not blocking: it fails in the stable image too", &report.preexisting),
            ("fixed: fails in the stable image, passes in the candidate", &report.fixed),
        ];
        for (note, entries) in notes {
            for entry in entries {
                passing_case(&mut cases, entry, &classname, note);
            }
        }

        let tests = 1 + report.regressions.len() + report.flaky.len() + report.preexisting.len() + report.fixed.len();
        let failures = report.regressions.len() + usize::from(report.decision == Decision::Regression);
        let errors = usize::from(report.decision == Decision::Error);
        let seconds: f64 = report.runs.iter().map(|run| run.duration_seconds).sum();
        let mut xml = format!(
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" \
             time=\"{seconds:.3}\">\n",
            attribute(&format!("imagegate: {}", report.image))
        );
        properties(&mut xml, report);
        xml.push_str(&cases);
        xml.push_str("  </testsuite>\n");
        Suite { xml, tests, failures, errors }
    }
}

/// What the suite is about, for CIs that show properties: the images, the commit, the outcome.
fn properties(out: &mut String, report: &GateReport) {
    let mut properties: Vec<(&str, String)> = vec![
        ("decision", report.decision.as_str().to_owned()),
        ("candidate", report.candidate.digest.clone()),
        ("candidate.reference", report.candidate.reference.clone()),
        ("stable_tag", report.stable_tag.clone()),
        ("commit", report.commit.clone()),
        ("engine", report.engine.clone()),
    ];
    if let Some(incumbent) = &report.incumbent {
        properties.insert(3, ("stable", incumbent.digest.clone()));
    }
    if let Some(branch) = &report.branch {
        properties.push(("branch", branch.clone()));
    }
    if let Some(verdict_id) = report.verdict_id {
        properties.push(("verdict_id", verdict_id.to_string()));
    }
    if let Some(promotion) = &report.promotion {
        properties.push(("promotion", promotion_word(promotion.status).to_owned()));
    }
    out.push_str("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", attribute(&value));
    }
    out.push_str("    </properties>\n");
}

/// The case that carries the decision itself.
fn verdict_case(out: &mut String, report: &GateReport, classname: &str) {
    let _ = write!(out, "    <testcase classname=\"{classname}\" name=\"verdict\">");
    let summary = one_line(&report.summary);
    let mut details = summary.clone();
    match report.decision {
        Decision::Pass => {
            if let Some(promotion) = &report.promotion {
                let _ = write!(details, "\npromotion: {}: {}", promotion_word(promotion.status), promotion.message);
            }
            let _ = write!(out, "\n      <system-out>{}</system-out>\n    ", text(&details));
        }
        Decision::Regression => {
            details.push_str("\n\nregressions:");
            for entry in &report.regressions {
                let _ = write!(details, "\n  {}", entry.id);
            }
            let _ = write!(
                out,
                "\n      <failure type=\"regression\" message=\"{}\">{}</failure>\n    ",
                attribute(&shorten(&summary, MESSAGE_ATTRIBUTE_CHARACTERS)),
                text(&details)
            );
        }
        Decision::Error => {
            details.push_str("\n\nno verdict could be reached:");
            for error in &report.errors {
                let _ = write!(details, "\n  {error}");
            }
            for (label, tail, _) in crate::text::output_tails(report) {
                let _ = write!(details, "\n\nlast lines of the {label}:\n{tail}");
            }
            let _ = write!(
                out,
                "\n      <error type=\"error\" message=\"{}\">{}</error>\n    ",
                attribute(&shorten(&summary, MESSAGE_ATTRIBUTE_CHARACTERS)),
                text(&details)
            );
        }
    }
    out.push_str("</testcase>\n");
}

/// What the gate knows about one test, as the text of its element: why it is listed, its
/// attempts in each image, suspects, then its failure message.
fn details(entry: &TestEntry) -> String {
    let mut details = format!(
        "why: {}\ncandidate: {}\nstable: {}",
        entry.reason,
        attempts(&entry.candidate),
        if entry.incumbent.is_empty() { "—".to_owned() } else { attempts(&entry.incumbent) }
    );
    for (rank, suspect) in entry.suspects.iter().enumerate() {
        let _ = write!(
            details,
            "\n{}: {} {} {}{}",
            if rank == 0 { "likely" } else { "also" },
            suspect.ecosystem,
            suspect.name,
            version_change(suspect.from.as_deref(), suspect.to.as_deref()),
            if suspect.evidence.is_empty() { String::new() } else { format!(" ({})", suspect.evidence) }
        );
    }
    if let Some(message) = entry.message.as_deref().filter(|message| !message.trim().is_empty()) {
        details.push_str("\n\n");
        details.push_str(message.trim_end());
    }
    details
}

/// The line of a failure message that names the failure: the exception line of a Python
/// traceback (its first line only says a traceback follows), else the first non-blank line.
fn headline(message: &str) -> Option<String> {
    let message = clean(message);
    let mut lines = message.lines().filter(|line| !line.trim().is_empty());
    let first = lines.next()?;
    if first.starts_with("Traceback (most recent call last)")
        && let Some(exception) = lines.find(|line| !line.starts_with(char::is_whitespace))
    {
        return Some(exception.trim().to_owned());
    }
    Some(first.trim().to_owned())
}

fn regression_case(out: &mut String, entry: &TestEntry, classname: &str) {
    let message = entry.message.as_deref().and_then(headline).unwrap_or_else(|| entry.reason.clone());
    let _ = write!(
        out,
        "    <testcase classname=\"{classname}\" name=\"{}\">\n      \
         <failure type=\"regression\" message=\"{}\">{}</failure>\n    </testcase>\n",
        attribute(&entry.id),
        attribute(&shorten(&message, MESSAGE_ATTRIBUTE_CHARACTERS)),
        text(&details(entry))
    );
}

fn passing_case(out: &mut String, entry: &TestEntry, classname: &str, note: &str) {
    let _ = write!(
        out,
        "    <testcase classname=\"{classname}\" name=\"{}\">\n      <system-out>{}</system-out>\n    </testcase>\n",
        attribute(&entry.id),
        text(&format!("{note}\n{}", details(entry)))
    );
}

/// `value` cleaned and escaped for a double-quoted attribute. Line breaks and tabs become
/// character references, which XML keeps (a literal one is normalised to a space).
fn attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for character in clean(value).chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            character => out.push(character),
        }
    }
    out
}

/// `value` cleaned and escaped for element content.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for character in clean(value).chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            // `]]>` may not appear in content; escaping every `>` covers it.
            '>' => out.push_str("&gt;"),
            character => out.push(character),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use imagegate_results::{Outcome, TestId, parse_junit};

    use super::*;
    use crate::fixtures;

    fn all_fixtures() -> Vec<GateReport> {
        vec![fixtures::regression(), fixtures::pass_with_flaky_and_fixed(), fixtures::error(), fixtures::bootstrap()]
    }

    #[test]
    fn snapshot_run() {
        insta::assert_snapshot!(gate_junit(&all_fixtures()));
    }

    #[test]
    fn snapshot_hostile_output() {
        insta::assert_snapshot!(gate_junit(&[fixtures::hostile()]));
    }

    #[test]
    fn parses_back_with_one_case_per_listed_test_and_a_verdict_per_image() {
        let reports = all_fixtures();
        let xml = gate_junit(&reports);
        let results = parse_junit("gate.xml", xml.as_bytes()).expect("the gate's JUnit parses");
        assert!(results.is_complete());
        let listed: usize = reports
            .iter()
            .map(|report| report.regressions.len() + report.flaky.len() + report.preexisting.len() + report.fixed.len())
            .sum();
        let counts = results.counts();
        assert_eq!(counts.tests, listed + reports.len());
        // Two regressions and the regression verdict fail; the error verdict errs; all else passes.
        assert_eq!(counts.failed, 3);
        assert_eq!(counts.errors, 1);
        assert_eq!(counts.passed, counts.tests - 4);
        assert_eq!(counts.skipped, 0);
    }

    #[test]
    fn regressions_fail_with_their_message_and_preexisting_failures_pass() {
        let xml = gate_junit(&[fixtures::regression()]);
        let results = parse_junit("gate.xml", xml.as_bytes()).expect("parses");
        let outcome = |id: &str| results.get(&TestId::new(id)).map(|result| result.final_outcome());
        assert_eq!(outcome("imagegate.web.verdict"), Some(Outcome::Fail));
        assert_eq!(
            outcome("imagegate.web.tests.test_auth.LoginTests.test_login_redirects_to_next"),
            Some(Outcome::Fail)
        );
        assert_eq!(outcome("imagegate.web.tests.test_mail.test_send_mail_smtp"), Some(Outcome::Pass));
        assert_eq!(outcome("imagegate.web.tests.test_cache.test_expiry_after_ttl"), Some(Outcome::Pass));
        let session = results
            .get(&TestId::new("imagegate.web.tests.test_session.test_session_cookie_is_secure"))
            .expect("listed");
        assert_eq!(
            session.failure_message(),
            Some(
                "ImportError: cannot import name 'url_quote' from 'werkzeug.urls' \
                 (/usr/local/lib/python3.11/site-packages/werkzeug/urls.py)"
            )
        );
        let output = session.attempts[0].output.as_deref().unwrap_or_default();
        assert!(output.contains("likely: python werkzeug 2.2.3 → 2.3.0 (ImportError from werkzeug.urls)"), "{output}");
    }

    #[test]
    fn a_passing_verdict_passes() {
        let xml = gate_junit(&[fixtures::bootstrap()]);
        let results = parse_junit("gate.xml", xml.as_bytes()).expect("parses");
        assert_eq!(results.len(), 1);
        assert_eq!(results.counts().passed, 1);
    }

    #[test]
    fn hostile_output_is_escaped_and_the_document_still_parses() {
        let report = fixtures::hostile();
        let xml = gate_junit(std::slice::from_ref(&report));
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}') && !xml.contains('\u{fffe}'));
        assert!(!xml.contains("<script>") && !xml.contains("<img"));
        let results = parse_junit("gate.xml", xml.as_bytes()).expect("parses");
        assert!(results.is_complete());
        assert_eq!(results.len(), 1 + 2 + 2 + 1);
        let script = results.get(&TestId::new("imagegate.web.tests.<script>alert(1)</script>")).expect("kept as text");
        assert_eq!(script.final_outcome(), Outcome::Pass);
        let session = results
            .get(&TestId::new("imagegate.web.tests.test_session.test_session_cookie_is_secure"))
            .expect("listed");
        let output = session.attempts[0].output.as_deref().unwrap_or_default();
        assert!(output.contains("<script>document.body.setAttribute"), "{output}");
        assert!(output.contains("red bell\u{fffd} nul\u{fffd}") && !output.contains("retitled"), "{output}");
    }

    #[test]
    fn the_headline_of_a_traceback_is_its_exception() {
        assert_eq!(
            headline(fixtures::LOGIN_TRACEBACK).as_deref(),
            Some("AssertionError: 'http://localhost/dashboard' != '/dashboard'")
        );
        assert_eq!(headline("\n  expected 1, got 2\nmore").as_deref(), Some("expected 1, got 2"));
        assert_eq!(headline(" \n"), None);
    }

    #[test]
    fn attributes_keep_line_breaks_and_escape_quotes() {
        assert_eq!(attribute("a \"b\"\n<c>&\u{0}"), "a &quot;b&quot;&#10;&lt;c&gt;&amp;\u{fffd}");
        assert_eq!(text("]]> & <"), "]]&gt; &amp; &lt;");
    }

    #[test]
    fn an_empty_run_is_an_empty_document() {
        let xml = gate_junit(&[]);
        assert!(xml.contains("<testsuites name=\"imagegate\" tests=\"0\" failures=\"0\" errors=\"0\">"));
        assert_eq!(parse_junit("gate.xml", xml.as_bytes()).map(|results| results.len()), Ok(0));
    }
}
