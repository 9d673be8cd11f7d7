//! What a real project's suite needs on its first day: a results folder that exists before the
//! suite starts (trial's subunit reporter does not make it), and the suite's own words when it
//! yields no results.

use std::fs;

use crate::both_engines;
use crate::context::{Engine, TestContext, ids};

/// Twisted trial with Tahoe-LAFS's reporter; the image's features decide which tests pass.
const TRIAL_IMAGE: &str = "imagegate-test/trial:latest";

const TRIAL_TESTS: &str = r#"from twisted.trial import unittest


def features():
    with open("/opt/lib/features") as handle:
        return {line.strip() for line in handle if line.strip()}


class Storage(unittest.TestCase):
    def test_alpha(self):
        self.assertIn("alpha", features())

    def test_beta(self):
        self.assertIn("beta", features())

    def test_plain(self):
        self.assertEqual(1 + 1, 2)
"#;

/// Rewrites the suite of `context`'s config: `command`, `rerun` and extra `env` lines.
fn set_suite(context: &TestContext, command: &str, rerun: &str, env: &str) {
    let path = context.path("imagegate.toml");
    let config = fs::read_to_string(&path).unwrap();
    let config = config
        .replace("command = \"sh tests/run.sh\"", &format!("command = {command:?}\n{env}"))
        .replace("rerun = \"sh tests/run.sh {tests}\"", &format!("rerun = {rerun:?}"))
        .replace("list = \"sh tests/run.sh --list\"\n", "");
    fs::write(path, config).unwrap();
}

both_engines!(a_trial_suite_writing_subunit_without_mkdir_is_gated, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha", "beta"], "");
    fs::write(context.path("ci/Dockerfile"), format!("FROM {TRIAL_IMAGE}\nCOPY lib/ /opt/lib/\n")).unwrap();
    fs::create_dir_all(context.path("storage")).unwrap();
    fs::write(context.path("storage/__init__.py"), "").unwrap();
    fs::write(context.path("storage/test_storage.py"), TRIAL_TESTS).unwrap();
    // As Tahoe-LAFS runs it: the reporter writes where SUBUNITREPORTER_OUTPUT_PATH says, and
    // nothing makes that folder first.
    set_suite(
        &context,
        "python3 -m twisted.trial --reporter=subunitv2-file storage",
        "python3 -m twisted.trial --reporter=subunitv2-file {tests}",
        "env = { SUBUNITREPORTER_OUTPUT_PATH = \"/results/results.subunit2\" }",
    );
    context.commit("trial suite");

    let (run, bootstrap) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(bootstrap["decision"], "pass", "{run}");
    assert_eq!(bootstrap["counts"]["tests"], 3, "{run}");
    assert_eq!(bootstrap["counts"]["passed"], 3, "{run}");

    // The image loses a feature: the one test that needs it regresses, by name.
    context.set_features(&["alpha"]);
    context.commit("image without beta");
    let (run, blocked) = context.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(blocked["decision"], "regression");
    assert_eq!(ids(&blocked, "regressions"), vec!["storage.test_storage.Storage.test_beta"], "{run}");
    assert!(context.leftover_containers().is_empty());
});

#[test]
fn a_run_without_results_carries_its_last_output_lines() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    // A reporter that dies before writing anything, as trial's did when its folder was missing.
    set_suite(
        &context,
        "echo collecting; echo 'Traceback (most recent call last):' >&2; echo \"FileNotFoundError: [Errno 2] No such file or directory: '/elsewhere/results.subunit2'\" >&2; exit 1",
        "sh tests/run.sh {tests}",
        "",
    );
    context.commit("broken reporter");
    let (run, report) = context.gate(&[]);
    run.expect_code(3);
    assert_eq!(report["decision"], "error");
    let tail = report["runs"][0]["output_tail"].as_str().unwrap_or_else(|| panic!("no output_tail: {run}"));
    assert!(tail.contains("FileNotFoundError: [Errno 2]"), "{tail}");
    assert!(tail.contains("collecting"), "{tail}");
    // The person reading the CI log sees the reason, not only a path on another machine.
    assert!(run.stderr.contains("FileNotFoundError: [Errno 2]"), "{run}");
    let markdown = context.scratch.join("summary.md");
    let run = context.run(&["gate", "--markdown", markdown.to_str().unwrap()]);
    run.expect_code(3);
    let markdown = fs::read_to_string(markdown).unwrap();
    assert!(markdown.contains("Last lines of the candidate suite run"), "{markdown}");
    assert!(markdown.contains("FileNotFoundError"), "{markdown}");
}

both_engines!(stale_files_in_the_results_folder_are_refused, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    // The image ships a report in the results folder: it must never be read as this run's.
    fs::write(
        context.path("ci/Dockerfile"),
        format!("FROM {}\nCOPY lib/ /opt/lib/\nCOPY lib/features /results/old-junit.xml\n", crate::context::BASE_IMAGE),
    )
    .unwrap();
    context.commit("image with a stale report");
    let run = context.run(&["gate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("already holds 1 file(s) before the suite runs (old-junit.xml)"), "{run}");
    assert!(run.stderr.contains("hint:"), "{run}");
    assert!(context.leftover_containers().is_empty());
    assert_eq!(context.stable_id(), None);
});

#[test]
fn an_unreachable_engine_is_not_silently_replaced_by_another() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    // No `[engine] kind`: the engine is whichever answers.
    let path = context.path("imagegate.toml");
    let config = fs::read_to_string(&path).unwrap().replace("kind = \"docker\"\n", "");
    fs::write(&path, config).unwrap();
    context.commit("no engine configured");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(report["engine"], "docker");
    let stable = context.stable_id().unwrap();

    // docker stops answering; podman does. The stable tag lives in docker: a gate in podman
    // would bootstrap from nothing and pass.
    let mut command = context.command();
    command.env("IMAGEGATE_DOCKER", context.scratch.join("no-docker-here"));
    let run = crate::context::Run::from(command.args(["gate", "--json", "--promote"]).output().unwrap());
    run.expect_code(3);
    assert!(run.stdout.trim().is_empty(), "{run}");
    assert!(run.stderr.contains("docker does not answer"), "{run}");
    assert!(run.stderr.contains("was made in docker"), "{run}");
    assert!(run.stderr.contains("hint: start docker again, or choose an engine: `--engine podman`"), "{run}");
    assert_eq!(context.stable_id().as_deref(), Some(stable.as_str()));
    let in_podman =
        std::process::Command::new("podman").args(["image", "exists", &context.stable_tag]).status().unwrap();
    assert!(!in_podman.success(), "a stable tag was made in podman");

    // Plan says which engine it reads.
    let plan = context.run(&["plan", "--json"]);
    plan.expect_code(0);
    assert_eq!(plan.json()["engine"], "docker");
}

#[test]
fn compare_refuses_a_gate_run_folder_that_holds_both_images() {
    let context = TestContext::new(Engine::Docker, &["alpha", "beta"], "test_a needs:alpha\ntest_b needs:beta\n");
    context.gate(&["--promote"]).0.expect_code(0);
    context.set_features(&["alpha"]);
    context.commit("image without beta");
    let (run, report) = context.gate(&[]);
    run.expect_code(1);
    let log = std::path::PathBuf::from(report["runs"][0]["log"].as_str().unwrap());
    let run_dir = log.parent().and_then(std::path::Path::parent).unwrap();
    let run_dir = run_dir.to_str().unwrap();

    // Read whole, the stable image's passing runs would look like retries of the candidate's
    // failures: a flake, and a pass.
    let compare = context.run(&["compare", run_dir, run_dir]);
    compare.expect_code(2);
    assert!(compare.stderr.contains("holds runs of two images"), "{compare}");
    let incumbent = format!("{run_dir}/incumbent-suite");
    let candidate = format!("{run_dir}/candidate-suite");
    assert!(compare.stderr.contains(&format!("imagegate compare {incumbent} {candidate}")), "{compare}");

    // What the hint says to run gives the gate's answer.
    let compare = context.run(&["compare", "--json", &incumbent, &candidate]);
    compare.expect_code(1);
    assert_eq!(ids(&compare.json(), "regressions"), vec!["it.test_b"]);
}

#[test]
fn build_promote_and_rollback_print_json() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    let first = context.stable_id().unwrap();
    context.set_features(&["alpha", "beta"]);
    context.commit("second image");

    let build = context.run(&["build", "--json"]);
    build.expect_code(0);
    let build = build.json();
    assert_eq!(build["schema"], "imagegate.build/v1");
    assert_eq!(build["engine"], "docker");
    assert_eq!(build["images"][0]["image"], context.image.as_str());
    assert_eq!(build["images"][0]["candidate"]["source"], "built");
    let candidate = build["images"][0]["candidate"]["digest"].as_str().unwrap().to_owned();

    context.gate(&[]).0.expect_code(0);
    let promote = context.run(&["promote", "--json"]);
    promote.expect_code(0);
    let promote = promote.json();
    assert_eq!(promote["schema"], "imagegate.pointer/v1");
    assert_eq!(promote["operation"], "promote");
    assert_eq!(promote["images"][0]["promotion"]["status"], "promoted");
    assert_eq!(promote["images"][0]["promotion"]["to"], candidate.as_str());
    assert_eq!(context.stable_id().as_deref(), Some(candidate.as_str()));

    let rollback = context.run(&["rollback", "--json", &context.image]);
    rollback.expect_code(0);
    let rollback = rollback.json();
    assert_eq!(rollback["operation"], "rollback");
    assert_eq!(rollback["images"][0]["promotion"]["to"], first.as_str());
    assert_eq!(context.stable_id().as_deref(), Some(first.as_str()));
}
