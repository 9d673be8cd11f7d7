//! The stable pointer as a lockfile in git: a TOML file in the repository that names each
//! image's stable image, whose truth is the file on the remote's default branch.
//!
//! git gives what a registry lacks, a true compare-and-swap: a push that is not based on the
//! branch's current tip is refused. A move is one commit on the fetched tip changing only the
//! lockfile, pushed under a lease on that tip; a lost race is fetched again and re-checked.
//!
//! - `format.rs`: the file format, parsed and edited with its layout and comments kept (no I/O).
//! - `git.rs`: the `git` CLI, run as the user would run it (their configuration and credential
//!   helpers apply); credentials in URLs are removed from anything shown.
//! - `repository.rs`: reading the lockfile on the remote tip, moving an entry by
//!   compare-and-swap, its history, and the entry pinned in the checked-out commit.
//! - `error.rs`: the errors and their kinds.
//!
//! Architecture invariant: nothing here writes the user's working tree, index or HEAD, or any
//! branch of the local repository; a move writes only objects and the remote branch.

mod error;
mod format;
mod git;
mod repository;

pub use error::{ErrorKind, LockfileError};
pub use format::{Entry, Lockfile};
pub use repository::{Change, GitLockfile, Moved, Tip};
