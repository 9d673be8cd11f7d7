//! The CI configuration `imagegate init --ci github|gitlab|circleci` writes: jobs that check
//! out the project, install imagegate and run `imagegate ci` on pushes to every branch, on
//! pull or merge requests, nightly on the default branch and by hand, with the reports
//! uploaded where the provider shows them.
//!
//! `imagegate ci` decides everything else from the run itself: pull requests are gated but never
//! promote, scheduled runs rebuild without cache, and only the branches in `[promote] branches`
//! promote. The templates add the provider's own boundary on top: the job that pull or merge
//! requests from forks run has no registry login with write access (GitHub: a separate job with
//! `packages: read`; GitLab: a separate job that never logs in; CircleCI: a separate invocation
//! without the context that holds the credentials), so a fork cannot promote even if imagegate
//! were wrong about the event.
//!
//! imagegate is installed with `cargo install --locked --git REPOSITORY --tag vVERSION`, pinned
//! to the version that wrote the workflow: it needs no crates.io release, and the tag pins the
//! source and, with `--locked`, every dependency. The binary is cached between runs with the
//! provider's cache, keyed on that version, so only the first run (and the first after an
//! upgrade) compiles it.
//!
//! Where a provider keeps all its configuration in one file (GitLab, CircleCI), the pieces
//! here are inserted into the project's file by [`crate::merge`].

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

/// Where `cargo install` takes imagegate from: a git repository and a release tag in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Install<'a> {
    /// The repository URL (`repository` in the workspace's Cargo.toml).
    pub repository: &'a str,
    /// The version; the tag is `v{version}`.
    pub version: &'a str,
}

impl Install<'static> {
    /// This build of imagegate: the repository and version it was built from.
    pub const CURRENT: Install<'static> =
        Install { repository: env!("CARGO_PKG_REPOSITORY"), version: env!("CARGO_PKG_VERSION") };
}

/// What a template needs from the project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateInput<'a> {
    /// The names of `[images.NAME]` in imagegate.toml, whose references are handed on.
    pub images: &'a [String],
    /// The repository's default branch: the nightly run happens there.
    pub default_branch: &'a str,
    /// `[store] registry` (`HOST/NAMESPACE`): the workflow logs in to its host.
    pub registry: &'a str,
    pub install: Install<'a>,
    /// GitLab: the stage of the jobs (the first stage a project's own file lists, so that they run
    /// first); `None` keeps GitLab's default stage.
    pub gitlab_stage: Option<&'a str>,
}

/// The nightly schedule: 03:17 UTC, off the full hour, when scheduled runs queue the longest.
pub const NIGHTLY_CRON: &str = "17 3 * * *";

/// Where `imagegate ci` writes its reports by default (`--report-dir`).
pub const REPORT_DIR: &str = "imagegate-reports";

/// The CircleCI context that holds the registry credentials.
pub const CIRCLECI_CONTEXT: &str = "imagegate-registry";

/// The GitLab file holding imagegate's jobs, included from `.gitlab-ci.yml`.
pub const GITLAB_INCLUDED_FILE: &str = ".gitlab/imagegate.yml";

/// How every file (and every inserted block) the templates write begins.
pub const FIRST_LINE: &str = "# imagegate gates this project's CI images";

const ABOUT: &str = "\
# imagegate gates this project's CI images on its own test suite: each run builds or reuses a
# candidate of every image in imagegate.toml, runs the suite in it and in the stable image, and
# moves the stable tag to the candidate only if it does at least as well. Pull requests are
# gated but never promote; pushes to the branches in [promote] branches do. Scheduled runs
# rebuild without cache, to pick up new releases of what the images install.
";

/// The names the templates give their jobs and workflows, per provider: a project's own
/// configuration must not use them already.
pub fn reserved_names(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::GitHub | Provider::Generic => &[],
        Provider::GitLab => &["imagegate", "imagegate-merge-request"],
        Provider::CircleCi => &["imagegate", "imagegate-fork-pull-request", "imagegate-nightly"],
    }
}

/// The workflow for `provider`: for GitHub, the workflow file; for GitLab, the included file
/// with imagegate's jobs; for CircleCI, a whole `.circleci/config.yml`.
pub fn workflow(provider: Provider, input: &TemplateInput<'_>) -> Result<Workflow, TemplateError> {
    check(input)?;
    match provider {
        Provider::GitHub => Ok(github(input)),
        Provider::GitLab => Ok(Workflow { path: GITLAB_INCLUDED_FILE, text: gitlab(input) }),
        Provider::CircleCi => {
            let pieces = circleci(input);
            let text =
                format!("{}\nversion: 2.1\n\njobs:\n{}\nworkflows:\n{}", pieces.header, pieces.jobs, pieces.workflows);
            Ok(Workflow { path: ".circleci/config.yml", text })
        }
        Provider::Generic => Err(TemplateError::NoTemplate { provider }),
    }
}

/// CircleCI's configuration in the pieces that go under `jobs:` and `workflows:`, indented by
/// two spaces, for inserting into a project's own `.circleci/config.yml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircleCiPieces {
    /// The comment that opens a new file.
    pub header: String,
    /// Under `jobs:`.
    pub jobs: String,
    /// Under `workflows:`.
    pub workflows: String,
}

/// The pieces of the CircleCI configuration.
pub fn circleci_pieces(input: &TemplateInput<'_>) -> Result<CircleCiPieces, TemplateError> {
    check(input)?;
    Ok(circleci(input))
}

/// The `.gitlab-ci.yml` for a project that has none: it includes [`GITLAB_INCLUDED_FILE`].
pub fn gitlab_root_file() -> String {
    format!("{FIRST_LINE}: its jobs are in {GITLAB_INCLUDED_FILE}.\n\ninclude:\n  - local: {GITLAB_INCLUDED_FILE}\n")
}

fn check(input: &TemplateInput<'_>) -> Result<(), TemplateError> {
    if let Some(name) = input.images.iter().find(|name| !is_image_name(name)) {
        return Err(TemplateError::ImageName { name: name.clone() });
    }
    if !is_branch_name(input.default_branch) {
        return Err(TemplateError::BranchName { name: input.default_branch.to_owned() });
    }
    if !is_plain(input.registry) || !is_plain(input.install.repository) || !is_plain(input.install.version) {
        return Err(TemplateError::Value {
            value: format!("{} {} {}", input.registry, input.install.repository, input.install.version),
        });
    }
    Ok(())
}

/// The characters imagegate.toml allows in an image name, which are also safe in YAML keys and
/// in GitHub expressions inside quotes.
fn is_image_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte))
}

/// Branch names written into YAML strings, shell words and GitHub expressions unquoted need
/// no escaping: git allows more, but a default branch outside these is left to the user.
fn is_branch_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '/', '.'])
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"._-/".contains(&byte))
}

/// URLs, registry locations and versions written into YAML and shell unquoted.
fn is_plain(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"._-/:@+~".contains(&byte))
}

fn registry_host(registry: &str) -> &str {
    registry.split('/').next().unwrap_or(registry)
}

fn install_command(install: Install<'_>, root: Option<&str>) -> String {
    let root = root.map(|root| format!(" --root {root}")).unwrap_or_default();
    format!("cargo install --locked{root} --git {} --tag v{} imagegate", install.repository, install.version)
}

fn install_comment(install: Install<'_>, indent: &str) -> String {
    format!(
        "{indent}# imagegate {version} from its git repository (no crates.io release needed): the tag pins the\n\
         {indent}# source, --locked every dependency. The binary is cached under a key with the version, so\n\
         {indent}# only the first run compiles it (several minutes); change both together to upgrade.\n",
        version = install.version
    )
}

fn variables_comment(images: &[String], line_prefix: &str) -> String {
    images.iter().map(|image| format!("{line_prefix}{}\n", variable_name(image))).collect()
}

/// Fills `@NAME@` placeholders: the templates are full of `${{ }}` and `<< >>`, which a
/// `format!` string would have to escape.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_owned(), |text, (name, value)| text.replace(&format!("@{name}@"), value))
}

const GITHUB: &str = r#"@ABOUT@@HANDED_ON@
name: imagegate

on:
  push:
    branches: ["**"]
  pull_request:
  # GitHub runs schedules on the default branch (@DEFAULT_BRANCH@ when this was written).
  schedule:
    - cron: "@CRON@"
  workflow_dispatch:

# Nothing by default: each job asks for what it needs.
permissions: {}

# One run per ref at a time, so that two promotions of the same branch cannot interleave.
concurrency:
  group: imagegate-${{ github.ref }}
  cancel-in-progress: false

jobs:
  # Pushes, the nightly run and manual runs: people with write access started them, so this
  # job may write candidates and stable tags to the registry (GHCR, with the job's token).
  imagegate:
    if: github.event_name != 'pull_request' && (github.event_name != 'schedule' || github.ref == 'refs/heads/@DEFAULT_BRANCH@')
    runs-on: ubuntu-latest
    # Room for building the candidates and running the suite twice.
    timeout-minutes: 180
    permissions:
      contents: read
      packages: write
      # The JUnit report's check run.
      checks: write
    steps:
@COMMON_STEPS@
      - name: Log in to the registry
        run: echo "$GITHUB_TOKEN" | docker login @REGISTRY_HOST@ --username "$GITHUB_ACTOR" --password-stdin
        env:
          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
      - name: Gate the CI images
        id: imagegate
        run: imagegate ci
@REPORT_STEPS@
          check_name: imagegate

  # Pull requests from forks: gated with a read-only token, which can neither push to the
  # registry nor move a tag, whatever the pull request changes. A pull request from a branch
  # of this repository is gated by the push of that branch already.
  imagegate-fork-pull-request:
    if: github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name != github.repository
    runs-on: ubuntu-latest
    timeout-minutes: 180
    permissions:
      contents: read
      packages: read
    steps:
@COMMON_STEPS@
      - name: Log in to the registry (read only)
        run: echo "$GITHUB_TOKEN" | docker login @REGISTRY_HOST@ --username "$GITHUB_ACTOR" --password-stdin
        env:
          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
      - name: Gate the CI images
        id: imagegate
        run: imagegate ci
@REPORT_STEPS@
          # A fork's token cannot create check runs: annotations and the job summary only.
          annotate_only: true
"#;

const GITHUB_COMMON_STEPS: &str = r#"      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          # Full history, as in a developer's clone.
          fetch-depth: 0
          persist-credentials: false
@INSTALL_COMMENT@      - uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae # v5.0.5
        with:
          path: ~/.cargo/bin/imagegate
          key: imagegate-${{ runner.os }}-@VERSION@
      # The runner image has cargo and a docker engine.
      - name: Install imagegate
        run: command -v imagegate > /dev/null || @INSTALL@"#;

const GITHUB_REPORT_STEPS: &str = r#"      # The reports, also when a candidate is blocked: report.html, summary.md, junit.xml.
      - uses: actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0
        if: ${{ !cancelled() }}
        with:
          name: imagegate-reports
          path: @REPORT_DIR@/
          if-no-files-found: ignore
      # The suite's results as a test report on the run's page.
      - uses: mikepenz/action-junit-report@d9f48fc87bc235f7e214acf696ca5abc0a986f16 # v6.4.2
        if: ${{ !cancelled() }}
        with:
          report_paths: @REPORT_DIR@/junit.xml
          require_tests: false"#;

fn github(input: &TemplateInput<'_>) -> Workflow {
    let mut handed_on = String::new();
    if !input.images.is_empty() {
        handed_on.push_str(
            "#\n# Later steps of the job read each image's reference as a step output; declare job outputs\n\
             # to hand them to other jobs:\n",
        );
        handed_on.extend(
            input.images.iter().map(|image| format!("#   ${{{{ steps.imagegate.outputs['image-{image}'] }}}}\n")),
        );
    }
    let install = install_command(input.install, None);
    let install_comment = install_comment(input.install, "      ");
    let common = fill(
        GITHUB_COMMON_STEPS,
        &[("INSTALL_COMMENT", &install_comment), ("VERSION", input.install.version), ("INSTALL", &install)],
    );
    let reports = fill(GITHUB_REPORT_STEPS, &[("REPORT_DIR", REPORT_DIR)]);
    let text = fill(
        GITHUB,
        &[
            ("ABOUT", ABOUT),
            ("HANDED_ON", &handed_on),
            ("CRON", NIGHTLY_CRON),
            ("COMMON_STEPS", &common),
            ("REPORT_STEPS", &reports),
            ("REGISTRY_HOST", registry_host(input.registry)),
            ("DEFAULT_BRANCH", input.default_branch),
        ],
    );
    Workflow { path: ".github/workflows/imagegate.yml", text }
}

const GITLAB: &str = r#"@ABOUT@@HANDED_ON@
# Pushes, scheduled pipelines of the default branch (@DEFAULT_BRANCH@) and pipelines started by
# hand: people with write access started them, so this job logs in to the project's registry
# with its job token and may write candidates and stable tags there.
#
# Rust for installing imagegate, and a docker engine beside the job (docker-in-docker, which
# needs a runner that allows privileged services, as GitLab's hosted runners do). The checkout
# is copied into test containers, never mounted, so a remote engine works.
imagegate: &imagegate
@STAGE@  image: rust:1-bookworm
  services:
    - name: docker:27-dind
      alias: docker
  variables:
    DOCKER_HOST: tcp://docker:2375
    DOCKER_TLS_CERTDIR: ""
    # Full history, as in a developer's clone.
    GIT_DEPTH: "0"
@INSTALL_COMMENT@  # GitLab caches only paths inside the project; .imagegate/ is in .gitignore and
  # .dockerignore already.
  cache:
    key: imagegate-@VERSION@
    paths:
      - .imagegate/cargo/
  rules:
    - if: $CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH
    - if: $CI_PIPELINE_SOURCE == "schedule" && $CI_COMMIT_BRANCH == "@DEFAULT_BRANCH@"
    - if: $CI_PIPELINE_SOURCE == "web" && $CI_COMMIT_BRANCH
  before_script:
@BEFORE_SCRIPT@    - echo "$CI_REGISTRY_PASSWORD" | docker login "$CI_REGISTRY" --username "$CI_REGISTRY_USER" --password-stdin
  script:
    - imagegate ci
  artifacts:
    # Also when a candidate is blocked: the reports say which tests regressed.
    when: always
    expose_as: imagegate reports
    paths:
      - @REPORT_DIR@/
    reports:
      dotenv: @DOTENV@
      junit: @JUNIT@

# Merge requests: gated, never promoted. The same job without the registry login: it reads
# what the registry lets anyone read, and cannot write whatever the merge request changes. (A
# merge request from a fork runs in the fork's project anyway, whose job token has no access
# here.)
imagegate-merge-request:
  <<: *imagegate
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  before_script:
@BEFORE_SCRIPT@
# The nightly run without cache: add a pipeline schedule (Build > Pipeline schedules) on
# @DEFAULT_BRANCH@, e.g. "@CRON@".
"#;

fn gitlab(input: &TemplateInput<'_>) -> String {
    let mut handed_on = String::new();
    if !input.images.is_empty() {
        handed_on.push_str("#\n# Later jobs get each image's reference in a variable (artifacts:reports:dotenv):\n");
        handed_on.push_str(&variables_comment(input.images, "#   "));
    }
    // A stage name may hold anything; a JSON string is a YAML double-quoted scalar.
    let stage =
        input.gitlab_stage.map(|stage| format!("  stage: {}\n", serde_json::Value::from(stage))).unwrap_or_default();
    let before_script = format!(
        "    # The docker client, for the engine in the service.\n    \
         - apt-get update -qq && apt-get install -y -qq docker.io > /dev/null\n    \
         - test -x .imagegate/cargo/bin/imagegate || {}\n    \
         - export PATH=\"$CI_PROJECT_DIR/.imagegate/cargo/bin:$PATH\"\n",
        install_command(input.install, Some(".imagegate/cargo"))
    );
    fill(
        GITLAB,
        &[
            ("ABOUT", ABOUT),
            ("HANDED_ON", &handed_on),
            ("STAGE", &stage),
            ("INSTALL_COMMENT", &install_comment(input.install, "  ")),
            ("VERSION", input.install.version),
            ("BEFORE_SCRIPT", &before_script),
            ("REPORT_DIR", REPORT_DIR),
            ("DOTENV", GITLAB_DOTENV_FILE),
            ("JUNIT", JUNIT_FILE),
            ("DEFAULT_BRANCH", input.default_branch),
            ("CRON", NIGHTLY_CRON),
        ],
    )
}

const CIRCLECI_JOBS: &str = r#"  @FIRST_LINE@: this job runs `imagegate ci`
  # (the workflows `imagegate` and `imagegate-nightly` run it).
  imagegate:
    parameters:
      event:
        description: IMAGEGATE_EVENT for the run; the nightly workflow passes `schedule`.
        type: string
        default: ""
    docker:
      - image: cimg/rust:1.88.0
    environment:
      IMAGEGATE_EVENT: << parameters.event >>
      # CircleCI jobs cannot see how their pipeline was triggered unless it is passed on.
      IMAGEGATE_CIRCLECI_TRIGGER_SOURCE: << pipeline.trigger_source >>
      # CircleCI names no default branch in a job's environment.
      IMAGEGATE_DEFAULT_BRANCH: @DEFAULT_BRANCH@
    steps:
      - checkout
      # A docker engine for the job. The checkout is copied into test containers, never
      # mounted, so a remote engine works.
      - setup_remote_docker
@INSTALL_COMMENT@      - restore_cache:
          keys:
            - imagegate-@VERSION@
      - run:
          name: Install imagegate
          command: command -v imagegate > /dev/null || @INSTALL@
      - save_cache:
          key: imagegate-@VERSION@
          paths:
            - ~/.cargo/bin/imagegate
      - run:
          name: Log in to the registry
          # IMAGEGATE_REGISTRY_USERNAME and IMAGEGATE_REGISTRY_PASSWORD come from the
          # @CONTEXT@ context, which only runs of this repository's own branches get.
          command: |
            if [ -z "${IMAGEGATE_REGISTRY_PASSWORD:-}" ]; then
              echo "no registry credentials (a pull request from a fork): the registry is only read"
              exit 0
            fi
            echo "$IMAGEGATE_REGISTRY_PASSWORD" | docker login @REGISTRY_HOST@ --username "$IMAGEGATE_REGISTRY_USERNAME" --password-stdin
      - run:
          name: Gate the CI images
          # The exit status waits for the last step, so that the reports and the image
          # references are handed on also when a candidate is blocked.
          command: |
            status=0
            imagegate ci || status=$?
            echo "$status" > imagegate-status
      - store_test_results:
          path: @JUNIT@
      - store_artifacts:
          path: @REPORT_DIR@
          destination: imagegate-reports
      - persist_to_workspace:
          root: @WORKSPACE@
          paths:
            - @ENV_FILE@
      - run:
          name: Verdict
          command: exit "$(cat imagegate-status)"
"#;

const CIRCLECI_WORKFLOWS: &str = r#"  @FIRST_LINE@: pushes to this repository's branches
  # run with the registry credentials of the @CONTEXT@ context; pull requests from forks
  # (branches `pull/N`) run without them, so they cannot push to the registry at all.
  imagegate:
    jobs:
      - imagegate:
          name: imagegate
          context: @CONTEXT@
          filters:
            branches:
              ignore: /pull\/[0-9]+/
      - imagegate:
          name: imagegate-fork-pull-request
          filters:
            branches:
              only: /pull\/[0-9]+/
  # The nightly run without cache, on the default branch.
  imagegate-nightly:
    triggers:
      - schedule:
          cron: "@CRON@"
          filters:
            branches:
              only:
                - @DEFAULT_BRANCH@
    jobs:
      - imagegate:
          event: schedule
          context: @CONTEXT@
"#;

fn circleci(input: &TemplateInput<'_>) -> CircleCiPieces {
    let mut header = ABOUT.to_owned();
    if !input.images.is_empty() {
        header.push_str(&format!(
            "#\n# Later jobs in the workflow get each image's reference with `attach_workspace: {{at: /tmp/imagegate}}`\n\
             # and `source /tmp/imagegate/{CIRCLECI_ENV_FILE}`:\n"
        ));
        header.push_str(&variables_comment(input.images, "#   "));
    }
    let install = install_command(input.install, None);
    let values = [
        ("FIRST_LINE", FIRST_LINE),
        ("DEFAULT_BRANCH", input.default_branch),
        ("INSTALL_COMMENT", &install_comment(input.install, "      ")),
        ("VERSION", input.install.version),
        ("INSTALL", &install),
        ("CONTEXT", CIRCLECI_CONTEXT),
        ("REGISTRY_HOST", registry_host(input.registry)),
        ("JUNIT", JUNIT_FILE),
        ("REPORT_DIR", REPORT_DIR),
        ("WORKSPACE", CIRCLECI_WORKSPACE_FOLDER),
        ("ENV_FILE", CIRCLECI_ENV_FILE),
        ("CRON", NIGHTLY_CRON),
    ];
    CircleCiPieces { header, jobs: fill(CIRCLECI_JOBS, &values), workflows: fill(CIRCLECI_WORKFLOWS, &values) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> Vec<String> {
        vec!["debian".to_owned(), "tools.x".to_owned()]
    }

    fn input(images: &[String]) -> TemplateInput<'_> {
        TemplateInput {
            images,
            default_branch: "master",
            registry: "ghcr.io/acme/app",
            install: Install { repository: "https://github.com/imagegate/imagegate", version: "0.1.0" },
            gitlab_stage: None,
        }
    }

    #[test]
    fn github_workflow() {
        let workflow = workflow(Provider::GitHub, &input(&images())).expect("writes");
        assert_eq!(workflow.path, ".github/workflows/imagegate.yml");
        insta::assert_snapshot!("github", workflow.text);
    }

    #[test]
    fn gitlab_workflow() {
        let workflow = workflow(Provider::GitLab, &input(&images())).expect("writes");
        assert_eq!(workflow.path, ".gitlab/imagegate.yml");
        insta::assert_snapshot!("gitlab", workflow.text);
    }

    #[test]
    fn circleci_workflow() {
        let workflow = workflow(Provider::CircleCi, &input(&images())).expect("writes");
        assert_eq!(workflow.path, ".circleci/config.yml");
        insta::assert_snapshot!("circleci", workflow.text);
    }

    #[test]
    fn every_template_begins_with_the_first_line() {
        for provider in [Provider::GitHub, Provider::GitLab, Provider::CircleCi] {
            let workflow = workflow(provider, &input(&images())).expect("writes");
            assert!(workflow.text.starts_with(FIRST_LINE), "{provider}");
        }
        let pieces = circleci_pieces(&input(&[])).expect("writes");
        assert!(pieces.jobs.trim_start().starts_with(FIRST_LINE));
        assert!(pieces.workflows.trim_start().starts_with(FIRST_LINE));
    }

    #[test]
    fn the_install_is_pinned_to_a_tag_of_the_repository_and_cached_under_its_version() {
        for provider in [Provider::GitHub, Provider::GitLab, Provider::CircleCi] {
            let text = workflow(provider, &input(&[])).expect("writes").text;
            assert!(text.contains("--git https://github.com/imagegate/imagegate --tag v0.1.0 imagegate"), "{provider}");
            assert!(
                text.contains("imagegate-@VERSION@".replace("@VERSION@", "0.1.0").as_str())
                    || text.contains("imagegate-${{ runner.os }}-0.1.0"),
                "{provider}"
            );
            assert!(!text.contains("cargo install --locked imagegate"), "{provider}");
        }
    }

    #[test]
    fn this_build_installs_from_the_workspace_repository() {
        assert!(Install::CURRENT.repository.starts_with("https://"), "{:?}", Install::CURRENT);
        assert_eq!(Install::CURRENT.version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn the_gitlab_jobs_take_the_stage_given() {
        let mut with_stage = input(&[]);
        with_stage.gitlab_stage = Some("lint");
        let text = workflow(Provider::GitLab, &with_stage).expect("writes").text;
        assert!(text.contains("\nimagegate: &imagegate\n  stage: \"lint\"\n"), "{text}");
        with_stage.gitlab_stage = Some("build: #1");
        let text = workflow(Provider::GitLab, &with_stage).expect("writes").text;
        assert!(text.contains("  stage: \"build: #1\"\n"), "{text}");
    }

    #[test]
    fn a_workflow_without_images_lists_no_references() {
        for provider in [Provider::GitHub, Provider::GitLab, Provider::CircleCi] {
            let workflow = workflow(provider, &input(&[])).expect("writes");
            assert!(!workflow.text.contains("Later"), "{provider}");
        }
    }

    #[test]
    fn generic_has_no_template() {
        let error = workflow(Provider::Generic, &input(&images())).expect_err("no template");
        assert!(matches!(error, TemplateError::NoTemplate { provider: Provider::Generic }));
    }

    #[test]
    fn image_names_outside_the_config_rules_are_refused() {
        for name in ["", "Debian", "a b", "a'b", "a:b"] {
            let names = [name.to_owned()];
            let error = workflow(Provider::GitLab, &input(&names)).expect_err("refused");
            assert!(matches!(error, TemplateError::ImageName { .. }), "{name:?}");
        }
    }

    #[test]
    fn branch_names_that_would_need_quoting_are_refused() {
        for name in ["", "a b", "it's", "-x", "${{ x }}", "a\"b"] {
            let mut odd = input(&[]);
            odd.default_branch = name;
            let error = workflow(Provider::GitHub, &odd).expect_err("refused");
            assert!(matches!(error, TemplateError::BranchName { .. }), "{name:?}");
        }
    }
}
