//! Registry credentials (interim: replaced by the full resolution).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);
impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}
impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Anonymous,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Credentials {
    pub fn to_oci(&self) -> oci_client::secrets::RegistryAuth {
        match self {
            Credentials::Anonymous => oci_client::secrets::RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                oci_client::secrets::RegistryAuth::Basic(username.clone(), password.expose().to_owned())
            }
            Credentials::Bearer(token) => oci_client::secrets::RegistryAuth::Bearer(token.expose().to_owned()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CredentialSources {
    pub env: BTreeMap<String, String>,
    pub docker_config_dir: Option<PathBuf>,
    pub podman_auth_file: Option<PathBuf>,
    pub helper_dir: Option<PathBuf>,
}

impl CredentialSources {
    pub fn from_environment() -> CredentialSources {
        CredentialSources {
            env: std::env::vars().filter(|(key, _)| key.starts_with("IMAGEGATE_")).collect(),
            ..Default::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(String);

#[derive(Debug, Clone)]
pub struct Resolved {
    pub credentials: Credentials,
    pub source: String,
}

pub fn resolve(_registry: &str, sources: &CredentialSources) -> Result<Resolved, AuthError> {
    match (sources.env.get("IMAGEGATE_REGISTRY_USERNAME"), sources.env.get("IMAGEGATE_REGISTRY_PASSWORD")) {
        (Some(username), Some(password)) => Ok(Resolved {
            credentials: Credentials::Basic { username: username.clone(), password: Secret(password.clone()) },
            source: "environment".to_owned(),
        }),
        _ => Ok(Resolved { credentials: Credentials::Anonymous, source: "none".to_owned() }),
    }
}

pub fn engine_auth_json(registry: &str, credentials: &Credentials) -> Option<String> {
    use base64::Engine as _;
    match credentials {
        Credentials::Basic { username, password } => {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()));
            Some(serde_json::json!({"auths": {registry: {"auth": auth}}}).to_string())
        }
        _ => None,
    }
}
