//! The starter `imagegate.toml` that `imagegate init` writes, from what it learned of the
//! project: [`Project::read`] lists the checkout and reads the files that matter (the only
//! I/O here), [`propose`] turns that into images and a suite, and [`starter_config`] writes
//! them as a commented file that loads as it is.
//!
//! - `ci_builds/`: the `docker build` / build-push-action invocations of the project's CI
//!   (GitHub Actions, GitLab CI, CircleCI), with their variables substituted;
//! - `suite.rs`: the suite from tox.ini, pytest, go, cargo or npm configuration;
//! - `proposal.rs`: images from those invocations and from the Dockerfiles themselves
//!   (required ARGs, the context that holds every COPY source, `inputs`);
//! - `ignore_files.rs`: the lines added to `.gitignore` and `.dockerignore`.

mod ci_builds;
mod ignore_files;
mod project;
mod proposal;
mod suite;

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

pub use ignore_files::with_entries;
pub use project::{GitFacts, Project};
pub use proposal::{Proposal, ProposedArg, ProposedImage, propose};
pub use suite::ProposedSuite;

use crate::model::{DEFAULT_ATTEMPTS, DEFAULT_NETWORK, DEFAULT_WORKDIR};
use crate::schema::{bare_or_quoted, quoted};

/// The first words of the file `init` writes: what tells a later `init` that the file is its
/// own, and so may be replaced with `--force` while unedited.
const MARKER: &str = "# Written by `imagegate init`";

/// Who wrote an existing `imagegate.toml`, as far as `init` can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorship {
    /// `init` wrote it and it is unchanged since: replacing it loses nothing.
    Unedited,
    /// `init` wrote it and someone edited it since.
    Edited,
    /// Someone else wrote it.
    User,
}

/// Tells who wrote `text`, from its first line: the marker with the digest of the rest of
/// the file as `init` wrote it.
pub fn authorship(text: &str) -> Authorship {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let Some(written) = first.strip_prefix(MARKER) else { return Authorship::User };
    if written.contains(&body_digest(rest)) { Authorship::Unedited } else { Authorship::Edited }
}

fn body_digest(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..6])
}

/// The `imagegate.toml` for `proposal`: every image (those `init` is unsure of commented
/// out), each with the suite, and comments wherever `init` guessed.
pub fn starter_config(proposal: &Proposal) -> String {
    let mut out = String::new();
    out.push_str(
        "# imagegate: build candidate CI images, run the project's test suite in each candidate and in
# the current stable image, and promote a candidate to its stable tag only when it does at
# least as well. Paths are relative to the folder of this file.
#
# Each image is built from `dockerfile` with `context` as the build context; its inputs digest
# (Dockerfile, the files of the context or of `inputs`, build args, target, platform) tells
# imagegate whether the recipe changed. `stable_tag` is the tag imagegate moves to a candidate
# once it passes. Each suite runs `command` with /bin/sh -c in `workdir` (where the project is
# copied in) and must write per-test results (JUnit XML, TAP, subunit v2, go test -json,
# libtest JSON) into `results`, which imagegate creates empty before the run.
# An image whose context is the whole checkout (it copies the project in) lists in `inputs`
# the files that define it: its Dockerfile's folder, what else it copies, the dependency
# manifests. Without it every commit would be a new recipe to build and gate.
# Lines marked `guessed` or `set me` are where init was not sure.

[engine]
# The container engine: \"docker\" or \"podman\". Left out, imagegate uses whichever it finds.
# kind = \"docker\"
# The network of RUN steps while building; left out, the engine's default.
# build_network = \"host\"

[promote]
# The branches whose CI runs may promote a candidate to its stable tag.
",
    );
    // A default branch other than the usual two is named alone; otherwise both usual names
    // stay, so that a checkout git says nothing of still promotes from its default branch.
    match proposal.default_branch.as_deref() {
        Some(branch) if !["main", "master"].contains(&branch) => {
            let _ = writeln!(out, "branches = [{}]", quoted(branch));
        }
        _ => out.push_str("branches = [\"main\", \"master\"]\n"),
    }
    out.push_str(
        "
[store]
# Where imagegate keeps its history and run artefacts.
# state_dir = \".imagegate\"
",
    );
    if let Some(registry) = &proposal.registry {
        let _ = writeln!(
            out,
            "# Candidates, stable tags and records live in this registry, which outlives the CI runner.\n\
             registry = {}",
            quoted(registry)
        );
    }
    if proposal.images.is_empty() {
        out.push_str("\n# No Dockerfile was found in this project: write one, then describe it as [images.NAME].\n");
    }
    for image in &proposal.images {
        let mut block = String::new();
        write_image(&mut block, image, &proposal.suite);
        if image.enabled {
            out.push_str(&block);
        } else {
            for line in block.lines() {
                out.push_str(if line.is_empty() || line.starts_with('#') { "#" } else { "# " });
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    format!("{MARKER} (unedited while this reads {}).\n{out}", body_digest(&out))
}

fn write_image(out: &mut String, image: &ProposedImage, suite: &ProposedSuite) {
    let header = format!("images.{}", bare_or_quoted(&image.name));
    // Writing into a String cannot fail.
    let _ = writeln!(out);
    if !image.enabled {
        let _ = writeln!(out, "# From {}: uncomment to gate it.", image.origin);
    }
    let _ = writeln!(out, "[{header}]");
    if image.enabled {
        let _ = writeln!(out, "# From {}.", image.origin);
    }
    for guess in &image.guesses {
        let _ = writeln!(out, "# guessed: {guess}.");
    }
    let _ = writeln!(out, "dockerfile = {}", quoted(&image.dockerfile));
    let _ = writeln!(out, "context = {}", quoted(&image.context));
    if !image.inputs.is_empty() {
        let _ = writeln!(out, "# The context is the whole checkout: only the files `inputs` names define the image.");
        let patterns: Vec<String> = image.inputs.iter().map(|pattern| quoted(pattern)).collect();
        let _ = writeln!(out, "inputs = [{}]", patterns.join(", "));
    }
    for arg in &image.build_args {
        let key = format!("build_args.{}", bare_or_quoted(&arg.name));
        let comment = arg.comment.as_deref().map(|comment| format!("  # {comment}")).unwrap_or_default();
        match &arg.value {
            Some(value) => {
                let _ = writeln!(out, "{key} = {}{comment}", quoted(value));
            }
            None => {
                let _ = writeln!(out, "# {key} = \"\"{comment}");
            }
        }
    }
    if let Some(target) = &image.target {
        let _ = writeln!(out, "target = {}", quoted(target));
    }
    if let Some(platform) = &image.platform {
        let _ = writeln!(out, "platform = {}", quoted(platform));
    }
    if image.stable_tag_guessed {
        let _ = writeln!(out, "# guessed: made up; point it at the tag your CI jobs run in.");
    }
    let _ = writeln!(out, "stable_tag = {}", quoted(&image.stable_tag));

    let _ = writeln!(out, "\n[{header}.suite]");
    if suite.placeholder {
        let _ = writeln!(out, "# set me: replace the command with the project's own test command.");
    } else {
        let _ = writeln!(out, "# From {}.", suite.source);
    }
    for guess in &suite.guesses {
        let _ = writeln!(out, "# guessed: {guess}.");
    }
    let _ = writeln!(out, "command = {}", quoted(&suite.command));
    let _ = writeln!(out, "results = {}", quoted(&suite.results));
    if !suite.env.is_empty() {
        let pairs: Vec<String> =
            suite.env.iter().map(|(name, value)| format!("{} = {}", bare_or_quoted(name), quoted(value))).collect();
        let _ = writeln!(out, "env = {{ {} }}", pairs.join(", "));
    }
    match &suite.rerun {
        Some(rerun) => {
            let _ = writeln!(out, "# Reruns only the failed tests: {{tests}} becomes their ids.");
            let _ = writeln!(out, "rerun = {}", quoted(rerun));
        }
        None => {
            let _ = writeln!(
                out,
                "# rerun = \"… {{tests}}\"   # rerun only the failed tests; left out, the whole suite reruns"
            );
        }
    }
    let _ = writeln!(
        out,
        "# workdir = \"{DEFAULT_WORKDIR}\"\n# timeout = \"1h\"\n# attempts = {DEFAULT_ATTEMPTS}\n# network = \"{DEFAULT_NETWORK}\""
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project in the shape of Tahoe-LAFS: five Dockerfiles in `.circleci/`, four of them
    /// built by CircleCI jobs merged from one template (seven variants), each copying the
    /// whole checkout; trial through tox.
    pub(crate) const TAHOE_SHAPED: &[(&str, &str)] = &[
        (
            ".circleci/Dockerfile.debian",
            "ARG TAG\nFROM debian:${TAG}\nARG PYTHON_VERSION\nCOPY .circleci/apt-list /etc/apt/sources.list.d/x.list\nCOPY . /tmp/project\nRUN /tmp/project/.circleci/prepare.sh python${PYTHON_VERSION}\n",
        ),
        (".circleci/Dockerfile.ubuntu", "ARG TAG\nFROM ubuntu:${TAG}\nARG PYTHON_VERSION\nCOPY . /tmp/project\n"),
        (".circleci/Dockerfile.fedora", "ARG TAG\nFROM fedora:${TAG}\nARG PYTHON_VERSION\nCOPY . /tmp/project\n"),
        (
            ".circleci/Dockerfile.oraclelinux",
            "ARG TAG\nFROM oraclelinux:${TAG}\nARG PYTHON_VERSION\nCOPY . /tmp/project\n",
        ),
        (".circleci/Dockerfile.pypy", "FROM pypy:2.7-buster\nCOPY . /tmp/project\n"),
        (".circleci/apt-list", "deb x y\n"),
        (".circleci/prepare.sh", "#!/bin/sh\n"),
        (
            ".circleci/config.yml",
            r#"
version: 2.1
.images: &IMAGES
  jobs:
    - "build-image-debian-12"
    - "build-image-ubuntu-20-04"
    - "build-image-ubuntu-22-04"
    - "build-image-ubuntu-24-04"
    - "build-image-oraclelinux-8"
    - "build-image-fedora-35"
    - "build-image-fedora-40"
workflows:
  images:
    <<: *IMAGES
jobs:
  build-image: &BUILD_IMAGE
    environment:
      DISTRO: "x"
      TAG: "x"
      PYTHON_VERSION: "x"
    steps:
      - "checkout"
      - run:
          name: "Build image"
          command: |
            docker \
                build \
                --build-arg TAG=${TAG} \
                --build-arg PYTHON_VERSION=${PYTHON_VERSION} \
                -t acmeci/${DISTRO}:${TAG}-py${PYTHON_VERSION} \
                -f ~/project/.circleci/Dockerfile.${DISTRO} \
                ~/project/
  build-image-debian-12:
    <<: *BUILD_IMAGE
    environment: { DISTRO: "debian", TAG: "12", PYTHON_VERSION: "3.11" }
  build-image-ubuntu-20-04:
    <<: *BUILD_IMAGE
    environment: { DISTRO: "ubuntu", TAG: "20.04", PYTHON_VERSION: "3.9" }
  build-image-ubuntu-22-04:
    <<: *BUILD_IMAGE
    environment: { DISTRO: "ubuntu", TAG: "22.04", PYTHON_VERSION: "3.10" }
  build-image-ubuntu-24-04:
    <<: *BUILD_IMAGE
    environment: { DISTRO: "ubuntu", TAG: "24.04", PYTHON_VERSION: "3.12" }
  build-image-oraclelinux-8:
    <<: *BUILD_IMAGE
    environment: { DISTRO: "oraclelinux", TAG: "8", PYTHON_VERSION: "3.9" }
  build-image-fedora-35:
    <<: *BUILD_IMAGE
    environment: { DISTRO: "fedora", TAG: "35", PYTHON_VERSION: "3" }
  build-image-fedora-40:
    <<: *BUILD_IMAGE
    environment: { DISTRO: "fedora", TAG: "40", PYTHON_VERSION: "3" }
"#,
        ),
        (
            "tox.ini",
            "[testenv]\nsetenv =\n    TEST_SUITE = acme\ncommands =\n    !coverage: python -b -m twisted.trial {env:ACME_TRIAL_ARGS:--rterrors} {posargs:{env:TEST_SUITE}}\n",
        ),
        ("setup.py", ""),
        ("pyproject.toml", "[project]\nname = \"acme\"\n"),
        ("src/acme/__init__.py", ""),
    ];

    #[test]
    fn a_tahoe_shaped_project_gives_one_image_per_ci_variant() {
        let proposal = propose(&Project::from_files("acme", TAHOE_SHAPED.iter().copied()));
        let enabled: Vec<(&str, &str, String)> = proposal
            .images
            .iter()
            .filter(|image| image.enabled)
            .map(|image| {
                let args: Vec<String> = image
                    .build_args
                    .iter()
                    .map(|arg| format!("{}={}", arg.name, arg.value.as_deref().unwrap_or("?")))
                    .collect();
                (image.name.as_str(), image.stable_tag.as_str(), args.join(" "))
            })
            .collect();
        assert_eq!(
            enabled,
            [
                ("debian-12-py3.11", "acmeci/debian:12-py3.11", "PYTHON_VERSION=3.11 TAG=12".to_owned()),
                ("ubuntu-20.04-py3.9", "acmeci/ubuntu:20.04-py3.9", "PYTHON_VERSION=3.9 TAG=20.04".to_owned()),
                ("ubuntu-22.04-py3.10", "acmeci/ubuntu:22.04-py3.10", "PYTHON_VERSION=3.10 TAG=22.04".to_owned()),
                ("ubuntu-24.04-py3.12", "acmeci/ubuntu:24.04-py3.12", "PYTHON_VERSION=3.12 TAG=24.04".to_owned()),
                ("oraclelinux-8-py3.9", "acmeci/oraclelinux:8-py3.9", "PYTHON_VERSION=3.9 TAG=8".to_owned()),
                ("fedora-35-py3", "acmeci/fedora:35-py3", "PYTHON_VERSION=3 TAG=35".to_owned()),
                ("fedora-40-py3", "acmeci/fedora:40-py3", "PYTHON_VERSION=3 TAG=40".to_owned()),
            ]
        );
        let debian = &proposal.images[0];
        assert_eq!(debian.origin, ".circleci/config.yml job build-image-debian-12");
        assert_eq!(debian.context, ".");
        assert_eq!(debian.inputs, [".circleci/**", "setup.py", "pyproject.toml", "tox.ini"]);
        assert!(debian.guesses.is_empty(), "{:?}", debian.guesses);
        // The fifth Dockerfile, which no job builds, is proposed commented out.
        let pypy = proposal.images.iter().find(|image| image.dockerfile.ends_with("pypy")).expect("pypy");
        assert!(!pypy.enabled);
        assert_eq!(pypy.context, ".");
        assert!(proposal.notes.is_empty(), "{:?}", proposal.notes);
        assert_eq!(proposal.suite.command, "python -b -m twisted.trial --reporter=subunitv2-file --rterrors acme");
    }

    #[test]
    fn the_written_config_is_marked_and_names_its_guesses() {
        let proposal = propose(&Project::from_files("acme", TAHOE_SHAPED.iter().copied()));
        let text = starter_config(&proposal);
        assert_eq!(authorship(&text), Authorship::Unedited);
        assert_eq!(authorship(&text.replace("--rterrors", "--rterrors -j4")), Authorship::Edited);
        assert_eq!(authorship("[engine]\n"), Authorship::User);
        assert!(
            text.contains("[images.\"debian-12-py3.11\"]\n# From .circleci/config.yml job build-image-debian-12.\n"),
            "{text}"
        );
        assert!(text.contains("build_args.TAG = \"12\"\n"), "{text}");
        assert!(text.contains("stable_tag = \"acmeci/debian:12-py3.11\"\n"), "{text}");
        assert!(text.contains("env = { SUBUNITREPORTER_OUTPUT_PATH = \"/results/results.subunit2\" }"), "{text}");
        assert!(text.contains("# [images.pypy]\n"), "{text}");
        let parsed: toml::Table = toml::from_str(&text).expect("valid TOML");
        let images = parsed["images"].as_table().expect("images");
        assert_eq!(images.len(), 7);
        assert!(!images.contains_key("pypy"));
    }

    fn write(root: &std::path::Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
    }

    #[test]
    fn the_written_config_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("acme");
        write(&root, TAHOE_SHAPED);
        let text = starter_config(&propose(&Project::read(&root).expect("read")));
        let path = root.join(crate::CONFIG_FILE_NAME);
        std::fs::write(&path, &text).expect("write");
        let config = crate::load(&path).unwrap_or_else(|error| panic!("{error}\n\n{text}"));
        assert_eq!(config.images.len(), 7);
        let debian = &config.images["debian-12-py3.11"];
        assert_eq!(debian.dockerfile, root.join(".circleci/Dockerfile.debian"));
        assert_eq!(debian.context, root);
        assert_eq!(debian.build_args["PYTHON_VERSION"], "3.11");
        assert_eq!(debian.suite.env["SUBUNITREPORTER_OUTPUT_PATH"], "/results/results.subunit2");
    }

    #[test]
    fn starter_config_text() {
        let files = [
            ("ci/Dockerfile", "ARG BASE\nFROM ${BASE}\nCOPY lib/ /opt/lib/\n"),
            ("ci/lib/features", "alpha\n"),
            ("go.mod", "module acme\n"),
        ];
        let text = starter_config(&propose(&Project::from_files("acme", files)));
        let body = text.split_once("[store]").expect("store").1;
        insta::assert_snapshot!(body, @r#"
        # Where imagegate keeps its history and run artefacts.
        # state_dir = ".imagegate"

        [images.ci]
        # From ci/Dockerfile.
        dockerfile = "ci/Dockerfile"
        context = "ci"
        # build_args.BASE = ""  # set me: ARG BASE (line 1) has no default, used by FROM ${BASE} (line 2)
        # guessed: made up; point it at the tag your CI jobs run in.
        stable_tag = "acme-ci/ci:stable"

        [images.ci.suite]
        # From go.mod.
        # guessed: every package's tests, as `go test ./...` runs them.
        command = "go test -json ./... > /results/go-test.json"
        results = "/results"
        # rerun = "… {tests}"   # rerun only the failed tests; left out, the whole suite reruns
        # workdir = "/src"
        # timeout = "1h"
        # attempts = 3
        # network = "none"
        "#);
    }

    #[test]
    fn quotes_image_names_that_are_not_bare_keys() {
        let files = [("ci/Dockerfile.py3.12", "FROM python:3.12\n")];
        let text = starter_config(&propose(&Project::from_files("acme", files)));
        assert!(text.contains("[images.\"py3.12\"]"), "{text}");
        assert!(text.contains("[images.\"py3.12\".suite]"), "{text}");
        assert!(text.contains("stable_tag = \"acme-ci/py3-12:stable\""), "{text}");
        toml::from_str::<toml::Table>(&text).expect("valid TOML");
    }
}
