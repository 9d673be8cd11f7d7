//! Benchmark: `imagegate plan` on an unchanged recipe whose build context holds 20,000 files.
//!
//! Run with `cargo bench -p imagegate --bench plan` on a machine with a running docker (or
//! podman, with IMAGEGATE_ENGINE=podman) engine and the base image from
//! `scripts/engines.sh base-image`. It builds the candidate once, then times warm `plan` runs
//! (the inputs digest over every context file, plus the engine and store look-ups) and prints
//! the distribution. This is a measurement, not a test: it asserts nothing about time.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

const FILES: usize = 20_000;
const RUNS: usize = 15;

fn main() {
    let engine = std::env::var("IMAGEGATE_ENGINE").unwrap_or_else(|_| "docker".to_owned());
    let binary = env!("CARGO_BIN_EXE_imagegate");
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();
    let context = root.join("ci");
    for index in 0..FILES {
        let folder = context.join(format!("d{:03}", index / 100));
        if index % 100 == 0 {
            fs::create_dir_all(&folder).expect("mkdir");
        }
        fs::write(folder.join(format!("f{index:05}.txt")), format!("file {index}\n").repeat(8)).expect("write");
    }
    fs::write(context.join("Dockerfile"), "FROM imagegate-test/busybox:base\nRUN true\n").expect("write");
    fs::write(
        root.join("imagegate.toml"),
        format!(
            "[engine]\nkind = \"{engine}\"\n\n[images.bench]\ncontext = \"ci\"\nstable_tag = \"imagegate-bench/plan:stable\"\n\n[images.bench.suite]\ncommand = \"true\"\nresults = \"/results\"\n"
        ),
    )
    .expect("write config");

    let run = |args: &[&str]| -> (Duration, std::process::Output) {
        let started = Instant::now();
        let output = Command::new(binary).args(args).current_dir(root).output().expect("run imagegate");
        (started.elapsed(), output)
    };
    let (build_time, output) = run(&["--quiet", "build"]);
    if !output.status.success() {
        eprintln!("plan bench: could not build the candidate on {engine}: {}", String::from_utf8_lossy(&output.stderr));
        std::process::exit(1);
    }
    println!("plan bench: {FILES} context files, engine {engine}; candidate built in {:.2}s", build_time.as_secs_f64());

    let mut times = Vec::new();
    for _ in 0..RUNS {
        let (elapsed, output) = run(&["--quiet", "plan", "--json"]);
        assert!(output.status.success(), "plan failed: {}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("\"action\":\"reuse\""), "plan did not reuse the candidate: {text}");
        times.push(elapsed);
    }
    times.sort();
    let millis = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "plan (warm, {RUNS} runs): min {:.1} ms, median {:.1} ms, max {:.1} ms",
        millis(times[0]),
        millis(times[RUNS / 2]),
        millis(times[RUNS - 1])
    );
    let _ = Command::new(&engine).args(["rmi", "-f", "imagegate-bench/plan:stable"]).output();
    let listed = Command::new(&engine).args(["images", "-q", "--filter", "label=io.imagegate.image=bench"]).output();
    if let Ok(listed) = listed {
        for id in String::from_utf8_lossy(&listed.stdout).lines() {
            let _ = Command::new(&engine).args(["rmi", "-f", id]).output();
        }
    }
}
