//! `imagegate diff FROM TO`: the packages that differ between any two images, in the engine or
//! in a registry (pulled through the engine first).

use imagegate_contract::{DIFF_SCHEMA, ExitStatus};

use crate::cli::{DiffArgs, GlobalArgs};
use crate::error::CliError;
use crate::runtime::print_json;

pub fn run(global: &GlobalArgs, args: &DiffArgs) -> Result<ExitStatus, CliError> {
    // No configuration is needed: only an engine.
    let kind = match global.engine {
        Some(crate::cli::EngineArg::Docker) => Some(imagegate_config::EngineKind::Docker),
        Some(crate::cli::EngineArg::Podman) => Some(imagegate_config::EngineKind::Podman),
        None => None,
    };
    let engine = imagegate_engine::detect(kind)?;
    for reference in [&args.from, &args.to] {
        if engine.inspect_image(reference)?.is_some() {
            continue;
        }
        // Not in the engine: a registry reference is pulled (with the engine's credentials).
        let looks_remote = reference.split('/').next().is_some_and(|first| {
            reference.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost")
        });
        if !looks_remote {
            return Err(CliError::usage(
                format!("the {} engine has no image `{reference}`", engine.program()),
                "name an image the engine has (`docker images` / `podman images` list them), or a registry reference such as registry.example.com/team/image:tag",
            ));
        }
        eprintln!("pulling {reference}");
        // A registry's hiccup is retried as imagegate's own requests are.
        let registry = reference.split('/').next().unwrap_or_default();
        imagegate_gate::transfer_with_retries(
            imagegate_registry::Retry::default(),
            registry,
            || engine.pull(reference),
            |attempt, error| {
                eprintln!(
                    "pull failed (attempt {attempt}), retrying: {}",
                    error.to_string().lines().last().unwrap_or_default()
                )
            },
        )?;
    }
    let diff = imagegate_gate::package_diff(engine.as_ref(), &args.from, &args.to)?;
    let mut document = diff.to_contract(&args.from, &args.to);
    if args.json {
        document.schema = Some(DIFF_SCHEMA.to_owned());
        document.engine = Some(engine.kind().as_str().to_owned());
        print_json(&document);
    } else {
        print!("{}", imagegate_report::diff_text(&document));
        println!("(images read from {})", engine.kind());
    }
    Ok(ExitStatus::Success)
}
