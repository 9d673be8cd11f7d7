//! What a real project's suite needs on its first day: a results folder that exists before the
//! suite starts (trial's subunit reporter does not make it), and the suite's own words when it
//! yields no results.

use std::fs;

use crate::both_engines;
use crate::context::{Engine, TestContext, ids};

/// Twisted trial with Tahoe-LAFS's reporter; the image's features decide which tests pass.
const TRIAL_IMAGE: &str = "imagegate-test/trial:latest";

const TRIAL_TESTS: &str = r#"from twisted.trial import unittest


def features():
    with open("/opt/lib/features") as handle:
        return {line.strip() for line in handle if line.strip()}


class Storage(unittest.TestCase):
    def test_alpha(self):
        self.assertIn("alpha", features())

    def test_beta(self):
        self.assertIn("beta", features())

    def test_plain(self):
        self.assertEqual(1 + 1, 2)
"#;

/// Rewrites the suite of `context`'s config: `command`, `rerun` and extra `env` lines.
fn set_suite(context: &TestContext, command: &str, rerun: &str, env: &str) {
    let path = context.path("imagegate.toml");
    let config = fs::read_to_string(&path).unwrap();
    let config = config
        .replace("command = \"sh tests/run.sh\"", &format!("command = {command:?}\n{env}"))
        .replace("rerun = \"sh tests/run.sh {tests}\"", &format!("rerun = {rerun:?}"))
        .replace("list = \"sh tests/run.sh --list\"\n", "");
    fs::write(path, config).unwrap();
}

both_engines!(a_trial_suite_writing_subunit_without_mkdir_is_gated, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha", "beta"], "");
    fs::write(context.path("ci/Dockerfile"), format!("FROM {TRIAL_IMAGE}\nCOPY lib/ /opt/lib/\n")).unwrap();
    fs::create_dir_all(context.path("storage")).unwrap();
    fs::write(context.path("storage/__init__.py"), "").unwrap();
    fs::write(context.path("storage/test_storage.py"), TRIAL_TESTS).unwrap();
    // As Tahoe-LAFS runs it: the reporter writes where SUBUNITREPORTER_OUTPUT_PATH says, and
    // nothing makes that folder first.
    set_suite(
        &context,
        "python3 -m twisted.trial --reporter=subunitv2-file storage",
        "python3 -m twisted.trial --reporter=subunitv2-file {tests}",
        "env = { SUBUNITREPORTER_OUTPUT_PATH = \"/results/results.subunit2\" }",
    );
    context.commit("trial suite");

    let (run, bootstrap) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(bootstrap["decision"], "pass", "{run}");
    assert_eq!(bootstrap["counts"]["tests"], 3, "{run}");
    assert_eq!(bootstrap["counts"]["passed"], 3, "{run}");

    // The image loses a feature: the one test that needs it regresses, by name.
    context.set_features(&["alpha"]);
    context.commit("image without beta");
    let (run, blocked) = context.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(blocked["decision"], "regression");
    assert_eq!(ids(&blocked, "regressions"), vec!["storage.test_storage.Storage.test_beta"], "{run}");
    assert!(context.leftover_containers().is_empty());
});

#[test]
fn a_run_without_results_carries_its_last_output_lines() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    // A reporter that dies before writing anything, as trial's did when its folder was missing.
    set_suite(
        &context,
        "echo collecting; echo 'Traceback (most recent call last):' >&2; echo \"FileNotFoundError: [Errno 2] No such file or directory: '/elsewhere/results.subunit2'\" >&2; exit 1",
        "sh tests/run.sh {tests}",
        "",
    );
    context.commit("broken reporter");
    let (run, report) = context.gate(&[]);
    run.expect_code(3);
    assert_eq!(report["decision"], "error");
    let tail = report["runs"][0]["output_tail"].as_str().unwrap_or_else(|| panic!("no output_tail: {run}"));
    assert!(tail.contains("FileNotFoundError: [Errno 2]"), "{tail}");
    assert!(tail.contains("collecting"), "{tail}");
    // The person reading the CI log sees the reason, not only a path on another machine.
    assert!(run.stderr.contains("FileNotFoundError: [Errno 2]"), "{run}");
    let markdown = context.scratch.join("summary.md");
    let run = context.run(&["gate", "--markdown", markdown.to_str().unwrap()]);
    run.expect_code(3);
    let markdown = fs::read_to_string(markdown).unwrap();
    assert!(markdown.contains("Last lines of the candidate suite run"), "{markdown}");
    assert!(markdown.contains("FileNotFoundError"), "{markdown}");
}

both_engines!(stale_files_in_the_results_folder_are_refused, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    // The image ships a report in the results folder: it must never be read as this run's.
    fs::write(
        context.path("ci/Dockerfile"),
        format!("FROM {}\nCOPY lib/ /opt/lib/\nCOPY lib/features /results/old-junit.xml\n", crate::context::BASE_IMAGE),
    )
    .unwrap();
    context.commit("image with a stale report");
    let run = context.run(&["gate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("already holds 1 file before the suite runs (old-junit.xml)"), "{run}");
    assert!(run.stderr.contains("hint:"), "{run}");
    assert!(context.leftover_containers().is_empty());
    assert_eq!(context.stable_id(), None);
});

#[test]
fn an_unreachable_engine_is_not_silently_replaced_by_another() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    // No `[engine] kind`: the engine is whichever answers.
    let path = context.path("imagegate.toml");
    let config = fs::read_to_string(&path).unwrap().replace("kind = \"docker\"\n", "");
    fs::write(&path, config).unwrap();
    context.commit("no engine configured");
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(report["engine"], "docker");
    let stable = context.stable_id().unwrap();

    // docker stops answering; podman does. The stable tag lives in docker: a gate in podman
    // would bootstrap from nothing and pass.
    let mut command = context.command();
    command.env("IMAGEGATE_DOCKER", context.scratch.join("no-docker-here"));
    let run = crate::context::Run::from(command.args(["gate", "--json", "--promote"]).output().unwrap());
    run.expect_code(3);
    // With --json the failure is a document, not a verdict.
    let document: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(document["schema"], "imagegate.error/v1", "{run}");
    assert_eq!(document["exit_code"], 3, "{run}");
    assert!(run.stderr.contains("docker does not answer"), "{run}");
    assert!(run.stderr.contains("was made in docker"), "{run}");
    assert!(run.stderr.contains("hint: start docker again, or choose an engine: `--engine podman`"), "{run}");
    assert_eq!(context.stable_id().as_deref(), Some(stable.as_str()));
    let in_podman =
        std::process::Command::new("podman").args(["image", "exists", &context.stable_tag]).status().unwrap();
    assert!(!in_podman.success(), "a stable tag was made in podman");

    // Plan says which engine it reads.
    let plan = context.run(&["plan", "--json"]);
    plan.expect_code(0);
    assert_eq!(plan.json()["engine"], "docker");
}

#[test]
fn compare_refuses_a_gate_run_folder_that_holds_both_images() {
    let context = TestContext::new(Engine::Docker, &["alpha", "beta"], "test_a needs:alpha\ntest_b needs:beta\n");
    context.gate(&["--promote"]).0.expect_code(0);
    context.set_features(&["alpha"]);
    context.commit("image without beta");
    let (run, report) = context.gate(&[]);
    run.expect_code(1);
    let log = std::path::PathBuf::from(report["runs"][0]["log"].as_str().unwrap());
    let run_dir = log.parent().and_then(std::path::Path::parent).unwrap();
    let run_dir = run_dir.to_str().unwrap();

    // Read whole, the stable image's passing runs would look like retries of the candidate's
    // failures: a flake, and a pass.
    let compare = context.run(&["compare", run_dir, run_dir]);
    compare.expect_code(2);
    assert!(compare.stderr.contains("holds runs of two images"), "{compare}");
    let incumbent = format!("{run_dir}/incumbent-suite");
    let candidate = format!("{run_dir}/candidate-suite");
    assert!(compare.stderr.contains(&format!("imagegate compare {incumbent} {candidate}")), "{compare}");

    // What the hint says to run gives the gate's answer.
    let compare = context.run(&["compare", "--json", &incumbent, &candidate]);
    compare.expect_code(1);
    assert_eq!(ids(&compare.json(), "regressions"), vec!["it.test_b"]);
}

#[test]
fn build_promote_and_rollback_print_json() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    context.gate(&["--promote"]).0.expect_code(0);
    let first = context.stable_id().unwrap();
    context.set_features(&["alpha", "beta"]);
    context.commit("second image");

    let build = context.run(&["build", "--json"]);
    build.expect_code(0);
    let build = build.json();
    assert_eq!(build["schema"], "imagegate.build/v1");
    assert_eq!(build["engine"], "docker");
    assert_eq!(build["images"][0]["image"], context.image.as_str());
    assert_eq!(build["images"][0]["candidate"]["source"], "built");
    let candidate = build["images"][0]["candidate"]["digest"].as_str().unwrap().to_owned();

    context.gate(&[]).0.expect_code(0);
    let promote = context.run(&["promote", "--json"]);
    promote.expect_code(0);
    let promote = promote.json();
    assert_eq!(promote["schema"], "imagegate.pointer/v1");
    assert_eq!(promote["operation"], "promote");
    assert_eq!(promote["images"][0]["promotion"]["status"], "promoted");
    assert_eq!(promote["images"][0]["promotion"]["to"], candidate.as_str());
    assert_eq!(context.stable_id().as_deref(), Some(candidate.as_str()));

    let rollback = context.run(&["rollback", "--json", &context.image]);
    rollback.expect_code(0);
    let rollback = rollback.json();
    assert_eq!(rollback["operation"], "rollback");
    assert_eq!(rollback["images"][0]["promotion"]["to"], first.as_str());
    assert_eq!(context.stable_id().as_deref(), Some(first.as_str()));

    // Every other document and report says which engine it speaks of, too.
    let test = context.run(&["test", "--json"]);
    test.expect_code(0);
    assert_eq!(test.json()["engine"], "docker");
    let test = context.run(&["test"]);
    assert!(test.stdout.contains("with docker"), "{test}");
    let diff = context.run(&["diff", "--json", &first, &candidate]);
    diff.expect_code(0);
    assert_eq!(diff.json()["engine"], "docker");
    let history = context.run(&["history"]);
    assert!(history.stdout.starts_with("engine: docker\n"), "{history}");
    assert!(context.run(&["plan"]).stdout.starts_with("engine: docker\n"));
}

/// Files of a repository shaped like Tahoe-LAFS's: a Dockerfile in `.circleci/` built with the
/// checkout as context (`ARG TAG` in `FROM`, a COPY of a `.circleci/` file and of `.`), a
/// CircleCI `build-image-*` job through a YAML anchor, and trial run by tox. `base` is the
/// repository of the base image, `tags` that of the images CI pushes.
fn tahoe_shaped(base: &str, tags: &str) -> Vec<(&'static str, String)> {
    let dockerfile = format!(
        "ARG TAG\nFROM {base}/debian:${{TAG}}\nARG PYTHON_VERSION\nENV BUILD_SRC_ROOT /tmp/project\n\
         COPY .circleci/features /etc/acme-features\n# Get the project source.\nCOPY . ${{BUILD_SRC_ROOT}}\n\
         RUN echo python${{PYTHON_VERSION}} > /etc/python-version\n"
    );
    let circleci = format!(
        r#"version: 2.1
workflows:
  images:
    jobs:
      - "build-image-debian-12"
jobs:
  build-image: &BUILD_IMAGE
    docker:
      - image: "cimg/base:2022.09"
    steps:
      - "checkout"
      - run:
          name: "Build image"
          command: |
            docker \
                build \
                --build-arg TAG=${{TAG}} \
                --build-arg PYTHON_VERSION=${{PYTHON_VERSION}} \
                -t {tags}/${{DISTRO}}:${{TAG}}-py${{PYTHON_VERSION}} \
                -f ~/project/.circleci/Dockerfile.${{DISTRO}} \
                ~/project/
  build-image-debian-12:
    <<: *BUILD_IMAGE
    environment:
      DISTRO: "debian"
      TAG: "12"
      PYTHON_VERSION: "3.11"
"#
    );
    let tox = "[tox]\nenvlist = py311\n\n[testenv]\npassenv = SUBUNITREPORTER_*\nsetenv =\n    TEST_SUITE = acme\n\
               commands =\n    python -b -m twisted.trial {env:ACME_TRIAL_ARGS:--rterrors} {posargs:{env:TEST_SUITE}}\n";
    let tests = "from twisted.trial import unittest\n\n\ndef features():\n    with open(\"/etc/acme-features\") as handle:\n        \
                 return {line.strip() for line in handle if line.strip()}\n\n\nclass Features(unittest.TestCase):\n    \
                 def test_alpha(self):\n        self.assertIn(\"alpha\", features())\n\n    \
                 def test_beta(self):\n        self.assertIn(\"beta\", features())\n";
    vec![
        (".circleci/Dockerfile.debian", dockerfile),
        (".circleci/features", "alpha\nbeta\n".to_owned()),
        (".circleci/config.yml", circleci),
        ("tox.ini", tox.to_owned()),
        ("pyproject.toml", "[project]\nname = \"acme\"\n".to_owned()),
        ("acme/__init__.py", "VERSION = 1\n".to_owned()),
        ("acme/test/__init__.py", String::new()),
        ("acme/test/test_features.py", tests.to_owned()),
    ]
}

/// Removes every image whose repository starts with one of the prefixes, however the test ends.
struct RemoveImages(Engine, Vec<String>);

impl Drop for RemoveImages {
    fn drop(&mut self) {
        let output = std::process::Command::new(self.0.name())
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .output()
            .unwrap();
        let tags: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| {
                self.1.iter().any(|prefix| line.trim_start_matches("localhost/").starts_with(prefix.as_str()))
            })
            .map(str::to_owned)
            .collect();
        crate::context::remove_images(self.0, &tags);
    }
}

both_engines!(a_tahoe_shaped_repository_gates_with_the_config_init_wrote, |engine: Engine| {
    let context = TestContext::new(engine, &[], "");
    let unique = context.image.clone();
    let (base, tags) = (format!("imagegate-it-base-{unique}"), format!("imagegate-it-ci-{unique}"));
    let _cleanup = RemoveImages(engine, vec![base.clone(), tags.clone()]);
    let root = context.scratch.join("tahoe-shaped");
    for (path, text) in tahoe_shaped(&base, &tags) {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args(["-c", "user.email=it@example.invalid", "-c", "user.name=it"])
            .args(args)
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "project"]);
    let imagegate = |args: &[&str]| {
        let mut command = context.command();
        command.current_dir(&root).args(["--engine", engine.name()]).args(args);
        crate::context::Run::from(command.output().unwrap())
    };

    imagegate(&["init"]).expect_code(0);
    let config = fs::read_to_string(root.join("imagegate.toml")).unwrap();
    assert!(config.contains(&format!("stable_tag = \"{tags}/debian:12-py3.11\"")), "{config}");
    assert!(fs::read_to_string(root.join(".gitignore")).unwrap().contains(".imagegate"));
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "imagegate"]);

    // The base image `FROM {base}/debian:${TAG}` names is not there yet: the preflight says so.
    let plan = imagegate(&["plan"]);
    plan.expect_code(2);
    assert!(plan.stderr.contains(&format!("`.circleci/Dockerfile.debian:2`: base image `{base}/debian:12`")), "{plan}");
    assert!(plan.stderr.contains("hint:"), "{plan}");

    // With it, the config init wrote gates as it is: trial's subunit reporter, no mkdir.
    let tagged = std::process::Command::new(engine.name())
        .args(["tag", TRIAL_IMAGE, &format!("{base}/debian:12")])
        .status()
        .unwrap();
    assert!(tagged.success());
    imagegate(&["plan"]).expect_code(0);
    let run = imagegate(&["gate", "--json", "--promote"]);
    run.expect_code(0);
    let bootstrap = run.json();
    assert_eq!(bootstrap["counts"]["tests"], 2, "{run}");
    assert_eq!(bootstrap["promotion"]["status"], "promoted", "{run}");

    // A commit that touches only the project keeps the recipe.
    fs::write(root.join("acme/__init__.py"), "VERSION = 2\n").unwrap();
    git(&["commit", "-q", "-a", "-m", "project change"]);
    let plan = imagegate(&["plan", "--json"]);
    plan.expect_code(0);
    let plan = plan.json();
    assert_eq!(plan["images"][0]["action"], "current", "{plan}");
    assert_eq!(plan["images"][0]["inputs_digest"], bootstrap["candidate"]["inputs_digest"]);

    // A change to a file the image copies from `.circleci/` is a new recipe, and its regression
    // is named.
    fs::write(root.join(".circleci/features"), "alpha\n").unwrap();
    git(&["commit", "-q", "-a", "-m", "image without beta"]);
    let run = imagegate(&["gate", "--json", "--promote"]);
    run.expect_code(1);
    let blocked = run.json();
    assert_eq!(blocked["candidate"]["source"], "built");
    assert_eq!(ids(&blocked, "regressions"), vec!["acme.test.test_features.Features.test_beta"], "{run}");
});

#[test]
fn init_ci_never_suggests_force_for_a_ci_configuration_the_project_wrote() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let existing =
        "version: 2.1\njobs:\n  test:\n    docker: [{image: \"cimg/base:2022.09\"}]\n    steps: [checkout]\n";
    fs::create_dir_all(context.path(".circleci")).unwrap();
    fs::write(context.path(".circleci/config.yml"), existing).unwrap();
    // The project's configuration is added to, never replaced, and --force is never the way out.
    let run = context.run(&["init", "--ci", "circleci"]);
    run.expect_code(0);
    assert!(!run.stderr.contains("--force"), "{run}");
    let merged = fs::read_to_string(context.path(".circleci/config.yml")).unwrap();
    assert!(merged.starts_with(existing), "{merged}");
    assert!(merged.contains("\n  imagegate:\n"), "{merged}");
    let again = context.run(&["init", "--ci", "circleci"]);
    again.expect_code(2);
    assert!(again.stderr.contains("a job named `imagegate` already"), "{again}");
    assert!(!again.stderr.contains("--force"), "{again}");
    assert_eq!(fs::read_to_string(context.path(".circleci/config.yml")).unwrap(), merged);

    // A workflow init wrote itself may be written anew, and the hint says how.
    let run = context.run(&["init", "--ci", "github"]);
    run.expect_code(0);
    let again = context.run(&["init", "--ci", "github"]);
    again.expect_code(2);
    assert!(again.stderr.contains("hint: pass `--force` to write it anew"), "{again}");
}

both_engines!(a_failed_build_leaves_no_container_behind, |engine: Engine| {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\n");
    // A base image of this test's own (a label makes its id unique; a second tag would not), so
    // that only a container of this build can descend from it.
    let base = format!("imagegate-it-failed-build-{}:base", context.image);
    let _cleanup = RemoveImages(engine, vec![base.split(':').next().unwrap().to_owned()]);
    let recipe = context.scratch.join("unique-base");
    fs::create_dir_all(&recipe).unwrap();
    fs::write(
        recipe.join("Dockerfile"),
        format!("FROM {}\nLABEL io.imagegate.test.unique={}\n", crate::context::BASE_IMAGE, context.image),
    )
    .unwrap();
    let built =
        std::process::Command::new(engine.name()).args(["build", "-q", "-t", &base]).arg(&recipe).output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    fs::write(context.path("ci/Dockerfile"), format!("FROM {base}\nRUN echo the step fails; false\n")).unwrap();
    context.commit("a failing RUN step");
    let run = context.run(&["build"]);
    run.expect_code(3);
    assert!(run.stderr.contains("the step fails"), "{run}");
    let output = std::process::Command::new(engine.name())
        .args(["ps", "-a", "-q", "--filter", &format!("ancestor={base}")])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(left.is_empty(), "the failed build left container(s) {left}");
});
