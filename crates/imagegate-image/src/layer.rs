//! One layer: its tar stream read once, keeping the content of the wanted files and the few facts
//! needed to stack it over the layers below (whiteouts, opaque folders, every symlink, and the
//! fingerprints of every path it puts something at).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

use crate::compression::{self, Compression, Content, Tracked};
use crate::error::LayerError;
use crate::path::{self, fingerprint};

/// The largest wanted file whose content is read; larger ones are skipped with a warning.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The most bytes kept in total (wanted files of every layer, symlinks, whiteouts, manifests).
/// Besides these, each layer keeps an 8-byte fingerprint per entry.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 512 * 1024 * 1024;

/// Whiteout files (`.wh.NAME`) delete NAME from the layers below.
const WHITEOUT_PREFIX: &str = ".wh.";
/// The opaque marker: everything the layers below hold in its folder is hidden.
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Bounds on what reading keeps in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_file_bytes: u64,
    max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_file_bytes: DEFAULT_MAX_FILE_BYTES, max_total_bytes: DEFAULT_MAX_TOTAL_BYTES }
    }
}

impl Limits {
    /// Wanted files larger than this are skipped with [`crate::ImageWarning::FileTooLarge`].
    #[must_use]
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Keeping more than this in total fails the read with a `TooMuchData` error: a partial
    /// inventory would be wrong without saying so.
    #[must_use]
    pub fn max_total_bytes(mut self, bytes: u64) -> Self {
        self.max_total_bytes = bytes;
        self
    }
}

/// What a layer puts at one path that matters after stacking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A wanted regular file (or a hard link to one) and its content.
    File(Vec<u8>),
    /// A symlink; every symlink is kept, so that wanted symlinks can be resolved in the image.
    Symlink { target: String, wanted: bool },
    /// A wanted file whose content could not be read; reported if it survives stacking.
    Unread(Unread),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unread {
    TooLarge { size: u64, limit: u64 },
    HardLinkTarget { target: String },
}

/// The facts one layer contributes to an image, read from its tar stream. Stack layers (lowest
/// first) with [`crate::stack_layers`].
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub(crate) nodes: BTreeMap<String, Node>,
    /// Paths deleted from the layers below, with everything under them.
    pub(crate) whiteouts: BTreeSet<String>,
    /// Folders whose content in the layers below is hidden (`""` is the root).
    pub(crate) opaque_folders: BTreeSet<String>,
    /// Fingerprints of every path where this layer puts something that is not a folder: a file,
    /// link, device or FIFO there replaces whatever the layers below had at that path or under it.
    pub(crate) non_folders: Vec<u64>,
    /// Fingerprints of every folder this layer has, listed or implied by an entry below it: a
    /// folder replaces a file or symlink the layers below had at that path.
    pub(crate) folders: Vec<u64>,
    compression: Option<Compression>,
    entries: u64,
    kept_bytes: u64,
}

impl Layer {
    /// The wanted regular files this layer adds or changes, with their content.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.nodes.iter().filter_map(|(path, node)| match node {
            Node::File(content) => Some((path.as_str(), content.as_slice())),
            _ => None,
        })
    }

    /// Every symlink this layer adds or changes: path and target as stored.
    pub fn symlinks(&self) -> impl Iterator<Item = (&str, &str)> {
        self.nodes.iter().filter_map(|(path, node)| match node {
            Node::Symlink { target, .. } => Some((path.as_str(), target.as_str())),
            _ => None,
        })
    }

    /// Paths this layer deletes from the layers below (with everything under them).
    pub fn whiteouts(&self) -> impl Iterator<Item = &str> {
        self.whiteouts.iter().map(String::as_str)
    }

    /// Folders whose content in the layers below this layer hides (`""` is the root).
    pub fn opaque_folders(&self) -> impl Iterator<Item = &str> {
        self.opaque_folders.iter().map(String::as_str)
    }

    /// How the layer's tar stream was stored; `None` for a layer made by hand with
    /// [`Layer::default`].
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// How many tar entries the layer has.
    pub fn entry_count(&self) -> u64 {
        self.entries
    }

    /// The bytes this layer keeps in memory (file contents, symlinks, whiteout paths).
    pub fn kept_bytes(&self) -> u64 {
        self.kept_bytes
    }

    /// Whether this layer hides or replaces what the layers below have at `path` (a file or
    /// symlink there).
    pub(crate) fn covers(&self, path: &str) -> bool {
        let listed = |set: &[u64], path: &str| set.binary_search(&fingerprint(path)).is_ok();
        if listed(&self.non_folders, path) || listed(&self.folders, path) || self.whiteouts.contains(path) {
            return true;
        }
        if self.opaque_folders.contains("") {
            return true;
        }
        path::ancestors(path).any(|folder| {
            self.whiteouts.contains(folder) || self.opaque_folders.contains(folder) || listed(&self.non_folders, folder)
        })
    }
}

/// Reads one layer with the default [`Limits`]. The stream may be a plain tar or gzip or zstd
/// compressed; which one is told from its first bytes. For a registry client that fetches layer
/// blobs one by one: read each, then [`crate::stack_layers`] them in manifest order.
pub fn read_layer<R: Read>(layer: R, wanted: &dyn Fn(&str) -> bool) -> Result<Layer, LayerError> {
    LayerReader::new(Limits::default()).read(layer, wanted)
}

/// Reads layers one after another under one budget of kept bytes.
#[derive(Debug, Clone)]
pub struct LayerReader {
    limits: Limits,
    kept_bytes: u64,
}

impl LayerReader {
    pub fn new(limits: Limits) -> Self {
        Self { limits, kept_bytes: 0 }
    }

    /// The bytes kept so far by every layer this reader read.
    pub fn kept_bytes(&self) -> u64 {
        self.kept_bytes
    }

    /// Counts `bytes` more against the total budget.
    pub(crate) fn keep(&mut self, bytes: u64) -> Result<(), LayerError> {
        self.kept_bytes = self.kept_bytes.saturating_add(bytes);
        if self.kept_bytes > self.limits.max_total_bytes {
            return Err(LayerError::TooMuchData { limit: self.limits.max_total_bytes });
        }
        Ok(())
    }

    /// Reads one layer's stream to the end of its tar data.
    pub fn read<R: Read>(&mut self, mut layer: R, wanted: &dyn Fn(&str) -> bool) -> Result<Layer, LayerError> {
        let head = compression::read_head(&mut layer).map_err(|source| LayerError::Tar { after: None, source })?;
        let compression = match compression::recognise(&head) {
            Content::Tar(compression) => compression,
            Content::Unsupported(format) => return Err(LayerError::UnsupportedCompression { format }),
            // An empty blob is an empty layer: there is nothing to misread.
            Content::Other if head.is_empty() => Compression::None,
            Content::Other => return Err(LayerError::NotALayer),
        };
        // Errors of the source itself (an outer archive that ends early) are told apart from
        // errors of the decompressor and of the tar data by tracking each reader.
        let mut source = Tracked::new(io::Cursor::new(head).chain(layer));
        let mut decoded = Tracked::new(compression::decompressed(&mut source, compression));
        let result = self.read_entries(&mut decoded, wanted).inspect_err(|_| {
            // Corrupt compressed data often shows first as a malformed tar header; the rest of
            // the stream (its checksum) then tells which it was.
            if compression != Compression::None && decoded.failure.is_none() {
                let _ = io::copy(&mut decoded, &mut io::sink());
            }
        });
        let result = result.and_then(|layer| {
            // Reading what follows the tar data checks the end of the compressed stream (its
            // checksum); a corrupt end would otherwise go unnoticed.
            io::copy(&mut decoded, &mut io::sink())
                .map(|_| layer)
                .map_err(|source| LayerError::Tar { after: None, source })
        });
        let decoder_failure = decoded.failure.take();
        drop(decoded);
        let result = match (result, decoder_failure) {
            (Err(_), Some(message)) if compression != Compression::None && source.failure.is_none() => {
                Err(LayerError::Decompress { compression, message })
            }
            (result, _) => result,
        };
        let mut layer = result?;
        layer.compression = Some(compression);
        Ok(layer)
    }

    fn read_entries(&mut self, tar_stream: &mut dyn Read, wanted: &dyn Fn(&str) -> bool) -> Result<Layer, LayerError> {
        let mut layer = Layer::default();
        let mut archive = tar::Archive::new(tar_stream);
        let mut last_entry: Option<String> = None;
        let mut last_parent: Option<String> = None;
        let entries = archive.entries().map_err(|source| LayerError::Tar { after: None, source })?;
        for entry in entries {
            let mut entry = entry.map_err(|source| LayerError::Tar { after: last_entry.clone(), source })?;
            let raw_path = entry.path_bytes().into_owned();
            let path = match path::normalise(&raw_path) {
                Ok(Some(path)) => path,
                Ok(None) => continue,
                Err(_) => return Err(LayerError::UnsafePath { path: String::from_utf8_lossy(&raw_path).into_owned() }),
            };
            layer.entries += 1;
            // Every folder above an entry exists in this layer, listed or not.
            let parent = path::parent(&path);
            if !parent.is_empty() && last_parent.as_deref() != Some(parent) {
                layer.folders.push(fingerprint(parent));
                layer.folders.extend(path::ancestors(parent).map(fingerprint));
                last_parent = Some(parent.to_owned());
            }
            let name = path::file_name(&path);
            if name == OPAQUE_MARKER {
                self.keep(parent.len() as u64)?;
                layer.opaque_folders.insert(parent.to_owned());
            } else if let Some(deleted) = name.strip_prefix(WHITEOUT_PREFIX) {
                // Other `.wh..wh.` names are aufs bookkeeping, not deletions.
                if !deleted.starts_with(WHITEOUT_PREFIX) && !deleted.is_empty() {
                    self.keep(path.len() as u64)?;
                    layer.whiteouts.insert(path::join(parent, deleted));
                }
            } else {
                self.read_entry(&mut layer, &mut entry, &path, wanted)
                    .map_err(|error| error.into_layer_error(&path))?;
            }
            last_entry = Some(path);
        }
        layer.non_folders.sort_unstable();
        layer.non_folders.dedup();
        layer.folders.sort_unstable();
        layer.folders.dedup();
        Ok(layer)
    }

    fn read_entry(
        &mut self,
        layer: &mut Layer,
        entry: &mut tar::Entry<'_, &mut dyn Read>,
        path: &str,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<(), EntryError> {
        use tar::EntryType;
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Directory => {
                layer.folders.push(fingerprint(path));
                // A folder replaces a file or symlink this layer put at the same path earlier.
                layer.nodes.remove(path);
            }
            EntryType::Symlink => {
                layer.non_folders.push(fingerprint(path));
                let target = entry
                    .link_name_bytes()
                    .map(|target| String::from_utf8_lossy(&target).into_owned())
                    .unwrap_or_default();
                self.keep((path.len() + target.len()) as u64)?;
                layer.nodes.insert(path.to_owned(), Node::Symlink { target, wanted: wanted(path) });
            }
            EntryType::Link => {
                layer.non_folders.push(fingerprint(path));
                if !wanted(path) {
                    layer.nodes.remove(path);
                    return Ok(());
                }
                let raw_target = entry.link_name_bytes().map(|target| target.into_owned()).unwrap_or_default();
                let target = match path::normalise(&raw_target) {
                    Ok(target) => target.unwrap_or_default(),
                    Err(_) => {
                        return Err(EntryError::Layer(LayerError::UnsafePath {
                            path: String::from_utf8_lossy(&raw_target).into_owned(),
                        }));
                    }
                };
                // Tar hard links point at an entry earlier in the same layer.
                let node = match layer.nodes.get(&target) {
                    Some(Node::File(content)) => {
                        self.keep(content.len() as u64)?;
                        Node::File(content.clone())
                    }
                    Some(Node::Symlink { target, .. }) => Node::Symlink { target: target.clone(), wanted: true },
                    Some(Node::Unread(unread)) => Node::Unread(unread.clone()),
                    None => Node::Unread(Unread::HardLinkTarget { target }),
                };
                layer.nodes.insert(path.to_owned(), node);
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                layer.non_folders.push(fingerprint(path));
                if !wanted(path) {
                    layer.nodes.remove(path);
                    return Ok(());
                }
                let size = entry.size();
                let limit = self.limits.max_file_bytes;
                if size > limit {
                    layer.nodes.insert(path.to_owned(), Node::Unread(Unread::TooLarge { size, limit }));
                    return Ok(());
                }
                self.keep(size)?;
                let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                // The header's size bounds the read even if the tar reader were lied to.
                entry.take(limit).read_to_end(&mut content).map_err(EntryError::Io)?;
                layer.nodes.insert(path.to_owned(), Node::File(content));
            }
            // Extended headers are folded into the entries they describe by the tar reader.
            EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink => {}
            // Devices and FIFOs replace what was at their path, like files.
            _ => {
                layer.non_folders.push(fingerprint(path));
                layer.nodes.remove(path);
            }
        }
        Ok(())
    }
}

/// Why one entry could not be read: a layer-level problem, or an I/O error of its data.
enum EntryError {
    Layer(LayerError),
    Io(io::Error),
}

impl EntryError {
    fn into_layer_error(self, path: &str) -> LayerError {
        match self {
            Self::Layer(error) => error,
            Self::Io(source) => LayerError::Tar {
                after: None,
                source: io::Error::new(source.kind(), format!("read entry `{path}`: {source}")),
            },
        }
    }
}

impl From<LayerError> for EntryError {
    fn from(error: LayerError) -> Self {
        Self::Layer(error)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// One entry of a tar stream built for a test.
    pub(crate) enum Entry<'a> {
        File(&'a str, &'a [u8]),
        Folder(&'a str),
        Symlink(&'a str, &'a str),
        HardLink(&'a str, &'a str),
        Fifo(&'a str),
    }

    /// A tar stream of `entries`. Names are written as given (the tar builder would refuse
    /// absolute ones, which real layers may hold).
    pub(crate) fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_size(0);
            let (path, kind, content, link): (&str, _, &[u8], Option<&str>) = match entry {
                Entry::File(path, content) => (path, tar::EntryType::Regular, content, None),
                Entry::Folder(path) => (path, tar::EntryType::Directory, b"", None),
                Entry::Symlink(path, target) => (path, tar::EntryType::Symlink, b"", Some(target)),
                Entry::HardLink(path, target) => (path, tar::EntryType::Link, b"", Some(target)),
                Entry::Fifo(path) => (path, tar::EntryType::Fifo, b"", None),
            };
            header.set_entry_type(kind);
            header.set_size(content.len() as u64);
            let name = &mut header.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(link) = link {
                header.set_link_name(link).unwrap();
            }
            header.set_cksum();
            builder.append(&header, content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    pub(crate) fn wants_txt(path: &str) -> bool {
        path.ends_with(".txt")
    }

    fn files(layer: &Layer) -> Vec<(&str, &[u8])> {
        layer.files().collect()
    }

    #[test]
    fn keeps_only_wanted_files_and_normalises_their_paths() {
        let tar = tar_of(&[
            Entry::Folder("./etc/"),
            Entry::File("./etc/a.txt", b"a"),
            Entry::File("./etc/b.conf", b"b"),
            Entry::File("/usr/c.txt", b"c"),
        ]);
        let layer = read_layer(&tar[..], &wants_txt).unwrap();
        assert_eq!(files(&layer), [("etc/a.txt", &b"a"[..]), ("usr/c.txt", &b"c"[..])]);
        assert_eq!(layer.entry_count(), 4);
        assert_eq!(layer.compression(), Some(Compression::None));
    }

    #[test]
    fn reads_gzip_and_zstd_layers_recognised_by_their_bytes() {
        let tar = tar_of(&[Entry::File("x.txt", b"hello")]);
        for (data, compression) in [(gzip(&tar), Compression::Gzip), (zstd(&tar), Compression::Zstd)] {
            let layer = read_layer(&data[..], &wants_txt).unwrap();
            assert_eq!(files(&layer), [("x.txt", &b"hello"[..])]);
            assert_eq!(layer.compression(), Some(compression));
        }
    }

    #[test]
    fn records_whiteouts_and_opaque_folders_but_not_aufs_bookkeeping() {
        let tar = tar_of(&[
            Entry::File("usr/lib/.wh.old", b""),
            Entry::File("opt/app/.wh..wh..opq", b""),
            Entry::File(".wh..wh.plnk", b""),
            Entry::File(".wh.tmp", b""),
        ]);
        let layer = read_layer(&tar[..], &wants_txt).unwrap();
        assert_eq!(layer.whiteouts().collect::<Vec<_>>(), ["tmp", "usr/lib/old"]);
        assert_eq!(layer.opaque_folders().collect::<Vec<_>>(), ["opt/app"]);
        assert_eq!(layer.files().count(), 0);
    }

    #[test]
    fn hard_links_to_wanted_files_resolve_within_the_layer() {
        let tar = tar_of(&[
            Entry::File("a/one.txt", b"shared"),
            Entry::HardLink("b/two.txt", "./a/one.txt"),
            Entry::File("c/three.bin", b"unwanted"),
            Entry::HardLink("d/four.txt", "c/three.bin"),
        ]);
        let layer = read_layer(&tar[..], &wants_txt).unwrap();
        assert_eq!(files(&layer), [("a/one.txt", &b"shared"[..]), ("b/two.txt", &b"shared"[..])]);
        assert_eq!(
            layer.nodes.get("d/four.txt"),
            Some(&Node::Unread(Unread::HardLinkTarget { target: "c/three.bin".to_owned() }))
        );
    }

    #[test]
    fn keeps_every_symlink_and_marks_the_wanted_ones() {
        let tar = tar_of(&[Entry::Symlink("lib", "usr/lib"), Entry::Symlink("etc/os.txt", "../usr/lib/os.txt")]);
        let layer = read_layer(&tar[..], &wants_txt).unwrap();
        assert_eq!(layer.symlinks().collect::<Vec<_>>(), [("etc/os.txt", "../usr/lib/os.txt"), ("lib", "usr/lib")]);
        assert_eq!(layer.nodes.get("lib"), Some(&Node::Symlink { target: "usr/lib".to_owned(), wanted: false }));
    }

    #[test]
    fn a_wanted_file_over_the_limit_is_not_read() {
        let tar = tar_of(&[Entry::File("big.txt", &[7u8; 100]), Entry::File("small.txt", b"ok")]);
        let layer = LayerReader::new(Limits::default().max_file_bytes(99)).read(&tar[..], &wants_txt).unwrap();
        assert_eq!(files(&layer), [("small.txt", &b"ok"[..])]);
        assert_eq!(layer.nodes.get("big.txt"), Some(&Node::Unread(Unread::TooLarge { size: 100, limit: 99 })));
    }

    #[test]
    fn the_total_budget_spans_every_layer_a_reader_reads() {
        let tar = tar_of(&[Entry::File("a.txt", &[1u8; 60])]);
        let mut reader = LayerReader::new(Limits::default().max_total_bytes(100));
        reader.read(&tar[..], &wants_txt).unwrap();
        let error = reader.read(&tar[..], &wants_txt).unwrap_err();
        assert!(matches!(error, LayerError::TooMuchData { limit: 100 }), "{error:?}");
    }

    #[test]
    fn refuses_paths_that_climb_out_of_the_image() {
        let tar = tar_of(&[Entry::File("../../etc/x.txt", b"x")]);
        let error = read_layer(&tar[..], &wants_txt).unwrap_err();
        assert!(matches!(&error, LayerError::UnsafePath { path } if path == "../../etc/x.txt"), "{error:?}");
    }

    #[test]
    fn corrupt_compressed_data_is_a_decompression_error() {
        let tar = tar_of(&[Entry::File("x.txt", &[b'x'; 4096])]);
        let mut data = gzip(&tar);
        let middle = data.len() / 2;
        data[middle..middle + 8].copy_from_slice(b"garbage!");
        let error = read_layer(&data[..], &wants_txt).unwrap_err();
        assert!(matches!(error, LayerError::Decompress { compression: Compression::Gzip, .. }), "{error:?}");
    }

    #[test]
    fn data_that_is_not_a_layer_is_refused() {
        let error = read_layer(&b"{\"not\": \"a layer\"}"[..], &wants_txt).unwrap_err();
        assert!(matches!(error, LayerError::NotALayer), "{error:?}");
        let error = read_layer(&[0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2][..], &wants_txt).unwrap_err();
        assert!(matches!(error, LayerError::UnsupportedCompression { format: "xz" }), "{error:?}");
    }

    #[test]
    fn an_empty_blob_is_an_empty_layer() {
        let layer = read_layer(io::empty(), &wants_txt).unwrap();
        assert_eq!(layer.entry_count(), 0);
    }

    #[test]
    fn a_fifo_replaces_a_wanted_file_of_the_same_layer() {
        let tar = tar_of(&[Entry::File("x.txt", b"x"), Entry::Fifo("x.txt")]);
        let layer = read_layer(&tar[..], &wants_txt).unwrap();
        assert_eq!(layer.files().count(), 0);
    }
}
