//! Derived images: one image with some of its paths made what they are in another image, written
//! as one extra layer and loaded back into the engine as a `save` archive.
//!
//! The two images are unpacked from their `save` archives into folders first, since a derived
//! image needs the base image's layer blobs as they are and the other image's files with their
//! headers (mode, owner, links), layer by layer. [`SavedImage::stack`] gives the final entry of
//! every wanted path, whiteouts and opaque folders applied; [`LayerPlan`] is what the extra layer
//! holds; [`write_derived_archive`] writes a docker-archive of the base image plus that layer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::compression::{self, Content};
use crate::path;

const OPAQUE_MARKER: &str = ".wh..wh..opq";
const WHITEOUT_PREFIX: &str = ".wh.";

/// Making a derived image failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransplantError {
    #[error("{operation} `{}`: {source}", path.display())]
    Io { operation: &'static str, path: PathBuf, source: io::Error },
    #[error(
        "read the image archive: {source}\n  hint: the engine's `save` stream ended early or is not an image archive"
    )]
    Archive { source: io::Error },
    #[error("read the image archive: {message}")]
    Manifest { message: String },
    #[error("read layer `{member}`: {message}")]
    Layer { member: String, message: String },
    #[error("write the derived image: {message}")]
    Write { message: String },
}

/// One image's `save` archive, unpacked into a folder: its config and layer blobs by member.
#[derive(Debug)]
pub struct SavedImage {
    folder: PathBuf,
    /// Members that are links to other members (docker's legacy layout links into `blobs/`).
    links: HashMap<String, String>,
    config_member: String,
    layers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    layers: Vec<String>,
}

impl SavedImage {
    /// Unpacks the archive `save` writes for one image into `folder` (created, must be empty).
    pub fn unpack(archive: impl Read, folder: &Path) -> Result<SavedImage, TransplantError> {
        fs::create_dir_all(folder).map_err(|source| TransplantError::Io {
            operation: "create",
            path: folder.to_path_buf(),
            source,
        })?;
        let mut links = HashMap::new();
        let mut outer = tar::Archive::new(BufReader::with_capacity(1 << 20, archive));
        let entries = outer.entries().map_err(|source| TransplantError::Archive { source })?;
        for entry in entries {
            let mut entry = entry.map_err(|source| TransplantError::Archive { source })?;
            let raw = entry.path_bytes().into_owned();
            let member = match path::normalise(&raw) {
                Ok(Some(member)) => member,
                Ok(None) => continue,
                Err(_) => {
                    return Err(TransplantError::Manifest {
                        message: format!("member `{}` has a `..` component", String::from_utf8_lossy(&raw)),
                    });
                }
            };
            match entry.header().entry_type() {
                tar::EntryType::Symlink => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        links.insert(member.clone(), path::resolve_lexically(path::parent(&member), &target));
                    }
                }
                tar::EntryType::Link => {
                    if let Some(Ok(Some(target))) = entry.link_name_bytes().map(|target| path::normalise(&target)) {
                        links.insert(member.clone(), target);
                    }
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let destination = folder.join(&member);
                    if let Some(parent) = destination.parent() {
                        fs::create_dir_all(parent).map_err(|source| TransplantError::Io {
                            operation: "create",
                            path: parent.to_path_buf(),
                            source,
                        })?;
                    }
                    let mut file = fs::File::create(&destination).map_err(|source| TransplantError::Io {
                        operation: "create",
                        path: destination.clone(),
                        source,
                    })?;
                    io::copy(&mut entry, &mut file).map_err(|source| TransplantError::Archive { source })?;
                }
                _ => {}
            }
        }
        // What follows the end marker is read too, so that `save` on the other end of a pipe
        // never blocks on a full pipe.
        let _ = io::copy(&mut outer.into_inner(), &mut io::sink());
        let mut image =
            SavedImage { folder: folder.to_path_buf(), links, config_member: String::new(), layers: Vec::new() };
        let manifest = fs::read(image.member_path("manifest.json")).map_err(|_| TransplantError::Manifest {
            message: "the archive has no `manifest.json` (docker-archive)".to_owned(),
        })?;
        let mut entries: Vec<ManifestEntry> = serde_json::from_slice(&manifest)
            .map_err(|error| TransplantError::Manifest { message: format!("`manifest.json`: {error}") })?;
        if entries.len() != 1 {
            return Err(TransplantError::Manifest {
                message: format!("`manifest.json` lists {} images, not one", entries.len()),
            });
        }
        let entry = entries.remove(0);
        let member = |raw: &str| match path::normalise(raw.as_bytes()) {
            Ok(Some(member)) => Ok(member),
            _ => Err(TransplantError::Manifest { message: format!("`manifest.json` names `{raw}`, not a member") }),
        };
        image.config_member = member(&entry.config)?;
        image.layers = entry.layers.iter().map(|layer| member(layer)).collect::<Result<_, _>>()?;
        for member in image.layers.iter().chain([&image.config_member]) {
            if !image.member_path(member).is_file() {
                return Err(TransplantError::Manifest {
                    message: format!("`manifest.json` names `{member}`, which the archive lacks"),
                });
            }
        }
        Ok(image)
    }

    /// Where `member` is on disk, through the archive's links.
    fn member_path(&self, member: &str) -> PathBuf {
        let mut member = member.to_owned();
        for _ in 0..8 {
            match self.links.get(&member) {
                Some(target) => member = target.clone(),
                None => break,
            }
        }
        self.folder.join(member)
    }

    /// How many layers the image has.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// The image's config document.
    pub fn config(&self) -> Result<serde_json::Value, TransplantError> {
        let path = self.member_path(&self.config_member);
        let bytes =
            fs::read(&path).map_err(|source| TransplantError::Io { operation: "read", path: path.clone(), source })?;
        serde_json::from_slice(&bytes)
            .map_err(|error| TransplantError::Manifest { message: format!("the image config: {error}") })
    }

    /// The final entry of every path `wanted` accepts: each layer applied lowest first, with its
    /// whiteouts and opaque folders. A hard link becomes a copy of the file it links to.
    pub fn stack(&self, wanted: &dyn Fn(&str) -> bool) -> Result<Stack, TransplantError> {
        let mut stack = Stack::default();
        for member in &self.layers {
            let path = self.member_path(member);
            let file =
                fs::File::open(&path).map_err(|source| TransplantError::Io { operation: "open", path, source })?;
            let layer = read_layer_entries(BufReader::with_capacity(1 << 20, file), wanted)
                .map_err(|message| TransplantError::Layer { member: member.clone(), message })?;
            stack.apply(layer);
        }
        Ok(stack)
    }
}

/// A path's entry in an image: its tar header (type, mode, owner, times, link target) and, for a
/// regular file, its content.
#[derive(Debug, Clone)]
pub struct Entry {
    pub header: tar::Header,
    pub data: Vec<u8>,
}

impl Entry {
    pub fn is_folder(&self) -> bool {
        self.header.entry_type() == tar::EntryType::Directory
    }
}

/// The wanted paths of an image with their final entries.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    pub entries: BTreeMap<String, Entry>,
}

/// One layer's wanted entries and deletions.
#[derive(Default)]
struct LayerEntries {
    entries: BTreeMap<String, Entry>,
    whiteouts: Vec<String>,
    opaque: Vec<String>,
    /// Paths where this layer puts something that is not a folder (it hides what was below).
    non_folders: Vec<String>,
}

impl Stack {
    fn apply(&mut self, layer: LayerEntries) {
        let under = |folder: &str, path: &str| {
            folder.is_empty() || (path.starts_with(folder) && path.as_bytes().get(folder.len()) == Some(&b'/'))
        };
        for gone in &layer.whiteouts {
            self.entries.retain(|path, _| path != gone && !under(gone, path));
        }
        for folder in &layer.opaque {
            self.entries.retain(|path, _| !under(folder, path));
        }
        for path in &layer.non_folders {
            self.entries.retain(|kept, _| !under(path, kept));
        }
        self.entries.extend(layer.entries);
    }
}

fn read_layer_entries(layer: impl Read, wanted: &dyn Fn(&str) -> bool) -> Result<LayerEntries, String> {
    let mut layer = BufReader::new(layer);
    let head = compression::read_head(&mut layer).map_err(|error| error.to_string())?;
    let compression = match compression::recognise(&head) {
        Content::Tar(compression) => compression,
        Content::Other if head.is_empty() => return Ok(LayerEntries::default()),
        Content::Unsupported(format) => return Err(format!("{format} compression is not supported")),
        Content::Other => return Err("it is not a tar stream".to_owned()),
    };
    let stream = compression::decompressed(io::Cursor::new(head).chain(layer), compression);
    let mut archive = tar::Archive::new(stream);
    let mut found = LayerEntries::default();
    for entry in archive.entries().map_err(|error| error.to_string())? {
        let mut entry = entry.map_err(|error| error.to_string())?;
        let raw = entry.path_bytes().into_owned();
        let entry_path = match path::normalise(&raw) {
            Ok(Some(entry_path)) => entry_path,
            Ok(None) => continue,
            Err(_) => return Err(format!("entry `{}` has a `..` component", String::from_utf8_lossy(&raw))),
        };
        let parent = path::parent(&entry_path);
        let name = path::file_name(&entry_path);
        if name == OPAQUE_MARKER {
            found.opaque.push(parent.to_owned());
            continue;
        }
        if let Some(deleted) = name.strip_prefix(WHITEOUT_PREFIX) {
            if !deleted.starts_with(WHITEOUT_PREFIX) && !deleted.is_empty() {
                found.whiteouts.push(path::join(parent, deleted));
            }
            continue;
        }
        let kind = entry.header().entry_type();
        if kind != tar::EntryType::Directory {
            found.non_folders.push(entry_path.clone());
        }
        if !wanted(&entry_path) {
            found.entries.remove(&entry_path);
            continue;
        }
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                entry.read_to_end(&mut data).map_err(|error| format!("`{entry_path}`: {error}"))?;
            }
            tar::EntryType::Link => {
                // A hard link names an earlier entry of the same layer; the derived layer gets
                // a copy, since the entry linked to may not be put back.
                let target = entry
                    .link_name_bytes()
                    .and_then(|target| path::normalise(&target).ok().flatten())
                    .unwrap_or_default();
                let Some(linked) = found.entries.get(&target) else {
                    return Err(format!("`{entry_path}` is a hard link to `{target}`, which is not put back with it"));
                };
                let linked = linked.clone();
                header = linked.header;
                data = linked.data;
            }
            tar::EntryType::GNUSparse => {
                return Err(format!("`{entry_path}` is a sparse file, which imagegate does not copy"));
            }
            _ => {}
        }
        found.entries.insert(entry_path, Entry { header, data });
    }
    Ok(found)
}

/// What the extra layer of a derived image holds.
#[derive(Debug, Clone, Default)]
pub struct LayerPlan {
    /// Entries written as they are, by path.
    pub entries: BTreeMap<String, Entry>,
    /// Paths deleted from the layers below, with everything under them.
    pub whiteouts: BTreeSet<String>,
    /// Folders whose content in the layers below is hidden.
    pub opaque: BTreeSet<String>,
}

impl LayerPlan {
    /// Writes the layer as an uncompressed tar stream.
    pub fn write(&self, out: impl Write) -> io::Result<()> {
        let mut builder = tar::Builder::new(out);
        // Every path in order, so that a folder comes before what is in it.
        let mut paths: BTreeMap<String, Item<'_>> = BTreeMap::new();
        for (entry_path, entry) in &self.entries {
            paths.insert(entry_path.clone(), Item::Entry(entry));
        }
        for gone in &self.whiteouts {
            paths.insert(
                path::join(path::parent(gone), &format!("{WHITEOUT_PREFIX}{}", path::file_name(gone))),
                Item::Marker,
            );
        }
        for folder in &self.opaque {
            paths.insert(path::join(folder, OPAQUE_MARKER), Item::Marker);
        }
        for (entry_path, item) in paths {
            match item {
                Item::Entry(entry) => {
                    let mut header = entry.header.clone();
                    let name = if entry.is_folder() { format!("{entry_path}/") } else { entry_path.clone() };
                    match header.entry_type() {
                        tar::EntryType::Symlink => {
                            let target =
                                entry.header.link_name_bytes().map(|target| target.into_owned()).unwrap_or_default();
                            header.set_size(0);
                            let target = std::ffi::OsStr::from_bytes(&target);
                            builder.append_link(&mut header, &name, target)?;
                        }
                        tar::EntryType::Regular | tar::EntryType::Continuous => {
                            header.set_entry_type(tar::EntryType::Regular);
                            header.set_size(entry.data.len() as u64);
                            builder.append_data(&mut header, &name, entry.data.as_slice())?;
                        }
                        _ => {
                            header.set_size(0);
                            builder.append_data(&mut header, &name, io::empty())?;
                        }
                    }
                }
                Item::Marker => {
                    let mut header = tar::Header::new_gnu();
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o600);
                    header.set_size(0);
                    builder.append_data(&mut header, &entry_path, io::empty())?;
                }
            }
        }
        builder.into_inner()?.flush()
    }
}

enum Item<'a> {
    Entry(&'a Entry),
    Marker,
}

/// A derived image as written: its config digest (the image id engines give it) and its extra
/// layer's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub config_digest: String,
    pub layer_bytes: u64,
}

/// Writes to `out` a docker-archive of `base` with `layer` (an uncompressed tar file) on top,
/// named `name`. `edit_config` changes the config (labels, history) before the layer's diff id
/// is added.
pub fn write_derived_archive(
    base: &SavedImage,
    layer: &Path,
    name: &str,
    edit_config: &dyn Fn(&mut serde_json::Value),
    out: impl Write,
) -> Result<Derived, TransplantError> {
    let io_error = |operation, path: &Path| {
        let path = path.to_path_buf();
        move |source| TransplantError::Io { operation, path, source }
    };
    let layer_bytes = fs::metadata(layer).map_err(io_error("read", layer))?.len();
    let mut hasher = Sha256::new();
    let mut file = fs::File::open(layer).map_err(io_error("open", layer))?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(io_error("read", layer))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let layer_hex = hex::encode(hasher.finalize());
    let mut config = base.config()?;
    edit_config(&mut config);
    let diff_ids = config
        .pointer_mut("/rootfs/diff_ids")
        .and_then(serde_json::Value::as_array_mut)
        .ok_or_else(|| TransplantError::Manifest { message: "the image config has no `rootfs.diff_ids`".to_owned() })?;
    diff_ids.push(serde_json::Value::String(format!("sha256:{layer_hex}")));
    let config_bytes =
        serde_json::to_vec(&config).map_err(|error| TransplantError::Write { message: error.to_string() })?;
    let config_hex = hex::encode(Sha256::digest(&config_bytes));
    let config_member = format!("{config_hex}.json");
    let layer_member = format!("{layer_hex}.tar");
    let mut layers: Vec<String> = base.layers.clone();
    layers.push(layer_member.clone());
    let manifest = serde_json::json!([{ "Config": config_member, "RepoTags": [name], "Layers": layers }]);
    let manifest_bytes =
        serde_json::to_vec(&manifest).map_err(|error| TransplantError::Write { message: error.to_string() })?;

    let write_error = |source: io::Error| TransplantError::Write { message: source.to_string() };
    let mut builder = tar::Builder::new(out);
    let mut written = BTreeSet::new();
    for member in &base.layers {
        if !written.insert(member.clone()) {
            continue;
        }
        let source = base.member_path(member);
        let mut file = fs::File::open(&source).map_err(io_error("open", &source))?;
        let size = file.metadata().map_err(io_error("read", &source))?.len();
        let mut header = member_header(size);
        builder.append_data(&mut header, member, &mut file).map_err(write_error)?;
    }
    let mut file = fs::File::open(layer).map_err(io_error("open", layer))?;
    builder.append_data(&mut member_header(layer_bytes), &layer_member, &mut file).map_err(write_error)?;
    builder
        .append_data(&mut member_header(config_bytes.len() as u64), &config_member, config_bytes.as_slice())
        .map_err(write_error)?;
    builder
        .append_data(&mut member_header(manifest_bytes.len() as u64), "manifest.json", manifest_bytes.as_slice())
        .map_err(write_error)?;
    builder.into_inner().and_then(|mut out| out.flush()).map_err(write_error)?;
    Ok(Derived { config_digest: format!("sha256:{config_hex}"), layer_bytes })
}

fn member_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(size);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &[u8], mode: u32) -> (String, Entry) {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(mode);
        header.set_size(content.len() as u64);
        (path.to_owned(), Entry { header, data: content.to_vec() })
    }

    fn folder(path: &str) -> (String, Entry) {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        (path.to_owned(), Entry { header, data: Vec::new() })
    }

    fn layer_tar(plan: &LayerPlan) -> Vec<u8> {
        let mut out = Vec::new();
        plan.write(&mut out).unwrap();
        out
    }

    /// A `save` archive of one image made of `layers` (plain tars), in docker's legacy layout.
    fn saved_archive(layers: &[Vec<u8>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut members = Vec::new();
        let mut diff_ids = Vec::new();
        for (index, layer) in layers.iter().enumerate() {
            let member = format!("layer{index}/layer.tar");
            builder.append_data(&mut member_header(layer.len() as u64), &member, layer.as_slice()).unwrap();
            members.push(member);
            diff_ids.push(format!("sha256:{}", hex::encode(Sha256::digest(layer))));
        }
        let config = serde_json::json!({"config": {"Labels": {"keep": "1"}}, "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": []});
        let config = serde_json::to_vec(&config).unwrap();
        builder.append_data(&mut member_header(config.len() as u64), "config.json", config.as_slice()).unwrap();
        let manifest = serde_json::to_vec(
            &serde_json::json!([{"Config": "config.json", "RepoTags": ["base:1"], "Layers": members}]),
        )
        .unwrap();
        builder.append_data(&mut member_header(manifest.len() as u64), "manifest.json", manifest.as_slice()).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn stacking_applies_whiteouts_opaque_folders_and_replacements_and_keeps_modes() {
        let lower = LayerPlan {
            entries: BTreeMap::from([
                folder("site"),
                folder("site/pkg-1.dist-info"),
                file("site/pkg-1.dist-info/METADATA", b"Version: 1", 0o644),
                file("site/pkg/__init__.py", b"old", 0o644),
                file("usr/bin/tool", b"#!/bin/sh", 0o755),
                file("npm/pkg/index.js", b"old", 0o644),
            ]),
            ..LayerPlan::default()
        };
        let upper = LayerPlan {
            entries: BTreeMap::from([
                file("site/pkg/__init__.py", b"new", 0o644),
                file("npm/pkg/other.js", b"x", 0o644),
            ]),
            whiteouts: BTreeSet::from(["site/pkg-1.dist-info".to_owned()]),
            opaque: BTreeSet::from(["npm/pkg".to_owned()]),
        };
        let folder_on_disk = tempfile::tempdir().unwrap();
        let archive = saved_archive(&[layer_tar(&lower), layer_tar(&upper)]);
        let image = SavedImage::unpack(archive.as_slice(), folder_on_disk.path()).unwrap();
        assert_eq!(image.layer_count(), 2);
        let stack = image.stack(&|_| true).unwrap();
        let paths: Vec<&str> = stack.entries.keys().map(String::as_str).collect();
        assert_eq!(paths, ["npm/pkg/other.js", "site", "site/pkg/__init__.py", "usr/bin/tool"]);
        assert_eq!(stack.entries["site/pkg/__init__.py"].data, b"new");
        assert_eq!(stack.entries["usr/bin/tool"].header.mode().unwrap(), 0o755);
        // What is not wanted is not kept.
        let only = image.stack(&|path| path == "usr/bin/tool").unwrap();
        assert_eq!(only.entries.keys().collect::<Vec<_>>(), ["usr/bin/tool"]);
    }

    #[test]
    fn a_derived_archive_is_the_base_plus_one_layer_with_its_diff_id_and_edited_config() {
        let base = LayerPlan { entries: BTreeMap::from([file("etc/version", b"2", 0o644)]), ..LayerPlan::default() };
        let folder_on_disk = tempfile::tempdir().unwrap();
        let image =
            SavedImage::unpack(saved_archive(&[layer_tar(&base)]).as_slice(), &folder_on_disk.path().join("base"))
                .unwrap();
        let extra = LayerPlan {
            entries: BTreeMap::from([file("etc/version", b"1", 0o600)]),
            whiteouts: BTreeSet::from(["etc/only-in-2".to_owned()]),
            ..LayerPlan::default()
        };
        let layer_path = folder_on_disk.path().join("layer.tar");
        extra.write(fs::File::create(&layer_path).unwrap()).unwrap();
        let mut written = Vec::new();
        let derived = write_derived_archive(
            &image,
            &layer_path,
            "localhost/derived:1",
            &|config| config["config"]["Labels"]["added"] = serde_json::json!("yes"),
            &mut written,
        )
        .unwrap();
        assert_eq!(derived.layer_bytes, fs::metadata(&layer_path).unwrap().len());
        let again = SavedImage::unpack(written.as_slice(), &folder_on_disk.path().join("derived")).unwrap();
        assert_eq!(again.layer_count(), 2);
        let config = again.config().unwrap();
        assert_eq!(config["config"]["Labels"]["added"], "yes");
        assert_eq!(config["config"]["Labels"]["keep"], "1");
        let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
        let layer = fs::read(&layer_path).unwrap();
        assert_eq!(diff_ids.len(), 2);
        assert_eq!(diff_ids[1], format!("sha256:{}", hex::encode(Sha256::digest(&layer))));
        let config_bytes = fs::read(again.member_path(&again.config_member)).unwrap();
        assert_eq!(derived.config_digest, format!("sha256:{}", hex::encode(Sha256::digest(&config_bytes))));
        // The layer as the image reader sees it: the file put back, the other one deleted.
        let stack = again.stack(&|_| true).unwrap();
        assert_eq!(stack.entries["etc/version"].data, b"1");
        assert_eq!(stack.entries["etc/version"].header.mode().unwrap(), 0o600);
        let read = crate::read_layer(layer.as_slice(), &|_| true).unwrap();
        assert_eq!(read.whiteouts().collect::<Vec<_>>(), ["etc/only-in-2"]);
    }

    #[test]
    fn an_archive_without_a_manifest_or_naming_a_missing_layer_is_refused() {
        let folder_on_disk = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        builder.append_data(&mut member_header(2), "config.json", b"{}".as_slice()).unwrap();
        let error =
            SavedImage::unpack(builder.into_inner().unwrap().as_slice(), &folder_on_disk.path().join("a")).unwrap_err();
        assert!(error.to_string().contains("manifest.json"), "{error}");
        let mut builder = tar::Builder::new(Vec::new());
        let manifest = br#"[{"Config":"config.json","Layers":["gone/layer.tar"]}]"#;
        builder.append_data(&mut member_header(2), "config.json", b"{}".as_slice()).unwrap();
        builder.append_data(&mut member_header(manifest.len() as u64), "manifest.json", manifest.as_slice()).unwrap();
        let error =
            SavedImage::unpack(builder.into_inner().unwrap().as_slice(), &folder_on_disk.path().join("b")).unwrap_err();
        assert!(error.to_string().contains("gone/layer.tar"), "{error}");
    }
}
