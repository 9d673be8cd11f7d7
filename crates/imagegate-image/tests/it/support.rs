//! What the integration tests share: the engines they need, the test images made by
//! `scripts/test-images.sh`, and those images saved as archives in each format (cached by image
//! id, so that reruns save nothing again).
//!
//! A missing engine or image fails the test with a hint, never skips it: `make test` starts the
//! engines and builds the images first.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub const DEBIAN_PY_A: &str = "imagegate-test/debian-py:a";
pub const DEBIAN_PY_B: &str = "imagegate-test/debian-py:b";
pub const DEBIAN_PY_WHITEOUTS: &str = "imagegate-test/debian-py:whiteouts";
pub const LAYERS: &str = "imagegate-test/layers:latest";
pub const NPM: &str = "imagegate-test/npm:latest";
pub const APK: &str = "imagegate-test/apk:latest";
pub const RPM: &str = "imagegate-test/rpm:latest";

const BUILD_HINT: &str = "hint: build the test images with `scripts/test-images.sh` (`make test` does)";

/// How an image is turned into an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// `docker save` (docker-archive).
    Docker,
    /// `podman save` (docker-archive, podman's default).
    PodmanDockerArchive,
    /// `podman save --format oci-archive`.
    PodmanOciArchive,
    /// `skopeo copy docker-daemon:… oci-archive:…` with gzip-compressed layers.
    SkopeoOciGzip,
    /// The same with zstd-compressed layers.
    SkopeoOciZstd,
}

impl Saved {
    fn slug(self) -> &'static str {
        match self {
            Self::Docker => "docker-save",
            Self::PodmanDockerArchive => "podman-docker-archive",
            Self::PodmanOciArchive => "podman-oci-archive",
            Self::SkopeoOciGzip => "skopeo-oci-gzip",
            Self::SkopeoOciZstd => "skopeo-oci-zstd",
        }
    }

    fn engine(self) -> &'static str {
        match self {
            Self::PodmanDockerArchive | Self::PodmanOciArchive => "podman",
            Self::Docker | Self::SkopeoOciGzip | Self::SkopeoOciZstd => "docker",
        }
    }
}

/// Runs a command to completion; `Err` holds what it printed on failure.
fn run(program: &str, arguments: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("could not run {program}: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            arguments.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Fails the test unless `engine` answers.
pub fn require_engine(engine: &str) {
    static DOCKER: OnceLock<Result<String, String>> = OnceLock::new();
    static PODMAN: OnceLock<Result<String, String>> = OnceLock::new();
    let checked = match engine {
        "docker" => DOCKER.get_or_init(|| run("docker", &["info", "--format", "{{.ServerVersion}}"])),
        _ => PODMAN.get_or_init(|| run("podman", &["info", "--format", "{{.Version.Version}}"])),
    };
    if let Err(problem) = checked {
        panic!(
            "{engine} is not reachable, and this test reads images saved by it: {problem}\n\
             hint: start it with `scripts/engines.sh {engine}` (`make test` does)"
        );
    }
}

/// The id (hex, without `sha256:`) of a test image in `engine`; fails the test when it is missing.
pub fn require_image(engine: &str, image: &str) -> String {
    require_engine(engine);
    match run(engine, &["image", "inspect", "--format", "{{.Id}}", image]) {
        Ok(id) => id.trim_start_matches("sha256:").to_owned(),
        Err(problem) => panic!("the test image {image} is missing from {engine}: {problem}\n{BUILD_HINT}"),
    }
}

/// The archive of `image` saved the way `saved` says, made once per image id.
pub fn saved_archive(image: &str, saved: Saved) -> PathBuf {
    let id = require_image(saved.engine(), image);
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("saved-images");
    fs::create_dir_all(&folder).expect("create the folder of saved images");
    let stem = format!("{}-{}", saved.slug(), image.replace(['/', ':'], "_"));
    let path = folder.join(format!("{stem}-{}.tar", &id[..16]));
    if path.exists() {
        return path;
    }
    // Archives of earlier builds of the same image are of no more use.
    if let Ok(entries) = fs::read_dir(&folder) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let current = path.file_name().is_some_and(|file_name| file_name == entry.file_name().as_os_str());
            if !current && name.starts_with(&format!("{stem}-")) && name.ends_with(".tar") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    // Tests run in parallel processes: each writes its own partial file and renames it.
    let partial = folder.join(format!("{stem}-{}.{}.partial", &id[..16], std::process::id()));
    let partial_text = partial.to_string_lossy().into_owned();
    let result = match saved {
        Saved::Docker => run("docker", &["save", "-o", &partial_text, image]),
        Saved::PodmanDockerArchive => {
            run("podman", &["save", "--format", "docker-archive", "-o", &partial_text, image])
        }
        Saved::PodmanOciArchive => run("podman", &["save", "--format", "oci-archive", "-o", &partial_text, image]),
        Saved::SkopeoOciGzip | Saved::SkopeoOciZstd => {
            let format = if saved == Saved::SkopeoOciGzip { "gzip" } else { "zstd" };
            run(
                "skopeo",
                &[
                    "copy",
                    "--quiet",
                    "--dest-compress",
                    "--dest-compress-format",
                    format,
                    &format!("docker-daemon:{image}"),
                    &format!("oci-archive:{partial_text}"),
                ],
            )
        }
    };
    if let Err(problem) = result {
        let _ = fs::remove_file(&partial);
        panic!("could not save {image} ({}): {problem}", saved.slug());
    }
    fs::rename(&partial, &path).expect("rename the saved archive into place");
    path
}

/// Streams `docker save IMAGE…` into `read` through a pipe, as the CLI does.
pub fn with_docker_save_stream<T>(images: &[&str], read: impl FnOnce(&mut dyn Read) -> T) -> T {
    for image in images {
        require_image("docker", image);
    }
    let mut child = Command::new("docker")
        .arg("save")
        .args(images)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start docker save");
    let mut stdout = child.stdout.take().expect("docker save's stdout");
    let result = read(&mut stdout);
    // Whatever the reader left unread is drained so that docker save can finish.
    std::io::copy(&mut stdout, &mut std::io::sink()).expect("drain docker save");
    let output = child.wait_with_output().expect("wait for docker save");
    assert!(output.status.success(), "docker save {images:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    result
}

/// The version in the `METADATA` of the distribution `name` (matched without regard to case)
/// installed in `site`, if there is one.
pub fn python_version(files: &imagegate_image::ImageFiles, site: &str, name: &str) -> Option<String> {
    let prefix = format!("{site}/");
    files.iter().find_map(|(path, content)| {
        let folder = path.strip_prefix(&prefix)?.strip_suffix(".dist-info/METADATA")?;
        let (folder_name, _) = folder.rsplit_once('-')?;
        if !folder_name.eq_ignore_ascii_case(name) {
            return None;
        }
        let text = String::from_utf8_lossy(content);
        text.lines().find_map(|line| line.strip_prefix("Version: ")).map(str::to_owned)
    })
}

/// The version of `package` in a dpkg status file, if it is installed.
pub fn dpkg_version(status: &[u8], package: &str) -> Option<String> {
    let text = String::from_utf8_lossy(status);
    text.split("\n\n").find_map(|stanza| {
        let mut lines = stanza.lines();
        lines.clone().any(|line| line == format!("Package: {package}")).then_some(())?;
        lines.find_map(|line| line.strip_prefix("Version: ")).map(str::to_owned)
    })
}
