//! A results folder holding junk: skipped by its first bytes, never copied whole nor read
//! whole, and said so; results beyond the suite's limits make the run incomplete.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::both_engines;
use crate::context::{Engine, Run, TestContext};

/// Writes one small JUnit file and, beside it, a 2 GB sparse file (cheap on the container's
/// disk, 2 GB in any stream or copy of it). With `tests/extra`, a second JUnit file instead.
const RUN_SH: &str = r#"#!/bin/sh
mkdir -p /results
printf '<?xml version="1.0"?>\n<testsuite name="it"><testcase classname="it" name="test_a"/></testsuite>\n' > /results/junit.xml
if [ -f tests/extra ]; then cp /results/junit.xml /results/junit-2.xml; exit 0; fi
truncate -s 2G /results/junk.bin
exit 0
"#;

/// The highest resident set size the process `pid` has had, in KiB, from the kernel's
/// high-water mark; `None` once the process is gone.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs imagegate with `args`, polling its peak RSS until it exits; returns the run and the
/// highest peak seen, in KiB.
fn run_measured(context: &TestContext, args: &[&str]) -> (Run, u64) {
    let mut child =
        context.command().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn imagegate");
    let pid = child.id();
    // Read the pipes on their own threads so a full pipe never stalls the child.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let mut peak = 0;
    // VmHWM only grows, so any reading after the peak sees it; a zombie has no VmHWM line,
    // hence polling until `try_wait` reaps the child.
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = Run { code: status.code().unwrap_or(-1), stdout: out.join().unwrap(), stderr: err.join().unwrap() };
    (run, peak)
}

fn largest_file(folder: &Path) -> (u64, String) {
    walkdir::WalkDir::new(folder)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| (entry.metadata().unwrap().len(), entry.path().display().to_string()))
        .max()
        .unwrap_or_default()
}

both_engines!(a_two_gigabyte_junk_file_in_the_results_is_skipped_not_copied_or_read, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "");
    fs::write(context.path("tests/run.sh"), RUN_SH).unwrap();
    context.commit("a suite that leaves a 2 GB file in its results folder");
    let (run, peak_kib) = run_measured(&context, &["gate", "--json", "--promote"]);
    run.expect_code(0);
    let report = run.json();
    assert_eq!(report["decision"], "pass", "{run}");
    assert_eq!(report["counts"]["tests"], 1);
    assert!(peak_kib > 0, "the peak RSS was measured");
    assert!(peak_kib < 256 * 1024, "imagegate's peak RSS was {peak_kib} KiB\n{run}");

    // Named with its size and why, in the run and among the warnings, and on stderr.
    let skipped = report["runs"][0]["skipped"][0].as_str().unwrap_or_default();
    assert!(skipped.contains("/results/junk.bin") && skipped.contains("2.0 GiB"), "{report}");
    assert!(skipped.contains("not in a test results format"), "{skipped}");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("junk.bin"), "{warnings}");
    assert!(run.stderr.contains("junk.bin"), "{run}");

    let (largest, path) = largest_file(&context.path(".imagegate/runs"));
    assert!(largest < 1024 * 1024, "{path} is {largest} bytes");

    // Two results files where one is allowed: the second is skipped, and the run is not judged
    // on half its results.
    fs::write(context.path("tests/extra"), "").unwrap();
    let config = fs::read_to_string(context.path("imagegate.toml")).unwrap();
    fs::write(context.path("imagegate.toml"), format!("{config}max_results_files = 1\n")).unwrap();
    context.set_features(&["beta"]);
    context.commit("two results files, one allowed, in a new image");
    let (run, report) = context.gate(&[]);
    run.expect_code(3);
    assert_eq!(report["decision"], "error", "{run}");
    let errors = report["errors"].to_string();
    assert!(errors.contains("/results/junit.xml") && errors.contains("exceed the limits"), "{errors}");
    assert!(errors.contains("max_results_files"), "{errors}");
});

#[test]
fn results_of_a_huge_file_in_no_known_format_does_not_read_it_whole() {
    let folder = tempfile::tempdir().unwrap();
    let junk = folder.path().join("junk.bin");
    fs::File::create(&junk).unwrap().set_len(2 * 1024 * 1024 * 1024).unwrap();
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let (run, peak_kib) = run_measured(&context, &["results", junk.to_str().unwrap()]);
    assert!(peak_kib > 0 && peak_kib < 64 * 1024, "imagegate's peak RSS was {peak_kib} KiB\n{run}");
    run.expect_code(3);
    assert!(
        run.stdout.contains("not a test results format") || run.stderr.contains("not a test results format"),
        "{run}"
    );
}
