//! Registry credentials, found where users already keep them: imagegate's own environment
//! variables, docker's `config.json` (with its `docker-credential-*` helpers) and podman's
//! `auth.json`. Secrets never appear in `Debug`, `Display` or an error: the only ways to read one
//! are [`Secret::expose`], [`Credentials::to_oci`] and [`engine_auth_json`].

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use oci_client::secrets::RegistryAuth;
use serde_json::Value;

/// With [`PASSWORD_VARIABLE`], basic auth for the registry.
pub const USERNAME_VARIABLE: &str = "IMAGEGATE_REGISTRY_USERNAME";
pub const PASSWORD_VARIABLE: &str = "IMAGEGATE_REGISTRY_PASSWORD";
/// Alone, a bearer token for the registry.
pub const TOKEN_VARIABLE: &str = "IMAGEGATE_REGISTRY_TOKEN";

/// The variables [`CredentialSources::from_environment`] keeps: the three above, where docker and
/// podman keep their files, and where helpers and `~` are.
const SNAPSHOT_VARIABLES: [&str; 9] = [
    USERNAME_VARIABLE,
    PASSWORD_VARIABLE,
    TOKEN_VARIABLE,
    "DOCKER_CONFIG",
    "REGISTRY_AUTH_FILE",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "HOME",
    "PATH",
];

/// Docker Hub's names: references say `docker.io`, docker's files and helpers use the index URL,
/// and some configurations name the registry's real host.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];
const DOCKER_HUB_INDEX_URL: &str = "https://index.docker.io/v1/";

/// How long a credential helper may take. Helpers can wait on a locked keychain or a prompt
/// nobody will answer in CI; a bounded wait turns that hang into an error.
const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

const IDENTITY_TOKEN_HINT: &str = "log in with a username and a password or access token (`docker login -u NAME`), \
     or set IMAGEGATE_REGISTRY_USERNAME and IMAGEGATE_REGISTRY_PASSWORD, or IMAGEGATE_REGISTRY_TOKEN";

/// A password or token. It prints as `<redacted>` so that it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}

/// How to authenticate to a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    Anonymous,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Credentials {
    /// The same credentials for the registry client.
    pub fn to_oci(&self) -> RegistryAuth {
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.expose().to_owned())
            }
            Credentials::Bearer(token) => RegistryAuth::Bearer(token.expose().to_owned()),
        }
    }

    /// What kind of credentials these are and for whom, without the secret: `basic auth as alice`.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Anonymous => "anonymous access".to_owned(),
            Credentials::Basic { username, .. } => format!("basic auth as {username}"),
            Credentials::Bearer(_) => "a bearer token".to_owned(),
        }
    }
}

/// Where credentials may be found. [`CredentialSources::from_environment`] fills it from the
/// process; tests fill it by hand so that nothing of the machine they run on leaks in.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CredentialSources {
    /// The relevant environment variables: imagegate's credentials, `HOME` (to show paths under it
    /// as `~`) and `PATH` (where helpers are looked for).
    pub env: BTreeMap<String, String>,
    /// The directory of docker's `config.json`.
    pub docker_config_dir: Option<PathBuf>,
    /// Podman's `auth.json`.
    pub podman_auth_file: Option<PathBuf>,
    /// A directory searched for `docker-credential-*` before `PATH`.
    pub helper_dir: Option<PathBuf>,
}

impl CredentialSources {
    /// The sources docker and podman themselves would use: `$DOCKER_CONFIG` or `~/.docker`, and
    /// `$REGISTRY_AUTH_FILE` or podman's default `auth.json`.
    pub fn from_environment() -> CredentialSources {
        let env = SNAPSHOT_VARIABLES
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|value| ((*name).to_owned(), value)))
            .collect();
        CredentialSources::from_snapshot(env)
    }

    fn from_snapshot(env: BTreeMap<String, String>) -> CredentialSources {
        let variable = |name: &str| env.get(name).filter(|value| !value.is_empty()).map(PathBuf::from);
        let home = variable("HOME");
        let docker_config_dir = variable("DOCKER_CONFIG").or_else(|| home.as_ref().map(|home| home.join(".docker")));
        // Podman reads the runtime directory's file first and falls back to the one in the
        // configuration directory, which is where it lives on machines without a login session.
        let runtime_file = variable("XDG_RUNTIME_DIR").map(|dir| dir.join("containers/auth.json"));
        let config_file = variable("XDG_CONFIG_HOME")
            .or_else(|| home.as_ref().map(|home| home.join(".config")))
            .map(|dir| dir.join("containers/auth.json"));
        let podman_auth_file = variable("REGISTRY_AUTH_FILE").or_else(|| {
            [&runtime_file, &config_file]
                .into_iter()
                .flatten()
                .find(|file| file.exists())
                .cloned()
                .or(runtime_file.clone())
        });
        CredentialSources { env, docker_config_dir, podman_auth_file, helper_dir: None }
    }

    /// `path` as the user would write it, with their home directory as `~`.
    fn show(&self, path: &Path) -> String {
        let home = self.env.get("HOME").filter(|home| !home.is_empty());
        match home.and_then(|home| path.strip_prefix(home).ok()) {
            Some(rest) => format!("~/{}", rest.display()),
            None => path.display().to_string(),
        }
    }
}

impl fmt::Debug for CredentialSources {
    /// The snapshot of the environment holds the password or token as set, so those are redacted.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: BTreeMap<&str, &str> = self
            .env
            .iter()
            .map(|(name, value)| {
                let secret = name == PASSWORD_VARIABLE || name == TOKEN_VARIABLE;
                (name.as_str(), if secret { "<redacted>" } else { value.as_str() })
            })
            .collect();
        formatter
            .debug_struct("CredentialSources")
            .field("env", &env)
            .field("docker_config_dir", &self.docker_config_dir)
            .field("podman_auth_file", &self.podman_auth_file)
            .field("helper_dir", &self.helper_dir)
            .finish()
    }
}

/// Credentials and where they were found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub credentials: Credentials,
    /// Where the credentials came from, for messages: `~/.docker/config.json`,
    /// `IMAGEGATE_REGISTRY_TOKEN`, `docker-credential-pass (credHelpers in ~/.docker/config.json)`.
    pub source: String,
}

impl Resolved {
    /// `basic auth as alice (from ~/.docker/config.json)`.
    pub fn describe(&self) -> String {
        format!("{} (from {})", self.credentials.describe(), self.source)
    }
}

/// Why credentials could not be found. None of these messages holds a secret.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// One of imagegate's variables is set without the one it needs.
    #[error(
        "read registry credentials from the environment: {set} is set but {missing} is not\n  hint: set both, or \
         neither to use docker's or podman's login"
    )]
    EnvironmentIncomplete { set: &'static str, missing: &'static str },
    /// Both a password and a token are set, so which one to use is not clear.
    #[error(
        "read registry credentials from the environment: both {PASSWORD_VARIABLE} and {TOKEN_VARIABLE} are set\n  hint: \
         set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE} for basic auth, or {TOKEN_VARIABLE} alone for a bearer token"
    )]
    EnvironmentConflict,
    /// A configuration file exists but cannot be read.
    #[error("read {path}: {source}")]
    ReadConfig { path: String, source: io::Error },
    /// A configuration file is not JSON.
    #[error("read {path}: not valid JSON at line {line}, column {column}: {reason}")]
    MalformedConfig { path: String, line: usize, column: usize, reason: String },
    /// A configuration file is JSON but not what docker or podman write.
    #[error("read {path}: {reason}")]
    InvalidConfig { path: String, reason: String },
    /// The credentials found are an identity token (an OAuth refresh token), which needs a token
    /// exchange this client does not do.
    #[error(
        "use the credentials for {registry} from {source_name}: they are an identity token, which imagegate does not \
         support yet\n  hint: {hint}"
    )]
    IdentityTokenUnsupported { registry: String, source_name: String, hint: &'static str },
    /// A configured credential helper is in neither the helper directory nor `PATH`.
    #[error("run {helper}, named by {configured_in}: it is not installed\n  hint: {hint}")]
    HelperNotFound { helper: String, configured_in: String, hint: String },
    /// A credential helper could not be started.
    #[error("run {path}: {source}")]
    HelperStart { path: String, source: io::Error },
    /// A credential helper failed for another reason than having no credentials.
    #[error("run {helper} get for {registry}: it failed ({status}): {message}")]
    HelperFailed { helper: String, registry: String, status: ExitStatus, message: String },
    /// A credential helper did not answer in time.
    #[error("run {helper} get for {registry}: no answer after {} seconds, so it was stopped", HELPER_TIMEOUT.as_secs())]
    HelperTimedOut { helper: String, registry: String },
    /// A credential helper answered with something else than its JSON.
    #[error("read the answer of {helper} get for {registry}: {reason}")]
    HelperOutputInvalid { helper: String, registry: String, reason: String },
}

/// Finds the credentials for `registry` (as in [`crate::reference::Reference::registry`]): the
/// environment, then docker's `credHelpers`, `auths` and `credsStore`, then podman's `auths`, and
/// anonymous access when none of them has any.
pub fn resolve(registry: &str, sources: &CredentialSources) -> Result<Resolved, AuthError> {
    resolve_in_namespace(registry, "", sources)
}

/// [`resolve`] for repositories under `namespace` (`acme/ci` for `quay.io/acme/ci/…`): podman
/// keeps a login for a namespace under that path (`podman login quay.io/acme` writes the key
/// `quay.io/acme`), and, as podman picks, the most specific such key that contains the
/// namespace wins over the registry's own entry in its file.
pub fn resolve_in_namespace(
    registry: &str,
    namespace: &str,
    sources: &CredentialSources,
) -> Result<Resolved, AuthError> {
    if let Some(resolved) = from_variables(&sources.env)? {
        return Ok(resolved);
    }
    if let Some(dir) = &sources.docker_config_dir {
        let path = dir.join("config.json");
        if let Some(config) = AuthFile::read(&path, sources)? {
            if let Some(helper) = config.helper_for(registry) {
                let origin = format!("credHelpers in {}", config.shown);
                if let Some(resolved) = run_helper(helper, registry, &origin, sources)? {
                    return Ok(resolved);
                }
            }
            if let Some(resolved) = config.inline_credentials(registry)? {
                return Ok(resolved);
            }
            if let Some(store) = &config.creds_store {
                let origin = format!("credsStore in {}", config.shown);
                if let Some(resolved) = run_helper(store, registry, &origin, sources)? {
                    return Ok(resolved);
                }
            }
        }
    }
    if let Some(path) = &sources.podman_auth_file
        && let Some(auth_file) = AuthFile::read(path, sources)?
    {
        // `registry/a/b`, then `registry/a`, then `registry`.
        let components: Vec<&str> = namespace.split('/').filter(|component| !component.is_empty()).collect();
        for depth in (1..=components.len()).rev() {
            let scope = format!("{registry}/{}", components[..depth].join("/"));
            if auth_file.auths.contains_key(&scope)
                && let Some(resolved) = auth_file.inline_credentials(&scope)?
            {
                return Ok(resolved);
            }
        }
        if let Some(resolved) = auth_file.inline_credentials(registry)? {
            return Ok(resolved);
        }
    }
    Ok(Resolved { credentials: Credentials::Anonymous, source: format!("no credentials configured for {registry}") })
}

/// A docker `config.json` / podman `auth.json` body holding `credentials` for `registry`, for
/// handing the same login to `docker --config DIR push` or `podman push --authfile FILE`.
///
/// Only basic auth can be written so that both engines read it: podman's file has no field for a
/// bearer token. Anonymous access and bearer tokens give `None`; run the engine without a file.
pub fn engine_auth_json(registry: &str, credentials: &Credentials) -> Option<String> {
    let Credentials::Basic { username, password } = credentials else {
        return None;
    };
    // Docker looks Docker Hub up by its index URL and podman reads that key as docker.io.
    let key = if registry == DOCKER_HUB { DOCKER_HUB_INDEX_URL } else { registry };
    let auth = BASE64.encode(format!("{username}:{}", password.expose()));
    Some(serde_json::json!({ "auths": { key: { "auth": auth } } }).to_string())
}

/// imagegate's own variables. Empty ones count as unset: CI services set a variable to the empty
/// string when a secret is not available to a run (as for pull requests from forks).
fn from_variables(env: &BTreeMap<String, String>) -> Result<Option<Resolved>, AuthError> {
    let variable = |name: &str| env.get(name).filter(|value| !value.is_empty());
    match (variable(USERNAME_VARIABLE), variable(PASSWORD_VARIABLE), variable(TOKEN_VARIABLE)) {
        (_, Some(_), Some(_)) => Err(AuthError::EnvironmentConflict),
        (Some(username), Some(password), None) => Ok(Some(Resolved {
            credentials: Credentials::Basic { username: username.clone(), password: Secret::new(password.clone()) },
            source: format!("{USERNAME_VARIABLE} and {PASSWORD_VARIABLE}"),
        })),
        (Some(_), None, _) => {
            Err(AuthError::EnvironmentIncomplete { set: USERNAME_VARIABLE, missing: PASSWORD_VARIABLE })
        }
        (None, Some(_), None) => {
            Err(AuthError::EnvironmentIncomplete { set: PASSWORD_VARIABLE, missing: USERNAME_VARIABLE })
        }
        (None, None, Some(token)) => Ok(Some(Resolved {
            credentials: Credentials::Bearer(Secret::new(token.clone())),
            source: TOKEN_VARIABLE.to_owned(),
        })),
        (None, None, None) => Ok(None),
    }
}

/// The parts of docker's `config.json` and podman's `auth.json` that hold credentials.
struct AuthFile {
    /// The file's path as shown to the user.
    shown: String,
    auths: BTreeMap<String, AuthEntry>,
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
}

/// One `auths` entry. Each field is optional; docker writes an empty entry when a helper holds
/// the credentials.
#[derive(Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identity_token: Option<String>,
    registry_token: Option<String>,
}

impl AuthFile {
    /// The file at `path`, or `None` if there is none.
    fn read(path: &Path, sources: &CredentialSources) -> Result<Option<AuthFile>, AuthError> {
        let shown = sources.show(path);
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(AuthError::ReadConfig { path: shown, source }),
        };
        // Parsed as a plain JSON value first: a syntax error's message never quotes the input,
        // whereas typed deserialization reports wrong values by quoting them, secrets included.
        let value: Value = serde_json::from_str(&text).map_err(|error| AuthError::MalformedConfig {
            path: shown.clone(),
            line: error.line(),
            column: error.column(),
            reason: syntax_reason(&error),
        })?;
        let invalid = |reason: String| AuthError::InvalidConfig { path: shown.clone(), reason };
        let Value::Object(root) = value else {
            return Err(invalid("the top level is not a JSON object".to_owned()));
        };
        let mut auths = BTreeMap::new();
        if let Some(entries) = root.get("auths") {
            let Value::Object(entries) = entries else {
                return Err(invalid("`auths` is not an object".to_owned()));
            };
            for (key, entry) in entries {
                let Value::Object(fields) = entry else {
                    return Err(invalid(format!("`auths` entry \"{key}\" is not an object")));
                };
                let field = |name: &str| match fields.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(text)) if text.is_empty() => Ok(None),
                    Some(Value::String(text)) => Ok(Some(text.clone())),
                    Some(_) => Err(invalid(format!("`{name}` of `auths` entry \"{key}\" is not a string"))),
                };
                let entry = AuthEntry {
                    auth: field("auth")?,
                    username: field("username")?,
                    password: field("password")?,
                    identity_token: field("identitytoken")?,
                    registry_token: field("registrytoken")?,
                };
                auths.insert(key.clone(), entry);
            }
        }
        let mut cred_helpers = BTreeMap::new();
        if let Some(helpers) = root.get("credHelpers") {
            let Value::Object(helpers) = helpers else {
                return Err(invalid("`credHelpers` is not an object".to_owned()));
            };
            for (key, helper) in helpers {
                let Value::String(helper) = helper else {
                    return Err(invalid(format!("`credHelpers` entry \"{key}\" is not a string")));
                };
                cred_helpers.insert(key.clone(), helper.clone());
            }
        }
        let creds_store = match root.get("credsStore") {
            None | Some(Value::Null) => None,
            Some(Value::String(store)) if store.is_empty() => None,
            Some(Value::String(store)) => Some(store.clone()),
            Some(_) => return Err(invalid("`credsStore` is not a string".to_owned())),
        };
        let file = AuthFile { shown, auths, cred_helpers, creds_store };
        for helper in file.cred_helpers.values().chain(&file.creds_store) {
            // A helper name becomes part of a program name; a path there would run anything.
            if helper.is_empty() || helper.contains(['/', '\\']) {
                return Err(file.invalid(format!("credential helper name \"{helper}\" is not a plain name")));
            }
        }
        Ok(Some(file))
    }

    fn invalid(&self, reason: String) -> AuthError {
        AuthError::InvalidConfig { path: self.shown.clone(), reason }
    }

    /// The `credHelpers` entry for `registry`.
    fn helper_for(&self, registry: &str) -> Option<&str> {
        find_key(&self.cred_helpers, registry).map(|(_, helper)| helper.as_str())
    }

    /// Credentials written in the file itself (`auths`), if its entry for `registry` has any.
    fn inline_credentials(&self, registry: &str) -> Result<Option<Resolved>, AuthError> {
        let Some((key, entry)) = find_key(&self.auths, registry) else {
            return Ok(None);
        };
        let resolved = |credentials| Ok(Some(Resolved { credentials, source: self.shown.clone() }));
        if entry.identity_token.is_some() {
            return Err(AuthError::IdentityTokenUnsupported {
                registry: registry.to_owned(),
                source_name: self.shown.clone(),
                hint: IDENTITY_TOKEN_HINT,
            });
        }
        if let Some(token) = &entry.registry_token {
            return resolved(Credentials::Bearer(Secret::new(token.clone())));
        }
        if let Some(auth) = &entry.auth {
            // The decoding error is not passed on: base64's errors name the offending byte.
            let decoded =
                BASE64.decode(auth.trim()).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or_else(|| {
                    self.invalid(format!("`auth` of `auths` entry \"{key}\" is not base64 of UTF-8 text"))
                })?;
            let Some((username, password)) = decoded.split_once(':').filter(|(username, _)| !username.is_empty())
            else {
                return Err(
                    self.invalid(format!("`auth` of `auths` entry \"{key}\" is not base64 of username:password"))
                );
            };
            // Docker trims the NUL padding some tools leave after the password; so does this.
            let password = password.trim_matches('\0');
            return resolved(Credentials::Basic { username: username.to_owned(), password: Secret::new(password) });
        }
        match (&entry.username, &entry.password) {
            (Some(username), Some(password)) => {
                resolved(Credentials::Basic { username: username.clone(), password: Secret::new(password.clone()) })
            }
            (Some(_), None) | (None, Some(_)) => {
                Err(self.invalid(format!("`auths` entry \"{key}\" has only one of `username` and `password`")))
            }
            (None, None) => Ok(None),
        }
    }
}

/// The entry of `map` for `registry`: the key written exactly as the registry first, then keys as
/// docker writes them (`https://host`, `http://host/v1/`), and Docker Hub under any of its names.
fn find_key<'map, T>(map: &'map BTreeMap<String, T>, registry: &str) -> Option<(&'map String, &'map T)> {
    if let Some(found) = map.get_key_value(registry) {
        return Some(found);
    }
    let names: &[&str] = if registry == DOCKER_HUB { &DOCKER_HUB_ALIASES } else { &[registry] };
    map.iter().find(|(key, _)| names.contains(&key_host(key)))
}

/// The host a key of `auths` or `credHelpers` stands for. Keys with a path that is not an API
/// version (podman's repository-scoped `host/namespace`) are left whole, so they never match a
/// whole registry.
fn key_host(key: &str) -> &str {
    let without_scheme = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    ["/v1/", "/v2/", "/v1", "/v2", "/"]
        .iter()
        .find_map(|suffix| without_scheme.strip_suffix(suffix))
        .unwrap_or(without_scheme)
}

/// serde_json's message for a syntax error, without the position (given separately).
fn syntax_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(position) => message[..position].to_owned(),
        None => message,
    }
}

/// Asks `docker-credential-<name>` for the credentials of `registry`, by the helpers' protocol:
/// `get` with the server URL on stdin, `{"ServerURL","Username","Secret"}` on stdout. `None` when
/// the helper has none ("credentials not found").
fn run_helper(
    name: &str,
    registry: &str,
    origin: &str,
    sources: &CredentialSources,
) -> Result<Option<Resolved>, AuthError> {
    let helper = format!("docker-credential-{name}");
    let path = find_helper(&helper, sources).ok_or_else(|| AuthError::HelperNotFound {
        helper: helper.clone(),
        configured_in: origin.to_owned(),
        hint: format!("install {helper} on PATH, or remove it from the {origin}"),
    })?;
    let server_url = if registry == DOCKER_HUB { DOCKER_HUB_INDEX_URL } else { registry };
    let output = run_with_timeout(&path, server_url, HELPER_TIMEOUT).map_err(|error| match error {
        HelperRunError::Io(source) => AuthError::HelperStart { path: sources.show(&path), source },
        HelperRunError::TimedOut => AuthError::HelperTimedOut { helper: helper.clone(), registry: registry.to_owned() },
    })?;
    if !output.status.success() {
        // The helpers of docker-credential-helpers say this on stdout with exit status 1.
        let not_found = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains("credentials not found");
        if not_found(&output.stdout) || not_found(&output.stderr) {
            return Ok(None);
        }
        // Only stderr is quoted: stdout is where a helper writes secrets.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or("(nothing on stderr)");
        return Err(AuthError::HelperFailed {
            helper,
            registry: registry.to_owned(),
            status: output.status,
            message: message.chars().take(200).collect(),
        });
    }
    let invalid = |reason: String| AuthError::HelperOutputInvalid {
        helper: helper.clone(),
        registry: registry.to_owned(),
        reason,
    };
    let value: Value = serde_json::from_slice(&output.stdout).map_err(|error| {
        invalid(format!("not JSON at line {}, column {}: {}", error.line(), error.column(), syntax_reason(&error)))
    })?;
    let field = |name: &str| match value.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(invalid(format!("`{name}` is not a string"))),
    };
    let (username, secret) = (field("Username")?, field("Secret")?);
    let source = format!("{helper} ({origin})");
    // Helpers mark an identity token, which needs an OAuth exchange, by this username.
    if username == "<token>" {
        return Err(AuthError::IdentityTokenUnsupported {
            registry: registry.to_owned(),
            source_name: source,
            hint: IDENTITY_TOKEN_HINT,
        });
    }
    if secret.is_empty() {
        return Ok(None);
    }
    if username.is_empty() {
        return Err(invalid("`Secret` is set but `Username` is empty".to_owned()));
    }
    Ok(Some(Resolved { credentials: Credentials::Basic { username, password: Secret::new(secret) }, source }))
}

/// `helper` in the helper directory, else on `PATH` as the snapshot has it.
fn find_helper(helper: &str, sources: &CredentialSources) -> Option<PathBuf> {
    let path_dirs = sources.env.get("PATH").map(|path| std::env::split_paths(path).collect::<Vec<_>>());
    sources
        .helper_dir
        .iter()
        .cloned()
        .chain(path_dirs.into_iter().flatten())
        .map(|dir| dir.join(helper))
        .find(|candidate| candidate.is_file())
}

enum HelperRunError {
    Io(io::Error),
    TimedOut,
}

struct HelperOutput {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `program get` with `input` on stdin, stopping it after `timeout`.
fn run_with_timeout(program: &Path, input: &str, timeout: Duration) -> Result<HelperOutput, HelperRunError> {
    let mut child = spawn_helper(program).map_err(HelperRunError::Io)?;
    // Both pipes are drained from the start, so that a helper writing much before it reads its
    // input, or while it is waited for, cannot block on them.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    if let Some(mut stdin) = child.stdin.take() {
        // A helper may exit without reading its input; what it printed still says what happened.
        match stdin.write_all(input.as_bytes()) {
            Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelperRunError::Io(error));
            }
            _ => {}
        }
    }
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelperRunError::TimedOut);
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(error) => return Err(HelperRunError::Io(error)),
        }
    };
    let collect = |reader: thread::JoinHandle<Vec<u8>>| reader.join().unwrap_or_default();
    Ok(HelperOutput { status, stdout: collect(stdout), stderr: collect(stderr) })
}

fn spawn_helper(program: &Path) -> io::Result<Child> {
    let mut attempts = 0;
    loop {
        let spawned = Command::new(program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            // A helper that was just written (by an installer, or a test) can be busy for a moment
            // while another process that inherited its open file descriptor has not yet exec'd.
            Err(error) if error.kind() == io::ErrorKind::ExecutableFileBusy && attempts < 20 => {
                attempts += 1;
                thread::sleep(Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error leaves what was read so far, which is all there is to report.
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::fs::PermissionsExt;

    use tempfile::TempDir;

    /// Every secret in these tests contains this, so one check finds any of them in a message.
    const SECRET_MARK: &str = "s3cret";

    /// A real credential helper speaking docker's protocol: `get`, the server URL on stdin, JSON
    /// on stdout. It answers from fixed data by server URL and records the URL it was asked for.
    const HELPER_SCRIPT: &str = r#"#!/bin/sh
[ "$1" = get ] || { echo "unknown action: $1" >&2; exit 2; }
IFS= read -r server || true
printf '%s' "$server" > "$(dirname "$0")/last-server"
case "$server" in
  registry.example.com|https://index.docker.io/v1/)
    printf '{"ServerURL":"%s","Username":"helper-user","Secret":"s3cret-from-helper"}\n' "$server" ;;
  token.example.com)
    printf '{"ServerURL":"%s","Username":"<token>","Secret":"s3cret-identity-token"}\n' "$server" ;;
  broken.example.com)
    printf 's3cret-on-stdout\n'
    echo "the keychain is locked" >&2
    echo "second line" >&2
    exit 3 ;;
  garbage.example.com)
    printf '{"ServerURL":"%s","Username":"helper-user","Secret":"s3cret-cut-off' "$server" ;;
  *)
    echo "credentials not found in native keychain"
    exit 1 ;;
esac
"#;

    struct Fixture {
        dir: TempDir,
        sources: CredentialSources,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            for sub in ["docker", "podman", "helpers"] {
                std::fs::create_dir(dir.path().join(sub)).unwrap();
            }
            let helper = dir.path().join("helpers/docker-credential-test");
            std::fs::write(&helper, HELPER_SCRIPT).unwrap();
            std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
            let sources = CredentialSources {
                env: BTreeMap::new(),
                docker_config_dir: Some(dir.path().join("docker")),
                podman_auth_file: Some(dir.path().join("podman/auth.json")),
                helper_dir: Some(dir.path().join("helpers")),
            };
            Fixture { dir, sources }
        }

        fn docker_config(self, json: &str) -> Fixture {
            std::fs::write(self.dir.path().join("docker/config.json"), json).unwrap();
            self
        }

        fn podman_auth(self, json: &str) -> Fixture {
            std::fs::write(self.dir.path().join("podman/auth.json"), json).unwrap();
            self
        }

        fn env(mut self, name: &str, value: &str) -> Fixture {
            self.sources.env.insert(name.to_owned(), value.to_owned());
            self
        }

        fn resolve(&self, registry: &str) -> Result<Resolved, AuthError> {
            resolve(registry, &self.sources)
        }

        fn docker_config_path(&self) -> String {
            self.dir.path().join("docker/config.json").display().to_string()
        }

        fn last_server(&self) -> String {
            std::fs::read_to_string(self.dir.path().join("helpers/last-server")).unwrap()
        }
    }

    fn basic(username: &str, password: &str) -> Credentials {
        Credentials::Basic { username: username.to_owned(), password: Secret::new(password) }
    }

    fn auth_field(username: &str, password: &str) -> String {
        BASE64.encode(format!("{username}:{password}"))
    }

    /// The error's message and Debug form, checked to hold no secret.
    fn error_text(error: &AuthError) -> String {
        let text = format!("{error}\n{error:?}");
        assert!(!text.contains(SECRET_MARK), "a secret leaked into an error: {text}");
        text
    }

    #[test]
    fn anonymous_when_nothing_is_configured() {
        let resolved = Fixture::new().resolve("registry.example.com").unwrap();
        assert_eq!(resolved.credentials, Credentials::Anonymous);
        assert_eq!(resolved.describe(), "anonymous access (from no credentials configured for registry.example.com)");
    }

    #[test]
    fn environment_gives_basic_auth_or_a_bearer_token() {
        let resolved = Fixture::new()
            .env(USERNAME_VARIABLE, "ci-bot")
            .env(PASSWORD_VARIABLE, "s3cret-password")
            .resolve("registry.example.com")
            .unwrap();
        assert_eq!(resolved.credentials, basic("ci-bot", "s3cret-password"));
        assert_eq!(
            resolved.describe(),
            "basic auth as ci-bot (from IMAGEGATE_REGISTRY_USERNAME and IMAGEGATE_REGISTRY_PASSWORD)"
        );
        let resolved = Fixture::new().env(TOKEN_VARIABLE, "s3cret-token").resolve("registry.example.com").unwrap();
        assert_eq!(resolved.credentials, Credentials::Bearer(Secret::new("s3cret-token")));
        assert_eq!(resolved.source, "IMAGEGATE_REGISTRY_TOKEN");
    }

    #[test]
    fn environment_comes_before_every_file() {
        let config =
            format!(r#"{{"auths": {{"registry.example.com": {{"auth": "{}"}}}}}}"#, auth_field("alice", "s3cret-a"));
        let resolved = Fixture::new()
            .docker_config(&config)
            .podman_auth(&config)
            .env(TOKEN_VARIABLE, "s3cret-token")
            .resolve("registry.example.com")
            .unwrap();
        assert_eq!(resolved.credentials, Credentials::Bearer(Secret::new("s3cret-token")));
    }

    #[test]
    fn environment_mistakes_name_the_variables() {
        let error = Fixture::new().env(USERNAME_VARIABLE, "ci-bot").resolve("registry.example.com").unwrap_err();
        let text = error_text(&error);
        assert!(text.starts_with("read registry credentials from the environment: IMAGEGATE_REGISTRY_USERNAME is set but IMAGEGATE_REGISTRY_PASSWORD is not\n  hint: "), "{text}");

        let error =
            Fixture::new().env(PASSWORD_VARIABLE, "s3cret-password").resolve("registry.example.com").unwrap_err();
        assert!(
            error_text(&error).contains("IMAGEGATE_REGISTRY_PASSWORD is set but IMAGEGATE_REGISTRY_USERNAME is not")
        );

        let error = Fixture::new()
            .env(USERNAME_VARIABLE, "ci-bot")
            .env(PASSWORD_VARIABLE, "s3cret-password")
            .env(TOKEN_VARIABLE, "s3cret-token")
            .resolve("registry.example.com")
            .unwrap_err();
        assert!(matches!(error, AuthError::EnvironmentConflict));
        assert!(error_text(&error).contains("both IMAGEGATE_REGISTRY_PASSWORD and IMAGEGATE_REGISTRY_TOKEN are set"));
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let resolved = Fixture::new()
            .env(USERNAME_VARIABLE, "")
            .env(PASSWORD_VARIABLE, "")
            .env(TOKEN_VARIABLE, "")
            .resolve("registry.example.com")
            .unwrap();
        assert_eq!(resolved.credentials, Credentials::Anonymous);
    }

    #[test]
    fn docker_auths_are_found_under_the_keys_docker_writes() {
        let config = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "http://legacy.example.com/v1/": {{"auth": "{}"}},
                "https://registry.example.com:5000": {{"username": "carol", "password": "s3cret-c"}},
                "localhost:5000": {{"auth": "{}"}},
                "quay.io/acme": {{"auth": "{}"}}
            }}}}"#,
            auth_field("alice", "s3cret-a"),
            auth_field("bob", "s3cret:with:colons"),
            auth_field("dave", "s3cret-d"),
            auth_field("erin", "s3cret-e"),
        );
        let fixture = Fixture::new().docker_config(&config);
        assert_eq!(fixture.resolve("docker.io").unwrap().credentials, basic("alice", "s3cret-a"));
        assert_eq!(fixture.resolve("legacy.example.com").unwrap().credentials, basic("bob", "s3cret:with:colons"));
        assert_eq!(fixture.resolve("registry.example.com:5000").unwrap().credentials, basic("carol", "s3cret-c"));
        let resolved = fixture.resolve("localhost:5000").unwrap();
        assert_eq!(resolved.credentials, basic("dave", "s3cret-d"));
        assert_eq!(resolved.source, fixture.docker_config_path());
        // A repository-scoped key is for that namespace only, never for the whole registry.
        assert_eq!(fixture.resolve("quay.io").unwrap().credentials, Credentials::Anonymous);
        // A registry is not found under another one's port.
        assert_eq!(fixture.resolve("localhost").unwrap().credentials, Credentials::Anonymous);
    }

    #[test]
    fn a_registry_token_is_a_bearer_token() {
        let fixture =
            Fixture::new().docker_config(r#"{"auths": {"registry.example.com": {"registrytoken": "s3cret-bearer"}}}"#);
        assert_eq!(
            fixture.resolve("registry.example.com").unwrap().credentials,
            Credentials::Bearer(Secret::new("s3cret-bearer"))
        );
    }

    #[test]
    fn identity_tokens_are_refused_with_a_hint() {
        let fixture = Fixture::new().docker_config(
            r#"{"auths": {"https://index.docker.io/v1/": {"auth": "", "identitytoken": "s3cret-identity"}}}"#,
        );
        let error = fixture.resolve("docker.io").unwrap_err();
        let text = error_text(&error);
        assert!(matches!(error, AuthError::IdentityTokenUnsupported { .. }), "{text}");
        assert!(text.contains("identity token, which imagegate does not support yet\n  hint: "), "{text}");
        assert!(text.contains(&fixture.docker_config_path()), "{text}");

        let error = Fixture::new()
            .docker_config(r#"{"credHelpers": {"token.example.com": "test"}}"#)
            .resolve("token.example.com")
            .unwrap_err();
        let text = error_text(&error);
        assert!(matches!(error, AuthError::IdentityTokenUnsupported { .. }), "{text}");
        assert!(text.contains("docker-credential-test"), "{text}");
    }

    #[test]
    fn a_cred_helper_comes_before_auths_and_gets_the_server_url() {
        let config = format!(
            r#"{{"credHelpers": {{"registry.example.com": "test", "docker.io": "test"}},
                "auths": {{"registry.example.com": {{"auth": "{}"}}}}}}"#,
            auth_field("alice", "s3cret-a")
        );
        let fixture = Fixture::new().docker_config(&config);
        let resolved = fixture.resolve("registry.example.com").unwrap();
        assert_eq!(resolved.credentials, basic("helper-user", "s3cret-from-helper"));
        assert_eq!(
            resolved.source,
            format!("docker-credential-test (credHelpers in {})", fixture.docker_config_path())
        );
        assert_eq!(fixture.last_server(), "registry.example.com");
        // Docker hands helpers Docker Hub's index URL, so helpers have stored it under that.
        assert_eq!(fixture.resolve("docker.io").unwrap().credentials, basic("helper-user", "s3cret-from-helper"));
        assert_eq!(fixture.last_server(), "https://index.docker.io/v1/");
    }

    #[test]
    fn a_helper_without_credentials_falls_back_to_auths() {
        let config = format!(
            r#"{{"credHelpers": {{"other.example.com": "test"}}, "auths": {{"other.example.com": {{"auth": "{}"}}}}}}"#,
            auth_field("alice", "s3cret-a")
        );
        let fixture = Fixture::new().docker_config(&config);
        assert_eq!(fixture.resolve("other.example.com").unwrap().credentials, basic("alice", "s3cret-a"));
        assert_eq!(fixture.last_server(), "other.example.com");
    }

    #[test]
    fn the_creds_store_serves_what_auths_leave_empty() {
        let config = format!(
            r#"{{"credsStore": "test", "auths": {{"registry.example.com": {{}}, "inline.example.com": {{"auth": "{}"}}}}}}"#,
            auth_field("alice", "s3cret-a")
        );
        let fixture = Fixture::new().docker_config(&config);
        let resolved = fixture.resolve("registry.example.com").unwrap();
        assert_eq!(resolved.credentials, basic("helper-user", "s3cret-from-helper"));
        assert!(resolved.source.starts_with("docker-credential-test (credsStore in "), "{}", resolved.source);
        assert_eq!(fixture.resolve("inline.example.com").unwrap().credentials, basic("alice", "s3cret-a"));
        // The store has none for this one, and neither has anything else.
        assert_eq!(fixture.resolve("elsewhere.example.com").unwrap().credentials, Credentials::Anonymous);
    }

    #[test]
    fn podman_auth_is_read_after_docker() {
        let podman = format!(
            r#"{{"auths": {{"registry.example.com": {{"auth": "{}"}}, "podman-only.example.com": {{"auth": "{}"}}}}}}"#,
            auth_field("paul", "s3cret-p"),
            auth_field("paula", "s3cret-pa"),
        );
        let docker =
            format!(r#"{{"auths": {{"registry.example.com": {{"auth": "{}"}}}}}}"#, auth_field("alice", "s3cret-a"));
        let fixture = Fixture::new().podman_auth(&podman).docker_config(&docker);
        assert_eq!(fixture.resolve("registry.example.com").unwrap().credentials, basic("alice", "s3cret-a"));
        let resolved = fixture.resolve("podman-only.example.com").unwrap();
        assert_eq!(resolved.credentials, basic("paula", "s3cret-pa"));
        assert!(resolved.source.ends_with("podman/auth.json"), "{}", resolved.source);
    }

    #[test]
    fn a_podman_login_for_a_namespace_wins_over_one_for_the_registry() {
        let podman = format!(
            r#"{{"auths": {{"quay.example.com": {{"auth": "{}"}}, "quay.example.com/acme": {{"auth": "{}"}},
                "quay.example.com/acme/ci": {{"auth": "{}"}}, "quay.example.com/acme-other": {{"auth": "{}"}}}}}}"#,
            auth_field("whole", "s3cret-w"),
            auth_field("acme", "s3cret-a"),
            auth_field("acme-ci", "s3cret-c"),
            auth_field("other", "s3cret-o"),
        );
        let fixture = Fixture::new().podman_auth(&podman);
        let credentials = |namespace: &str| {
            resolve_in_namespace("quay.example.com", namespace, &fixture.sources).unwrap().credentials
        };
        assert_eq!(credentials("acme/ci"), basic("acme-ci", "s3cret-c"));
        assert_eq!(credentials("acme/ci/deeper"), basic("acme-ci", "s3cret-c"));
        assert_eq!(credentials("acme/tools"), basic("acme", "s3cret-a"));
        assert_eq!(credentials("acme"), basic("acme", "s3cret-a"));
        // Only whole path components match: `acme-other` is not inside `acme`.
        assert_eq!(credentials("acme-others"), basic("whole", "s3cret-w"));
        assert_eq!(credentials(""), basic("whole", "s3cret-w"));
        // Without a key for the registry itself, another namespace has no login.
        let fixture = Fixture::new().podman_auth(&format!(
            r#"{{"auths": {{"quay.example.com/acme": {{"auth": "{}"}}}}}}"#,
            auth_field("acme", "s3cret-a")
        ));
        let anonymous = resolve_in_namespace("quay.example.com", "elsewhere", &fixture.sources).unwrap();
        assert_eq!(anonymous.credentials, Credentials::Anonymous);
    }

    #[test]
    fn malformed_json_is_reported_with_file_line_and_column() {
        let config = format!(
            "{{\n  \"auths\": {{\n    \"registry.example.com\": {{\"auth\": \"{}\"}},\n  }}\n}}\n",
            auth_field("alice", "s3cret-a")
        );
        let fixture = Fixture::new().docker_config(&config);
        let error = fixture.resolve("registry.example.com").unwrap_err();
        let text = error_text(&error);
        let AuthError::MalformedConfig { line, column, .. } = &error else { panic!("{text}") };
        assert_eq!((*line, *column), (4, 3), "{text}");
        assert!(
            text.starts_with(&format!("read {}: not valid JSON at line 4, column 3: ", fixture.docker_config_path())),
            "{text}"
        );

        let error = Fixture::new()
            .podman_auth(r#"{"auths": {"x": {"password": "s3cret-unterminated"#)
            .resolve("x")
            .unwrap_err();
        let text = error_text(&error);
        assert!(text.contains("podman/auth.json: not valid JSON at line 1"), "{text}");
    }

    #[test]
    fn wrong_values_are_reported_without_quoting_them() {
        for (config, expected) in [
            (r#"{"auths": {"registry.example.com": {"auth": "s3cret!!not-base64"}}}"#.to_owned(), "is not base64"),
            (
                format!(
                    r#"{{"auths": {{"registry.example.com": {{"auth": "{}"}}}}}}"#,
                    BASE64.encode("s3cret-without-colon")
                ),
                "is not base64 of username:password",
            ),
            (r#"{"auths": {"registry.example.com": {"password": "s3cret-alone"}}}"#.to_owned(), "only one of"),
            (
                r#"{"auths": {"registry.example.com": {"username": "alice", "password": 12345}}}"#.to_owned(),
                "`password`",
            ),
            (r#"{"auths": ["s3cret-in-a-list"]}"#.to_owned(), "`auths` is not an object"),
            (r#"{"credsStore": "../elsewhere"}"#.to_owned(), "is not a plain name"),
        ] {
            let fixture = Fixture::new().docker_config(&config);
            let error = fixture.resolve("registry.example.com").unwrap_err();
            let text = error_text(&error);
            assert!(text.contains(expected), "{config}: {text}");
            assert!(text.contains(&fixture.docker_config_path()), "{text}");
        }
    }

    #[test]
    fn a_missing_helper_is_named_with_a_hint() {
        let fixture = Fixture::new().docker_config(r#"{"credsStore": "desktop"}"#);
        let error = fixture.resolve("registry.example.com").unwrap_err();
        let text = error_text(&error);
        assert!(
            text.starts_with(&format!(
                "run docker-credential-desktop, named by credsStore in {}: it is not installed\n  hint: install \
                 docker-credential-desktop on PATH",
                fixture.docker_config_path()
            )),
            "{text}"
        );
    }

    #[test]
    fn helpers_are_also_found_on_path() {
        let mut fixture = Fixture::new().docker_config(r#"{"credHelpers": {"registry.example.com": "test"}}"#);
        let helpers = fixture.sources.helper_dir.take().unwrap();
        let path = std::env::join_paths([fixture.dir.path().join("nowhere"), helpers]).unwrap();
        fixture = fixture.env("PATH", path.to_str().unwrap());
        assert_eq!(
            fixture.resolve("registry.example.com").unwrap().credentials,
            basic("helper-user", "s3cret-from-helper")
        );
    }

    #[test]
    fn a_failing_helper_is_reported_with_its_status_and_first_stderr_line() {
        let fixture = Fixture::new().docker_config(r#"{"credHelpers": {"broken.example.com": "test"}}"#);
        let error = fixture.resolve("broken.example.com").unwrap_err();
        let text = error_text(&error);
        assert!(
            text.starts_with(
                "run docker-credential-test get for broken.example.com: it failed (exit status: 3): the keychain is \
                 locked\n"
            ),
            "{text}"
        );
        assert!(!text.contains("second line"), "{text}");
    }

    #[test]
    fn a_helper_answering_garbage_is_reported_without_its_output() {
        let fixture = Fixture::new().docker_config(r#"{"credHelpers": {"garbage.example.com": "test"}}"#);
        let error = fixture.resolve("garbage.example.com").unwrap_err();
        let text = error_text(&error);
        assert!(
            text.starts_with(
                "read the answer of docker-credential-test get for garbage.example.com: not JSON at line 1"
            ),
            "{text}"
        );
    }

    fn script(fixture: &Fixture, name: &str, body: &str) -> PathBuf {
        let path = fixture.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_helper_that_hangs_is_stopped() {
        let fixture = Fixture::new();
        let hanging = script(&fixture, "hanging", "exec sleep 30");
        let started = Instant::now();
        let outcome = run_with_timeout(&hanging, "registry.example.com", Duration::from_millis(300));
        assert!(matches!(outcome, Err(HelperRunError::TimedOut)));
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn a_helper_that_ignores_its_input_is_still_heard() {
        let fixture = Fixture::new();
        let deaf = script(&fixture, "deaf", r#"exec 0<&-; echo '{"Username":"u","Secret":"s3cret-deaf"}'"#);
        // Much more input than a pipe holds, so that writing it fails if the helper closed stdin.
        let input = "x".repeat(1 << 20);
        let Ok(output) = run_with_timeout(&deaf, &input, HELPER_TIMEOUT) else { panic!("the helper did not run") };
        assert!(output.status.success());
        assert!(String::from_utf8_lossy(&output.stdout).contains("s3cret-deaf"));
    }

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let secret = Secret::new("s3cret-value");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(secret.expose(), "s3cret-value");
        let fixture = Fixture::new().docker_config(r#"{"credHelpers": {"registry.example.com": "test"}}"#);
        for resolved in [
            fixture.resolve("registry.example.com").unwrap(),
            Resolved { credentials: Credentials::Bearer(Secret::new("s3cret-bearer")), source: "test".to_owned() },
        ] {
            let text = format!(
                "{resolved:?} {} {:?} {:?}",
                resolved.describe(),
                resolved.credentials,
                resolved.credentials.to_oci()
            );
            assert!(!text.contains(SECRET_MARK), "{text}");
        }
        let fixture = fixture
            .env(USERNAME_VARIABLE, "ci-bot")
            .env(PASSWORD_VARIABLE, "s3cret-in-env")
            .env(TOKEN_VARIABLE, "s3cret-token");
        let sources = format!("{:?}", fixture.sources);
        assert!(sources.contains(r#""IMAGEGATE_REGISTRY_PASSWORD": "<redacted>""#), "{sources}");
        assert!(sources.contains(r#""IMAGEGATE_REGISTRY_USERNAME": "ci-bot""#), "{sources}");
        assert!(!sources.contains(SECRET_MARK), "{sources}");
    }

    #[test]
    fn credentials_convert_and_describe_themselves() {
        assert_eq!(Credentials::Anonymous.to_oci(), RegistryAuth::Anonymous);
        assert_eq!(basic("alice", "s3cret-a").to_oci(), RegistryAuth::Basic("alice".to_owned(), "s3cret-a".to_owned()));
        assert_eq!(Credentials::Bearer(Secret::new("s3cret-t")).to_oci(), RegistryAuth::Bearer("s3cret-t".to_owned()));
        assert_eq!(basic("alice", "s3cret-a").describe(), "basic auth as alice");
        assert_eq!(Credentials::Bearer(Secret::new("s3cret-t")).describe(), "a bearer token");
        assert_eq!(Credentials::Anonymous.describe(), "anonymous access");
    }

    #[test]
    fn engine_auth_json_is_read_back_as_the_same_credentials() {
        for registry in ["docker.io", "localhost:5000", "registry.example.com"] {
            let credentials = basic("alice", "s3cret:with:colons");
            let json = engine_auth_json(registry, &credentials).unwrap();
            for fixture in [Fixture::new().docker_config(&json), Fixture::new().podman_auth(&json)] {
                assert_eq!(fixture.resolve(registry).unwrap().credentials, credentials, "{json}");
            }
        }
        let json = engine_auth_json("docker.io", &basic("alice", "s3cret-a")).unwrap();
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["auths"]["https://index.docker.io/v1/"]["auth"], auth_field("alice", "s3cret-a"));
        assert_eq!(engine_auth_json("docker.io", &Credentials::Anonymous), None);
        assert_eq!(engine_auth_json("docker.io", &Credentials::Bearer(Secret::new("s3cret-t"))), None);
    }

    #[test]
    fn sources_follow_docker_and_podman_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let runtime = dir.path().join("run");
        let env = |pairs: &[(&str, &Path)]| {
            pairs.iter().map(|(name, value)| ((*name).to_owned(), value.display().to_string())).collect()
        };

        let sources = CredentialSources::from_snapshot(env(&[("HOME", &home)]));
        assert_eq!(sources.docker_config_dir, Some(home.join(".docker")));
        assert_eq!(sources.podman_auth_file, None);
        assert_eq!(sources.show(&home.join(".docker/config.json")), "~/.docker/config.json");

        let sources = CredentialSources::from_snapshot(env(&[("HOME", &home), ("XDG_RUNTIME_DIR", &runtime)]));
        assert_eq!(sources.podman_auth_file, Some(runtime.join("containers/auth.json")));

        // Without a runtime file, podman's file in the configuration directory is the one.
        std::fs::create_dir_all(home.join(".config/containers")).unwrap();
        std::fs::write(home.join(".config/containers/auth.json"), "{}").unwrap();
        let sources = CredentialSources::from_snapshot(env(&[("HOME", &home), ("XDG_RUNTIME_DIR", &runtime)]));
        assert_eq!(sources.podman_auth_file, Some(home.join(".config/containers/auth.json")));

        let elsewhere = dir.path().join("elsewhere");
        let sources = CredentialSources::from_snapshot(env(&[
            ("HOME", &home),
            ("DOCKER_CONFIG", &elsewhere),
            ("REGISTRY_AUTH_FILE", &elsewhere.join("auth.json")),
        ]));
        assert_eq!(sources.docker_config_dir, Some(elsewhere.clone()));
        assert_eq!(sources.podman_auth_file, Some(elsewhere.join("auth.json")));

        let sources = CredentialSources::from_environment();
        assert!(sources.env.keys().all(|name| SNAPSHOT_VARIABLES.contains(&name.as_str())));
    }
}
