//! Snapshot tests over the corpus of real-world results files in `tests/fixtures/`: every file
//! there (in any folder, whatever its format) is detected by content, parsed, and its result set
//! snapshotted as JSON, so that any change in how a writer's output is read shows up in review
//! as a changed snapshot.
//!
//! The fixtures are found by walking the folder, not listed by hand: a new fixture without a
//! snapshot fails (insta refuses a missing snapshot unless `INSTA_UPDATE=always` is set), a
//! fixture that no reader recognises fails, and a snapshot whose fixture is gone fails
//! `every_snapshot_has_its_fixture`. `INSTA_GLOB_FILTER=junit/pytest*` runs a subset.
//! `tests/fixtures/README.md` says how each fixture was made.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use imagegate_results::{Outcome, ResultSet, TestId, parse_detected, parse_detected_reader};
use serde::Serialize;

/// The test whose snapshots these are; part of every snapshot's file name.
const SNAPSHOT_TEST: &str = "fixture";

fn fixture_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Files in the fixture folder that are not fixtures.
fn is_fixture(path: &Path) -> bool {
    path.is_file()
        && path.file_name().is_some_and(|name| name != "README.md" && !name.to_string_lossy().starts_with('.'))
}

/// The fixture's path below the fixture folder, with `/` separators: its name in reports.
fn relative_name(path: &Path) -> String {
    let relative = path.strip_prefix(fixture_directory()).unwrap_or(path);
    relative.components().map(|component| component.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

fn parse_fixture(relative: &str) -> ResultSet {
    let bytes = fs::read(fixture_directory().join(relative)).expect("the fixture should be readable");
    parse_detected(relative, &bytes)
        .unwrap_or_else(|error| panic!("{relative} should parse: {error}"))
        .unwrap_or_else(|| panic!("{relative} should be detected as a results format"))
}

/// What a fixture reads as: a result set, or (for a file that must be rejected) the error.
#[derive(Serialize)]
#[serde(untagged)]
enum Read {
    Results(ResultSet),
    Rejected { error: String },
}

#[test]
fn fixture() {
    insta::glob!("fixtures", "**/*", |path| {
        if !is_fixture(path) {
            return;
        }
        let relative = relative_name(path);
        let bytes = fs::read(path).expect("the fixture should be readable");
        let read = match parse_detected(&relative, &bytes) {
            Ok(Some(results)) => Read::Results(results),
            Err(error) => Read::Rejected { error: error.to_string() },
            Ok(None) => panic!("{relative} is not detected as any results format: every fixture must be"),
        };
        insta::assert_json_snapshot!(read);
    });
}

#[test]
fn every_snapshot_has_its_fixture() {
    let snapshot_directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let prefix = format!("corpus__{SNAPSHOT_TEST}@");
    let snapshots: BTreeSet<String> = fs::read_dir(&snapshot_directory)
        .expect("the snapshot folder should be readable")
        .map(|entry| entry.expect("the snapshot folder should be listable").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("corpus__") && name.ends_with(".snap"))
        .collect();

    let fixtures = all_fixtures();
    // insta names a glob snapshot after the path below the folder, with `/` as `__`.
    let expected: BTreeSet<String> =
        fixtures.iter().map(|relative| format!("{prefix}{}.snap", relative.replace('/', "__"))).collect();

    let stale: Vec<&String> = snapshots.difference(&expected).collect();
    assert!(stale.is_empty(), "snapshots without a fixture (delete them): {stale:?}");
}

/// Every fixture's path below the fixture folder.
fn all_fixtures() -> Vec<String> {
    let mut fixtures = Vec::new();
    let mut pending = vec![fixture_directory()];
    while let Some(directory) = pending.pop() {
        for entry in fs::read_dir(&directory).expect("the fixture folder should be readable") {
            let path = entry.expect("the fixture folder should be listable").path();
            if path.is_dir() {
                pending.push(path);
            } else if is_fixture(&path) {
                fixtures.push(relative_name(&path));
            }
        }
    }
    fixtures.sort();
    fixtures
}

/// Hands its bytes over a few at a time, as a pipe might.
struct Trickle<'bytes> {
    rest: &'bytes [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let count = self.rest.len().min(out.len()).min(self.step);
        out[..count].copy_from_slice(&self.rest[..count]);
        self.rest = &self.rest[count..];
        Ok(count)
    }
}

#[test]
fn every_fixture_reads_the_same_from_a_reader_as_from_bytes() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() > 20, "{fixtures:?}");
    for relative in fixtures {
        let bytes = fs::read(fixture_directory().join(&relative)).expect("the fixture should be readable");
        let whole = parse_detected(&relative, &bytes);
        for step in [1, 7, 4096, usize::MAX] {
            let streamed = parse_detected_reader(&relative, Trickle { rest: &bytes, step });
            assert_eq!(streamed, whole, "{relative}, read {step} bytes at a time");
        }
    }
}

#[test]
fn a_junit_document_whose_prolog_outgrows_the_first_read_is_still_junit() {
    // A comment longer than the bytes looked at first: the whole document decides.
    let document = format!(
        "<?xml version=\"1.0\"?>\n<!-- {} -->\n<testsuite><testcase classname=\"a\" name=\"b\"/></testsuite>\n",
        "x".repeat(100_000)
    );
    let streamed = parse_detected_reader("long.xml", document.as_bytes()).expect("parses").expect("detected");
    assert_eq!(streamed.ids().map(TestId::as_str).collect::<Vec<_>>(), ["a.b"]);
    assert_eq!(Some(streamed), parse_detected("long.xml", document.as_bytes()).expect("parses"));
}

#[test]
fn a_reader_that_fails_is_an_error_at_the_offset_reached() {
    struct Broken(usize);
    impl std::io::Read for Broken {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk gone"));
            }
            let count = self.0.min(out.len());
            out[..count].fill(b' ');
            self.0 -= count;
            Ok(count)
        }
    }
    let error = parse_detected_reader("gone.xml", Broken(10)).expect_err("the read fails");
    assert_eq!((error.location.as_str(), error.message.as_str()), ("offset 10", "read failed: disk gone"));
}

/// The coarse class of an outcome both formats can express: subunit2junitxml writes an
/// expected failure as a pass, and an unexpected success as a failure.
fn class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass | Outcome::Xfail => "ok",
        Outcome::Fail | Outcome::Error => "failed",
        Outcome::Skip => "skipped",
    }
}

#[test]
fn a_subunit_stream_and_its_subunit2junitxml_conversion_read_the_same() {
    // One trial run: the stream as trial wrote it, and that stream through subunit2junitxml.
    let stream = parse_fixture("subunit/trial.subunit");
    let junit = parse_fixture("junit/trial-subunit2junitxml.xml");

    let stream_ids: Vec<&TestId> = stream.ids().collect();
    let junit_ids: Vec<&TestId> = junit.ids().collect();
    assert_eq!(stream_ids, junit_ids);
    assert_eq!(stream.len(), 15);
    for result in stream.tests() {
        let converted = junit.get(&result.id).expect("the same id in both");
        assert_eq!(class(result.final_outcome()), class(converted.final_outcome()), "{}", result.id);
        assert_eq!(result.failure_message(), converted.failure_message(), "{}", result.id);
    }
    assert!(stream.is_complete() && junit.is_complete());
}

#[test]
fn a_cut_subunit_stream_is_never_complete() {
    for relative in ["subunit/trial-truncated.subunit", "subunit/trial-unfinished.subunit"] {
        let results = parse_fixture(relative);
        assert!(!results.is_complete(), "{relative}");
        let unfinished = results
            .get(&TestId::new("calc.test.test_trial.ArithmeticTests.test_divide_by_zero"))
            .expect("the test that was running is recorded");
        assert_eq!(unfinished.final_outcome(), Outcome::Error, "{relative}");
    }
}
