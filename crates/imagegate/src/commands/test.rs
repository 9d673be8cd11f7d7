//! `imagegate test`: run the suite once in the candidate (or the stable image) and print the
//! normalised results. Useful while writing a suite's configuration.

use imagegate_config::ImageConfig;
use imagegate_contract::ExitStatus;
use imagegate_gate::Shard;

use crate::cli::{GlobalArgs, TestArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
use crate::settings::{resolve, select_images};

pub fn run(global: &GlobalArgs, args: &TestArgs) -> Result<ExitStatus, CliError> {
    let runtime = Runtime::open(resolve(global)?)?;
    let config = &runtime.settings.config;
    let image = match &args.image {
        Some(name) => select_images(config, std::slice::from_ref(name))?.remove(0),
        None if config.images.len() == 1 => {
            config.images.values().next().ok_or_else(|| CliError::usage("no images", "add one"))?
        }
        None => {
            return Err(CliError::usage(
                "more than one image is configured",
                format!("name one: {}", config.images.keys().cloned().collect::<Vec<_>>().join(", ")),
            ));
        }
    };
    crate::settings::refuse_host_network(config, [image], &crate::settings::RunTrust::from_environment())?;
    let context = imagegate_gate::Context { fresh: args.fresh, ..runtime.context() };
    if let Some(shard) = args.shard {
        return run_shard(&runtime, image, shard, args);
    }
    let (which, digest) = if args.stable {
        let digest = imagegate_gate::current_stable(&context, image)?.ok_or_else(|| {
            CliError::usage(
                format!("stable tag `{}` names no image", image.stable_tag),
                "promote a candidate first, or test without `--stable`",
            )
        })?;
        ("incumbent", digest)
    } else {
        let candidate = imagegate_gate::ensure_candidate(&context, image, false)?;
        ("candidate", candidate.image_id)
    };
    let reference = imagegate_gate::runnable(&context, image, &digest)?;
    let run_dir =
        runtime.settings.state_dir.join("runs").join(&image.name).join(format!("test-{}", std::process::id()));
    let run = imagegate_gate::run_suite(&context, image, &reference, which, "suite", &image.suite.command, &run_dir)?;
    runtime.progress.clear();
    let results = run.results;
    let mut report = crate::commands::results::report(&results);
    report.engine = Some(context.engine_name().to_owned());
    if args.json {
        print_json(&report);
    } else {
        print!("{}", imagegate_report::results_text(&report));
        println!("(ran in the {} {} image, with {})", image.name, which, context.engine_name());
    }
    Ok(crate::error::results_status(&results))
}

/// `test --shard K/N --output DIR`: the evidence of one slice, saved for `gate --results`.
fn run_shard(runtime: &Runtime, image: &ImageConfig, shard: Shard, args: &TestArgs) -> Result<ExitStatus, CliError> {
    let project = runtime.project(&args.project);
    let context = imagegate_gate::Context { fresh: args.fresh, ..runtime.context() };
    let record = imagegate_gate::run_shard(&context, image, shard, &project.commit)?;
    runtime.progress.clear();
    let output =
        args.output.clone().ok_or_else(|| CliError::usage("`--shard` needs `--output DIR`", "name a folder"))?;
    std::fs::create_dir_all(&output).map_err(|source| CliError::Io {
        operation: "create",
        path: output.clone(),
        source,
    })?;
    let path = output.join(format!("{}-shard-{}-of-{}.json", image.name, shard.index, shard.total));
    let text = serde_json::to_vec(&record).map_err(|error| CliError::Io {
        operation: "encode shard evidence for",
        path: path.clone(),
        source: std::io::Error::other(error),
    })?;
    std::fs::write(&path, text).map_err(|source| CliError::Io { operation: "write", path: path.clone(), source })?;
    let counts = record.evidence.candidate.counts();
    println!(
        "{}: shard {shard}: {} in the candidate ({} passed, {} failed, {}, {} skipped); evidence in {}",
        image.name,
        imagegate_contract::plural(counts.tests, "test"),
        counts.passed,
        counts.failed,
        imagegate_contract::plural(counts.errors, "error"),
        counts.skipped,
        path.display()
    );
    Ok(ExitStatus::Success)
}
