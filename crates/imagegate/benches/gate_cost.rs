//! Benchmark: what a gate costs against the physical limit of one build and one suite run.
//!
//! Run with `cargo bench -p imagegate --bench gate_cost` on a machine with running docker and
//! podman engines and the base image from `scripts/engines.sh` (`IMAGEGATE_BENCH_ENGINES`, e.g.
//! `docker`, picks engines; `IMAGEGATE_BENCH_ITERATIONS` sets the iterations, default 3).
//!
//! The project's suite has 40 tests that each sleep 0.25 s (so the figures do not depend on the
//! machine's load) and write JUnit XML; two of them need a feature of the image. Per engine and
//! iteration it times, with a recipe no earlier iteration built:
//!
//! - **build**: `imagegate build` of a new recipe;
//! - **suite**: `imagegate test`, one run of the suite in that candidate;
//! - **day-2 gate**: `imagegate gate` of another new recipe that lacks the feature (a build,
//!   then a regression of 2 tests, with reruns and a confirmation);
//! - **re-gate**: the project fixed on a later commit (the two tests no longer need the
//!   feature), and the blocked candidate gated again (the self-unblocking path of `ci`).
//!
//! Both gates are timed with `list` + `rerun` (targeted incumbent runs) and with `rerun` only
//! (the whole suite in the incumbent). The table gives medians and the ratios: day-2 gate to
//! build + suite (targets 1.15 with `list`, 1.6 without) and re-gate to suite (target 1.2 with
//! `list`). Every run is made (`--fresh`): what stored evidence saves is not counted. This is a
//! measurement, not a test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TESTS: usize = 40;
/// Tests that need the feature the day-2 recipe drops.
const BROKEN: [usize; 2] = [7, 23];

/// The suite: `sh run.sh` runs all tests, `sh run.sh ID…` only those, `sh run.sh --list`
/// prints the ids. Each test sleeps 0.25 s; a test named in `tests/needs` passes only when
/// /opt/features holds `ok`.
const RUN_SH: &str = r#"#!/bin/sh
if [ "$1" = "--list" ]; then
  for i in $(seq -w 1 40); do echo "bench.test_$i"; done
  exit 0
fi
mkdir -p /results
out=/results/junit.xml
echo '<testsuites><testsuite name="bench">' > $out
for i in $(seq -w 1 40); do
  id="bench.test_$i"
  if [ $# -gt 0 ]; then
    wanted=0
    for want in "$@"; do [ "$want" = "$id" ] && wanted=1; done
    [ $wanted -eq 1 ] || continue
  fi
  sleep 0.25
  if grep -qx "test_$i" tests/needs 2>/dev/null && ! grep -qx ok /opt/features 2>/dev/null; then
    echo "<testcase classname=\"bench\" name=\"test_$i\"><failure message=\"feature missing\">feature missing</failure></testcase>" >> $out
  else
    echo "<testcase classname=\"bench\" name=\"test_$i\" time=\"0.25\"/>" >> $out
  fi
done
echo '</testsuite></testsuites>' >> $out
"#;

fn run(program: &str, args: &[&str], directory: &Path, expected: &[i32]) -> Duration {
    let started = Instant::now();
    let output = Command::new(program).args(args).current_dir(directory).output().expect("run a program");
    let elapsed = started.elapsed();
    if !expected.contains(&output.status.code().unwrap_or(-1)) {
        eprintln!(
            "gate_cost bench: `{program} {}` exited with {:?}:\n{}{}",
            args.join(" "),
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::process::exit(1);
    }
    elapsed
}

struct Project {
    root: std::path::PathBuf,
    engine: String,
    repository: String,
}

impl Project {
    fn new(root: &Path, engine: &str, list: bool) -> Project {
        let repository =
            format!("imagegate-bench/cost-{engine}-{}-{}", if list { "list" } else { "full" }, std::process::id());
        let project = Project { root: root.to_path_buf(), engine: engine.to_owned(), repository };
        std::fs::create_dir_all(root.join("ci")).expect("mkdir");
        std::fs::create_dir_all(root.join("tests")).expect("mkdir");
        std::fs::write(root.join("ci/Dockerfile"), "FROM imagegate-test/busybox:base\nCOPY features /opt/features\n")
            .expect("write");
        std::fs::write(root.join("tests/run.sh"), RUN_SH).expect("write");
        let needs: String = BROKEN.iter().map(|index| format!("test_{index:02}\n")).collect();
        std::fs::write(root.join("tests/needs"), needs).expect("write");
        let list_line = if list { "list = \"sh tests/run.sh --list\"\n" } else { "" };
        std::fs::write(
            root.join("imagegate.toml"),
            format!(
                "[engine]\nkind = \"{engine}\"\n\n[promote]\nbranches = [\"main\"]\n\n\
                 [images.bench]\ncontext = \"ci\"\nstable_tag = \"{}:stable\"\n\n\
                 [images.bench.suite]\ncommand = \"sh tests/run.sh\"\nresults = \"/results\"\n\
                 rerun = \"sh tests/run.sh {{tests}}\"\n{list_line}",
                project.repository
            ),
        )
        .expect("write config");
        std::fs::write(root.join(".gitignore"), ".imagegate/\n").expect("write");
        project.features("ok\nfirst\n");
        run("git", &["init", "-q", "-b", "main"], root, &[0]);
        project.commit("bench project");
        project
    }

    fn features(&self, text: &str) {
        std::fs::write(self.root.join("ci/features"), text).expect("write features");
    }

    fn commit(&self, message: &str) {
        run("git", &["add", "-A"], &self.root, &[0]);
        run(
            "git",
            &[
                "-c",
                "user.email=b@example.invalid",
                "-c",
                "user.name=b",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                message,
            ],
            &self.root,
            &[0],
        );
    }

    fn imagegate(&self, args: &[&str], expected: &[i32]) -> Duration {
        let mut all = vec!["--quiet"];
        all.extend_from_slice(args);
        run(env!("CARGO_BIN_EXE_imagegate"), &all, &self.root, expected)
    }

    /// A project change on a later commit: `fixed` drops the two tests' need for the feature.
    fn set_fixed(&self, fixed: bool) {
        let needs: String =
            if fixed { String::new() } else { BROKEN.iter().map(|index| format!("test_{index:02}\n")).collect() };
        std::fs::write(self.root.join("tests/needs"), needs).expect("write");
        self.commit(if fixed { "the project is fixed" } else { "the project breaks again" });
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let output = Command::new(&self.engine).args(["images", "--format", "{{.Repository}}:{{.Tag}}"]).output();
        if let Ok(output) = output {
            let tags: Vec<String> = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|line| line.trim_start_matches("localhost/").starts_with(&self.repository))
                .map(str::to_owned)
                .collect();
            if !tags.is_empty() {
                let _ = Command::new(&self.engine).arg("rmi").arg("-f").args(&tags).output();
            }
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] }
}

fn engine_answers(engine: &str) -> bool {
    Command::new(engine)
        .args(["image", "inspect", "imagegate-test/busybox:base"])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn main() {
    let engines: Vec<String> = std::env::var("IMAGEGATE_BENCH_ENGINES")
        .unwrap_or_else(|_| "docker podman".to_owned())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let iterations: usize =
        std::env::var("IMAGEGATE_BENCH_ITERATIONS").ok().and_then(|text| text.parse().ok()).unwrap_or(3).max(1);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    println!(
        "gate_cost bench: {TESTS} tests of 0.25 s, a day-2 regression of {} tests; medians of {iterations} iteration(s); {cores} core(s)",
        BROKEN.len()
    );
    println!(
        "{:<8} {:<13} {:>7} {:>7} {:>11} {:>22} {:>9} {:>15}",
        "engine", "incumbent", "build", "suite", "day-2 gate", "gate/(build+suite)", "re-gate", "re-gate/suite"
    );
    for engine in &engines {
        if !engine_answers(engine) {
            println!(
                "{engine:<8} skipped: the engine does not answer or lacks imagegate-test/busybox:base (scripts/engines.sh)"
            );
            continue;
        }
        let temp = tempfile::tempdir().expect("temp dir");
        let targeted = Project::new(&temp.path().join("list"), engine, true);
        let full = Project::new(&temp.path().join("full"), engine, false);
        for project in [&targeted, &full] {
            project.imagegate(&["gate", "--promote"], &[0]);
        }
        let mut builds = Vec::new();
        let mut suites = Vec::new();
        let mut gates = [Vec::new(), Vec::new()];
        let mut regates = [Vec::new(), Vec::new()];
        for iteration in 0..iterations {
            // The limit: one build of a new recipe and one suite run in it.
            targeted.features(&format!("ok\nbuild-{iteration}\n"));
            builds.push(targeted.imagegate(&["build"], &[0]).as_secs_f64());
            // `--fresh` throughout: the checkout returns to the same content every iteration, and
            // stored evidence would serve the incumbent's runs from the second iteration on.
            suites.push(targeted.imagegate(&["test", "--fresh", "bench"], &[0, 1]).as_secs_f64());
            for (index, project) in [&targeted, &full].into_iter().enumerate() {
                // Day 2: a new recipe that lacks the feature: two tests regress.
                project.features(&format!("gate-{iteration}\n"));
                gates[index].push(project.imagegate(&["gate", "--fresh"], &[1]).as_secs_f64());
                // A later commit fixes the project: the blocked candidate is gated again.
                project.set_fixed(true);
                regates[index].push(project.imagegate(&["gate", "--fresh"], &[0]).as_secs_f64());
                project.set_fixed(false);
            }
        }
        let (build, suite) = (median(builds), median(suites));
        for (index, label) in ["list + rerun", "rerun only"].into_iter().enumerate() {
            let gate = median(gates[index].clone());
            let regate = median(regates[index].clone());
            println!(
                "{engine:<8} {label:<13} {build:>6.2}s {suite:>6.2}s {gate:>10.2}s {:>22.2} {regate:>8.2}s {:>15.2}",
                gate / (build + suite),
                regate / suite
            );
        }
    }
    println!(
        "targets: day-2 gate/(build+suite) <= 1.15 with list + rerun, <= 1.6 without; re-gate/suite <= 1.2 with list + rerun"
    );
}
