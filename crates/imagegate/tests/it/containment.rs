//! The suite container is contained: its limits as the suite itself sees them from inside, a
//! log that stays bounded however much the suite prints, and no network shared with the machine
//! for a run that is not trusted.

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use serde_json::Value;

use crate::both_engines;
use crate::context::{Engine, Run, TestContext};

/// A suite that reports what its container allows as test ids (`limits.pids=100`): the
/// cgroup limits (v1 or v2), the process's `NoNewPrivs` and effective capabilities, and
/// whether the root and `/tmp` are writable.
const PROBE_SH: &str = r#"#!/bin/sh
mkdir -p /results
pids=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)
memory=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
cpu=$(tr ' ' / < /sys/fs/cgroup/cpu.max 2>/dev/null || echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)/$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)")
nnp=$(grep NoNewPrivs /proc/self/status | tr -d ' \t' | cut -d: -f2)
cap=$(grep CapEff /proc/self/status | tr -d ' \t' | cut -d: -f2)
if touch /imagegate-probe 2>/dev/null; then rootfs=rw; else rootfs=ro; fi
if touch /tmp/imagegate-probe 2>/dev/null; then tmp=rw; else tmp=ro; fi
if [ -f /src/tests/probe.sh ]; then checkout=copied; else checkout=missing; fi
{ echo '<testsuite name="limits">'
  for value in "pids=$pids" "memory=$memory" "cpu=$cpu" "nnp=$nnp" "cap=$cap" "rootfs=$rootfs" "tmp=$tmp" "checkout=$checkout"; do
    echo "<testcase classname=\"limits\" name=\"$value\"/>"
  done
  echo '</testsuite>'; } > /results/junit.xml
"#;

/// A project whose suite is the probe.
fn probe_project(engine: Engine) -> TestContext {
    let context = TestContext::new(engine, &[], "t pass\n");
    fs::write(context.path("tests/probe.sh"), PROBE_SH).unwrap();
    let config = fs::read_to_string(context.path("imagegate.toml")).unwrap();
    fs::write(context.path("imagegate.toml"), config.replace("sh tests/run.sh\"", "sh tests/probe.sh\"")).unwrap();
    context.commit("probe the container");
    context
}

fn append_to_config(context: &TestContext, text: &str) {
    let mut config = fs::read_to_string(context.path("imagegate.toml")).unwrap();
    config.push_str(text);
    fs::write(context.path("imagegate.toml"), config).unwrap();
}

/// What the probe saw: `name → value`.
fn probed(context: &TestContext) -> BTreeMap<String, String> {
    let run = context.run(&["test", "--json"]);
    run.expect_code(0);
    let report = run.json();
    report["tests"]
        .as_array()
        .unwrap_or_else(|| panic!("no tests in {report}"))
        .iter()
        .filter_map(|test| test["id"].as_str()?.strip_prefix("limits.")?.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn machine_cpus() -> u64 {
    std::thread::available_parallelism().map(std::num::NonZero::get).unwrap() as u64
}

both_engines!(by_default_the_suite_runs_limited_without_new_privileges_or_spare_capabilities, |engine| {
    let context = probe_project(engine);
    let seen = probed(&context);
    assert_eq!(seen["pids"], "4096", "{seen:?}");
    assert_eq!(seen["memory"], (4u64 << 30).to_string(), "{seen:?}");
    assert_eq!(seen["cpu"], format!("{}/100000", machine_cpus() * 100_000), "{seen:?}");
    assert_eq!(seen["nnp"], "1", "{seen:?}");
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID NET_BIND_SERVICE: bits 0 1 3 4 5 6 7 10.
    assert_eq!(seen["cap"], "00000000000004fb", "{seen:?}");
    assert_eq!((seen["rootfs"].as_str(), seen["checkout"].as_str()), ("rw", "copied"), "{seen:?}");
});

both_engines!(configured_limits_and_a_read_only_root_are_what_the_suite_sees, |engine| {
    let context = probe_project(engine);
    append_to_config(
        &context,
        &format!(
            "\n[images.{}.suite.limits]\npids = 100\nmemory = \"256MiB\"\ncpus = 1.5\ncapabilities = [\"CHOWN\", \"cap_kill\"]\nread_only = true\n",
            context.image
        ),
    );
    let seen = probed(&context);
    assert_eq!(seen["pids"], "100", "{seen:?}");
    assert_eq!(seen["memory"], "268435456", "{seen:?}");
    assert_eq!(seen["cpu"], "150000/100000", "{seen:?}");
    assert_eq!(seen["nnp"], "1", "{seen:?}");
    assert_eq!(seen["cap"], "0000000000000021", "{seen:?}");
    // Read-only, yet the checkout was copied in, /tmp is writable and the results came out.
    assert_eq!(seen["rootfs"], "ro", "{seen:?}");
    assert_eq!(seen["tmp"], "rw", "{seen:?}");
    assert_eq!(seen["checkout"], "copied", "{seen:?}");
    // A shard's listing writes its ids under /tmp and copies them out: it works read-only too.
    let evidence = context.scratch.join("evidence");
    let run = context.run(&["test", &context.image, "--shard", "1/1", "--output", evidence.to_str().unwrap()]);
    run.expect_code(0);
    assert!(run.stdout.contains("1 test in the candidate (1 passed"), "{run}");
    assert!(context.leftover_containers().is_empty(), "containers left behind");
});

/// Makes the suite print `bytes` bytes of `x` lines between a first and a last line, then run
/// as usual.
fn print_before_the_suite(context: &TestContext, bytes: u64) {
    let config = fs::read_to_string(context.path("imagegate.toml")).unwrap();
    let command = format!(
        "echo FIRST-LINE; yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c {bytes}; echo LAST-LINE; sh tests/run.sh"
    );
    let config = config.replacen("command = \"sh tests/run.sh\"", &format!("command = \"{command}\""), 1);
    fs::write(context.path("imagegate.toml"), config).unwrap();
}

/// The candidate's suite-run log of a gate report.
fn suite_log(report: &Value) -> std::path::PathBuf {
    let run = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["image"] == "candidate" && run["purpose"] == "suite")
        .unwrap_or_else(|| panic!("no candidate suite run in {report}"));
    run["log"].as_str().unwrap().into()
}

both_engines!(a_suite_that_prints_without_end_keeps_a_bounded_log_with_its_head_and_tail_and_a_verdict, |engine| {
    let context = TestContext::new(engine, &[], "a pass\nb pass\n");
    print_before_the_suite(&context, 24 << 20);
    append_to_config(&context, &format!("\n[images.{}.suite.limits]\nlog_size = \"1MiB\"\n", context.image));
    let (run, report) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(report["decision"], "pass", "{report}");
    let log = fs::read(suite_log(&report)).unwrap();
    assert!(log.len() <= 1 << 20, "{} bytes kept", log.len());
    assert!(log.len() > (1 << 20) - 200, "{} bytes kept", log.len());
    let text = String::from_utf8_lossy(&log);
    assert!(text.starts_with("FIRST-LINE\nxxx"), "{}", &text[..40]);
    assert!(text.trim_end().ends_with("LAST-LINE"), "{}", &text[text.len() - 40..]);
    let marker = text.lines().find(|line| line.starts_with("[imagegate: ")).expect("a line says what was cut");
    assert!(marker.ends_with("of output cut here; the log keeps its first and last bytes]"), "{marker}");
    let cut: u64 = marker["[imagegate: ".len()..].split(' ').next().unwrap().parse().unwrap();
    // FIRST-LINE, the output, LAST-LINE: everything not kept is counted as cut.
    assert_eq!(cut + (log.len() - marker.len() - 2) as u64, 11 + (24 << 20) + 10, "{marker}");
});

/// One proof of the default: a suite printing more than 64 MiB keeps 64 MiB (docker only: the
/// engines stream alike, and the output takes seconds to print).
#[test]
fn the_default_log_keeps_at_most_64_mib() {
    let context = TestContext::new(Engine::Docker, &[], "a pass\n");
    print_before_the_suite(&context, 72 << 20);
    let (run, report) = context.gate(&[]);
    run.expect_code(0);
    assert_eq!(report["decision"], "pass", "{report}");
    let path = suite_log(&report);
    let size = fs::metadata(&path).unwrap().len();
    assert!(size <= 64 << 20 && size > (64 << 20) - 200, "{size} bytes kept");
    let text = fs::read(&path).unwrap();
    assert!(text.starts_with(b"FIRST-LINE\n"));
    assert!(String::from_utf8_lossy(&text[text.len() - 200..]).contains("LAST-LINE"));
}

/// Runs imagegate with only `environment` (and PATH/HOME), as a CI provider would start it.
fn run_in(context: &TestContext, environment: &BTreeMap<String, String>, args: &[&str]) -> Run {
    let mut command: Command = context.command();
    command.env_clear();
    for key in ["PATH", "HOME"] {
        if let Ok(value) = std::env::var(key) {
            command.env(key, value);
        }
    }
    Run::from(command.envs(environment).args(args).output().unwrap())
}

fn host_network_project() -> TestContext {
    let context = TestContext::new(Engine::Docker, &[], "a pass\n");
    append_to_config(&context, "network = \"host\"\n");
    context.commit("the suite on the host's network");
    context
}

fn assert_refused(run: &Run, context: &TestContext) {
    run.expect_code(2);
    assert!(run.stderr.contains("the suite's network \"host\" shares the machine's network"), "{run}");
    assert!(run.stderr.contains("is not trusted"), "{run}");
    let config = fs::read_to_string(context.path("imagegate.toml")).unwrap();
    let line = config.lines().position(|line| line == "network = \"host\"").unwrap() + 1;
    assert!(run.stderr.contains(&format!("imagegate.toml:{line}: image `{}`", context.image)), "{run}");
    assert!(run.stderr.contains("hint: the configuration of a pull request cannot choose a network"), "{run}");
    assert!(run.stderr.contains("use network = \"none\""), "{run}");
    // Refused before anything was built or run.
    assert!(context.leftover_containers().is_empty());
    assert!(!run.stderr.contains("building the candidate"), "{run}");
}

#[test]
fn a_pull_request_cannot_put_the_suite_on_the_host_network() {
    let context = host_network_project();
    let reports = context.scratch.join("reports");
    let reports = reports.to_str().unwrap();
    for fixture in ["pull_request", "pull_request_fork"] {
        let environment =
            crate::ci::github_environment(fixture, &context.scratch.join("output"), &context.scratch.join("summary"));
        let run = run_in(&context, &environment, &["ci", "--report-dir", reports]);
        assert_refused(&run, &context);
        assert!(run.stderr.contains("GitHub Actions pull_request"), "{fixture}: {run}");
    }
    // `gate` itself, in a pull request's job of a provider imagegate reads from variables.
    let generic: BTreeMap<String, String> = [
        ("IMAGEGATE_PROVIDER", "generic"),
        ("IMAGEGATE_EVENT", "pull_request"),
        ("IMAGEGATE_BRANCH", "feature"),
        ("IMAGEGATE_DEFAULT_BRANCH", "main"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    assert_refused(&run_in(&context, &generic, &["gate"]), &context);
    assert_refused(&run_in(&context, &generic, &["test"]), &context);
    assert_eq!(context.stable_id(), None);
}

#[test]
fn a_trusted_push_and_a_local_run_may_use_the_host_network() {
    let context = host_network_project();
    let environment =
        crate::ci::github_environment("push", &context.scratch.join("output"), &context.scratch.join("summary"));
    let reports = context.scratch.join("reports");
    let run = run_in(&context, &environment, &["ci", "--report-dir", reports.to_str().unwrap()]);
    run.expect_code(0);
    // No provider at all: someone's own machine.
    let run = run_in(&context, &BTreeMap::new(), &["test", "--json"]);
    run.expect_code(0);
    assert_eq!(run.json()["counts"]["passed"], 1, "{run}");
}
