//! Detection over the fixture corpus: each provider's documented environments for a push, a
//! pull request, a fork's pull request and a schedule (and a few more), each with the outcome
//! expected of it, and the whole detected run as a snapshot.

use std::fs;

use imagegate_ci::Event::{self, ForkPullRequest, Manual, PullRequest, Push, Schedule, Tag};
use imagegate_ci::Provider::{self, CircleCi, Generic, GitHub, GitLab};

use crate::support::{detect_fixture, fixture_folder};

/// What a fixture must detect as: event, branch, trusted, and whether it may promote when
/// `[promote] branches = ["main"]`.
struct Expected {
    provider: Provider,
    event: Event,
    branch: Option<&'static str>,
    trusted: bool,
    promotes: bool,
}

fn check(name: &str, expected: Expected) {
    let run = detect_fixture(name).unwrap_or_else(|error| panic!("{name} should be detected: {error}"));
    assert_eq!(run.provider, expected.provider, "{name}: provider");
    assert_eq!(run.event, expected.event, "{name}: event");
    assert_eq!(run.branch.as_deref(), expected.branch, "{name}: branch");
    assert_eq!(run.trusted, expected.trusted, "{name}: trusted");
    let decision = run.may_promote(&["main".to_owned()]);
    assert_eq!(decision.is_ok(), expected.promotes, "{name}: may_promote gave {decision:?}");
    let detected = serde_json::json!({
        "run": run,
        "may_promote": decision.err().unwrap_or_else(|| "yes".to_owned()),
    });
    insta::assert_json_snapshot!(name.replace('/', "__"), detected);
}

/// One test per fixture, and the list that `every_fixture_has_a_test` checks against the folder.
macro_rules! corpus {
    ($($test:ident: $name:literal => $expected:expr;)*) => {
        $(
            #[test]
            fn $test() {
                check($name, $expected);
            }
        )*

        const FIXTURES: &[&str] = &[$($name),*];
    };
}

fn promotes(provider: Provider, event: Event, branch: &'static str) -> Expected {
    Expected { provider, event, branch: Some(branch), trusted: true, promotes: true }
}

fn refused(provider: Provider, event: Event, branch: Option<&'static str>, trusted: bool) -> Expected {
    Expected { provider, event, branch, trusted, promotes: false }
}

corpus! {
    github_push: "github/push" => promotes(GitHub, Push, "main");
    github_push_feature: "github/push_feature" => refused(GitHub, Push, Some("feature/new-base"), true);
    github_push_tag: "github/push_tag" => refused(GitHub, Tag, None, true);
    github_pull_request: "github/pull_request" => refused(GitHub, PullRequest, Some("feature/new-base"), false);
    github_pull_request_fork: "github/pull_request_fork" => refused(GitHub, ForkPullRequest, Some("main"), false);
    github_pull_request_target_fork: "github/pull_request_target_fork" =>
        refused(GitHub, ForkPullRequest, Some("main"), false);
    github_schedule: "github/schedule" => promotes(GitHub, Schedule, "main");
    github_workflow_dispatch: "github/workflow_dispatch" => promotes(GitHub, Manual, "main");
    gitlab_push: "gitlab/push" => promotes(GitLab, Push, "main");
    gitlab_push_feature: "gitlab/push_feature" => refused(GitLab, Push, Some("feature/new-base"), true);
    gitlab_tag: "gitlab/tag" => refused(GitLab, Tag, None, true);
    gitlab_merge_request: "gitlab/merge_request" => refused(GitLab, PullRequest, Some("feature/new-base"), false);
    gitlab_merge_request_fork: "gitlab/merge_request_fork" => refused(GitLab, ForkPullRequest, Some("main"), false);
    gitlab_schedule: "gitlab/schedule" => promotes(GitLab, Schedule, "main");
    gitlab_web: "gitlab/web" => promotes(GitLab, Manual, "main");
    gitlab_trigger: "gitlab/trigger" => refused(GitLab, Event::Other("trigger".to_owned()), Some("main"), false);
    circleci_push: "circleci/push" => promotes(CircleCi, Push, "main");
    circleci_pull_request: "circleci/pull_request" => refused(CircleCi, PullRequest, Some("feature/new-base"), false);
    circleci_fork_pull_request: "circleci/fork_pull_request" =>
        refused(CircleCi, ForkPullRequest, Some("pull/42"), false);
    circleci_schedule: "circleci/schedule" => promotes(CircleCi, Schedule, "main");
    circleci_scheduled_pipeline: "circleci/scheduled_pipeline" => promotes(CircleCi, Schedule, "main");
    circleci_tag: "circleci/tag" => refused(CircleCi, Tag, None, true);
    generic_push: "generic/push" => promotes(Generic, Push, "main");
    generic_pull_request: "generic/pull_request" => refused(Generic, PullRequest, Some("feature/new-base"), false);
    generic_fork_pull_request: "generic/fork_pull_request" => refused(Generic, ForkPullRequest, Some("main"), false);
    generic_schedule: "generic/schedule" => promotes(Generic, Schedule, "main");
}

#[test]
fn every_fixture_has_a_test() {
    let mut on_disk = Vec::new();
    for provider in fs::read_dir(fixture_folder()).expect("the fixture folder should be readable") {
        let provider = provider.expect("the fixture folder should be listable").path();
        for file in fs::read_dir(&provider).expect("a provider folder should be readable") {
            let file = file.expect("a provider folder should be listable").path();
            if file.extension().is_some_and(|extension| extension == "env") {
                let provider_name = provider.file_name().expect("a folder name").to_string_lossy().into_owned();
                let scenario = file.file_stem().expect("a file name").to_string_lossy().into_owned();
                on_disk.push(format!("{provider_name}/{scenario}"));
            }
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|name| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "add each fixture to the corpus! list above");
}

#[test]
fn the_head_commit_of_a_pull_request_is_recorded_not_the_merge_commit() {
    let run = detect_fixture("github/pull_request").expect("detects");
    assert_eq!(run.commit.as_deref(), Some("8f9a5c2f0a3c6b1e4d7f2a9b0c3d6e1f4a7b0c3d"));
    let run = detect_fixture("gitlab/merge_request_fork").expect("detects");
    assert_eq!(run.commit.as_deref(), Some("5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081"));
}

#[test]
fn pull_request_target_says_why_it_never_promotes() {
    let run = detect_fixture("github/pull_request_target_fork").expect("detects");
    let reason = run.may_promote(&["main".to_owned()]).expect_err("never promotes");
    assert!(reason.starts_with("pull_request_target runs never promote"), "{reason}");
}
