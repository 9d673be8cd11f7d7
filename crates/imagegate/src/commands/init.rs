//! `imagegate init`: an imagegate.toml from what the repository already has (its Dockerfiles,
//! the image builds of its CI configuration, its test setup), `.imagegate/` in `.gitignore`
//! (and `.imagegate` and `.git` in `.dockerignore` when an image is built from the root: the
//! store changes on every run, the history is large and no image's input; `.git` stays when
//! the project takes its version from git), and
//! with `--ci` a workflow that runs `imagegate ci` on every branch and nightly.
//!
//! Nothing is overwritten without `--force`, and `--force` is only ever suggested for a file
//! `init` itself wrote and nobody edited since. A project's own CI configuration is never
//! replaced: GitHub gets a workflow file of its own; GitLab's `.gitlab-ci.yml` gets an
//! `include` of `.gitlab/imagegate.yml`, and CircleCI's `.circleci/config.yml` imagegate's job
//! and workflows, both inserted by `imagegate_ci::merge` with the text kept, the diff shown.

use std::path::{Path, PathBuf};

use imagegate_ci::Provider;
use imagegate_config::{Authorship, Proposal};
use imagegate_contract::{ExitStatus, INIT_SCHEMA, InitImage, InitReport, InitSuite};

use crate::cli::{CiProviderArg, GlobalArgs, InitArgs};
use crate::error::CliError;

/// What `init` adds to `.gitignore`: imagegate's store, which is per machine.
const GITIGNORE_ENTRIES: &[&str] = &[".imagegate/"];

pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<ExitStatus, CliError> {
    let working = std::env::current_dir().map_err(|source| CliError::Io {
        operation: "read the working folder",
        path: ".".into(),
        source,
    })?;
    let path = global
        .config
        .clone()
        .map_or_else(|| working.join(imagegate_config::CONFIG_FILE_NAME), |path| working.join(path));
    // Paths in imagegate.toml are relative to its folder, so that folder is the project read.
    let root = path.parent().map_or_else(|| working.clone(), Path::to_path_buf);
    let mut written = Vec::new();
    let mut report = None;
    let ci_target = args.ci.map(|provider| CiTarget::read(&root, provider));
    if args.ci.is_none() || !path.exists() {
        refuse_to_overwrite(&path, args.force)?;
        let project = imagegate_config::Project::read(&root).map_err(|source| CliError::Io {
            operation: "read the project in",
            path: root.clone(),
            source,
        })?;
        let mut proposal = imagegate_config::propose(&project);
        // A workflow on a hosted runner needs a registry store: write the one its login reaches.
        proposal.registry = ci_target.as_ref().and_then(|target| target.registry.clone());
        if proposal.images.is_empty() {
            return Err(CliError::usage(
                format!("no Dockerfile or Containerfile found under `{}`", root.display()),
                "run `imagegate init` at the root of a repository that builds its CI images",
            ));
        }
        write(&path, &imagegate_config::starter_config(&proposal))?;
        written.push(relative(&path, &root));
        let dockerignore: Vec<&str> = proposal.dockerignore.iter().map(String::as_str).collect();
        for (file, entries) in [(".gitignore", GITIGNORE_ENTRIES), (".dockerignore", dockerignore.as_slice())] {
            if !entries.is_empty() && append_entries(&root.join(file), entries)? {
                written.push(file.to_owned());
            }
        }
        report = Some(init_report(&proposal, &relative(&path, &root), &written));
    }
    if let Some(target) = &ci_target {
        for file in write_workflow(&path, target, args.force)? {
            written.push(relative(&file, &root));
        }
        if let Some(report) = &mut report {
            report.written = written.clone();
        }
    }
    match (&report, args.json) {
        (Some(report), true) => {
            let text =
                serde_json::to_string(report).map_err(|error| CliError::usage(error.to_string(), "report this bug"))?;
            println!("{text}");
        }
        (Some(report), false) => print!("{}", summary(report)),
        (None, _) => {}
    }
    for file in &written {
        eprintln!("wrote {file}");
    }
    if report.is_some() {
        eprintln!("next: check each suite's `command` (and every `set me` line), then run `imagegate plan`");
    }
    Ok(ExitStatus::Success)
}

/// Stops unless `path` is free, or `--force` was given. `--force` is suggested only for a file
/// `init` wrote and nobody edited since: for anything else it would destroy someone's work.
fn refuse_to_overwrite(path: &Path, force: bool) -> Result<(), CliError> {
    if force {
        return Ok(());
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        if path.exists() {
            return Err(CliError::usage(
                format!("`{}` already exists", path.display()),
                "move it aside to let `imagegate init` write a new one",
            ));
        }
        return Ok(());
    };
    let (message, hint) = match imagegate_config::authorship(&text) {
        Authorship::Unedited => (
            format!("`{}` already exists (written by `imagegate init`, unedited since)", path.display()),
            "pass `--force` to write it anew from the project as it is now".to_owned(),
        ),
        Authorship::Edited => (
            format!("`{}` already exists and was edited since `imagegate init` wrote it", path.display()),
            "keep it; to start again, move it aside first (writing it anew would drop the edits)".to_owned(),
        ),
        Authorship::User => (
            format!("`{}` already exists", path.display()),
            "imagegate uses it as it is; move it aside to let `imagegate init` write one".to_owned(),
        ),
    };
    Err(CliError::usage(message, hint))
}

/// Appends the missing `entries` to the ignore file at `path` (created if missing); whether
/// anything was added.
fn append_entries(path: &Path, entries: &[&str]) -> Result<bool, CliError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(CliError::Io { operation: "read", path: path.to_path_buf(), source }),
    };
    match imagegate_config::with_entries(existing.as_deref(), entries) {
        Some(text) => write(path, &text).map(|()| true),
        None => Ok(false),
    }
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|source| CliError::Io { operation: "write", path: path.to_path_buf(), source })
}

fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// What `init --ci` learned of where the workflow runs: the default branch and the registry.
struct CiTarget {
    provider: Provider,
    default_branch: String,
    /// Where the default branch was read; `None` when git said nothing and `main` is assumed.
    default_branch_source: Option<&'static str>,
    /// `[store] registry` derived from the `origin` remote, where the provider's registry is
    /// known (GHCR for a GitHub repository, GitLab.com's registry for a GitLab.com project).
    registry: Option<String>,
}

impl CiTarget {
    fn read(root: &Path, provider: CiProviderArg) -> CiTarget {
        let provider = match provider {
            CiProviderArg::Github => Provider::GitHub,
            CiProviderArg::Gitlab => Provider::GitLab,
            CiProviderArg::Circleci => Provider::CircleCi,
        };
        let git = imagegate_config::GitFacts::read(root);
        let registry = git.origin_url.as_deref().and_then(|url| registry_for(provider, url));
        CiTarget {
            provider,
            default_branch: git.default_branch.clone().unwrap_or_else(|| "main".to_owned()),
            default_branch_source: git.default_branch_source,
            registry,
        }
    }
}

/// `HOST` and `OWNER/NAME` of a remote URL (`https://host/owner/name.git`,
/// `git@host:owner/name.git`, `ssh://git@host/owner/name`).
fn remote_parts(url: &str) -> Option<(String, String)> {
    let (host, path) = match url.split_once("://") {
        // `scheme://[user@]host[:port]/path`
        Some((_, rest)) => {
            let (authority, path) = rest.split_once('/')?;
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            (host.split_once(':').map_or(host, |(host, _)| host), path)
        }
        // scp-like `[user@]host:path`
        None => {
            let (authority, path) = url.split_once(':')?;
            (authority.rsplit_once('@').map_or(authority, |(_, host)| host), path)
        }
    };
    let path = path.trim_matches('/').trim_end_matches(".git").to_lowercase();
    (path.contains('/') && !host.is_empty() && !host.contains('/')).then(|| (host.to_lowercase(), path))
}

/// The registry the provider's own login reaches for the repository at `url`.
fn registry_for(provider: Provider, url: &str) -> Option<String> {
    let (host, path) = remote_parts(url)?;
    match (provider, host.as_str()) {
        (Provider::GitHub | Provider::CircleCi, "github.com") => Some(format!("ghcr.io/{path}")),
        (Provider::GitLab, "gitlab.com") => Some(format!("registry.gitlab.com/{path}")),
        _ => None,
    }
}

/// What to do about `[store] registry`, printed after the workflow is written.
fn registry_advice(target: &CiTarget, configured: Option<&str>) -> Option<String> {
    if configured.is_some() {
        return None;
    }
    let (value, note) = match (&target.registry, target.provider) {
        (Some(registry), _) => (registry.clone(), String::new()),
        (None, Provider::GitLab) => (
            "REGISTRY/GROUP/PROJECT".to_owned(),
            " (the value of $CI_REGISTRY_IMAGE, shown under Deploy > Container registry)".to_owned(),
        ),
        (None, _) => ("HOST/NAMESPACE".to_owned(), " (the registry the CI credentials can push to)".to_owned()),
    };
    Some(format!(
        "add to imagegate.toml, so that stable tags and history outlive the CI runner{note}:\n  [store]\n  registry = \
         \"{value}\""
    ))
}

/// Writes `text` to `target`, unless a file is there that `init --ci` did not write: those are
/// the project's own, and never replaced (not even with `--force`).
fn write_own_file(target: &Path, text: &str, force: bool) -> Result<(), CliError> {
    if target.exists() {
        let ours = std::fs::read_to_string(target)
            .is_ok_and(|existing| existing.starts_with(imagegate_ci::templates::FIRST_LINE));
        if !ours {
            return Err(CliError::usage(
                format!("`{}` already exists and is the project's own", target.display()),
                "imagegate never replaces it: rename it (or move it aside), then run `imagegate init --ci` again",
            ));
        }
        if !force {
            return Err(CliError::usage(
                format!("`{}` already exists, as `imagegate init --ci` wrote it", target.display()),
                "pass `--force` to write it anew",
            ));
        }
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|source| CliError::Io {
            operation: "create",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    write(target, text)
}

/// Shows what an edit of the project's own file changes, as a unified diff on stderr.
fn show_diff(relative: &str, before: &str, after: &str) {
    let diff = similar::TextDiff::from_lines(before, after);
    eprint!("{}", diff.unified_diff().context_radius(2).header(&format!("a/{relative}"), &format!("b/{relative}")));
}

/// The `--ci` workflow for the images of the config at `path`; returns the files written.
fn write_workflow(path: &Path, target: &CiTarget, force: bool) -> Result<Vec<PathBuf>, CliError> {
    use imagegate_ci::templates::{self, TemplateInput};
    // The workflow names the configured images; read them from the file just written or
    // found, which also checks it.
    let config = imagegate_config::load(path)?;
    let images: Vec<String> = config.images.keys().cloned().collect();
    let configured = config.store.registry.as_ref().map(imagegate_config::RegistryStoreConfig::location);
    let registry = configured.clone().or_else(|| target.registry.clone()).unwrap_or_else(|| "ghcr.io".to_owned());
    let provider = target.provider;
    let root = &config.root;
    let gitlab_root = root.join(".gitlab-ci.yml");
    let gitlab_existing = if provider == Provider::GitLab { read_if_present(&gitlab_root)? } else { None };
    let gitlab_stage = gitlab_existing.as_deref().and_then(imagegate_ci::merge::gitlab_first_stage);
    let input = TemplateInput {
        images: &images,
        default_branch: &target.default_branch,
        registry: &registry,
        install: templates::Install::CURRENT,
        gitlab_stage: gitlab_stage.as_deref(),
    };
    let template_error = |error: imagegate_ci::TemplateError| {
        CliError::usage(format!("write the {provider} workflow: {error}"), "check imagegate.toml")
    };
    let workflow = templates::workflow(provider, &input).map_err(template_error)?;
    let mut written = Vec::new();
    let workflow_path = root.join(workflow.path);
    match provider {
        Provider::CircleCi => match read_if_present(&workflow_path)? {
            Some(existing) if !existing.starts_with(templates::FIRST_LINE) => {
                let pieces = templates::circleci_pieces(&input).map_err(template_error)?;
                match imagegate_ci::merge::circleci(&existing, &pieces) {
                    Ok(merged) => {
                        show_diff(workflow.path, &existing, &merged);
                        write(&workflow_path, &merged)?;
                        written.push(workflow_path);
                    }
                    Err(imagegate_ci::TemplateError::Merge { path, reason, hint }) => {
                        // The project's file stays as it is; what to add is written beside it.
                        let beside = root.join(".circleci/imagegate.yml");
                        write_own_file(&beside, &workflow.text, true)?;
                        eprintln!("wrote {}", beside.display());
                        return Err(CliError::usage(
                            format!("add imagegate's jobs to `{path}`: {reason}"),
                            format!(
                                "{hint}; the job `imagegate` and the workflows `imagegate` and `imagegate-nightly` \
                                 to add are in .circleci/imagegate.yml"
                            ),
                        ));
                    }
                    Err(error) => return Err(template_error(error)),
                }
            }
            _ => {
                write_own_file(&workflow_path, &workflow.text, force)?;
                written.push(workflow_path);
            }
        },
        Provider::GitLab => {
            write_own_file(&workflow_path, &workflow.text, force)?;
            written.push(workflow_path);
            match gitlab_existing {
                None => {
                    write(&gitlab_root, &templates::gitlab_root_file())?;
                    written.push(gitlab_root);
                }
                Some(existing) => match imagegate_ci::merge::gitlab_include(&existing) {
                    Ok(Some(merged)) => {
                        show_diff(".gitlab-ci.yml", &existing, &merged);
                        write(&gitlab_root, &merged)?;
                        written.push(gitlab_root);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        eprintln!("warning: {error}");
                        eprintln!(
                            "next: include imagegate's jobs from .gitlab-ci.yml:\n  include:\n    - local: {}",
                            templates::GITLAB_INCLUDED_FILE
                        );
                    }
                },
            }
        }
        Provider::GitHub | Provider::Generic => {
            write_own_file(&workflow_path, &workflow.text, force)?;
            written.push(workflow_path);
        }
    }
    let source = target
        .default_branch_source
        .map_or_else(|| "git named none, so `main` is assumed".to_owned(), |source| format!("from {source}"));
    eprintln!(
        "{provider}: gates on every branch, refreshes nightly on {} ({source}), promotes from {}",
        target.default_branch,
        config.promote.branches.join(", ")
    );
    match provider {
        Provider::GitHub if registry_host(&registry) != "ghcr.io" => eprintln!(
            "next: the workflow logs in to {} with the job's GITHUB_TOKEN, which only GHCR accepts: put that \
             registry's credentials in repository secrets and use them in the two `Log in to the registry` steps",
            registry_host(&registry)
        ),
        Provider::GitHub => eprintln!("registry: logs in to ghcr.io with the job's GITHUB_TOKEN"),
        Provider::GitLab => eprintln!("registry: logs in to $CI_REGISTRY with the job token (CI_REGISTRY_USER)"),
        Provider::CircleCi => eprintln!(
            "next: create the CircleCI context `{}` (Organization Settings > Contexts) with IMAGEGATE_REGISTRY_USERNAME \
             and IMAGEGATE_REGISTRY_PASSWORD for {}",
            templates::CIRCLECI_CONTEXT,
            registry_host(&registry)
        ),
        Provider::Generic => {}
    }
    if let Some(advice) = registry_advice(target, configured.as_deref()) {
        eprintln!("next: {advice}");
    }
    Ok(written)
}

fn registry_host(registry: &str) -> &str {
    registry.split('/').next().unwrap_or(registry)
}

fn read_if_present(path: &Path) -> Result<Option<String>, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CliError::Io { operation: "read", path: path.to_path_buf(), source }),
    }
}

fn init_report(proposal: &Proposal, config: &str, written: &[String]) -> InitReport {
    InitReport {
        schema: INIT_SCHEMA.to_owned(),
        config: config.to_owned(),
        images: proposal
            .images
            .iter()
            .map(|image| InitImage {
                name: image.name.clone(),
                dockerfile: image.dockerfile.clone(),
                context: image.context.clone(),
                build_args: image
                    .build_args
                    .iter()
                    .filter_map(|arg| Some((arg.name.clone(), arg.value.clone()?)))
                    .collect(),
                unset_build_args: image
                    .build_args
                    .iter()
                    .filter(|arg| arg.value.is_none())
                    .map(|arg| arg.name.clone())
                    .collect(),
                target: image.target.clone(),
                platform: image.platform.clone(),
                stable_tag: image.stable_tag.clone(),
                stable_tag_guessed: image.stable_tag_guessed,
                inputs: image.inputs.clone(),
                origin: image.origin.clone(),
                enabled: image.enabled,
                guesses: image.guesses.clone(),
            })
            .collect(),
        suite: InitSuite {
            command: proposal.suite.command.clone(),
            results: proposal.suite.results.clone(),
            env: proposal.suite.env.clone(),
            rerun: proposal.suite.rerun.clone(),
            source: proposal.suite.source.clone(),
            placeholder: proposal.suite.placeholder,
            guesses: proposal.suite.guesses.clone(),
        },
        notes: proposal.notes.clone(),
        written: written.to_vec(),
    }
}

/// What was found, for a person: each image and where it came from, then every guess.
fn summary(report: &InitReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let enabled = report.images.iter().filter(|image| image.enabled).count();
    let _ = writeln!(out, "{}: {}", report.config, imagegate_contract::plural(enabled, "image"));
    let width = report.images.iter().map(|image| image.name.len()).max().unwrap_or(0);
    for image in report.images.iter().filter(|image| image.enabled) {
        let _ = writeln!(
            out,
            "  {:width$}  {} (context {}) from {}",
            image.name, image.dockerfile, image.context, image.origin
        );
    }
    let disabled: Vec<&InitImage> = report.images.iter().filter(|image| !image.enabled).collect();
    if !disabled.is_empty() {
        let _ = writeln!(out, "commented out:");
        for image in disabled {
            let _ = writeln!(out, "  {:width$}  from {}", image.name, image.origin);
        }
    }
    if report.suite.placeholder {
        let _ = writeln!(out, "suite: {}  (a placeholder: set the project's own command)", report.suite.command);
    } else {
        let _ = writeln!(out, "suite: {}  (from {})", report.suite.command, report.suite.source);
    }
    let mut guesses = Vec::new();
    for image in report.images.iter().filter(|image| image.enabled) {
        for name in &image.unset_build_args {
            guesses.push(format!("{}: build arg {name} is not set (commented out in the file)", image.name));
        }
        if image.stable_tag_guessed {
            guesses.push(format!("{}: stable_tag `{}` is made up", image.name, image.stable_tag));
        }
        guesses.extend(image.guesses.iter().map(|guess| format!("{}: {guess}", image.name)));
    }
    guesses.extend(report.suite.guesses.iter().map(|guess| format!("suite: {guess}")));
    guesses.extend(report.notes.iter().cloned());
    if !guesses.is_empty() {
        let _ = writeln!(out, "guessed or left out:");
        for guess in guesses {
            let _ = writeln!(out, "  - {guess}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_give_the_provider_registry_in_lowercase() {
        for url in [
            "https://github.com/Acme/App.git",
            "https://github.com/Acme/App",
            "git@github.com:Acme/App.git",
            "ssh://git@github.com/Acme/App.git",
            "ssh://git@github.com:22/Acme/App.git",
        ] {
            assert_eq!(registry_for(Provider::GitHub, url).as_deref(), Some("ghcr.io/acme/app"), "{url}");
            assert_eq!(registry_for(Provider::CircleCi, url).as_deref(), Some("ghcr.io/acme/app"), "{url}");
        }
        assert_eq!(
            registry_for(Provider::GitLab, "git@gitlab.com:Group/Sub/Project.git").as_deref(),
            Some("registry.gitlab.com/group/sub/project")
        );
        assert_eq!(registry_for(Provider::GitLab, "https://gitlab.acme.internal/a/b.git"), None);
        assert_eq!(registry_for(Provider::GitHub, "/srv/git/app.git"), None);
    }
}
