//! `imagegate ci` under the environments the providers document (the fixtures of the
//! imagegate-ci crate: variables and event payloads for push, pull request, fork pull request
//! and schedule): promotion happens exactly where allowed, and outputs land in the files each
//! provider reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::context::{Engine, Run, TestContext};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../imagegate-ci/tests/fixtures")
}

/// `KEY=VALUE` lines of a fixture, comments and blank lines left out.
fn fixture_environment(provider: &str, name: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(fixtures().join(provider).join(format!("{name}.env"))).expect("fixture");
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// A GitHub fixture's variables, with its event payload and the runner's output files put where
/// this test can read them.
pub(crate) fn github_environment(name: &str, output: &Path, summary: &Path) -> BTreeMap<String, String> {
    let mut environment = fixture_environment("github", name);
    environment.insert(
        "GITHUB_EVENT_PATH".into(),
        fixtures().join("github").join(format!("{name}.json")).display().to_string(),
    );
    environment.insert("GITHUB_OUTPUT".into(), output.display().to_string());
    environment.insert("GITHUB_STEP_SUMMARY".into(), summary.display().to_string());
    environment
}

/// Runs `imagegate ci --json` with only the provider's variables (and PATH/HOME).
pub(crate) fn run_ci(context: &TestContext, environment: &BTreeMap<String, String>) -> (Run, Value) {
    let mut command = context.command();
    command.env_clear();
    for key in ["PATH", "HOME"] {
        if let Ok(value) = std::env::var(key) {
            command.env(key, value);
        }
    }
    command.envs(environment).args(["ci", "--json", "--report-dir"]).arg(context.scratch.join("reports"));
    let run = Run::from(command.output().expect("run imagegate ci"));
    let json = run.json();
    (run, json)
}

/// The four runs every provider goes through, in order; the stable tag must move only on the
/// trusted runs of the default branch.
fn assert_promotes_only_where_allowed(
    context: &TestContext,
    environments: [(&str, BTreeMap<String, String>); 4],
    output_for: &dyn Fn(&TestContext) -> String,
) {
    for (name, environment) in environments {
        let before = context.stable_id();
        let (run, report) = run_ci(context, &environment);
        run.expect_code(0);
        let candidate = report["candidate"]["digest"].as_str().unwrap().to_owned();
        let reference = report["candidate"]["reference"].as_str().unwrap().to_owned();
        let output = output_for(context);
        match name {
            "pull_request" | "fork_pull_request" => {
                assert_eq!(report["promotion"]["status"], "not-allowed", "{name}: {report}");
                assert_eq!(context.stable_id(), before, "{name} moved the stable tag");
                // No stable image yet: later jobs use this run's candidate.
                assert!(output.contains(&reference), "{name}: output {output:?} lacks {reference}");
            }
            "push" | "schedule" => {
                assert_eq!(report["promotion"]["status"], "promoted", "{name}: {report}");
                assert_eq!(context.stable_id().as_deref(), Some(candidate.as_str()), "{name} did not promote");
                assert!(output.contains(&context.stable_tag), "{name}: output {output:?} lacks the stable tag");
                if name == "schedule" {
                    assert_eq!(report["candidate"]["source"], "built", "a scheduled run rebuilds");
                }
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn github_promotes_on_pushes_and_schedules_of_the_default_branch_only() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let output = context.scratch.join("github-output");
    let summary = context.scratch.join("step-summary");
    let environment = |name: &str| github_environment(name, &output, &summary);
    let read_output = |_: &TestContext| {
        // Each run appends; the newest line for the image is what later steps see.
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        text.lines().last().unwrap_or_default().to_owned()
    };
    assert_promotes_only_where_allowed(
        &context,
        [
            ("pull_request", environment("pull_request")),
            ("fork_pull_request", environment("pull_request_fork")),
            ("push", environment("push")),
            ("schedule", environment("schedule")),
        ],
        &read_output,
    );
    let lines = std::fs::read_to_string(&output).unwrap();
    assert!(lines.lines().all(|line| line.starts_with(&format!("image-{}=", context.image))), "{lines}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains(&context.image), "{summary}");
    // The comment links the run and the commit on GitHub, from GitHub's own variables.
    let repository = "https://github.com/octo-org/octo-repo";
    assert!(summary.contains(&format!("[GitHub Actions run]({repository}/actions/runs/1658821493)")), "{summary}");
    assert!(summary.contains(&format!("({repository}/commit/ffac537e6cbbf934b08745a378932722df287a53)")), "{summary}");
    // The last run (the schedule) wrote the kept reports; its comment points at the HTML report.
    let kept = std::fs::read_to_string(context.scratch.join("reports/summary.md")).unwrap();
    let html = format!("[HTML report]({repository}/actions/runs/1658821499#artifacts): `report.html`");
    assert!(kept.contains(&html), "{kept}");
}

#[test]
fn gitlab_promotes_on_pushes_and_schedules_of_the_default_branch_only() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let dotenv = context.path("imagegate.env");
    let read_output = |_: &TestContext| std::fs::read_to_string(&dotenv).unwrap_or_default();
    assert_promotes_only_where_allowed(
        &context,
        [
            ("pull_request", fixture_environment("gitlab", "merge_request")),
            ("fork_pull_request", fixture_environment("gitlab", "merge_request_fork")),
            ("push", fixture_environment("gitlab", "push")),
            ("schedule", fixture_environment("gitlab", "schedule")),
        ],
        &read_output,
    );
    let text = std::fs::read_to_string(&dotenv).unwrap();
    let variable = format!("IMAGEGATE_IMAGE_{}=", context.image.to_uppercase().replace('-', "_"));
    assert!(text.starts_with(&variable), "{text}");
    assert!(context.path("imagegate-junit.xml").exists());
}

#[test]
fn circleci_promotes_on_pushes_and_schedules_of_the_default_branch_only() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let env_file = context.path("imagegate-workspace/imagegate.env");
    let read_output = |_: &TestContext| std::fs::read_to_string(&env_file).unwrap_or_default();
    // The fixtures are CircleCI cloud jobs, which are taken for ephemeral; this test's store is
    // local, as on a self-hosted runner that says so.
    let environment = |name: &str| {
        let mut environment = fixture_environment("circleci", name);
        environment.insert("IMAGEGATE_RUNNER".into(), "persistent".into());
        environment
    };
    assert_promotes_only_where_allowed(
        &context,
        [
            ("pull_request", environment("pull_request")),
            ("fork_pull_request", environment("fork_pull_request")),
            ("push", environment("push")),
            ("schedule", environment("schedule")),
        ],
        &read_output,
    );
    let text = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        text.contains(&format!("export IMAGEGATE_IMAGE_{}='", context.image.to_uppercase().replace('-', "_"))),
        "{text}"
    );
}

#[test]
fn a_branch_that_changes_the_recipe_hands_its_candidate_to_later_jobs() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let output = context.scratch.join("github-output");
    let summary = context.scratch.join("summary");
    let environment = |name: &str| github_environment(name, &output, &summary);
    run_ci(&context, &environment("push")).0.expect_code(0);
    // A feature branch changes the recipe: its jobs get its candidate, stable stays.
    context.set_features(&["alpha", "beta"]);
    context.commit("new recipe");
    let stable = context.stable_id();
    let (run, report) = run_ci(&context, &environment("push_feature"));
    run.expect_code(0);
    assert_eq!(report["promotion"]["status"], "not-allowed");
    assert_eq!(context.stable_id(), stable);
    let last = std::fs::read_to_string(&output).unwrap().lines().last().unwrap().to_owned();
    assert_eq!(last, format!("image-{}={}", context.image, report["candidate"]["reference"].as_str().unwrap()));
}

#[test]
fn init_writes_a_workflow_for_the_configured_images() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let run = context.run(&["init", "--ci", "github"]);
    run.expect_code(0);
    let workflow = std::fs::read_to_string(context.path(".github/workflows/imagegate.yml")).unwrap();
    assert!(workflow.contains("imagegate ci"), "{workflow}");
    // A second run refuses to overwrite.
    context.run(&["init", "--ci", "github"]).expect_code(2);
}

/// Runs `imagegate ci` with only the provider's variables, for a run expected to fail before
/// printing any report.
fn run_ci_raw(context: &TestContext, environment: &BTreeMap<String, String>) -> Run {
    let mut command = context.command();
    command.env_clear();
    for key in ["PATH", "HOME"] {
        if let Ok(value) = std::env::var(key) {
            command.env(key, value);
        }
    }
    command.envs(environment).args(["ci", "--report-dir"]).arg(context.scratch.join("reports"));
    Run::from(command.output().expect("run imagegate ci"))
}

#[test]
fn a_hosted_runner_with_a_local_store_refuses_to_promote() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let output = context.scratch.join("github-output");
    let summary = context.scratch.join("step-summary");
    let hosted = |name: &str| {
        let mut environment = github_environment(name, &output, &summary);
        environment.insert("RUNNER_ENVIRONMENT".into(), "github-hosted".into());
        environment
    };

    // A push to the default branch would promote: refused before any work, with a hint.
    let run = run_ci_raw(&context, &hosted("push"));
    run.expect_code(2);
    assert!(
        run.stderr.contains("refuse to promote on a GitHub-hosted runner (RUNNER_ENVIRONMENT=github-hosted)"),
        "{run}"
    );
    assert!(run.stderr.contains("hint: set `[store] registry` in imagegate.toml"), "{run}");
    assert!(context.stable_id().is_none(), "nothing was promoted");

    // A run that would not promote anyway gates, with a warning.
    let (run, report) = run_ci(&context, &hosted("push_feature"));
    run.expect_code(0);
    assert!(run.stderr.contains("warning: the store is local on a GitHub-hosted runner"), "{run}");
    assert_eq!(report["promotion"]["status"], "not-allowed");

    // A self-hosted runner keeps its disk: the same push promotes.
    let mut self_hosted = hosted("push");
    self_hosted.insert("RUNNER_ENVIRONMENT".into(), "self-hosted".into());
    let (run, report) = run_ci(&context, &self_hosted);
    run.expect_code(0);
    assert_eq!(report["promotion"]["status"], "promoted", "{run}");
}

#[test]
fn ci_help_lists_every_imagegate_variable_the_ci_run_reads() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_imagegate")).args(["ci", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    // Every variable named in the code that reads the CI environment and the registry
    // credentials; outputs (IMAGEGATE_IMAGE_*) are written, not read.
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pattern = regex::Regex::new(r#""(IMAGEGATE_[A-Z_]+)""#).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for file in [
        "imagegate-ci/src/detect.rs",
        "imagegate-ci/src/generic.rs",
        "imagegate-ci/src/circleci.rs",
        "imagegate-registry/src/auth.rs",
        "imagegate/src/cli.rs",
    ] {
        let text = std::fs::read_to_string(crates.join(file)).unwrap();
        names.extend(pattern.captures_iter(&text).map(|found| found[1].to_owned()));
    }
    names.retain(|name| !name.starts_with("IMAGEGATE_IMAGE_") && name != "IMAGEGATE_EOF");
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        assert!(help.contains(name.as_str()), "`imagegate ci --help` does not list {name}:\n{help}");
    }
}
