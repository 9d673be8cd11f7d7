//! The culprit proof on real package images: imagegate-test/debian-py:a and :b differ in
//! Werkzeug 2.2.3 → 2.3.0, MarkupSafe 2.1.3 → 2.1.5, the venv's idna 3.6 → 3.7 and the apt
//! package `less` (only in :b). A suite whose tests need Werkzeug 2.2.3 regresses in :b; the
//! proof must put Werkzeug back and show it alone is the cause.

use serde_json::Value;

use crate::both_engines;
use crate::context::{Engine, TestContext};

const CASES: &str = "test_ok pass\n\
                     test_urls python-version:Werkzeug=2.2.3\n\
                     test_routing python-version:Werkzeug=2.2.3\n\
                     test_feature needs:extras\n";

/// A project on debian-py:a (promoted), then moved to debian-py:b on the same commit of tests.
fn project(engine: Engine, features_after: &[&str]) -> TestContext {
    let context = TestContext::new(engine, &["extras"], CASES);
    context.targeted();
    std::fs::write(context.path("ci/Dockerfile"), "FROM imagegate-test/debian-py:a\nCOPY lib/ /opt/lib/\n").unwrap();
    context.commit("the project's image on debian-py:a");
    context.gate(&["--promote"]).0.expect_code(0);
    std::fs::write(context.path("ci/Dockerfile"), "FROM imagegate-test/debian-py:b\nCOPY lib/ /opt/lib/\n").unwrap();
    context.set_features(features_after);
    context.commit("newer packages");
    context
}

fn changed_packages(report: &Value) -> usize {
    ["changed", "added", "removed"].iter().map(|list| report["packages"][list].as_array().map_or(0, Vec::len)).sum()
}

/// The experiments run: the highest number any package names.
fn experiments(report: &Value) -> usize {
    report["culprits"]
        .as_array()
        .unwrap_or_else(|| panic!("no culprits in {report}"))
        .iter()
        .flat_map(|culprit| culprit["experiments"].as_array().cloned().unwrap_or_default())
        .filter_map(|number| number.as_u64())
        .max()
        .map_or(0, |max| usize::try_from(max).unwrap())
}

fn experiment_images(engine: Engine) -> Vec<String> {
    let output = std::process::Command::new(engine.name())
        .args(["images", "-q", "--filter", "label=io.imagegate.experiment"])
        .output()
        .expect("list images");
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

both_engines!(a_package_upgrade_that_breaks_tests_is_confirmed_and_the_others_cleared, |engine: Engine| {
    let before = experiment_images(engine);
    let context = project(engine, &["extras"]);
    let stable = context.stable_id();
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(report["decision"], "regression", "{report}");
    let n = changed_packages(&report);
    assert!(n >= 4, "debian-py:a and :b differ in at least 4 packages: {report}");
    let culprits = report["culprits"].as_array().unwrap_or_else(|| panic!("no culprits in {report}"));
    assert_eq!(culprits.len(), n, "one finding per changed package: {report}");
    let confirmed: Vec<&Value> = culprits.iter().filter(|culprit| culprit["verdict"] == "confirmed").collect();
    assert_eq!(confirmed.len(), 1, "{report}");
    assert!(confirmed[0]["name"].as_str().unwrap().eq_ignore_ascii_case("werkzeug"), "{report}");
    assert_eq!(confirmed[0]["from"], "2.2.3");
    assert_eq!(confirmed[0]["to"], "2.3.0");
    assert!(confirmed[0]["pin"].as_str().is_some_and(|pin| pin.ends_with("<2.3.0")), "{report}");
    assert_eq!(confirmed[0]["regressions"].as_array().map(Vec::len), Some(2), "{report}");
    assert!(
        culprits
            .iter()
            .filter(|culprit| culprit["verdict"] != "confirmed")
            .all(|culprit| culprit["verdict"] == "cleared"),
        "{report}"
    );
    let bound = usize::try_from(n.next_power_of_two().trailing_zeros()).unwrap() + 2;
    assert!(experiments(&report) <= bound, "{} experiments for {n} packages: {report}", experiments(&report));
    assert!(
        report["runs"].as_array().unwrap().iter().any(|run| run["purpose"] == "experiment"),
        "experiments are in runs[]: {report}"
    );
    // The experiment images are gone, and no container is left.
    assert_eq!(experiment_images(engine), before);
    assert!(context.leftover_containers().is_empty());
    // Experiments never move the stable pointer.
    assert_eq!(context.stable_id(), stable);
    let text = context.run(&["gate", "--no-culprits"]);
    assert!(!text.stdout.contains("confirmed: putting"), "{text}");
});

both_engines!(a_regression_no_package_causes_clears_every_package, |engine: Engine| {
    // The candidate also lacks a file of the project's own recipe: the package put-backs
    // cannot make that test pass.
    let context = project(engine, &[]);
    context.set_cases("test_ok pass\ntest_feature needs:extras\n");
    let (run, report) = context.gate(&[]);
    run.expect_code(1);
    let culprits = report["culprits"].as_array().unwrap_or_else(|| panic!("no culprits in {report}"));
    assert!(!culprits.is_empty(), "{report}");
    assert!(culprits.iter().all(|culprit| culprit["verdict"] == "cleared"), "{report}");
    let text = context.run(&["gate", "--no-culprits", "--json"]);
    assert!(text.json().get("culprits").is_none(), "--no-culprits runs no proof: {text}");
});
