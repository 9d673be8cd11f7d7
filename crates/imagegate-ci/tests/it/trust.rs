//! The trust properties over generated environments: whatever else a run's environment holds
//! (overrides, other providers' variables, junk), a run the provider reports as a pull request
//! is never trusted and never promotes, and no event payload, however malformed, crashes
//! detection or makes a pull request trusted.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use imagegate_ci::{CiRun, Event};
use proptest::prelude::*;

const EVENT_PATH: &str = "/home/runner/work/_temp/_github_workflow/event.json";

/// Every variable detection reads, so that generated extras can collide with the real ones.
const KNOWN_VARIABLES: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_REF",
    "GITHUB_REF_NAME",
    "GITHUB_REF_TYPE",
    "GITHUB_HEAD_REF",
    "GITHUB_SHA",
    "GITLAB_CI",
    "CI_PIPELINE_SOURCE",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_TAG",
    "CI_MERGE_REQUEST_IID",
    "CI_MERGE_REQUEST_PROJECT_ID",
    "CI_MERGE_REQUEST_SOURCE_PROJECT_ID",
    "CI_EXTERNAL_PULL_REQUEST_IID",
    "CIRCLECI",
    "CIRCLE_BRANCH",
    "CIRCLE_TAG",
    "CIRCLE_PULL_REQUEST",
    "CIRCLE_PR_NUMBER",
    "IMAGEGATE_PROVIDER",
    "IMAGEGATE_EVENT",
    "IMAGEGATE_BRANCH",
    "IMAGEGATE_DEFAULT_BRANCH",
    "IMAGEGATE_COMMIT",
    "IMAGEGATE_CIRCLECI_TRIGGER_SOURCE",
];

fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("true".to_owned()),
        Just("main".to_owned()),
        Just("push".to_owned()),
        Just("schedule".to_owned()),
        Just("manual".to_owned()),
        Just("generic".to_owned()),
        Just("github".to_owned()),
        Just("gitlab".to_owned()),
        Just("circleci".to_owned()),
        Just("scheduled_pipeline".to_owned()),
        Just("refs/heads/main".to_owned()),
        Just("11".to_owned()),
        "[ -~]{0,12}",
    ]
}

/// Random extra variables, drawn mostly from the ones detection reads.
fn extras() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => proptest::sample::select(KNOWN_VARIABLES).prop_map(str::to_owned),
        1 => "[A-Z_]{1,12}",
    ];
    proptest::collection::vec((name, any_value()), 0..8)
}

/// A GitHub event payload for a pull request event: well-formed from the same repository or
/// a fork, or with the head repository deleted, or junk.
fn github_payload() -> impl Strategy<Value = Vec<u8>> {
    let repository = prop_oneof![
        Just("null".to_owned()),
        Just(r#"{"id": 1, "full_name": "acme/app", "fork": false}"#.to_owned()),
        Just(r#"{"id": 2, "full_name": "someone/app", "fork": true}"#.to_owned()),
        Just(r#"{"full_name": "acme/app"}"#.to_owned()),
        Just(r#"{"id": "1", "full_name": 3}"#.to_owned()),
    ];
    let number = proptest::option::of(0u64..100);
    let well_formed = (repository.clone(), repository, number).prop_map(|(head, base, number)| {
        let number = number.map_or_else(|| "null".to_owned(), |number| number.to_string());
        format!(
            r#"{{"number": {number},
                "pull_request": {{"number": {number},
                  "head": {{"ref": "main", "sha": "abc", "repo": {head}}},
                  "base": {{"ref": "main", "repo": {base}}}}},
                "repository": {{"full_name": "acme/app", "default_branch": "main"}}}}"#
        )
        .into_bytes()
    });
    prop_oneof![
        3 => well_formed,
        1 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => Just(b"{}".to_vec()),
        1 => Just(br#"{"pull_request": null}"#.to_vec()),
        1 => Just(br#"{"pull_request": {"number": -1}}"#.to_vec()),
    ]
}

fn pull_request_environment() -> impl Strategy<Value = (BTreeMap<String, String>, Vec<u8>)> {
    let github = (
        proptest::sample::select(
            &["pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment"][..],
        ),
        github_payload(),
    )
        .prop_map(|(event, payload)| {
            let map = [
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", event),
                ("GITHUB_EVENT_PATH", EVENT_PATH),
                ("GITHUB_REF", "refs/heads/main"),
                ("GITHUB_HEAD_REF", "main"),
            ];
            (owned(&map), payload)
        });
    let gitlab = (
        proptest::sample::select(
            &["merge_request_event", "external_pull_request_event", "push", "schedule", "web"][..],
        ),
        proptest::sample::select(&["CI_MERGE_REQUEST_IID", "CI_EXTERNAL_PULL_REQUEST_IID"][..]),
        proptest::option::of("[0-9]{1,3}"),
    )
        .prop_filter("a pipeline that says it is for a pull request", |(source, _, number)| {
            number.is_some() || source.ends_with("_event")
        })
        .prop_map(|(source, number_variable, number)| {
            let mut map = owned(&[
                ("GITLAB_CI", "true"),
                ("CI_PIPELINE_SOURCE", source),
                ("CI_COMMIT_BRANCH", "main"),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "main"),
                ("CI_MERGE_REQUEST_PROJECT_ID", "11"),
                ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "11"),
            ]);
            if let Some(number) = number {
                map.insert(number_variable.to_owned(), number);
            }
            (map, Vec::new())
        });
    let circleci = proptest::sample::select(
        &[
            ("CIRCLE_PULL_REQUEST", "https://github.com/acme/app/pull/5"),
            ("CIRCLE_PULL_REQUESTS", "https://github.com/acme/app/pull/5"),
            ("CIRCLE_PR_NUMBER", "5"),
            ("CIRCLE_PR_REPONAME", "app"),
            ("CIRCLE_PR_USERNAME", "someone"),
            ("CIRCLE_BRANCH", "pull/5"),
        ][..],
    )
    .prop_map(|(name, value)| {
        let mut map = owned(&[("CIRCLECI", "true"), ("CIRCLE_BRANCH", "main")]);
        map.insert(name.to_owned(), value.to_owned());
        (map, Vec::new())
    });
    prop_oneof![github, gitlab, circleci]
}

fn owned(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

fn detect(environment: &BTreeMap<String, String>, payload: Vec<u8>) -> Result<CiRun, imagegate_ci::CiError> {
    imagegate_ci::detect(environment, &move |path: &Path| {
        if path == Path::new(EVENT_PATH) {
            Ok(payload.clone())
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
        }
    })
}

fn assert_never_promotes(run: &CiRun) -> Result<(), TestCaseError> {
    prop_assert!(!run.trusted, "trusted: {run:?}");
    let allowed: Vec<String> =
        ["main", "master", "pull/5"].into_iter().chain(run.branch.as_deref()).map(str::to_owned).collect();
    prop_assert!(run.may_promote(&allowed).is_err(), "promotes: {run:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The provider reports a pull request; the run's own variables, whatever they are, cannot
    /// change that into a trusted run.
    #[test]
    fn a_provider_pull_request_is_never_trusted(
        (mut environment, payload) in pull_request_environment(),
        extras in extras(),
    ) {
        for (name, value) in extras {
            // The provider's own pull request markers stay as the provider set them; everything
            // else, its marker variables and the overrides included, is up for grabs.
            if !environment.contains_key(&name) || name.starts_with("IMAGEGATE_") {
                environment.insert(name, value);
            }
        }
        if let Ok(run) = detect(&environment, payload) {
            assert_never_promotes(&run)?;
        }
    }

    /// Whatever detects as a pull request, from any provider or none, is not trusted.
    #[test]
    fn no_pull_request_event_is_ever_trusted(extras in extras(), payload in github_payload()) {
        let environment: BTreeMap<String, String> = extras.into_iter().collect();
        if let Ok(run) = detect(&environment, payload) {
            if run.event.is_pull_request() || matches!(run.event, Event::Other(_)) {
                assert_never_promotes(&run)?;
            }
            prop_assert!(!run.trusted || run.event.is_trusted(), "trusted {:?}", run.event);
        }
    }

    /// Any bytes as the payload of a push: detection returns, and only a JSON object is read.
    #[test]
    fn any_payload_bytes_are_handled(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        let environment = owned(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", EVENT_PATH),
            ("GITHUB_REF", "refs/heads/main"),
        ]);
        let is_object = serde_json::from_slice::<serde_json::Value>(&payload).is_ok_and(|value| value.is_object());
        let result = detect(&environment, payload);
        if !is_object {
            prop_assert!(result.is_err(), "{result:?}");
        }
    }
}
