//! Evidence reuse: a first run made before with the same image digest, checkout content,
//! command and environment is served from the store instead of run again; reruns and
//! confirmations never are, and `fresh` runs everything.

use imagegate_contract::{Decision, GateReport};

use crate::context::{TestProject, purposes};

/// The runs of a report that were reused, as `(image, purpose)`.
fn reused(report: &GateReport) -> Vec<(&str, &str)> {
    report
        .runs
        .iter()
        .filter(|run| run.reused.is_some())
        .map(|run| (run.image.as_str(), run.purpose.as_str()))
        .collect()
}

#[test]
fn a_second_gate_at_the_same_checkout_reuses_the_first_run_and_runs_no_container() {
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_b pass\n");
    let first = project.gate(false);
    assert_eq!(first.decision, Decision::Pass, "{}", first.summary);
    assert_eq!(reused(&first), []);
    let runs = project.engine.runs().len();
    let second = project.gate(false);
    assert_eq!(second.decision, Decision::Pass, "{}", second.summary);
    assert_eq!(reused(&second), [("candidate", "suite")]);
    assert_eq!(project.engine.runs().len(), runs, "no container ran for a reused run");
    let reused_from = second.runs[0].reused.as_ref().unwrap();
    assert_eq!(reused_from.source, "local");
    assert!(reused_from.key.starts_with("sha256:"));
    assert_eq!(second.counts, first.counts);
}

#[test]
fn fresh_runs_everything_again() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    project.gate(false);
    let runs = project.engine.runs().len();
    let report = project.with_context(|context, image| {
        let fresh = imagegate_gate::Context { fresh: true, state_dir: context.state_dir.clone(), ..*context };
        imagegate_gate::gate_image(&fresh, image, &project.options(false)).expect("gate")
    });
    assert_eq!(reused(&report), []);
    assert_eq!(project.engine.runs().len(), runs + 1);
}

#[test]
fn an_edited_checkout_file_is_run_again_even_uncommitted() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    project.gate(false);
    std::fs::write(project.root.join("notes.txt"), "an uncommitted file").expect("write");
    let report = project.gate(false);
    assert_eq!(reused(&report), []);
}

#[test]
fn a_flaky_rerun_is_never_served_and_the_reused_runs_failures_are_rerun_fresh() {
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_flaky flaky\n");
    let first = project.gate(false);
    // With two or more runs at once the remaining attempts start together: one or more reruns.
    let reruns = purposes(&first).iter().filter(|purpose| **purpose == "rerun").count();
    assert!(reruns >= 1, "{:?}", purposes(&first));
    let runs = project.engine.runs().len();
    let second = project.gate(false);
    assert_eq!(purposes(&second), purposes(&first));
    assert_eq!(reused(&second), [("candidate", "suite")], "the rerun ran again");
    assert_eq!(project.engine.runs().len(), runs + reruns, "exactly the reruns ran");
    assert_eq!(second.flaky.len(), 1, "{}", second.summary);
}

#[test]
fn a_run_without_usable_results_is_never_stored() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    project.set_mode("no-results");
    let first = project.gate(false);
    assert_eq!(first.decision, Decision::Error, "{}", first.summary);
    let second = project.gate(false);
    assert_eq!(reused(&second), []);
}

#[test]
fn a_refresh_at_an_unchanged_incumbent_and_checkout_reuses_the_incumbents_run() {
    let cases = "test_a pass\ntest_b needs:alpha\n";
    let project = TestProject::new(&["alpha"], cases);
    assert_eq!(project.gate(true).decision, Decision::Pass);
    project.set_features(&["alpha", "beta"]);
    let report = project.gate(false);
    assert_eq!(reused(&report), []);
    let refreshed =
        project.try_gate(&imagegate_gate::GateOptions { refresh: true, ..project.options(false) }).expect("gate");
    assert_eq!(refreshed.decision, Decision::Pass, "{}", refreshed.summary);
    assert!(reused(&refreshed).contains(&("incumbent", "suite")), "{:?}", refreshed.runs);
}

#[test]
fn a_suite_that_opts_out_is_never_reused() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    project.add_suite_line("reuse = false");
    project.gate(false);
    let runs = project.engine.runs().len();
    let report = project.gate(false);
    assert_eq!(reused(&report), []);
    assert_eq!(project.engine.runs().len(), runs + 1);
}

#[test]
fn the_incumbents_list_and_targeted_run_are_reused_too() {
    let cases = "test_a pass\ntest_b needs:alpha\n";
    let project = TestProject::new(&["alpha"], cases);
    project.add_suite_line("list = \"list-tests\"");
    assert_eq!(project.gate(true).decision, Decision::Pass);
    project.set_features(&["beta"]);
    let report = project.gate(false);
    assert_eq!(report.decision, Decision::Regression, "{}", report.summary);
    assert_eq!(reused(&report), []);
    let refreshed =
        project.try_gate(&imagegate_gate::GateOptions { refresh: true, ..project.options(false) }).expect("gate");
    assert_eq!(refreshed.decision, Decision::Regression, "{}", refreshed.summary);
    let reused = reused(&refreshed);
    assert!(reused.contains(&("incumbent", "list")), "{reused:?}");
    assert!(reused.contains(&("incumbent", "suite")), "the targeted run: {reused:?}");
    // The candidate's failure was rerun, and the incumbent confirmed it, afresh.
    assert!(!reused.iter().any(|(_, purpose)| *purpose == "rerun" || *purpose == "confirm"), "{reused:?}");
}
