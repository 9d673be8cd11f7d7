//! The validated configuration that the rest of imagegate uses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EngineConfig {
    /// `None`: auto-detect.
    pub kind: Option<EngineKind>,
    /// Network for RUN steps while building; `None`: the engine's own default.
    pub build_network: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PromoteConfig {
    /// Branches where promotion is allowed. Default: `["main", "master"]`.
    pub branches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoreConfig {
    /// Folder for the embedded store (SQLite history, run artefacts). Default:
    /// `<root>/.imagegate`.
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfig {
    pub name: String,
    /// Absolute path of the Dockerfile.
    pub dockerfile: PathBuf,
    /// Absolute path of the build context folder.
    pub context: PathBuf,
    pub build_args: BTreeMap<String, String>,
    /// `--target` stage, if any.
    pub target: Option<String>,
    /// `--platform`, if any.
    pub platform: Option<String>,
    /// The stable pointer, e.g. `acme-ci/debian:12-py3.11`.
    pub stable_tag: String,
    pub suite: SuiteConfig,
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
}
