//! The docker backend.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imagegate_config::EngineKind;

use crate::cli::{Client, Dialect};
use crate::{BuildRequest, ContainerSpec, Engine, EngineError, ImageInfo, RunOutcome};

/// Docker Engine through the `docker` client (honours `DOCKER_HOST` and contexts).
#[derive(Debug, Clone)]
pub struct Docker {
    client: Client,
}

impl Docker {
    pub fn new(program: impl Into<String>) -> Self {
        Docker { client: Client { program: program.into(), dialect: Dialect::Docker } }
    }

    /// The server's version; fails when no daemon answers.
    pub fn ping(&self) -> Result<String, EngineError> {
        self.client.ping()
    }
}

crate::delegate_engine!(Docker, EngineKind::Docker);
