//! CircleCI: detection from the built-in environment variables, and the env file handed to
//! later jobs through the workspace.
//!
//! Variables read (CircleCI's "Project values and variables", built-in environment variables):
//! `CIRCLE_BRANCH`, `CIRCLE_TAG`, `CIRCLE_SHA1`, `CIRCLE_PROJECT_USERNAME`,
//! `CIRCLE_PROJECT_REPONAME`, `CIRCLE_BUILD_URL`, `CIRCLE_PULL_REQUEST` and
//! `CIRCLE_PULL_REQUESTS` (the pull requests associated with the branch), and `CIRCLE_PR_NUMBER`,
//! `CIRCLE_PR_REPONAME` and `CIRCLE_PR_USERNAME`, which CircleCI documents as set only for pull
//! requests from forks (GitHub OAuth and Bitbucket Cloud projects). CircleCI names the branch of a
//! fork's pull request `pull/N`, which counts as a fork too.
//!
//! CircleCI has no environment variable for how a pipeline was triggered or for the default
//! branch: those are pipeline values, which exist only where the configuration interpolates
//! them. So imagegate reads two variables of its own, which the configuration that
//! `imagegate init --ci circleci` writes sets: `IMAGEGATE_CIRCLECI_TRIGGER_SOURCE` from
//! `<< pipeline.trigger_source >>` (`webhook`, `api` or `scheduled_pipeline`: a scheduled
//! pipeline is [`Event::Schedule`], an API or web-app run [`Event::Manual`]), and
//! `IMAGEGATE_EVENT=schedule` from the job parameter its scheduled workflow passes. Both only
//! ever describe a run that is already trusted. `IMAGEGATE_DEFAULT_BRANCH` fills in the default
//! branch.
//!
//! Any associated pull request makes the run a pull request, also for a push to a branch of
//! the project's own repository: CircleCI builds branches, and cannot say whether the push or
//! the pull request is what the run is for, so imagegate takes the less trusted reading.

use crate::detect::Environment;
use crate::error::{CiError, OutputError};
use crate::publication::{ImageReference, variable_names};
use crate::run::{CiRun, Event, Provider};

pub(crate) fn detect(environment: &Environment<'_>) -> Result<CiRun, CiError> {
    let branch = environment.get("CIRCLE_BRANCH");
    let tag = environment.get("CIRCLE_TAG");
    if branch.is_none() && tag.is_none() {
        return Err(CiError::MissingVariable {
            provider: Provider::CircleCi,
            variable: "CIRCLE_BRANCH",
            hint: "CircleCI sets CIRCLE_BRANCH (or CIRCLE_TAG) in every job; run `imagegate ci` in a job's step",
        });
    }
    let repository = match (environment.get("CIRCLE_PROJECT_USERNAME"), environment.get("CIRCLE_PROJECT_REPONAME")) {
        (Some(owner), Some(name)) => Some(format!("{owner}/{name}")),
        _ => None,
    };
    let fork_number = environment.number("CIRCLE_PR_NUMBER")?;
    let from_fork = fork_number.is_some()
        || environment.get("CIRCLE_PR_REPONAME").is_some()
        || environment.get("CIRCLE_PR_USERNAME").is_some()
        || branch.is_some_and(is_fork_branch);
    let pull_request_url = environment.get("CIRCLE_PULL_REQUEST");
    let has_pull_request = pull_request_url.is_some() || environment.get("CIRCLE_PULL_REQUESTS").is_some();
    let trigger_source = environment.get("IMAGEGATE_CIRCLECI_TRIGGER_SOURCE");

    let event = if from_fork {
        Event::ForkPullRequest
    } else if has_pull_request {
        Event::PullRequest
    } else if tag.is_some() {
        Event::Tag
    } else {
        match trigger_source {
            Some("scheduled_pipeline") => Event::Schedule,
            Some("api") => Event::Manual,
            _ => Event::Push,
        }
    };
    let provider_event = match (&event, trigger_source) {
        (Event::Push | Event::Schedule | Event::Manual, Some(source)) => source.to_owned(),
        _ => event.key().to_owned(),
    };
    Ok(CiRun {
        provider: Provider::CircleCi,
        provider_event,
        trusted: event.is_trusted(),
        branch: if event == Event::Tag { None } else { branch.map(str::to_owned) },
        event,
        default_branch: None,
        commit: environment.get("CIRCLE_SHA1").map(str::to_owned),
        repository,
        pull_request: fork_number.or_else(|| pull_request_url.and_then(number_from_url)),
        run_url: environment.get("CIRCLE_BUILD_URL").map(str::to_owned),
        warnings: Vec::new(),
        ephemeral_runner: None,
    })
}

/// CircleCI's branch name for a fork's pull request: `pull/` and a number.
fn is_fork_branch(branch: &str) -> bool {
    branch
        .strip_prefix("pull/")
        .is_some_and(|number| !number.is_empty() && number.bytes().all(|byte| byte.is_ascii_digit()))
}

/// The number at the end of a pull request URL (`https://github.com/acme/app/pull/12`).
fn number_from_url(url: &str) -> Option<u64> {
    url.trim_end_matches('/').rsplit('/').next()?.parse().ok()
}

/// The env file for the workspace: `export IMAGEGATE_IMAGE_NAME='REF'`, one line each, for
/// later jobs to `source` after `attach_workspace`. Values are single-quoted, with each `'`
/// written as `'\''`, so the shell takes them literally whatever they hold.
pub fn env_file(images: &[ImageReference]) -> Result<String, OutputError> {
    const FORMAT: &str = "CircleCI env file";
    let mut text = String::new();
    for (variable, image) in variable_names(FORMAT, images)? {
        if image.reference.contains('\0') {
            return Err(OutputError::UnwritableValue {
                format: FORMAT,
                name: variable,
                reason: "a shell variable cannot hold a NUL character",
                hint: "an image reference is a single word; check what the gate reported for this image",
            });
        }
        text.push_str(&format!("export {variable}={}\n", single_quote(&image.reference)));
    }
    Ok(text)
}

/// Quotes `text` for a POSIX shell.
pub fn single_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::process::Command;

    use super::*;

    fn detect_in(pairs: &[(&str, &str)]) -> Result<CiRun, CiError> {
        let mut map: BTreeMap<String, String> =
            pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        map.insert("CIRCLECI".to_owned(), "true".to_owned());
        crate::detect(&map, &|_| unreachable!("CircleCI detection reads no files"))
    }

    #[test]
    fn a_tag_build_has_no_branch() {
        let run = detect_in(&[("CIRCLE_TAG", "v1.0.0"), ("CIRCLE_SHA1", "abc")]).expect("detects");
        assert_eq!(run.event, Event::Tag);
        assert_eq!(run.branch, None);
    }

    #[test]
    fn a_job_with_neither_branch_nor_tag_is_an_error() {
        let error = detect_in(&[("CIRCLE_SHA1", "abc")]).expect_err("missing");
        assert!(matches!(error, CiError::MissingVariable { variable: "CIRCLE_BRANCH", .. }));
    }

    #[test]
    fn the_branch_of_a_fork_pull_request_is_a_fork_even_without_the_pr_variables() {
        let run = detect_in(&[("CIRCLE_BRANCH", "pull/123")]).expect("detects");
        assert_eq!(run.event, Event::ForkPullRequest);
        assert!(!run.trusted);
        assert_eq!(detect_in(&[("CIRCLE_BRANCH", "pull/")]).expect("detects").event, Event::Push);
        assert_eq!(detect_in(&[("CIRCLE_BRANCH", "pull/x1")]).expect("detects").event, Event::Push);
    }

    #[test]
    fn the_trigger_source_says_which_trusted_run_it_is() {
        let scheduled =
            detect_in(&[("CIRCLE_BRANCH", "main"), ("IMAGEGATE_CIRCLECI_TRIGGER_SOURCE", "scheduled_pipeline")])
                .expect("detects");
        assert_eq!(scheduled.event, Event::Schedule);
        assert_eq!(scheduled.provider_event, "scheduled_pipeline");
        let api =
            detect_in(&[("CIRCLE_BRANCH", "main"), ("IMAGEGATE_CIRCLECI_TRIGGER_SOURCE", "api")]).expect("detects");
        assert_eq!(api.event, Event::Manual);
        let webhook =
            detect_in(&[("CIRCLE_BRANCH", "main"), ("IMAGEGATE_CIRCLECI_TRIGGER_SOURCE", "webhook")]).expect("detects");
        assert_eq!(webhook.event, Event::Push);
        let unset =
            detect_in(&[("CIRCLE_BRANCH", "main"), ("IMAGEGATE_CIRCLECI_TRIGGER_SOURCE", "<nil>")]).expect("detects");
        assert_eq!(unset.provider_event, "push");
    }

    #[test]
    fn the_trigger_source_never_makes_a_pull_request_trusted() {
        let run = detect_in(&[
            ("CIRCLE_BRANCH", "main"),
            ("CIRCLE_PULL_REQUEST", "https://github.com/acme/app/pull/5"),
            ("IMAGEGATE_CIRCLECI_TRIGGER_SOURCE", "scheduled_pipeline"),
        ])
        .expect("detects");
        assert_eq!(run.event, Event::PullRequest);
        assert_eq!(run.pull_request, Some(5));
        assert!(!run.trusted);
    }

    #[test]
    fn pull_request_numbers_come_from_the_url() {
        assert_eq!(number_from_url("https://github.com/acme/app/pull/12"), Some(12));
        assert_eq!(number_from_url("https://bitbucket.org/acme/app/pull-requests/7/"), Some(7));
        assert_eq!(number_from_url("https://github.com/acme/app/pulls"), None);
    }

    fn image(name: &str, reference: &str) -> ImageReference {
        ImageReference { image: name.to_owned(), reference: reference.to_owned() }
    }

    #[test]
    fn the_env_file_single_quotes_values() {
        let text =
            env_file(&[image("debian", "acme-ci/debian:stable"), image("odd", "it's $HOME `x`")]).expect("writes");
        insta::assert_snapshot!(text, @r#"
        export IMAGEGATE_IMAGE_DEBIAN='acme-ci/debian:stable'
        export IMAGEGATE_IMAGE_ODD='it'\''s $HOME `x`'
        "#);
    }

    #[test]
    fn the_shell_reads_back_exactly_what_was_quoted() {
        let values = ["plain", "it's", "'", "''", "$(echo no)", "`echo no`", "a\nb", "\\'\\", "!x", "ünï"];
        for value in values {
            let script = format!(
                "{}\nprintf '%s' \"$IMAGEGATE_IMAGE_VALUE\"",
                env_file(&[image("value", value)]).expect("writes")
            );
            let output = Command::new("sh").arg("-c").arg(&script).output().expect("sh runs");
            assert!(output.status.success(), "{value:?}: {}", String::from_utf8_lossy(&output.stderr));
            assert_eq!(String::from_utf8_lossy(&output.stdout), value, "{value:?}");
        }
    }

    #[test]
    fn a_nul_character_is_refused() {
        assert!(env_file(&[image("debian", "a\0b")]).is_err());
    }
}
