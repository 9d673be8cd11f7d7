//! Errors from talking to an engine.

use std::path::PathBuf;

/// Something went wrong while talking to an engine. Every variant maps to exit code 3
/// (infrastructure error) upstream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The engine's client program could not be started at all.
    #[error("run `{program}`: {source}\n  hint: install {program} or pass `--engine` to pick another engine")]
    Spawn { program: String, source: std::io::Error },
    /// The client ran but reported failure.
    #[error("{operation} with {program} (exit {status}): {stderr}")]
    Command { program: String, operation: String, status: String, stderr: String },
    /// No engine could be reached during auto-detection.
    #[error(
        "find a running container engine: {details}\n  hint: start docker or podman, or set `[engine] kind` in imagegate.toml"
    )]
    NoEngine { details: String },
    /// The client printed something imagegate could not understand.
    #[error("read the output of {program} {operation}: {message}")]
    Output { program: String, operation: String, message: String },
    /// Local I/O around an engine call (writing copied-out files, reading the checkout).
    #[error("{operation} `{}`: {source}", path.display())]
    Io { operation: String, path: PathBuf, source: std::io::Error },
    /// A file copied out of a container was refused.
    #[error("copy `{path}` out of the container: {message}")]
    UnsafeArchive { path: String, message: String },
}
