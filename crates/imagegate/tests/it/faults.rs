//! Network faults between imagegate, the engine and the registry store, injected by the
//! testkit's fault proxy: transient failures of the engine's own pushes and pulls are retried
//! like imagegate's own requests, and a fault that outlasts the retries fails cleanly (exit 3).

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
