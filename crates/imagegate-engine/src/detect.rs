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
    detect_explained(kind).map(|detected| detected.engine)
}

/// An engine found by [`detect_explained`], with why the engines tried before it were passed over.
pub struct Detected {
    pub engine: Box<dyn Engine>,
    /// `(engine, first line of its error)` for each engine that did not answer before it.
    pub passed_over: Vec<(EngineKind, String)>,
}

/// [`detect`], also saying which engines did not answer first: a caller that was not told
/// which engine to use must not switch to another one silently.
pub fn detect_explained(kind: Option<EngineKind>) -> Result<Detected, EngineError> {
    if let Some(kind) = kind {
        return connect(kind).map(|engine| Detected { engine, passed_over: Vec::new() });
    }
    let mut passed_over = Vec::new();
    for kind in [EngineKind::Docker, EngineKind::Podman] {
        match connect(kind) {
            Ok(engine) => return Ok(Detected { engine, passed_over }),
            Err(error) => passed_over.push((kind, first_line(&error.to_string()).to_owned())),
        }
    }
    let details: Vec<String> = passed_over.iter().map(|(kind, error)| format!("{}: {error}", kind.as_str())).collect();
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
