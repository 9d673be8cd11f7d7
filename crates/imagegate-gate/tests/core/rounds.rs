//! Rounds of container runs after the candidate's suite: what a regression costs beyond the
//! suite itself. The candidate's remaining attempts go side by side, and beside them the
//! incumbent's runs, so that a regression waits for one round, not one per attempt; with
//! `[engine] concurrency`, each image has at most that many runs going at once.

use std::time::Duration;

use imagegate_contract::{Decision, GateReport};

use crate::context::{Fail, Pass, TestProject, ids, purposes};
use crate::engine::RunEvent;

/// Long enough for runs started together to meet on a busy machine; runs one after the other
/// each wait this long in vain.
const MEET: Duration = Duration::from_secs(2);

/// A run of selected tests, with the round it went in: 1 for a run that started before any
/// other run of selected tests ended, else one more than the latest round of those that ended
/// before it started.
#[derive(Debug, PartialEq, Eq)]
struct Placed {
    round: usize,
    image: &'static str,
    command: String,
}

fn rounds(events: &[RunEvent], report: &GateReport) -> Vec<Placed> {
    let incumbent = report.incumbent.as_ref().map(|incumbent| incumbent.digest.as_str());
    let mut ended: Vec<(String, usize)> = Vec::new();
    let mut started: Vec<(String, Placed)> = Vec::new();
    for event in events.iter().filter(|event| event.command.starts_with("run-tests ")) {
        if event.started {
            let round = ended.iter().map(|(_, round)| round + 1).max().unwrap_or(1);
            let image = if Some(event.image_id.as_str()) == incumbent { "incumbent" } else { "candidate" };
            started.push((event.container.clone(), Placed { round, image, command: event.command.clone() }));
        } else {
            let (_, placed) = started.iter().find(|(container, _)| *container == event.container).expect("started");
            ended.push((event.container.clone(), placed.round));
        }
    }
    let mut placed: Vec<Placed> = started.into_iter().map(|(_, placed)| placed).collect();
    placed.sort_by(|left, right| (left.round, left.image).cmp(&(right.round, right.image)));
    placed
}

fn placed(round: usize, image: &'static str, command: &str) -> Placed {
    Placed { round, image, command: command.to_owned() }
}

/// A project whose stable image has `alpha`, with `suite_lines` added before a second gate of
/// an image without it, in which test_b regresses. Returns the report and the container events
/// of the second gate.
fn regression(suite_lines: &[&str], gather: usize) -> (TestProject, GateReport, Vec<RunEvent>) {
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_b needs:alpha\n");
    // Pinned: the default is 1 on a one-core machine.
    project.add_engine_line("concurrency = 2");
    assert_eq!(project.gate(true).decision, Decision::Pass);
    for line in suite_lines {
        project.add_suite_line(line);
    }
    project.set_features(&["beta"]);
    let before = project.engine.events().len();
    project.engine.gather(gather, MEET);
    let report = project.gate(false);
    assert_eq!(report.decision, Decision::Regression, "{}", report.summary);
    assert_eq!(ids(&report.regressions), ["it.test_b"]);
    assert_eq!(report.regressions[0].candidate, [Fail, Fail, Fail]);
    assert_eq!(report.regressions[0].incumbent, [Pass, Pass]);
    let events = project.engine.events()[before..].to_vec();
    (project, report, events)
}

#[test]
fn with_a_targeted_incumbent_the_reruns_and_the_incumbent_runs_go_in_one_round() {
    let (project, report, events) = regression(&["list = \"list-tests\""], 4);
    // runs[] keeps its one order whatever went beside what.
    assert_eq!(purposes(&report), ["suite", "list", "suite", "rerun", "rerun", "confirm"]);
    // After the candidate's suite: its two remaining attempts, the incumbent's targeted run of
    // the candidate's one failure, and the confirmation of that same test, all at once.
    let test_b = "run-tests it.test_b";
    assert_eq!(
        rounds(&events, &report),
        [
            placed(1, "candidate", test_b),
            placed(1, "candidate", test_b),
            placed(1, "incumbent", test_b),
            placed(1, "incumbent", test_b)
        ]
    );
    assert_eq!(project.engine.containers(), 0);
}

#[test]
fn with_a_full_incumbent_run_the_reruns_go_in_one_round_and_the_confirmation_after() {
    let (project, report, events) = regression(&[], 2);
    assert_eq!(purposes(&report), ["suite", "suite", "rerun", "rerun", "confirm"]);
    // The confirmation needs the reruns' verdict on which failures remain: it follows them.
    let test_b = "run-tests it.test_b";
    assert_eq!(
        rounds(&events, &report),
        [placed(1, "candidate", test_b), placed(1, "candidate", test_b), placed(2, "incumbent", test_b)]
    );
    assert_eq!(project.engine.containers(), 0);
}

#[test]
fn an_image_never_has_more_runs_going_at_once_than_the_concurrency() {
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_b needs:alpha\n");
    project.add_engine_line("concurrency = 2");
    assert_eq!(project.gate(true).decision, Decision::Pass);
    project.set_attempts(6);
    project.set_features(&["beta"]);
    // Five reruns would all start at once without a bound: they are asked to wait for three
    // (briefly, since with the bound they never meet).
    project.engine.gather(3, Duration::from_millis(300));
    let before = project.engine.events().len();
    let report = project.gate(false);
    assert_eq!(report.regressions[0].candidate, [Fail; 6]);
    let mut running = 0_usize;
    let mut most = 0_usize;
    let candidate = report.candidate.digest.as_str();
    for event in project.engine.events()[before..].iter().filter(|event| event.image_id == candidate) {
        if event.started {
            running += 1;
            most = most.max(running);
        } else {
            running -= 1;
        }
    }
    // Two at a time: side by side, and never more.
    assert_eq!(most, 2);
    assert_eq!(purposes(&report), ["suite", "suite", "rerun", "rerun", "rerun", "rerun", "rerun", "confirm"]);
}
