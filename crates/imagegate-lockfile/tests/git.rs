//! The lockfile against real git: a bare repository in a temporary folder is the remote, and
//! clones of it are the checkouts of people and CI jobs that read and move the pointer.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};

use imagegate_lockfile::{Entry, ErrorKind, GitLockfile, LockfileError};

const LOCKFILE: &str = "ci/images.lock";

fn digest(digit: char) -> String {
    format!("sha256:{}", digit.to_string().repeat(64))
}

fn entry(digit: char) -> Entry {
    Entry::new(digest(digit), format!("registry.example/ci@{}", digest(digit)))
}

/// Runs git in `dir`, asserting success, and returns its trimmed stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").current_dir(dir).args(args).output().expect("run git");
    assert!(output.status.success(), "git {args:?} in {}: {}", dir.display(), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A bare repository with one commit on `branch`, standing in for the project's remote.
struct Remote {
    root: tempfile::TempDir,
    bare: PathBuf,
    branch: String,
}

impl Remote {
    fn new() -> Remote {
        Remote::with_branch("main")
    }

    fn with_branch(branch: &str) -> Remote {
        let root = tempfile::tempdir().expect("temporary folder");
        let bare = root.path().join("remote.git");
        git(root.path(), &["init", "--quiet", "--bare", &format!("--initial-branch={branch}"), "remote.git"]);
        let remote = Remote { root, bare, branch: branch.to_owned() };
        let seed = remote.clone_as("seed");
        fs::write(seed.join("README.md"), "a project\n").expect("write");
        git(&seed, &["add", "README.md"]);
        git(&seed, &["commit", "--quiet", "-m", "first"]);
        git(&seed, &["push", "--quiet", "origin", &format!("HEAD:refs/heads/{branch}")]);
        remote
    }

    /// A clone with its own identity, so that the tests do not depend on the machine's.
    fn clone_as(&self, name: &str) -> PathBuf {
        let dir = self.root.path().join(name);
        git(self.root.path(), &["clone", "--quiet", &self.bare.to_string_lossy(), name]);
        git(&dir, &["config", "user.name", name]);
        git(&dir, &["config", "user.email", &format!("{name}@example.com")]);
        dir
    }

    fn tip(&self) -> String {
        git(&self.bare, &["rev-parse", &format!("refs/heads/{}", self.branch)])
    }

    /// The lockfile's text on the remote branch.
    fn lockfile(&self) -> String {
        git(&self.bare, &["show", &format!("{}:{LOCKFILE}", self.branch)])
    }

    fn commits(&self) -> usize {
        git(&self.bare, &["rev-list", "--count", &self.branch]).parse().expect("a count")
    }
}

fn lockfile_in(clone: &Path) -> GitLockfile {
    GitLockfile::open(clone, Path::new(LOCKFILE)).expect("open the lockfile")
}

#[test]
fn a_bootstrap_move_pushes_the_digest() {
    let remote = Remote::new();
    let clone = remote.clone_as("ci");
    let lockfile = lockfile_in(&clone);
    assert_eq!(lockfile.read_remote().expect("read").entry("python"), None, "no stable image yet");

    let moved = lockfile.move_pointer("python", None, &entry('a'), "promote").expect("move");

    assert_eq!((moved.changed, moved.attempts, moved.previous.clone()), (true, 1, None));
    assert_eq!(moved.branch, "main");
    assert_eq!(remote.tip(), moved.commit);
    assert!(remote.lockfile().contains(&format!("digest = \"{}\"", digest('a'))), "{}", remote.lockfile());
    let message = git(&remote.bare, &["log", "-1", "--format=%B", "main"]);
    assert!(message.starts_with("imagegate: promote python (none) -> sha256:aaaaaaaaaaaa"), "{message}");
    assert!(message.contains(&format!("to: {}", digest('a'))), "{message}");
    let changed = git(&remote.bare, &["diff-tree", "--no-commit-id", "--name-only", "-r", "main"]);
    assert_eq!(changed, LOCKFILE, "the commit changes only the lockfile");
    let author = git(&remote.bare, &["log", "-1", "--format=%an <%ae>", "main"]);
    assert_eq!(author, "ci <ci@example.com>", "the user's configured identity");

    let other = lockfile_in(&remote.clone_as("other"));
    assert_eq!(other.read_remote().expect("read").entry("python"), Some(entry('a')));
}

#[test]
fn a_move_whose_incumbent_was_replaced_meanwhile_is_refused_and_pushes_nothing() {
    let remote = Remote::new();
    let first = lockfile_in(&remote.clone_as("first"));
    let second = lockfile_in(&remote.clone_as("second"));
    first.move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    // `first` judged its candidate against `a`; meanwhile `second` promoted `b`.
    assert_eq!(first.read_remote().expect("read").entry("python"), Some(entry('a')));
    second.move_pointer("python", Some(&digest('a')), &entry('b'), "promote").expect("second wins");
    let tip = remote.tip();

    let error = first.move_pointer("python", Some(&digest('a')), &entry('c'), "promote").expect_err("lost");

    assert_eq!(error.kind(), ErrorKind::PointerMoved, "{error}");
    let LockfileError::PointerMoved { expected, found, .. } = &error else { panic!("{error:?}") };
    assert_eq!((expected.clone(), found.clone()), (Some(digest('a')), Some(digest('b'))));
    assert!(error.to_string().contains("hint: run `imagegate gate` again"), "{error}");
    assert_eq!(remote.tip(), tip, "nothing was pushed");
    assert!(remote.lockfile().contains(&digest('b')));
}

#[test]
fn a_move_lands_on_top_of_unrelated_commits_and_keeps_them() {
    let remote = Remote::new();
    let mover = remote.clone_as("mover");
    let lockfile = lockfile_in(&mover);
    lockfile.move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    let developer = remote.clone_as("developer");
    fs::write(developer.join("src.txt"), "unrelated work\n").expect("write");
    git(&developer, &["add", "src.txt"]);
    git(&developer, &["commit", "--quiet", "-m", "unrelated work"]);
    git(&developer, &["push", "--quiet", "origin", "HEAD:main"]);
    let unrelated = remote.tip();

    let moved = lockfile.move_pointer("python", Some(&digest('a')), &entry('b'), "promote").expect("move");

    assert_eq!(git(&remote.bare, &["rev-parse", "main^"]), unrelated, "the move is a child of the new tip");
    assert_eq!(remote.tip(), moved.commit);
    assert_eq!(git(&remote.bare, &["show", "main:src.txt"]), "unrelated work");
    assert!(remote.lockfile().contains(&digest('b')));
    assert_eq!(moved.previous, Some(entry('a')));
}

#[test]
fn of_four_concurrent_movers_expecting_the_same_incumbent_exactly_one_wins() {
    let remote = Remote::new();
    lockfile_in(&remote.clone_as("seed-lock")).move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    let before = remote.commits();
    let clones: Vec<PathBuf> = (0..4).map(|index| remote.clone_as(&format!("runner{index}"))).collect();
    let barrier = Arc::new(Barrier::new(clones.len()));
    let handles: Vec<_> = clones
        .into_iter()
        .zip(['b', 'c', 'd', 'e'])
        .map(|(clone, digit)| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let lockfile = lockfile_in(&clone);
                barrier.wait();
                (digit, lockfile.move_pointer("python", Some(&digest('a')), &entry(digit), "promote"))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|handle| handle.join().expect("mover thread")).collect();

    let winners: Vec<char> = results.iter().filter(|(_, result)| result.is_ok()).map(|(digit, _)| *digit).collect();
    assert_eq!(winners.len(), 1, "{results:#?}");
    for (_, result) in &results {
        if let Err(error) = result {
            assert_eq!(error.kind(), ErrorKind::PointerMoved, "{error}");
        }
    }
    assert_eq!(remote.commits(), before + 1, "exactly one move reached the remote");
    assert!(remote.lockfile().contains(&digest(winners[0])), "{}", remote.lockfile());
}

#[test]
fn concurrent_moves_of_different_images_all_land_by_retrying_on_the_new_tip() {
    let remote = Remote::new();
    let before = remote.commits();
    let images = ["python", "node", "go", "rust"];
    let clones: Vec<PathBuf> = images.iter().map(|image| remote.clone_as(image)).collect();
    let barrier = Arc::new(Barrier::new(clones.len()));
    let handles: Vec<_> = clones
        .into_iter()
        .zip(images.into_iter().zip(['b', 'c', 'd', 'e']))
        .map(|(clone, (image, digit))| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let lockfile = lockfile_in(&clone);
                barrier.wait();
                lockfile.move_pointer(image, None, &entry(digit), "promote")
            })
        })
        .collect();
    let moves: Vec<_> =
        handles.into_iter().map(|handle| handle.join().expect("mover thread").expect("every move lands")).collect();

    assert_eq!(remote.commits(), before + 4);
    let entries = lockfile_in(&remote.clone_as("reader")).read_remote().expect("read").lockfile.entries();
    assert_eq!(entries.len(), 4, "{entries:?}");
    for (image, digit) in images.into_iter().zip(['b', 'c', 'd', 'e']) {
        assert_eq!(entries[image], entry(digit));
    }
    // Every push after the first is based on a tip that a racing push may have replaced.
    assert!(moves.iter().all(|moved| moved.attempts <= 5), "{moves:#?}");
}

#[test]
fn rollback_restores_the_previous_digest_and_history_lists_the_moves() {
    let remote = Remote::new();
    let lockfile = lockfile_in(&remote.clone_as("ci"));
    lockfile.move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    lockfile.move_pointer("node", None, &entry('f'), "promote").expect("another image");
    lockfile.move_pointer("python", Some(&digest('a')), &entry('b'), "promote").expect("promote");

    let history = lockfile.history("python", 10).expect("history");
    assert_eq!(history.len(), 2, "the node move is not python's: {history:#?}");
    let previous = history[0].before.clone().expect("a previous image");
    assert_eq!(previous, entry('a'));
    let moved = lockfile.move_pointer("python", Some(&digest('b')), &previous, "roll back").expect("rollback");

    assert_eq!(moved.previous, Some(entry('b')));
    assert_eq!(lockfile.read_remote().expect("read").entry("python"), Some(entry('a')));
    assert!(remote.lockfile().contains(&digest('f')), "other images stay");
    let history = lockfile.history("python", 10).expect("history");
    let steps: Vec<_> = history.iter().map(|change| (change.before.clone(), change.after.clone())).collect();
    assert_eq!(
        steps,
        [(Some(entry('b')), Some(entry('a'))), (Some(entry('a')), Some(entry('b'))), (None, Some(entry('a')))]
    );
    assert!(history[0].subject.starts_with("imagegate: roll back python sha256:bbbbbbbbbbbb -> sha256:aaaaaaaaaaaa"));
    assert_eq!(history[0].commit, remote.tip());
    assert_eq!(history[0].author, "ci");
    assert!(history[0].date >= history[2].date);
    assert_eq!(lockfile.history("python", 1).expect("history").len(), 1, "the limit holds");
}

#[test]
fn a_push_refused_by_a_hook_is_push_refused_with_a_hint_and_not_retried() {
    let remote = Remote::new();
    let lockfile = lockfile_in(&remote.clone_as("ci"));
    lockfile.move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    let attempts = remote.root.path().join("attempts");
    write_hook(
        &remote,
        &format!(
            "#!/bin/sh\necho push >> '{}'\necho 'GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n",
            attempts.display()
        ),
    );
    let tip = remote.tip();

    let error = lockfile.move_pointer("python", Some(&digest('a')), &entry('b'), "promote").expect_err("refused");

    assert_eq!(error.kind(), ErrorKind::PushRefused, "{error}");
    let text = error.to_string();
    assert!(text.contains("the remote refused it (pre-receive hook declined)"), "{text}");
    assert!(text.contains("remote: GH006: Protected branch update failed"), "{text}");
    assert!(text.contains("hint: let the CI identity bypass the branch protection"), "{text}");
    assert!(text.contains("[store] lockfile_branch"), "{text}");
    assert_eq!(fs::read_to_string(&attempts).expect("attempts").lines().count(), 1, "pushed once, no retry");
    assert_eq!(remote.tip(), tip);
}

#[test]
fn a_push_that_loses_a_race_inside_the_remote_is_made_again_on_the_new_tip() {
    let remote = Remote::new();
    let lockfile = lockfile_in(&remote.clone_as("ci"));
    lockfile.move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    let attempts = remote.root.path().join("attempts");
    // On the first push only, another commit reaches the branch while the push is checked,
    // as when two pushes pass the lease check at once; the remote then refuses the first.
    write_hook(
        &remote,
        &format!(
            "#!/bin/sh\necho push >> '{attempts}'\nif [ \"$(wc -l < '{attempts}')\" -eq 1 ]; then\n  unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n  tree=$(git rev-parse 'refs/heads/main^{{tree}}')\n  commit=$(echo racing | GIT_AUTHOR_NAME=r GIT_AUTHOR_EMAIL=r@example.com GIT_COMMITTER_NAME=r GIT_COMMITTER_EMAIL=r@example.com git commit-tree \"$tree\" -p refs/heads/main)\n  git update-ref refs/heads/main \"$commit\"\n  exit 1\nfi\n",
            attempts = attempts.display()
        ),
    );

    let moved = lockfile.move_pointer("python", Some(&digest('a')), &entry('b'), "promote").expect("move");

    assert_eq!(moved.attempts, 2, "{moved:?}");
    assert_eq!(fs::read_to_string(&attempts).expect("attempts").lines().count(), 2);
    assert_eq!(git(&remote.bare, &["log", "-1", "--format=%s", "main^"]), "racing", "made on the new tip");
    assert!(remote.lockfile().contains(&digest('b')));
}

/// Installs `script` as the remote's pre-receive hook.
fn write_hook(remote: &Remote, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let hook = remote.bare.join("hooks/pre-receive");
    fs::write(&hook, script).expect("write hook");
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).expect("make the hook executable");
}

#[test]
fn a_move_leaves_the_working_tree_index_and_head_alone() {
    let remote = Remote::new();
    let clone = remote.clone_as("developer");
    // Work in progress: a staged file and an unstaged edit, both of which must survive.
    fs::write(clone.join("staged.txt"), "staged\n").expect("write");
    git(&clone, &["add", "staged.txt"]);
    fs::write(clone.join("README.md"), "edited\n").expect("write");
    let head = git(&clone, &["rev-parse", "HEAD"]);
    let branch = git(&clone, &["symbolic-ref", "HEAD"]);
    let status = git(&clone, &["status", "--porcelain"]);
    let index = fs::read(clone.join(".git/index")).expect("index");
    let refs_before = git(&clone, &["for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags"]);

    lockfile_in(&clone).move_pointer("python", None, &entry('a'), "promote").expect("move");

    assert_eq!(git(&clone, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&clone, &["symbolic-ref", "HEAD"]), branch);
    assert_eq!(git(&clone, &["status", "--porcelain"]), status);
    assert_eq!(fs::read(clone.join(".git/index")).expect("index"), index, "the index is byte for byte the same");
    assert!(!clone.join(LOCKFILE).exists(), "the lockfile is not written to the working tree");
    assert_eq!(git(&clone, &["for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags"]), refs_before);
    assert_eq!(git(&clone, &["for-each-ref", "refs/imagegate"]), "", "no private ref is left behind");

    // And in a clean checkout, `git status` stays clean.
    let clean = remote.clone_as("clean");
    lockfile_in(&clean).move_pointer("python", Some(&digest('a')), &entry('b'), "promote").expect("move");
    assert_eq!(git(&clean, &["status", "--porcelain"]), "");
}

#[test]
fn a_malformed_lockfile_on_the_remote_names_its_line_and_nothing_is_pushed() {
    let remote = Remote::new();
    let clone = remote.clone_as("developer");
    fs::create_dir_all(clone.join("ci")).expect("folder");
    fs::write(clone.join(LOCKFILE), format!("[images.python]\ndigest = \"{}\"\nreference = [1\n", digest('a')))
        .expect("write");
    git(&clone, &["add", LOCKFILE]);
    git(&clone, &["commit", "--quiet", "-m", "hand-edited lockfile"]);
    git(&clone, &["push", "--quiet", "origin", "HEAD:main"]);
    let tip = remote.tip();
    let lockfile = lockfile_in(&remote.clone_as("ci"));

    let error = lockfile.read_remote().expect_err("malformed");
    assert_eq!(error.kind(), ErrorKind::Malformed, "{error}");
    let text = error.to_string();
    assert!(text.starts_with(&format!("read lockfile {}:{LOCKFILE}:3: ", &tip[..12])), "{text}");
    assert!(text.contains("hint: each image is a table `[images.NAME]`"), "{text}");

    let error = lockfile.move_pointer("python", Some(&digest('a')), &entry('b'), "promote").expect_err("malformed");
    assert_eq!(error.kind(), ErrorKind::Malformed, "{error}");
    assert_eq!(remote.tip(), tip);
}

#[test]
fn pinned_is_the_checked_out_commits_entry_not_the_remotes() {
    let remote = Remote::new();
    let clone = remote.clone_as("job");
    let lockfile = lockfile_in(&clone);
    lockfile.move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    assert_eq!(lockfile.pinned("python").expect("pinned"), None, "the checkout predates the lockfile");

    git(&clone, &["pull", "--quiet", "--ff-only"]);
    assert_eq!(lockfile.pinned("python").expect("pinned"), Some(entry('a')));
    assert_eq!(lockfile.pinned("node").expect("pinned"), None);

    lockfile_in(&remote.clone_as("other"))
        .move_pointer("python", Some(&digest('a')), &entry('b'), "promote")
        .expect("move");
    assert_eq!(lockfile.pinned("python").expect("pinned"), Some(entry('a')), "this commit still names a");
    assert_eq!(lockfile.read_remote().expect("read").entry("python"), Some(entry('b')));
}

#[test]
fn the_default_branch_is_the_remotes_head_and_another_can_be_named() {
    let remote = Remote::with_branch("trunk");
    let clone = remote.clone_as("ci");
    let moved = lockfile_in(&clone).move_pointer("python", None, &entry('a'), "promote").expect("move");
    assert_eq!(moved.branch, "trunk");
    assert_eq!(remote.tip(), moved.commit);

    git(&clone, &["push", "--quiet", "origin", "HEAD:refs/heads/images"]);
    let own_branch = lockfile_in(&clone).branch(Some("images".to_owned()));
    let moved = own_branch.move_pointer("python", None, &entry('b'), "promote").expect("move on its branch");
    assert_eq!(moved.branch, "images");
    assert!(git(&remote.bare, &["show", &format!("images:{LOCKFILE}")]).contains(&digest('b')));
    assert!(remote.lockfile().contains(&digest('a')), "the default branch is unchanged");

    let missing = lockfile_in(&clone).branch(Some("nowhere".to_owned())).read_remote().expect_err("no branch");
    assert_eq!(missing.kind(), ErrorKind::Usage, "{missing}");
    assert!(missing.to_string().contains("remote `origin` has no branch `nowhere`"), "{missing}");

    let no_remote = lockfile_in(&clone).remote("upstream").read_remote().expect_err("no remote");
    assert_eq!(no_remote.kind(), ErrorKind::Git, "{no_remote}");
    assert!(no_remote.to_string().contains("hint: check that remote `upstream` exists"), "{no_remote}");
}

#[test]
fn a_move_to_the_current_entry_pushes_nothing() {
    let remote = Remote::new();
    let lockfile = lockfile_in(&remote.clone_as("ci"));
    lockfile.move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    let tip = remote.tip();
    let moved = lockfile.move_pointer("python", Some(&digest('a')), &entry('a'), "promote").expect("no-op");
    assert!(!moved.changed);
    assert_eq!((moved.commit, remote.tip()), (tip.clone(), tip));
}

#[test]
fn the_lockfile_path_is_taken_relative_to_the_folder_given_and_must_be_in_the_repository() {
    let remote = Remote::new();
    let clone = remote.clone_as("ci");
    fs::create_dir_all(clone.join("images/python")).expect("folder");
    let nested = GitLockfile::open(&clone.join("images/python"), Path::new("../../ci/./images.lock")).expect("open");
    assert_eq!(nested.path(), LOCKFILE);
    let absolute = GitLockfile::open(&clone, &clone.join("ci/images.lock")).expect("open");
    assert_eq!(absolute.path(), LOCKFILE);

    let error = GitLockfile::open(&clone, Path::new("../elsewhere.lock")).expect_err("outside");
    assert_eq!(error.kind(), ErrorKind::Usage, "{error}");
    assert!(error.to_string().contains("is not inside the git repository"), "{error}");

    let not_a_repository = tempfile::tempdir().expect("folder");
    let error = GitLockfile::open(not_a_repository.path(), Path::new(LOCKFILE)).expect_err("no repository");
    assert_eq!(error.kind(), ErrorKind::Git, "{error}");
    assert!(error.to_string().contains("run imagegate in a clone"), "{error}");
}

/// Set for the child process of [`without_a_configured_identity_commits_use_the_fallback`].
const IDENTITY_CHILD: &str = "IMAGEGATE_LOCKFILE_TEST_NO_IDENTITY_CLONE";

#[test]
fn without_a_configured_identity_commits_use_the_fallback() {
    let remote = Remote::new();
    let clone = remote.clone_as("anonymous");
    git(&clone, &["config", "--unset", "user.name"]);
    git(&clone, &["config", "--unset", "user.email"]);
    // git may otherwise make up an identity from the host name, which depends on the machine.
    git(&clone, &["config", "user.useConfigOnly", "true"]);
    let home = tempfile::tempdir().expect("folder");
    // The move runs in a child test process whose environment has no git identity at all:
    // the machine's global configuration is hidden from it.
    let status = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "identity_child_moves_the_pointer", "--ignored", "--nocapture"])
        .env(IDENTITY_CHILD, &clone)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("EMAIL")
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .status()
        .expect("run the child test");
    assert!(status.success(), "the move without an identity failed");
    assert_eq!(
        git(&remote.bare, &["log", "-1", "--format=%an <%ae>|%cn <%ce>", "main"]),
        "imagegate <imagegate@localhost>|imagegate <imagegate@localhost>"
    );
    assert!(remote.lockfile().contains(&digest('a')));
}

#[test]
#[ignore = "run by without_a_configured_identity_commits_use_the_fallback in a child process"]
fn identity_child_moves_the_pointer() {
    // Run directly (`--include-ignored`) it has no clone to work in; its parent checks it.
    let Some(clone) = std::env::var_os(IDENTITY_CHILD).map(PathBuf::from) else { return };
    let identity = Command::new("git").current_dir(&clone).args(["var", "GIT_AUTHOR_IDENT"]).output().expect("git var");
    assert!(!identity.status.success(), "this environment still has a git identity");
    lockfile_in(&clone).move_pointer("python", None, &entry('a'), "promote").expect("move");
}

#[test]
fn a_shallow_clone_as_ci_checks_out_reads_and_moves_the_pointer() {
    let remote = Remote::new();
    lockfile_in(&remote.clone_as("seed-lock")).move_pointer("python", None, &entry('a'), "promote").expect("bootstrap");
    let url = format!("file://{}", remote.bare.display());
    git(remote.root.path(), &["clone", "--quiet", "--depth=1", &url, "shallow"]);
    let clone = remote.root.path().join("shallow");
    assert_eq!(git(&clone, &["rev-parse", "--is-shallow-repository"]), "true");
    let lockfile = lockfile_in(&clone);

    assert_eq!(lockfile.pinned("python").expect("pinned"), Some(entry('a')));
    let moved = lockfile.move_pointer("python", Some(&digest('a')), &entry('b'), "promote").expect("move");
    assert_eq!(remote.tip(), moved.commit);
    assert!(remote.lockfile().contains(&digest('b')));
    // The history ends where the clone's does: the bootstrap commit is the clone's shallow
    // boundary, whose parent is unknown here, so it is not shown as a move from no image.
    let history = lockfile.history("python", 10).expect("history");
    let steps: Vec<_> = history.iter().map(|change| (change.before.clone(), change.after.clone())).collect();
    assert_eq!(steps, [(Some(entry('a')), Some(entry('b')))]);
}

#[test]
fn a_remote_that_cannot_be_reached_names_no_credential() {
    let remote = Remote::new();
    let clone = remote.clone_as("ci");
    // Nothing listens on port 1: the fetch fails at once, with the URL in git's message.
    git(&clone, &["remote", "add", "mirror", "https://ci-bot:s3cr3t-token@127.0.0.1:1/acme/ci.git"]);
    let lockfile = lockfile_in(&clone).remote("mirror").branch(Some("main".to_owned()));

    let error = lockfile.read_remote().expect_err("unreachable");

    assert_eq!(error.kind(), ErrorKind::Git, "{error}");
    let text = error.to_string();
    assert!(text.starts_with("fetch `main` from remote `mirror`: git exited with 128"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("hint: check that remote `mirror` exists"), "{text}");
}
