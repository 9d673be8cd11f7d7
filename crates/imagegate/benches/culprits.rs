//! Benchmark: what the culprit proof costs on a 1 GB image against the gate's own run time.
//!
//! Run with `cargo bench -p imagegate --bench culprits` on a machine with running docker and
//! podman engines and `imagegate-test/debian-large:latest` (made by `scripts/test-images.sh
//! --large`: debian-py:b plus compilers, numpy, scipy and pandas). `IMAGEGATE_BENCH_ENGINES`
//! (e.g. `docker`) picks engines; `IMAGEGATE_BENCH_ITERATIONS` sets the iterations (default 2,
//! which keeps a run of both engines near 15 minutes on a 2-core machine).
//!
//! The incumbent is debian-large with one more layer that puts eight packages at older
//! versions: Werkzeug 2.2.3 and MarkupSafe 2.1.3 (system site-packages), idna 3.6, pytz,
//! tzdata and python-dateutil 2.9 (which brings six) in the venv, and without the apt package
//! `less`; the candidate is debian-large itself. The bench builds that incumbent with docker
//! (`imagegate-bench/culprits-large:a`, kept for the next run) and copies both into podman.
//!
//! The project's suite has 40 tests that each sleep 0.25 s and write JUnit XML; two of them
//! need Werkzeug 2.2.3. Their failure text names no package, so the proof has no suspect to try
//! first and halves the changed packages (the costlier search). Per engine and iteration, each
//! with a recipe no earlier iteration built (`--fresh`: every run is made):
//!
//! - **gate**: `imagegate gate --no-culprits`, a day-2 regression without the proof;
//! - **gate + proof**: `imagegate gate`, the same with the proof.
//!
//! The proof's parts come from the second gate's progress lines, timed as they arrive on
//! stderr, and from its JSON: **save+unpack** (both images saved from the engine and unpacked,
//! once per gate: from the line "proving which of…" to the first experiment), per experiment
//! **make** (the line "experiment image … made in X s": the layer, the archive written to disk
//! and the engine's `load`) and **runs** (`runs[]` entries of purpose `experiment`: the
//! regressed tests, rerun while they fail up to `attempts` runs), and **other** (the rest:
//! removing experiment images, starting containers, reading results). The table gives medians.
//! This is a measurement, not a test.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TESTS: usize = 40;
/// Tests that need Werkzeug 2.2.3.
const BROKEN: [usize; 2] = [7, 23];
const CANDIDATE_BASE: &str = "imagegate-test/debian-large:latest";
const INCUMBENT_BASE: &str = "imagegate-bench/culprits-large:a";

/// The incumbent: older versions of eight packages over the candidate's base. `pip` reaches
/// the index through this machine's proxy with the CA bundle debian-py's images carry.
const INCUMBENT_DOCKERFILE: &str = "FROM imagegate-test/debian-large:latest
RUN pip install --break-system-packages werkzeug==2.2.3 markupsafe==2.1.3 \\
 && /opt/venv/bin/pip install idna==3.6 pytz==2024.1 tzdata==2024.1 python-dateutil==2.9.0.post0 \\
 && dpkg --purge less
";

/// The suite: `sh run.sh` runs all tests, `sh run.sh ID…` only those, `sh run.sh --list`
/// prints the ids. Each test sleeps 0.25 s; a test named in `tests/werkzeug` fails unless the
/// system Python has Werkzeug 2.2.3, with a message that names no package.
const RUN_SH: &str = r#"#!/bin/sh
if [ "$1" = "--list" ]; then
  for i in $(seq -w 1 40); do echo "bench.test_$i"; done
  exit 0
fi
mkdir -p /results
out=/results/junit.xml
werkzeug=$(python3 -c "import importlib.metadata as m; print(m.version('Werkzeug'))" 2>/dev/null)
echo '<testsuites><testsuite name="bench">' > $out
for i in $(seq -w 1 40); do
  id="bench.test_$i"
  if [ $# -gt 0 ]; then
    wanted=0
    for want in "$@"; do [ "$want" = "$id" ] && wanted=1; done
    [ $wanted -eq 1 ] || continue
  fi
  sleep 0.25
  if grep -qx "test_$i" tests/werkzeug 2>/dev/null && [ "$werkzeug" != "2.2.3" ]; then
    echo "<testcase classname=\"bench\" name=\"test_$i\"><failure message=\"the route built /a/ not /a\">AssertionError: the route built /a/ not /a</failure></testcase>" >> $out
  else
    echo "<testcase classname=\"bench\" name=\"test_$i\" time=\"0.25\"/>" >> $out
  fi
done
echo '</testsuite></testsuites>' >> $out
"#;

/// What a program printed, and its wall time; exits the bench when its exit code is unexpected.
struct Ran {
    elapsed: Duration,
    stdout: String,
    /// stderr lines with the time each arrived, from the program's start.
    lines: Vec<(Duration, String)>,
}

fn run(program: &str, args: &[&str], directory: &Path, expected: &[i32]) -> Ran {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(directory)
        .env("CI", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a program");
    let stderr = child.stderr.take().expect("stderr");
    // Progress lines are timed as they arrive: they mark the proof's steps.
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .map(|line| (started.elapsed(), line))
            .collect::<Vec<(Duration, String)>>()
    });
    let mut stdout = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("read stdout");
    let status = child.wait().expect("wait");
    let elapsed = started.elapsed();
    let lines = reader.join().expect("stderr reader");
    if !expected.contains(&status.code().unwrap_or(-1)) {
        eprintln!("culprits bench: `{program} {}` exited with {:?}:\n{stdout}", args.join(" "), status.code());
        for (_, line) in &lines {
            eprintln!("{line}");
        }
        std::process::exit(1);
    }
    Ran { elapsed, stdout, lines }
}

fn image_id(engine: &str, reference: &str) -> Option<String> {
    let output = Command::new(engine).args(["image", "inspect", "--format", "{{.Id}}", reference]).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().trim_start_matches("sha256:").to_owned())
}

fn image_megabytes(reference: &str) -> f64 {
    let output = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Size}}", reference])
        .output()
        .expect("inspect");
    String::from_utf8_lossy(&output.stdout).trim().parse::<f64>().unwrap_or(0.0) / 1e6
}

/// Builds the incumbent's base with docker (its build cache makes a rerun quick) and copies
/// both bases into podman when podman is used and lacks them.
fn prepare_images(engines: &[String]) -> bool {
    if image_id("docker", CANDIDATE_BASE).is_none() {
        println!("skipped: docker lacks {CANDIDATE_BASE} (run scripts/test-images.sh --large)");
        return false;
    }
    let context = tempfile::tempdir().expect("temp dir");
    std::fs::write(context.path().join("Dockerfile"), INCUMBENT_DOCKERFILE).expect("write");
    let started = Instant::now();
    let path = context.path().to_string_lossy().into_owned();
    run(
        "docker",
        &["build", "-q", "--network", "host", "--pull=false", "-t", INCUMBENT_BASE, &path],
        context.path(),
        &[0],
    );
    eprintln!("culprits bench: {INCUMBENT_BASE} ready in {:.1} s", started.elapsed().as_secs_f64());
    if engines.iter().any(|engine| engine == "podman") {
        let missing: Vec<&str> = [CANDIDATE_BASE, INCUMBENT_BASE]
            .into_iter()
            .filter(|reference| image_id("podman", reference) != image_id("docker", reference))
            .collect();
        if !missing.is_empty() {
            let started = Instant::now();
            let script = format!("set -o pipefail; docker save {} | podman load", missing.join(" "));
            run("bash", &["-c", &script], context.path(), &[0]);
            eprintln!(
                "culprits bench: copied {} into podman in {:.1} s",
                missing.join(", "),
                started.elapsed().as_secs_f64()
            );
        }
    }
    true
}

struct Project {
    root: std::path::PathBuf,
    engine: String,
    repository: String,
}

impl Project {
    fn new(root: &Path, engine: &str) -> Project {
        let repository = format!("imagegate-bench/culprits-{engine}-{}", std::process::id());
        let project = Project { root: root.to_path_buf(), engine: engine.to_owned(), repository };
        std::fs::create_dir_all(root.join("ci")).expect("mkdir");
        std::fs::create_dir_all(root.join("tests")).expect("mkdir");
        project.base(INCUMBENT_BASE);
        std::fs::write(root.join("tests/run.sh"), RUN_SH).expect("write");
        let needs: String = BROKEN.iter().map(|index| format!("test_{index:02}\n")).collect();
        std::fs::write(root.join("tests/werkzeug"), needs).expect("write");
        std::fs::write(
            root.join("imagegate.toml"),
            format!(
                "[engine]\nkind = \"{engine}\"\n\n[promote]\nbranches = [\"main\"]\n\n\
                 [images.large]\ncontext = \"ci\"\nstable_tag = \"{}:stable\"\n\n\
                 [images.large.suite]\ncommand = \"sh tests/run.sh\"\nresults = \"/results\"\n\
                 rerun = \"sh tests/run.sh {{tests}}\"\nlist = \"sh tests/run.sh --list\"\n",
                project.repository
            ),
        )
        .expect("write config");
        std::fs::write(root.join(".gitignore"), ".imagegate/\n").expect("write");
        project.recipe("first");
        run("git", &["init", "-q", "-b", "main"], root, &[0]);
        project.commit("bench project");
        project
    }

    fn base(&self, image: &str) {
        std::fs::write(self.root.join("ci/Dockerfile"), format!("FROM {image}\nCOPY marker /opt/marker\n"))
            .expect("write");
    }

    /// A new recipe: the candidate is built again (one small layer over its base).
    fn recipe(&self, marker: &str) {
        std::fs::write(self.root.join("ci/marker"), format!("{marker}\n")).expect("write marker");
        self.commit(marker);
    }

    fn commit(&self, message: &str) {
        if !self.root.join(".git").exists() {
            return;
        }
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

    fn imagegate(&self, args: &[&str], expected: &[i32]) -> Ran {
        run(env!("CARGO_BIN_EXE_imagegate"), args, &self.root, expected)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        // podman's listing fails now and then while other processes remove images ("image not
        // known"); a failed listing is tried again, so that no 1.3 GB candidate is left behind.
        let output = (0..3)
            .filter_map(|_| {
                Command::new(&self.engine).args(["images", "--format", "{{.Repository}}:{{.Tag}}"]).output().ok()
            })
            .find(|output| output.status.success());
        if let Some(output) = output {
            let tags: Vec<String> = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|line| line.trim_start_matches("localhost/").starts_with(&self.repository))
                .map(str::to_owned)
                .collect();
            if !tags.is_empty() {
                for _ in 0..3 {
                    let removed = Command::new(&self.engine).arg("rmi").arg("-f").args(&tags).output();
                    if removed.is_ok_and(|output| output.status.success()) {
                        break;
                    }
                }
            }
        }
    }
}

/// One gate with the proof, taken apart.
struct Proof {
    /// From the line "proving which of…" to the proof's last line.
    total: f64,
    /// Saving and unpacking both images: from the proof's start to its first experiment.
    save_unpack: f64,
    /// Per experiment: making its image (the "made in X s" of its line).
    make: Vec<f64>,
    /// Per experiment: from its image made to the next experiment (or the end): the regressed
    /// tests' container runs and the image's removal.
    tests: Vec<f64>,
    /// The experiment runs' own durations (`runs[]`, the command inside the container).
    inside: f64,
    container_runs: usize,
}

impl Proof {
    fn read(ran: &Ran) -> Proof {
        let at = |needle: &str| ran.lines.iter().find(|(_, line)| line.contains(needle)).map(|(at, _)| *at);
        let started = at("proving which of").expect("the proof's start line");
        let ended = ran
            .lines
            .iter()
            .find(|(_, line)| line.contains(" confirmed in ") && line.contains("experiment"))
            .map(|(at, _)| *at)
            .expect("the proof's last line");
        let starts: Vec<Duration> =
            ran.lines.iter().filter(|(_, line)| line.contains("experiment: putting back")).map(|(at, _)| *at).collect();
        let made: Vec<(Duration, f64)> = ran
            .lines
            .iter()
            .filter_map(|(at, line)| {
                let (_, rest) = line.split_once(" made in ")?;
                Some((*at, rest.split_whitespace().next()?.parse().ok()?))
            })
            .collect();
        assert_eq!(starts.len(), made.len(), "every experiment made its image");
        let tests = made
            .iter()
            .enumerate()
            .map(|(index, (at, _))| (starts.get(index + 1).copied().unwrap_or(ended) - *at).as_secs_f64())
            .collect();
        let report: Value = serde_json::from_str(ran.stdout.trim()).expect("one JSON document");
        let runs: Vec<f64> = report["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .filter(|run| run["purpose"] == "experiment")
            .filter_map(|run| run["duration_seconds"].as_f64())
            .collect();
        let confirmed: Vec<String> = report["culprits"]
            .as_array()
            .expect("culprits")
            .iter()
            .filter(|culprit| culprit["verdict"] == "confirmed")
            .filter_map(|culprit| culprit["name"].as_str().map(str::to_lowercase))
            .collect();
        assert_eq!(confirmed, ["werkzeug"], "the proof confirms Werkzeug alone: {report}");
        Proof {
            total: (ended - started).as_secs_f64(),
            save_unpack: (starts[0] - started).as_secs_f64(),
            make: made.iter().map(|(_, seconds)| *seconds).collect(),
            tests,
            inside: runs.iter().sum(),
            container_runs: runs.len(),
        }
    }

    fn experiments(&self) -> usize {
        self.make.len()
    }

    /// `value` per experiment.
    fn each(&self, value: f64) -> f64 {
        value / self.experiments().max(1) as f64
    }
}

/// How long a gate read both images' packages (the package diff, which `save`s both images too).
fn diff_seconds(ran: &Ran) -> f64 {
    let Some(index) = ran.lines.iter().position(|(_, line)| line.contains("reading both images' packages")) else {
        return f64::NAN;
    };
    ran.lines.get(index + 1).map_or(f64::NAN, |(at, _)| (*at - ran.lines[index].0).as_secs_f64())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.is_empty() {
        return f64::NAN;
    }
    if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] }
}

/// For reference: the engine's own `save` of the candidate to a file, and `load` of that file
/// (what each experiment's archive costs the engine).
fn save_and_load(engine: &str) -> (f64, f64) {
    let folder = tempfile::tempdir().expect("temp dir");
    let archive = folder.path().join("candidate.tar");
    let archive = archive.to_string_lossy();
    let saved = run(engine, &["save", "-o", &archive, CANDIDATE_BASE], folder.path(), &[0]).elapsed;
    let loaded = run(engine, &["load", "-i", &archive], folder.path(), &[0]).elapsed;
    (saved.as_secs_f64(), loaded.as_secs_f64())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn engine_answers(engine: &str) -> bool {
    Command::new(engine).args(["version"]).output().is_ok_and(|output| output.status.success())
}

fn main() {
    let engines: Vec<String> = std::env::var("IMAGEGATE_BENCH_ENGINES")
        .unwrap_or_else(|_| "docker podman".to_owned())
        .split_whitespace()
        .map(str::to_owned)
        .filter(|engine| {
            let answers = engine_answers(engine);
            if !answers {
                println!("{engine}: skipped, the engine does not answer (scripts/engines.sh)");
            }
            answers
        })
        .collect();
    let iterations: usize =
        std::env::var("IMAGEGATE_BENCH_ITERATIONS").ok().and_then(|text| text.parse().ok()).unwrap_or(2).max(1);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let load_before = load_average();
    if !prepare_images(&engines) {
        return;
    }
    println!(
        "culprits bench: candidate {CANDIDATE_BASE} ({:.0} MB), incumbent {INCUMBENT_BASE} ({:.0} MB), 8 changed \
         packages; {TESTS} tests of 0.25 s, {} regress; medians of {iterations} iteration(s); {cores} core(s); \
         load {load_before}",
        image_megabytes(CANDIDATE_BASE),
        image_megabytes(INCUMBENT_BASE),
        BROKEN.len()
    );
    println!(
        "{:<7} {:>6} {:>6} {:>11} {:>7} {:>5} {:>12} {:>9} {:>10} {:>15} {:>11}",
        "engine",
        "gate",
        "(diff)",
        "gate+proof",
        "proof",
        "exps",
        "save+unpack",
        "make/exp",
        "tests/exp",
        "(inside, runs)",
        "proof/gate"
    );
    let mut references = Vec::new();
    for engine in &engines {
        let temp = tempfile::tempdir().expect("temp dir");
        let project = Project::new(&temp.path().join("project"), engine);
        project.imagegate(&["gate", "--promote"], &[0]);
        project.base(CANDIDATE_BASE);
        project.commit("newer packages");
        let verbose = std::env::var_os("IMAGEGATE_BENCH_VERBOSE").is_some();
        let (mut gates, mut diffs, mut proved, mut proofs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for iteration in 0..iterations {
            project.recipe(&format!("plain-{iteration}"));
            let plain = project.imagegate(&["gate", "--json", "--fresh", "--no-culprits"], &[1]);
            project.recipe(&format!("proof-{iteration}"));
            let ran = project.imagegate(&["gate", "--json", "--fresh"], &[1]);
            if verbose {
                for (at, line) in plain.lines.iter().chain(&ran.lines) {
                    eprintln!("  {:>7.1}s {line}", at.as_secs_f64());
                }
            }
            let proof = Proof::read(&ran);
            eprintln!(
                "culprits bench: {engine} iteration {}: gate {:.1} s (package diff {:.1} s), gate+proof {:.1} s, proof \
                 {:.1} s: save+unpack {:.1} s, {} experiments made in {:?} s, tests {:?} s ({} runs, {:.1} s inside); \
                 load {}",
                iteration + 1,
                plain.elapsed.as_secs_f64(),
                diff_seconds(&plain),
                ran.elapsed.as_secs_f64(),
                proof.total,
                proof.save_unpack,
                proof.experiments(),
                proof.make,
                proof.tests.iter().map(|seconds| (seconds * 10.0).round() / 10.0).collect::<Vec<_>>(),
                proof.container_runs,
                proof.inside,
                load_average()
            );
            gates.push(plain.elapsed.as_secs_f64());
            diffs.push(diff_seconds(&plain));
            proved.push(ran.elapsed.as_secs_f64());
            proofs.push(proof);
        }
        let of = |value: &dyn Fn(&Proof) -> f64| median(proofs.iter().map(value).collect());
        let gate = median(gates);
        let total = of(&|proof| proof.total);
        println!(
            "{engine:<7} {gate:>5.1}s {:>5.1}s {:>10.1}s {total:>6.1}s {:>5} {:>11.1}s {:>8.1}s {:>9.1}s {:>8.1}s, {:>4.1} \
             {:>11.2}",
            median(diffs),
            median(proved),
            of(&|proof| proof.experiments() as f64),
            of(&|proof| proof.save_unpack),
            of(&|proof| proof.each(proof.make.iter().sum())),
            of(&|proof| proof.each(proof.tests.iter().sum())),
            of(&|proof| proof.each(proof.inside)),
            of(&|proof| proof.each(proof.container_runs as f64)),
            total / gate
        );
        references.push((engine, save_and_load(engine)));
    }
    for (engine, (saved, loaded)) in references {
        println!(
            "reference, {engine}: `{engine} save -o FILE` of the candidate {saved:.1} s, `{engine} load -i FILE` of it \
             {loaded:.1} s"
        );
    }
    println!(
        "gate: `gate --no-culprits` (diff: its reading of both images' packages); proof: from \"proving which of\" to \
         its last line; save+unpack: both images, once; make: the experiment image's layer, archive and load; \
         tests: its regressed tests' container runs and the image's removal (inside: the runs' own durations, and \
         how many); load {load_before} -> {}",
        load_average()
    );
}
