//! Which changed packages cause a regression: an adaptive search over experiments that put a
//! set of packages back to the incumbent's versions and rerun the regressed tests.
//!
//! The search knows packages only by their index in a ranked list (likeliest suspects first);
//! the caller runs each experiment ([`Experiments::put_back`]) and says which regressed tests
//! now pass. Everything here is pure, so the strategy is tested exhaustively in memory.
//!
//! # Strategy
//!
//! Write `fixes(S)` for "with the packages of S put back, every regressed test passes".
//!
//! 1. A top suspect `t` (from the failure text) is tried alone. When `fixes({t})`, the
//!    complementary experiment puts back everything but `t`: if the regressions still fail,
//!    `t` alone breaks them — **confirmed**, the rest **cleared**, in 2 experiments. If they
//!    pass, `t` breaks them only together with another package: that partner is found by
//!    halving the rest (only `t` and half of the others left new), and the two are reported as
//!    a pair.
//! 2. Otherwise the ranked packages are halved: put back the first (likelier) half; if that
//!    fixes, the culprit is in it, otherwise it is taken to be in the other half (one
//!    experiment per halving — group testing for a single culprit). The package left is then
//!    checked alone when it was only inferred, and confirmed by the complementary experiment.
//!    A single culprit among `n` packages thus takes at most ⌈log2 n⌉ + 2 experiments (one more
//!    when a top suspect was tried first and was wrong).
//! 3. When the package left does not fix alone, nothing was assumed safely: everything is put
//!    back. If the regressions still fail, no package caused them and every package is
//!    **cleared**. If they pass, the fixing set is shrunk by testing each half (both halves
//!    when neither fixes alone: two culprits that each break the tests), and what remains is
//!    confirmed together.
//! 4. A package that cannot be put back is left out of every experiment and ends
//!    **inconclusive** with the reason. An experiment whose run broke proves nothing: its
//!    packages end inconclusive with the reason, unless a later experiment decides them.
//!
//! A budget bounds the experiments; packages the search did not reach end inconclusive, saying
//! so.

use std::collections::BTreeSet;

/// What one experiment showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The regressed tests ran: those that now pass (on any attempt).
    Ran { passing: BTreeSet<usize> },
    /// Nothing can be concluded: the image could not be made, or the run broke.
    Broken { reason: String },
}

/// Runs experiments for the search.
pub trait Experiments {
    /// Puts back the packages at these indices (in ascending order) and reruns the regressed
    /// tests; `passing` holds the indices (into the regressions) of the tests that passed.
    fn put_back(&mut self, packages: &[usize]) -> Outcome;

    /// Why this package cannot be put back at all (known without an experiment, e.g. an
    /// ecosystem whose files cannot be told apart); `None` when it can.
    fn unavailable(&mut self, package: usize) -> Option<String>;

    /// The other changed packages that this one depends on, or that depend on it, in either
    /// image: when putting it back alone breaks the run, it is tried once more together with
    /// them. None by default.
    fn companions(&mut self, package: usize) -> Vec<usize> {
        let _ = package;
        Vec::new()
    }
}

/// The search's finding for one package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Putting it back (with its `partners`, if any) makes the regressions pass.
    Confirmed,
    /// Not needed to explain the regressions.
    Cleared,
    /// Not decided: see the note.
    Inconclusive,
}

/// One package's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    /// The packages it is confirmed together with (a pair that only breaks together, or
    /// culprits that must all be put back).
    pub partners: Vec<usize>,
    /// Indices (into the regressions) of the tests its put-back made pass.
    pub regressions: BTreeSet<usize>,
    /// The experiments (0-based, in the order run) it was put back in.
    pub experiments: Vec<usize>,
    pub note: Option<String>,
}

/// One experiment as it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Experiment {
    pub put_back: Vec<usize>,
    pub outcome: Outcome,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// One finding per package, by index.
    pub findings: Vec<Finding>,
    pub experiments: Vec<Experiment>,
    /// Whether the budget ran out before the search ended.
    pub budget_spent: bool,
}

/// Searches `packages` changed packages (ranked, likeliest first; `top_suspect` is an index
/// the failure text points at) for the cause of `regressions` regressed tests, running at most
/// `budget` experiments.
pub fn search(
    packages: usize,
    regressions: usize,
    top_suspect: Option<usize>,
    budget: usize,
    experiments: &mut dyn Experiments,
) -> Proof {
    let unavailable =
        (0..packages).filter_map(|index| experiments.unavailable(index).map(|reason| (index, reason))).collect();
    let mut search = Search { regressions, budget, runner: experiments, log: Vec::new(), spent: false, unavailable };
    let decided = search.run(packages, top_suspect.filter(|&top| top < packages));
    search.finish(packages, decided)
}

/// How the search ended, before it is turned into findings.
enum Decided {
    /// These packages (put back together) make the regressions pass; the rest is cleared when
    /// an experiment showed they are not needed, else left inconclusive with the note.
    Culprits { members: Vec<usize>, pair: bool, note: Option<String>, rest_cleared: bool },
    /// Putting everything back leaves the regressions failing.
    NoPackage,
    /// Nothing could be decided.
    Undecided { reason: String },
}

struct Search<'a> {
    regressions: usize,
    budget: usize,
    runner: &'a mut dyn Experiments,
    log: Vec<Experiment>,
    spent: bool,
    /// Packages that cannot be put back, with why.
    unavailable: std::collections::BTreeMap<usize, String>,
}

/// What putting one package back alone (with its companions, when alone broke) showed.
enum Alone {
    Answer(Answer),
    /// Put back with its companions it fixed: decided.
    Group(Decided),
}

/// An experiment's answer to "does this set fix every regression?".
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Fixes,
    Fails,
    Broken(String),
    /// The budget is spent: no experiment ran.
    OutOfBudget,
}

impl Search<'_> {
    fn try_set(&mut self, set: &[usize]) -> Answer {
        let mut put_back = set.to_vec();
        put_back.sort_unstable();
        put_back.dedup();
        let answer = |outcome: &Outcome| match outcome {
            Outcome::Ran { passing } if (0..self.regressions).all(|test| passing.contains(&test)) => Answer::Fixes,
            Outcome::Ran { .. } => Answer::Fails,
            Outcome::Broken { reason } => Answer::Broken(reason.clone()),
        };
        // A set already tried is not tried again: the answer is known.
        if let Some(done) = self.log.iter().find(|experiment| experiment.put_back == put_back) {
            return answer(&done.outcome);
        }
        if self.log.len() >= self.budget {
            self.spent = true;
            return Answer::OutOfBudget;
        }
        let outcome = self.runner.put_back(&put_back);
        let found = answer(&outcome);
        self.log.push(Experiment { put_back, outcome });
        found
    }

    fn run(&mut self, packages: usize, top_suspect: Option<usize>) -> Decided {
        let all: Vec<usize> = (0..packages).filter(|&index| !self.unavailable.contains_key(&index)).collect();
        if all.is_empty() {
            return Decided::NoPackage;
        }
        let top_suspect = top_suspect.filter(|top| all.contains(top));
        let mut ranked = all.clone();
        if let Some(top) = top_suspect {
            match self.try_alone(top, &all) {
                Alone::Group(decided) => return decided,
                Alone::Answer(Answer::Fixes) => return self.confirm_alone(top, &all),
                Alone::Answer(Answer::OutOfBudget) => return self.out_of_budget(),
                // Wrong, or it cannot be put back: search the others first; it stays in the
                // sets that are put back together.
                Alone::Answer(Answer::Fails | Answer::Broken(_)) => {
                    ranked.retain(|&index| index != top);
                    ranked.push(top);
                }
            }
        }
        // Halving for a single culprit: a half that does not fix leaves the culprit in the
        // other half, taken without an experiment.
        let mut candidates = ranked;
        let mut tested_alone = None;
        while candidates.len() > 1 {
            let half = candidates.len().div_ceil(2);
            let (first, second) = candidates.split_at(half);
            let (first, second) = (first.to_vec(), second.to_vec());
            let answer = if first.len() == 1 {
                match self.try_alone(first[0], &all) {
                    Alone::Group(decided) => return decided,
                    Alone::Answer(answer) => answer,
                }
            } else {
                self.try_set(&first)
            };
            match answer {
                Answer::Fixes => {
                    if first.len() == 1 {
                        tested_alone = Some(first[0]);
                    }
                    candidates = first;
                }
                Answer::Fails => candidates = second,
                Answer::Broken(_) => match self.try_set(&second) {
                    Answer::Fixes => candidates = second,
                    Answer::OutOfBudget => return self.out_of_budget(),
                    // The culprit may be among what could not be put back: shrink by putting
                    // everything back instead.
                    Answer::Fails | Answer::Broken(_) => return self.shrink_from_all(&all),
                },
                Answer::OutOfBudget => return self.out_of_budget(),
            }
        }
        let last = candidates[0];
        if tested_alone != Some(last) && top_suspect != Some(last) {
            match self.try_alone(last, &all) {
                Alone::Group(decided) => return decided,
                Alone::Answer(Answer::Fixes) => {}
                Alone::Answer(Answer::OutOfBudget) => return self.out_of_budget(),
                Alone::Answer(Answer::Fails | Answer::Broken(_)) => return self.shrink_from_all(&all),
            }
        } else if top_suspect == Some(last) && tested_alone != Some(last) {
            // The top suspect was tried alone first and did not fix.
            return self.shrink_from_all(&all);
        }
        self.confirm_alone(last, &all)
    }

    /// Puts `package` back alone. When that breaks the run and it has companions (what it
    /// depends on, or what depends on it), tries it once more together with them: if that
    /// fixes, the group is confirmed by the complementary experiment.
    fn try_alone(&mut self, package: usize, all: &[usize]) -> Alone {
        let answer = self.try_set(&[package]);
        let Answer::Broken(reason) = &answer else { return Alone::Answer(answer) };
        let mut group: Vec<usize> = self
            .runner
            .companions(package)
            .into_iter()
            .filter(|other| *other != package && all.contains(other))
            .collect();
        if group.is_empty() {
            return Alone::Answer(answer);
        }
        group.insert(0, package);
        group.dedup();
        let reason = reason.clone();
        match self.try_set(&group) {
            Answer::Fixes => {}
            Answer::OutOfBudget => return Alone::Group(self.out_of_budget()),
            Answer::Fails | Answer::Broken(_) => return Alone::Answer(answer),
        }
        let with = group.len() - 1;
        let mut note = format!(
            "put back alone it broke the run ({reason}); put back together with the {} it depends on or that depend{} on it, the regressions pass",
            if with == 1 { "changed package" } else { "changed packages" },
            if with == 1 { "s" } else { "" }
        );
        let others: Vec<usize> = all.iter().copied().filter(|index| !group.contains(index)).collect();
        let rest_cleared = match if others.is_empty() { Answer::Fails } else { self.try_set(&others) } {
            Answer::Fails => true,
            _ => {
                note.push_str("; whether the other packages are needed too is not known");
                false
            }
        };
        Alone::Group(Decided::Culprits { members: group, pair: false, note: Some(note), rest_cleared })
    }

    /// `culprit` fixes alone: the complementary experiment tells whether it breaks the tests
    /// alone or needs a partner.
    fn confirm_alone(&mut self, culprit: usize, all: &[usize]) -> Decided {
        let others: Vec<usize> = all.iter().copied().filter(|&index| index != culprit).collect();
        if others.is_empty() {
            return Decided::Culprits { members: vec![culprit], pair: false, note: None, rest_cleared: true };
        }
        let alone = |note: Option<String>| {
            let rest_cleared = note.is_none();
            Decided::Culprits { members: vec![culprit], pair: false, note, rest_cleared }
        };
        match self.try_set(&others) {
            Answer::Fails => alone(None),
            Answer::Fixes => self.find_partner(culprit, &others),
            Answer::Broken(reason) => alone(Some(format!(
                "putting back every other package broke the run ({reason}): whether it breaks the tests alone is not known"
            ))),
            Answer::OutOfBudget => alone(Some(
                "the budget ran out before the other packages were put back: whether it breaks the tests alone is not known"
                    .to_owned(),
            )),
        }
    }

    /// With only `culprit` new the tests pass: find the one other package that, left new with
    /// it, breaks them (everything else put back).
    fn find_partner(&mut self, culprit: usize, others: &[usize]) -> Decided {
        let everything_but = |kept_new: &[usize]| -> Vec<usize> {
            others.iter().copied().filter(|index| !kept_new.contains(index)).collect()
        };
        let mut candidates = others.to_vec();
        let mut tested_alone = None;
        while candidates.len() > 1 {
            let half = candidates.len().div_ceil(2);
            let (first, second) = (candidates[..half].to_vec(), candidates[half..].to_vec());
            // Only the culprit and `first` new.
            match self.try_set(&everything_but(&first)) {
                Answer::Fails => {
                    if first.len() == 1 {
                        tested_alone = Some(first[0]);
                    }
                    candidates = first;
                }
                Answer::Fixes | Answer::Broken(_) => candidates = second,
                Answer::OutOfBudget => return self.out_of_budget(),
            }
        }
        let partner = candidates[0];
        if tested_alone != Some(partner) {
            match self.try_set(&everything_but(&[partner])) {
                Answer::Fails => {}
                Answer::OutOfBudget => return self.out_of_budget(),
                Answer::Fixes | Answer::Broken(_) => {
                    return Decided::Culprits {
                        members: vec![culprit],
                        pair: false,
                        rest_cleared: false,
                        note: Some(
                            "it breaks the tests only together with other changed packages; \
                             no single partner among them was found"
                                .to_owned(),
                        ),
                    };
                }
            }
        }
        Decided::Culprits { members: vec![culprit, partner], pair: true, note: None, rest_cleared: true }
    }

    /// Puts everything back; when that fixes, shrinks the set to what must be put back.
    fn shrink_from_all(&mut self, all: &[usize]) -> Decided {
        match self.try_set(all) {
            Answer::Fails => Decided::NoPackage,
            Answer::Broken(reason) => Decided::Undecided { reason: format!("putting every package back: {reason}") },
            Answer::OutOfBudget => self.out_of_budget(),
            Answer::Fixes => match self.shrink(all.to_vec(), Vec::new()) {
                Some(members) => Decided::Culprits { members, pair: false, note: None, rest_cleared: true },
                None => self.out_of_budget(),
            },
        }
    }

    /// The smallest part of `set` that, put back with `base`, fixes (knowing `set` + `base`
    /// does); `None` when the budget ran out.
    fn shrink(&mut self, set: Vec<usize>, base: Vec<usize>) -> Option<Vec<usize>> {
        if set.len() <= 1 {
            return Some(set);
        }
        let half = set.len().div_ceil(2);
        let (first, second) = (set[..half].to_vec(), set[half..].to_vec());
        let with = |part: &[usize]| -> Vec<usize> { part.iter().chain(base.iter()).copied().collect() };
        match self.try_set(&with(&first)) {
            Answer::Fixes => return self.shrink(first, base),
            Answer::OutOfBudget => return None,
            Answer::Fails | Answer::Broken(_) => {}
        }
        match self.try_set(&with(&second)) {
            Answer::Fixes => return self.shrink(second, base),
            Answer::OutOfBudget => return None,
            Answer::Fails | Answer::Broken(_) => {}
        }
        // Both halves are needed: a culprit in each.
        let mut base_for_first = base.clone();
        base_for_first.extend(&second);
        let needed_first = self.shrink(first, base_for_first)?;
        let mut base_for_second = base;
        base_for_second.extend(&needed_first);
        let needed_second = self.shrink(second, base_for_second)?;
        Some(needed_first.into_iter().chain(needed_second).collect())
    }

    fn out_of_budget(&mut self) -> Decided {
        self.spent = true;
        Decided::Undecided { reason: "the experiment budget ran out before it was decided".to_owned() }
    }

    fn finish(self, packages: usize, decided: Decided) -> Proof {
        let mut findings: Vec<Finding> = (0..packages)
            .map(|index| Finding {
                verdict: Verdict::Inconclusive,
                partners: Vec::new(),
                regressions: BTreeSet::new(),
                experiments: self
                    .log
                    .iter()
                    .enumerate()
                    .filter(|(_, experiment)| experiment.put_back.contains(&index))
                    .map(|(number, _)| number)
                    .collect(),
                note: None,
            })
            .collect();
        // The tests a package's put-back made pass: from the smallest experiment holding it
        // that ran.
        for (index, finding) in findings.iter_mut().enumerate() {
            let smallest = self
                .log
                .iter()
                .filter(|experiment| experiment.put_back.contains(&index))
                .filter_map(|experiment| match &experiment.outcome {
                    Outcome::Ran { passing } => Some((experiment.put_back.len(), passing)),
                    Outcome::Broken { .. } => None,
                })
                .min_by_key(|(size, _)| *size);
            if let Some((_, passing)) = smallest {
                finding.regressions.clone_from(passing);
            }
        }
        let broken_note = |index: usize| -> Option<String> {
            self.log.iter().find_map(|experiment| match &experiment.outcome {
                Outcome::Broken { reason } if experiment.put_back == [index] => Some(reason.clone()),
                _ => None,
            })
        };
        let unavailable = self.unavailable;
        match decided {
            Decided::Culprits { members, pair, note, rest_cleared } => {
                for (index, finding) in findings.iter_mut().enumerate() {
                    if members.contains(&index) {
                        finding.verdict = Verdict::Confirmed;
                        finding.partners = members.iter().copied().filter(|&other| other != index).collect();
                        if pair {
                            finding.note = Some("breaks the regressed tests only together with its partner".to_owned());
                        } else if let Some(note) = &note {
                            finding.note = Some(note.clone());
                        } else if !finding.partners.is_empty() {
                            // A put-back of it without its partners that broke the run says why they
                            // go together (one needs the other's version).
                            let without = self.log.iter().find_map(|experiment| match &experiment.outcome {
                                Outcome::Broken { reason }
                                    if experiment.put_back.contains(&index)
                                        && !members.iter().all(|member| experiment.put_back.contains(member)) =>
                                {
                                    Some(reason.clone())
                                }
                                _ => None,
                            });
                            finding.note = Some(match without {
                                Some(reason) => format!(
                                    "put back without its partners it broke the run ({reason}); the regressions pass only when all of these are put back"
                                ),
                                None => "the regressions pass only when all of these are put back".to_owned(),
                            });
                        }
                    } else if rest_cleared {
                        finding.verdict = Verdict::Cleared;
                        finding.regressions.clear();
                    } else {
                        finding.note.clone_from(&note);
                    }
                }
            }
            Decided::NoPackage => {
                for finding in &mut findings {
                    finding.verdict = Verdict::Cleared;
                    finding.regressions.clear();
                }
            }
            Decided::Undecided { reason } => {
                for (index, finding) in findings.iter_mut().enumerate() {
                    finding.note = Some(broken_note(index).unwrap_or_else(|| reason.clone()));
                }
            }
        }
        for (index, reason) in unavailable {
            findings[index].verdict = Verdict::Inconclusive;
            findings[index].note = Some(reason);
        }
        Proof { findings, experiments: self.log, budget_spent: self.spent }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model of two images: a regressed test fails while every package of one of its
    /// clauses is left new (not put back). Packages in `unputtable` cannot be put back.
    struct Model {
        /// Per regressed test, its clauses (each an AND of packages).
        tests: Vec<Vec<Vec<usize>>>,
        unputtable: Vec<usize>,
        /// Packages whose put-back breaks the run (the tests cannot run at all).
        breaks_run: Vec<usize>,
        /// `(a, b)`: putting `a` back without `b` breaks the run (the new `b` needs the new `a`,
        /// or the old `a` needs the old `b`).
        needs: Vec<(usize, usize)>,
        runs: usize,
    }

    impl Model {
        fn one_clause(clause: &[usize], tests: usize) -> Model {
            Model {
                tests: vec![vec![clause.to_vec()]; tests],
                unputtable: Vec::new(),
                breaks_run: Vec::new(),
                needs: Vec::new(),
                runs: 0,
            }
        }

        fn fails(&self, test: usize, put_back: &[usize]) -> bool {
            self.tests[test].iter().any(|clause| clause.iter().all(|package| !put_back.contains(package)))
        }
    }

    impl Experiments for Model {
        fn put_back(&mut self, packages: &[usize]) -> Outcome {
            self.runs += 1;
            assert!(packages.windows(2).all(|pair| pair[0] < pair[1]), "sorted and without repeats: {packages:?}");
            assert!(packages.iter().all(|package| !self.unputtable.contains(package)), "{packages:?}");
            if packages.iter().any(|package| self.breaks_run.contains(package)) {
                return Outcome::Broken { reason: "the suite could not start".to_owned() };
            }
            if self.needs.iter().any(|(a, b)| packages.contains(a) && !packages.contains(b)) {
                return Outcome::Broken { reason: "ImportError: the put-back version needs another".to_owned() };
            }
            Outcome::Ran { passing: (0..self.tests.len()).filter(|&test| !self.fails(test, packages)).collect() }
        }

        fn unavailable(&mut self, package: usize) -> Option<String> {
            self.unputtable.contains(&package).then(|| format!("package {package} cannot be put back"))
        }

        fn companions(&mut self, package: usize) -> Vec<usize> {
            self.needs
                .iter()
                .filter_map(|&(a, b)| {
                    if a == package {
                        Some(b)
                    } else if b == package {
                        Some(a)
                    } else {
                        None
                    }
                })
                .collect()
        }
    }

    fn log2_ceil(n: usize) -> usize {
        usize::try_from(n.next_power_of_two().trailing_zeros()).unwrap()
    }

    fn verdicts(proof: &Proof) -> Vec<Verdict> {
        proof.findings.iter().map(|finding| finding.verdict.clone()).collect()
    }

    fn expected(n: usize, confirmed: &[usize]) -> Vec<Verdict> {
        (0..n).map(|index| if confirmed.contains(&index) { Verdict::Confirmed } else { Verdict::Cleared }).collect()
    }

    #[test]
    fn a_single_culprit_is_confirmed_and_the_rest_cleared_within_log2_n_plus_2_experiments() {
        for n in 1..=40 {
            for culprit in 0..n {
                for suspect in [None, Some(culprit)] {
                    let mut model = Model::one_clause(&[culprit], 3);
                    let proof = search(n, 3, suspect, 100, &mut model);
                    assert_eq!(
                        verdicts(&proof),
                        expected(n, &[culprit]),
                        "n {n}, culprit {culprit}, suspect {suspect:?}"
                    );
                    let bound = if suspect.is_some() { 2 } else { log2_ceil(n) + 2 };
                    assert!(
                        proof.experiments.len() <= bound,
                        "n {n}, culprit {culprit}, suspect {suspect:?}: {} experiments, bound {bound}",
                        proof.experiments.len()
                    );
                    assert_eq!(proof.experiments.len(), model.runs);
                    assert_eq!(proof.findings[culprit].regressions, (0..3).collect());
                    assert!(proof.findings[culprit].partners.is_empty());
                    assert!(!proof.budget_spent);
                }
            }
        }
    }

    #[test]
    fn a_wrong_suspect_costs_one_experiment_more() {
        for n in 2..=40 {
            for culprit in 0..n {
                let suspect = (culprit + 1) % n;
                let mut model = Model::one_clause(&[culprit], 1);
                let proof = search(n, 1, Some(suspect), 100, &mut model);
                assert_eq!(verdicts(&proof), expected(n, &[culprit]), "n {n}, culprit {culprit}");
                assert!(proof.experiments.len() <= log2_ceil(n) + 3, "n {n}: {}", proof.experiments.len());
            }
        }
    }

    #[test]
    fn regressions_no_package_explains_clear_every_package() {
        for n in 1..=40 {
            let mut model = Model::one_clause(&[], 2);
            let proof = search(n, 2, None, 100, &mut model);
            assert_eq!(verdicts(&proof), expected(n, &[]), "n {n}");
            assert!(proof.experiments.len() <= log2_ceil(n) + 2, "n {n}: {}", proof.experiments.len());
            // The last experiment put every package back.
            assert_eq!(proof.experiments.last().unwrap().put_back, (0..n).collect::<Vec<_>>());
            assert!(proof.findings.iter().all(|finding| finding.regressions.is_empty()));
        }
    }

    #[test]
    fn a_pair_that_breaks_only_together_is_reported_as_a_pair() {
        for n in 2..=12 {
            for first in 0..n {
                for second in first + 1..n {
                    for suspect in [None, Some(first), Some(second)] {
                        let mut model = Model::one_clause(&[first, second], 2);
                        let proof = search(n, 2, suspect, 100, &mut model);
                        let context = format!("n {n}, pair {first}+{second}, suspect {suspect:?}");
                        assert_eq!(verdicts(&proof), expected(n, &[first, second]), "{context}");
                        assert_eq!(proof.findings[first].partners, vec![second], "{context}");
                        assert_eq!(proof.findings[second].partners, vec![first], "{context}");
                        assert!(
                            proof.findings[first].note.as_deref().is_some_and(|note| note.contains("together")),
                            "{context}: {:?}",
                            proof.findings[first].note
                        );
                        assert!(
                            proof.experiments.len() <= 2 * log2_ceil(n) + 4,
                            "{context}: {}",
                            proof.experiments.len()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn two_culprits_that_each_break_the_tests_are_confirmed_together() {
        for n in 2..=12 {
            for first in 0..n {
                for second in first + 1..n {
                    let mut model = Model {
                        tests: vec![vec![vec![first], vec![second]]; 2],
                        unputtable: Vec::new(),
                        breaks_run: Vec::new(),
                        needs: Vec::new(),
                        runs: 0,
                    };
                    let proof = search(n, 2, None, 100, &mut model);
                    let context = format!("n {n}, culprits {first} and {second}");
                    assert_eq!(verdicts(&proof), expected(n, &[first, second]), "{context}");
                    assert_eq!(proof.findings[first].partners, vec![second], "{context}");
                    // Putting the confirmed set back fixes every regression.
                    assert!(!model.fails(0, &[first, second]) && !model.fails(1, &[first, second]));
                }
            }
        }
    }

    #[test]
    fn two_culprits_of_different_tests_are_confirmed_together() {
        let mut model = Model {
            tests: vec![vec![vec![1]], vec![vec![5]]],
            unputtable: Vec::new(),
            breaks_run: Vec::new(),
            needs: Vec::new(),
            runs: 0,
        };
        let proof = search(8, 2, None, 100, &mut model);
        assert_eq!(verdicts(&proof), expected(8, &[1, 5]));
        assert_eq!(proof.findings[1].regressions, BTreeSet::from([0]));
        assert_eq!(proof.findings[5].regressions, BTreeSet::from([1]));
    }

    #[test]
    fn a_package_that_cannot_be_put_back_is_never_cleared_nor_blamed_wrongly() {
        for n in 2..=10 {
            for culprit in 0..n {
                for unputtable in 0..n {
                    let mut model = Model {
                        tests: vec![vec![vec![culprit]]],
                        unputtable: vec![unputtable],
                        breaks_run: Vec::new(),
                        needs: Vec::new(),
                        runs: 0,
                    };
                    let proof = search(n, 1, None, 100, &mut model);
                    let context = format!("n {n}, culprit {culprit}, cannot put back {unputtable}");
                    let finding = &proof.findings[unputtable];
                    assert_eq!(finding.verdict, Verdict::Inconclusive, "{context}");
                    assert!(finding.note.is_some(), "{context}");
                    for (index, finding) in proof.findings.iter().enumerate() {
                        if finding.verdict == Verdict::Confirmed {
                            assert_eq!(index, culprit, "{context}: confirmed {index}");
                        }
                    }
                    if culprit != unputtable {
                        assert_eq!(proof.findings[culprit].verdict, Verdict::Confirmed, "{context}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_put_back_that_breaks_the_run_never_clears_or_blames_wrongly() {
        for n in 2..=10 {
            for culprit in 0..n {
                for breaking in 0..n {
                    let mut model = Model {
                        tests: vec![vec![vec![culprit]]],
                        unputtable: Vec::new(),
                        breaks_run: vec![breaking],
                        needs: Vec::new(),
                        runs: 0,
                    };
                    let proof = search(n, 1, None, 100, &mut model);
                    let context = format!("n {n}, culprit {culprit}, breaks the run {breaking}");
                    for (index, finding) in proof.findings.iter().enumerate() {
                        match finding.verdict {
                            Verdict::Confirmed => assert_eq!(index, culprit, "{context}"),
                            Verdict::Cleared => assert_ne!(index, culprit, "{context}"),
                            Verdict::Inconclusive => assert!(finding.note.is_some(), "{context}: {index}"),
                        }
                    }
                    assert_ne!(proof.findings[breaking].verdict, Verdict::Cleared, "{context}");
                }
            }
        }
    }

    #[test]
    fn a_budget_of_zero_runs_nothing_and_says_so() {
        let mut model = Model::one_clause(&[3], 1);
        let proof = search(8, 1, Some(3), 0, &mut model);
        assert_eq!(model.runs, 0);
        assert!(proof.budget_spent);
        assert!(proof.findings.iter().all(|finding| finding.verdict == Verdict::Inconclusive
            && finding.note.as_deref().is_some_and(|note| note.contains("budget"))));
    }

    #[test]
    fn a_small_budget_stops_the_search_and_never_exceeds_it() {
        for budget in 1..=5 {
            let mut model = Model::one_clause(&[13], 1);
            let proof = search(32, 1, None, budget, &mut model);
            assert!(model.runs <= budget, "budget {budget}: {} runs", model.runs);
            if budget < log2_ceil(32) + 1 {
                assert!(proof.budget_spent, "budget {budget}");
                assert!(proof.findings.iter().all(|finding| finding.verdict != Verdict::Cleared), "budget {budget}");
            }
        }
    }

    #[test]
    fn no_changed_package_means_nothing_to_search() {
        let mut model = Model::one_clause(&[], 1);
        let proof = search(0, 1, None, 10, &mut model);
        assert!(proof.findings.is_empty() && proof.experiments.is_empty());
    }

    #[test]
    fn a_culprit_that_breaks_the_run_alone_is_confirmed_together_with_what_it_needs() {
        for n in 2..=12 {
            for culprit in 0..n {
                for needed in (0..n).filter(|&other| other != culprit) {
                    for suspect in [None, Some(culprit)] {
                        let mut model = Model::one_clause(&[culprit], 2);
                        model.needs = vec![(culprit, needed)];
                        let proof = search(n, 2, suspect, 100, &mut model);
                        let context = format!("n {n}, culprit {culprit} needs {needed}, suspect {suspect:?}");
                        assert_eq!(proof.findings[culprit].verdict, Verdict::Confirmed, "{context}: {proof:#?}");
                        assert_eq!(proof.findings[culprit].partners, vec![needed], "{context}");
                        assert!(
                            proof.findings[culprit].note.as_deref().is_some_and(|note| note.contains("broke the run")),
                            "{context}: {:?}",
                            proof.findings[culprit].note
                        );
                        for other in (0..n).filter(|&other| other != culprit && other != needed) {
                            assert_eq!(proof.findings[other].verdict, Verdict::Cleared, "{context}: package {other}");
                        }
                        // Measured worst case: a broken half sends the search to shrinking from
                        // everything put back.
                        assert!(proof.experiments.len() <= n + 5, "{context}: {}", proof.experiments.len());
                        if suspect == Some(culprit) {
                            // Alone it breaks; with what it needs it fixes; the rest is cleared
                            // by the complementary experiment.
                            let expected = if n == 2 { 2 } else { 3 };
                            assert_eq!(proof.experiments.len(), expected, "{context}: {:#?}", proof.experiments);
                            assert!(
                                proof.findings[culprit].note.as_deref().is_some_and(|note| note.contains("depends on")),
                                "{context}: {:?}",
                                proof.findings[culprit].note
                            );
                        }
                    }
                }
            }
        }
    }
}
