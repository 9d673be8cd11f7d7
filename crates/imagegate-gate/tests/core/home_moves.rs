//! Pointer moves through the `Backend` interface alone, with the pointer in an in-memory home
//! apart from the images: promotion, the compare-and-swap refused under the lock, concurrent
//! promoters, rollback, a move that does not read back, and read-only runs.

use imagegate_contract::{Decision, ExitStatus, PromotionStatus};
use imagegate_store::PromotionKind;

use crate::context::{STABLE_TAG, TestProject, with_context_in};
use crate::home::{MemoryHome, Move};

fn in_memory(features: &[&str], cases: &str) -> TestProject {
    TestProject::in_home(features, cases, MemoryHome::new(false))
}

fn home(project: &TestProject) -> &MemoryHome {
    project.home.as_ref().expect("an in-memory home")
}

fn promote_move(from: Option<&str>, to: &str) -> Move {
    Move { kind: PromotionKind::Promote, from: from.map(str::to_owned), to: Some(to.to_owned()) }
}

#[test]
fn promotion_moves_the_pointer_in_its_home_and_not_an_engine_tag() {
    let project = in_memory(&["alpha"], "test_a pass\n");
    let report = project.gate(true);
    let candidate = report.candidate.digest.clone();
    assert_eq!(report.promotion.as_ref().map(|promotion| promotion.status), Some(PromotionStatus::Promoted));
    assert_eq!(home(&project).pointer_of(STABLE_TAG).as_deref(), Some(candidate.as_str()));
    assert_eq!(home(&project).moves(), [promote_move(None, &candidate)]);
    // The engine's tag is not where this home keeps its pointer.
    assert_eq!(project.stable_id(), None);
    assert_eq!(project.history_kinds(), ["verdict", "promote"]);

    // The next gate reads the incumbent from the home.
    project.set_features(&["alpha", "beta"]);
    let next = project.gate(true);
    assert_eq!(next.incumbent.as_ref().map(|incumbent| &incumbent.digest), Some(&candidate));
    assert_eq!(
        next.incumbent.as_ref().map(|incumbent| incumbent.reference.as_str()),
        Some("memory/imagegate-core/ci:stable")
    );
    assert_eq!(home(&project).moves()[1], promote_move(Some(&candidate), &next.candidate.digest));
}

#[test]
fn the_compare_and_swap_is_refused_when_the_pointer_moves_under_the_lock() {
    let project = in_memory(&["alpha"], "test_a pass\n");
    let stable = project.gate(true).candidate.digest;
    project.set_features(&["alpha", "beta"]);
    let verdict = project.gate(false);
    assert_eq!(verdict.decision, Decision::Pass);
    // Between this promoter's first read and its write, another writer moves the pointer.
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000abc";
    home(&project).move_under_the_next_lock(other);
    let error = project.promote().expect_err("the pointer moved");
    assert_eq!(error.exit_status(), ExitStatus::PointerMoved, "{error}");
    assert_eq!(home(&project).pointer_of(STABLE_TAG).as_deref(), Some(other));
    assert_eq!(home(&project).moves(), [promote_move(None, &stable)], "no move recorded");
    // Judged again against the new stable image, it could be promoted; the old verdict cannot.
    let again = project.promote().expect_err("still the old verdict");
    assert_eq!(again.exit_status(), ExitStatus::PointerMoved, "{again}");
}

#[test]
fn of_concurrent_promoters_through_the_interface_exactly_one_wins() {
    let project = in_memory(&["alpha"], "test_a pass\n");
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
    let home = home(&project);
    let start = std::sync::Barrier::new(configs.len());
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = configs
            .iter()
            .map(|(config, _)| {
                let (engine, start) = (&project.engine, &start);
                scope.spawn(move || {
                    start.wait();
                    with_context_in(config, engine, home, imagegate_gate::promote)
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
    assert_eq!(home.pointer_of(STABLE_TAG).as_ref(), Some(winners[0]));
    assert_eq!(home.moves(), [promote_move(None, &stable), promote_move(Some(&stable), winners[0])]);
}

#[test]
fn rollback_through_the_interface_restores_the_previous_pointer_then_removes_it() {
    let project = in_memory(&["alpha"], "test_a pass\n");
    let first = project.gate(true).candidate.digest;
    project.set_features(&["alpha", "beta"]);
    let second = project.gate(true).candidate.digest;
    assert_eq!(home(&project).pointer_of(STABLE_TAG).as_deref(), Some(second.as_str()));

    let rollback = project.rollback().expect("rollback");
    assert_eq!((rollback.from.as_deref(), rollback.to.as_deref()), (Some(second.as_str()), Some(first.as_str())));
    assert_eq!(home(&project).pointer_of(STABLE_TAG).as_deref(), Some(first.as_str()));
    // Undoing the first promotion leaves no stable image.
    let rollback = project.rollback().expect("rollback of the first promotion");
    assert_eq!((rollback.from.as_deref(), rollback.to.as_deref()), (Some(first.as_str()), None));
    assert_eq!(home(&project).pointer_of(STABLE_TAG), None);
    let error = project.rollback().expect_err("nothing left");
    assert_eq!(error.exit_status(), ExitStatus::Usage, "{error}");
    assert_eq!(project.history_kinds(), ["verdict", "promote", "verdict", "promote", "rollback", "rollback"]);
}

#[test]
fn a_move_that_does_not_read_back_is_an_infrastructure_failure_and_is_not_recorded() {
    let project = in_memory(&["alpha"], "test_a pass\n");
    let verdict = project.gate(false);
    home(&project).lose_writes();
    let error = project.promote().expect_err("the write was lost");
    assert_eq!(error.exit_status(), ExitStatus::Infrastructure, "{error}");
    assert!(error.to_string().contains(&verdict.candidate.digest), "{error}");
    assert!(home(&project).moves().is_empty());
    assert_eq!(project.history_kinds(), ["verdict"]);
}

#[test]
fn a_read_only_run_judges_but_moves_and_records_nothing() {
    let project = TestProject::in_home(&["alpha"], "test_a pass\n", MemoryHome::new(true));
    let report = project.gate(true);
    assert_eq!(report.decision, Decision::Pass);
    let promotion = report.promotion.as_ref().expect("a promotion outcome");
    assert_eq!(promotion.status, PromotionStatus::Refused);
    assert!(promotion.message.contains("read only"), "{}", promotion.message);
    assert!(report.warnings.iter().any(|warning| warning.contains("read only")), "{:?}", report.warnings);
    assert!(report.verdict_id.is_some(), "the verdict is still kept locally");
    assert_eq!(home(&project).pointer_of(STABLE_TAG), None);
    assert!(home(&project).moves().is_empty());

    for outcome in [project.promote(), project.rollback()] {
        let error = outcome.expect_err("read only");
        assert_eq!(error.exit_status(), ExitStatus::Regression, "{error}");
    }
    // The verdict is filed under the engine, never in the home's history.
    assert!(project.history_kinds().is_empty());
}
