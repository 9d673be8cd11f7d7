//! The gate's report: made once from the subjects, filled from the comparison, and given its
//! promotion outcome and the one line a person reads first. It is built as a value and stored
//! as is; nothing here runs anything.

use imagegate_compare::{Class, Comparison, Entry};
use imagegate_config::ImageConfig;
use imagegate_contract::{
    Decision, GATE_SCHEMA, GateReport, ImageRef, PromotionReport, PromotionStatus, TestEntry, plural,
};

use crate::{Context, GateError, GateOptions, Subjects, short};

/// The report before any judgement: who is judged against whom, where and at which commit.
pub(crate) fn new_report(
    context: &Context<'_>,
    image: &ImageConfig,
    subjects: &Subjects,
    options: &GateOptions,
) -> GateReport {
    GateReport {
        schema: GATE_SCHEMA.to_owned(),
        image: image.name.clone(),
        stable_tag: image.stable_tag.clone(),
        engine: context.engine_name().to_owned(),
        commit: options.project.commit.clone(),
        branch: options.project.branch.clone(),
        decision: Decision::Pass,
        summary: String::new(),
        candidate: subjects.candidate.clone(),
        incumbent: subjects.incumbent.as_ref().map(|digest| ImageRef {
            digest: digest.clone(),
            reference: context.backend.pointer().reference(image).unwrap_or_else(|_| image.stable_tag.clone()),
            counts: None,
        }),
        counts: Default::default(),
        regressions: Vec::new(),
        flaky: Vec::new(),
        preexisting: Vec::new(),
        fixed: Vec::new(),
        fixed_not_measured: None,
        errors: Vec::new(),
        warnings: Vec::new(),
        runs: Vec::new(),
        verdict_id: None,
        promotion: None,
        packages: None,
        started_at: Some(now()),
        imagegate_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        links: options.project.links.clone(),
        culprits: Vec::new(),
    }
}

/// Now, in RFC 3339 and UTC to the second: the time a person reads in a report's header.
fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |now| now.to_string())
}

/// The report when the candidate already is the stable image: nothing to run.
pub fn up_to_date(
    context: &Context<'_>,
    image: &ImageConfig,
    subjects: &Subjects,
    options: &GateOptions,
) -> GateReport {
    let mut report = new_report(context, image, subjects, options);
    let digest = &subjects.candidate.digest;
    report.summary = format!("{}: the candidate {} is already the stable image", image.name, short(digest));
    if options.promote {
        report.promotion = Some(PromotionReport {
            status: PromotionStatus::UpToDate,
            message: format!("`{}` already names {}", image.stable_tag, short(digest)),
            from: subjects.incumbent.clone(),
            to: subjects.incumbent.clone(),
        });
    }
    report
}

/// What became of the promotion a judged report asked for. `attempt` is the promotion's
/// outcome when one was tried (the decision passed and the policy allowed it). A lost
/// compare-and-swap or a refusal is an outcome to report; any other failure is the caller's.
pub(crate) fn promotion_outcome(
    image: &ImageConfig,
    report: &GateReport,
    options: &GateOptions,
    attempt: Option<Result<PromotionReport, GateError>>,
) -> Result<PromotionReport, GateError> {
    let incumbent = report.incumbent.as_ref().map(|incumbent| incumbent.digest.clone());
    let unmoved = |status, message| PromotionReport { status, message, from: incumbent.clone(), to: None };
    Ok(match (attempt, &options.promotion_allowed) {
        (Some(Ok(promotion)), _) => promotion,
        (Some(Err(GateError::PointerMoved { stable_tag, expected, found })), _) => unmoved(
            PromotionStatus::PointerMoved,
            format!("`{stable_tag}` moved since the verdict: it was {expected}, it is now {found}"),
        ),
        (Some(Err(GateError::Refused { message, .. })), _) => unmoved(PromotionStatus::Refused, message),
        (Some(Err(other)), _) => return Err(other),
        (None, Err(reason)) if report.decision == Decision::Pass => {
            unmoved(PromotionStatus::NotAllowed, reason.clone())
        }
        (None, _) => unmoved(
            PromotionStatus::Blocked,
            format!("`{}` left on {}", image.stable_tag, incumbent.as_deref().map_or("nothing", short)),
        ),
    })
}

/// A comparison entry as the contract lists it.
pub fn test_entry(entry: &Entry) -> TestEntry {
    TestEntry {
        id: entry.id.to_string(),
        reason: entry.reason.clone(),
        message: entry.message.clone(),
        candidate: entry.candidate.as_ref().map(|evidence| evidence.outcomes.clone()).unwrap_or_default(),
        incumbent: entry.incumbent_outcomes(),
        suspects: Vec::new(),
    }
}

pub(crate) fn fill_from_comparison(report: &mut GateReport, comparison: &Comparison) {
    report.decision = comparison.decision;
    report.counts = comparison.candidate_counts;
    for entry in &comparison.entries {
        let list = match entry.class {
            Class::Regression => &mut report.regressions,
            Class::Flaky => &mut report.flaky,
            Class::Preexisting => &mut report.preexisting,
            Class::Fixed => &mut report.fixed,
            _ => continue,
        };
        list.push(test_entry(entry));
    }
    report.errors.extend(comparison.errors.iter().cloned());
    report.warnings.extend(comparison.warnings.iter().cloned());
}

/// The one line a person reads first.
pub(crate) fn summarize(report: &GateReport) -> String {
    let candidate = short(&report.candidate.digest);
    let against = match &report.incumbent {
        Some(incumbent) => format!("against stable {}", short(&incumbent.digest)),
        None => "with no stable image yet".to_owned(),
    };
    let mut line = match report.decision {
        Decision::Pass => format!(
            "{}: pass: candidate {candidate} does at least as well {against} ({}",
            report.image,
            plural(report.counts.tests, "test")
        ),
        Decision::Regression => format!(
            "{}: regression: {} regressed in candidate {candidate} {against} ({}",
            report.image,
            plural(report.regressions.len(), "test"),
            plural(report.counts.tests, "test")
        ),
        Decision::Error => format!(
            "{}: error: no verdict for candidate {candidate} {against}: {} (",
            report.image,
            report.errors.first().map(String::as_str).unwrap_or("unknown error")
        ),
    };
    let mut extras = Vec::new();
    if !report.flaky.is_empty() {
        extras.push(format!("{} flaky", report.flaky.len()));
    }
    if !report.preexisting.is_empty() {
        extras.push(format!("{} pre-existing", report.preexisting.len()));
    }
    if !report.fixed.is_empty() {
        extras.push(format!("{} fixed", report.fixed.len()));
    }
    if report.decision == Decision::Error {
        line.push_str(&format!("{} read", plural(report.counts.tests, "test")));
    }
    for extra in extras {
        line.push_str(", ");
        line.push_str(&extra);
    }
    line.push(')');
    if let Some(promotion) = &report.promotion {
        let outcome = match promotion.status {
            PromotionStatus::Promoted => format!("promoted to `{}`", report.stable_tag),
            PromotionStatus::UpToDate => "stable already up to date".to_owned(),
            PromotionStatus::Blocked => format!("`{}` unchanged", report.stable_tag),
            PromotionStatus::NotAllowed => format!("not promoted: {}", promotion.message),
            PromotionStatus::Refused => format!("promotion refused: {}", promotion.message),
            PromotionStatus::PointerMoved => "promotion lost: the stable tag moved since the verdict".to_owned(),
        };
        line.push_str("; ");
        line.push_str(&outcome);
    }
    line
}
