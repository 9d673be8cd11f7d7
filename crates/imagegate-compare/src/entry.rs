//! What the comparison says about one test: its class, the reason, and the evidence.

use std::fmt;

use imagegate_results::{Outcome, TestId};
use serde::{Deserialize, Serialize};

/// What a test's results in the two images amount to. The order is the order of a report:
/// what blocks first, then what needs attention, then good news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// The candidate does worse than the incumbent: the only class that blocks.
    Regression,
    /// Failed and passed on different attempts in the candidate. Reported, never blocking.
    Flaky,
    /// Fails (or is not passing) in the incumbent as well, so the candidate is not to blame.
    Preexisting,
    /// Passes in the candidate where the incumbent failed or skipped it.
    Fixed,
    /// Not run by the incumbent; passes or is skipped in the candidate.
    New,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Regression => "regression",
            Class::Flaky => "flaky",
            Class::Preexisting => "preexisting",
            Class::Fixed => "fixed",
            Class::New => "new",
        }
    }

    /// True for the one class that makes the decision a regression.
    pub fn blocks(self) -> bool {
        self == Class::Regression
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One image's attempts at one test, outcome by outcome, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub outcomes: Vec<Outcome>,
}

/// One test in the comparison, with the evidence its class rests on. An image that did not run
/// the test has no evidence (`None`); so has the incumbent when there is none (bootstrap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: TestId,
    pub class: Class,
    /// Why the test is in its class, as a fragment a report can print after the id.
    pub reason: String,
    /// The candidate's failure or skip message, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<Evidence>,
    /// The incumbent's first run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incumbent: Option<Evidence>,
    /// The incumbent's confirmation rerun of this test, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Evidence>,
}

impl Entry {
    /// Every incumbent attempt: the first run's, then the confirmation rerun's.
    pub fn incumbent_outcomes(&self) -> Vec<Outcome> {
        [&self.incumbent, &self.confirmation]
            .into_iter()
            .flatten()
            .flat_map(|evidence| evidence.outcomes.iter().copied())
            .collect()
    }
}
