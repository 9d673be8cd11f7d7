//! What a gate costs: targeted incumbent runs (the incumbent lists its tests and runs only
//! those the verdict needs) and the incumbent's runs going beside the candidate's, against real
//! engines. The rules themselves are checked in `gate_rules.rs` with full incumbent runs.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::both_engines;
use crate::context::{Engine, TestContext, ids};

/// `(image, purpose)` of each of a report's runs, in order.
fn runs(report: &serde_json::Value) -> Vec<(String, String)> {
    report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| (run["image"].as_str().unwrap().to_owned(), run["purpose"].as_str().unwrap().to_owned()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(image, purpose)| ((*image).to_owned(), (*purpose).to_owned())).collect()
}

both_engines!(a_candidate_passing_everything_runs_nothing_in_the_incumbent_but_its_list, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_b needs:alpha\ntest_c skip\n");
    context.gate(&["--promote"]).0.expect_code(0);
    context.targeted();
    context.set_features(&["alpha", "beta"]);
    context.commit("image with beta");
    let (run, report) = context.gate(&[]);
    run.expect_code(0);
    // test_c is skipped in the candidate, so the incumbent runs it: a newly skipped test is a
    // regression only if it passes there.
    assert_eq!(runs(&report), pairs(&[("candidate", "suite"), ("incumbent", "list"), ("incumbent", "suite")]));
    assert_eq!(report["runs"][2]["tests"], 1, "{report}");
    assert_eq!(report["incumbent"]["counts"]["tests"], 1, "{report}");
    let note = report["fixed_not_measured"].as_str().unwrap_or_else(|| panic!("no fixed_not_measured: {report}"));
    assert!(note.contains("2 test(s) passing in the candidate were not run there"), "{note}");

    // With every test passing, the incumbent runs its list and nothing else.
    context.set_cases("test_a pass\ntest_b needs:alpha\n");
    let (run, report) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(runs(&report), pairs(&[("candidate", "suite"), ("incumbent", "list")]));
    assert!(report["warnings"].as_array().unwrap().is_empty(), "{report}");
    assert!(context.leftover_containers().is_empty());
});

both_engines!(missing_newly_skipped_and_failing_in_both_are_classed_as_with_a_full_run, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    context.targeted();
    context.set_cases(
        "test_a pass\ntest_gone absent-unless:alpha\ntest_skipped skip-unless:alpha\ntest_broken fail\ntest_b needs:alpha\n",
    );
    context.set_features(&["beta"]);
    context.commit("image without alpha");
    let (run, report) = context.gate(&[]);
    run.expect_code(1);
    assert_eq!(ids(&report, "regressions"), vec!["it.test_b", "it.test_gone", "it.test_skipped"]);
    assert_eq!(report["regressions"][1]["reason"], "missing in candidate");
    assert_eq!(report["regressions"][2]["reason"], "skipped in candidate; passes in the incumbent");
    assert_eq!(ids(&report, "preexisting"), vec!["it.test_broken"]);
    assert_eq!(report["preexisting"][0]["reason"], "also fails in the incumbent");
    // test_a, passing in the candidate, never ran in the incumbent; test_b was confirmed there.
    assert_eq!(report["incumbent"]["counts"]["tests"], 4, "{report}");
    assert_eq!(report["regressions"][0]["incumbent"], serde_json::json!(["pass", "pass"]));
    assert_eq!(
        runs(&report),
        pairs(&[
            ("candidate", "suite"),
            ("incumbent", "list"),
            ("incumbent", "suite"),
            ("candidate", "rerun"),
            ("candidate", "rerun"),
            ("incumbent", "confirm"),
        ])
    );
});

both_engines!(an_interrupted_overlapped_gate_leaves_no_container, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    // The whole suite runs in the incumbent (full runs are pinned), beside the candidate's.
    context.edit_config(|config| config.replacen("[engine]\n", "[engine]\nconcurrency = 2\n", 1));
    context.set_cases("test_slow sleep:300\n");
    context.set_features(&["alpha", "beta"]);
    context.commit("slow suite, new image");
    let log_path = context.scratch.join("gate.stderr");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = context.command().args(["gate"]).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // Wait (bounded) until both images' suite containers exist (test containers carry
    // io.imagegate.run; a build's own containers do not).
    let suite_containers = || {
        let output = std::process::Command::new(engine.name())
            .args(["ps", "-a", "-q", "--filter", &format!("label=io.imagegate.image={}", context.image)])
            .args(["--filter", "label=io.imagegate.run"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).lines().filter(|line| !line.is_empty()).count()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while suite_containers() < 2 {
        assert!(Instant::now() < deadline, "two test containers never ran side by side; imagegate said:\n{}", log());
        if let Some(exit) = child.try_wait().unwrap() {
            panic!("imagegate ended ({exit}) before its suites ran; it said:\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let exit = crate::context::interrupt(&mut child);
    assert_eq!(exit.code(), Some(130), "imagegate said:\n{}", log());
    let left = context.leftover_containers();
    assert!(left.is_empty(), "containers left: {left:?}; imagegate said:\n{}", log());
});
