//! `imagegate init`: a starter imagegate.toml for the Dockerfiles of this repository, and with
//! `--ci` a workflow that runs `imagegate ci` on every branch and nightly.

use imagegate_ci::Provider;
use imagegate_contract::ExitStatus;

use crate::cli::{CiProviderArg, GlobalArgs, InitArgs};
use crate::error::CliError;

pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<ExitStatus, CliError> {
    let root = std::env::current_dir().map_err(|source| CliError::Io {
        operation: "read the working folder",
        path: ".".into(),
        source,
    })?;
    let path = global.config.clone().unwrap_or_else(|| root.join(imagegate_config::CONFIG_FILE_NAME));
    let write_config = !path.exists() || (args.force && args.ci.is_none());
    if path.exists() && args.ci.is_none() && !args.force {
        return Err(CliError::usage(format!("`{}` already exists", path.display()), "pass `--force` to overwrite it"));
    }
    if write_config {
        let dockerfiles = imagegate_config::discover_dockerfiles(&root);
        if dockerfiles.is_empty() {
            return Err(CliError::usage(
                format!("no Dockerfile or Containerfile found under `{}`", root.display()),
                "run `imagegate init` at the root of a repository that builds its CI images",
            ));
        }
        let text = imagegate_config::starter_config(&dockerfiles, &root);
        std::fs::write(&path, text).map_err(|source| CliError::Io {
            operation: "write",
            path: path.clone(),
            source,
        })?;
        eprintln!(
            "wrote {} with {} image(s); edit each suite's command and results folder, then run `imagegate plan`",
            path.display(),
            dockerfiles.len()
        );
    }
    if let Some(provider) = args.ci {
        // The workflow names the configured images; read them from the file just written or
        // found, which also checks it.
        let config = imagegate_config::load(&path)?;
        let images: Vec<String> = config.images.keys().cloned().collect();
        let provider = match provider {
            CiProviderArg::Github => Provider::GitHub,
            CiProviderArg::Gitlab => Provider::GitLab,
            CiProviderArg::Circleci => Provider::CircleCi,
        };
        let workflow = imagegate_ci::templates::workflow(provider, &images).map_err(|error| {
            CliError::usage(format!("write the {provider} workflow: {error}"), "check the image names")
        })?;
        let target = config.root.join(workflow.path);
        if target.exists() && !args.force {
            return Err(CliError::usage(
                format!("`{}` already exists", target.display()),
                "pass `--force` to overwrite it",
            ));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| CliError::Io {
                operation: "create",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&target, workflow.text).map_err(|source| CliError::Io {
            operation: "write",
            path: target.clone(),
            source,
        })?;
        eprintln!(
            "wrote {}: gates on every branch, refreshes nightly, promotes from {}",
            target.display(),
            config.promote.branches.join(", ")
        );
    }
    Ok(ExitStatus::Success)
}
