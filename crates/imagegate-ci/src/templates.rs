//! The CI configuration `imagegate init --ci github|gitlab|circleci` writes: one job that
//! checks out the project, installs imagegate and runs `imagegate ci` on pushes to every
//! branch, on pull or merge requests, on a nightly schedule and by hand.
//!
//! `imagegate ci` decides everything else from the run itself: pull requests are gated but never
//! promote, scheduled runs rebuild without cache, and only the branches in `[promote] branches`
//! promote. So the workflows pass nothing special to any trigger, except on CircleCI, where a
//! job cannot see how its pipeline was triggered unless the configuration passes it on (see
//! `circleci.rs`).

use crate::error::TemplateError;
use crate::publication::{CIRCLECI_ENV_FILE, CIRCLECI_WORKSPACE_FOLDER, GITLAB_DOTENV_FILE, JUNIT_FILE, variable_name};
use crate::run::Provider;

/// A CI configuration file to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workflow {
    /// Where the provider looks for it, relative to the repository root.
    pub path: &'static str,
    pub text: String,
}

/// The nightly schedule: 03:17 UTC, off the full hour, when scheduled runs queue the longest.
const NIGHTLY_CRON: &str = "17 3 * * *";

const ABOUT: &str = "\
# imagegate gates this project's CI images on its own test suite: each run builds or reuses a
# candidate of every image in imagegate.toml, runs the suite in it and in the stable image, and
# moves the stable tag to the candidate only if it does at least as well. Pull requests are
# gated but never promote; pushes to the branches in [promote] branches do. Scheduled runs
# rebuild without cache, to pick up new releases of what the images install.
";

const INSTALL_COMMENT: &str = "\
imagegate from crates.io; --locked builds it with the dependency versions it was released with.";

/// The workflow for `provider`, handing on a reference for each of `images` (the names of
/// `[images.NAME]` in imagegate.toml).
pub fn workflow(provider: Provider, images: &[String]) -> Result<Workflow, TemplateError> {
    if let Some(name) = images.iter().find(|name| !is_image_name(name)) {
        return Err(TemplateError::ImageName { name: name.clone() });
    }
    match provider {
        Provider::GitHub => Ok(github(images)),
        Provider::GitLab => Ok(gitlab(images)),
        Provider::CircleCi => Ok(circleci(images)),
        Provider::Generic => Err(TemplateError::NoTemplate { provider }),
    }
}

/// The characters imagegate.toml allows in an image name, which are also safe in YAML keys and
/// in GitHub expressions inside quotes.
fn is_image_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte))
}

fn github(images: &[String]) -> Workflow {
    let mut handed_on = String::new();
    if !images.is_empty() {
        handed_on.push_str(
            "#\n# Later steps of the job read each image's reference as a step output; declare job outputs\n\
             # to hand them to other jobs:\n",
        );
        handed_on
            .extend(images.iter().map(|image| format!("#   ${{{{ steps.imagegate.outputs['image-{image}'] }}}}\n")));
    }
    let text = format!(
        "\
{ABOUT}{handed_on}
name: imagegate

on:
  push:
    branches: [\"**\"]
  pull_request:
  schedule:
    - cron: \"{NIGHTLY_CRON}\"
  workflow_dispatch:

permissions:
  contents: read

# One run per ref at a time, so that two promotions of the same branch cannot interleave.
concurrency:
  group: imagegate-${{{{ github.ref }}}}
  cancel-in-progress: false

jobs:
  imagegate:
    # A pull request from a branch of this repository is gated by the push of that branch
    # already; only pull requests from forks need a run of their own.
    if: github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name != github.repository
    runs-on: ubuntu-latest
    # Room for building the candidates and running the suite twice.
    timeout-minutes: 180
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          # Full history, as in a developer's clone.
          fetch-depth: 0
          persist-credentials: false
      # {INSTALL_COMMENT}
      # The runner image has cargo and a docker engine.
      - name: Install imagegate
        run: cargo install --locked imagegate
      - name: Gate the CI images
        id: imagegate
        run: imagegate ci
"
    );
    Workflow { path: ".github/workflows/imagegate.yml", text }
}

fn variables_comment(images: &[String], line_prefix: &str) -> String {
    images.iter().map(|image| format!("{line_prefix}{}\n", variable_name(image))).collect()
}

fn gitlab(images: &[String]) -> Workflow {
    let mut handed_on = String::new();
    if !images.is_empty() {
        handed_on.push_str("#\n# Later jobs get each image's reference in a variable (artifacts:reports:dotenv):\n");
        handed_on.push_str(&variables_comment(images, "#   "));
    }
    let text = format!(
        "\
{ABOUT}{handed_on}
imagegate:
  # Rust for installing imagegate, and a docker engine beside the job (docker-in-docker, which
  # needs a runner that allows privileged services). The checkout is copied into test
  # containers, never mounted, so a remote engine works.
  image: rust:1-bookworm
  services:
    - name: docker:27-dind
      alias: docker
  variables:
    DOCKER_HOST: tcp://docker:2375
    DOCKER_TLS_CERTDIR: \"\"
    # Full history, as in a developer's clone.
    GIT_DEPTH: \"0\"
  rules:
    - if: $CI_PIPELINE_SOURCE == \"push\" && $CI_COMMIT_BRANCH
    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"
    - if: $CI_PIPELINE_SOURCE == \"schedule\"
    - if: $CI_PIPELINE_SOURCE == \"web\"
  before_script:
    # The docker client, for the engine in the service.
    - apt-get update -qq && apt-get install -y -qq docker.io > /dev/null
    # {INSTALL_COMMENT}
    - cargo install --locked imagegate
  script:
    - imagegate ci
  artifacts:
    # Also when a candidate is blocked: the report says which tests regressed.
    when: always
    reports:
      dotenv: {GITLAB_DOTENV_FILE}
      junit: {JUNIT_FILE}
# For the nightly run without cache, add a pipeline schedule (Build > Pipeline schedules) on
# the default branch, e.g. \"{NIGHTLY_CRON}\".
"
    );
    Workflow { path: ".gitlab-ci.yml", text }
}

fn circleci(images: &[String]) -> Workflow {
    let mut handed_on = String::new();
    if !images.is_empty() {
        handed_on.push_str(&format!(
            "#\n# Later jobs in the workflow get each image's reference with `attach_workspace: {{at: /tmp/imagegate}}`\n\
             # and `source /tmp/imagegate/{CIRCLECI_ENV_FILE}`:\n"
        ));
        handed_on.push_str(&variables_comment(images, "#   "));
    }
    let text = format!(
        "\
{ABOUT}{handed_on}
version: 2.1

jobs:
  imagegate:
    parameters:
      event:
        description: IMAGEGATE_EVENT for the run; the scheduled workflow passes `schedule`.
        type: string
        default: \"\"
    docker:
      - image: cimg/rust:1.88.0
    environment:
      IMAGEGATE_EVENT: << parameters.event >>
      # CircleCI jobs cannot see how their pipeline was triggered unless it is passed on.
      IMAGEGATE_CIRCLECI_TRIGGER_SOURCE: << pipeline.trigger_source >>
    steps:
      - checkout
      # A docker engine for the job. The checkout is copied into test containers, never
      # mounted, so a remote engine works.
      - setup_remote_docker
      - run:
          name: Install imagegate
          # {INSTALL_COMMENT}
          command: cargo install --locked imagegate
      - run:
          name: Gate the CI images
          # The exit status waits for the last step, so that the report and the image
          # references are handed on also when a candidate is blocked.
          command: |
            status=0
            imagegate ci || status=$?
            echo \"$status\" > imagegate-status
      - store_test_results:
          path: {JUNIT_FILE}
      - persist_to_workspace:
          root: {CIRCLECI_WORKSPACE_FOLDER}
          paths:
            - {CIRCLECI_ENV_FILE}
      - run:
          name: Verdict
          command: exit \"$(cat imagegate-status)\"

workflows:
  imagegate:
    jobs:
      - imagegate
  nightly:
    triggers:
      - schedule:
          cron: \"{NIGHTLY_CRON}\"
          filters:
            branches:
              only:
                # The branch promotions happen on.
                - main
    jobs:
      - imagegate:
          event: schedule
"
    );
    Workflow { path: ".circleci/config.yml", text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> Vec<String> {
        vec!["debian".to_owned(), "tools.x".to_owned()]
    }

    #[test]
    fn github_workflow() {
        let workflow = workflow(Provider::GitHub, &images()).expect("writes");
        assert_eq!(workflow.path, ".github/workflows/imagegate.yml");
        insta::assert_snapshot!("github", workflow.text);
    }

    #[test]
    fn gitlab_workflow() {
        let workflow = workflow(Provider::GitLab, &images()).expect("writes");
        assert_eq!(workflow.path, ".gitlab-ci.yml");
        insta::assert_snapshot!("gitlab", workflow.text);
    }

    #[test]
    fn circleci_workflow() {
        let workflow = workflow(Provider::CircleCi, &images()).expect("writes");
        assert_eq!(workflow.path, ".circleci/config.yml");
        insta::assert_snapshot!("circleci", workflow.text);
    }

    #[test]
    fn a_workflow_without_images_lists_no_references() {
        for provider in [Provider::GitHub, Provider::GitLab, Provider::CircleCi] {
            let workflow = workflow(provider, &[]).expect("writes");
            assert!(!workflow.text.contains("Later"), "{provider}");
        }
    }

    #[test]
    fn generic_has_no_template() {
        let error = workflow(Provider::Generic, &images()).expect_err("no template");
        assert!(matches!(error, TemplateError::NoTemplate { provider: Provider::Generic }));
    }

    #[test]
    fn image_names_outside_the_config_rules_are_refused() {
        for name in ["", "Debian", "a b", "a'b", "a:b"] {
            let error = workflow(Provider::GitLab, &[name.to_owned()]).expect_err("refused");
            assert!(matches!(error, TemplateError::ImageName { .. }), "{name:?}");
        }
    }
}
