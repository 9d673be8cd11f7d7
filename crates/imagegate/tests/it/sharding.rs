//! Sharded runs: `test --shard K/N` slices, merged by `gate --results`, give the verdict of the
//! unsharded run; partial shard data gives no verdict.

use serde_json::Value;

use crate::context::{Engine, TestContext, ids};

const CASES: &str = "\
test_a needs:alpha
test_b needs:beta
test_c pass
test_d fail
test_e needs:gamma
test_f skip
test_g pass
test_h needs:alpha
test_i error
test_j pass
";

fn sorted(report: &Value, list: &str) -> Vec<String> {
    let mut ids = ids(report, list);
    ids.sort();
    ids
}

fn prepared() -> TestContext {
    let context = TestContext::new(Engine::Docker, &["alpha", "beta"], "test_c pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    context.set_cases(CASES);
    context.set_features(&["alpha", "gamma"]);
    context.commit("new image drops beta and adds gamma");
    context
}

#[test]
fn three_shards_give_the_verdict_of_the_whole_suite() {
    let context = prepared();
    let (run, whole) = context.gate(&[]);
    run.expect_code(1);

    let evidence = context.scratch.join("shards");
    for index in 1..=3 {
        let shard = format!("{index}/3");
        let run = context.run(&["test", &context.image, "--shard", &shard, "--output", evidence.to_str().unwrap()]);
        run.expect_code(0);
    }
    let (run, merged) = context.gate(&["--results", evidence.to_str().unwrap()]);
    run.expect_code(1);
    assert_eq!(merged["decision"], whole["decision"]);
    for list in ["regressions", "flaky", "preexisting", "fixed"] {
        assert_eq!(sorted(&merged, list), sorted(&whole, list), "list {list} differs");
    }
    assert_eq!(sorted(&whole, "regressions"), vec!["it.test_b"]);
    assert_eq!(sorted(&whole, "fixed"), vec!["it.test_e"]);
    assert_eq!(merged["counts"], whole["counts"]);
    assert_eq!(merged["candidate"]["digest"], whole["candidate"]["digest"]);
    assert!(merged["verdict_id"].as_i64().is_some());
}

#[test]
fn a_missing_shard_gives_no_verdict() {
    let context = prepared();
    let evidence = context.scratch.join("shards");
    for index in [1, 3] {
        let shard = format!("{index}/3");
        context
            .run(&["test", &context.image, "--shard", &shard, "--output", evidence.to_str().unwrap()])
            .expect_code(0);
    }
    let before = context.stable_id();
    assert!(before.is_some());
    let run = context.run(&["gate", "--promote", "--results", evidence.to_str().unwrap()]);
    run.expect_code(3);
    assert!(run.stderr.contains("2/3"), "{run}");
    assert_eq!(context.stable_id(), before);
}
