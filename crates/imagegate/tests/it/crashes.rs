//! Concurrent movers and crashes: promoters with separate state folders on one engine, and
//! imagegate killed with SIGKILL at every step of build, run, record and move.
//!
//! The kill tests need the binary's failpoints (`--features imagegate/failpoints`, as `make
//! test` builds it): a configured step announces itself on stderr and then sleeps, and the test
//! kills the process there.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::context::{Engine, Run, TestContext};

/// The statuses of one `promote --json` per state folder, run all at once.
fn race_promoters(context: &TestContext, states: &[PathBuf]) -> Vec<(String, Run)> {
    let children: Vec<_> = states
        .iter()
        .map(|state| {
            context
                .command()
                .arg("--state-dir")
                .arg(state)
                .args(["promote", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let run = Run::from(child.wait_with_output().unwrap());
            let status = serde_json::from_str::<Value>(run.stdout.trim())
                .ok()
                .and_then(|report| report["images"][0]["promotion"]["status"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("exit {}", run.code));
            (status, run)
        })
        .collect()
}

#[test]
fn eight_state_folders_on_one_engine_promote_exactly_once_per_round() {
    const PROMOTERS: usize = 8;
    const ROUNDS: usize = 20;
    let context = TestContext::new(Engine::Docker, &["base"], "test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    let incumbent = context.stable_id().unwrap();
    // One verdict for the next recipe, copied into eight state folders: eight checkouts that
    // gated the same candidate against the same stable image, each with a store of its own.
    context.set_features(&["base", "next"]);
    let (run, report) = context.gate(&[]);
    run.expect_code(0);
    let candidate = report["candidate"]["digest"].as_str().unwrap().to_owned();
    let states: Vec<PathBuf> = (0..PROMOTERS)
        .map(|index| {
            let state = context.scratch.join(format!("state-{index}"));
            let copied = Command::new("cp").arg("-a").arg(context.path(".imagegate")).arg(&state).status().unwrap();
            assert!(copied.success());
            state
        })
        .collect();
    for round in 0..ROUNDS {
        let reset = Command::new("docker").args(["tag", &incumbent, &context.stable_tag]).status().unwrap();
        assert!(reset.success());
        let outcomes = race_promoters(&context, &states);
        let promoted = outcomes.iter().filter(|(status, _)| status == "promoted").count();
        let details: Vec<String> = outcomes.iter().map(|(status, run)| format!("{status}: {run}")).collect();
        assert_eq!(promoted, 1, "round {round}: {} promoted\n{}", promoted, details.join("\n"));
        for (status, run) in &outcomes {
            assert!(status == "promoted" || status == "up-to-date", "round {round}: {status}\n{run}");
            run.expect_code(0);
        }
        assert_eq!(context.stable_id().as_deref(), Some(candidate.as_str()));
    }
}

#[cfg(feature = "failpoints")]
pub(crate) mod kills {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    use super::*;

    /// What a killed process was: its pid and start time, as its temporary files are named.
    pub(crate) struct Killed {
        pub(crate) pid: u32,
        start: u64,
    }

    fn start_time(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        rest.split_whitespace().nth(19).unwrap().parse().unwrap()
    }

    /// Runs imagegate with `args` until it reaches `failpoint`, then kills it with SIGKILL.
    fn kill_at(context: &TestContext, args: &[&str], failpoint: &str) -> Killed {
        let mut command = context.command();
        command.args(args);
        kill_command(command, failpoint)
    }

    /// Runs `command` until it reaches `failpoint`, then kills it with SIGKILL.
    pub(crate) fn kill_command(mut command: Command, failpoint: &str) -> Killed {
        let args: Vec<String> = command.get_args().map(|arg| arg.to_string_lossy().into_owned()).collect();
        let mut child = command
            .env("FAILPOINTS", format!("{failpoint}=sleep(120000)"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = start_time(pid);
        let marker = format!("failpoint {failpoint} reached");
        let mut seen = Vec::new();
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            let reached = line.contains(&marker);
            seen.push(line);
            if reached {
                child.kill().unwrap();
                child.wait().unwrap();
                return Killed { pid, start };
            }
        }
        let status = child.wait().unwrap();
        panic!("imagegate {args:?} ended ({status}) without reaching {failpoint}:\n{}", seen.join("\n"));
    }

    /// The moves (promotions and rollbacks) `history` lists for this image, oldest first.
    fn moves(context: &TestContext) -> Vec<Value> {
        let run = context.run(&["history", "--json"]);
        run.expect_code(0);
        run.json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["kind"] != "verdict" && event["image"] == context.image.as_str())
            .cloned()
            .collect()
    }

    /// History agrees with the engine: the last recorded move ends where the stable tag is,
    /// and no move is recorded twice.
    fn assert_consistent(context: &TestContext, at: &str) -> Vec<Value> {
        let moves = moves(context);
        let last = moves.last().unwrap_or_else(|| panic!("{at}: no move in history"));
        assert_eq!(last["to"].as_str(), context.stable_id().as_deref(), "{at}: history {moves:#?}");
        for (index, event) in moves.iter().enumerate() {
            let twins = moves.iter().filter(|other| other["id"] == event["id"]).count();
            assert_eq!(twins, 1, "{at}: move {index} listed twice: {moves:#?}");
        }
        moves
    }

    /// Nothing of the killed process is left: its containers are removed and its temporary
    /// files deleted by the command that ran after it.
    fn assert_nothing_left(context: &TestContext, killed: &Killed, at: &str) {
        assert_eq!(context.leftover_containers(), Vec::<String>::new(), "{at}: containers left behind");
        let prefix = format!("-{}-{}-", killed.pid, killed.start);
        let left: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy();
                name.starts_with("imagegate-") && name.contains(&prefix)
            })
            .collect();
        assert_eq!(left, Vec::<PathBuf>::new(), "{at}: temporary files left behind");
    }

    /// A temporary file as the killed process would have left it had it died during a build
    /// (the engine's client writes the image id file after imagegate is gone).
    fn plant_temporary(killed: &Killed) -> PathBuf {
        let path = std::env::temp_dir().join(format!("imagegate-iid-{}-{}-7", killed.pid, killed.start));
        std::fs::write(&path, "sha256:0").unwrap();
        path
    }

    #[test]
    fn a_kill_at_any_step_of_build_run_or_record_moves_nothing_and_leaves_nothing() {
        let context = TestContext::new(Engine::Docker, &["base"], "test_a pass\ntest_b pass\n");
        // One run at a time, so that each step is reached with nothing else under way. Side by
        // side, the incumbent's first run overlaps the build: a kill at `run.created` then
        // orphans the engine's `build` client, which may write its image id file or finish
        // its container after the next command has cleaned up; the command after that
        // removes them (the labels and names still name the dead process).
        context.edit_config(|config| config.replacen("[engine]\n", "[engine]\nconcurrency = 1\n", 1));
        context.gate(&["--promote"]).0.expect_code(0);
        let stable = context.stable_id().unwrap();
        let steps = [
            "build.start",
            "build.built",
            "build.recorded",
            "run.created",
            "run.finished",
            "record.judged",
            "record.verdict",
        ];
        for (index, step) in steps.iter().enumerate() {
            context.set_features(&["base", &format!("step-{index}")]);
            let killed = kill_at(&context, &["gate", "--promote"], step);
            let planted = plant_temporary(&killed);
            let moves = assert_consistent(&context, step);
            assert_eq!(moves.len(), 1, "{step}: {moves:#?}");
            assert_eq!(context.stable_id().as_deref(), Some(stable.as_str()), "{step}: the stable tag moved");
            assert_nothing_left(&context, &killed, step);
            assert!(!planted.exists(), "{step}: {} was not removed", planted.display());
        }
        // The recipe killed last is gated and promoted as if nothing had happened, and rolled back.
        let (run, report) = context.gate(&["--promote"]);
        run.expect_code(0);
        assert_eq!(report["promotion"]["status"], "promoted", "{run}");
        assert_consistent(&context, "after the kills");
        context.run(&["rollback", &context.image]).expect_code(0);
        assert_eq!(context.stable_id().as_deref(), Some(stable.as_str()));
        assert_consistent(&context, "after the rollback");
    }

    #[test]
    fn a_kill_at_any_step_of_a_move_leaves_history_and_rollback_working() {
        let context = TestContext::new(Engine::Docker, &["base"], "test_a pass\n");
        context.gate(&["--promote"]).0.expect_code(0);
        let stable = context.stable_id().unwrap();
        for (index, (step, moves_the_tag)) in
            [("move.intent", false), ("move.moved", true), ("move.verified", true), ("move.recorded", true)]
                .into_iter()
                .enumerate()
        {
            context.set_features(&["base", &format!("move-{index}")]);
            let (run, report) = context.gate(&[]);
            run.expect_code(0);
            let candidate = report["candidate"]["digest"].as_str().unwrap().to_owned();
            let before = moves(&context).len();
            let killed = kill_at(&context, &["promote"], step);
            let expected = if moves_the_tag { &candidate } else { &stable };
            assert_eq!(context.stable_id().as_ref(), Some(expected), "{step}");
            let moves = assert_consistent(&context, step);
            assert_eq!(moves.len(), before + usize::from(moves_the_tag), "{step}: {moves:#?}");
            assert_nothing_left(&context, &killed, step);
            if !moves_the_tag {
                // Abandoned, not lost: the same promotion goes through now.
                let run = context.run(&["promote"]);
                run.expect_code(0);
                assert!(run.stdout.contains("moved from"), "{step}: {run}");
                assert_consistent(&context, step);
            }
            // Rollback finds the promotion and restores the image before it.
            let run = context.run(&["rollback", &context.image]);
            run.expect_code(0);
            assert_eq!(context.stable_id().as_deref(), Some(stable.as_str()), "{step}: {run}");
            assert_consistent(&context, step);
        }
        // A rollback killed after its move is recorded by the next command too.
        context.set_features(&["base", "rolled"]);
        context.gate(&["--promote"]).0.expect_code(0);
        let killed = kill_at(&context, &["rollback", &context.image], "move.moved");
        assert_eq!(context.stable_id().as_deref(), Some(stable.as_str()));
        let moves = assert_consistent(&context, "rollback at move.moved");
        assert_eq!(moves.last().unwrap()["kind"], "rollback", "{moves:#?}");
        assert_nothing_left(&context, &killed, "rollback at move.moved");
    }

    /// Only what is gone goes: a live gate's container stays while another command runs.
    #[test]
    fn a_live_gates_container_is_never_removed() {
        let context = TestContext::new(Engine::Docker, &["base"], "test_a pass\n");
        let mut child = context
            .command()
            .args(["gate"])
            .env("FAILPOINTS", "run.created=sleep(120000)")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        assert!(lines.any(|line| line.unwrap().contains("failpoint run.created reached")));
        context.run(&["history"]).expect_code(0);
        let left = context.leftover_containers();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(left.len(), 1, "the live gate's container was removed");
        context.run(&["history"]).expect_code(0);
        assert_eq!(context.leftover_containers(), Vec::<String>::new());
    }
}
