//! The results model: test ids, outcomes, attempts and result sets.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A test's identity, stable across formats: `classname.name` for JUnit-style results (the
/// same string that subunit and Python's unittest use), the plain name when there is no class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TestId(String);

impl TestId {
    pub fn new(id: impl Into<String>) -> Self {
        TestId(id.into())
    }

    /// Builds the id of a JUnit test case from its `classname` and `name` attributes.
    pub fn from_class_and_name(classname: Option<&str>, name: &str) -> Self {
        match classname.map(str::trim).filter(|class| !class.is_empty()) {
            Some(class) if name.starts_with(class) => TestId(name.to_owned()),
            Some(class) => TestId(format!("{class}.{name}")),
            None => TestId(name.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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

    /// The most useful failure text: the message of the last failing attempt, else its output.
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
        self.tests
            .entry(id.clone())
            .or_insert_with(|| TestResult { id, attempts: Vec::new() })
            .attempts
            .push(attempt);
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
        self.tests()
            .filter(|result| result.final_outcome().is_failure())
            .map(|result| result.id.clone())
            .collect()
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
        Ok(seconds.filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64))
    }
}
