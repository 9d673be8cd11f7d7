//! `TestProject`: a throwaway project (imagegate.toml, Dockerfile, test cases) gated in an
//! in-memory engine through the library's public API, the way the CLI calls it; and the suite
//! model that engine runs, which mirrors `tests/run.sh` of the CLI's integration tests.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imagegate_config::ImageConfig;
use imagegate_contract::{GateReport, HistoryEvent, PromotionReport, TestEntry};
use imagegate_gate::{Backend, Context, GateError, GateOptions, ImageFolders, LocalBackend, Project, SilentProgress};
use imagegate_results::Outcome;
use imagegate_store::Store;

use crate::engine::{Execution, Invocation, MemoryEngine};
use crate::home::MemoryHome;

/// The image's name in imagegate.toml.
pub const IMAGE: &str = "ci";
pub const STABLE_TAG: &str = "imagegate-core/ci:stable";
/// Where the suite writes its JUnit file.
const RESULTS: &str = "/results";

/// The suite model of every test project. Each line of the checkout's `tests/cases` is
/// `NAME MODE`, and the image's features are its `FEATURES` build arg:
/// - `pass`, `fail`, `error`, `skip`: that outcome always;
/// - `needs:F`: passes when the image has feature F, else fails;
/// - `skip-unless:F`: passes with F, skipped without;
/// - `absent-unless:F`: passes with F, not reported at all without;
/// - `flaky`: fails in the full run, passes when run alone (a rerun);
/// - `alone-fails-needs:F`: in the full run like `needs:F`; run alone, always fails;
/// - `sleep:N`: takes N seconds, then passes.
///
/// `run-tests` runs every case; `run-tests ID…` only those ids ("alone"). The checkout's
/// `tests/mode` may say `no-results`, `empty` or `truncated` to break the results on purpose,
/// `exit:N` to exit with status N whatever the tests do, or `needs-runner:F` for a suite that
/// dies before writing results in an image without feature F. Like Twisted trial, the suite
/// otherwise exits 0 whatever its tests do, and does not make its results folder: the gate must
/// have made it.
pub fn run_cases(run: &Invocation<'_>) -> Execution {
    // `list-tests` (wrapped by the gate to write its output to a file) prints the ids of every
    // case, whatever the image has; `list-tests-broken` fails.
    if let Some(rest) = run.command.strip_prefix("mkdir -p /tmp/imagegate-list && ( ") {
        let cases = run.checkout_file("tests/cases").unwrap_or_default();
        let mut execution = Execution { duration: Duration::from_millis(5), ..Execution::default() };
        if rest.starts_with("list-tests-broken") {
            execution.exit_code = 2;
            execution.output = "list-tests: cannot collect\n".to_owned();
            return execution;
        }
        assert!(rest.starts_with("list-tests )"), "unexpected list command `{}`", run.command);
        let ids: String =
            cases.lines().filter_map(|line| line.split_once(' ')).map(|(name, _)| format!("it.{name}\n")).collect();
        execution.writes.push(("/tmp/imagegate-list/ids.txt".to_owned(), ids));
        return execution;
    }
    let mut words = run.command.split_whitespace();
    assert_eq!(words.next(), Some("run-tests"), "unexpected command `{}`", run.command);
    // The gate shell-quotes ids; these ids need no quoting, so splitting on spaces is exact.
    let selected: BTreeSet<&str> = words.collect();
    let alone = !selected.is_empty();
    let features: BTreeSet<&str> =
        run.image.build_args.get("FEATURES").map(|text| text.split_whitespace().collect()).unwrap_or_default();
    let has = |feature: &str| features.contains(feature);
    let mode = run.checkout_file("tests/mode").unwrap_or_default().trim().to_owned();
    let cases = run.checkout_file("tests/cases").unwrap_or_default();
    let out = format!("{RESULTS}/junit.xml");
    let mut execution = Execution { duration: Duration::from_millis(10), ..Execution::default() };

    if let Some(runner) = mode.strip_prefix("needs-runner:")
        && !has(runner)
    {
        execution.output = "run-tests: line 1: pytest: not found\n".to_owned();
        execution.exit_code = 127;
        return execution;
    }
    match mode.as_str() {
        "no-results" => {
            execution.removes.push(RESULTS.to_owned());
            execution.output = "the suite wrote its results elsewhere\n".to_owned();
            return execution;
        }
        "empty" => {
            execution.writes.push((out, r#"<testsuite name="it" tests="0"></testsuite>"#.to_owned()));
            return execution;
        }
        _ => {}
    }
    if let Some(code) = mode.strip_prefix("exit:") {
        execution.exit_code = code.parse().expect("exit:N");
    }

    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"it\">\n");
    for line in cases.lines() {
        let Some((name, how)) = line.split_once(' ') else { continue };
        let id = format!("it.{name}");
        if alone && !selected.contains(id.as_str()) {
            continue;
        }
        let missing = |feature: &str| format!("feature {feature} missing from the image");
        let (outcome, message) = match how.split_once(':') {
            None => match how {
                "pass" => ("pass", None),
                "fail" => ("fail", Some(format!("assertion failed in {name}"))),
                "error" => ("error", Some(format!("exception in {name}"))),
                "skip" => ("skip", None),
                "flaky" if alone => ("pass", None),
                "flaky" => ("fail", Some("order-dependent failure".to_owned())),
                other => ("error", Some(format!("unknown mode {other}"))),
            },
            Some(("needs", feature)) if has(feature) => ("pass", None),
            Some(("needs", feature)) => ("fail", Some(missing(feature))),
            Some(("skip-unless", feature)) => (if has(feature) { "pass" } else { "skip" }, None),
            Some(("absent-unless", feature)) if has(feature) => ("pass", None),
            Some(("absent-unless", _)) => continue,
            Some(("alone-fails-needs", _)) if alone => ("fail", Some("fails when run alone".to_owned())),
            Some(("alone-fails-needs", feature)) if has(feature) => ("pass", None),
            Some(("alone-fails-needs", feature)) => ("fail", Some(missing(feature))),
            Some(("sleep", seconds)) => {
                execution.duration += Duration::from_secs(seconds.parse().expect("sleep:N"));
                ("pass", None)
            }
            Some(_) => ("error", Some(format!("unknown mode {how}"))),
        };
        execution.output.push_str(&format!("{id} ... {outcome}\n"));
        let message = message.unwrap_or_default();
        xml.push_str(&match outcome {
            "pass" => format!("<testcase classname=\"it\" name=\"{name}\" time=\"0.01\"/>\n"),
            "fail" => format!(
                "<testcase classname=\"it\" name=\"{name}\"><failure message=\"{message}\">Traceback: {message}</failure></testcase>\n"
            ),
            "error" => format!(
                "<testcase classname=\"it\" name=\"{name}\"><error message=\"{message}\">{message}</error></testcase>\n"
            ),
            _ => format!("<testcase classname=\"it\" name=\"{name}\"><skipped message=\"not available\"/></testcase>\n"),
        });
    }
    if mode == "truncated" {
        xml.push_str("<testcase classname=\"it\" name=\"cut\"");
    } else {
        xml.push_str("</testsuite></testsuites>\n");
    }
    execution.writes.push((out, xml));
    execution
}

/// What a test may change in imagegate.toml; everything else is fixed.
struct Settings {
    /// The recipe: the image's `FEATURES` build arg.
    features: Vec<String>,
    timeout: String,
    attempts: u32,
    rerun: bool,
    /// Extra lines of the suite's table (`list`, `incumbent`), and of `[engine]`.
    suite_extra: String,
    engine_extra: String,
}

pub struct TestProject {
    _temp: tempfile::TempDir,
    pub root: PathBuf,
    pub engine: MemoryEngine,
    settings: RefCell<Settings>,
    /// Counts changes of the checkout, which name the commit both images are tested at.
    commit: Cell<u32>,
    /// Where pointers and records live when not in the local store.
    pub home: Option<MemoryHome>,
}

impl TestProject {
    /// A project whose image has `features` and whose suite is `cases` (lines of `NAME MODE`).
    pub fn new(features: &[&str], cases: &str) -> TestProject {
        let temp = tempfile::tempdir().expect("temp dir");
        let root = temp.path().join("project");
        fs::create_dir_all(root.join("ci")).expect("mkdir");
        fs::create_dir_all(root.join("tests")).expect("mkdir");
        fs::write(root.join("ci/Dockerfile"), "FROM busybox\nARG FEATURES\nRUN echo \"$FEATURES\" > /opt/features\n")
            .expect("write Dockerfile");
        fs::write(root.join("tests/cases"), cases).expect("write cases");
        let settings = Settings {
            features: features.iter().map(|&feature| feature.to_owned()).collect(),
            timeout: "2m".to_owned(),
            attempts: 3,
            rerun: true,
            suite_extra: String::new(),
            engine_extra: String::new(),
        };
        let project = TestProject {
            _temp: temp,
            root,
            engine: MemoryEngine::new(run_cases),
            settings: RefCell::new(settings),
            commit: Cell::new(1),
            home: None,
        };
        project.write_config();
        project
    }

    /// Like [`TestProject::new`], with the stable pointer and records in `home`.
    pub fn in_home(features: &[&str], cases: &str, home: MemoryHome) -> TestProject {
        TestProject { home: Some(home), ..TestProject::new(features, cases) }
    }

    /// The backend every run of this project uses.
    pub fn backend(&self) -> &dyn Backend {
        match &self.home {
            Some(home) => home,
            None => &LocalBackend,
        }
    }

    fn write_config(&self) {
        let settings = self.settings.borrow();
        let rerun = if settings.rerun { "rerun = \"run-tests {tests}\"\n" } else { "" };
        let config = format!(
            r#"[engine]
kind = "docker"
{engine_extra}
[promote]
branches = ["main"]

[images.{IMAGE}]
dockerfile = "ci/Dockerfile"
context = "ci"
stable_tag = "{STABLE_TAG}"
build_args = {{ FEATURES = "{features}" }}

[images.{IMAGE}.suite]
command = "run-tests"
results = "{RESULTS}"
workdir = "/src"
timeout = "{timeout}"
{rerun}attempts = {attempts}
{suite_extra}"#,
            engine_extra = settings.engine_extra,
            suite_extra = settings.suite_extra,
            features = settings.features.join(" "),
            timeout = settings.timeout,
            attempts = settings.attempts,
        );
        fs::write(self.root.join("imagegate.toml"), config).expect("write config");
    }

    /// Changes the recipe: the image's features.
    pub fn set_features(&self, features: &[&str]) {
        self.settings.borrow_mut().features = features.iter().map(|&feature| feature.to_owned()).collect();
        self.write_config();
    }

    /// Changes the suite's timeout (the recipe stays the same).
    pub fn set_timeout(&self, timeout: &str) {
        self.settings.borrow_mut().timeout = timeout.to_owned();
        self.write_config();
    }

    /// Changes how many runs a failing test gets in all (`attempts`).
    pub fn set_attempts(&self, attempts: u32) {
        self.settings.borrow_mut().attempts = attempts;
        self.write_config();
    }

    /// Drops the `rerun` template: reruns then run the whole suite.
    pub fn without_rerun_template(&self) {
        self.settings.borrow_mut().rerun = false;
        self.write_config();
    }

    /// Adds `line` to the suite's table (e.g. `list = "list-tests"`).
    pub fn add_suite_line(&self, line: &str) {
        self.settings.borrow_mut().suite_extra.push_str(&format!("{line}\n"));
        self.write_config();
    }

    /// Adds `line` to `[engine]` (e.g. `concurrency = 1`).
    pub fn add_engine_line(&self, line: &str) {
        self.settings.borrow_mut().engine_extra.push_str(&format!("{line}\n"));
        self.write_config();
    }

    /// Changes the project: its test cases.
    pub fn set_cases(&self, cases: &str) {
        fs::write(self.root.join("tests/cases"), cases).expect("write cases");
        self.commit.set(self.commit.get() + 1);
    }

    /// Changes the project: how its suite breaks (see [`run_cases`]).
    pub fn set_mode(&self, mode: &str) {
        fs::write(self.root.join("tests/mode"), mode).expect("write mode");
        self.commit.set(self.commit.get() + 1);
    }

    /// Runs `work` with the context and image the CLI would build from this project.
    pub fn with_context<T>(&self, work: impl FnOnce(&Context<'_>, &ImageConfig) -> T) -> T {
        with_context_in(&self.root.join("imagegate.toml"), &self.engine, self.backend(), work)
    }

    /// Options as `gate` on the `main` branch gives them.
    pub fn options(&self, promote: bool) -> GateOptions {
        GateOptions {
            refresh: false,
            promote,
            promotion_allowed: Ok(()),
            project: Project {
                commit: format!("commit-{}", self.commit.get()),
                branch: Some("main".to_owned()),
                links: None,
            },
            packages: false,
            culprits: true,
            keep_experiments: false,
        }
    }

    pub fn try_gate(&self, options: &GateOptions) -> Result<GateReport, GateError> {
        self.with_context(|context, image| imagegate_gate::gate_image(context, image, options))
    }

    /// `gate` (with `--promote` when `promote`); the run must reach a report.
    #[track_caller]
    pub fn gate(&self, promote: bool) -> GateReport {
        self.try_gate(&self.options(promote)).unwrap_or_else(|error| panic!("gate failed: {error}"))
    }

    /// `promote`.
    pub fn promote(&self) -> Result<PromotionReport, GateError> {
        self.with_context(imagegate_gate::promote)
    }

    /// `rollback`.
    pub fn rollback(&self) -> Result<PromotionReport, GateError> {
        self.with_context(imagegate_gate::rollback)
    }

    /// The kinds of the image's history events, oldest first.
    pub fn history_kinds(&self) -> Vec<&'static str> {
        let report = self.with_context(|context, _| imagegate_gate::history(context, Some(IMAGE))).expect("history");
        report
            .events
            .iter()
            .map(|event| match event {
                HistoryEvent::Verdict { .. } => "verdict",
                HistoryEvent::Promote { .. } => "promote",
                HistoryEvent::Rollback { .. } => "rollback",
            })
            .collect()
    }

    /// The image id the stable tag names now, per the engine itself.
    pub fn stable_id(&self) -> Option<String> {
        self.engine.image_id(STABLE_TAG)
    }
}

/// Runs `work` with the context the CLI would build from the config file `config` and
/// `engine`: the config loaded from disk (so the inputs digest is real) and the embedded store
/// opened, as each imagegate process does.
pub fn with_context_at<T>(
    config: &Path,
    engine: &MemoryEngine,
    work: impl FnOnce(&Context<'_>, &ImageConfig) -> T,
) -> T {
    with_context_in(config, engine, &LocalBackend, work)
}

/// [`with_context_at`] with the pointer and records in `backend`.
pub fn with_context_in<T>(
    config: &Path,
    engine: &MemoryEngine,
    backend: &dyn Backend,
    work: impl FnOnce(&Context<'_>, &ImageConfig) -> T,
) -> T {
    let config = imagegate_config::load(config).expect("load the config");
    let state_dir = config.state_dir();
    let store = Store::open(&state_dir).expect("open the store");
    // One per call, as one per imagegate process.
    let image_folders = ImageFolders::default();
    let context = Context {
        config: &config,
        engine,
        store: &store,
        progress: &SilentProgress,
        state_dir,
        backend,
        fresh: false,
        image_folders: &image_folders,
    };
    work(&context, &config.images[IMAGE])
}

/// The ids of a report's list.
pub fn ids(entries: &[TestEntry]) -> Vec<&str> {
    entries.iter().map(|entry| entry.id.as_str()).collect()
}

/// The purposes of a report's runs, in order.
pub fn purposes(report: &GateReport) -> Vec<&str> {
    report.runs.iter().map(|run| run.purpose.as_str()).collect()
}

pub use Outcome::{Fail, Pass};
