//! The manifests of an image archive: Docker's `manifest.json` and the OCI layout's
//! `index.json` with the index and manifest blobs it points at. Turns them into the images the
//! archive holds (names and layer members, lowest layer first) and picks the one to read.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::ImageError;

pub(crate) const DOCKER_MANIFEST: &str = "manifest.json";
pub(crate) const OCI_INDEX: &str = "index.json";

/// How deep OCI indexes may nest (an index of indexes of manifests is two).
const MAX_INDEX_DEPTH: usize = 4;

/// The archive layout an image was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArchiveFormat {
    /// `docker save`, `podman save` (its default): `manifest.json` naming layer members.
    DockerArchive,
    /// An OCI image layout (`podman save --format oci-archive`, `skopeo copy … oci-archive:`):
    /// `index.json` pointing at manifests in `blobs/`.
    OciLayout,
}

/// One image of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageEntry {
    /// The names the archive gives it (`RepoTags`, or OCI reference annotations).
    pub names: Vec<String>,
    pub layers: Vec<LayerRef>,
    pub platform: Option<Platform>,
}

/// A layer as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerRef {
    /// The archive member holding the layer's blob.
    pub member: String,
    /// The media type an OCI manifest gives the layer (Docker's `manifest.json` gives none).
    pub media_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

/// An OCI index or image manifest (or their Docker equivalents): which one is told by the
/// fields present, since `mediaType` is optional in both.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciDocument {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

const INDEX_TYPES: [&str; 2] =
    ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];

/// The media types of filesystem layers; compression is told from the bytes, not from these.
const LAYER_TYPES: [&str; 11] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar",
];

/// Whether a manifest's media type for a layer names a filesystem layer.
pub(crate) fn is_layer_media_type(media_type: &str) -> bool {
    LAYER_TYPES.contains(&media_type)
}

/// The images listed by a Docker `manifest.json`.
pub(crate) fn docker_images(manifest: &[u8]) -> Result<Vec<ImageEntry>, ImageError> {
    let entries: Vec<DockerEntry> = serde_json::from_slice(manifest)
        .map_err(|error| ImageError::BadManifest { member: DOCKER_MANIFEST.to_owned(), message: error.to_string() })?;
    entries
        .into_iter()
        .map(|entry| {
            let layers = entry
                .layers
                .iter()
                .map(|layer| {
                    let member = normal_member(layer).ok_or_else(|| ImageError::BadManifest {
                        member: DOCKER_MANIFEST.to_owned(),
                        message: format!("layer path `{layer}` is not a path inside the archive"),
                    })?;
                    Ok(LayerRef { member, media_type: None })
                })
                .collect::<Result<_, ImageError>>()?;
            Ok(ImageEntry { names: entry.repo_tags.unwrap_or_default(), layers, platform: None })
        })
        .collect()
}

/// The images reachable from an OCI `index.json`, through nested indexes. `blobs` holds the
/// small members of the archive (manifests and indexes among them) by member path.
pub(crate) fn oci_images(index: &[u8], blobs: &HashMap<String, Vec<u8>>) -> Result<Vec<ImageEntry>, ImageError> {
    let mut images = Vec::new();
    walk_index(OCI_INDEX, index, &[], blobs, 0, &mut images)?;
    Ok(images)
}

fn walk_index(
    member: &str,
    bytes: &[u8],
    inherited_names: &[String],
    blobs: &HashMap<String, Vec<u8>>,
    depth: usize,
    images: &mut Vec<ImageEntry>,
) -> Result<(), ImageError> {
    let bad = |message: String| ImageError::BadManifest { member: member.to_owned(), message };
    if depth > MAX_INDEX_DEPTH {
        return Err(bad(format!("indexes nest deeper than {MAX_INDEX_DEPTH} levels")));
    }
    let document: OciDocument = serde_json::from_slice(bytes).map_err(|error| bad(error.to_string()))?;
    let manifests = document.manifests.ok_or_else(|| bad("it has no `manifests` list".to_owned()))?;
    for descriptor in manifests {
        // Attestations and signatures ride along as manifests of an unknown platform.
        if descriptor.annotations.get("vnd.docker.reference.type").is_some_and(|kind| kind == "attestation-manifest")
            || descriptor.platform.as_ref().is_some_and(|platform| platform.os == "unknown")
        {
            continue;
        }
        let child =
            blob_member(&descriptor.digest).ok_or_else(|| bad(format!("bad digest `{}`", descriptor.digest)))?;
        let bytes = blobs.get(&child).ok_or_else(|| ImageError::MissingBlob { member: child.clone() })?;
        let mut names = inherited_names.to_vec();
        for key in ["org.opencontainers.image.ref.name", "io.containerd.image.name"] {
            if let Some(name) = descriptor.annotations.get(key)
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
        let is_index = descriptor.media_type.as_deref().is_some_and(|media_type| INDEX_TYPES.contains(&media_type));
        let child_document: OciDocument = serde_json::from_slice(bytes)
            .map_err(|error| ImageError::BadManifest { member: child.clone(), message: error.to_string() })?;
        if is_index || (child_document.manifests.is_some() && child_document.layers.is_none()) {
            walk_index(&child, bytes, &names, blobs, depth + 1, images)?;
            continue;
        }
        let Some(layers) = child_document.layers else {
            return Err(ImageError::BadManifest { member: child, message: "it has no `layers` list".to_owned() });
        };
        let layers = layers
            .into_iter()
            .map(|layer| {
                let member = blob_member(&layer.digest).ok_or_else(|| ImageError::BadManifest {
                    member: child.clone(),
                    message: format!("bad digest `{}`", layer.digest),
                })?;
                Ok(LayerRef { member, media_type: layer.media_type })
            })
            .collect::<Result<_, ImageError>>()?;
        images.push(ImageEntry { names, layers, platform: descriptor.platform });
    }
    Ok(())
}

/// The archive member of a blob: `sha256:ab…` is `blobs/sha256/ab…`.
fn blob_member(digest: &str) -> Option<String> {
    let (algorithm, encoded) = digest.split_once(':')?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"+._-".contains(&byte));
    let encoded_ok =
        !encoded.is_empty() && encoded.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"=_-".contains(&byte));
    (algorithm_ok && encoded_ok).then(|| format!("blobs/{algorithm}/{encoded}"))
}

/// A member path from a manifest in normal form, or `None` if it climbs out of the archive.
fn normal_member(path: &str) -> Option<String> {
    crate::path::normalise(path.as_bytes()).ok().flatten()
}

/// Picks the image to read: the one named `reference` when given, else the only one, else the
/// one for this machine's platform, else the first when all of them have the same layers.
pub(crate) fn pick(images: Vec<ImageEntry>, reference: Option<&str>) -> Result<ImageEntry, ImageError> {
    let described = || describe(&images);
    let mut candidates: Vec<&ImageEntry> = match reference {
        Some(reference) => {
            let matching: Vec<_> =
                images.iter().filter(|image| image.names.iter().any(|name| same_reference(name, reference))).collect();
            if matching.is_empty() {
                return Err(ImageError::ImageNotFound { reference: reference.to_owned(), names: described() });
            }
            matching
        }
        None => images.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(ImageError::BadManifest {
            member: "the archive's manifest".to_owned(),
            message: "it lists no image".to_owned(),
        });
    }
    if candidates.len() > 1 {
        let host = host_architecture();
        let on_host: Vec<_> = candidates
            .iter()
            .copied()
            .filter(|image| {
                image.platform.as_ref().is_some_and(|platform| platform.os == "linux" && platform.architecture == host)
            })
            .collect();
        if !on_host.is_empty() {
            candidates = on_host;
        }
    }
    let first = candidates[0];
    if candidates.iter().all(|image| image.layers == first.layers) {
        return Ok(first.clone());
    }
    Err(ImageError::SeveralImages { count: candidates.len(), names: described() })
}

fn describe(images: &[ImageEntry]) -> String {
    let names: Vec<String> = images
        .iter()
        .map(|image| if image.names.is_empty() { "an unnamed image".to_owned() } else { image.names.join(" = ") })
        .collect();
    names.join(", ")
}

/// Whether an archive's name for an image and a reference asked for name the same image:
/// `docker.io/library/`, `docker.io/` and `localhost/` are the defaults engines add, and an OCI
/// `ref.name` annotation may hold only the tag.
fn same_reference(name: &str, reference: &str) -> bool {
    fn short(name: &str) -> &str {
        ["docker.io/library/", "docker.io/", "localhost/"]
            .iter()
            .find_map(|prefix| name.strip_prefix(prefix))
            .unwrap_or(name)
    }
    fn tag(reference: &str) -> &str {
        let last = reference.rsplit('/').next().unwrap_or(reference);
        last.rsplit_once(':').map_or("latest", |(_, tag)| tag)
    }
    fn with_tag(reference: &str) -> String {
        let last = reference.rsplit('/').next().unwrap_or(reference);
        if last.contains(':') { reference.to_owned() } else { format!("{reference}:latest") }
    }
    if with_tag(short(name)) == with_tag(short(reference)) {
        return true;
    }
    // A bare tag (`b`, `1.0`) as OCI layouts record it.
    !name.contains('/') && !name.contains(':') && tag(reference) == name
}

/// The OCI architecture name of this machine.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(names: &[&str], layers: &[&str], platform: Option<(&str, &str)>) -> ImageEntry {
        ImageEntry {
            names: names.iter().map(|name| (*name).to_owned()).collect(),
            layers: layers.iter().map(|member| LayerRef { member: (*member).to_owned(), media_type: None }).collect(),
            platform: platform
                .map(|(os, architecture)| Platform { os: os.to_owned(), architecture: architecture.to_owned() }),
        }
    }

    #[test]
    fn reads_docker_manifests_with_null_repo_tags_and_both_layer_layouts() {
        let manifest = br#"[{"Config":"c.json","RepoTags":null,"Layers":["abc/layer.tar","blobs/sha256/def"]}]"#;
        let images = docker_images(manifest).unwrap();
        assert_eq!(images, [image(&[], &["abc/layer.tar", "blobs/sha256/def"], None)]);
    }

    #[test]
    fn a_docker_manifest_with_a_climbing_layer_path_is_refused() {
        let error = docker_images(br#"[{"Layers":["../x/layer.tar"]}]"#).unwrap_err();
        assert!(matches!(error, ImageError::BadManifest { .. }), "{error:?}");
        let error = docker_images(b"{not json").unwrap_err();
        assert!(error.to_string().starts_with("read `manifest.json`: "), "{error}");
    }

    #[test]
    fn walks_nested_oci_indexes_and_skips_attestations() {
        let mut blobs = HashMap::new();
        blobs.insert(
            "blobs/sha256/list".to_owned(),
            br#"{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
                {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:m1","platform":{"os":"linux","architecture":"amd64"}},
                {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:att","platform":{"os":"unknown","architecture":"unknown"}}]}"#
                .to_vec(),
        );
        blobs.insert(
            "blobs/sha256/m1".to_owned(),
            br#"{"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"sha256:l1"}]}"#
                .to_vec(),
        );
        let index = br#"{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:list",
            "annotations":{"org.opencontainers.image.ref.name":"b"}}]}"#;
        let images = oci_images(index, &blobs).unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].names, ["b"]);
        assert_eq!(
            images[0].layers,
            [LayerRef {
                member: "blobs/sha256/l1".to_owned(),
                media_type: Some("application/vnd.oci.image.layer.v1.tar+zstd".to_owned())
            }]
        );
    }

    #[test]
    fn an_oci_index_pointing_at_a_missing_manifest_names_it() {
        let error = oci_images(br#"{"manifests":[{"digest":"sha256:gone"}]}"#, &HashMap::new()).unwrap_err();
        assert!(matches!(&error, ImageError::MissingBlob { member } if member == "blobs/sha256/gone"), "{error:?}");
    }

    #[test]
    fn digests_that_would_climb_are_refused() {
        assert_eq!(blob_member("sha256:abc").as_deref(), Some("blobs/sha256/abc"));
        assert_eq!(blob_member("sha256:../../x"), None);
        assert_eq!(blob_member("../x:abc"), None);
        assert_eq!(blob_member("abc"), None);
    }

    #[test]
    fn picks_by_reference_with_engine_prefixes_and_bare_tags() {
        let images = vec![
            image(&["imagegate-test/debian-py:a"], &["a"], None),
            image(&["localhost/imagegate-test/debian-py:b"], &["b"], None),
            image(&["latest"], &["c"], None),
        ];
        assert_eq!(pick(images.clone(), Some("imagegate-test/debian-py:b")).unwrap().layers[0].member, "b");
        assert_eq!(pick(images.clone(), Some("docker.io/imagegate-test/debian-py:a")).unwrap().layers[0].member, "a");
        assert_eq!(pick(images.clone(), Some("busybox")).unwrap().layers[0].member, "c");
        let error = pick(images.clone(), Some("nothing:here")).unwrap_err();
        assert!(matches!(error, ImageError::ImageNotFound { .. }), "{error:?}");
        let error = pick(images, None).unwrap_err();
        assert!(matches!(error, ImageError::SeveralImages { count: 3, .. }), "{error:?}");
    }

    #[test]
    fn picks_this_machines_platform_or_one_of_several_names_for_the_same_layers() {
        let host = host_architecture();
        let images =
            vec![image(&[], &["other"], Some(("linux", "s390x"))), image(&[], &["mine"], Some(("linux", host)))];
        assert_eq!(pick(images, None).unwrap().layers[0].member, "mine");
        let same = vec![image(&["x:1"], &["l"], None), image(&["x:2"], &["l"], None)];
        assert_eq!(pick(same, None).unwrap().names, ["x:1"]);
    }

    #[test]
    fn knows_the_layer_media_types() {
        assert!(is_layer_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"));
        assert!(is_layer_media_type("application/vnd.oci.image.layer.v1.tar+zstd"));
        assert!(!is_layer_media_type("application/vnd.oci.image.config.v1+json"));
        assert!(!is_layer_media_type("application/vnd.cncf.helm.chart.content.v1.tar+gzip"));
    }
}
