//! Links for a report's header: the repository, the tested commit, the CI run and its
//! artifacts, as the provider's web pages show them.
//!
//! Every URL is built from the provider's own variables (the server URL it reports included,
//! so GitHub Enterprise and self-managed GitLab get their own host); a link that cannot be built
//! from them is left out rather than guessed. Unlike [`crate::detect()`], this never fails: a
//! report without links is still a report.
//!
//! Variables read: GitHub `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`; GitLab
//! `CI_PROJECT_URL`, `CI_PROJECT_PATH`, `CI_JOB_URL`, `CI_PIPELINE_URL`; CircleCI
//! `CIRCLE_REPOSITORY_URL`, `CIRCLE_PROJECT_USERNAME`, `CIRCLE_PROJECT_REPONAME`,
//! `CIRCLE_BUILD_URL`.

use std::collections::BTreeMap;

use imagegate_contract::RunLinks;

use crate::detect::{Environment, MARKERS};
use crate::run::Provider;

/// The links of the run described by `environment`, for a gate at `commit`; `None` outside a
/// provider imagegate knows (a generic CI or a developer's machine).
pub fn run_links(environment: &BTreeMap<String, String>, commit: &str) -> Option<RunLinks> {
    let environment = Environment::new(environment);
    let detected: Vec<Provider> =
        MARKERS.into_iter().filter(|(_, marker)| environment.is_true(marker)).map(|(provider, _)| provider).collect();
    // Two markers make detection refuse the run; a report does not pick one for it.
    let [provider] = detected[..] else { return None };
    // A checkout with uncommitted changes, or none, has no page of its own.
    let commit = is_commit_id(commit).then_some(commit);
    let mut links = RunLinks { provider: provider.to_string(), ..RunLinks::default() };
    match provider {
        Provider::GitHub => {
            let server = environment.get("GITHUB_SERVER_URL").unwrap_or("https://github.com").trim_end_matches('/');
            links.repository = environment.get("GITHUB_REPOSITORY").map(str::to_owned);
            links.repository_url = links.repository.as_ref().map(|repository| format!("{server}/{repository}"));
            links.commit_url = commit_url(links.repository_url.as_deref(), commit, "/commit/");
            links.run_url = match (&links.repository_url, environment.get("GITHUB_RUN_ID")) {
                (Some(repository_url), Some(run_id)) => Some(format!("{repository_url}/actions/runs/{run_id}")),
                _ => None,
            };
            // The run's summary page lists its artifacts at the bottom, under this anchor.
            links.artifacts_url = links.run_url.as_ref().map(|run_url| format!("{run_url}#artifacts"));
        }
        Provider::GitLab => {
            links.repository = environment.get("CI_PROJECT_PATH").map(str::to_owned);
            links.repository_url = environment.get("CI_PROJECT_URL").map(|url| url.trim_end_matches('/').to_owned());
            links.commit_url = commit_url(links.repository_url.as_deref(), commit, "/-/commit/");
            let job_url = environment.get("CI_JOB_URL").map(|url| url.trim_end_matches('/').to_owned());
            links.artifacts_url = job_url.as_ref().map(|job_url| format!("{job_url}/artifacts/browse"));
            links.run_url = job_url.or_else(|| environment.get("CI_PIPELINE_URL").map(str::to_owned));
        }
        Provider::CircleCi => {
            links.repository =
                match (environment.get("CIRCLE_PROJECT_USERNAME"), environment.get("CIRCLE_PROJECT_REPONAME")) {
                    (Some(owner), Some(name)) => Some(format!("{owner}/{name}")),
                    _ => None,
                };
            links.repository_url = environment.get("CIRCLE_REPOSITORY_URL").and_then(web_url);
            // Bitbucket and GitLab spell a commit's page their own way.
            let commit_path = match links.repository_url.as_deref() {
                Some(url) if url.starts_with("https://bitbucket.org/") => "/commits/",
                Some(url) if url.starts_with("https://gitlab.com/") => "/-/commit/",
                _ => "/commit/",
            };
            links.commit_url = commit_url(links.repository_url.as_deref(), commit, commit_path);
            // The job page has an artifacts tab, but no address of its own to link to.
            links.run_url = environment.get("CIRCLE_BUILD_URL").map(str::to_owned);
        }
        Provider::Generic => return None,
    }
    Some(links)
}

fn commit_url(repository_url: Option<&str>, commit: Option<&str>, path: &str) -> Option<String> {
    Some(format!("{}{path}{}", repository_url?, commit?))
}

/// A full git object id: 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_commit_id(commit: &str) -> bool {
    matches!(commit.len(), 40 | 64) && commit.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// The web page of a repository given as a clone URL: `git@github.com:owner/name.git` or
/// `https://github.com/owner/name.git` → `https://github.com/owner/name`. `None` for any other
/// form, and for credentials in the URL (never copied into a report).
fn web_url(clone_url: &str) -> Option<String> {
    let (host, path) = if let Some(rest) = clone_url.strip_prefix("git@") {
        rest.split_once(':')?
    } else if let Some(rest) = clone_url.strip_prefix("https://") {
        rest.split_once('/')?
    } else if let Some(rest) = clone_url.strip_prefix("ssh://git@") {
        rest.split_once('/')?
    } else {
        return None;
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    let plain = |text: &str| {
        !text.is_empty()
            && text.chars().all(|character| character.is_ascii_alphanumeric() || "-._/".contains(character))
    };
    (plain(host) && plain(path) && !host.contains('/')).then(|| format!("https://{host}/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "5d5b2c1b0c8f1a8f2d7c6e9a4b3c2d1e0f9a8b7c";

    fn links(pairs: &[(&str, &str)], commit: &str) -> Option<RunLinks> {
        let environment = pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        run_links(&environment, commit)
    }

    #[test]
    fn github_links_use_the_reported_server() {
        let environment = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.example.com/"),
            ("GITHUB_REPOSITORY", "acme/tools"),
            ("GITHUB_RUN_ID", "42"),
        ];
        let links = links(&environment, COMMIT).expect("links");
        assert_eq!(links.provider, "GitHub Actions");
        assert_eq!(links.repository.as_deref(), Some("acme/tools"));
        assert_eq!(links.repository_url.as_deref(), Some("https://github.example.com/acme/tools"));
        assert_eq!(links.commit_url, Some(format!("https://github.example.com/acme/tools/commit/{COMMIT}")));
        assert_eq!(links.run_url.as_deref(), Some("https://github.example.com/acme/tools/actions/runs/42"));
        assert_eq!(
            links.artifacts_url.as_deref(),
            Some("https://github.example.com/acme/tools/actions/runs/42#artifacts")
        );
    }

    #[test]
    fn gitlab_links_point_at_the_job() {
        let environment = [
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/tools"),
            ("CI_PROJECT_PATH", "group/tools"),
            ("CI_JOB_URL", "https://gitlab.example.com/group/tools/-/jobs/7"),
            ("CI_PIPELINE_URL", "https://gitlab.example.com/group/tools/-/pipelines/3"),
        ];
        let links = links(&environment, COMMIT).expect("links");
        assert_eq!(links.commit_url, Some(format!("https://gitlab.example.com/group/tools/-/commit/{COMMIT}")));
        assert_eq!(links.run_url.as_deref(), Some("https://gitlab.example.com/group/tools/-/jobs/7"));
        assert_eq!(
            links.artifacts_url.as_deref(),
            Some("https://gitlab.example.com/group/tools/-/jobs/7/artifacts/browse")
        );
    }

    #[test]
    fn circleci_links_come_from_the_clone_url() {
        let environment = [
            ("CIRCLECI", "true"),
            ("CIRCLE_REPOSITORY_URL", "git@github.com:acme/tools.git"),
            ("CIRCLE_PROJECT_USERNAME", "acme"),
            ("CIRCLE_PROJECT_REPONAME", "tools"),
            ("CIRCLE_BUILD_URL", "https://circleci.com/gh/acme/tools/9"),
        ];
        let links = links(&environment, COMMIT).expect("links");
        assert_eq!(links.repository.as_deref(), Some("acme/tools"));
        assert_eq!(links.commit_url, Some(format!("https://github.com/acme/tools/commit/{COMMIT}")));
        assert_eq!(links.run_url.as_deref(), Some("https://circleci.com/gh/acme/tools/9"));
        assert_eq!(links.artifacts_url, None);
        assert_eq!(web_url("https://bitbucket.org/acme/tools"), Some("https://bitbucket.org/acme/tools".to_owned()));
        assert_eq!(web_url("https://user:token@github.com/acme/tools.git"), None, "credentials are never copied");
    }

    #[test]
    fn no_commit_link_for_a_dirty_or_unknown_commit_and_no_links_off_ci() {
        let environment = [("GITHUB_ACTIONS", "true"), ("GITHUB_REPOSITORY", "acme/tools")];
        assert_eq!(links(&environment, &format!("{COMMIT}+dirty")).expect("links").commit_url, None);
        assert_eq!(links(&environment, "unknown").expect("links").commit_url, None);
        assert_eq!(links(&[("CI", "true")], COMMIT), None);
        assert_eq!(links(&[("GITHUB_ACTIONS", "true"), ("GITLAB_CI", "true")], COMMIT), None);
    }
}
