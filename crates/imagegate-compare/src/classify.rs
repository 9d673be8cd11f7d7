//! Placeholder until the comparison lands.
use imagegate_results::{ResultSet, TestId, Counts};
use serde::{Serialize, Deserialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision { Pass, Regression, Error }

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class { Regression, Flaky, Preexisting, Fixed, New, Unchanged }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence { pub outcomes: Vec<imagegate_results::Outcome> }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry { pub id: TestId, pub class: Class, pub candidate: Option<Evidence>, pub incumbent: Option<Evidence>, pub message: Option<String>, pub reason: String }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison { pub decision: Decision, pub entries: Vec<Entry>, pub errors: Vec<String>, pub warnings: Vec<String>, pub candidate_counts: Counts, pub incumbent_counts: Option<Counts> }

pub fn rerun_targets(_candidate: &ResultSet) -> Vec<TestId> { Vec::new() }
pub fn incumbent_confirmation(_candidate: &ResultSet, _incumbent: Option<&ResultSet>) -> Vec<TestId> { Vec::new() }
pub fn compare(_candidate: &ResultSet, _incumbent: Option<&ResultSet>, _confirmation: Option<&ResultSet>) -> Comparison { todo!() }
