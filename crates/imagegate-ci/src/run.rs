//! What a CI run is, as imagegate sees it: the provider, the event that started it, the branch
//! and commit it is about, whether it is trusted, and the one rule for promoting from it.

use std::fmt;

use serde::{Serialize, Serializer};

/// The CI service a run happens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub Actions (`GITHUB_ACTIONS=true`).
    GitHub,
    /// GitLab CI/CD (`GITLAB_CI=true`).
    GitLab,
    /// CircleCI (`CIRCLECI=true`).
    #[serde(rename = "circleci")]
    CircleCi,
    /// Any other runner, described by `IMAGEGATE_*` variables (`IMAGEGATE_PROVIDER=generic`).
    Generic,
}

impl Provider {
    /// The value of `IMAGEGATE_PROVIDER` (and of `imagegate init --ci`) that names this provider.
    pub fn key(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::CircleCi => "circleci",
            Provider::Generic => "generic",
        }
    }

    /// Parses a value of `IMAGEGATE_PROVIDER`.
    pub fn from_key(key: &str) -> Option<Provider> {
        match key {
            "github" => Some(Provider::GitHub),
            "gitlab" => Some(Provider::GitLab),
            "circleci" => Some(Provider::CircleCi),
            "generic" => Some(Provider::Generic),
            _ => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Provider::GitHub => "GitHub Actions",
            Provider::GitLab => "GitLab CI/CD",
            Provider::CircleCi => "CircleCI",
            Provider::Generic => "generic CI",
        })
    }
}

/// What started the run, in imagegate's terms. The provider's own name for it is kept in
/// [`CiRun::provider_event`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A push of a branch to the project's own repository.
    Push,
    /// A pull or merge request whose changes come from a branch of the project's own repository.
    PullRequest,
    /// A pull or merge request whose changes come from another repository (a fork), or from a
    /// repository imagegate could not tell apart from one.
    ForkPullRequest,
    /// A run the provider started on a timetable.
    Schedule,
    /// A run started by hand (a button or an API call by a project member).
    Manual,
    /// A push of a tag.
    Tag,
    /// Any other trigger, by the provider's name for it. Never trusted: imagegate cannot vouch
    /// for who can start such runs or what code they run.
    Other(String),
}

impl Event {
    /// The name used in `IMAGEGATE_EVENT`, in messages and in JSON.
    pub fn key(&self) -> &str {
        match self {
            Event::Push => "push",
            Event::PullRequest => "pull_request",
            Event::ForkPullRequest => "fork_pull_request",
            Event::Schedule => "schedule",
            Event::Manual => "manual",
            Event::Tag => "tag",
            Event::Other(_) => "other",
        }
    }

    /// Whether runs started this way carry only code and configuration that people with write
    /// access to the project put there. Pull requests and unknown triggers do not.
    pub fn is_trusted(&self) -> bool {
        matches!(self, Event::Push | Event::Schedule | Event::Manual | Event::Tag)
    }

    /// Whether the run was started by a pull or merge request, from a fork or not.
    pub fn is_pull_request(&self) -> bool {
        matches!(self, Event::PullRequest | Event::ForkPullRequest)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Other(name) => write!(formatter, "`{name}`"),
            _ => formatter.write_str(self.key()),
        }
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

/// One CI run, as detected from the provider's environment and event payload.
///
/// `trusted` is the single fact promotion rests on: it is true only for events that people
/// with write access to the project start ([`Event::is_trusted`]), and nothing a run sets for
/// itself (`IMAGEGATE_*` variables) can make it true where the provider reports a pull request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CiRun {
    pub provider: Provider,
    /// The provider's own name for the trigger, e.g. `pull_request_target` or
    /// `merge_request_event`. CircleCI names none in its environment: there it is the pipeline's
    /// trigger source where the configuration passes it on, else imagegate's name for the event,
    /// as for generic runs.
    pub provider_event: String,
    pub event: Event,
    /// The branch the run is about: for a pull request, its source (head) branch.
    pub branch: Option<String>,
    pub default_branch: Option<String>,
    /// The commit the run is about: for a pull request, the head commit of its source branch
    /// where the provider names it, not the merge commit the provider may have made to test it.
    pub commit: Option<String>,
    /// `owner/name` (GitHub, CircleCI) or the project path (GitLab).
    pub repository: Option<String>,
    pub trusted: bool,
    /// The pull or merge request number, as people see it in its URL.
    pub pull_request: Option<u64>,
    pub run_url: Option<String>,
    /// Things detection chose to ignore (an `IMAGEGATE_*` override that would have made the
    /// run more trusted, say), for the caller to show on stderr.
    pub warnings: Vec<String>,
    /// Why the runner is taken for one that is thrown away after the job (a provider's hosted
    /// runner), whose disk and engine keep nothing for the next run; `None` when it is not
    /// known to be. See `detect::ephemeral_runner` for what is read.
    pub ephemeral_runner: Option<String>,
}

impl CiRun {
    /// Whether this run may move stable tags, given the branches promotion is allowed on
    /// (`[promote] branches`). `Err` carries the reason, written for people.
    ///
    /// Pull requests never promote, from a fork or not, and neither do GitHub's
    /// `pull_request_target` runs (they run with the base repository's permissions, but a pull
    /// request starts them), tags, or any run that is not trusted. Otherwise the run's branch
    /// must be one of `allowed_branches`, exactly.
    pub fn may_promote(&self, allowed_branches: &[String]) -> Result<(), String> {
        if self.provider == Provider::GitHub && self.provider_event == "pull_request_target" {
            return Err("pull_request_target runs never promote: a pull request starts them, even though they run \
                 with the base repository's permissions"
                .to_owned());
        }
        match &self.event {
            Event::PullRequest => {
                return Err(format!(
                    "{} runs never promote: promotion happens once the change is merged",
                    self.pull_request_name()
                ));
            }
            Event::ForkPullRequest => {
                return Err(format!(
                    "{} runs from forks never promote: their code comes from outside the project",
                    self.pull_request_name()
                ));
            }
            Event::Tag => return Err("tag runs never promote: promotion follows branches".to_owned()),
            Event::Other(name) => {
                return Err(format!(
                    "runs started by `{name}` never promote: only pushes, schedules and manual runs are trusted"
                ));
            }
            Event::Push | Event::Schedule | Event::Manual => {}
        }
        if !self.trusted {
            return Err(format!("this {} run is not trusted", self.event));
        }
        let Some(branch) = &self.branch else {
            return Err(format!("this {} run is not on a branch", self.event));
        };
        if allowed_branches.iter().any(|allowed| allowed == branch) {
            Ok(())
        } else if allowed_branches.is_empty() {
            Err(format!("branch `{branch}` may not promote: [promote] branches is empty"))
        } else {
            let list = allowed_branches.iter().map(|allowed| format!("`{allowed}`")).collect::<Vec<_>>().join(", ");
            Err(format!("branch `{branch}` may not promote: [promote] branches allows {list}"))
        }
    }

    fn pull_request_name(&self) -> &'static str {
        match self.provider {
            Provider::GitLab => "merge request",
            Provider::GitHub | Provider::CircleCi | Provider::Generic => "pull request",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(event: Event, branch: Option<&str>) -> CiRun {
        CiRun {
            provider: Provider::Generic,
            provider_event: event.key().to_owned(),
            trusted: event.is_trusted(),
            event,
            branch: branch.map(str::to_owned),
            default_branch: Some("main".to_owned()),
            commit: None,
            repository: None,
            pull_request: None,
            run_url: None,
            warnings: Vec::new(),
            ephemeral_runner: None,
        }
    }

    fn main_only() -> Vec<String> {
        vec!["main".to_owned()]
    }

    #[test]
    fn a_trusted_push_to_an_allowed_branch_promotes() {
        assert_eq!(run(Event::Push, Some("main")).may_promote(&main_only()), Ok(()));
        assert_eq!(run(Event::Schedule, Some("main")).may_promote(&main_only()), Ok(()));
        assert_eq!(run(Event::Manual, Some("main")).may_promote(&main_only()), Ok(()));
    }

    #[test]
    fn other_branches_do_not_promote_and_the_reason_names_the_allowed_ones() {
        let allowed = vec!["main".to_owned(), "master".to_owned()];
        assert_eq!(
            run(Event::Push, Some("feature")).may_promote(&allowed),
            Err("branch `feature` may not promote: [promote] branches allows `main`, `master`".to_owned())
        );
        assert_eq!(
            run(Event::Push, Some("main")).may_promote(&[]),
            Err("branch `main` may not promote: [promote] branches is empty".to_owned())
        );
    }

    #[test]
    fn branch_names_are_compared_exactly() {
        assert!(run(Event::Push, Some("Main")).may_promote(&main_only()).is_err());
        assert!(run(Event::Push, Some("main ")).may_promote(&main_only()).is_err());
        assert!(run(Event::Push, Some("refs/heads/main")).may_promote(&main_only()).is_err());
    }

    #[test]
    fn pull_requests_forks_tags_and_unknown_triggers_never_promote() {
        for event in [Event::PullRequest, Event::ForkPullRequest, Event::Tag, Event::Other("merge_group".to_owned())] {
            let refused = run(event.clone(), Some("main")).may_promote(&main_only());
            assert!(refused.is_err(), "{event:?} should not promote");
        }
    }

    #[test]
    fn an_untrusted_run_never_promotes_whatever_its_event() {
        let mut push = run(Event::Push, Some("main"));
        push.trusted = false;
        assert_eq!(push.may_promote(&main_only()), Err("this push run is not trusted".to_owned()));
    }

    #[test]
    fn a_run_without_a_branch_never_promotes() {
        assert_eq!(
            run(Event::Manual, None).may_promote(&main_only()),
            Err("this manual run is not on a branch".to_owned())
        );
    }

    #[test]
    fn pull_request_target_never_promotes_even_if_marked_trusted() {
        let mut target = run(Event::Push, Some("main"));
        target.provider = Provider::GitHub;
        target.provider_event = "pull_request_target".to_owned();
        let reason = target.may_promote(&main_only()).expect_err("pull_request_target should not promote");
        assert!(reason.starts_with("pull_request_target runs never promote"), "{reason}");
    }

    #[test]
    fn gitlab_reasons_speak_of_merge_requests() {
        let mut merge_request = run(Event::PullRequest, Some("feature"));
        merge_request.provider = Provider::GitLab;
        assert_eq!(
            merge_request.may_promote(&main_only()),
            Err("merge request runs never promote: promotion happens once the change is merged".to_owned())
        );
    }

    #[test]
    fn events_serialize_as_their_keys() {
        let json = serde_json::to_value(run(Event::Other("merge_group".to_owned()), None)).expect("serializes");
        assert_eq!(json["event"], "other");
        assert_eq!(json["provider"], "generic");
        assert_eq!(json["provider_event"], "other");
    }
}
