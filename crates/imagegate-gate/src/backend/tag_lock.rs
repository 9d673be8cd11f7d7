//! The machine-wide lock on one engine's stable tag: what serialises local pointer moves.
//!
//! The local store's own write lock only covers the processes that share its state folder, but
//! several checkouts (each with its own `.imagegate`) may drive one engine: two of them
//! promoting at once would both read the old tag and both move it. So a local move holds an
//! advisory lock (`flock`, through [`std::fs::File::lock`]) on a file named by the engine's
//! identity (docker's daemon id, podman's storage root) and the stable tag, in a folder every
//! process on the machine sees: `$IMAGEGATE_LOCK_DIR`, else `imagegate-locks` in the system's
//! temporary folder (`/tmp/imagegate-locks`). The kernel releases the lock when its holder
//! exits, however it exits, so a killed promoter never leaves the tag locked.
//!
//! Processes in different mount namespaces (CI jobs in containers sharing the host's docker
//! socket) see different temporary folders: point `IMAGEGATE_LOCK_DIR` at a folder they share.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::GateError;

/// The environment variable that moves the lock folder.
pub const LOCK_DIR_VARIABLE: &str = "IMAGEGATE_LOCK_DIR";

/// How long a move waits for another process's move of the same tag.
const PATIENCE: Duration = Duration::from_secs(120);
/// How often the wait asks whether it is still wanted.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The folder holding the lock files.
pub fn lock_dir() -> PathBuf {
    match std::env::var_os(LOCK_DIR_VARIABLE) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join("imagegate-locks"),
    }
}

/// The lock file of `stable_tag` in the engine `engine`: readable for people (the tag's
/// characters that are safe in a file name), unique by a digest of both.
pub(crate) fn lock_path(dir: &Path, engine: &str, stable_tag: &str) -> PathBuf {
    let digest = Sha256::digest(format!("{engine}\n{stable_tag}").as_bytes());
    let hex: String = digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
    let readable: String = stable_tag
        .chars()
        .map(|character| if character.is_ascii_alphanumeric() || "._-".contains(character) { character } else { '_' })
        .take(80)
        .collect();
    dir.join(format!("{readable}-{hex}.lock"))
}

/// A held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub(crate) struct TagLock {
    _file: File,
}

fn io_error<'p>(operation: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> GateError + 'p {
    move |source| GateError::Io { operation, path: path.to_path_buf(), source }
}

/// Opens the folder and the lock file, made usable by every user of the machine: the engine
/// (docker's daemon) is shared by all of them.
fn open(path: &Path) -> Result<File, GateError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(io_error("create the lock folder", dir))?;
        // Like /tmp: anyone may add a lock file, nobody may remove another's.
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777));
    }
    let opened = OpenOptions::new().read(true).write(true).create(true).mode(0o666).truncate(false).open(path);
    match opened {
        Ok(file) => Ok(file),
        // Another user's lock file: a lock on a read-only descriptor is as good.
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            File::open(path).map_err(io_error("open the lock file", path))
        }
        Err(error) => Err(io_error("open the lock file", path)(error)),
    }
}

/// Takes the lock of `stable_tag` in engine `engine`, waiting for another holder at most two
/// minutes. While waiting, `still_wanted` is asked about once a second (its error ends the
/// wait) and `waiting` is told once that the wait began.
pub(crate) fn acquire(
    engine: &str,
    stable_tag: &str,
    still_wanted: &dyn Fn() -> Result<(), GateError>,
    waiting: &dyn Fn(&Path),
) -> Result<TagLock, GateError> {
    acquire_in(&lock_dir(), engine, stable_tag, still_wanted, waiting)
}

fn acquire_in(
    dir: &Path,
    engine: &str,
    stable_tag: &str,
    still_wanted: &dyn Fn() -> Result<(), GateError>,
    waiting: &dyn Fn(&Path),
) -> Result<TagLock, GateError> {
    let path = lock_path(dir, engine, stable_tag);
    let file = open(&path)?;
    let started = Instant::now();
    let mut last_check = started;
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(TagLock { _file: file }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(error)) => return Err(io_error("lock", &path)(error)),
        }
        if !told {
            waiting(&path);
            told = true;
        }
        if started.elapsed() >= PATIENCE {
            return Err(GateError::PointerLocked {
                stable_tag: stable_tag.to_owned(),
                path,
                waited_seconds: PATIENCE.as_secs(),
            });
        }
        if last_check.elapsed() >= CHECK_EVERY {
            still_wanted()?;
            last_check = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_files_differ_by_engine_and_tag_and_stay_readable() {
        let dir = Path::new("/locks");
        let docker = lock_path(dir, "docker:ABC", "acme/ci:stable");
        assert!(docker.file_name().unwrap().to_string_lossy().starts_with("acme_ci_stable-"));
        assert_ne!(docker, lock_path(dir, "docker:DEF", "acme/ci:stable"));
        assert_ne!(docker, lock_path(dir, "docker:ABC", "acme/ci:next"));
        assert_eq!(docker, lock_path(dir, "docker:ABC", "acme/ci:stable"));
    }

    #[test]
    fn a_second_holder_waits_and_an_unwanted_wait_ends_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire_in(dir.path(), "engine", "acme/ci:stable", &|| Ok(()), &|_| {}).unwrap();
        let told = std::cell::Cell::new(false);
        let gone = || Err(GateError::Interrupted);
        let outcome = acquire_in(dir.path(), "engine", "acme/ci:stable", &gone, &|_| told.set(true));
        assert!(matches!(outcome, Err(GateError::Interrupted)), "{outcome:?}");
        assert!(told.get());
        // Another tag of the same engine is not held up.
        acquire_in(dir.path(), "engine", "acme/ci:next", &gone, &|_| {}).unwrap();
        drop(held);
        acquire_in(dir.path(), "engine", "acme/ci:stable", &gone, &|_| {}).unwrap();
    }
}
