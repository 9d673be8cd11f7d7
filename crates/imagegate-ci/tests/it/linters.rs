//! The CI workflows `imagegate init --ci` writes, checked by the linters people run on them:
//! actionlint for GitHub Actions, and the providers' published schemas (vendored by
//! check-jsonschema) for GitHub Actions, GitLab CI/CD and CircleCI. Each linter is also shown a
//! broken workflow, so a linter that passes everything cannot pass these tests.
//!
//! The linters are required: a test fails, naming the install command, when one is missing.
//! `.ci/run` installs them (`python3 -m pip install jactionlint check-jsonschema`).

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use imagegate_ci::Provider;
use imagegate_ci::templates::{Install, TemplateInput, workflow};

const INSTALL: &str = "python3 -m pip install jactionlint check-jsonschema";

/// The first of `candidates` that runs, or a failure saying how to install one.
fn linter(candidates: &[&'static str]) -> &'static str {
    candidates
        .iter()
        .copied()
        .find(|candidate| Command::new(candidate).arg("--version").output().is_ok_and(|output| output.status.success()))
        .unwrap_or_else(|| {
            panic!(
                "none of {} is installed, and the generated CI workflows must be linted: install with `{INSTALL}`",
                candidates.join(", ")
            )
        })
}

/// actionlint, or jactionlint (a maintained fork of it that PyPI ships as a binary wheel).
fn actionlint() -> &'static str {
    linter(&["actionlint", "jactionlint"])
}

fn check_jsonschema() -> &'static str {
    linter(&["check-jsonschema"])
}

fn run(program: &str, arguments: &[&str], folder: &Path) -> Output {
    Command::new(program)
        .args(arguments)
        .current_dir(folder)
        .output()
        .unwrap_or_else(|error| panic!("{program} should start: {error}"))
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes `text` at `relative` in a new folder and runs each linter command on it, returning
/// whether each passed, with its output.
fn lint(relative: &str, text: &str, commands: &[(&str, Vec<&str>)]) -> Vec<(String, bool, String)> {
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join(relative);
    fs::create_dir_all(path.parent().expect("a workflow path has a folder")).expect("create the workflow folder");
    fs::write(&path, text).expect("write the workflow");
    commands
        .iter()
        .map(|(program, arguments)| {
            let mut arguments = arguments.clone();
            arguments.push(relative);
            let output = run(program, &arguments, folder.path());
            (format!("{program} {}", arguments.join(" ")), output.status.success(), describe(&output))
        })
        .collect()
}

fn linters_for(provider: Provider) -> Vec<(&'static str, Vec<&'static str>)> {
    let schema = match provider {
        Provider::GitHub => "vendor.github-workflows",
        Provider::GitLab => "vendor.gitlab-ci",
        Provider::CircleCi => "vendor.circle-ci",
        Provider::Generic => unreachable!("generic runs have no workflow"),
    };
    let mut commands = vec![(check_jsonschema(), vec!["--builtin-schema", schema])];
    if provider == Provider::GitHub {
        commands.push((actionlint(), vec![]));
    }
    commands
}

fn input(images: &[String]) -> TemplateInput<'_> {
    TemplateInput {
        images,
        default_branch: "master",
        registry: "ghcr.io/acme/app",
        install: Install::CURRENT,
        gitlab_stage: Some("build"),
    }
}

fn assert_lints_clean(provider: Provider) {
    let images = vec!["debian".to_owned(), "tools.x".to_owned(), "py3_11-slim".to_owned()];
    for images in [images, Vec::new()] {
        let generated = workflow(provider, &input(&images)).expect("writes the workflow");
        for (command, passed, output) in lint(generated.path, &generated.text, &linters_for(provider)) {
            assert!(passed, "`{command}` rejects the {provider} workflow:\n{output}\n--- workflow\n{}", generated.text);
        }
    }
}

/// A workflow with a mistake each linter must catch: an unknown key in the place the
/// generated workflow's job is.
fn assert_rejects_a_broken_workflow(provider: Provider) {
    let images = ["debian".to_owned()];
    let generated = workflow(provider, &input(&images)).expect("writes the workflow");
    let broken = match provider {
        Provider::GitHub => {
            generated.text.replace("    runs-on: ubuntu-latest", "    runs-on: ubuntu-latest\n    run-on: x")
        }
        Provider::GitLab => generated.text.replacen("    expose_as:", "    expose:", 1),
        Provider::CircleCi => generated.text.replace("    docker:", "    dockers:"),
        Provider::Generic => unreachable!("generic runs have no workflow"),
    };
    assert_ne!(broken, generated.text, "the mistake should be planted");
    for (command, passed, output) in lint(generated.path, &broken, &linters_for(provider)) {
        assert!(!passed, "`{command}` accepts a broken {provider} workflow:\n{output}");
    }
}

#[test]
fn the_github_workflow_lints_clean() {
    assert_lints_clean(Provider::GitHub);
}

#[test]
fn the_gitlab_workflow_lints_clean() {
    assert_lints_clean(Provider::GitLab);
}

#[test]
fn the_circleci_workflow_lints_clean() {
    assert_lints_clean(Provider::CircleCi);
}

#[test]
fn the_linters_reject_a_broken_github_workflow() {
    assert_rejects_a_broken_workflow(Provider::GitHub);
}

#[test]
fn the_linters_reject_a_broken_gitlab_workflow() {
    assert_rejects_a_broken_workflow(Provider::GitLab);
}

#[test]
fn the_linters_reject_a_broken_circleci_workflow() {
    assert_rejects_a_broken_workflow(Provider::CircleCi);
}
