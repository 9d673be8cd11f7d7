//! The results model: test ids, outcomes, attempts and result sets. Every parser fills it and
//! every other part of imagegate reads it; it knows nothing of any file format.

use std::collections::btree_map::{self, Entry};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A test's identity, stable across formats: `classname.name` for JUnit-style results (the
/// same string that subunit and Python's unittest use), the plain name when there is no class.
///
/// Serialised as the plain string. Cloning is cheap: a result set may hold an id twice (as a
/// map's key and in its [`TestResult`]), and a run can have a million tests, so both share one
/// allocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestId(Arc<str>);

impl TestId {
    pub fn new(id: impl Into<String>) -> Self {
        TestId(Arc::from(id.into()))
    }

    /// Builds the id of a JUnit test case from its `classname` and `name` attributes.
    ///
    /// Some writers already put the class in the name (`classname="a.B" name="a.B.test_c"`);
    /// the class is then not repeated. The class only counts as already present when a
    /// separator (`.`, `:` or `/`) follows it in the name: `classname="test_a"` with
    /// `name="test_ab"`, `name="test_a[1]"` or `name="test_a"` (a function named like its
    /// module) are the tests `test_a.test_ab`, `test_a.test_a[1]` and `test_a.test_a`, so that
    /// two different tests never share an id. An empty name (a class-level setup failure, in
    /// some writers) gives the class alone.
    pub fn from_class_and_name(classname: Option<&str>, name: &str) -> Self {
        match classname.map(str::trim).filter(|class| !class.is_empty()) {
            Some(class) if name_starts_with_class(name, class) => TestId(Arc::from(name)),
            Some(class) if name.is_empty() => TestId(Arc::from(class)),
            Some(class) => TestId(joined(class, name)),
            None => TestId(Arc::from(name)),
        }
    }

    /// [`TestId::from_class_and_name`], with how much of the id the class takes up: the prefix
    /// a [`ResultSetBuilder`] groups the id by. Every id that function makes begins with the
    /// trimmed class (a blank class being none), so that is its length.
    pub(crate) fn from_class_and_name_with_prefix(classname: Option<&str>, name: &str) -> (Self, usize) {
        (TestId::from_class_and_name(classname, name), classname.map_or(0, |class| class.trim().len()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `class.name` as a shared string. A parser builds one per test case, so ids that fit are
/// joined on the stack and copied once into their allocation.
fn joined(class: &str, name: &str) -> Arc<str> {
    let mut stack = [0_u8; 256];
    let length = class.len() + 1 + name.len();
    if let Some(target) = stack.get_mut(..length) {
        let (class_part, rest) = target.split_at_mut(class.len());
        class_part.copy_from_slice(class.as_bytes());
        rest[0] = b'.';
        rest[1..].copy_from_slice(name.as_bytes());
        if let Ok(id) = std::str::from_utf8(target) {
            return Arc::from(id);
        }
    }
    Arc::from(format!("{class}.{name}"))
}

/// True when `name` begins with `class` and then a separator, as in `a.B.test_c`,
/// `a::B::test_c` or `a/B/test_c`.
fn name_starts_with_class(name: &str, class: &str) -> bool {
    name.strip_prefix(class).is_some_and(|rest| rest.starts_with(['.', ':', '/']))
}

impl Serialize for TestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TestId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(TestId::new)
    }
}

impl fmt::Display for TestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The outcome of one attempt of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    /// An assertion failed.
    Fail,
    /// The test could not run to an assertion (exception, crash, setup failure).
    Error,
    Skip,
    /// An expected failure (xfail, TAP `# TODO`): counts as a pass.
    Xfail,
}

impl Outcome {
    /// Passed, or failed as expected.
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::Xfail)
    }

    /// Failed or errored.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Error)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::Skip => "skip",
            Outcome::Xfail => "xfail",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of one test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration_secs")]
    pub duration: Option<Duration>,
    /// The short failure or skip message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Longer text: a traceback, captured stdout/stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl Attempt {
    pub fn new(outcome: Outcome) -> Self {
        Attempt { outcome, duration: None, message: None, output: None }
    }
}

/// Every attempt of one test, in the order they ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub id: TestId,
    /// Never empty.
    pub attempts: Vec<Attempt>,
}

impl TestResult {
    /// The outcome of the last attempt.
    pub fn final_outcome(&self) -> Outcome {
        self.attempts.last().map_or(Outcome::Error, |attempt| attempt.outcome)
    }

    /// The outcome of the first attempt.
    pub fn first_outcome(&self) -> Outcome {
        self.attempts.first().map_or(Outcome::Error, |attempt| attempt.outcome)
    }

    /// True when some attempt passed.
    pub fn ever_ok(&self) -> bool {
        self.attempts.iter().any(|attempt| attempt.outcome.is_ok())
    }

    /// True when some attempt failed or errored.
    pub fn ever_failed(&self) -> bool {
        self.attempts.iter().any(|attempt| attempt.outcome.is_failure())
    }

    /// The outcome of every attempt, in the order they ran.
    pub fn outcomes(&self) -> impl Iterator<Item = Outcome> + '_ {
        self.attempts.iter().map(|attempt| attempt.outcome)
    }

    /// The most useful failure text: the message of the last failing or skipped attempt, else
    /// its output. Skips count because a test that stopped running needs its skip reason shown.
    pub fn failure_message(&self) -> Option<&str> {
        self.attempts
            .iter()
            .rev()
            .find(|attempt| attempt.outcome.is_failure() || attempt.outcome == Outcome::Skip)
            .and_then(|attempt| attempt.message.as_deref().or(attempt.output.as_deref()))
    }
}

/// Why a result set cannot be taken as complete: a truncated file, a suite that timed out, a
/// results folder that was never written. The verdict treats an incomplete set as not-a-pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incomplete {
    /// The file or step the problem was found in.
    pub source: String,
    pub reason: String,
}

/// The results of one suite run (and any reruns merged into it).
///
/// Serialised as `{"tests": {id: result, …}, "incomplete": […]}`, tests in id order.
#[derive(Debug, Clone, Default)]
pub struct ResultSet {
    /// Tests a parser built in bulk ([`ResultSetBuilder`]): segments, none empty, each in id
    /// order and each before the next. A million tests cost a million entries of a few
    /// thousand lists, found by two binary searches, and were never moved into one list.
    built: Vec<Vec<TestResult>>,
    /// How many tests `built` holds.
    built_len: usize,
    /// Tests recorded one at a time that are not in `built`; keyed by an id that shares its
    /// allocation with the result's.
    recorded: BTreeMap<TestId, TestResult>,
    pub incomplete: Vec<Incomplete>,
}

impl ResultSet {
    pub fn new() -> Self {
        ResultSet::default()
    }

    /// Records a further attempt: a rerun, or a retry the results format itself marks as one
    /// (JUnit's `<flakyFailure>`, nextest's `name#2`). A parser reporting a test it read once
    /// more uses [`ResultSet::report`] instead, so that a duplicate is not taken for a rerun.
    pub fn record(&mut self, id: TestId, attempt: Attempt) {
        if let Some((segment, index)) = self.built_index(&id) {
            self.built[segment][index].attempts.push(attempt);
            return;
        }
        match self.recorded.entry(id) {
            Entry::Occupied(mut entry) => entry.get_mut().attempts.push(attempt),
            // `vec!` sizes the list for the one attempt most tests ever have; a first `push`
            // would reserve room for four.
            Entry::Vacant(entry) => {
                let id = entry.key().clone();
                entry.insert(TestResult { id, attempts: vec![attempt] });
            }
        }
    }

    /// Records one report of a test read from one results file. A test reported again in the
    /// same file is a duplicate, not a rerun: reports that disagree (one ok, another failed)
    /// become one [`Outcome::Error`] attempt saying so, never a flaky pass; reports that agree
    /// are kept as further attempts (see [`add_report`]).
    pub fn report(&mut self, id: TestId, attempt: Attempt) {
        self.add(id, vec![attempt], Duplicate::InOneFile);
    }

    /// [`ResultSet::report`] for a report that carries its own retries, in the order they ran.
    pub fn report_attempts(&mut self, id: TestId, attempts: Vec<Attempt>) {
        if !attempts.is_empty() {
            self.add(id, attempts, Duplicate::InOneFile);
        }
    }

    /// Adds a report to the test's attempts so far, by the rule of [`add_report`].
    fn add(&mut self, id: TestId, attempts: Vec<Attempt>, duplicate: Duplicate) {
        if let Some((segment, index)) = self.built_index(&id) {
            add_report(&mut self.built[segment][index].attempts, attempts, duplicate);
            return;
        }
        match self.recorded.entry(id) {
            Entry::Occupied(mut entry) => add_report(&mut entry.get_mut().attempts, attempts, duplicate),
            Entry::Vacant(entry) => {
                let id = entry.key().clone();
                entry.insert(TestResult { id, attempts });
            }
        }
    }

    /// Where `id` is in `built`: its segment, and its index there.
    fn built_index(&self, id: &TestId) -> Option<(usize, usize)> {
        // The first segment that does not end before `id`.
        let segment = self.built.partition_point(|tests| tests.last().is_some_and(|last| last.id < *id));
        let index = self.built.get(segment)?.binary_search_by(|result| result.id.cmp(id)).ok()?;
        Some((segment, index))
    }

    pub fn mark_incomplete(&mut self, source: impl Into<String>, reason: impl Into<String>) {
        self.incomplete.push(Incomplete { source: source.into(), reason: reason.into() });
    }

    /// Adds every attempt and incomplete mark of a later run, `other`, after this set's own: a
    /// rerun following the first run, whose attempts are further attempts.
    pub fn merge(&mut self, mut other: ResultSet) {
        if self.is_empty() {
            // Taken whole: the same set as recording each attempt would make.
            self.take_tests(other.built, other.built_len, other.recorded);
        } else {
            for result in other.take_results() {
                for attempt in result.attempts {
                    self.record(result.id.clone(), attempt);
                }
            }
        }
        self.incomplete.extend(other.incomplete);
    }

    /// Adds the tests and incomplete marks of another results file of the same run. A test in
    /// both is a duplicate, not a rerun: where the files disagree (one ok, the other failed)
    /// the run's result is one [`Outcome::Fail`] attempt saying so (see [`add_report`]).
    pub fn merge_file(&mut self, mut other: ResultSet) {
        if self.is_empty() {
            self.take_tests(other.built, other.built_len, other.recorded);
        } else {
            for result in other.take_results() {
                self.add(result.id, result.attempts, Duplicate::InTwoFiles);
            }
        }
        self.incomplete.extend(other.incomplete);
    }

    fn take_tests(&mut self, built: Vec<Vec<TestResult>>, built_len: usize, recorded: BTreeMap<TestId, TestResult>) {
        self.built = built;
        self.built_len = built_len;
        self.recorded = recorded;
    }

    /// Moves the tests out, leaving the incomplete marks.
    fn take_results(&mut self) -> impl Iterator<Item = TestResult> + use<> {
        let mut recorded = std::mem::take(&mut self.recorded).into_values();
        let mut built = std::mem::take(&mut self.built).into_iter().flatten();
        self.built_len = 0;
        std::iter::from_fn(move || recorded.next().or_else(|| built.next()))
    }

    pub fn get(&self, id: &TestId) -> Option<&TestResult> {
        match self.built_index(id) {
            Some((segment, index)) => self.built.get(segment)?.get(index),
            None => self.recorded.get(id),
        }
    }

    pub fn contains(&self, id: &TestId) -> bool {
        self.get(id).is_some()
    }

    /// Test ids in order.
    pub fn ids(&self) -> impl Iterator<Item = &TestId> {
        self.entries().map(|(id, _)| id)
    }

    /// Tests in id order.
    pub fn tests(&self) -> impl Iterator<Item = &TestResult> {
        self.entries().map(|(_, result)| result)
    }

    /// Every test with its id, in id order: the built and the recorded tests merged.
    fn entries(&self) -> InIdOrder<'_> {
        InIdOrder { built: self.built.iter().flatten().peekable(), recorded: self.recorded.iter().peekable() }
    }

    pub fn len(&self) -> usize {
        self.built_len + self.recorded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.built_len == 0 && self.recorded.is_empty()
    }

    pub fn is_complete(&self) -> bool {
        self.incomplete.is_empty()
    }

    /// Ids whose last attempt failed or errored, in id order.
    pub fn failing(&self) -> Vec<TestId> {
        self.tests().filter(|result| result.final_outcome().is_failure()).map(|result| result.id.clone()).collect()
    }

    /// Counts by each test's last attempt.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for result in self.tests() {
            counts.tests += 1;
            match result.final_outcome() {
                Outcome::Pass | Outcome::Xfail => counts.passed += 1,
                Outcome::Fail => counts.failed += 1,
                Outcome::Error => counts.errors += 1,
                Outcome::Skip => counts.skipped += 1,
            }
        }
        counts
    }
}

/// Two sets are equal when they hold the same tests and marks, however each was put together.
impl PartialEq for ResultSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.entries().eq(other.entries()) && self.incomplete == other.incomplete
    }
}

/// The tests of a [`ResultSet`] in id order. No id is both built and recorded.
struct InIdOrder<'set> {
    built: std::iter::Peekable<std::iter::Flatten<std::slice::Iter<'set, Vec<TestResult>>>>,
    recorded: std::iter::Peekable<btree_map::Iter<'set, TestId, TestResult>>,
}

impl<'set> Iterator for InIdOrder<'set> {
    type Item = (&'set TestId, &'set TestResult);

    fn next(&mut self) -> Option<Self::Item> {
        let built_first = match (self.built.peek(), self.recorded.peek()) {
            (Some(built), Some((recorded, _))) => built.id < **recorded,
            (built, _) => built.is_some(),
        };
        if built_first { self.built.next().map(|result| (&result.id, result)) } else { self.recorded.next() }
    }
}

/// The stored shape of a [`ResultSet`].
#[derive(Serialize)]
#[serde(rename = "ResultSet")]
struct StoredRef<'set> {
    tests: TestsAsMap<'set>,
    incomplete: &'set [Incomplete],
}

struct TestsAsMap<'set>(&'set ResultSet);

impl Serialize for TestsAsMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.entries())
    }
}

#[derive(Deserialize)]
#[serde(rename = "ResultSet")]
struct Stored {
    tests: BTreeMap<TestId, TestResult>,
    incomplete: Vec<Incomplete>,
}

impl Serialize for ResultSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredRef { tests: TestsAsMap(self), incomplete: &self.incomplete }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ResultSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Stored { tests, incomplete } = Stored::deserialize(deserializer)?;
        Ok(ResultSet { built: Vec::new(), built_len: 0, recorded: tests, incomplete })
    }
}

/// Builds a [`ResultSet`] from attempts in the order a parser reads them, sorting as it goes
/// instead of searching a growing map for each of a million test cases.
///
/// Each id is recorded with a prefix of it (a JUnit case's class, or none). Consecutive cases
/// nearly always share their class, so the cases come in runs of one prefix; each run is
/// sorted (by the rest of its ids, which all begin with the prefix) when the next begins, while
/// its ids are still in the cache and, when a parser hands cases over from another thread
/// (`queue.rs`), while the parser reads on. At the end the few distinct prefixes are sorted,
/// which orders the runs of different prefixes without reading their ids. A prefix that begins
/// another prefix (`a.B` and `a.B.C`, or the empty prefix of ids without a class) does not
/// order their ids, so such a family of prefixes, like a prefix met in more than one run, has
/// its runs merged and sorted again, by whole ids. Each family becomes one segment of the set:
/// the tests are never moved into one list.
#[derive(Debug, Default)]
pub(crate) struct ResultSetBuilder {
    /// Finished runs, in the order recorded.
    runs: Vec<Run>,
    /// The run being recorded (the list is reused from run to run), and its prefix's number.
    current: Vec<TestResult>,
    current_prefix: u32,
    /// The distinct prefixes, numbered in the order first seen, and their numbers.
    prefixes: Vec<Box<str>>,
    prefix_numbers: HashMap<Box<str>, u32>,
    incomplete: Vec<Incomplete>,
}

/// Test cases of one prefix recorded one after the other, sorted by id, each id once.
#[derive(Debug)]
struct Run {
    prefix: u32,
    tests: Vec<TestResult>,
}

/// Where a test was reported more than once in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Duplicate {
    /// Twice in one results file: the writer contradicts itself.
    InOneFile,
    /// In two results files of the run.
    InTwoFiles,
}

impl Duplicate {
    /// The attempt that stands for reports that disagree: an error when one file contradicts
    /// itself, a failure when two files do.
    fn outcome(self) -> Outcome {
        match self {
            Duplicate::InOneFile => Outcome::Error,
            Duplicate::InTwoFiles => Outcome::Fail,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Duplicate::InOneFile => CONFLICT_IN_ONE_FILE,
            Duplicate::InTwoFiles => CONFLICT_IN_TWO_FILES,
        }
    }
}

/// The message of the attempt that stands for a test reported both ok and failed in one file.
pub const CONFLICT_IN_ONE_FILE: &str =
    "reported more than once in one results file, passing and failing: the run counts it as an error";
/// The same, for reports in two results files of one run.
pub const CONFLICT_IN_TWO_FILES: &str =
    "reported in more than one results file of the run, passing and failing: the run counts it as a failure";

/// Adds one more report of a test in the same run (`report`: its attempts, more than one when the
/// format records retries) to its `attempts` so far.
///
/// A duplicate is not a rerun: a suite that says a test both passed and failed in one run has
/// not shown that the test can pass. So when the reports together hold an ok attempt (pass,
/// xfail) and a failed one (fail, error), the run's attempts become one attempt: an error
/// ([`Duplicate::InOneFile`]) or a failure ([`Duplicate::InTwoFiles`]) whose message says so and
/// whose output keeps the first failure's text. Reports that agree (a parametrised id repeated
/// with the same outcome, a pass beside a skip) are kept as further attempts, as before.
pub(crate) fn add_report(attempts: &mut Vec<Attempt>, mut report: Vec<Attempt>, duplicate: Duplicate) {
    let all = || attempts.iter().chain(report.iter());
    // Once a conflict, always one: so the attempts come out the same however the reports were
    // grouped on the way (a parser's runs of one class are settled before they are merged).
    let conflicting = all().any(|attempt| attempt.outcome.is_ok()) && all().any(|attempt| attempt.outcome.is_failure())
        || all().any(is_conflict);
    if !conflicting {
        attempts.append(&mut report);
        return;
    }
    let first_failure = all().find(|attempt| attempt.outcome.is_failure()).and_then(failure_text);
    let outcome =
        if all().any(|attempt| attempt.outcome == Outcome::Error) { Outcome::Error } else { duplicate.outcome() };
    let conflict =
        Attempt { outcome, duration: None, message: Some(duplicate.message().to_owned()), output: first_failure };
    attempts.clear();
    attempts.push(conflict);
    attempts.shrink_to_fit();
}

/// True for the attempt [`add_report`] makes of reports that disagree.
fn is_conflict(attempt: &Attempt) -> bool {
    matches!(attempt.message.as_deref(), Some(CONFLICT_IN_ONE_FILE | CONFLICT_IN_TWO_FILES))
}

/// What a failed attempt says, message and output, for the attempt that replaces it; an attempt
/// that already stands for a conflict passes on the text it kept.
fn failure_text(attempt: &Attempt) -> Option<String> {
    if is_conflict(attempt) {
        return attempt.output.clone();
    }
    match (attempt.message.as_deref(), attempt.output.as_deref()) {
        (Some(message), Some(output)) => Some(format!("{message}\n{output}")),
        (message, output) => message.or(output).map(str::to_owned),
    }
}

/// Sorts `tests`, whose ids all begin with the same `head` bytes, by id, and adds the reports
/// of an id found more than once to its first entry in the order they were in ([`add_report`]).
fn sort_and_merge(tests: &mut Vec<TestResult>, head: usize) {
    fn rest(result: &TestResult, head: usize) -> &[u8] {
        result.id.as_str().as_bytes().get(head..).unwrap_or_default()
    }
    // Writers often list a class's tests in order already.
    if tests.is_sorted_by(|earlier, later| rest(earlier, head) < rest(later, head)) {
        return;
    }
    // Stable, so that the attempts of a repeated id stay in the order recorded.
    tests.sort_by(|left, right| rest(left, head).cmp(rest(right, head)));
    tests.dedup_by(|later, earlier| {
        let same = later.id == earlier.id;
        if same {
            add_report(&mut earlier.attempts, std::mem::take(&mut later.attempts), Duplicate::InOneFile);
        }
        same
    });
}

impl ResultSetBuilder {
    /// Records the attempts of one test case, in the order they ran; an id recorded again adds
    /// further attempts, as [`ResultSet::record`] does. The first `prefix_length` bytes of the
    /// id are its prefix (a JUnit class, or none). The attempt list is kept as it is, so a parser
    /// that sizes it exactly wastes no memory.
    pub(crate) fn record_attempts(&mut self, id: TestId, prefix_length: usize, attempts: Vec<Attempt>) {
        if attempts.is_empty() {
            return;
        }
        let prefix = id.as_str().get(..prefix_length).unwrap_or_default();
        let same_run = !self.current.is_empty() && *self.prefixes[self.current_prefix as usize] == *prefix;
        if !same_run {
            self.finish_run();
            self.current_prefix = self.number(prefix);
        }
        self.current.push(TestResult { id, attempts });
    }

    fn number(&mut self, prefix: &str) -> u32 {
        if let Some(&number) = self.prefix_numbers.get(prefix) {
            return number;
        }
        // More prefixes than `u32` counts cannot fit in memory beside their test cases.
        let number = u32::try_from(self.prefixes.len()).unwrap_or(u32::MAX);
        self.prefixes.push(prefix.into());
        self.prefix_numbers.insert(prefix.into(), number);
        number
    }

    /// Sorts the run being recorded into a list of its own size.
    fn finish_run(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let mut tests: Vec<TestResult> = self.current.drain(..).collect();
        let head = self.prefixes.get(self.current_prefix as usize).map_or(0, |prefix| prefix.len());
        sort_and_merge(&mut tests, head);
        self.runs.push(Run { prefix: self.current_prefix, tests });
    }

    pub(crate) fn mark_incomplete(&mut self, source: impl Into<String>, reason: impl Into<String>) {
        self.incomplete.push(Incomplete { source: source.into(), reason: reason.into() });
    }

    pub(crate) fn build(mut self) -> ResultSet {
        self.finish_run();
        let ResultSetBuilder { mut runs, prefixes, incomplete, .. } = self;

        // Number the families of prefixes in prefix order: a prefix joins the family of the
        // one before it in order when it begins with that family's first prefix.
        let mut by_prefix: Vec<u32> = (0..prefixes.len()).filter_map(|number| u32::try_from(number).ok()).collect();
        by_prefix.sort_unstable_by(|&left, &right| prefixes[left as usize].cmp(&prefixes[right as usize]));
        let mut family_of = vec![0_u32; prefixes.len()];
        let mut head_length: Vec<usize> = Vec::new();
        let mut family = 0_u32;
        let mut family_head: Option<&str> = None;
        for &number in &by_prefix {
            let prefix = &*prefixes[number as usize];
            if family_head.is_some_and(|head| !prefix.starts_with(head)) {
                family += 1;
                family_head = Some(prefix);
            }
            if family_head.is_none() {
                family_head = Some(prefix);
            }
            if head_length.len() <= family as usize {
                head_length.push(prefix.len());
            }
            family_of[number as usize] = family;
        }
        let family_of = |run: &Run| family_of.get(run.prefix as usize).copied().unwrap_or(u32::MAX);

        // Runs by family, each family's in the order recorded (the sort is stable), so that the
        // attempts of an id recorded in two runs stay in the order they ran.
        runs.sort_by_key(family_of);
        let mut built = Vec::new();
        let mut built_len = 0;
        let mut runs = runs.into_iter().peekable();
        let mut family_runs: Vec<Vec<TestResult>> = Vec::new();
        while let Some(first) = runs.next() {
            let family = family_of(&first);
            family_runs.push(first.tests);
            while let Some(next) = runs.next_if(|run| family_of(run) == family) {
                family_runs.push(next.tests);
            }
            let tests = if family_runs.len() == 1 {
                family_runs.pop().unwrap_or_default()
            } else {
                // One list of the family's exact size, sorted again: every id of the family
                // begins with its head.
                let mut tests = Vec::with_capacity(family_runs.iter().map(Vec::len).sum());
                for run in family_runs.drain(..) {
                    tests.extend(run);
                }
                sort_and_merge(&mut tests, head_length.get(family as usize).copied().unwrap_or(0));
                tests.shrink_to_fit();
                tests
            };
            built_len += tests.len();
            built.push(tests);
        }
        ResultSet { built, built_len, recorded: BTreeMap::new(), incomplete }
    }
}

/// How many tests ended in each outcome (by their last attempt). The same object appears in
/// every JSON output that counts tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_f64(duration.as_secs_f64()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        let seconds = Option::<f64>::deserialize(deserializer)?;
        // `try_` because a stored verdict is read back from disk: an absurd duration in it must
        // be dropped, not panic the reader.
        Ok(seconds.and_then(|seconds| Duration::try_from_secs_f64(seconds).ok()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn test_id_joins_class_and_name() {
        assert_eq!(TestId::from_class_and_name(Some("tests.test_a"), "test_b").as_str(), "tests.test_a.test_b");
        assert_eq!(TestId::from_class_and_name(Some("  "), "test_b").as_str(), "test_b");
        assert_eq!(TestId::from_class_and_name(None, "test_b").as_str(), "test_b");
        assert_eq!(TestId::from_class_and_name(Some("Suite"), "").as_str(), "Suite");
    }

    #[test]
    fn test_id_does_not_repeat_a_class_already_in_the_name() {
        assert_eq!(TestId::from_class_and_name(Some("a.B"), "a.B.test_c").as_str(), "a.B.test_c");
        assert_eq!(TestId::from_class_and_name(Some("crate"), "crate::module::test").as_str(), "crate::module::test");
    }

    #[test]
    fn test_id_keeps_a_class_that_is_only_a_prefix_of_the_name() {
        // Regression: `name.starts_with(class)` alone made `test_a.test_ab` into `test_ab`, and
        // a function named like its module lost its module.
        assert_eq!(TestId::from_class_and_name(Some("test_a"), "test_ab").as_str(), "test_a.test_ab");
        assert_eq!(TestId::from_class_and_name(Some("test_a"), "test_a[1]").as_str(), "test_a.test_a[1]");
        assert_eq!(TestId::from_class_and_name(Some("test_a"), "test_a").as_str(), "test_a.test_a");
    }

    fn class_strategy() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_]{0,8}(\\.[A-Za-z_][A-Za-z0-9_]{0,8}){0,3}"
    }

    proptest! {
        #[test]
        fn test_id_splits_back_into_class_and_name(
            class in class_strategy(),
            suffix in "[A-Za-z0-9_.:/\\[\\] #-]{1,12}",
            prefix_the_name in any::<bool>(),
        ) {
            // Names that start like the class, without a separator after it, are the hard case.
            let name = if prefix_the_name { format!("{class}{suffix}") } else { suffix };
            prop_assume!(![".", ":", "/"].iter().any(|separator| name.starts_with(&format!("{class}{separator}"))));

            let id = TestId::from_class_and_name(Some(&class), &name);
            let (class_part, name_part) = id.as_str().split_at(class.len());
            prop_assert_eq!(class_part, class.as_str());
            prop_assert_eq!(name_part.strip_prefix('.'), Some(name.as_str()));
        }
    }

    #[test]
    fn a_result_set_records_repeats_as_attempts_and_counts_final_outcomes() {
        let mut set = ResultSet::new();
        set.record(TestId::new("a"), Attempt::new(Outcome::Fail));
        set.record(TestId::new("a"), Attempt::new(Outcome::Pass));
        set.record(TestId::new("b"), Attempt::new(Outcome::Error));
        set.record(TestId::new("c"), Attempt::new(Outcome::Xfail));
        set.record(TestId::new("d"), Attempt::new(Outcome::Skip));

        assert_eq!(set.len(), 4);
        assert_eq!(set.failing(), [TestId::new("b")]);
        assert_eq!(set.counts(), Counts { tests: 4, passed: 2, failed: 0, errors: 1, skipped: 1 });

        let mut rerun = ResultSet::new();
        rerun.record(TestId::new("b"), Attempt::new(Outcome::Pass));
        rerun.mark_incomplete("rerun", "timed out");
        set.merge(rerun);
        let b = set.get(&TestId::new("b")).expect("recorded");
        assert_eq!(b.outcomes().collect::<Vec<_>>(), [Outcome::Error, Outcome::Pass]);
        assert!(!set.is_complete());
    }

    fn outcomes_of(set: &ResultSet, id: &str) -> Vec<Outcome> {
        set.get(&TestId::new(id)).map(|result| result.outcomes().collect()).unwrap_or_default()
    }

    fn failed(message: &str) -> Attempt {
        Attempt { message: Some(message.to_owned()), ..Attempt::new(Outcome::Fail) }
    }

    #[test]
    fn a_test_reported_passing_and_failing_in_one_file_is_one_error_whatever_the_order() {
        for first_fails in [true, false] {
            let mut set = ResultSet::new();
            let (first, second) = if first_fails {
                (failed("boom"), Attempt::new(Outcome::Pass))
            } else {
                (Attempt::new(Outcome::Pass), failed("boom"))
            };
            set.report(TestId::new("t03"), first);
            set.report(TestId::new("t03"), second);
            set.report(TestId::new("t03"), Attempt::new(Outcome::Pass));
            let t03 = set.get(&TestId::new("t03")).expect("reported");
            assert_eq!(t03.outcomes().collect::<Vec<_>>(), [Outcome::Error]);
            assert_eq!(t03.failure_message(), Some(CONFLICT_IN_ONE_FILE));
            assert_eq!(t03.attempts[0].output.as_deref(), Some("boom"), "the failure's text is kept");
            assert_eq!(set.failing(), [TestId::new("t03")]);
        }
    }

    #[test]
    fn reports_that_agree_stay_attempts_and_retries_stay_a_flaky_record() {
        let mut set = ResultSet::new();
        for _ in 0..3 {
            set.report(TestId::new("param[1]"), Attempt::new(Outcome::Pass));
            set.report(TestId::new("broken[1]"), failed("no"));
        }
        set.report(TestId::new("pass_and_skip"), Attempt::new(Outcome::Pass));
        set.report(TestId::new("pass_and_skip"), Attempt::new(Outcome::Skip));
        // One report with its own retries (JUnit's `<flakyFailure>`): flaky, as the format says.
        set.report_attempts(TestId::new("retried"), vec![failed("first try"), Attempt::new(Outcome::Pass)]);
        assert_eq!(outcomes_of(&set, "param[1]"), [Outcome::Pass; 3]);
        assert_eq!(outcomes_of(&set, "broken[1]"), [Outcome::Fail; 3]);
        assert_eq!(outcomes_of(&set, "pass_and_skip"), [Outcome::Pass, Outcome::Skip]);
        assert_eq!(outcomes_of(&set, "retried"), [Outcome::Fail, Outcome::Pass]);

        // Reported once more, passing: the retried record and the duplicate disagree.
        set.report(TestId::new("retried"), Attempt::new(Outcome::Pass));
        assert_eq!(outcomes_of(&set, "retried"), [Outcome::Error]);
        assert_eq!(set.get(&TestId::new("retried")).and_then(TestResult::failure_message), Some(CONFLICT_IN_ONE_FILE));
    }

    #[test]
    fn a_test_passing_in_one_file_and_failing_in_another_of_the_run_is_a_failure_not_flaky() {
        let file = |outcome: Outcome| {
            let mut set = ResultSet::new();
            set.report(TestId::new("a"), Attempt::new(Outcome::Pass));
            set.report(TestId::new("t03"), Attempt { message: Some("boom".to_owned()), ..Attempt::new(outcome) });
            set
        };
        for (first, second) in [(Outcome::Fail, Outcome::Pass), (Outcome::Pass, Outcome::Fail)] {
            let mut run = ResultSet::new();
            run.merge_file(file(first));
            run.merge_file(file(second));
            assert_eq!(outcomes_of(&run, "t03"), [Outcome::Fail]);
            assert_eq!(outcomes_of(&run, "a"), [Outcome::Pass, Outcome::Pass]);
            let t03 = run.get(&TestId::new("t03")).expect("reported");
            assert_eq!(t03.failure_message(), Some(CONFLICT_IN_TWO_FILES));

            // A rerun is a later run: its pass is a further attempt, and the test is flaky.
            let mut rerun = ResultSet::new();
            rerun.report(TestId::new("t03"), Attempt::new(Outcome::Pass));
            run.merge(rerun);
            assert_eq!(outcomes_of(&run, "t03"), [Outcome::Fail, Outcome::Pass]);
        }
        // An error in either file stays an error.
        let mut run = file(Outcome::Error);
        run.merge_file(file(Outcome::Pass));
        assert_eq!(outcomes_of(&run, "t03"), [Outcome::Error]);
    }

    #[test]
    fn a_built_set_settles_duplicates_as_a_recorded_one_does() {
        // Conflicting reports of one id in one run of a class, and in two runs far apart.
        let mut builder = ResultSetBuilder::default();
        builder.record_attempts(TestId::new("c.t03"), 1, vec![failed("boom")]);
        builder.record_attempts(TestId::new("c.t01"), 1, vec![Attempt::new(Outcome::Pass)]);
        builder.record_attempts(TestId::new("c.t03"), 1, vec![Attempt::new(Outcome::Pass)]);
        builder.record_attempts(TestId::new("d.x"), 1, vec![Attempt::new(Outcome::Pass)]);
        builder.record_attempts(TestId::new("c.t02"), 1, vec![Attempt::new(Outcome::Pass)]);
        builder.record_attempts(TestId::new("d.x"), 1, vec![Attempt::new(Outcome::Pass)]);
        builder.record_attempts(TestId::new("c.t02"), 1, vec![failed("later")]);
        let built = builder.build();
        assert_eq!(outcomes_of(&built, "c.t03"), [Outcome::Error]);
        assert_eq!(outcomes_of(&built, "c.t02"), [Outcome::Error]);
        assert_eq!(outcomes_of(&built, "d.x"), [Outcome::Pass, Outcome::Pass]);
        assert_eq!(built.get(&TestId::new("c.t02")).and_then(|t02| t02.attempts[0].output.as_deref()), Some("later"));

        // A built set takes another file's reports by the same rule.
        let mut other = ResultSet::new();
        other.report(TestId::new("d.x"), failed("x broke"));
        let mut run = built;
        run.merge_file(other);
        assert_eq!(outcomes_of(&run, "d.x"), [Outcome::Fail]);
    }

    #[test]
    fn a_test_id_is_stored_as_a_plain_string() {
        let id = TestId::from_class_and_name(Some("tests.test_a"), "test_b[1]");
        let json = serde_json::to_string(&id).expect("serialises");
        assert_eq!(json, r#""tests.test_a.test_b[1]""#);
        assert_eq!(serde_json::from_str::<TestId>(&json).expect("parses"), id);
        let long_class = "c".repeat(300);
        assert_eq!(TestId::from_class_and_name(Some(&long_class), "n").as_str(), format!("{long_class}.n"));
    }

    #[test]
    fn a_result_set_shares_each_id_and_sizes_attempt_lists_exactly() {
        // A million tests are a million ids and attempt lists: neither is duplicated nor
        // over-allocated.
        let mut set = ResultSet::new();
        set.record(TestId::new("a"), Attempt::new(Outcome::Pass));
        let mut builder = ResultSetBuilder::default();
        builder.record_attempts(TestId::new("b"), 0, vec![Attempt::new(Outcome::Fail), Attempt::new(Outcome::Pass)]);
        for set in [set, builder.build()] {
            for (key, result) in set.entries() {
                assert!(Arc::ptr_eq(&key.0, &result.id.0), "{key}");
                assert_eq!(result.attempts.capacity(), result.attempts.len(), "{key}");
            }
        }
    }

    /// The set `ResultSet::record` makes of `cases` (id, prefix length, attempt messages), and the
    /// one `ResultSetBuilder` makes.
    fn recorded_and_built<M: AsRef<str>>(cases: &[(&str, usize, Vec<M>)]) -> (ResultSet, ResultSet) {
        let attempt =
            |message: &M| Attempt { message: Some(message.as_ref().to_owned()), ..Attempt::new(Outcome::Fail) };
        let mut recorded = ResultSet::new();
        let mut builder = ResultSetBuilder::default();
        for (id, prefix_length, messages) in cases {
            for message in messages {
                recorded.record(TestId::new(*id), attempt(message));
            }
            builder.record_attempts(TestId::new(*id), *prefix_length, messages.iter().map(attempt).collect());
        }
        recorded.mark_incomplete("r.xml", "cut");
        builder.mark_incomplete("r.xml", "cut");
        (recorded, builder.build())
    }

    #[test]
    fn a_built_set_sorts_ids_and_keeps_repeated_attempts_in_the_order_recorded() {
        let (recorded, built) = recorded_and_built(&[
            ("b.x", 1, vec!["b1"]),
            ("a.B.x", 3, vec!["a1", "a2"]),
            ("b.x", 1, vec!["b2"]),
            ("c", 0, vec![]),
            // A class that begins another class (`a.B`, `a.B.C`, `a.B-`) does not order the ids.
            ("a.B.C.y", 5, vec!["c1"]),
            ("a.B-.z", 4, vec!["d1"]),
            // One id from two classes: its attempts stay in the order read.
            ("a.B.C.y", 3, vec!["c2"]),
            ("a.B.x", 0, vec!["a3"]),
            ("a.B.C.y", 1, vec!["c3"]),
        ]);
        assert_eq!(built, recorded);
        assert_eq!(built.ids().map(TestId::as_str).collect::<Vec<_>>(), ["a.B-.z", "a.B.C.y", "a.B.x", "b.x"]);
        let messages = |id: &str| {
            let result = built.get(&TestId::new(id)).expect("recorded");
            result.attempts.iter().filter_map(|attempt| attempt.message.clone()).collect::<Vec<_>>()
        };
        assert_eq!(messages("a.B.C.y"), ["c1", "c2", "c3"]);
        assert_eq!(messages("a.B.x"), ["a1", "a2", "a3"]);
        assert_eq!(
            serde_json::to_string(&built).expect("serialises"),
            serde_json::to_string(&recorded).expect("serialises")
        );
    }

    #[test]
    fn a_built_set_takes_further_records_and_merges_like_a_recorded_one() {
        let (mut recorded, mut built) =
            recorded_and_built(&[("m.b", 1, vec!["b1"]), ("m.d", 1, vec!["d1"]), ("m.a", 1, vec!["a1"])]);
        for set in [&mut recorded, &mut built] {
            set.record(TestId::new("m.b"), Attempt::new(Outcome::Pass));
            set.record(TestId::new("m.c"), Attempt::new(Outcome::Error));
            set.record(TestId::new("m.c"), Attempt::new(Outcome::Pass));
        }
        assert_eq!(built, recorded);
        assert_eq!(built.ids().map(TestId::as_str).collect::<Vec<_>>(), ["m.a", "m.b", "m.c", "m.d"]);
        assert_eq!(built.get(&TestId::new("m.b")).map(|result| result.attempts.len()), Some(2));
        assert_eq!(built.get(&TestId::new("m.c")).map(|result| result.attempts.len()), Some(2));
        assert!(built.contains(&TestId::new("m.d")) && !built.contains(&TestId::new("m.e")));
        assert_eq!(built.counts(), Counts { tests: 4, passed: 2, failed: 2, errors: 0, skipped: 0 });

        // Merged into an empty set, into a set, and a set merged into a built one.
        let (rerun, built_rerun) = recorded_and_built(&[("m.d", 1, vec!["d2"]), ("m.e", 1, vec!["e1"])]);
        assert_eq!(rerun, built_rerun);
        let mut into_empty = ResultSet::new();
        into_empty.merge(built.clone());
        assert_eq!(into_empty, built);
        recorded.merge(rerun.clone());
        built.merge(built_rerun);
        assert_eq!(built, recorded);
        let mut other_way = rerun;
        other_way.merge(built.clone());
        assert_eq!(other_way.len(), 5);
        assert_eq!(other_way.get(&TestId::new("m.d")).map(|result| result.attempts.len()), Some(3));

        // Stored and read back, a set is the same set.
        let json = serde_json::to_string(&built).expect("serialises");
        assert_eq!(json, serde_json::to_string(&recorded).expect("serialises"));
        assert!(json.starts_with(r#"{"tests":{"m.a":{"id":"m.a","attempts":"#), "{json}");
        let read_back: ResultSet = serde_json::from_str(&json).expect("parses");
        assert_eq!(read_back, built);
        assert_eq!(serde_json::to_string(&read_back).expect("serialises"), json);
    }

    proptest! {
        #[test]
        fn a_built_set_equals_the_set_recorded_one_attempt_at_a_time(
            cases in proptest::collection::vec(("[ab.]{0,6}|[ab.]{8,20}", any::<proptest::sample::Index>(), 1..3_usize), 0..40),
        ) {
            // Ids from a small alphabet, so that ids repeat and classes begin one another; some
            // longer than the eight bytes the sort first compares as one number.
            let cases: Vec<(&str, usize, Vec<String>)> = cases
                .iter()
                .enumerate()
                .map(|(case, (id, prefix, attempts))| {
                    let messages = (0..*attempts).map(|attempt| format!("{case}.{attempt}")).collect();
                    (id.as_str(), prefix.index(id.len() + 1), messages)
                })
                .collect();
            let (recorded, built) = recorded_and_built(&cases);
            prop_assert_eq!(built, recorded);
        }
    }

    #[test]
    fn an_absurd_stored_duration_reads_as_none() {
        let attempt: Attempt = serde_json::from_str(r#"{"outcome":"pass","duration":1e300}"#).expect("parses");
        assert_eq!(attempt.duration, None);
        let attempt: Attempt = serde_json::from_str(r#"{"outcome":"fail","duration":-1.0}"#).expect("parses");
        assert_eq!(attempt.duration, None);
        let attempt: Attempt = serde_json::from_str(r#"{"outcome":"fail","duration":0.25}"#).expect("parses");
        assert_eq!(attempt.duration, Some(Duration::from_millis(250)));
    }
}
