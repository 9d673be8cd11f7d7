//! The lockfile in a git repository: read on the remote branch's tip, moved there by a commit
//! pushed as a compare-and-swap, its history, and the version pinned in the checked-out commit.
//!
//! Nothing here touches the user's working tree, index or HEAD: the remote tip is fetched into
//! a private ref that is deleted again, files are read from commits (`git cat-file`), and a move
//! is made with plumbing — `hash-object`, a temporary index (`GIT_INDEX_FILE`), `write-tree`,
//! `commit-tree` — and pushed as `<commit>:refs/heads/<branch>`.
//!
//! The push is the compare-and-swap: it carries `--force-with-lease=refs/heads/<branch>:<tip>`,
//! so the remote takes it only while the branch still points at the tip the lockfile was read
//! on (and, the new commit being a child of that tip, it is never a forced update).

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{LockfileError, short};
use crate::format::{Entry, Lockfile};
use crate::git::{Git, failure};

/// Pushes tried before giving up when the branch keeps moving under a move whose entry still
/// matches; each loser of a race re-reads the lockfile, so contention ends within a few rounds.
const ATTEMPTS: u32 = 5;

/// The identity of commits made where git has none configured (a bare CI container): git
/// refuses to commit without one, and a lockfile move should not fail for that alone.
const FALLBACK_NAME: &str = "imagegate";
const FALLBACK_EMAIL: &str = "imagegate@localhost";

/// A lockfile at a path of a git repository, and the remote branch where its truth lives.
#[derive(Debug, Clone)]
pub struct GitLockfile {
    git: Git,
    /// Relative to the repository's top, with `/` separators (git's tree paths).
    path: String,
    remote: String,
    branch: Option<String>,
}

/// The lockfile as it is on the remote branch's tip.
#[derive(Debug, Clone)]
pub struct Tip {
    pub remote: String,
    pub branch: String,
    /// The tip's commit id.
    pub commit: String,
    /// The lockfile on that commit; empty when the file does not exist there (bootstrap).
    pub lockfile: Lockfile,
}

impl Tip {
    /// The image's entry on the tip; `None` means no stable image yet.
    pub fn entry(&self, image: &str) -> Option<Entry> {
        self.lockfile.entry(image)
    }
}

/// A pointer move that reached the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub remote: String,
    pub branch: String,
    /// The commit now at the branch's tip; when nothing had to change, the tip as fetched.
    pub commit: String,
    /// The entry the move replaced (the expected one).
    pub previous: Option<Entry>,
    /// Whether a commit was pushed; `false` when the entry already was `new`.
    pub changed: bool,
    /// Pushes tried, 1 unless another commit reached the branch first.
    pub attempts: u32,
}

/// A commit of the branch that changed one image's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub commit: String,
    /// Committer date.
    pub date: jiff::Timestamp,
    pub author: String,
    /// The commit message's first line.
    pub subject: String,
    /// The entry in the commit's first parent (`None`: none yet).
    pub before: Option<Entry>,
    /// The entry in the commit (`None`: removed).
    pub after: Option<Entry>,
}

/// How a push ended.
enum Pushed {
    Accepted,
    /// The branch no longer points at the tip the commit was made on.
    TipMoved,
}

impl GitLockfile {
    /// The lockfile at `lockfile` (absolute, or relative to `repo_dir`) in the git repository
    /// that holds `repo_dir`; its truth is on the remote `origin`'s default branch until
    /// [`GitLockfile::remote`] or [`GitLockfile::branch`] say otherwise.
    pub fn open(repo_dir: &Path, lockfile: &Path) -> Result<Self, LockfileError> {
        let git = Git::new(repo_dir);
        let top =
            git.run("find the top of the git repository", &["rev-parse", "--show-toplevel"]).map_err(|error| {
                match error {
                    LockfileError::Git { operation, status, stderr, .. } => LockfileError::Git {
                        operation,
                        status,
                        stderr,
                        hint: Some(format!(
                            "the lockfile lives in a git repository: run imagegate in a clone (`{}` is not in one)",
                            repo_dir.display()
                        )),
                    },
                    other => other,
                }
            })?;
        let top = canonical(Path::new(top.trim()));
        let absolute = normalize(&if lockfile.is_absolute() {
            lockfile.to_path_buf()
        } else {
            canonical(repo_dir).join(lockfile)
        });
        let absolute = match (absolute.parent(), absolute.file_name()) {
            // Resolves symbolic links in the folders (say /tmp → /private/tmp) when they exist.
            (Some(parent), Some(name)) if parent.exists() => canonical(parent).join(name),
            _ => absolute,
        };
        let relative = absolute.strip_prefix(&top).ok().filter(|relative| !relative.as_os_str().is_empty());
        let Some(relative) = relative else {
            return Err(LockfileError::Usage {
                message: format!(
                    "lockfile `{}` is not inside the git repository `{}`",
                    lockfile.display(),
                    top.display()
                ),
                hint: "set `[store] lockfile` to a path inside the repository that holds imagegate.toml".to_owned(),
            });
        };
        let path = relative.components().map(|part| part.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        Ok(GitLockfile { git, path, remote: "origin".to_owned(), branch: None })
    }

    /// The remote whose branch holds the truth (default `origin`).
    pub fn remote(mut self, remote: impl Into<String>) -> Self {
        self.remote = remote.into();
        self
    }

    /// The branch that holds the truth; `None` (the default) is the remote's default branch.
    pub fn branch(mut self, branch: Option<String>) -> Self {
        self.branch = branch;
        self
    }

    /// The lockfile's path relative to the repository's top, as git names it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Fetches the branch and reads the lockfile on its tip.
    pub fn read_remote(&self) -> Result<Tip, LockfileError> {
        let branch = self.resolve_branch()?;
        self.fetch(&branch)
    }

    /// Moves `image`'s entry from `expected` to `new` by compare-and-swap on the remote branch.
    ///
    /// On the fetched tip, the entry must still name `expected` (`None`: no entry), else
    /// [`LockfileError::PointerMoved`] and nothing is pushed. One commit on the tip changes only
    /// the lockfile, its message naming `action` (`promote`, `roll back`), the image and both
    /// digests; it is pushed. When the branch moved meanwhile the whole step — fetch, check,
    /// commit — is made again on the new tip, up to 5 times with a short jittered pause. A push
    /// refused for any other reason is [`LockfileError::PushRefused`], at once.
    pub fn move_pointer(
        &self,
        image: &str,
        expected: Option<&str>,
        new: &Entry,
        action: &str,
    ) -> Result<Moved, LockfileError> {
        new.validate()?;
        let branch = self.resolve_branch()?;
        for attempt in 1..=ATTEMPTS {
            let tip = self.fetch(&branch)?;
            let current = tip.entry(image);
            if current.as_ref().map(|entry| entry.digest.as_str()) != expected {
                return Err(LockfileError::PointerMoved {
                    lockfile: format!("`{}` on `{}/{branch}`", self.path, self.remote),
                    commit: tip.commit,
                    image: image.to_owned(),
                    expected: expected.map(ToOwned::to_owned),
                    found: current.map(|entry| entry.digest),
                });
            }
            if current.as_ref() == Some(new) {
                return Ok(Moved {
                    remote: self.remote.clone(),
                    branch,
                    commit: tip.commit,
                    previous: current,
                    changed: false,
                    attempts: attempt,
                });
            }
            let mut lockfile = tip.lockfile.clone();
            lockfile.set(image, new)?;
            let message = commit_message(action, image, expected, new);
            let commit = self.commit(&tip.commit, &lockfile.to_string(), &message)?;
            match self.push(&commit, &tip.commit, &branch)? {
                Pushed::Accepted => {
                    return Ok(Moved {
                        remote: self.remote.clone(),
                        branch,
                        commit,
                        previous: current,
                        changed: true,
                        attempts: attempt,
                    });
                }
                Pushed::TipMoved if attempt < ATTEMPTS => {
                    // Jitter parts racing movers, so that the next round has a clear winner.
                    std::thread::sleep(Duration::from_millis(u64::from(attempt) * 50 + fastrand::u64(0..150)));
                }
                Pushed::TipMoved => {}
            }
        }
        Err(LockfileError::Contended { remote: self.remote.clone(), branch, attempts: ATTEMPTS })
    }

    /// The branch's commits that changed `image`'s entry, newest first, at most `limit`.
    ///
    /// Versions of the lockfile that cannot be read (malformed in an old commit) are passed
    /// over rather than failing the whole history. In a shallow clone the history ends where
    /// the clone's does.
    pub fn history(&self, image: &str, limit: usize) -> Result<Vec<Change>, LockfileError> {
        let branch = self.resolve_branch()?;
        let tip = self.fetch(&branch)?;
        let log = self.git.run(
            "list the lockfile's commits",
            &["log", "--format=%H%x1f%P%x1f%ct%x1f%an%x1f%s%x1e", &tip.commit, "--", &self.path],
        )?;
        let shallow = self.shallow_commits()?;
        let mut changes = Vec::new();
        for record in log.split('\x1e').map(str::trim).filter(|record| !record.is_empty()) {
            if changes.len() >= limit {
                break;
            }
            let fields: Vec<&str> = record.split('\x1f').collect();
            let [commit, parents, time, author, subject] = fields[..] else { continue };
            let after = match self.lockfile_at(commit) {
                Ok(lockfile) => lockfile.entry(image),
                Err(LockfileError::Malformed { .. }) => continue,
                Err(error) => return Err(error),
            };
            let before = match parents.split_whitespace().next() {
                // A shallow clone's oldest commit shows no parent although it has one: what it
                // changed is unknown, and the history known here ends.
                None if shallow.iter().any(|cut| cut == commit) => break,
                None => None,
                Some(parent) => match self.lockfile_at(parent) {
                    Ok(lockfile) => lockfile.entry(image),
                    Err(LockfileError::Malformed { .. }) => continue,
                    Err(error) => return Err(error),
                },
            };
            if before == after {
                continue;
            }
            let seconds = time.parse::<i64>().ok().and_then(|seconds| jiff::Timestamp::from_second(seconds).ok());
            changes.push(Change {
                commit: commit.to_owned(),
                date: seconds.unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                author: author.to_owned(),
                subject: subject.to_owned(),
                before,
                after,
            });
        }
        Ok(changes)
    }

    /// The entry pinned in the checked-out commit (`HEAD`), not the remote's: what this
    /// commit's jobs run in. `None` when the commit has no lockfile or no entry for `image`.
    pub fn pinned(&self, image: &str) -> Result<Option<Entry>, LockfileError> {
        Ok(self.lockfile_at("HEAD")?.entry(image))
    }

    /// The branch named, or the remote's default branch (its `HEAD`).
    fn resolve_branch(&self) -> Result<String, LockfileError> {
        if let Some(branch) = &self.branch {
            return Ok(branch.clone());
        }
        let output = self.git.output(&["ls-remote", "--symref", &self.remote, "HEAD"], &[], None)?;
        if !output.status.success() {
            return Err(failure(
                &format!("ask remote `{}` for its default branch", self.remote),
                &output,
                Some(&self.remote_hint()),
            ));
        }
        output
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix("ref: refs/heads/")?.strip_suffix("\tHEAD").map(ToOwned::to_owned))
            .ok_or_else(|| LockfileError::Usage {
                message: format!("remote `{}` names no default branch", self.remote),
                hint: "name the lockfile's branch with `[store] lockfile_branch`".to_owned(),
            })
    }

    /// Fetches the branch into a private ref, reads its tip's lockfile and deletes the ref.
    fn fetch(&self, branch: &str) -> Result<Tip, LockfileError> {
        static FETCHES: AtomicU64 = AtomicU64::new(0);
        let private_ref =
            format!("refs/imagegate/fetch/{}-{}", std::process::id(), FETCHES.fetch_add(1, Ordering::Relaxed));
        let refspec = format!("+refs/heads/{branch}:{private_ref}");
        let output = self.git.output(
            &["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", &self.remote, &refspec],
            &[],
            None,
        )?;
        if !output.status.success() {
            if output.stderr.contains("couldn't find remote ref") {
                return Err(LockfileError::Usage {
                    message: format!("remote `{}` has no branch `{branch}`", self.remote),
                    hint: format!(
                        "push the branch first (for a branch of its own: `git switch --orphan {branch} && git commit --allow-empty -m 'imagegate lockfile' && git push {} {branch}`), or name another with `[store] lockfile_branch`",
                        self.remote
                    ),
                });
            }
            return Err(failure(
                &format!("fetch `{branch}` from remote `{}`", self.remote),
                &output,
                Some(&self.remote_hint()),
            ));
        }
        let commit =
            self.git.run("read the fetched tip", &["rev-parse", "--verify", &format!("{private_ref}^{{commit}}")]);
        // The ref only kept the objects while they were read; a stale one is harmless, so a
        // failed delete is not an error.
        let _ = self.git.output(&["update-ref", "-d", &private_ref], &[], None);
        let commit = commit?.trim().to_owned();
        let lockfile = self.lockfile_at(&commit)?;
        Ok(Tip { remote: self.remote.clone(), branch: branch.to_owned(), commit, lockfile })
    }

    /// The lockfile as it is in `revision`; empty when the file is not there.
    fn lockfile_at(&self, revision: &str) -> Result<Lockfile, LockfileError> {
        let object = format!("{revision}:{}", self.path);
        let Some(blob) = self.git.run_optional(
            &format!("find `{}` in {revision}", self.path),
            &["rev-parse", "--verify", "--quiet", &object],
        )?
        else {
            return Ok(Lockfile::empty());
        };
        let text = self.git.run(&format!("read `{object}`"), &["cat-file", "blob", blob.trim()])?;
        Lockfile::parse(&text, &format!("{}:{}", short(revision), self.path))
    }

    /// A commit on `parent` whose tree is the parent's with the lockfile replaced by `text`,
    /// made without the user's index: a temporary index holds the tree while it is written.
    fn commit(&self, parent: &str, text: &str, message: &str) -> Result<String, LockfileError> {
        let blob = self.git.run_with(
            "store the new lockfile",
            &["hash-object", "-w", "--stdin"],
            &[],
            Some(text.as_bytes()),
        )?;
        let index_dir = tempfile::Builder::new()
            .prefix("imagegate-index-")
            .tempdir()
            .map_err(|source| LockfileError::Io { operation: "make a temporary index", source })?;
        let index = index_dir.path().join("index");
        let index = index.to_string_lossy();
        let with_index = [("GIT_INDEX_FILE", index.as_ref())];
        self.git.run_with("read the tip's tree", &["read-tree", parent], &with_index, None)?;
        let cacheinfo = format!("100644,{},{}", blob.trim(), self.path);
        self.git.run_with(
            "put the lockfile in the tree",
            &["update-index", "--add", "--cacheinfo", &cacheinfo],
            &with_index,
            None,
        )?;
        let tree = self.git.run_with("write the tree", &["write-tree"], &with_index, None)?;
        let identity = self.identity_fallback()?;
        let env: Vec<(&str, &str)> = identity.iter().map(|(key, value)| (*key, *value)).collect();
        let commit = self.git.run_with(
            "make the lockfile commit",
            &["commit-tree", tree.trim(), "-p", parent, "-F", "-"],
            &env,
            Some(message.as_bytes()),
        )?;
        Ok(commit.trim().to_owned())
    }

    /// The fallback identity for the author and committer that git cannot determine from the
    /// user's configuration or environment (`git var` fails for those), and nothing else.
    fn identity_fallback(&self) -> Result<Vec<(&'static str, &'static str)>, LockfileError> {
        let mut env = Vec::new();
        for (role, name, email) in [
            ("GIT_AUTHOR_IDENT", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"),
            ("GIT_COMMITTER_IDENT", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"),
        ] {
            if !self.git.output(&["var", role], &[], None)?.status.success() {
                env.push((name, FALLBACK_NAME));
                env.push((email, FALLBACK_EMAIL));
            }
        }
        Ok(env)
    }

    /// Pushes `commit` to the branch while the branch is still at `tip`.
    fn push(&self, commit: &str, tip: &str, branch: &str) -> Result<Pushed, LockfileError> {
        let destination = format!("refs/heads/{branch}");
        let lease = format!("--force-with-lease={destination}:{tip}");
        let refspec = format!("{commit}:{destination}");
        // The push carries one commit and nothing of the user's: no tags, no submodules, and
        // not the user's pre-push hooks, which judge work from the working tree.
        let output = self.git.output(
            &[
                "push",
                "--porcelain",
                "--no-verify",
                "--no-follow-tags",
                "--recurse-submodules=no",
                &lease,
                &self.remote,
                &refspec,
            ],
            &[],
            None,
        )?;
        // `--porcelain` prints `<flag>\t<from>:<to>\t<summary> (<reason>)` per ref on stdout.
        let status = output.stdout.lines().find_map(|line| {
            let mut fields = line.split('\t');
            let flag = fields.next()?;
            let refs = fields.next()?;
            refs.ends_with(&format!(":{destination}"))
                .then(|| (flag.to_owned(), fields.next().unwrap_or("").to_owned()))
        });
        let Some((flag, summary)) = status else {
            return Err(failure(
                &format!("push the lockfile to `{}/{branch}`", self.remote),
                &output,
                Some(&self.remote_hint()),
            ));
        };
        if flag != "!" && output.status.success() {
            return Ok(Pushed::Accepted);
        }
        let reason =
            summary.split_once('(').and_then(|(_, reason)| reason.strip_suffix(')')).unwrap_or(&summary).to_owned();
        // Refused by the client or the server because the branch is no longer at `tip`.
        let moved = summary.starts_with("[rejected]")
            && ["stale info", "fetch first", "non-fast-forward"].iter().any(|word| reason.contains(word));
        if moved {
            return Ok(Pushed::TipMoved);
        }
        // Two pushes can both pass the lease check and race inside the remote, where the loser
        // is "[remote rejected] (failed to update ref)" or similar, worded differently by each
        // server. Whether the branch is still at `tip` tells that race (retry) from a refusal
        // of this push itself (a hook, a protection, a permission), which leaves it there.
        if summary.starts_with("[remote") && self.remote_branch(branch)?.as_deref() != Some(tip) {
            return Ok(Pushed::TipMoved);
        }
        Err(LockfileError::PushRefused {
            remote: self.remote.clone(),
            branch: branch.to_owned(),
            reason,
            remote_messages: output
                .stderr
                .lines()
                .filter_map(|line| line.strip_prefix("remote: "))
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(ToOwned::to_owned)
                .collect(),
        })
    }

    /// The commits where a shallow clone's history is cut (none in a full clone).
    fn shallow_commits(&self) -> Result<Vec<String>, LockfileError> {
        let path = self.git.run("find the shallow file", &["rev-parse", "--git-path", "shallow"])?;
        let path = self.git.dir().join(path.trim());
        Ok(std::fs::read_to_string(path).unwrap_or_default().lines().map(|line| line.trim().to_owned()).collect())
    }

    /// Where the remote's branch points now, without fetching.
    fn remote_branch(&self, branch: &str) -> Result<Option<String>, LockfileError> {
        let listing = self.git.run(
            &format!("ask remote `{}` where `{branch}` is", self.remote),
            &["ls-remote", &self.remote, &format!("refs/heads/{branch}")],
        )?;
        Ok(listing.split_whitespace().next().map(ToOwned::to_owned))
    }

    fn remote_hint(&self) -> String {
        format!(
            "check that remote `{0}` exists (`git remote -v`) and that your git credentials can fetch from and push to it (`git fetch {0}` must work without a prompt)",
            self.remote
        )
    }
}

/// The message of a lockfile commit: the action, the image and both digests on the subject,
/// in full in the body.
fn commit_message(action: &str, image: &str, from: Option<&str>, to: &Entry) -> String {
    format!(
        "imagegate: {action} {image} {} -> {}\n\nimage: {image}\nfrom: {}\nto: {}\nreference: {}\n",
        from.map_or("(none)", short),
        short(&to.digest),
        from.unwrap_or("(none)"),
        to.digest,
        to.reference
    )
}

/// The path with symbolic links resolved, or as given when it cannot be (it does not exist).
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// `.` and `..` resolved without the file system: the lockfile may not exist yet.
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_message_names_the_image_and_both_digests() {
        let from = format!("sha256:{}", "a".repeat(64));
        let to = Entry::new(format!("sha256:{}", "b".repeat(64)), "ci@sha256:bb");
        let message = commit_message("promote", "python", Some(&from), &to);
        assert!(
            message.starts_with("imagegate: promote python sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb\n\n"),
            "{message}"
        );
        assert!(message.contains(&format!("from: {from}\nto: {}\n", to.digest)), "{message}");
        let bootstrap = commit_message("promote", "python", None, &to);
        assert!(bootstrap.contains("(none) -> sha256:bbbbbbbbbbbb"), "{bootstrap}");
    }

    #[test]
    fn normalize_resolves_dots_lexically() {
        assert_eq!(normalize(Path::new("/a/b/./../c/images.lock")), PathBuf::from("/a/c/images.lock"));
    }
}
