//! Reads the files of a container image from an image archive, without running the image and
//! without extracting anything to disk.

use std::collections::BTreeMap;

/// The final content of the files an image holds that a caller asked for, after every layer
/// (with its whiteouts and opaque folders) is applied. Paths are absolute-free and `/`-separated
/// (`var/lib/dpkg/status`).
pub type ImageFiles = BTreeMap<String, Vec<u8>>;
