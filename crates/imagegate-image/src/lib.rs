//! Reads the files of a container image from an image archive, without running the image and
//! without extracting anything to disk.
//!
//! [`read_archive`] takes `docker save` or `podman save` output (docker-archive or OCI layout,
//! layers plain, gzip or zstd) as a stream, reads it once, and returns the final content of the
//! files a caller wants: every layer applied in manifest order, with whiteouts and opaque
//! folders. [`read_layer`] and [`stack_layers`] do the same for layer blobs fetched one by one.
//!
//! Only the wanted files' content and a few facts per layer (deletions, symlinks, path
//! fingerprints) are kept in memory, within [`Limits`]. Blob digests are not verified: the
//! archive comes from the local engine, and compressed layers are still checked by their own
//! checksums (gzip CRC, zstd frame checksums).

mod archive;
mod compression;
mod error;
mod layer;
mod manifest;
mod path;
mod stack;
pub mod transplant;

use std::collections::BTreeMap;

pub use archive::{ArchiveImage, ArchiveReader, LayerSummary, read_archive};
pub use compression::Compression;
pub use error::{ImageError, ImageWarning, LayerError};
pub use layer::{DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_TOTAL_BYTES, Layer, LayerReader, Limits, read_layer};
pub use manifest::ArchiveFormat;
pub use stack::{ImageContents, stack_layers};

/// The final content of the files an image holds that a caller asked for, after every layer
/// (with its whiteouts and opaque folders) is applied. Paths are relative and `/`-separated
/// (`var/lib/dpkg/status`).
pub type ImageFiles = BTreeMap<String, Vec<u8>>;
