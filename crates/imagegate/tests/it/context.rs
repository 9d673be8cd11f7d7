//! `TestContext`: a throwaway project, state folder and stable tag, and helpers to run the CLI.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

pub const BASE_IMAGE: &str = "imagegate-test/busybox:base";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The suite of every test project. Each line of `tests/cases` is `NAME MODE`:
/// - `pass`, `fail`, `error`, `skip`: that outcome always;
/// - `needs:F`: passes when the image has feature F (a line of /opt/lib/features), else fails;
/// - `skip-unless:F`: passes with F, skipped without;
/// - `absent-unless:F`: passes with F, not reported at all without;
/// - `flaky`: fails in the full run, passes when run alone (a rerun);
/// - `alone-fails-needs:F`: in the full run like `needs:F`; run alone, always fails;
/// - `sleep:N`: sleeps N seconds, then passes;
/// - `werkzeug-urls:F`: passes with F, else errors with werkzeug 2.3's import error.
///
/// `sh tests/run.sh --list` prints the ids.
/// `tests/mode` may say `no-results`, `empty` or `truncated` to break the results on purpose.
/// Like Twisted trial, the suite exits 0 whatever its tests do.
const RUN_SH: &str = r#"#!/bin/sh
mode=$(cat tests/mode 2>/dev/null || echo normal)
if [ "$1" = "--list" ]; then
  while read -r name how; do [ -n "$name" ] && echo "it.$name"; done < tests/cases
  exit 0
fi
mkdir -p /results
if [ "$mode" = "no-results" ]; then rm -rf /results; exit 0; fi
if [ "$mode" = "empty" ]; then echo '<testsuite name="it" tests="0"></testsuite>' > /results/junit.xml; exit 0; fi
alone=0
if [ $# -gt 0 ]; then alone=1; fi
has() { grep -qx "$1" /opt/lib/features 2>/dev/null; }
wanted() {
  [ $alone -eq 0 ] && return 0
  for id in $SELECTED; do [ "$id" = "it.$1" ] && return 0; done
  return 1
}
SELECTED="$*"
out=/results/junit.xml
echo '<?xml version="1.0" encoding="UTF-8"?>' > $out
echo '<testsuites><testsuite name="it">' >> $out
while read -r name how; do
  [ -z "$name" ] && continue
  wanted "$name" || continue
  case "$how" in
    pass) result=pass ;;
    fail) result=fail; msg="assertion failed in $name" ;;
    error) result=error; msg="exception in $name" ;;
    skip) result=skip ;;
    needs:*) f=${how#needs:}; if has "$f"; then result=pass; else result=fail; msg="feature $f missing from the image"; fi ;;
    skip-unless:*) f=${how#skip-unless:}; if has "$f"; then result=pass; else result=skip; fi ;;
    absent-unless:*) f=${how#absent-unless:}; if has "$f"; then result=pass; else continue; fi ;;
    flaky) if [ $alone -eq 1 ]; then result=pass; else result=fail; msg="order-dependent failure"; fi ;;
    alone-fails-needs:*) f=${how#alone-fails-needs:}
      if [ $alone -eq 1 ]; then result=fail; msg="fails when run alone"
      elif has "$f"; then result=pass; else result=fail; msg="feature $f missing from the image"; fi ;;
    sleep:*) sleep ${how#sleep:}; result=pass ;;
    python-version:*) want=${how#python-version:}; package=${want%%=*}; version=${want#*=}
      found=$(python3 -c "import importlib.metadata as m; print(m.version('$package'))" 2>&1)
      if [ "$found" = "$version" ]; then result=pass; else result=fail
        msg="AssertionError: $package is $found, the tests need $version"; fi ;;
    npm-version:*) want=${how#npm-version:}; package=${want%%=*}; version=${want#*=}
      found=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' /app/node_modules/$package/package.json 2>&1 | head -n 1)
      if [ "$found" = "$version" ]; then result=pass; else result=fail
        msg="AssertionError: $package is $found, the tests need $version"; fi ;;
    file:*) f=${how#file:}; if [ -e "$f" ]; then result=pass; else result=error
        msg="OSError: cannot open shared object file $f: No such file or directory"; fi ;;
    python-not-both:*) spec=${how#python-not-both:}
      found=$(python3 -c "import importlib.metadata as m, sys; print(all(m.version(p.split('=')[0]) == p.split('=')[1] for p in sys.argv[1].split(',')))" "$spec" 2>&1)
      if [ "$found" = "False" ]; then result=pass; else result=fail
        msg="AssertionError: $spec together break this test ($found)"; fi ;;
    werkzeug-urls:*) f=${how#werkzeug-urls:}; if has "$f"; then result=pass; else result=error
      msg="ImportError: cannot import name 'url_quote' from 'werkzeug.urls' (/usr/local/lib/python3.11/dist-packages/werkzeug/urls.py)"; fi ;;
    *) result=error; msg="unknown mode $how" ;;
  esac
  case "$result" in
    pass) echo "<testcase classname=\"it\" name=\"$name\" time=\"0.01\"/>" >> $out ;;
    fail) echo "<testcase classname=\"it\" name=\"$name\"><failure message=\"$msg\">Traceback: $msg</failure></testcase>" >> $out ;;
    error) echo "<testcase classname=\"it\" name=\"$name\"><error message=\"$msg\">$msg</error></testcase>" >> $out ;;
    skip) echo "<testcase classname=\"it\" name=\"$name\"><skipped message=\"not available\"/></testcase>" >> $out ;;
  esac
done < tests/cases
if [ "$mode" = "truncated" ]; then echo '<testcase classname="it" name="cut"' >> $out; exit 0; fi
echo '</testsuite></testsuites>' >> $out
exit 0
"#;

pub struct TestContext {
    _temp: tempfile::TempDir,
    pub root: PathBuf,
    pub engine: Engine,
    /// The image's name in imagegate.toml; unique per test, and put on its containers.
    pub image: String,
    pub stable_tag: String,
    /// A folder outside the project checkout.
    pub scratch: PathBuf,
}

impl TestContext {
    /// A project whose image has `features`, whose suite is `cases` (lines of `NAME MODE`).
    pub fn new(engine: Engine, features: &[&str], cases: &str) -> TestContext {
        let temp = tempfile::tempdir().expect("temp dir");
        let root = temp.path().join("project");
        let unique = format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let image = format!("it{unique}");
        let stable_tag = format!("imagegate-it/{image}:stable");
        fs::create_dir_all(root.join("ci/lib")).expect("mkdir");
        fs::create_dir_all(root.join("tests")).expect("mkdir");
        fs::write(root.join("ci/Dockerfile"), format!("FROM {BASE_IMAGE}\nCOPY lib/ /opt/lib/\n")).expect("write");
        fs::write(root.join("tests/run.sh"), RUN_SH).expect("write");
        fs::write(root.join("tests/cases"), cases).expect("write");
        let scratch = temp.path().join("scratch");
        fs::create_dir_all(&scratch).expect("mkdir");
        let context = TestContext { _temp: temp, root, engine, image, stable_tag, scratch };
        context.set_features(features);
        context.write_config("2m", 3);
        let git = |args: &[&str]| {
            let status = Command::new("git").args(args).current_dir(&context.root).output().expect("git");
            assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
        };
        git(&["init", "-q", "-b", "main"]);
        git(&["config", "user.email", "it@example.invalid"]);
        git(&["config", "user.name", "it"]);
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "project"]);
        context
    }

    pub fn write_config(&self, timeout: &str, attempts: u32) {
        let config = format!(
            r#"[engine]
kind = "{engine}"

[promote]
branches = ["main"]

[images.{image}]
dockerfile = "ci/Dockerfile"
context = "ci"
stable_tag = "{stable}"

[images.{image}.suite]
command = "sh tests/run.sh"
results = "/results"
workdir = "/src"
timeout = "{timeout}"
rerun = "sh tests/run.sh {{tests}}"
list = "sh tests/run.sh --list"
attempts = {attempts}
# The rule tests check what a full incumbent run measures (fixed tests, the confirmation of a
# full run); tests of targeted runs remove this line (`TestContext::targeted`).
incumbent = "full"
"#,
            engine = self.engine.name(),
            image = self.image,
            stable = self.stable_tag,
        );
        fs::write(self.root.join("imagegate.toml"), config).expect("write config");
    }

    /// Rewrites imagegate.toml with `edit`, and commits it.
    pub fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let config = fs::read_to_string(self.root.join("imagegate.toml")).expect("read config");
        fs::write(self.root.join("imagegate.toml"), edit(config)).expect("write config");
        self.commit("change the config");
    }

    /// Lets the incumbent run only what the verdict needs (the product's default; the harness
    /// pins full incumbent runs for the rule tests).
    pub fn targeted(&self) {
        self.edit_config(|config| config.replace("incumbent = \"full\"\n", ""));
    }

    /// Changes the recipe: the image's features.
    pub fn set_features(&self, features: &[&str]) {
        let mut text = features.join("\n");
        text.push('\n');
        fs::write(self.root.join("ci/lib/features"), text).expect("write features");
    }

    /// Changes the project: its test cases (and commits the change).
    pub fn set_cases(&self, cases: &str) {
        fs::write(self.root.join("tests/cases"), cases).expect("write cases");
        self.commit("change tests");
    }

    pub fn set_mode(&self, mode: &str) {
        fs::write(self.root.join("tests/mode"), mode).expect("write mode");
        self.commit("change mode");
    }

    pub fn commit(&self, message: &str) {
        for args in [vec!["add", "-A"], vec!["commit", "-q", "-m", message]] {
            let output = Command::new("git").args(&args).current_dir(&self.root).output().expect("git");
            assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        }
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_imagegate"));
        command.current_dir(&self.root);
        command.env_remove("IMAGEGATE_ENGINE").env_remove("IMAGEGATE_BRANCH").env_remove("IMAGEGATE_COMMIT");
        command.env("CI", "true");
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command().args(args).output().expect("run imagegate");
        Run::from(output)
    }

    /// `gate --json` with extra args; returns the run and its one JSON document.
    pub fn gate(&self, args: &[&str]) -> (Run, Value) {
        let mut all = vec!["gate", "--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        let json = run.json();
        (run, json)
    }

    /// The image id the stable tag names now, per the engine itself.
    pub fn stable_id(&self) -> Option<String> {
        self.image_id(&self.stable_tag)
    }

    pub fn image_id(&self, reference: &str) -> Option<String> {
        let output = Command::new(self.engine.name())
            .args(["image", "inspect", "--format", "{{.Id}}", reference])
            .output()
            .expect("inspect");
        if !output.status.success() {
            return None;
        }
        let id = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Some(if id.starts_with("sha256:") { id } else { format!("sha256:{id}") })
    }

    /// Test containers of this test's image still present in the engine.
    pub fn leftover_containers(&self) -> Vec<String> {
        let output = Command::new(self.engine.name())
            .args(["ps", "-a", "-q", "--filter", &format!("label=io.imagegate.image={}", self.image)])
            .output()
            .expect("ps");
        String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).filter(|line| !line.is_empty()).collect()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}

/// Removes the images tagged `tags`. On docker their untagged parents stay (`--no-prune`):
/// docker's legacy builder caches each build step as such an image, shared by every test that
/// builds the same steps, and deleting one under another test's build fails that build ("unable
/// to find image"). Podman's are pruned as before: every `podman images` walks the untagged
/// images left behind, and a walk fails ("image not known") when another test removes one
/// meanwhile; imagegate retries such a listing, but the fewer such images the better.
/// Sends SIGINT to a running imagegate, as a Ctrl-C at the terminal would, and waits (bounded)
/// for it to end.
pub fn interrupt(child: &mut std::process::Child) -> std::process::ExitStatus {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        assert!(std::time::Instant::now() < deadline, "imagegate did not stop on SIGINT");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

pub fn remove_images(engine: Engine, tags: &[String]) {
    let mut command = Command::new(engine.name());
    command.args(["rmi", "-f"]);
    if engine == Engine::Docker {
        command.arg("--no-prune");
    }
    let _ = command.args(tags).output();
}

impl Drop for TestContext {
    fn drop(&mut self) {
        // Remove this test's images (stable, candidates, kept) so engines don't fill up.
        let repository = self.stable_tag.split(':').next().unwrap_or_default().to_owned();
        let output = Command::new(self.engine.name()).args(["images", "--format", "{{.Repository}}:{{.Tag}}"]).output();
        if let Ok(output) = output {
            let tags: Vec<String> = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|line| line.trim_start_matches("localhost/").starts_with(&repository))
                .map(str::to_owned)
                .collect();
            if !tags.is_empty() {
                remove_images(self.engine, &tags);
            }
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|error| panic!("stdout is not one JSON document ({error}):\n{self}"))
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Ids in one of the gate report's lists.
pub fn ids(report: &Value, list: &str) -> Vec<String> {
    report[list]
        .as_array()
        .unwrap_or_else(|| panic!("no list `{list}` in {report}"))
        .iter()
        .map(|entry| entry["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Runs a test body once per engine.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn docker() {
                ($body)($crate::context::Engine::Docker)
            }
            #[test]
            fn podman() {
                ($body)($crate::context::Engine::Podman)
            }
        }
    };
}
