//! The inputs digest: one SHA-256 over everything that defines an image, so that an
//! unchanged recipe is recognised on any machine and any change to it is not missed.
//!
//! # What is hashed
//!
//! The Dockerfile's bytes; the build args (sorted by name); the `--target` and `--platform`;
//! and every entry of the build context that the engine is sent: the context folder less what
//! the applicable `.dockerignore` excludes (see [`crate::dockerignore`] for the rules and
//! [`ignore_file_for`] for which file applies). Nothing machine-specific is hashed: no
//! modification times, owners, absolute paths or the Dockerfile's name.
//!
//! Context entries are files, symbolic links (not followed: the engine is sent the link) and
//! folders. Each folder is an entry, so that empty folders and folder permissions count;
//! the context folder itself is not. An excluded folder is an entry only when something
//! inside it is re-included (the engine is sent it as the parent of that). Sockets, pipes
//! and devices are left out: they have no content to send.
//!
//! Permissions are hashed as `mode & 0o777`, for files and folders: `COPY` keeps them in the
//! image, so a change of mode is a change of image. A checkout made under a different umask
//! (0002 rather than 0022) therefore has a different digest, as its image would differ. The
//! set-id and sticky bits are not hashed; no checkout carries them.
//!
//! # The scheme (version `imagegate-inputs-v1`)
//!
//! This is a contract: digests are stored and compared across runs and machines, so any
//! change to what follows needs a new version tag.
//!
//! ```text
//! field(bytes)    = u64be(len(bytes)) || bytes
//! optional(text)  = 0x00                       when absent
//!                 | 0x01 || field(text)        when present
//!
//! digest = "sha256:" || hex(SHA-256(
//!     field("imagegate-inputs-v1")
//!     field("dockerfile") field(<Dockerfile bytes>)
//!     field("build-args") u64be(count) { field(name) field(value) }    sorted by name, bytewise
//!     field("target")   optional(target)
//!     field("platform") optional(platform)
//!     field("context")  u64be(count) { entry }                         sorted by path, bytewise
//! ))
//!
//! entry = field(path)                  relative to the context, `/`-separated, no leading `./`
//!         then one of
//!       'f' u32be(mode & 0o777) u64be(size) SHA-256(content)           a regular file
//!       'l' field(link target)                                         a symbolic link, as stored
//!       'd' u32be(mode & 0o777)                                        a folder
//! ```
//!
//! # With `inputs`
//!
//! When the build context is wider than what defines the image — typically the repository
//! root, copied in whole to prepare a wheelhouse or a cache — an image may name the files that
//! define it: `inputs = ["ci/**", "setup.py"]`, glob patterns relative to the context (`*` and
//! `?` stay within one folder, `**` crosses folders, `[…]` and `{a,b}` as in gitignore-style
//! globs). Then only the context entries that a pattern matches, or that lie below a folder a
//! pattern matches, are hashed; the `.dockerignore` still applies first. The Dockerfile, build
//! args, target and platform are hashed as always, and so are the patterns themselves, so that
//! changing them names a new recipe:
//!
//! ```text
//!     … field("platform") optional(platform)
//!     field("inputs")   u64be(count) { field(pattern) }                sorted, duplicates removed
//!     field("context")  u64be(count) { entry }                         matched entries only
//! ```
//!
//! The `inputs` section is written only when the key is given, so every digest of an image
//! without `inputs` is the same as before the key existed, and no digest with `inputs` can equal
//! one without. The image is still built from the whole context: a file outside `inputs` that
//! the build copies may differ between two builds of one recipe, which is the point — a commit
//! that changes only project source reuses the candidate.
//!
//! Lengths and counts are unsigned 64-bit big-endian, so no two different inputs frame to
//! the same byte stream. Each file's content is hashed on its own and only its 32-byte
//! digest enters the outer hash, which lets the size be framed before the content without
//! reading the file twice. Paths and link targets are the names' raw bytes.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ImageConfig;
use crate::dockerignore::{DockerIgnore, ParentMatches, PatternError, ignore_file_for};

/// The version tag hashed first; see the module documentation.
pub const SCHEME_VERSION: &str = "imagegate-inputs-v1";

/// The digest of an image's inputs and how much was hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputsDigest {
    /// `sha256:` and 64 lowercase hex digits.
    pub digest: String,
    /// Regular files of the build context that were hashed.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// One entry of a build context as the engine is sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// Relative to the context folder.
    pub path: PathBuf,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// `mode` holds the permission bits only (`& 0o777`).
    File {
        mode: u32,
        size: u64,
    },
    Symlink {
        target: PathBuf,
    },
    /// `mode` holds the permission bits only (`& 0o777`).
    Directory {
        mode: u32,
    },
}

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The Dockerfile could not be read.
    #[error("read the Dockerfile `{path}`")]
    ReadDockerfile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The applicable `.dockerignore` could not be read.
    #[error("read the ignore file `{path}`")]
    ReadIgnoreFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The applicable `.dockerignore` has a pattern that Docker refuses too.
    #[error("use the ignore file `{path}`: {error}\n  hint: Docker refuses this pattern too: fix or remove the line")]
    IgnorePattern { path: PathBuf, error: PatternError },
    /// An `inputs` pattern cannot be used (loading rejects these; a hand-built config may not).
    #[error(
        "use the `inputs` pattern `{pattern}`: {error}\n  hint: patterns are globs relative to the build context, e.g. \"ci/**\""
    )]
    InputsPattern { pattern: String, error: InputsPatternError },
    /// A folder of the build context could not be listed.
    #[error("list the build context folder `{path}`")]
    ListFolder {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An entry of the build context could not be read.
    #[error("read `{path}` in the build context")]
    ReadEntry {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An `inputs` pattern that cannot be used.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum InputsPatternError {
    /// The pattern is empty (or only `./` and `/`).
    #[error("the pattern is empty")]
    Empty,
    /// The pattern starts with `/`: patterns are relative to the context.
    #[error("the pattern is absolute; patterns are relative to the build context")]
    Absolute,
    /// A `..` component would leave the context.
    #[error("`..` leads out of the build context")]
    Parent,
    /// Not a valid glob.
    #[error("{0}")]
    Glob(#[from] globset::Error),
}

/// The glob that an `inputs` pattern is matched as: relative to the context, `*` and `?` never
/// cross a `/`, a leading `./` and a trailing `/` are dropped.
pub fn inputs_glob(pattern: &str) -> Result<globset::Glob, InputsPatternError> {
    if pattern.starts_with('/') {
        return Err(InputsPatternError::Absolute);
    }
    let mut trimmed = pattern;
    while let Some(rest) = trimmed.strip_prefix("./") {
        trimmed = rest;
    }
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        return Err(InputsPatternError::Empty);
    }
    if trimmed.split('/').any(|part| part == "..") {
        return Err(InputsPatternError::Parent);
    }
    Ok(globset::GlobBuilder::new(trimmed).literal_separator(true).backslash_escape(true).build()?)
}

/// The `inputs` patterns of an image, compiled, matching a context path or any folder above it.
struct InputsMatcher {
    set: globset::GlobSet,
}

impl InputsMatcher {
    fn new(patterns: &[String]) -> Result<InputsMatcher, DigestError> {
        let mut builder = globset::GlobSetBuilder::new();
        for pattern in patterns {
            let glob =
                inputs_glob(pattern).map_err(|error| DigestError::InputsPattern { pattern: pattern.clone(), error })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|error| DigestError::InputsPattern {
            pattern: patterns.join(", "),
            error: InputsPatternError::Glob(error),
        })?;
        Ok(InputsMatcher { set })
    }

    /// The indices of the patterns that match `path` or one of its folders.
    fn matching(&self, path: &Path) -> Vec<usize> {
        let mut found: Vec<usize> = path
            .ancestors()
            .filter(|ancestor| !ancestor.as_os_str().is_empty())
            .flat_map(|ancestor| self.set.matches(ancestor))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Whether the digest of `image` covers the context path `relative` (and so changes with it):
/// always without `inputs`, else when a pattern selects it. `.dockerignore` is not consulted.
pub fn inputs_cover(image: &ImageConfig, relative: &Path) -> bool {
    match &image.inputs {
        None => true,
        // Patterns that do not compile were refused at load; they cover nothing.
        Some(patterns) => InputsMatcher::new(patterns).is_ok_and(|matcher| !matcher.matching(relative).is_empty()),
    }
}

/// The `inputs` patterns of `image` that select no entry of its context (after
/// `.dockerignore`): most likely a typo, and the digest then misses what was meant.
pub fn unmatched_inputs(image: &ImageConfig) -> Result<Vec<String>, DigestError> {
    let Some(patterns) = &image.inputs else { return Ok(Vec::new()) };
    let matcher = InputsMatcher::new(patterns)?;
    let mut matched = vec![false; patterns.len()];
    for entry in context_files(image)? {
        for index in matcher.matching(&entry.path) {
            matched[index] = true;
        }
    }
    Ok(patterns.iter().zip(matched).filter(|(_, matched)| !matched).map(|(pattern, _)| pattern.clone()).collect())
}

/// Hashes everything that defines `image`; see the module documentation for the scheme.
pub fn inputs_digest(image: &ImageConfig) -> Result<InputsDigest, DigestError> {
    let dockerfile = fs::read(&image.dockerfile)
        .map_err(|source| DigestError::ReadDockerfile { path: image.dockerfile.clone(), source })?;
    let mut entries = context_files(image)?;
    let inputs = match &image.inputs {
        Some(patterns) => {
            let matcher = InputsMatcher::new(patterns)?;
            entries.retain(|entry| !matcher.matching(&entry.path).is_empty());
            let mut sorted: Vec<&str> = patterns.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            sorted.dedup();
            Some(sorted)
        }
        None => None,
    };

    let mut hasher = Sha256::new();
    field(&mut hasher, SCHEME_VERSION.as_bytes());
    field(&mut hasher, b"dockerfile");
    field(&mut hasher, &dockerfile);
    field(&mut hasher, b"build-args");
    count(&mut hasher, image.build_args.len());
    // BTreeMap iterates in bytewise order of the names, which is the order the scheme fixes.
    for (name, value) in &image.build_args {
        field(&mut hasher, name.as_bytes());
        field(&mut hasher, value.as_bytes());
    }
    field(&mut hasher, b"target");
    optional(&mut hasher, image.target.as_deref());
    field(&mut hasher, b"platform");
    optional(&mut hasher, image.platform.as_deref());
    if let Some(patterns) = inputs {
        field(&mut hasher, b"inputs");
        count(&mut hasher, patterns.len());
        for pattern in patterns {
            field(&mut hasher, pattern.as_bytes());
        }
    }

    field(&mut hasher, b"context");
    count(&mut hasher, entries.len());
    let mut buffer = vec![0; 256 * 1024];
    let mut files = 0;
    let mut bytes = 0;
    for entry in &entries {
        field(&mut hasher, &path_bytes(&entry.path));
        match &entry.kind {
            EntryKind::File { mode, .. } => {
                let absolute = image.context.join(&entry.path);
                // The Dockerfile usually sits in the context: its bytes are already here.
                let (content_digest, size) = if absolute == image.dockerfile {
                    (Sha256::digest(&dockerfile), dockerfile.len() as u64)
                } else {
                    hash_file(&absolute, &mut buffer)?
                };
                hasher.update(b"f");
                hasher.update(mode.to_be_bytes());
                hasher.update(size.to_be_bytes());
                hasher.update(content_digest);
                files += 1;
                bytes += size;
            }
            EntryKind::Symlink { target } => {
                hasher.update(b"l");
                field(&mut hasher, &path_bytes(target));
            }
            EntryKind::Directory { mode } => {
                hasher.update(b"d");
                hasher.update(mode.to_be_bytes());
            }
        }
    }
    Ok(InputsDigest { digest: format!("sha256:{}", hex::encode(hasher.finalize())), files, bytes })
}

/// The entries of `image`'s build context that the engine is sent, sorted by path bytewise:
/// what [`inputs_digest`] hashes besides the Dockerfile and build settings.
pub fn context_files(image: &ImageConfig) -> Result<Vec<ContextEntry>, DigestError> {
    let ignore = match ignore_file_for(&image.dockerfile, &image.context) {
        Some(path) => {
            let text = fs::read_to_string(&path)
                .map_err(|source| DigestError::ReadIgnoreFile { path: path.clone(), source })?;
            DockerIgnore::parse(&text).map_err(|error| DigestError::IgnorePattern { path, error })?
        }
        None => DockerIgnore::default(),
    };
    let mut walker = Walker { ignore: &ignore, entries: Vec::new() };
    walker.folder(&image.context, Path::new(""), "", &ParentMatches::default())?;
    let mut keyed: Vec<(Vec<u8>, ContextEntry)> =
        walker.entries.into_iter().map(|entry| (path_bytes(&entry.path), entry)).collect();
    keyed.sort_unstable_by(|(left, _), (right, _)| left.cmp(right));
    Ok(keyed.into_iter().map(|(_, entry)| entry).collect())
}

struct Walker<'a> {
    ignore: &'a DockerIgnore,
    entries: Vec<ContextEntry>,
}

impl Walker<'_> {
    /// Collects what the engine is sent from the folder `absolute` (`relative` in the
    /// context, `matched` as the ignore rules see it). Returns whether anything inside was
    /// included, which makes an excluded folder an entry all the same.
    fn folder(
        &mut self,
        absolute: &Path,
        relative: &Path,
        matched: &str,
        parent: &ParentMatches,
    ) -> Result<bool, DigestError> {
        let list_error = |source| DigestError::ListFolder { path: absolute.to_path_buf(), source };
        let mut included_any = false;
        for dir_entry in fs::read_dir(absolute).map_err(list_error)? {
            let dir_entry = dir_entry.map_err(list_error)?;
            let name = dir_entry.file_name();
            let entry_relative = relative.join(&name);
            // Non-UTF-8 names are matched in their lossy form; they are hashed as bytes.
            let entry_matched = if matched.is_empty() {
                name.to_string_lossy().into_owned()
            } else {
                format!("{matched}/{}", name.to_string_lossy())
            };
            let (excluded, matches) = self.ignore.check(&entry_matched, parent);
            let read_error = |source| DigestError::ReadEntry { path: entry_relative.clone(), source };
            let file_type = dir_entry.file_type().map_err(read_error)?;
            if file_type.is_dir() {
                let included_inside = if !excluded || self.ignore.may_include_below(&entry_matched) {
                    self.folder(&dir_entry.path(), &entry_relative, &entry_matched, &matches)?
                } else {
                    false
                };
                if !excluded || included_inside {
                    let metadata = dir_entry.metadata().map_err(read_error)?;
                    self.entries.push(ContextEntry {
                        path: entry_relative,
                        kind: EntryKind::Directory { mode: permissions(&metadata) },
                    });
                    included_any = true;
                }
            } else if excluded {
                continue;
            } else if file_type.is_symlink() {
                let target = fs::read_link(dir_entry.path()).map_err(read_error)?;
                self.entries.push(ContextEntry { path: entry_relative, kind: EntryKind::Symlink { target } });
                included_any = true;
            } else if file_type.is_file() {
                let metadata = dir_entry.metadata().map_err(read_error)?;
                self.entries.push(ContextEntry {
                    path: entry_relative,
                    kind: EntryKind::File { mode: permissions(&metadata), size: metadata.len() },
                });
                included_any = true;
            }
        }
        Ok(included_any)
    }
}

/// The SHA-256 of a file's content and its size, read in one pass through `buffer`.
fn hash_file(path: &Path, buffer: &mut [u8]) -> Result<(sha2::digest::Output<Sha256>, u64), DigestError> {
    let read_error = |source| DigestError::ReadEntry { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(read_error)?;
    let mut hasher = Sha256::new();
    let mut size = 0;
    loop {
        match file.read(buffer) {
            Ok(0) => break,
            Ok(read) => {
                hasher.update(&buffer[..read]);
                size += read as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(read_error(error)),
        }
    }
    Ok((hasher.finalize(), size))
}

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    count(hasher, bytes.len());
    hasher.update(bytes);
}

fn count(hasher: &mut Sha256, count: usize) {
    hasher.update((count as u64).to_be_bytes());
}

fn optional(hasher: &mut Sha256, text: Option<&str>) {
    match text {
        None => hasher.update([0]),
        Some(text) => {
            hasher.update([1]);
            field(hasher, text.as_bytes());
        }
    }
}

/// A relative path's raw bytes with `/` separators.
fn path_bytes(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().replace('\\', "/").into_bytes()
    }
}

fn permissions(metadata: &fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    {
        // Without Unix modes, the modes a Unix checkout would usually have.
        match (metadata.is_dir(), metadata.permissions().readonly()) {
            (true, _) => 0o755,
            (false, true) => 0o444,
            (false, false) => 0o644,
        }
    }
}

#[cfg(test)]
mod tests;
