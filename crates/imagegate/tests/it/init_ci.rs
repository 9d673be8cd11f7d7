//! `imagegate init --ci` on repositories that already have CI of their own (a long CircleCI
//! configuration with anchors and many jobs shaped like Tahoe-LAFS's, a GitLab pipeline with
//! stages and includes, a GitHub workflow): the project's jobs all survive, the result passes
//! the provider's schema (and actionlint), the nightly run is on the repository's default
//! branch (`master`, read from `refs/remotes/origin/HEAD` while another branch is checked out),
//! no job a fork's pull request starts can write to the registry, and the reports are uploaded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

use crate::context::Run;

fn fixture(name: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/ci").join(name)).unwrap()
}

/// A repository whose remote default branch is `master` while `feature` is checked out, with
/// an `origin` on GitHub or GitLab.com.
struct Repository {
    _temp: tempfile::TempDir,
    root: PathBuf,
}

impl Repository {
    fn new(origin: &str, files: &[(&str, String)]) -> Repository {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("app");
        fs::create_dir_all(root.join("ci")).unwrap();
        fs::write(root.join("ci/Dockerfile"), "FROM debian:12\nRUN true\n").unwrap();
        for (path, text) in files {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let repository = Repository { _temp: temp, root };
        repository.git(&["init", "-q", "-b", "master"]);
        repository.git(&[
            "-c",
            "user.email=it@example.invalid",
            "-c",
            "user.name=it",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ]);
        repository.git(&["remote", "add", "origin", origin]);
        repository.git(&["update-ref", "refs/remotes/origin/master", "HEAD"]);
        repository.git(&["symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/master"]);
        repository.git(&["checkout", "-q", "-b", "feature"]);
        repository
    }

    fn git(&self, args: &[&str]) {
        let output = Command::new("git").args(args).current_dir(&self.root).output().unwrap();
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }

    fn init(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_imagegate"))
            .arg("init")
            .args(args)
            .current_dir(&self.root)
            .env_remove("IMAGEGATE_CONFIG")
            .env("CI", "true")
            .output()
            .unwrap();
        Run::from(output)
    }

    fn read(&self, path: &str) -> String {
        fs::read_to_string(self.root.join(path)).unwrap_or_else(|error| panic!("read {path}: {error}"))
    }
}

fn yaml(text: &str) -> Value {
    let mut value: Value = serde_norway::from_str(text).unwrap();
    value.apply_merge().unwrap();
    value
}

/// Runs `program arguments… file` in `folder`; panics with its output unless it passes.
fn assert_linter_passes(program: &str, arguments: &[&str], folder: &Path, file: &str) {
    let output = Command::new(program)
        .args(arguments)
        .arg(file)
        .current_dir(folder)
        .output()
        .unwrap_or_else(|error| panic!("{program} should run (scripts/test-tools.sh python installs it): {error}"));
    assert!(
        output.status.success(),
        "`{program} {} {file}` rejects it:\n{}{}\n--- {file}\n{}",
        arguments.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        fs::read_to_string(folder.join(file)).unwrap_or_default()
    );
}

fn actionlint() -> &'static str {
    ["actionlint", "jactionlint"]
        .into_iter()
        .find(|program| Command::new(program).arg("--version").output().is_ok_and(|output| output.status.success()))
        .expect("actionlint or jactionlint is installed (scripts/test-tools.sh python)")
}

/// Every line of `before` is in `after`, in the same order: nothing of the project's text was
/// lost or rewritten.
fn assert_text_kept(before: &str, after: &str) {
    let mut remaining = after.lines();
    for line in before.lines() {
        assert!(remaining.any(|candidate| candidate == line), "lost or moved {line:?}:\n{after}");
    }
}

fn assert_no_force_suggested(run: &Run) {
    assert!(!run.stderr.contains("--force"), "{}", run.stderr);
}

fn mapping_keys(value: &Value) -> Vec<String> {
    value.as_mapping().unwrap().keys().map(|key| key.as_str().unwrap().to_owned()).collect()
}

#[test]
fn circleci_merges_into_a_long_config_with_anchors_keeping_every_job() {
    let original = fixture("circleci-tahoe.yml");
    let repository = Repository::new("git@github.com:Acme/App.git", &[(".circleci/config.yml", original.clone())]);
    let run = repository.init(&["--ci", "circleci"]);
    run.expect_code(0);
    assert_no_force_suggested(&run);
    // The diff is shown.
    assert!(
        run.stderr.contains("+++ b/.circleci/config.yml") && run.stderr.contains("+  imagegate:"),
        "{}",
        run.stderr
    );
    let merged = repository.read(".circleci/config.yml");
    assert_text_kept(&original, &merged);
    let (before, after) = (yaml(&original), yaml(&merged));
    for section in ["jobs", "workflows", "executors", "orbs", "parameters"] {
        for key in mapping_keys(&before[section]) {
            assert_eq!(before[section][key.as_str()], after[section][key.as_str()], "{section}.{key} changed");
        }
    }
    assert_eq!(mapping_keys(&after["jobs"]).len(), mapping_keys(&before["jobs"]).len() + 1);
    assert_linter_passes(
        "check-jsonschema",
        &["--builtin-schema", "vendor.circle-ci"],
        &repository.root,
        ".circleci/config.yml",
    );

    // The nightly run is on the repository's default branch, and the job knows it.
    let nightly = &after["workflows"]["imagegate-nightly"]["triggers"][0]["schedule"];
    assert_eq!(nightly["filters"]["branches"]["only"][0], "master");
    assert_eq!(after["jobs"]["imagegate"]["environment"]["IMAGEGATE_DEFAULT_BRANCH"], "master");

    // A fork's pull request (branch `pull/N`) only reaches invocations without the context
    // that holds the registry credentials; this repository's branches reach the one with it.
    let branch_runs = |invocation: &Value, branch: &str| {
        let filters = &invocation["filters"]["branches"];
        let matches = |pattern: &Value| {
            let pattern = pattern.as_str().unwrap();
            match pattern.strip_prefix('/').and_then(|rest| rest.strip_suffix('/')) {
                Some(expression) => regex::Regex::new(&format!("^(?:{expression})$")).unwrap().is_match(branch),
                None => pattern == branch,
            }
        };
        let listed = |value: &Value| match value {
            Value::Sequence(items) => items.iter().any(matches),
            Value::Null => false,
            other => matches(other),
        };
        (filters["only"].is_null() || listed(&filters["only"])) && !listed(&filters["ignore"])
    };
    let invocations: Vec<&Value> =
        after["workflows"]["imagegate"]["jobs"].as_sequence().unwrap().iter().map(|item| &item["imagegate"]).collect();
    assert_eq!(invocations.len(), 2);
    for invocation in &invocations {
        if branch_runs(invocation, "pull/123") {
            assert!(invocation["context"].is_null(), "a fork's pull request gets the registry context: {invocation:?}");
        }
    }
    assert!(invocations.iter().any(|invocation| branch_runs(invocation, "master") && !invocation["context"].is_null()));

    // The reports are stored where CircleCI shows them.
    let steps = after["jobs"]["imagegate"]["steps"].as_sequence().unwrap();
    assert!(steps.iter().any(|step| step["store_test_results"]["path"] == "imagegate-junit.xml"));
    assert!(steps.iter().any(|step| step["store_artifacts"]["path"] == "imagegate-reports"));

    // The store the workflow logs in to is in imagegate.toml.
    assert!(repository.read("imagegate.toml").contains("registry = \"ghcr.io/acme/app\""));

    // A second run refuses (the job is there) and leaves the file alone.
    let again = repository.init(&["--ci", "circleci"]);
    again.expect_code(2);
    assert_no_force_suggested(&again);
    assert_eq!(repository.read(".circleci/config.yml"), merged);
}

#[test]
fn gitlab_includes_its_jobs_from_a_pipeline_with_stages_and_includes() {
    let original = fixture("gitlab-ci.yml");
    let repository = Repository::new("https://gitlab.com/Acme/App.git", &[(".gitlab-ci.yml", original.clone())]);
    let run = repository.init(&["--ci", "gitlab"]);
    run.expect_code(0);
    assert_no_force_suggested(&run);
    assert!(run.stderr.contains("+  - local: .gitlab/imagegate.yml"), "{}", run.stderr);
    let merged = repository.read(".gitlab-ci.yml");
    assert_text_kept(&original, &merged);
    let (before, after) = (yaml(&original), yaml(&merged));
    for key in mapping_keys(&before) {
        if key != "include" {
            assert_eq!(before[key.as_str()], after[key.as_str()], "{key} changed");
        }
    }
    let includes = after["include"].as_sequence().unwrap();
    assert_eq!(&includes[..2], before["include"].as_sequence().unwrap().as_slice());
    assert_eq!(includes[2]["local"], ".gitlab/imagegate.yml");
    for file in [".gitlab-ci.yml", ".gitlab/imagegate.yml"] {
        assert_linter_passes("check-jsonschema", &["--builtin-schema", "vendor.gitlab-ci"], &repository.root, file);
    }

    let jobs = yaml(&repository.read(".gitlab/imagegate.yml"));
    // In the project's first stage, so that it runs before the project's jobs.
    assert_eq!(jobs["imagegate"]["stage"], "lint");
    assert_eq!(jobs["imagegate-merge-request"]["stage"], "lint");
    // The scheduled run is on the repository's default branch.
    let rules = |job: &str| -> Vec<String> {
        jobs[job]["rules"].as_sequence().unwrap().iter().map(|rule| rule["if"].as_str().unwrap().to_owned()).collect()
    };
    assert!(
        rules("imagegate")
            .contains(&r#"$CI_PIPELINE_SOURCE == "schedule" && $CI_COMMIT_BRANCH == "master""#.to_owned())
    );
    // Merge requests reach only the job that never logs in to the registry; the job that logs in
    // never runs for them.
    let script_text = |job: &str| serde_norway::to_string(&jobs[job]["before_script"]).unwrap();
    for job in ["imagegate", "imagegate-merge-request"] {
        let for_merge_requests = rules(job).iter().any(|rule| rule.contains("merge_request_event"));
        let logs_in = script_text(job).contains("docker login") || script_text(job).contains("CI_REGISTRY_PASSWORD");
        assert!(!(for_merge_requests && logs_in), "{job} logs in for merge requests");
    }
    assert!(script_text("imagegate").contains("docker login"));
    // The reports are artifacts, the JUnit one in the merge request's test report.
    for job in ["imagegate", "imagegate-merge-request"] {
        let artifacts = &jobs[job]["artifacts"];
        assert_eq!(artifacts["reports"]["junit"], "imagegate-junit.xml", "{job}");
        assert_eq!(artifacts["paths"][0], "imagegate-reports/", "{job}");
        assert_eq!(artifacts["when"], "always", "{job}");
    }
    assert!(repository.read("imagegate.toml").contains("registry = \"registry.gitlab.com/acme/app\""));
}

#[test]
fn github_writes_its_own_workflow_and_never_replaces_the_projects() {
    let ci = fixture("github-ci.yml");
    let repository = Repository::new("https://github.com/Acme/App", &[(".github/workflows/ci.yml", ci.clone())]);
    let run = repository.init(&["--ci", "github"]);
    run.expect_code(0);
    assert_eq!(repository.read(".github/workflows/ci.yml"), ci);
    for file in [".github/workflows/imagegate.yml", ".github/workflows/ci.yml"] {
        assert_linter_passes(
            "check-jsonschema",
            &["--builtin-schema", "vendor.github-workflows"],
            &repository.root,
            file,
        );
    }
    assert_linter_passes(actionlint(), &[], &repository.root, ".github/workflows/imagegate.yml");

    let workflow = yaml(&repository.read(".github/workflows/imagegate.yml"));
    let triggers = mapping_keys(&workflow["on"]);
    // pull_request_target would hand a fork's code a token that can write.
    assert!(!triggers.contains(&"pull_request_target".to_owned()), "{triggers:?}");
    assert!(workflow["permissions"].as_mapping().unwrap().is_empty(), "nothing granted by default");
    let excludes_pull_requests = |condition: &str| condition.starts_with("github.event_name != 'pull_request' &&");
    let mut writers = 0;
    for (name, job) in workflow["jobs"].as_mapping().unwrap() {
        let condition = job["if"].as_str().unwrap_or_default();
        let writes = job["permissions"].as_mapping().unwrap().values().any(|level| level == "write")
            && job["permissions"]["packages"] == "write";
        if writes {
            writers += 1;
            assert!(excludes_pull_requests(condition), "{name:?} writes packages on pull requests: {condition}");
            // The nightly run promotes from the repository's default branch.
            assert!(condition.contains("github.ref == 'refs/heads/master'"), "{condition}");
        } else {
            assert!(job["permissions"]["packages"] == "read", "{name:?}");
        }
        // The reports are uploaded and shown as a test report, also when the gate blocks.
        let steps = job["steps"].as_sequence().unwrap();
        let uses =
            |prefix: &str| steps.iter().find(|step| step["uses"].as_str().is_some_and(|uses| uses.starts_with(prefix)));
        let upload = uses("actions/upload-artifact@").expect("uploads the reports");
        assert_eq!(upload["with"]["path"], "imagegate-reports/");
        assert_eq!(upload["if"], "${{ !cancelled() }}");
        assert!(uses("mikepenz/action-junit-report@").is_some());
    }
    assert_eq!(writers, 1);

    // A workflow of the project's own under imagegate's name is never replaced, not even with
    // --force, and --force is not suggested.
    fs::write(repository.root.join(".github/workflows/imagegate.yml"), "name: ours\n").unwrap();
    for args in [&["--ci", "github"][..], &["--ci", "github", "--force"][..]] {
        let refused = repository.init(args);
        refused.expect_code(2);
        assert_no_force_suggested(&refused);
        assert!(refused.stderr.contains("is the project's own"), "{}", refused.stderr);
        assert_eq!(repository.read(".github/workflows/imagegate.yml"), "name: ours\n");
    }
}

#[test]
fn a_circleci_config_that_cannot_be_edited_safely_is_left_alone_with_the_jobs_beside_it() {
    let original = fixture("circleci-tahoe.yml").replace("version: 2.1", "version: 2");
    let repository = Repository::new("git@github.com:Acme/App.git", &[(".circleci/config.yml", original.clone())]);
    let run = repository.init(&["--ci", "circleci"]);
    run.expect_code(2);
    assert_no_force_suggested(&run);
    assert!(run.stderr.contains("`version: 2`") && run.stderr.contains(".circleci/imagegate.yml"), "{}", run.stderr);
    assert_eq!(repository.read(".circleci/config.yml"), original);
    let beside = yaml(&repository.read(".circleci/imagegate.yml"));
    assert!(beside["jobs"]["imagegate"].is_mapping());
}
