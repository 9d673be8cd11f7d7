//! Where imagegate keeps things in a registry, and the operations the gate needs there.
//!
//! With `[store] registry = "HOST[:PORT]/NAMESPACE"`, an image whose stable tag is
//! `acme-ci/debian:12` lives in the repository `HOST[:PORT]/NAMESPACE/acme-ci/debian`:
//!
//! | tag | names |
//! | --- | --- |
//! | `12` | the stable image (moved only by a promotion or rollback) |
//! | `candidate-<inputs>-<image id>` | one built candidate: immutable, named by its content |
//! | `candidate-<inputs>` | the newest candidate of that recipe (what a branch run reuses) |
//! | `promoted-<digest>` | every image that was ever stable, kept for rollback |
//! | `imagegate-lease` | the promotion lease (see `lease.rs`) |
//! | `imagegate-record-…` | verdicts and pointer moves (see `records.rs`) |
//!
//! `[store] candidates = "NAMESPACE2"` puts candidates (and their verdicts) in
//! `HOST/NAMESPACE2/acme-ci/debian` instead; promotion then mounts the candidate's blobs into
//! the stable repository rather than copying them.

use std::collections::BTreeSet;

use crate::auth::Credentials;
use crate::client::{Client, Connection, RawManifest};
use crate::error::{ErrorKind, RegistryError};
use crate::lease::{self, Lease, LeaseTiming};
use crate::records::{self, Descriptor, Record, RecordBody};
use crate::reference::Reference;

/// Label carrying the inputs digest on every image imagegate builds.
const LABEL_INPUTS: &str = "io.imagegate.inputs";

/// Settings of the registry store.
#[derive(Debug, Clone)]
pub struct StoreLocation {
    /// `HOST[:PORT]`.
    pub registry: String,
    /// The namespace under which stable images live (may hold slashes).
    pub namespace: String,
    /// Where candidates live, if not beside the stable images.
    pub candidate_namespace: Option<String>,
}

impl StoreLocation {
    pub fn display(&self) -> String {
        format!("{}/{}", self.registry, self.namespace)
    }
}

/// A candidate found in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCandidate {
    /// The manifest digest: the candidate's identity in the registry.
    pub digest: String,
    /// `repository@digest`, pullable.
    pub reference: Reference,
    /// The config digest: the image id engines give it.
    pub image_id: String,
}

/// A candidate that `prune` would remove or keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneEntry {
    pub tag: String,
    pub digest: String,
    /// From the image config (`created`), if it says.
    pub created: Option<String>,
    /// `None`: to be removed; `Some(reason)`: kept.
    pub kept: Option<String>,
}

/// What an image's config says, as far as imagegate needs it.
struct ImageFacts {
    /// The config digest: the id engines give the image.
    image_id: String,
    labels: std::collections::BTreeMap<String, String>,
    created: Option<String>,
}

/// The registry as imagegate's store.
#[derive(Debug)]
pub struct RegistryStore {
    client: Client,
    location: StoreLocation,
    pub lease_timing: LeaseTiming,
}

fn naming_error(client: &Client, error: impl std::fmt::Display) -> RegistryError {
    RegistryError::new(client.registry(), "name an image", ErrorKind::Protocol, error.to_string())
}

use imagegate_contract::short_digest as short;

fn inputs_part(inputs_digest: &str) -> &str {
    let hex = inputs_digest.trim_start_matches("sha256:");
    &hex[..hex.len().min(16)]
}

impl RegistryStore {
    pub fn open(
        location: StoreLocation,
        connection: Connection,
        credentials: Credentials,
    ) -> Result<Self, RegistryError> {
        let client = Client::new(connection, credentials)?;
        Ok(RegistryStore { client, location, lease_timing: LeaseTiming::default() })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    fn reference_in(&self, namespace: &str, stable_tag: &str) -> Result<Reference, RegistryError> {
        let text = format!("{}/{}/{}", self.location.registry, namespace, stable_tag);
        let reference = Reference::parse(&text).map_err(|error| naming_error(&self.client, error))?;
        if reference.registry() != self.location.registry {
            return Err(naming_error(
                &self.client,
                format!("`{text}` does not name a repository in {}", self.location.registry),
            ));
        }
        Ok(reference)
    }

    /// The stable tag's full reference in the registry.
    pub fn stable(&self, stable_tag: &str) -> Result<Reference, RegistryError> {
        self.reference_in(&self.location.namespace, stable_tag)
    }

    /// The repository candidates of this image live in.
    pub fn candidate_repository(&self, stable_tag: &str) -> Result<Reference, RegistryError> {
        let namespace = self.location.candidate_namespace.as_deref().unwrap_or(&self.location.namespace);
        self.reference_in(namespace, stable_tag)
    }

    /// The immutable name of the candidate with `image_id` built from `inputs_digest`.
    pub fn candidate_name(
        &self,
        stable_tag: &str,
        inputs_digest: &str,
        image_id: &str,
    ) -> Result<Reference, RegistryError> {
        let tag = format!("candidate-{}-{}", inputs_part(inputs_digest), short(image_id));
        self.candidate_repository(stable_tag)?.with_tag(&tag).map_err(|error| naming_error(&self.client, error))
    }

    fn newest_candidate_tag(&self, stable_tag: &str, inputs_digest: &str) -> Result<Reference, RegistryError> {
        let tag = format!("candidate-{}", inputs_part(inputs_digest));
        self.candidate_repository(stable_tag)?.with_tag(&tag).map_err(|error| naming_error(&self.client, error))
    }

    /// What the stable tag names now (a manifest digest); `None` when it names nothing.
    pub fn resolve_stable(&self, stable_tag: &str) -> Result<Option<String>, RegistryError> {
        self.client.resolve(&self.stable(stable_tag)?)
    }

    /// The inputs digest label of the image the stable tag names now, if it has one.
    pub fn stable_inputs(&self, stable_tag: &str) -> Result<Option<String>, RegistryError> {
        let stable = self.stable(stable_tag)?;
        let Some(manifest) = self.client.manifest(&stable)? else {
            return Ok(None);
        };
        match self.config_of(&stable, &manifest) {
            Ok(facts) => Ok(facts.labels.get(LABEL_INPUTS).cloned()),
            // An index or artifact under the stable tag was not built by imagegate.
            Err(error) if error.kind == ErrorKind::Corrupt => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The newest candidate of the recipe `inputs_digest`, if one was pushed. Its config's
    /// label must carry the full inputs digest (the tag holds only a prefix).
    pub fn find_candidate(
        &self,
        stable_tag: &str,
        inputs_digest: &str,
    ) -> Result<Option<StoredCandidate>, RegistryError> {
        let tag = self.newest_candidate_tag(stable_tag, inputs_digest)?;
        let Some(manifest) = self.client.manifest(&tag)? else {
            return Ok(None);
        };
        let repository = self.candidate_repository(stable_tag)?;
        let ImageFacts { image_id, labels, .. } = self.config_of(&repository, &manifest)?;
        if labels.get(LABEL_INPUTS).map(String::as_str) != Some(inputs_digest) {
            return Ok(None);
        }
        let reference = repository.with_digest(&manifest.digest).map_err(|error| naming_error(&self.client, error))?;
        Ok(Some(StoredCandidate { digest: manifest.digest, reference, image_id }))
    }

    /// The config digest, labels and creation time of an image manifest.
    fn config_of(&self, repository: &Reference, manifest: &RawManifest) -> Result<ImageFacts, RegistryError> {
        let corrupt = |message: String| {
            RegistryError::new(
                self.client.registry(),
                format!("read the image {} in `{}`", manifest.digest, repository.name()),
                ErrorKind::Corrupt,
                message,
            )
        };
        let value: serde_json::Value =
            serde_json::from_slice(&manifest.bytes).map_err(|error| corrupt(format!("its manifest: {error}")))?;
        let config_digest = value
            .pointer("/config/digest")
            .and_then(|digest| digest.as_str())
            .ok_or_else(|| corrupt("its manifest has no config (an index or another kind of artifact)".to_owned()))?
            .to_owned();
        let config = self.client.blob(repository, &config_digest)?;
        let config: serde_json::Value =
            serde_json::from_slice(&config).map_err(|error| corrupt(format!("its config: {error}")))?;
        let labels = config
            .pointer("/config/Labels")
            .and_then(|labels| labels.as_object())
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|(key, value)| value.as_str().map(|value| (key.clone(), value.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let created = config.get("created").and_then(|created| created.as_str()).map(str::to_owned);
        Ok(ImageFacts { image_id: config_digest, labels, created })
    }

    /// After the engine pushed the candidate under its immutable name: reads its digest and
    /// points the recipe's newest-candidate tag at it.
    pub fn register_candidate(
        &self,
        stable_tag: &str,
        inputs_digest: &str,
        image_id: &str,
    ) -> Result<StoredCandidate, RegistryError> {
        let name = self.candidate_name(stable_tag, inputs_digest, image_id)?;
        let manifest = self.client.manifest(&name)?.ok_or_else(|| {
            RegistryError::new(
                self.client.registry(),
                format!("find the pushed candidate `{name}`"),
                ErrorKind::NotFound,
                "the engine reported the push done, but the registry does not have it",
            )
        })?;
        let newest = self.newest_candidate_tag(stable_tag, inputs_digest)?;
        self.client.put_manifest(&newest, &manifest.bytes, &manifest.media_type)?;
        let reference = self
            .candidate_repository(stable_tag)?
            .with_digest(&manifest.digest)
            .map_err(|error| naming_error(&self.client, error))?;
        Ok(StoredCandidate { digest: manifest.digest, reference, image_id: image_id.to_owned() })
    }

    /// The engine image id (config digest) of the image `digest` in the stable repository (or
    /// the candidates'): what an engine calls it after pulling it.
    pub fn image_id(&self, stable_tag: &str, digest: &str) -> Result<Option<(Reference, String)>, RegistryError> {
        let Some((repository, manifest)) = self.find_manifest(stable_tag, digest)? else {
            return Ok(None);
        };
        let reference = repository.with_digest(digest).map_err(|error| naming_error(&self.client, error))?;
        Ok(Some((reference, self.config_of(&repository, &manifest)?.image_id)))
    }

    /// What the promotion lease of the stable tag's repository says now; `None` when there
    /// never was one.
    pub fn lease_state(&self, stable_tag: &str) -> Result<Option<lease::LeaseState>, RegistryError> {
        lease::read(&self.client, &self.stable(stable_tag)?)
    }

    /// Takes the promotion lease of the stable tag's repository.
    pub fn lease<E: From<RegistryError>>(
        &self,
        stable_tag: &str,
        waiting: impl FnMut(&lease::LeaseState) -> Result<(), E>,
    ) -> Result<Lease, E> {
        let repository = self.stable(stable_tag)?;
        lease::acquire(&self.client, &repository, &lease::holder_name(), self.lease_timing, waiting)
    }

    /// Puts the exact manifest of image `digest` under the stable tag: the digest stays the
    /// same and no layer is pulled or pushed (blobs of a candidate in another repository are
    /// mounted). Also tags it `promoted-<digest>` so that rollback can always return to it.
    /// The caller holds the lease and has confirmed it.
    pub fn move_stable(&self, stable_tag: &str, digest: &str) -> Result<(), RegistryError> {
        let stable = self.stable(stable_tag)?;
        let manifest = self.find_manifest(stable_tag, digest)?;
        let (source, manifest) = manifest.ok_or_else(|| {
            RegistryError::new(
                self.client.registry(),
                format!("promote {digest} to `{stable}`"),
                ErrorKind::NotFound,
                "the registry no longer has that image",
            )
        })?;
        if source.name() != stable.name() {
            for blob in blobs_of(&manifest) {
                self.client.mount_blob(&stable, &source, &blob)?;
            }
        }
        let keep = stable
            .with_tag(&format!("promoted-{}", short(digest)))
            .map_err(|error| naming_error(&self.client, error))?;
        self.client.put_manifest(&keep, &manifest.bytes, &manifest.media_type)?;
        self.client.put_manifest(&stable, &manifest.bytes, &manifest.media_type)?;
        Ok(())
    }

    /// Tags the image the stable tag names now `promoted-<digest>` (an incumbent promoted
    /// outside imagegate gets its keep tag before it is replaced).
    pub fn keep(&self, stable_tag: &str, digest: &str) -> Result<(), RegistryError> {
        let stable = self.stable(stable_tag)?;
        let keep = stable
            .with_tag(&format!("promoted-{}", short(digest)))
            .map_err(|error| naming_error(&self.client, error))?;
        // An image promoted by imagegate has its keep tag already: a HEAD says so, where
        // re-storing it would first GET its manifest (a pull on Docker Hub).
        if self.client.resolve(&keep)?.as_deref() == Some(digest) {
            return Ok(());
        }
        let Some((_, manifest)) = self.find_manifest(stable_tag, digest)? else {
            return Ok(());
        };
        self.client.put_manifest(&keep, &manifest.bytes, &manifest.media_type).map(|_| ())
    }

    fn find_manifest(&self, stable_tag: &str, digest: &str) -> Result<Option<(Reference, RawManifest)>, RegistryError> {
        let mut repositories = vec![self.candidate_repository(stable_tag)?];
        let stable = self.stable(stable_tag)?;
        if stable.name() != repositories[0].name() {
            repositories.push(stable);
        }
        for repository in repositories {
            let reference = repository.with_digest(digest).map_err(|error| naming_error(&self.client, error))?;
            if let Some(manifest) = self.client.manifest(&reference)? {
                return Ok(Some((repository, manifest)));
            }
        }
        Ok(None)
    }

    /// Writes a record about image `subject` (a manifest digest) in the repository holding it.
    pub fn write_record(&self, stable_tag: &str, subject: &str, body: &RecordBody) -> Result<Record, RegistryError> {
        let (repository, manifest) = self.find_manifest(stable_tag, subject)?.ok_or_else(|| {
            RegistryError::new(
                self.client.registry(),
                format!("record a {} about {subject}", body.kind.as_str()),
                ErrorKind::NotFound,
                "the registry does not have that image",
            )
        })?;
        records::write_record(&self.client, &repository, &Descriptor::of_manifest(&manifest), body)
    }

    /// Record tags of an image (its stable and candidate repositories), oldest first, and the
    /// repository each is in.
    pub fn record_tags(&self, stable_tag: &str) -> Result<Vec<(Reference, String)>, RegistryError> {
        let stable = self.stable(stable_tag)?;
        let candidates = self.candidate_repository(stable_tag)?;
        let mut tags: Vec<(Reference, String)> =
            records::record_tags(&self.client, &stable)?.into_iter().map(|tag| (stable.clone(), tag)).collect();
        if candidates.name() != stable.name() {
            tags.extend(
                records::record_tags(&self.client, &candidates)?.into_iter().map(|tag| (candidates.clone(), tag)),
            );
        }
        // Tags start with the time in milliseconds: sorting them sorts the records in time.
        tags.sort_by(|left, right| left.1.cmp(&right.1));
        Ok(tags)
    }

    /// Stores a suite run's evidence (see `evidence.rs`) in the image's stable repository.
    pub fn write_evidence(
        &self,
        stable_tag: &str,
        key: &str,
        recorded_at: &str,
        body: &[u8],
    ) -> Result<(), RegistryError> {
        crate::evidence::write_evidence(&self.client, &self.stable(stable_tag)?, key, recorded_at, body)
    }

    /// Deletes (unless `dry_run`) the image's stored runs recorded before `cutoff`; returns how
    /// many there were.
    pub fn prune_evidence(
        &self,
        stable_tag: &str,
        cutoff: jiff::Timestamp,
        dry_run: bool,
    ) -> Result<usize, RegistryError> {
        Ok(crate::evidence::prune_evidence(&self.client, &self.stable(stable_tag)?, cutoff, !dry_run)?.len())
    }

    /// The suite run stored under `key` for the image, if any.
    pub fn read_evidence(
        &self,
        stable_tag: &str,
        key: &str,
    ) -> Result<Option<crate::evidence::StoredRun>, RegistryError> {
        crate::evidence::read_evidence(&self.client, &self.stable(stable_tag)?, key)
    }

    pub fn read_record(&self, repository: &Reference, tag: &str) -> Result<Option<Record>, RegistryError> {
        records::read_record(&self.client, repository, tag)
    }

    /// The candidates of an image and whether `prune` removes each: those never promoted,
    /// created before `cutoff` (RFC 3339), not in `protected` (digests rollback may need or
    /// the stable image).
    pub fn prune_plan(
        &self,
        stable_tag: &str,
        cutoff: jiff::Timestamp,
        protected: &BTreeSet<String>,
    ) -> Result<Vec<PruneEntry>, RegistryError> {
        let repository = self.candidate_repository(stable_tag)?;
        let stable = self.stable(stable_tag)?;
        let mut protected = protected.clone();
        if let Some(current) = self.client.resolve(&stable)? {
            protected.insert(current);
        }
        // Everything that was ever stable keeps its `promoted-` tag in the stable repository.
        for tag in self.client.tags(&stable)?.into_iter().filter(|tag| tag.starts_with("promoted-")) {
            let reference = stable.with_tag(&tag).map_err(|error| naming_error(&self.client, error))?;
            if let Some(digest) = self.client.resolve(&reference)? {
                protected.insert(digest);
            }
        }
        let mut entries = Vec::new();
        for tag in self.client.tags(&repository)? {
            // Only the immutable candidate names: `candidate-<inputs>-<id>`.
            let Some(rest) = tag.strip_prefix("candidate-") else { continue };
            if !rest.contains('-') {
                continue;
            }
            let reference = repository.with_tag(&tag).map_err(|error| naming_error(&self.client, error))?;
            let Some(manifest) = self.client.manifest(&reference)? else { continue };
            let created = self.config_of(&repository, &manifest)?.created;
            let kept = if protected.contains(&manifest.digest) {
                Some("it is or was a stable image".to_owned())
            } else {
                match created.as_deref().and_then(|created| created.parse::<jiff::Timestamp>().ok()) {
                    Some(time) if time < cutoff => None,
                    Some(_) => Some("it is newer than the cutoff".to_owned()),
                    None => Some("its creation time is unknown".to_owned()),
                }
            };
            entries.push(PruneEntry { tag, digest: manifest.digest, created, kept });
        }
        Ok(entries)
    }

    /// Deletes a candidate's manifest (and with it every tag naming it).
    pub fn delete_candidate(&self, stable_tag: &str, digest: &str) -> Result<(), RegistryError> {
        self.client.delete_manifest(&self.candidate_repository(stable_tag)?, digest)
    }
}

/// The blobs an image manifest references: its config and layers.
fn blobs_of(manifest: &RawManifest) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&manifest.bytes) else {
        return Vec::new();
    };
    let mut blobs = Vec::new();
    if let Some(digest) = value.pointer("/config/digest").and_then(|digest| digest.as_str()) {
        blobs.push(digest.to_owned());
    }
    if let Some(layers) = value.get("layers").and_then(|layers| layers.as_array()) {
        blobs.extend(layers.iter().filter_map(|layer| layer.get("digest")?.as_str().map(str::to_owned)));
    }
    blobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_of_lists_config_then_layers() {
        let bytes = br#"{"config":{"digest":"sha256:c"},"layers":[{"digest":"sha256:l1"},{"digest":"sha256:l2"}]}"#;
        let manifest = RawManifest { bytes: bytes.to_vec(), media_type: String::new(), digest: String::new() };
        assert_eq!(blobs_of(&manifest), vec!["sha256:c", "sha256:l1", "sha256:l2"]);
    }
}
