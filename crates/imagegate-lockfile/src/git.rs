//! Running the `git` CLI in a repository and reading its answers.
//!
//! imagegate drives git as it drives engines, through the command a person would type: the
//! user's configuration, remotes, `insteadOf` rules and credential helpers then apply as they
//! do for that person, and imagegate never holds a credential itself. What git writes to
//! stderr is shown in errors only with any `user:password@` of a URL removed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::LazyLock;

use regex::Regex;

use crate::error::LockfileError;

/// The output of one git command, stdout and stderr as (lossy) text.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// The `git` CLI in one repository.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    dir: PathBuf,
}

impl Git {
    pub(crate) fn new(dir: &Path) -> Self {
        Git { dir: dir.to_path_buf() }
    }

    /// The folder git runs in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A git command in the repository, isolated from anything that could make it wait for a
    /// person or answer in another language than the one its output is parsed in.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new("git");
        command.current_dir(&self.dir).args(args);
        // A credential prompt would hang a CI job; without a terminal git fails instead, and
        // credential helpers still answer.
        command.env("GIT_TERMINAL_PROMPT", "0");
        // git's porcelain status words and error texts are parsed: keep them untranslated.
        command.env("LC_ALL", "C").env("LANGUAGE", "C");
        // Run from a hook, imagegate inherits the hook's index; the user's index is never ours
        // to write, so only a temporary index named in `env` is ever used.
        command.env_remove("GIT_INDEX_FILE");
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    /// Runs a command with optional stdin and returns its output, whatever its exit status.
    pub(crate) fn output(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Result<Output, LockfileError> {
        let mut command = self.command(args, env);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = command.spawn().map_err(|source| LockfileError::Spawn { source })?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // git reads all of its (small) input before it writes; dropping the pipe closes it.
            // A failed write means git exited early, and its exit status and stderr say why.
            let _ = pipe.write_all(bytes);
        }
        let output = child.wait_with_output().map_err(|source| LockfileError::Spawn { source })?;
        Ok(Output {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: redact(String::from_utf8_lossy(&output.stderr).trim()),
        })
    }

    /// Runs a command that must succeed and returns its stdout.
    pub(crate) fn run(&self, operation: &str, args: &[&str]) -> Result<String, LockfileError> {
        self.run_with(operation, args, &[], None)
    }

    /// [`Git::run`] with environment variables and stdin.
    pub(crate) fn run_with(
        &self,
        operation: &str,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Result<String, LockfileError> {
        let output = self.output(args, env, stdin)?;
        if !output.status.success() {
            return Err(failure(operation, &output, None));
        }
        Ok(output.stdout)
    }

    /// Runs a command whose only answer is whether it succeeded (`rev-parse --verify --quiet`):
    /// `Ok(None)` for exit 1, stdout for success, an error for anything else.
    pub(crate) fn run_optional(&self, operation: &str, args: &[&str]) -> Result<Option<String>, LockfileError> {
        let output = self.output(args, &[], None)?;
        match output.status.code() {
            Some(0) => Ok(Some(output.stdout)),
            Some(1) if output.stderr.is_empty() => Ok(None),
            _ => Err(failure(operation, &output, None)),
        }
    }
}

/// A failed git command as an error.
pub(crate) fn failure(operation: &str, output: &Output, hint: Option<&str>) -> LockfileError {
    LockfileError::Git {
        operation: operation.to_owned(),
        status: output.status.code().map_or_else(|| "a signal".to_owned(), |code| code.to_string()),
        stderr: output.stderr.clone(),
        hint: hint.map(ToOwned::to_owned),
    }
}

/// Removes credentials written into URLs (`https://user:token@host/…`) from git's messages.
pub(crate) fn redact(text: &str) -> String {
    static USERINFO: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/@\s]+@").ok());
    match &*USERINFO {
        Some(pattern) => pattern.replace_all(text, "${1}<redacted>@").into_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact("fatal: unable to access 'https://x-access-token:ghs_secret@github.com/acme/ci.git/': 403"),
            "fatal: unable to access 'https://<redacted>@github.com/acme/ci.git/': 403"
        );
        assert_eq!(redact("ssh://git@host/repo and git@host:repo"), "ssh://<redacted>@host/repo and git@host:repo");
        assert_eq!(redact("no url here"), "no url here");
    }
}
