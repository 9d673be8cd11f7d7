//! Who made a test container or a temporary file, and removing what dead imagegate processes
//! left behind.
//!
//! A process killed with SIGKILL (an OOM kill, a CI runner giving up, a machine losing power)
//! runs no cleanup: its test containers and its temporary files (`imagegate-iid-*`,
//! `imagegate-auth-*`) stay. Each of them therefore names its maker — host, boot, process id
//! and the process's start time, which together tell a live process from a reused pid — and
//! every imagegate that opens an engine removes those whose maker is gone. A live concurrent
//! imagegate's containers are never removed; neither are those made on another host that
//! shares the engine (`DOCKER_HOST`), whose processes this host cannot see.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{Engine, EngineError};

/// The label naming the process that created a container (`HOST/BOOT/PID/START`).
pub const LABEL_OWNER: &str = "io.imagegate.owner";

/// The prefixes of imagegate's temporary files and folders in the system's temporary folder.
const TEMPORARY_PREFIXES: [&str; 3] = ["imagegate-iid-", "imagegate-auth-", "imagegate-transplant-"];

/// A process, as it is named on what it creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    /// The kernel's boot id: the same host after a reboot runs none of the processes before it.
    pub boot: String,
    pub pid: u32,
    /// The process's start time in clock ticks after boot (`/proc/PID/stat`, field 22): a pid
    /// reused by a later process has another.
    pub start: u64,
}

/// Whether the process that made something still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Dead,
    /// Made on another host: nothing here can tell.
    Unknown,
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|text| text.trim().to_owned()).unwrap_or_default()
}

/// The start time of process `pid`, `None` when there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Owner {
    /// This process.
    pub fn current() -> &'static Owner {
        static CURRENT: OnceLock<Owner> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let pid = std::process::id();
            Owner {
                host: read_trimmed("/proc/sys/kernel/hostname"),
                boot: read_trimmed("/proc/sys/kernel/random/boot_id"),
                pid,
                start: start_time(pid).unwrap_or(0),
            }
        })
    }

    /// The label value: `HOST/BOOT/PID/START`.
    pub fn label(&self) -> String {
        format!("{}/{}/{}/{}", self.host, self.boot, self.pid, self.start)
    }

    pub fn parse(label: &str) -> Option<Owner> {
        let mut parts = label.rsplitn(4, '/');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let boot = parts.next()?.to_owned();
        let host = parts.next()?.to_owned();
        Some(Owner { host, boot, pid, start })
    }

    /// The part of a temporary file's name that names its maker: `PID-START`.
    pub(crate) fn file_tag(&self) -> String {
        format!("{}-{}", self.pid, self.start)
    }

    /// Whether this owner still runs, seen from this process.
    pub fn liveness(&self) -> Liveness {
        let here = Owner::current();
        if self.host != here.host {
            return Liveness::Unknown;
        }
        if self.boot != here.boot {
            return Liveness::Dead;
        }
        if start_time(self.pid) == Some(self.start) { Liveness::Alive } else { Liveness::Dead }
    }
}

/// The start of the name of a temporary file or folder this process makes for `purpose` (one of
/// the purposes in `TEMPORARY_PREFIXES`):
/// a later process removes it once this one is gone.
pub fn temporary_prefix(purpose: &str) -> String {
    format!("imagegate-{purpose}-{}-", Owner::current().file_tag())
}

/// Whether the maker of temporary file `name` (`imagegate-PURPOSE-PID-START-…`, or
/// `imagegate-PURPOSE-PID-COUNTER` as older versions named them) is gone.
fn temporary_is_orphaned(name: &str) -> bool {
    let Some(rest) = TEMPORARY_PREFIXES.iter().find_map(|prefix| name.strip_prefix(prefix)) else {
        return false;
    };
    let mut parts = rest.split('-');
    let Some(pid) = parts.next().and_then(|pid| pid.parse::<u32>().ok()) else {
        return false;
    };
    let start = parts.next().and_then(|start| start.parse::<u64>().ok());
    match (start_time(pid), parts.next()) {
        (None, _) => true,
        // Named with the start time: the pid may have been reused since.
        (Some(running), Some(_)) => start.is_some_and(|start| start != running),
        // An older name without it: a running process with that pid may be its maker.
        (Some(_), None) => false,
    }
}

/// What [`remove_leftovers`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Leftovers {
    pub containers: Vec<String>,
    /// Experiment images (a gate's transplants) of dead makers.
    pub images: Vec<String>,
    pub files: Vec<PathBuf>,
}

/// Removes the test containers, experiment images and temporary files of imagegate processes that no longer run.
/// Failures to remove are ignored: the next start tries again.
pub fn remove_leftovers(engine: &dyn Engine) -> Result<Leftovers, EngineError> {
    let containers = remove_leftover_containers(engine)?;
    let (images, files) = remove_leftover_images_and_files(engine);
    Ok(Leftovers { containers, images: images?, files })
}

/// Removes the test containers of imagegate processes that no longer run. Done before a
/// command makes its own: a dead process whose pid this one reuses named its containers alike.
pub fn remove_leftover_containers(engine: &dyn Engine) -> Result<Vec<String>, EngineError> {
    let mut removed = Vec::new();
    for (container, label) in engine.containers_by_owner()? {
        let dead = Owner::parse(&label).is_some_and(|owner| owner.liveness() == Liveness::Dead);
        if dead && engine.remove_container(&container).is_ok() {
            removed.push(container);
        }
    }
    Ok(removed)
}

/// Removes the experiment images and temporary files of imagegate processes that no longer
/// run. Nothing this process makes can be taken for them (their names and labels carry their
/// maker), so this may run beside the command's own work.
pub fn remove_leftover_images_and_files(engine: &dyn Engine) -> (Result<Vec<String>, EngineError>, Vec<PathBuf>) {
    let images = engine.images_by_owner().map(|images| {
        images
            .into_iter()
            .filter(|(image, label)| {
                Owner::parse(label).is_some_and(|owner| owner.liveness() == Liveness::Dead)
                    && engine.remove_image(image).is_ok()
            })
            .map(|(image, _)| image)
            .collect()
    });
    (images, remove_orphaned_temporaries(&std::env::temp_dir()))
}

fn remove_orphaned_temporaries(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !temporary_is_orphaned(&name.to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        // Never follow a link: only imagegate's own files and folders go.
        let outcome = match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(error) => Err(error),
        };
        if outcome.is_ok() {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_its_label_reads_back() {
        let here = Owner::current();
        assert!(here.start > 0);
        assert_eq!(Owner::parse(&here.label()).as_ref(), Some(here));
        assert_eq!(here.liveness(), Liveness::Alive);
    }

    #[test]
    fn a_reused_pid_another_boot_or_another_host_are_told_apart() {
        let here = Owner::current();
        let reused = Owner { start: here.start + 1, ..here.clone() };
        assert_eq!(reused.liveness(), Liveness::Dead);
        let before_reboot = Owner { boot: "another-boot".to_owned(), ..here.clone() };
        assert_eq!(before_reboot.liveness(), Liveness::Dead);
        let elsewhere = Owner { host: "another-host".to_owned(), start: 1, ..here.clone() };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
        assert_eq!(Owner::parse("not a label"), None);
    }

    #[test]
    fn only_temporaries_of_dead_processes_are_removed() {
        let folder = tempfile::tempdir().unwrap();
        let here = Owner::current();
        // A pid above the kernel's maximum never runs.
        let dead = "imagegate-iid-4194305-77-0";
        let mine = format!("imagegate-iid-{}-0", here.file_tag());
        let reused = format!("imagegate-auth-{}-{}-x1y2", here.pid, here.start + 1);
        let old_style_dead = "imagegate-iid-4194305-3";
        let other = "someone-else-4194305-1-0";
        for name in [dead, mine.as_str(), old_style_dead, other] {
            std::fs::write(folder.path().join(name), "sha256:x").unwrap();
        }
        std::fs::create_dir(folder.path().join(&reused)).unwrap();
        std::fs::write(folder.path().join(&reused).join("config.json"), "{}").unwrap();
        let mut removed: Vec<String> = remove_orphaned_temporaries(folder.path())
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        removed.sort();
        let mut expected = vec![dead.to_owned(), old_style_dead.to_owned(), reused];
        expected.sort();
        assert_eq!(removed, expected);
        assert!(folder.path().join(&mine).exists() && folder.path().join(other).exists());
    }
}
