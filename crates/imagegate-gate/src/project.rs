//! The project checkout under test: its commit and branch.

use std::path::Path;
use std::process::{Command, Stdio};

/// The project as checked out: both images are tested against exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The commit id, with `+dirty` when the checkout has uncommitted changes; `unknown` when
    /// the folder is not a git checkout.
    pub commit: String,
    /// The branch; `None` on a detached head or outside git.
    pub branch: Option<String>,
    /// Links to the commit and the CI run, for the report's header; `None` off CI.
    pub links: Option<imagegate_contract::RunLinks>,
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output =
        Command::new("git").arg("-C").arg(root).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Reads commit and branch from git; `commit` and `branch` override what git says (CI systems
/// often check out a detached head and name the branch in their environment).
pub fn detect_project(root: &Path, commit: Option<String>, branch: Option<String>, state_dir: &Path) -> Project {
    let commit = commit.unwrap_or_else(|| match git(root, &["rev-parse", "HEAD"]) {
        Some(head) => {
            let state = state_dir.strip_prefix(root).ok().and_then(|relative| relative.to_str()).map(str::to_owned);
            let mut args = vec!["status", "--porcelain", "--untracked-files=normal", "--", "."];
            let exclude;
            if let Some(state) = state.filter(|state| !state.is_empty()) {
                exclude = format!(":(exclude){state}");
                args.push(&exclude);
            }
            let dirty = git(root, &args).is_some_and(|status| !status.is_empty());
            if dirty { format!("{head}+dirty") } else { head }
        }
        None => "unknown".to_owned(),
    });
    let branch = branch
        .or_else(|| git(root, &["symbolic-ref", "--quiet", "--short", "HEAD"]))
        .filter(|branch| !branch.is_empty());
    Project { commit, branch, links: None }
}
