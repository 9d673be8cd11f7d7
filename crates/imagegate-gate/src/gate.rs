//! `gate`: judge the candidate of one image against its incumbent and record the verdict.

use std::collections::BTreeSet;

use imagegate_config::ImageConfig;
use imagegate_contract::{CandidateRef, Decision, GateReport, RunSummary};
use imagegate_results::{ResultSet, TestId};
use imagegate_store::NewVerdict;
use serde::{Deserialize, Serialize};

use crate::candidate::timestamp_for_files;
use crate::report::up_to_date;
use crate::suite::shell_quote;
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
pub fn gate_image(context: &Context<'_>, image: &ImageConfig, options: &GateOptions) -> Result<GateReport, GateError> {
    // A move a killed gate left half done is settled before the pointer is read.
    promote::settle_interrupted(context, image)?;
    let subjects = resolve_subjects(context, image, options.refresh)?;
    if subjects.up_to_date() {
        return Ok(up_to_date(context, image, &subjects, options));
    }
    let run_dir = context.state_dir.join("runs").join(&image.name).join(timestamp_for_files());
    let evidence = collect_evidence(context, image, &subjects, &Selection::Whole, &run_dir)?;
    judge(context, image, &subjects, evidence, options)
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
pub fn collect_evidence(
    context: &Context<'_>,
    image: &ImageConfig,
    subjects: &Subjects,
    selection: &Selection,
    run_dir: &std::path::Path,
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
        evidence.incumbent = subjects.incumbent.as_ref().map(|_| ResultSet::new());
        return Ok(evidence);
    };
    let keep = |set: ResultSet| match selection {
        Selection::Ids(ids) => only(&set, ids),
        _ => set,
    };

    let first = run_suite(context, image, candidate_id, "candidate", "suite", &first_command, run_dir)?;
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
    let mut candidate_results = keep(first.results);
    if let Some(digest) = &incumbent_run {
        let run = run_suite(context, image, digest, "incumbent", "suite", &first_command, run_dir)?;
        evidence.runs.push(run.summary);
        evidence.incumbent = Some(keep(run.results));
    }

    // Reruns only make sense on complete results: an incomplete candidate is an error anyway.
    if candidate_results.is_complete() && !candidate_results.is_empty() {
        for _ in 1..suite.attempts {
            let targets = imagegate_compare::rerun_targets(&candidate_results);
            if targets.is_empty() {
                break;
            }
            let rerun = run_selected(context, image, candidate_id, "candidate", "rerun", &targets, run_dir)?;
            evidence.runs.push(rerun.summary);
            for problem in &rerun.results.incomplete {
                evidence.warnings.push(format!("candidate rerun: {}: {}", problem.source, problem.reason));
            }
            candidate_results.merge(only(&rerun.results, &targets));
        }
    }

    if let (Some(digest), Some(incumbent_set)) = (&incumbent_run, &evidence.incumbent) {
        let targets = imagegate_compare::incumbent_confirmation(&candidate_results, Some(incumbent_set));
        if !targets.is_empty() {
            let run = run_selected(context, image, digest, "incumbent", "confirm", &targets, run_dir)?;
            evidence.runs.push(run.summary);
            for problem in &run.results.incomplete {
                evidence.warnings.push(format!("incumbent confirmation: {}: {}", problem.source, problem.reason));
            }
            evidence.confirmation = Some(only(&run.results, &targets));
        }
    }
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
    let comparison =
        imagegate_compare::compare(&evidence.candidate, evidence.incumbent.as_ref(), evidence.confirmation.as_ref());
    crate::report::fill_from_comparison(&mut report, &comparison);
    if let (Some(reference), Some(counts)) = (report.incumbent.as_mut(), comparison.incumbent_counts) {
        reference.counts = Some(counts);
    }
    if let Some(incumbent) = &incumbent
        && (report.decision == Decision::Regression || options.packages)
    {
        explain_with_packages(
            context,
            image,
            subjects,
            incumbent,
            &subjects.candidate.digest,
            &evidence.candidate,
            &mut report,
        );
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
) {
    context.progress.start(&image.name, "reading both images' packages");
    let images = subjects
        .runnable(context, image)
        .map(|runnable| (runnable.incumbent.unwrap_or_else(|| incumbent.to_owned()), runnable.candidate));
    let diff =
        match images.and_then(|(incumbent, candidate)| crate::package_diff(context.engine, &incumbent, &candidate)) {
            Ok(diff) => diff,
            Err(error) => {
                report.warnings.push(format!("the package diff is missing: {error}"));
                return;
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
fn run_selected(
    context: &Context<'_>,
    image: &ImageConfig,
    image_ref: &str,
    which: &str,
    purpose: &str,
    targets: &[TestId],
    run_dir: &std::path::Path,
) -> Result<crate::SuiteRun, GateError> {
    context
        .progress
        .note(&image.name, &format!("{which}: rerunning {}", imagegate_contract::plural(targets.len(), "test")));
    run_suite(context, image, image_ref, which, purpose, &rerun_command(image, targets), run_dir)
}

/// The attempts of `targets` in `set`, and nothing else.
fn only(set: &ResultSet, targets: &[TestId]) -> ResultSet {
    let wanted: BTreeSet<&TestId> = targets.iter().collect();
    let mut selected = ResultSet::new();
    for result in set.tests().filter(|result| wanted.contains(&result.id)) {
        for attempt in &result.attempts {
            selected.record(result.id.clone(), attempt.clone());
        }
    }
    selected
}
