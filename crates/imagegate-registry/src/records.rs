//! imagegate's records as OCI artifacts that travel with the images they judge.
//!
//! A record (a verdict, a promotion, a rollback) is one JSON blob in an OCI image manifest
//! whose `artifactType` names the kind and whose `subject` is the image manifest it is about,
//! so `oras discover` and other referrers-aware tools see it. Each record is also tagged
//! `imagegate-record-<unix ms>-<kind>-<digest prefix>`: a tag per record means that writers
//! never update a shared document, so concurrent writers cannot lose each other's records,
//! and listing tags finds them all in time order on a machine that has never seen the
//! project. The OCI 1.1 referrers tag-schema index (`sha256-<hex>`) is kept up to date for
//! registries without the referrers API (distribution 2.8 has none); a registry with the API
//! keeps its referrers lists itself. That index is also stored as a blob of the same digest,
//! so that the next writer (a promotion after the gate that wrote the verdict) reads it after a
//! HEAD without a manifest GET, which Docker Hub counts as a pull.

use serde::{Deserialize, Serialize};

use crate::client::{Client, RawManifest, sha256_digest};
use crate::error::{ErrorKind, RegistryError};
use crate::reference::Reference;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The OCI empty descriptor's media type and content (`{}`).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONTENT: &[u8] = b"{}";
/// Prefix of every record tag.
pub const RECORD_TAG_PREFIX: &str = "imagegate-record-";

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Verdict,
    Promote,
    Rollback,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Verdict => "verdict",
            RecordKind::Promote => "promote",
            RecordKind::Rollback => "rollback",
        }
    }

    pub fn artifact_type(self) -> &'static str {
        match self {
            RecordKind::Verdict => "application/vnd.imagegate.verdict.v1+json",
            RecordKind::Promote => "application/vnd.imagegate.promotion.v1+json",
            RecordKind::Rollback => "application/vnd.imagegate.rollback.v1+json",
        }
    }

    fn from_artifact_type(artifact_type: &str) -> Option<RecordKind> {
        [RecordKind::Verdict, RecordKind::Promote, RecordKind::Rollback]
            .into_iter()
            .find(|kind| kind.artifact_type() == artifact_type)
    }
}

/// The JSON body of a record. Fields a kind does not use are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordBody {
    /// `imagegate.record.v1`.
    pub schema: String,
    pub kind: RecordKind,
    /// The image's name in imagegate.toml.
    pub image: String,
    /// The stable tag, as written in imagegate.toml.
    pub stable_tag: String,
    pub created_at: String,
    /// The engine that ran the suites (verdicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incumbent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The full gate report (verdicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
    /// Where the pointer was and went (promotions, rollbacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The verdict record that allowed a promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict_record: Option<String>,
}

pub const RECORD_SCHEMA: &str = "imagegate.record.v1";

/// A record as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Digest of the record's manifest: its identity.
    pub digest: String,
    pub tag: String,
    pub body: RecordBody,
}

/// A manifest descriptor (OCI image spec), as imagegate writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

impl Descriptor {
    pub fn of_manifest(manifest: &RawManifest) -> Descriptor {
        Descriptor {
            media_type: manifest.media_type.clone(),
            digest: manifest.digest.clone(),
            size: manifest.bytes.len() as u64,
            artifact_type: None,
            annotations: None,
        }
    }

    pub fn empty() -> Descriptor {
        Descriptor {
            media_type: EMPTY_MEDIA_TYPE.to_owned(),
            digest: sha256_digest(EMPTY_CONTENT),
            size: EMPTY_CONTENT.len() as u64,
            artifact_type: None,
            annotations: None,
        }
    }
}

/// An artifact manifest (OCI image manifest v1.1 with `artifactType` and `subject`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactManifest {
    pub schema_version: u32,
    pub media_type: String,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// An image index (the referrers tag-schema document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    media_type: String,
    manifests: Vec<Descriptor>,
}

/// Uploads the empty blob that artifact manifests use as their config.
pub fn ensure_empty_blob(client: &Client, repository: &Reference) -> Result<(), RegistryError> {
    client.push_blob(repository, EMPTY_CONTENT).map(|_| ())
}

fn hex16(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..hex.len().min(16)]
}

/// The tag a record gets: time-ordered, unique by the record's digest, and naming the first
/// hex digits of the record's and its subject's digests, so that both can be matched from the
/// tag list alone: `imagegate-record-<unix ms>-<kind>-<record>-<subject>`.
pub fn record_tag(kind: RecordKind, unix_millis: i64, digest: &str, subject: &str) -> String {
    format!("{RECORD_TAG_PREFIX}{unix_millis:013}-{}-{}-{}", kind.as_str(), hex16(digest), hex16(subject))
}

/// What a record tag says without reading the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTag<'a> {
    pub unix_millis: i64,
    pub kind: &'a str,
    /// The first 16 hex digits of the record's digest.
    pub record: &'a str,
    /// The first 16 hex digits of its subject's digest.
    pub subject: &'a str,
}

/// Reads a tag written by [`record_tag`]; `None` for any other tag.
pub fn parse_record_tag(tag: &str) -> Option<RecordTag<'_>> {
    let mut parts = tag.strip_prefix(RECORD_TAG_PREFIX)?.split('-');
    let record_tag = RecordTag {
        unix_millis: parts.next()?.parse().ok()?,
        kind: parts.next()?,
        record: parts.next()?,
        subject: parts.next()?,
    };
    parts.next().is_none().then_some(record_tag)
}

/// Writes `body` as a record about `subject` in `repository` and returns it as stored.
pub fn write_record(
    client: &Client,
    repository: &Reference,
    subject: &Descriptor,
    body: &RecordBody,
) -> Result<Record, RegistryError> {
    let json = serde_json::to_vec(body).map_err(|error| {
        RegistryError::new(client.registry(), "encode a record", ErrorKind::Protocol, error.to_string())
    })?;
    ensure_empty_blob(client, repository)?;
    let blob_digest = client.push_blob(repository, &json)?;
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert("org.opencontainers.image.created".to_owned(), body.created_at.clone());
    annotations.insert("io.imagegate.kind".to_owned(), body.kind.as_str().to_owned());
    annotations.insert("io.imagegate.image".to_owned(), body.image.clone());
    if let Some(decision) = &body.decision {
        annotations.insert("io.imagegate.decision".to_owned(), decision.clone());
    }
    let manifest = ArtifactManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.to_owned(),
        artifact_type: Some(body.kind.artifact_type().to_owned()),
        config: Descriptor::empty(),
        layers: vec![Descriptor {
            media_type: body.kind.artifact_type().to_owned(),
            digest: blob_digest,
            size: json.len() as u64,
            artifact_type: None,
            annotations: None,
        }],
        subject: Some(subject.clone()),
        annotations: Some(annotations),
    };
    let bytes = serde_json::to_vec(&manifest).map_err(|error| {
        RegistryError::new(client.registry(), "encode a record", ErrorKind::Protocol, error.to_string())
    })?;
    let digest = sha256_digest(&bytes);
    let millis = jiff::Timestamp::now().as_millisecond();
    let tag = record_tag(body.kind, millis, &digest, &subject.digest);
    client.put_manifest(&tag_of(client, repository, &tag)?, &bytes, OCI_MANIFEST)?;
    // A registry with the referrers API lists the record by its `subject` by itself.
    if client.has_referrers_api(repository) {
        return Ok(Record { digest, tag, body: body.clone() });
    }
    add_referrer(
        client,
        repository,
        &subject.digest,
        Descriptor {
            media_type: OCI_MANIFEST.to_owned(),
            digest: digest.clone(),
            size: bytes.len() as u64,
            artifact_type: Some(body.kind.artifact_type().to_owned()),
            annotations: manifest.annotations.clone(),
        },
    )?;
    Ok(Record { digest, tag, body: body.clone() })
}

fn tag_of(client: &Client, repository: &Reference, tag: &str) -> Result<Reference, RegistryError> {
    repository
        .with_tag(tag)
        .map_err(|error| RegistryError::new(client.registry(), "name a record", ErrorKind::Protocol, error.to_string()))
}

/// Adds `referrer` to the tag-schema referrers index of `subject`.
///
/// Registries have no conditional write, so a read-modify-write of the shared index can be
/// undone by a concurrent writer's stale write. Every writer therefore converges instead:
/// after its write it waits a moment, reads the index again and compares it with the record
/// tags naming this subject (the truth, which no writer can undo), and writes again until
/// nothing is missing. The last writer to finish has checked after every other writer's last
/// write, so the index ends complete; an index left short by a crashed writer is completed by
/// the next record about the same subject.
fn add_referrer(
    client: &Client,
    repository: &Reference,
    subject: &str,
    referrer: Descriptor,
) -> Result<(), RegistryError> {
    let index_tag = tag_of(client, repository, &subject.replace(':', "-"))?;
    for _ in 0..10 {
        // Read and written with a blob copy: a promotion adds its record to the index that the
        // verdict's gate wrote, and reading it must not cost a manifest GET (a Docker Hub pull).
        let mut index = match client.manifest_via_copy(&index_tag)? {
            Some(manifest) => serde_json::from_slice::<Index>(&manifest.bytes).map_err(|error| {
                RegistryError::new(
                    client.registry(),
                    format!("read the referrers index `{index_tag}`"),
                    ErrorKind::Corrupt,
                    error.to_string(),
                )
            })?,
            None => Index { schema_version: 2, media_type: OCI_INDEX.to_owned(), manifests: Vec::new() },
        };
        let listed: Vec<&str> = index.manifests.iter().map(|descriptor| hex16(&descriptor.digest)).collect();
        let mut missing: Vec<Descriptor> = Vec::new();
        if !listed.contains(&hex16(&referrer.digest)) {
            missing.push(referrer.clone());
        }
        for tag in record_tags(client, repository)? {
            let Some(parsed) = parse_record_tag(&tag) else { continue };
            if parsed.subject != hex16(subject)
                || listed.contains(&parsed.record)
                || parsed.record == hex16(&referrer.digest)
            {
                continue;
            }
            if let Some(descriptor) = record_descriptor(client, repository, &tag)? {
                missing.push(descriptor);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        index.manifests.extend(missing);
        let bytes = serde_json::to_vec(&index).map_err(|error| {
            RegistryError::new(client.registry(), "encode a referrers index", ErrorKind::Protocol, error.to_string())
        })?;
        client.put_manifest_with_copy(&index_tag, &bytes, OCI_INDEX)?;
        // Let concurrent writers' stale writes land before checking again.
        std::thread::sleep(std::time::Duration::from_millis(fastrand::u64(50..300)));
    }
    Err(RegistryError::new(
        client.registry(),
        format!("update the referrers index `{index_tag}`"),
        ErrorKind::Unavailable,
        "other writers kept replacing it",
    ))
}

/// The descriptor of the record under `tag`, as a referrers index lists it.
fn record_descriptor(client: &Client, repository: &Reference, tag: &str) -> Result<Option<Descriptor>, RegistryError> {
    let Some(manifest) = client.manifest(&tag_of(client, repository, tag)?)? else {
        return Ok(None);
    };
    let Ok(artifact) = serde_json::from_slice::<ArtifactManifest>(&manifest.bytes) else {
        return Ok(None);
    };
    Ok(Some(Descriptor {
        media_type: OCI_MANIFEST.to_owned(),
        digest: manifest.digest,
        size: manifest.bytes.len() as u64,
        artifact_type: artifact.artifact_type,
        annotations: artifact.annotations,
    }))
}

/// The record tags of `repository`, oldest first.
pub fn record_tags(client: &Client, repository: &Reference) -> Result<Vec<String>, RegistryError> {
    let mut tags: Vec<String> =
        client.tags(repository)?.into_iter().filter(|tag| tag.starts_with(RECORD_TAG_PREFIX)).collect();
    tags.sort();
    Ok(tags)
}

/// Reads the record under `tag`. `Ok(None)` when the tag is gone (pruned meanwhile).
pub fn read_record(client: &Client, repository: &Reference, tag: &str) -> Result<Option<Record>, RegistryError> {
    let reference = tag_of(client, repository, tag)?;
    let Some(manifest) = client.manifest(&reference)? else {
        return Ok(None);
    };
    let corrupt = |message: String| {
        RegistryError::new(client.registry(), format!("read the record `{reference}`"), ErrorKind::Corrupt, message)
    };
    let artifact: ArtifactManifest =
        serde_json::from_slice(&manifest.bytes).map_err(|error| corrupt(format!("its manifest: {error}")))?;
    let kind = artifact
        .artifact_type
        .as_deref()
        .and_then(RecordKind::from_artifact_type)
        .ok_or_else(|| corrupt(format!("unknown artifact type {:?}", artifact.artifact_type)))?;
    let [layer] = artifact.layers.as_slice() else {
        return Err(corrupt(format!("{} layers, expected 1", artifact.layers.len())));
    };
    let bytes = client.blob(repository, &layer.digest)?;
    let body: RecordBody = serde_json::from_slice(&bytes).map_err(|error| corrupt(format!("its body: {error}")))?;
    if body.kind != kind || body.schema != RECORD_SCHEMA {
        return Err(corrupt(format!("body of kind {:?}, schema {}", body.kind, body.schema)));
    }
    Ok(Some(Record { digest: manifest.digest, tag: tag.to_owned(), body }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_tags_sort_by_time_and_are_valid_tags() {
        let subject = "sha256:1234567890abcdef1234";
        let early = record_tag(RecordKind::Verdict, 1_700_000_000_000, "sha256:ffff0000aaaa1111bbbb", subject);
        let late = record_tag(RecordKind::Promote, 1_700_000_000_001, "sha256:0000", subject);
        assert!(early < late);
        assert!(crate::reference::is_valid_tag(&early), "{early}");
        assert_eq!(early, "imagegate-record-1700000000000-verdict-ffff0000aaaa1111-1234567890abcdef");
        let longest = record_tag(
            RecordKind::Rollback,
            i64::from(i32::MAX) * 1000,
            &format!("sha256:{}", "f".repeat(64)),
            subject,
        );
        assert!(crate::reference::is_valid_tag(&longest), "{longest}");
        assert_eq!(
            parse_record_tag(&early),
            Some(RecordTag {
                unix_millis: 1_700_000_000_000,
                kind: "verdict",
                record: "ffff0000aaaa1111",
                subject: "1234567890abcdef"
            })
        );
        assert_eq!(parse_record_tag("imagegate-record-12-verdict-ab"), None);
        assert_eq!(parse_record_tag("candidate-1234"), None);
    }

    #[test]
    fn record_bodies_round_trip_and_omit_unused_fields() {
        let body = RecordBody {
            schema: RECORD_SCHEMA.to_owned(),
            kind: RecordKind::Promote,
            image: "debian".to_owned(),
            stable_tag: "acme/debian:12".to_owned(),
            created_at: "2026-12-03T00:00:00Z".to_owned(),
            engine: None,
            candidate: None,
            inputs_digest: None,
            incumbent: None,
            commit: None,
            decision: None,
            report: None,
            from: Some("sha256:a".to_owned()),
            to: Some("sha256:b".to_owned()),
            verdict_record: Some("sha256:v".to_owned()),
        };
        let json = serde_json::to_string(&body).unwrap();
        assert!(!json.contains("candidate"), "{json}");
        assert_eq!(serde_json::from_str::<RecordBody>(&json).unwrap(), body);
    }

    #[test]
    fn the_empty_descriptor_is_the_oci_one() {
        assert_eq!(
            Descriptor::empty().digest,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
