//! One run of the suite (or of a rerun command) in one image.
//!
//! The checkout is copied into a container created from the image (never bind-mounted), the
//! command runs with the suite's workdir, environment, network, timeout and limits (its
//! `Containment`, and a log bounded to `log_size`), the results folder is copied out, and the
//! container is removed whatever happened.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use imagegate_config::{ImageConfig, SuiteLimits};
use imagegate_contract::RunSummary;
use imagegate_engine::{
    CPU_PERIOD_MICROS, ContainerSpec, Containment, CopiedResults, Engine, ResultsFilter, SkipReason, SkippedFile,
};
use imagegate_results::ResultSet;

use crate::{Context, GateError, Progress, evidence, read_results_dir};

/// What a suite run needs of the [`Context`]. Unlike the context (whose store and backend stay
/// on the thread that made them), it can be handed to a second thread, so that the candidate's
/// and the incumbent's runs can go side by side.
#[derive(Clone)]
pub(crate) struct Runner<'a> {
    pub config: &'a imagegate_config::Config,
    pub engine: &'a dyn Engine,
    pub progress: &'a dyn Progress,
    pub state_dir: PathBuf,
    /// Where stored runs are looked up and kept; `None` with `gate --fresh`.
    pub evidence: Option<crate::evidence::EvidenceAccess<'a>>,
    pub image_folders: &'a ImageFolders,
}

impl<'a> Context<'a> {
    pub(crate) fn runner(&self) -> Runner<'a> {
        let evidence = (!self.fresh).then(|| crate::evidence::EvidenceAccess {
            store_dir: self.store.path().parent().map_or_else(|| self.state_dir.clone(), Path::to_path_buf),
            shared: self.backend.shared_evidence(),
        });
        Runner {
            config: self.config,
            engine: self.engine,
            progress: self.progress,
            state_dir: self.state_dir.clone(),
            evidence,
            image_folders: self.image_folders,
        }
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

/// Removes the container when dropped, also on early returns and panics. The removal runs
/// beside what follows (the command waits for it before it ends).
struct ContainerGuard<'a> {
    engine: &'a dyn Engine,
    id: String,
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        self.engine.remove_container_soon(&self.id);
    }
}

/// What one container run left behind: how it ended, and the folder it copied out (if the
/// container had it).
pub(crate) struct ContainerRun {
    pub outcome: imagegate_engine::RunOutcome,
    pub copied_out: Option<PathBuf>,
    /// The files of the folder not copied out, and why.
    pub skipped: Vec<SkippedFile>,
    /// Where the copy stopped, the folder streaming more than imagegate passes over.
    pub stopped_at: Option<SkippedFile>,
    pub log_file: PathBuf,
}

/// Which files of the folder a run copies out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Files in a results format imagegate reads (judged by their first bytes), within the
    /// suite's `results_limits`.
    Results,
    /// Every file, within the suite's `results_limits` (a list command's output).
    Everything,
}

/// The filters of [`Keep`]: a results format, anything, and nothing (only names wanted).
fn wanted_results(head: &[u8]) -> bool {
    imagegate_results::looks_like_results(head)
}

fn wanted_everything(_head: &[u8]) -> bool {
    true
}

fn wanted_nothing(_head: &[u8]) -> bool {
    false
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
    keep: Keep,
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
        containment: containment(&suite.limits, &suite.workdir, copy_out),
    };
    let container = context.engine.create_container(&spec)?;
    let guard = ContainerGuard { engine: context.engine, id: container };
    crate::failpoint!("run.created");
    let exclude: Vec<PathBuf> = vec![context.state_dir.clone()];
    // Files already in the folder, from the image or the checkout, are known before the copy
    // when the checkout can say what it puts there (nearly always): then the copy is the
    // container's one copy in, and the image is asked once per process.
    let known = match checkout_files(context, &suite.workdir, copy_out, &exclude)? {
        Some(from_checkout) => {
            let mut files = context
                .image_folders
                .files(image_ref, copy_out, || files_in_container(context, &guard.id, copy_out, folder))?;
            files.extend(from_checkout);
            Some(files)
        }
        None => None,
    };
    // A listing runs while the gate waits for the candidate's build and suite: the image's
    // results folder is asked now, from the listing's container, so that the runs needing it
    // later (on the critical path) do not wait for that copy.
    if keep == Keep::Everything
        && copy_out.trim_end_matches('/') != suite.results.trim_end_matches('/')
        && ImageFolders::remembers(image_ref)
    {
        let _ = context
            .image_folders
            .files(image_ref, &suite.results, || files_in_container(context, &guard.id, &suite.results, folder));
    }
    let checked = known.is_some();
    if let Some(files) = known {
        refuse_preexisting_files(image, copy_out, files)?;
    }
    // Most reporters open their output file without making its folder (trial's subunit
    // reporter dies with FileNotFoundError): the folder exists, writable by any user, before
    // the command starts.
    context.engine.copy_into_with_folders(&guard.id, &context.config.root, &suite.workdir, &exclude, &[copy_out])?;
    if !checked {
        refuse_preexisting_files(image, copy_out, files_in_container(context, &guard.id, copy_out, folder)?)?;
    }
    let outcome = context.engine.start_and_wait(&guard.id, suite.timeout, &log_file, suite.limits.log_size)?;
    crate::failpoint!("run.finished");
    let limits = suite.results_limits;
    let filter = ResultsFilter {
        wanted: match keep {
            Keep::Results => &wanted_results,
            Keep::Everything => &wanted_everything,
        },
        head_bytes: imagegate_results::HEAD_BYTES,
        max_bytes: limits.max_bytes,
        max_files: limits.max_files,
    };
    let CopiedResults { found, skipped, stopped_at, .. } =
        context.engine.copy_out_results(&guard.id, copy_out, &out_folder, &filter)?;
    drop(guard);
    Ok(ContainerRun { outcome, copied_out: found.then_some(out_folder), skipped, stopped_at, log_file })
}

/// The engine's containment for a suite's container: its limits, with the folders a
/// read-only container must still write (the checkout, and the folder copied out).
pub(crate) fn containment(limits: &SuiteLimits, workdir: &str, copy_out: &str) -> Containment {
    let cpus = limits.cpus.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1.0, |count| f64::from(u32::try_from(count.get()).unwrap_or(1)))
    });
    // A folder inside another writable one needs no volume of its own.
    let mut writable: Vec<String> = Vec::new();
    for folder in [workdir, copy_out] {
        let folder = folder.trim_end_matches('/');
        if folder.is_empty() {
            continue;
        }
        let inside = |outer: &String| folder == outer || folder.starts_with(&format!("{outer}/"));
        if !writable.iter().any(inside) {
            writable.retain(|inner| !(inner.starts_with(&format!("{folder}/"))));
            writable.push(folder.to_owned());
        }
    }
    Containment {
        pids: limits.pids,
        memory_bytes: limits.memory,
        // Rounded to whole microseconds, at least the 1 ms both engines accept.
        cpu_quota_micros: ((cpus * CPU_PERIOD_MICROS as f64).round() as u64).max(1000),
        capabilities: limits.capabilities.clone(),
        no_new_privileges: limits.no_new_privileges,
        read_only: limits.read_only,
        writable,
    }
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
    let suite = &image.suite;
    // A first run made before with everything that determines its results unchanged is not
    // made again (`evidence.rs`); reruns and confirmations always are.
    let key = if evidence::reusable_purpose(purpose) {
        evidence::key_for(context, image, image_ref, evidence::RunKind::Suite, command, &suite.results)
    } else {
        None
    };
    if let Some(found) = key.as_deref().and_then(|key| evidence::find(context, image, key)) {
        let summary = evidence::reused_summary(&found, which, purpose);
        let counts = found.run.results.counts();
        context.progress.note(
            &image.name,
            &format!(
                "{which}: {purpose} run of `{}` reused from {} ({}): {}, {} passed, {} failed",
                one_line(command),
                found.reused.recorded_at,
                found.reused.source,
                imagegate_contract::plural(counts.tests, "test"),
                counts.passed,
                counts.failed
            ),
        );
        return Ok(SuiteRun { summary, results: found.run.results });
    }
    // Claimed only for a run that is made: a reused run leaves no folder.
    let folder = unique_folder(run_dir, &format!("{which}-{purpose}"));
    context.progress.start(&image.name, &format!("{which}: {purpose} running `{}`", one_line(command)));
    let run = run_container(context, image, image_ref, command, &suite.results, Keep::Results, &folder)?;
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
    let mut skipped = skipped_files(image, &run.skipped, &mut results);
    if let Some(file) = &run.stopped_at {
        let path = format!("{}/{}", suite.results.trim_end_matches('/'), file.path);
        let reason = format!(
            "the results folder streamed more than {} of files by here ({} this one), so the copy stopped: this file and any after it were not read; hint: keep large files out of `{}`",
            bytesize::ByteSize(imagegate_engine::MAX_STREAMED_BYTES).display().iec(),
            bytesize::ByteSize(file.size).display().iec(),
            suite.results
        );
        results.mark_incomplete(&path, &reason);
        skipped.push(format!("`{path}`: {reason}"));
    }
    for line in &skipped {
        context.progress.note(&image.name, &format!("{which}: {purpose}: {line}"));
    }
    if outcome.timed_out {
        results.mark_incomplete("suite", format!("timed out after {} and was killed", humanize(suite.timeout)));
    }
    let counts = results.counts();
    // The log stays on this machine; its last lines go with the run into every report. Without
    // usable results the reason is usually there, so they are shown on stderr too.
    let usable = results.is_complete() && counts.tests > 0;
    let output_tail = output_tail(&log_file);
    context.progress.finish(
        &image.name,
        &format!(
            "{which}: {purpose} run done in {:.1}s: {}, {} passed, {} failed, {}, {} skipped{}",
            outcome.elapsed.as_secs_f64(),
            imagegate_contract::plural(counts.tests, "test"),
            counts.passed,
            counts.failed,
            imagegate_contract::plural(counts.errors, "error"),
            counts.skipped,
            if outcome.timed_out { " (timed out)" } else { "" }
        ),
    );
    if let Some(tail) = output_tail.as_ref().filter(|_| !usable) {
        context.progress.note(
            &image.name,
            &format!(
                "{which}: {purpose} run gave no usable results (exit {}); its last output lines:\n{}",
                outcome.exit_code.map_or_else(|| "none".to_owned(), |code| code.to_string()),
                indent(tail)
            ),
        );
    }
    let run = SuiteRun {
        summary: RunSummary {
            image: which.to_owned(),
            purpose: purpose.to_owned(),
            exit_code: outcome.exit_code,
            timed_out: outcome.timed_out,
            duration_seconds: (outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            tests: counts.tests,
            log: log_file.display().to_string(),
            output_tail,
            skipped,
            reused: None,
            experiment: None,
        },
        results,
    };
    if let Some(key) = key
        && evidence::storable(&run.summary, &run.results)
    {
        let stored = evidence::StoredRun { summary: run.summary.clone(), results: run.results.clone(), listed: None };
        evidence::keep(context, image, &key, &stored);
    }
    Ok(run)
}

/// Says what was not copied out of a run's results folder, one line per file: never silently
/// dropped. A results file left out for the limits makes the run's results incomplete (a run
/// judged on part of its results could pass on the part that passed); other files only warn.
fn skipped_files(image: &ImageConfig, skipped: &[SkippedFile], results: &mut ResultSet) -> Vec<String> {
    let suite = &image.suite;
    let folder = suite.results.trim_end_matches('/');
    let limits = suite.results_limits;
    skipped
        .iter()
        .map(|file| {
            let path = format!("{folder}/{}", file.path);
            let size = bytesize::ByteSize(file.size).display().iec();
            match file.reason {
                SkipReason::NotWanted => {
                    format!("skipped `{path}` ({size}): not in a test results format imagegate reads")
                }
                SkipReason::OverLimits => {
                    let reason = format!(
                        "skipped ({size}): the run's results exceed the limits of {} in {} files; hint: raise `max_results_size` or `max_results_files` in [images.{}.suite]",
                        bytesize::ByteSize(limits.max_bytes).display().iec(),
                        limits.max_files,
                        image.name
                    );
                    results.mark_incomplete(&path, &reason);
                    format!("`{path}` {reason}")
                }
            }
        })
        .collect()
}

/// What the folders that runs copy out hold in each image before a run, as far as this process
/// has asked the engine: the same in every container of an image, and asking costs an engine
/// copy (0.3 s or more in podman, which makes copies one at a time across containers).
#[derive(Default)]
pub struct ImageFolders {
    /// Files by image id and folder; each entry is filled once, by the first run that needs it,
    /// while runs of the same image beside it wait.
    known: Mutex<BTreeMap<(String, String), Arc<FolderFiles>>>,
}

/// The files of one image's folder, once asked.
type FolderFiles = Mutex<Option<Vec<String>>>;

impl ImageFolders {
    /// Whether what `image_ref` holds is remembered: only for an image id (a tag can move).
    fn remembers(image_ref: &str) -> bool {
        image_ref.starts_with("sha256:") || image_ref.contains("@sha256:")
    }

    /// The files in `folder` of `image_ref`, asked of `probe` unless known. Only an image id
    /// (`sha256:…`, or a reference pinned `@sha256:…`) is remembered: a tag can move.
    fn files(
        &self,
        image_ref: &str,
        folder: &str,
        probe: impl FnOnce() -> Result<Vec<String>, GateError>,
    ) -> Result<Vec<String>, GateError> {
        if !ImageFolders::remembers(image_ref) {
            return probe();
        }
        let key = (image_ref.to_owned(), folder.trim_end_matches('/').to_owned());
        let entry = Arc::clone(self.known.lock().unwrap_or_else(PoisonError::into_inner).entry(key).or_default());
        let mut entry = entry.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(files) = entry.as_ref() {
            return Ok(files.clone());
        }
        let files = probe()?;
        *entry = Some(files.clone());
        Ok(files)
    }
}

/// The files the checkout puts in the container's folder `results` (paths relative to it):
/// those under it when it lies in the workdir, all of them when the workdir lies in it. `None`
/// when only the container can say (a link on the way to the folder in the checkout, or a path
/// with `..`).
fn checkout_files(
    context: &Runner<'_>,
    workdir: &str,
    results: &str,
    exclude: &[PathBuf],
) -> Result<Option<Vec<String>>, GateError> {
    let plain =
        |path: &Path| path.components().all(|component| matches!(component, Component::RootDir | Component::Normal(_)));
    let (workdir, results) = (Path::new(workdir), Path::new(results));
    if !plain(workdir) || !plain(results) {
        return Ok(None);
    }
    if let Ok(inside) = results.strip_prefix(workdir) {
        return Ok(imagegate_engine::checkout_files_in(&context.config.root, exclude, inside)?);
    }
    if let Ok(above) = workdir.strip_prefix(results) {
        let files = imagegate_engine::checkout_files_in(&context.config.root, exclude, Path::new(""))?;
        return Ok(files.map(|files| files.iter().map(|file| above.join(file).display().to_string()).collect()));
    }
    Ok(Some(Vec::new()))
}

/// The files in the container's folder `results` (paths relative to it), asked of the engine.
fn files_in_container(
    context: &Runner<'_>,
    container: &str,
    results: &str,
    folder: &Path,
) -> Result<Vec<String>, GateError> {
    let probe = folder.join("results-before-run");
    // Only the names are wanted: no file is written, however large.
    let filter = ResultsFilter { wanted: &wanted_nothing, head_bytes: 0, max_bytes: 0, max_files: 0 };
    let copied = context.engine.copy_out_results(container, results, &probe, &filter)?;
    let mut files: Vec<String> = copied.skipped.into_iter().map(|file| file.path).collect();
    // An engine that copies everything (the tests' fakes) wrote them instead.
    if copied.found {
        files.extend(
            walkdir::WalkDir::new(&probe)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|entry| entry.file_type().is_file())
                .map(|entry| entry.path().strip_prefix(&probe).unwrap_or(entry.path()).display().to_string()),
        );
    }
    let _ = fs::remove_dir_all(&probe);
    Ok(files)
}

/// Files already in the results folder before the command runs (from the image, or from the
/// checkout when the folder lies inside the workdir) would be read as this run's results:
/// refuse, naming them, rather than judge on stale data.
fn refuse_preexisting_files(image: &ImageConfig, results: &str, files: Vec<String>) -> Result<(), GateError> {
    // A file both in the image and in the checkout is one file in the container.
    let files: BTreeSet<String> = files.into_iter().collect();
    if files.is_empty() {
        return Ok(());
    }
    let total = files.len();
    let shown: Vec<String> = files.into_iter().take(3).collect();
    Err(GateError::Usage {
        message: format!(
            "image `{}`: the results folder `{results}` already holds {} before the suite runs ({}{}): they would be read as this run's results",
            image.name,
            imagegate_contract::plural(total, "file"),
            shown.join(", "),
            if total > shown.len() { ", …" } else { "" }
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

/// A folder of `run_dir` named `name` (or `name-2`, `name-3`…), made here: runs that go side
/// by side ask at once, and making the folder is what claims its name, so no two share one.
pub(crate) fn unique_folder(run_dir: &Path, name: &str) -> PathBuf {
    // A failure to make it shows when the run makes its files there.
    let _ = fs::create_dir_all(run_dir);
    let mut candidate = run_dir.join(name);
    let mut index = 2;
    while let Err(error) = fs::create_dir(&candidate) {
        if error.kind() != std::io::ErrorKind::AlreadyExists {
            break;
        }
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
    fn a_read_only_container_writes_its_workdir_and_results_and_nothing_nested_twice() {
        let limits = SuiteLimits { read_only: true, cpus: Some(1.5), ..SuiteLimits::default() };
        let apart = containment(&limits, "/src", "/results/");
        assert_eq!(apart.writable, ["/src", "/results"]);
        assert_eq!(apart.cpu_quota_micros, 150_000);
        assert!(apart.read_only && apart.no_new_privileges);
        assert_eq!(containment(&limits, "/src", "/src/out").writable, ["/src"]);
        assert_eq!(containment(&limits, "/src/project", "/src").writable, ["/src"]);
        assert_eq!(containment(&limits, "/src", "/srcs").writable, ["/src", "/srcs"]);
    }

    #[test]
    fn without_cpus_the_quota_is_the_whole_machine() {
        let count = std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(1) as u64;
        assert_eq!(containment(&SuiteLimits::default(), "/src", "/results").cpu_quota_micros, count * 100_000);
    }

    #[test]
    fn ids_with_shell_characters_are_quoted() {
        assert_eq!(shell_quote("pkg.mod.test_x"), "pkg.mod.test_x");
        assert_eq!(shell_quote("test_x[a b]"), "'test_x[a b]'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
