//! Evidence reuse against real engines: a suite run made before with the same image digest,
//! checkout content, command and environment is reused (no container runs for it), and never
//! across a change of any of them; flaky reruns always run; in registry mode another state
//! folder reuses what the first recorded.

use std::path::Path;

use serde_json::Value;

use crate::both_engines;
use crate::context::{Engine, TestContext};

/// The runs of a gate report that were reused, as `image purpose`.
fn reused(report: &Value) -> Vec<String> {
    report["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|run| run.get("reused").is_some_and(|reused| !reused.is_null()))
        .map(|run| format!("{} {}", run["image"].as_str().unwrap(), run["purpose"].as_str().unwrap()))
        .collect()
}

/// The purposes of a gate report's runs, in order.
fn purposes(report: &Value) -> Vec<String> {
    report["runs"].as_array().expect("runs").iter().map(|run| run["purpose"].as_str().unwrap().to_owned()).collect()
}

/// How many containers ran the candidate's suite in the state folder `state`: each run made
/// leaves its folder (`candidate-suite`) under `runs/IMAGE/GATE/`; a reused run leaves none.
fn candidate_suite_runs(state: &Path, image: &str) -> usize {
    let Ok(gates) = std::fs::read_dir(state.join("runs").join(image)) else { return 0 };
    gates
        .filter_map(Result::ok)
        .filter_map(|gate| std::fs::read_dir(gate.path()).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter(|run| run.file_name().to_string_lossy().starts_with("candidate-suite"))
        .count()
}

both_engines!(a_second_gate_at_the_same_commit_reuses_the_suite_run_and_runs_no_container, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_b skip\n");
    let (run, first) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(reused(&first), Vec::<String>::new());
    let state = context.path(".imagegate");
    assert_eq!(candidate_suite_runs(&state, &context.image), 1);

    let (run, second) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(reused(&second), ["candidate suite"], "{run}");
    assert_eq!(candidate_suite_runs(&state, &context.image), 1, "a container ran the suite again");
    let from = &second["runs"][0]["reused"];
    assert_eq!(from["source"], "local");
    assert!(from["key"].as_str().unwrap().starts_with("sha256:"), "{from}");
    assert_eq!(second["counts"], first["counts"]);
    assert!(run.stderr.contains("reused from"), "{run}");
    // The terminal report says so too.
    let text = context.run(&["gate"]);
    assert!(text.stdout.contains("reused     the candidate's suite run, reused from"), "{text}");

    // `--fresh` runs it again.
    let (run, fresh) = context.gate(&["--fresh"]);
    run.expect_code(0);
    assert_eq!(reused(&fresh), Vec::<String>::new());
    assert_eq!(candidate_suite_runs(&state, &context.image), 2);
});

both_engines!(evidence_is_never_served_across_a_different_image_digest, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    let (run, first) = context.gate(&[]);
    run.expect_code(0);
    // The same recipe rebuilt without cache: another image, the same checkout.
    let (run, rebuilt) = context.gate(&["--refresh"]);
    run.expect_code(0);
    assert_ne!(rebuilt["candidate"]["digest"], first["candidate"]["digest"], "the rebuild made the same image");
    assert_eq!(reused(&rebuilt), Vec::<String>::new(), "{run}");
});

both_engines!(evidence_is_never_served_across_a_different_checkout, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    context.gate(&[]).0.expect_code(0);
    // An uncommitted file: the commit is the same, what is copied in is not.
    std::fs::write(context.path("notes.txt"), "not committed\n").unwrap();
    let (run, second) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(reused(&second), Vec::<String>::new(), "{run}");
    let (run, third) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(reused(&third), ["candidate suite"], "{run}");
});

/// Writes `name` beside imagegate.toml: the same config with `edit` applied. Both files are in
/// the checkout whichever one a gate reads, so gates with either copy the same checkout in.
fn config_variant(context: &TestContext, name: &str, edit: impl Fn(String) -> String) {
    let config = std::fs::read_to_string(context.path("imagegate.toml")).unwrap();
    let edited = edit(config.clone());
    assert_ne!(edited, config, "the edit changed nothing");
    std::fs::write(context.path(name), edited).unwrap();
}

/// Gates with the config `name` (in the checkout).
fn gate_with(context: &TestContext, name: &str) -> Value {
    let (run, report) = context.gate(&["--config", context.path(name).to_str().unwrap()]);
    run.expect_code(0);
    report
}

both_engines!(evidence_is_never_served_across_a_different_command, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    config_variant(&context, "other-command.toml", |config| {
        config.replace("command = \"sh tests/run.sh\"", "command = \"sh ./tests/run.sh\"")
    });
    std::fs::copy(context.path("imagegate.toml"), context.path("same.toml")).unwrap();
    assert_eq!(reused(&gate_with(&context, "same.toml")), Vec::<String>::new());
    assert_eq!(reused(&gate_with(&context, "other-command.toml")), Vec::<String>::new());
    // The checkout was the same all along: the same command is reused.
    assert_eq!(reused(&gate_with(&context, "same.toml")), ["candidate suite"]);
});

both_engines!(evidence_is_never_served_across_a_different_environment, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    let with_env = |value: &'static str| {
        move |config: String| {
            config.replace(
                "workdir = \"/src\"\n",
                &format!("workdir = \"/src\"\nenv = {{ DEPLOY_TOKEN = \"{value}\" }}\n"),
            )
        }
    };
    config_variant(&context, "env-one.toml", with_env("first-secret"));
    config_variant(&context, "env-two.toml", with_env("second-secret"));
    assert_eq!(reused(&gate_with(&context, "env-one.toml")), Vec::<String>::new());
    assert_eq!(reused(&gate_with(&context, "env-two.toml")), Vec::<String>::new());
    // The run's own output says why a stored run was not used, should it not be.
    let (run, report) = context.gate(&["--config", context.path("env-one.toml").to_str().unwrap()]);
    run.expect_code(0);
    assert_eq!(reused(&report), ["candidate suite"], "{run}");
    // Environment values are hashed into the key, never stored.
    let store = std::fs::read(context.path(".imagegate/imagegate.db")).unwrap();
    let wal = std::fs::read(context.path(".imagegate/imagegate.db-wal")).unwrap_or_default();
    for bytes in [&store, &wal] {
        assert!(!String::from_utf8_lossy(bytes).contains("first-secret"), "an environment value was stored");
    }
});

both_engines!(a_flaky_rerun_is_never_served_from_stored_evidence, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_flaky flaky\n");
    let (run, first) = context.gate(&[]);
    run.expect_code(0);
    // The remaining attempts start together when runs go side by side: one rerun or more.
    assert_eq!(purposes(&first)[0], "suite");
    assert!(purposes(&first)[1..].iter().all(|purpose| purpose == "rerun") && purposes(&first).len() >= 2, "{first}");
    let (run, second) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(purposes(&second), purposes(&first));
    assert_eq!(reused(&second), ["candidate suite"], "{run}");
    assert!(run.stderr.contains("candidate: rerun running"), "the rerun did not run\n{run}");
    assert_eq!(crate::context::ids(&second, "flaky"), ["it.test_flaky"]);
});

both_engines!(another_state_folder_reuses_the_evidence_a_first_recorded_in_the_registry, |engine: Engine| {
    let project = crate::registry::RegistryProject::anonymous(engine, &["alpha"], "test_a pass\n");
    let first_state = project.context.scratch.join("machine-a");
    let (run, first) = project.gate(&["--state-dir", first_state.to_str().unwrap()]);
    run.expect_code(0);
    assert_eq!(reused(&first), Vec::<String>::new());
    assert!(project.tags().iter().any(|tag| tag.starts_with("imagegate-evidence-")), "{:?}", project.tags());
    // Another machine: a new state folder, and an engine without the images.
    project.empty_engine();
    let second_state = project.context.scratch.join("machine-b");
    let (run, second) = project.gate(&["--state-dir", second_state.to_str().unwrap()]);
    run.expect_code(0);
    assert_eq!(reused(&second), ["candidate suite"], "{run}");
    assert_eq!(
        second["runs"][0]["reused"]["source"],
        format!("registry:{}/{}", project.registry.address(), project.namespace),
    );
    assert_eq!(candidate_suite_runs(&second_state, &project.context.image), 0, "a container ran the suite");

    // `prune` removes stored runs older than its cutoff from the registry.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let dry = project.run(&["prune", "--older-than", "1s", "--dry-run", "--json"]);
    dry.expect_code(0);
    assert_eq!(dry.json()["evidence_removed"], 1, "{dry}");
    assert!(project.tags().iter().any(|tag| tag.starts_with("imagegate-evidence-")));
    let pruned = project.run(&["prune", "--older-than", "1s"]);
    pruned.expect_code(0);
    assert!(pruned.stdout.contains("1 stored run removed"), "{pruned}");
    assert!(!project.tags().iter().any(|tag| tag.starts_with("imagegate-evidence-")), "{:?}", project.tags());
});
