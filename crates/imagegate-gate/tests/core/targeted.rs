//! Targeted incumbent runs: with `list` and `rerun`, the incumbent lists its tests and runs only
//! those whose judgement needs it, and every class but `fixed` comes out as with a full run.
//! Also the order of runs when the candidate's and the incumbent's go side by side.

use imagegate_contract::{Decision, GateReport};

use crate::context::{Fail, Pass, TestProject, ids, purposes};

const LIST: &str = "list = \"list-tests\"";

/// A project whose stable image has `alpha`, promoted with `cases`, then changed to `features`
/// and `later_cases`; `lines` go into its suite's table before the second gate.
fn second_gate(features: &[&str], cases: &str, later_cases: &str, lines: &[&str]) -> (TestProject, GateReport) {
    let project = TestProject::new(&["alpha"], cases);
    assert_eq!(project.gate(true).decision, Decision::Pass);
    for line in lines {
        project.add_suite_line(line);
    }
    project.set_cases(later_cases);
    project.set_features(features);
    let report = project.gate(false);
    (project, report)
}

/// The commands each image ran in the second gate (the last `count` runs), the incumbent's.
fn incumbent_commands(project: &TestProject, report: &GateReport, count: usize) -> Vec<String> {
    let runs = project.engine.runs();
    let incumbent = &report.incumbent.as_ref().expect("an incumbent").digest;
    runs[runs.len() - count..]
        .iter()
        .filter(|(image, _)| image == incumbent)
        .map(|(_, command)| command.clone())
        .collect()
}

#[test]
fn a_candidate_passing_everything_runs_nothing_in_the_incumbent_but_its_list() {
    let cases = "test_a pass\ntest_b needs:alpha\ntest_c pass\n";
    let (project, report) = second_gate(&["alpha", "beta"], cases, cases, &[LIST]);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(purposes(&report), ["suite", "list"]);
    assert_eq!(
        incumbent_commands(&project, &report, 2),
        ["mkdir -p /tmp/imagegate-list && ( list-tests ) > /tmp/imagegate-list/ids.txt"]
    );
    let note = report.fixed_not_measured.as_deref().expect("fixed is said to be unmeasured");
    assert!(note.contains("3 test(s) passing in the candidate were not run there"), "{note}");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn missing_newly_skipped_and_failing_in_both_are_classed_as_with_a_full_run() {
    let before = "test_a pass\n";
    let after = "test_a pass\ntest_gone absent-unless:alpha\ntest_skipped skip-unless:alpha\n\
                 test_broken fail\ntest_fixed pass\ntest_regressed needs:alpha\ntest_flaky flaky\n";
    let (full_project, full) = second_gate(&["beta"], before, after, &[LIST, "incumbent = \"full\""]);
    let (project, targeted) = second_gate(&["beta"], before, after, &[LIST]);
    for report in [&full, &targeted] {
        assert_eq!(report.decision, Decision::Regression, "{}", report.summary);
        assert_eq!(ids(&report.regressions), ["it.test_gone", "it.test_regressed", "it.test_skipped"]);
        assert_eq!(ids(&report.preexisting), ["it.test_broken"]);
        assert_eq!(ids(&report.flaky), ["it.test_flaky"]);
    }
    let reasons = |report: &GateReport| -> Vec<String> {
        report.regressions.iter().chain(&report.preexisting).map(|entry| entry.reason.clone()).collect()
    };
    assert_eq!(reasons(&targeted), reasons(&full));
    assert!(full.fixed_not_measured.is_none());
    assert!(targeted.fixed_not_measured.is_some());
    // The incumbent ran its list and the five tests that need it; not test_a nor test_fixed.
    assert_eq!(purposes(&targeted), ["suite", "list", "suite", "rerun", "rerun", "confirm"]);
    let incumbent = incumbent_commands(&project, &targeted, 6);
    assert_eq!(incumbent[1], "run-tests it.test_broken it.test_flaky it.test_gone it.test_regressed it.test_skipped");
    // Confirmed beside the candidate's reruns, before they showed test_flaky to be flaky; the
    // verdict keeps only test_regressed's confirmation.
    assert_eq!(incumbent[2], "run-tests it.test_flaky it.test_regressed");
    assert_eq!(targeted.flaky[0].incumbent, [Pass]);
    assert_eq!(targeted.regressions[1].incumbent, [Pass, Pass]);
    // With `incumbent = "full"`: the bootstrap's suite, then the whole suite in both images.
    assert_eq!(full_project.engine.runs().iter().filter(|(_, command)| command == "run-tests").count(), 3);
}

#[test]
fn a_test_the_incumbent_fails_alone_is_still_cleared_by_the_targeted_run() {
    // test_x passes in the incumbent's full run but fails whenever run alone: a targeted run
    // runs it alone, and finds it failing there too.
    let (_, report) =
        second_gate(&["other"], "test_a pass\n", "test_a pass\ntest_x alone-fails-needs:alpha\n", &[LIST]);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(ids(&report.preexisting), ["it.test_x"]);
    assert_eq!(report.preexisting[0].incumbent, [Fail]);
    assert_eq!(report.preexisting[0].candidate, [Fail, Fail, Fail]);
}

#[test]
fn a_regression_is_confirmed_in_the_incumbent_after_the_targeted_run() {
    let (_, report) =
        second_gate(&["beta"], "test_a pass\ntest_b needs:alpha\n", "test_a pass\ntest_b needs:alpha\n", &[LIST]);
    assert_eq!(ids(&report.regressions), ["it.test_b"]);
    assert_eq!(report.regressions[0].incumbent, [Pass, Pass]);
    assert_eq!(purposes(&report), ["suite", "list", "suite", "rerun", "rerun", "confirm"]);
}

#[test]
fn incumbent_full_runs_the_whole_suite_in_the_incumbent_and_measures_fixed() {
    let before = "test_a pass\n";
    let (_, report) =
        second_gate(&["alpha", "gamma"], before, "test_a pass\ntest_g needs:gamma\n", &[LIST, "incumbent = \"full\""]);
    assert_eq!(purposes(&report), ["suite", "suite"]);
    assert!(report.fixed_not_measured.is_none());
    // test_g is new to the incumbent's checkout too (same commit): it fails there.
    assert_eq!(ids(&report.fixed), ["it.test_g"]);
}

#[test]
fn a_list_that_fails_falls_back_to_the_whole_suite_with_a_warning() {
    let cases = "test_a pass\n";
    let (_, report) = second_gate(&["alpha", "beta"], cases, cases, &["list = \"list-tests-broken\""]);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(purposes(&report), ["suite", "suite"]);
    assert!(report.fixed_not_measured.is_none());
    assert!(
        report.warnings.iter().any(|warning| warning.contains("the whole suite ran in the incumbent")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn runs_one_after_the_other_and_side_by_side_give_the_same_report() {
    let before = "test_a pass\ntest_b needs:alpha\ntest_c skip-unless:alpha\n";
    let after = "test_a pass\ntest_b needs:alpha\ntest_c skip-unless:alpha\ntest_f flaky\n";
    for lines in [&[][..], &[LIST][..]] {
        let (one, sequential) = {
            let project = TestProject::new(&["alpha"], before);
            project.add_engine_line("concurrency = 1");
            assert_eq!(project.gate(true).decision, Decision::Pass);
            for line in lines {
                project.add_suite_line(line);
            }
            project.set_cases(after);
            project.set_features(&["beta"]);
            let report = project.gate(false);
            (project, report)
        };
        let (_, parallel) = second_gate(&["beta"], before, after, lines);
        assert_eq!(purposes(&sequential), purposes(&parallel));
        for (left, right) in [(&sequential.regressions, &parallel.regressions), (&sequential.flaky, &parallel.flaky)] {
            assert_eq!(left, right);
        }
        assert_eq!(sequential.decision, parallel.decision);
        assert_eq!(one.engine.containers(), 0);
    }
}
