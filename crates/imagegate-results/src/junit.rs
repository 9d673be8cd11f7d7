//! The JUnit XML reader: recognises JUnit documents by content and streams them into a
//! [`ResultSet`].
//!
//! JUnit XML has no single specification; this reader accepts what the common writers produce
//! (pytest, Maven Surefire, nextest, subunit2junitxml, PHPUnit, go-junit-report and the like):
//!
//! - the root is `<testsuites>` or a bare `<testsuite>`; suites may nest to any depth, and
//!   suite-level elements (`<properties>`, suite `<system-out>`) are ignored;
//! - each `<testcase classname= name= time=>` is one attempt of the test
//!   [`TestId::from_class_and_name`] names. A `<failure>` child makes it [`Outcome::Fail`], an
//!   `<error>` [`Outcome::Error`], a `<skipped>` (or `<skip>`) [`Outcome::Skip`], and a
//!   `<skipped type="pytest.xfail">` [`Outcome::Xfail`]; no such child means it passed. When a
//!   case has several of these (pytest reports a failing call and an erroring teardown in one
//!   case), the first failure or error decides the outcome and the others' text joins its
//!   output;
//! - Surefire's and nextest's retry elements are further attempts of the same test:
//!   each `<flakyFailure>`/`<flakyError>` is a failed attempt that ran before the final one
//!   (which passed, as the case has no `<failure>`), and each `<rerunFailure>`/`<rerunError>` is a
//!   failed attempt that ran after the first `<failure>`/`<error>`;
//! - an attempt's message is the `message` attribute, else the first non-blank line of the
//!   element's text (for a Python traceback its last line, which names the exception; for a
//!   Rust panic the `panicked at` line and the panic message after it); its output is the
//!   element's text followed by the case's `<system-out>` and `<system-err>`;
//! - the same id twice in one file gives two attempts (see [`ResultSet::record`]).
//!
//! Durations are read leniently: a `time` that is not a plain non-negative number of seconds is
//! ignored, never an error.
//!
//! A file that ends early (a runner killed while writing it) is not an error: everything read
//! up to that point is returned, with an incomplete mark saying where the file ends. A test
//! case that was still open at the end of the file is recorded as [`Outcome::Error`] with the
//! message [`TRUNCATED_MESSAGE`], so that a half-written result is never taken for a pass and
//! the test it concerns stays visible in the report; a case whose start tag itself was cut off
//! is dropped, as its name cannot be known. Malformed XML before the end (mismatched tags,
//! markup garbage) is a [`ParseError`] located by line and column.
//!
//! Architecture invariant: the reader never expands entities other than the five predefined
//! ones and numeric character references. A DOCTYPE may declare entities, but references to
//! them are kept literally (`&name;`), so a hostile file cannot make the reader allocate more
//! than its own size. Each attempt keeps at most [`MAX_OUTPUT_BYTES`] of output and
//! [`MAX_MESSAGE_BYTES`] of message, however long the texts in the file.
//!
//! Bytes that are not valid UTF-8 (a test's raw output pasted into the file, a test id made of
//! bytes) are kept visibly as `\xHH` escapes rather than rejecting the file, so that two ids
//! that differ only there stay two; the reader does not transcode other declared encodings.
//!
//! The document streams through the reader ([`parse_junit_reader`] takes any [`BufRead`], and
//! [`parse_junit`] is the same reading over a slice): it is decoded in chunks of 64 KiB and
//! never held whole, so memory follows the number of tests, not the file's size
//! (`benches/junit_scale.rs` measures speed and memory on a million test cases, against Python's
//! junitparser). Line and column numbers are worked out only for an error, from the chunk it
//! lies in.
//!
//! Most of a large file is passing tests, `<testcase …/>` with nothing inside: between XML
//! events, where the XML reader would next read text, `JunitParser::fast_empty_cases` reads
//! such tags (and the blank text between them) straight from the decoded chunk, in one pass
//! per tag, and hands anything less regular back to the XML reader. A property test
//! (`the_fast_path_reads_what_the_general_path_reads`) holds the two paths to the same results,
//! errors and positions on generated documents, whole and cut anywhere.
//!
//! Test cases go to a `CaseQueue` (`queue.rs`), which on a large file hands them in batches to
//! a second thread that makes the model (ids, attempt lists, the sort) while this reader reads
//! on.

use std::borrow::Cow;
use std::io::{BufRead, Read};
use std::time::Duration;

use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use crate::queue::CaseQueue;
use crate::{Attempt, Outcome, ParseError, ResultSet, TestId};

/// The most output text kept for one attempt. Captured output can run to megabytes; the report
/// needs the traceback, and a bound keeps memory flat however large the file.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// The most message text kept for one attempt: messages are shown on one line of a report.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// The message of the attempt recorded for a test case that was still open at the end of a
/// truncated file.
pub const TRUNCATED_MESSAGE: &str = "result truncated";

/// Appended where output or a message was cut to its bound.
pub(crate) const TRUNCATION_MARKER: &str = "\n[truncated]";

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// True when `bytes` is a JUnit XML document: after an optional byte order mark, the XML
/// declaration, processing instructions, comments, a DOCTYPE and whitespace, the first element
/// is `<testsuites>` or `<testsuite>`.
///
/// Only the prolog is looked at, so a file cut short after its root start tag is still
/// recognised (and then read as truncated by [`parse_junit`]).
pub fn looks_like_junit(bytes: &[u8]) -> bool {
    let mut rest = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    loop {
        rest = rest.trim_ascii_start();
        if let Some(after) = rest.strip_prefix(b"<?") {
            match find(after, b"?>") {
                Some(end) => rest = &after[end + 2..],
                None => return false,
            }
        } else if let Some(after) = rest.strip_prefix(b"<!--") {
            match find(after, b"-->") {
                Some(end) => rest = &after[end + 3..],
                None => return false,
            }
        } else if let Some(after) = rest.strip_prefix(b"<!DOCTYPE") {
            match doctype_end(after) {
                Some(end) => rest = &after[end..],
                None => return false,
            }
        } else if let Some(after) = rest.strip_prefix(b"<") {
            let name_end = after
                .iter()
                .position(|&byte| byte.is_ascii_whitespace() || byte == b'>' || byte == b'/')
                .unwrap_or(after.len());
            let name = &after[..name_end];
            return name == b"testsuites" || name == b"testsuite";
        } else {
            return false;
        }
    }
}

/// Where a DOCTYPE that started just before `after` ends: past its closing `>`, skipping an
/// internal subset in brackets (where entity declarations live and may contain `>`).
fn doctype_end(after: &[u8]) -> Option<usize> {
    let close = after.iter().position(|&byte| byte == b'>')?;
    match after[..close].iter().position(|&byte| byte == b'[') {
        Some(open_subset) => {
            let subset_end = open_subset + find(&after[open_subset..], b"]")?;
            let close = subset_end + after[subset_end..].iter().position(|&byte| byte == b'>')?;
            Some(close + 1)
        }
        None => Some(close + 1),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Reads a JUnit XML document. `source_name` names the file in errors and incomplete marks.
///
/// See the module documentation for what is accepted, and how truncated and malformed files
/// are told apart.
pub fn parse_junit(source_name: &str, bytes: &[u8]) -> Result<ResultSet, ParseError> {
    parse_junit_reader(source_name, bytes)
}

/// Reads a JUnit XML document from `reader` as it streams, as [`parse_junit`] reads bytes: the
/// document is never held whole, so a results file of hundreds of megabytes is read in memory
/// proportional to the tests in it, not to its size.
///
/// An error from `reader` itself is a [`ParseError`] at the position reached.
pub fn parse_junit_reader(source_name: &str, reader: impl BufRead) -> Result<ResultSet, ParseError> {
    let mut parser = JunitParser::new(source_name, Input::new(reader));
    parser.run()?;
    Ok(parser.results.build())
}

/// One open element, as far as the reader cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    /// `<testsuites>`.
    Suites,
    /// `<testsuite>`.
    Suite,
    Case,
    /// A child of a test case whose text is being collected.
    Part,
    /// Anything else: properties, unknown extensions, elements nested in a part.
    Other,
}

/// What a child element of a test case says about the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    /// `<failure>`, `<error>`, `<skipped>`: the outcome of the case's own attempt.
    Main(Outcome),
    /// `<flakyFailure>`, `<flakyError>`: a failed attempt before the case's own.
    Flaky(Outcome),
    /// `<rerunFailure>`, `<rerunError>`: a failed attempt after the case's own.
    Rerun(Outcome),
    SystemOut,
    SystemErr,
}

impl PartKind {
    fn of(name: &str, start: &BytesStart<'_>) -> Option<PartKind> {
        Some(match name {
            "failure" => PartKind::Main(Outcome::Fail),
            "error" => PartKind::Main(Outcome::Error),
            "skipped" | "skip" => {
                // pytest reports an expected failure as a skip of this type.
                let xfail = attribute(start, "type").is_some_and(|kind| kind == "pytest.xfail");
                PartKind::Main(if xfail { Outcome::Xfail } else { Outcome::Skip })
            }
            "flakyFailure" => PartKind::Flaky(Outcome::Fail),
            "flakyError" => PartKind::Flaky(Outcome::Error),
            "rerunFailure" => PartKind::Rerun(Outcome::Fail),
            "rerunError" => PartKind::Rerun(Outcome::Error),
            "system-out" => PartKind::SystemOut,
            "system-err" => PartKind::SystemErr,
            _ => return None,
        })
    }
}

/// A text that stops growing at a bound, remembering that it was cut.
#[derive(Debug, Default)]
pub(crate) struct BoundedText {
    text: String,
    limit: usize,
    truncated: bool,
    /// Set after a heading, so that the indentation the writer put before the section's text
    /// does not follow the heading.
    skip_leading_whitespace: bool,
}

impl BoundedText {
    pub(crate) fn new(limit: usize) -> Self {
        BoundedText { text: String::new(), limit, truncated: false, skip_leading_whitespace: false }
    }

    /// Starts a section of nested output (`--- system-out ---`).
    pub(crate) fn push_heading(&mut self, heading: &str) {
        let kept = self.text.trim_end().len();
        self.text.truncate(kept);
        if !self.text.is_empty() {
            self.push("\n\n");
        }
        self.push(&format!("--- {heading} ---\n"));
        self.skip_leading_whitespace = true;
    }

    pub(crate) fn push(&mut self, more: &str) {
        let more = if self.skip_leading_whitespace {
            let trimmed = more.trim_start();
            self.skip_leading_whitespace = trimmed.is_empty();
            trimmed
        } else {
            more
        };
        let room = self.limit.saturating_sub(self.text.len());
        if more.len() <= room {
            self.text.push_str(more);
        } else {
            self.text.push_str(&more[..floor_char_boundary(more, room)]);
            self.truncated = true;
        }
    }

    fn push_char(&mut self, character: char) {
        self.push(character.encode_utf8(&mut [0; 4]));
    }

    /// The text without surrounding blank space, marked if it was cut; `None` when blank.
    pub(crate) fn finish(self) -> Option<String> {
        let trimmed = self.text.trim();
        if trimmed.is_empty() && !self.truncated {
            return None;
        }
        // The text is trimmed in place: a captured traceback is not copied again.
        let leading = self.text.len() - self.text.trim_start().len();
        let trailing_end = self.text.trim_end().len().max(leading);
        let mut text = self.text;
        text.truncate(trailing_end);
        text.drain(..leading);
        if self.truncated {
            text.push_str(TRUNCATION_MARKER);
        }
        Some(text)
    }
}

/// The largest index `<= index` that is a character boundary of `text`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index).rev().find(|&candidate| text.is_char_boundary(candidate)).unwrap_or(0)
}

/// One attempt-making child of a test case (`<failure>`, `<flakyError>`, …) being read.
#[derive(Debug)]
struct Part {
    outcome: Outcome,
    message: Option<String>,
    duration: Option<Duration>,
    text: BoundedText,
}

impl Part {
    fn new(outcome: Outcome, start: &BytesStart<'_>) -> Self {
        let [message, time] = attributes(start, ["message", "time"]);
        Part {
            outcome,
            message: message.map(|message| bounded(&message, MAX_MESSAGE_BYTES)),
            duration: time.and_then(|time| parse_duration(&time)),
            text: BoundedText::new(MAX_OUTPUT_BYTES),
        }
    }
}

/// Where text read inside a test case goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    Main(usize),
    Flaky(usize),
    Rerun(usize),
    SystemOut,
    SystemErr,
}

/// A `<testcase>` whose end tag has not been read yet.
#[derive(Debug)]
struct OpenCase {
    id: TestId,
    /// How much of `id` its class takes up (all of it, or none).
    class_length: usize,
    duration: Option<Duration>,
    mains: Vec<Part>,
    flaky: Vec<Part>,
    reruns: Vec<Part>,
    system_out: BoundedText,
    system_err: BoundedText,
    /// The child collecting text, and the depth of the element stack at which it closes.
    sink: Option<(Sink, usize)>,
}

impl OpenCase {
    fn new(start: &BytesStart<'_>) -> Self {
        OpenCase::from_attributes(start.attributes_raw())
    }

    /// A case from the text of its start tag after the element's name.
    fn from_attributes(raw: &str) -> Self {
        let [classname, name, time] = raw_attributes(raw, ["classname", "name", "time"]);
        OpenCase::from_values(classname, name, time)
    }

    fn from_values(classname: Option<Cow<'_, str>>, name: Option<Cow<'_, str>>, time: Option<Cow<'_, str>>) -> Self {
        let (id, class_length) =
            TestId::from_class_and_name_with_prefix(classname.as_deref(), name.as_deref().unwrap_or_default());
        OpenCase {
            class_length,
            id,
            duration: time.and_then(|time| parse_duration(&time)),
            mains: Vec::new(),
            flaky: Vec::new(),
            reruns: Vec::new(),
            system_out: BoundedText::new(MAX_OUTPUT_BYTES),
            system_err: BoundedText::new(MAX_OUTPUT_BYTES),
            sink: None,
        }
    }

    /// Starts a child element that collects text until the element stack is back at `closes_at`.
    fn open_part(&mut self, kind: PartKind, start: &BytesStart<'_>, closes_at: usize) {
        let sink = match kind {
            PartKind::Main(outcome) => {
                self.mains.push(Part::new(outcome, start));
                Sink::Main(self.mains.len() - 1)
            }
            PartKind::Flaky(outcome) => {
                self.flaky.push(Part::new(outcome, start));
                Sink::Flaky(self.flaky.len() - 1)
            }
            PartKind::Rerun(outcome) => {
                self.reruns.push(Part::new(outcome, start));
                Sink::Rerun(self.reruns.len() - 1)
            }
            PartKind::SystemOut => Sink::SystemOut,
            PartKind::SystemErr => Sink::SystemErr,
        };
        self.sink = Some((sink, closes_at));
    }

    fn sink_text(&mut self) -> Option<&mut BoundedText> {
        let (sink, _) = self.sink?;
        Some(match sink {
            Sink::Main(index) => &mut self.mains.get_mut(index)?.text,
            Sink::Flaky(index) => &mut self.flaky.get_mut(index)?.text,
            Sink::Rerun(index) => &mut self.reruns.get_mut(index)?.text,
            Sink::SystemOut => &mut self.system_out,
            Sink::SystemErr => &mut self.system_err,
        })
    }

    /// The test and the attempts this case stands for, in the order they ran: earlier flaky
    /// attempts, the case's own, then reruns.
    fn into_attempts(self) -> (TestId, usize, Vec<Attempt>) {
        // Sized exactly: a million tests' attempt lists are a large part of a result set.
        let mut attempts = Vec::with_capacity(self.flaky.len() + 1 + self.reruns.len());
        attempts.extend(self.flaky.into_iter().map(Part::into_attempt));

        // The first failure or error decides; a skip only when nothing failed.
        let decisive = self.mains.iter().position(|part| part.outcome.is_failure()).unwrap_or(0);
        let mut mains = self.mains;
        let mut own = if mains.is_empty() {
            Attempt::new(Outcome::Pass)
        } else {
            let decisive = mains.remove(decisive);
            let message = decisive.message.or_else(|| message_from_text(&decisive.text.text));
            let mut output = decisive.text;
            for other in mains {
                // Each further element's message heads its text, as pytest's "failed on
                // teardown with …" says which phase the text belongs to.
                let text = other.text.finish();
                let heading = other
                    .message
                    .filter(|message| text.as_deref().is_none_or(|text| !text.starts_with(message.as_str())));
                for section in [heading, text].into_iter().flatten() {
                    output.push("\n\n");
                    output.push(&section);
                }
            }
            Attempt { outcome: decisive.outcome, duration: None, message, output: output.finish() }
        };
        own.duration = self.duration;
        own.output = join_output(own.output, self.system_out.finish(), self.system_err.finish());
        attempts.push(own);

        attempts.extend(self.reruns.into_iter().map(Part::into_attempt));
        (self.id, self.class_length, attempts)
    }

    /// The one attempt recorded for a case still open when the file ended: an error, whatever
    /// its children said so far, as its outcome was never written in full.
    fn into_truncated_attempt(self) -> Attempt {
        let mut output = BoundedText::new(MAX_OUTPUT_BYTES);
        for part in self.flaky.into_iter().chain(self.mains).chain(self.reruns) {
            if let Some(text) = part.text.finish() {
                output.push(&text);
                output.push("\n\n");
            }
        }
        Attempt {
            outcome: Outcome::Error,
            duration: None,
            message: Some(TRUNCATED_MESSAGE.to_owned()),
            output: join_output(output.finish(), self.system_out.finish(), self.system_err.finish()),
        }
    }
}

impl Part {
    fn into_attempt(self) -> Attempt {
        let message = self.message.or_else(|| message_from_text(&self.text.text));
        Attempt { outcome: self.outcome, duration: self.duration, message, output: self.text.finish() }
    }
}

/// The element's text, then the case's captured output under headings, within the bound.
fn join_output(own: Option<String>, system_out: Option<String>, system_err: Option<String>) -> Option<String> {
    if system_out.is_none() && system_err.is_none() {
        return own;
    }
    let mut output = BoundedText::new(MAX_OUTPUT_BYTES);
    if let Some(own) = &own {
        output.push(own);
    }
    for (heading, text) in [("system-out", system_out), ("system-err", system_err)] {
        if let Some(text) = text {
            output.push_heading(heading);
            output.push(&text);
        }
    }
    output.finish()
}

/// A one-line message from an element's text: its first non-blank line, except where that line
/// says little by itself: a Python traceback's first line (the last line names the exception),
/// and a Rust panic's `thread 'name' panicked at file:line:column:` (the panic message follows
/// on the next line).
pub(crate) fn message_from_text(text: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let first = lines.next()?;
    let message = if first.contains("Traceback (most recent call last)") {
        lines.next_back().unwrap_or(first).to_owned()
    } else if first.starts_with("thread '") && first.contains("' panicked at ") && first.ends_with(':') {
        match lines.next() {
            Some(panic_message) => format!("{first} {panic_message}"),
            None => first.to_owned(),
        }
    } else {
        first.to_owned()
    };
    Some(bounded(&message, MAX_MESSAGE_BYTES))
}

fn bounded(text: &str, limit: usize) -> String {
    let mut bounded = BoundedText::new(limit);
    bounded.push(text);
    if bounded.truncated {
        bounded.text.push_str(TRUNCATION_MARKER);
    }
    bounded.text
}

/// Seconds as JUnit writes them (`"1.5"`, `"0.000"`); anything else is no duration.
fn parse_duration(time: &str) -> Option<Duration> {
    let time = time.trim();
    exact_decimal_duration(time).or_else(|| Duration::try_from_secs_f64(time.parse().ok()?).ok())
}

/// The common shape, up to six digits of seconds and nine of fraction (`"0.004"`), read
/// exactly without floating point, in one pass over the bytes: nearly every test case has a
/// `time`. The result is the one the floating-point reading rounds to, as such a number is well
/// within its precision. `None` for any other form, which [`parse_duration`] then reads as a
/// float.
fn exact_decimal_duration(time: &str) -> Option<Duration> {
    let bytes = time.as_bytes();
    let mut seconds: u64 = 0;
    let mut index = 0;
    while let Some(&byte) = bytes.get(index).filter(|byte| byte.is_ascii_digit()) {
        if index == 6 {
            return None;
        }
        seconds = seconds * 10 + u64::from(byte - b'0');
        index += 1;
    }
    if index == 0 {
        return None;
    }
    let mut nanoseconds: u32 = 0;
    let mut scale: u32 = 1_000_000_000;
    if bytes.get(index) == Some(&b'.') {
        index += 1;
        let fraction_start = index;
        while let Some(&byte) = bytes.get(index).filter(|byte| byte.is_ascii_digit()) {
            if index - fraction_start == 9 {
                return None;
            }
            scale /= 10;
            nanoseconds += u32::from(byte - b'0') * scale;
            index += 1;
        }
    }
    (index == bytes.len()).then(|| Duration::new(seconds, nanoseconds))
}

/// The value of attribute `name`, with references resolved as [`unescape`] does and line
/// breaks and tabs turned into spaces as XML asks. Malformed attributes read as absent: the
/// start tag itself was well-formed, and a JUnit file is not worth rejecting over one value.
fn attribute<'start>(start: &'start BytesStart<'_>, name: &str) -> Option<Cow<'start, str>> {
    let [value] = attributes(start, [name]);
    value
}

/// The values of the attributes `names`, as [`attribute`] reads each, in one pass over the tag;
/// when an attribute appears twice the first counts. Values that need no change are borrowed
/// from the tag, so a test case's attributes cost no allocation beyond its id.
fn attributes<'start, const COUNT: usize>(
    start: &'start BytesStart<'_>,
    names: [&str; COUNT],
) -> [Option<Cow<'start, str>>; COUNT] {
    raw_attributes(start.attributes_raw(), names)
}

/// [`attributes`] over the text of a start tag after its name.
fn raw_attributes<'tag, const COUNT: usize>(raw: &'tag str, names: [&str; COUNT]) -> [Option<Cow<'tag, str>>; COUNT] {
    let mut values = [const { None }; COUNT];
    for (key, value, plain) in (RawAttributes { rest: raw }) {
        let Some(index) = names.iter().position(|&name| name == key) else { continue };
        if values[index].is_none() {
            values[index] = Some(if plain { Cow::Borrowed(value) } else { normalise_attribute(value) });
        }
    }
    values
}

/// The `key="value"` pairs (either quote) of a start tag, values as written, each with whether
/// it is plain (no reference to resolve, no whitespace to normalise). This is the reader's
/// hottest loop (three attributes on each of a million test cases), so it is a plain byte scan
/// rather than a general attribute parser: a malformed pair is passed over, and scanning goes
/// on with the next.
struct RawAttributes<'tag> {
    rest: &'tag str,
}

impl<'tag> Iterator for RawAttributes<'tag> {
    type Item = (&'tag str, &'tag str, bool);

    fn next(&mut self) -> Option<Self::Item> {
        // Every index below is at an ASCII delimiter (or the end), so each slice is at a
        // character boundary.
        let text = self.rest;
        let bytes = text.as_bytes();
        let mut position = 0;
        loop {
            position = skip_whitespace(bytes, position);
            if position >= bytes.len() {
                self.rest = "";
                return None;
            }
            let key_start = position;
            // Keys are short: a byte loop beats a search call.
            while bytes.get(position).is_some_and(|&byte| byte != b'=' && !is_whitespace(byte)) {
                position += 1;
            }
            let key_end = position;
            position = skip_whitespace(bytes, position);
            if bytes.get(position) != Some(&b'=') {
                // A name without a value, or a stray character: skip it.
                position = position.max(key_start + 1);
                while position < bytes.len() && !text.is_char_boundary(position) {
                    position += 1;
                }
                continue;
            }
            position = skip_whitespace(bytes, position + 1);
            let Some(&quote) = bytes.get(position).filter(|&&quote| quote == b'"' || quote == b'\'') else {
                // An unquoted value: skip it.
                while bytes.get(position).is_some_and(|&byte| !is_whitespace(byte)) {
                    position += 1;
                }
                continue;
            };
            let value_start = position + 1;
            let after_quote = bytes.get(value_start..).unwrap_or_default();
            let Some(value_length) = memchr::memchr(quote, after_quote) else {
                self.rest = "";
                return None;
            };
            let value_end = value_start + value_length;
            // Without early exit, so that the check runs over many bytes at once.
            let plain =
                after_quote[..value_length].iter().fold(true, |plain, &byte| plain & (byte >= b' ') & (byte != b'&'));
            self.rest = text.get(value_end + 1..).unwrap_or_default();
            let key = text.get(key_start..key_end).unwrap_or_default();
            let value = text.get(value_start..value_end).unwrap_or_default();
            return Some((key, value, plain));
        }
    }
}

/// Reads the tag of an empty test case (`<testcase classname="…" name="…" time="…"/>`,
/// `name_length` being the length of `<testcase`) in one pass: the index of its closing `>` and
/// the values of `classname`, `name` and `time` as [`attributes`] reads them. `None` for
/// anything less regular (a tag that is not empty or not within `tag`, an unquoted value, a
/// blank before `=`, …), which the general path then reads.
fn empty_case_tag(tag: &[u8], name_length: usize) -> Option<(usize, [Option<Cow<'_, str>>; 3])> {
    const NAMES: [&[u8]; 3] = [b"classname", b"name", b"time"];
    // Where each wanted value lies in `tag`, and whether it needs no normalising.
    let mut found: [Option<(usize, usize, bool)>; 3] = [None; 3];
    let mut position = name_length;
    let end = loop {
        position = skip_whitespace(tag, position);
        match *tag.get(position)? {
            b'/' if *tag.get(position + 1)? == b'>' => break position + 1,
            b'/' | b'>' => return None,
            _ => {}
        }
        let key_start = position;
        while tag
            .get(position)
            .is_some_and(|&byte| byte != b'=' && !is_whitespace(byte) && byte != b'/' && byte != b'>')
        {
            position += 1;
        }
        let key = &tag[key_start..position];
        if tag.get(position) != Some(&b'=') {
            return None;
        }
        let quote = *tag.get(position + 1).filter(|&&quote| quote == b'"' || quote == b'\'')?;
        let value_start = position + 2;
        let value_end = value_start + memchr::memchr(quote, tag.get(value_start..)?)?;
        position = value_end + 1;
        if let Some(index) = NAMES.iter().position(|&name| name == key)
            && found[index].is_none()
        {
            let raw = &tag[value_start..value_end];
            let plain = raw.iter().fold(true, |plain, &byte| plain & (byte >= b' ') & (byte != b'&'));
            found[index] = Some((value_start, value_end, plain));
        }
    };
    // Every recorded range starts and ends at an ASCII quote, so it slices the text whole.
    let text = simdutf8::basic::from_utf8(&tag[..=end]).ok()?;
    let values = found.map(|range| {
        range.and_then(|(start, end, plain)| {
            let value = text.get(start..end)?;
            Some(if plain { Cow::Borrowed(value) } else { normalise_attribute(value) })
        })
    });
    Some((end, values))
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_whitespace(bytes: &[u8], mut position: usize) -> usize {
    while bytes.get(position).copied().is_some_and(is_whitespace) {
        position += 1;
    }
    position
}

/// An attribute value with line breaks and tabs turned into spaces and references resolved.
fn normalise_attribute(value: &str) -> Cow<'_, str> {
    let normalised = value.replace("\r\n", " ").replace(['\r', '\n', '\t'], " ");
    Cow::Owned(unescape(&normalised).into_owned())
}

/// Resolves the predefined entities and numeric character references in `raw`, keeping any
/// other reference literally.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match after.find(';') {
            Some(semicolon) => {
                let name = &after[..semicolon];
                match resolve_reference(name) {
                    Some(resolved) => out.push_str(resolved.encode_utf8(&mut [0; 4])),
                    None => {
                        out.push('&');
                        out.push_str(name);
                        out.push(';');
                    }
                }
                rest = &after[semicolon + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character a predefined entity or a character reference stands for; `None` for any
/// other name, which is never expanded.
fn resolve_reference(name: &str) -> Option<char> {
    if name.starts_with('#') {
        return BytesRef::new(name).resolve_char_ref().ok().flatten();
    }
    resolve_predefined_entity(name).and_then(|text| text.chars().next())
}

/// How the reader stopped short of a complete document.
enum Stop {
    /// The input ended inside an element or markup: keep what was read.
    Truncated { reason: String },
    /// The input is not well-formed, or not JUnit.
    Malformed { offset: usize, message: String },
}

struct JunitParser<'name, R> {
    source_name: &'name str,
    reader: Reader<Input<R>>,
    results: CaseQueue,
    stack: Vec<Element>,
    case: Option<OpenCase>,
    seen_root: bool,
    /// Bytes read by [`JunitParser::fast_empty_cases`] behind the XML reader's back, which its
    /// positions do not count.
    skipped: usize,
    /// Whether the fast path may run (it always may, except in tests comparing both paths).
    fast_path: bool,
}

impl<'name, R: BufRead> JunitParser<'name, R> {
    fn new(source_name: &'name str, input: Input<R>) -> Self {
        let mut reader = Reader::from_reader(input);
        // Hand-written writers sometimes leave a bare `&` in captured output; it is kept as
        // text rather than failing the whole file.
        reader.config_mut().allow_dangling_amp = true;
        JunitParser {
            source_name,
            reader,
            results: CaseQueue::default(),
            stack: Vec::new(),
            case: None,
            seen_root: false,
            skipped: 0,
            fast_path: true,
        }
    }

    fn run(&mut self) -> Result<(), ParseError> {
        match self.read_all() {
            Ok(()) => Ok(()),
            Err(Stop::Truncated { reason }) => {
                if let Some(case) = self.case.take() {
                    let (id, class_length) = (case.id.clone(), case.class_length);
                    self.results.made(id, class_length, vec![case.into_truncated_attempt()]);
                }
                let line = self.reader.get_mut().line_at_end();
                self.results.mark_incomplete(self.source_name, format!("truncated at line {line}: {reason}"));
                Ok(())
            }
            Err(Stop::Malformed { offset, message }) => {
                let (line, column) = self.reader.get_ref().line_and_column(offset);
                Err(ParseError {
                    source_name: self.source_name.to_owned(),
                    location: format!("{line}:{column}"),
                    message,
                })
            }
        }
    }

    fn read_all(&mut self) -> Result<(), Stop> {
        // One event's bytes at a time: the largest event (a long captured output) sizes it.
        let mut buffer = Vec::new();
        // Whether the XML reader stands right after a tag's `>`, where it looks for text next:
        // only there may bytes be taken from under it (after a text event it has seen the `<`
        // of the next markup already).
        let mut after_tag = false;
        loop {
            if after_tag && self.fast_path && self.case.is_none() && self.stack.last() == Some(&Element::Suite) {
                self.fast_empty_cases();
            }
            buffer.clear();
            let event_start = self.offset();
            let event = match self.reader.read_event_into(&mut buffer) {
                Ok(event) => event,
                Err(error) => return Err(self.classify_error(error)),
            };
            after_tag = matches!(event, Event::Start(_) | Event::Empty(_) | Event::End(_));
            match event {
                Event::Start(start) => {
                    let element = self.open(&start, event_start, false)?;
                    self.stack.push(element);
                }
                Event::Empty(start) => {
                    let element = self.open(&start, event_start, true)?;
                    self.stack.push(element);
                    self.close();
                }
                Event::End(_) => self.close(),
                // Text outside a part (the indentation between elements) is most of a file's
                // events: it is passed over before any decoding.
                Event::Text(text) => {
                    if let Some(sink) = self.sink() {
                        sink.push(&text.xml10_content());
                    }
                }
                Event::CData(data) => {
                    if let Some(sink) = self.sink() {
                        sink.push(&data.xml10_content());
                    }
                }
                Event::GeneralRef(reference) => {
                    if let Some(sink) = self.sink() {
                        match resolve_reference(&reference) {
                            Some(character) => sink.push_char(character),
                            None => sink.push(&format!("&{};", &*reference)),
                        }
                    }
                }
                Event::Eof => return self.finish(),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    fn offset(&self) -> usize {
        usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX).saturating_add(self.skipped)
    }

    /// The fast path for the bulk of a JUnit file: `<testcase …/>` elements (passing tests) in
    /// a suite, with the blank text between them, read straight from the decoded input rather
    /// than through the XML reader's events. It takes a case only when its whole tag is in the
    /// current chunk, ends with `/>` outside quotes, and is named exactly `testcase`; anything
    /// else is left to the XML reader, which then reads from where this stopped. What the
    /// case becomes is what the general path makes of the same tag (`OpenCase` from the same
    /// attribute text): a test compares the two paths on generated documents.
    fn fast_empty_cases(&mut self) {
        const OPEN: &[u8] = b"<testcase";
        loop {
            let input = self.reader.get_mut();
            let Ok(available) = input.fill_buf() else { return };
            let blank = available.iter().take_while(|&&byte| is_whitespace(byte)).count();
            let tag = &available[blank..];
            if !tag.starts_with(OPEN) || !tag.get(OPEN.len()).is_some_and(|&byte| is_whitespace(byte) || byte == b'/') {
                // Blank text before other markup (or the chunk's end) is passed over too.
                if blank > 0 && blank < available.len() {
                    input.consume(blank);
                    self.skipped += blank;
                }
                return;
            }
            let Some((end, [classname, name, time])) = empty_case_tag(tag, OPEN.len()) else {
                if blank > 0 {
                    input.consume(blank);
                    self.skipped += blank;
                }
                return;
            };
            let consumed = blank + end + 1;
            // What `OpenCase::from_values` and `into_attempts` make of a case without children:
            // one passing attempt.
            let duration = time.and_then(|time| parse_duration(&time));
            self.results.passed(classname.as_deref(), name.as_deref().unwrap_or_default(), duration);
            self.reader.get_mut().consume(consumed);
            self.skipped += consumed;
        }
    }

    fn sink(&mut self) -> Option<&mut BoundedText> {
        self.case.as_mut().and_then(OpenCase::sink_text)
    }

    /// Handles a start tag at `offset` (of an empty element when `empty`); returns what the
    /// element is.
    fn open(&mut self, start: &BytesStart<'_>, offset: usize, empty: bool) -> Result<Element, Stop> {
        let name = start.name();
        let name = name.as_ref();
        if !self.seen_root {
            if name != "testsuites" && name != "testsuite" {
                return Err(Stop::Malformed {
                    offset,
                    message: format!("root element is `<{name}>`, not `<testsuites>` or `<testsuite>`"),
                });
            }
            self.seen_root = true;
        }
        let depth = self.stack.len() + 1;
        if let Some(case) = self.case.as_mut() {
            if case.sink.is_some() {
                // Surefire and nextest nest <stackTrace>, <system-out> and <system-err> inside
                // retry elements; their text belongs to that attempt, under a heading.
                let captured_output = !empty && matches!(name, "system-out" | "system-err");
                if let Some(sink) = case.sink_text().filter(|_| captured_output) {
                    sink.push_heading(name);
                }
                return Ok(Element::Other);
            }
            let child_of_case = self.stack.last() == Some(&Element::Case);
            return Ok(match PartKind::of(name, start).filter(|_| child_of_case) {
                Some(kind) => {
                    case.open_part(kind, start, depth);
                    Element::Part
                }
                None => Element::Other,
            });
        }
        match name {
            "testsuites" => Ok(Element::Suites),
            "testsuite" => Ok(Element::Suite),
            "testcase" => {
                self.case = Some(OpenCase::new(start));
                Ok(Element::Case)
            }
            _ => Ok(Element::Other),
        }
    }

    fn close(&mut self) {
        let depth = self.stack.len();
        let Some(element) = self.stack.pop() else { return };
        match element {
            Element::Case => {
                if let Some(case) = self.case.take() {
                    let (id, class_length, attempts) = case.into_attempts();
                    self.results.made(id, class_length, attempts);
                }
            }
            Element::Part => {
                let closing_the_sink =
                    |case: &&mut OpenCase| case.sink.is_some_and(|(_, closes_at)| closes_at == depth);
                if let Some(case) = self.case.as_mut().filter(closing_the_sink) {
                    case.sink = None;
                }
            }
            Element::Suites | Element::Suite | Element::Other => {}
        }
    }

    fn finish(&mut self) -> Result<(), Stop> {
        if !self.seen_root {
            return Err(Stop::Truncated { reason: "no root element".to_owned() });
        }
        if self.stack.is_empty() {
            return Ok(());
        }
        let innermost = if self.case.is_some() {
            "`<testcase>`"
        } else {
            match self.stack.iter().rev().find(|&&element| element != Element::Other) {
                Some(Element::Suites) => "`<testsuites>`",
                Some(Element::Suite) => "`<testsuite>`",
                _ => "an element",
            }
        };
        Err(Stop::Truncated { reason: format!("end of file inside {innermost}") })
    }

    fn classify_error(&mut self, error: XmlError) -> Stop {
        let offset = usize::try_from(self.reader.error_position()).unwrap_or(usize::MAX).saturating_add(self.skipped);
        let at_end_of_input = match &error {
            // `<!` followed by nothing is a cut file; followed by something unknown, garbage.
            XmlError::Syntax(SyntaxError::InvalidBangMarkup) => {
                let input = self.reader.get_mut();
                input.at_end() && input.offset().saturating_sub(offset) <= 2
            }
            // Every other syntax error is some markup whose end was not found before the input
            // ended.
            XmlError::Syntax(_) => true,
            _ => false,
        };
        if at_end_of_input && self.seen_root {
            Stop::Truncated { reason: error.to_string() }
        } else if at_end_of_input {
            Stop::Truncated { reason: format!("no root element: {error}") }
        } else {
            Stop::Malformed { offset, message: error.to_string() }
        }
    }
}

/// The document as the XML reader sees it: the bytes of the underlying reader as UTF-8 (each
/// byte that is not UTF-8 written as `\xHH`, so that ids stay apart and readers see it),
/// decoded a chunk at a time.
///
/// Positions for error messages cost nothing while reading goes well: lines and columns are
/// counted a whole chunk at a time as chunks are finished with, and an offset is located only
/// when an error asks for it, in the current chunk or the one before (an error points into the
/// event being read, which rarely spans more).
struct Input<R> {
    inner: R,
    /// Decoded bytes; `buffer[start..]` are not consumed yet.
    buffer: Vec<u8>,
    start: usize,
    /// Where `buffer` starts in the document.
    buffer_position: Position,
    /// The chunk before `buffer`, and where it starts.
    previous: Vec<u8>,
    previous_position: Position,
    /// The first bytes of a character cut off at the end of the last chunk read.
    pending: Vec<u8>,
}

/// A byte offset into the decoded document with its line and column (both from 1, the column
/// in characters).
#[derive(Debug, Clone, Copy)]
struct Position {
    offset: usize,
    line: usize,
    column: usize,
}

/// How much of the underlying reader's data is decoded at a time. A caller handing over a whole
/// file as one slice still has it decoded in chunks of this size, never copied whole.
const INPUT_CHUNK_BYTES: usize = 64 * 1024;

impl<R: BufRead> Input<R> {
    fn new(inner: R) -> Self {
        let start = Position { offset: 0, line: 1, column: 1 };
        Input {
            inner,
            buffer: Vec::with_capacity(INPUT_CHUNK_BYTES),
            start: 0,
            buffer_position: start,
            previous: Vec::with_capacity(INPUT_CHUNK_BYTES),
            previous_position: start,
            pending: Vec::new(),
        }
    }

    /// The offset of the first byte not consumed yet.
    fn offset(&self) -> usize {
        self.buffer_position.offset + self.start
    }

    fn at_end(&mut self) -> bool {
        self.fill_buf().map_or(true, |rest| rest.is_empty())
    }

    /// The line and column of `offset`, which lies in the current chunk or the one before (for
    /// an earlier offset, the earliest position known).
    fn line_and_column(&self, offset: usize) -> (usize, usize) {
        let (chunk, chunk_position) = if offset >= self.buffer_position.offset {
            (&self.buffer, self.buffer_position)
        } else if offset >= self.previous_position.offset {
            (&self.previous, self.previous_position)
        } else {
            return (self.previous_position.line, self.previous_position.column);
        };
        let mut relative = (offset - chunk_position.offset).min(chunk.len());
        // Inside a character: the column of that character.
        while relative > 0 && chunk.get(relative).is_some_and(|&byte| is_continuation(byte)) {
            relative -= 1;
        }
        let position = advance(chunk_position, &chunk[..relative]);
        (position.line, position.column)
    }

    /// The line the document ends on, reading whatever is left of it.
    fn line_at_end(&mut self) -> usize {
        loop {
            match self.fill_buf() {
                Ok(rest) if !rest.is_empty() => {
                    let length = rest.len();
                    self.consume(length);
                }
                _ => return advance(self.buffer_position, &self.buffer[..self.start]).line,
            }
        }
    }

    /// Decodes the next chunk into `buffer`, as much of [`INPUT_CHUNK_BYTES`] as the input
    /// has left however little the underlying reader hands over at a time; leaves it empty only
    /// at the end of the input.
    fn refill(&mut self) -> std::io::Result<()> {
        let next_position = advance(self.buffer_position, &self.buffer);
        std::mem::swap(&mut self.previous, &mut self.buffer);
        self.previous_position = self.buffer_position;
        self.buffer_position = next_position;
        self.buffer.clear();
        self.start = 0;
        while self.buffer.len() < INPUT_CHUNK_BYTES {
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                if !self.pending.is_empty() {
                    // A character cut off by the end of the input.
                    let mut escaped = String::new();
                    crate::lines::push_escaped(&mut escaped, &self.pending);
                    self.pending.clear();
                    self.buffer.extend_from_slice(escaped.as_bytes());
                }
                return Ok(());
            }
            let taken = chunk.len().min(INPUT_CHUNK_BYTES - self.buffer.len());
            if self.pending.is_empty() {
                decode_lossy(&chunk[..taken], &mut self.buffer, &mut self.pending);
            } else {
                let mut joined = std::mem::take(&mut self.pending);
                joined.extend_from_slice(&chunk[..taken]);
                decode_lossy(&joined, &mut self.buffer, &mut self.pending);
            }
            self.inner.consume(taken);
        }
        Ok(())
    }
}

/// Appends `raw` to `out` as UTF-8, invalid bytes escaped as `\xHH`; a character cut off at the end
/// of `raw` goes to `pending`, to be completed by the next chunk.
fn decode_lossy(raw: &[u8], out: &mut Vec<u8>, pending: &mut Vec<u8>) {
    // Nearly every chunk is valid whole: check it at SIMD speed, and look for where it is not
    // only when it is not.
    if simdutf8::basic::from_utf8(raw).is_ok() {
        out.extend_from_slice(raw);
        return;
    }
    let mut rest = raw;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => {
                out.extend_from_slice(rest);
                return;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                out.extend_from_slice(valid);
                match error.error_len() {
                    Some(invalid) => {
                        let mut escaped = String::new();
                        crate::lines::push_escaped(&mut escaped, &after[..invalid]);
                        out.extend_from_slice(escaped.as_bytes());
                        rest = &after[invalid..];
                    }
                    None => {
                        pending.extend_from_slice(after);
                        return;
                    }
                }
            }
        }
    }
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// `position` moved past `bytes`.
fn advance(mut position: Position, bytes: &[u8]) -> Position {
    position.offset += bytes.len();
    match bytes.iter().rposition(|&byte| byte == b'\n') {
        Some(last_newline) => {
            position.line += count_bytes(&bytes[..=last_newline], |byte| byte == b'\n');
            position.column = 1 + count_bytes(&bytes[last_newline + 1..], |byte| !is_continuation(byte));
        }
        None => position.column += count_bytes(bytes, |byte| !is_continuation(byte)),
    }
    position
}

/// How many of `bytes` match; counted in small blocks with a byte-sized tally, which the
/// compiler turns into vector code (every byte of a document is counted once).
fn count_bytes(bytes: &[u8], matches: impl Fn(u8) -> bool) -> usize {
    bytes
        .chunks(255)
        .map(|block| usize::from(block.iter().fold(0_u8, |tally, &byte| tally + u8::from(matches(byte)))))
        .sum()
}

impl<R: BufRead> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(out.len());
        out[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl<R: BufRead> BufRead for Input<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.start >= self.buffer.len() {
            self.refill()?;
        }
        Ok(&self.buffer[self.start..])
    }

    fn consume(&mut self, amount: usize) {
        self.start = self.start.saturating_add(amount).min(self.buffer.len());
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;

    fn parse(xml: &str) -> ResultSet {
        parse_junit("results.xml", xml.as_bytes()).expect("the document should parse")
    }

    /// Parses `xml` with the fast path for empty test cases on or off; small reads, so that
    /// tags straddle chunks and the fast path must leave them to the XML reader.
    fn parse_with(xml: &str, fast_path: bool, read_size: usize) -> Result<ResultSet, ParseError> {
        let reader = BufReader::with_capacity(read_size, xml.as_bytes());
        let mut parser = JunitParser::new("results.xml", Input::new(reader));
        parser.fast_path = fast_path;
        parser.run()?;
        Ok(parser.results.build())
    }

    /// A suite of `cases` test cases, every tenth failing, with the same class in runs of 30.
    fn many_cases(cases: usize) -> String {
        let mut xml = String::from("<testsuite>\n");
        for index in 0..cases {
            let class = format!("t.m{}.C{}", index % 3, index / 30 % 4);
            if index % 10 == 0 {
                xml.push_str(&format!(
                    "<testcase classname=\"{class}\" name=\"n{index}\"><failure message=\"m{index}\"/></testcase>\n"
                ));
            } else {
                xml.push_str(&format!("<testcase classname=\"{class}\" name=\"n{index}\" time=\"0.5\"/>\n"));
            }
        }
        xml
    }

    #[test]
    fn a_file_of_many_batches_reads_whole_or_cut_or_broken() {
        // More cases than one batch hands to the thread that builds the set (`queue.rs`).
        let cases = 10_000;
        let mut xml = many_cases(cases);
        let complete = format!("{xml}</testsuite>\n");
        let results = parse(&complete);
        assert_eq!(results.len(), cases);
        assert!(results.is_complete());
        assert_eq!(results.failing().len(), cases / 10);
        assert_eq!(only_attempt(&results, "t.m1.C0.n9001").duration, Some(Duration::from_millis(500)));
        assert_eq!(only_attempt(&results, "t.m0.C1.n9990").message.as_deref(), Some("m9990"));
        // Read in small pieces with the general path alone, the same set.
        assert_eq!(parse_with(&complete, false, 7).expect("parses"), results);

        // Cut inside the last case: everything before it, and that case as an error.
        xml.push_str("<testcase classname=\"t\" name=\"cut\"><failure>half");
        let cut = parse(&xml);
        assert_eq!(cut.len(), cases + 1);
        assert!(!cut.is_complete());
        assert_eq!(only_attempt(&cut, "t.cut").outcome, Outcome::Error);

        // Broken after many batches: an error naming the line, and no set.
        let broken = format!("{}</testcase></testsuite>", many_cases(cases));
        let error = parse_junit("results.xml", broken.as_bytes()).expect_err("mismatched end tag");
        assert_eq!(error.location, format!("{}:1", cases + 2), "{error}");
    }

    /// A test case tag as writers write them, in one of several shapes the fast path must read
    /// exactly as the general path does (or leave to it).
    fn case_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let value = prop_oneof![
            "[a-z_.]{0,12}",
            Just("a>b/>c".to_owned()),
            Just("it's".to_owned()),
            Just("x &amp; y &#10; &bogus; &".to_owned()),
            Just("tab\there\nline".to_owned()),
            Just("é ü 中".to_owned()),
        ];
        (
            value.clone(),
            value,
            prop_oneof![Just("0.5"), Just("12.345"), Just("x"), Just(" 1 ")],
            0..9_usize,
            prop_oneof![Just(" "), Just("\n\t"), Just("")],
        )
            .prop_map(|(class, name, time, shape, gap)| {
                // Double quotes, or single quotes for odd shapes when the value allows.
                let quote = |text: &str| {
                    if shape % 2 == 1 && !text.contains('\'') {
                        format!("'{text}'")
                    } else {
                        format!("\"{}\"", text.replace('"', "&quot;"))
                    }
                };
                let attributes = format!("classname={}{gap}name={} time=\"{time}\"", quote(&class), quote(&name));
                match shape {
                    0 | 1 => format!("<testcase {attributes}/>"),
                    2 => format!("<testcase {attributes} />"),
                    3 => format!("<testcase{gap} {attributes}></testcase>"),
                    4 => format!(
                        "<testcase {attributes}><failure message=\"boom\">trace &lt;here&gt;</failure></testcase>"
                    ),
                    5 => format!("<testcase {attributes}><skipped/><system-out>out</system-out></testcase>"),
                    6 => format!("<testcases {attributes}/>"),
                    // Malformed: the error must point at the same line and column.
                    7 => format!("<testcase {attributes}></testcas>"),
                    _ => "<testcase/>".to_owned(),
                }
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        #[test]
        fn the_fast_path_reads_what_the_general_path_reads(
            cases in proptest::collection::vec(case_strategy(), 0..12),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            read_size in 1..64_usize,
        ) {
            let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuites>\n  <testsuite name=\"s\">\n");
            for case in &cases {
                xml.push_str("    ");
                xml.push_str(case);
                xml.push('\n');
            }
            xml.push_str("  </testsuite>\n</testsuites>\n");
            // The whole document, and the same document cut anywhere (a runner that crashed).
            let cut_at = (0..=cut.index(xml.len() + 1)).rev().find(|&index| xml.is_char_boundary(index)).unwrap_or(0);
            for document in [xml.as_str(), &xml[..cut_at]] {
                let general = parse_with(document, false, read_size).map_err(|error| error.to_string());
                let fast = parse_with(document, true, read_size).map_err(|error| error.to_string());
                let whole = parse_with(document, true, 1 << 16).map_err(|error| error.to_string());
                proptest::prop_assert_eq!(&fast, &general, "document:\n{}", document);
                proptest::prop_assert_eq!(&whole, &general, "document:\n{}", document);
            }
        }
    }

    fn outcomes(results: &ResultSet, id: &str) -> Vec<Outcome> {
        results.get(&TestId::new(id)).expect("the test should be recorded").outcomes().collect()
    }

    fn only_attempt<'a>(results: &'a ResultSet, id: &str) -> &'a Attempt {
        let result = results.get(&TestId::new(id)).expect("the test should be recorded");
        assert_eq!(result.attempts.len(), 1, "{id} should have one attempt");
        &result.attempts[0]
    }

    #[test]
    fn reads_pytest_output() {
        let results = parse(
            r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="2" skipped="2" tests="6" time="0.31" timestamp="2024-05-02T10:14:07" hostname="ci"><testcase classname="tests.test_math" name="test_add" time="0.001" /><testcase classname="tests.test_math" name="test_div[zero]" time="0.002"><failure message="ZeroDivisionError: division by zero&#10;second line">def test_div():
&gt;       1 / 0
E       ZeroDivisionError: division by zero

tests/test_math.py:9: ZeroDivisionError</failure></testcase><testcase classname="tests.test_db" name="test_connect" time="0.100"><error message="failed on setup with &quot;ConnectionRefusedError&quot;">fixture 'db' failed</error></testcase><testcase classname="tests.test_db" name="test_cleanup" time="0.010"><failure message="assert 1 == 2">assert 1 == 2</failure><error message="failed on teardown with &quot;OSError&quot;">OSError: busy</error></testcase><testcase classname="tests.test_os" name="test_windows" time="0.000"><skipped type="pytest.skip" message="requires Windows">tests/test_os.py:3: requires Windows</skipped></testcase><testcase classname="tests.test_os" name="test_known_bug" time="0.003"><skipped type="pytest.xfail" message="issue 12" /></testcase><testcase classname="tests.test_cli" name="test_help" time="0.050"><system-out>usage: tool [-h]
</system-out><system-err>warning: deprecated</system-err></testcase></testsuite></testsuites>"#,
        );

        assert!(results.is_complete());
        assert_eq!(results.len(), 7);
        assert_eq!(outcomes(&results, "tests.test_math.test_add"), [Outcome::Pass]);

        let division = only_attempt(&results, "tests.test_math.test_div[zero]");
        assert_eq!(division.outcome, Outcome::Fail);
        assert_eq!(division.message.as_deref(), Some("ZeroDivisionError: division by zero\nsecond line"));
        assert!(division.output.as_deref().is_some_and(|output| output.contains(">       1 / 0")));
        assert_eq!(division.duration, Some(Duration::from_millis(2)));

        assert_eq!(outcomes(&results, "tests.test_db.test_connect"), [Outcome::Error]);

        // A failing call and an erroring teardown: the failure decides, the teardown's text
        // is kept in the output.
        let cleanup = only_attempt(&results, "tests.test_db.test_cleanup");
        assert_eq!(cleanup.outcome, Outcome::Fail);
        assert_eq!(cleanup.message.as_deref(), Some("assert 1 == 2"));
        assert!(cleanup.output.as_deref().is_some_and(|output| output.contains("OSError: busy")));

        let windows = only_attempt(&results, "tests.test_os.test_windows");
        assert_eq!(windows.outcome, Outcome::Skip);
        assert_eq!(windows.message.as_deref(), Some("requires Windows"));

        let known_bug = only_attempt(&results, "tests.test_os.test_known_bug");
        assert_eq!(known_bug.outcome, Outcome::Xfail);
        assert_eq!(known_bug.message.as_deref(), Some("issue 12"));

        let help = only_attempt(&results, "tests.test_cli.test_help");
        assert_eq!(help.outcome, Outcome::Pass);
        assert_eq!(
            help.output.as_deref(),
            Some("--- system-out ---\nusage: tool [-h]\n\n--- system-err ---\nwarning: deprecated")
        );
    }

    #[test]
    fn reads_a_bare_surefire_testsuite() {
        let results = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="3.0" name="com.example.CalculatorTest" time="0.02" tests="3" errors="1" skipped="0" failures="1">
  <properties>
    <property name="java.version" value="17.0.10"/>
  </properties>
  <testcase name="addsTwoNumbers" classname="com.example.CalculatorTest" time="0.004"/>
  <testcase name="dividesByZero" classname="com.example.CalculatorTest" time="0.011">
    <failure message="expected: &lt;Infinity&gt; but was: &lt;NaN&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <Infinity> but was: <NaN>
	at com.example.CalculatorTest.dividesByZero(CalculatorTest.java:31)
]]></failure>
  </testcase>
  <testcase name="readsConfig" classname="com.example.CalculatorTest" time="0.002">
    <error message="config.properties (No such file or directory)" type="java.io.FileNotFoundException"/>
  </testcase>
</testsuite>
"#,
        );

        assert!(results.is_complete());
        assert_eq!(outcomes(&results, "com.example.CalculatorTest.addsTwoNumbers"), [Outcome::Pass]);
        let divides = only_attempt(&results, "com.example.CalculatorTest.dividesByZero");
        assert_eq!(divides.outcome, Outcome::Fail);
        assert_eq!(divides.message.as_deref(), Some("expected: <Infinity> but was: <NaN>"));
        assert!(divides.output.as_deref().is_some_and(|output| output.contains("CalculatorTest.java:31")));
        let config = only_attempt(&results, "com.example.CalculatorTest.readsConfig");
        assert_eq!(config.outcome, Outcome::Error);
        assert_eq!(config.output, None);
    }

    #[test]
    fn reads_subunit2junitxml_output_with_errors_folded_into_failures() {
        let results = parse(
            r#"<testsuite errors="0" failures="1" name="" tests="3" time="0.012">
<testcase classname="twisted.test.test_defer.DeferredTests" name="test_callback" time="0.001"/>
<testcase classname="twisted.internet.test.test_tcp.TCPTests" name="test_listen" time="0.008">
<failure type="testtools.testresult.real._StringException">_StringException: Traceback (most recent call last):
  File "/src/twisted/internet/test/test_tcp.py", line 91, in setUp
    self.port = reactor.listenTCP(0, factory)
builtins.OSError: [Errno 98] Address already in use
</failure>
</testcase>
<testcase classname="twisted.test.test_ssl" name="test_tls13" time="0.000">
<skip>pyOpenSSL 22 or newer required</skip>
</testcase>
</testsuite>"#,
        );

        assert_eq!(outcomes(&results, "twisted.test.test_defer.DeferredTests.test_callback"), [Outcome::Pass]);
        // A setUp exception is an error in trial's terms, but subunit only says "fail".
        let listen = only_attempt(&results, "twisted.internet.test.test_tcp.TCPTests.test_listen");
        assert_eq!(listen.outcome, Outcome::Fail);
        assert_eq!(listen.message.as_deref(), Some("builtins.OSError: [Errno 98] Address already in use"));
        let tls = only_attempt(&results, "twisted.test.test_ssl.test_tls13");
        assert_eq!(tls.outcome, Outcome::Skip);
        assert_eq!(tls.message.as_deref(), Some("pyOpenSSL 22 or newer required"));
    }

    #[test]
    fn reads_nextest_flaky_and_rerun_failures_as_attempts() {
        let results = parse(
            r#"<testsuites name="nextest-run" tests="2" failures="1" errors="0">
    <testsuite name="store" tests="2" disabled="0" errors="0" failures="1">
        <testcase name="tests::locks" classname="store" time="0.451">
            <flakyFailure time="0.402" type="test failure">thread 'tests::locks' panicked at src/lock.rs:88:9:
assertion failed: lock.try_acquire()
                <system-out>running 1 test</system-out>
            </flakyFailure>
            <flakyError type="test abort">SIGSEGV</flakyError>
        </testcase>
        <testcase name="tests::migrates" classname="store" time="0.020">
            <failure type="test failure">thread 'tests::migrates' panicked at src/migrate.rs:40:5</failure>
            <rerunFailure time="0.019" type="test failure">second try panicked</rerunFailure>
            <rerunError type="test abort">
                <stackTrace>third try aborted</stackTrace>
            </rerunError>
        </testcase>
    </testsuite>
</testsuites>"#,
        );

        let locks = results.get(&TestId::new("store.tests::locks")).expect("recorded");
        assert_eq!(locks.outcomes().collect::<Vec<_>>(), [Outcome::Fail, Outcome::Error, Outcome::Pass]);
        let first = &locks.attempts[0];
        assert_eq!(
            first.message.as_deref(),
            Some("thread 'tests::locks' panicked at src/lock.rs:88:9: assertion failed: lock.try_acquire()")
        );
        assert_eq!(first.duration, Some(Duration::from_millis(402)));
        assert!(
            first
                .output
                .as_deref()
                .is_some_and(|output| output.ends_with("try_acquire()\n\n--- system-out ---\nrunning 1 test"))
        );
        assert_eq!(locks.attempts[2].duration, Some(Duration::from_millis(451)));

        let migrates = results.get(&TestId::new("store.tests::migrates")).expect("recorded");
        assert_eq!(migrates.outcomes().collect::<Vec<_>>(), [Outcome::Fail, Outcome::Fail, Outcome::Error]);
        assert_eq!(migrates.attempts[1].message.as_deref(), Some("second try panicked"));
        assert_eq!(migrates.attempts[2].message.as_deref(), Some("third try aborted"));
    }

    #[test]
    fn reads_skips_and_pytest_xfails() {
        let results = parse(
            r#"<testsuite><testcase classname="t" name="skipped"><skipped message="not on CI"/></testcase><testcase classname="t" name="xfail"><skipped type="pytest.xfail" message="bug 12"/></testcase></testsuite>"#,
        );
        assert_eq!(outcomes(&results, "t.skipped"), [Outcome::Skip]);
        assert_eq!(outcomes(&results, "t.xfail"), [Outcome::Xfail]);
    }

    #[test]
    fn the_same_test_passing_and_failing_in_one_file_is_one_error_never_flaky() {
        let failing = r#"<testcase classname="t" name="t03"><failure message="boom">trace</failure></testcase>"#;
        let passing = r#"<testcase classname="t" name="t03"/>"#;
        let other = r#"<testcase classname="t" name="t04"/>"#;
        for cases in [[failing, passing, other], [passing, other, failing], [other, passing, failing]] {
            let results = parse(&format!("<testsuite>{}</testsuite>", cases.concat()));
            assert_eq!(results.len(), 2);
            assert_eq!(outcomes(&results, "t.t03"), [Outcome::Error], "{cases:?}");
            let t03 = results.get(&TestId::new("t.t03")).expect("read");
            assert_eq!(t03.failure_message(), Some(crate::CONFLICT_IN_ONE_FILE));
            assert_eq!(t03.attempts[0].output.as_deref(), Some("boom\ntrace"));
        }
    }

    #[test]
    fn the_same_test_with_the_same_outcome_twice_is_two_attempts() {
        let results = parse(
            r#"<testsuite><testcase classname="t" name="p[1]"/><testcase classname="t" name="p[1]"/><testcase classname="t" name="f"><failure message="boom"/></testcase><testcase classname="t" name="f"><error message="crash"/></testcase></testsuite>"#,
        );
        assert_eq!(results.len(), 2);
        assert_eq!(outcomes(&results, "t.p[1]"), [Outcome::Pass, Outcome::Pass]);
        assert_eq!(outcomes(&results, "t.f"), [Outcome::Fail, Outcome::Error]);
    }

    #[test]
    fn reads_nested_testsuites() {
        let results = parse(
            r#"<testsuites><testsuite name="all"><testsuite name="Unit"><testcase classname="A" name="one"/><testsuite name="A::two"><testcase classname="A" name="two with data set #0"/></testsuite></testsuite></testsuite></testsuites>"#,
        );
        assert!(results.is_complete());
        let ids: Vec<&str> = results.ids().map(TestId::as_str).collect();
        assert_eq!(ids, ["A.one", "A.two with data set #0"]);
    }

    #[test]
    fn an_empty_testsuite_is_an_empty_complete_set() {
        let results = parse(r#"<?xml version="1.0"?><testsuite name="empty" tests="0" failures="0"/>"#);
        assert!(results.is_empty());
        assert!(results.is_complete());
    }

    #[test]
    fn a_file_cut_inside_a_testcase_keeps_what_was_read_and_marks_itself_incomplete() {
        let results = parse(
            "<testsuites>\n<testsuite name=\"s\">\n<testcase classname=\"t\" name=\"done\"/>\n<testcase classname=\"t\" name=\"open\">\n<system-out>half a li",
        );
        assert_eq!(outcomes(&results, "t.done"), [Outcome::Pass]);
        let open = only_attempt(&results, "t.open");
        assert_eq!(open.outcome, Outcome::Error);
        assert_eq!(open.message.as_deref(), Some(TRUNCATED_MESSAGE));
        assert!(open.output.as_deref().is_some_and(|output| output.contains("half a li")));
        assert_eq!(results.incomplete.len(), 1);
        assert_eq!(results.incomplete[0].source, "results.xml");
        assert_eq!(results.incomplete[0].reason, "truncated at line 5: end of file inside `<testcase>`");
    }

    #[test]
    fn a_file_cut_inside_a_start_tag_drops_that_testcase() {
        let results = parse("<testsuite>\n<testcase classname=\"t\" name=\"done\"/>\n<testcase classname=\"t\" na");
        assert_eq!(results.len(), 1);
        assert_eq!(outcomes(&results, "t.done"), [Outcome::Pass]);
        assert!(!results.is_complete());
        assert!(results.incomplete[0].reason.starts_with("truncated at line 3: "), "{:?}", results.incomplete);

        let in_attribute = parse("<testsuite><testcase classname=\"t\" name=\"do");
        assert!(in_attribute.is_empty());
        assert!(!in_attribute.is_complete());
    }

    #[test]
    fn a_file_cut_after_its_last_testcase_is_incomplete() {
        let results = parse("<testsuites><testsuite><testcase classname=\"t\" name=\"a\"/></testsuite>");
        assert_eq!(outcomes(&results, "t.a"), [Outcome::Pass]);
        assert_eq!(results.incomplete[0].reason, "truncated at line 1: end of file inside `<testsuites>`");

        let cut_in_comment = parse("<testsuite><testcase classname=\"t\" name=\"a\"/><!-- tail");
        assert_eq!(cut_in_comment.len(), 1);
        assert!(!cut_in_comment.is_complete());
    }

    #[test]
    fn an_empty_file_is_incomplete() {
        for text in ["", "  \n", "<?xml version=\"1.0\"?>\n"] {
            let results = parse(text);
            assert!(results.is_empty());
            assert_eq!(results.incomplete.len(), 1, "{text:?}");
            assert!(results.incomplete[0].reason.contains("no root element"), "{:?}", results.incomplete);
        }
    }

    #[test]
    fn mismatched_tags_are_an_error_at_line_and_column() {
        let error = parse_junit(
            "broken.xml",
            b"<testsuite>\n  <testcase classname=\"t\" name=\"a\">\n  </testsuite>\n</testcase>",
        )
        .expect_err("mismatched tags should not parse");
        assert_eq!(error.source_name, "broken.xml");
        assert_eq!(error.location, "3:3");
        assert!(error.message.contains("</testcase>"), "{}", error.message);
        assert!(error.to_string().starts_with("broken.xml:3:3: "), "{error}");
    }

    #[test]
    fn errors_are_located_past_the_first_chunk_and_in_events_that_began_in_the_chunk_before() {
        // The mismatched end tag sits beyond the first chunks, and the element before it has
        // text long enough that the tag starts in one chunk and ends in the next.
        let long_output = "line of output\n".repeat(INPUT_CHUNK_BYTES / 15 * 3);
        let document = format!(
            "<testsuite>\n<testcase classname=\"t\" name=\"a\"><system-out>{long_output}</system-out>\n  </testsuite>\n"
        );
        let line = 2 + long_output.matches('\n').count() + 1;
        for capacity in [1, 7, 4096, 1 << 20] {
            let error = parse_junit_reader("big.xml", BufReader::with_capacity(capacity, document.as_bytes()))
                .expect_err("mismatched tags should not parse");
            assert_eq!(error.location, format!("{line}:3"), "read {capacity} bytes at a time");
        }
    }

    #[test]
    fn reading_in_small_pieces_gives_the_same_results() {
        let mut documents: Vec<Vec<u8>> = vec![
            "<testsuite><testcase classname=\"é\" name=\"ü\"><failure message=\"ß\">€ text 😀 &amp; more</failure></testcase></testsuite>".into(),
            b"<testsuite><testcase classname=\"t\" name=\"a\"><failure>bad \xFF\xC3 byte \xE2\x82</failure></testcase></testsuite>\xF0\x9F".to_vec(),
            "<testsuites>\n<testsuite name=\"s\">\n<testcase classname=\"t\" name=\"open\">\n<system-out>half a li".into(),
        ];
        documents.push(
            format!("<testsuite>{}</testsuite>", "<testcase classname=\"t\" name=\"ö\"/>\n".repeat(5000)).into_bytes(),
        );
        for document in &documents {
            let whole = parse_junit("r.xml", document);
            for capacity in [1, 2, 3, 5, 64] {
                let pieces = parse_junit_reader("r.xml", BufReader::with_capacity(capacity, document.as_slice()));
                assert_eq!(pieces, whole, "read {capacity} bytes at a time: {}", String::from_utf8_lossy(document));
            }
        }
    }

    #[test]
    fn a_read_error_is_a_parse_error() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let error = parse_junit_reader("r.xml", BufReader::new(Failing)).expect_err("an unreadable input");
        assert!(error.message.contains("disk on fire"), "{}", error.message);
    }

    #[test]
    fn markup_garbage_in_the_middle_is_an_error() {
        let error = parse_junit("broken.xml", b"<testsuite>\n<!garbage>\n<testcase name=\"a\"/>\n</testsuite>")
            .expect_err("garbage should not parse");
        assert_eq!(error.location, "2:1");
    }

    #[test]
    fn a_document_that_is_not_junit_is_an_error() {
        let error = parse_junit("page.xml", b"<?xml version=\"1.0\"?>\n<html><body/></html>").expect_err("not junit");
        assert_eq!(error.location, "2:1");
        assert_eq!(error.message, "root element is `<html>`, not `<testsuites>` or `<testsuite>`");
    }

    #[test]
    fn declared_entities_are_never_expanded() {
        let mut laughs = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite [\n<!ENTITY lol \"lol\">\n");
        for level in 1..10 {
            let previous = if level == 1 { "lol".to_owned() } else { format!("lol{}", level - 1) };
            laughs.push_str(&format!("<!ENTITY lol{level} \"{}\">\n", format!("&{previous};").repeat(10)));
        }
        laughs.push_str(
            "]>\n<testsuite><testcase classname=\"t\" name=\"laugh\"><failure message=\"&lol9;\">&lol9; &amp; &#65;&#x42;</failure></testcase></testsuite>",
        );
        assert!(looks_like_junit(laughs.as_bytes()));

        let results = parse(&laughs);
        let laugh = only_attempt(&results, "t.laugh");
        assert_eq!(laugh.message.as_deref(), Some("&lol9;"));
        assert_eq!(laugh.output.as_deref(), Some("&lol9; & AB"));
    }

    #[test]
    fn predefined_entities_and_character_references_are_resolved() {
        assert_eq!(
            unescape("a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#10;&#x263A; &nope; & x"),
            "a <b> & \"c\" 'd' \n\u{263A} &nope; & x"
        );
        let results = parse(r#"<testsuite><testcase classname="a&amp;b" name="c&#46;d"/></testsuite>"#);
        assert_eq!(outcomes(&results, "a&b.c.d"), [Outcome::Pass]);
    }

    #[test]
    fn attributes_are_scanned_leniently() {
        fn pairs(raw: &str) -> Vec<(&str, &str)> {
            RawAttributes { rest: raw }.map(|(key, value, _)| (key, value)).collect()
        }
        assert_eq!(pairs(r#" a="1" b = '2'  c="x'y""#), [("a", "1"), ("b", "2"), ("c", "x'y")]);
        assert_eq!(pairs("\n\tname=\"a b\"\r\n"), [("name", "a b")]);
        // Malformed pairs are passed over and scanning goes on.
        assert_eq!(pairs(r#" flag name="a" = "x" bare=value time="1""#), [("name", "a"), ("", "x"), ("time", "1")]);
        assert_eq!(pairs(r#" name="unterminated"#), []);
        assert_eq!(pairs(""), []);
        assert_eq!(pairs("é=\"1\" ü ñ=\"2\""), [("é", "1"), ("ñ", "2")]);
        let results = parse(r#"<testsuite><testcase flag classname='t' name="a" name="b" time = "2"/></testsuite>"#);
        assert_eq!(only_attempt(&results, "t.a").duration, Some(Duration::from_secs(2)));
    }

    proptest::proptest! {
        #[test]
        fn exact_durations_match_the_floating_point_reading(time in "[0-9]{1,6}(\\.[0-9]{0,9})?") {
            let exact = exact_decimal_duration(&time);
            let floating = time.parse::<f64>().ok().and_then(|seconds| Duration::try_from_secs_f64(seconds).ok());
            proptest::prop_assert_eq!(exact, floating);
        }
    }

    #[test]
    fn bad_durations_are_ignored() {
        for (time, expected) in [
            ("1.5", Some(Duration::from_millis(1500))),
            (" 2 ", Some(Duration::from_secs(2))),
            ("1,234.5", None),
            ("abc", None),
            ("-1", None),
            ("1e400", None),
            ("NaN", None),
        ] {
            let results = parse(&format!(r#"<testsuite><testcase classname="t" name="a" time="{time}"/></testsuite>"#));
            assert_eq!(only_attempt(&results, "t.a").duration, expected, "time={time:?}");
        }
    }

    #[test]
    fn output_is_bounded() {
        let huge = "x".repeat(MAX_OUTPUT_BYTES * 3);
        let results = parse(&format!(
            r#"<testsuite><testcase classname="t" name="a"><failure>{huge}</failure><system-out>{huge}</system-out></testcase></testsuite>"#
        ));
        let attempt = only_attempt(&results, "t.a");
        let output = attempt.output.as_deref().expect("output kept");
        assert!(output.len() <= MAX_OUTPUT_BYTES + TRUNCATION_MARKER.len(), "{}", output.len());
        assert!(output.ends_with(TRUNCATION_MARKER));
        let message = attempt.message.as_deref().expect("message from the text");
        assert!(message.len() <= MAX_MESSAGE_BYTES + TRUNCATION_MARKER.len());
    }

    #[test]
    fn invalid_utf8_in_output_is_escaped_not_fatal() {
        let mut bytes =
            b"<testsuite><testcase classname=\"t\" name=\"a\"><failure>bad \xFF byte</failure></testcase></testsuite>"
                .to_vec();
        bytes.extend_from_slice(b"\n");
        let results = parse_junit("results.xml", &bytes).expect("parses");
        assert_eq!(only_attempt(&results, "t.a").output.as_deref(), Some("bad \\xff byte"));
    }

    #[test]
    fn test_ids_that_are_not_utf8_stay_apart_and_show_their_bytes() {
        let bytes = b"<testsuite><testcase classname=\"t\" name=\"caf\xE9\"><failure message=\"x\"/></testcase><testcase classname=\"t\" name=\"caf\xE8\"/><testcase classname=\"t\" name=\"cut\xC3\"/></testsuite>";
        // Whole, and in pieces so small that every invalid byte falls at a chunk's end.
        let whole = parse_junit("results.xml", bytes).expect("parses");
        let pieces =
            parse_junit_reader("results.xml", std::io::BufReader::with_capacity(1, &bytes[..])).expect("parses");
        for results in [whole, pieces] {
            let ids: Vec<&str> = results.ids().map(TestId::as_str).collect();
            assert_eq!(ids, ["t.caf\\xe8", "t.caf\\xe9", "t.cut\\xc3"]);
            assert_eq!(outcomes(&results, "t.caf\\xe9"), [Outcome::Fail]);
            assert_eq!(outcomes(&results, "t.caf\\xe8"), [Outcome::Pass]);
        }
    }

    #[test]
    fn detects_junit_by_content() {
        assert!(looks_like_junit(b"<testsuites/>"));
        assert!(looks_like_junit(
            b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- generated -->\n<testsuite name=\"x\">"
        ));
        assert!(looks_like_junit(b"<?xml version=\"1.0\"?><!DOCTYPE testsuite [<!ENTITY a \"<b>\">]>\n\t<testsuite>"));
        // Cut right after the root's name: still JUnit, read as truncated.
        assert!(looks_like_junit(b"<?xml version=\"1.0\"?>\n<testsuites"));

        assert!(!looks_like_junit(b""));
        assert!(!looks_like_junit(b"<?xml version=\"1.0\"?><html/>"));
        assert!(!looks_like_junit(b"<testsuitesfoo/>"));
        assert!(!looks_like_junit(b"TAP version 13\n1..2\nok 1 - <testsuite>\n"));
        assert!(!looks_like_junit(b"<!-- never closed <testsuite>"));
        assert!(!looks_like_junit(b"\x7fELF\x02\x01\x01\x00\x00\x00<testsuite>\x00\xff\xfe"));
        assert!(!looks_like_junit(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]));
    }

    /// The line and column of `offset` in `text`, as the reader reports them for an error there.
    fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
        let mut input = Input::new(text.as_bytes());
        input.line_at_end();
        input.line_and_column(offset)
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_and_column("é\nxé", 4), (2, 2));
        assert_eq!(line_and_column("é\nxé", 6), (2, 3));
        // Inside a character: the column of that character.
        assert_eq!(line_and_column("é\nxé", 5), (2, 2));
        assert_eq!(line_and_column("ab", 99), (1, 3));
    }
}
