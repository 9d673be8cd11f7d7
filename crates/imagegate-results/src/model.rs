//! The results model: test ids, outcomes, attempts and result sets. Every parser fills it and
//! every other part of imagegate reads it; it knows nothing of any file format.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A test's identity, stable across formats: `classname.name` for JUnit-style results (the
/// same string that subunit and Python's unittest use), the plain name when there is no class.
///
/// Serialised as the plain string. Cloning is cheap: a result set holds each id twice (as the
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultSet {
    tests: BTreeMap<TestId, TestResult>,
    pub incomplete: Vec<Incomplete>,
}

impl ResultSet {
    pub fn new() -> Self {
        ResultSet::default()
    }

    /// Records an attempt. A second record of the same id in one run becomes a further attempt.
    pub fn record(&mut self, id: TestId, attempt: Attempt) {
        match self.tests.entry(id) {
            Entry::Occupied(mut entry) => entry.get_mut().attempts.push(attempt),
            // `vec!` sizes the list for the one attempt most tests ever have; a first `push`
            // would reserve room for four.
            Entry::Vacant(entry) => {
                let id = entry.key().clone();
                entry.insert(TestResult { id, attempts: vec![attempt] });
            }
        }
    }

    /// Records several attempts of one test at once, in the order they ran; the list is kept as
    /// it is when the test is new, so a parser that sizes it exactly wastes no memory.
    pub(crate) fn record_attempts(&mut self, id: TestId, attempts: Vec<Attempt>) {
        match self.tests.entry(id) {
            Entry::Occupied(mut entry) => entry.get_mut().attempts.extend(attempts),
            Entry::Vacant(entry) if !attempts.is_empty() => {
                let id = entry.key().clone();
                entry.insert(TestResult { id, attempts });
            }
            Entry::Vacant(_) => {}
        }
    }

    pub fn mark_incomplete(&mut self, source: impl Into<String>, reason: impl Into<String>) {
        self.incomplete.push(Incomplete { source: source.into(), reason: reason.into() });
    }

    /// Adds every attempt and incomplete mark of `other` after this set's own (files of one run,
    /// or a rerun following the first run).
    pub fn merge(&mut self, other: ResultSet) {
        for (_, result) in other.tests {
            for attempt in result.attempts {
                self.record(result.id.clone(), attempt);
            }
        }
        self.incomplete.extend(other.incomplete);
    }

    pub fn get(&self, id: &TestId) -> Option<&TestResult> {
        self.tests.get(id)
    }

    pub fn contains(&self, id: &TestId) -> bool {
        self.tests.contains_key(id)
    }

    /// Test ids in order.
    pub fn ids(&self) -> impl Iterator<Item = &TestId> {
        self.tests.keys()
    }

    /// Tests in id order.
    pub fn tests(&self) -> impl Iterator<Item = &TestResult> {
        self.tests.values()
    }

    pub fn len(&self) -> usize {
        self.tests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
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
        set.record_attempts(TestId::new("b"), vec![Attempt::new(Outcome::Fail), Attempt::new(Outcome::Pass)]);
        for (key, result) in &set.tests {
            assert!(Arc::ptr_eq(&key.0, &result.id.0), "{key}");
            assert_eq!(result.attempts.capacity(), result.attempts.len(), "{key}");
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
