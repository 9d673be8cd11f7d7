//! The comparison as a whole: classifies every test, then decides pass, regression or error.

use std::collections::BTreeSet;

use imagegate_results::{Counts, ResultSet, TestId};
use serde::{Deserialize, Serialize};

use crate::classify::{Baseline, classify};
use crate::entry::{Class, Entry, Evidence};
use crate::reruns::{incumbent_targets, needs_confirmation};
use crate::standing::Standing;

/// The decision is the contract's own: one type from the comparison to every report.
pub use imagegate_contract::Decision;

/// The result of [`compare`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub decision: Decision,
    /// Every test with something to report, sorted by class (in [`Class`] order) and then id.
    pub entries: Vec<Entry>,
    /// How many tests are not in `entries` because there is nothing to report about them: the
    /// same standing in both images, or, with no incumbent, not failing. Counted rather than
    /// listed so that a verdict stays small for suites of many thousand tests.
    pub unlisted: usize,
    /// Why no judgement could be reached, each a lowercase sentence; not empty exactly when
    /// `decision` is [`Decision::Error`].
    pub errors: Vec<String>,
    /// What weakens the judgement without preventing it.
    pub warnings: Vec<String>,
    /// The candidate's results by each test's last attempt.
    pub candidate_counts: Counts,
    /// The incumbent's, by each test's last attempt; `None` with no incumbent (bootstrap).
    pub incumbent_counts: Option<Counts>,
    /// Tests the incumbent listed but was deliberately not asked to run, because the candidate
    /// passed them (see [`compare_targeted`]): whether any of them is `fixed` is not known.
    #[serde(default)]
    pub unmeasured: usize,
}

impl Comparison {
    /// The entries of one class, in id order.
    pub fn of_class(&self, class: Class) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |entry| entry.class == class)
    }

    /// True when the candidate was judged alone, with no stable image to compare with.
    pub fn is_bootstrap(&self) -> bool {
        self.incumbent_counts.is_none()
    }
}

/// Compares the candidate's results with the incumbent's and decides.
///
/// - `candidate`: the candidate's first full run, with its reruns merged in as further attempts
///   (see [`rerun_targets`](crate::rerun_targets)).
/// - `incumbent`: the incumbent's run at the same project commit; `None` when there is no
///   stable image yet (bootstrap).
/// - `confirmation`: the incumbent's rerun of the tests
///   [`incumbent_confirmation`](crate::incumbent_confirmation) named, if it was run.
///
/// The rules are those of the [crate documentation](crate).
pub fn compare(candidate: &ResultSet, incumbent: Option<&ResultSet>, confirmation: Option<&ResultSet>) -> Comparison {
    compare_with(candidate, incumbent, confirmation, None)
}

/// [`compare`] for a targeted incumbent run: the incumbent listed its tests (`listed`) and ran
/// only those [`incumbent_targets`](crate::incumbent_targets) named.
///
/// Every rule of the table stays as it is, because a test whose class depends on the
/// incumbent's result was run there. The one difference is a test the candidate passed (never
/// failing) that the incumbent lists: it was not run in the incumbent, so it is neither `fixed`
/// nor `new` but counted in [`Comparison::unmeasured`] (and, like a test passing in both, not
/// listed). A test the incumbent does not list and the candidate passes or skips is `new`, as
/// with a full run.
pub fn compare_targeted(
    candidate: &ResultSet,
    incumbent: &ResultSet,
    confirmation: Option<&ResultSet>,
    listed: &BTreeSet<TestId>,
) -> Comparison {
    compare_with(candidate, Some(incumbent), confirmation, Some(listed))
}

fn compare_with(
    candidate: &ResultSet,
    incumbent: Option<&ResultSet>,
    confirmation: Option<&ResultSet>,
    listed: Option<&BTreeSet<TestId>>,
) -> Comparison {
    let mut entries = Vec::new();
    let mut unlisted = 0;
    let mut unmeasured = 0;
    let ids: BTreeSet<&TestId> = candidate.ids().chain(incumbent.into_iter().flat_map(ResultSet::ids)).collect();
    for id in ids {
        let candidate_result = candidate.get(id);
        if let (Some(listed), Some(incumbent)) = (listed, incumbent)
            && listed.contains(id)
            && !incumbent.contains(id)
            && Standing::of(candidate_result) == Standing::Passed
        {
            unmeasured += 1;
            unlisted += 1;
            continue;
        }
        let baseline = match incumbent {
            None => Baseline::Bootstrap,
            Some(incumbent) => Baseline::Incumbent {
                result: incumbent.get(id),
                confirmation: confirmation.and_then(|confirmation| confirmation.get(id)),
            },
        };
        let Some((class, reason)) = classify(candidate_result, baseline) else {
            unlisted += 1;
            continue;
        };
        let evidence = |set: Option<&ResultSet>| {
            set.and_then(|set| set.get(id)).map(|result| Evidence { outcomes: result.outcomes().collect() })
        };
        entries.push(Entry {
            id: id.clone(),
            class,
            reason,
            message: candidate_result.and_then(|result| result.failure_message()).map(str::to_owned),
            candidate: evidence(Some(candidate)),
            incumbent: evidence(incumbent),
            // Only a comparison with an incumbent has confirmation reruns.
            confirmation: incumbent.and_then(|_| evidence(confirmation)),
        });
    }
    entries.sort_by(|left, right| (left.class, &left.id).cmp(&(right.class, &right.id)));

    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    judge_candidate(candidate, &mut errors);
    if let Some(incumbent) = incumbent {
        // A targeted incumbent asked only for tests it does not list (or for none) is expected
        // to report nothing.
        let asked = listed.is_none_or(|listed| {
            incumbent_targets(candidate, Some(listed)).iter().any(|target| listed.contains(target))
        });
        judge_incumbent(candidate, incumbent, asked, &mut errors, &mut warnings);
        if let Some(confirmation) = confirmation {
            judge_confirmation(candidate, incumbent, confirmation, &mut warnings);
        }
    }

    let decision = if !errors.is_empty() {
        Decision::Error
    } else if entries.iter().any(|entry| entry.class.blocks()) {
        Decision::Regression
    } else {
        Decision::Pass
    };

    Comparison {
        decision,
        entries,
        unlisted,
        errors,
        warnings,
        candidate_counts: candidate.counts(),
        incumbent_counts: incumbent.map(ResultSet::counts),
        unmeasured,
    }
}

/// A candidate run that is incomplete or empty cannot pass: a crash that wrote half its
/// results, or a suite that ran nothing, must not look like success.
fn judge_candidate(candidate: &ResultSet, errors: &mut Vec<String>) {
    for incomplete in &candidate.incomplete {
        errors.push(format!("candidate results incomplete: {}: {}", incomplete.source, incomplete.reason));
    }
    if candidate.is_empty() {
        errors.push("the candidate ran no tests".to_owned());
    }
}

/// An incomplete or empty incumbent run can still vouch for a candidate that fails nothing
/// (it does at least as well as anything), but cannot clear a failing test: whether that test
/// also fails in the incumbent is unknown.
fn judge_incumbent(
    candidate: &ResultSet,
    incumbent: &ResultSet,
    asked: bool,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let mut problems: Vec<String> = incumbent
        .incomplete
        .iter()
        .map(|incomplete| format!("incumbent results incomplete: {}: {}", incomplete.source, incomplete.reason))
        .collect();
    if incumbent.is_empty() && asked {
        problems.push("the incumbent ran no tests".to_owned());
    }
    if problems.is_empty() {
        return;
    }
    let failing = candidate.tests().filter(|result| Standing::of(Some(result)) == Standing::Failed).count();
    if failing == 0 {
        warnings.extend(problems);
    } else {
        errors.extend(problems);
        errors.push(format!(
            "cannot tell whether the candidate's {failing} failing test{} also fail{} in the incumbent",
            if failing == 1 { "" } else { "s" },
            if failing == 1 { "s" } else { "" },
        ));
    }
}

/// A confirmation rerun that lacks a test it was meant to confirm leaves that test judged on
/// the incumbent's first run alone (a regression): the gate should know.
fn judge_confirmation(
    candidate: &ResultSet,
    incumbent: &ResultSet,
    confirmation: &ResultSet,
    warnings: &mut Vec<String>,
) {
    for incomplete in &confirmation.incomplete {
        warnings
            .push(format!("incumbent confirmation results incomplete: {}: {}", incomplete.source, incomplete.reason));
    }
    for result in candidate.tests() {
        let expected = needs_confirmation(Standing::of(Some(result)), Standing::of(incumbent.get(&result.id)));
        if expected && !confirmation.contains(&result.id) {
            warnings.push(format!("{}: not in the incumbent confirmation run; judged on the first run", result.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use imagegate_results::{Attempt, Outcome};
    use proptest::prelude::*;

    use super::*;
    use Outcome::*;

    fn set(tests: &[(&str, &[Outcome])]) -> ResultSet {
        let mut set = ResultSet::new();
        for (id, outcomes) in tests {
            for &outcome in *outcomes {
                let mut attempt = Attempt::new(outcome);
                if outcome.is_failure() || outcome == Skip {
                    attempt.message = Some(format!("{id}: {outcome}"));
                }
                set.record(TestId::new(*id), attempt);
            }
        }
        set
    }

    fn entry<'a>(comparison: &'a Comparison, id: &str) -> &'a Entry {
        comparison
            .entries
            .iter()
            .find(|entry| entry.id.as_str() == id)
            .unwrap_or_else(|| panic!("{id} should be listed in {:#?}", comparison.entries))
    }

    fn outcomes(evidence: &Option<Evidence>) -> Vec<Outcome> {
        evidence.as_ref().map(|evidence| evidence.outcomes.clone()).unwrap_or_default()
    }

    fn class_of(comparison: &Comparison, id: &str) -> Class {
        entry(comparison, id).class
    }

    fn ids_of(comparison: &Comparison, class: Class) -> Vec<&str> {
        comparison.of_class(class).map(|entry| entry.id.as_str()).collect()
    }

    #[test]
    fn an_identical_candidate_passes_and_lists_nothing_but_shared_failures() {
        let results = set(&[("a", &[Pass]), ("b", &[Xfail]), ("c", &[Skip]), ("d", &[Fail])]);
        let comparison = compare(&results, Some(&results), None);
        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(ids_of(&comparison, Class::Preexisting), ["d"]);
        assert_eq!(comparison.entries.len(), 1);
        assert_eq!(comparison.unlisted, 3);
        assert!(comparison.errors.is_empty() && comparison.warnings.is_empty());
    }

    #[test]
    fn a_test_failing_on_every_attempt_that_passes_in_the_incumbent_is_a_regression() {
        let candidate = set(&[("a", &[Pass]), ("broken", &[Fail, Fail, Error])]);
        let incumbent = set(&[("a", &[Pass]), ("broken", &[Pass])]);
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Regression);
        let broken = entry(&comparison, "broken");
        assert_eq!(broken.class, Class::Regression);
        assert_eq!(broken.reason, "fails on every candidate attempt; passes in the incumbent");
        assert_eq!(broken.message.as_deref(), Some("broken: error"));
        assert_eq!(outcomes(&broken.candidate), [Fail, Fail, Error]);
        assert_eq!(outcomes(&broken.incumbent), [Pass]);
        assert_eq!(broken.confirmation, None);
    }

    #[test]
    fn an_xfail_in_the_incumbent_counts_as_passing() {
        let comparison = compare(&set(&[("a", &[Fail])]), Some(&set(&[("a", &[Xfail])])), None);
        assert_eq!(class_of(&comparison, "a"), Class::Regression);
        let comparison = compare(&set(&[("a", &[Xfail])]), Some(&set(&[("a", &[Fail])])), None);
        assert_eq!(class_of(&comparison, "a"), Class::Fixed);
    }

    #[test]
    fn a_confirmation_rerun_failing_in_the_incumbent_makes_a_regression_preexisting() {
        let candidate = set(&[("a", &[Pass]), ("broken", &[Fail, Fail])]);
        let incumbent = set(&[("a", &[Pass]), ("broken", &[Pass])]);
        let confirmation = set(&[("broken", &[Fail])]);
        let comparison = compare(&candidate, Some(&incumbent), Some(&confirmation));

        assert_eq!(comparison.decision, Decision::Pass);
        let broken = entry(&comparison, "broken");
        assert_eq!(broken.class, Class::Preexisting);
        assert_eq!(broken.reason, "also fails in the incumbent on rerun");
        assert_eq!(outcomes(&broken.confirmation), [Fail]);
        assert_eq!(broken.incumbent_outcomes(), [Pass, Fail]);
    }

    #[test]
    fn a_confirmation_rerun_passing_in_the_incumbent_keeps_the_regression() {
        let candidate = set(&[("broken", &[Fail, Fail])]);
        let incumbent = set(&[("broken", &[Pass])]);
        let comparison = compare(&candidate, Some(&incumbent), Some(&set(&[("broken", &[Pass])])));
        assert_eq!(comparison.decision, Decision::Regression);
        assert_eq!(
            entry(&comparison, "broken").reason,
            "fails on every candidate attempt; passes in the incumbent, also on rerun"
        );
    }

    #[test]
    fn a_confirmation_rerun_without_the_test_keeps_the_regression_and_warns() {
        let candidate = set(&[("broken", &[Fail])]);
        let incumbent = set(&[("broken", &[Pass])]);
        let mut confirmation = set(&[("other", &[Fail])]);
        confirmation.mark_incomplete("confirm.xml", "truncated at line 3: end of file inside `<testsuite>`");
        let comparison = compare(&candidate, Some(&incumbent), Some(&confirmation));

        assert_eq!(comparison.decision, Decision::Regression);
        assert_eq!(
            comparison.warnings,
            [
                "incumbent confirmation results incomplete: confirm.xml: truncated at line 3: end of file inside `<testsuite>`",
                "broken: not in the incumbent confirmation run; judged on the first run",
            ]
        );
    }

    #[test]
    fn flaky_tests_are_reported_and_never_block() {
        let candidate = set(&[
            ("flaky_was_passing", &[Fail, Pass]),
            ("flaky_was_failing", &[Error, Fail, Pass]),
            ("flaky_new", &[Fail, Xfail]),
            ("flaky_out_of_order", &[Pass, Fail]),
        ]);
        let incumbent =
            set(&[("flaky_was_passing", &[Pass]), ("flaky_was_failing", &[Fail]), ("flaky_out_of_order", &[Pass])]);
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(
            ids_of(&comparison, Class::Flaky),
            ["flaky_new", "flaky_out_of_order", "flaky_was_failing", "flaky_was_passing"]
        );
        let flaky = entry(&comparison, "flaky_was_passing");
        assert_eq!(flaky.reason, "failed on attempt 1, passed on attempt 2");
        assert_eq!(flaky.message.as_deref(), Some("flaky_was_passing: fail"));
    }

    #[test]
    fn a_test_missing_in_the_candidate_is_a_regression() {
        let candidate = set(&[("a", &[Pass])]);
        let incumbent = set(&[("a", &[Pass]), ("gone", &[Pass]), ("gone_flaky", &[Fail, Pass])]);
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Regression);
        assert_eq!(ids_of(&comparison, Class::Regression), ["gone", "gone_flaky"]);
        let gone = entry(&comparison, "gone");
        assert_eq!(gone.reason, "missing in candidate");
        assert_eq!(gone.candidate, None);
        assert_eq!(gone.message, None);
    }

    #[test]
    fn a_test_skipped_in_the_candidate_that_passes_in_the_incumbent_is_a_regression() {
        let candidate = set(&[("a", &[Pass]), ("now_skipped", &[Skip])]);
        let incumbent = set(&[("a", &[Pass]), ("now_skipped", &[Pass])]);
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Regression);
        let skipped = entry(&comparison, "now_skipped");
        assert_eq!(skipped.class, Class::Regression);
        assert_eq!(skipped.message.as_deref(), Some("now_skipped: skip"));
    }

    #[test]
    fn failing_in_both_images_is_preexisting() {
        let candidate = set(&[("a", &[Pass]), ("both", &[Fail, Fail]), ("flaky_before", &[Error])]);
        let incumbent = set(&[("a", &[Pass]), ("both", &[Error]), ("flaky_before", &[Pass, Fail])]);
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(ids_of(&comparison, Class::Preexisting), ["both", "flaky_before"]);
        assert_eq!(entry(&comparison, "both").reason, "also fails in the incumbent");
    }

    #[test]
    fn a_failure_not_passing_in_the_incumbent_does_not_block() {
        let candidate = set(&[("a", &[Pass]), ("new_and_failing", &[Fail]), ("skipped_before", &[Fail])]);
        let incumbent = set(&[("a", &[Pass]), ("skipped_before", &[Skip])]);
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(entry(&comparison, "new_and_failing").class, Class::Preexisting);
        assert_eq!(entry(&comparison, "new_and_failing").reason, "not passing in the incumbent (not run there)");
        assert_eq!(entry(&comparison, "skipped_before").reason, "not passing in the incumbent (skipped there)");
    }

    #[test]
    fn a_failure_in_the_incumbent_that_the_candidate_passes_is_fixed() {
        let candidate = set(&[("fixed", &[Pass]), ("runs_now", &[Pass])]);
        let incumbent = set(&[("fixed", &[Fail]), ("runs_now", &[Skip])]);
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(ids_of(&comparison, Class::Fixed), ["fixed", "runs_now"]);
    }

    #[test]
    fn a_test_only_the_candidate_runs_is_new() {
        let candidate = set(&[("a", &[Pass]), ("new", &[Pass]), ("new_skipped", &[Skip])]);
        let incumbent = set(&[("a", &[Pass])]);
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(ids_of(&comparison, Class::New), ["new", "new_skipped"]);
    }

    #[test]
    fn a_test_failing_in_the_incumbent_and_gone_from_the_candidate_is_preexisting() {
        let candidate = set(&[("a", &[Pass]), ("skipped_now", &[Skip])]);
        let incumbent = set(&[("a", &[Pass]), ("gone", &[Fail]), ("skipped_now", &[Fail])]);
        let comparison = compare(&candidate, Some(&incumbent), None);
        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(ids_of(&comparison, Class::Preexisting), ["gone", "skipped_now"]);
    }

    #[test]
    fn unchanged_tests_are_counted_not_listed() {
        let candidate = set(&[("pass", &[Pass]), ("skip", &[Skip]), ("passes_where_flaky", &[Pass])]);
        let incumbent =
            set(&[("pass", &[Pass]), ("skip", &[Skip]), ("passes_where_flaky", &[Fail, Pass]), ("gone_skip", &[Skip])]);
        let comparison = compare(&candidate, Some(&incumbent), None);
        assert!(comparison.entries.is_empty(), "{:#?}", comparison.entries);
        assert_eq!(comparison.unlisted, 4);
    }

    #[test]
    fn bootstrap_passes_when_nothing_fails_on_its_last_attempt() {
        let candidate = set(&[("a", &[Pass]), ("flaky", &[Fail, Pass]), ("skip", &[Skip])]);
        let comparison = compare(&candidate, None, None);

        assert_eq!(comparison.decision, Decision::Pass);
        assert!(comparison.is_bootstrap());
        assert_eq!(ids_of(&comparison, Class::Flaky), ["flaky"]);
        assert_eq!(comparison.entries.len(), 1);
        assert_eq!(comparison.unlisted, 2);
        assert_eq!(comparison.incumbent_counts, None);
    }

    #[test]
    fn bootstrap_fails_on_a_test_failing_on_every_attempt() {
        let candidate = set(&[("a", &[Pass]), ("broken", &[Fail, Error]), ("flaky", &[Fail, Pass])]);
        let comparison = compare(&candidate, None, Some(&set(&[("broken", &[Fail])])));

        assert_eq!(comparison.decision, Decision::Regression);
        let broken = entry(&comparison, "broken");
        assert_eq!(broken.class, Class::Regression);
        assert_eq!(broken.reason, "fails with no incumbent to compare");
        assert_eq!((&broken.incumbent, &broken.confirmation), (&None, &None));
    }

    /// A run's results read from JUnit files, as the gate reads a results folder.
    fn junit_run(files: &[&str]) -> ResultSet {
        let mut run = ResultSet::new();
        for (index, cases) in files.iter().enumerate() {
            let xml = format!("<testsuite>{cases}</testsuite>");
            run.merge_file(imagegate_results::parse_junit(&format!("r{index}.xml"), xml.as_bytes()).expect("parses"));
        }
        run
    }

    #[test]
    fn conflicting_duplicates_in_one_run_block_instead_of_passing_as_flaky() {
        let pass = r#"<testcase classname="s" name="t01"/><testcase classname="s" name="t03"/>"#;
        let fail = r#"<testcase classname="s" name="t03"><failure message="boom"/></testcase>"#;
        let incumbent = junit_run(&[pass]);
        let layouts: [&[&str]; 3] = [&[&format!("{fail}{pass}")], &[&format!("{pass}{fail}")], &[pass, fail]];
        for layout in layouts {
            let mut candidate = junit_run(layout);
            // Every rerun of the candidate contradicts itself too; each is a further attempt.
            for _ in 0..2 {
                let rerun = junit_run(layout);
                candidate.merge(rerun);
            }
            let comparison = compare(&candidate, Some(&incumbent), None);
            assert_eq!(comparison.decision, Decision::Regression, "{layout:?}");
            assert!(ids_of(&comparison, Class::Flaky).is_empty(), "{layout:?}");
            assert_eq!(ids_of(&comparison, Class::Regression), ["s.t03"], "{layout:?}");
            let expected = if layout.len() == 1 { Error } else { Fail };
            assert_eq!(outcomes(&entry(&comparison, "s.t03").candidate), [expected; 3], "{layout:?}");
            assert_eq!(crate::rerun_targets(&candidate), [TestId::new("s.t03")]);
        }

        // Attempts from separate runs still make a flaky test, as before.
        let mut candidate = junit_run(&[&format!("{fail}<testcase classname=\"s\" name=\"t01\"/>")]);
        candidate.merge(junit_run(&[r#"<testcase classname="s" name="t03"/>"#]));
        let comparison = compare(&candidate, Some(&incumbent), None);
        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(ids_of(&comparison, Class::Flaky), ["s.t03"]);
    }

    #[test]
    fn an_incomplete_candidate_is_an_error() {
        let mut candidate = set(&[("a", &[Pass])]);
        candidate.mark_incomplete("junit.xml", "truncated at line 9: end of file inside `<testcase>`");
        for incumbent in [None, Some(&candidate)] {
            let comparison = compare(&candidate, incumbent, None);
            assert_eq!(comparison.decision, Decision::Error);
            assert_eq!(
                comparison.errors,
                ["candidate results incomplete: junit.xml: truncated at line 9: end of file inside `<testcase>`"]
            );
        }
    }

    #[test]
    fn a_candidate_without_tests_is_an_error() {
        let empty = ResultSet::new();
        for incumbent in [None, Some(&empty), Some(&set(&[("a", &[Pass])]))] {
            let comparison = compare(&empty, incumbent, None);
            assert_eq!(comparison.decision, Decision::Error);
            assert!(comparison.errors.contains(&"the candidate ran no tests".to_owned()), "{:?}", comparison.errors);
        }
    }

    #[test]
    fn an_incomplete_incumbent_still_vouches_for_a_candidate_that_fails_nothing() {
        let candidate = set(&[("a", &[Pass]), ("b", &[Pass]), ("flaky", &[Fail, Pass])]);
        let mut incumbent = set(&[("a", &[Pass])]);
        incumbent.mark_incomplete("junit.xml", "truncated at line 4: end of file inside `<testsuite>`");
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Pass);
        assert_eq!(
            comparison.warnings,
            ["incumbent results incomplete: junit.xml: truncated at line 4: end of file inside `<testsuite>`"]
        );
        assert!(comparison.errors.is_empty());
    }

    #[test]
    fn an_incomplete_incumbent_cannot_clear_a_failing_candidate() {
        let candidate = set(&[("a", &[Pass]), ("broken", &[Fail, Fail])]);
        let mut incumbent = set(&[("a", &[Pass])]);
        incumbent.mark_incomplete("results", "the suite timed out");
        let comparison = compare(&candidate, Some(&incumbent), None);

        assert_eq!(comparison.decision, Decision::Error);
        assert_eq!(
            comparison.errors,
            [
                "incumbent results incomplete: results: the suite timed out",
                "cannot tell whether the candidate's 1 failing test also fails in the incumbent",
            ]
        );
    }

    #[test]
    fn an_empty_incumbent_is_a_warning_or_an_error_like_an_incomplete_one() {
        let empty = ResultSet::new();
        let perfect = compare(&set(&[("a", &[Pass])]), Some(&empty), None);
        assert_eq!(perfect.decision, Decision::Pass);
        assert_eq!(perfect.warnings, ["the incumbent ran no tests"]);

        let failing = compare(&set(&[("a", &[Fail]), ("b", &[Error])]), Some(&empty), None);
        assert_eq!(failing.decision, Decision::Error);
        assert_eq!(
            failing.errors,
            [
                "the incumbent ran no tests",
                "cannot tell whether the candidate's 2 failing tests also fail in the incumbent"
            ]
        );
    }

    #[test]
    fn entries_are_sorted_by_class_then_id() {
        let candidate =
            set(&[("b_flaky", &[Fail, Pass]), ("a_flaky", &[Fail, Pass]), ("z_broken", &[Fail]), ("fixed", &[Pass])]);
        let incumbent = set(&[("z_broken", &[Pass]), ("fixed", &[Fail]), ("gone", &[Pass])]);
        let comparison = compare(&candidate, Some(&incumbent), None);
        let order: Vec<(Class, &str)> =
            comparison.entries.iter().map(|entry| (entry.class, entry.id.as_str())).collect();
        assert_eq!(
            order,
            [
                (Class::Regression, "gone"),
                (Class::Regression, "z_broken"),
                (Class::Flaky, "a_flaky"),
                (Class::Flaky, "b_flaky"),
                (Class::Fixed, "fixed"),
            ]
        );
    }

    #[test]
    fn serialises_the_decision_as_a_lowercase_word_and_round_trips() {
        for (decision, word) in
            [(Decision::Pass, "\"pass\""), (Decision::Regression, "\"regression\""), (Decision::Error, "\"error\"")]
        {
            assert_eq!(serde_json::to_string(&decision).expect("serialises"), word);
        }
        let candidate = set(&[("broken", &[Fail]), ("flaky", &[Fail, Pass])]);
        let comparison = compare(&candidate, Some(&set(&[("broken", &[Pass])])), None);
        let json = serde_json::to_value(&comparison).expect("serialises");
        assert_eq!(json["decision"], "regression");
        assert_eq!(json["entries"][0]["class"], "regression");
        assert_eq!(json["entries"][0]["candidate"]["outcomes"], serde_json::json!(["fail"]));
        let back: Comparison = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, comparison);
    }

    fn outcome_strategy() -> impl Strategy<Value = Outcome> {
        prop_oneof![Just(Pass), Just(Fail), Just(Error), Just(Skip), Just(Xfail)]
    }

    /// Result sets over a small pool of ids, so that candidate and incumbent overlap.
    fn result_set_strategy() -> impl Strategy<Value = ResultSet> {
        let test = (0..8_usize, prop::collection::vec(outcome_strategy(), 1..4));
        (prop::collection::vec(test, 0..8), any::<bool>()).prop_map(|(tests, incomplete)| {
            let mut set = ResultSet::new();
            for (id, outcomes) in tests {
                for outcome in outcomes {
                    set.record(TestId::new(format!("t{id}")), Attempt::new(outcome));
                }
            }
            if incomplete {
                set.mark_incomplete("junit.xml", "truncated at line 1: end of file inside `<testsuite>`");
            }
            set
        })
    }

    proptest! {
            #[test]
            fn the_same_results_in_both_images_are_never_a_regression(
                mut results in result_set_strategy(),
                confirmation in proptest::option::of(result_set_strategy()),
            ) {
                results.incomplete.clear();
                prop_assume!(!results.is_empty());
                let comparison = compare(&results, Some(&results), confirmation.as_ref());
                prop_assert_ne!(comparison.decision, Decision::Regression);
                prop_assert_eq!(comparison.decision, Decision::Pass);
            }

            #[test]
            fn a_pass_lists_no_regression_and_a_regression_lists_one(
                candidate in result_set_strategy(),
                incumbent in proptest::option::of(result_set_strategy()),
                confirmation in proptest::option::of(result_set_strategy()),
            ) {
                let comparison = compare(&candidate, incumbent.as_ref(), confirmation.as_ref());
                let regressions = comparison.of_class(Class::Regression).count();
                match comparison.decision {
                    Decision::Pass => prop_assert_eq!(regressions, 0),
                    Decision::Regression => prop_assert!(regressions > 0),
                    Decision::Error => prop_assert!(!comparison.errors.is_empty()),
                }
                prop_assert_eq!(comparison.decision == Decision::Error, !comparison.errors.is_empty());
                if !candidate.is_complete() || candidate.is_empty() {
                    prop_assert_eq!(comparison.decision, Decision::Error);
                }
            }

            #[test]
            fn every_test_is_listed_once_or_counted(
                candidate in result_set_strategy(),
                incumbent in proptest::option::of(result_set_strategy()),
                confirmation in proptest::option::of(result_set_strategy()),
            ) {
                let comparison = compare(&candidate, incumbent.as_ref(), confirmation.as_ref());
                let all: BTreeSet<&TestId> = candidate.ids().chain(incumbent.iter().flat_map(ResultSet::ids)).collect();
                prop_assert_eq!(comparison.entries.len() + comparison.unlisted, all.len());
                let keys: Vec<(Class, &TestId)> = comparison.entries.iter().map(|entry| (entry.class, &entry.id)).collect();
                prop_assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "sorted and unique: {:?}", keys);
            }

            #[test]
            fn a_targeted_incumbent_run_decides_as_a_full_one_and_only_leaves_fixed_unmeasured(
                mut candidate in result_set_strategy(),
                mut incumbent in result_set_strategy(),
                confirmation in proptest::option::of(result_set_strategy()),
            ) {
                candidate.incomplete.clear();
                incumbent.incomplete.clear();
                prop_assume!(!candidate.is_empty() && !incumbent.is_empty());
                // The incumbent lists what its full run reports, and runs only the targets.
                let listed: BTreeSet<TestId> = incumbent.ids().cloned().collect();
                let targets: BTreeSet<TestId> =
                    crate::incumbent_targets(&candidate, Some(&listed)).into_iter().collect();
                let mut targeted = ResultSet::new();
                for result in incumbent.tests().filter(|result| targets.contains(&result.id)) {
                    for attempt in &result.attempts {
                        targeted.record(result.id.clone(), attempt.clone());
                    }
                }
                let full = compare(&candidate, Some(&incumbent), confirmation.as_ref());
                let partial = compare_targeted(&candidate, &targeted, confirmation.as_ref(), &listed);
                prop_assert_eq!(partial.decision, full.decision, "{:?} / {:?}", partial.errors, full.errors);
                // Everything but the candidate's clean passes is classed exactly as with a full run.
                let passed = |entry: &&Entry| Standing::of(candidate.get(&entry.id)) == Standing::Passed;
                let full_kept: Vec<(Class, &TestId, &str)> = full.entries.iter().filter(|entry| !passed(entry))
                    .map(|entry| (entry.class, &entry.id, entry.reason.as_str())).collect();
                let partial_kept: Vec<(Class, &TestId, &str)> = partial.entries.iter().filter(|entry| !passed(entry))
                    .map(|entry| (entry.class, &entry.id, entry.reason.as_str())).collect();
                prop_assert_eq!(partial_kept, full_kept);
                // A clean pass is never listed against a targeted incumbent except as new (not listed).
                for entry in partial.entries.iter().filter(|entry| passed(entry)) {
                    prop_assert_eq!(entry.class, Class::New);
                    prop_assert!(!listed.contains(&entry.id));
                }
                prop_assert_eq!(partial.entries.len() + partial.unlisted, full.entries.len() + full.unlisted);
            }
    }
}
