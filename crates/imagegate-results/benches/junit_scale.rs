//! Benchmark: reading a JUnit file with 1,000,000 test cases.
//!
//! ```text
//! cargo bench -p imagegate-results --bench junit_scale
//! ```
//!
//! The acceptance target: the file parsed at least 10 times faster than Python's `junitparser`
//! reads the same file in the same run, at 200 MB/s or more, with a peak memory of at most twice
//! the file's size. The benchmark writes a realistic file into a temporary folder (pytest-like
//! class names and parametrised test names, durations, about 5% failures and 1% errors with
//! messages and tracebacks, skips, captured output on some cases, module-level test functions
//! beside test classes), then:
//!
//! - times [`parse_junit_reader`] over the file, streaming, best of several runs;
//! - measures the peak memory of one such parse in a child process (this benchmark run again
//!   with `JUNIT_SCALE_CHILD` set), as its `VmHWM` less that of a child that does not parse;
//! - times `junitparser` over the same file in `python3` (parse, then visit every case and its
//!   result, so that both sides read every test), and its peak memory the same way;
//! - prints MB/s, the speedup and the memory ratio, and exits non-zero if a target is missed.
//!
//! Settings, as environment variables: `JUNIT_SCALE_CASES` (default 1,000,000),
//! `JUNIT_SCALE_RUNS` (timed runs of our parser, default 3), `JUNIT_SCALE_PYTHON` (the
//! interpreter, default `python3`; `none` skips the comparison), `JUNIT_SCALE_FILE` (write the
//! file there and keep it, to profile with, instead of in a temporary folder).
//!
//! Run it on a quiet machine: other builds or benchmarks on the same cores skew both timings.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use imagegate_results::junit::parse_junit_reader;

const CHILD_VARIABLE: &str = "JUNIT_SCALE_CHILD";

/// How many bytes the parser reads from the file at a time.
const READ_BUFFER_BYTES: usize = 256 * 1024;

const TARGET_SPEEDUP: f64 = 10.0;
const TARGET_MEGABYTES_PER_SECOND: f64 = 200.0;
const TARGET_MEMORY_RATIO: f64 = 2.0;

/// Reads every case and its result, as the Rust side does; prints seconds, cases and peak RSS.
const PYTHON_SCRIPT: &str = r#"
import json, resource, sys, time
from junitparser import JUnitXml, TestSuite
started = time.perf_counter()
xml = JUnitXml.fromfile(sys.argv[1])
cases = failed = 0
def visit(suite):
    global cases, failed
    for item in suite:
        if isinstance(item, TestSuite):
            visit(item)
            continue
        cases += 1
        for result in item.result:
            failed += 1
            _ = result.message, result.text
        _ = item.classname, item.name, item.time
visit(xml)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "cases": cases, "failed": failed,
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"#;

const PYTHON_BASELINE_SCRIPT: &str = r#"
import json, resource
import junitparser
print(json.dumps({"max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"#;

fn main() -> ExitCode {
    if let Ok(role) = std::env::var(CHILD_VARIABLE) {
        return child(&role);
    }
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("junit_scale: {error}");
            ExitCode::FAILURE
        }
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.replace('_', "").parse().ok()).unwrap_or(default)
}

fn run() -> Result<bool, String> {
    let cases = setting("JUNIT_SCALE_CASES", 1_000_000);
    let runs = setting("JUNIT_SCALE_RUNS", 3).max(1);
    let python = std::env::var("JUNIT_SCALE_PYTHON").unwrap_or_else(|_| "python3".to_owned());

    let folder = tempfile::tempdir().map_err(|error| format!("failed to create a temporary folder: {error}"))?;
    let path = std::env::var_os("JUNIT_SCALE_FILE").map_or_else(|| folder.path().join("junit.xml"), PathBuf::from);
    let started = Instant::now();
    let written = generate(&path, cases).map_err(|error| format!("failed to write {}: {error}", path.display()))?;
    let file_bytes = std::fs::metadata(&path).map_err(|error| error.to_string())?.len();
    println!(
        "generated {} test cases ({} failing or erroring) in {} ({:.1} MB) in {:.1?}",
        written.cases,
        written.failing,
        path.display(),
        megabytes(file_bytes),
        started.elapsed()
    );

    // Timing: the file is in the page cache after writing, as it is for the first run too.
    let mut best = Duration::MAX;
    let mut tests = 0;
    for run in 1..=runs {
        let started = Instant::now();
        let results = parse_file(&path)?;
        let elapsed = started.elapsed();
        tests = results.len();
        let failing = results.failing().len();
        drop(results);
        println!("  run {run}: {elapsed:.2?} ({tests} tests, {failing} failing)");
        best = best.min(elapsed);
    }
    if tests != written.cases {
        return Err(format!("parsed {tests} tests, expected {}", written.cases));
    }
    let throughput = megabytes(file_bytes) / best.as_secs_f64();

    let parse_peak = child_peak_kib("parse", &path)?;
    let baseline_peak = child_peak_kib("baseline", &path)?;
    let memory_bytes = parse_peak.saturating_sub(baseline_peak) * 1024;
    let memory_ratio = memory_bytes as f64 / file_bytes as f64;

    println!();
    println!("imagegate: {:.2?} best of {runs}, {throughput:.0} MB/s", best);
    println!(
        "imagegate peak memory: {:.1} MB above a {:.1} MB baseline = {memory_ratio:.2} x the file",
        megabytes(memory_bytes),
        megabytes(baseline_peak * 1024)
    );

    let mut met = true;
    met &= verdict("throughput", throughput >= TARGET_MEGABYTES_PER_SECOND, &format!("{throughput:.0} MB/s >= 200"));
    met &= verdict("memory", memory_ratio <= TARGET_MEMORY_RATIO, &format!("{memory_ratio:.2} x file <= 2"));

    if python == "none" {
        println!("python comparison skipped (JUNIT_SCALE_PYTHON=none)");
        return Ok(met);
    }
    let python_run = run_python(&python, PYTHON_SCRIPT, Some(&path))?;
    let python_baseline = run_python(&python, PYTHON_BASELINE_SCRIPT, None)?;
    let python_seconds = python_run.seconds.unwrap_or(f64::NAN);
    let python_memory = python_run.max_rss_kib.saturating_sub(python_baseline.max_rss_kib) * 1024;
    if python_run.cases != Some(written.cases) {
        return Err(format!("junitparser read {:?} cases, expected {}", python_run.cases, written.cases));
    }
    let speedup = python_seconds / best.as_secs_f64();
    println!(
        "junitparser: {python_seconds:.2} s, {:.0} MB/s, peak memory {:.1} MB above its baseline = {:.2} x the file",
        megabytes(file_bytes) / python_seconds,
        megabytes(python_memory),
        python_memory as f64 / file_bytes as f64
    );
    met &= verdict("speedup", speedup >= TARGET_SPEEDUP, &format!("{speedup:.1} x junitparser >= 10"));
    Ok(met)
}

fn verdict(what: &str, met: bool, detail: &str) -> bool {
    println!("{:<10} {:<6} {detail}", what, if met { "met" } else { "MISSED" });
    met
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn parse_file(path: &Path) -> Result<imagegate_results::ResultSet, String> {
    let file = File::open(path).map_err(|error| format!("failed to open {}: {error}", path.display()))?;
    parse_junit_reader("junit.xml", BufReader::with_capacity(READ_BUFFER_BYTES, file))
        .map_err(|error| format!("failed to parse: {error}"))
}

/// The child's side: parse once (or not, for the baseline) and print the peak resident memory.
fn child(role: &str) -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("junit_scale child: no file given");
        return ExitCode::FAILURE;
    };
    let kept = match role {
        "parse" => match parse_file(&path) {
            Ok(results) => Some(results),
            Err(error) => {
                eprintln!("junit_scale child: {error}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    match peak_resident_kib() {
        Some(peak) => {
            println!("{peak} {}", kept.map_or(0, |results| results.len()));
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("junit_scale child: no VmHWM in /proc/self/status");
            ExitCode::FAILURE
        }
    }
}

fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn child_peak_kib(role: &str, path: &Path) -> Result<u64, String> {
    let executable = std::env::current_exe().map_err(|error| error.to_string())?;
    let output = Command::new(executable)
        .arg(path)
        .env(CHILD_VARIABLE, role)
        .output()
        .map_err(|error| format!("failed to run the {role} child: {error}"))?;
    if !output.status.success() {
        return Err(format!("the {role} child failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .split_whitespace()
        .next()
        .and_then(|peak| peak.parse().ok())
        .ok_or_else(|| format!("the {role} child printed no peak: {stdout:?}"))
}

struct PythonRun {
    seconds: Option<f64>,
    cases: Option<usize>,
    max_rss_kib: u64,
}

fn run_python(python: &str, script: &str, path: Option<&Path>) -> Result<PythonRun, String> {
    let mut command = Command::new(python);
    command.arg("-c").arg(script);
    if let Some(path) = path {
        command.arg(path);
    }
    let output = command.output().map_err(|error| format!("failed to run {python}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "{python} failed (is junitparser installed? `pip install junitparser`): {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|error| format!("unreadable report from {python}: {error}"))?;
    Ok(PythonRun {
        seconds: report["seconds"].as_f64(),
        cases: report["cases"].as_u64().and_then(|cases| usize::try_from(cases).ok()),
        max_rss_kib: report["max_rss_kib"].as_u64().unwrap_or(0),
    })
}

/// What [`generate`] wrote.
struct Written {
    cases: usize,
    failing: usize,
}

/// A small deterministic generator (xorshift), so every run writes the same file.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

const WORDS: &[&str] = &[
    "parse", "render", "connect", "retry", "timeout", "encode", "decode", "schema", "cache", "lock", "upload",
    "migrate", "token", "session", "config", "invoice", "report", "queue", "worker", "snapshot",
];

/// Writes a pytest-shaped JUnit file with `cases` test cases: suites of 50 to 400 cases per
/// module, test classes (and module-level functions before them in every third module),
/// parametrised names, 5% failures and 1% errors with tracebacks, 2%
/// skips, 1% expected failures, and captured output on 10% of cases.
fn generate(path: &Path, cases: usize) -> std::io::Result<Written> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut failing = 0;
    writeln!(out, r#"<?xml version="1.0" encoding="utf-8"?>"#)?;
    writeln!(out, r#"<testsuites name="pytest tests">"#)?;
    let mut written = 0;
    let mut module = 0;
    while written < cases {
        let in_suite = (50 + random.below(351) as usize).min(cases - written);
        let package = WORDS[module % WORDS.len()];
        writeln!(
            out,
            r#"  <testsuite name="pytest" errors="0" failures="0" skipped="0" tests="{in_suite}" time="12.345" timestamp="2025-01-01T00:00:00.000000+00:00" hostname="ci-runner">"#
        )?;
        for index in 0..in_suite {
            // In every third module the first tests are module-level functions, whose class is
            // the module itself, as pytest writes them: a prefix of the test classes after them.
            let class = if module % 3 == 0 && index < in_suite / 4 {
                format!("tests.{package}.test_{package}_{module:04}")
            } else {
                format!(
                    "tests.{package}.test_{package}_{module:04}.Test{}Behaviour{}",
                    capitalised(WORDS[index / 40 % WORDS.len()]),
                    index / 40
                )
            };
            let word = WORDS[random.below(WORDS.len() as u64) as usize];
            let name = if random.below(4) == 0 {
                format!("test_{word}_{index}[case-{}-{}]", random.below(100), WORDS[index % WORDS.len()])
            } else {
                format!("test_{word}_{index}")
            };
            let time = format!("{}.{:03}", random.below(3), random.below(1000));
            let roll = random.below(100);
            let output = random.below(10) == 0;
            write!(out, r#"    <testcase classname="{class}" name="{name}" time="{time}""#)?;
            if roll >= 9 && !output {
                writeln!(out, " />")?;
                continue;
            }
            writeln!(out, ">")?;
            match roll {
                0..=4 => {
                    failing += 1;
                    let expected = random.below(1000);
                    writeln!(
                        out,
                        r#"      <failure message="AssertionError: assert {} == {expected}&#10; +  where {} = {word}(&apos;{name}&apos;)">self = &lt;{class} object at 0x7f3a2c1e4d90&gt;

    def {name}(self):
        value = {word}(&quot;{name}&quot;)
&gt;       assert value == {expected}
E       AssertionError: assert {} == {expected}
E        +  where {} = {word}(&apos;{name}&apos;)

tests/{package}/test_{package}_{module:04}.py:{}: AssertionError</failure>"#,
                        expected + 1,
                        expected + 1,
                        expected + 1,
                        expected + 1,
                        10 + index
                    )?;
                }
                5 => {
                    failing += 1;
                    writeln!(
                        out,
                        r#"      <error message="failed on setup with &quot;ConnectionRefusedError: [Errno 111] Connection refused&quot;">file /home/ci/app/tests/conftest.py, line 42
  @pytest.fixture
  def database(tmp_path):
E       fixture &apos;database&apos; raised ConnectionRefusedError: [Errno 111] Connection refused

/home/ci/app/tests/conftest.py:42</error>"#
                    )?;
                }
                6 | 7 => writeln!(
                    out,
                    r#"      <skipped type="pytest.skip" message="requires the {word} service">tests/{package}/test_{package}_{module:04}.py:{index}: requires the {word} service</skipped>"#
                )?,
                8 => {
                    writeln!(out, r#"      <skipped type="pytest.xfail" message="issue {index}: known {word} bug" />"#)?
                }
                _ => {}
            }
            if output {
                writeln!(
                    out,
                    "      <system-out>--------------------------------- Captured Log ---------------------------------\nINFO     app.{word}:{word}.py:{index} starting {word} for {name}\nDEBUG    app.{word}:{word}.py:{} {word} finished in {time}s\n</system-out>",
                    index + 7
                )?;
            }
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
        written += in_suite;
        module += 1;
    }
    writeln!(out, "</testsuites>")?;
    out.flush()?;
    Ok(Written { cases: written, failing })
}

fn capitalised(word: &str) -> String {
    let mut characters = word.chars();
    characters.next().map(|first| first.to_uppercase().chain(characters).collect()).unwrap_or_default()
}
