//! One run of the suite (or of a rerun command) in one image.
//!
//! The checkout is copied into a container created from the image (never bind-mounted), the
//! command runs with the suite's workdir, environment, network and timeout, the results folder
//! is copied out, and the container is removed whatever happened.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use imagegate_config::ImageConfig;
use imagegate_contract::RunSummary;
use imagegate_engine::{ContainerSpec, Engine};
use imagegate_results::ResultSet;

use crate::{Context, GateError, read_results_dir};

/// Label on every test container, so leftovers can be found and removed.
pub const LABEL_RUN: &str = "io.imagegate.run";

/// What one run produced.
#[derive(Debug, Clone)]
pub struct SuiteRun {
    pub results: ResultSet,
    pub summary: RunSummary,
}

/// Removes the container when dropped, also on early returns and panics.
struct ContainerGuard<'a> {
    engine: &'a dyn Engine,
    id: String,
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        let _ = self.engine.remove_container(&self.id);
    }
}

/// What one container run left behind: how it ended, and the folder it copied out (if the
/// container had it).
pub(crate) struct ContainerRun {
    pub outcome: imagegate_engine::RunOutcome,
    pub copied_out: Option<PathBuf>,
    pub log_file: PathBuf,
}

/// Creates a container of `image_ref`, copies the checkout in, runs `command` with the suite's
/// workdir, environment, network and timeout, copies `copy_out` out into `folder`, and removes
/// the container whatever happened.
pub(crate) fn run_container(
    context: &Context<'_>,
    image: &ImageConfig,
    image_ref: &str,
    command: &str,
    copy_out: &str,
    folder: &Path,
) -> Result<ContainerRun, GateError> {
    fs::create_dir_all(folder).map_err(|source| GateError::Io {
        operation: "create",
        path: folder.to_path_buf(),
        source,
    })?;
    let log_file = folder.join("output.log");
    let out_folder = folder.join("results");
    let suite = &image.suite;
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_RUN.to_owned(), "1".to_owned());
    labels.insert(crate::LABEL_IMAGE.to_owned(), image.name.clone());
    let spec = ContainerSpec {
        image: image_ref.to_owned(),
        command: command.to_owned(),
        workdir: suite.workdir.clone(),
        env: suite.env.clone(),
        network: suite.network.clone(),
        labels,
    };
    let container = context.engine.create_container(&spec)?;
    let guard = ContainerGuard { engine: context.engine, id: container };
    let exclude: Vec<PathBuf> = vec![context.state_dir.clone()];
    context.engine.copy_into(&guard.id, &context.config.root, &suite.workdir, &exclude)?;
    let outcome = context.engine.start_and_wait(&guard.id, suite.timeout, &log_file)?;
    let found = context.engine.copy_out(&guard.id, copy_out, &out_folder)?;
    drop(guard);
    Ok(ContainerRun { outcome, copied_out: found.then_some(out_folder), log_file })
}

/// Runs `command` in `image_ref` with the checkout of the project at `context.config.root`.
///
/// `which` is `candidate` or `incumbent`, `purpose` is `suite`, `rerun` or `confirm`; both
/// name the run's folder under `run_dir` and appear in the report. Infrastructure failures
/// (the engine refusing to create or start the container) are errors; a timeout or a missing
/// results folder is not: it yields a result set marked incomplete, which the verdict never
/// takes as a pass.
pub fn run_suite(
    context: &Context<'_>,
    image: &ImageConfig,
    image_ref: &str,
    which: &str,
    purpose: &str,
    command: &str,
    run_dir: &Path,
) -> Result<SuiteRun, GateError> {
    let folder = unique_folder(run_dir, &format!("{which}-{purpose}"));
    let suite = &image.suite;
    context.progress.start(&image.name, &format!("{which}: {purpose} running `{}`", one_line(command)));
    let run = run_container(context, image, image_ref, command, &suite.results, &folder)?;
    let outcome = run.outcome;
    let log_file = run.log_file;
    let mut results = match &run.copied_out {
        Some(results_folder) => read_results_dir(results_folder, &suite.results),
        None => {
            let mut set = ResultSet::new();
            set.mark_incomplete(&suite.results, "the results folder was not written by the suite");
            set
        }
    };
    if outcome.timed_out {
        results.mark_incomplete("suite", format!("timed out after {} and was killed", humanize(suite.timeout)));
    }
    let counts = results.counts();
    context.progress.finish(
        &image.name,
        &format!(
            "{which}: {purpose} run done in {:.1}s: {} tests, {} passed, {} failed, {} errors, {} skipped{}",
            outcome.elapsed.as_secs_f64(),
            counts.tests,
            counts.passed,
            counts.failed,
            counts.errors,
            counts.skipped,
            if outcome.timed_out { " (timed out)" } else { "" }
        ),
    );
    Ok(SuiteRun {
        summary: RunSummary {
            image: which.to_owned(),
            purpose: purpose.to_owned(),
            exit_code: outcome.exit_code,
            timed_out: outcome.timed_out,
            duration_seconds: (outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            tests: counts.tests,
            log: log_file.display().to_string(),
        },
        results,
    })
}

pub(crate) fn unique_folder(run_dir: &Path, name: &str) -> PathBuf {
    let mut candidate = run_dir.join(name);
    let mut index = 2;
    while candidate.exists() {
        candidate = run_dir.join(format!("{name}-{index}"));
        index += 1;
    }
    candidate
}

fn one_line(command: &str) -> String {
    let line = command.lines().next().unwrap_or_default();
    if line.len() > 80 {
        format!("{}…", &line[..line.char_indices().nth(79).map_or(line.len(), |(index, _)| index)])
    } else {
        line.to_owned()
    }
}

pub(crate) fn humanize(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// Quotes test ids for a POSIX shell command line.
pub(crate) fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:=@+,".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_shell_characters_are_quoted() {
        assert_eq!(shell_quote("pkg.mod.test_x"), "pkg.mod.test_x");
        assert_eq!(shell_quote("test_x[a b]"), "'test_x[a b]'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
