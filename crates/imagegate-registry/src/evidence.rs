//! Stored suite runs (evidence) as OCI artifacts, so that a gate on another machine reuses a
//! run this one made.
//!
//! One artifact per run, in the image's stable repository, tagged
//! `imagegate-evidence-<key hex>`: the key is a digest of everything that determines the run's
//! results, so a lookup is one manifest read by tag, with no listing. The body (the results and
//! the run's summary, as the gate serialises them) is the artifact's one layer; when it was
//! recorded is an annotation. Evidence artifacts have no `subject` and are not records: the
//! record sync (which lists `imagegate-record-` tags) never reads them.

use crate::client::{Client, sha256_digest};
use crate::error::{ErrorKind, RegistryError};
use crate::records::{ArtifactManifest, Descriptor, OCI_MANIFEST, ensure_empty_blob};
use crate::reference::Reference;

/// Prefix of every evidence tag.
pub const EVIDENCE_TAG_PREFIX: &str = "imagegate-evidence-";
/// The artifact type (and layer media type) of a stored run.
pub const EVIDENCE_ARTIFACT_TYPE: &str = "application/vnd.imagegate.evidence.v1+json";
const ANNOTATION_RECORDED: &str = "org.opencontainers.image.created";

/// A stored run as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    /// When the run was made (RFC 3339).
    pub recorded_at: String,
    pub body: Vec<u8>,
}

/// The tag of the run stored under `key` (`sha256:<hex>`): at most 83 characters.
pub fn evidence_tag(key: &str) -> String {
    format!("{EVIDENCE_TAG_PREFIX}{}", key.trim_start_matches("sha256:"))
}

fn tag_of(client: &Client, repository: &Reference, key: &str) -> Result<Reference, RegistryError> {
    repository.with_tag(&evidence_tag(key)).map_err(|error| {
        RegistryError::new(client.registry(), "name stored evidence", ErrorKind::Protocol, error.to_string())
    })
}

/// Stores `body` under `key` in `repository`.
pub fn write_evidence(
    client: &Client,
    repository: &Reference,
    key: &str,
    recorded_at: &str,
    body: &[u8],
) -> Result<(), RegistryError> {
    ensure_empty_blob(client, repository)?;
    let blob_digest = client.push_blob(repository, body)?;
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(ANNOTATION_RECORDED.to_owned(), recorded_at.to_owned());
    let manifest = ArtifactManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.to_owned(),
        artifact_type: Some(EVIDENCE_ARTIFACT_TYPE.to_owned()),
        config: Descriptor::empty(),
        layers: vec![Descriptor {
            media_type: EVIDENCE_ARTIFACT_TYPE.to_owned(),
            digest: blob_digest,
            size: body.len() as u64,
            artifact_type: None,
            annotations: None,
        }],
        subject: None,
        annotations: Some(annotations),
    };
    let bytes = serde_json::to_vec(&manifest).map_err(|error| {
        RegistryError::new(client.registry(), "encode stored evidence", ErrorKind::Protocol, error.to_string())
    })?;
    client.put_manifest(&tag_of(client, repository, key)?, &bytes, OCI_MANIFEST)?;
    Ok(())
}

/// The run stored under `key` in `repository`; `Ok(None)` when there is none.
pub fn read_evidence(client: &Client, repository: &Reference, key: &str) -> Result<Option<StoredRun>, RegistryError> {
    let reference = tag_of(client, repository, key)?;
    let Some(manifest) = client.manifest(&reference)? else {
        return Ok(None);
    };
    let corrupt = |message: String| {
        RegistryError::new(
            client.registry(),
            format!("read stored evidence `{reference}`"),
            ErrorKind::Corrupt,
            message,
        )
    };
    let artifact: ArtifactManifest =
        serde_json::from_slice(&manifest.bytes).map_err(|error| corrupt(format!("its manifest: {error}")))?;
    if artifact.artifact_type.as_deref() != Some(EVIDENCE_ARTIFACT_TYPE) {
        return Err(corrupt(format!("artifact type {:?}", artifact.artifact_type)));
    }
    let [layer] = artifact.layers.as_slice() else {
        return Err(corrupt(format!("{} layers, expected 1", artifact.layers.len())));
    };
    let body = client.blob(repository, &layer.digest)?;
    if sha256_digest(&body) != layer.digest {
        return Err(corrupt("its body does not match its digest".to_owned()));
    }
    let recorded_at = artifact
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(ANNOTATION_RECORDED))
        .cloned()
        .ok_or_else(|| corrupt("no time of recording".to_owned()))?;
    Ok(Some(StoredRun { recorded_at, body }))
}

/// The stored runs of `repository` recorded before `cutoff`, as `(tag, manifest digest)`; with
/// `delete`, they are deleted too. A stored run whose time cannot be read is kept.
pub fn prune_evidence(
    client: &Client,
    repository: &Reference,
    cutoff: jiff::Timestamp,
    delete: bool,
) -> Result<Vec<(String, String)>, RegistryError> {
    let mut old = Vec::new();
    for tag in client.tags(repository)?.into_iter().filter(|tag| tag.starts_with(EVIDENCE_TAG_PREFIX)) {
        let reference = repository.with_tag(&tag).map_err(|error| {
            RegistryError::new(client.registry(), "name stored evidence", ErrorKind::Protocol, error.to_string())
        })?;
        let Some(manifest) = client.manifest(&reference)? else { continue };
        let recorded = serde_json::from_slice::<ArtifactManifest>(&manifest.bytes)
            .ok()
            .and_then(|artifact| artifact.annotations?.get(ANNOTATION_RECORDED)?.parse::<jiff::Timestamp>().ok());
        if recorded.is_some_and(|recorded| recorded < cutoff) {
            if delete {
                client.delete_manifest(repository, &manifest.digest)?;
            }
            old.push((tag, manifest.digest));
        }
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_tags_are_valid_tags_apart_from_records() {
        let tag = evidence_tag(&format!("sha256:{}", "f".repeat(64)));
        assert!(crate::reference::is_valid_tag(&tag), "{tag}");
        assert!(!tag.starts_with(crate::records::RECORD_TAG_PREFIX));
    }
}
