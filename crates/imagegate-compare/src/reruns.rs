//! Which tests the gate reruns, and where. Reruns are asymmetric: failures are retried in the
//! candidate to tell flaky tests from broken ones, and only a test that looks like a regression
//! is retried in the incumbent, once, to check that it does not fail there too.

use imagegate_results::{ResultSet, TestId};

use crate::standing::Standing;

/// The candidate's tests to run again: those whose last attempt failed or errored, in id order.
///
/// The gate calls this after each run of the candidate, merging each rerun's results into the
/// candidate's set as further attempts, until nothing is left to rerun or it has made as many
/// attempts as configured. A test that passes on a later attempt is then [flaky], never a
/// regression.
///
/// [flaky]: crate::Class::Flaky
pub fn rerun_targets(candidate: &ResultSet) -> Vec<TestId> {
    candidate.failing()
}

/// The tests to rerun once in the incumbent, in id order: those that failed on every candidate
/// attempt but passed (or xfailed) in the incumbent's run without failing there. These are
/// exactly the tests that would be regressions; a confirmation run that fails them too makes
/// them [preexisting] instead. Empty when there is no incumbent.
///
/// [preexisting]: crate::Class::Preexisting
pub fn incumbent_confirmation(candidate: &ResultSet, incumbent: Option<&ResultSet>) -> Vec<TestId> {
    let Some(incumbent) = incumbent else {
        return Vec::new();
    };
    candidate
        .tests()
        .filter(|result| needs_confirmation(Standing::of(Some(result)), Standing::of(incumbent.get(&result.id))))
        .map(|result| result.id.clone())
        .collect()
}

/// The tests a targeted incumbent run must run, in id order: every test whose class depends on
/// the incumbent's result. That is each test of the candidate that is not passed (failed,
/// flaky, errored or skipped on its last attempt… anything but a clean pass), and each test the
/// incumbent lists (`listed`, its `list` command's ids) that the candidate did not run at all
/// (a missing test is a regression only if the incumbent passes it).
///
/// A test the candidate passed on every attempt is never a regression whatever the incumbent
/// does, so it needs no incumbent result; it is only `fixed` when the incumbent fails it, which
/// a targeted run does not measure. A failing test is asked for even when the incumbent does not
/// list it: a list that misses a test its suite runs must not turn a regression into a
/// pre-existing failure.
///
/// Flaky tests are included although their class does not depend on the incumbent, since
/// the gate calls this on the candidate's first run, before reruns tell flaky from failed.
pub fn incumbent_targets(candidate: &ResultSet, listed: Option<&std::collections::BTreeSet<TestId>>) -> Vec<TestId> {
    let Some(listed) = listed else {
        return Vec::new();
    };
    let mut targets: std::collections::BTreeSet<TestId> = candidate
        .tests()
        .filter(|result| Standing::of(Some(result)) != Standing::Passed)
        .map(|result| result.id.clone())
        .collect();
    targets.extend(listed.iter().filter(|id| !candidate.contains(id)).cloned());
    targets.into_iter().collect()
}

/// The one place that says which tests a confirmation rerun can clear.
pub(crate) fn needs_confirmation(candidate: Standing, incumbent: Standing) -> bool {
    candidate == Standing::Failed && incumbent == Standing::Passed
}

#[cfg(test)]
mod tests {
    use imagegate_results::{Attempt, Outcome};

    use super::*;
    use Outcome::*;

    fn set(tests: &[(&str, &[Outcome])]) -> ResultSet {
        let mut set = ResultSet::new();
        for (id, outcomes) in tests {
            for &outcome in *outcomes {
                set.record(TestId::new(*id), Attempt::new(outcome));
            }
        }
        set
    }

    fn ids(ids: &[&str]) -> Vec<TestId> {
        ids.iter().map(|id| TestId::new(*id)).collect()
    }

    #[test]
    fn reruns_tests_whose_last_attempt_failed_or_errored() {
        let candidate = set(&[
            ("error", &[Error]),
            ("fail", &[Fail]),
            ("fixed_on_rerun", &[Fail, Pass]),
            ("pass", &[Pass]),
            ("skip", &[Skip]),
            ("still_failing", &[Fail, Fail]),
            ("xfail", &[Xfail]),
        ]);
        assert_eq!(rerun_targets(&candidate), ids(&["error", "fail", "still_failing"]));
    }

    #[test]
    fn confirms_in_the_incumbent_only_what_would_be_a_regression() {
        let candidate = set(&[
            ("broken", &[Fail, Fail, Error]),
            ("broken_but_xfail_before", &[Fail]),
            ("broken_everywhere", &[Fail]),
            ("broken_flaky_before", &[Fail]),
            ("flaky", &[Fail, Pass]),
            ("new_and_broken", &[Fail]),
            ("pass", &[Pass]),
            ("skipped_before", &[Fail]),
        ]);
        let incumbent = set(&[
            ("broken", &[Pass]),
            ("broken_but_xfail_before", &[Xfail]),
            ("broken_everywhere", &[Fail]),
            ("broken_flaky_before", &[Fail, Pass]),
            ("flaky", &[Pass]),
            ("pass", &[Pass]),
            ("skipped_before", &[Skip]),
        ]);
        assert_eq!(incumbent_confirmation(&candidate, Some(&incumbent)), ids(&["broken", "broken_but_xfail_before"]));
        assert_eq!(incumbent_confirmation(&candidate, None), ids(&[]));
    }

    #[test]
    fn a_targeted_incumbent_runs_what_the_candidate_did_not_pass_and_what_it_missed() {
        let candidate = set(&[
            ("error", &[Error]),
            ("fail", &[Fail]),
            ("flaky", &[Fail, Pass]),
            ("pass", &[Pass]),
            ("skip", &[Skip]),
            ("unlisted_fail", &[Fail]),
            ("unlisted_pass", &[Pass]),
            ("xfail", &[Xfail]),
        ]);
        let listed = ids(&["error", "fail", "flaky", "gone", "pass", "skip", "xfail"]).into_iter().collect();
        assert_eq!(
            incumbent_targets(&candidate, Some(&listed)),
            ids(&["error", "fail", "flaky", "gone", "skip", "unlisted_fail"])
        );
        assert_eq!(incumbent_targets(&candidate, None), ids(&[]));
    }
}
