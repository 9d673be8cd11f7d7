//! Errors of detection and of writing outputs. Every message reads after "failed to …" and,
//! where there is something to do about it, ends with a `hint:`.

use std::io;
use std::path::PathBuf;

use crate::run::Provider;

/// Why a CI run could not be detected. Detection never guesses: anything it cannot establish
/// from what the provider documents is an error, so that a broken environment can never pass
/// for a trusted run.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CiError {
    /// No provider's marker variable is `true` and `IMAGEGATE_PROVIDER` is not set.
    #[error(
        "detect the CI provider: none of GITHUB_ACTIONS, GITLAB_CI or CIRCLECI is `true`\n  hint: on another CI \
         service, set IMAGEGATE_PROVIDER=generic, IMAGEGATE_EVENT (push, pull_request, fork_pull_request, schedule \
         or manual) and IMAGEGATE_BRANCH"
    )]
    NoProvider,
    /// More than one provider's marker variable is `true`; a run could set the second one itself
    /// to be judged by another provider's rules, so imagegate does not pick one.
    #[error(
        "detect the CI provider: {markers} are all `true`\n  hint: unset the ones this CI service does not set \
         itself; imagegate will not choose between providers"
    )]
    AmbiguousProvider { markers: String },
    /// `IMAGEGATE_PROVIDER` has a value imagegate does not know.
    #[error("read IMAGEGATE_PROVIDER `{value}`\n  hint: use `github`, `gitlab`, `circleci` or `generic`")]
    UnknownProvider { value: String },
    /// `IMAGEGATE_PROVIDER` names another provider than the one whose marker variable is set.
    #[error(
        "detect the CI provider: IMAGEGATE_PROVIDER={requested} but this run is on {detected}\n  hint: unset \
         IMAGEGATE_PROVIDER; on {detected}, imagegate reads the provider's own variables"
    )]
    ProviderConflict { requested: &'static str, detected: Provider },
    /// A variable the provider documents for every run, and that imagegate needs, is not set.
    #[error("detect the {provider} run: {variable} is not set\n  hint: {hint}")]
    MissingVariable { provider: Provider, variable: &'static str, hint: &'static str },
    /// A variable has a value imagegate cannot read.
    #[error("read {variable} `{value}`\n  hint: {hint}")]
    InvalidValue { variable: &'static str, value: String, hint: &'static str },
    /// The GitHub event payload named by `GITHUB_EVENT_PATH` could not be read.
    #[error(
        "read the GitHub event payload `{}` (GITHUB_EVENT_PATH): {source}\n  hint: run `imagegate ci` in a step of \
         the workflow job itself, where the runner provides the payload",
        path.display()
    )]
    UnreadablePayload { path: PathBuf, source: io::Error },
    /// The GitHub event payload is not what GitHub documents for the event.
    #[error(
        "read the GitHub event payload `{}` (GITHUB_EVENT_PATH): {reason}\n  hint: the runner writes this file; \
         check that no earlier step replaced it",
        path.display()
    )]
    MalformedPayload { path: PathBuf, reason: String },
}

/// Why outputs could not be written for the provider.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The value cannot be written in the format without changing its meaning.
    #[error("write `{name}` to the {format}: {reason}\n  hint: {hint}")]
    UnwritableValue { format: &'static str, name: String, reason: &'static str, hint: &'static str },
    /// The name cannot be written in the format.
    #[error("write `{name}` to the {format}: {reason}\n  hint: rename the image in imagegate.toml")]
    UnwritableName { format: &'static str, name: String, reason: &'static str },
    /// Two image names map to the same variable name.
    #[error(
        "write the {format}: images `{first}` and `{second}` would both be {variable}\n  hint: rename one of them \
         in imagegate.toml"
    )]
    NameCollision { format: &'static str, first: String, second: String, variable: String },
    /// A variable the provider sets in every job, naming where outputs go, is not set.
    #[error(
        "find where {provider} reads outputs: {variable} is not set\n  hint: run `imagegate ci` in a step of the job itself"
    )]
    MissingVariable { provider: Provider, variable: &'static str },
    /// A file could not be written.
    #[error("{operation} `{}`: {source}", path.display())]
    Io { operation: &'static str, path: PathBuf, source: io::Error },
}

/// Why a CI workflow could not be written for `imagegate init --ci`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The provider has no template.
    #[error(
        "write a CI workflow for {provider}: imagegate writes them for GitHub Actions, GitLab CI/CD and CircleCI\n  \
         hint: on another CI service, run `imagegate ci` with IMAGEGATE_PROVIDER=generic"
    )]
    NoTemplate { provider: Provider },
    /// An image name cannot be written into the workflow as it stands.
    #[error(
        "write the CI workflow: image name `{name}` has characters other than lowercase letters, digits, `.`, `_` \
         and `-`\n  hint: rename the image in imagegate.toml"
    )]
    ImageName { name: String },
    /// The default branch cannot be written into the workflow as it stands.
    #[error(
        "write the CI workflow: default branch `{name}` has characters other than letters, digits, `.`, `_`, `-` \
         and `/`\n  hint: write the workflow for a branch named plainly, then change the branch in it by hand"
    )]
    BranchName { name: String },
    /// A registry location, repository URL or version would need quoting in the workflow.
    #[error(
        "write the CI workflow: `{value}` has characters the workflow cannot hold unquoted\n  hint: check `[store] \
         registry` in imagegate.toml"
    )]
    Value { value: String },
    /// The project's own configuration file cannot take imagegate's jobs automatically.
    #[error("add imagegate's jobs to `{path}`: {reason}\n  hint: {hint}")]
    Merge { path: String, reason: String, hint: String },
}
