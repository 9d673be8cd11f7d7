//! The engine trait and the values that cross it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imagegate_config::EngineKind;

use crate::EngineError;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    /// Network for RUN steps; `None`: the engine's default.
    pub network: Option<String>,
    /// Labels put on the image (the inputs digest among them).
    pub labels: BTreeMap<String, String>,
    /// Tags given to the built image.
    pub tags: Vec<String>,
    /// Ignore the build cache and pull nothing: what a nightly refresh does to pick up new
    /// upstream releases while the recipe is unchanged.
    pub no_cache: bool,
    /// The build's output is appended here.
    pub log_file: PathBuf,
}

/// A test container to create.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Image id or reference.
    pub image: String,
    /// Run with `/bin/sh -c`.
    pub command: String,
    pub workdir: String,
    pub env: BTreeMap<String, String>,
    pub network: String,
    pub labels: BTreeMap<String, String>,
    /// What the container may use and do.
    pub containment: Containment,
}

/// What a test container may use and do: the limits the engine enforces on it.
///
/// Every test container gets all of them; there is no "unlimited", so that a suite (whose
/// code a pull request controls) can neither exhaust the machine nor gain privileges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containment {
    /// Most processes and threads at once (`--pids-limit`).
    pub pids: u32,
    /// Most memory in bytes, swap included (`--memory` and `--memory-swap`).
    pub memory_bytes: u64,
    /// CPU time per 100 ms period, in microseconds (`--cpu-quota`): 150 000 is one and a
    /// half CPUs.
    pub cpu_quota_micros: u64,
    /// The only capabilities the container keeps (`--cap-drop ALL`, then `--cap-add` each),
    /// as the engines name them (`CHOWN`).
    pub capabilities: Vec<String>,
    /// `--security-opt no-new-privileges`: setuid programs and file capabilities give nothing.
    pub no_new_privileges: bool,
    /// `--read-only`: the image's files cannot be changed; only `writable` folders and `/tmp`
    /// (a tmpfs, counted in the memory limit) can.
    pub read_only: bool,
    /// With `read_only`, absolute folders kept writable as the container's own anonymous
    /// volumes: they outlive the container's run until it is removed, so results can be
    /// copied out.
    pub writable: Vec<String>,
}

/// The CPU-quota period both engines use, in microseconds.
pub const CPU_PERIOD_MICROS: u64 = 100_000;

/// How a suite run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The command's exit status; `None` when it was killed.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
}

/// An image in the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `sha256:<hex>`: the image's config digest, the same for docker and podman.
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub created: Option<String>,
}

/// How the engine reaches a registry that imagegate uses as its store, for one push or pull.
///
/// The credentials imagegate resolved are handed over in a private temporary auth file that
/// exists only while the engine's client runs; they are never put on a command line.
#[derive(Clone, Default)]
pub struct RegistryAccess {
    /// The body of a docker `config.json` / podman `auth.json` holding the credentials for
    /// this registry; `None`: the engine's own configuration applies.
    pub auth_json: Option<String>,
    /// `false` for a registry served over plain HTTP (podman must be told; docker's daemon
    /// decides by its `insecure-registries` and treats loopback as insecure).
    pub tls_verify: bool,
    /// A folder holding `ca.crt` for a registry whose certificate a private CA signed
    /// (podman's `--cert-dir`; docker's daemon reads `/etc/docker/certs.d/HOST:PORT/`).
    pub cert_dir: Option<PathBuf>,
}

impl std::fmt::Debug for RegistryAccess {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RegistryAccess")
            .field("auth_json", &self.auth_json.as_ref().map(|_| "<redacted>"))
            .field("tls_verify", &self.tls_verify)
            .field("cert_dir", &self.cert_dir)
            .finish()
    }
}

/// A container engine. Implementations are thin: they translate each call into one or two
/// invocations of the engine's CLI.
pub trait Engine: Send + Sync {
    fn kind(&self) -> EngineKind;

    /// The client program, for messages.
    fn program(&self) -> &str;

    /// Builds an image and returns its id (`sha256:<hex>`).
    fn build(&self, request: &BuildRequest) -> Result<String, EngineError>;

    /// Looks an image up by id or reference; `Ok(None)` when the engine has no such image.
    fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>, EngineError>;

    /// Ids of images carrying the label `key=value`, newest first.
    fn images_with_label(&self, key: &str, value: &str) -> Result<Vec<ImageInfo>, EngineError>;

    /// Pulls `reference` from its registry into the engine (the engine's own credentials and
    /// registry settings apply).
    fn pull(&self, reference: &str) -> Result<(), EngineError>;

    /// Pulls `reference` from a registry imagegate stores images in, with its access settings.
    fn pull_from(&self, reference: &str, access: &RegistryAccess) -> Result<(), EngineError>;

    /// Pushes the local image `reference` (a tag) to its registry.
    fn push(&self, reference: &str, access: &RegistryAccess) -> Result<(), EngineError>;

    /// Points `reference` at `image_id`.
    fn tag(&self, image_id: &str, reference: &str) -> Result<(), EngineError>;

    /// Removes the tag `reference` (the image stays if other tags or containers use it).
    fn untag(&self, reference: &str) -> Result<(), EngineError>;

    /// Creates (does not start) a container and returns its id.
    fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError>;

    /// Copies the folder `source` into the created container at `destination` (absolute),
    /// leaving out the paths in `exclude` (absolute host paths).
    fn copy_into(
        &self,
        container: &str,
        source: &Path,
        destination: &str,
        exclude: &[PathBuf],
    ) -> Result<(), EngineError>;

    /// Creates the folders `folders` (absolute paths) in the created container, writable by
    /// every user, with any missing parents; folders that exist keep their content.
    fn create_folders(&self, container: &str, folders: &[&str]) -> Result<(), EngineError>;

    /// [`Engine::copy_into`], then [`Engine::create_folders`] of `folders`, in one transfer
    /// where the engine can: every run needs both, and an engine may copy into one container at
    /// a time (podman's `cp` serialises across containers). By default the two calls.
    fn copy_into_with_folders(
        &self,
        container: &str,
        source: &Path,
        destination: &str,
        exclude: &[PathBuf],
        folders: &[&str],
    ) -> Result<(), EngineError> {
        self.copy_into(container, source, destination, exclude)?;
        self.create_folders(container, folders)
    }

    /// Starts the container, streams its output to `log_file`, waits at most `timeout`; on
    /// expiry kills it. The log keeps at most `log_limit` bytes: the head and the tail of the
    /// output, with a line in between that says what was cut.
    fn start_and_wait(
        &self,
        container: &str,
        timeout: Duration,
        log_file: &Path,
        log_limit: u64,
    ) -> Result<RunOutcome, EngineError>;

    /// Copies the folder `source` out of the container into `destination` (created). Returns
    /// `Ok(false)` when the container has no such folder. Only regular files and folders are
    /// written; links and special files in the container are skipped.
    fn copy_out(&self, container: &str, source: &str, destination: &Path) -> Result<bool, EngineError>;

    /// [`Engine::copy_out`] within bounds: each file's first bytes are read from the stream and
    /// only files `filter` keeps, within its limits, are written; every other file is passed
    /// over in the stream (never written, never held) and listed in
    /// [`CopiedResults::skipped`]. Backends that copy out in memory (tests' fakes) may keep the
    /// default, which copies everything.
    fn copy_out_results(
        &self,
        container: &str,
        source: &str,
        destination: &Path,
        filter: &ResultsFilter<'_>,
    ) -> Result<CopiedResults, EngineError> {
        let _ = filter;
        let found = self.copy_out(container, source, destination)?;
        Ok(CopiedResults { found, ..CopiedResults::default() })
    }

    /// Removes the container, running or not.
    fn remove_container(&self, container: &str) -> Result<(), EngineError>;

    /// Removes the container without making the caller wait when the engine can: the removal
    /// is finished by [`crate::finish_removals`], which every command calls before it ends.
    /// Failures are not reported (a later start removes what a dead process left).
    fn remove_container_soon(&self, container: &str) {
        let _ = self.remove_container(container);
    }

    /// Streams the image as a `save` archive (Docker archive format) to `consume`, which reads
    /// it as it arrives; nothing is written to disk.
    fn save_image(
        &self,
        reference: &str,
        consume: &mut dyn FnMut(&mut dyn std::io::Read) -> Result<(), String>,
    ) -> Result<(), EngineError>;

    /// Loads the image archive at `archive` (Docker archive format, as `save` writes it) into
    /// the engine and returns the loaded image's id (`sha256:<hex>`).
    fn load_image(&self, archive: &Path) -> Result<String, EngineError>;

    /// Removes the image `reference` (an id or a tag) with every tag it has; `Ok` when the
    /// engine has no such image.
    fn remove_image(&self, reference: &str) -> Result<(), EngineError>;

    /// Images that name the imagegate process that made them (label [`crate::LABEL_OWNER`]),
    /// with that label's value: the experiment images made for a gate. None by default.
    fn images_by_owner(&self) -> Result<Vec<(String, String)>, EngineError> {
        Ok(Vec::new())
    }

    /// Ids of containers carrying the label `key=value`, running or not.
    fn containers_with_label(&self, key: &str, value: &str) -> Result<Vec<String>, EngineError>;

    /// Containers that name the imagegate process that made them (label
    /// [`crate::LABEL_OWNER`]), with that label's value. None by default (an engine that
    /// keeps no containers between processes).
    fn containers_by_owner(&self) -> Result<Vec<(String, String)>, EngineError> {
        Ok(Vec::new())
    }

    /// What tells this engine apart from every other engine this machine can reach, so that
    /// processes driving the same engine from different state folders share one lock on its
    /// stable tags. By default the client program.
    fn identity(&self) -> Result<String, EngineError> {
        Ok(self.program().to_owned())
    }
}

/// Which files of a folder [`Engine::copy_out_results`] writes.
pub struct ResultsFilter<'a> {
    /// Decides from a file's first [`ResultsFilter::head_bytes`] bytes (all of it, when
    /// shorter) whether it is wanted.
    pub wanted: &'a dyn Fn(&[u8]) -> bool,
    pub head_bytes: usize,
    /// The most bytes of wanted files written; a wanted file that would pass it is skipped.
    pub max_bytes: u64,
    /// The most wanted files written.
    pub max_files: usize,
}

/// What [`Engine::copy_out_results`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopiedResults {
    /// False when the container has no such folder.
    pub found: bool,
    /// Files written, and their bytes.
    pub files: usize,
    pub bytes: u64,
    /// Files not written, in the order met.
    pub skipped: Vec<SkippedFile>,
    /// The file at which the copy stopped, the folder's files having streamed more bytes in all
    /// than imagegate passes over (8 GiB); it and every file after it were not looked at.
    pub stopped_at: Option<SkippedFile>,
}

/// A file of the folder that was not copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// Relative to the folder.
    pub path: String,
    pub size: u64,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The filter did not want it (not a results format).
    NotWanted,
    /// Wanted, but it would have passed `max_bytes` or `max_files`.
    OverLimits,
}
