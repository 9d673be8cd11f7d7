//! The `go test -json` reader: recognises test2json event streams by content and reads them
//! into a [`ResultSet`].
//!
//! `go test -json` writes one JSON object per line (`{"Time":…, "Action":…, "Package":…,
//! "Test":…, "Elapsed":…, "Output":…}`). What this reader takes from them:
//!
//! - a test's id is `Package.Test`, the package's import path and Go's own test name, subtests
//!   keeping Go's `/` (`example.com/m/cart.TestDiscount/half_off`). A parent test is recorded
//!   too;
//! - each `run` of a test starts an attempt and its final action ends it: `pass` (and `bench`)
//!   is [`Outcome::Pass`], `skip` [`Outcome::Skip`], `fail` [`Outcome::Fail`] — or
//!   [`Outcome::Error`] when the test's output shows a Go panic, as the test then crashed rather
//!   than failed an assertion. `-count=N` repeats a test within one run: N agreeing outcomes
//!   are N attempts, but a test that both passed and failed there is one
//!   [`Outcome::Error`] (a duplicate is not a rerun; see [`ResultSet::report`]). `Elapsed` is
//!   the duration;
//! - a test's `output` events are its output (at most [`MAX_OUTPUT_BYTES`]), and its message the
//!   panic line when there is one, else the last `file.go:NN: text` line that `t.Error`,
//!   `t.Fatal` and `t.Skip` print, with its continuation lines joined on;
//! - a package that failed outside any test is never silently passing: a package that did not
//!   build or set up (`FAIL pkg [build failed]` / `[setup failed]` — a plain text line before Go
//!   1.21, an `output` event since, and Go 1.24's `build-output`/`build-fail` events and
//!   `FailedBuild` field) is recorded as the test `Package.[build]`, and a package whose test
//!   binary failed although no test did (`TestMain` exiting non-zero, a panic in `init`) as
//!   `Package.[package]`, both [`Outcome::Error`] with the package's output as their message;
//! - a test still running when its package ended (the binary crashed, or `-timeout` fired:
//!   `panic: test timed out after 2s`) is an [`Outcome::Error`] whose message is taken from its
//!   output, and the set is marked incomplete, as the tests after it never ran.
//!
//! Lines that are not JSON (go prints some, such as the build failure line above) are skipped.
//! A JSON object with an `Action` whose fields have the wrong types is a [`ParseError`] located
//! as `line:column`. The stream is cut short when a package has events but no final
//! package-level action at the end, when a test is still running, or when the last line is a
//! half-written event: what was read is returned, tests still running are errors, and the set is
//! marked incomplete.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::junit::{BoundedText, MAX_OUTPUT_BYTES};
use crate::lines::{bounded_message, character_column, is_event_stream, json_error_message};
use crate::{Attempt, Outcome, ParseError, ResultSet, TestId};

/// The test name under which a package that failed to build or set up is recorded.
pub const BUILD_TEST_NAME: &str = "[build]";

/// The test name under which a package whose test binary failed outside any test is recorded.
pub const PACKAGE_TEST_NAME: &str = "[package]";

/// The message of a test that was still running when the stream ended, when its output says
/// nothing better.
pub const UNFINISHED_MESSAGE: &str = "no result: the test was still running when its output ended";

/// The most continuation lines of a `file.go:NN:` message joined into an attempt's message.
const MESSAGE_CONTINUATION_LINES: usize = 8;

/// Every action test2json writes; detection counts only objects with one of these.
const KNOWN_ACTIONS: &[&str] =
    &["start", "run", "pause", "cont", "pass", "bench", "fail", "output", "skip", "build-output", "build-fail"];

/// One test2json event, as far as this reader cares. Unknown fields (`Time`) are ignored.
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "Package", default)]
    package: Option<String>,
    #[serde(rename = "Test", default)]
    test: Option<String>,
    #[serde(rename = "Elapsed", default)]
    elapsed: Option<f64>,
    #[serde(rename = "Output", default)]
    output: Option<String>,
    /// Go 1.24's build events name the package being built this way.
    #[serde(rename = "ImportPath", default)]
    import_path: Option<String>,
    /// Go 1.24 sets this on a package's `fail` when the package did not build.
    #[serde(rename = "FailedBuild", default)]
    failed_build: Option<String>,
}

/// What one line of the stream is.
enum Parsed {
    Event(Event),
    /// Not JSON, or JSON that is not a test2json event.
    Other,
    /// A JSON object with an `Action` whose fields do not fit: the column and serde's message.
    Malformed {
        column: usize,
        message: String,
    },
}

fn parse_line(line: &str) -> Parsed {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return Parsed::Other;
    }
    match serde_json::from_str::<Event>(trimmed) {
        Ok(event) => Parsed::Event(event),
        Err(error) => {
            let is_event = serde_json::from_str::<serde_json::Value>(trimmed)
                .is_ok_and(|value| value.as_object().is_some_and(|object| object.contains_key("Action")));
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

/// True when `bytes` is `go test -json` output: at least one line is a test2json event with a
/// known action, and no more than half of the non-blank lines are anything else. A file that
/// opens like an XML document is never one, whatever its text holds.
pub fn looks_like_go_test_json(bytes: &[u8]) -> bool {
    is_event_stream(bytes, is_go_test_event, crate::libtest::is_libtest_event)
}

/// Whether `line` is a test2json event with a known action.
pub(crate) fn is_go_test_event(line: &str) -> bool {
    matches!(parse_line(line), Parsed::Event(event) if KNOWN_ACTIONS.contains(&event.action.as_str()))
}

/// Reads `go test -json` output. `source_name` names the file in errors and incomplete marks.
///
/// See the module documentation for ids, outcomes, and how crashed and cut-off runs are read.
pub fn parse_go_test_json(source_name: &str, bytes: &[u8]) -> Result<ResultSet, ParseError> {
    let text = crate::lines::escape_invalid_utf8(bytes);
    let mut reader = GoTestReader::new(source_name);
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
            Parsed::Other => {
                if is_last && line.trim_start().starts_with('{') {
                    // A half-written event: the writer was stopped mid-line.
                    reader.results.mark_incomplete(
                        source_name,
                        format!("truncated at line {}: the last event is cut off", index + 1),
                    );
                } else {
                    reader.plain_line(line);
                }
            }
        }
    }
    if events == 0 && !text.trim().is_empty() {
        return Err(ParseError {
            source_name: source_name.to_owned(),
            location: "1:1".to_owned(),
            message: "no line is a `go test -json` event".to_owned(),
        });
    }
    Ok(reader.finish())
}

/// Picks a test's message out of its output as the lines arrive, so that it is found even when
/// the output kept is cut to its bound.
#[derive(Debug, Default)]
struct MessageScan {
    panic: Option<String>,
    /// The last `file.go:NN: text` line, with its continuation lines.
    located: Option<String>,
    /// The indentation of that line while its continuation lines may still follow.
    open_block: Option<usize>,
    continuation_lines: usize,
}

impl MessageScan {
    fn line(&mut self, line: &str) {
        let trimmed = line.trim();
        let indent = line.len() - line.trim_start().len();
        if let Some(block_indent) = self.open_block {
            let continues = indent > block_indent
                && !trimmed.is_empty()
                && !trimmed.starts_with("--- ")
                && !trimmed.starts_with("=== ");
            if continues {
                if self.continuation_lines < MESSAGE_CONTINUATION_LINES {
                    self.continuation_lines += 1;
                    if let Some(located) = self.located.as_mut() {
                        located.push(' ');
                        located.push_str(trimmed);
                    }
                }
                return;
            }
            self.open_block = None;
        }
        if self.panic.is_none() && trimmed.starts_with("panic: ") {
            let panic = trimmed.strip_suffix(" [recovered]").unwrap_or(trimmed);
            self.panic = Some(bounded_message(panic));
        } else if is_located_line(trimmed) {
            self.located = Some(bounded_message(trimmed));
            self.open_block = Some(indent);
            self.continuation_lines = 0;
        }
    }

    fn message(&self) -> Option<String> {
        self.panic.clone().or_else(|| self.located.as_deref().map(bounded_message))
    }
}

/// True for `name_test.go:12: text`, the shape of `t.Log`, `t.Error` and `t.Skip` lines.
fn is_located_line(trimmed: &str) -> bool {
    let Some((location, _)) = trimmed.split_once(": ") else { return false };
    let Some((file, line)) = location.rsplit_once(':') else { return false };
    file.ends_with(".go")
        && !file.contains(char::is_whitespace)
        && !line.is_empty()
        && line.bytes().all(|byte| byte.is_ascii_digit())
}

/// A test between its `run` and its final action.
#[derive(Debug)]
struct RunningTest {
    output: BoundedText,
    scan: MessageScan,
}

impl RunningTest {
    fn new() -> Self {
        RunningTest { output: BoundedText::new(MAX_OUTPUT_BYTES), scan: MessageScan::default() }
    }

    fn push_output(&mut self, text: &str) {
        self.output.push(text);
        for line in text.lines() {
            self.scan.line(line);
        }
    }

    fn into_attempt(self, outcome: Outcome, duration: Option<Duration>) -> Attempt {
        let crashed = self.scan.panic.is_some();
        let outcome = if outcome == Outcome::Fail && crashed { Outcome::Error } else { outcome };
        // A passing test's `t.Log` lines are output, not a message.
        let message = if outcome.is_ok() { None } else { self.scan.message() };
        Attempt { outcome, duration, message, output: self.output.finish() }
    }

    /// The attempt of a test whose package ended, or whose stream ended, while it ran.
    fn into_unfinished_attempt(self) -> Attempt {
        let message = self.scan.message().unwrap_or_else(|| UNFINISHED_MESSAGE.to_owned());
        Attempt { outcome: Outcome::Error, duration: None, message: Some(message), output: self.output.finish() }
    }
}

/// One package's run so far.
#[derive(Debug)]
struct PackageRun {
    /// Output that belongs to no test: `PASS`, `FAIL pkg 0.01s`, what `TestMain` printed.
    output: BoundedText,
    /// The last line of that output that is not go's own summary, for a message.
    last_own_line: Option<String>,
    /// `[build failed]` or `[setup failed]` was seen for it.
    build_failure: Option<String>,
    /// Some test of this run of the package failed or errored.
    test_failed: bool,
}

impl PackageRun {
    fn new() -> Self {
        PackageRun {
            output: BoundedText::new(MAX_OUTPUT_BYTES),
            last_own_line: None,
            build_failure: None,
            test_failed: false,
        }
    }

    fn push_output(&mut self, text: &str) {
        self.output.push(text);
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(kind) = build_failure_kind(trimmed) {
                self.build_failure = Some(kind.to_owned());
            } else if !trimmed.is_empty() && !is_go_summary_line(trimmed) {
                self.last_own_line = Some(bounded_message(trimmed));
            }
        }
    }
}

/// `build failed` or `setup failed` from go's `FAIL\tpkg [build failed]` line.
fn build_failure_kind(trimmed: &str) -> Option<&'static str> {
    if !trimmed.starts_with("FAIL") {
        return None;
    }
    if trimmed.ends_with("[build failed]") {
        Some("build failed")
    } else if trimmed.ends_with("[setup failed]") {
        Some("setup failed")
    } else {
        None
    }
}

/// The package from go's `FAIL\tpkg [build failed]` line.
fn build_failure_package(trimmed: &str) -> Option<&str> {
    let rest = trimmed.strip_prefix("FAIL")?.trim_start();
    let package = rest.split_whitespace().next()?;
    (!package.starts_with('[')).then_some(package)
}

/// go's own lines: `PASS`, `FAIL`, `ok pkg 0.1s`, `FAIL pkg 0.1s`, `exit status 3` at the end
/// of a package, and the `=== RUN` / `--- PASS: name` lines of tests.
fn is_go_summary_line(trimmed: &str) -> bool {
    trimmed.starts_with("=== ")
        || trimmed.starts_with("--- ")
        || trimmed == "PASS"
        || trimmed == "FAIL"
        || trimmed.starts_with("ok  ")
        || trimmed.starts_with("FAIL\t")
        || trimmed.starts_with("exit status ")
        || trimmed.starts_with("?   \t")
}

struct GoTestReader<'source> {
    source_name: &'source str,
    results: ResultSet,
    /// Tests between `run` and their final action, by package and test name.
    running: BTreeMap<(String, String), RunningTest>,
    /// Packages with events and no final package-level action yet.
    packages: BTreeMap<String, PackageRun>,
    /// Go 1.24's compiler output, by the import path it was written for.
    build_output: BTreeMap<String, BoundedText>,
}

impl<'source> GoTestReader<'source> {
    fn new(source_name: &'source str) -> Self {
        GoTestReader {
            source_name,
            results: ResultSet::new(),
            running: BTreeMap::new(),
            packages: BTreeMap::new(),
            build_output: BTreeMap::new(),
        }
    }

    fn event(&mut self, event: Event) {
        match event.action.as_str() {
            "build-output" => {
                if let (Some(path), Some(output)) = (event.import_path.as_deref(), event.output.as_deref()) {
                    self.build_output
                        .entry(import_path_package(path).to_owned())
                        .or_insert_with(|| BoundedText::new(MAX_OUTPUT_BYTES))
                        .push(output);
                }
                return;
            }
            "build-fail" => return,
            _ => {}
        }
        let Some(package) = event.package.clone() else { return };
        let package_run = self.packages.entry(package.clone()).or_insert_with(PackageRun::new);
        let Some(test) = event.test.clone() else {
            self.package_event(package, event);
            return;
        };
        let key = (package, test);
        match event.action.as_str() {
            "run" => {
                if let Some(previous) = self.running.remove(&key) {
                    // A second `run` before the first finished: the first never will.
                    self.results.report(test_id(&key.0, &key.1), previous.into_unfinished_attempt());
                }
                self.running.insert(key, RunningTest::new());
            }
            "output" => {
                if let Some(output) = event.output.as_deref() {
                    match self.running.get_mut(&key) {
                        Some(running) => running.push_output(output),
                        // Output after the test's final action (parallel subtests' summary
                        // lines) belongs to the package.
                        None => package_run.push_output(output),
                    }
                }
            }
            "pass" | "bench" | "fail" | "skip" => {
                let outcome = match event.action.as_str() {
                    "fail" => Outcome::Fail,
                    "skip" => Outcome::Skip,
                    _ => Outcome::Pass,
                };
                let duration = event.elapsed.and_then(|seconds| Duration::try_from_secs_f64(seconds).ok());
                let running = self.running.remove(&key).unwrap_or_else(RunningTest::new);
                let attempt = running.into_attempt(outcome, duration);
                if attempt.outcome.is_failure() {
                    package_run.test_failed = true;
                }
                self.results.report(test_id(&key.0, &key.1), attempt);
            }
            // `pause` and `cont` move a parallel test in and out of the running set; it stays
            // running for this reader.
            _ => {}
        }
    }

    /// An event of the package itself: its output, or its final action.
    fn package_event(&mut self, package: String, event: Event) {
        match event.action.as_str() {
            "output" => {
                if let (Some(output), Some(run)) = (event.output.as_deref(), self.packages.get_mut(&package)) {
                    run.push_output(output);
                }
            }
            "pass" | "fail" | "skip" => {
                let failed = event.action == "fail";
                let failed_build = event.failed_build.as_deref().map(import_path_package);
                self.end_package(&package, failed, failed_build);
            }
            _ => {}
        }
    }

    /// A line that is not an event: go's plain `FAIL\tpkg [build failed]` before Go 1.21 is the
    /// only one that says anything.
    fn plain_line(&mut self, line: &str) {
        let trimmed = line.trim();
        if let (Some(kind), Some(package)) = (build_failure_kind(trimmed), build_failure_package(trimmed)) {
            let mut run = self.packages.remove(package).unwrap_or_else(PackageRun::new);
            run.build_failure = Some(kind.to_owned());
            run.push_output(line);
            self.packages.insert(package.to_owned(), run);
            self.end_package(package, true, None);
        }
    }

    fn end_package(&mut self, package: &str, failed: bool, failed_build: Option<&str>) {
        let run = self.packages.remove(package).unwrap_or_else(PackageRun::new);

        // Keys sort by package first, so this package's tests are one range: ending a package
        // costs its own tests, not every test still running elsewhere.
        let still_running: Vec<(String, String)> = self
            .running
            .range((package.to_owned(), String::new())..)
            .map(|(key, _)| key)
            .take_while(|(test_package, _)| test_package == package)
            .cloned()
            .collect();
        if !still_running.is_empty() {
            let mut first_message = None;
            for key in &still_running {
                if let Some(running) = self.running.remove(key) {
                    let attempt = running.into_unfinished_attempt();
                    first_message = first_message.or_else(|| attempt.message.clone());
                    self.results.report(test_id(&key.0, &key.1), attempt);
                }
            }
            let names = list_names(still_running.iter().map(|(_, test)| test.as_str()));
            let because = first_message.map(|message| format!(": {message}")).unwrap_or_default();
            self.results.mark_incomplete(
                self.source_name,
                format!("{package}: the test binary exited while {names} still running{because}"),
            );
            return;
        }
        if !failed {
            return;
        }

        let build_failure = run.build_failure.clone().or_else(|| failed_build.map(|_| "build failed".to_owned()));
        if let Some(kind) = build_failure {
            let compiler_output =
                self.build_output.remove(failed_build.unwrap_or(package)).and_then(BoundedText::finish);
            let message = compiler_output
                .as_deref()
                .and_then(|output| {
                    output.lines().map(str::trim).find(|line| !line.is_empty() && !line.starts_with('#'))
                })
                .map_or_else(|| kind.clone(), bounded_message);
            let mut attempt = Attempt::new(Outcome::Error);
            attempt.message = Some(message);
            attempt.output = compiler_output.or_else(|| run.output.finish());
            self.results.report(TestId::new(format!("{package}.{BUILD_TEST_NAME}")), attempt);
        } else if !run.test_failed {
            let mut attempt = Attempt::new(Outcome::Error);
            attempt.message =
                Some(run.last_own_line.clone().unwrap_or_else(|| "the test binary failed outside any test".to_owned()));
            attempt.output = run.output.finish();
            self.results.report(TestId::new(format!("{package}.{PACKAGE_TEST_NAME}")), attempt);
        }
    }

    fn finish(mut self) -> ResultSet {
        let running = std::mem::take(&mut self.running);
        let mut unfinished_packages: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for ((package, test), running_test) in running {
            self.results.report(test_id(&package, &test), running_test.into_unfinished_attempt());
            unfinished_packages.entry(package).or_default().push(test);
        }
        for package in self.packages.keys() {
            unfinished_packages.entry(package.clone()).or_default();
        }
        for (package, tests) in unfinished_packages {
            let reason = if tests.is_empty() {
                format!("truncated: {package} has no package result at the end of the output")
            } else {
                let names = list_names(tests.iter().map(String::as_str));
                format!(
                    "truncated: {package} has no package result at the end of the output, and {names} still running"
                )
            };
            self.results.mark_incomplete(self.source_name, reason);
        }
        self.results
    }
}

fn test_id(package: &str, test: &str) -> TestId {
    TestId::new(format!("{package}.{test}"))
}

/// The package of a Go 1.24 import path such as `example.com/m/p [example.com/m/p.test]`.
fn import_path_package(import_path: &str) -> &str {
    import_path.split_whitespace().next().unwrap_or(import_path)
}

/// `TestA was`, `TestA and TestB were`, `TestA, TestB and 3 more were`.
fn list_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.as_slice() {
        [one] => format!("{one} was"),
        [first, second] => format!("{first} and {second} were"),
        [first, second, rest @ ..] => format!("{first}, {second} and {} more were", rest.len()),
        [] => "no test was".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::MAX_MESSAGE_BYTES;

    fn parse(text: &str) -> ResultSet {
        parse_go_test_json("go.json", text.as_bytes()).expect("the stream should parse")
    }

    fn event(action: &str, test: Option<&str>, output: Option<&str>) -> String {
        let mut object =
            serde_json::json!({ "Time": "2024-01-01T00:00:00Z", "Action": action, "Package": "example.com/m/p" });
        if let Some(test) = test {
            object["Test"] = test.into();
        }
        if let Some(output) = output {
            object["Output"] = output.into();
        }
        if matches!(action, "pass" | "fail" | "skip") {
            object["Elapsed"] = 0.25.into();
        }
        format!("{object}\n")
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

    #[test]
    fn reads_outcomes_durations_subtests_and_messages() {
        let stream = [
            event("run", Some("TestA"), None),
            event("output", Some("TestA"), Some("=== RUN   TestA\n")),
            event("output", Some("TestA"), Some("    a_test.go:9: setting up\n")),
            event("output", Some("TestA"), Some("    a_test.go:12: receipt mismatch:\n")),
            event("output", Some("TestA"), Some("          got:  1\n")),
            event("output", Some("TestA"), Some("          want: 2\n")),
            event("output", Some("TestA"), Some("--- FAIL: TestA (0.25s)\n")),
            event("fail", Some("TestA"), None),
            event("run", Some("TestB"), None),
            event("run", Some("TestB/case_one"), None),
            event("output", Some("TestB/case_one"), Some("    b_test.go:4: no network\n")),
            event("skip", Some("TestB/case_one"), None),
            event("pass", Some("TestB"), None),
            event("output", None, Some("FAIL\n")),
            event("fail", None, None),
        ]
        .concat();
        let results = parse(&stream);
        assert!(results.is_complete(), "{:?}", results.incomplete);
        let failed = only_attempt(&results, "example.com/m/p.TestA");
        assert_eq!(failed.outcome, Outcome::Fail);
        assert_eq!(failed.message.as_deref(), Some("a_test.go:12: receipt mismatch: got:  1 want: 2"));
        assert_eq!(failed.duration, Some(Duration::from_millis(250)));
        assert!(failed.output.as_deref().is_some_and(|output| output.starts_with("=== RUN   TestA\n")));
        let skipped = only_attempt(&results, "example.com/m/p.TestB/case_one");
        assert_eq!((skipped.outcome, skipped.message.as_deref()), (Outcome::Skip, Some("b_test.go:4: no network")));
        assert_eq!(only_attempt(&results, "example.com/m/p.TestB").outcome, Outcome::Pass);
        // The package failed because a test did: no package-level test is added.
        assert_eq!(results.len(), 3);
    }

    #[test]
    fn a_panicking_test_is_an_error() {
        let stream = [
            event("run", Some("TestNilMap"), None),
            event("output", Some("TestNilMap"), Some("--- FAIL: TestNilMap (0.00s)\n")),
            event("output", Some("TestNilMap"), Some("panic: assignment to entry in nil map [recovered]\n")),
            event("fail", Some("TestNilMap"), None),
            event("fail", None, None),
        ]
        .concat();
        let results = parse(&stream);
        let crashed = only_attempt(&results, "example.com/m/p.TestNilMap");
        assert_eq!(crashed.outcome, Outcome::Error);
        assert_eq!(crashed.message.as_deref(), Some("panic: assignment to entry in nil map"));
    }

    #[test]
    fn repeated_runs_that_disagree_are_one_error_not_a_flaky_pass() {
        let stream = [
            event("run", Some("TestFlaky"), None),
            event("fail", Some("TestFlaky"), None),
            event("run", Some("TestFlaky"), None),
            event("pass", Some("TestFlaky"), None),
            event("fail", None, None),
        ]
        .concat();
        let results = parse(&stream);
        let flaky = results.get(&TestId::new("example.com/m/p.TestFlaky")).expect("recorded");
        assert_eq!(flaky.outcomes().collect::<Vec<_>>(), [Outcome::Error]);
        assert_eq!(flaky.failure_message(), Some(crate::CONFLICT_IN_ONE_FILE));

        let agreeing = [
            event("run", Some("TestTwice"), None),
            event("pass", Some("TestTwice"), None),
            event("run", Some("TestTwice"), None),
            event("pass", Some("TestTwice"), None),
        ]
        .concat();
        let results = parse(&agreeing);
        let twice = results.get(&TestId::new("example.com/m/p.TestTwice")).expect("recorded");
        assert_eq!(twice.outcomes().collect::<Vec<_>>(), [Outcome::Pass, Outcome::Pass]);
    }

    #[test]
    fn a_timed_out_test_is_an_error_and_the_set_incomplete() {
        let stream = [
            event("run", Some("TestQuick"), None),
            event("pass", Some("TestQuick"), None),
            event("run", Some("TestSlow"), None),
            event("output", Some("TestSlow"), Some("    slow_test.go:11: waiting\n")),
            event("output", Some("TestSlow"), Some("panic: test timed out after 2s\n")),
            event("output", None, Some("FAIL\texample.com/m/p\t2.006s\n")),
            event("fail", None, None),
        ]
        .concat();
        let results = parse(&stream);
        let slow = only_attempt(&results, "example.com/m/p.TestSlow");
        assert_eq!((slow.outcome, slow.message.as_deref()), (Outcome::Error, Some("panic: test timed out after 2s")));
        assert_eq!(
            reasons(&results),
            [
                "example.com/m/p: the test binary exited while TestSlow was still running: panic: test timed out after 2s"
            ]
        );
        assert!(!results.contains(&TestId::new("example.com/m/p.[package]")));
    }

    #[test]
    fn a_build_failure_is_a_failing_build_test_in_every_go_version() {
        // Before Go 1.21: a plain line among the events.
        let plain = format!("{}FAIL\texample.com/m/broken [build failed]\n", event("pass", None, None));
        let results = parse(&plain);
        let build = only_attempt(&results, "example.com/m/broken.[build]");
        assert_eq!((build.outcome, build.message.as_deref()), (Outcome::Error, Some("build failed")));
        assert!(results.is_complete(), "{:?}", results.incomplete);

        // Go 1.21 to 1.23: the same line as an output event of the package.
        let event_form =
            [event("output", None, Some("FAIL\texample.com/m/p [setup failed]\n")), event("fail", None, None)].concat();
        let results = parse(&event_form);
        assert_eq!(only_attempt(&results, "example.com/m/p.[build]").message.as_deref(), Some("setup failed"));

        // Go 1.24: build events carry the compiler's output.
        let go_1_24 = concat!(
            "{\"ImportPath\":\"example.com/m/p [example.com/m/p.test]\",\"Action\":\"build-output\",\"Output\":\"# example.com/m/p\\n\"}\n",
            "{\"ImportPath\":\"example.com/m/p [example.com/m/p.test]\",\"Action\":\"build-output\",\"Output\":\"p/p.go:4:9: undefined: weight\\n\"}\n",
            "{\"ImportPath\":\"example.com/m/p [example.com/m/p.test]\",\"Action\":\"build-fail\"}\n",
            "{\"Action\":\"start\",\"Package\":\"example.com/m/p\"}\n",
            "{\"Action\":\"output\",\"Package\":\"example.com/m/p\",\"Output\":\"FAIL\\texample.com/m/p [build failed]\\n\"}\n",
            "{\"Action\":\"fail\",\"Package\":\"example.com/m/p\",\"Elapsed\":0,\"FailedBuild\":\"example.com/m/p [example.com/m/p.test]\"}\n",
        );
        let results = parse(go_1_24);
        let build = only_attempt(&results, "example.com/m/p.[build]");
        assert_eq!(build.message.as_deref(), Some("p/p.go:4:9: undefined: weight"));
        assert!(results.is_complete(), "{:?}", results.incomplete);
    }

    #[test]
    fn a_package_failing_outside_its_tests_is_a_failing_package_test() {
        let stream = [
            event("run", Some("TestOpens"), None),
            event("pass", Some("TestOpens"), None),
            event("output", None, Some("PASS\n")),
            event("output", None, Some("leak check: 2 goroutines still running\n")),
            event("output", None, Some("FAIL\texample.com/m/p\t0.003s\n")),
            event("fail", None, None),
        ]
        .concat();
        let results = parse(&stream);
        let package = only_attempt(&results, "example.com/m/p.[package]");
        assert_eq!(
            (package.outcome, package.message.as_deref()),
            (Outcome::Error, Some("leak check: 2 goroutines still running"))
        );
    }

    #[test]
    fn a_cut_stream_keeps_what_was_read_and_never_passes_the_running_test() {
        let mut stream = [
            event("run", Some("TestDone"), None),
            event("pass", Some("TestDone"), None),
            event("run", Some("TestHalf"), None),
        ]
        .concat();
        stream.push_str("{\"Time\":\"2024-01-01T00:00:00Z\",\"Action\":\"pa");
        let results = parse(&stream);
        assert_eq!(only_attempt(&results, "example.com/m/p.TestDone").outcome, Outcome::Pass);
        let half = only_attempt(&results, "example.com/m/p.TestHalf");
        assert_eq!((half.outcome, half.message.as_deref()), (Outcome::Error, Some(UNFINISHED_MESSAGE)));
        assert_eq!(
            reasons(&results),
            [
                "truncated at line 4: the last event is cut off",
                "truncated: example.com/m/p has no package result at the end of the output, and TestHalf was still running",
            ]
        );
    }

    #[test]
    fn plain_lines_between_events_are_skipped() {
        let stream = format!(
            "# example.com/m/p\nsome vet note\n{}{}{}",
            event("run", Some("TestA"), None),
            event("pass", Some("TestA"), None),
            event("pass", None, None)
        );
        assert!(looks_like_go_test_json(stream.as_bytes()));
        let results = parse(&stream);
        assert!(results.is_complete());
        assert_eq!(results.len(), 1);
    }

    #[test]
    fn an_event_with_fields_of_the_wrong_type_is_an_error_at_line_and_column() {
        let stream = format!(
            "{}{{\"Action\":\"pass\",\"Package\":\"p\",\"Elapsed\":\"soon\"}}\n",
            event("run", Some("TestA"), None)
        );
        let error = parse_go_test_json("go.json", stream.as_bytes()).expect_err("bad elapsed");
        assert_eq!(error.location, "2:47");
        assert!(error.message.starts_with("invalid type: string \"soon\""), "{}", error.message);
        assert!(!error.message.contains("at line"), "{}", error.message);
    }

    #[test]
    fn text_without_events_is_an_error() {
        let error = parse_go_test_json("log.txt", b"hello\nworld\n").expect_err("no events");
        assert_eq!(error.location, "1:1");
        assert!(parse("").is_empty());
    }

    #[test]
    fn output_is_bounded() {
        let huge = "x".repeat(MAX_OUTPUT_BYTES);
        let mut stream = event("run", Some("TestLoud"), None);
        for _ in 0..3 {
            stream.push_str(&event("output", Some("TestLoud"), Some(&format!("    loud_test.go:1: {huge}\n"))));
        }
        stream.push_str(&event("fail", Some("TestLoud"), None));
        let results = parse(&stream);
        let loud = only_attempt(&results, "example.com/m/p.TestLoud");
        assert!(loud.output.as_deref().is_some_and(|output| output.len() <= MAX_OUTPUT_BYTES + 16));
        assert!(loud.message.as_deref().is_some_and(|message| message.len() <= MAX_MESSAGE_BYTES + 16));
    }

    #[test]
    fn detects_go_test_json_by_content() {
        let stream = [event("run", Some("TestA"), None), event("pass", Some("TestA"), None)].concat();
        assert!(looks_like_go_test_json(stream.as_bytes()));
        assert!(looks_like_go_test_json(b"{\"Action\":\"skip\",\"Package\":\"p\"}\n"));

        assert!(!looks_like_go_test_json(b""));
        assert!(!looks_like_go_test_json(b"{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": 1 }\n"));
        assert!(!looks_like_go_test_json(b"{\"Action\":\"login\",\"User\":\"x\"}\n"));
        assert!(!looks_like_go_test_json(b"TAP version 13\n1..1\nok 1\n"));
        assert!(!looks_like_go_test_json(b"<testsuite/>"));
        let junit_with_events =
            format!("<testsuite><testcase name=\"a\"><system-out>\n{stream}</system-out></testcase></testsuite>\n");
        assert!(!looks_like_go_test_json(junit_with_events.as_bytes()));
        let mostly_text = format!("a\nb\nc\n{}", event("pass", None, None));
        assert!(!looks_like_go_test_json(mostly_text.as_bytes()));
        assert!(!looks_like_go_test_json(b"\xB3{\"Action\":\"pass\"}\n"));
    }
}
