//! The one place where errors become exit codes and messages.

use imagegate_contract::ExitStatus;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] imagegate_config::ConfigError),
    #[error(transparent)]
    Gate(#[from] imagegate_gate::GateError),
    #[error(transparent)]
    Engine(#[from] imagegate_engine::EngineError),
    #[error(transparent)]
    Store(#[from] imagegate_store::StoreError),
    #[error(transparent)]
    Digest(#[from] imagegate_config::DigestError),
    #[error(transparent)]
    Registry(#[from] imagegate_registry::RegistryError),
    #[error(transparent)]
    Auth(#[from] imagegate_registry::auth::AuthError),
    #[error("{message}\n  hint: {hint}")]
    Usage { message: String, hint: String },
    /// The environment cannot give what the command needs (e.g. the engine that holds the
    /// images does not answer): no verdict, nothing changed.
    #[error("{message}\n  hint: {hint}")]
    Infrastructure { message: String, hint: String },
    #[error(transparent)]
    Ci(#[from] imagegate_ci::CiError),
    #[error(transparent)]
    CiOutput(#[from] imagegate_ci::OutputError),
    #[error("{operation} `{}`: {source}", path.display())]
    Io { operation: &'static str, path: std::path::PathBuf, source: std::io::Error },
}

impl CliError {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError::Usage { message: message.into(), hint: hint.into() }
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CliError::Config(_) | CliError::Usage { .. } | CliError::Ci(_) | CliError::Auth(_) => ExitStatus::Usage,
            CliError::Registry(_) | CliError::Infrastructure { .. } => ExitStatus::Infrastructure,
            CliError::CiOutput(_) => ExitStatus::Infrastructure,
            CliError::Gate(error) => error.exit_status(),
            CliError::Engine(_) | CliError::Store(_) | CliError::Digest(_) | CliError::Io { .. } => {
                ExitStatus::Infrastructure
            }
        }
    }
}
