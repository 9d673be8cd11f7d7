//! Errors from reading an image archive or one of its layers. Messages are lowercase fragments
//! that read after "failed to …" and name the archive member they are about.

use std::fmt;
use std::io;

use crate::compression::Compression;

/// Reading an image archive failed; nothing partial is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The outer archive could not be read: an I/O error from its source or a malformed tar
    /// header. `after` names the last member read in full, when there was one.
    #[error(
        "read the image archive{}: {source}\n  hint: the archive may be truncated or not an image archive; save the image again",
        after_member(after)
    )]
    Archive { after: Option<String>, source: io::Error },
    /// Reading a member's data from the outer archive failed.
    #[error("read `{member}` in the image archive: {source}")]
    Member { member: String, source: io::Error },
    /// The archive's data ends inside a member.
    #[error(
        "read `{member}` in the image archive: the archive ends after {read} of its {size} bytes\n  hint: the archive is truncated; save the image again"
    )]
    Truncated { member: String, read: u64, size: u64 },
    /// A member's name climbs out of the archive with a `..` component.
    #[error("read the image archive: member `{member}` has a `..` component")]
    UnsafeMember { member: String },
    /// Neither a Docker `manifest.json` nor an OCI `index.json` is in the archive.
    #[error(
        "find the image manifest: the archive has neither `manifest.json` (docker-archive) nor `index.json` (OCI layout)\n  hint: pass the output of `docker save` or `podman save`; a truncated archive also ends this way"
    )]
    NoManifest,
    /// `manifest.json`, `index.json` or a manifest blob is not what the format says it is.
    #[error("read `{member}`: {message}")]
    BadManifest { member: String, message: String },
    /// The archive holds several images and nothing said which one to read.
    #[error("pick the image to read: the archive holds {count} images ({names})\n  hint: name the image to read")]
    SeveralImages { count: usize, names: String },
    /// The image asked for is not in the archive.
    #[error("find image `{reference}` in the archive: it holds {names}")]
    ImageNotFound { reference: String, names: String },
    /// The manifest names a blob the archive lacks.
    #[error(
        "find `{member}` in the image archive: the manifest names it but the archive lacks it\n  hint: the archive is truncated or was saved without that layer"
    )]
    MissingBlob { member: String },
    /// The manifest lists a layer whose media type is not a filesystem layer imagegate reads.
    #[error("read layer `{member}`: its media type `{media_type}` is not a filesystem layer")]
    UnsupportedMediaType { member: String, media_type: String },
    /// A layer could not be read.
    #[error("read layer `{member}`: {source}")]
    Layer { member: String, source: LayerError },
    /// The wanted files and the facts kept about every layer exceed the total limit.
    #[error(
        "keep the wanted files of the image: they exceed {limit} bytes in total\n  hint: the image holds unusually many wanted files; raise the limit on kept bytes"
    )]
    TooMuchData { limit: u64 },
}

/// Reading one layer (a tar stream, compressed or not) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The compressed data is corrupt or ends early.
    #[error("decompress its {compression} data: {message}")]
    Decompress { compression: Compression, message: String },
    /// The data is compressed in a way imagegate does not read.
    #[error("decompress it: {format} compression is not supported (only gzip and zstd are)")]
    UnsupportedCompression { format: &'static str },
    /// The (decompressed) data is not a tar stream, or a tar header in it is malformed.
    #[error("read its tar stream{}: {source}", after_entry(after))]
    Tar { after: Option<String>, source: io::Error },
    /// The data is neither a tar stream nor gzip or zstd data.
    #[error("recognise it: the data is neither a tar stream nor gzip or zstd data")]
    NotALayer,
    /// An entry's path climbs out of the image with a `..` component.
    #[error("read entry `{path}`: its path has a `..` component")]
    UnsafePath { path: String },
    /// The wanted files of every layer read so far exceed the total limit.
    #[error("keep the wanted files: they exceed {limit} bytes in total")]
    TooMuchData { limit: u64 },
}

fn after_member(after: &Option<String>) -> String {
    after.as_ref().map(|member| format!(" after member `{member}`")).unwrap_or_default()
}

fn after_entry(after: &Option<String>) -> String {
    after.as_ref().map(|entry| format!(" after entry `{entry}`")).unwrap_or_default()
}

/// A problem that leaves a wanted file out of the result without making the rest unreliable.
/// Only problems with files that are still present in the final image are reported.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageWarning {
    /// A wanted file is larger than the limit for one file, so its content was not read.
    FileTooLarge { path: String, size: u64, limit: u64 },
    /// A wanted hard link points at a file whose content was not read (it is not wanted, or it
    /// is not in the same layer, where tar hard links must point).
    HardLinkNotResolved { path: String, target: String },
    /// A wanted symlink whose target, resolved inside the image, is not a file that was read.
    SymlinkNotResolved { path: String, target: String },
}

impl fmt::Display for ImageWarning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FileTooLarge { path, size, limit } => {
                write!(formatter, "skipped `{path}`: its {size} bytes exceed the {limit}-byte limit for one file")
            }
            Self::HardLinkNotResolved { path, target } => write!(
                formatter,
                "skipped `{path}`: it is a hard link to `{target}`, whose content was not read from the same layer"
            ),
            Self::SymlinkNotResolved { path, target } => write!(
                formatter,
                "skipped `{path}`: it is a symlink to `{target}`, which is not a file read from the image"
            ),
        }
    }
}
