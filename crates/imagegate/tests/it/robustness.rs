//! Bad input and broken infrastructure: never a pass, always a clear message and the right exit
//! code, and nothing left behind.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::both_engines;
use crate::context::{Engine, TestContext};

both_engines!(a_suite_that_times_out_is_killed_and_gives_no_verdict, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_slow sleep:120\n");
    context.write_config("3s", 3);
    context.commit("short timeout");
    let started = Instant::now();
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(3);
    assert!(started.elapsed() < Duration::from_secs(90), "the timeout was not enforced");
    assert_eq!(report["decision"], "error");
    let errors = report["errors"].to_string();
    assert!(errors.contains("timed out"), "{report}");
    assert_eq!(context.stable_id(), None);
    assert!(context.leftover_containers().is_empty());
});

both_engines!(missing_results_are_never_a_pass, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    context.set_mode("no-results");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(3);
    assert_eq!(report["decision"], "error");
    assert!(report["errors"].to_string().contains("results folder was not written"), "{report}");
    assert_eq!(context.stable_id(), None);
});

both_engines!(zero_tests_are_never_a_pass, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    context.set_mode("empty");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(3);
    assert_eq!(report["decision"], "error");
    assert_eq!(report["counts"]["tests"], 0);
    assert_eq!(context.stable_id(), None);
});

both_engines!(truncated_results_are_never_a_pass, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_b pass\n");
    context.set_mode("truncated");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(3);
    assert_eq!(report["decision"], "error");
    assert!(report["errors"].to_string().contains("/results/junit.xml"), "{report}");
    assert_eq!(context.stable_id(), None);
});

both_engines!(ctrl_c_removes_the_test_containers, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_slow sleep:300\n");
    // Its messages are kept, to say why if it stops too early.
    let log_path = context.scratch.join("gate.stderr");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = context.command().args(["gate"]).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // Wait (bounded) until the suite's container exists.
    let deadline = Instant::now() + Duration::from_secs(120);
    while context.leftover_containers().is_empty() {
        assert!(Instant::now() < deadline, "no test container appeared; imagegate said:\n{}", log());
        if let Some(exit) = child.try_wait().unwrap() {
            panic!("imagegate ended ({exit}) before its suite ran; it said:\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let exit = crate::context::interrupt(&mut child);
    assert_eq!(exit.code(), Some(130), "imagegate said:\n{}", log());
    assert!(context.leftover_containers().is_empty(), "containers left: {:?}", context.leftover_containers());
});

#[test]
fn an_unreachable_engine_is_an_infrastructure_error() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let output =
        context.command().args(["gate"]).env("DOCKER_HOST", "unix:///nonexistent/docker.sock").output().unwrap();
    let run = crate::context::Run::from(output);
    run.expect_code(3);
    assert!(run.stderr.contains("docker"), "{run}");
    assert_eq!(context.stable_id(), None);
}

#[test]
fn a_config_error_names_the_line_and_suggests_the_key() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let config =
        std::fs::read_to_string(context.path("imagegate.toml")).unwrap().replace("dockerfile =", "dockerfil =");
    std::fs::write(context.path("imagegate.toml"), config).unwrap();
    let run = context.run(&["plan"]);
    run.expect_code(2);
    assert!(run.stderr.contains("imagegate.toml:"), "{run}");
    assert!(run.stderr.contains("dockerfile"), "{run}");
    assert!(run.stderr.contains("hint:"), "{run}");
}

#[test]
fn an_unknown_image_name_is_a_usage_error() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let run = context.run(&["gate", "no-such-image"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no image named `no-such-image`"), "{run}");
}
