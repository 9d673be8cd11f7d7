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
