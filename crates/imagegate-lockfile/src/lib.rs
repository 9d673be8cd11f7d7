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
//! How imagegate uses it, as the home of the stable pointer when `[store] lockfile` is set:
//! - at the start of a gate, [`GitLockfile::read_remote`]: the incumbent is the tip's entry
//!   (`None`: no stable image yet), and the tip's commit is recorded with the verdict;
//! - on promotion, [`GitLockfile::move_pointer`] with the verdict's incumbent as `expected`;
//!   [`ErrorKind::PointerMoved`] is exit 4, and an engine's stable tag is moved only after the
//!   push succeeded, as a convenience copy;
//! - rollback is a move back to an entry from [`GitLockfile::history`] with the current digest
//!   as `expected`; `history` lists the same changes;
//! - `imagegate ci` hands on [`GitLockfile::pinned`]: the image the checked-out commit names.
//!
//! Commits carry the author and committer of the user's git configuration (or `GIT_AUTHOR_*`
//! and `GIT_COMMITTER_*`); only where git has none, `imagegate <imagegate@localhost>`.
//!
//! Architecture invariant: nothing here writes the user's working tree, index or HEAD, or any
//! branch of the local repository; a move writes only objects and the remote branch (a fetch
//! may update a remote-tracking branch, as every fetch does).

mod error;
mod format;
mod git;
mod repository;

pub use error::{ErrorKind, LockfileError};
pub use format::{Entry, Lockfile};
pub use repository::{Change, GitLockfile, Moved, Tip};
