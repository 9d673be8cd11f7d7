//! GitLab CI/CD: detection from the predefined CI/CD variables, and the dotenv report.
//!
//! Variables read (GitLab's "Predefined CI/CD variables reference"): `CI_PIPELINE_SOURCE`,
//! `CI_COMMIT_BRANCH` (set in branch pipelines only, not in merge request or tag pipelines),
//! `CI_COMMIT_TAG`, `CI_COMMIT_SHA`, `CI_DEFAULT_BRANCH`, `CI_PROJECT_PATH`, `CI_PIPELINE_URL`;
//! for merge request pipelines `CI_MERGE_REQUEST_IID`, `CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`,
//! `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA` (merged results pipelines only),
//! `CI_MERGE_REQUEST_PROJECT_ID` and `CI_MERGE_REQUEST_SOURCE_PROJECT_ID`; for external pull
//! request pipelines (GitHub pull requests of a GitLab CI/CD for external repositories project)
//! `CI_EXTERNAL_PULL_REQUEST_IID`, `CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME`,
//! `CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_SHA`, `CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY`
//! and `CI_EXTERNAL_PULL_REQUEST_TARGET_REPOSITORY`.
//!
//! Pipeline sources (`CI_PIPELINE_SOURCE`): `push` (a branch, or a tag when `CI_COMMIT_TAG` is
//! set), `schedule`, and `web` and `api` (a project member's run, [`Event::Manual`]) are
//! trusted. `merge_request_event` and `external_pull_request_event` are pull requests, and so
//! is any pipeline that carries merge request variables, whatever its source. Every other
//! source (`trigger`, `pipeline`, `parent_pipeline`, `chat`, `webide`, …) is
//! [`Event::Other`], not trusted: a trigger token works for whoever holds it, and a downstream
//! pipeline does not say what started its upstream one.
//!
//! A merge request comes from a fork when its source project is not the merge request's own
//! project; when either ID is missing, it is taken to come from one.

use crate::detect::Environment;
use crate::error::{CiError, OutputError};
use crate::publication::{ImageReference, variable_names};
use crate::run::{CiRun, Event, Provider};

pub(crate) fn detect(environment: &Environment<'_>) -> Result<CiRun, CiError> {
    let source = environment.require(
        Provider::GitLab,
        "CI_PIPELINE_SOURCE",
        "GitLab sets this in every job; run `imagegate ci` in a job's script",
    )?;
    let mut run = CiRun {
        provider: Provider::GitLab,
        provider_event: source.to_owned(),
        event: Event::Other(source.to_owned()),
        branch: environment.get("CI_COMMIT_BRANCH").map(str::to_owned),
        default_branch: environment.get("CI_DEFAULT_BRANCH").map(str::to_owned),
        commit: environment.get("CI_COMMIT_SHA").map(str::to_owned),
        repository: environment.get("CI_PROJECT_PATH").map(str::to_owned),
        trusted: false,
        pull_request: None,
        run_url: environment.get("CI_PIPELINE_URL").map(str::to_owned),
        warnings: Vec::new(),
        ephemeral_runner: None,
    };

    let merge_request = environment.number("CI_MERGE_REQUEST_IID")?;
    if source == "merge_request_event" || merge_request.is_some() {
        let same_project = match (
            environment.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID"),
            environment.get("CI_MERGE_REQUEST_PROJECT_ID"),
        ) {
            (Some(source_project), Some(project)) => source_project == project,
            _ => false,
        };
        run.event = if same_project { Event::PullRequest } else { Event::ForkPullRequest };
        run.pull_request = merge_request;
        run.branch = environment.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME").map(str::to_owned);
        if let Some(head) = environment.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") {
            run.commit = Some(head.to_owned());
        }
        return Ok(run);
    }

    let external_pull_request = environment.number("CI_EXTERNAL_PULL_REQUEST_IID")?;
    if source == "external_pull_request_event" || external_pull_request.is_some() {
        let same_repository = match (
            environment.get("CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY"),
            environment.get("CI_EXTERNAL_PULL_REQUEST_TARGET_REPOSITORY"),
        ) {
            (Some(source_repository), Some(target_repository)) => source_repository == target_repository,
            _ => false,
        };
        run.event = if same_repository { Event::PullRequest } else { Event::ForkPullRequest };
        run.pull_request = external_pull_request;
        run.branch = environment.get("CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME").map(str::to_owned);
        if let Some(head) = environment.get("CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_SHA") {
            run.commit = Some(head.to_owned());
        }
        return Ok(run);
    }

    run.event = match source {
        "push" if environment.get("CI_COMMIT_TAG").is_some() => Event::Tag,
        "push" => Event::Push,
        "schedule" => Event::Schedule,
        "web" | "api" => Event::Manual,
        other => Event::Other(other.to_owned()),
    };
    run.trusted = run.event.is_trusted();
    Ok(run)
}

/// A dotenv report: `IMAGEGATE_IMAGE_NAME=REF`, one line each, for GitLab's
/// `artifacts:reports:dotenv` (and for generic runs that ask for dotenv).
///
/// GitLab reads this format more strictly than dotenv libraries do ("Pass an environment
/// variable to another job"): names of ASCII letters, digits and `_`; no empty lines, comments,
/// quoting or escapes; no multi-line values; leading and trailing blanks removed. So a value
/// with a line break, a control character or surrounding blanks is refused rather than written
/// in a way GitLab would read differently. GitLab also caps the report's size and its number of
/// variables (the instance's limits), which one line per image stays far below.
pub fn dotenv(images: &[ImageReference]) -> Result<String, OutputError> {
    const FORMAT: &str = "dotenv report";
    let mut text = String::new();
    for (variable, image) in variable_names(FORMAT, images)? {
        let value = &image.reference;
        let refusal = if value.contains(['\n', '\r']) {
            Some("a dotenv report cannot hold a line break")
        } else if value.chars().any(char::is_control) {
            Some("a dotenv report cannot hold a control character")
        } else if value.trim() != value {
            Some("GitLab removes blanks around a dotenv value")
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Err(OutputError::UnwritableValue {
                format: FORMAT,
                name: variable,
                reason,
                hint: "an image reference is a single word; check what the gate reported for this image",
            });
        }
        text.push_str(&format!("{variable}={value}\n"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn detect_in(pairs: &[(&str, &str)]) -> Result<CiRun, CiError> {
        let mut map: BTreeMap<String, String> =
            pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        map.insert("GITLAB_CI".to_owned(), "true".to_owned());
        crate::detect(&map, &|_| unreachable!("GitLab detection reads no files"))
    }

    #[test]
    fn a_tag_pipeline_is_a_tag() {
        let run = detect_in(&[("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_TAG", "v1.0.0")]).expect("detects");
        assert_eq!(run.event, Event::Tag);
        assert_eq!(run.branch, None);
    }

    #[test]
    fn web_and_api_pipelines_are_manual() {
        for source in ["web", "api"] {
            let run = detect_in(&[("CI_PIPELINE_SOURCE", source), ("CI_COMMIT_BRANCH", "main")]).expect("detects");
            assert_eq!(run.event, Event::Manual);
            assert!(run.trusted);
            assert_eq!(run.may_promote(&["main".to_owned()]), Ok(()));
        }
    }

    #[test]
    fn other_sources_are_not_trusted() {
        for source in ["trigger", "pipeline", "parent_pipeline", "chat", "webide", "external", "ondemand_dast_scan"] {
            let run = detect_in(&[("CI_PIPELINE_SOURCE", source), ("CI_COMMIT_BRANCH", "main")]).expect("detects");
            assert_eq!(run.event, Event::Other(source.to_owned()));
            assert!(!run.trusted, "{source}");
        }
    }

    #[test]
    fn merge_request_variables_make_any_pipeline_a_merge_request() {
        let run = detect_in(&[
            ("CI_PIPELINE_SOURCE", "parent_pipeline"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_MERGE_REQUEST_IID", "3"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "11"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "11"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
        ])
        .expect("detects");
        assert_eq!(run.event, Event::PullRequest);
        assert_eq!(run.branch.as_deref(), Some("feature"));
        assert!(!run.trusted);
    }

    #[test]
    fn a_merge_request_without_project_ids_is_taken_for_a_fork() {
        let run = detect_in(&[("CI_PIPELINE_SOURCE", "merge_request_event"), ("CI_MERGE_REQUEST_IID", "3")])
            .expect("detects");
        assert_eq!(run.event, Event::ForkPullRequest);
    }

    #[test]
    fn a_merged_results_pipeline_records_the_source_branch_head() {
        let run = detect_in(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result"),
            ("CI_MERGE_REQUEST_IID", "3"),
            ("CI_COMMIT_SHA", "1111111111111111111111111111111111111111"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "2222222222222222222222222222222222222222"),
        ])
        .expect("detects");
        assert_eq!(run.commit.as_deref(), Some("2222222222222222222222222222222222222222"));
    }

    #[test]
    fn external_pull_requests_compare_repositories() {
        let base = [
            ("CI_PIPELINE_SOURCE", "external_pull_request_event"),
            ("CI_EXTERNAL_PULL_REQUEST_IID", "42"),
            ("CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME", "feature"),
            ("CI_EXTERNAL_PULL_REQUEST_TARGET_REPOSITORY", "acme/app"),
        ];
        let mut same = base.to_vec();
        same.push(("CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY", "acme/app"));
        assert_eq!(detect_in(&same).expect("detects").event, Event::PullRequest);
        let mut fork = base.to_vec();
        fork.push(("CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY", "someone/app"));
        let run = detect_in(&fork).expect("detects");
        assert_eq!(run.event, Event::ForkPullRequest);
        assert_eq!(run.pull_request, Some(42));
    }

    #[test]
    fn a_merge_request_number_that_is_not_a_number_is_an_error() {
        let error = detect_in(&[("CI_PIPELINE_SOURCE", "merge_request_event"), ("CI_MERGE_REQUEST_IID", "!3")])
            .expect_err("invalid");
        assert!(error.to_string().starts_with("read CI_MERGE_REQUEST_IID `!3`\n  hint: "), "{error}");
    }

    #[test]
    fn a_missing_pipeline_source_is_an_error_naming_it() {
        let error = detect_in(&[("CI_COMMIT_BRANCH", "main")]).expect_err("missing");
        assert_eq!(
            error.to_string(),
            "detect the GitLab CI/CD run: CI_PIPELINE_SOURCE is not set\n  hint: GitLab sets this in every job; run \
             `imagegate ci` in a job's script"
        );
    }

    fn image(name: &str, reference: &str) -> ImageReference {
        ImageReference { image: name.to_owned(), reference: reference.to_owned() }
    }

    #[test]
    fn the_dotenv_report_has_one_line_per_image() {
        let text = dotenv(&[
            image("debian-12", "acme-ci/debian:12"),
            image("tools", "registry.example.com:5000/acme/tools@sha256:45f7e705fe22"),
        ])
        .expect("writes");
        insta::assert_snapshot!(text, @r"
        IMAGEGATE_IMAGE_DEBIAN_12=acme-ci/debian:12
        IMAGEGATE_IMAGE_TOOLS=registry.example.com:5000/acme/tools@sha256:45f7e705fe22
        ");
    }

    #[test]
    fn the_dotenv_report_refuses_what_gitlab_would_read_differently() {
        for (value, reason) in [
            ("a\nb", "a dotenv report cannot hold a line break"),
            ("a\rb", "a dotenv report cannot hold a line break"),
            ("a\tb", "a dotenv report cannot hold a control character"),
            (" a", "GitLab removes blanks around a dotenv value"),
        ] {
            let error = dotenv(&[image("debian", value)]).expect_err("refused");
            let OutputError::UnwritableValue { reason: actual, .. } = error else {
                panic!("expected an unwritable value, got {error:?}");
            };
            assert_eq!(actual, reason, "{value:?}");
        }
    }
}
