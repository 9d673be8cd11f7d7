//! The one place where outcomes and errors become exit codes: a decision, a gate report, a
//! results file, and every error (the workflow's own errors say theirs in
//! `GateError::exit_status`, which the library's tests check).

use imagegate_contract::{Decision, ExitStatus, GateReport, PromotionStatus};
use imagegate_results::ResultSet;

/// The exit status a decision stands for.
pub fn decision_status(decision: Decision) -> ExitStatus {
    match decision {
        Decision::Pass => ExitStatus::Success,
        Decision::Regression => ExitStatus::Regression,
        Decision::Error => ExitStatus::Infrastructure,
    }
}

/// The exit status a gate report stands for: its decision, or worse, its promotion's outcome.
pub fn report_status(report: &GateReport) -> ExitStatus {
    let promotion = match report.promotion.as_ref().map(|promotion| promotion.status) {
        Some(PromotionStatus::PointerMoved) => ExitStatus::PointerMoved,
        Some(PromotionStatus::Refused) => ExitStatus::Regression,
        _ => ExitStatus::Success,
    };
    decision_status(report.decision).worst(promotion)
}

/// 0 when every test passed, 1 when some failed, 3 when the results are incomplete or empty.
pub fn results_status(results: &ResultSet) -> ExitStatus {
    let counts = results.counts();
    if !results.is_complete() || results.is_empty() {
        ExitStatus::Infrastructure
    } else if counts.failed + counts.errors > 0 {
        ExitStatus::Regression
    } else {
        ExitStatus::Success
    }
}

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

/// One stable word for what failed, for the `kind` of an `imagegate.error/v1` document.
pub fn error_kind(error: &CliError) -> &'static str {
    use imagegate_gate::GateError;
    match error {
        CliError::Config(_) => "config",
        CliError::Usage { .. } => "usage",
        CliError::Engine(_) => "engine",
        CliError::Store(_) => "store",
        CliError::Digest(_) | CliError::Io { .. } => "io",
        CliError::Registry(_) => "registry",
        CliError::Auth(_) => "auth",
        CliError::Infrastructure { .. } | CliError::CiOutput(_) => "infrastructure",
        CliError::Ci(_) => "ci",
        CliError::Gate(gate) => match gate {
            GateError::Engine(_) => "engine",
            GateError::Transfer { .. } => "transfer",
            GateError::Store(_) => "store",
            GateError::Registry(_) => "registry",
            GateError::Digest(_) | GateError::Io { .. } => "io",
            GateError::Lockfile(_) => "lockfile",
            GateError::Usage { .. } => "usage",
            GateError::Refused { .. } => "refused",
            GateError::PointerMoved { .. } => "pointer-moved",
            GateError::VerifyFailed { .. } => "verify",
            GateError::Interrupted => "interrupted",
            GateError::Preflight { .. } => "preflight",
            GateError::DamagedRecord { .. } => "damaged-record",
            GateError::Shards { .. } => "shards",
            _ => "infrastructure",
        },
    }
}

/// The `imagegate.error/v1` document a `--json` run of `command` prints for `error`.
pub fn error_document(command: &str, image: Option<&str>, error: &CliError) -> imagegate_contract::ErrorDocument {
    let mut document = imagegate_contract::ErrorDocument::new(
        command,
        error.exit_status().code(),
        error_kind(error),
        &crate::render(error),
    );
    document.image = image.map(str::to_owned);
    document
}
