//! The starter `imagegate.toml` that `imagegate init` proposes: the project's Dockerfiles
//! found on disk, one image each, with every key explained in a comment.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::load::shown;
use crate::model::{DEFAULT_ATTEMPTS, DEFAULT_NETWORK, DEFAULT_STATE_DIR, DEFAULT_WORKDIR};
use crate::schema::{bare_or_quoted, quoted};

/// Folders never searched: version control, build output and dependencies, which hold
/// other projects' Dockerfiles rather than this one's.
const SKIPPED_FOLDERS: &[&str] = &[".git", "target", "node_modules", DEFAULT_STATE_DIR];

/// How deep below `root` Dockerfiles are looked for: deep enough for `ci/images/debian/`,
/// shallow enough to stay quick in a large checkout.
const MAX_DEPTH: usize = 4;

/// The Dockerfiles of the project at `root`, sorted: files named `Dockerfile`,
/// `Dockerfile.*`, `*.Dockerfile`, `Containerfile`, `Containerfile.*` or `*.Containerfile`,
/// up to four folders deep, outside `.git`, `target`, `node_modules` and the store folder.
pub fn discover_dockerfiles(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .max_depth(MAX_DEPTH + 1)
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !(entry.file_type().is_dir()
                    && SKIPPED_FOLDERS.contains(&entry.file_name().to_string_lossy().as_ref()))
        })
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file() && is_dockerfile_name(&entry.file_name().to_string_lossy()))
        .map(walkdir::DirEntry::into_path)
        .collect();
    found.sort();
    found
}

fn is_dockerfile_name(name: &str) -> bool {
    // `Dockerfile.dockerignore` is the ignore file of a Dockerfile, not a Dockerfile.
    if name.ends_with(".dockerignore") {
        return false;
    }
    ["Dockerfile", "Containerfile"].iter().any(|base| {
        name == *base
            || name.strip_prefix(base).is_some_and(|rest| rest.starts_with('.') && rest.len() > 1)
            || name.strip_suffix(base).is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
    })
}

/// A commented `imagegate.toml` with one image per Dockerfile in `dockerfiles` (absolute, or
/// relative to `project_root`). Each image builds with the Dockerfile's own folder as its
/// context; the suite command is a placeholder for the project's own, which the comments
/// say to replace. With the Dockerfiles in place the result loads as it is.
pub fn starter_config(dockerfiles: &[PathBuf], project_root: &Path) -> String {
    let project = tag_component(
        &std::path::absolute(project_root)
            .ok()
            .and_then(|root| root.file_name().map(|name| name.to_string_lossy().into_owned()))
            .unwrap_or_default(),
    );
    let project = if project.is_empty() { "project".to_owned() } else { project };

    let mut out = String::new();
    out.push_str(
        "# imagegate: build candidate CI images, run the project's test suite in each candidate and in
# the current stable image, and promote a candidate to its stable tag only when it does at
# least as well. Paths below are relative to the folder of this file.

[engine]
# The container engine: \"docker\" or \"podman\". Left out, imagegate uses whichever it finds.
# kind = \"docker\"
# The network of RUN steps while building; left out, the engine's default.
# build_network = \"host\"

[promote]
# The branches whose CI runs may promote a candidate to its stable tag.
branches = [\"main\", \"master\"]

[store]
# Where imagegate keeps its history and run artefacts.
# state_dir = \".imagegate\"
",
    );

    if dockerfiles.is_empty() {
        out.push_str("\n# No Dockerfile was found in this project: write one, then describe it as below.\n");
        let example = Path::new("ci/Dockerfile");
        write_image(&mut out, "ci", example, &project);
        return out;
    }

    let mut used_names = BTreeSet::new();
    for dockerfile in dockerfiles {
        let relative = dockerfile.strip_prefix(project_root).unwrap_or(dockerfile);
        let name = unique_name(&image_name(relative, &project), relative, &mut used_names);
        write_image(&mut out, &name, relative, &project);
    }
    out
}

fn write_image(out: &mut String, name: &str, dockerfile: &Path, project: &str) {
    let context =
        dockerfile.parent().filter(|parent| !parent.as_os_str().is_empty()).map_or_else(|| ".".to_owned(), shown);
    let header = format!("images.{}", bare_or_quoted(name));
    let stable_tag = format!("{project}-ci/{}:stable", tag_component(name));
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "
[{header}]
# The image is built from this Dockerfile, with `context` as the build context. Every file of
# the context (less what its .dockerignore excludes) is part of the image's inputs digest,
# which tells imagegate whether the recipe changed: keep the context small.
dockerfile = {dockerfile}
context = {context}
# build_args = {{ PYTHON_VERSION = \"3.12\" }}
# target = \"test\"
# platform = \"linux/amd64\"
# The tag imagegate moves to a candidate once it passes: point it at your registry.
stable_tag = {stable_tag}
",
        dockerfile = quoted(&shown(dockerfile)),
        context = quoted(&context),
        stable_tag = quoted(&stable_tag),
    );
    if context == "." {
        let _ = write!(
            out,
            "# The context is the whole project: list `{DEFAULT_STATE_DIR}` and `.git` in .dockerignore so that
# imagegate's store and the repository's history are not sent to the engine.
"
        );
    }
    let _ = write!(
        out,
        "
[{header}.suite]
# The command that runs the project's tests inside the image, with /bin/sh -c, in `workdir`
# (where imagegate copies the project). Replace it with the project's own test command.
command = \"./run-tests.sh\"
# The folder in the container where the tests write their reports (JUnit XML or subunit v2);
# imagegate copies it out after the run.
results = \"/results\"
# workdir = \"{DEFAULT_WORKDIR}\"
# env = {{ CI = \"true\" }}
# How long the suite may run before it is stopped.
# timeout = \"1h\"
# How many times in all a test that fails in the candidate is run, the first run included.
# attempts = {DEFAULT_ATTEMPTS}
# Reruns only the failed tests: {{tests}} becomes their ids. Left out, the whole suite reruns.
# rerun = \"./run-tests.sh {{tests}}\"
# The test container's network; \"none\" keeps tests from depending on it.
# network = \"{DEFAULT_NETWORK}\"
"
    );
}

/// `Dockerfile.debian` and `debian.Dockerfile` → `debian`; `ci/Dockerfile` → `ci`; a
/// `Dockerfile` at the root → the project's name.
fn image_name(dockerfile: &Path, project: &str) -> String {
    let file_name = dockerfile.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let from_file = ["Dockerfile", "Containerfile"].iter().find_map(|base| {
        file_name
            .strip_prefix(&format!("{base}."))
            .or_else(|| file_name.strip_suffix(&format!(".{base}")))
            .map(str::to_owned)
    });
    let raw = from_file.unwrap_or_else(|| {
        dockerfile
            .parent()
            .and_then(Path::file_name)
            .map_or_else(|| project.to_owned(), |folder| folder.to_string_lossy().into_owned())
    });
    let name = sanitize_image_name(&raw);
    if name.is_empty() { "ci".to_owned() } else { name }
}

/// Lowercase, with anything outside `[a-z0-9._-]` made `-`, starting with a letter or digit.
fn sanitize_image_name(raw: &str) -> String {
    let lowered: String =
        raw.to_lowercase()
            .chars()
            .map(|character| {
                if character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-') { character } else { '-' }
            })
            .collect();
    lowered.trim_start_matches(|character: char| !character.is_ascii_alphanumeric()).to_owned()
}

/// Two Dockerfiles with the same derived name are told apart by the nearest folder above
/// them whose name is not already part of the image name, then by a number.
fn unique_name(name: &str, dockerfile: &Path, used: &mut BTreeSet<String>) -> String {
    let folder = dockerfile
        .parent()
        .into_iter()
        .flat_map(Path::ancestors)
        .filter_map(Path::file_name)
        .map(|folder| sanitize_image_name(&folder.to_string_lossy()))
        .find(|folder| !folder.is_empty() && folder != name);
    let mut candidates = vec![name.to_owned()];
    if let Some(folder) = folder {
        candidates.push(format!("{folder}-{name}"));
    }
    let chosen = candidates.into_iter().find(|candidate| !used.contains(candidate)).unwrap_or_else(|| {
        (2..)
            .map(|number| format!("{name}-{number}"))
            .find(|candidate| !used.contains(candidate))
            .unwrap_or_else(|| name.to_owned())
    });
    used.insert(chosen.clone());
    chosen
}

/// A valid repository path component: lowercase letters and digits joined by single `-`.
fn tag_component(raw: &str) -> String {
    raw.to_lowercase()
        .split(|character: char| !character.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_dockerfile_names() {
        for name in [
            "Dockerfile",
            "Dockerfile.debian",
            "debian.Dockerfile",
            "Containerfile",
            "Containerfile.alpine",
            "alpine.Containerfile",
        ] {
            assert!(is_dockerfile_name(name), "{name}");
        }
        for name in
            ["Dockerfile.dockerignore", "Dockerfile.", ".Dockerfile", "Dockerfiles", "MyDockerfile", "README.md"]
        {
            assert!(!is_dockerfile_name(name), "{name}");
        }
    }

    #[test]
    fn derives_image_names() {
        let name = |path: &str| image_name(Path::new(path), "acme");
        assert_eq!(name("ci/Dockerfile.debian"), "debian");
        assert_eq!(name("debian.Dockerfile"), "debian");
        assert_eq!(name("ci/Dockerfile"), "ci");
        assert_eq!(name("docker/python/Containerfile"), "python");
        assert_eq!(name("Dockerfile"), "acme");
        assert_eq!(name("Dockerfile.Py3.11"), "py3.11");
        assert_eq!(name("Dockerfile._odd name"), "odd-name");
    }

    #[test]
    fn names_are_made_unique() {
        let mut used = BTreeSet::new();
        let first = unique_name("debian", Path::new("ci/Dockerfile.debian"), &mut used);
        let second = unique_name("debian", Path::new("docker/Dockerfile.debian"), &mut used);
        let third = unique_name("debian", Path::new("docker/Dockerfile.debian"), &mut used);
        assert_eq!((first.as_str(), second.as_str(), third.as_str()), ("debian", "docker-debian", "debian-2"));
    }

    #[test]
    fn tag_components_are_valid_repository_parts() {
        assert_eq!(tag_component("My Project_2"), "my-project-2");
        assert_eq!(tag_component("py3.11"), "py3-11");
        assert_eq!(tag_component("--"), "");
    }

    fn project() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("acme");
        for file in [
            "Dockerfile",
            "ci/Dockerfile.debian",
            "ci/alpine.Containerfile",
            "ci/Dockerfile.debian.dockerignore",
            "docker/debian/Dockerfile",
            "a/b/c/d/Dockerfile",
            "a/b/c/d/e/Dockerfile",
            ".git/Dockerfile",
            "target/Dockerfile",
            "node_modules/pkg/Dockerfile",
            "README.md",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "FROM scratch\n").expect("write");
        }
        (dir, root)
    }

    #[test]
    fn discovers_dockerfiles_outside_skipped_folders_up_to_four_deep() {
        let (_dir, root) = project();
        let found: Vec<String> = discover_dockerfiles(&root)
            .iter()
            .map(|path| shown(path.strip_prefix(&root).expect("inside the root")))
            .collect();
        assert_eq!(
            found,
            [
                "Dockerfile",
                "a/b/c/d/Dockerfile",
                "ci/Dockerfile.debian",
                "ci/alpine.Containerfile",
                "docker/debian/Dockerfile",
            ]
        );
    }

    #[test]
    fn starter_config_loads() {
        let (_dir, root) = project();
        let dockerfiles = discover_dockerfiles(&root);
        let text = starter_config(&dockerfiles, &root);
        let path = root.join(crate::CONFIG_FILE_NAME);
        std::fs::write(&path, &text).expect("write");
        let config = crate::load(&path).unwrap_or_else(|error| panic!("{error}\n\n{text}"));
        let names: Vec<&str> = config.images.keys().map(String::as_str).collect();
        assert_eq!(names, ["acme", "alpine", "d", "debian", "docker-debian"]);
        let debian = &config.images["debian"];
        assert_eq!(debian.dockerfile, root.join("ci/Dockerfile.debian"));
        assert_eq!(debian.context, root.join("ci"));
        assert_eq!(debian.stable_tag, "acme-ci/debian:stable");
        assert_eq!(config.images["acme"].context, root);
        assert_eq!(config.images["docker-debian"].dockerfile, root.join("docker/debian/Dockerfile"));
    }

    #[test]
    fn starter_config_text() {
        let (_dir, root) = project();
        let text = starter_config(&[root.join("ci/Dockerfile.debian")], &root);
        insta::assert_snapshot!(text, @r#"
            # imagegate: build candidate CI images, run the project's test suite in each candidate and in
            # the current stable image, and promote a candidate to its stable tag only when it does at
            # least as well. Paths below are relative to the folder of this file.

            [engine]
            # The container engine: "docker" or "podman". Left out, imagegate uses whichever it finds.
            # kind = "docker"
            # The network of RUN steps while building; left out, the engine's default.
            # build_network = "host"

            [promote]
            # The branches whose CI runs may promote a candidate to its stable tag.
            branches = ["main", "master"]

            [store]
            # Where imagegate keeps its history and run artefacts.
            # state_dir = ".imagegate"

            [images.debian]
            # The image is built from this Dockerfile, with `context` as the build context. Every file of
            # the context (less what its .dockerignore excludes) is part of the image's inputs digest,
            # which tells imagegate whether the recipe changed: keep the context small.
            dockerfile = "ci/Dockerfile.debian"
            context = "ci"
            # build_args = { PYTHON_VERSION = "3.12" }
            # target = "test"
            # platform = "linux/amd64"
            # The tag imagegate moves to a candidate once it passes: point it at your registry.
            stable_tag = "acme-ci/debian:stable"

            [images.debian.suite]
            # The command that runs the project's tests inside the image, with /bin/sh -c, in `workdir`
            # (where imagegate copies the project). Replace it with the project's own test command.
            command = "./run-tests.sh"
            # The folder in the container where the tests write their reports (JUnit XML or subunit v2);
            # imagegate copies it out after the run.
            results = "/results"
            # workdir = "/src"
            # env = { CI = "true" }
            # How long the suite may run before it is stopped.
            # timeout = "1h"
            # How many times in all a test that fails in the candidate is run, the first run included.
            # attempts = 3
            # Reruns only the failed tests: {tests} becomes their ids. Left out, the whole suite reruns.
            # rerun = "./run-tests.sh {tests}"
            # The test container's network; "none" keeps tests from depending on it.
            # network = "none"
            "#);
    }

    #[test]
    fn starter_config_for_the_project_root_mentions_dockerignore() {
        let (_dir, root) = project();
        let text = starter_config(&[PathBuf::from("Dockerfile")], &root);
        assert!(text.contains("[images.acme]"));
        assert!(text.contains("context = \".\""));
        assert!(text.contains("list `.imagegate` and `.git` in .dockerignore"));
    }

    #[test]
    fn starter_config_without_dockerfiles_is_valid_toml() {
        let (_dir, root) = project();
        let text = starter_config(&[], &root);
        assert!(text.contains("No Dockerfile was found"));
        let error = crate::load_str(&root.join(crate::CONFIG_FILE_NAME), &text).expect_err("ci/Dockerfile is absent");
        assert_eq!(error.kind(), crate::ConfigErrorKind::PathNotFound);
    }

    #[test]
    fn quotes_image_names_that_are_not_bare_keys() {
        let (_dir, root) = project();
        std::fs::write(root.join("ci/Dockerfile.py3.12"), "FROM python:3.12\n").expect("write");
        let text = starter_config(&[root.join("ci/Dockerfile.py3.12")], &root);
        assert!(text.contains("[images.\"py3.12\"]"), "{text}");
        assert!(text.contains("[images.\"py3.12\".suite]"), "{text}");
        assert!(text.contains("stable_tag = \"acme-ci/py3-12:stable\""), "{text}");
        let path = root.join(crate::CONFIG_FILE_NAME);
        std::fs::write(&path, &text).expect("write");
        crate::load(&path).unwrap_or_else(|error| panic!("{error}"));
    }
}
