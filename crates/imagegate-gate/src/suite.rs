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

use crate::{Context, GateError, Progress, read_results_dir};

/// What a suite run needs of the [`Context`]. Unlike the context (whose store and backend stay
/// on the thread that made them), it can be handed to a second thread, so that the candidate's
/// and the incumbent's runs can go side by side.
#[derive(Clone)]
pub(crate) struct Runner<'a> {
    pub config: &'a imagegate_config::Config,
    pub engine: &'a dyn Engine,
    pub progress: &'a dyn Progress,
    pub state_dir: PathBuf,
}

impl<'a> Context<'a> {
    pub(crate) fn runner(&self) -> Runner<'a> {
        Runner { config: self.config, engine: self.engine, progress: self.progress, state_dir: self.state_dir.clone() }
    }
}

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
    context: &Runner<'_>,
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
    // Most reporters open their output file without making its folder (trial's subunit
    // reporter dies with FileNotFoundError): the folder exists, writable by any user, before
    // the command starts.
    context.engine.create_folders(&guard.id, &[copy_out])?;
    refuse_preexisting_files(context, image, &guard.id, copy_out, folder)?;
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
    run_suite_in(&context.runner(), image, image_ref, which, purpose, command, run_dir)
}

/// [`run_suite`] with what it needs of the context, on any thread.
pub(crate) fn run_suite_in(
    context: &Runner<'_>,
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
    // Without usable results the reason is in the output: keep its last lines with the run.
    let output_tail = if results.is_complete() && counts.tests > 0 { None } else { output_tail(&log_file) };
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
    if let Some(tail) = &output_tail {
        context.progress.note(
            &image.name,
            &format!(
                "{which}: {purpose} run gave no usable results (exit {}); its last output lines:\n{}",
                outcome.exit_code.map_or_else(|| "none".to_owned(), |code| code.to_string()),
                indent(tail)
            ),
        );
    }
    Ok(SuiteRun {
        summary: RunSummary {
            image: which.to_owned(),
            purpose: purpose.to_owned(),
            exit_code: outcome.exit_code,
            timed_out: outcome.timed_out,
            duration_seconds: (outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            tests: counts.tests,
            log: log_file.display().to_string(),
            output_tail,
        },
        results,
    })
}

/// Files already in the results folder before the command runs (from the image, or from the
/// checkout when the folder lies inside the workdir) would be read as this run's results:
/// refuse, naming them, rather than judge on stale data.
fn refuse_preexisting_files(
    context: &Runner<'_>,
    image: &ImageConfig,
    container: &str,
    results: &str,
    folder: &Path,
) -> Result<(), GateError> {
    let probe = folder.join("results-before-run");
    let found = context.engine.copy_out(container, results, &probe)?;
    let mut files: Vec<String> = if found {
        walkdir::WalkDir::new(&probe)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_file())
            .map(|entry| entry.path().strip_prefix(&probe).unwrap_or(entry.path()).display().to_string())
            .collect()
    } else {
        Vec::new()
    };
    let _ = fs::remove_dir_all(&probe);
    if files.is_empty() {
        return Ok(());
    }
    files.sort();
    let total = files.len();
    files.truncate(3);
    Err(GateError::Usage {
        message: format!(
            "image `{}`: the results folder `{results}` already holds {total} file(s) before the suite runs ({}{}): they would be read as this run's results",
            image.name,
            files.join(", "),
            if total > files.len() { ", …" } else { "" }
        ),
        hint: format!(
            "set `results` in [images.{}.suite] to a folder that neither the image nor the checkout has, e.g. \"/results\"",
            image.name
        ),
    })
}

/// The last lines of a run's output (at most [`TAIL_LINES`] lines and [`TAIL_BYTES`] bytes),
/// for errors and reports when a run yields no usable results: the reason is usually there
/// (a traceback, a missing command), and the log file exists only on the machine that ran it.
pub(crate) fn output_tail(log_file: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(log_file).ok()?;
    let length = file.metadata().ok()?.len();
    let start = length.saturating_sub(TAIL_READ_BYTES);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.take(TAIL_READ_BYTES).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    // A read that starts mid-file starts mid-line: drop that partial line.
    if start > 0 && lines.len() > 1 {
        lines.remove(0);
    }
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut bytes_kept = 0;
    for line in lines.iter().rev().take(TAIL_LINES) {
        let line = line.trim_end();
        if bytes_kept + line.len() + 1 > TAIL_BYTES && !kept.is_empty() {
            break;
        }
        bytes_kept += line.len() + 1;
        kept.push(line);
    }
    kept.reverse();
    let tail = kept.join("\n");
    let tail = if tail.len() > TAIL_BYTES {
        let cut = tail.char_indices().map(|(index, _)| index).find(|&index| index >= tail.len() - TAIL_BYTES);
        format!("…{}", &tail[cut.unwrap_or(0)..])
    } else {
        tail
    };
    (!tail.trim().is_empty()).then_some(tail)
}

/// How many lines and bytes of output [`output_tail`] keeps, and how much of the file it reads.
pub(crate) const TAIL_LINES: usize = 25;
pub(crate) const TAIL_BYTES: usize = 4096;
const TAIL_READ_BYTES: u64 = 64 * 1024;

pub(crate) fn unique_folder(run_dir: &Path, name: &str) -> PathBuf {
    let mut candidate = run_dir.join(name);
    let mut index = 2;
    while candidate.exists() {
        candidate = run_dir.join(format!("{name}-{index}"));
        index += 1;
    }
    candidate
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  | {line}")).collect::<Vec<_>>().join("\n")
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
