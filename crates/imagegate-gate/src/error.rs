//! The gate's errors and their exit statuses.

use imagegate_contract::ExitStatus;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    #[error(transparent)]
    Engine(#[from] imagegate_engine::EngineError),
    /// The engine's push or pull to the registry store failed for a transient reason on every
    /// attempt (a failure that cannot pass by itself is [`GateError::Engine`], not retried).
    #[error(
        "{source} (after {attempts} attempts)\n  hint: the registry {registry} kept failing; check that it is up and reachable from the engine, then run again (a candidate already built is reused, not rebuilt)"
    )]
    Transfer { registry: String, attempts: u32, source: Box<imagegate_engine::EngineError> },
    #[error(transparent)]
    Store(#[from] imagegate_store::StoreError),
    #[error(transparent)]
    Registry(#[from] imagegate_registry::RegistryError),
    #[error(transparent)]
    Digest(#[from] imagegate_config::DigestError),
    /// The lockfile in git that holds the stable pointers (`[store] lockfile`). A lost
    /// compare-and-swap is not this variant but [`GateError::PointerMoved`].
    #[error(transparent)]
    Lockfile(#[from] imagegate_lockfile::LockfileError),
    /// The command was asked for something the configuration does not have.
    #[error("{message}\n  hint: {hint}")]
    Usage { message: String, hint: String },
    /// A promotion was refused: no passing verdict allows it.
    #[error("{message}\n  hint: {hint}")]
    Refused { message: String, hint: String },
    /// The stable pointer no longer names the incumbent the verdict was reached against.
    #[error(
        "stable tag `{stable_tag}` moved since the verdict: it was {expected}, it is now {found}\n  hint: run `imagegate gate` again to judge the candidate against the new stable image"
    )]
    PointerMoved { stable_tag: String, expected: String, found: String },
    /// After moving the pointer, it did not name the image it should.
    #[error(
        "verify stable tag `{stable_tag}`: expected {expected}, found {found}; another writer moved it at the same moment, so nothing is recorded as promoted\n  hint: see `imagegate history`, then run `imagegate gate` again against what the tag names now"
    )]
    VerifyFailed { stable_tag: String, expected: String, found: String },
    /// Another process held the machine-wide lock on a stable tag for too long.
    #[error(
        "stable tag `{stable_tag}` is still locked by another process after {waited_seconds} s (lock file `{}`)\n  hint: another imagegate is moving it; try again once it is done (`fuser {}` names the process holding it)",
        path.display(),
        path.display()
    )]
    PointerLocked { stable_tag: String, path: std::path::PathBuf, waited_seconds: u64 },
    #[error("{operation} `{}`: {source}", path.display())]
    Io { operation: &'static str, path: std::path::PathBuf, source: std::io::Error },
    #[error("interrupted")]
    Interrupted,
    /// The preflight found problems that would make the build or the suite fail; nothing was
    /// built.
    #[error("{}", preflight_message(problems))]
    Preflight { problems: Vec<imagegate_contract::PreflightProblem> },
    /// A record in a shared store that imagegate cannot read as one of its own: the store's
    /// content is broken, not the command or its configuration.
    #[error("{message}\n  hint: {hint}")]
    DamagedRecord { message: String, hint: String },
    /// Shard results that cannot be merged into a verdict.
    #[error(
        "{message}\n  hint: run every shard with the same candidate and commit, then pass all their folders to `gate --results`"
    )]
    Shards { message: String },
    /// A set of packages could not be put back into the candidate (which, and why).
    #[error("{message}")]
    Transplant { message: String },
}

impl GateError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            GateError::Usage { .. } | GateError::Preflight { .. } => ExitStatus::Usage,
            GateError::Refused { .. } => ExitStatus::Regression,
            GateError::PointerMoved { .. } => ExitStatus::PointerMoved,
            GateError::Lockfile(error) => match error.kind() {
                imagegate_lockfile::ErrorKind::PointerMoved => ExitStatus::PointerMoved,
                imagegate_lockfile::ErrorKind::Malformed | imagegate_lockfile::ErrorKind::Usage => ExitStatus::Usage,
                _ => ExitStatus::Infrastructure,
            },
            GateError::Engine(_)
            | GateError::Transfer { .. }
            | GateError::Store(_)
            | GateError::Registry(_)
            | GateError::Digest(_)
            | GateError::VerifyFailed { .. }
            | GateError::PointerLocked { .. }
            | GateError::Io { .. }
            | GateError::Interrupted
            | GateError::Shards { .. }
            | GateError::Transplant { .. }
            | GateError::DamagedRecord { .. } => ExitStatus::Infrastructure,
        }
    }
}

/// Every problem, then how many, so that all of them are fixed in one pass.
fn preflight_message(problems: &[imagegate_contract::PreflightProblem]) -> String {
    // The CLI writes `error: ` before the first line; every other problem gets its own.
    let mut message = String::new();
    for problem in problems {
        message.push_str(&problem.to_string());
        message.push_str("\nerror: ");
    }
    let count = problems.len();
    message
        .push_str(&format!("preflight found {count} problem{}; nothing was built", if count == 1 { "" } else { "s" }));
    message
}

#[cfg(test)]
mod tests {
    use imagegate_lockfile::LockfileError;

    use super::*;

    #[test]
    fn lockfile_errors_keep_their_exit_codes() {
        let refused = LockfileError::PushRefused {
            remote: "origin".into(),
            branch: "main".into(),
            reason: "protected branch".into(),
            remote_messages: Vec::new(),
        };
        assert_eq!(GateError::from(refused).exit_status(), ExitStatus::Infrastructure);
        let contended = LockfileError::Contended { remote: "origin".into(), branch: "main".into(), attempts: 5 };
        assert_eq!(GateError::from(contended).exit_status(), ExitStatus::Infrastructure);
        let malformed = LockfileError::Malformed { location: "ci/images.lock".into(), line: 3, message: "x".into() };
        assert_eq!(GateError::from(malformed).exit_status(), ExitStatus::Usage);
        let usage = LockfileError::Usage { message: "outside".into(), hint: "inside".into() };
        assert_eq!(GateError::from(usage).exit_status(), ExitStatus::Usage);
        let moved = LockfileError::PointerMoved {
            lockfile: "ci/images.lock".into(),
            commit: "0".repeat(40),
            image: "ci".into(),
            expected: None,
            found: None,
        };
        assert_eq!(GateError::from(moved).exit_status(), ExitStatus::PointerMoved);
    }
}
