//! Real services for tests and benchmarks.
//!
//! The centre piece is [`Registry`]: a real CNCF distribution 2.8 registry (Debian's
//! `docker-registry`) on a free loopback port, with its own storage, optionally behind htpasswd
//! basic auth, a bearer-token flow served by the testkit itself, and/or TLS with a self-signed CA.
//!
//! [`FaultProxy`] stands in front of one and injects error statuses, connection resets and
//! stalls, on demand or by a seeded random schedule.
//!
//! Everything listens on 127.0.0.1 only, every wait is bounded in time, and every process and
//! thread started here is stopped when its owner is dropped.
//!
//! ```no_run
//! use imagegate_testkit::{Registry, RegistryAuth, RegistryOptions};
//!
//! let registry = Registry::start(RegistryOptions {
//!     auth: RegistryAuth::Token { username: "user".into(), password: "pass".into() },
//!     tls: true,
//! })?;
//! // push to format!("{}/project/app:1", registry.address()), trusting registry.ca_file()
//! // and logging in with registry.credentials(); then see what it cost:
//! println!(
//!     "{} registry requests, {} token requests",
//!     registry.request_count(),
//!     registry.token_requests()
//! );
//! # Ok::<(), String>(())
//! ```
//!
//! The tools are not installed by this crate: [`require_tool`] fails with the name of the Debian
//! package to install (`docker-registry`, `apache2-utils`, `openssl`, `curl`).

mod faults;
mod process;
mod registry;
mod tls;
mod token;

use std::net::TcpListener;
use std::path::PathBuf;

pub use faults::{Fault, FaultProxy, Injected, Matcher};
pub use registry::{AccessLogEntry, Registry, RegistryAuth, RegistryOptions, TOKEN_ISSUER, TOKEN_SERVICE};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is found by binding `127.0.0.1:0` and releasing it again, so another process may
/// take it before the caller does: callers that start a server on it must retry on "address in
/// use" (as [`Registry::start`] does).
///
/// # Panics
///
/// When no loopback port can be bound at all, which leaves nothing for a test to do.
#[must_use]
#[expect(clippy::expect_used, reason = "a test helper: no free loopback port is fatal")]
pub fn free_port() -> u16 {
    try_free_port().expect("no free TCP port on 127.0.0.1")
}

pub(crate) fn try_free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("cannot bind a free port on 127.0.0.1: {e}"))?;
    let port = listener.local_addr().map_err(|e| format!("cannot read the address of a bound listener: {e}"))?.port();
    Ok(port)
}

/// The full path of the executable `name` found on `PATH`, or an error naming the Debian
/// `package` that provides it (e.g. `require_tool("htpasswd", "apache2-utils")`).
///
/// Tests call this instead of skipping silently, so a missing tool shows up as a failure that
/// says what to install.
pub fn require_tool(name: &str, package: &str) -> Result<PathBuf, String> {
    find_on_path(name).ok_or_else(|| format!("`{name}` is not on PATH; install it with `apt-get install -y {package}`"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable_on_loopback() {
        let port = free_port();
        assert_ne!(port, 0);
        let listener = TcpListener::bind(("127.0.0.1", port));
        assert!(listener.is_ok(), "port {port} should be free: {listener:?}");
    }

    #[test]
    fn require_tool_finds_sh_and_names_the_package_when_missing() {
        assert!(require_tool("sh", "dash").is_ok());
        let err = require_tool("imagegate-no-such-tool", "some-package").unwrap_err();
        assert!(err.contains("apt-get install -y some-package"), "{err}");
        assert!(err.contains("imagegate-no-such-tool"), "{err}");
    }
}
