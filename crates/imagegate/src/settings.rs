//! The second stage of configuration: flags, environment and imagegate.toml resolved into one
//! validated value before any work starts.

use std::path::{Path, PathBuf};

use imagegate_config::{Config, EngineKind, ImageConfig};
use imagegate_gate::Project;

use crate::cli::{EngineArg, GlobalArgs};
use crate::error::CliError;

/// Everything a command needs to know before it starts.
pub struct Settings {
    pub config: Config,
    /// `None`: auto-detect.
    pub engine: Option<EngineKind>,
    pub state_dir: PathBuf,
    pub quiet: bool,
}

/// Finds and loads imagegate.toml.
pub fn load_config(global: &GlobalArgs) -> Result<Config, CliError> {
    let path = match &global.config {
        Some(path) => path.clone(),
        None => {
            let cwd = std::env::current_dir().map_err(|source| CliError::Io {
                operation: "read the working folder",
                path: PathBuf::from("."),
                source,
            })?;
            imagegate_config::find_config(&cwd).ok_or_else(|| {
                CliError::usage(
                    format!(
                        "no {} found in `{}` or any folder above it",
                        imagegate_config::CONFIG_FILE_NAME,
                        cwd.display()
                    ),
                    "run `imagegate init` to write one, or pass `--config PATH`",
                )
            })?
        }
    };
    let config = imagegate_config::load(&path)?;
    if !global.quiet {
        for warning in config.warnings() {
            eprintln!("warning: {warning}");
        }
    }
    Ok(config)
}

pub fn resolve(global: &GlobalArgs) -> Result<Settings, CliError> {
    let config = load_config(global)?;
    let engine = match global.engine {
        Some(EngineArg::Docker) => Some(EngineKind::Docker),
        Some(EngineArg::Podman) => Some(EngineKind::Podman),
        None => config.engine.kind,
    };
    let state_dir = match &global.state_dir {
        Some(dir) => absolute(dir),
        None => config.store.state_dir.clone().unwrap_or_else(|| config.root.join(".imagegate")),
    };
    Ok(Settings { config, engine, state_dir, quiet: global.quiet })
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or_else(|_| path.to_path_buf())
    }
}

/// The images named on the command line, or all of them.
pub fn select_images<'a>(config: &'a Config, names: &[String]) -> Result<Vec<&'a ImageConfig>, CliError> {
    if names.is_empty() {
        return Ok(config.images.values().collect());
    }
    names
        .iter()
        .map(|name| {
            config.images.get(name).ok_or_else(|| {
                let known: Vec<&str> = config.images.keys().map(String::as_str).collect();
                let nearest = known
                    .iter()
                    .map(|candidate| (strsim::levenshtein(name, candidate), *candidate))
                    .min()
                    .filter(|(distance, _)| *distance <= 3)
                    .map(|(_, candidate)| candidate);
                CliError::usage(
                    format!("no image named `{name}` in {}", config.path.display()),
                    match nearest {
                        Some(candidate) => format!("did you mean `{candidate}`? (images: {})", known.join(", ")),
                        None => format!("the images are: {}", known.join(", ")),
                    },
                )
            })
        })
        .collect()
}

/// Whether promotion is allowed for this checkout: `Err` says why not.
pub fn promotion_policy(config: &Config, project: &Project) -> Result<(), String> {
    match &project.branch {
        Some(branch) if config.promote.branches.iter().any(|allowed| allowed == branch) => Ok(()),
        Some(branch) => {
            Err(format!("branch `{branch}` may not promote (allowed: {})", config.promote.branches.join(", ")))
        }
        None => Err("no branch is checked out (detached head); pass `--branch` or set IMAGEGATE_BRANCH".to_owned()),
    }
}

/// Whose code and configuration a command runs, for the choices a pull request must not make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunTrust {
    /// No CI provider: someone runs imagegate on their own checkout.
    Local,
    /// A CI run the provider reports as trusted (a push, a schedule, a manual run).
    Trusted,
    /// A CI run that is not: a pull request, a fork, an unknown trigger, or a CI environment
    /// imagegate could not read. Holds what it is, for messages.
    Untrusted(String),
}

impl RunTrust {
    /// The trust of the CI run `ci` (see `imagegate_ci::CiRun::trusted`).
    pub fn of(ci: &imagegate_ci::CiRun) -> RunTrust {
        if ci.trusted && ci.event.is_trusted() {
            RunTrust::Trusted
        } else {
            RunTrust::Untrusted(format!("this {} {} run", ci.provider, ci.provider_event))
        }
    }

    /// The trust of the run this process is part of, from its environment: local where no CI
    /// provider is detected, untrusted where one is but its run cannot be read.
    pub fn from_environment() -> RunTrust {
        let environment = imagegate_ci::process_environment();
        match imagegate_ci::detect(&environment, &|path| std::fs::read(path)) {
            Ok(ci) => RunTrust::of(&ci),
            Err(imagegate_ci::CiError::NoProvider) => RunTrust::Local,
            Err(error) => RunTrust::Untrusted(format!("this CI run (not understood: {error})")),
        }
    }
}

/// Refuses, for a run that is not trusted, a suite network that reaches the machine's own
/// services (`host`, `container:…`): a pull request controls imagegate.toml, and its suite
/// would then reach the registries and engine APIs listening on the machine. Local runs and
/// trusted CI runs may use such a network.
pub fn refuse_host_network<'a>(
    config: &Config,
    images: impl IntoIterator<Item = &'a ImageConfig>,
    trust: &RunTrust,
) -> Result<(), CliError> {
    let RunTrust::Untrusted(run) = trust else {
        return Ok(());
    };
    for image in images {
        let network = &image.suite.network;
        if !imagegate_config::network_reaches_host(network) {
            continue;
        }
        let place = match image.lines.network.or(image.lines.table) {
            Some(line) => format!("{}:{line}", config.path.display()),
            None => config.path.display().to_string(),
        };
        return Err(CliError::usage(
            format!(
                "{place}: image `{}`: the suite's network {network:?} shares the machine's network, and {run} is not trusted",
                image.name
            ),
            format!(
                "the configuration of a pull request cannot choose a network that reaches the machine's own services: use network = \"none\" (the default) in [images.{}.suite]; local runs and trusted runs (pushes, schedules, manual runs) may use {network:?}",
                image.name
            ),
        ));
    }
    Ok(())
}
