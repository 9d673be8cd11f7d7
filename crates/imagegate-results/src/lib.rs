//! The per-test results model shared by every part of imagegate, and the parsers that fill it.
//!
//! This crate does no I/O of its own: parsers take bytes (or, for JUnit, a reader the caller
//! opened) and a source name (used in error messages), and return a [`ResultSet`]. Finding and
//! opening results files is the caller's job.

pub mod gotest;
pub mod junit;
pub mod libtest;
mod lines;
mod model;
mod queue;
pub mod subunit;
pub mod tap;

use std::io::{BufReader, Read};

pub use junit::{looks_like_junit, parse_junit};
pub use model::{
    Attempt, CONFLICT_IN_ONE_FILE, CONFLICT_IN_TWO_FILES, Counts, Incomplete, Outcome, ResultSet, TestId, TestResult,
};

/// An error that makes a results file unreadable as a whole. A file that merely ends early is
/// not one: parsers return what they read and mark the set incomplete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{location}: {message}")]
pub struct ParseError {
    /// The file (or stream) the error was found in, as given by the caller.
    pub source_name: String,
    /// Where in that file: `line:column` (both from 1, the column in characters) for text
    /// formats, `offset N` for binary ones.
    pub location: String,
    /// What is wrong there, as a lowercase fragment.
    pub message: String,
}

/// Detects the format of `bytes` by content and parses it.
///
/// Returns `Ok(None)` when the content is not a results format imagegate knows, so that a
/// results folder may hold other files (logs, coverage) beside the results.
pub fn parse_detected(source_name: &str, bytes: &[u8]) -> Result<Option<ResultSet>, ParseError> {
    if junit::looks_like_junit(bytes) {
        return parse_junit(source_name, bytes).map(Some);
    }
    if subunit::looks_like_subunit(bytes) {
        return subunit::parse_subunit(source_name, bytes).map(Some);
    }
    if gotest::looks_like_go_test_json(bytes) {
        return gotest::parse_go_test_json(source_name, bytes).map(Some);
    }
    if libtest::looks_like_libtest_json(bytes) {
        return libtest::parse_libtest_json(source_name, bytes).map(Some);
    }
    if tap::looks_like_tap(bytes) {
        return tap::parse_tap(source_name, bytes).map(Some);
    }
    Ok(None)
}

/// How many leading bytes of a file decide its format: every reader's detection looks at most
/// at the first 256 KiB (the line formats' window; JUnit's prolog and subunit's first packet
/// need less), and one byte more tells it whether the file goes on past them.
pub const HEAD_BYTES: usize = lines::DETECTION_WINDOW_BYTES + 1;

/// Whether a file whose first [`HEAD_BYTES`] bytes (or all of it, when shorter) are `head` is in
/// a results format imagegate reads: the answer [`parse_detected`] would give on the whole
/// file, decided without reading it. A results folder can hold anything a suite writes (a
/// 2 GB core dump, a log); this lets such files be passed over before they are read whole or
/// copied anywhere.
pub fn looks_like_results(head: &[u8]) -> bool {
    junit::looks_like_junit(head)
        || subunit::looks_like_subunit(head)
        || gotest::looks_like_go_test_json(head)
        || libtest::looks_like_libtest_json(head)
        || tap::looks_like_tap(head)
}

/// [`parse_detected`] over a reader: the first bytes decide the format; a JUnit document then
/// streams through [`junit::parse_junit_reader`] and is never held whole (memory follows its
/// tests, not its size), a file in no known format is left after its first [`HEAD_BYTES`]
/// (however large it is), and the other formats are read whole. The result is the one
/// [`parse_detected`] gives for the same bytes. An error from `reader` is a [`ParseError`]
/// naming the offset reached.
pub fn parse_detected_reader(source_name: &str, mut reader: impl Read) -> Result<Option<ResultSet>, ParseError> {
    let read_error = |offset: usize, error: std::io::Error| ParseError {
        source_name: source_name.to_owned(),
        location: format!("offset {offset}"),
        message: format!("read failed: {error}"),
    };
    let mut head = Vec::new();
    (&mut reader).take(HEAD_BYTES as u64).read_to_end(&mut head).map_err(|error| read_error(head.len(), error))?;
    // The prolog that decides JUnit lies within the head, or the head does not say JUnit and
    // the whole document is looked at below.
    if junit::looks_like_junit(&head) {
        let document = BufReader::with_capacity(256 * 1024, std::io::Cursor::new(head).chain(reader));
        return junit::parse_junit_reader(source_name, document).map(Some);
    }
    if !looks_like_results(&head) {
        return Ok(None);
    }
    let mut bytes = head;
    reader.read_to_end(&mut bytes).map_err(|error| read_error(bytes.len(), error))?;
    parse_detected(source_name, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_test_and_libtest_lines_half_and_half_are_claimed_by_neither() {
        // Found by fuzzing `detected`: with the two formats' lines in equal numbers, each reader
        // saw at most half of the lines as something else, and both claimed the file.
        let go = r#"{"Time":"2026-01-01T00:00:00Z","Action":"pass","Package":"p","Test":"TestA","Elapsed":0}"#;
        let libtest = r#"{ "type": "test", "name": "a", "event": "ok" }"#;
        let both = r#"{"Action":"pass","Package":"p","Test":"TestB","type":"test","name":"b","event":"ok"}"#;
        let mixed = format!("{go}\n{libtest}\n{go}\n{libtest}\n");
        let claims = |text: &str| {
            [gotest::looks_like_go_test_json(text.as_bytes()), libtest::looks_like_libtest_json(text.as_bytes())]
        };
        assert_eq!(claims(&mixed), [false, false]);
        assert_eq!(parse_detected("mixed.json", mixed.as_bytes()), Ok(None));
        // One line more of either format decides; a line both formats read decides nothing.
        assert_eq!(claims(&format!("{mixed}{go}\n")), [true, false]);
        assert_eq!(claims(&format!("{mixed}{libtest}\n")), [false, true]);
        assert_eq!(claims(&format!("{both}\n{both}\n")), [false, false]);
        // A stream of one format with as many lines of other text is still that format.
        assert_eq!(claims(&format!("{go}\nok  \tp\t0.01s\n")), [true, false]);
    }

    #[test]
    fn a_large_file_in_no_known_format_is_left_after_its_head() {
        /// A reader of `length` zero bytes that counts what was read of it.
        struct Zeros {
            left: u64,
            read: std::rc::Rc<std::cell::Cell<u64>>,
        }
        impl Read for Zeros {
            fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
                let count = buffer.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
                buffer[..count].fill(0);
                self.left -= count as u64;
                self.read.set(self.read.get() + count as u64);
                Ok(count)
            }
        }
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let junk = Zeros { left: 1 << 40, read: read.clone() };
        assert_eq!(parse_detected_reader("core", junk), Ok(None));
        assert_eq!(read.get(), HEAD_BYTES as u64, "a terabyte of zeros is not read past its head");

        let log = "compiling...\n".repeat(30_000);
        assert!(!looks_like_results(&log.as_bytes()[..HEAD_BYTES]));
        assert_eq!(parse_detected_reader("build.log", log.as_bytes()), Ok(None));
    }

    #[test]
    fn the_head_decides_as_the_whole_file_would() {
        let long_tap = format!("1..20000\n{}", (1..=20000).map(|n| format!("ok {n} - case {n}\n")).collect::<String>());
        let go_line = r#"{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0}"#;
        let long_go = format!("{go_line}\n").repeat(10_000);
        for whole in [long_tap.as_bytes(), long_go.as_bytes(), b"<testsuite/>".as_slice()] {
            assert!(whole.len() > HEAD_BYTES || whole.len() == 12);
            assert!(looks_like_results(&whole[..whole.len().min(HEAD_BYTES)]));
            assert!(parse_detected("f", whole).expect("parses").is_some());
        }
    }

    #[test]
    fn parse_detected_reads_junit_and_passes_over_other_files() {
        let junit = parse_detected("junit.xml", br#"<testsuite><testcase classname="t" name="a"/></testsuite>"#);
        assert_eq!(junit.expect("parses").map(|results| results.len()), Some(1));
        assert_eq!(parse_detected("build.log", b"compiling...\n"), Ok(None));
        assert_eq!(parse_detected("coverage.xml", b"<?xml version=\"1.0\"?><coverage/>"), Ok(None));
    }
}
