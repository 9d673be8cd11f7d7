//! The TAP reader: recognises Test Anything Protocol streams (versions 12, 13 and 14) by content
//! and reads them into a [`ResultSet`].
//!
//! TAP is line-based. What this reader takes from each kind of line:
//!
//! - `TAP version 13` (optional, first line): versions 12 to 14 are read; any other number is a
//!   [`ParseError`];
//! - the plan `1..N`, at the start or the end of the stream; `1..0 # SKIP reason` is a stream
//!   that skipped everything. A second plan in one stream is a [`ParseError`];
//! - test lines `ok N - description` and `not ok N description`, the number and the `- ` both
//!   optional. `not ok` is [`Outcome::Fail`] (TAP has no separate error). A `# SKIP reason`
//!   directive makes the test [`Outcome::Skip`] whichever word starts the line; a `# TODO reason`
//!   directive makes `not ok` an [`Outcome::Xfail`], and `ok` an [`Outcome::Pass`] whose message
//!   notes that a test marked TODO passed. A `#` that starts no directive is part of the
//!   description (bats writes test names with `#` in them unescaped); `\#` is a literal `#`;
//! - a YAML diagnostics block (`---` … `...`, indented under its test line): the whole block is
//!   the attempt's output, its `message` key (node's test runner: `error`) the attempt's
//!   message, its lines joined into one, and node's `duration_ms` its duration;
//! - `#` comments right after a failing test line (Test::More's and bats' diagnostics): they join
//!   that attempt's output, and their first lines its message when no YAML block gave one;
//! - `Bail out! reason`: the run stopped. Reading stops there and the set is marked incomplete:
//!   tests that never ran are missing from it, not passed;
//! - anything else is ignored, as the specification asks of a harness.
//!
//! A test's id is its description, trimmed and without the leading `- `; a test without a
//! description is `test N`, N being its number (or its position when it has none). Two tests
//! with the same description in one stream are two attempts of one test (see
//! [`ResultSet::record`]), which is what a TAP stream that reruns a test looks like.
//!
//! Subtests (TAP 14, and the same shape from Test::More and node's test runner) are an indented
//! stream, usually announced by `# Subtest: name`, and closed by the parent's own test line at
//! the outer indentation. A subtest's tests are recorded as `parent/child` (and deeper:
//! `parent/child/grandchild`), the parent being named by the description of that closing test
//! line; the parent itself is recorded too, under its own description. Subtests nest at most
//! [`MAX_SUBTEST_DEPTH`] deep; deeper is a [`ParseError`].
//!
//! A stream that does not say it finished is marked incomplete, never taken for a pass: no
//! plan by the end of the top-level stream, a plan that promises more (or fewer) tests than
//! were reported (`plan 1..10 but 7 tests reported`), a file that ends inside a subtest or a
//! YAML block, a bail out, and a last line with no line ending (a file cut mid-line) — the test
//! on such a line is recorded as an [`Outcome::Error`] with the message [`TRUNCATED_MESSAGE`], as
//! its outcome or name may have been cut. A subtest without a plan of its own is accepted: its
//! parent's test line says it finished.
//!
//! Errors are located as `line:column`, both from 1, the column in characters. Bytes that are
//! not UTF-8 are kept visibly as `\xHH` escapes. Each attempt keeps at most [`MAX_OUTPUT_BYTES`] of output
//! and [`MAX_MESSAGE_BYTES`] of message, however long the stream.

use std::time::Duration;

use crate::junit::{BoundedText, MAX_OUTPUT_BYTES, TRUNCATED_MESSAGE};
use crate::lines::{DETECTION_WINDOW_BYTES, bounded_message};
use crate::{Attempt, Outcome, ParseError, ResultSet, TestId};

/// The deepest nesting of subtests read. Real suites nest a handful of levels; the bound keeps
/// the work of naming nested tests linear in the size of the stream.
pub const MAX_SUBTEST_DEPTH: usize = 32;

/// How many comment lines after a failing test make its message when no YAML block gave one:
/// Test::More's "Failed test", "at file line", "got" and "expected".
const MESSAGE_COMMENT_LINES: usize = 4;

/// How many lines of a multi-line YAML `message` are joined into the attempt's one-line message:
/// enough for an assertion's expected and actual values, not a whole dump.
const MESSAGE_YAML_LINES: usize = 8;

/// True when `bytes` is a TAP stream: its first line that is neither blank nor a comment is a
/// version line, a plan, a test line or a bail out, and lines that TAP does not know do not
/// outnumber those it does. Without a version line, a plan or a numbered test line is needed
/// too, so that a log that merely says `ok` is not taken for results.
///
/// Binary data (a NUL byte, or a subunit v2 stream's 0xB3 signature first) is never TAP.
pub fn looks_like_tap(bytes: &[u8]) -> bool {
    if bytes.first() == Some(&0xB3) {
        return false;
    }
    let window = &bytes[..bytes.len().min(DETECTION_WINDOW_BYTES)];
    if window.contains(&0) {
        return false;
    }
    let text = String::from_utf8_lossy(window);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if window.len() < bytes.len() {
        // The window cut the last line short; it would read as garbage.
        lines.pop();
    }

    let mut seen_first = false;
    let mut strong_signal = false;
    let mut tap_lines = 0usize;
    let mut other_lines = 0usize;
    let mut yaml_indent: Option<usize> = None;
    for raw in lines {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let indent = indentation(raw);
        let content = raw[indent..].trim_end();
        if content.is_empty() {
            continue;
        }
        if let Some(block_indent) = yaml_indent {
            if indent >= block_indent && content != "..." {
                continue;
            }
            yaml_indent = None;
            if content == "..." {
                continue;
            }
        }
        let kind = classify(content);
        if !seen_first {
            match kind {
                Line::Comment(_) | Line::Subtest(_) => continue,
                Line::Version(_) => {
                    seen_first = true;
                    strong_signal = true;
                }
                Line::Plan(_) | Line::Test(_) | Line::BailOut(_) => seen_first = true,
                _ => return false,
            }
        }
        match kind {
            Line::Version(_) | Line::BailOut(_) => tap_lines += 1,
            Line::Plan(_) => {
                tap_lines += 1;
                strong_signal = true;
            }
            Line::Test(test) => {
                tap_lines += 1;
                strong_signal |= test.number.is_some();
            }
            Line::YamlStart => yaml_indent = Some(indent),
            Line::Comment(_) | Line::Subtest(_) | Line::Pragma => {}
            Line::Other => other_lines += 1,
        }
        if content.contains('\u{FFFD}') {
            other_lines += 1;
        }
    }
    strong_signal && tap_lines > 0 && other_lines <= tap_lines
}

/// Reads a TAP stream. `source_name` names the file in errors and incomplete marks.
///
/// See the module documentation for what is read, how subtests are named, and when the set is
/// marked incomplete.
pub fn parse_tap(source_name: &str, bytes: &[u8]) -> Result<ResultSet, ParseError> {
    let text = crate::lines::escape_invalid_utf8(bytes);
    let mut parser = TapParser::new(source_name);
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        // The piece after the last line ending is empty in a well-formed file; anything else
        // there is a line the writer never finished.
        let is_last = lines.peek().is_none();
        if is_last && raw.is_empty() {
            break;
        }
        parser.line(index + 1, raw, is_last)?;
        if parser.bail_out.is_some() {
            break;
        }
    }
    Ok(parser.finish())
}

/// The number of leading spaces and tabs.
fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// What one line of a TAP stream is, its indentation removed.
#[derive(Debug, Clone, PartialEq)]
enum Line<'a> {
    /// `TAP version N`: the text after `version`, and its offset in the content.
    Version((&'a str, usize)),
    Plan(PlanLine),
    Test(TestLine),
    /// `Bail out!` and its reason.
    BailOut(&'a str),
    /// `# Subtest: name`.
    Subtest(&'a str),
    /// `# text`, without the `#`.
    Comment(&'a str),
    /// `---`, which opens a YAML block after a test line.
    YamlStart,
    /// `pragma +strict` and the like.
    Pragma,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
struct PlanLine {
    /// The number before `..`, which must be 1.
    first: Option<u64>,
    /// The number after it; `None` when it does not fit.
    count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
struct TestLine {
    ok: bool,
    number: Option<u64>,
    description: String,
    directive: Option<Directive>,
}

#[derive(Debug, Clone, PartialEq)]
enum Directive {
    Skip(String),
    Todo(String),
}

fn classify(content: &str) -> Line<'_> {
    if let Some(rest) = strip_prefix_ignoring_case(content, "TAP version").filter(|rest| rest.starts_with([' ', '\t']))
    {
        let number = rest.trim();
        return Line::Version((number, content.len() - rest.trim_start().len()));
    }
    if let Some(rest) = strip_prefix_ignoring_case(content, "Bail out!") {
        return Line::BailOut(rest.trim());
    }
    if let Some(comment) = content.strip_prefix('#') {
        let trimmed = comment.trim();
        if let Some(name) = strip_prefix_ignoring_case(trimmed, "Subtest")
            && (name.is_empty() || name.starts_with([':', ' ']))
        {
            return Line::Subtest(name.trim_start_matches(':').trim());
        }
        return Line::Comment(trimmed);
    }
    if content == "---" {
        return Line::YamlStart;
    }
    if content.starts_with("pragma ") {
        return Line::Pragma;
    }
    if let Some(plan) = parse_plan(content) {
        return Line::Plan(plan);
    }
    if let Some(test) = parse_test_line(content) {
        return Line::Test(test);
    }
    Line::Other
}

fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// `M..N`, optionally followed by a `#` comment or directive. A `1..0 # SKIP reason` needs no
/// reason kept: there is no test to give it to.
fn parse_plan(content: &str) -> Option<PlanLine> {
    let range = content.find('#').map_or(content, |hash| content[..hash].trim_end());
    let (first, count) = range.split_once("..")?;
    if first.is_empty() || count.is_empty() || !is_digits(first) || !is_digits(count) {
        return None;
    }
    Some(PlanLine { first: first.parse().ok(), count: count.parse().ok() })
}

fn is_digits(text: &str) -> bool {
    text.bytes().all(|byte| byte.is_ascii_digit())
}

/// `ok` or `not ok`, then an optional number, description and directive.
fn parse_test_line(content: &str) -> Option<TestLine> {
    let (ok, rest) = if let Some(rest) = content.strip_prefix("not ok") {
        (false, rest)
    } else if let Some(rest) = content.strip_prefix("ok") {
        (true, rest)
    } else {
        return None;
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        // `okay`, `not okay`: prose, not a test line.
        return None;
    }
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let after_digits = &rest[digits..];
    let (number, rest) = if digits > 0 && (after_digits.is_empty() || after_digits.starts_with([' ', '\t'])) {
        match rest[..digits].parse() {
            Ok(number) => (Some(number), after_digits),
            // Too long to be a test number: it is part of the description.
            Err(_) => (None, rest),
        }
    } else {
        (None, rest)
    };
    let (description, directive) = split_directive(rest);
    let description = description.trim();
    let description = description.strip_prefix('-').map_or(description, str::trim_start);
    Some(TestLine { ok, number, description: unescape(description.trim_end()), directive })
}

/// Splits a test line's text at the first unescaped `#` that starts a `SKIP` or `TODO`
/// directive. A `#` that starts neither stays in the description.
fn split_directive(text: &str) -> (&str, Option<Directive>) {
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        match character {
            '\\' if !escaped => escaped = true,
            '#' if !escaped => {
                let after = text[index + 1..].trim_start();
                if let Some(rest) = strip_prefix_ignoring_case(after, "skip") {
                    return (&text[..index], Some(Directive::Skip(directive_reason(rest).to_owned())));
                }
                if let Some(rest) = strip_prefix_ignoring_case(after, "todo") {
                    return (&text[..index], Some(Directive::Todo(directive_reason(rest).to_owned())));
                }
            }
            _ => escaped = false,
        }
    }
    (text, None)
}

/// The reason after a directive word: `SKIPPED: no network` gives `no network`.
fn directive_reason(after_keyword: &str) -> &str {
    after_keyword.trim_start_matches(|character: char| character.is_ascii_alphabetic()).trim_start_matches(':').trim()
}

/// Resolves `\#` and `\\`, the escapes TAP writers use in descriptions; other backslashes are
/// kept.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '\\' && matches!(characters.peek(), Some('#' | '\\')) {
            if let Some(escaped) = characters.next() {
                out.push(escaped);
            }
        } else {
            out.push(character);
        }
    }
    out
}

/// A test line read, waiting for its YAML block and diagnostics.
#[derive(Debug)]
struct PendingTest {
    id: String,
    outcome: Outcome,
    message: Option<String>,
    duration: Option<Duration>,
    output: BoundedText,
    /// The first comment lines after a failing test, for its message.
    comment_lines: Vec<String>,
}

impl PendingTest {
    fn into_attempt(self) -> (String, Attempt) {
        let message = self.message.or_else(|| {
            let joined = self.comment_lines.join(" ");
            (!joined.is_empty()).then(|| bounded_message(&joined))
        });
        let attempt = Attempt { outcome: self.outcome, duration: self.duration, message, output: self.output.finish() };
        (self.id, attempt)
    }
}

/// A plan read in a stream, and where.
#[derive(Debug, Clone)]
struct Plan {
    count: u64,
    line: usize,
}

/// A subtest stream closed by a line at its parent's indentation, whose tests are named after
/// the parent's test line when that line comes next.
#[derive(Debug)]
struct ClosedSubtest {
    /// From `# Subtest: name`, for when no test line closes it.
    name: Option<String>,
    opened_at: usize,
    results: Vec<(String, Attempt)>,
}

impl ClosedSubtest {
    fn fallback_name(&self) -> String {
        self.name
            .clone()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| format!("subtest at line {}", self.opened_at))
    }
}

/// One TAP stream: the top-level one, or a subtest at a deeper indentation.
#[derive(Debug)]
struct Stream {
    indent: usize,
    name: Option<String>,
    opened_at: usize,
    plan: Option<Plan>,
    reported: u64,
    results: Vec<(String, Attempt)>,
    /// The last test line, still taking its YAML block and diagnostics.
    pending: Option<PendingTest>,
    /// Whether the line before was that test line, so that a YAML block may start.
    yaml_may_start: bool,
    /// A `# Subtest: name` at this stream's indentation, naming the subtest that follows (node's
    /// test runner writes it there), and the line it is on.
    announced_subtest: Option<(String, usize)>,
    closed_subtest: Option<ClosedSubtest>,
}

impl Stream {
    fn new(indent: usize, name: Option<String>, opened_at: usize) -> Self {
        Stream {
            indent,
            name,
            opened_at,
            plan: None,
            reported: 0,
            results: Vec::new(),
            pending: None,
            yaml_may_start: false,
            announced_subtest: None,
            closed_subtest: None,
        }
    }

    fn flush_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.results.push(pending.into_attempt());
        }
        self.yaml_may_start = false;
    }

    /// Files a closed subtest's tests under its own name, as no test line claimed them.
    fn flush_closed_subtest(&mut self) {
        if let Some(subtest) = self.closed_subtest.take() {
            let prefix = subtest.fallback_name();
            self.adopt(&prefix, subtest.results);
        }
    }

    fn adopt(&mut self, prefix: &str, results: Vec<(String, Attempt)>) {
        self.results.extend(results.into_iter().map(|(id, attempt)| (format!("{prefix}/{id}"), attempt)));
    }

    /// How this stream is named in incomplete marks.
    fn describe(&self) -> String {
        match &self.name {
            Some(name) if !name.is_empty() => format!("subtest `{name}` (line {})", self.opened_at),
            _ => format!("the subtest at line {}", self.opened_at),
        }
    }
}

/// An open YAML block, collected for the test line before it.
#[derive(Debug)]
struct YamlBlock {
    indent: usize,
    opened_at: usize,
    text: BoundedText,
    /// The block's lines without its indentation, for its keys; bounded like the output.
    lines: Vec<String>,
    kept_bytes: usize,
}

struct TapParser<'source> {
    source_name: &'source str,
    results: ResultSet,
    /// The top-level stream first, then each open subtest, innermost last. Never empty.
    streams: Vec<Stream>,
    yaml: Option<YamlBlock>,
    bail_out: Option<String>,
    /// Whether a non-blank line was read yet: the first one sets the top-level indentation.
    seen_content: bool,
    /// The line the input ends on without a line ending, when it is a test line or a plan.
    unterminated_line: Option<usize>,
    last_line: usize,
}

impl<'source> TapParser<'source> {
    fn new(source_name: &'source str) -> Self {
        TapParser {
            source_name,
            results: ResultSet::new(),
            streams: vec![Stream::new(0, None, 1)],
            yaml: None,
            bail_out: None,
            seen_content: false,
            unterminated_line: None,
            last_line: 0,
        }
    }

    fn error(&self, line: usize, column: usize, message: String) -> ParseError {
        ParseError { source_name: self.source_name.to_owned(), location: format!("{line}:{column}"), message }
    }

    fn line(&mut self, number: usize, raw: &str, unterminated: bool) -> Result<(), ParseError> {
        self.last_line = number;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let indent = indentation(raw);
        let content = raw[indent..].trim_end();

        if let Some(yaml) = self.yaml.as_mut() {
            let ends_the_block = content == "..." && indent <= yaml.indent;
            if !ends_the_block && (content.is_empty() || indent >= yaml.indent) {
                yaml.push(raw);
                return Ok(());
            }
            // `...` ends the block; so does a line less indented than the block (a writer that
            // forgot the `...`), which is then read as what it is.
            self.close_yaml();
            if ends_the_block {
                return Ok(());
            }
        }
        if content.is_empty() {
            return Ok(());
        }
        let kind = classify(content);
        if !self.seen_content {
            self.seen_content = true;
            // A stream indented as a whole is still the top-level stream. A comment first says
            // nothing of the stream's indentation: TAP 14 announces a first subtest with an
            // indented `# Subtest:` line.
            if matches!(kind, Line::Version(_) | Line::Plan(_) | Line::Test(_) | Line::BailOut(_)) {
                self.innermost_mut().indent = indent;
            }
        }
        if unterminated && matches!(kind, Line::Test(_) | Line::Plan(_)) {
            self.unterminated_line = Some(number);
        }
        let innermost_indent = self.innermost().indent;
        if indent > innermost_indent {
            match kind {
                Line::YamlStart if self.innermost().yaml_may_start => {
                    self.yaml = Some(YamlBlock::new(indent, number));
                    return Ok(());
                }
                Line::Version(_) | Line::Plan(_) | Line::Test(_) | Line::Subtest(_) => {
                    if self.open_subtest(indent, number, &kind)? {
                        return Ok(());
                    }
                }
                // Indented comments and prose outside a subtest say nothing about results.
                _ => return Ok(()),
            }
        } else if indent < innermost_indent {
            self.close_subtests_deeper_than(indent);
        }
        self.read(number, indent, content, kind)
    }

    fn innermost(&self) -> &Stream {
        // `streams` always holds the top-level stream; this indexing cannot fail.
        &self.streams[self.streams.len() - 1]
    }

    fn innermost_mut(&mut self) -> &mut Stream {
        let last = self.streams.len() - 1;
        &mut self.streams[last]
    }

    /// Opens a subtest at `indent`. Returns whether the line that opened it was used up: a
    /// `# Subtest: name` line that names the subtest it opens, rather than, as node's test
    /// runner writes it, one announcing a test inside a subtest its parent announced.
    fn open_subtest(&mut self, indent: usize, number: usize, kind: &Line<'_>) -> Result<bool, ParseError> {
        if self.streams.len() > MAX_SUBTEST_DEPTH {
            return Err(self.error(
                number,
                indent + 1,
                format!("subtests nested deeper than {MAX_SUBTEST_DEPTH} levels"),
            ));
        }
        let parent = self.innermost_mut();
        parent.flush_pending();
        parent.flush_closed_subtest();
        let (name, opened_at, used_up) = match (parent.announced_subtest.take(), kind) {
            (Some((announced, line)), _) => (Some(announced), line, false),
            (None, Line::Subtest(name)) => (Some((*name).to_owned()), number, true),
            (None, _) => (None, number, false),
        };
        self.streams.push(Stream::new(indent, name, opened_at));
        Ok(used_up)
    }

    /// Ends every subtest indented deeper than `indent`; the innermost remaining stream keeps
    /// the last one ended, for its next test line to name.
    fn close_subtests_deeper_than(&mut self, indent: usize) {
        while self.streams.len() > 1 && self.innermost().indent > indent {
            let Some(mut subtest) = self.streams.pop() else { break };
            self.finish_stream(&mut subtest);
            let closed = ClosedSubtest { name: subtest.name, opened_at: subtest.opened_at, results: subtest.results };
            let parent = self.innermost_mut();
            parent.flush_pending();
            parent.flush_closed_subtest();
            parent.closed_subtest = Some(closed);
        }
    }

    /// Reads one line in the innermost stream.
    fn read(&mut self, number: usize, indent: usize, content: &str, kind: Line<'_>) -> Result<(), ParseError> {
        match kind {
            Line::Version((version, offset)) => {
                if !matches!(version, "12" | "13" | "14") {
                    let column = indent + content[..offset].chars().count() + 1;
                    return Err(self.error(number, column, format!("unsupported TAP version `{version}`")));
                }
                let stream = self.innermost_mut();
                stream.yaml_may_start = false;
            }
            Line::Plan(plan) => self.read_plan(number, indent, plan)?,
            Line::Test(test) => self.read_test(number, test),
            Line::BailOut(reason) => {
                let stream = self.innermost_mut();
                stream.flush_pending();
                self.bail_out = Some(reason.to_owned());
            }
            Line::Subtest(name) => {
                let stream = self.innermost_mut();
                stream.flush_pending();
                stream.flush_closed_subtest();
                stream.announced_subtest = Some((name.to_owned(), number));
            }
            Line::Comment(comment) => {
                let stream = self.innermost_mut();
                stream.yaml_may_start = false;
                if let Some(pending) = stream
                    .pending
                    .as_mut()
                    .filter(|pending| pending.outcome.is_failure() || pending.outcome == Outcome::Xfail)
                {
                    pending.output.push(content);
                    pending.output.push("\n");
                    if pending.comment_lines.len() < MESSAGE_COMMENT_LINES && !comment.is_empty() {
                        pending.comment_lines.push(comment.to_owned());
                    }
                }
            }
            Line::YamlStart | Line::Pragma | Line::Other => self.innermost_mut().yaml_may_start = false,
        }
        Ok(())
    }

    fn read_plan(&mut self, number: usize, indent: usize, plan: PlanLine) -> Result<(), ParseError> {
        if plan.first != Some(1) {
            // Not a plan (which always starts at 1) but a line TAP does not know: ignored.
            self.innermost_mut().yaml_may_start = false;
            return Ok(());
        }
        let Some(count) = plan.count else {
            return Err(self.error(number, indent + 4, "the plan's test count is too large".to_owned()));
        };
        let stream = self.innermost();
        if let Some(first) = &stream.plan {
            let first_line = first.line;
            return Err(self.error(number, indent + 1, format!("a second plan; the first is at line {first_line}")));
        }
        let stream = self.innermost_mut();
        stream.flush_pending();
        stream.flush_closed_subtest();
        stream.plan = Some(Plan { count, line: number });
        Ok(())
    }

    fn read_test(&mut self, number: usize, test: TestLine) {
        let truncated = self.unterminated_line == Some(number);
        let stream = self.innermost_mut();
        stream.flush_pending();
        stream.reported += 1;
        let id = if test.description.is_empty() {
            format!("test {}", test.number.unwrap_or(stream.reported))
        } else {
            test.description
        };
        if let Some(subtest) = stream.closed_subtest.take() {
            stream.adopt(&id, subtest.results);
        }
        // node's test runner announces every test, not only those with subtests.
        stream.announced_subtest = None;
        let (outcome, message) = match (test.ok, test.directive) {
            (_, Some(Directive::Skip(reason))) => (Outcome::Skip, Some(reason)),
            (false, Some(Directive::Todo(reason))) => (Outcome::Xfail, Some(reason)),
            (true, Some(Directive::Todo(reason))) => {
                let note = if reason.is_empty() {
                    "passed although marked TODO".to_owned()
                } else {
                    format!("passed although marked TODO: {reason}")
                };
                (Outcome::Pass, Some(note))
            }
            (true, None) => (Outcome::Pass, None),
            (false, None) => (Outcome::Fail, None),
        };
        let (outcome, message) =
            if truncated { (Outcome::Error, Some(TRUNCATED_MESSAGE.to_owned())) } else { (outcome, message) };
        stream.pending = Some(PendingTest {
            id,
            outcome,
            message: message.filter(|message| !message.is_empty()).map(|message| bounded_message(&message)),
            duration: None,
            output: BoundedText::new(MAX_OUTPUT_BYTES),
            comment_lines: Vec::new(),
        });
        stream.yaml_may_start = true;
    }

    /// Hands a finished YAML block to the test line before it.
    fn close_yaml(&mut self) {
        let Some(yaml) = self.yaml.take() else { return };
        let stream = self.innermost_mut();
        stream.yaml_may_start = false;
        let Some(pending) = stream.pending.as_mut() else { return };
        let keys = YamlKeys::read(&yaml.lines);
        if pending.message.is_none() {
            pending.message = keys.message.map(|message| bounded_message(&message));
        }
        pending.duration = keys.duration;
        if let Some(text) = yaml.text.finish() {
            pending.output.push(&text);
            pending.output.push("\n");
        }
    }

    /// Applies the end-of-stream checks of one stream, flushing what it still holds.
    fn finish_stream(&mut self, stream: &mut Stream) {
        stream.flush_pending();
        stream.flush_closed_subtest();
        // The top-level stream is finished last, once every subtest is off the stack.
        let is_subtest = !self.streams.is_empty();
        let whose = if is_subtest { format!("{}: ", stream.describe()) } else { String::new() };
        match &stream.plan {
            Some(plan) if plan.count != stream.reported => {
                let tests = if stream.reported == 1 { "test" } else { "tests" };
                self.results.mark_incomplete(
                    self.source_name,
                    format!("{whose}plan 1..{} but {} {tests} reported", plan.count, stream.reported),
                );
            }
            Some(_) => {}
            None if is_subtest => {}
            None => self.results.mark_incomplete(self.source_name, "no plan (`1..N`): the stream ended before it"),
        }
    }

    fn finish(mut self) -> ResultSet {
        if let Some(yaml) = &self.yaml {
            let reason = format!(
                "truncated at line {}: end of file inside the YAML block from line {}",
                self.last_line, yaml.opened_at
            );
            self.results.mark_incomplete(self.source_name, reason);
            self.close_yaml();
        }
        if let Some(line) = self.unterminated_line {
            self.results.mark_incomplete(
                self.source_name,
                format!("truncated at line {line}: the last line has no line ending"),
            );
        }
        let bailed_out = self.bail_out.is_some();
        while self.streams.len() > 1 {
            let Some(mut subtest) = self.streams.pop() else { break };
            if bailed_out {
                // The bail out is the one reason: the subtest's plan was never going to be met.
                subtest.flush_pending();
                subtest.flush_closed_subtest();
            } else {
                let reason = format!("truncated: end of file inside {}", subtest.describe());
                self.results.mark_incomplete(self.source_name, reason);
                self.finish_stream(&mut subtest);
            }
            let closed = ClosedSubtest { name: subtest.name, opened_at: subtest.opened_at, results: subtest.results };
            let parent = self.innermost_mut();
            parent.flush_pending();
            parent.flush_closed_subtest();
            parent.closed_subtest = Some(closed);
        }
        let Some(mut top) = self.streams.pop() else { return self.results };
        match self.bail_out.take() {
            Some(reason) => {
                top.flush_pending();
                top.flush_closed_subtest();
                let reason = if reason.is_empty() { "bailed out".to_owned() } else { format!("bailed out: {reason}") };
                self.results.mark_incomplete(self.source_name, reason);
            }
            None => self.finish_stream(&mut top),
        }
        for (id, attempt) in top.results {
            self.results.report(TestId::new(id), attempt);
        }
        self.results
    }
}

impl YamlBlock {
    fn new(indent: usize, opened_at: usize) -> Self {
        YamlBlock { indent, opened_at, text: BoundedText::new(MAX_OUTPUT_BYTES), lines: Vec::new(), kept_bytes: 0 }
    }

    fn push(&mut self, raw: &str) {
        // The block's own indentation is not part of its text.
        let strip = indentation(raw).min(self.indent);
        let line = &raw[strip..];
        self.text.push(line);
        self.text.push("\n");
        if self.kept_bytes < MAX_OUTPUT_BYTES {
            self.kept_bytes += line.len();
            self.lines.push(line.to_owned());
        }
    }
}

/// The keys of a YAML diagnostics block that this reader uses. Only the top-level scalars are
/// read, in the shapes TAP writers produce (plain, quoted, and `|`/`>` block scalars): a full
/// YAML parser would be a large dependency for three values.
#[derive(Debug, Default, PartialEq)]
struct YamlKeys {
    message: Option<String>,
    duration: Option<Duration>,
}

impl YamlKeys {
    fn read(lines: &[String]) -> YamlKeys {
        let message = yaml_scalar(lines, "message").or_else(|| yaml_scalar(lines, "error"));
        // One line, as a report shows it: bats puts the failing command on the second line, and
        // node the expected and actual values after the first.
        let message = message
            .map(|text| {
                let lines: Vec<&str> =
                    text.lines().map(str::trim).filter(|line| !line.is_empty()).take(MESSAGE_YAML_LINES).collect();
                lines.join(" ")
            })
            .filter(|message| !message.is_empty());
        let duration = yaml_scalar(lines, "duration_ms")
            .and_then(|text| text.trim().parse::<f64>().ok())
            .and_then(|milliseconds| Duration::try_from_secs_f64(milliseconds / 1000.0).ok());
        YamlKeys { message, duration }
    }
}

/// The value of the top-level key `key`, if it is a scalar.
fn yaml_scalar(lines: &[String], key: &str) -> Option<String> {
    let position = lines.iter().position(|line| {
        line.strip_prefix(key).is_some_and(|rest| rest.starts_with(':') && !line.starts_with([' ', '\t']))
    })?;
    let first = lines[position][key.len() + 1..].trim();
    // Lines indented under the key continue its value.
    let continuation: Vec<&str> = lines[position + 1..]
        .iter()
        .take_while(|line| line.trim().is_empty() || line.starts_with([' ', '\t']))
        .map(String::as_str)
        .collect();
    if first.starts_with(['|', '>']) {
        let folded = first.starts_with('>');
        let content_indent =
            continuation.iter().find(|line| !line.trim().is_empty()).map_or(0, |line| indentation(line));
        let body: Vec<&str> = continuation.iter().map(|line| &line[indentation(line).min(content_indent)..]).collect();
        let joined = body.join(if folded { " " } else { "\n" });
        return Some(joined.trim_end().to_owned());
    }
    let mut value = first.to_owned();
    for line in continuation.iter().map(|line| line.trim()).filter(|line| !line.is_empty()) {
        value.push(' ');
        value.push_str(line);
    }
    if let Some(quoted) = value.strip_prefix('\'') {
        let end = quoted.rfind('\'').unwrap_or(quoted.len());
        return Some(quoted[..end].replace("''", "'"));
    }
    if let Some(quoted) = value.strip_prefix('"') {
        return Some(unquote_double(quoted));
    }
    if value.is_empty() {
        // A mapping or a sequence, not a scalar.
        return None;
    }
    Some(value)
}

/// The text of a double-quoted YAML scalar after its opening quote.
fn unquote_double(quoted: &str) -> String {
    let mut out = String::new();
    let mut characters = quoted.chars();
    while let Some(character) = characters.next() {
        match character {
            '"' => break,
            '\\' => match characters.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => break,
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::MAX_MESSAGE_BYTES;
    use crate::junit::TRUNCATION_MARKER;

    fn parse(text: &str) -> ResultSet {
        parse_tap("results.tap", text.as_bytes()).expect("the stream should parse")
    }

    fn attempt<'a>(results: &'a ResultSet, id: &str) -> &'a Attempt {
        let result = results
            .get(&TestId::new(id))
            .unwrap_or_else(|| panic!("{id} should be recorded: {:?}", results.ids().collect::<Vec<_>>()));
        assert_eq!(result.attempts.len(), 1, "{id} should have one attempt");
        &result.attempts[0]
    }

    fn reasons(results: &ResultSet) -> Vec<&str> {
        results.incomplete.iter().map(|incomplete| incomplete.reason.as_str()).collect()
    }

    #[test]
    fn reads_test_lines_directives_and_the_plan() {
        let results = parse(
            "TAP version 13\n1..6\nok 1 - adds\nnot ok 2 subtracts\nok 3 # SKIP no network\nnot ok 4 - rounds # TODO floats\nok 5 - prints # todo locale\nok 6 - label \\# hash\n",
        );
        assert!(results.is_complete(), "{:?}", results.incomplete);
        assert_eq!(attempt(&results, "adds").outcome, Outcome::Pass);
        assert_eq!(attempt(&results, "subtracts").outcome, Outcome::Fail);
        let skipped = attempt(&results, "test 3");
        assert_eq!((skipped.outcome, skipped.message.as_deref()), (Outcome::Skip, Some("no network")));
        let todo = attempt(&results, "rounds");
        assert_eq!((todo.outcome, todo.message.as_deref()), (Outcome::Xfail, Some("floats")));
        let passing_todo = attempt(&results, "prints");
        assert_eq!(passing_todo.outcome, Outcome::Pass);
        assert_eq!(passing_todo.message.as_deref(), Some("passed although marked TODO: locale"));
        assert_eq!(attempt(&results, "label # hash").outcome, Outcome::Pass);
    }

    #[test]
    fn a_hash_that_starts_no_directive_stays_in_the_description() {
        let results = parse("1..2\nok 1 version # is printed\nnot ok 2 migrations # SKIPPED: needs a database\n");
        assert_eq!(attempt(&results, "version # is printed").outcome, Outcome::Pass);
        let skipped = attempt(&results, "migrations");
        assert_eq!((skipped.outcome, skipped.message.as_deref()), (Outcome::Skip, Some("needs a database")));
    }

    #[test]
    fn a_plan_at_the_end_is_read() {
        let results = parse("ok 1 - a\nok 2 - b\n1..2\n");
        assert!(results.is_complete());
        assert_eq!(results.len(), 2);

        // A range that does not start at 1 is no plan, just a line TAP does not know.
        let results = parse("ok 1 - a\n3..5\n1..1\n");
        assert!(results.is_complete(), "{:?}", results.incomplete);
    }

    #[test]
    fn a_plan_that_skips_everything_is_a_complete_empty_set() {
        let results = parse("1..0 # SKIP no database here\n");
        assert!(results.is_empty());
        assert!(results.is_complete(), "{:?}", results.incomplete);
    }

    #[test]
    fn fewer_tests_than_planned_is_incomplete() {
        let results = parse("1..10\nok 1\nok 2\nok 3\nok 4\nok 5\nok 6\nok 7\n");
        assert_eq!(results.len(), 7);
        assert_eq!(reasons(&results), ["plan 1..10 but 7 tests reported"]);
        let more = parse("1..1\nok 1\nok 2\n");
        assert_eq!(reasons(&more), ["plan 1..1 but 2 tests reported"]);
    }

    #[test]
    fn a_missing_plan_is_incomplete() {
        let results = parse("TAP version 14\nok 1 - a\nok 2 - b\n");
        assert_eq!(results.len(), 2);
        assert_eq!(reasons(&results), ["no plan (`1..N`): the stream ended before it"]);
    }

    #[test]
    fn bail_out_stops_reading_and_marks_the_set_incomplete() {
        let results = parse("1..6\nok 1 - connects\nBail out!  database went away\nok 2 - after the bail\n");
        assert_eq!(results.ids().map(TestId::as_str).collect::<Vec<_>>(), ["connects"]);
        assert_eq!(reasons(&results), ["bailed out: database went away"]);
    }

    #[test]
    fn yaml_blocks_give_message_output_and_duration() {
        let results = parse(
            "TAP version 13\nnot ok 1 - checks stock\n  ---\n  duration_ms: 2.5\n  message: 'stock is ''low'''\n  data:\n    got: 1\n  ...\nnot ok 2 - multi\n  ---\n  error: |-\n    Expected values to be equal:\n\n    1 !== 2\n  ...\nnot ok 3 - double\n  ---\n  message: \"line\\none\"\n  ...\n1..3\n",
        );
        assert!(results.is_complete(), "{:?}", results.incomplete);
        let first = attempt(&results, "checks stock");
        assert_eq!(first.message.as_deref(), Some("stock is 'low'"));
        assert_eq!(first.duration, Some(Duration::from_micros(2500)));
        assert_eq!(first.output.as_deref(), Some("duration_ms: 2.5\nmessage: 'stock is ''low'''\ndata:\n  got: 1"));
        assert_eq!(attempt(&results, "multi").message.as_deref(), Some("Expected values to be equal: 1 !== 2"));
        assert_eq!(attempt(&results, "double").message.as_deref(), Some("line one"));
    }

    #[test]
    fn a_yaml_block_may_hold_lines_that_look_like_tap() {
        let results = parse("1..1\nnot ok 1 - a\n  ---\n  message: |\n    ok 2 - not a test\n    1..5\n  ...\n");
        assert!(results.is_complete(), "{:?}", results.incomplete);
        assert_eq!(results.len(), 1);
        assert_eq!(attempt(&results, "a").message.as_deref(), Some("ok 2 - not a test 1..5"));
    }

    #[test]
    fn comments_after_a_failing_test_are_its_diagnostics() {
        let results = parse(
            "ok 1 - passes\n# a note after a pass\nnot ok 2 - adds the fee\n#   Failed test 'adds the fee'\n#   at t/basket.t line 8.\n#          got: '4'\n#     expected: '5'\n#     more\n1..2\n# Looks like you failed 1 test of 2.\n",
        );
        assert_eq!(attempt(&results, "passes").output, None);
        let failed = attempt(&results, "adds the fee");
        assert_eq!(
            failed.message.as_deref(),
            Some("Failed test 'adds the fee' at t/basket.t line 8. got: '4' expected: '5'")
        );
        assert!(failed.output.as_deref().is_some_and(|output| output.ends_with("#     more")), "{:?}", failed.output);
    }

    #[test]
    fn subtests_are_named_parent_slash_child() {
        // Test::More: the header at the child's indentation.
        let results = parse(
            "ok 1 - first\n# Subtest: discounts\n    1..2\n    ok 1 - coupon\n    not ok 2 - floor\n    # Looks like you failed 1 test of 2.\nnot ok 2 - discounts\n1..2\n",
        );
        assert!(results.is_complete(), "{:?}", results.incomplete);
        let ids: Vec<&str> = results.ids().map(TestId::as_str).collect();
        assert_eq!(ids, ["discounts", "discounts/coupon", "discounts/floor", "first"]);
        assert_eq!(attempt(&results, "discounts/floor").outcome, Outcome::Fail);
    }

    #[test]
    fn nested_subtests_in_node_style_are_named_by_their_closing_lines() {
        let results = parse(
            "TAP version 13\n# Subtest: inventory\n    # Subtest: adds\n    ok 1 - adds\n      ---\n      duration_ms: 1\n      ...\n    # Subtest: audits\n        # Subtest: ledger\n        not ok 1 - ledger\n          ---\n          error: 'mismatch'\n          ...\n        1..1\n    not ok 2 - audits\n    1..2\nnot ok 1 - inventory\n1..1\n",
        );
        assert!(results.is_complete(), "{:?}", results.incomplete);
        let ids: Vec<&str> = results.ids().map(TestId::as_str).collect();
        assert_eq!(ids, ["inventory", "inventory/adds", "inventory/audits", "inventory/audits/ledger"]);
        assert_eq!(attempt(&results, "inventory/audits/ledger").message.as_deref(), Some("mismatch"));
        assert_eq!(attempt(&results, "inventory/adds").duration, Some(Duration::from_millis(1)));
    }

    #[test]
    fn a_first_subtest_announced_at_its_own_indentation_is_a_subtest() {
        // TAP 14's own shape, with no version line before it.
        let results = parse("    # Subtest: a\n    ok 1 - inner\n    1..1\nok 1 - a\n1..1\n");
        assert!(results.is_complete(), "{:?}", results.incomplete);
        assert_eq!(results.ids().map(TestId::as_str).collect::<Vec<_>>(), ["a", "a/inner"]);
    }

    #[test]
    fn a_stream_indented_as_a_whole_is_the_top_level_stream() {
        let results = parse("  1..2\n  ok 1 - a\n  not ok 2 - b\n");
        assert!(results.is_complete(), "{:?}", results.incomplete);
        assert_eq!(results.ids().map(TestId::as_str).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_subtest_plan_short_of_its_tests_is_incomplete() {
        let results = parse("# Subtest: s\n    1..3\n    ok 1 - a\nok 1 - s\n1..1\n");
        assert_eq!(reasons(&results), ["subtest `s` (line 1): plan 1..3 but 1 test reported"]);
    }

    #[test]
    fn a_file_cut_inside_a_subtest_keeps_its_tests_under_the_announced_name() {
        let results = parse("1..2\nok 1 - a\n# Subtest: b\n    ok 1 - inner\n");
        assert_eq!(attempt(&results, "b/inner").outcome, Outcome::Pass);
        assert!(!results.is_complete());
        assert!(
            reasons(&results).contains(&"truncated: end of file inside subtest `b` (line 3)"),
            "{:?}",
            reasons(&results)
        );
        assert!(reasons(&results).contains(&"plan 1..2 but 1 test reported"));
    }

    #[test]
    fn a_cut_last_line_is_an_error_not_a_pass() {
        let results = parse("1..2\nok 1 - a\nok 2 - che");
        let cut = attempt(&results, "che");
        assert_eq!((cut.outcome, cut.message.as_deref()), (Outcome::Error, Some(TRUNCATED_MESSAGE)));
        assert_eq!(reasons(&results), ["truncated at line 3: the last line has no line ending"]);

        let inside_yaml = parse("1..1\nnot ok 1 - a\n  ---\n  message: boom\n");
        assert_eq!(attempt(&inside_yaml, "a").message.as_deref(), Some("boom"));
        assert_eq!(reasons(&inside_yaml), ["truncated at line 4: end of file inside the YAML block from line 3"]);
    }

    #[test]
    fn descriptions_that_are_not_utf8_stay_apart_and_show_their_bytes() {
        let results = parse_tap("results.tap", b"1..2\nnot ok 1 - caf\xe9\nok 2 - caf\xe8\n").expect("parses");
        let ids: Vec<&str> = results.ids().map(TestId::as_str).collect();
        assert_eq!(ids, ["caf\\xe8", "caf\\xe9"]);
    }

    #[test]
    fn duplicate_descriptions_are_attempts_when_they_agree_and_one_error_when_not() {
        let results = parse("1..4\nnot ok 1 - flaky\nok 2 - flaky\nok 3 - twice\nok 4 - twice\n");
        let flaky = results.get(&TestId::new("flaky")).expect("recorded");
        assert_eq!(flaky.outcomes().collect::<Vec<_>>(), [Outcome::Error]);
        assert_eq!(flaky.failure_message(), Some(crate::CONFLICT_IN_ONE_FILE));
        let twice = results.get(&TestId::new("twice")).expect("recorded");
        assert_eq!(twice.outcomes().collect::<Vec<_>>(), [Outcome::Pass, Outcome::Pass]);
    }

    #[test]
    fn malformed_lines_are_errors_at_line_and_column() {
        let error = parse_tap("t.tap", b"TAP version 99\n1..1\nok 1\n").expect_err("unsupported version");
        assert_eq!((error.location.as_str(), error.message.as_str()), ("1:13", "unsupported TAP version `99`"));
        let error = parse_tap("t.tap", b"1..1\n  1..1\n  1..1\nok 1\n").expect_err("second plan in a subtest");
        assert_eq!(error.location, "3:3");
        let error = parse_tap("t.tap", b"1..1\nok 1\n1..1\n").expect_err("second plan");
        assert_eq!(error.to_string(), "t.tap:3:1: a second plan; the first is at line 1");
        let error = parse_tap("t.tap", b"1..99999999999999999999999\n").expect_err("huge plan");
        assert_eq!(error.location, "1:4");
    }

    #[test]
    fn subtests_nest_only_so_deep() {
        let mut text = String::new();
        for depth in 0..=MAX_SUBTEST_DEPTH + 1 {
            text.push_str(&" ".repeat(depth * 4));
            text.push_str("ok 1\n");
        }
        let error = parse_tap("deep.tap", text.as_bytes()).expect_err("too deep");
        assert!(error.message.contains("deeper than"), "{error}");
    }

    #[test]
    fn output_and_messages_are_bounded() {
        let huge = "x".repeat(MAX_OUTPUT_BYTES * 2);
        let results = parse(&format!("1..1\nnot ok 1 - a\n  ---\n  message: {huge}\n  ...\n# {huge}\n"));
        let failed = attempt(&results, "a");
        assert!(
            failed
                .message
                .as_deref()
                .is_some_and(|message| message.len() <= MAX_MESSAGE_BYTES + TRUNCATION_MARKER.len())
        );
        assert!(
            failed.output.as_deref().is_some_and(|output| output.len() <= MAX_OUTPUT_BYTES + TRUNCATION_MARKER.len())
        );
    }

    #[test]
    fn detects_tap_by_content() {
        assert!(looks_like_tap(b"TAP version 13\n"));
        assert!(looks_like_tap(b"1..2\nok 1\nnot ok 2\n"));
        assert!(looks_like_tap(b"ok 1 - a\n# diag\nnot ok 2 - b\n1..2\n"));
        assert!(looks_like_tap(b"# Subtest: s\n    1..1\n    ok 1\nok 1 - s\n1..1\n"));
        assert!(looks_like_tap(b"1..2\nok 1\n  ---\n  a: b\n  c: d\n  e: f\n  ...\nok 2\n"));

        assert!(!looks_like_tap(b""));
        assert!(!looks_like_tap(b"ok\n"));
        assert!(!looks_like_tap(b"compiling...\nok 1\n"));
        assert!(!looks_like_tap(b"1..2\nthis\nis\nnot\ntap\n"));
        assert!(!looks_like_tap(b"TAP versions differ\nok 1\n"));
        assert!(!looks_like_tap(b"<?xml version=\"1.0\"?>\n<testsuite/>\n"));
        assert!(!looks_like_tap(b"{\"type\": \"suite\", \"event\": \"started\"}\n"));
        assert!(!looks_like_tap(b"\xB3\x29\x01\x0cok 1\n"));
        assert!(!looks_like_tap(b"1..1\nok 1\x00\n"));
        assert!(!looks_like_tap(b"=== RUN   TestX\n--- PASS: TestX (0.00s)\nok  \texample.com/m\t0.01s\n"));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        for text in
            ["\u{FFFD}ok 1 \\", "ok 1 - \\\n  ---\n", "    ok\n---\n...\n", "1..\n", "ok 1 #\n", "# Subtest\n\t ok\n"]
        {
            let _ = parse_tap("x", text.as_bytes());
            let _ = looks_like_tap(text.as_bytes());
        }
    }
}
