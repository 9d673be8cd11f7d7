//! The stable pointer in a lockfile in git (`[store] lockfile`), against a real engine and a
//! bare repository as the remote: the truth is the lockfile on the remote's default branch,
//! a promotion is a pushed commit whose refused push is the compare-and-swap, and `ci` hands on
//! the image the checked-out commit pins.

use std::path::{Path, PathBuf};
use std::process::Command;

use imagegate_testkit::{Registry, RegistryAuth, RegistryOptions};

use crate::ci::{github_environment, run_ci};
use crate::context::{Engine, Run, TestContext};

/// Where the lockfile is, relative to imagegate.toml: outside the image's build context (`ci`),
/// so that moving the pointer does not change the recipe.
const LOCKFILE: &str = "images.lock";

#[track_caller]
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").args(args).current_dir(dir).output().expect("run git");
    assert!(output.status.success(), "git {args:?} in {}: {}", dir.display(), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A test project whose stable pointer lives in `images.lock`, pushed to a bare remote.
struct LockfileProject {
    context: TestContext,
    remote: PathBuf,
}

impl LockfileProject {
    fn new() -> LockfileProject {
        LockfileProject::with_store("")
    }

    /// With `store` as further lines of `[store]` (a registry, say).
    fn with_store(store: &str) -> LockfileProject {
        let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
        let config = std::fs::read_to_string(context.path("imagegate.toml")).unwrap();
        std::fs::write(
            context.path("imagegate.toml"),
            format!("{config}\n[store]\nlockfile = \"{LOCKFILE}\"\n{store}"),
        )
        .unwrap();
        // The state folder is this clone's own, never committed.
        std::fs::write(context.path(".gitignore"), ".imagegate/\n").unwrap();
        git(&context.root, &["add", "-A"]);
        git(&context.root, &["commit", "-q", "-m", "keep the stable pointer in a lockfile"]);
        let remote = context.scratch.join("remote.git");
        git(&context.scratch, &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
        git(&context.root, &["remote", "add", "origin", remote.to_str().unwrap()]);
        git(&context.root, &["push", "-q", "origin", "main"]);
        LockfileProject { context, remote }
    }

    /// A fresh clone of the remote in the scratch folder.
    fn clone(&self, name: &str) -> PathBuf {
        let path = self.context.scratch.join(name);
        git(&self.context.scratch, &["clone", "-q", self.remote.to_str().unwrap(), path.to_str().unwrap()]);
        git(&path, &["config", "user.email", "other@example.invalid"]);
        git(&path, &["config", "user.name", "other"]);
        path
    }

    /// The lockfile on the remote's main, as another clone sees it; `None` when it has none.
    fn remote_lockfile(&self) -> Option<String> {
        let observer = self.context.scratch.join("observer");
        if observer.exists() {
            git(&observer, &["fetch", "-q", "origin"]);
        } else {
            self.clone("observer");
        }
        let output = Command::new("git")
            .args(["show", &format!("origin/main:{LOCKFILE}")])
            .current_dir(&observer)
            .output()
            .unwrap();
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The digest the remote's lockfile names for the test image.
    fn remote_digest(&self) -> Option<String> {
        let text = self.remote_lockfile()?;
        let table: toml::Table = text.parse().expect("the lockfile is TOML");
        table.get("images")?.get(&self.context.image)?.get("digest")?.as_str().map(str::to_owned)
    }

    fn remote_tip(&self) -> String {
        git(&self.remote, &["rev-parse", "main"])
    }

    /// Runs imagegate in `dir` (a clone of the project).
    fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        let mut command = self.context.command();
        command.current_dir(dir);
        Run::from(command.args(args).output().expect("run imagegate"))
    }

    /// Gates with promotion in the first checkout; returns the candidate's digest.
    fn promote_recipe(&self, features: &[&str]) -> String {
        self.context.set_features(features);
        let (run, report) = self.context.gate(&["--promote"]);
        run.expect_code(0);
        assert_eq!(report["promotion"]["status"], "promoted", "{report}");
        report["candidate"]["digest"].as_str().unwrap().to_owned()
    }

    /// Commits a change of the lockfile's entry for the test image from another clone, as a
    /// person or another pipeline would.
    fn replace_entry_on_remote(&self, digest: &str, reference: &str) {
        let clone = self.clone("replacer");
        let path = clone.join(LOCKFILE);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut document: toml::Table = text.parse().unwrap();
        let images = document.entry("images").or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let mut entry = toml::Table::new();
        entry.insert("digest".into(), digest.into());
        entry.insert("reference".into(), reference.into());
        images.as_table_mut().unwrap().insert(self.context.image.clone(), toml::Value::Table(entry));
        std::fs::write(&path, toml::to_string(&document).unwrap()).unwrap();
        git(&clone, &["commit", "-q", "-am", "pin another image by hand"]);
        git(&clone, &["push", "-q", "origin", "main"]);
    }
}

#[test]
fn bootstrap_promotion_pushes_the_candidates_digest() {
    let project = LockfileProject::new();
    assert_eq!(project.remote_lockfile(), None);
    let before = project.remote_tip();
    let candidate = project.promote_recipe(&["alpha"]);

    let text = project.remote_lockfile().expect("the remote has the lockfile");
    assert!(text.contains(&format!("[images.{}]", project.context.image)), "{text}");
    assert_eq!(project.remote_digest().as_deref(), Some(candidate.as_str()), "{text}");
    // One commit on the tip the gate read, changing only the lockfile.
    assert_eq!(git(&project.remote, &["rev-parse", "main~1"]), before);
    assert_eq!(git(&project.remote, &["diff", "--name-only", "main~1", "main"]), LOCKFILE);
    let subject = git(&project.remote, &["log", "-1", "--format=%s", "main"]);
    assert!(subject.contains("promote") && subject.contains(&project.context.image), "{subject}");
    // The engine's tag follows as a convenience copy; the local checkout was not touched.
    assert_eq!(project.context.stable_id().as_deref(), Some(candidate.as_str()));
    assert!(!project.context.path(LOCKFILE).exists(), "the working tree got the lockfile");
    assert_eq!(git(&project.context.root, &["status", "--porcelain", "--untracked-files=no"]), "");
}

#[test]
fn a_promotion_whose_incumbent_was_replaced_on_the_remote_exits_4_and_pushes_nothing() {
    let project = LockfileProject::new();
    let first = project.promote_recipe(&["alpha"]);
    project.context.set_features(&["alpha", "beta"]);
    let (run, report) = project.context.gate(&[]);
    run.expect_code(0);
    assert_eq!(report["incumbent"]["digest"], first.as_str(), "{report}");

    let replaced = format!("sha256:{}", "c".repeat(64));
    project.replace_entry_on_remote(&replaced, "registry.example.invalid/ci@sha256:cccc");
    let tip = project.remote_tip();
    let run = project.context.run(&["promote"]);
    run.expect_code(4);
    assert!(run.stderr.contains("moved since the verdict"), "{run}");
    assert_eq!(project.remote_tip(), tip, "something was pushed");
    assert_eq!(project.remote_digest().as_deref(), Some(replaced.as_str()));
    assert_eq!(project.context.stable_id().as_deref(), Some(first.as_str()), "the engine's tag moved");
}

#[test]
fn a_promotion_succeeds_on_top_of_unrelated_commits() {
    let project = LockfileProject::new();
    project.promote_recipe(&["alpha"]);
    project.context.set_features(&["alpha", "beta"]);
    let (run, report) = project.context.gate(&[]);
    run.expect_code(0);
    let candidate = report["candidate"]["digest"].as_str().unwrap().to_owned();

    let other = project.clone("other");
    std::fs::write(other.join("NOTES.md"), "unrelated work\n").unwrap();
    git(&other, &["add", "NOTES.md"]);
    git(&other, &["commit", "-q", "-m", "unrelated work"]);
    git(&other, &["push", "-q", "origin", "main"]);
    let unrelated = project.remote_tip();

    project.context.run(&["promote"]).expect_code(0);
    assert_eq!(project.remote_digest().as_deref(), Some(candidate.as_str()));
    assert_eq!(git(&project.remote, &["rev-parse", "main~1"]), unrelated, "not made on the new tip");
    assert_eq!(git(&project.remote, &["show", "main:NOTES.md"]), "unrelated work");
}

#[test]
fn of_four_concurrent_promoters_from_separate_clones_exactly_one_wins() {
    let project = LockfileProject::new();
    let incumbent = project.promote_recipe(&["alpha"]);
    // Each clone gates its own recipe against the same incumbent, without promoting.
    let mut clones = Vec::new();
    for index in 0..4 {
        let clone = project.clone(&format!("promoter{index}"));
        std::fs::write(clone.join("ci/lib/features"), format!("alpha\nvariant{index}\n")).unwrap();
        let run = project.run_in(&clone, &["gate", "--json"]);
        run.expect_code(0);
        let report = run.json();
        assert_eq!(report["decision"], "pass", "{report}");
        assert_eq!(report["incumbent"]["digest"], incumbent.as_str(), "{report}");
        clones.push((clone, report["candidate"]["digest"].as_str().unwrap().to_owned()));
    }
    let tip = project.remote_tip();

    let children: Vec<_> = clones
        .iter()
        .map(|(clone, _)| {
            let mut command = project.context.command();
            command.current_dir(clone).arg("promote");
            command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            command.spawn().expect("start a promoter")
        })
        .collect();
    let runs: Vec<Run> = children.into_iter().map(|child| Run::from(child.wait_with_output().unwrap())).collect();

    let winners: Vec<usize> = (0..4).filter(|&index| runs[index].code == 0).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one promoter wins: {runs:#?}",
        runs = runs.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    for run in &runs {
        assert!(run.code == 0 || run.code == 4, "a loser exits 4:\n{run}");
    }
    let winner = &clones[winners[0]].1;
    assert_eq!(project.remote_digest().as_deref(), Some(winner.as_str()));
    assert_eq!(git(&project.remote, &["rev-list", "--count", &format!("{tip}..main")]), "1", "one commit pushed");
}

#[test]
fn rollback_restores_the_previous_digest_and_history_names_the_commits() {
    let project = LockfileProject::new();
    let first = project.promote_recipe(&["alpha"]);
    let second = project.promote_recipe(&["alpha", "beta"]);
    assert_eq!(project.remote_digest().as_deref(), Some(second.as_str()));

    // From another clone with a state folder of its own: the lockfile's history says what
    // came before.
    let clone = project.clone("operator");
    project.run_in(&clone, &["rollback", &project.context.image]).expect_code(0);
    assert_eq!(project.remote_digest().as_deref(), Some(first.as_str()));
    let subject = git(&project.remote, &["log", "-1", "--format=%s", "main"]);
    assert!(subject.contains("roll back"), "{subject}");

    // Undoing the first promotion would remove the entry: refused, nothing pushed.
    let tip = project.remote_tip();
    let run = project.run_in(&clone, &["rollback", &project.context.image]);
    run.expect_code(2);
    assert!(run.stderr.contains("was the first stable image"), "{run}");
    assert_eq!(project.remote_tip(), tip);

    let run = project.context.run(&["history", "--json"]);
    run.expect_code(0);
    let history = run.json();
    let events = history["events"].as_array().unwrap();
    let moves: Vec<(&str, &str)> = events
        .iter()
        .filter(|event| event["kind"] != "verdict")
        .map(|event| (event["kind"].as_str().unwrap(), event["to"].as_str().unwrap_or("none")))
        .collect();
    assert_eq!(moves, [("promote", first.as_str()), ("promote", second.as_str()), ("rollback", first.as_str())]);
    assert!(
        events.iter().filter(|event| event["kind"] != "verdict").all(|event| event["lockfile_commit"].is_string()),
        "{history}"
    );
}

#[test]
fn ci_hands_on_the_reference_pinned_in_the_checked_out_commit() {
    let project = LockfileProject::new();
    let stable = project.promote_recipe(&["alpha"]);
    // The checkout takes the promotion's commit: it now pins the stable image.
    git(&project.context.root, &["pull", "-q", "--ff-only", "origin", "main"]);
    let pinned_text = std::fs::read_to_string(project.context.path(LOCKFILE)).unwrap();
    let pinned: toml::Table = pinned_text.parse().unwrap();
    let pinned_reference = pinned["images"][&project.context.image]["reference"].as_str().unwrap().to_owned();
    // The remote names the same image by another reference since: the job hands on what its
    // own commit pins, not what the remote says now.
    project.replace_entry_on_remote(&stable, "registry.example.invalid/elsewhere:pinned-later");

    let output = project.context.scratch.join("github-output");
    let summary = project.context.scratch.join("summary");
    let (run, report) = run_ci(&project.context, &github_environment("push_feature", &output, &summary));
    run.expect_code(0);
    assert_eq!(report["candidate"]["digest"], stable.as_str(), "{report}");
    let last = std::fs::read_to_string(&output).unwrap().lines().last().unwrap().to_owned();
    assert_eq!(last, format!("image-{}={pinned_reference}", project.context.image));

    // A branch that changed the recipe gets its candidate, as without a lockfile.
    project.context.set_features(&["alpha", "beta"]);
    let (run, report) = run_ci(&project.context, &github_environment("push_feature", &output, &summary));
    run.expect_code(0);
    let last = std::fs::read_to_string(&output).unwrap().lines().last().unwrap().to_owned();
    assert_eq!(last, format!("image-{}={}", project.context.image, report["candidate"]["reference"].as_str().unwrap()));
}

#[test]
fn a_push_the_remote_refuses_for_another_reason_exits_3_with_the_ways_out() {
    let project = LockfileProject::new();
    let hook = project.remote.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'main is a protected branch' >&2\nexit 1\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let tip = project.remote_tip();
    let run = project.context.run(&["gate", "--promote"]);
    run.expect_code(3);
    assert!(run.stderr.contains("main is a protected branch"), "{run}");
    assert!(run.stderr.contains("hint:") && run.stderr.contains("lockfile_branch"), "{run}");
    assert_eq!(project.remote_tip(), tip);
    assert_eq!(project.context.stable_id(), None, "the engine's tag moved without the lockfile");
}

#[test]
fn a_fork_pull_request_pushes_nothing() {
    let project = LockfileProject::new();
    project.promote_recipe(&["alpha"]);
    project.context.set_features(&["alpha", "beta"]);
    let tip = project.remote_tip();
    let output = project.context.scratch.join("github-output");
    let summary = project.context.scratch.join("summary");
    let (run, report) = run_ci(&project.context, &github_environment("pull_request_fork", &output, &summary));
    run.expect_code(0);
    assert_eq!(report["decision"], "pass", "{report}");
    assert_eq!(report["promotion"]["status"], "not-allowed", "{report}");
    assert_eq!(project.remote_tip(), tip, "a fork's run pushed");
}

#[test]
fn with_a_registry_store_the_lockfile_pins_the_manifest_digest_by_a_pullable_reference() {
    let registry = Registry::start(RegistryOptions { auth: RegistryAuth::None, tls: false }).expect("start a registry");
    let project = LockfileProject::with_store(&format!("registry = \"{}/it\"\ninsecure = true\n", registry.address()));
    let candidate = project.promote_recipe(&["alpha"]);
    let text = project.remote_lockfile().expect("the remote has the lockfile");
    assert_eq!(project.remote_digest().as_deref(), Some(candidate.as_str()), "{text}");
    let table: toml::Table = text.parse().unwrap();
    let reference = table["images"][&project.context.image]["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with(&registry.address()) && reference.ends_with(&format!("@{candidate}")), "{reference}");
    let pulled = Command::new("docker").args(["pull", "-q", &reference]).output().unwrap();
    assert!(pulled.status.success(), "pull {reference}: {}", String::from_utf8_lossy(&pulled.stderr));
}
