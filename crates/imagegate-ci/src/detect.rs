//! Detection: which provider a run is on, what that provider says about the run, and which of
//! the run's own `IMAGEGATE_*` overrides may change that.
//!
//! Detection is a pure function of the environment and of the bytes of files it asks for
//! (GitHub's event payload), so every rule here is unit-tested with maps and fixtures.
//!
//! Overrides on a detected provider (GitHub Actions, GitLab CI/CD, CircleCI):
//!
//! - `IMAGEGATE_EVENT` may turn a trusted push, schedule or manual run into another of those
//!   three (CircleCI's legacy scheduled workflows need this to say they are scheduled), or make
//!   any run a pull request. It can never make a run that the provider reports as a pull
//!   request, a tag or an unknown trigger into a trusted one: such an override is ignored with a
//!   warning.
//! - `IMAGEGATE_BRANCH` is ignored: the branch promotion is judged on is the one the provider
//!   reports, so a run cannot name itself `main`.
//! - `IMAGEGATE_DEFAULT_BRANCH` and `IMAGEGATE_COMMIT` only fill in what the provider does not
//!   say (CircleCI has no default branch variable); they never replace what it does.
//!
//! - `IMAGEGATE_RUNNER=ephemeral|persistent` overrides whether the runner is taken for one
//!   that is thrown away after the job (see [`ephemeral_runner`]); it changes no trust.
//!
//! These rules keep mistakes in CI configuration from promoting. They are not a sandbox: code
//! that a pull request runs can run anything, so the boundary that matters is the provider's
//! own, which withholds secrets (registry credentials among them) from runs of untrusted code.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::error::CiError;
use crate::run::{CiRun, Event, Provider};
use crate::{circleci, generic, github, gitlab};

/// Reads a file that detection needs (GitHub's event payload). The caller passes
/// `&|path| std::fs::read(path)`; tests pass fixtures.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> io::Result<Vec<u8>>;

/// The variable each provider documents as `true` in every one of its jobs.
pub(crate) const MARKERS: [(Provider, &str); 3] =
    [(Provider::GitHub, "GITHUB_ACTIONS"), (Provider::GitLab, "GITLAB_CI"), (Provider::CircleCi, "CIRCLECI")];

/// Detects the CI run described by `environment` (the process environment, as a map) and by
/// the files the provider points at, read through `read_file`.
pub fn detect(environment: &BTreeMap<String, String>, read_file: ReadFile<'_>) -> Result<CiRun, CiError> {
    let environment = Environment::new(environment);
    let mut run = match choose_provider(&environment)? {
        Provider::GitHub => github::detect(&environment, read_file)?,
        Provider::GitLab => gitlab::detect(&environment)?,
        Provider::CircleCi => circleci::detect(&environment)?,
        Provider::Generic => {
            let mut run = generic::detect(&environment)?;
            run.ephemeral_runner = ephemeral_runner(&environment, Provider::Generic)?;
            return Ok(run);
        }
    };
    apply_overrides(&environment, &mut run)?;
    run.ephemeral_runner = ephemeral_runner(&environment, run.provider)?;
    // Every rule above keeps this already; stated once more so that no future rule can break it.
    run.trusted = run.trusted && run.event.is_trusted();
    Ok(run)
}

/// The process environment as a map for [`detect`]. Variables whose name or value is not
/// Unicode are left out: no variable imagegate reads can be one of them.
pub fn process_environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

fn choose_provider(environment: &Environment<'_>) -> Result<Provider, CiError> {
    let detected: Vec<(Provider, &str)> =
        MARKERS.into_iter().filter(|(_, marker)| environment.is_true(marker)).collect();
    if detected.len() > 1 {
        let names: Vec<&str> = detected.iter().map(|(_, marker)| *marker).collect();
        return Err(CiError::AmbiguousProvider { markers: names.join(", ") });
    }
    let detected = detected.first().map(|(provider, _)| *provider);
    match (environment.get("IMAGEGATE_PROVIDER"), detected) {
        (None, Some(provider)) => Ok(provider),
        (None, None) => Err(CiError::NoProvider),
        (Some(value), detected) => {
            let requested =
                Provider::from_key(value).ok_or_else(|| CiError::UnknownProvider { value: value.to_owned() })?;
            match detected {
                Some(detected) if detected != requested => {
                    Err(CiError::ProviderConflict { requested: requested.key(), detected })
                }
                _ => Ok(requested),
            }
        }
    }
}

fn apply_overrides(environment: &Environment<'_>, run: &mut CiRun) -> Result<(), CiError> {
    if let Some(requested) = environment.event_override()? {
        // An override may choose among the events that promote only where the provider reports
        // one of them; anywhere else it may only make the run less trusted.
        let reported_promotable = run.trusted && matches!(run.event, Event::Push | Event::Schedule | Event::Manual);
        if requested.is_trusted() && !reported_promotable {
            run.warnings.push(format!(
                "IMAGEGATE_EVENT={} is ignored: {} reports a {} run, and overrides never make a run promotable",
                requested.key(),
                run.provider,
                run.event
            ));
        } else {
            run.trusted = run.trusted && requested.is_trusted();
            run.event = requested;
        }
    }
    if let Some(branch) = environment.get("IMAGEGATE_BRANCH")
        && run.branch.as_deref() != Some(branch)
    {
        let reported = run.branch.as_deref().map_or_else(|| "no branch".to_owned(), |branch| format!("`{branch}`"));
        run.warnings.push(format!(
            "IMAGEGATE_BRANCH={branch} is ignored: on {} the branch is the one the provider reports ({reported})",
            run.provider
        ));
    }
    fill_gap(&mut run.default_branch, environment.get("IMAGEGATE_DEFAULT_BRANCH"));
    fill_gap(&mut run.commit, environment.get("IMAGEGATE_COMMIT"));
    Ok(())
}

/// Whether the job runs on a machine the provider throws away afterwards, and how that was
/// told. What each provider lets a job see:
///
/// - GitHub Actions sets `RUNNER_ENVIRONMENT` to `github-hosted` or `self-hosted` (documented
///   among the default variables); the former is ephemeral.
/// - GitLab sets no such variable. A job on GitLab.com's hosted runners is recognised by
///   `CI_SERVER_HOST=gitlab.com` together with the runner's tags (`saas-linux-…`, the tags
///   GitLab documents for choosing those runners, in `CI_RUNNER_TAGS`) or its description
///   (`…runners-manager.gitlab.com…`, `shared-runners-manager-…`): a heuristic, which a
///   self-managed instance or a project's own runner never matches.
/// - CircleCI names no executor kind in a job's environment. Every job of CircleCI's cloud
///   (`CIRCLE_BUILD_URL` on circleci.com) is taken for ephemeral, as its docker, machine and
///   macOS executors are; a self-hosted runner cannot be told apart there, so it needs
///   `IMAGEGATE_RUNNER=persistent`.
///
/// `IMAGEGATE_RUNNER` (`ephemeral` or `persistent`) overrides all of this, on any provider.
fn ephemeral_runner(environment: &Environment<'_>, provider: Provider) -> Result<Option<String>, CiError> {
    match environment.get("IMAGEGATE_RUNNER") {
        Some("ephemeral") => return Ok(Some("IMAGEGATE_RUNNER=ephemeral".to_owned())),
        Some("persistent") => return Ok(None),
        Some(value) => {
            return Err(CiError::InvalidValue {
                variable: "IMAGEGATE_RUNNER",
                value: value.to_owned(),
                hint: "use `ephemeral` (the runner is thrown away after the job) or `persistent`",
            });
        }
        None => {}
    }
    Ok(match provider {
        Provider::GitHub => (environment.get("RUNNER_ENVIRONMENT") == Some("github-hosted"))
            .then(|| "a GitHub-hosted runner (RUNNER_ENVIRONMENT=github-hosted)".to_owned()),
        Provider::GitLab => {
            let on_gitlab_com = environment.get("CI_SERVER_HOST") == Some("gitlab.com");
            let tags = environment.get("CI_RUNNER_TAGS").unwrap_or_default();
            let description = environment.get("CI_RUNNER_DESCRIPTION").unwrap_or_default();
            let hosted = tags.contains("saas-")
                || description.contains("runners-manager.gitlab.com")
                || description.contains("shared-runners-manager");
            (on_gitlab_com && hosted).then(|| {
                "a GitLab.com hosted runner (CI_SERVER_HOST=gitlab.com, CI_RUNNER_TAGS/CI_RUNNER_DESCRIPTION)"
                    .to_owned()
            })
        }
        Provider::CircleCi => {
            let url = environment.get("CIRCLE_BUILD_URL").unwrap_or_default();
            (url.starts_with("https://circleci.com/") || url.starts_with("https://app.circleci.com/"))
                .then(|| "a CircleCI cloud job (CIRCLE_BUILD_URL on circleci.com)".to_owned())
        }
        Provider::Generic => None,
    })
}

fn fill_gap(field: &mut Option<String>, value: Option<&str>) {
    if field.is_none() {
        *field = value.map(str::to_owned);
    }
}

/// Read access to the environment map. Empty values count as unset: CI configurations often
/// define a variable as empty rather than leave it out (CircleCI writes `<nil>` for an empty
/// pipeline value, which counts as unset too).
pub(crate) struct Environment<'a> {
    map: &'a BTreeMap<String, String>,
}

impl<'a> Environment<'a> {
    pub(crate) fn new(map: &'a BTreeMap<String, String>) -> Self {
        Environment { map }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.map.get(name).map(String::as_str).filter(|value| !value.is_empty() && *value != "<nil>")
    }

    pub(crate) fn is_true(&self, name: &str) -> bool {
        self.get(name).is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    pub(crate) fn require(
        &self,
        provider: Provider,
        variable: &'static str,
        hint: &'static str,
    ) -> Result<&'a str, CiError> {
        self.get(variable).ok_or(CiError::MissingVariable { provider, variable, hint })
    }

    /// A number the provider documents as one (a pull request's), or an error naming it.
    pub(crate) fn number(&self, variable: &'static str) -> Result<Option<u64>, CiError> {
        self.get(variable)
            .map(|value| {
                value.parse().map_err(|_| CiError::InvalidValue {
                    variable,
                    value: value.to_owned(),
                    hint: "the provider sets this to a number; check that the CI configuration does not override it",
                })
            })
            .transpose()
    }

    /// `IMAGEGATE_EVENT`, parsed.
    pub(crate) fn event_override(&self) -> Result<Option<Event>, CiError> {
        self.get("IMAGEGATE_EVENT")
            .map(|value| {
                parse_event(value).ok_or_else(|| CiError::InvalidValue {
                    variable: "IMAGEGATE_EVENT",
                    value: value.to_owned(),
                    hint: "use `push`, `pull_request`, `fork_pull_request`, `schedule` or `manual`",
                })
            })
            .transpose()
    }
}

fn parse_event(value: &str) -> Option<Event> {
    match value {
        "push" => Some(Event::Push),
        "pull_request" => Some(Event::PullRequest),
        "fork_pull_request" => Some(Event::ForkPullRequest),
        "schedule" => Some(Event::Schedule),
        "manual" => Some(Event::Manual),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    fn no_files(path: &Path) -> io::Result<Vec<u8>> {
        Err(io::Error::new(io::ErrorKind::NotFound, format!("no file {} in this test", path.display())))
    }

    fn detect_in(pairs: &[(&str, &str)]) -> Result<CiRun, CiError> {
        detect(&environment(pairs), &no_files)
    }

    const GITLAB_PUSH: &[(&str, &str)] = &[
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_COMMIT_SHA", "5d5b2c1b0c8f1a8f2d7c6e9a4b3c2d1e0f9a8b7c"),
        ("CI_DEFAULT_BRANCH", "main"),
    ];

    const GITLAB_MERGE_REQUEST: &[(&str, &str)] = &[
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_MERGE_REQUEST_IID", "7"),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
        ("CI_MERGE_REQUEST_PROJECT_ID", "11"),
        ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "11"),
        ("CI_COMMIT_SHA", "5d5b2c1b0c8f1a8f2d7c6e9a4b3c2d1e0f9a8b7c"),
    ];

    fn with(
        base: &[(&'static str, &'static str)],
        extra: &[(&'static str, &'static str)],
    ) -> Vec<(&'static str, &'static str)> {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        pairs
    }

    #[test]
    fn no_provider_is_an_error_with_a_hint() {
        let error = detect_in(&[("CI", "true")]).expect_err("no provider");
        assert!(matches!(error, CiError::NoProvider));
        assert!(error.to_string().contains("hint: on another CI service, set IMAGEGATE_PROVIDER=generic"));
    }

    #[test]
    fn two_provider_markers_are_refused() {
        let error = detect_in(&[("GITHUB_ACTIONS", "true"), ("GITLAB_CI", "true")]).expect_err("ambiguous");
        assert_eq!(
            error.to_string().lines().next(),
            Some("detect the CI provider: GITHUB_ACTIONS, GITLAB_CI are all `true`")
        );
    }

    #[test]
    fn imagegate_provider_cannot_replace_a_detected_provider() {
        let pairs = with(GITLAB_MERGE_REQUEST, &[("IMAGEGATE_PROVIDER", "generic"), ("IMAGEGATE_EVENT", "push")]);
        let error = detect_in(&pairs).expect_err("conflict");
        assert!(matches!(error, CiError::ProviderConflict { requested: "generic", detected: Provider::GitLab }));
    }

    #[test]
    fn imagegate_provider_may_name_the_detected_provider() {
        let pairs = with(GITLAB_PUSH, &[("IMAGEGATE_PROVIDER", "gitlab")]);
        assert_eq!(detect_in(&pairs).expect("detects").provider, Provider::GitLab);
    }

    #[test]
    fn an_unknown_provider_name_is_an_error() {
        let error = detect_in(&[("IMAGEGATE_PROVIDER", "jenkins")]).expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "read IMAGEGATE_PROVIDER `jenkins`\n  hint: use `github`, `gitlab`, `circleci` or `generic`"
        );
    }

    #[test]
    fn the_event_override_turns_a_trusted_push_into_a_schedule() {
        let run = detect_in(&with(GITLAB_PUSH, &[("IMAGEGATE_EVENT", "schedule")])).expect("detects");
        assert_eq!(run.event, Event::Schedule);
        assert!(run.trusted);
        assert!(run.warnings.is_empty());
    }

    #[test]
    fn the_event_override_can_lower_trust() {
        let run = detect_in(&with(GITLAB_PUSH, &[("IMAGEGATE_EVENT", "fork_pull_request")])).expect("detects");
        assert_eq!(run.event, Event::ForkPullRequest);
        assert!(!run.trusted);
    }

    #[test]
    fn the_event_override_never_makes_a_merge_request_trusted() {
        for requested in ["push", "schedule", "manual"] {
            let run = detect_in(&with(GITLAB_MERGE_REQUEST, &[("IMAGEGATE_EVENT", requested)])).expect("detects");
            assert_eq!(run.event, Event::PullRequest, "IMAGEGATE_EVENT={requested}");
            assert!(!run.trusted, "IMAGEGATE_EVENT={requested}");
            assert_eq!(
                run.warnings,
                [format!(
                    "IMAGEGATE_EVENT={requested} is ignored: GitLab CI/CD reports a pull_request run, and \
                     overrides never make a run promotable"
                )]
            );
        }
    }

    #[test]
    fn the_event_override_may_call_a_merge_request_a_fork() {
        let run = detect_in(&with(GITLAB_MERGE_REQUEST, &[("IMAGEGATE_EVENT", "fork_pull_request")])).expect("detects");
        assert_eq!(run.event, Event::ForkPullRequest);
        assert!(!run.trusted);
    }

    #[test]
    fn the_event_override_never_makes_a_tag_or_unknown_trigger_promotable() {
        let tag = with(
            &[("GITLAB_CI", "true"), ("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_TAG", "v1")],
            &[("IMAGEGATE_EVENT", "push"), ("IMAGEGATE_BRANCH", "main")],
        );
        let run = detect_in(&tag).expect("detects");
        assert_eq!(run.event, Event::Tag);
        assert!(run.may_promote(&["main".to_owned()]).is_err());

        let trigger = with(
            &[("GITLAB_CI", "true"), ("CI_PIPELINE_SOURCE", "trigger"), ("CI_COMMIT_BRANCH", "main")],
            &[("IMAGEGATE_EVENT", "manual")],
        );
        let run = detect_in(&trigger).expect("detects");
        assert_eq!(run.event, Event::Other("trigger".to_owned()));
        assert!(!run.trusted);
    }

    #[test]
    fn an_invalid_event_override_is_an_error() {
        let error = detect_in(&with(GITLAB_PUSH, &[("IMAGEGATE_EVENT", "nightly")])).expect_err("invalid");
        assert_eq!(
            error.to_string(),
            "read IMAGEGATE_EVENT `nightly`\n  hint: use `push`, `pull_request`, `fork_pull_request`, `schedule` or \
             `manual`"
        );
    }

    #[test]
    fn the_branch_override_is_ignored_on_a_detected_provider() {
        let pairs = with(
            &[("GITLAB_CI", "true"), ("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_BRANCH", "feature")],
            &[("IMAGEGATE_BRANCH", "main")],
        );
        let run = detect_in(&pairs).expect("detects");
        assert_eq!(run.branch.as_deref(), Some("feature"));
        assert!(run.may_promote(&["main".to_owned()]).is_err());
        assert_eq!(
            run.warnings,
            [
                "IMAGEGATE_BRANCH=main is ignored: on GitLab CI/CD the branch is the one the provider reports (`feature`)"
            ]
        );
    }

    #[test]
    fn default_branch_and_commit_overrides_only_fill_gaps() {
        let circleci = [
            ("CIRCLECI", "true"),
            ("CIRCLE_BRANCH", "main"),
            ("IMAGEGATE_DEFAULT_BRANCH", "main"),
            ("IMAGEGATE_COMMIT", "0123456789abcdef0123456789abcdef01234567"),
        ];
        let run = detect_in(&circleci).expect("detects");
        assert_eq!(run.default_branch.as_deref(), Some("main"));
        assert_eq!(run.commit.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));

        let run =
            detect_in(&with(GITLAB_PUSH, &[("IMAGEGATE_DEFAULT_BRANCH", "develop"), ("IMAGEGATE_COMMIT", "f00")]))
                .expect("detects");
        assert_eq!(run.default_branch.as_deref(), Some("main"));
        assert_eq!(run.commit.as_deref(), Some("5d5b2c1b0c8f1a8f2d7c6e9a4b3c2d1e0f9a8b7c"));
    }

    #[test]
    fn hosted_runners_are_told_from_each_provider_environment() {
        let github = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
            ("GITHUB_EVENT_PATH", "/event.json"),
            ("GITHUB_REF", "refs/heads/main"),
        ];
        let read = |_: &Path| Ok(br#"{"repository": {"default_branch": "main"}}"#.to_vec());
        let detect_github = |extra: &[(&'static str, &'static str)]| {
            detect(&environment(&with(&github, extra)), &read).expect("detects").ephemeral_runner
        };
        assert!(detect_github(&[("RUNNER_ENVIRONMENT", "github-hosted")]).is_some());
        assert_eq!(detect_github(&[("RUNNER_ENVIRONMENT", "self-hosted")]), None);
        assert_eq!(detect_github(&[]), None);

        let gitlab_com = with(GITLAB_PUSH, &[("CI_SERVER_HOST", "gitlab.com")]);
        let ephemeral = |pairs: &[(&str, &str)]| detect_in(pairs).expect("detects").ephemeral_runner;
        assert!(ephemeral(&with(&gitlab_com, &[("CI_RUNNER_TAGS", r#"["saas-linux-small-amd64"]"#)])).is_some());
        assert!(
            ephemeral(&with(
                &gitlab_com,
                &[("CI_RUNNER_DESCRIPTION", "3-green.saas-linux-small-amd64.runners-manager.gitlab.com/default")]
            ))
            .is_some()
        );
        assert_eq!(ephemeral(&with(&gitlab_com, &[("CI_RUNNER_DESCRIPTION", "acme build box")])), None);
        assert_eq!(ephemeral(&with(GITLAB_PUSH, &[("CI_RUNNER_TAGS", "saas-linux-small-amd64")])), None);

        let circleci = [("CIRCLECI", "true"), ("CIRCLE_BRANCH", "main")];
        assert!(ephemeral(&with(&circleci, &[("CIRCLE_BUILD_URL", "https://circleci.com/gh/acme/app/12")])).is_some());
        assert_eq!(
            ephemeral(&with(&circleci, &[("CIRCLE_BUILD_URL", "https://circleci.acme.internal/gh/a/b/1")])),
            None
        );
    }

    #[test]
    fn the_runner_override_wins_either_way_and_is_checked() {
        let hosted =
            with(GITLAB_PUSH, &[("CI_SERVER_HOST", "gitlab.com"), ("CI_RUNNER_TAGS", "saas-linux-small-amd64")]);
        let persistent = detect_in(&with(&hosted, &[("IMAGEGATE_RUNNER", "persistent")])).expect("detects");
        assert_eq!(persistent.ephemeral_runner, None);
        let ephemeral = detect_in(&with(GITLAB_PUSH, &[("IMAGEGATE_RUNNER", "ephemeral")])).expect("detects");
        assert_eq!(ephemeral.ephemeral_runner.as_deref(), Some("IMAGEGATE_RUNNER=ephemeral"));
        let error = detect_in(&with(GITLAB_PUSH, &[("IMAGEGATE_RUNNER", "cloud")])).expect_err("invalid");
        assert!(error.to_string().starts_with("read IMAGEGATE_RUNNER `cloud`"), "{error}");
    }

    #[test]
    fn empty_and_nil_values_count_as_unset() {
        let pairs = with(GITLAB_PUSH, &[("IMAGEGATE_EVENT", ""), ("IMAGEGATE_PROVIDER", "<nil>")]);
        let run = detect_in(&pairs).expect("detects");
        assert_eq!(run.event, Event::Push);
    }
}
