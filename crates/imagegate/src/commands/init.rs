//! `imagegate init`: a starter imagegate.toml for the Dockerfiles of this repository.

use imagegate_contract::ExitStatus;

use crate::cli::{GlobalArgs, InitArgs};
use crate::error::CliError;

pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<ExitStatus, CliError> {
    let root = std::env::current_dir().map_err(|source| CliError::Io {
        operation: "read the working folder",
        path: ".".into(),
        source,
    })?;
    let path = global.config.clone().unwrap_or_else(|| root.join(imagegate_config::CONFIG_FILE_NAME));
    if path.exists() && !args.force {
        return Err(CliError::usage(format!("`{}` already exists", path.display()), "pass `--force` to overwrite it"));
    }
    let dockerfiles = imagegate_config::discover_dockerfiles(&root);
    if dockerfiles.is_empty() {
        return Err(CliError::usage(
            format!("no Dockerfile or Containerfile found under `{}`", root.display()),
            "run `imagegate init` at the root of a repository that builds its CI images",
        ));
    }
    let text = imagegate_config::starter_config(&dockerfiles, &root);
    std::fs::write(&path, text).map_err(|source| CliError::Io { operation: "write", path: path.clone(), source })?;
    eprintln!(
        "wrote {} with {} image(s); edit each suite's command and results folder, then run `imagegate plan`",
        path.display(),
        dockerfiles.len()
    );
    Ok(ExitStatus::Success)
}
