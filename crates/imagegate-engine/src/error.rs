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

impl EngineError {
    /// Whether the engine's push or pull failed for a reason that may pass by itself, so the
    /// same command may succeed if run again: a 5xx or 429 from the registry, a connection
    /// refused, reset or cut short, a timeout. Never credentials refused, an image or manifest
    /// that does not exist, or a bad reference: running those again cannot help.
    pub fn is_transient(&self) -> bool {
        let EngineError::Command { stderr, .. } = self else {
            return false;
        };
        let text = stderr.to_lowercase();
        const PERMANENT: &[&str] = &[
            "unauthorized",
            "authentication required",
            "denied",
            "forbidden",
            "manifest unknown",
            "name unknown",
            "blob unknown",
            "not found",
            "no such image",
            "does not exist",
            "invalid reference",
            "repository name must",
            "certificate signed by unknown authority",
            "x509:",
        ];
        const TRANSIENT: &[&str] = &[
            "received unexpected http status: 5",
            "unexpected http status: 429",
            "toomanyrequests",
            "too many requests",
            "500 internal server error",
            "502 bad gateway",
            "503 service unavailable",
            "504 gateway timeout",
            "connection reset",
            "connection refused",
            "broken pipe",
            "unexpected eof",
            ": eof",
            "server closed",
            "i/o timeout",
            "tls handshake timeout",
            "timeout awaiting response headers",
            "context deadline exceeded",
            "client.timeout exceeded",
            "request canceled while waiting for connection",
        ];
        !PERMANENT.iter().any(|needle| text.contains(needle)) && TRANSIENT.iter().any(|needle| text.contains(needle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(stderr: &str) -> EngineError {
        EngineError::Command {
            program: "docker".into(),
            operation: "push `r`".into(),
            status: "1".into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn registry_hiccups_are_transient() {
        for stderr in [
            // docker, and podman (containers/image), on a 5xx to the manifest upload
            "received unexpected HTTP status: 500 Internal Server Error",
            "Error: writing manifest: uploading manifest t to 127.0.0.1:5000/a: received unexpected HTTP status: 503 Service Unavailable",
            "Error: reading blob sha256:ab: fetching blob: received unexpected HTTP status: 502 Bad Gateway",
            "Put \"http://127.0.0.1:5000/v2/a/manifests/t\": read tcp 127.0.0.1:1->127.0.0.1:5000: read: connection reset by peer",
            "Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused",
            "Head \"https://r/v2/a/blobs/sha256:ab\": net/http: TLS handshake timeout",
            "Patch \"http://r/v2/a/blobs/uploads/x\": EOF",
            "Error: copying system image from manifest list: writing blob: unexpected EOF",
            "toomanyrequests: slow down",
        ] {
            assert!(failed(stderr).is_transient(), "{stderr}");
        }
    }

    #[test]
    fn refusals_and_missing_images_are_not_transient() {
        for stderr in [
            "unauthorized: authentication required",
            "denied: requested access to the resource is denied",
            "manifest unknown: manifest unknown",
            "Error: initializing source docker://r/a:1: reading manifest 1 in r/a: manifest unknown",
            "invalid reference format",
            "Error response from daemon: No such image: r/a:1",
            "Get \"https://r/v2/\": x509: certificate signed by unknown authority",
        ] {
            assert!(!failed(stderr).is_transient(), "{stderr}");
        }
        let spawn = EngineError::Spawn { program: "docker".into(), source: std::io::ErrorKind::NotFound.into() };
        assert!(!spawn.is_transient());
    }
}
