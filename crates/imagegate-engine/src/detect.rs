//! Choosing the engine: the configured one, or the first that answers.

use imagegate_config::EngineKind;

use crate::{Docker, Engine, EngineError, Podman};

/// The engine of `kind`, checked to answer.
pub fn connect(kind: EngineKind) -> Result<Box<dyn Engine>, EngineError> {
    match kind {
        EngineKind::Docker => {
            let docker = Docker::new(program_for(kind));
            docker.ping()?;
            Ok(Box::new(docker))
        }
        EngineKind::Podman => {
            let podman = Podman::new(program_for(kind));
            podman.ping()?;
            Ok(Box::new(podman))
        }
    }
}

/// The configured engine, or else docker if a daemon answers, or else podman.
pub fn detect(kind: Option<EngineKind>) -> Result<Box<dyn Engine>, EngineError> {
    if let Some(kind) = kind {
        return connect(kind);
    }
    let mut details = Vec::new();
    for kind in [EngineKind::Docker, EngineKind::Podman] {
        match connect(kind) {
            Ok(engine) => return Ok(engine),
            Err(error) => details.push(format!("{}: {}", kind.as_str(), first_line(&error.to_string()))),
        }
    }
    Err(EngineError::NoEngine { details: details.join("; ") })
}

/// The client program: `IMAGEGATE_DOCKER` / `IMAGEGATE_PODMAN` override the name on `PATH`.
fn program_for(kind: EngineKind) -> String {
    let variable = match kind {
        EngineKind::Docker => "IMAGEGATE_DOCKER",
        EngineKind::Podman => "IMAGEGATE_PODMAN",
    };
    std::env::var(variable).ok().filter(|value| !value.is_empty()).unwrap_or_else(|| kind.as_str().to_owned())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
