//! The life of a stable pointer through `gate_image`, `promote` and `rollback`: reuse,
//! refresh, compare-and-swap, self-unblocking and rollback, in the in-memory engine. Mirrors
//! `crates/imagegate/tests/it/lifecycle.rs`.

use imagegate_contract::{CandidateSource, Decision, ExitStatus, PromotionStatus};
use imagegate_gate::GateError;

use crate::context::{STABLE_TAG, TestProject, with_context_at};

#[test]
fn an_unchanged_recipe_reuses_its_candidate() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    let first = project.gate(false);
    assert_eq!(first.candidate.source, CandidateSource::Built);
    let second = project.gate(false);
    assert_eq!(second.candidate.source, CandidateSource::Reused);
    assert_eq!(second.candidate.digest, first.candidate.digest);
    assert_eq!(second.candidate.inputs_digest, first.candidate.inputs_digest);
    assert_eq!(project.engine.builds(), 1);
}

#[test]
fn a_fresh_state_folder_still_finds_the_candidate_by_its_label() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    let first = project.gate(false);
    std::fs::remove_dir_all(project.root.join(".imagegate")).expect("remove the state folder");
    let second = project.gate(false);
    assert_eq!(second.candidate.source, CandidateSource::Reused);
    assert_eq!(second.candidate.digest, first.candidate.digest);
    assert_eq!(project.engine.builds(), 1);
}

#[test]
fn refresh_rebuilds_an_unchanged_recipe_without_cache() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    let first = project.gate(true);
    let mut options = project.options(true);
    options.refresh = true;
    let refreshed = project.try_gate(&options).expect("gate --refresh");
    assert_eq!(refreshed.candidate.source, CandidateSource::Built);
    assert_eq!(refreshed.candidate.inputs_digest, first.candidate.inputs_digest);
    assert_ne!(refreshed.candidate.digest, first.candidate.digest);
    assert_eq!(refreshed.incumbent.as_ref().map(|incumbent| &incumbent.digest), Some(&first.candidate.digest));
    assert_eq!(refreshed.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));
    assert_eq!(project.stable_id().as_deref(), Some(refreshed.candidate.digest.as_str()));
}

#[test]
fn promotion_moves_the_stable_tag_only_on_pass() {
    let project = TestProject::new(&["alpha", "beta"], "test_a needs:alpha\ntest_b needs:beta\n");
    let first = project.gate(true);
    assert_eq!(project.stable_id().as_deref(), Some(first.candidate.digest.as_str()));

    // A regression leaves the tag where it was …
    project.set_features(&["alpha"]);
    let blocked = project.gate(true);
    assert_eq!(blocked.decision, Decision::Regression);
    assert_eq!(project.stable_id().as_deref(), Some(first.candidate.digest.as_str()));
    // … and so does an error …
    project.set_features(&["alpha", "beta", "gamma"]);
    project.set_mode("truncated");
    let error = project.gate(true);
    assert_eq!(error.decision, Decision::Error);
    assert_eq!(project.stable_id().as_deref(), Some(first.candidate.digest.as_str()));
    // … and a pass without `--promote`.
    project.set_mode("normal");
    let passed = project.gate(false);
    assert_eq!(passed.decision, Decision::Pass);
    assert!(passed.promotion.is_none());
    assert_eq!(project.stable_id().as_deref(), Some(first.candidate.digest.as_str()));

    // A pass with `--promote` moves it, and keeps both images under tags of their own.
    let promoted = project.gate(true);
    let promotion = promoted.promotion.as_ref().expect("promotion");
    assert_eq!(promotion.status, PromotionStatus::Promoted);
    assert_eq!(promotion.from.as_ref(), Some(&first.candidate.digest));
    assert_eq!(promotion.to.as_ref(), Some(&promoted.candidate.digest));
    assert_eq!(project.stable_id().as_deref(), Some(promoted.candidate.digest.as_str()));
    assert_eq!(project.engine.tags_of(&first.candidate.digest).len(), 2, "candidate and kept tags");
}

#[test]
fn promotion_is_refused_when_the_stable_tag_moved_since_the_verdict() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    project.gate(true);
    project.set_features(&["alpha", "beta"]);
    let report = project.gate(false);
    assert_eq!(report.decision, Decision::Pass);
    assert!(report.promotion.is_none());

    // Someone else moves the stable tag between the verdict and the promotion.
    let intruder = project.engine.add_image("elsewhere/intruder:1");
    imagegate_engine::Engine::tag(&project.engine, &intruder, STABLE_TAG).expect("tag");
    let error = project.promote().expect_err("the tag moved");
    assert!(matches!(error, GateError::PointerMoved { .. }), "{error}");
    assert_eq!(error.exit_status(), ExitStatus::PointerMoved);
    assert!(error.to_string().contains("moved since the verdict"), "{error}");
    assert_eq!(project.stable_id().as_deref(), Some(intruder.as_str()));
}

#[test]
fn gate_promote_loses_the_compare_and_swap_when_the_tag_moves_while_the_suites_run() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    let first = project.gate(true);
    project.set_features(&["alpha", "beta"]);
    // Another promoter lands while this gate's suites run (after its two runs).
    let intruder = project.engine.add_image("elsewhere/intruder:1");
    let runs_so_far = project.engine.runs().len();
    project.engine.move_tag_after_runs(runs_so_far + 2, STABLE_TAG, &intruder);
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass, "{}", report.summary);
    assert_eq!(report.incumbent.as_ref().map(|incumbent| &incumbent.digest), Some(&first.candidate.digest));
    let promotion = report.promotion.as_ref().expect("promotion");
    assert_eq!(promotion.status, PromotionStatus::PointerMoved);
    assert_eq!(promotion.to, None);
    assert_eq!(project.stable_id().as_deref(), Some(intruder.as_str()));
}

#[test]
fn of_two_verdicts_against_the_same_stable_image_only_the_first_promotion_wins() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    let stable = project.gate(true).candidate.digest;
    project.set_features(&["alpha", "beta"]);
    let beta = project.gate(false);
    project.set_features(&["alpha", "gamma"]);
    let gamma = project.gate(false);
    assert_eq!(beta.incumbent.as_ref().map(|incumbent| &incumbent.digest), Some(&stable));
    assert_eq!(gamma.incumbent.as_ref().map(|incumbent| &incumbent.digest), Some(&stable));

    let won = project.promote().expect("the first promotion");
    assert_eq!(won.status, PromotionStatus::Promoted);
    assert_eq!(project.stable_id().as_deref(), Some(gamma.candidate.digest.as_str()));

    project.set_features(&["alpha", "beta"]);
    let lost = project.promote().expect_err("the second promotion");
    assert_eq!(lost.exit_status(), ExitStatus::PointerMoved, "{lost}");
    assert_eq!(project.stable_id().as_deref(), Some(gamma.candidate.digest.as_str()));
}

#[test]
fn promote_without_a_passing_verdict_is_refused() {
    let project = TestProject::new(&["alpha"], "test_a needs:beta\n");
    let error = project.promote().expect_err("nothing built yet");
    assert_eq!(error.exit_status(), ExitStatus::Regression, "{error}");
    assert_eq!(project.gate(false).decision, Decision::Regression);
    let error = project.promote().expect_err("the verdict is a regression");
    assert_eq!(error.exit_status(), ExitStatus::Regression, "{error}");
    assert!(error.to_string().contains("regression"), "{error}");
    assert_eq!(project.stable_id(), None);
}

#[test]
fn a_blocked_candidate_is_promoted_once_the_project_is_fixed() {
    let project = TestProject::new(&["alpha", "beta"], "test_a needs:alpha\ntest_b needs:beta\n");
    project.gate(true);
    let old_stable = project.stable_id().expect("stable");

    // The new image drops beta: blocked.
    project.set_features(&["alpha", "gamma"]);
    let blocked = project.gate(true);
    assert_eq!(blocked.decision, Decision::Regression);
    let candidate = blocked.candidate.digest.clone();

    // Still blocked without a change, and not rebuilt.
    let again = project.gate(true);
    assert_eq!(again.decision, Decision::Regression);
    assert_eq!(again.candidate.source, CandidateSource::Reused);
    assert_eq!(project.stable_id().as_deref(), Some(old_stable.as_str()));

    // The project stops depending on beta: the same candidate is re-tested and promoted.
    project.set_cases("test_a needs:alpha\ntest_b needs:gamma\n");
    let fixed = project.gate(true);
    assert_eq!(fixed.decision, Decision::Pass, "{}", fixed.summary);
    assert_eq!(fixed.candidate.source, CandidateSource::Reused);
    assert_eq!(fixed.candidate.digest, candidate);
    assert_eq!(fixed.fixed.len(), 1, "test_b passes only in the candidate now");
    assert_eq!(fixed.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));
    assert_eq!(project.stable_id().as_deref(), Some(candidate.as_str()));
}

#[test]
fn rollback_restores_the_previous_stable_image_and_the_rolled_back_candidate_is_not_promoted_again() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    project.gate(true);
    let first = project.stable_id().expect("stable");
    project.set_features(&["alpha", "beta"]);
    project.gate(true);
    let second = project.stable_id().expect("stable");
    assert_ne!(first, second);

    let rollback = project.rollback().expect("rollback");
    assert_eq!(rollback.status, PromotionStatus::Promoted);
    assert_eq!((rollback.from.as_deref(), rollback.to.as_deref()), (Some(second.as_str()), Some(first.as_str())));
    assert_eq!(project.stable_id().as_deref(), Some(first.as_str()));

    // The rolled-back candidate passes again, but is not promoted again.
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass);
    assert_eq!(report.candidate.digest, second);
    let promotion = report.promotion.as_ref().expect("promotion");
    assert_eq!(promotion.status, PromotionStatus::Refused);
    assert!(promotion.message.contains("rolled back"), "{}", promotion.message);
    assert_eq!(project.stable_id().as_deref(), Some(first.as_str()));
    let error = project.promote().expect_err("a rolled-back candidate");
    assert_eq!(error.exit_status(), ExitStatus::Regression, "{error}");
    assert_eq!(project.stable_id().as_deref(), Some(first.as_str()));

    assert_eq!(project.history_kinds(), ["verdict", "promote", "verdict", "promote", "rollback", "verdict"]);
}

#[test]
fn rolling_back_the_first_promotion_removes_the_stable_tag() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    let first = project.gate(true).candidate.digest;
    let rollback = project.rollback().expect("rollback");
    assert_eq!((rollback.from.as_deref(), rollback.to.as_deref()), (Some(first.as_str()), None));
    assert_eq!(project.stable_id(), None);
    // The image stays, under the tag that keeps promoted images.
    assert!(project.engine.image_id(&first).is_some());
    assert!(project.engine.tags_of(&first).iter().any(|tag| tag.contains(":promoted-")));
    // Nothing left to roll back.
    let error = project.rollback().expect_err("no stable image");
    assert_eq!(error.exit_status(), ExitStatus::Usage, "{error}");
}

#[test]
fn a_branch_outside_the_policy_gates_but_never_promotes() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    let mut options = project.options(true);
    options.promotion_allowed = Err("branch `feature/new-image` is not in [promote] branches".to_owned());
    let report = project.try_gate(&options).expect("gate");
    assert_eq!(report.decision, Decision::Pass);
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::NotAllowed));
    assert_eq!(project.stable_id(), None);
}

#[test]
fn an_unchanged_stable_candidate_is_up_to_date() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    project.gate(true);
    let runs = project.engine.runs().len();
    let report = project.gate(true);
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::UpToDate));
    assert!(report.runs.is_empty() && report.regressions.is_empty());
    assert_eq!(project.engine.runs().len(), runs, "nothing ran");
}

#[test]
fn of_concurrent_promoters_exactly_one_wins() {
    // Four recipes, each judged against the same stable image; each promoter then runs as its
    // own process would, with its own config file and store connection on one state folder.
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    let stable = project.gate(true).candidate.digest;
    let mut configs = Vec::new();
    for feature in ["beta", "gamma", "delta", "epsilon"] {
        project.set_features(&["alpha", feature]);
        let report = project.gate(false);
        assert_eq!(report.incumbent.as_ref().map(|incumbent| &incumbent.digest), Some(&stable));
        let config = project.root.join(format!("imagegate-{feature}.toml"));
        std::fs::copy(project.root.join("imagegate.toml"), &config).expect("copy config");
        configs.push((config, report.candidate.digest));
    }
    let start = std::sync::Barrier::new(configs.len());
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = configs
            .iter()
            .map(|(config, _)| {
                let (engine, start) = (&project.engine, &start);
                scope.spawn(move || {
                    start.wait();
                    with_context_at(config, engine, imagegate_gate::promote)
                })
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().expect("promoter")).collect()
    });
    let winners: Vec<&String> = outcomes
        .iter()
        .zip(&configs)
        .filter_map(|(outcome, (_, candidate))| match outcome {
            Ok(report) if report.status == PromotionStatus::Promoted => Some(candidate),
            Ok(report) => panic!("unexpected {report:?}"),
            Err(error) => {
                assert_eq!(error.exit_status(), ExitStatus::PointerMoved, "{error}");
                None
            }
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert_eq!(project.stable_id().as_ref(), Some(winners[0]));
}
