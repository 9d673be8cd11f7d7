//! `imagegate init`: an imagegate.toml from what the repository already has (its Dockerfiles,
//! the image builds of its CI configuration, its test setup), `.imagegate/` in `.gitignore`
//! (and `.imagegate` and `.git` in `.dockerignore` when an image is built from the root: the
//! store changes on every run, the history is large and no image's input; `.git` stays when
//! the project takes its version from git), and
//! with `--ci` a workflow that runs `imagegate ci` on every branch and nightly.
//!
//! Nothing is overwritten without `--force`, and `--force` is only ever suggested for a file
//! `init` itself wrote and nobody edited since.

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
    if args.ci.is_none() || !path.exists() {
        refuse_to_overwrite(&path, args.force)?;
        let project = imagegate_config::Project::read(&root).map_err(|source| CliError::Io {
            operation: "read the project in",
            path: root.clone(),
            source,
        })?;
        let proposal = imagegate_config::propose(&project);
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
    if let Some(provider) = args.ci {
        let target = write_workflow(&path, provider, args.force)?;
        written.push(relative(&target, &root));
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

/// How every workflow `init --ci` writes begins.
const WORKFLOW_FIRST_LINE: &str = "# imagegate gates this project's CI images";

/// The `--ci` workflow for the images of the config at `path`; returns where it was written.
fn write_workflow(path: &Path, provider: CiProviderArg, force: bool) -> Result<PathBuf, CliError> {
    // The workflow names the configured images; read them from the file just written or
    // found, which also checks it.
    let config = imagegate_config::load(path)?;
    let images: Vec<String> = config.images.keys().cloned().collect();
    let provider = match provider {
        CiProviderArg::Github => Provider::GitHub,
        CiProviderArg::Gitlab => Provider::GitLab,
        CiProviderArg::Circleci => Provider::CircleCi,
    };
    let workflow = imagegate_ci::templates::workflow(provider, &images)
        .map_err(|error| CliError::usage(format!("write the {provider} workflow: {error}"), "check the image names"))?;
    let target = config.root.join(workflow.path);
    if target.exists() && !force {
        // Only a workflow imagegate wrote may be replaced on a hint: a provider's one config
        // file (CircleCI, GitLab) usually holds every job of the project.
        let written_by_init = std::fs::read_to_string(&target)
            .is_ok_and(|text| text.lines().next().is_some_and(|line| line.starts_with(WORKFLOW_FIRST_LINE)));
        return Err(if written_by_init {
            CliError::usage(
                format!("`{}` already exists, as `imagegate init --ci` wrote it", target.display()),
                "pass `--force` to write it anew",
            )
        } else {
            CliError::usage(
                format!("`{}` already exists and holds the project's own CI configuration", target.display()),
                "imagegate does not replace it: add a job that runs `imagegate ci` to it (the README's \"In CI\" section shows one)",
            )
        });
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|source| CliError::Io {
            operation: "create",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    write(&target, &workflow.text)?;
    eprintln!(
        "{}: gates on every branch, refreshes nightly, promotes from {}",
        target.display(),
        config.promote.branches.join(", ")
    );
    Ok(target)
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
    let _ = writeln!(out, "{}: {} image(s)", report.config, enabled);
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
