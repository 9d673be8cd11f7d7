//! The culprit proof: after a regression, experiments that put changed packages back to the
//! incumbent's versions (transplant images, [`crate::transplant`]) and rerun only the regressed
//! tests, to tell which package causes it. The search itself is
//! [`imagegate_compare::culprits`]; this module runs its experiments in the engine and writes
//! what it found into the gate report. The proof never changes the decision and never moves a
//! pointer: any failure of its own becomes a warning.

use std::collections::BTreeSet;
use std::path::Path;

use imagegate_compare::culprits::{self, Experiments, Outcome, Verdict};
use imagegate_config::ImageConfig;
use imagegate_contract::{Culprit, GateReport};
use imagegate_packages::{Direction, Ecosystem, PackageChange, PackageDiff};
use imagegate_results::{ResultSet, TestId};

use crate::transplant::{Transplant, Transplants};
use crate::{Context, GateError};

/// What the engine runs the two images by.
pub(crate) struct Images<'a> {
    pub candidate: &'a str,
    pub incumbent: &'a str,
}

/// Runs the proof for `report`'s regressions and fills `report.culprits` (and `runs`). `budget`
/// bounds the experiments; `keep` leaves the experiment images in the engine.
pub(crate) fn prove(
    context: &Context<'_>,
    image: &ImageConfig,
    images: &Images<'_>,
    diff: &PackageDiff,
    report: &mut GateReport,
    keep: bool,
) {
    let changes = ranked_changes(diff, report);
    if changes.is_empty() || report.regressions.is_empty() || image.culprits.budget == 0 {
        return;
    }
    let regressions: Vec<TestId> = report.regressions.iter().map(|entry| TestId::new(entry.id.clone())).collect();
    let top_suspect = top_suspect(&changes, report);
    context.progress.start(
        &image.name,
        &format!(
            "proving which of {} causes the regressions (at most {})",
            imagegate_contract::plural(changes.len(), "changed package"),
            imagegate_contract::plural(image.culprits.budget as usize, "experiment")
        ),
    );
    let mut transplants = match Transplants::prepare(context, image, images.candidate, images.incumbent) {
        Ok(mut transplants) => {
            transplants.kept = keep;
            transplants
        }
        Err(error) => {
            report.warnings.push(format!("the culprit proof did not run: {error}"));
            return;
        }
    };
    let run_dir = context
        .state_dir
        .join("runs")
        .join(&image.name)
        .join(format!("{}-culprits", crate::candidate::timestamp_for_files()));
    let mut experiments = EngineExperiments {
        context,
        image,
        changes: &changes,
        regressions: &regressions,
        transplants: &mut transplants,
        run_dir: &run_dir,
        keep,
        count: 0,
        runs: Vec::new(),
        made: Vec::new(),
        warnings: Vec::new(),
    };
    let proof = culprits::search(
        changes.len(),
        regressions.len(),
        top_suspect,
        image.culprits.budget as usize,
        &mut experiments,
    );
    let EngineExperiments { runs, made, warnings, .. } = experiments;
    report.runs.extend(runs);
    report.warnings.extend(warnings);
    if keep && !made.is_empty() {
        report.warnings.push(format!("experiment images kept in the engine: {}", made.join(", ")));
        // Where other machines share the store, the kept images go there too.
        let mut pushed = Vec::new();
        for local in &made {
            let key = local.rsplit_once(':').map_or(local.as_str(), |(_, tag)| tag);
            match context.backend.publish_experiment(context, image, local, key) {
                Ok(Some(name)) => pushed.push(name),
                Ok(None) => {}
                Err(error) => report.warnings.push(format!("could not push the experiment image {local}: {error}")),
            }
        }
        if !pushed.is_empty() {
            report.warnings.push(format!("experiment images pushed to the registry: {}", pushed.join(", ")));
        }
    }
    if proof.budget_spent {
        report.warnings.push(format!(
            "the culprit proof ran out of its budget of {} (set budget in [images.{}.culprits])",
            imagegate_contract::plural(image.culprits.budget as usize, "experiment"),
            image.name
        ));
    }
    let mut found: Vec<Culprit> = proof
        .findings
        .iter()
        .zip(&changes)
        .map(|(finding, change)| Culprit {
            ecosystem: change.ecosystem.as_str().to_owned(),
            name: change.name.clone(),
            location: change.location.clone(),
            from: change.from.clone(),
            to: change.to.clone(),
            verdict: match finding.verdict {
                Verdict::Confirmed => "confirmed",
                Verdict::Cleared => "cleared",
                Verdict::Inconclusive => "inconclusive",
            }
            .to_owned(),
            regressions: finding.regressions.iter().map(|&test| regressions[test].as_str().to_owned()).collect(),
            experiments: finding.experiments.iter().map(|number| number + 1).collect(),
            partners: finding.partners.iter().map(|&other| changes[other].name.clone()).collect(),
            pin: (finding.verdict == Verdict::Confirmed).then(|| pin(change)).flatten(),
            note: finding.note.clone(),
        })
        .collect();
    // Confirmed first, then inconclusive, then cleared; the ranking within each.
    found.sort_by_key(|culprit| match culprit.verdict.as_str() {
        "confirmed" => 0,
        "inconclusive" => 1,
        _ => 2,
    });
    let confirmed = found.iter().filter(|culprit| culprit.verdict == "confirmed").count();
    context.progress.finish(
        &image.name,
        &format!(
            "{} confirmed in {}",
            imagegate_contract::plural(confirmed, "package"),
            imagegate_contract::plural(proof.experiments.len(), "experiment")
        ),
    );
    report.culprits = found;
}

/// The changed packages, likeliest first: those the regressions' failure texts point at (by
/// their best score), then the rest in diff order.
fn ranked_changes(diff: &PackageDiff, report: &GateReport) -> Vec<PackageChange> {
    let score = |change: &PackageChange| -> Option<f64> {
        report
            .regressions
            .iter()
            .flat_map(|entry| &entry.suspects)
            .filter(|suspect| suspect.ecosystem == change.ecosystem.as_str() && suspect.name == change.name)
            .map(|suspect| suspect.score)
            .max_by(f64::total_cmp)
    };
    let mut scored: Vec<(Option<f64>, usize, PackageChange)> =
        diff.changes().enumerate().map(|(order, change)| (score(change), order, change.clone())).collect();
    scored.sort_by(|(left_score, left_order, _), (right_score, right_order, _)| match (left_score, right_score) {
        (Some(left), Some(right)) => right.total_cmp(left).then(left_order.cmp(right_order)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => left_order.cmp(right_order),
    });
    scored.into_iter().map(|(_, _, change)| change).collect()
}

/// The package every regression's failure text points at first, if they agree on one.
fn top_suspect(changes: &[PackageChange], report: &GateReport) -> Option<usize> {
    let mut firsts = report.regressions.iter().filter_map(|entry| entry.suspects.first());
    let first = firsts.next()?;
    if !firsts.all(|other| other.ecosystem == first.ecosystem && other.name == first.name) {
        return None;
    }
    changes.iter().position(|change| change.ecosystem.as_str() == first.ecosystem && change.name == first.name)
}

/// The constraint that keeps the incumbent's version, in the ecosystem's own spelling; `None`
/// for a package the candidate added (the fix is to remove it).
pub(crate) fn pin(change: &PackageChange) -> Option<String> {
    let from = change.from.as_deref()?;
    Some(match (change.ecosystem, change.direction, change.to.as_deref()) {
        // Below the candidate's version keeps what worked and still allows fixes before it.
        (Ecosystem::Python, Direction::Upgrade, Some(to)) => format!("{}<{to}", change.name),
        (Ecosystem::Python, _, _) => format!("{}=={from}", change.name),
        (Ecosystem::Deb | Ecosystem::Apk, _, _) => format!("{}={from}", change.name),
        (Ecosystem::Npm, _, _) => format!("{}@{from}", change.name),
        (Ecosystem::Gem, _, _) => format!("{} -v {from}", change.name),
        (Ecosystem::Rpm, _, _) => format!("{}-{from}", change.name),
    })
}

/// Experiments in the engine: a transplant image per put-back set, the regressed tests rerun in
/// it (still-failing ones up to `attempts` runs in all, as the gate reruns the candidate).
struct EngineExperiments<'a, 'c> {
    context: &'a Context<'c>,
    image: &'a ImageConfig,
    changes: &'a [PackageChange],
    regressions: &'a [TestId],
    transplants: &'a mut Transplants,
    run_dir: &'a Path,
    keep: bool,
    runs: Vec<imagegate_contract::RunSummary>,
    /// Experiments asked for so far.
    count: usize,
    /// References of the images made (reported when kept).
    made: Vec<String>,
    warnings: Vec<String>,
}

impl Experiments for EngineExperiments<'_, '_> {
    fn put_back(&mut self, packages: &[usize]) -> Outcome {
        self.count += 1;
        let put_back: Vec<PackageChange> = packages.iter().map(|&index| self.changes[index].clone()).collect();
        let names: Vec<String> = put_back.iter().map(describe).collect();
        self.context.progress.note(&self.image.name, &format!("experiment: putting back {}", names.join(", ")));
        let transplant = match self.transplants.make(self.context, &put_back) {
            Ok(transplant) => transplant,
            Err(error) => return Outcome::Broken { reason: error.to_string() },
        };
        self.context.progress.note(
            &self.image.name,
            &format!(
                "experiment image {} made in {:.1} s ({} put back, a layer of {} bytes over the candidate)",
                transplant.reference,
                transplant.elapsed.as_secs_f64(),
                imagegate_contract::plural(transplant.put_back.len(), "package"),
                transplant.layer_bytes
            ),
        );
        let outcome = self.run(&transplant);
        if self.keep {
            self.made.push(transplant.reference.clone());
        } else if let Err(error) = self.transplants.remove(self.context, &transplant) {
            self.warnings.push(format!("could not remove the experiment image {}: {error}", transplant.reference));
        }
        match outcome {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Broken { reason: error.to_string() },
        }
    }

    fn unavailable(&mut self, package: usize) -> Option<String> {
        self.transplants.unavailable(&self.changes[package])
    }

    fn companions(&mut self, package: usize) -> Vec<usize> {
        let change = &self.changes[package];
        (0..self.changes.len())
            .filter(|&other| other != package && self.transplants.related(change, &self.changes[other]))
            .collect()
    }
}

impl EngineExperiments<'_, '_> {
    /// Reruns the regressed tests in `reference` until each passed or `attempts` runs are spent.
    fn run(&mut self, transplant: &Transplant) -> Result<Outcome, GateError> {
        let reference = transplant.reference.as_str();
        let image = imagegate_contract::ExperimentImage {
            number: self.count,
            reference: transplant.reference.clone(),
            put_back: transplant
                .put_back
                .iter()
                .map(|change| format!("{} {}", change.name, change.from.as_deref().unwrap_or("(absent)")))
                .collect(),
            made_seconds: transplant.elapsed.as_secs_f64(),
            layer_bytes: transplant.layer_bytes,
        };
        let mut results = ResultSet::new();
        let mut targets: Vec<TestId> = self.regressions.to_vec();
        for _ in 0..self.image.suite.attempts.max(1) {
            let run = crate::gate::run_selected(
                self.context,
                self.image,
                reference,
                "experiment",
                "experiment",
                &targets,
                self.run_dir,
            )?;
            let complete = run.results.is_complete();
            let problems: Vec<String> = run
                .results
                .incomplete
                .iter()
                .map(|problem| format!("{}: {}", problem.source, problem.reason))
                .collect();
            let mut summary = run.summary;
            summary.experiment = Some(image.clone());
            self.runs.push(summary);
            if !complete {
                return Ok(Outcome::Broken {
                    reason: format!("the experiment's results are incomplete ({})", problems.join("; ")),
                });
            }
            results.merge(crate::gate::only(&run.results, &targets));
            targets.retain(|test| !passed(&results, test));
            if targets.is_empty() {
                break;
            }
        }
        let passing: BTreeSet<usize> = self
            .regressions
            .iter()
            .enumerate()
            .filter(|(_, test)| passed(&results, test))
            .map(|(index, _)| index)
            .collect();
        // A test that did not run at all in the experiment (not even reported) says nothing.
        if passing.is_empty() && self.regressions.iter().all(|test| results.get(test).is_none()) {
            return Ok(Outcome::Broken { reason: "the experiment reported none of the regressed tests".to_owned() });
        }
        Ok(Outcome::Ran { passing })
    }
}

/// Whether `test` passed (or xfailed) on some attempt.
fn passed(results: &ResultSet, test: &TestId) -> bool {
    results.get(test).is_some_and(|result| {
        result.attempts.iter().any(|attempt| {
            matches!(attempt.outcome, imagegate_results::Outcome::Pass | imagegate_results::Outcome::Xfail)
        })
    })
}

/// `name from → to`, as progress lines show a change.
fn describe(change: &PackageChange) -> String {
    format!(
        "{} {} → {}",
        change.name,
        change.to.as_deref().unwrap_or("(absent)"),
        change.from.as_deref().unwrap_or("(absent)")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        ecosystem: Ecosystem,
        name: &str,
        from: Option<&str>,
        to: Option<&str>,
        direction: Direction,
    ) -> PackageChange {
        PackageChange {
            ecosystem,
            name: name.to_owned(),
            location: String::new(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            direction,
            modules: Vec::new(),
        }
    }

    #[test]
    fn pins_keep_the_incumbents_version_in_each_ecosystems_spelling() {
        let python = change(Ecosystem::Python, "MarkupSafe", Some("2.0.1"), Some("2.1.0"), Direction::Upgrade);
        assert_eq!(pin(&python).as_deref(), Some("MarkupSafe<2.1.0"));
        let python_down = change(Ecosystem::Python, "idna", Some("3.7"), Some("3.6"), Direction::Downgrade);
        assert_eq!(pin(&python_down).as_deref(), Some("idna==3.7"));
        let deb = change(Ecosystem::Deb, "libssl3", Some("3.0.11-1"), Some("3.0.13-1"), Direction::Upgrade);
        assert_eq!(pin(&deb).as_deref(), Some("libssl3=3.0.11-1"));
        let npm = change(Ecosystem::Npm, "left-pad", Some("1.1.0"), Some("1.3.0"), Direction::Upgrade);
        assert_eq!(pin(&npm).as_deref(), Some("left-pad@1.1.0"));
        let added = change(Ecosystem::Deb, "less", None, Some("590-2"), Direction::Added);
        assert_eq!(pin(&added), None);
    }
}
