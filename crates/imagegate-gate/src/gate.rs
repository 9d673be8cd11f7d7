//! `gate`: judge the candidate of one image against its incumbent and record the verdict.

use std::collections::BTreeSet;

use imagegate_config::ImageConfig;
use imagegate_contract::{CandidateRef, Decision, GateReport, RunSummary};
use imagegate_results::{ResultSet, TestId};
use imagegate_store::NewVerdict;
use serde::{Deserialize, Serialize};

use crate::candidate::timestamp_for_files;
use crate::report::up_to_date;
use crate::suite::{Runner, run_suite_in, shell_quote};
use crate::{Context, GateError, Project, ensure_candidate, promote, run_suite};

/// How to gate.
#[derive(Debug, Clone)]
pub struct GateOptions {
    /// Rebuild the candidate without cache even when the recipe is unchanged.
    pub refresh: bool,
    /// Move the stable pointer when the decision is `pass`.
    pub promote: bool,
    /// `Err(reason)` when promotion is not allowed here (branch, untrusted event).
    pub promotion_allowed: Result<(), String>,
    pub project: Project,
    /// Diff the two images' packages whatever the decision (they are always diffed, and each
    /// regression given its suspects, when the decision is `regression`).
    pub packages: bool,
    /// After a regression, prove which changed packages cause it (within
    /// `[images.NAME.culprits] budget`); `gate --no-culprits` turns it off.
    pub culprits: bool,
    /// Keep the proof's experiment images in the engine.
    pub keep_experiments: bool,
}

/// What the suite runs showed, before any judgement. Shard runs save it to disk, so it is
/// serialisable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The candidate's first run, with its reruns merged in as further attempts.
    pub candidate: ResultSet,
    /// The incumbent's run; `None` when there is no stable image (bootstrap).
    pub incumbent: Option<ResultSet>,
    /// The incumbent's reruns of the tests that failed only in the candidate.
    pub confirmation: Option<ResultSet>,
    /// The incumbent's test list, when its run was targeted: it then ran only the tests
    /// [`imagegate_compare::incumbent_targets`] named, and `incumbent` holds only those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<BTreeSet<TestId>>,
    pub runs: Vec<RunSummary>,
    pub warnings: Vec<String>,
}

/// Which tests the first runs cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The whole suite (`suite.command`).
    Whole,
    /// A command that runs a slice (a filled-in `suite.shard` template).
    Command(String),
    /// These ids, through `suite.rerun`; an empty list runs nothing.
    Ids(Vec<TestId>),
}

/// The candidate and incumbent a verdict is about: as the backend stores them (the digests a
/// verdict names), and as the engine runs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subjects {
    pub candidate: CandidateRef,
    /// The digest the stable pointer named when the runs started.
    pub incumbent: Option<String>,
    /// What the engine runs for each, resolved once (a registry's images are pulled then).
    /// `None` when nothing is to run (the candidate is the stable image) and in shard evidence
    /// read from disk: it names images of one machine's engine, so it is never saved.
    #[serde(skip)]
    pub runnable: Option<Runnable>,
}

/// The references the engine runs a verdict's images by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runnable {
    pub candidate: String,
    pub incumbent: Option<String>,
}

impl Subjects {
    /// Whether the candidate already is the stable image.
    pub fn up_to_date(&self) -> bool {
        self.incumbent.as_deref() == Some(self.candidate.digest.as_str())
    }

    /// What the engine runs: the references resolved with the subjects, or (for subjects read
    /// from disk) resolved now.
    pub fn runnable(&self, context: &Context<'_>, image: &ImageConfig) -> Result<Runnable, GateError> {
        match &self.runnable {
            Some(runnable) => Ok(runnable.clone()),
            None => resolve_runnable(context, image, &self.candidate.digest, self.incumbent.as_deref()),
        }
    }
}

fn resolve_runnable(
    context: &Context<'_>,
    image: &ImageConfig,
    candidate: &str,
    incumbent: Option<&str>,
) -> Result<Runnable, GateError> {
    Ok(Runnable {
        candidate: context.backend.runnable(context, image, candidate)?,
        incumbent: match incumbent {
            Some(digest) => Some(context.backend.runnable(context, image, digest)?),
            None => None,
        },
    })
}

/// Gates one image: candidate, suite runs, reruns, comparison, stored verdict, and (when asked
/// and allowed) promotion.
///
/// With a concurrency of 2 or more (`[engine] concurrency`), the incumbent's first run (its
/// list, or its whole suite) starts before the candidate is built, since the incumbent exists
/// already, and goes on beside the candidate's runs.
pub fn gate_image(context: &Context<'_>, image: &ImageConfig, options: &GateOptions) -> Result<GateReport, GateError> {
    // A move a killed gate left half done is settled before the pointer is read.
    promote::settle_interrupted(context, image)?;
    let run_dir = context.state_dir.join("runs").join(&image.name).join(timestamp_for_files());
    if context.config.engine.concurrency() < 2 {
        let subjects = resolve_subjects(context, image, options.refresh)?;
        if subjects.up_to_date() {
            return Ok(up_to_date(context, image, &subjects, options));
        }
        let evidence = collect_evidence(context, image, &subjects, &Selection::Whole, &run_dir)?;
        return judge(context, image, &subjects, evidence, options);
    }
    // The incumbent is what the stable pointer names when the gate starts: read it (and make it
    // runnable) before the build, so that its first run can overlap the build.
    let inputs = crate::candidate::digest_inputs(context, image)?;
    let existing = if options.refresh { None } else { crate::candidate::find_existing(context, image, &inputs)? };
    let incumbent = crate::candidate::current_stable(context, image)?;
    let incumbent_run = match &incumbent {
        // A candidate that is the stable image already has nothing to run against it.
        Some(digest) if existing.as_ref() != Some(digest) => Some(context.backend.runnable(context, image, digest)?),
        _ => None,
    };
    let runner = context.runner();
    let evidence = std::thread::scope(|scope| {
        let early = incumbent_run.as_deref().map(|reference| {
            let (runner, run_dir) = (&runner, &run_dir);
            scope.spawn(move || incumbent_first(runner, image, reference, &image.suite.command, true, run_dir))
        });
        let collected: Result<(Subjects, Option<()>), GateError> = (|| {
            let candidate = crate::candidate::ensure_candidate_for(context, image, options.refresh, inputs, existing)?;
            let mut subjects = Subjects {
                candidate: CandidateRef {
                    digest: candidate.image_id,
                    reference: candidate.reference,
                    inputs_digest: candidate.inputs.digest,
                    source: candidate.source,
                },
                incumbent: incumbent.clone(),
                runnable: None,
            };
            if subjects.up_to_date() {
                return Ok((subjects, None));
            }
            let incumbent_run = match (&incumbent_run, &incumbent) {
                (Some(reference), _) => Some(reference.clone()),
                (None, Some(digest)) => Some(context.backend.runnable(context, image, digest)?),
                (None, None) => None,
            };
            subjects.runnable = Some(Runnable {
                candidate: context.backend.runnable(context, image, &subjects.candidate.digest)?,
                incumbent: incumbent_run,
            });
            Ok((subjects, Some(())))
        })();
        match collected {
            Ok((subjects, Some(()))) => {
                let evidence = collect(context, image, &subjects, &Selection::Whole, &run_dir, scope, early)?;
                Ok((subjects, Some(evidence)))
            }
            other => {
                // Nothing to run after all (or the build failed): wait for the incumbent's run,
                // whose containers must be gone before the gate returns.
                if let Some(handle) = early {
                    let _ = join(handle);
                }
                other.map(|(subjects, _)| (subjects, None))
            }
        }
    });
    match evidence? {
        (subjects, Some(evidence)) => judge(context, image, &subjects, evidence, options),
        (subjects, None) => Ok(up_to_date(context, image, &subjects, options)),
    }
}

/// Finds (or builds) the candidate, reads what the stable pointer names now, and, when there is
/// something to run, makes both runnable in the engine.
pub fn resolve_subjects(context: &Context<'_>, image: &ImageConfig, refresh: bool) -> Result<Subjects, GateError> {
    let candidate = ensure_candidate(context, image, refresh)?;
    let incumbent = crate::candidate::current_stable(context, image)?;
    let mut subjects = Subjects {
        candidate: CandidateRef {
            digest: candidate.image_id,
            reference: candidate.reference,
            inputs_digest: candidate.inputs.digest,
            source: candidate.source,
        },
        incumbent,
        runnable: None,
    };
    if !subjects.up_to_date() {
        subjects.runnable =
            Some(resolve_runnable(context, image, &subjects.candidate.digest, subjects.incumbent.as_deref())?);
    }
    Ok(subjects)
}

/// Runs the selected tests in the candidate and the incumbent (same checkout, same command),
/// reruns the candidate's failures up to `attempts` runs in all, then reruns in the incumbent
/// the tests that still fail only in the candidate.
///
/// For the whole suite of a suite with `list` and `rerun` (unless `incumbent = "full"`), the
/// incumbent lists its tests and runs only those whose judgement needs it
/// ([`imagegate_compare::incumbent_targets`]). With a concurrency of 2 or more, the incumbent's
/// runs go side by side with the candidate's.
pub fn collect_evidence(
    context: &Context<'_>,
    image: &ImageConfig,
    subjects: &Subjects,
    selection: &Selection,
    run_dir: &std::path::Path,
) -> Result<Evidence, GateError> {
    std::thread::scope(|scope| collect(context, image, subjects, selection, run_dir, scope, None))
}

/// The incumbent's first run, which needs nothing of the candidate: its list (when targeted),
/// or its whole selection.
enum IncumbentFirst {
    Listed { ids: BTreeSet<TestId>, summary: RunSummary },
    Ran(crate::SuiteRun),
}

/// What the incumbent's side of a gate produced.
struct IncumbentSide {
    first: IncumbentFirst,
    /// Its results of the selection (of the targets, when targeted).
    results: ResultSet,
    /// The targeted run, after the list.
    targeted: Option<RunSummary>,
    /// With a targeted run side by side: a confirmation made beside the candidate's reruns, of
    /// every test failing in the candidate's first run and passing in the targeted run (a
    /// superset of what the verdict asks), with those ids.
    early_confirmation: Option<(crate::SuiteRun, Vec<TestId>)>,
    warnings: Vec<String>,
}

type FirstResult = Result<(IncumbentFirst, Vec<String>), GateError>;

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T, GateError>>) -> Result<T, GateError> {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs the incumbent's list (when `targeted` and the suite can list and rerun) or its whole
/// `command`. A list that fails falls back to the whole command, with a warning.
fn incumbent_first(
    runner: &Runner<'_>,
    image: &ImageConfig,
    reference: &str,
    command: &str,
    targeted: bool,
    run_dir: &std::path::Path,
) -> FirstResult {
    let mut warnings = Vec::new();
    if targeted
        && image.suite.targeted_incumbent()
        && let Some(list) = &image.suite.list
    {
        match crate::shard::list_tests(runner, image, reference, "incumbent", list, run_dir) {
            Ok((ids, summary)) if !ids.is_empty() => return Ok((IncumbentFirst::Listed { ids, summary }, warnings)),
            Ok(_) => warnings.push(format!(
                "the incumbent's list command `{list}` printed no test ids: the whole suite ran in the incumbent"
            )),
            Err(GateError::Shards { message }) => {
                warnings.push(format!("{message}: the whole suite ran in the incumbent"));
            }
            Err(error) => return Err(error),
        }
    }
    let run = run_suite_in(runner, image, reference, "incumbent", "suite", command, run_dir)?;
    Ok((IncumbentFirst::Ran(run), warnings))
}

/// After the candidate's first run: the incumbent's targeted run, when it listed. (The
/// confirmation waits for the candidate's reruns, which tell which tests it must clear.)
#[expect(clippy::too_many_arguments, reason = "the incumbent's side of one gate, as `collect` hands it over")]
fn incumbent_rest(
    runner: &Runner<'_>,
    image: &ImageConfig,
    reference: &str,
    (first, warnings): (IncumbentFirst, Vec<String>),
    candidate: &ResultSet,
    selection: &Selection,
    run_dir: &std::path::Path,
    confirm_early: bool,
) -> Result<IncumbentSide, GateError> {
    let mut speculative = None;
    let (results, targeted) = match &first {
        IncumbentFirst::Ran(run) => (keep(selection, run.results.clone()), None),
        IncumbentFirst::Listed { ids, .. } => {
            let targets = imagegate_compare::incumbent_targets(candidate, Some(ids));
            if targets.is_empty() {
                runner.progress.note(&image.name, "incumbent: nothing to run beyond its list");
                (ResultSet::new(), None)
            } else {
                runner
                    .progress
                    .note(&image.name, &format!("incumbent: running the {} test(s) the verdict needs", targets.len()));
                let targeted_run = || {
                    run_suite_in(
                        runner,
                        image,
                        reference,
                        "incumbent",
                        "suite",
                        &rerun_command(image, &targets),
                        run_dir,
                    )
                };
                // When the targeted run is nothing but the candidate's failures, the
                // confirmation would rerun those very tests: it starts beside the targeted run
                // rather than after it (a round of container runs less on every regression).
                // Otherwise the targeted run goes first, since it tells which failures the
                // incumbent passes, the only ones a confirmation must clear.
                let (run, confirmation) = if confirm_early
                    && candidate.is_complete()
                    && targets == imagegate_compare::rerun_targets(candidate)
                {
                    std::thread::scope(|scope| {
                        let confirmation = scope.spawn(|| {
                            run_selected_in(runner, image, reference, "incumbent", "confirm", &targets, run_dir)
                        });
                        let run = targeted_run();
                        (run, join(confirmation).map(Some))
                    })
                } else {
                    (targeted_run(), Ok(None))
                };
                let (run, confirmation) = (run?, confirmation?);
                let mut results = only(&run.results, &targets);
                // A targeted run that broke cannot clear the candidate's failures.
                results.incomplete.clone_from(&run.results.incomplete);
                if let Some(confirmation) = confirmation {
                    speculative = Some((confirmation, targets.clone()));
                }
                (results, Some(run.summary))
            }
        }
    };
    // Beside the candidate's reruns, a targeted incumbent confirms at once what may need it:
    // waiting for the reruns would add a round of container runs to every regression.
    let mut early_confirmation = speculative;
    if early_confirmation.is_none()
        && confirm_early
        && matches!(first, IncumbentFirst::Listed { .. })
        && candidate.is_complete()
    {
        let targets = imagegate_compare::incumbent_confirmation(candidate, Some(&results));
        if !targets.is_empty() {
            let run = run_selected_in(runner, image, reference, "incumbent", "confirm", &targets, run_dir)?;
            early_confirmation = Some((run, targets));
        }
    }
    Ok(IncumbentSide { first, results, targeted, early_confirmation, warnings })
}

/// The candidate's reruns of its failures, up to `attempts` runs in all, the first included;
/// returns their summaries in attempt order.
///
/// An attempt reruns the tests failing after the attempts before it, and its results count only
/// for those. With a `rerun` template (so that a rerun is a few tests, not the suite) and
/// `at_once` ≥ 2, the attempts do not wait for each other: up to `at_once` start together, each
/// rerunning the tests failing when they start, and are merged in attempt order, a later one
/// counting only for the tests still failing after the earlier ones. Every attempt keeps the
/// result it would have had one after the other, so no class changes; an attempt whose tests had
/// all passed by then counts for nothing (it is still listed: it ran).
fn candidate_reruns(
    runner: &Runner<'_>,
    image: &ImageConfig,
    reference: &str,
    results: &mut ResultSet,
    at_once: u32,
    run_dir: &std::path::Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<RunSummary>, GateError> {
    let mut summaries = Vec::new();
    // Reruns only make sense on complete results: an incomplete candidate is an error anyway.
    if !results.is_complete() || results.is_empty() {
        return Ok(summaries);
    }
    // Without a template every rerun is the whole suite: those go one after the other.
    let at_once = if image.suite.rerun.is_some() { at_once.max(1) } else { 1 };
    let mut left = image.suite.attempts.saturating_sub(1);
    while left > 0 {
        let targets = imagegate_compare::rerun_targets(results);
        if targets.is_empty() {
            break;
        }
        let batch = left.min(at_once);
        left -= batch;
        let rerun = || run_selected_in(runner, image, reference, "candidate", "rerun", &targets, run_dir);
        let runs: Vec<Result<crate::SuiteRun, GateError>> = if batch == 1 {
            vec![rerun()]
        } else {
            // The scope joins every attempt, so all their containers are gone before an error
            // of one of them is returned.
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..batch).map(|_| scope.spawn(rerun)).collect();
                handles.into_iter().map(join).collect()
            })
        };
        for run in runs {
            let run = run?;
            let still = imagegate_compare::rerun_targets(results);
            if !still.is_empty() {
                for problem in &run.results.incomplete {
                    warnings.push(format!("candidate rerun: {}: {}", problem.source, problem.reason));
                }
                results.merge(only(&run.results, &still));
            }
            summaries.push(run.summary);
        }
    }
    Ok(summaries)
}

fn keep(selection: &Selection, set: ResultSet) -> ResultSet {
    match selection {
        Selection::Ids(ids) => only(&set, ids),
        _ => set,
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one sequence of runs, in both orders (one after the other, or side by side)"
)]
fn collect<'scope>(
    context: &Context<'scope>,
    image: &'scope ImageConfig,
    subjects: &Subjects,
    selection: &'scope Selection,
    run_dir: &'scope std::path::Path,
    scope: &'scope std::thread::Scope<'scope, '_>,
    early: Option<std::thread::ScopedJoinHandle<'scope, FirstResult>>,
) -> Result<Evidence, GateError> {
    let suite = &image.suite;
    let Runnable { candidate: candidate_run, incumbent: incumbent_run } = subjects.runnable(context, image)?;
    let candidate_id = candidate_run.as_str();
    let mut evidence = Evidence::default();
    let first_command = match selection {
        Selection::Whole => Some(suite.command.clone()),
        Selection::Command(command) => Some(command.clone()),
        Selection::Ids(ids) if ids.is_empty() => None,
        Selection::Ids(ids) => Some(rerun_command(image, ids)),
    };
    let Some(first_command) = first_command else {
        // An empty slice: nothing to run in either image.
        if let Some(handle) = early {
            join(handle)?;
        }
        evidence.incumbent = subjects.incumbent.as_ref().map(|_| ResultSet::new());
        return Ok(evidence);
    };
    let runner = context.runner();
    let side_by_side = context.config.engine.concurrency() >= 2;
    // Only the whole suite is targeted: a shard's slice is run whole in both images.
    let targeted = *selection == Selection::Whole;

    // The incumbent's first run, beside the candidate's when allowed (it may have started
    // already, while the candidate was built).
    let mut early = early;
    if side_by_side
        && early.is_none()
        && let Some(reference) = incumbent_run.clone()
    {
        let (runner, command) = (runner.clone(), first_command.clone());
        early = Some(scope.spawn(move || incumbent_first(&runner, image, &reference, &command, targeted, run_dir)));
    }
    let first = run_suite(context, image, candidate_id, "candidate", "suite", &first_command, run_dir);
    let incumbent_first_result = early.map(join);
    let first = first?;
    let incumbent_first_result = match (incumbent_first_result, &incumbent_run) {
        (Some(result), _) => Some(result?),
        (None, Some(reference)) => Some(incumbent_first(&runner, image, reference, &first_command, targeted, run_dir)?),
        (None, None) => None,
    };
    if let Some(code) = first.summary.exit_code.filter(|code| *code != 0)
        && first.results.is_complete()
        && !first.results.is_empty()
        && first.results.failing().is_empty()
    {
        evidence.warnings.push(format!(
            "the candidate's suite exited with status {code} although no test in its results failed; \
             imagegate judges by the results, not the exit status (output: {})",
            first.summary.log
        ));
    }
    evidence.runs.push(first.summary);
    let mut candidate_results = keep(selection, first.results);

    // The incumbent's rest (its targeted run, and a confirmation) beside the candidate's reruns.
    let mut incumbent_side = None;
    let mut rest = None;
    if let (Some(reference), Some(first)) = (incumbent_run.clone(), incumbent_first_result) {
        if side_by_side {
            let (runner, candidate_now) = (runner.clone(), candidate_results.clone());
            rest = Some(scope.spawn(move || {
                incumbent_rest(&runner, image, &reference, first, &candidate_now, selection, run_dir, true)
            }));
        } else {
            incumbent_side =
                Some(incumbent_rest(&runner, image, &reference, first, &candidate_results, selection, run_dir, false)?);
        }
    }

    // The candidate's reruns: side by side, its remaining attempts go in one round, beside the
    // incumbent's rest.
    let at_once = if side_by_side { context.config.engine.concurrency() } else { 1 };
    let reruns = candidate_reruns(
        &runner,
        image,
        candidate_id,
        &mut candidate_results,
        at_once,
        run_dir,
        &mut evidence.warnings,
    );
    if let Some(handle) = rest {
        incumbent_side = Some(join(handle)?);
    }
    let rerun_runs = reruns?;

    // runs[] in one order whatever ran beside what: the candidate's suite, the incumbent's
    // list and suite, the candidate's reruns, the confirmation.
    let Some(side) = incumbent_side else {
        evidence.runs.extend(rerun_runs);
        evidence.candidate = candidate_results;
        return Ok(evidence);
    };
    let IncumbentSide { first, results, targeted: targeted_run, early_confirmation, warnings } = side;
    evidence.warnings.extend(warnings);
    match first {
        IncumbentFirst::Listed { ids, summary } => {
            evidence.runs.push(summary);
            evidence.listed = Some(ids);
        }
        IncumbentFirst::Ran(run) => evidence.runs.push(run.summary),
    }
    evidence.runs.extend(targeted_run);
    evidence.runs.extend(rerun_runs);
    let targets = imagegate_compare::incumbent_confirmation(&candidate_results, Some(&results));
    // The candidate's reruns only ever clear failures, so what the verdict asks is within what
    // an early confirmation ran; a test that turned out flaky is dropped from it.
    let early = early_confirmation.filter(|(_, ran)| targets.iter().all(|target| ran.contains(target)));
    if let Some((run, _)) = early.as_ref().filter(|_| targets.is_empty()) {
        evidence.runs.push(run.summary.clone());
    }
    if !targets.is_empty() {
        let reference = incumbent_run.as_deref().unwrap_or_default();
        let run = match early {
            Some((run, _)) => run,
            None => run_selected(context, image, reference, "incumbent", "confirm", &targets, run_dir)?,
        };
        for problem in &run.results.incomplete {
            evidence.warnings.push(format!("incumbent confirmation: {}: {}", problem.source, problem.reason));
        }
        evidence.runs.push(run.summary);
        evidence.confirmation = Some(only(&run.results, &targets));
    }
    evidence.incumbent = Some(results);
    evidence.candidate = candidate_results;
    Ok(evidence)
}

/// Compares, records the verdict, and promotes when asked and allowed.
pub fn judge(
    context: &Context<'_>,
    image: &ImageConfig,
    subjects: &Subjects,
    evidence: Evidence,
    options: &GateOptions,
) -> Result<GateReport, GateError> {
    let mut report = crate::report::new_report(context, image, subjects, options);
    let incumbent = subjects.incumbent.clone();
    report.runs = evidence.runs;
    report.warnings = evidence.warnings;
    for run in &report.runs {
        for skipped in &run.skipped {
            report.warnings.push(format!("{} {} run: {skipped}", run.image, run.purpose));
        }
    }
    if context.backend.read_only() {
        report.warnings.push(
            "the registry store is read only in this run (untrusted code): the candidate was not pushed, \
             and the verdict is kept on this machine only"
                .to_owned(),
        );
    }
    let comparison = match (&evidence.incumbent, &evidence.listed) {
        (Some(incumbent), Some(listed)) => {
            imagegate_compare::compare_targeted(&evidence.candidate, incumbent, evidence.confirmation.as_ref(), listed)
        }
        _ => {
            imagegate_compare::compare(&evidence.candidate, evidence.incumbent.as_ref(), evidence.confirmation.as_ref())
        }
    };
    crate::report::fill_from_comparison(&mut report, &comparison);
    if let Some(listed) = &evidence.listed {
        report.fixed_not_measured = Some(format!(
            "the incumbent ran only the {} of its {} listed tests that the verdict needs; {} test(s) passing in the \
             candidate were not run there, so whether they are fixed is not measured (set incumbent = \"full\" in \
             [images.{}.suite] to measure it)",
            evidence.incumbent.as_ref().map_or(0, ResultSet::len),
            listed.len(),
            comparison.unmeasured,
            image.name
        ));
    }
    if let (Some(reference), Some(counts)) = (report.incumbent.as_mut(), comparison.incumbent_counts) {
        reference.counts = Some(counts);
    }
    if let Some(incumbent) = &incumbent
        && (report.decision == Decision::Regression || options.packages)
    {
        let diff = explain_with_packages(
            context,
            image,
            subjects,
            incumbent,
            &subjects.candidate.digest,
            &evidence.candidate,
            &mut report,
        );
        // Which changed package causes the regressions: experiments, never a different decision.
        if let Some(diff) = diff.filter(|diff| !diff.is_empty())
            && report.decision == Decision::Regression
            && options.culprits
            && let Ok(Runnable { candidate, incumbent: Some(incumbent) }) = subjects.runnable(context, image)
        {
            let images = crate::culprits::Images { candidate: &candidate, incumbent: &incumbent };
            crate::culprits::prove(context, image, &images, &diff, &mut report, options.keep_experiments);
        }
    }
    report.summary = crate::report::summarize(&report);

    let report_json = serde_json::to_string(&report).unwrap_or_default();
    crate::failpoint!("record.judged");
    let verdict_id = record_verdict(context, image, subjects, &report, &report_json, options)?;
    crate::failpoint!("record.verdict");
    report.verdict_id = Some(verdict_id);

    if options.promote {
        let attempt = match (report.decision, &options.promotion_allowed) {
            (Decision::Pass, Ok(())) => {
                Some(promote::sync(context, image).and_then(|()| promote::promote_verdict(context, image, verdict_id)))
            }
            _ => None,
        };
        report.promotion = Some(crate::report::promotion_outcome(image, &report, options, attempt)?);
        report.summary = crate::report::summarize(&report);
    }
    Ok(report)
}

/// Stores the verdict through the backend (a shared one writes its record first, and the local
/// row is its cache). Returns the local row id.
fn record_verdict(
    context: &Context<'_>,
    image: &ImageConfig,
    subjects: &Subjects,
    report: &GateReport,
    report_json: &str,
    options: &GateOptions,
) -> Result<i64, GateError> {
    let verdict = NewVerdict {
        // Filed under the engine the runs were made in; a shared backend files it under its own
        // scope (a read-only run's verdict stays here, under the engine).
        scope: context.engine_name(),
        image: &image.name,
        stable_tag: &image.stable_tag,
        candidate: &subjects.candidate.digest,
        inputs_digest: &subjects.candidate.inputs_digest,
        incumbent: subjects.incumbent.as_deref(),
        commit: &options.project.commit,
        decision: report.decision.as_str(),
        report_json,
    };
    context.backend.record_verdict(context, image, &verdict, report)
}

/// Adds the package diff of the two images and, to each regression, the changed packages its
/// failure text points at. Reading the images is best effort: a failure becomes a warning, never
/// a different decision.
fn explain_with_packages(
    context: &Context<'_>,
    image: &ImageConfig,
    subjects: &Subjects,
    incumbent: &str,
    candidate: &str,
    candidate_results: &ResultSet,
    report: &mut GateReport,
) -> Option<imagegate_packages::PackageDiff> {
    context.progress.start(&image.name, "reading both images' packages");
    let images = subjects
        .runnable(context, image)
        .map(|runnable| (runnable.incumbent.unwrap_or_else(|| incumbent.to_owned()), runnable.candidate));
    let diff =
        match images.and_then(|(incumbent, candidate)| crate::package_diff(context.engine, &incumbent, &candidate)) {
            Ok(diff) => diff,
            Err(error) => {
                report.warnings.push(format!("the package diff is missing: {error}"));
                return None;
            }
        };
    context.progress.finish(
        &image.name,
        &format!(
            "{} changed, {} added, {} removed",
            imagegate_contract::plural(diff.changed.len(), "package"),
            diff.added.len(),
            diff.removed.len()
        ),
    );
    for entry in &mut report.regressions {
        // The whole failure text of every attempt: tracebacks carry the paths and module names.
        let mut text = String::new();
        if let Some(result) = candidate_results.get(&TestId::new(entry.id.clone())) {
            for attempt in &result.attempts {
                for part in [&attempt.message, &attempt.output].into_iter().flatten() {
                    text.push_str(part);
                    text.push('\n');
                }
            }
        } else if let Some(message) = &entry.message {
            text.push_str(message);
        }
        entry.suspects = imagegate_packages::suspects(&text, &diff).iter().map(Into::into).collect();
    }
    report.packages = Some(diff.to_contract(incumbent, candidate));
    Some(diff)
}

/// The rerun command for `targets`, or the whole suite when there is no `rerun` template.
fn rerun_command(image: &ImageConfig, targets: &[TestId]) -> String {
    match &image.suite.rerun {
        Some(template) => {
            let ids: Vec<String> = targets.iter().map(|id| shell_quote(id.as_str())).collect();
            template.replace("{tests}", &ids.join(" "))
        }
        None => image.suite.command.clone(),
    }
}

/// Runs only `targets`: through the `rerun` template when there is one, else the whole suite
/// (whose other results are then ignored).
pub(crate) fn run_selected(
    context: &Context<'_>,
    image: &ImageConfig,
    image_ref: &str,
    which: &str,
    purpose: &str,
    targets: &[TestId],
    run_dir: &std::path::Path,
) -> Result<crate::SuiteRun, GateError> {
    run_selected_in(&context.runner(), image, image_ref, which, purpose, targets, run_dir)
}

pub(crate) fn run_selected_in(
    runner: &Runner<'_>,
    image: &ImageConfig,
    image_ref: &str,
    which: &str,
    purpose: &str,
    targets: &[TestId],
    run_dir: &std::path::Path,
) -> Result<crate::SuiteRun, GateError> {
    runner
        .progress
        .note(&image.name, &format!("{which}: rerunning {}", imagegate_contract::plural(targets.len(), "test")));
    run_suite_in(runner, image, image_ref, which, purpose, &rerun_command(image, targets), run_dir)
}

/// The attempts of `targets` in `set`, and nothing else.
pub(crate) fn only(set: &ResultSet, targets: &[TestId]) -> ResultSet {
    let wanted: BTreeSet<&TestId> = targets.iter().collect();
    let mut selected = ResultSet::new();
    for result in set.tests().filter(|result| wanted.contains(&result.id)) {
        for attempt in &result.attempts {
            selected.record(result.id.clone(), attempt.clone());
        }
    }
    selected
}
