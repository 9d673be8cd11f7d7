//! `imagegate gate`: judge each image's candidate against its stable image, record the
//! verdict, and promote when asked and allowed.

use imagegate_contract::{ExitStatus, GateReport};
use imagegate_gate::GateOptions;

use crate::cli::{GateArgs, GlobalArgs};
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};
use crate::settings::promotion_policy;

pub fn run(global: &GlobalArgs, args: &GateArgs) -> Result<ExitStatus, CliError> {
    let (runtime, images) = Runtime::open_for_images(global, &args.images)?;
    let config = &runtime.settings.config;
    crate::settings::refuse_host_network(
        config,
        images.iter().map(|name| &config.images[name]),
        &crate::settings::RunTrust::from_environment(),
    )?;
    let project = runtime.project(&args.project);
    let options = GateOptions {
        refresh: args.refresh,
        promote: args.promote,
        promotion_allowed: promotion_policy(config, &project),
        project,
        packages: args.packages,
        culprits: !args.no_culprits,
        keep_experiments: args.keep_experiments,
    };
    let context = imagegate_gate::Context { fresh: args.fresh, ..runtime.context() };
    let mut shards = if args.results.is_empty() { None } else { Some(read_shards(&args.results)?) };
    let images: Vec<String> = match &shards {
        // Without image names, judge the images that have shard evidence.
        Some(records) if args.images.is_empty() => {
            let names: std::collections::BTreeSet<String> = records.iter().map(|record| record.image.clone()).collect();
            if names.is_empty() {
                return Err(CliError::usage(
                    "no shard evidence found in the `--results` folders",
                    "run `imagegate test --shard K/N --output DIR` for every shard first",
                ));
            }
            names.into_iter().collect()
        }
        _ => images,
    };
    if shards.is_none() {
        // Judging shards builds nothing; everything else stops here on what would fail later.
        let selected: Vec<&imagegate_config::ImageConfig> =
            images.iter().filter_map(|name| config.images.get(name)).collect();
        imagegate_gate::preflight(config, context.engine, &selected)?.into_result()?;
    }
    let mut status = ExitStatus::Success;
    let mut reports = Vec::new();
    for name in &images {
        let Some(image) = config.images.get(name) else {
            return Err(CliError::usage(
                format!("shard evidence names image `{name}`, which is not in {}", config.path.display()),
                "judge shards with the configuration they were run with",
            ));
        };
        let outcome = match shards.as_mut() {
            Some(records) => {
                let (mine, others): (Vec<_>, Vec<_>) =
                    std::mem::take(records).into_iter().partition(|record| &record.image == name);
                *records = others;
                imagegate_gate::judge_shards(&context, image, mine, &options)
            }
            None => imagegate_gate::gate_image(&context, image, &options),
        };
        match outcome {
            Ok(report) => {
                runtime.progress.clear();
                status = status.worst(crate::error::report_status(&report));
                if args.json {
                    print_json(&report);
                } else {
                    print!("{}", imagegate_report::gate_text(&report));
                }
                reports.push(report);
            }
            Err(error) => {
                // One image's infrastructure failure must not hide the others' verdicts.
                runtime.progress.clear();
                let error = CliError::from(error);
                eprintln!("error: {name}: {}", crate::render(&error));
                if args.json {
                    print_json(&crate::error::error_document("gate", Some(name), &error));
                }
                status = status.worst(error.exit_status());
            }
        }
    }
    write_reports(&args.reports, &reports)?;
    Ok(status)
}

/// Writes the report files asked for, for every image judged (also when some images failed),
/// and says on stderr where each one is.
pub fn write_reports(files: &crate::cli::ReportArgs, reports: &[GateReport]) -> Result<(), CliError> {
    let write = |kind: &str, path: &std::path::Path, text: String| {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| CliError::Io {
                operation: "create",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(path, text).map_err(|source| CliError::Io {
            operation: "write",
            path: path.to_path_buf(),
            source,
        })?;
        eprintln!("{kind} report: {}", path.display());
        Ok::<(), CliError>(())
    };
    if let Some(path) = &files.markdown {
        // The comment points at the HTML report for the tests it has no room for, by its file
        // name: where the comment is read, this machine's folders mean nothing.
        let html_report = files.html.as_ref().map(|html| {
            html.file_name().map_or_else(|| html.display().to_string(), |name| name.to_string_lossy().into_owned())
        });
        let links = imagegate_report::MarkdownLinks { html_report };
        write("Markdown", path, imagegate_report::run_markdown_with(reports, &links))?;
    }
    if let Some(path) = &files.junit {
        write("JUnit", path, imagegate_report::gate_junit(reports))?;
    }
    if let Some(path) = &files.html {
        write("HTML", path, imagegate_report::gate_html(reports))?;
    }
    Ok(())
}

/// Every shard record (`*.json` with the shard schema) in the given folders.
fn read_shards(folders: &[std::path::PathBuf]) -> Result<Vec<imagegate_gate::ShardRecord>, CliError> {
    let mut records = Vec::new();
    for folder in folders {
        let entries = std::fs::read_dir(folder).map_err(|source| CliError::Io {
            operation: "read",
            path: folder.clone(),
            source,
        })?;
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|entry| entry.path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|path| path.extension().is_some_and(|extension| extension == "json")) {
            let bytes = std::fs::read(&path).map_err(|source| CliError::Io {
                operation: "read",
                path: path.clone(),
                source,
            })?;
            let value: serde_json::Value = match serde_json::from_slice(&bytes) {
                Ok(value) => value,
                Err(error) => {
                    return Err(CliError::usage(
                        format!("`{}` is not valid JSON: {error}", path.display()),
                        "pass the folders `test --shard --output` wrote, unmodified",
                    ));
                }
            };
            if value.get("schema").and_then(|schema| schema.as_str()) != Some(imagegate_gate::SHARD_SCHEMA) {
                continue;
            }
            let record = serde_json::from_value(value).map_err(|error| {
                CliError::usage(
                    format!("`{}` is not a valid shard record: {error}", path.display()),
                    "pass the folders `test --shard --output` wrote, unmodified",
                )
            })?;
            records.push(record);
        }
    }
    Ok(records)
}
