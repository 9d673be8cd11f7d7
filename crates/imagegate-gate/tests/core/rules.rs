//! Every row of the README's decision table ("How the gate decides") through `gate_image`, in
//! the in-memory engine. Mirrors `crates/imagegate/tests/it/gate_rules.rs` and the results rules
//! of `robustness.rs`, which check the same rules against real engines.

use imagegate_contract::{CandidateSource, Decision, PromotionStatus};

use crate::context::{Fail, Pass, TestProject, ids, purposes};

/// Gates and promotes a first image, so that later gates have a stable image to compare with.
fn bootstrapped(features: &[&str], cases: &str) -> (TestProject, String) {
    let project = TestProject::new(features, cases);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    let stable = project.stable_id().expect("a stable image after bootstrap");
    (project, stable)
}

#[test]
fn bootstrap_promotes_a_candidate_with_no_failures() {
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_b needs:alpha\ntest_c skip\n");
    assert_eq!(project.stable_id(), None);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert!(report.incumbent.is_none());
    assert_eq!((report.counts.tests, report.counts.passed, report.counts.skipped), (3, 2, 1));
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));
    assert_eq!(project.stable_id().as_deref(), Some(report.candidate.digest.as_str()));
    assert!(report.verdict_id.is_some());
    assert_eq!(project.engine.containers(), 0, "every test container is removed");
}

#[test]
fn bootstrap_blocks_a_candidate_with_a_failing_test() {
    // The suite exits 0 like Twisted trial does; only the per-test results count.
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_b needs:beta\n");
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Regression);
    assert_eq!(ids(&report.regressions), ["it.test_b"]);
    assert_eq!(report.regressions[0].candidate, [Fail, Fail, Fail]);
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Blocked));
    assert_eq!(project.stable_id(), None);
}

#[test]
fn a_test_failing_on_every_attempt_that_passes_in_the_stable_image_is_a_regression() {
    let (project, stable) = bootstrapped(&["alpha", "beta"], "test_a needs:alpha\ntest_b needs:beta\ntest_c pass\n");
    project.set_features(&["alpha"]);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Regression);
    assert_eq!(report.candidate.source, CandidateSource::Built);
    assert_eq!(report.incumbent.as_ref().map(|incumbent| incumbent.digest.as_str()), Some(stable.as_str()));
    assert_eq!(ids(&report.regressions), ["it.test_b"]);
    let entry = &report.regressions[0];
    assert_eq!(entry.message.as_deref(), Some("feature beta missing from the image"));
    // Rerun (3 attempts in all) before it was called a regression; confirmed in the stable image.
    assert_eq!(entry.candidate, [Fail, Fail, Fail]);
    assert_eq!(entry.incumbent, [Pass, Pass]);
    assert_eq!(purposes(&report), ["suite", "suite", "rerun", "rerun", "confirm"]);
    assert!(ids(&report.flaky).is_empty() && ids(&report.preexisting).is_empty());
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Blocked));
    assert_eq!(project.stable_id().as_deref(), Some(stable.as_str()));
    // The engine keeps no layers here: the package diff is missing, and that is only a warning.
    assert!(
        report.warnings.iter().any(|warning| warning.starts_with("the package diff is missing")),
        "{:?}",
        report.warnings
    );
    assert!(report.packages.is_none());
}

#[test]
fn a_test_missing_or_newly_skipped_in_the_candidate_is_a_regression() {
    let (project, stable) =
        bootstrapped(&["alpha", "beta"], "test_a pass\ntest_gone absent-unless:beta\ntest_skipped skip-unless:alpha\n");
    project.set_features(&["other"]);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Regression);
    assert_eq!(ids(&report.regressions), ["it.test_gone", "it.test_skipped"]);
    assert_eq!(project.stable_id().as_deref(), Some(stable.as_str()));
}

#[test]
fn a_test_that_fails_then_passes_on_a_rerun_is_flaky_and_never_blocks() {
    // With no stable image (bootstrap) …
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_flaky flaky\n");
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(ids(&report.flaky), ["it.test_flaky"]);
    assert_eq!(report.flaky[0].candidate, [Fail, Pass]);
    assert!(report.regressions.is_empty());
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));

    // … and against a stable image whatever the test does there (here it fails there too).
    project.set_features(&["alpha", "beta"]);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(ids(&report.flaky), ["it.test_flaky"]);
    assert_eq!(report.flaky[0].incumbent, [Fail]);
    assert!(report.regressions.is_empty() && report.preexisting.is_empty());
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));
}

#[test]
fn a_test_failing_in_both_images_is_preexisting_and_one_passing_only_in_the_candidate_is_fixed() {
    // Bootstrap refuses a failing suite: promote a suite without the known failures first,
    // then add them to the project.
    let (project, _) = bootstrapped(&["alpha"], "test_a pass\n");
    project.set_cases("test_a pass\ntest_broken fail\ntest_gamma needs:gamma\n");
    project.set_features(&["alpha", "gamma"]);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(ids(&report.preexisting), ["it.test_broken"]);
    assert_eq!(ids(&report.fixed), ["it.test_gamma"]);
    assert!(report.regressions.is_empty());
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));
    assert_eq!(project.stable_id().as_deref(), Some(report.candidate.digest.as_str()));
}

#[test]
fn a_test_failing_on_every_attempt_that_also_fails_when_rerun_in_the_stable_image_is_preexisting() {
    // test_x passes in the stable image's full run but fails whenever it runs alone: the
    // confirmation rerun there shows the failure is not the candidate's doing.
    let (project, _) = bootstrapped(&["alpha"], "test_a pass\n");
    project.set_cases("test_a pass\ntest_x alone-fails-needs:alpha\n");
    project.set_features(&["other"]);
    let report = project.gate(false);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(ids(&report.preexisting), ["it.test_x"]);
    assert!(report.regressions.is_empty());
    assert_eq!(report.preexisting[0].incumbent, [Pass, Fail]);
    assert_eq!(purposes(&report), ["suite", "suite", "rerun", "rerun", "confirm"]);
    // The confirmation ran the one suspect test, in the stable image.
    let runs = project.engine.runs();
    let (image, command) = runs.last().expect("runs");
    assert_eq!(command, "run-tests it.test_x");
    assert_eq!(Some(image), report.incumbent.as_ref().map(|incumbent| &incumbent.digest));
}

#[test]
fn every_container_of_a_gate_is_contained_suite_reruns_and_confirmation_alike() {
    let (project, _) = bootstrapped(&["alpha"], "test_a pass\n");
    project.set_cases("test_a pass\ntest_x alone-fails-needs:alpha\n");
    project.set_features(&["other"]);
    let report = project.gate(false);
    assert_eq!(purposes(&report), ["suite", "suite", "rerun", "rerun", "confirm"]);
    let contained = project.engine.contained();
    assert_eq!(contained.len(), project.engine.runs().len());
    for (containment, log_limit) in contained {
        assert_eq!((containment.pids, containment.memory_bytes), (4096, 4 << 30));
        assert!(containment.cpu_quota_micros >= 100_000);
        assert_eq!(
            containment.capabilities,
            ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"]
        );
        assert!(containment.no_new_privileges && !containment.read_only);
        assert_eq!(log_limit, 64 << 20);
    }
}

#[test]
fn without_a_rerun_template_the_whole_suite_is_rerun() {
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_b needs:beta\n");
    project.without_rerun_template();
    let report = project.gate(false);
    assert_eq!(report.decision, Decision::Regression);
    // Two reruns of the whole suite; only the failing test's attempts are kept.
    assert_eq!(report.regressions[0].candidate, [Fail, Fail, Fail]);
    let tests: Vec<usize> = report.runs.iter().map(|run| run.tests).collect();
    assert_eq!(tests, [2, 2, 2]);
    assert!(project.engine.runs().iter().all(|(_, command)| command == "run-tests"));
}

#[test]
fn the_suite_exit_status_never_decides() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    project.set_mode("exit:1");
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(report.runs[0].exit_code, Some(1));
    assert!(report.warnings.iter().any(|warning| warning.contains("exited with status 1")), "{:?}", report.warnings);
    assert_eq!(project.stable_id().as_deref(), Some(report.candidate.digest.as_str()));
}

/// Gates with `--promote`, once with no stable image and once with one, with the project's
/// suite broken by `mode` in both images; the decision must be `error` and the tag unmoved.
fn never_a_pass(mode: &str, cases: &str, expected_error: &str) {
    let bootstrap = TestProject::new(&["alpha"], cases);
    bootstrap.set_mode(mode);
    let (project, stable) = bootstrapped(&["alpha"], cases);
    project.set_features(&["alpha", "beta"]);
    project.set_mode(mode);
    for (project, stable) in [(&bootstrap, None), (&project, Some(stable))] {
        let report = project.gate(true);
        assert_eq!(report.decision, Decision::Error, "{}", report.summary);
        assert!(report.errors.iter().any(|error| error.contains(expected_error)), "{:?}", report.errors);
        assert!(report.verdict_id.is_some(), "the error is recorded as a verdict");
        assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Blocked));
        assert_eq!(project.stable_id(), stable);
        assert_eq!(project.engine.containers(), 0);
        // A promotion on the strength of that verdict is refused too.
        let refused = project.promote().expect_err("no promotion after an error");
        assert!(refused.to_string().contains("`error`, not `pass`"), "{refused}");
    }
}

#[test]
fn missing_results_are_never_a_pass() {
    never_a_pass("no-results", "test_a pass\n", "results folder was not written");
}

#[test]
fn zero_tests_are_never_a_pass() {
    never_a_pass("empty", "test_a pass\n", "the candidate ran no tests");
}

#[test]
fn truncated_results_are_never_a_pass() {
    never_a_pass("truncated", "test_a pass\ntest_b pass\n", "/results/junit.xml");
}

#[test]
fn a_suite_that_times_out_gives_no_verdict_even_with_complete_results() {
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_slow sleep:120\n");
    project.set_timeout("3s");
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Error, "{}", report.summary);
    assert!(report.errors.iter().any(|error| error.contains("timed out after 3s")), "{:?}", report.errors);
    assert!(report.runs[0].timed_out);
    assert_eq!(report.runs[0].exit_code, None);
    assert_eq!(project.stable_id(), None);
    assert_eq!(project.engine.containers(), 0);
}

#[test]
fn a_stable_image_without_usable_results_passes_a_candidate_with_no_failing_test() {
    // The project now needs a runner only the candidate has.
    let (project, _) = bootstrapped(&["alpha"], "test_a pass\ntest_b pass\n");
    project.set_mode("needs-runner:runner");
    project.set_features(&["alpha", "runner"]);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert!(report.errors.is_empty());
    assert!(report.warnings.iter().any(|warning| warning.contains("incumbent")), "{:?}", report.warnings);
    // The stable image's run carries the last lines of its output.
    let incumbent_run = report.runs.iter().find(|run| run.image == "incumbent").expect("incumbent run");
    assert!(incumbent_run.output_tail.as_deref().is_some_and(|tail| tail.contains("pytest: not found")));
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));
    assert_eq!(project.stable_id().as_deref(), Some(report.candidate.digest.as_str()));
}

#[test]
fn a_stable_image_without_usable_results_makes_any_candidate_failure_an_error() {
    let (project, stable) = bootstrapped(&["alpha"], "test_a pass\n");
    project.set_cases("test_a pass\ntest_b needs:beta\n");
    project.set_mode("needs-runner:runner");
    project.set_features(&["alpha", "runner"]);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Error, "{}", report.summary);
    assert!(
        report.errors.iter().any(|error| error.contains("cannot tell whether the candidate's 1 failing test")),
        "{:?}",
        report.errors
    );
    assert_eq!(project.stable_id().as_deref(), Some(stable.as_str()));
}

#[test]
fn a_stable_image_without_usable_results_still_lets_a_flaky_test_pass() {
    // The README's table: "fails, then passes on a rerun | any | flaky | no". A test the
    // candidate passed once is not a failure the stable image would have to clear.
    let (project, _) = bootstrapped(&["alpha"], "test_a pass\n");
    project.set_cases("test_a pass\ntest_flaky flaky\n");
    project.set_mode("needs-runner:runner");
    project.set_features(&["alpha", "runner"]);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}: {:?}", report.summary, report.errors);
    assert_eq!(ids(&report.flaky), ["it.test_flaky"]);
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));
}

#[test]
fn every_run_carries_the_last_lines_of_its_output_and_the_report_when_and_what_made_it() {
    // The log files stay on the machine that ran the gate; reports read elsewhere need the
    // output itself, for passing runs as much as for broken ones.
    let (project, _) = bootstrapped(&["alpha", "beta"], "test_a pass\ntest_b needs:beta\n");
    project.set_features(&["alpha"]);
    let report = project.gate(false);
    assert_eq!(report.decision, Decision::Regression, "{}", report.summary);
    assert!(report.runs.len() > 1, "{:?}", report.runs);
    for run in &report.runs {
        let tail = run.output_tail.as_deref().unwrap_or_else(|| panic!("no output tail for {run:?}"));
        assert!(tail.contains(" ... "), "{tail}");
    }
    assert_eq!(report.imagegate_version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let started = report.started_at.as_deref().expect("a start time");
    assert!(started.parse::<jiff::Timestamp>().is_ok() && started.ends_with('Z'), "{started}");
}
