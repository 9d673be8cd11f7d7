//! `imagegate ci`: the whole job for every CI run. It reads where it runs from the provider's
//! environment (never from the local git state), gates each image (refreshing on scheduled
//! runs), promotes only where the event is trusted and the branch allowed, and hands on the
//! image references later jobs must use, with reports where the provider shows them. On a
//! runner thrown away after the job (a provider's hosted runner) it refuses to promote into a
//! local store, which would vanish with the machine.

use std::path::Path;

use imagegate_ci::{Annotation, AnnotationKind, Event, ImageReference, Outputs};
use imagegate_contract::{ExitStatus, GateReport, PromotionStatus};
use imagegate_gate::{GateOptions, Project};

use crate::cli::{CiArgs, GlobalArgs, ReportArgs};
use crate::commands::gate::write_reports;
use crate::error::CliError;
use crate::runtime::{Runtime, print_json};

/// The reference later jobs of this run must use for an image: the stable tag when the
/// candidate is (or just became) stable, or when this branch did not change the recipe; the
/// candidate when the branch changed the recipe (its jobs test that recipe) or there is no
/// stable image yet.
fn reference_for(report: &GateReport, stable_inputs: Option<&str>) -> String {
    let promoted = report
        .promotion
        .as_ref()
        .is_some_and(|promotion| matches!(promotion.status, PromotionStatus::Promoted | PromotionStatus::UpToDate));
    let up_to_date = report.incumbent.as_ref().is_some_and(|incumbent| incumbent.digest == report.candidate.digest);
    if promoted || up_to_date {
        return report.stable_tag.clone();
    }
    match (&report.incumbent, stable_inputs) {
        (None, _) => report.candidate.reference.clone(),
        (Some(_), Some(inputs)) if inputs == report.candidate.inputs_digest => report.stable_tag.clone(),
        (Some(_), _) => report.candidate.reference.clone(),
    }
}

pub fn run(global: &GlobalArgs, args: &CiArgs) -> Result<ExitStatus, CliError> {
    let environment = imagegate_ci::process_environment();
    let read_file = |path: &Path| std::fs::read(path);
    let ci = imagegate_ci::detect(&environment, &read_file)?;
    for warning in &ci.warnings {
        eprintln!("warning: {warning}");
    }
    // Code from a fork never writes to a shared store: it may read candidates and the stable
    // images there, and gates what it builds in this engine.
    let (runtime, images) = Runtime::open_for_images_as(global, &args.images, ci.event == Event::ForkPullRequest)?;
    let config = &runtime.settings.config;
    crate::settings::refuse_host_network(
        config,
        images.iter().map(|name| &config.images[name]),
        &crate::settings::RunTrust::of(&ci),
    )?;
    let promotion_allowed = ci.may_promote(&config.promote.branches);
    // A local store on a runner that is thrown away after the job would promote into nothing:
    // the stable tag, the candidate and the history vanish with the machine, and the next run
    // starts without a stable image. Refused before any work, where the run would promote.
    if let Some(runner) = &ci.ephemeral_runner
        && config.store.registry.is_none()
    {
        if promotion_allowed.is_ok() {
            return Err(CliError::usage(
                format!(
                    "refuse to promote on {runner}: the store is local (imagegate.toml has no `[store] registry`), so \
                     the stable tag and the history would vanish with the runner"
                ),
                "set `[store] registry` in imagegate.toml to a registry this job logs in to (`imagegate init --ci` \
                 writes the provider's), or set IMAGEGATE_RUNNER=persistent if this runner keeps its disk and engine",
            ));
        }
        eprintln!(
            "warning: the store is local on {runner}: nothing this run records outlives it; set `[store] registry` in \
             imagegate.toml"
        );
    }
    let refresh = ci.event == Event::Schedule;
    eprintln!(
        "imagegate ci: {} {} on {} at {}; {}{}",
        ci.provider,
        ci.provider_event,
        ci.branch.as_deref().unwrap_or("no branch"),
        ci.commit.as_deref().unwrap_or("an unknown commit"),
        match &promotion_allowed {
            Ok(()) => "may promote".to_owned(),
            Err(reason) => format!("will not promote: {reason}"),
        },
        if refresh { "; scheduled: rebuilding without cache" } else { "" }
    );
    let git = imagegate_gate::detect_project(&config.root, None, None, &runtime.settings.state_dir);
    let commit = ci.commit.clone().unwrap_or(git.commit);
    let links = imagegate_ci::run_links(&environment, &commit);
    let project = Project { commit, branch: ci.branch.clone(), links };
    let options = GateOptions {
        refresh,
        promote: true,
        promotion_allowed,
        project,
        packages: false,
        culprits: !args.no_culprits,
        keep_experiments: args.keep_experiments,
    };

    let context = runtime.context();
    if context.backend.read_only() {
        eprintln!("imagegate ci: a pull request from a fork: the registry store is only read in this run");
    }
    let mut status = ExitStatus::Success;
    let mut reports = Vec::new();
    let mut references = Vec::new();
    let selected: Vec<&imagegate_config::ImageConfig> = images.iter().map(|name| &config.images[name]).collect();
    imagegate_gate::preflight(config, context.engine, &selected)?.into_result()?;
    for name in &images {
        let image = &config.images[name];
        match imagegate_gate::gate_image(&context, image, &options) {
            Ok(report) => {
                runtime.progress.clear();
                status = status.worst(crate::error::report_status(&report));
                let pointer = context.backend.pointer();
                let stable_inputs = pointer.inputs(&context, image)?;
                let mut reference = reference_for(&report, stable_inputs.as_deref());
                // The stable tag is handed on by its full name where it lives; a lockfile hands on
                // what the checked-out commit pins, so that every commit's jobs run in the image
                // that commit names.
                if reference == report.stable_tag {
                    reference = match pointer.pinned(&context, image)? {
                        Some(pinned) => pinned,
                        None => pointer.reference(image)?,
                    };
                }
                references.push(ImageReference { image: name.clone(), reference });
                if args.json {
                    print_json(&report);
                } else {
                    print!("{}", imagegate_report::gate_text(&report));
                }
                reports.push(report);
            }
            Err(error) => {
                runtime.progress.clear();
                let error = CliError::from(error);
                eprintln!("error: {name}: {}", crate::render(&error));
                if args.json {
                    print_json(&crate::error::error_document("ci", Some(name), &error));
                }
                status = status.worst(error.exit_status());
            }
        }
    }

    let mut annotations = Vec::new();
    for report in &reports {
        for (kind, entries) in
            [(AnnotationKind::Regression, &report.regressions), (AnnotationKind::Flaky, &report.flaky)]
        {
            for entry in entries {
                annotations.push(Annotation {
                    kind,
                    image: report.image.clone(),
                    test_id: entry.id.clone(),
                    message: entry.message.clone().unwrap_or_else(|| entry.reason.clone()),
                });
            }
        }
    }
    // The run's page lists its artifacts, the HTML report written below among them.
    let links = imagegate_report::MarkdownLinks { html_report: Some("report.html".to_owned()) };
    let summary_markdown = imagegate_report::run_markdown_with(&reports, &links);
    let outputs = Outputs { images: references, summary_markdown: Some(summary_markdown), annotations };
    let working_folder = std::env::current_dir().map_err(|source| CliError::Io {
        operation: "read the working folder",
        path: ".".into(),
        source,
    })?;
    let publication =
        imagegate_ci::publication::plan(ci.provider, &environment, &outputs, &working_folder, args.output.as_deref())?;
    imagegate_ci::outputs::write_files(&publication)?;
    if !publication.stdout.is_empty() {
        // Workflow commands: on stdout where the provider reads them, on stderr when stdout
        // carries JSON.
        if args.json {
            eprint!("{}", publication.stdout);
        } else {
            print!("{}", publication.stdout);
        }
    }
    if let Some(path) = &publication.junit {
        write_reports(&ReportArgs { junit: Some(path.clone()), ..ReportArgs::default() }, &reports)?;
    }
    let report_dir = &args.report_dir;
    write_reports(
        &ReportArgs {
            markdown: Some(report_dir.join("summary.md")),
            junit: Some(report_dir.join("junit.xml")),
            html: Some(report_dir.join("report.html")),
        },
        &reports,
    )?;
    Ok(status)
}
