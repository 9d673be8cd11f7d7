//! Each preflight check on a Tahoe-LAFS-shaped project in a temporary folder, with the engine
//! and the network replaced by answers given here (no test contacts any host).

use std::fs;
use std::path::Path;

use imagegate_config::Config;
use tempfile::TempDir;

use super::*;

const DOCKERFILE: &str = "ARG TAG\nFROM debian:${TAG}\nARG PYTHON_VERSION\nENV BUILD_SRC_ROOT=/tmp/project\n\
RUN apt-get install python${PYTHON_VERSION}\nCOPY .circleci/apt-tor-list /etc/apt/sources.list.d/tor.list\n\
COPY . ${BUILD_SRC_ROOT}\n";

const CONFIG: &str = r#"[images.debian-12]
dockerfile = ".circleci/Dockerfile.debian"
context = "."
inputs = [".circleci/**"]
build_args = { TAG = "12", PYTHON_VERSION = "3.11" }
stable_tag = "tahoelafsci/debian:12-py3.11"

[images.debian-12.suite]
command = "tox"
results = "/results"
workdir = "/src"
"#;

struct Project {
    dir: TempDir,
}

impl Project {
    fn new() -> Project {
        let project = Project { dir: tempfile::tempdir().expect("tempdir") };
        project.write(".circleci/Dockerfile.debian", DOCKERFILE);
        project.write(".circleci/apt-tor-list", "deb https://deb.torproject.org/torproject.org bookworm main\n");
        project.write("setup.py", "setup()\n");
        project
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.dir.path().join(relative);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    fn config(&self, text: &str) -> Config {
        self.write("imagegate.toml", text);
        imagegate_config::load(&self.dir.path().join("imagegate.toml")).unwrap_or_else(|error| panic!("{error}"))
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// A network that answers as told and records nothing else.
struct FakeProbe {
    loopback: RegistryAnswer,
    remote: RegistryAnswer,
}

impl RegistryProbe for FakeProbe {
    fn loopback_manifest(&self, _reference: &Reference) -> RegistryAnswer {
        self.loopback.clone()
    }

    fn reachable(&self, _registry: &str) -> RegistryAnswer {
        self.remote.clone()
    }
}

const OFFLINE: FakeProbe = FakeProbe {
    loopback: RegistryAnswer::Unreachable(String::new()),
    remote: RegistryAnswer::Unreachable(String::new()),
};

fn run(config: &Config, local_images: &[&str], probe: &FakeProbe) -> Preflight {
    let mut found = Preflight::default();
    let in_engine = |reference: &str| Ok(local_images.contains(&reference));
    for image in config.images.values() {
        check_image(config, image, &in_engine, probe, &mut found).expect("no engine failure");
    }
    found
}

fn lines(problems: &[PreflightProblem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_complete_project_has_no_problem() {
    let project = Project::new();
    let found = run(&project.config(CONFIG), &["debian:12"], &OFFLINE);
    assert_eq!(found, Preflight::default());
}

#[test]
fn a_required_arg_without_a_build_arg_names_the_dockerfile_line() {
    let project = Project::new();
    let config = project.config(&CONFIG.replace("TAG = \"12\", ", ""));
    let found = run(&config, &["debian:12"], &OFFLINE);
    assert_eq!(
        lines(&found.problems),
        ["`.circleci/Dockerfile.debian:1`: ARG TAG has no default and image `debian-12` sets no build arg TAG\n  \
          hint: add `TAG = \"…\"` to `build_args` of [images.debian-12] in `imagegate.toml:5`, or give the ARG a default"],
        "the unresolved FROM is not reported twice"
    );
}

#[test]
fn every_missing_arg_is_reported_not_only_the_first() {
    let project = Project::new();
    let config = project.config(&CONFIG.replace("build_args = { TAG = \"12\", PYTHON_VERSION = \"3.11\" }\n", ""));
    let found = run(&config, &[], &OFFLINE);
    let at: Vec<(String, Option<usize>)> =
        found.problems.iter().map(|problem| (problem.file.clone(), problem.line)).collect();
    assert_eq!(
        at,
        [(".circleci/Dockerfile.debian".to_owned(), Some(1)), (".circleci/Dockerfile.debian".to_owned(), Some(3))]
    );
    assert!(found.problems[1].hint.contains("`imagegate.toml:1`"), "no build_args key: the table's line");
}

#[test]
fn a_copy_source_missing_from_the_context_is_a_problem() {
    let project = Project::new();
    fs::remove_file(project.root().join(".circleci/apt-tor-list")).expect("remove");
    let found = run(&project.config(CONFIG), &["debian:12"], &OFFLINE);
    assert_eq!(
        lines(&found.problems),
        ["`.circleci/Dockerfile.debian:6`: COPY source `.circleci/apt-tor-list` is not in the build context `.`\n  \
          hint: COPY sources are relative to the build context `.`: add `.circleci/apt-tor-list` there, or fix the path"]
    );
}

#[test]
fn a_context_too_narrow_for_the_sources_suggests_the_root() {
    let project = Project::new();
    let config = project.config(
        &CONFIG.replace("context = \".\"", "context = \".circleci\"").replace("inputs = [\".circleci/**\"]\n", ""),
    );
    let found = run(&config, &["debian:12"], &OFFLINE);
    assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
    assert!(found.problems[0].hint.contains("set `context = \".\"`"), "{}", found.problems[0]);
}

#[test]
fn a_copy_source_excluded_by_the_dockerignore_is_a_problem() {
    let project = Project::new();
    project.write(".dockerignore", ".circleci/apt-*\n");
    let found = run(&project.config(CONFIG), &["debian:12"], &OFFLINE);
    assert_eq!(found.problems.len(), 1);
    assert!(found.problems[0].message.contains("excluded from the build context by its `.dockerignore`"));
}

#[test]
fn copy_sources_expand_args_and_match_globs() {
    let project = Project::new();
    project.write(
        ".circleci/Dockerfile.debian",
        "FROM debian:12\nARG CI_DIR=.circleci\nCOPY ${CI_DIR}/apt-* /etc/\nCOPY *.py /src/\nCOPY --from=debian:12 /etc/os-release /x\nCOPY *.cfg /src/\n",
    );
    let found = run(&project.config(CONFIG), &["debian:12"], &OFFLINE);
    assert_eq!(lines(&found.problems).len(), 1, "{:?}", found.problems);
    assert_eq!(found.problems[0].line, Some(6));
}

#[test]
fn a_base_image_absent_offline_is_a_problem_with_the_hint() {
    let project = Project::new();
    let found = run(&project.config(CONFIG), &[], &OFFLINE);
    assert_eq!(found.problems.len(), 1);
    let problem = &found.problems[0];
    assert_eq!(problem.line, Some(2));
    assert!(problem.message.starts_with("base image `debian:12` is not in the engine"), "{problem}");
    assert!(problem.hint.contains("import/tag a local image as `debian:12`"), "{problem}");
}

#[test]
fn a_base_image_the_build_can_pull_is_a_warning() {
    let project = Project::new();
    let online = FakeProbe { loopback: RegistryAnswer::Absent, remote: RegistryAnswer::Present };
    let found = run(&project.config(CONFIG), &[], &online);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert_eq!(found.warnings.len(), 1);
    assert!(found.warnings[0].message.contains("the build will pull it from `docker.io`"));
}

#[test]
fn a_loopback_registry_is_asked() {
    let project = Project::new();
    project.write(".circleci/Dockerfile.debian", "FROM 127.0.0.1:5000/base/debian:12\nFROM localhost:5000/other\n");
    let config = project.config(CONFIG);
    let has_it = FakeProbe { loopback: RegistryAnswer::Present, remote: RegistryAnswer::Unreachable(String::new()) };
    assert_eq!(run(&config, &[], &has_it), Preflight::default());
    let lacks_it = FakeProbe { loopback: RegistryAnswer::Absent, remote: RegistryAnswer::Present };
    let found = run(&config, &[], &lacks_it);
    assert_eq!(found.problems.len(), 2);
    assert!(found.problems[0].message.contains("nor in the registry `127.0.0.1:5000`"), "{}", found.problems[0]);
}

#[test]
fn stages_after_the_target_are_not_checked() {
    let project = Project::new();
    project.write(
        ".circleci/Dockerfile.debian",
        "FROM debian:12 AS test\nCOPY setup.py /src/\nFROM absent:1 AS release\nARG NEEDED\nRUN echo $NEEDED\nCOPY missing /x\n",
    );
    let targeted = project.config(&CONFIG.replace("stable_tag =", "target = \"test\"\nstable_tag ="));
    assert_eq!(run(&targeted, &["debian:12"], &OFFLINE), Preflight::default());
    let whole = project.config(CONFIG);
    assert_eq!(run(&whole, &["debian:12"], &OFFLINE).problems.len(), 3, "without a target every stage counts");
}

#[test]
fn stages_and_scratch_need_no_image() {
    let project = Project::new();
    project.write(".circleci/Dockerfile.debian", "FROM scratch AS base\nFROM base\n");
    assert_eq!(run(&project.config(CONFIG), &[], &OFFLINE), Preflight::default());
}

#[test]
fn an_unset_variable_in_from_that_is_no_arg_is_a_problem() {
    let project = Project::new();
    project.write(".circleci/Dockerfile.debian", "FROM debian:${UNDECLARED}\n");
    let found = run(&project.config(CONFIG), &[], &OFFLINE);
    assert_eq!(found.problems.len(), 1);
    assert!(found.problems[0].message.contains("uses `UNDECLARED`, which has no value"), "{}", found.problems[0]);
}

#[test]
fn suite_folders_must_be_apart_and_not_system_folders() {
    let project = Project::new();
    let same = project.config(&CONFIG.replace("workdir = \"/src\"", "workdir = \"/results/\""));
    let found = run(&same, &["debian:12"], &OFFLINE);
    assert_eq!(
        lines(&found.problems),
        [
            "`imagegate.toml:10`: `results` and `workdir` in [images.debian-12.suite] are the same folder `/results`, so the checkout would be read as results\n  \
          hint: keep results apart from the checkout, e.g. results = \"/results\""
        ]
    );
    let system = project.config(&CONFIG.replace("results = \"/results\"", "results = \"/usr\""));
    let found = run(&system, &["debian:12"], &OFFLINE);
    assert_eq!(found.problems.len(), 1);
    assert_eq!(found.problems[0].line, Some(10));
    assert!(found.problems[0].message.contains("the system folder `/usr`"));
    let holding = project
        .config(&CONFIG.replace("results = \"/results\"", "results = \"/work\"").replace("\"/src\"", "\"/work/src\""));
    assert_eq!(run(&holding, &["debian:12"], &OFFLINE).problems.len(), 1);
}

#[test]
fn the_root_context_without_inputs_is_a_warning() {
    let project = Project::new();
    let config = project.config(&CONFIG.replace("inputs = [\".circleci/**\"]\n", ""));
    let found = run(&config, &["debian:12"], &OFFLINE);
    assert!(found.problems.is_empty());
    assert_eq!(found.warnings.len(), 1);
    let warning = found.warnings[0].to_string();
    assert!(warning.contains("every commit is a new recipe"), "{warning}");
    assert!(warning.contains("inputs = [\".circleci/**\"]"), "{warning}");
}

#[test]
fn loopback_hosts() {
    for host in ["localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000", "LOCALHOST"] {
        assert!(is_loopback(host), "{host}");
    }
    for host in ["docker.io", "ghcr.io", "10.0.0.1:5000", "localhost.example.com"] {
        assert!(!is_loopback(host), "{host}");
    }
}

#[test]
fn a_loopback_registry_that_refuses_the_connection_is_unreachable() {
    // Port 9 (discard) on loopback: nothing listens there on a test machine, or it is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let reference = Reference::parse(&format!("127.0.0.1:{port}/absent/base:1")).expect("reference");
    assert!(matches!(NetworkProbe.loopback_manifest(&reference), RegistryAnswer::Unreachable(_)));
}
