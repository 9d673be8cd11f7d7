//! A bearer-token endpoint as Docker Hub and GHCR run one, for a registry configured with
//! `auth.token`.
//!
//! It is a plain HTTP/1.1 server on 127.0.0.1 in a background thread. `GET /token?service=S&
//! scope=repository:NAME:pull,push&scope=...` with HTTP Basic credentials that match answers
//! `{"token", "access_token", "expires_in", "issued_at"}`; wrong or missing credentials get 401.
//! The token is an RS256 JWT whose header carries the signing certificate in `x5c`, signed by
//! `openssl dgst -sha256 -sign` (so no RSA code is compiled into the tests). Every requested
//! action of every scope is granted to the right credentials.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use crate::process::run_with_input;

/// How long a token is valid, in seconds.
pub(crate) const EXPIRES_IN: u64 = 300;
/// Bounds how long one connection may take to send its request or receive the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// A request head larger than this is refused (tokens requests are a few hundred bytes).
const MAX_HEAD: usize = 64 * 1024;

/// What the token endpoint needs to know.
#[derive(Clone)]
pub(crate) struct TokenSettings {
    pub username: String,
    pub password: String,
    pub service: String,
    pub issuer: String,
    pub signing_key: PathBuf,
    /// Standard base64 of the DER of the signing certificate (the JWT's `x5c`).
    pub certificate_der_base64: String,
}

/// The running endpoint; dropping it stops the accept loop.
pub(crate) struct TokenServer {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    pub(crate) fn start(settings: TokenSettings) -> Result<TokenServer, String> {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("token endpoint: cannot bind 127.0.0.1:0: {e}"))?;
        let port = listener.local_addr().map_err(|e| format!("token endpoint: no local address: {e}"))?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            let settings = Arc::new(settings);
            thread::Builder::new()
                .name("testkit-token".into())
                .spawn(move || accept_loop(&listener, &stop, &requests, &settings))
                .map_err(|e| format!("token endpoint: cannot start its thread: {e}"))?
        };
        Ok(TokenServer { port, stop, requests, thread: Some(thread) })
    }

    /// The realm to put in the registry's `auth.token.realm`.
    pub(crate) fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// HTTP requests the endpoint received so far (answered 200 or not).
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the blocking accept so the loop sees the flag; if that connection cannot be
        // made the thread is left behind rather than joined, so dropping never hangs
        let woken = TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        if let (Ok(_), Some(thread)) = (woken, self.thread.take()) {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, requests: &Arc<AtomicUsize>, settings: &Arc<TokenSettings>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let requests = Arc::clone(requests);
        let settings = Arc::clone(settings);
        // one short-lived thread per connection; each ends within IO_TIMEOUT plus a signature
        let _ = thread::Builder::new()
            .name("testkit-token-conn".into())
            .spawn(move || serve_connection(stream, &requests, &settings));
    }
}

fn serve_connection(mut stream: TcpStream, requests: &AtomicUsize, settings: &TokenSettings) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    requests.fetch_add(1, Ordering::SeqCst);
    let response = answer(&head, settings);
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

/// Reads up to the blank line that ends the request head (the body, if any, is ignored).
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0_u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// The full HTTP response to one request head.
fn answer(head: &str, settings: &TokenSettings) -> String {
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let authorization = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.trim().to_owned());
    let (path, query) = target.split_once('?').unwrap_or((target, ""));

    if path != "/token" {
        return response(404, &[], &error_body("no such endpoint; the realm is /token"));
    }
    if method != "GET" {
        // Docker's client POSTs only with an identity token and falls back to GET on 404
        return response(404, &[], &error_body("only GET is served here"));
    }
    if !basic_auth_matches(authorization.as_deref(), settings) {
        return response(
            401,
            &[("WWW-Authenticate", "Basic realm=\"imagegate-testkit\"")],
            &error_body("wrong or missing username/password"),
        );
    }
    let mut scopes = Vec::new();
    for (key, value) in parse_query(query) {
        match key.as_str() {
            "service" if value != settings.service => {
                return response(
                    400,
                    &[],
                    &error_body(&format!("unknown service {value:?}; this endpoint serves {:?}", settings.service)),
                );
            }
            "scope" => {
                for scope in value.split(' ').filter(|s| !s.is_empty()) {
                    match parse_scope(scope) {
                        Some(access) => scopes.push(access),
                        None => {
                            return response(400, &[], &error_body(&format!("malformed scope {scope:?}")));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    match issue_token(settings, &scopes) {
        Ok(body) => response(200, &[], &body),
        Err(e) => response(500, &[], &error_body(&e)),
    }
}

fn error_body(message: &str) -> String {
    json!({ "details": message }).to_string()
}

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

fn basic_auth_matches(authorization: Option<&str>, settings: &TokenSettings) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    decoded.split_once(':') == Some((settings.username.as_str(), settings.password.as_str()))
}

/// One entry of the token's `access` claim.
#[derive(Debug, PartialEq, Eq)]
struct Access {
    kind: String,
    name: String,
    actions: Vec<String>,
}

/// `repository:library/alpine:pull,push` → (repository, library/alpine, [pull, push]); the name
/// is everything between the first and the last colon; `registry:catalog:*` works the same way.
fn parse_scope(scope: &str) -> Option<Access> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(Access {
        kind: kind.to_owned(),
        name: name.to_owned(),
        actions: actions.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect(),
    })
}

/// `a=1&b=x%3Ay` → [(a, 1), (b, x:y)], keeping repeated keys in order.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Builds, signs and wraps the token answer.
fn issue_token(settings: &TokenSettings, scopes: &[Access]) -> Result<String, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| format!("clock before 1970: {e}"))?;
    let seconds = now.as_secs();
    let header = json!({
        "alg": "RS256",
        "typ": "JWT",
        "x5c": [settings.certificate_der_base64],
    });
    let access: Vec<_> =
        scopes.iter().map(|a| json!({ "type": a.kind, "name": a.name, "actions": a.actions })).collect();
    let claims = json!({
        "iss": settings.issuer,
        "sub": settings.username,
        "aud": settings.service,
        "exp": seconds + EXPIRES_IN,
        // distribution allows 60 s of clock skew; a little back-dating keeps fresh tokens valid
        "nbf": seconds.saturating_sub(10),
        "iat": seconds,
        "jti": unique_id(now),
        "access": access,
    });
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = sign(settings, signing_input.as_bytes())?;
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    Ok(json!({
        "token": token,
        "access_token": token,
        "expires_in": EXPIRES_IN,
        "issued_at": rfc3339(seconds),
    })
    .to_string())
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (JWT `RS256`) by the openssl command line.
fn sign(settings: &TokenSettings, input: &[u8]) -> Result<Vec<u8>, String> {
    let (status, output) = run_with_input(
        Command::new("openssl").args(["dgst", "-sha256", "-sign"]).arg(&settings.signing_key),
        input,
        Duration::from_secs(10),
    )?;
    if !status.success() || output.stdout.is_empty() {
        return Err(format!(
            "openssl dgst -sign failed ({status}): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

fn unique_id(now: Duration) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{:x}-{:x}-{n:x}", now.as_nanos(), std::process::id())
}

/// `2026-12-03T23:30:59Z` for seconds since the Unix epoch (UTC).
fn rfc3339(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_at_the_first_and_last_colon() {
        assert_eq!(
            parse_scope("repository:testkit/small:pull,push"),
            Some(Access {
                kind: "repository".into(),
                name: "testkit/small".into(),
                actions: vec!["pull".into(), "push".into()],
            })
        );
        assert_eq!(
            parse_scope("registry:catalog:*"),
            Some(Access { kind: "registry".into(), name: "catalog".into(), actions: vec!["*".into()] })
        );
        assert_eq!(parse_scope("repository:only-two"), None);
        assert_eq!(parse_scope("nothing"), None);
    }

    #[test]
    fn query_values_are_percent_decoded_and_repeatable() {
        assert_eq!(
            parse_query("service=s&scope=repository%3Aa%2Fb%3Apull%2Cpush&scope=x+y&bad=%G1&end=%4"),
            vec![
                ("service".into(), "s".into()),
                ("scope".into(), "repository:a/b:pull,push".into()),
                ("scope".into(), "x y".into()),
                ("bad".into(), "%G1".into()),
                ("end".into(), "%4".into()),
            ]
        );
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_340_659), "2026-12-03T23:30:59Z");
    }

    #[test]
    fn basic_auth_must_match_exactly() {
        let settings = TokenSettings {
            username: "user".into(),
            password: "pa:ss".into(),
            service: "svc".into(),
            issuer: "iss".into(),
            signing_key: PathBuf::new(),
            certificate_der_base64: String::new(),
        };
        let header = |creds: &str| format!("Basic {}", STANDARD.encode(creds));
        assert!(basic_auth_matches(Some(&header("user:pa:ss")), &settings));
        assert!(basic_auth_matches(Some(&format!("basic  {}", STANDARD.encode("user:pa:ss"))), &settings));
        assert!(!basic_auth_matches(Some(&header("user:pa")), &settings));
        assert!(!basic_auth_matches(Some(&header("other:pa:ss")), &settings));
        assert!(!basic_auth_matches(Some("Bearer abc"), &settings));
        assert!(!basic_auth_matches(None, &settings));
    }
}
