//! Checks every kind of [`Registry`] from outside, with tools that share no code with the
//! testkit: curl for the HTTP conversation and skopeo for a real push and inspect of a small OCI
//! image written by hand.
//!
//! These tests need `docker-registry`, `apache2-utils`, `openssl`, `curl` and `skopeo`; a missing
//! tool fails the test with the package to install rather than skipping it.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use imagegate_testkit::{Registry, RegistryAuth, RegistryOptions, require_tool};
use sha2::{Digest as _, Sha256};

const USER: &str = "tester";
const PASSWORD: &str = "s3cret pass";

fn tools() {
    for (tool, package) in [
        ("docker-registry", "docker-registry"),
        ("htpasswd", "apache2-utils"),
        ("openssl", "openssl"),
        ("curl", "curl"),
        ("skopeo", "skopeo"),
    ] {
        if let Err(e) = require_tool(tool, package) {
            panic!("{e}");
        }
    }
}

fn start(auth: RegistryAuth, tls: bool) -> Registry {
    tools();
    let started = Instant::now();
    let registry = Registry::start(RegistryOptions { auth, tls }).expect("registry starts");
    eprintln!("{} ready in {:?}", registry.url(), started.elapsed());
    registry
}

fn htpasswd() -> RegistryAuth {
    RegistryAuth::Htpasswd { username: USER.into(), password: PASSWORD.into() }
}

fn token() -> RegistryAuth {
    RegistryAuth::Token { username: USER.into(), password: PASSWORD.into() }
}

/// Runs a command with a time limit; returns (success, stdout, stderr).
fn run(command: &mut Command, limit: Duration) -> (bool, String, String) {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{shown} took longer than {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// What curl saw of one request.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

/// `curl URL` with `extra` options; panics if curl itself fails (connection, TLS, ...).
fn curl(url: &str, extra: &[&str]) -> Answer {
    try_curl(url, extra).unwrap_or_else(|e| panic!("curl {url} {extra:?} failed: {e}"))
}

fn try_curl(url: &str, extra: &[&str]) -> Result<Answer, String> {
    let (ok, stdout, stderr) = run(
        Command::new("curl").args(["--silent", "--show-error", "--max-time", "10", "--include"]).args(extra).arg(url),
        Duration::from_secs(15),
    );
    if !ok {
        return Err(stderr);
    }
    let (headers, body) = stdout.split_once("\r\n\r\n").unwrap_or((stdout.as_str(), ""));
    let status =
        headers.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {stdout:?}"));
    Ok(Answer { status, headers: headers.to_owned(), body: body.to_owned() })
}

fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// A small OCI image layout: one gzip layer holding one file, a config and a manifest tagged
/// `1`. Returns the manifest digest.
fn write_oci_layout(dir: &Path) -> String {
    fn sha256(bytes: &[u8]) -> String {
        let digest = Sha256::digest(bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        fs::write(blobs.join(&digest["sha256:".len()..]), bytes).unwrap();
        digest
    };

    let content = b"hello from imagegate-testkit\n";
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder.append_data(&mut header, "hello.txt", &content[..]).unwrap();
    let layer_tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer_tar).unwrap();
    let layer = gz.finish().unwrap();
    let layer_digest = put(&layer);

    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": ["/hello.txt"] },
        "rootfs": { "type": "layers", "diff_ids": [sha256(&layer_tar)] },
    })
    .to_string();
    let config_digest = put(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    })
    .to_string();
    let manifest_digest = put(manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": "1" },
        }],
    });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    manifest_digest
}

/// skopeo with an empty auth file of its own, so no credentials of the machine leak in.
fn skopeo(work: &Path, args: &[&str]) -> (bool, String, String) {
    let auth = work.join("auth.json");
    if !auth.exists() {
        fs::write(&auth, r#"{"auths":{}}"#).unwrap();
    }
    run(Command::new("skopeo").env("REGISTRY_AUTH_FILE", &auth).args(args), Duration::from_secs(120))
}

/// The options that make skopeo trust `registry` (plain HTTP or its CA), for `side` `src`,
/// `dest` or none (inspect).
fn trust(registry: &Registry, side: &str) -> Vec<String> {
    let prefix = if side.is_empty() { String::from("--") } else { format!("--{side}-") };
    match registry.ca_file() {
        Some(ca) => vec![format!("{prefix}cert-dir={}", ca.parent().unwrap().display())],
        None => vec![format!("{prefix}tls-verify=false")],
    }
}

fn creds(registry: &Registry, side: &str) -> Vec<String> {
    let prefix = if side.is_empty() { String::from("--") } else { format!("--{side}-") };
    registry.credentials().map(|(user, password)| vec![format!("{prefix}creds={user}:{password}")]).unwrap_or_default()
}

/// Pushes the hand-made image with skopeo and reads it back with `skopeo inspect`.
fn push_and_inspect(registry: &Registry) {
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let manifest_digest = write_oci_layout(&layout);
    let reference = format!("docker://{}/testkit/small:1", registry.address());

    let mut args = vec!["--insecure-policy".to_owned(), "copy".to_owned()];
    args.extend(trust(registry, "dest"));
    args.extend(creds(registry, "dest"));
    args.push(format!("oci:{}:1", layout.display()));
    args.push(reference.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, stderr) = skopeo(work.path(), &args);
    assert!(ok, "skopeo copy failed:\n{stdout}\n{stderr}\nregistry log:\n{}", registry.log_tail(30));

    let mut args = vec!["inspect".to_owned()];
    args.extend(trust(registry, ""));
    args.extend(creds(registry, ""));
    args.push(reference.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, stderr) = skopeo(work.path(), &args);
    assert!(ok, "skopeo inspect failed:\n{stdout}\n{stderr}");
    let inspected: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(inspected["Digest"], manifest_digest, "{stdout}");
    assert_eq!(inspected["Layers"].as_array().map(Vec::len), Some(1));

    let repository = registry.storage_dir().join("docker/registry/v2/repositories/testkit/small");
    assert!(repository.is_dir(), "{} is missing", repository.display());

    if registry.credentials().is_some() {
        let mut args = vec!["inspect".to_owned()];
        args.extend(trust(registry, ""));
        args.push(reference);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, stdout, _) = skopeo(work.path(), &args);
        assert!(!ok, "inspect without credentials should fail: {stdout}");
    }
}

#[test]
fn anonymous_registry_answers_and_takes_a_push() {
    tools();
    let started = Instant::now();
    let registry = Registry::anonymous();
    eprintln!("anonymous ready in {:?}", started.elapsed());
    assert_eq!(registry.url(), format!("http://{}", registry.address()));
    assert!(registry.address().starts_with("127.0.0.1:"));
    assert_eq!(registry.ca_file(), None);
    assert_eq!(registry.credentials(), None);
    assert_eq!(registry.token_requests(), 0);

    let answer = curl(&format!("{}/v2/", registry.url()), &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(header(&answer, "Docker-Distribution-Api-Version"), Some("registry/2.0"));
    push_and_inspect(&registry);
}

#[test]
fn request_count_grows_by_exactly_the_requests_made() {
    tools();
    let registry = Registry::anonymous();
    assert_eq!(registry.request_count(), 0, "{:?}", registry.requests());
    let before = registry.request_count();
    let paths = ["/v2/", "/v2/_catalog", "/v2/nope/manifests/1", "/not-v2", "/v2/"];
    for path in paths {
        curl(&format!("{}{path}", registry.url()), &[]);
    }
    assert_eq!(registry.request_count(), before + paths.len());
    let requests = registry.requests();
    let seen: Vec<(&str, u16)> = requests.iter().map(|r| (r.path.as_str(), r.status)).collect();
    assert_eq!(
        seen,
        [("/v2/", 200), ("/v2/_catalog", 200), ("/v2/nope/manifests/1", 404), ("/not-v2", 404), ("/v2/", 200),]
    );
    // HEAD requests count too
    curl(&format!("{}/v2/", registry.url()), &["--head"]);
    assert_eq!(registry.request_count(), before + paths.len() + 1);
    assert_eq!(registry.requests().last().unwrap().method, "HEAD");
}

#[test]
fn htpasswd_registry_wants_basic_credentials() {
    let registry = start(htpasswd(), false);
    assert_eq!(registry.credentials(), Some((USER, PASSWORD)));
    let url = format!("{}/v2/", registry.url());

    let anonymous = curl(&url, &[]);
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    let challenge = header(&anonymous, "WWW-Authenticate").unwrap();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");

    let good = curl(&url, &["--user", &format!("{USER}:{PASSWORD}")]);
    assert_eq!(good.status, 200, "{good:?}");
    let bad = curl(&url, &["--user", &format!("{USER}:wrong")]);
    assert_eq!(bad.status, 401, "{bad:?}");
    assert_eq!(registry.request_count(), 3);

    push_and_inspect(&registry);
}

#[test]
fn tls_registry_is_trusted_only_with_its_ca() {
    let registry = start(RegistryAuth::None, true);
    assert!(registry.url().starts_with("https://127.0.0.1:"));
    let ca = registry.ca_file().expect("a TLS registry has a CA").to_owned();
    assert!(fs::read_to_string(&ca).unwrap().contains("BEGIN CERTIFICATE"));
    let ca_arg = ca.to_string_lossy().into_owned();

    let url = format!("{}/v2/", registry.url());
    let trusted = curl(&url, &["--cacert", &ca_arg]);
    assert_eq!(trusted.status, 200, "{trusted:?}");
    let localhost = curl(
        &format!("https://localhost:{}/v2/", registry.port()),
        &["--cacert", &ca_arg, "--resolve", &format!("localhost:{}:127.0.0.1", registry.port())],
    );
    assert_eq!(localhost.status, 200, "the certificate also names localhost");

    let untrusted = try_curl(&url, &[]).expect_err("without the CA the certificate is refused");
    assert!(untrusted.contains("certificate"), "curl should complain about the certificate: {untrusted}");
    let plain = curl(&format!("http://{}/v2/", registry.address()), &[]);
    assert_eq!(plain.status, 400, "plain HTTP to a TLS port: {plain:?}");

    push_and_inspect(&registry);

    let work = tempfile::tempdir().unwrap();
    let reference = format!("docker://{}/testkit/small:1", registry.address());
    let (ok, stdout, stderr) = skopeo(work.path(), &["inspect", &reference]);
    assert!(!ok, "skopeo must not trust the registry without its CA: {stdout}");
    assert!(stderr.contains("certificate"), "skopeo should complain about the certificate: {stderr}");
}

#[test]
fn tls_and_htpasswd_combine() {
    let registry = start(htpasswd(), true);
    let ca = registry.ca_file().unwrap().to_string_lossy().into_owned();
    let url = format!("{}/v2/", registry.url());
    assert_eq!(curl(&url, &["--cacert", &ca]).status, 401);
    let good = curl(&url, &["--cacert", &ca, "--user", &format!("{USER}:{PASSWORD}")]);
    assert_eq!(good.status, 200);
    push_and_inspect(&registry);
}

/// Asks the token endpoint for a token, as a client that got the registry's challenge does.
fn fetch_token(realm: &str, scopes: &[&str], user: &str, password: &str) -> Answer {
    let mut url = format!("{realm}?service=imagegate-testkit");
    for scope in scopes {
        url.push_str("&scope=");
        url.push_str(&scope.replace(':', "%3A").replace(',', "%2C"));
    }
    curl(&url, &["--user", &format!("{user}:{password}")])
}

/// Part `index` (0 header, 1 claims) of a JWT, decoded.
fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    use base64::Engine as _;
    let part = token.split('.').nth(index).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("JWT parts are base64url");
    serde_json::from_slice(&bytes).expect("JWT parts are JSON")
}

#[test]
fn token_registry_runs_the_bearer_flow() {
    let registry = start(token(), false);
    let url = format!("{}/v2/", registry.url());

    let challenge = curl(&url, &[]);
    assert_eq!(challenge.status, 401, "{challenge:?}");
    let www = header(&challenge, "WWW-Authenticate").unwrap().to_owned();
    let realm = registry.token_realm().unwrap();
    assert!(realm.starts_with("http://127.0.0.1:"), "{realm}");
    assert!(www.starts_with(&format!(r#"Bearer realm="{realm}",service="imagegate-testkit""#)), "{www}");

    let wrong = fetch_token(&realm, &[], USER, "wrong");
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let anonymous = curl(&format!("{realm}?service=imagegate-testkit"), &[]);
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    assert_eq!(registry.token_requests(), 2);

    let issued = fetch_token(&realm, &["repository:testkit/small:pull,push"], USER, PASSWORD);
    assert_eq!(issued.status, 200, "{issued:?}");
    let body: serde_json::Value = serde_json::from_str(&issued.body).unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(body["access_token"], body["token"]);
    assert_eq!(body["expires_in"], 300);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'), "{body}");
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["iss"], "imagegate-testkit-issuer");
    assert_eq!(claims["aud"], "imagegate-testkit");
    assert_eq!(claims["sub"], USER);
    assert_eq!(
        claims["access"],
        serde_json::json!([{"type": "repository", "name": "testkit/small", "actions": ["pull", "push"]}])
    );
    let header = jwt_part(&token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5c"].as_array().map(Vec::len), Some(1));

    let bearer = format!("Authorization: Bearer {token}");
    let authorized = curl(&url, &["--header", &bearer]);
    assert_eq!(authorized.status, 200, "{authorized:?}\nregistry log:\n{}", registry.log_tail(10));
    let forged = format!("Authorization: Bearer {}x", &token);
    assert_eq!(curl(&url, &["--header", &forged]).status, 401);
    assert_eq!(registry.token_requests(), 3);

    push_and_inspect(&registry);
    assert!(registry.token_requests() > 3, "skopeo fetched its own tokens");

    // a catalog token lists what skopeo pushed
    let catalog = fetch_token(&realm, &["registry:catalog:*"], USER, PASSWORD);
    let token: serde_json::Value = serde_json::from_str(&catalog.body).unwrap();
    let bearer = format!("Authorization: Bearer {}", token["token"].as_str().unwrap());
    let listed = curl(&format!("{}/v2/_catalog", registry.url()), &["--header", &bearer]);
    assert_eq!(listed.status, 200, "{listed:?}");
    assert!(listed.body.contains("testkit/small"), "{listed:?}");
    // a repository token does not open the catalog
    let listed = curl(
        &format!("{}/v2/_catalog", registry.url()),
        &["--header", &format!("Authorization: Bearer {}", body["token"].as_str().unwrap())],
    );
    assert_eq!(listed.status, 401, "{listed:?}");
}

#[test]
fn token_and_tls_combine() {
    let registry = start(token(), true);
    let ca = registry.ca_file().unwrap().to_string_lossy().into_owned();
    let challenge = curl(&format!("{}/v2/", registry.url()), &["--cacert", &ca]);
    assert_eq!(challenge.status, 401);
    push_and_inspect(&registry);
}

#[test]
fn dropping_the_registry_stops_it_and_removes_its_files() {
    tools();
    let registry = start(token(), false);
    let address = registry.address();
    let realm = registry.token_realm().unwrap();
    let log: PathBuf = registry.log_file().to_owned();
    assert!(log.is_file());
    drop(registry);
    assert!(!log.exists(), "the temporary directory is removed");
    assert!(
        try_curl(&format!("http://{address}/v2/"), &["--max-time", "2"]).is_err(),
        "nothing answers on {address} any more"
    );
    assert!(try_curl(&realm, &["--max-time", "2"]).is_err(), "the token endpoint {realm} is closed");
}
