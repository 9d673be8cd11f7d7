//! The life of a stable pointer: reuse, refresh, compare-and-swap, self-unblocking, rollback,
//! history and the promotion policy.

use std::process::Command;

use crate::both_engines;
use crate::context::{Engine, TestContext, ids};

both_engines!(an_unchanged_recipe_reuses_its_candidate, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    let plan = context.run(&["plan", "--json"]);
    plan.expect_code(0);
    assert_eq!(plan.json()["images"][0]["action"], "build");

    let (_, first) = context.gate(&[]);
    assert_eq!(first["candidate"]["source"], "built");
    let plan = context.run(&["plan", "--json"]).json();
    assert_eq!(plan["schema"], "imagegate.plan/v1");
    assert_eq!(plan["images"][0]["action"], "reuse");
    assert_eq!(plan["images"][0]["candidate"], first["candidate"]["digest"]);
    assert_eq!(plan["images"][0]["inputs_digest"], first["candidate"]["inputs_digest"]);

    let (_, second) = context.gate(&[]);
    assert_eq!(second["candidate"]["source"], "reused");
    assert_eq!(second["candidate"]["digest"], first["candidate"]["digest"]);
});

#[test]
fn a_fresh_state_folder_still_finds_the_candidate_by_its_label() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let (_, first) = context.gate(&[]);
    std::fs::remove_dir_all(context.path(".imagegate")).unwrap();
    let plan = context.run(&["plan", "--json"]).json();
    assert_eq!(plan["images"][0]["action"], "reuse");
    assert_eq!(plan["images"][0]["candidate"], first["candidate"]["digest"]);
}

#[test]
fn refresh_rebuilds_an_unchanged_recipe_without_cache() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    // A build step whose output changes on every real build, like fetching "the newest release".
    std::fs::write(
        context.path("ci/Dockerfile"),
        format!("FROM {}\nCOPY lib/ /opt/lib/\nRUN date +%s%N > /opt/lib/built-at\n", crate::context::BASE_IMAGE),
    )
    .unwrap();
    context.commit("stamp builds");
    let (_, first) = context.gate(&["--promote"]);
    assert_eq!(first["candidate"]["source"], "built");
    let (_, cached) = context.gate(&[]);
    assert_eq!(cached["candidate"]["source"], "reused");
    let (run, refreshed) = context.gate(&["--refresh", "--promote"]);
    run.expect_code(0);
    assert_eq!(refreshed["candidate"]["source"], "built");
    assert_eq!(refreshed["candidate"]["inputs_digest"], first["candidate"]["inputs_digest"]);
    assert_ne!(refreshed["candidate"]["digest"], first["candidate"]["digest"]);
    assert_eq!(refreshed["incumbent"]["digest"], first["candidate"]["digest"]);
    assert_eq!(refreshed["promotion"]["status"], "promoted");
}

both_engines!(promotion_is_refused_when_the_stable_tag_moved_since_the_verdict, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    context.set_features(&["alpha", "beta"]);
    context.commit("new recipe");
    let (run, report) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(report["decision"], "pass");
    assert!(report["promotion"].is_null());

    // Someone else moves the stable tag between the verdict and the promotion.
    let intruder = context.image_id(crate::context::BASE_IMAGE).expect("base image");
    let status = Command::new(engine.name()).args(["tag", &intruder, &context.stable_tag]).status().unwrap();
    assert!(status.success());
    let promote = context.run(&["promote"]);
    promote.expect_code(4);
    assert!(promote.stderr.contains("moved since the verdict"), "{promote}");
    assert_eq!(context.stable_id().as_deref(), Some(intruder.as_str()));
});

#[test]
fn promote_without_a_passing_verdict_is_refused() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a needs:beta\n");
    context.run(&["promote"]).expect_code(1);
    context.gate(&[]).0.expect_code(1);
    let promote = context.run(&["promote"]);
    promote.expect_code(1);
    assert!(promote.stderr.contains("regression"), "{promote}");
    assert_eq!(context.stable_id(), None);
}

both_engines!(a_blocked_candidate_is_promoted_once_the_project_is_fixed, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha", "beta"], "test_a needs:alpha\ntest_b needs:beta\n");
    context.gate(&["--promote"]).0.expect_code(0);
    let old_stable = context.stable_id().unwrap();

    // The new image drops beta: blocked.
    context.set_features(&["alpha", "gamma"]);
    context.commit("image upgrade");
    let (run, blocked) = context.gate(&["--promote"]);
    run.expect_code(1);
    let candidate = blocked["candidate"]["digest"].as_str().unwrap().to_owned();

    // Still blocked without a change, and not rebuilt.
    let (run, again) = context.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(again["candidate"]["source"], "reused");
    assert_eq!(context.stable_id().as_deref(), Some(old_stable.as_str()));

    // The project stops depending on beta: the same candidate is re-tested and promoted.
    context.set_cases("test_a needs:alpha\ntest_b needs:gamma\n");
    let (run, fixed) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(fixed["candidate"]["source"], "reused");
    assert_eq!(fixed["candidate"]["digest"], candidate.as_str());
    assert_eq!(fixed["promotion"]["status"], "promoted");
    assert_eq!(context.stable_id().as_deref(), Some(candidate.as_str()));
});

both_engines!(rollback_restores_the_previous_stable_image, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    let first = context.stable_id().unwrap();
    context.set_features(&["alpha", "beta"]);
    context.commit("second image");
    context.gate(&["--promote"]).0.expect_code(0);
    let second = context.stable_id().unwrap();
    assert_ne!(first, second);

    let rollback = context.run(&["rollback", &context.image]);
    rollback.expect_code(0);
    assert_eq!(context.stable_id().as_deref(), Some(first.as_str()));

    // The rolled-back candidate is not promoted again by the next gate.
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(report["decision"], "pass");
    assert_eq!(report["promotion"]["status"], "refused");
    assert_eq!(context.stable_id().as_deref(), Some(first.as_str()));

    let history = context.run(&["history", "--json"]).json();
    assert_eq!(history["schema"], "imagegate.history/v1");
    let kinds: Vec<&str> =
        history["events"].as_array().unwrap().iter().map(|event| event["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["verdict", "promote", "verdict", "promote", "rollback", "verdict"]);
    let text = context.run(&["history"]);
    assert!(text.stdout.contains("rollback"), "{text}");
});

#[test]
fn a_branch_outside_the_policy_gates_but_never_promotes() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let (run, report) = context.gate(&["--promote", "--branch", "feature/new-image"]);
    run.expect_code(0);
    assert_eq!(report["decision"], "pass");
    assert_eq!(report["promotion"]["status"], "not-allowed");
    assert_eq!(context.stable_id(), None);
    let promote = context.run(&["promote", "--branch", "feature/new-image"]);
    promote.expect_code(2);
    assert_eq!(context.stable_id(), None);
}

#[test]
fn an_unchanged_stable_candidate_is_up_to_date() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(report["promotion"]["status"], "up-to-date");
    assert!(report["runs"].as_array().unwrap().is_empty());
    assert!(ids(&report, "regressions").is_empty());
}
