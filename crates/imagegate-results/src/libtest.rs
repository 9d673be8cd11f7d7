//! The libtest JSON reader: recognises the JSON event streams of Rust's test harness
//! (`cargo test -- -Z unstable-options --format json --report-time`) and of cargo-nextest
//! (`cargo nextest run --message-format libtest-json`, or `libtest-json-plus`) by content, and
//! reads them into a [`ResultSet`].
//!
//! Each line is one JSON object: `{ "type": "suite", "event": "started", "test_count": 2 }`,
//! `{ "type": "test", "event": "started", "name": "tests::a" }`, a test's final event (`ok`,
//! `failed`, `ignored`) with its `exec_time` and captured `stdout`, and the suite's own final
//! event (`ok` or `failed`, with counts). What this reader takes from them:
//!
//! - a test's id is its `name` as the writer prints it. libtest prints the test's path in its
//!   crate (`tests::parses_empty_input`), with no crate or binary, so the same name in two test
//!   binaries of one `cargo test` run is one test with two attempts. nextest already prints a
//!   unique id, `<binary id>$<test path>` (`shapes::integration$big_area`, the lib target's
//!   binary id being the crate's name: `shapes::shapes$tests::area`); its `nextest` object
//!   (libtest-json-plus) says nothing the name does not, and is ignored;
//! - `ok` is [`Outcome::Pass`], `failed` [`Outcome::Fail`], `ignored` [`Outcome::Skip`] (its
//!   message the `#[ignore = "reason"]`), the old `allowed_fail` [`Outcome::Xfail`], and a
//!   `bench` line a pass. `exec_time` (seconds; older toolchains wrote `"0.001s"`) is the
//!   duration;
//! - a failure's message is the event's `message` (`test did not panic as expected`) or
//!   `reason` (`time limit exceeded`), else the `thread '…' panicked at file:line:column:` line
//!   of its stdout joined with the panic message on the line after it; its output is the
//!   captured stdout (at most [`MAX_OUTPUT_BYTES`]);
//! - nextest retries a failing test and reports only its last try, naming it `name#N` for the
//!   Nth: that is read as N−1 failed attempts ([`RETRIED_MESSAGE`]) and then the last one, all
//!   under the plain name, as nextest only retries a test that failed.
//!
//! A run that ends early is never read as complete: a test started but never finished (the test
//! binary aborted or was killed) is an [`Outcome::Error`] with the message
//! [`UNFINISHED_MESSAGE`], and a suite started without its final event, or a half-written last
//! line, marks the set incomplete. Lines that are not JSON (a test printing with
//! `--nocapture`, cargo's own messages when stderr was captured too) are skipped; a
//! `"type": "test"` or `"suite"` object whose fields have the wrong types is a [`ParseError`]
//! located as `line:column`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::junit::{BoundedText, MAX_OUTPUT_BYTES};
use crate::lines::{bounded_message, character_column, is_event_stream, json_error_message};
use crate::{Attempt, Outcome, ParseError, ResultSet, TestId};

/// The message of a test that started and never finished.
pub const UNFINISHED_MESSAGE: &str = "no result: the test binary stopped while the test was running";

/// The message of each earlier try of a test nextest retried, which its libtest output does not
/// describe beyond the fact that it failed.
pub const RETRIED_MESSAGE: &str = "failed, then retried (nextest reports only the last try)";

/// The most tries read from a nextest `name#N`: nextest's own retry limit is far below, and a
/// bound keeps a forged name from making millions of attempts.
const MAX_TRIES: u32 = 100;

/// One libtest event, as far as this reader cares. Unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// Seconds as a number, or as `"0.001s"` from older toolchains.
    #[serde(default)]
    exec_time: Option<serde_json::Value>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// The `type`s this reader knows; other objects are not libtest events.
const KNOWN_TYPES: &[&str] = &["suite", "test", "bench"];

enum Parsed {
    Event(Event),
    Other,
    Malformed { column: usize, message: String },
}

fn parse_line(line: &str) -> Parsed {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return Parsed::Other;
    }
    match serde_json::from_str::<Event>(trimmed) {
        Ok(event) if KNOWN_TYPES.contains(&event.kind.as_str()) => Parsed::Event(event),
        Ok(_) => Parsed::Other,
        Err(error) => {
            let is_event = serde_json::from_str::<serde_json::Value>(trimmed).is_ok_and(|value| {
                value.get("type").and_then(serde_json::Value::as_str).is_some_and(|kind| KNOWN_TYPES.contains(&kind))
            });
            if !is_event {
                return Parsed::Other;
            }
            let leading = line.len() - line.trim_start().len();
            Parsed::Malformed {
                column: leading + character_column(trimmed, error.column()),
                message: json_error_message(&error.to_string()),
            }
        }
    }
}

/// True when `bytes` is libtest or nextest JSON: at least one line is a `suite` or `test` event
/// (a `"type"` and an `"event"`), and no more than half of the non-blank lines are anything
/// else. A file that opens like an XML document is never one, whatever its text holds.
pub fn looks_like_libtest_json(bytes: &[u8]) -> bool {
    is_event_stream(bytes, is_libtest_event, crate::gotest::is_go_test_event)
}

/// Whether `line` is a libtest `suite` or `test` event (or a `bench` line).
pub(crate) fn is_libtest_event(line: &str) -> bool {
    matches!(parse_line(line), Parsed::Event(event) if event.event.is_some() || event.kind == "bench")
}

/// Reads libtest or nextest JSON. `source_name` names the file in errors and incomplete marks.
///
/// See the module documentation for ids, outcomes, retries and cut-off runs.
pub fn parse_libtest_json(source_name: &str, bytes: &[u8]) -> Result<ResultSet, ParseError> {
    let text = crate::lines::escape_invalid_utf8(bytes);
    let mut reader = LibtestReader { results: ResultSet::new(), running: BTreeMap::new(), open_suites: 0 };
    let mut lines = text.split('\n').enumerate().peekable();
    let mut events = 0usize;
    while let Some((index, line)) = lines.next() {
        let is_last = lines.peek().is_none();
        match parse_line(line) {
            Parsed::Event(event) => {
                events += 1;
                reader.event(event);
            }
            Parsed::Malformed { column, message } => {
                return Err(ParseError {
                    source_name: source_name.to_owned(),
                    location: format!("{}:{column}", index + 1),
                    message,
                });
            }
            Parsed::Other if is_last && line.trim_start().starts_with('{') => {
                reader.results.mark_incomplete(
                    source_name,
                    format!("truncated at line {}: the last event is cut off", index + 1),
                );
            }
            Parsed::Other => {}
        }
    }
    if events == 0 && !text.trim().is_empty() {
        return Err(ParseError {
            source_name: source_name.to_owned(),
            location: "1:1".to_owned(),
            message: "no line is a libtest JSON event".to_owned(),
        });
    }
    Ok(reader.finish(source_name))
}

struct LibtestReader {
    results: ResultSet,
    /// Tests started and not finished, with the order they started in.
    running: BTreeMap<String, usize>,
    open_suites: usize,
}

impl LibtestReader {
    fn event(&mut self, event: Event) {
        let action = event.event.as_deref().unwrap_or_default();
        if event.kind == "suite" {
            match action {
                "started" => self.open_suites += 1,
                "ok" | "failed" => self.open_suites = self.open_suites.saturating_sub(1),
                _ => {}
            }
            return;
        }
        let Some(name) = event.name.as_deref() else { return };
        if event.kind == "bench" {
            let mut attempt = Attempt::new(Outcome::Pass);
            attempt.duration = exec_time(event.exec_time.as_ref());
            self.results.report(TestId::new(name), attempt);
            return;
        }
        let outcome = match action {
            "started" => {
                let order = self.running.len();
                self.running.insert(name.to_owned(), order);
                return;
            }
            "ok" => Outcome::Pass,
            "failed" => Outcome::Fail,
            "ignored" => Outcome::Skip,
            "allowed_fail" => Outcome::Xfail,
            // `timeout` warns that a test runs long; it goes on running.
            _ => return,
        };
        let (name, tries) = self.split_retry(name);
        self.running.remove(&name);

        let stdout = event.stdout.as_deref().unwrap_or_default();
        let message = match outcome {
            Outcome::Fail => event
                .message
                .as_deref()
                .or(event.reason.as_deref())
                .map(bounded_message)
                .or_else(|| panic_message(stdout)),
            Outcome::Skip => event.message.as_deref().filter(|message| !message.is_empty()).map(bounded_message),
            _ => event.message.as_deref().map(bounded_message),
        };
        let mut output = BoundedText::new(MAX_OUTPUT_BYTES);
        output.push(stdout);
        let attempt =
            Attempt { outcome, duration: exec_time(event.exec_time.as_ref()), message, output: output.finish() };

        // The tries nextest made before this one failed: one report with its retries.
        let mut attempts: Vec<Attempt> = (1..tries)
            .map(|_| Attempt { message: Some(RETRIED_MESSAGE.to_owned()), ..Attempt::new(Outcome::Fail) })
            .collect();
        attempts.push(attempt);
        self.results.report_attempts(TestId::new(name), attempts);
    }

    /// Splits nextest's `name#N` (the Nth try of `name`) when `name` is the test that started;
    /// any other name is one try of itself.
    fn split_retry(&self, name: &str) -> (String, u32) {
        if !self.running.contains_key(name)
            && let Some((base, tries)) = name.rsplit_once('#')
        {
            let tries = tries.parse::<u32>().ok().filter(|tries| *tries >= 2);
            if let Some(tries) = tries.filter(|_| self.running.contains_key(base)) {
                return (base.to_owned(), tries.min(MAX_TRIES));
            }
        }
        (name.to_owned(), 1)
    }

    fn finish(mut self, source_name: &str) -> ResultSet {
        let mut unfinished: Vec<(String, usize)> = std::mem::take(&mut self.running).into_iter().collect();
        unfinished.sort_by_key(|(_, order)| *order);
        for (name, _) in &unfinished {
            let mut attempt = Attempt::new(Outcome::Error);
            attempt.message = Some(UNFINISHED_MESSAGE.to_owned());
            self.results.report(TestId::new(name.as_str()), attempt);
        }
        if self.open_suites > 0 || !unfinished.is_empty() {
            let suites = match self.open_suites {
                0 => "every test suite finished".to_owned(),
                1 => "a test suite started and never finished".to_owned(),
                count => format!("{count} test suites started and never finished"),
            };
            let tests = match unfinished.as_slice() {
                [] => String::new(),
                [(name, _)] => format!("; {name} was still running"),
                [(name, _), rest @ ..] => format!("; {name} and {} more were still running", rest.len()),
            };
            self.results.mark_incomplete(
                source_name,
                format!("truncated: {suites}{tests} (the test binary crashed or its output was cut off)"),
            );
        }
        self.results
    }
}

/// Seconds from `exec_time`: a number, or a string such as `"0.001s"`.
fn exec_time(value: Option<&serde_json::Value>) -> Option<Duration> {
    let seconds = match value? {
        serde_json::Value::Number(number) => number.as_f64()?,
        serde_json::Value::String(text) => text.trim().trim_end_matches('s').parse().ok()?,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// The panic in captured stdout: `thread 'name' panicked at file:line:column:` (or
/// `thread 'name' (id) panicked at …`) and the panic message on the next line, as Rust 1.73 and
/// later print it, or the one-line form before that.
fn panic_message(stdout: &str) -> Option<String> {
    let mut lines = stdout.lines().map(str::trim);
    // Newer toolchains put the thread's id between its name and `panicked`.
    let panicked = lines.find(|line| line.starts_with("thread '") && line.contains(" panicked at "))?;
    let message = if panicked.ends_with(':') {
        match lines.find(|line| !line.is_empty()) {
            Some(panic_message) => format!("{panicked} {panic_message}"),
            None => panicked.to_owned(),
        }
    } else {
        panicked.to_owned()
    };
    Some(bounded_message(&message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ResultSet {
        parse_libtest_json("libtest.json", text.as_bytes()).expect("the stream should parse")
    }

    fn only_attempt<'a>(results: &'a ResultSet, id: &str) -> &'a Attempt {
        let result = results
            .get(&TestId::new(id))
            .unwrap_or_else(|| panic!("{id} should be recorded: {:?}", results.ids().collect::<Vec<_>>()));
        assert_eq!(result.attempts.len(), 1, "{id}");
        &result.attempts[0]
    }

    fn reasons(results: &ResultSet) -> Vec<&str> {
        results.incomplete.iter().map(|incomplete| incomplete.reason.as_str()).collect()
    }

    const CARGO_TEST: &str = r#"{ "type": "suite", "event": "started", "test_count": 4 }
{ "type": "test", "event": "started", "name": "tests::a" }
{ "type": "test", "event": "started", "name": "tests::b" }
{ "type": "test", "name": "tests::a", "event": "ok", "exec_time": 0.5 }
{ "type": "test", "name": "tests::b", "event": "failed", "exec_time": 0.25, "stdout": "checking\n\nthread 'tests::b' (4242) panicked at src/lib.rs:21:9:\nassertion `left == right` failed: sums\n  left: 9\n right: 14\n" }
{ "type": "test", "event": "started", "name": "tests::c" }
{ "type": "test", "name": "tests::c", "event": "ignored", "message": "needs a GPU" }
{ "type": "test", "event": "started", "name": "tests::d" }
{ "type": "test", "name": "tests::d", "event": "failed", "exec_time": "0.010s", "message": "test did not panic as expected" }
{ "type": "suite", "event": "failed", "passed": 1, "failed": 2, "ignored": 1, "measured": 0, "filtered_out": 0, "exec_time": 0.5 }
"#;

    #[test]
    fn reads_a_cargo_test_run() {
        let results = parse(CARGO_TEST);
        assert!(results.is_complete(), "{:?}", results.incomplete);
        let passed = only_attempt(&results, "tests::a");
        assert_eq!((passed.outcome, passed.duration), (Outcome::Pass, Some(Duration::from_millis(500))));
        let failed = only_attempt(&results, "tests::b");
        assert_eq!(failed.outcome, Outcome::Fail);
        assert_eq!(
            failed.message.as_deref(),
            Some("thread 'tests::b' (4242) panicked at src/lib.rs:21:9: assertion `left == right` failed: sums")
        );
        assert!(failed.output.as_deref().is_some_and(|output| output.starts_with("checking")));
        let ignored = only_attempt(&results, "tests::c");
        assert_eq!((ignored.outcome, ignored.message.as_deref()), (Outcome::Skip, Some("needs a GPU")));
        let should_panic = only_attempt(&results, "tests::d");
        assert_eq!(should_panic.message.as_deref(), Some("test did not panic as expected"));
        assert_eq!(should_panic.duration, Some(Duration::from_millis(10)));
    }

    #[test]
    fn a_binary_that_aborts_leaves_an_error_and_an_incomplete_set() {
        let results = parse(
            r#"{ "type": "suite", "event": "started", "test_count": 3 }
{ "type": "test", "event": "started", "name": "tests::fine" }
{ "type": "test", "name": "tests::fine", "event": "ok", "exec_time": 0.001 }
{ "type": "test", "event": "started", "name": "tests::aborts" }
"#,
        );
        assert_eq!(only_attempt(&results, "tests::fine").outcome, Outcome::Pass);
        let aborted = only_attempt(&results, "tests::aborts");
        assert_eq!((aborted.outcome, aborted.message.as_deref()), (Outcome::Error, Some(UNFINISHED_MESSAGE)));
        assert_eq!(
            reasons(&results),
            [
                "truncated: a test suite started and never finished; tests::aborts was still running (the test binary crashed or its output was cut off)"
            ]
        );
    }

    #[test]
    fn a_half_written_last_line_is_incomplete() {
        let results =
            parse("{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": 1 }\n{ \"type\": \"test\", \"na");
        assert_eq!(results.incomplete.len(), 2, "{:?}", results.incomplete);
        assert_eq!(reasons(&results)[0], "truncated at line 2: the last event is cut off");
    }

    #[test]
    fn nextest_retries_are_earlier_failed_attempts() {
        let results = parse(
            r#"{"type":"suite","event":"started","test_count":2,"nextest":{"crate":"ledger","test_binary":"ledger","kind":"lib"}}
{"type":"test","event":"started","name":"ledger::ledger$tests::flaky"}
{"type":"test","event":"started","name":"ledger::ledger$tests::aborts"}
{"type":"test","event":"ok","name":"ledger::ledger$tests::flaky#2","exec_time":0.014}
{"type":"test","event":"failed","name":"ledger::ledger$tests::aborts#3","exec_time":0.03,"stdout":"writing past the end\n"}
{"type":"suite","event":"failed","passed":1,"failed":1,"ignored":0,"measured":0,"filtered_out":0,"exec_time":0.14,"nextest":{"crate":"ledger","test_binary":"ledger","kind":"lib"}}
"#,
        );
        assert!(results.is_complete(), "{:?}", results.incomplete);
        let flaky = results.get(&TestId::new("ledger::ledger$tests::flaky")).expect("recorded");
        assert_eq!(flaky.outcomes().collect::<Vec<_>>(), [Outcome::Fail, Outcome::Pass]);
        assert_eq!(flaky.attempts[0].message.as_deref(), Some(RETRIED_MESSAGE));
        let aborts = results.get(&TestId::new("ledger::ledger$tests::aborts")).expect("recorded");
        assert_eq!(aborts.outcomes().collect::<Vec<_>>(), [Outcome::Fail, Outcome::Fail, Outcome::Fail]);
        assert_eq!(aborts.attempts[2].message, None);
        assert_eq!(aborts.attempts[2].output.as_deref(), Some("writing past the end"));
    }

    #[test]
    fn a_hash_in_a_name_that_did_not_start_is_kept() {
        let results = parse(
            "{\"type\":\"suite\",\"event\":\"started\",\"test_count\":1}\n{\"type\":\"test\",\"event\":\"ok\",\"name\":\"case#2\"}\n{\"type\":\"suite\",\"event\":\"ok\"}\n",
        );
        assert_eq!(only_attempt(&results, "case#2").outcome, Outcome::Pass);
    }

    #[test]
    fn the_same_name_passing_in_one_binary_and_failing_in_another_is_one_error() {
        let results = parse(
            "{\"type\":\"suite\",\"event\":\"started\",\"test_count\":1}\n{\"type\":\"test\",\"event\":\"ok\",\"name\":\"it_works\"}\n{\"type\":\"suite\",\"event\":\"ok\"}\n{\"type\":\"suite\",\"event\":\"started\",\"test_count\":1}\n{\"type\":\"test\",\"event\":\"failed\",\"name\":\"it_works\"}\n{\"type\":\"suite\",\"event\":\"failed\"}\n",
        );
        let result = results.get(&TestId::new("it_works")).expect("recorded");
        assert_eq!(result.outcomes().collect::<Vec<_>>(), [Outcome::Error]);
        assert_eq!(result.failure_message(), Some(crate::CONFLICT_IN_ONE_FILE));
    }

    #[test]
    fn an_event_with_fields_of_the_wrong_type_is_an_error_at_line_and_column() {
        let error = parse_libtest_json(
            "t.json",
            b"{ \"type\": \"suite\", \"event\": \"started\" }\n  { \"type\": \"test\", \"name\": 7 }\n",
        )
        .expect_err("a number for a name");
        assert_eq!(error.location, "2:29");
        assert_eq!(error.message, "invalid type: integer `7`, expected a string");
    }

    #[test]
    fn text_without_events_is_an_error() {
        let error = parse_libtest_json("log.txt", b"running 1 test\n").expect_err("no events");
        assert_eq!(error.location, "1:1");
    }

    #[test]
    fn detects_libtest_json_by_content() {
        assert!(looks_like_libtest_json(CARGO_TEST.as_bytes()));
        assert!(looks_like_libtest_json(b"{\"type\":\"suite\",\"event\":\"started\",\"test_count\":0}\n"));
        let with_noise = format!("   Compiling shapes v0.1.0\n{CARGO_TEST}");
        assert!(looks_like_libtest_json(with_noise.as_bytes()));

        assert!(!looks_like_libtest_json(b""));
        assert!(!looks_like_libtest_json(b"{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"TestA\"}\n"));
        assert!(!looks_like_libtest_json(b"{\"type\":\"user\",\"event\":\"login\"}\n"));
        assert!(!looks_like_libtest_json(
            b"running 2 tests\ntest a ... ok\ntest b ... ok\n{\"type\":\"suite\",\"event\":\"ok\"}\n"
        ));
        assert!(!looks_like_libtest_json(b"TAP version 13\n"));
        // Regression: a JUnit file whose captured output held libtest events was claimed by both.
        let junit_with_events =
            format!("<testsuite><testcase name=\"a\"><failure>\n{CARGO_TEST}</failure></testcase></testsuite>\n");
        assert!(!looks_like_libtest_json(junit_with_events.as_bytes()));
        assert!(!looks_like_libtest_json(b"\xB3{\"type\":\"suite\",\"event\":\"ok\"}\n"));
    }
}
