//! Network faults between imagegate, the engine and the registry store, injected by the
//! testkit's fault proxy: transient failures of the engine's own pushes and pulls are retried
//! like imagegate's own requests, and a fault that outlasts the retries fails cleanly (exit 3).

use std::time::Duration;

use imagegate_testkit::{Fault, Matcher};

use crate::both_engines;
use crate::context::Engine;
use crate::registry::{RegistryProject, digest};

both_engines!(a_5xx_on_the_engines_first_push_is_retried_and_the_gate_passes, |engine: Engine| {
    let project = RegistryProject::behind_proxy(engine, &["alpha"], "test_a pass\n");
    let proxy = project.proxy.as_ref().unwrap();
    // The manifest upload ends a push, and the engines do not retry it themselves.
    proxy.inject(Matcher::engine_manifest_put(), Fault::Status(500), 1);

    let (run, report) = project.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(report["promotion"]["status"], "promoted", "{run}");
    let injected = proxy.injected();
    assert_eq!(injected.len(), 1, "{injected:?}\n{run}");
    assert!(!injected[0].user_agent.starts_with("imagegate/"), "{injected:?}");
    let candidate = digest(&report, "/candidate/digest");
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(candidate));
});

both_engines!(a_5xx_on_the_engines_pull_is_retried, |engine: Engine| {
    let project = RegistryProject::behind_proxy(engine, &["alpha"], "test_a pass\n");
    project.gate(&[]).0.expect_code(0);
    // A fresh machine: the candidate is pulled from the registry to be tested again.
    project.empty_engine();
    let proxy = project.proxy.as_ref().unwrap();
    let manifests =
        Matcher { method: Some("GET".into()), path_contains: Some("/manifests/".into()), engine_only: true };
    proxy.inject(manifests, Fault::Status(503), 1);
    let (run, report) = project.gate(&[]);
    run.expect_code(0);
    assert_eq!(report["candidate"]["source"], "reused", "{run}");
    assert_eq!(report["decision"], "pass", "{run}");
    assert_eq!(proxy.injected().len(), 1, "{:?}\n{run}", proxy.injected());
});

#[test]
fn a_push_that_keeps_failing_ends_with_exit_3_and_a_hint() {
    let project = RegistryProject::behind_proxy(Engine::Docker, &["alpha"], "test_a pass\n");
    let proxy = project.proxy.as_ref().unwrap();
    proxy.inject(Matcher::engine_manifest_put(), Fault::Status(503), 100);
    let run = project.run(&["gate", "--json"]);
    run.expect_code(3);
    assert!(run.stderr.contains("attempts"), "{run}");
    assert!(run.stderr.contains("hint:"), "{run}");
    let document = run.json();
    assert_eq!(document["schema"], "imagegate.error/v1", "{run}");
    // Not retried forever: the engine's attempts, each one manifest upload.
    let attempts = proxy.injected().len();
    assert!((2..=6).contains(&attempts), "{attempts} pushes\n{run}");
}

/// How many commands the long run drives through the proxy.
const LONG_RUN_COMMANDS: usize = 100;

/// One command of the long run, and the exit codes it may end with besides 0 and 3 when
/// nothing but the network went wrong (its own refusals, never a network fault's).
struct Step {
    args: Vec<String>,
    /// Exit codes (besides 0 and 3) this command may give for reasons of its own, with the
    /// error kinds that stand for them.
    own_refusals: &'static [(i32, &'static str)],
}

fn step(args: &[&str], own_refusals: &'static [(i32, &'static str)]) -> Step {
    Step { args: args.iter().map(|arg| (*arg).to_owned()).collect(), own_refusals }
}

/// A long run: 100 registry-mode commands (gate, promote, rollback, history, plan, recipe
/// changes between them) through a proxy that faults one request in four with a 5xx,
/// a reset or a stall. Each command finishes, or fails cleanly with exit 3 (never a panic,
/// never another code for a network fault), always prints its JSON document, and afterwards
/// the stable tag names a digest with a pass verdict (checked straight at the registry).
///
/// It takes several minutes, so `make test` leaves it out; `.ci/run` runs it on its own
/// (`make long-run`). `IMAGEGATE_LONG_RUN_SEED` repeats a schedule.
#[test]
#[ignore = "long run (several minutes): `make long-run` runs it"]
fn long_run_of_registry_commands_through_network_faults() {
    let seed: u64 = std::env::var("IMAGEGATE_LONG_RUN_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("long run seed: {seed} (IMAGEGATE_LONG_RUN_SEED={seed} repeats it)");
    let project = RegistryProject::behind_proxy(Engine::Docker, &["alpha"], "test_a pass\ntest_b pass\n");
    let proxy = project.proxy.as_ref().unwrap();
    let image = project.context.image.clone();

    // A second configuration that reaches the registry itself, for the checks.
    let config = std::fs::read_to_string(project.context.path("imagegate.toml")).unwrap();
    let direct_config = project.context.path("imagegate-direct.toml");
    std::fs::write(&direct_config, config.replace(&proxy.address(), &project.registry.address())).unwrap();
    let direct_state = project.context.scratch.join("direct-state");

    proxy.schedule(
        seed,
        0.25,
        &[
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(503),
            Fault::Reset,
            Fault::Stall(Duration::from_secs(1)),
        ],
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let recipes: [&[&str]; 3] = [&["alpha"], &["alpha", "beta"], &["alpha", "gamma"]];
    let mut codes: std::collections::BTreeMap<(String, i32), usize> = std::collections::BTreeMap::new();
    for index in 0..LONG_RUN_COMMANDS {
        let roll = rng.u32(..100);
        let step = match roll {
            0..35 => {
                // A new recipe now and then: a build and the engine's push.
                if rng.u32(..3) == 0 {
                    project.context.set_features(recipes[rng.usize(..recipes.len())]);
                }
                // A candidate rolled back from passes again but is not promoted again.
                step(&["gate", "--promote", "--json"], &[(1, "refused")])
            }
            35..50 => step(&["gate", "--json"], &[]),
            // No passing verdict for the newest candidate (e.g. it was rolled back from).
            50..65 => step(&["promote", "--json"], &[(1, "refused"), (4, "pointer-moved")]),
            // Nothing to roll back to yet.
            65..75 => step(&["rollback", &image, "--json"], &[(2, "usage"), (1, "refused")]),
            75..90 => step(&["history", "--json"], &[]),
            _ => step(&["plan", "--json"], &[]),
        };
        let started = std::time::Instant::now();
        let run = project.run(&step.args.iter().map(String::as_str).collect::<Vec<_>>());
        eprintln!(
            "long run: {index:3} `{}` exit {} in {:.1}s ({} faults so far)",
            step.args.join(" "),
            run.code,
            started.elapsed().as_secs_f64(),
            proxy.injected().len()
        );
        let what = format!("command {index} `imagegate {}` (seed {seed})", step.args.join(" "));
        assert!(!run.stderr.contains("panicked"), "{what} panicked\n{run}");
        let documents: Vec<serde_json::Value> = run
            .stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{what}: not JSON ({error})\n{run}")))
            .collect();
        assert_eq!(documents.len(), 1, "{what}: one document\n{run}");
        let document = &documents[0];
        match run.code {
            0 | 3 => {}
            code => {
                // Only the command's own refusals, each for its own reason, never a network fault's.
                let kind = error_kind(document, code);
                assert!(
                    step.own_refusals.iter().any(|(allowed, allowed_kind)| *allowed == code && kind == *allowed_kind),
                    "{what}: exit {code} (kind `{kind}`)\n{run}"
                );
            }
        }
        *codes.entry((step.args[0].clone(), run.code)).or_default() += 1;
        assert_stable_has_a_pass_verdict(&project, &direct_config, &direct_state, &what);
    }
    proxy.heal();
    let injected = proxy.injected().len();
    eprintln!("long run: {} requests, {injected} faults injected; exit codes {codes:?}", proxy.requests());
    assert!(injected >= LONG_RUN_COMMANDS / 2, "too few faults to prove anything: {injected}");
    assert!(codes.keys().any(|(command, code)| command == "gate" && *code == 0), "no gate ever passed: {codes:?}");
}

/// The error kind of a failed command's document: the error document's own, or, for a
/// pointer document, its per-image error's (a refusal is exit 1, a lost race exit 4).
fn error_kind(document: &serde_json::Value, code: i32) -> String {
    let message = if document["schema"] == "imagegate.error/v1" {
        document["message"].as_str().unwrap_or_default()
    } else {
        document["images"][0]["error"].as_str().unwrap_or_default()
    };
    let network = ["reset", "HTTP status: 5", "connection", "timed out", "timeout", "EOF", "attempts"];
    if let Some(word) = network.iter().find(|word| message.contains(*word)) {
        return format!("network fault ({word}): {message}");
    }
    if document["schema"] == "imagegate.error/v1" {
        return document["kind"].as_str().unwrap_or_default().to_owned();
    }
    match code {
        4 if message.contains("moved since the verdict") => "pointer-moved".to_owned(),
        1 => "refused".to_owned(),
        _ => format!("unknown: {message}"),
    }
}

/// The stable tag, read straight from the registry, names nothing yet or a digest that a
/// stored verdict passed.
#[track_caller]
fn assert_stable_has_a_pass_verdict(
    project: &RegistryProject,
    direct_config: &std::path::Path,
    state: &std::path::Path,
    what: &str,
) {
    let Some(stable) = project.skopeo_digest(&project.stable_reference()) else {
        return;
    };
    let history = project.run(&[
        "--config",
        direct_config.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "history",
        "--json",
    ]);
    history.expect_code(0);
    let events = history.json()["events"].as_array().unwrap().clone();
    let passed = events.iter().any(|event| {
        event["kind"] == "verdict"
            && event["decision"] == "pass"
            && event["candidate"].as_str() == Some(stable.as_str())
    });
    assert!(passed, "after {what}: the stable tag names {stable}, which no verdict passed\n{history}");
}
