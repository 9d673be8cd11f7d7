//! Errors of the lockfile and of git: what was being done, and what a person can do about it.
//!
//! In imagegate's exit codes: [`ErrorKind::PointerMoved`] is 4 (the stable pointer moved since
//! the verdict), [`ErrorKind::Usage`] and [`ErrorKind::Malformed`] are 2 (configuration), and
//! everything else is 3 (infrastructure, no pointer moved).

/// What kind of failure an error is; decides the exit code and whether anything may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The lockfile on the remote tip no longer names the expected incumbent; nothing was pushed.
    PointerMoved,
    /// The remote refused the push for another reason than a moved tip (a protected branch, no
    /// permission, a hook); nothing was retried.
    PushRefused,
    /// The tip kept moving under every attempt although the entry still matched.
    Contended,
    /// git could not be started, a git command failed, or a temporary file for it could not
    /// be made.
    Git,
    /// A lockfile is not valid TOML or not in imagegate's shape.
    Malformed,
    /// The request does not fit the repository (a lockfile outside it, no default branch).
    Usage,
}

/// A failed lockfile operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockfileError {
    /// The compare of the compare-and-swap failed: the lockfile on the branch's tip names
    /// another image than the one the caller expected.
    #[error(
        "lockfile {lockfile} (commit {}) no longer names the expected stable image of `{image}`: expected {}, found {}\n  hint: run `imagegate gate` again to judge the candidate against the new stable image",
        short(commit), or_none(expected.as_deref()), or_none(found.as_deref())
    )]
    PointerMoved {
        /// Where the lockfile was read: `` `ci/images.lock` on `origin/main` ``.
        lockfile: String,
        /// The tip it was read on.
        commit: String,
        image: String,
        expected: Option<String>,
        found: Option<String>,
    },
    /// The remote refused the push for a reason other than a moved tip.
    #[error(
        "push the lockfile to `{remote}/{branch}`: the remote refused it ({reason}){}\n  hint: let the CI identity bypass the branch protection (or grant it push rights), or keep the lockfile on a branch of its own with `[store] lockfile_branch`",
        remote_lines(remote_messages)
    )]
    PushRefused { remote: String, branch: String, reason: String, remote_messages: Vec<String> },
    /// Every attempt found the entry as expected but lost the push to another commit.
    #[error(
        "push the lockfile to `{remote}/{branch}`: the branch moved under each of {attempts} attempts\n  hint: others are pushing to this branch constantly; retry, or keep the lockfile on a branch of its own with `[store] lockfile_branch`"
    )]
    Contended { remote: String, branch: String, attempts: u32 },
    /// git is not installed or could not be started.
    #[error("run git: {source}\n  hint: install git and make sure it is on PATH")]
    Spawn { source: std::io::Error },
    /// A temporary file for git (its index) could not be made.
    #[error("{operation}: {source}\n  hint: check that the temporary folder (TMPDIR) is writable")]
    Io { operation: &'static str, source: std::io::Error },
    /// A git command exited with a failure.
    #[error("{operation}: git exited with {status}{}{}", stderr_text(stderr), hint.as_deref().map(|hint| format!("\n  hint: {hint}")).unwrap_or_default())]
    Git { operation: String, status: String, stderr: String, hint: Option<String> },
    /// A lockfile that is not valid TOML or not in imagegate's shape; `location` names the file
    /// (and the commit it was read at) and `line` is 1-based.
    #[error(
        "read lockfile {location}:{line}: {message}\n  hint: each image is a table `[images.NAME]` with `digest = \"sha256:…\"` and `reference = \"…\"`"
    )]
    Malformed { location: String, line: usize, message: String },
    /// A request that does not fit the repository.
    #[error("{message}\n  hint: {hint}")]
    Usage { message: String, hint: String },
}

impl LockfileError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            LockfileError::PointerMoved { .. } => ErrorKind::PointerMoved,
            LockfileError::PushRefused { .. } => ErrorKind::PushRefused,
            LockfileError::Contended { .. } => ErrorKind::Contended,
            LockfileError::Spawn { .. } | LockfileError::Git { .. } | LockfileError::Io { .. } => ErrorKind::Git,
            LockfileError::Malformed { .. } => ErrorKind::Malformed,
            LockfileError::Usage { .. } => ErrorKind::Usage,
        }
    }
}

/// The first 12 hex digits of a commit or digest, enough to recognise it in a message.
pub(crate) fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let start = id.len() - hex.len();
    id.get(..start + 12.min(hex.len())).unwrap_or(id)
}

fn or_none(digest: Option<&str>) -> String {
    digest.map_or_else(|| "no entry".to_owned(), ToOwned::to_owned)
}

fn stderr_text(stderr: &str) -> String {
    if stderr.is_empty() { String::new() } else { format!(": {stderr}") }
}

fn remote_lines(lines: &[String]) -> String {
    lines.iter().map(|line| format!("\n  remote: {line}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keeps_the_algorithm_and_twelve_digits() {
        assert_eq!(short("sha256:0123456789abcdef"), "sha256:0123456789ab");
        assert_eq!(short("0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short("abc"), "abc");
    }

    #[test]
    fn push_refused_names_the_ways_out() {
        let error = LockfileError::PushRefused {
            remote: "origin".into(),
            branch: "main".into(),
            reason: "pre-receive hook declined".into(),
            remote_messages: vec!["protected branch".into()],
        };
        let text = error.to_string();
        assert!(text.contains("(pre-receive hook declined)\n  remote: protected branch"), "{text}");
        assert!(text.contains("lockfile_branch"), "{text}");
        assert_eq!(error.kind(), ErrorKind::PushRefused);
    }
}
