//! The outer archive (`docker save`, `podman save` in either format, an OCI layout): read in one
//! pass from a stream that cannot seek, such as a pipe from `docker save`.
//!
//! Members come in no guaranteed order (`manifest.json` may come last), so every layer blob is
//! read as it streams by, keeping only its wanted files and its deletion facts, and the small
//! members (manifests, indexes, configs) are kept whole. At the end the manifest says which
//! blobs are the image's layers and in what order, and they are stacked.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};

use crate::ImageFiles;
use crate::compression::{self, Compression, Content};
use crate::error::{ImageError, LayerError};
use crate::layer::{Layer, LayerReader, Limits, read_layer};
use crate::manifest::{self, ArchiveFormat, DOCKER_MANIFEST, OCI_INDEX};
use crate::path;
use crate::stack::{ImageContents, stack_layers};

/// Members that are not layers are kept whole up to this size: manifests, indexes and configs
/// are far smaller (registries refuse manifests over 4 MiB).
const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;

/// The read buffer in front of the archive's source.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// How many links a member name may pass through to reach a blob (`docker save` links repeated
/// layers to their first copy).
const MAX_MEMBER_LINKS: usize = 16;

/// Reads the final content of the wanted files of the image in an archive, with the default
/// [`Limits`]. The archive is `docker save` or `podman save` output (docker-archive or
/// oci-archive), possibly gzip or zstd compressed as a whole; it is read once, front to back.
///
/// `wanted` is asked about each regular file, hard link and symlink at the path where its layer
/// stores it: relative, `/`-separated, without `./` (`var/lib/dpkg/status`). Layers record files
/// at their real paths (a layer is the diff of real folders), so every file is offered once at
/// its real path, never through a symlinked folder: on a merged-/usr system the apk database is
/// offered as `usr/lib/apk/db/installed`, not `lib/apk/db/installed`. A wanted path that is a
/// symlink holds the content of the file it leads to, resolved inside the image (absolute
/// targets from the image's root, `..` never above it), when that file was read too.
///
/// Problems with single files (too large, unresolvable links) leave them out; use
/// [`ArchiveReader::read`] to get those warnings and the layer list.
pub fn read_archive<R: Read>(archive: R, wanted: &dyn Fn(&str) -> bool) -> Result<ImageFiles, ImageError> {
    ArchiveReader::new().read(archive, wanted).map(|image| image.contents.files)
}

/// What reading an archive found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveImage {
    pub format: ArchiveFormat,
    /// The names the archive gives the image read (`RepoTags`, OCI reference annotations).
    pub names: Vec<String>,
    /// Its layers, lowest first.
    pub layers: Vec<LayerSummary>,
    pub contents: ImageContents,
}

/// What one layer of the image read was, for diagnostics and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSummary {
    /// The archive member named by the manifest (before following member links).
    pub member: String,
    pub compression: Compression,
    pub entry_count: u64,
    pub whiteout_count: usize,
    pub opaque_folders: Vec<String>,
}

/// Reads image archives with chosen limits, and picks one image of an archive that holds
/// several.
#[derive(Debug, Clone, Default)]
pub struct ArchiveReader {
    limits: Limits,
    image: Option<String>,
}

impl ArchiveReader {
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Reads the image with this name (`name:tag`; `docker.io/library/` and `localhost/` may be
    /// left out) from archives that hold several.
    #[must_use]
    pub fn image(mut self, reference: impl Into<String>) -> Self {
        self.image = Some(reference.into());
        self
    }

    /// Reads the archive in one pass; see [`read_archive`] for what `wanted` is asked.
    pub fn read<R: Read>(&self, archive: R, wanted: &dyn Fn(&str) -> bool) -> Result<ArchiveImage, ImageError> {
        // The tar reader asks for 512-byte headers and small chunks; a pipe or a file read
        // unbuffered would cost a system call each.
        let mut archive = io::BufReader::with_capacity(READ_BUFFER_BYTES, archive);
        let head =
            compression::read_head(&mut archive).map_err(|source| ImageError::Archive { after: None, source })?;
        let compression = match compression::recognise(&head) {
            Content::Tar(compression) => compression,
            Content::Unsupported(format) => {
                return Err(ImageError::Archive {
                    after: None,
                    source: io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{format} compression is not supported"),
                    ),
                });
            }
            Content::Other => {
                let problem = if head.is_empty() { "it is empty" } else { "it is not a tar archive" };
                return Err(ImageError::Archive {
                    after: None,
                    source: io::Error::new(io::ErrorKind::InvalidData, problem),
                });
            }
        };
        let stream = compression::decompressed(io::Cursor::new(head).chain(archive), compression);
        let mut collected = Collected::default();
        let mut layer_reader = LayerReader::new(self.limits);
        let mut outer = tar::Archive::new(stream);
        let mut last_member: Option<String> = None;
        let entries = outer.entries().map_err(|source| ImageError::Archive { after: None, source })?;
        for entry in entries {
            let mut entry = entry.map_err(|source| ImageError::Archive { after: last_member.clone(), source })?;
            let raw_member = entry.path_bytes().into_owned();
            let member = match path::normalise(&raw_member) {
                Ok(Some(member)) => member,
                Ok(None) => continue,
                Err(_) => {
                    return Err(ImageError::UnsafeMember { member: String::from_utf8_lossy(&raw_member).into_owned() });
                }
            };
            match entry.header().entry_type() {
                tar::EntryType::Symlink => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        collected.links.insert(member.clone(), path::resolve_lexically(path::parent(&member), &target));
                    }
                }
                tar::EntryType::Link => {
                    if let Some(Ok(Some(target))) = entry.link_name_bytes().map(|target| path::normalise(&target)) {
                        collected.links.insert(member.clone(), target);
                    }
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    read_member(&mut entry, &member, &mut collected, &mut layer_reader, wanted)?;
                }
                _ => {}
            }
            last_member = Some(member);
        }
        // The padding after the end-of-archive marker is read too, so that a writer on the other
        // end of a pipe (`docker save`) is never left blocked on a full pipe. Its content, and a
        // failure to read it, change nothing about what was read.
        let _ = io::copy(&mut outer.into_inner(), &mut io::sink());
        collected.into_image(self.image.as_deref(), wanted)
    }
}

/// What the pass over the outer archive keeps.
#[derive(Default)]
struct Collected {
    /// Small members that are not layers, whole, by member path.
    small: HashMap<String, Vec<u8>>,
    /// Layer blobs as read (or why they could not be), by member path.
    layers: HashMap<String, Result<Layer, LayerError>>,
    /// Members that are links to other members.
    links: HashMap<String, String>,
    /// Large members that are neither layers nor metadata.
    other: HashSet<String>,
}

fn read_member<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    member: &str,
    collected: &mut Collected,
    layer_reader: &mut LayerReader,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<(), ImageError> {
    let size = entry.size();
    let mut counted = Counted { inner: entry, count: 0 };
    let member_error = |source| ImageError::Member { member: member.to_owned(), source };
    let head = compression::read_head(&mut counted).map_err(member_error)?;
    let too_much = |limit| ImageError::TooMuchData { limit };
    match compression::recognise(&head) {
        Content::Tar(_) | Content::Unsupported(_) => {
            let result = layer_reader.read(io::Cursor::new(head).chain(&mut counted), wanted);
            finish_member(&mut counted, member, size)?;
            match result {
                Err(LayerError::TooMuchData { limit }) => return Err(too_much(limit)),
                result => {
                    collected.layers.insert(member.to_owned(), result);
                }
            }
        }
        Content::Other if size <= MAX_METADATA_BYTES => {
            let mut bytes = head;
            counted.read_to_end(&mut bytes).map_err(member_error)?;
            finish_member(&mut counted, member, size)?;
            layer_reader.keep(bytes.len() as u64).map_err(|error| match error {
                LayerError::TooMuchData { limit } => too_much(limit),
                other => ImageError::Layer { member: member.to_owned(), source: other },
            })?;
            collected.small.insert(member.to_owned(), bytes);
        }
        Content::Other => {
            finish_member(&mut counted, member, size)?;
            collected.other.insert(member.to_owned());
        }
    }
    Ok(())
}

/// Reads what is left of a member and checks that all of it was there.
fn finish_member<R: Read>(counted: &mut Counted<R>, member: &str, size: u64) -> Result<(), ImageError> {
    io::copy(counted, &mut io::sink()).map_err(|source| ImageError::Member { member: member.to_owned(), source })?;
    if counted.count < size {
        return Err(ImageError::Truncated { member: member.to_owned(), read: counted.count, size });
    }
    Ok(())
}

impl Collected {
    /// Picks the image from the manifests and stacks its layers.
    fn into_image(
        mut self,
        reference: Option<&str>,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<ArchiveImage, ImageError> {
        let (format, images) = if let Some(manifest) = self.small.get(DOCKER_MANIFEST) {
            (ArchiveFormat::DockerArchive, manifest::docker_images(manifest)?)
        } else if let Some(index) = self.small.get(OCI_INDEX) {
            (ArchiveFormat::OciLayout, manifest::oci_images(index, &self.small)?)
        } else {
            return Err(ImageError::NoManifest);
        };
        let image = manifest::pick(images, reference)?;

        let mut members = Vec::with_capacity(image.layers.len());
        for layer in &image.layers {
            if let Some(media_type) = &layer.media_type
                && !manifest::is_layer_media_type(media_type)
            {
                return Err(ImageError::UnsupportedMediaType {
                    member: layer.member.clone(),
                    media_type: media_type.clone(),
                });
            }
            let blob = self.follow_links(&layer.member);
            let layer_error = |source| ImageError::Layer { member: layer.member.clone(), source };
            match self.layers.get(&blob) {
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    if let Some(Err(source)) = self.layers.remove(&blob) {
                        return Err(layer_error(source));
                    }
                }
                None => {
                    if let Some(bytes) = self.small.get(&blob) {
                        // Small enough to be kept whole, yet named as a layer: an empty layer,
                        // or a tar too unusual to be recognised from its first bytes.
                        let read = read_layer(&bytes[..], wanted).map_err(layer_error)?;
                        self.layers.insert(blob.clone(), Ok(read));
                    } else if self.other.contains(&blob) {
                        return Err(layer_error(LayerError::NotALayer));
                    } else {
                        return Err(ImageError::MissingBlob { member: layer.member.clone() });
                    }
                }
            }
            members.push(blob);
        }
        let layers: Vec<&Layer> = members.iter().filter_map(|blob| self.layers.get(blob)?.as_ref().ok()).collect();
        let summaries = image
            .layers
            .into_iter()
            .zip(&layers)
            .map(|(reference, layer)| LayerSummary {
                member: reference.member,
                compression: layer.compression().unwrap_or(Compression::None),
                entry_count: layer.entry_count(),
                whiteout_count: layer.whiteouts().count(),
                opaque_folders: layer.opaque_folders().map(str::to_owned).collect(),
            })
            .collect();
        let contents = stack_layers(layers);
        Ok(ArchiveImage { format, names: image.names, layers: summaries, contents })
    }

    /// The member a (possibly linked) member's data is in.
    fn follow_links(&self, member: &str) -> String {
        let mut current = member.to_owned();
        for _ in 0..MAX_MEMBER_LINKS {
            match self.links.get(&current) {
                Some(target) => current = target.clone(),
                None => break,
            }
        }
        current
    }
}

/// Counts the bytes read through it, to tell a complete member from a truncated one.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.count += read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::tests::{Entry, gzip, tar_of, zstd};

    enum Member<'a> {
        Data(&'a str, Vec<u8>),
        Symlink(&'a str, &'a str),
    }

    fn outer_tar(members: &[Member<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for member in members {
            let mut header = tar::Header::new_ustar();
            header.set_mode(0o644);
            match member {
                Member::Data(path, data) => {
                    header.set_size(data.len() as u64);
                    builder.append_data(&mut header, path, &data[..]).unwrap();
                }
                Member::Symlink(path, target) => {
                    header.set_size(0);
                    header.set_entry_type(tar::EntryType::Symlink);
                    builder.append_link(&mut header, path, target).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    fn wants_txt(path: &str) -> bool {
        path.ends_with(".txt")
    }

    fn lower_layer() -> Vec<u8> {
        tar_of(&[Entry::File("etc/a.txt", b"a1"), Entry::File("etc/gone.txt", b"gone"), Entry::File("bin/sh", b"elf")])
    }

    fn upper_layer() -> Vec<u8> {
        tar_of(&[
            Entry::File("etc/.wh.gone.txt", b""),
            Entry::File("etc/a.txt", b"a2"),
            Entry::File("etc/new.txt", b"n"),
        ])
    }

    fn expected() -> ImageFiles {
        [("etc/a.txt", &b"a2"[..]), ("etc/new.txt", &b"n"[..])]
            .into_iter()
            .map(|(path, content)| (path.to_owned(), content.to_vec()))
            .collect()
    }

    /// `docker save` as Docker 20.10 writes it, with `manifest.json` last and the second layer
    /// repeated through a symlink, as Docker does for identical layers.
    fn docker_archive() -> Vec<u8> {
        outer_tar(&[
            Member::Data("1111/layer.tar", lower_layer()),
            Member::Data("1111/json", b"{}".to_vec()),
            Member::Data("1111/VERSION", b"1.0".to_vec()),
            Member::Data("2222/layer.tar", upper_layer()),
            Member::Symlink("3333/layer.tar", "../2222/layer.tar"),
            Member::Data("cfg.json", b"{\"rootfs\":{}}".to_vec()),
            Member::Data("repositories", b"{\"test/x\":{\"1\":\"2222\"}}".to_vec()),
            Member::Data(
                "manifest.json",
                br#"[{"Config":"cfg.json","RepoTags":["test/x:1"],"Layers":["1111/layer.tar","2222/layer.tar","3333/layer.tar"]}]"#
                    .to_vec(),
            ),
        ])
    }

    fn oci_manifest(layers: &[(&str, &str)], media_type: &str) -> Vec<u8> {
        let layers: Vec<String> = layers
            .iter()
            .map(|(layer_type, digest)| {
                format!(r#"{{"mediaType":"{layer_type}","digest":"sha256:{digest}","size":1}}"#)
            })
            .collect();
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:cfg","size":2}},"layers":[{}]}}"#,
            layers.join(",")
        )
        .into_bytes()
    }

    /// An OCI layout as `podman save --format oci-archive` writes it (index first), with the
    /// layers compressed as asked.
    fn oci_archive(lower: Vec<u8>, lower_type: &str, upper: Vec<u8>, upper_type: &str, manifest_type: &str) -> Vec<u8> {
        outer_tar(&[
            Member::Data("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            Member::Data(
                "index.json",
                br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:man","size":1,"annotations":{"org.opencontainers.image.ref.name":"localhost/test/x:1"}}]}"#.to_vec(),
            ),
            Member::Data("blobs/sha256/up", upper),
            Member::Data("blobs/sha256/man", oci_manifest(&[(lower_type, "low"), (upper_type, "up")], manifest_type)),
            Member::Data("blobs/sha256/cfg", b"{}".to_vec()),
            Member::Data("blobs/sha256/low", lower),
        ])
    }

    const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

    #[test]
    fn reads_a_docker_archive_with_the_manifest_last_and_a_linked_layer() {
        let image = ArchiveReader::new().read(&docker_archive()[..], &wants_txt).unwrap();
        assert_eq!(image.format, ArchiveFormat::DockerArchive);
        assert_eq!(image.names, ["test/x:1"]);
        let members: Vec<_> = image.layers.iter().map(|layer| layer.member.as_str()).collect();
        assert_eq!(members, ["1111/layer.tar", "2222/layer.tar", "3333/layer.tar"]);
        assert_eq!(image.layers[1].whiteout_count, 1);
        assert_eq!(image.layers[2].entry_count, 3);
        assert_eq!(image.contents.files, expected());
    }

    #[test]
    fn reads_oci_layouts_with_plain_gzip_and_zstd_layers() {
        for (lower, lower_type, upper, upper_type) in [
            (
                lower_layer(),
                "application/vnd.oci.image.layer.v1.tar",
                upper_layer(),
                "application/vnd.oci.image.layer.v1.tar",
            ),
            (
                gzip(&lower_layer()),
                "application/vnd.oci.image.layer.v1.tar+gzip",
                zstd(&upper_layer()),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
            // media types are not trusted for compression: the bytes decide
            (
                zstd(&lower_layer()),
                "application/vnd.oci.image.layer.v1.tar+gzip",
                upper_layer(),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
        ] {
            let archive = oci_archive(lower, lower_type, upper, upper_type, OCI_MANIFEST);
            let image = ArchiveReader::new().read(&archive[..], &wants_txt).unwrap();
            assert_eq!(image.format, ArchiveFormat::OciLayout);
            assert_eq!(image.names, ["localhost/test/x:1"]);
            let members: Vec<_> = image.layers.iter().map(|layer| layer.member.as_str()).collect();
            assert_eq!(members, ["blobs/sha256/low", "blobs/sha256/up"]);
            assert_eq!(image.contents.files, expected());
        }
    }

    #[test]
    fn reads_docker_v2_manifests_with_docker_layer_media_types() {
        let layer_type = "application/vnd.docker.image.rootfs.diff.tar.gzip";
        let archive = oci_archive(
            gzip(&lower_layer()),
            layer_type,
            gzip(&upper_layer()),
            layer_type,
            "application/vnd.docker.distribution.manifest.v2+json",
        );
        assert_eq!(read_archive(&archive[..], &wants_txt).unwrap(), expected());
    }

    #[test]
    fn reads_an_archive_compressed_as_a_whole() {
        assert_eq!(read_archive(&gzip(&docker_archive())[..], &wants_txt).unwrap(), expected());
        assert_eq!(read_archive(&zstd(&docker_archive())[..], &wants_txt).unwrap(), expected());
    }

    #[test]
    fn every_truncation_fails_or_reads_everything() {
        let archive = docker_archive();
        let full = read_archive(&archive[..], &wants_txt).unwrap();
        for cut in (0..archive.len()).step_by(97) {
            match read_archive(&archive[..cut], &wants_txt) {
                Ok(files) => assert_eq!(files, full, "cut at {cut}"),
                Err(
                    ImageError::Truncated { .. }
                    | ImageError::Archive { .. }
                    | ImageError::NoManifest
                    | ImageError::MissingBlob { .. }
                    | ImageError::BadManifest { .. },
                ) => {}
                Err(other) => panic!("cut at {cut}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn a_truncated_layer_member_names_it() {
        let archive = docker_archive();
        // Cut inside the first layer's data (its header is the first 512 bytes).
        let error = read_archive(&archive[..512 + 700], &wants_txt).unwrap_err();
        assert!(
            matches!(&error, ImageError::Truncated { member, read: 700, .. } if member == "1111/layer.tar"),
            "{error:?}"
        );
        assert!(error.to_string().contains("hint: the archive is truncated"), "{error}");
    }

    #[test]
    fn a_missing_layer_blob_is_named() {
        let archive = outer_tar(&[
            Member::Data("1111/layer.tar", lower_layer()),
            Member::Data("manifest.json", br#"[{"Layers":["1111/layer.tar","9999/layer.tar"]}]"#.to_vec()),
        ]);
        let error = read_archive(&archive[..], &wants_txt).unwrap_err();
        assert!(matches!(&error, ImageError::MissingBlob { member } if member == "9999/layer.tar"), "{error:?}");
    }

    #[test]
    fn corrupt_layer_compression_names_the_layer() {
        let mut broken = gzip(&lower_layer());
        let middle = broken.len() / 2;
        broken[middle..middle + 8].copy_from_slice(b"garbage!");
        let archive = oci_archive(
            broken,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            upper_layer(),
            "application/vnd.oci.image.layer.v1.tar",
            OCI_MANIFEST,
        );
        let error = read_archive(&archive[..], &wants_txt).unwrap_err();
        assert!(
            matches!(&error, ImageError::Layer { member, source: LayerError::Decompress { compression: Compression::Gzip, .. } } if member == "blobs/sha256/low"),
            "{error:?}"
        );
        assert!(error.to_string().starts_with("read layer `blobs/sha256/low`: decompress its gzip data"), "{error}");
    }

    #[test]
    fn a_broken_blob_that_no_manifest_names_is_ignored() {
        let mut members = vec![Member::Data("blobs/sha256/stray", gzip(b"not a tar at all, just text"))];
        members.push(Member::Data("blobs/sha256/low", lower_layer()));
        members.push(Member::Data(
            "blobs/sha256/man",
            oci_manifest(&[("application/vnd.oci.image.layer.v1.tar", "low")], OCI_MANIFEST),
        ));
        members.push(Member::Data("index.json", br#"{"manifests":[{"digest":"sha256:man"}]}"#.to_vec()));
        let files = read_archive(&outer_tar(&members)[..], &wants_txt).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["etc/a.txt", "etc/gone.txt"]);
    }

    #[test]
    fn refuses_non_layer_media_types_and_non_archives() {
        let archive = oci_archive(
            lower_layer(),
            "application/vnd.oci.image.layer.v1.tar",
            upper_layer(),
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            OCI_MANIFEST,
        );
        let error = read_archive(&archive[..], &wants_txt).unwrap_err();
        assert!(matches!(error, ImageError::UnsupportedMediaType { .. }), "{error:?}");

        let error = read_archive(&b"this is not an archive"[..], &wants_txt).unwrap_err();
        assert!(error.to_string().starts_with("read the image archive: it is not a tar archive\n  hint: "), "{error}");
        let error = read_archive(&[][..], &wants_txt).unwrap_err();
        assert!(error.to_string().starts_with("read the image archive: it is empty\n"), "{error}");
        let error = read_archive(&outer_tar(&[Member::Data("hello.txt", b"hi".to_vec())])[..], &wants_txt).unwrap_err();
        assert!(matches!(error, ImageError::NoManifest), "{error:?}");
    }

    #[test]
    fn refuses_members_that_climb_out_of_the_archive() {
        let mut archive = outer_tar(&[Member::Data("placeholder", b"x".to_vec())]);
        let mut header = tar::Header::new_ustar();
        header.as_mut_bytes().copy_from_slice(&archive[..512]);
        header.as_old_mut().name[..11].copy_from_slice(b"../escape\0\0");
        header.set_cksum();
        archive[..512].copy_from_slice(header.as_bytes());
        let error = read_archive(&archive[..], &wants_txt).unwrap_err();
        assert!(matches!(&error, ImageError::UnsafeMember { member } if member == "../escape"), "{error:?}");
    }

    #[test]
    fn picks_one_of_several_images_by_name() {
        let archive = outer_tar(&[
            Member::Data("l/layer.tar", lower_layer()),
            Member::Data("u/layer.tar", upper_layer()),
            Member::Data(
                "manifest.json",
                br#"[{"RepoTags":["test/x:1"],"Layers":["l/layer.tar"]},{"RepoTags":["test/x:2"],"Layers":["l/layer.tar","u/layer.tar"]}]"#.to_vec(),
            ),
        ]);
        let error = read_archive(&archive[..], &wants_txt).unwrap_err();
        assert!(matches!(error, ImageError::SeveralImages { count: 2, .. }), "{error:?}");
        let image = ArchiveReader::new().image("test/x:2").read(&archive[..], &wants_txt).unwrap();
        assert_eq!(image.contents.files, expected());
    }

    #[test]
    fn the_total_limit_stops_the_read() {
        let reader = ArchiveReader::new().limits(Limits::default().max_total_bytes(3));
        let error = reader.read(&docker_archive()[..], &wants_txt).unwrap_err();
        assert!(matches!(error, ImageError::TooMuchData { limit: 3 }), "{error:?}");
    }

    #[test]
    fn an_empty_layer_blob_kept_as_a_small_member_is_read_as_a_layer() {
        let archive = outer_tar(&[
            Member::Data("l/layer.tar", lower_layer()),
            Member::Data("e/layer.tar", Vec::new()),
            Member::Data("manifest.json", br#"[{"Layers":["l/layer.tar","e/layer.tar"]}]"#.to_vec()),
        ]);
        assert_eq!(read_archive(&archive[..], &wants_txt).unwrap().len(), 2);
    }
}
