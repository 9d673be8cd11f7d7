//! `imagegate init` on repositories shaped like real ones: Tahoe-LAFS (five Dockerfiles in
//! `.circleci/`, seven variants built by CircleCI jobs merged from one template, the whole
//! checkout as context, trial through tox), a GitHub Actions `build-push-action` matrix and a
//! GitLab `docker build` job. The config it writes must load, `plan` must pass on it, and
//! `gate` must build and run the suite once the suite command is the project's own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::context::{BASE_IMAGE, Engine, Run, remove_images};

/// A throwaway repository, committed, with the files given.
struct Repository {
    _temp: tempfile::TempDir,
    root: PathBuf,
}

impl Repository {
    fn new(files: &[(&str, String)]) -> Repository {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("acme");
        for (path, text) in files {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let repository = Repository { _temp: temp, root };
        repository.git(&["init", "-q", "-b", "main"]);
        repository.git(&["config", "user.email", "it@example.invalid"]);
        repository.git(&["config", "user.name", "it"]);
        repository.commit("project");
        repository
    }

    fn git(&self, args: &[&str]) {
        let output = Command::new("git").args(args).current_dir(&self.root).output().unwrap();
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    fn run(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_imagegate"))
            .args(args)
            .current_dir(&self.root)
            .env_remove("IMAGEGATE_ENGINE")
            .env_remove("IMAGEGATE_CONFIG")
            .env("CI", "true")
            .output()
            .unwrap();
        Run::from(output)
    }

    fn read(&self, path: &str) -> String {
        fs::read_to_string(self.root.join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }
}

/// The seven CircleCI image jobs of Tahoe-LAFS: (job, DISTRO, TAG, PYTHON_VERSION).
const VARIANTS: &[(&str, &str, &str, &str)] = &[
    ("build-image-debian-12", "debian", "12", "3.11"),
    ("build-image-ubuntu-20-04", "ubuntu", "20.04", "3.9"),
    ("build-image-ubuntu-22-04", "ubuntu", "22.04", "3.10"),
    ("build-image-ubuntu-24-04", "ubuntu", "24.04", "3.12"),
    ("build-image-oraclelinux-8", "oraclelinux", "8", "3.9"),
    ("build-image-fedora-35", "fedora", "35", "3"),
    ("build-image-fedora-40", "fedora", "40", "3"),
];

/// A repository in Tahoe-LAFS's shape. Each Dockerfile starts `ARG TAG` / `FROM
/// {base}/DISTRO:${TAG}`, copies a file of `.circleci/` and the whole checkout; `base` is the
/// repository under which the test makes its base images (Tahoe's are `debian`, `ubuntu`, …).
fn tahoe_shaped(base: &str, tag_prefix: &str) -> Vec<(&'static str, String)> {
    let dockerfile = |distro: &str| {
        format!(
            "ARG TAG\nFROM {base}/{distro}:${{TAG}}\nARG PYTHON_VERSION\nENV BUILD_SRC_ROOT /tmp/project\n\
             COPY .circleci/apt-tor-list /etc/tor.list\n\
             # Get the project source.\nCOPY . ${{BUILD_SRC_ROOT}}\n\
             RUN echo python${{PYTHON_VERSION}} > /etc/python-version\n"
        )
    };
    let mut jobs = String::new();
    let mut workflow = String::new();
    for (job, distro, tag, python) in VARIANTS {
        workflow.push_str(&format!("    - \"{job}\":\n        <<: *CONTEXT\n"));
        jobs.push_str(&format!(
            "\n  {job}:\n    <<: *BUILD_IMAGE\n\n    environment:\n      DISTRO: \"{distro}\"\n      TAG: \"{tag}\"\n      PYTHON_VERSION: \"{python}\"\n"
        ));
    }
    let config = format!(
        r#"version: 2.1
dockerhub-context-template: &CONTEXT
  context: "dockerhub-auth"
.images: &IMAGES
  jobs:
{workflow}
workflows:
  ci:
    jobs:
      - "debian-12":
          {{}}
  images:
    <<: *IMAGES
jobs:
  debian-12:
    docker:
      - image: "{tag_prefix}/debian:12-py3.11"
    steps:
      - "checkout"
      - run: "tox -e py311"
  build-image: &BUILD_IMAGE
    environment:
      DISTRO: "{tag_prefix}/<DISTRO>:foo-py3.9"
      TAG: "{tag_prefix}/distro:<TAG>-py3.9"
      PYTHON_VERSION: "{tag_prefix}/distro:tag-py<PYTHON_VERSION}}"
    steps:
      - "checkout"
      - run:
          name: "Build image"
          command: |
            docker \
                build \
                --build-arg TAG=${{TAG}} \
                --build-arg PYTHON_VERSION=${{PYTHON_VERSION}} \
                -t {tag_prefix}/${{DISTRO}}:${{TAG}}-py${{PYTHON_VERSION}} \
                -f ~/project/.circleci/Dockerfile.${{DISTRO}} \
                ~/project/
      - run:
          name: "Push image"
          command: |
            docker push {tag_prefix}/${{DISTRO}}:${{TAG}}-py${{PYTHON_VERSION}}
{jobs}"#
    );
    let tox = "[tox]\nenvlist = py311\n\n[testenv]\nsetenv =\n       TEST_SUITE = acme\ncommands =\n\
               \x20        pip freeze\n\
               \x20        !coverage: python -b -m twisted.trial {env:ACME_TRIAL_ARGS:--rterrors} {posargs:{env:TEST_SUITE}}\n\
               \x20        coverage: python -b -m coverage run -m twisted.trial {posargs:{env:TEST_SUITE}}\n";
    vec![
        (".circleci/Dockerfile.debian", dockerfile("debian")),
        (".circleci/Dockerfile.ubuntu", dockerfile("ubuntu")),
        (".circleci/Dockerfile.fedora", dockerfile("fedora")),
        (".circleci/Dockerfile.oraclelinux", dockerfile("oraclelinux")),
        (".circleci/Dockerfile.pypy", "FROM pypy:2.7-buster\nCOPY . /tmp/project\n".to_owned()),
        (".circleci/apt-tor-list", "deb http://deb.example.invalid/ stable main\n".to_owned()),
        (".circleci/config.yml", config),
        ("tox.ini", tox.to_owned()),
        ("pyproject.toml", "[project]\nname = \"acme\"\n".to_owned()),
        ("src/acme/__init__.py", "VERSION = 1\n".to_owned()),
        (".gitignore", "*.pyc\n".to_owned()),
    ]
}

fn images_by_name(report: &Value) -> Vec<&Value> {
    report["images"].as_array().unwrap().iter().collect()
}

#[test]
fn a_tahoe_shaped_repository_gives_one_image_per_circleci_variant() {
    let repository = Repository::new(&tahoe_shaped("base", "tahoelafsci"));
    let run = repository.run(&["init", "--json"]);
    run.expect_code(0);
    let report = run.json();
    assert_eq!(report["schema"], "imagegate.init/v1");
    let images = images_by_name(&report);
    let enabled: Vec<&&Value> = images.iter().filter(|image| image["enabled"] == true).collect();
    assert_eq!(enabled.len(), 7, "{report:#}");
    for ((job, distro, tag, python), image) in VARIANTS.iter().zip(&enabled) {
        assert_eq!(image["name"], format!("{distro}-{tag}-py{python}"));
        assert_eq!(image["stable_tag"], format!("tahoelafsci/{distro}:{tag}-py{python}"));
        assert_eq!(image["stable_tag_guessed"], false);
        assert_eq!(image["dockerfile"], format!(".circleci/Dockerfile.{distro}"));
        assert_eq!(image["context"], ".");
        assert_eq!(image["build_args"]["TAG"], *tag);
        assert_eq!(image["build_args"]["PYTHON_VERSION"], *python);
        assert_eq!(image["origin"], format!(".circleci/config.yml job {job}"));
        assert_eq!(image["inputs"], serde_json::json!([".circleci/**", "pyproject.toml", "tox.ini"]));
        assert_eq!(image["guesses"], serde_json::json!([]));
    }
    // The Dockerfile no job builds is written commented out, so plan does not trip on it.
    let pypy = images.iter().find(|image| image["name"] == "pypy").unwrap();
    assert_eq!(pypy["enabled"], false);
    assert_eq!(report["suite"]["command"], "python -b -m twisted.trial --reporter=subunitv2-file --rterrors acme");
    assert_eq!(report["suite"]["env"]["SUBUNITREPORTER_OUTPUT_PATH"], "/results/results.subunit2");
    assert_eq!(report["written"], serde_json::json!(["imagegate.toml", ".gitignore", ".dockerignore"]));

    let config = imagegate_config::load(&repository.path("imagegate.toml"))
        .unwrap_or_else(|error| panic!("{error}\n{}", repository.read("imagegate.toml")));
    assert_eq!(config.images.len(), 7);
    let debian = &config.images["debian-12-py3.11"];
    assert_eq!(debian.context, repository.root);
    assert_eq!(
        debian.suite.rerun.as_deref(),
        Some("python -b -m twisted.trial --reporter=subunitv2-file --rterrors {tests}")
    );
    assert!(!debian.suite.command.contains("mkdir"));
    assert_eq!(repository.read(".gitignore"), "*.pyc\n.imagegate/\n");
    assert_eq!(repository.read(".dockerignore"), ".imagegate\n.git\n");

    // A second run finds its own unedited file: it may suggest --force, and --force rewrites
    // without adding the ignore lines twice.
    let again = repository.run(&["init"]);
    again.expect_code(2);
    assert!(again.stderr.contains("--force"), "{again}");
    repository.run(&["init", "--force"]).expect_code(0);
    assert_eq!(repository.read(".gitignore"), "*.pyc\n.imagegate/\n");
    assert_eq!(repository.read(".dockerignore"), ".imagegate\n.git\n");
}

#[test]
fn a_repository_without_dockerfiles_is_refused_and_left_alone() {
    let repository = Repository::new(&[("README.md", "hello\n".to_owned())]);
    let run = repository.run(&["init"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no Dockerfile or Containerfile found"), "{run}");
    assert!(!repository.path("imagegate.toml").exists());
    assert!(!repository.path(".gitignore").exists());
}

#[test]
fn init_never_suggests_force_for_a_file_someone_wrote_or_edited() {
    let repository = Repository::new(&tahoe_shaped("base", "tahoelafsci"));
    repository.run(&["init"]).expect_code(0);
    let written = repository.read("imagegate.toml");
    let edited = written.replace("--rterrors acme", "--rterrors acme.test");
    fs::write(repository.path("imagegate.toml"), &edited).unwrap();
    let run = repository.run(&["init"]);
    run.expect_code(2);
    assert!(run.stderr.contains("was edited since"), "{run}");
    assert!(!run.stderr.contains("--force"), "{run}");
    assert_eq!(repository.read("imagegate.toml"), edited, "nothing overwritten");

    fs::write(repository.path("imagegate.toml"), "[engine]\nkind = \"docker\"\n").unwrap();
    let run = repository.run(&["init"]);
    run.expect_code(2);
    assert!(!run.stderr.contains("--force"), "{run}");
    assert_eq!(repository.read("imagegate.toml"), "[engine]\nkind = \"docker\"\n");
}

#[test]
fn a_github_build_push_action_matrix_gives_one_image_per_combination() {
    let workflow = r#"
name: images
on: [push]
env:
  REGISTRY: ghcr.io/acme
jobs:
  images:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ["3.11", "3.12"]
    steps:
      - uses: actions/checkout@v4
      - uses: docker/build-push-action@v6
        with:
          context: ci
          file: ci/Dockerfile
          build-args: |
            PYTHON_VERSION=${{ matrix.python }}
          tags: |
            ${{ env.REGISTRY }}/ci:py${{ matrix.python }}
            ${{ env.REGISTRY }}/ci:${{ github.sha }}
          target: test
"#;
    let repository = Repository::new(&[
        (".github/workflows/images.yml", workflow.to_owned()),
        (
            "ci/Dockerfile",
            "ARG PYTHON_VERSION\nFROM python:${PYTHON_VERSION} AS test\nCOPY requirements.txt /r.txt\n".to_owned(),
        ),
        ("ci/requirements.txt", "pytest\n".to_owned()),
        ("pyproject.toml", "[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n".to_owned()),
    ]);
    let run = repository.run(&["init", "--json"]);
    run.expect_code(0);
    let report = run.json();
    let images = images_by_name(&report);
    let summary: Vec<(String, String, String)> = images
        .iter()
        .map(|image| {
            (
                image["name"].as_str().unwrap().to_owned(),
                image["stable_tag"].as_str().unwrap().to_owned(),
                image["build_args"]["PYTHON_VERSION"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ci-py3.11".to_owned(), "ghcr.io/acme/ci:py3.11".to_owned(), "3.11".to_owned()),
            ("ci-py3.12".to_owned(), "ghcr.io/acme/ci:py3.12".to_owned(), "3.12".to_owned()),
        ]
    );
    assert_eq!(images[0]["context"], "ci");
    assert_eq!(images[0]["target"], "test");
    assert_eq!(images[0]["inputs"], serde_json::json!([]));
    assert_eq!(images[0]["origin"], ".github/workflows/images.yml job images (python=3.11)");
    assert_eq!(report["suite"]["command"], "python -m pytest --junitxml=/results/junit.xml");
    // Only the state folder is ignored: no image is built from the root.
    assert_eq!(report["written"], serde_json::json!(["imagegate.toml", ".gitignore"]));
    imagegate_config::load(&repository.path("imagegate.toml")).unwrap_or_else(|error| panic!("{error}"));
}

#[test]
fn a_gitlab_docker_build_takes_the_job_variables() {
    let pipeline = r#"
variables:
  IMAGE: registry.example.com/acme/tools
build-image:
  image: docker:27
  services: [docker:27-dind]
  variables:
    GO_VERSION: "1.23"
  script:
    - docker build --pull
        --build-arg GO_VERSION=$GO_VERSION
        --build-arg REVISION=$CI_COMMIT_SHA
        -t $IMAGE:go$GO_VERSION -t $IMAGE:$CI_COMMIT_SHORT_SHA
        -f docker/Dockerfile .
    - docker push $IMAGE:go$GO_VERSION
"#;
    let repository = Repository::new(&[
        (".gitlab-ci.yml", pipeline.to_owned()),
        (
            "docker/Dockerfile",
            "ARG GO_VERSION\nFROM golang:${GO_VERSION}\nARG REVISION\nCOPY go.mod go.sum /src/\n".to_owned(),
        ),
        ("go.mod", "module example.com/acme\n".to_owned()),
        ("go.sum", String::new()),
    ]);
    let run = repository.run(&["init", "--json"]);
    run.expect_code(0);
    let report = run.json();
    let image = &report["images"][0];
    assert_eq!(report["images"].as_array().unwrap().len(), 1, "{report:#}");
    assert_eq!(image["name"], "tools-go1.23");
    assert_eq!(image["stable_tag"], "registry.example.com/acme/tools:go1.23");
    assert_eq!(image["build_args"], serde_json::json!({"GO_VERSION": "1.23"}));
    // The commit is unknown at init time: the arg is left unset, and said so.
    assert_eq!(image["unset_build_args"], serde_json::json!(["REVISION"]));
    assert_eq!(image["context"], ".");
    assert_eq!(image["inputs"], serde_json::json!(["docker/**", "go.mod", "go.sum"]));
    assert_eq!(report["suite"]["command"], "go test -json ./... > /results/go-test.json");
    let text = repository.read("imagegate.toml");
    assert!(
        text.contains("# build_args.REVISION = \"\"  # set me: CI passes `$CI_COMMIT_SHA`, unknown here\n"),
        "{text}"
    );
    let human = repository.run(&["init", "--force"]);
    human.expect_code(0);
    assert!(
        human.stdout.contains("tools-go1.23") && human.stdout.contains("from .gitlab-ci.yml job build-image"),
        "{human}"
    );
    assert!(human.stdout.contains("build arg REVISION is not set"), "{human}");
}

/// Tags the test base image as each `FROM` of the Tahoe-shaped Dockerfiles expects.
fn tag_bases(engine: Engine, base: &str) -> Vec<String> {
    let mut tags = Vec::new();
    for (_, distro, tag, _) in VARIANTS {
        let reference = format!("{base}/{distro}:{tag}");
        let status = Command::new(engine.name()).args(["tag", BASE_IMAGE, &reference]).status().unwrap();
        assert!(status.success(), "tag {reference}");
        tags.push(reference);
    }
    tags
}

fn set_suite_command(config: &Path, command: &str) {
    let text = fs::read_to_string(config).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("command = ") {
            // A JSON string is a valid TOML basic string for this text (quotes and backslashes).
            out.push_str(&format!("command = {}\n", serde_json::to_string(command).unwrap()));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    fs::write(config, out).unwrap();
}

#[test]
fn the_written_config_plans_and_gates_with_only_the_suite_command_changed() {
    let engine = Engine::Docker;
    let unique = format!("it-init-{}", std::process::id());
    let base = format!("imagegate-{unique}");
    let tag_prefix = format!("imagegate-{unique}-ci");
    let repository = Repository::new(&tahoe_shaped(&base, &tag_prefix));
    let mut cleanup = Cleanup(engine, tag_bases(engine, &base));
    repository.run(&["init"]).expect_code(0);
    // The one hand edit: the project's own test command (trial is not in the test base image).
    // It writes JUnit; `mkdir -p` keeps it independent of who creates the results folder.
    set_suite_command(
        &repository.path("imagegate.toml"),
        "mkdir -p /results && test -f /tmp/project/src/acme/__init__.py && echo '<testsuite name=\"acme\" tests=\"1\"><testcase classname=\"acme\" name=\"test_import\"/></testsuite>' > /results/junit.xml",
    );
    repository.commit("imagegate");
    let plan = repository.run(&["--engine", "docker", "plan", "--json"]);
    plan.expect_code(0);
    let plan = plan.json();
    assert_eq!(plan["images"].as_array().unwrap().len(), 7, "{plan:#}");

    let gate = repository.run(&["--engine", "docker", "gate", "--json", "debian-12-py3.11"]);
    let report: Value = serde_json::from_str(gate.stdout.trim()).unwrap_or_else(|_| panic!("{gate}"));
    cleanup.1.extend(report["candidate"]["reference"].as_str().map(str::to_owned));
    assert_eq!(report["decision"], "pass", "{gate}");
    assert_eq!(report["counts"]["tests"], 1, "{gate}");

    // A commit that touches only the project's source keeps the recipe: the candidate is reused.
    fs::write(repository.path("src/acme/__init__.py"), "VERSION = 2\n").unwrap();
    repository.commit("source change");
    let plan = repository.run(&["--engine", "docker", "plan", "--json", "debian-12-py3.11"]);
    plan.expect_code(0);
    assert_eq!(plan.json()["images"][0]["action"], "reuse", "{plan}");
}

/// Removes the images a test tagged, however it ends.
struct Cleanup(Engine, Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_images(self.0, &self.1);
    }
}
