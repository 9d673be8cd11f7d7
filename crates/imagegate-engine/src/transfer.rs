//! Moving files between the host and a container as tar streams.
//!
//! The checkout goes in as a tar stream (`cp - CONTAINER:/`) rather than a bind mount: it works
//! with remote engines and leaves no root-owned files in the checkout. Results come out as a tar
//! stream too, and are unpacked here rather than by the engine client, so that nothing in a
//! container (links, devices, `..` paths) can write or read outside the destination folder.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::{CopiedResults, EngineError, ResultsFilter, SkipReason, SkippedFile};

/// Upper bounds on what a folder copied out may hold, whatever a filter allows; a runaway
/// suite must not fill the disk.
const MAX_RESULT_BYTES: u64 = 4 * 1024 * 1024 * 1024;
const MAX_RESULT_FILES: usize = 200_000;

/// However a filter passes files over, their bytes still stream through from the engine (about
/// 150 MB/s): beyond this many bytes of files in all, a filtered copy stops rather than spend
/// minutes on a suite's junk, and says where it stopped.
pub const MAX_STREAMED_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// Writes `source` as a tar stream whose entries sit under `prefix` (a relative path such as
/// `src`), leaving out `exclude`. Links are stored as links, never followed.
pub(crate) fn write_tree<W: Write>(
    writer: W,
    source: &Path,
    prefix: &Path,
    exclude: &[PathBuf],
) -> Result<(), EngineError> {
    write_tree_and_folders(writer, source, prefix, exclude, &[])
}

/// [`write_tree`], then the entries of [`write_folders`] for `folders` (absolute container
/// paths): one stream for the checkout and the folders a run needs, unpacked at the container's
/// `/` in one engine copy. The folders come last, so that one the checkout also has ends with
/// their mode, as when they are made after the copy.
pub(crate) fn write_tree_and_folders<W: Write>(
    writer: W,
    source: &Path,
    prefix: &Path,
    exclude: &[PathBuf],
    folders: &[&str],
) -> Result<(), EngineError> {
    let io_error = |source_error: io::Error, path: &Path| EngineError::Io {
        operation: "pack the checkout at".into(),
        path: path.to_path_buf(),
        source: source_error,
    };
    let mut builder = tar::Builder::new(writer);
    builder.follow_symlinks(false);
    // Keep modes and mtimes (build tools look at them) but not the host's owners.
    builder.mode(tar::HeaderMode::Complete);
    for entry in checkout_walker(source, exclude, true) {
        let entry = entry.map_err(|error| {
            let path = error.path().unwrap_or(source).to_path_buf();
            io_error(io::Error::other(error.to_string()), &path)
        })?;
        let relative = entry.path().strip_prefix(source).unwrap_or(entry.path());
        let name = prefix.join(relative);
        let metadata = entry.path().symlink_metadata().map_err(|error| io_error(error, entry.path()))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&metadata, tar::HeaderMode::Complete);
        header.set_uid(0);
        header.set_gid(0);
        let file_type = metadata.file_type();
        if file_type.is_dir() {
            builder.append_data(&mut header, &name, io::empty()).map_err(|error| io_error(error, entry.path()))?;
        } else if file_type.is_symlink() {
            let target = fs::read_link(entry.path()).map_err(|error| io_error(error, entry.path()))?;
            header.set_size(0);
            builder.append_link(&mut header, &name, &target).map_err(|error| io_error(error, entry.path()))?;
        } else if file_type.is_file() {
            let file = fs::File::open(entry.path()).map_err(|error| io_error(error, entry.path()))?;
            builder.append_data(&mut header, &name, file).map_err(|error| io_error(error, entry.path()))?;
        }
        // Sockets, fifos and devices in a checkout are not project files: left out.
    }
    append_folders(&mut builder, folders)?;
    builder.into_inner().map_err(|error| io_error(error, source))?.flush().map_err(|error| io_error(error, source))?;
    Ok(())
}

/// The regular files [`write_tree`] copies of `source` that lie in its folder `relative`, as
/// paths relative to that folder, sorted. `None` when a link or a file stands on the way to
/// that folder in the checkout: where the folder then is in a container depends on the
/// container's own files, which only the container can say.
pub fn checkout_files_in(
    source: &Path,
    exclude: &[PathBuf],
    relative: &Path,
) -> Result<Option<Vec<String>>, EngineError> {
    let io_error = |source_error: io::Error, path: &Path| EngineError::Io {
        operation: "read the checkout at".into(),
        path: path.to_path_buf(),
        source: source_error,
    };
    // Each folder on the way must be a folder the walk enters (not excluded, not a link).
    let mut on_the_way = source.to_path_buf();
    for component in relative.components() {
        on_the_way.push(component);
        if exclude.contains(&on_the_way) {
            return Ok(Some(Vec::new()));
        }
        match on_the_way.symlink_metadata() {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Ok(None),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
            Err(error) => return Err(io_error(error, &on_the_way)),
        }
    }
    let folder = source.join(relative);
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(&folder).follow_links(false).sort_by_file_name().into_iter();
    for entry in walk.filter_entry(|entry| !exclude.iter().any(|excluded| entry.path() == excluded)) {
        let entry = entry.map_err(|error| {
            let path = error.path().unwrap_or(&folder).to_path_buf();
            io_error(io::Error::other(error.to_string()), &path)
        })?;
        if entry.file_type().is_file() {
            let inside = entry.path().strip_prefix(&folder).unwrap_or(entry.path());
            files.push(inside.display().to_string());
        }
    }
    Ok(Some(files))
}

/// The entries [`write_tree`] copies, in the order it copies them: one walk for both the copy
/// and [`checkout_digest`], so that the digest covers exactly what a container gets.
/// With `git_contents` false, the files inside the top `.git` folder are passed over.
fn checkout_walker<'a>(
    source: &'a Path,
    exclude: &'a [PathBuf],
    git_contents: bool,
) -> impl Iterator<Item = walkdir::Result<walkdir::DirEntry>> + 'a {
    walkdir::WalkDir::new(source).follow_links(false).sort_by_file_name().into_iter().filter_entry(move |entry| {
        let git_inside = || {
            entry.depth() > 1 && entry.path().strip_prefix(source).is_ok_and(|relative| relative.starts_with(".git"))
        };
        !exclude.iter().any(|excluded| entry.path() == excluded) && (git_contents || !git_inside())
    })
}

/// `sha256:<hex>` of what [`write_tree`] copies of `source` into a container: each entry's
/// relative path, kind, permission bits, and a file's bytes or a link's target. Left out:
/// mtimes and owners (a fresh clone of the same commit has other ones), and the contents of
/// `.git` (its index and packs differ between clones of one commit, and `git status` rewrites
/// the index): the digest names the checkout's files, so that another clone of the same files
/// has the same one.
pub fn checkout_digest(source: &Path, exclude: &[PathBuf]) -> Result<String, EngineError> {
    use sha2::Digest;
    let io_error = |source_error: io::Error, path: &Path| EngineError::Io {
        operation: "read the checkout at".into(),
        path: path.to_path_buf(),
        source: source_error,
    };
    let mut hasher = sha2::Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    for entry in checkout_walker(source, exclude, false) {
        let entry = entry.map_err(|error| {
            let path = error.path().unwrap_or(source).to_path_buf();
            io_error(io::Error::other(error.to_string()), &path)
        })?;
        let relative = entry.path().strip_prefix(source).unwrap_or(entry.path());
        let metadata = entry.path().symlink_metadata().map_err(|error| io_error(error, entry.path()))?;
        let file_type = metadata.file_type();
        let kind: &[u8] = if file_type.is_dir() {
            b"dir"
        } else if file_type.is_symlink() {
            b"link"
        } else if file_type.is_file() {
            b"file"
        } else {
            // What `write_tree` leaves out is left out here too.
            continue;
        };
        field(relative.as_os_str().as_encoded_bytes());
        field(kind);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            field(&(metadata.permissions().mode() & 0o7777).to_le_bytes());
        }
        if file_type.is_symlink() {
            let target = fs::read_link(entry.path()).map_err(|error| io_error(error, entry.path()))?;
            field(target.as_os_str().as_encoded_bytes());
        } else if file_type.is_file() {
            let mut file = fs::File::open(entry.path()).map_err(|error| io_error(error, entry.path()))?;
            let mut content = sha2::Sha256::new();
            let mut buffer = vec![0_u8; 64 * 1024];
            loop {
                let read = file.read(&mut buffer).map_err(|error| io_error(error, entry.path()))?;
                if read == 0 {
                    break;
                }
                content.update(&buffer[..read]);
            }
            field(&content.finalize());
        }
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// Writes a tar stream that holds only the folders `folders` (absolute container paths), each
/// with mode 0777 so that a suite running as any user can write into it. Missing parents are
/// created by the engine when it unpacks; parents are deliberately not listed, so that an
/// existing parent such as `/tmp` keeps its own mode.
pub(crate) fn write_folders<W: Write>(writer: W, folders: &[&str]) -> Result<(), EngineError> {
    let mut builder = tar::Builder::new(writer);
    append_folders(&mut builder, folders)?;
    let first = folders.first().copied().unwrap_or("/");
    builder
        .into_inner()
        .map_err(|error| folder_error(error, first))?
        .flush()
        .map_err(|error| folder_error(error, first))?;
    Ok(())
}

fn folder_error(source: io::Error, folder: &str) -> EngineError {
    EngineError::Io { operation: "pack the folder".into(), path: PathBuf::from(folder), source }
}

/// Appends the entries of [`write_folders`].
fn append_folders<W: Write>(builder: &mut tar::Builder<W>, folders: &[&str]) -> Result<(), EngineError> {
    for folder in folders {
        let relative = folder.trim_start_matches('/');
        if relative.is_empty() {
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o777);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(0);
        builder
            .append_data(&mut header, format!("{relative}/"), io::empty())
            .map_err(|error| folder_error(error, folder))?;
    }
    Ok(())
}

/// Unpacks a tar stream of one folder (entries `NAME/...`) into `destination`, dropping the
/// leading folder name. Only regular files and folders are written.
///
/// With a `filter`, each file's head is read first and the file written only when the filter
/// wants it and it fits the filter's limits; the rest of a skipped file is passed over in the
/// stream, so that a 2 GB file costs reading it, never memory or disk.
pub(crate) fn unpack_results<R: Read>(
    reader: R,
    source: &str,
    destination: &Path,
    filter: Option<&ResultsFilter<'_>>,
    max_streamed: u64,
) -> Result<CopiedResults, EngineError> {
    let unsafe_archive = |message: String| EngineError::UnsafeArchive { path: source.to_owned(), message };
    let io_error = |error: io::Error, path: &Path| EngineError::Io {
        operation: "write results to".into(),
        path: path.to_path_buf(),
        source: error,
    };
    fs::create_dir_all(destination).map_err(|error| io_error(error, destination))?;
    let mut archive = tar::Archive::new(reader);
    let mut copied = CopiedResults { found: true, ..CopiedResults::default() };
    // Every file met, written or not: the hard bounds hold whatever the filter says.
    let mut files = 0usize;
    let mut total: u64 = 0;
    let mut streamed: u64 = 0;
    let entries = archive.entries().map_err(|error| unsafe_archive(format!("read the archive: {error}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| unsafe_archive(format!("read the archive: {error}")))?;
        let path = entry.path().map_err(|error| unsafe_archive(format!("bad entry name: {error}")))?.into_owned();
        let mut components = path.components();
        // The first component is the folder itself.
        components.next();
        let mut relative = PathBuf::new();
        for component in components {
            match component {
                Component::Normal(part) => relative.push(part),
                Component::CurDir => {}
                _ => return Err(unsafe_archive(format!("entry `{}` leaves the results folder", path.display()))),
            }
        }
        let target = destination.join(&relative);
        let entry_type = entry.header().entry_type();
        if entry_type.is_dir() {
            fs::create_dir_all(&target).map_err(|error| io_error(error, &target))?;
        } else if entry_type.is_file() {
            let size = entry.header().size().unwrap_or(0);
            files += 1;
            if files > MAX_RESULT_FILES {
                return Err(unsafe_archive(format!("more than {MAX_RESULT_FILES} files")));
            }
            let mut head = Vec::new();
            streamed = streamed.saturating_add(size);
            if filter.is_some() && streamed > max_streamed {
                copied.stopped_at =
                    Some(SkippedFile { path: relative.display().to_string(), size, reason: SkipReason::OverLimits });
                return Ok(copied);
            }
            if let Some(filter) = filter {
                (&mut entry)
                    .take(u64::try_from(filter.head_bytes).unwrap_or(u64::MAX))
                    .read_to_end(&mut head)
                    .map_err(|error| unsafe_archive(format!("read `{}`: {error}", relative.display())))?;
                let reason = if !(filter.wanted)(&head) {
                    Some(SkipReason::NotWanted)
                } else if copied.files >= filter.max_files || copied.bytes.saturating_add(size) > filter.max_bytes {
                    Some(SkipReason::OverLimits)
                } else {
                    None
                };
                if let Some(reason) = reason {
                    // The archive reader passes over the rest of the entry on the next one.
                    copied.skipped.push(SkippedFile { path: relative.display().to_string(), size, reason });
                    continue;
                }
            } else {
                total += size;
                if total > MAX_RESULT_BYTES {
                    return Err(unsafe_archive(format!("more than {} GiB", MAX_RESULT_BYTES / (1024 * 1024 * 1024))));
                }
            }
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|error| io_error(error, parent))?;
            }
            let mut file = fs::File::create(&target).map_err(|error| io_error(error, &target))?;
            file.write_all(&head).map_err(|error| io_error(error, &target))?;
            io::copy(&mut entry, &mut file).map_err(|error| io_error(error, &target))?;
            copied.files += 1;
            copied.bytes += size;
        }
        // Links, devices and fifos are skipped: a results folder holds files.
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_files_and_drops_excluded() {
        let source = tempfile::tempdir().unwrap();
        fs::create_dir_all(source.path().join("a/b")).unwrap();
        fs::write(source.path().join("a/b/c.txt"), "hello").unwrap();
        fs::create_dir_all(source.path().join(".imagegate")).unwrap();
        fs::write(source.path().join(".imagegate/state.db"), "x").unwrap();
        let mut bytes = Vec::new();
        write_tree(&mut bytes, source.path(), Path::new("results"), &[source.path().join(".imagegate")]).unwrap();
        let destination = tempfile::tempdir().unwrap();
        let copied =
            unpack_results(bytes.as_slice(), "/results", destination.path(), None, MAX_STREAMED_BYTES).unwrap();
        assert_eq!(copied.files, 1);
        assert_eq!(fs::read_to_string(destination.path().join("a/b/c.txt")).unwrap(), "hello");
        assert!(!destination.path().join(".imagegate").exists());
    }

    #[test]
    fn one_stream_holds_the_checkout_then_the_folders_made_writable() {
        let source = tempfile::tempdir().unwrap();
        fs::create_dir_all(source.path().join("out")).unwrap();
        fs::write(source.path().join("out/keep.txt"), "kept").unwrap();
        fs::create_dir_all(source.path().join(".imagegate")).unwrap();
        let mut bytes = Vec::new();
        let exclude = [source.path().join(".imagegate")];
        write_tree_and_folders(&mut bytes, source.path(), Path::new("src"), &exclude, &["/src/out", "/results", "/"])
            .unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, u32)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                (entry.path().unwrap().display().to_string(), entry.header().mode().unwrap() & 0o777)
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["src/", "src/out", "src/out/keep.txt", "src/out/", "results/"]);
        // A folder the checkout has too ends writable: its entry comes after the checkout's.
        assert_eq!(entries[3].1, 0o777);
        assert_eq!(entries[4].1, 0o777);
    }

    #[test]
    fn the_checkout_says_which_of_its_files_land_in_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        fs::create_dir_all(root.join("out/deep")).unwrap();
        fs::create_dir_all(root.join("state")).unwrap();
        fs::write(root.join("out/deep/old.xml"), "x").unwrap();
        fs::write(root.join("out/a.txt"), "x").unwrap();
        fs::write(root.join("state/run.log"), "x").unwrap();
        fs::write(root.join("top.txt"), "x").unwrap();
        let exclude = [root.join("state")];
        let files = |relative: &str| checkout_files_in(&root, &exclude, Path::new(relative)).unwrap();
        assert_eq!(files("out"), Some(vec!["a.txt".to_owned(), "deep/old.xml".to_owned()]));
        assert_eq!(files(""), Some(vec!["out/a.txt".to_owned(), "out/deep/old.xml".to_owned(), "top.txt".to_owned()]));
        // Not copied, or not there: nothing.
        assert_eq!(files("state"), Some(vec![]));
        assert_eq!(files("missing/results"), Some(vec![]));
        // A link or a file on the way: the container decides where the folder is.
        std::os::unix::fs::symlink(root.join("out"), root.join("linked")).unwrap();
        assert_eq!(files("linked/deep"), None);
        assert_eq!(files("top.txt/results"), None);
    }

    #[test]
    fn the_checkout_digest_follows_what_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(root.join("state")).unwrap();
        fs::write(root.join("a.txt"), "one").unwrap();
        fs::write(root.join(".git/index"), "stat data").unwrap();
        let exclude = [root.join("state")];
        let first = checkout_digest(&root, &exclude).unwrap();
        assert_eq!(first, checkout_digest(&root, &exclude).unwrap());
        // Not copied, or not the checkout's files: no change.
        fs::write(root.join("state/run.log"), "x").unwrap();
        fs::write(root.join(".git/index"), "other stat data").unwrap();
        assert_eq!(first, checkout_digest(&root, &exclude).unwrap());
        // An uncommitted file, an edit, a rename each change it.
        fs::write(root.join("new.txt"), "").unwrap();
        let added = checkout_digest(&root, &exclude).unwrap();
        assert_ne!(first, added);
        fs::write(root.join("a.txt"), "two").unwrap();
        let edited = checkout_digest(&root, &exclude).unwrap();
        assert_ne!(added, edited);
        fs::rename(root.join("new.txt"), root.join("renamed.txt")).unwrap();
        assert_ne!(edited, checkout_digest(&root, &exclude).unwrap());
    }

    #[test]
    fn links_in_results_are_not_written() {
        let mut bytes = Vec::new();
        {
            let mut builder = tar::Builder::new(&mut bytes);
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, "results/evil", "/etc/passwd").unwrap();
            let mut header = tar::Header::new_gnu();
            header.set_size(2);
            header.set_mode(0o644);
            builder.append_data(&mut header, "results/ok.xml", &b"ok"[..]).unwrap();
            builder.finish().unwrap();
        }
        let destination = tempfile::tempdir().unwrap();
        let copied =
            unpack_results(bytes.as_slice(), "/results", destination.path(), None, MAX_STREAMED_BYTES).unwrap();
        assert_eq!(copied.files, 1);
        assert!(destination.path().join("evil").symlink_metadata().is_err());
    }

    /// A tar stream of `results/NAME` files.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, format!("results/{name}"), *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_filter_writes_only_wanted_files_within_its_limits_and_lists_the_rest() {
        let junk = vec![0_u8; 300_000];
        let bytes = archive(&[
            ("a.xml", b"<testsuite/>"),
            ("big.xml", &[b"<testsuite>".as_slice(), &[b' '; 100]].concat()),
            ("core", &junk),
            ("c.xml", b"<testsuite/>"),
            ("d.xml", b"<testsuite/>"),
        ]);
        let wanted = |head: &[u8]| head.starts_with(b"<testsuite");
        let filter = ResultsFilter { wanted: &wanted, head_bytes: 16, max_bytes: 30, max_files: 2 };
        let destination = tempfile::tempdir().unwrap();
        let copied =
            unpack_results(bytes.as_slice(), "/results", destination.path(), Some(&filter), MAX_STREAMED_BYTES)
                .unwrap();
        assert_eq!((copied.files, copied.bytes), (2, 24));
        let skipped: Vec<(&str, u64, SkipReason)> =
            copied.skipped.iter().map(|file| (file.path.as_str(), file.size, file.reason)).collect();
        assert_eq!(
            skipped,
            [
                ("big.xml", 111, SkipReason::OverLimits),
                ("core", 300_000, SkipReason::NotWanted),
                ("d.xml", 12, SkipReason::OverLimits),
            ]
        );
        assert_eq!(fs::read(destination.path().join("a.xml")).unwrap(), b"<testsuite/>");
        assert_eq!(fs::read(destination.path().join("c.xml")).unwrap(), b"<testsuite/>");
        for absent in ["big.xml", "core", "d.xml"] {
            assert!(!destination.path().join(absent).exists(), "{absent}");
        }
    }

    #[test]
    fn a_filtered_copy_stops_where_the_stream_passes_its_bound() {
        let junk = vec![0_u8; 5000];
        let bytes = archive(&[("a.xml", b"<testsuite/>"), ("core", &junk), ("z.xml", b"<testsuite/>")]);
        let wanted = |head: &[u8]| head.starts_with(b"<testsuite");
        let filter = ResultsFilter { wanted: &wanted, head_bytes: 16, max_bytes: 1000, max_files: 10 };
        let destination = tempfile::tempdir().unwrap();
        let copied = unpack_results(bytes.as_slice(), "/results", destination.path(), Some(&filter), 4000).unwrap();
        assert_eq!(copied.files, 1);
        let stopped = copied.stopped_at.expect("stopped");
        assert_eq!((stopped.path.as_str(), stopped.size), ("core", 5000));
        assert!(!destination.path().join("z.xml").exists());
    }
}
