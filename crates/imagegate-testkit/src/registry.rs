//! A real CNCF distribution 2.8 registry (`docker-registry serve CONFIG`) for one test.
//!
//! Each [`Registry`] has its own temporary directory holding the config, the storage, the log and
//! any certificates or password file, listens on a free port of 127.0.0.1, and is killed (and
//! reaped) when dropped.
//!
//! # Counting requests
//!
//! The registry runs with its access log on. distribution writes one Apache "combined" line per
//! HTTP request it answered, whatever the status (200, 401, 404, ...) and whatever the route:
//!
//! ```text
//! 127.0.0.1 - - [03/Dec/2026:23:31:40 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"
//! ```
//!
//! [`Registry::request_count`] and [`Registry::requests`] count exactly those lines (the
//! `level=info msg="response completed"` lines are not counted: distribution writes them only
//! for requests that reached a v2 route handler, not for 404s of unknown paths nor for every
//! 401). The line is written when the handler returns, which is before Go's HTTP server sends
//! the end of the response, so by the time a client has read a whole response its line is in
//! the log. The probes that [`Registry::start`] sends while waiting for the registry are not
//! counted.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

use crate::process::{run, run_status};
use crate::tls::{make_server_tls, make_signing_cert};
use crate::token::{TokenServer, TokenSettings};
use crate::{require_tool, try_free_port};

/// How long [`Registry::start`] waits for `GET /v2/` to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between two readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(25);
/// How often a port taken by someone else between [`try_free_port`] and the registry's bind is
/// retried with a new port.
const PORT_ATTEMPTS: usize = 5;
/// The `service` of token auth (the token's audience).
pub const TOKEN_SERVICE: &str = "imagegate-testkit";
/// The `issuer` of token auth.
pub const TOKEN_ISSUER: &str = "imagegate-testkit-issuer";
/// The realm of htpasswd auth.
const HTPASSWD_REALM: &str = "imagegate-testkit";

/// How a [`Registry`] is started. `RegistryOptions::default()` is anonymous plain HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Who may use the registry.
    pub auth: RegistryAuth,
    /// Serve HTTPS with a certificate for 127.0.0.1/localhost signed by a fresh self-signed CA
    /// ([`Registry::ca_file`]).
    pub tls: bool,
}

/// The authentication a [`Registry`] demands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RegistryAuth {
    /// Anyone may pull and push.
    #[default]
    None,
    /// HTTP Basic auth against a bcrypt htpasswd file holding this one user.
    Htpasswd {
        /// The user's name.
        username: String,
        /// The user's password.
        password: String,
    },
    /// Bearer tokens, as Docker Hub and GHCR do it: the registry answers 401 with
    /// `WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service="imagegate-testkit"`
    /// and a token endpoint run by the testkit hands out signed JWTs to this user.
    Token {
        /// The user's name.
        username: String,
        /// The user's password.
        password: String,
    },
}

/// One line of the registry's access log: one HTTP request the registry answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogEntry {
    /// `GET`, `HEAD`, `PUT`, ...
    pub method: String,
    /// The request target as sent (path and query), e.g. `/v2/testkit/small/manifests/1`.
    pub path: String,
    /// The HTTP status of the answer.
    pub status: u16,
}

/// A running registry; see the [module documentation](self).
pub struct Registry {
    child: Child,
    port: u16,
    tls: bool,
    ca_file: Option<PathBuf>,
    credentials: Option<(String, String)>,
    config_file: PathBuf,
    log_file: PathBuf,
    storage_dir: PathBuf,
    /// Access-log lines written by the readiness probes, left out of the counts.
    startup_requests: usize,
    token: Option<TokenServer>,
    // dropped last, after the process that uses it has been killed
    dir: TempDir,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url())
            .field("pid", &self.child.id())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Starts a registry and waits (at most 20 s) until `GET /v2/` answers 200 or 401.
    ///
    /// The error names a missing tool's Debian package, or shows the end of the registry's log
    /// when it did not come up.
    pub fn start(options: RegistryOptions) -> Result<Registry, String> {
        require_tool("docker-registry", "docker-registry")?;
        let dir = tempfile::Builder::new()
            .prefix("imagegate-testkit-registry-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let storage_dir = dir.path().join("storage");
        fs::create_dir_all(&storage_dir).map_err(|e| format!("cannot create {}: {e}", storage_dir.display()))?;

        let server_tls = if options.tls {
            require_tool("openssl", "openssl")?;
            // the readiness probe of an HTTPS registry is made with curl
            require_tool("curl", "curl")?;
            Some(make_server_tls(dir.path())?)
        } else {
            None
        };

        let mut auth_config = String::new();
        let mut credentials = None;
        let mut token = None;
        match &options.auth {
            RegistryAuth::None => {}
            RegistryAuth::Htpasswd { username, password } => {
                let path = write_htpasswd(dir.path(), username, password)?;
                auth_config = format!(
                    "auth:\n  htpasswd:\n    realm: {}\n    path: {}\n",
                    quote(HTPASSWD_REALM),
                    quote_path(&path)
                );
                credentials = Some((username.clone(), password.clone()));
            }
            RegistryAuth::Token { username, password } => {
                require_tool("openssl", "openssl")?;
                let signing = make_signing_cert(&dir.path().join("token"))?;
                let server = TokenServer::start(TokenSettings {
                    username: username.clone(),
                    password: password.clone(),
                    service: TOKEN_SERVICE.to_owned(),
                    issuer: TOKEN_ISSUER.to_owned(),
                    signing_key: signing.key.clone(),
                    certificate_der_base64: signing.der_base64,
                })?;
                auth_config = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    quote(&server.realm()),
                    quote(TOKEN_SERVICE),
                    quote(TOKEN_ISSUER),
                    quote_path(&signing.certificate),
                );
                credentials = Some((username.clone(), password.clone()));
                token = Some(server);
            }
        }

        let config_file = dir.path().join("config.yml");
        let log_file = dir.path().join("registry.log");
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = try_free_port()?;
            let mut config = base_config(&storage_dir, port);
            if let Some(tls) = &server_tls {
                let _ = write!(
                    config,
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    quote_path(&tls.certificate),
                    quote_path(&tls.key)
                );
            }
            config.push_str(&auth_config);
            fs::write(&config_file, &config).map_err(|e| format!("cannot write {}: {e}", config_file.display()))?;

            let mut child = spawn(&config_file, &log_file)?;
            let ca_file = server_tls.as_ref().map(|t| t.ca_file.as_path());
            match wait_ready(&mut child, port, ca_file, &log_file) {
                Ok(()) => {
                    let startup_requests = read_access_log(&log_file)?.len();
                    return Ok(Registry {
                        child,
                        port,
                        tls: options.tls,
                        ca_file: server_tls.map(|t| t.ca_file),
                        credentials,
                        config_file,
                        log_file,
                        storage_dir,
                        startup_requests,
                        token,
                        dir,
                    });
                }
                Err(Startup::PortTaken(message)) => last_error = message,
                Err(Startup::Failed(message)) => return Err(message),
            }
        }
        Err(format!("docker-registry found its port taken {PORT_ATTEMPTS} times; last: {last_error}"))
    }

    /// An anonymous plain-HTTP registry, for tests.
    ///
    /// # Panics
    ///
    /// When the registry cannot be started; the message says why (e.g. which package to install).
    #[must_use]
    #[expect(clippy::expect_used, reason = "a test helper whose failure is the test's failure")]
    pub fn anonymous() -> Registry {
        Registry::start(RegistryOptions::default()).expect("cannot start an anonymous docker-registry for the test")
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    #[must_use]
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The TCP port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, without a trailing slash.
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address())
    }

    /// The PEM file of the self-signed CA that signed the server certificate, when serving TLS.
    ///
    /// It is alone in its directory, so `ca_file().parent()` works as a `--cert-dir` of
    /// skopeo or podman.
    #[must_use]
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The username and password of the htpasswd or token user.
    #[must_use]
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The registry's standard output and error: its logs and its access log.
    #[must_use]
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The registry's YAML configuration.
    #[must_use]
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    /// The filesystem storage root (`storage.filesystem.rootdirectory`).
    #[must_use]
    pub fn storage_dir(&self) -> &Path {
        &self.storage_dir
    }

    /// The token endpoint (`http://127.0.0.1:PORT/token`) of a token-auth registry.
    #[must_use]
    pub fn token_realm(&self) -> Option<String> {
        self.token.as_ref().map(TokenServer::realm)
    }

    /// HTTP requests the token endpoint received so far (0 without token auth), whether they
    /// got a token or not.
    #[must_use]
    pub fn token_requests(&self) -> usize {
        self.token.as_ref().map_or(0, TokenServer::requests)
    }

    /// Requests the registry answered since [`Registry::start`] returned, counted from its
    /// access log (see the [module documentation](self)). Returns 0 if the log cannot be read.
    #[must_use]
    pub fn request_count(&self) -> usize {
        self.requests().len()
    }

    /// The requests the registry answered since [`Registry::start`] returned, oldest first.
    /// Empty if the log cannot be read.
    #[must_use]
    pub fn requests(&self) -> Vec<AccessLogEntry> {
        let mut entries = read_access_log(&self.log_file).unwrap_or_default();
        entries.drain(..self.startup_requests.min(entries.len()));
        entries
    }

    /// Stops the registry process, keeping its storage: a registry that went away.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a stopped registry again on the same port, storage and settings, and waits until
    /// it answers. Its readiness probes are left out of the counts, as at the first start.
    pub fn restart(&mut self) -> Result<(), String> {
        let before = read_access_log(&self.log_file)?.len();
        let mut child = spawn(&self.config_file, &self.log_file)?;
        match wait_ready(&mut child, self.port, self.ca_file.as_deref(), &self.log_file) {
            Ok(()) => {}
            Err(Startup::PortTaken(message) | Startup::Failed(message)) => return Err(message),
        }
        self.child = child;
        self.startup_requests += read_access_log(&self.log_file)?.len() - before;
        Ok(())
    }

    /// The last `lines` lines of the registry's log, for failure messages.
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_file, lines)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // the token server and the temporary directory go with the fields
    }
}

enum Startup {
    /// Someone else bound the port first; worth another port.
    PortTaken(String),
    Failed(String),
}

fn base_config(storage_dir: &Path, port: u16) -> String {
    let secret = {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        format!("imagegate-testkit-{nanos:x}-{:x}", std::process::id())
    };
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
         \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n  secret: {secret}\n",
        storage = quote_path(storage_dir),
        addr = quote(&format!("127.0.0.1:{port}")),
        secret = quote(&secret),
    )
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn quote_path(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

fn write_htpasswd(dir: &Path, username: &str, password: &str) -> Result<PathBuf, String> {
    require_tool("htpasswd", "apache2-utils")?;
    let output = run(Command::new("htpasswd").args(["-Bbn", username, password]), Duration::from_secs(30))?;
    let path = dir.join("htpasswd");
    fs::write(&path, &output.stdout).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn spawn(config_file: &Path, log_file: &Path) -> Result<Child, String> {
    // Appending: a restarted registry keeps the log (and so the request count) of its first run.
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .and_then(|f| {
            // one open file description for both streams, so their lines do not overwrite
            // each other
            let second = f.try_clone()?;
            Ok((f, second))
        })
        .map_err(|e| format!("cannot open {}: {e}", log_file.display()))?;
    Command::new("docker-registry")
        .arg("serve")
        .arg(config_file)
        .stdin(Stdio::null())
        .stdout(log.0)
        .stderr(log.1)
        .spawn()
        .map_err(|e| format!("cannot start docker-registry: {e}"))
}

/// Waits until `GET /v2/` answers 200 or 401, the process exits, or [`READY_TIMEOUT`] passes.
/// The child is killed on every failure.
fn wait_ready(child: &mut Child, port: u16, ca_file: Option<&Path>, log_file: &Path) -> Result<(), Startup> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let tail = log_tail(log_file, 20);
                let message =
                    format!("docker-registry exited ({status}) before answering on 127.0.0.1:{port}; log:\n{tail}");
                return Err(if tail.contains("address already in use") {
                    Startup::PortTaken(message)
                } else {
                    Startup::Failed(message)
                });
            }
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Startup::Failed(format!("cannot watch docker-registry: {e}")));
            }
        }
        let probe = match ca_file {
            None => probe_http(port),
            Some(ca) => probe_https(port, ca),
        };
        let last_probe = match probe {
            Ok(200 | 401) => return Ok(()),
            Ok(status) => format!("GET /v2/ answered {status}"),
            Err(e) => e,
        };
        if started.elapsed() >= READY_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Startup::Failed(format!(
                "docker-registry did not answer GET /v2/ on 127.0.0.1:{port} within {READY_TIMEOUT:?} \
                 ({last_probe}); log:\n{}",
                log_tail(log_file, 20)
            )));
        }
        thread::sleep(PROBE_INTERVAL);
    }
}

/// The status of a plain `GET /v2/`.
fn probe_http(port: u16) -> Result<u16, String> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|e| format!("connect to {address}: {e}"))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    stream
        .write_all(format!("GET /v2/ HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("send to {address}: {e}"))?;
    let mut head = [0_u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..]).map_err(|e| format!("read from {address}: {e}"))?;
        if n == 0 {
            break;
        }
        read += n;
    }
    parse_status_line(&String::from_utf8_lossy(&head[..read]))
        .ok_or_else(|| format!("{address} sent no HTTP status line"))
}

/// `HTTP/1.1 401 Unauthorized` → 401.
fn parse_status_line(text: &str) -> Option<u16> {
    let rest = text.strip_prefix("HTTP/")?;
    rest.split(' ').nth(1)?.get(..3)?.parse().ok()
}

/// The status of `GET /v2/` over HTTPS, verified against `ca`, by curl.
fn probe_https(port: u16, ca: &Path) -> Result<u16, String> {
    let (status, output) = run_status(
        Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "2"])
            .args(["--output", "/dev/null", "--write-out", "%{http_code}"])
            .arg("--cacert")
            .arg(ca)
            .arg(format!("https://127.0.0.1:{port}/v2/")),
        Duration::from_secs(5),
    )?;
    if !status.success() {
        return Err(format!("curl: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().map_err(|_| "curl printed no HTTP status".to_owned())
}

fn read_access_log(log_file: &Path) -> Result<Vec<AccessLogEntry>, String> {
    let mut text = String::new();
    File::open(log_file)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| format!("cannot read {}: {e}", log_file.display()))?;
    Ok(text.lines().filter_map(parse_access_line).collect())
}

/// Parses `127.0.0.1 - - [03/Dec/2026:23:31:40 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"`;
/// any other line (logrus `time=... level=...` lines) gives `None`.
fn parse_access_line(line: &str) -> Option<AccessLogEntry> {
    let (prefix, rest) = line.split_once(" [")?;
    let mut fields = prefix.split(' ');
    fields.next()?.parse::<IpAddr>().ok()?;
    if fields.count() != 2 {
        return None;
    }
    let (_date, rest) = rest.split_once("] \"")?;
    let (request, rest) = rest.split_once("\" ")?;
    let mut request = request.split(' ');
    let method = request.next()?;
    let path = request.next()?;
    if !request.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = rest.split(' ').next()?.parse().ok()?;
    Some(AccessLogEntry { method: method.to_owned(), path: path.to_owned(), status })
}

fn log_tail(log_file: &Path, lines: usize) -> String {
    match fs::read_to_string(log_file) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", log_file.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_lines_parse_and_other_lines_do_not() {
        assert_eq!(
            parse_access_line(
                r#"127.0.0.1 - - [03/Dec/2026:23:31:40 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1""#
            ),
            Some(AccessLogEntry { method: "GET".into(), path: "/v2/".into(), status: 200 })
        );
        assert_eq!(
            parse_access_line(
                r#"127.0.0.1 - user [03/Dec/2026:23:31:40 +0000] "HEAD /v2/a/b/blobs/sha256:00?x=1 HTTP/1.1" 404 157 "" "skopeo""#
            )
            .map(|e| (e.method, e.path, e.status)),
            Some(("HEAD".into(), "/v2/a/b/blobs/sha256:00?x=1".into(), 404))
        );
        assert_eq!(
            parse_access_line(
                r#"time="2026-12-03T23:31:40Z" level=info msg="response completed" http.request.uri=/v2/ http.response.status=200"#
            ),
            None
        );
        assert_eq!(parse_access_line(""), None);
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 401 Unauthorized\r\n"), Some(401));
        assert_eq!(parse_status_line("HTTP/1.0 200 OK"), Some(200));
        assert_eq!(parse_status_line("SSH-2.0"), None);
    }

    /// Runs `script` as if it were the registry, with its output in a log file.
    fn fake_registry(script: &str) -> (tempfile::TempDir, Result<(), Startup>) {
        let dir = tempfile::tempdir().unwrap();
        let log_file = dir.path().join("registry.log");
        let log = File::create(&log_file).unwrap();
        let mut child = Command::new("sh").args(["-c", script]).stdout(log).spawn().unwrap();
        let port = try_free_port().unwrap();
        let result = wait_ready(&mut child, port, None, &log_file);
        (dir, result)
    }

    #[test]
    fn a_taken_port_is_told_apart_from_other_startup_failures() {
        let (_dir, result) = fake_registry("echo 'listen tcp 127.0.0.1:1: bind: address already in use'; exit 1");
        match result {
            Err(Startup::PortTaken(message)) => {
                assert!(message.contains("address already in use"), "{message}");
            }
            _ => panic!("expected PortTaken"),
        }
        let (_dir, result) = fake_registry("echo first; echo 'configuration error: bad'; exit 2");
        match result {
            Err(Startup::Failed(message)) => {
                assert!(message.contains("exited"), "{message}");
                assert!(message.contains("first\nconfiguration error: bad"), "{message}");
            }
            _ => panic!("expected Failed with the log tail"),
        }
    }

    #[test]
    fn config_quotes_values() {
        let config = base_config(Path::new("/tmp/a \"b\""), 5000);
        assert!(config.contains(r#"rootdirectory: "/tmp/a \"b\"""#), "{config}");
        assert!(config.contains(r#"addr: "127.0.0.1:5000""#), "{config}");
    }
}
