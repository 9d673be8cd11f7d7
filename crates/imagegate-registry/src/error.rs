//! Errors from the registry: what was being done, where, and what kind of failure it was.

/// Kinds of registry failure, which decide whether a request is retried and which hint a
/// person gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client could not be set up (unreadable CA file, bad settings).
    Setup,
    /// Connection refused, reset, DNS or TLS failure.
    Network,
    /// No answer within the request timeout.
    Timeout,
    /// 5xx, 408 or 429: the registry is there but cannot serve now.
    Unavailable,
    /// 401: no or wrong credentials.
    Unauthorized,
    /// 403: the credentials lack the right.
    Denied,
    /// The manifest, blob or repository does not exist.
    NotFound,
    /// The registry answered something imagegate cannot use.
    Protocol,
    /// Another promoter holds the repository's lease past the wait.
    LeaseHeld,
    /// Something in the registry is not what imagegate wrote (a record, a manifest).
    Corrupt,
}

impl ErrorKind {
    /// Whether the same request may succeed if sent again.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Unavailable)
    }
}

/// A failed registry operation.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on registry {registry}: {message}{}{}", attempts_note(*attempts), hint(*kind, message))]
pub struct RegistryError {
    pub registry: String,
    pub operation: String,
    pub kind: ErrorKind,
    pub message: String,
    /// Requests sent before giving up.
    pub attempts: u32,
}

impl RegistryError {
    pub fn new(registry: &str, operation: impl Into<String>, kind: ErrorKind, message: impl Into<String>) -> Self {
        RegistryError {
            registry: registry.to_owned(),
            operation: operation.into(),
            kind,
            message: message.into(),
            attempts: 1,
        }
    }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() }
}

fn hint(kind: ErrorKind, message: &str) -> &'static str {
    // Go's HTTP servers (distribution among them) answer a plain HTTP request on a TLS port
    // with this text and a 400: the store spoke plain HTTP, by `insecure` or because the
    // registry is on a loopback address.
    if message.contains("HTTP request to an HTTPS server") {
        return "\n  hint: the registry serves HTTPS: set `[store] ca_file` to the CA that signed its certificate (a registry on a loopback address is spoken to over plain HTTP unless `ca_file` is set), and drop `insecure = true`";
    }
    match kind {
        ErrorKind::Unauthorized => {
            "\n  hint: log in with `docker login`, or set IMAGEGATE_REGISTRY_USERNAME and IMAGEGATE_REGISTRY_PASSWORD"
        }
        ErrorKind::Denied => "\n  hint: the credentials lack push or delete rights on this repository",
        ErrorKind::Network | ErrorKind::Timeout => {
            "\n  hint: check that the registry is up and reachable; for a registry without TLS set `[store] insecure = true`"
        }
        ErrorKind::LeaseHeld => {
            "\n  hint: another imagegate is promoting in this repository; retry when it is done (a lease expires by itself)"
        }
        _ => "",
    }
}
