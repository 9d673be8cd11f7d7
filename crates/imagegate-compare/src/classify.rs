//! The per-test rules: what one test's standing in the candidate, in the incumbent and in the
//! incumbent's confirmation rerun amounts to. The table is written out in the crate
//! documentation; this is the one place that implements it.

use imagegate_results::TestResult;

use crate::entry::Class;
use crate::standing::Standing;

/// What the candidate is compared with, for one test.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Baseline<'a> {
    /// There is no stable image yet: the candidate is judged alone.
    Bootstrap,
    Incumbent {
        /// The incumbent's first run of the test.
        result: Option<&'a TestResult>,
        /// The incumbent's confirmation rerun of the test, when it had one.
        confirmation: Option<&'a TestResult>,
    },
}

/// The class and reason for one test, or `None` when there is nothing to report about it.
pub(crate) fn classify(candidate: Option<&TestResult>, baseline: Baseline<'_>) -> Option<(Class, String)> {
    let candidate_standing = Standing::of(candidate);
    if candidate_standing == Standing::Flaky {
        // A test the candidate passed at least once can pass in it: whatever the incumbent
        // did, that is not a regression to block on.
        return Some((Class::Flaky, flaky_reason(candidate)));
    }

    let (incumbent, confirmation) = match baseline {
        Baseline::Bootstrap => {
            return (candidate_standing == Standing::Failed)
                .then(|| (Class::Regression, "fails with no incumbent to compare".to_owned()));
        }
        Baseline::Incumbent { result, confirmation } => (Standing::of(result), confirmation),
    };

    let (class, reason) = match (candidate_standing, incumbent) {
        (Standing::Failed, Standing::Passed) => match confirmation.map(|rerun| Standing::of(Some(rerun))) {
            Some(rerun) if rerun.ever_failed() => (Class::Preexisting, "also fails in the incumbent on rerun"),
            Some(rerun) if rerun.ever_ok() => {
                (Class::Regression, "fails on every candidate attempt; passes in the incumbent, also on rerun")
            }
            _ => (Class::Regression, "fails on every candidate attempt; passes in the incumbent"),
        },
        (Standing::Failed, Standing::Flaky) => (Class::Preexisting, "also fails in the incumbent (flaky there)"),
        (Standing::Failed, Standing::Failed) => (Class::Preexisting, "also fails in the incumbent"),
        (Standing::Failed, Standing::Skipped) => (Class::Preexisting, "not passing in the incumbent (skipped there)"),
        (Standing::Failed, Standing::NotRun) => (Class::Preexisting, "not passing in the incumbent (not run there)"),

        (Standing::NotRun, Standing::Passed | Standing::Flaky) => (Class::Regression, "missing in candidate"),
        (Standing::Skipped, Standing::Passed | Standing::Flaky) => {
            (Class::Regression, "skipped in candidate; passes in the incumbent")
        }
        (Standing::NotRun, Standing::Failed) => (Class::Preexisting, "fails in the incumbent; not run in candidate"),
        (Standing::Skipped, Standing::Failed) => (Class::Preexisting, "fails in the incumbent; skipped in candidate"),
        (Standing::Skipped, Standing::NotRun) => (Class::New, "new test, skipped"),

        (Standing::Passed, Standing::Failed) => (Class::Fixed, "fails in the incumbent, passes in candidate"),
        (Standing::Passed, Standing::Skipped) => (Class::Fixed, "skipped in the incumbent, passes in candidate"),
        (Standing::Passed, Standing::NotRun) => (Class::New, "new test, passes"),

        // The same standing on both sides (or a passing test flaky only in the incumbent,
        // which says nothing about the candidate).
        (Standing::Passed, Standing::Passed | Standing::Flaky)
        | (Standing::Skipped | Standing::NotRun, Standing::Skipped | Standing::NotRun)
        | (Standing::Flaky, _) => return None,
    };
    Some((class, reason.to_owned()))
}

/// Which attempts failed and passed, e.g. "failed on attempt 1, passed on attempt 2".
fn flaky_reason(candidate: Option<&TestResult>) -> String {
    let outcomes: Vec<_> = candidate.map(|result| result.outcomes().collect()).unwrap_or_default();
    let first_failed = outcomes.iter().position(|outcome| outcome.is_failure());
    let first_ok = outcomes.iter().position(|outcome| outcome.is_ok());
    match (first_failed, first_ok) {
        (Some(failed), Some(ok)) if failed < ok => {
            format!("failed on attempt {}, passed on attempt {}", failed + 1, ok + 1)
        }
        (Some(failed), Some(ok)) => format!("passed on attempt {}, failed on attempt {}", ok + 1, failed + 1),
        _ => "both failed and passed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use imagegate_results::{Attempt, Outcome, TestId};

    use super::*;
    use crate::reruns::needs_confirmation;

    const STANDINGS: [Standing; 5] =
        [Standing::NotRun, Standing::Passed, Standing::Flaky, Standing::Failed, Standing::Skipped];

    /// A result with the given standing.
    fn result(standing: Standing) -> Option<TestResult> {
        let outcomes: &[Outcome] = match standing {
            Standing::NotRun => return None,
            Standing::Passed => &[Outcome::Pass],
            Standing::Flaky => &[Outcome::Fail, Outcome::Pass],
            Standing::Failed => &[Outcome::Fail, Outcome::Error],
            Standing::Skipped => &[Outcome::Skip],
        };
        Some(TestResult {
            id: TestId::new("t"),
            attempts: outcomes.iter().map(|&outcome| Attempt::new(outcome)).collect(),
        })
    }

    fn class(candidate: Standing, incumbent: Standing, confirmation: Standing) -> Option<Class> {
        let (candidate, incumbent, confirmation) = (result(candidate), result(incumbent), result(confirmation));
        let baseline = Baseline::Incumbent { result: incumbent.as_ref(), confirmation: confirmation.as_ref() };
        classify(candidate.as_ref(), baseline).map(|(class, _)| class)
    }

    #[test]
    fn a_confirmation_rerun_matters_exactly_for_the_tests_chosen_for_it() {
        for candidate in STANDINGS {
            for incumbent in STANDINGS {
                let without = class(candidate, incumbent, Standing::NotRun);
                let failing_again = class(candidate, incumbent, Standing::Failed);
                let passing_again = class(candidate, incumbent, Standing::Passed);
                if needs_confirmation(candidate, incumbent) {
                    assert_eq!(without, Some(Class::Regression));
                    assert_eq!(passing_again, Some(Class::Regression));
                    assert_eq!(failing_again, Some(Class::Preexisting));
                } else {
                    assert_eq!(without, failing_again, "{candidate:?} against {incumbent:?}");
                    assert_eq!(without, passing_again, "{candidate:?} against {incumbent:?}");
                }
            }
        }
    }

    #[test]
    fn only_a_test_never_passing_in_the_candidate_can_be_a_regression() {
        for candidate in STANDINGS {
            for incumbent in STANDINGS {
                if class(candidate, incumbent, Standing::NotRun) == Some(Class::Regression) {
                    assert!(!candidate.ever_ok(), "{candidate:?} against {incumbent:?}");
                    assert!(incumbent.ever_ok(), "{candidate:?} against {incumbent:?}");
                }
            }
        }
    }

    #[test]
    fn flaky_reasons_name_the_attempts() {
        let flaky = |outcomes: &[Outcome]| {
            let result = TestResult {
                id: TestId::new("t"),
                attempts: outcomes.iter().map(|&outcome| Attempt::new(outcome)).collect(),
            };
            flaky_reason(Some(&result))
        };
        assert_eq!(flaky(&[Outcome::Fail, Outcome::Error, Outcome::Pass]), "failed on attempt 1, passed on attempt 3");
        assert_eq!(flaky(&[Outcome::Pass, Outcome::Fail]), "passed on attempt 1, failed on attempt 2");
    }
}
