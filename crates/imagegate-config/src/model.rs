//! The validated configuration that the rest of imagegate uses.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Branches where promotion is allowed when `[promote] branches` is not given.
pub const DEFAULT_BRANCHES: &[&str] = &["main", "master"];
/// The store folder, relative to the config's folder, when `[store] state_dir` is not given.
pub const DEFAULT_STATE_DIR: &str = ".imagegate";
/// Where the project checkout is copied in the test container by default.
pub const DEFAULT_WORKDIR: &str = "/src";
/// How long a suite may run by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How many times in all a failing test is run in the candidate by default.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The most runs of one failing test that `attempts` may ask for: more would hide a broken
/// test behind luck and make a failing gate slow.
pub const MAX_ATTEMPTS: u32 = 10;
/// The test container's network by default: tests that reach the network are flaky.
pub const DEFAULT_NETWORK: &str = "none";
/// The most processes and threads a test container may run at once by default: room for
/// parallel test runners and their threads, none for a fork bomb.
pub const DEFAULT_PIDS: u32 = 4096;
/// The fewest and most processes `pids` may allow.
pub const PIDS_RANGE: std::ops::RangeInclusive<u32> = 32..=1_048_576;
/// The memory (swap included) a test container may use by default.
pub const DEFAULT_MEMORY: u64 = 4 * 1024 * 1024 * 1024;
/// The least memory `memory` may allow: below it no interpreter starts.
pub const MIN_MEMORY: u64 = 64 * 1024 * 1024;
/// The most CPUs `cpus` may name.
pub const MAX_CPUS: f64 = 1024.0;
/// The capabilities a test container keeps by default: what suites running as root use
/// (file ownership and modes of fixtures, switching to a test user, signalling their own
/// processes, binding low ports). docker's other defaults (`MKNOD`, `NET_RAW`, `AUDIT_WRITE`,
/// `SETFCAP`, `SETPCAP`, `SYS_CHROOT`) are dropped: test suites rarely need them, and they
/// make devices, raw packets and capability games possible.
pub const DEFAULT_CAPABILITIES: &[&str] =
    &["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"];
/// The capabilities `capabilities` may keep: docker's default set. Any other (`SYS_ADMIN`,
/// `SYS_PTRACE`, `NET_ADMIN`, …) lets a suite reach out of its container, and a pull request
/// controls the file that would ask for it.
pub const ALLOWED_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];
/// How much of a run's output its log keeps by default (the head and the tail, half each).
pub const DEFAULT_LOG_SIZE: u64 = 64 * 1024 * 1024;
/// The least and most `log_size` may keep: at least what reports quote from the tail.
pub const LOG_SIZE_RANGE: std::ops::RangeInclusive<u64> = 64 * 1024..=1024 * 1024 * 1024;

/// A loaded and validated `imagegate.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file itself.
    pub path: PathBuf,
    /// The folder that holds the config file: the project checkout. Relative paths in the file
    /// are resolved against it.
    pub root: PathBuf,
    pub engine: EngineConfig,
    pub promote: PromoteConfig,
    pub store: StoreConfig,
    /// Images by name, in name order.
    pub images: BTreeMap<String, ImageConfig>,
}

impl Config {
    /// The store folder: `[store] state_dir` resolved against [`Config::root`], or
    /// `<root>/.imagegate`.
    pub fn state_dir(&self) -> PathBuf {
        self.store.state_dir.clone().unwrap_or_else(|| self.root.join(DEFAULT_STATE_DIR))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Docker,
    Podman,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The value of `[engine] kind` is not `docker` or `podman`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse engine `{0}`: expected `docker` or `podman`")]
pub struct UnknownEngineKind(pub String);

impl FromStr for EngineKind {
    type Err = UnknownEngineKind;

    fn from_str(text: &str) -> Result<EngineKind, UnknownEngineKind> {
        match text {
            "docker" => Ok(EngineKind::Docker),
            "podman" => Ok(EngineKind::Podman),
            other => Err(UnknownEngineKind(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EngineConfig {
    /// `None`: auto-detect.
    pub kind: Option<EngineKind>,
    /// Network for RUN steps while building; `None`: the engine's own default.
    pub build_network: Option<String>,
    /// How many runs each image (the candidate, the incumbent) may have going at once; `None`:
    /// [`default_concurrency`]. 1 runs everything one after the other. From 2, the two images'
    /// runs go side by side, and after the candidate's suite its reruns (with a `rerun`
    /// template) and the incumbent's targeted run and confirmation go up to this many at once
    /// per image, so a gate has at most twice this many containers; the whole suite runs once
    /// per image at a time.
    pub concurrency: Option<u32>,
}

/// The most runs per image `concurrency` may ask for.
pub const MAX_CONCURRENCY: u32 = 16;

/// Runs per image at once when `[engine] concurrency` is not set: two on a machine with at
/// least two cores, else one, since a second run on a single core only slows the first down.
pub fn default_concurrency() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cores >= 2 { 2 } else { 1 }
}

impl EngineConfig {
    /// The concurrency to use: the configured one, else [`default_concurrency`].
    pub fn concurrency(&self) -> u32 {
        self.concurrency.unwrap_or_else(default_concurrency)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PromoteConfig {
    /// Branches where promotion is allowed. Default: `["main", "master"]`.
    pub branches: Vec<String>,
}

impl Default for PromoteConfig {
    fn default() -> PromoteConfig {
        PromoteConfig { branches: DEFAULT_BRANCHES.iter().map(|&branch| branch.to_owned()).collect() }
    }
}

/// How long a candidate that was never promoted is kept by `imagegate prune` by default.
pub const DEFAULT_PRUNE_AFTER: Duration = Duration::from_secs(30 * 24 * 60 * 60);

#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// Folder for the embedded store (SQLite history, run artefacts), absolute. A loaded
    /// config always has it (`<root>/.imagegate` unless the file says otherwise); `None`, in
    /// a config built by hand, means that default: use [`Config::state_dir`] to read it.
    pub state_dir: Option<PathBuf>,
    /// `[store] registry`: keep candidates, stable tags and records in this OCI registry.
    pub registry: Option<RegistryStoreConfig>,
    /// `[store] prune_after`: age past which `prune` removes candidates never promoted.
    pub prune_after: Duration,
    /// `[store] lockfile`: keep the stable pointers in a file in git instead.
    pub lockfile: Option<LockfileConfig>,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig { state_dir: None, registry: None, prune_after: DEFAULT_PRUNE_AFTER, lockfile: None }
    }
}

/// Where the stable pointers live when they live in git: a lockfile whose truth is the file on
/// a branch of a remote. Candidates and records stay where the rest of `[store]` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockfileConfig {
    /// The lockfile, absolute (`[store] lockfile` resolved against [`Config::root`]).
    pub path: PathBuf,
    /// `[store] lockfile_remote`: the remote whose branch holds the truth (`origin`).
    pub remote: String,
    /// `[store] lockfile_branch`: the branch that holds the truth; `None`: the remote's default
    /// branch.
    pub branch: Option<String>,
}

/// The registry store's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryStoreConfig {
    /// `HOST[:PORT]`.
    pub host: String,
    /// The namespace the stable tags live under (`acme` in `ghcr.io/acme`).
    pub namespace: String,
    /// Where candidates live instead, if not beside the stable images.
    pub candidates: Option<String>,
    /// Plain HTTP (no TLS).
    pub insecure: bool,
    /// Extra CA certificates (PEM), absolute.
    pub ca_file: Option<PathBuf>,
}

impl RegistryStoreConfig {
    /// Whether to speak plain HTTP: when `insecure` says so, or, as docker and
    /// go-containerregistry do, for a registry on a loopback address (`127.0.0.0/8`,
    /// `localhost`, `::1`) unless a `ca_file` says it serves TLS.
    pub fn plain_http(&self) -> bool {
        self.insecure || (self.ca_file.is_none() && is_loopback_host(&self.host))
    }

    /// `HOST[:PORT]/NAMESPACE`.
    pub fn location(&self) -> String {
        format!("{}/{}", self.host, self.namespace)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfig {
    pub name: String,
    /// Absolute path of the Dockerfile.
    pub dockerfile: PathBuf,
    /// Absolute path of the build context folder.
    pub context: PathBuf,
    /// `inputs`: glob patterns, relative to the context, of the files whose content defines
    /// the image; `None` when every context file does (see [`crate::digest`]).
    pub inputs: Option<Vec<String>>,
    pub build_args: BTreeMap<String, String>,
    /// `--target` stage, if any.
    pub target: Option<String>,
    /// `--platform`, if any.
    pub platform: Option<String>,
    /// The stable pointer, e.g. `acme-ci/debian:12-py3.11`. Always has a tag: a file that
    /// gives none gets `:latest`, as Docker would.
    pub stable_tag: String,
    pub suite: SuiteConfig,
    /// `[images.NAME.culprits]`: the proof of which changed packages cause a regression.
    pub culprits: CulpritsConfig,
    /// Where the image's keys are written in imagegate.toml, for messages that point there.
    pub lines: ImageLines,
}

/// `[images.NAME.culprits]`: after a regression, experiments that put changed packages back to
/// the incumbent's versions and rerun the regressed tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CulpritsConfig {
    /// At most this many experiments per gate (`budget`); 0 turns the proof off.
    pub budget: u32,
    /// Keep the experiment images in the engine after the gate (`keep`).
    pub keep: bool,
}

/// The default experiment budget: a single culprit among 64 changed packages is found in at
/// most log2(64) + 2 = 8 experiments.
pub const DEFAULT_CULPRIT_BUDGET: u32 = 8;
/// The largest budget accepted.
pub const MAX_CULPRIT_BUDGET: u32 = 64;

impl Default for CulpritsConfig {
    fn default() -> Self {
        CulpritsConfig { budget: DEFAULT_CULPRIT_BUDGET, keep: false }
    }
}

/// 1-based lines of an image's keys in imagegate.toml; `None` for a key not written (or a
/// config built by hand), and then messages point at the image's table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageLines {
    /// The `[images.NAME]` table.
    pub table: Option<usize>,
    pub build_args: Option<usize>,
    pub inputs: Option<usize>,
    pub results: Option<usize>,
    pub workdir: Option<usize>,
    pub network: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SuiteConfig {
    /// Run with `/bin/sh -c` inside the container.
    pub command: String,
    /// Folder inside the container copied out after the run.
    pub results: String,
    /// Where the project checkout is copied in. Default `/src`.
    pub workdir: String,
    pub env: BTreeMap<String, String>,
    /// Default 1 hour.
    pub timeout: Duration,
    /// Rerun command with `{tests}` replaced by space-separated test ids; `None` reruns the
    /// whole suite.
    pub rerun: Option<String>,
    /// How many times in all a failing test is run in the candidate, the first run included.
    /// Default 3; 1 disables reruns.
    pub attempts: u32,
    /// Network of the test container. Default `none`.
    pub network: String,
    /// Command that runs one shard of the suite, with `{index}` (from 1) and `{total}`
    /// replaced; used by `test --shard`.
    pub shard: Option<String>,
    /// Command that prints the suite's test ids, one per line; with `rerun`, lets
    /// `test --shard` split the suite by id when there is no `shard` command.
    pub list: Option<String>,
    /// `[images.NAME.suite.limits]`: what every container of this suite may use and do.
    pub limits: SuiteLimits,
    /// What the results folder may hold.
    pub results_limits: ResultsLimits,
    /// What the incumbent runs. Default [`IncumbentRuns::Targeted`].
    pub incumbent: IncumbentRuns,
    /// Whether a stored first run with the same image, checkout, command, environment and
    /// settings may be reused instead of run again (`reuse`). Default `true`; `false` for a
    /// suite whose results depend on more than that (the network, the time of day).
    pub reuse: bool,
}

/// What the incumbent runs in a gate (`incumbent` in a suite's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncumbentRuns {
    /// With `list` and `rerun`: the list, then only the tests whose judgement needs an
    /// incumbent result (failing, erroring, skipped or missing in the candidate). A test that
    /// passes in the candidate is not run there, so `fixed` is not measured. Without them: the
    /// whole suite.
    #[default]
    Targeted,
    /// Always the whole suite (so `fixed` is measured).
    Full,
}

impl SuiteConfig {
    /// Whether the incumbent runs only what the judgement needs: asked for (the default), and
    /// possible (the suite can list its tests and run selected ones).
    pub fn targeted_incumbent(&self) -> bool {
        self.incumbent == IncumbentRuns::Targeted && self.list.is_some() && self.rerun.is_some()
    }
}

/// Bounds on a suite's results folder (`max_results_size`, `max_results_files`), so that a
/// suite writing junk there (a 2 GB file, a million files) fills neither the disk nor the
/// memory of the machine that gates. Files that do not look like a results format are not
/// copied out at all; results files beyond these bounds are skipped and the run counts as
/// incomplete (never a pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultsLimits {
    /// The most bytes of results files copied out of one run. Default 256 MiB.
    pub max_bytes: u64,
    /// The most results files copied out of one run. Default 10,000.
    pub max_files: usize,
}

impl ResultsLimits {
    pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
    pub const DEFAULT_MAX_FILES: usize = 10_000;
    /// Above this a results folder is not a bound at all.
    pub const MOST_FILES: usize = 1_000_000;
}

impl Default for ResultsLimits {
    fn default() -> Self {
        ResultsLimits { max_bytes: Self::DEFAULT_MAX_BYTES, max_files: Self::DEFAULT_MAX_FILES }
    }
}

/// What a test container may use and do. Every value is finite: no key turns a limit off,
/// because a pull request controls the file.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteLimits {
    /// Most processes and threads at once. Default [`DEFAULT_PIDS`].
    pub pids: u32,
    /// Most memory in bytes, swap included. Default [`DEFAULT_MEMORY`].
    pub memory: u64,
    /// CPU time as a number of CPUs (1.5: one and a half); `None`: as many as the machine
    /// imagegate runs on has.
    pub cpus: Option<f64>,
    /// The only capabilities kept, as the engines name them (`CHOWN`). Default
    /// [`DEFAULT_CAPABILITIES`]; always within [`ALLOWED_CAPABILITIES`].
    pub capabilities: Vec<String>,
    /// Setuid programs gain nothing. Default `true`.
    pub no_new_privileges: bool,
    /// The image's files are read-only; only the workdir, the results folder and `/tmp` are
    /// writable. Default `false`.
    pub read_only: bool,
    /// Most bytes of output a run's log keeps. Default [`DEFAULT_LOG_SIZE`].
    pub log_size: u64,
}

impl Default for SuiteLimits {
    fn default() -> SuiteLimits {
        SuiteLimits {
            pids: DEFAULT_PIDS,
            memory: DEFAULT_MEMORY,
            cpus: None,
            capabilities: DEFAULT_CAPABILITIES.iter().map(|&capability| capability.to_owned()).collect(),
            no_new_privileges: true,
            read_only: false,
            log_size: DEFAULT_LOG_SIZE,
        }
    }
}

/// Whether the network mode `network` (as `[images.NAME.suite] network` gives it) shares the
/// network of the machine or of another container: `host`, `container:…`, podman's `ns:…`, and
/// the user-mode networks set to reach the host's loopback. A suite on such a network reaches
/// every service listening on the machine, registries and engine APIs included.
pub fn network_reaches_host(network: &str) -> bool {
    let network = network.trim().to_ascii_lowercase();
    network == "host"
        || network.starts_with("container:")
        || network.starts_with("ns:")
        || network.starts_with("pasta")
        || network.contains("allow_host_loopback=true")
}

/// Whether `host` (`HOST[:PORT]`, IPv6 in brackets) names this machine: `localhost`, an
/// address in `127.0.0.0/8`, or `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    if let Ok(address) = host.parse::<std::net::IpAddr>() {
        return address.is_loopback();
    }
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|character| character.is_ascii_digit()) { name } else { host }
        })
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(host: &str, insecure: bool, ca_file: Option<&str>) -> RegistryStoreConfig {
        RegistryStoreConfig {
            host: host.to_owned(),
            namespace: "acme".to_owned(),
            candidates: None,
            insecure,
            ca_file: ca_file.map(PathBuf::from),
        }
    }

    #[test]
    fn networks_that_reach_the_host_are_recognised() {
        for network in [
            "host",
            "HOST",
            " host",
            "container:db",
            "ns:/proc/1/ns/net",
            "pasta",
            "pasta:--map-gw",
            "slirp4netns:allow_host_loopback=true",
        ] {
            assert!(network_reaches_host(network), "{network}");
        }
        for network in ["none", "bridge", "slirp4netns", "my-net", "hostile"] {
            assert!(!network_reaches_host(network), "{network}");
        }
    }

    #[test]
    fn loopback_hosts_are_recognised_with_and_without_ports() {
        for host in
            ["localhost", "LOCALHOST:5000", "127.0.0.1", "127.0.0.1:5000", "127.8.9.10:443", "[::1]:5000", "::1"]
        {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in
            ["ghcr.io", "registry.local:5000", "10.0.0.1:5000", "[fe80::1]:5000", "localhost.example.com", "128.0.0.1"]
        {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_loopback_registry_speaks_plain_http_unless_a_ca_file_says_it_serves_tls() {
        assert!(store("127.0.0.1:5000", false, None).plain_http());
        assert!(store("localhost:5000", false, None).plain_http());
        assert!(!store("127.0.0.1:5000", false, Some("/ca.pem")).plain_http());
        assert!(!store("ghcr.io", false, None).plain_http());
        assert!(store("registry.local:5000", true, None).plain_http());
    }
}
