//! A blocking registry client over the OCI distribution API.
//!
//! `oci-client` speaks the protocol (auth challenges, bearer tokens, uploads, the referrers
//! API and its tag-schema fallback); this module drives it on a current-thread runtime, adds
//! what a CI tool needs around it — a timeout on every request, retries with exponential
//! backoff and full jitter on idempotent requests, errors that name the registry and the
//! operation — and, as raw HTTP, the calls the crate lacks: manifest DELETE, and a manifest HEAD
//! that answers a missing tag without the GET `oci-client` follows it with (Docker Hub counts
//! every manifest GET as a pull). Manifests read or stored are kept by digest, so a tag whose
//! HEAD names one is not read again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciImageIndex;
use oci_client::secrets::RegistryAuth;
use sha2::{Digest as _, Sha256};

use crate::auth::Credentials;
use crate::error::{ErrorKind, RegistryError};
use crate::reference::Reference;
use crate::retry::Retry;

/// Media types accepted when reading manifests.
pub const MANIFEST_MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The largest blob read into memory (image configs, imagegate's records).
const MAX_SMALL_BLOB: usize = 16 * 1024 * 1024;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct Connection {
    /// `host[:port]`.
    pub registry: String,
    /// Plain HTTP instead of TLS.
    pub plain_http: bool,
    /// A PEM file of extra CA certificates to trust, besides the system's and
    /// `/etc/docker/certs.d/<registry>/*.crt`.
    pub ca_file: Option<PathBuf>,
    /// Limit on each request.
    pub timeout: Duration,
    /// Attempts in all for an idempotent request (1 = no retry).
    pub attempts: u32,
    /// The first backoff; doubled on each retry, with full jitter.
    pub backoff: Duration,
}

impl Connection {
    pub fn new(registry: &str) -> Connection {
        let retry = Retry::default();
        Connection {
            registry: registry.to_owned(),
            plain_http: false,
            ca_file: None,
            timeout: Duration::from_secs(30),
            attempts: retry.attempts,
            backoff: retry.backoff,
        }
    }

    /// The retry policy of requests to this registry, the engine's pushes and pulls included.
    pub fn retry(&self) -> Retry {
        Retry { attempts: self.attempts, backoff: self.backoff }
    }

    /// The CA files that apply: the configured one and Docker's per-registry folder.
    pub fn ca_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.ca_file.iter().cloned().collect();
        let docker_dir = Path::new("/etc/docker/certs.d").join(&self.registry);
        if let Ok(entries) = std::fs::read_dir(&docker_dir) {
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|extension| extension == "crt"))
                .collect();
            found.sort();
            files.extend(found);
        }
        files
    }
}

/// A manifest as the registry holds it: exact bytes, media type and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

/// The registry client. Every call blocks until it is done or has failed for good.
pub struct Client {
    inner: oci_client::Client,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    auth: RegistryAuth,
    credentials: Credentials,
    connection: Connection,
    /// Blobs known to exist, as `repository@digest`: blobs are immutable, so one look suffices.
    known_blobs: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Manifests read, stored or known in advance, as `repository@digest`: content-addressed,
    /// so an entry is never stale; a tag is resolved with HEAD before one is served for it.
    known_manifests: std::sync::Mutex<std::collections::HashMap<String, RawManifest>>,
    /// Whether each repository has the referrers API, once asked.
    referrers_api: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Client").field("registry", &self.connection.registry).finish_non_exhaustive()
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Client {
    pub fn new(connection: Connection, credentials: Credentials) -> Result<Client, RegistryError> {
        // rustls needs one process-wide crypto provider; a second install is a no-op error.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let registry = connection.registry.clone();
        let setup_error =
            |message: String| RegistryError::new(&registry, "set up the client", ErrorKind::Setup, message);
        let mut certificates = Vec::new();
        let mut http = reqwest::Client::builder()
            .timeout(connection.timeout)
            .connect_timeout(connection.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("imagegate/", env!("CARGO_PKG_VERSION")));
        for path in connection.ca_files() {
            let data = std::fs::read(&path)
                .map_err(|error| setup_error(format!("cannot read the CA file `{}`: {error}", path.display())))?;
            let parsed = reqwest::Certificate::from_pem_bundle(&data)
                .map_err(|error| setup_error(format!("the CA file `{}` is not PEM: {error}", path.display())))?;
            if parsed.is_empty() {
                return Err(setup_error(format!("the CA file `{}` holds no certificate", path.display())));
            }
            for certificate in parsed {
                http = http.add_root_certificate(certificate);
            }
            certificates.push(Certificate { encoding: CertificateEncoding::Pem, data });
        }
        let http = http.build().map_err(|error| setup_error(error.to_string()))?;
        let config = ClientConfig {
            protocol: if connection.plain_http { ClientProtocol::Http } else { ClientProtocol::Https },
            extra_root_certificates: certificates,
            read_timeout: Some(connection.timeout),
            connect_timeout: Some(connection.timeout.min(Duration::from_secs(10))),
            user_agent: concat!("imagegate/", env!("CARGO_PKG_VERSION")),
            // One request per small blob (records) instead of a session of three.
            use_monolithic_push: true,
            ..ClientConfig::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| setup_error(format!("cannot start the I/O runtime: {error}")))?;
        let mut client = Client {
            inner: oci_client::Client::new(config),
            http,
            runtime,
            auth: credentials.to_oci(),
            credentials,
            connection,
            known_blobs: std::sync::Mutex::new(std::collections::HashSet::new()),
            known_manifests: std::sync::Mutex::new(std::collections::HashMap::new()),
            referrers_api: std::sync::Mutex::new(std::collections::HashMap::new()),
        };
        if client.credentials == Credentials::Anonymous && client.registry_is_open() {
            // oci-client caches a token only when the registry challenges; against a registry
            // that asks for none it would probe `GET /v2/` again before every request. An
            // empty bearer token is cached at once and ignored by a registry without auth.
            client.auth = RegistryAuth::Bearer(String::new());
        }
        Ok(client)
    }

    /// Whether `GET /v2/` answers 200 with no credentials and no challenge: a registry without
    /// authentication. Any failure counts as "not known to be open".
    fn registry_is_open(&self) -> bool {
        let scheme = if self.connection.plain_http { "http" } else { "https" };
        let url = format!("{scheme}://{}/v2/", self.registry());
        self.runtime.block_on(async {
            match self.http.get(&url).send().await {
                Ok(response) => {
                    response.status() == reqwest::StatusCode::OK
                        && !response.headers().contains_key(reqwest::header::WWW_AUTHENTICATE)
                }
                Err(_) => false,
            }
        })
    }

    pub fn registry(&self) -> &str {
        &self.connection.registry
    }

    /// The retry policy of this client's requests.
    pub fn retry(&self) -> Retry {
        self.connection.retry()
    }

    /// Runs `call` up to `attempts` times while it fails with a transient error.
    fn retrying<T>(
        &self,
        operation: &str,
        call: impl AsyncFnMut() -> Result<T, OciDistributionError>,
    ) -> Result<T, RegistryError> {
        self.retrying_with(operation, call, |error| (classify(error), describe(error)))
    }

    /// [`Client::retrying`] for a call with its own error type, which `kind_of` sorts into a
    /// kind and a message.
    fn retrying_with<T, E>(
        &self,
        operation: &str,
        mut call: impl AsyncFnMut() -> Result<T, E>,
        kind_of: impl Fn(&E) -> (ErrorKind, String),
    ) -> Result<T, RegistryError> {
        let result = self.retry().run(
            || self.runtime.block_on(async { call().await }),
            |error| kind_of(error).0.is_transient(),
            |_, _| {},
        );
        result.map_err(|(error, attempts)| {
            let (kind, message) = kind_of(&error);
            let mut failure = RegistryError::new(&self.connection.registry, operation.to_owned(), kind, message);
            failure.attempts = attempts;
            failure
        })
    }

    /// The digest a tag or digest reference names now; `None` when it names nothing.
    ///
    /// One HEAD request. `oci-client`'s own digest lookup follows a HEAD that finds nothing
    /// with a GET, which Docker Hub counts as a pull: a missing tag is answered by the HEAD.
    pub fn resolve(&self, reference: &Reference) -> Result<Option<String>, RegistryError> {
        Ok(self.head_manifest(reference)?.map(|(digest, _)| digest))
    }

    /// The digest and media type of the manifest `reference` names, from one HEAD request.
    fn head_manifest(&self, reference: &Reference) -> Result<Option<(String, String)>, RegistryError> {
        let oci = reference.to_oci();
        let scheme = if self.connection.plain_http { "http" } else { "https" };
        let target = reference.digest().or(reference.tag()).unwrap_or("latest");
        let url = format!("{scheme}://{}/v2/{}/manifests/{target}", oci.resolve_registry(), oci.repository());
        let found = self.retrying_with(
            &format!("resolve `{reference}`"),
            async || self.head_once(&url, &oci).await,
            |(kind, message)| (*kind, message.clone()),
        )?;
        // The header is optional in the OCI spec: without it, only the bytes tell the digest.
        let found = match found {
            Some((digest, _)) if digest.is_empty() => self.fetch_manifest(reference)?.map(|manifest| {
                self.remember_manifest(reference, manifest.clone());
                (manifest.digest, manifest.media_type)
            }),
            found => found,
        };
        if let (Some(wanted), Some((digest, _))) = (reference.digest(), &found)
            && wanted != digest
        {
            return Err(RegistryError::new(
                self.registry(),
                format!("resolve `{reference}`"),
                ErrorKind::Protocol,
                format!("the registry answered for digest {digest}"),
            ));
        }
        Ok(found)
    }

    async fn head_once(
        &self,
        url: &str,
        oci: &oci_client::Reference,
    ) -> Result<Option<(String, String)>, (ErrorKind, String)> {
        // The same token a pull uses (oci-client answers the registry's challenge and keeps it).
        let token = self
            .inner
            .auth(oci, &self.auth, oci_client::RegistryOperation::Pull)
            .await
            .map_err(|error| (classify(&error), describe(&error)))?;
        let authorization = match token {
            Some(token) if token.is_empty() => None,
            Some(token) => Some(format!("Bearer {token}")),
            None => self.static_authorization(),
        };
        let mut request = self.http.head(url).header(reqwest::header::ACCEPT, MANIFEST_MEDIA_TYPES.join(", "));
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(request_failure)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err((status_kind(status.as_u16()), format!("HTTP {status}")));
        }
        let header = |name: &str| {
            response.headers().get(name).and_then(|value| value.to_str().ok()).map(|value| value.trim().to_owned())
        };
        let digest = header("docker-content-digest").unwrap_or_default();
        let media_type = header("content-type").unwrap_or_default();
        Ok(Some((digest, media_type)))
    }

    /// The manifest `reference` names, as stored; `None` when there is none.
    ///
    /// Docker Hub counts every manifest GET as a pull and rate-limits them, while a HEAD is
    /// free: a tag is first resolved with HEAD, and the bytes are fetched only when no manifest
    /// with that digest was read or stored by this client before.
    pub fn manifest(&self, reference: &Reference) -> Result<Option<RawManifest>, RegistryError> {
        let digest = match reference.digest() {
            Some(digest) => Some(digest.to_owned()),
            None if self.has_known_manifests() => match self.resolve(reference)? {
                Some(digest) => Some(digest),
                None => return Ok(None),
            },
            None => None,
        };
        if let Some(digest) = &digest
            && let Some(found) = self.known_manifest(reference, digest)
        {
            return Ok(Some(found));
        }
        let found = self.fetch_manifest(reference)?;
        if let Some(manifest) = &found {
            self.remember_manifest(reference, manifest.clone());
        }
        Ok(found)
    }

    /// The manifest `reference` names, like [`Client::manifest`], for manifests stored with
    /// [`Client::put_manifest_with_copy`]: the tag is resolved with HEAD and the bytes are read
    /// from the copy stored as a blob of the same digest (Docker Hub counts blob reads as no
    /// pull). Without that copy (written by another tool, or collected by the registry's
    /// garbage collection) the manifest is read as usual.
    pub fn manifest_via_copy(&self, reference: &Reference) -> Result<Option<RawManifest>, RegistryError> {
        let Some((digest, media_type)) = self.head_manifest(reference)? else {
            return Ok(None);
        };
        if let Some(found) = self.known_manifest(reference, &digest) {
            return Ok(Some(found));
        }
        // `blob` checks the bytes against the digest, so the copy is exactly the manifest.
        if let Ok(bytes) = self.blob(reference, &digest) {
            let manifest = RawManifest { bytes, media_type, digest };
            self.remember_manifest(reference, manifest.clone());
            return Ok(Some(manifest));
        }
        let found = self.fetch_manifest(reference)?;
        if let Some(manifest) = &found {
            self.remember_manifest(reference, manifest.clone());
        }
        Ok(found)
    }

    /// Stores `bytes` as a manifest under `reference`, like [`Client::put_manifest`], and first
    /// as a blob of the same digest so that [`Client::manifest_via_copy`] reads them back
    /// without a manifest GET. For small documents that imagegate rewrites and other processes
    /// read (the referrers index), not for images.
    pub fn put_manifest_with_copy(
        &self,
        reference: &Reference,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<String, RegistryError> {
        self.push_blob(reference, bytes)?;
        self.put_manifest(reference, bytes, media_type)
    }

    /// Takes `bytes` as the content of a manifest of `reference`'s repository without reading
    /// it: a later read of a tag that names their digest is served from here. For documents
    /// whose exact bytes are known in advance (a released lease); the digest is computed from
    /// the bytes, so a match is the same content.
    pub fn know_manifest(&self, reference: &Reference, bytes: &[u8], media_type: &str) {
        let manifest =
            RawManifest { bytes: bytes.to_vec(), media_type: media_type.to_owned(), digest: sha256_digest(bytes) };
        self.remember_manifest(reference, manifest);
    }

    fn has_known_manifests(&self) -> bool {
        self.known_manifests.lock().is_ok_and(|known| !known.is_empty())
    }

    fn known_manifest(&self, reference: &Reference, digest: &str) -> Option<RawManifest> {
        let key = format!("{}@{digest}", reference.name());
        self.known_manifests.lock().ok().and_then(|known| known.get(&key).cloned())
    }

    fn remember_manifest(&self, reference: &Reference, manifest: RawManifest) {
        if let Ok(mut known) = self.known_manifests.lock() {
            known.insert(format!("{}@{}", reference.name(), manifest.digest), manifest);
        }
    }

    fn fetch_manifest(&self, reference: &Reference) -> Result<Option<RawManifest>, RegistryError> {
        let oci = reference.to_oci();
        let result = self.retrying(&format!("read the manifest of `{reference}`"), async || {
            self.inner.pull_manifest_raw(&oci, &self.auth, MANIFEST_MEDIA_TYPES).await
        });
        let Some((bytes, digest)) = not_found_as_none(result)? else {
            return Ok(None);
        };
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|value| value.get("mediaType").and_then(|media| media.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_owned());
        let computed = sha256_digest(&bytes);
        if reference.digest().is_some_and(|wanted| wanted != computed) {
            return Err(RegistryError::new(
                self.registry(),
                format!("read the manifest of `{reference}`"),
                ErrorKind::Protocol,
                format!("the registry sent a manifest whose digest is {computed}"),
            ));
        }
        Ok(Some(RawManifest {
            bytes: bytes.to_vec(),
            media_type,
            digest: if digest.is_empty() { computed } else { digest },
        }))
    }

    /// Stores `bytes` as the manifest under `reference` (a tag or its own digest) and returns
    /// its digest. Idempotent: the same bytes give the same result, so it is retried.
    pub fn put_manifest(&self, reference: &Reference, bytes: &[u8], media_type: &str) -> Result<String, RegistryError> {
        let oci = reference.to_oci();
        let content_type = reqwest::header::HeaderValue::from_str(media_type).map_err(|error| {
            RegistryError::new(self.registry(), "store a manifest", ErrorKind::Protocol, error.to_string())
        })?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.retrying(&format!("store the manifest of `{reference}`"), async || {
            self.inner.auth(&oci, &self.auth, oci_client::RegistryOperation::Push).await?;
            self.inner.push_manifest_raw(&oci, body.clone(), content_type.clone()).await
        })?;
        let digest = sha256_digest(bytes);
        // What was stored need not be read back: a later read HEADs the tag and, when it still
        // names these bytes, serves them from here.
        self.remember_manifest(
            reference,
            RawManifest { bytes: bytes.to_vec(), media_type: media_type.to_owned(), digest: digest.clone() },
        );
        Ok(digest)
    }

    /// Reads a small blob (an image config, a record) into memory.
    pub fn blob(&self, repository: &Reference, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let oci = repository.to_oci();
        let operation = format!("read blob {digest} of `{}`", repository.name());
        let bytes = self.retrying(&operation, async || {
            self.inner.auth(&oci, &self.auth, oci_client::RegistryOperation::Pull).await?;
            let mut out: Vec<u8> = Vec::new();
            self.inner.pull_blob(&oci, digest, &mut out).await?;
            Ok(out)
        })?;
        if bytes.len() > MAX_SMALL_BLOB {
            return Err(RegistryError::new(
                self.registry(),
                operation,
                ErrorKind::Protocol,
                format!("the blob is {} bytes, more than the {MAX_SMALL_BLOB} expected", bytes.len()),
            ));
        }
        if sha256_digest(&bytes) != digest {
            return Err(RegistryError::new(
                self.registry(),
                operation,
                ErrorKind::Protocol,
                "the blob's content does not match its digest".to_owned(),
            ));
        }
        Ok(bytes)
    }

    pub fn blob_exists(&self, repository: &Reference, digest: &str) -> Result<bool, RegistryError> {
        let key = format!("{}@{digest}", repository.name());
        if self.known_blobs.lock().is_ok_and(|known| known.contains(&key)) {
            return Ok(true);
        }
        let oci = repository.to_oci();
        let exists = self.retrying(&format!("look for blob {digest} in `{}`", repository.name()), async || {
            self.inner.auth(&oci, &self.auth, oci_client::RegistryOperation::Pull).await?;
            self.inner.blob_exists(&oci, digest).await
        })?;
        if exists {
            self.remember_blob(repository, digest);
        }
        Ok(exists)
    }

    fn remember_blob(&self, repository: &Reference, digest: &str) {
        if let Ok(mut known) = self.known_blobs.lock() {
            known.insert(format!("{}@{digest}", repository.name()));
        }
    }

    /// Uploads `bytes` as a blob unless the repository has it; returns its digest.
    pub fn push_blob(&self, repository: &Reference, bytes: &[u8]) -> Result<String, RegistryError> {
        let digest = sha256_digest(bytes);
        if self.blob_exists(repository, &digest)? {
            return Ok(digest);
        }
        let oci = repository.to_oci();
        let body = bytes::Bytes::copy_from_slice(bytes);
        // An upload that failed half-way starts a new upload session: safe to retry.
        self.retrying(&format!("upload blob {digest} to `{}`", repository.name()), async || {
            self.inner.auth(&oci, &self.auth, oci_client::RegistryOperation::Push).await?;
            self.inner.push_blob(&oci, body.clone(), &digest).await
        })?;
        self.remember_blob(repository, &digest);
        Ok(digest)
    }

    /// Makes blob `digest` of repository `source` available in `target` without copying its
    /// bytes (cross-repository mount). Registries that refuse the mount answer with an upload
    /// session instead; that is reported as an error, never followed by a silent copy.
    pub fn mount_blob(&self, target: &Reference, source: &Reference, digest: &str) -> Result<(), RegistryError> {
        if self.blob_exists(target, digest)? {
            return Ok(());
        }
        let (target_oci, source_oci) = (target.to_oci(), source.to_oci());
        self.retrying(&format!("mount blob {digest} from `{}` into `{}`", source.name(), target.name()), async || {
            self.inner.auth(&target_oci, &self.auth, oci_client::RegistryOperation::Push).await?;
            self.inner.mount_blob(&target_oci, &source_oci, digest).await
        })?;
        self.remember_blob(target, digest);
        Ok(())
    }

    /// Every tag of the repository, page by page.
    pub fn tags(&self, repository: &Reference) -> Result<Vec<String>, RegistryError> {
        const PAGE: usize = 1000;
        let oci = repository.to_oci();
        let mut tags: Vec<String> = Vec::new();
        loop {
            let last = tags.last().cloned();
            let result = self.retrying(&format!("list the tags of `{}`", repository.name()), async || {
                self.inner.list_tags(&oci, &self.auth, Some(PAGE), last.as_deref()).await
            });
            let page = match not_found_as_none(result)? {
                Some(response) => response.tags,
                None => return Ok(tags),
            };
            let full = page.len() >= PAGE;
            let before = tags.len();
            tags.extend(page.into_iter().filter(|tag| last.as_deref().is_none_or(|last| tag.as_str() > last)));
            if !full || tags.len() == before {
                return Ok(tags);
            }
        }
    }

    /// The referrers of `subject` (a digest reference): the referrers API where the registry
    /// has it, else the OCI 1.1 tag-schema fallback index.
    pub fn referrers(&self, subject: &Reference) -> Result<OciImageIndex, RegistryError> {
        let oci = subject.to_oci();
        self.retrying(&format!("list the referrers of `{subject}`"), async || {
            self.inner.auth(&oci, &self.auth, oci_client::RegistryOperation::Pull).await?;
            self.inner.pull_referrers(&oci, None).await
        })
    }

    /// Deletes the manifest `digest` of the repository (and so every tag naming it).
    pub fn delete_manifest(&self, repository: &Reference, digest: &str) -> Result<(), RegistryError> {
        let scheme = if self.connection.plain_http { "http" } else { "https" };
        let url = format!("{scheme}://{}/v2/{}/manifests/{digest}", self.registry(), repository.repository());
        let operation = format!("delete manifest {digest} of `{}`", repository.name());
        self.retrying_with(
            &operation,
            async || self.delete_once(&url, repository).await,
            |(kind, message)| (*kind, message.clone()),
        )
    }

    /// Sends one raw request, answering a bearer challenge once (with pull, push and delete
    /// scope for the repository).
    async fn raw_send(
        &self,
        method: reqwest::Method,
        url: &str,
        repository: &Reference,
    ) -> Result<reqwest::Response, (ErrorKind, String)> {
        let send = |authorization: Option<String>| {
            let mut request = self.http.request(method.clone(), url);
            if let Some(value) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            request.send()
        };
        let mut response = send(self.static_authorization()).await.map_err(request_failure)?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let authorization = self.answer_challenge(&challenge, repository).await?;
            response = send(Some(authorization)).await.map_err(request_failure)?;
        }
        Ok(response)
    }

    /// Whether the registry serves the OCI 1.1 referrers API for `repository` (and so keeps
    /// referrers lists itself): asked once per repository, with a subject that does not exist,
    /// for which the API answers an empty index and registries without it answer 404.
    pub fn has_referrers_api(&self, repository: &Reference) -> bool {
        let key = repository.name();
        if let Some(known) = self.referrers_api.lock().ok().and_then(|known| known.get(&key).copied()) {
            return known;
        }
        let scheme = if self.connection.plain_http { "http" } else { "https" };
        let url = format!(
            "{scheme}://{}/v2/{}/referrers/sha256:{}",
            self.registry(),
            repository.repository(),
            "0".repeat(64)
        );
        let supported = self
            .runtime
            .block_on(self.raw_send(reqwest::Method::GET, &url, repository))
            .is_ok_and(|response| response.status() == reqwest::StatusCode::OK);
        if let Ok(mut known) = self.referrers_api.lock() {
            known.insert(key, supported);
        }
        supported
    }

    async fn delete_once(&self, url: &str, repository: &Reference) -> Result<(), (ErrorKind, String)> {
        let response = self.raw_send(reqwest::Method::DELETE, url, repository).await?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let kind = status_kind(status.as_u16());
        let hint = if status == reqwest::StatusCode::METHOD_NOT_ALLOWED {
            " (the registry has deletion turned off; distribution needs `storage.delete.enabled: true`)"
        } else {
            ""
        };
        Err((kind, format!("HTTP {status}{hint}: {}", first_line(&body))))
    }

    fn static_authorization(&self) -> Option<String> {
        use base64::Engine as _;
        match &self.credentials {
            Credentials::Anonymous => None,
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()))
            )),
            Credentials::Bearer(token) => Some(format!("Bearer {}", token.expose())),
        }
    }

    /// Fetches a bearer token for a `WWW-Authenticate: Bearer` challenge, asking for delete
    /// rights on the repository (pull/push tokens do not cover DELETE).
    async fn answer_challenge(&self, challenge: &str, repository: &Reference) -> Result<String, (ErrorKind, String)> {
        let Some(parameters) = challenge.strip_prefix("Bearer ") else {
            return Err((ErrorKind::Unauthorized, "the registry refused the credentials".to_owned()));
        };
        let mut realm = None;
        let mut service = None;
        for part in split_challenge(parameters) {
            if let Some((key, value)) = part.split_once('=') {
                let value = value.trim_matches('"').to_owned();
                match key.trim() {
                    "realm" => realm = Some(value),
                    "service" => service = Some(value),
                    _ => {}
                }
            }
        }
        let Some(realm) = realm else {
            return Err((ErrorKind::Protocol, "the bearer challenge names no realm".to_owned()));
        };
        let scope = format!("repository:{}:pull,push,delete", repository.repository());
        let mut query: Vec<(&str, String)> = vec![("scope", scope)];
        if let Some(service) = service {
            query.push(("service", service));
        }
        let mut request = self.http.get(&realm).query(&query);
        if let Credentials::Basic { username, password } = &self.credentials {
            request = request.basic_auth(username, Some(password.expose()));
        }
        let response = request.send().await.map_err(request_failure)?;
        if !response.status().is_success() {
            return Err((ErrorKind::Unauthorized, format!("the token endpoint answered HTTP {}", response.status())));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|error| (ErrorKind::Protocol, format!("the token endpoint's answer is not JSON: {error}")))?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|token| token.as_str())
            .ok_or_else(|| (ErrorKind::Protocol, "the token endpoint's answer has no token".to_owned()))?;
        Ok(format!("Bearer {token}"))
    }
}

fn split_challenge(parameters: &str) -> Vec<String> {
    // Commas inside quoted values (scopes list actions with commas) do not split.
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for character in parameters.chars() {
        match character {
            '"' => {
                quoted = !quoted;
                current.push(character);
            }
            ',' if !quoted => parts.push(std::mem::take(&mut current)),
            _ => current.push(character),
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

fn request_failure(error: reqwest::Error) -> (ErrorKind, String) {
    let kind = if error.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Network };
    (kind, error_chain(&error))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

fn not_found_as_none<T>(result: Result<T, RegistryError>) -> Result<Option<T>, RegistryError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.kind == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn status_kind(code: u16) -> ErrorKind {
    match code {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Denied,
        404 => ErrorKind::NotFound,
        408 | 429 | 500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Protocol,
    }
}

fn classify(error: &OciDistributionError) -> ErrorKind {
    match error {
        OciDistributionError::RegistryError { envelope, .. } => {
            classify_codes(&envelope.errors.iter().map(|error| &error.code).collect::<Vec<_>>())
        }
        // Some calls hand the error body over as text: read its error codes when it has them.
        OciDistributionError::ServerError { code, message, .. } => {
            // A code that says no more than the status (distribution's `UNKNOWN` on a 500, seen
            // while another client rewrites the same tag) leaves the status to decide.
            match serde_json::from_str::<oci_client::errors::OciEnvelope>(message) {
                Ok(envelope) if !envelope.errors.is_empty() => {
                    match classify_codes(&envelope.errors.iter().map(|error| &error.code).collect::<Vec<_>>()) {
                        ErrorKind::Protocol => status_kind(*code),
                        kind => kind,
                    }
                }
                _ => status_kind(*code),
            }
        }
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
            ErrorKind::Unauthorized
        }
        OciDistributionError::ImageManifestNotFoundError(_) => ErrorKind::NotFound,
        OciDistributionError::RequestError(error) => {
            if error.is_timeout() {
                ErrorKind::Timeout
            } else if error.status().is_some_and(|status| status.as_u16() == 404) {
                ErrorKind::NotFound
            } else if let Some(status) = error.status() {
                status_kind(status.as_u16())
            } else {
                ErrorKind::Network
            }
        }
        OciDistributionError::IoError(_) => ErrorKind::Network,
        _ => ErrorKind::Protocol,
    }
}

/// The kind of failure a registry's error codes (OCI distribution spec) say.
fn classify_codes(codes: &[&OciErrorCode]) -> ErrorKind {
    if codes.iter().any(|code| {
        matches!(
            code,
            OciErrorCode::ManifestUnknown
                | OciErrorCode::NameUnknown
                | OciErrorCode::BlobUnknown
                | OciErrorCode::NotFound
        )
    }) {
        ErrorKind::NotFound
    } else if codes.iter().any(|code| matches!(code, OciErrorCode::Unauthorized)) {
        ErrorKind::Unauthorized
    } else if codes.iter().any(|code| matches!(code, OciErrorCode::Denied)) {
        ErrorKind::Denied
    } else if codes.iter().any(|code| {
        // Distribution answers these while another client uploads the same blob (the empty
        // config of a lease or record): the blob settles, and the same request then succeeds.
        matches!(code, OciErrorCode::Toomanyrequests | OciErrorCode::ManifestBlobUnknown | OciErrorCode::DigestInvalid)
    }) {
        ErrorKind::Unavailable
    } else {
        ErrorKind::Protocol
    }
}

/// A one-line description of an oci-client error, with the causes of network errors (the
/// top-level reqwest message alone says only "error sending request").
fn describe(error: &OciDistributionError) -> String {
    match error {
        OciDistributionError::RequestError(inner) => error_chain(inner),
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .map(|error| format!("{:?}: {}", error.code, error.message))
            .collect::<Vec<_>>()
            .join("; "),
        OciDistributionError::ServerError { code, message, .. } => format!("HTTP {code}: {}", first_line(message)),
        OciDistributionError::UnauthorizedError { .. } => "the registry refused the credentials (HTTP 401)".to_owned(),
        other => other.to_string(),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parameters_keep_quoted_commas() {
        let parts = split_challenge(r#"realm="https://auth/token",service="reg",scope="repository:a:pull,push""#);
        assert_eq!(
            parts,
            vec![r#"realm="https://auth/token""#, r#"service="reg""#, r#"scope="repository:a:pull,push""#]
        );
    }

    #[test]
    fn error_codes_in_a_text_body_are_read() {
        let racing_upload = OciDistributionError::ServerError {
            code: 400,
            url: "http://registry/v2/a/manifests/t".to_owned(),
            message:
                r#"{"errors":[{"code":"DIGEST_INVALID","message":"m"},{"code":"MANIFEST_BLOB_UNKNOWN","message":"m"}]}"#
                    .to_owned(),
        };
        assert_eq!(classify(&racing_upload), ErrorKind::Unavailable);
        let unknown = OciDistributionError::ServerError {
            code: 404,
            url: String::new(),
            message: r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"m"}]}"#.to_owned(),
        };
        assert_eq!(classify(&unknown), ErrorKind::NotFound);
        let plain = OciDistributionError::ServerError { code: 400, url: String::new(), message: "bad".to_owned() };
        assert_eq!(classify(&plain), ErrorKind::Protocol);
        // Regression: distribution's 500 with code UNKNOWN while a tag is rewritten concurrently
        // was taken for a protocol error and not retried.
        let rewriting = OciDistributionError::ServerError {
            code: 500,
            url: String::new(),
            message: r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{}}]}"#.to_owned(),
        };
        assert_eq!(classify(&rewriting), ErrorKind::Unavailable);
    }

    #[test]
    fn status_codes_map_to_kinds() {
        assert_eq!(status_kind(404), ErrorKind::NotFound);
        assert_eq!(status_kind(503), ErrorKind::Unavailable);
        assert!(status_kind(429).is_transient());
        assert!(!status_kind(401).is_transient());
    }
}
