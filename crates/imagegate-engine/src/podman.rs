//! The podman backend.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imagegate_config::EngineKind;

use crate::cli::{Client, Dialect};
use crate::{BuildRequest, ContainerSpec, Engine, EngineError, ImageInfo, RunOutcome};

/// Podman through the `podman` client (local, or remote through its connections).
#[derive(Debug, Clone)]
pub struct Podman {
    client: Client,
}

impl Podman {
    pub fn new(program: impl Into<String>) -> Self {
        Podman { client: Client { program: program.into(), dialect: Dialect::Podman } }
    }

    /// The engine's version; fails when podman cannot run.
    pub fn ping(&self) -> Result<String, EngineError> {
        self.client.ping()
    }
}

crate::delegate_engine!(Podman, EngineKind::Podman);
