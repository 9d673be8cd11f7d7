//! Every rule of the comparison, end to end through a real engine.

use crate::both_engines;
use crate::context::{Engine, TestContext, ids};

both_engines!(bootstrap_promotes_a_candidate_with_no_failures, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_b needs:alpha\ntest_c skip\n");
    assert_eq!(context.stable_id(), None);
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(report["schema"], "imagegate.gate/v1");
    assert_eq!(report["decision"], "pass");
    assert!(report["incumbent"].is_null(), "{report}");
    assert_eq!(report["counts"]["tests"], 3);
    assert_eq!(report["counts"]["passed"], 2);
    assert_eq!(report["counts"]["skipped"], 1);
    assert_eq!(report["promotion"]["status"], "promoted");
    let candidate = report["candidate"]["digest"].as_str().unwrap().to_owned();
    assert_eq!(context.stable_id().as_deref(), Some(candidate.as_str()));
    assert!(context.leftover_containers().is_empty());
});

both_engines!(bootstrap_blocks_a_candidate_with_a_failing_test, |engine: Engine| {
    // The suite exits 0 like Twisted trial does; only the per-test results count.
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_b needs:beta\n");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(report["decision"], "regression");
    assert_eq!(ids(&report, "regressions"), vec!["it.test_b"]);
    assert_eq!(report["promotion"]["status"], "blocked");
    assert_eq!(context.stable_id(), None);
});

both_engines!(regression_blocks_and_leaves_the_stable_tag, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha", "beta"], "test_a needs:alpha\ntest_b needs:beta\ntest_c pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    let stable = context.stable_id().expect("stable after bootstrap");

    context.set_features(&["alpha"]);
    context.commit("drop beta from the image");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(report["decision"], "regression");
    assert_eq!(report["candidate"]["source"], "built");
    assert_eq!(report["incumbent"]["digest"], stable.as_str());
    assert_eq!(ids(&report, "regressions"), vec!["it.test_b"]);
    let entry = &report["regressions"][0];
    assert_eq!(entry["message"], "feature beta missing from the image");
    // The candidate's failure was rerun (3 attempts in all) before it was called a regression.
    assert_eq!(entry["candidate"], serde_json::json!(["fail", "fail", "fail"]));
    assert_eq!(context.stable_id().as_deref(), Some(stable.as_str()));

    // The terminal report names the regression and its message.
    let text = context.run(&["gate"]);
    text.expect_code(1);
    assert!(text.stdout.contains("it.test_b"), "{text}");
    assert!(text.stdout.contains("feature beta missing from the image"), "{text}");
});

both_engines!(a_flaky_test_never_blocks, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_flaky flaky\n");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(ids(&report, "flaky"), vec!["it.test_flaky"]);
    assert_eq!(report["flaky"][0]["candidate"], serde_json::json!(["fail", "pass"]));
    assert!(ids(&report, "regressions").is_empty());
    assert_eq!(report["promotion"]["status"], "promoted");
});

both_engines!(preexisting_failures_do_not_block_and_fixes_are_reported, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_broken fail\ntest_gamma needs:gamma\n");
    // Bootstrap would refuse a failing suite; make the incumbent by hand-free means: first
    // promote a suite without the known failures, then add them to the project.
    context.set_cases("test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    context.set_cases("test_a pass\ntest_broken fail\ntest_gamma needs:gamma\n");
    context.set_features(&["alpha", "gamma"]);
    context.commit("add gamma to the image");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(report["decision"], "pass");
    assert_eq!(ids(&report, "preexisting"), vec!["it.test_broken"]);
    assert_eq!(ids(&report, "fixed"), vec!["it.test_gamma"]);
    assert_eq!(report["promotion"]["status"], "promoted");
});

both_engines!(a_test_missing_or_newly_skipped_in_the_candidate_is_a_regression, |engine: Engine| {
    let context = TestContext::new(
        engine,
        &["alpha", "beta"],
        "test_a pass\ntest_gone absent-unless:beta\ntest_skipped skip-unless:alpha\n",
    );
    context.gate(&["--promote"]).0.expect_code(0);
    context.set_features(&["other"]);
    context.commit("image without alpha and beta");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(1);
    let mut regressions = ids(&report, "regressions");
    regressions.sort();
    assert_eq!(regressions, vec!["it.test_gone", "it.test_skipped"]);
});

both_engines!(a_failure_that_also_fails_in_the_incumbent_on_rerun_is_preexisting, |engine: Engine| {
    // test_x passes in the incumbent's full run but fails whenever it runs alone: the
    // confirmation rerun in the incumbent shows the failure is not the candidate's doing.
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_x alone-fails-needs:alpha\n");
    context.set_cases("test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    context.set_cases("test_a pass\ntest_x alone-fails-needs:alpha\n");
    context.set_features(&["other"]);
    context.commit("image without alpha");
    let (run, report) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(ids(&report, "preexisting"), vec!["it.test_x"]);
    assert!(ids(&report, "regressions").is_empty());
    let purposes: Vec<&str> =
        report["runs"].as_array().unwrap().iter().map(|run| run["purpose"].as_str().unwrap()).collect();
    assert_eq!(purposes, vec!["suite", "suite", "rerun", "rerun", "confirm"]);
});

both_engines!(without_a_rerun_template_the_whole_suite_is_rerun, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_b needs:beta\n");
    let config = std::fs::read_to_string(context.path("imagegate.toml")).unwrap();
    let config: String =
        config.lines().filter(|line| !line.starts_with("rerun")).map(|line| format!("{line}\n")).collect();
    std::fs::write(context.path("imagegate.toml"), config).unwrap();
    context.commit("no rerun template");
    let (run, report) = context.gate(&[]);
    run.expect_code(1);
    // Two reruns of the whole suite; only the failing test's attempts are kept.
    assert_eq!(report["regressions"][0]["candidate"], serde_json::json!(["fail", "fail", "fail"]));
    let tests: Vec<u64> = report["runs"].as_array().unwrap().iter().map(|run| run["tests"].as_u64().unwrap()).collect();
    assert_eq!(tests, vec![2, 2, 2]);
});

#[test]
fn report_files_name_the_regressions() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\ntest_b needs:beta\n");
    let markdown = context.scratch.join("out/summary.md");
    let junit = context.scratch.join("out/gate.xml");
    let html = context.scratch.join("out/report.html");
    let run = context.run(&[
        "gate",
        "--markdown",
        markdown.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    run.expect_code(1);
    // Where each report went is said, once each.
    for (kind, path) in [("Markdown", &markdown), ("JUnit", &junit), ("HTML", &html)] {
        let line = format!("{kind} report: {}", path.display());
        assert_eq!(run.stderr.matches(&line).count(), 1, "no `{line}` in:\n{run}");
    }
    let markdown = std::fs::read_to_string(markdown).unwrap();
    assert!(markdown.contains("it.test_b"), "{markdown}");
    // The comment names the HTML report, which has what the comment may leave out.
    assert!(markdown.contains("HTML report: `report.html`"), "{markdown}");
    // Ids carry line-break opportunities (`<wbr>`) between their parts.
    let html = std::fs::read_to_string(&html).unwrap().replace("<wbr>", "");
    // No path that exists only on the machine that ran the gate.
    assert!(!html.contains(".log"), "{html}");
    assert!(html.contains("it.test_b") && html.starts_with("<!DOCTYPE html>"), "{html}");
    // The gate's own JUnit reads back as tests: the regression and the verdict fail.
    let results = std::process::Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(["results", "--json", junit.to_str().unwrap()])
        .output()
        .unwrap();
    let results: serde_json::Value = serde_json::from_slice(&results.stdout).unwrap();
    let failing: Vec<&str> = results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|test| test["outcome"] == "fail")
        .map(|test| test["id"].as_str().unwrap())
        .collect();
    assert!(failing.iter().any(|id| id.ends_with("it.test_b")), "{results}");
    assert!(failing.iter().any(|id| id.ends_with("verdict")), "{results}");
}
