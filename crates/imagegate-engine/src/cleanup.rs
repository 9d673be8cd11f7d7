//! The containers this process has created and not yet removed, so that an interrupt (Ctrl-C,
//! a CI runner cancelling the job) can remove them before the process exits.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::cli::Client;

/// (client program, container id)
static LIVE: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

pub(crate) fn register(program: &str, container: &str) {
    if let Ok(mut live) = LIVE.lock() {
        live.push((program.to_owned(), container.to_owned()));
    }
}

pub(crate) fn unregister(container: &str) {
    if let Ok(mut live) = LIVE.lock() {
        live.retain(|(_, id)| id != container);
    }
}

/// Removals running beside the work that follows them, not yet waited for.
static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Removes `container` on a thread of its own: what comes next (reading the results, the next
/// run) need not wait for the engine. [`finish_removals`] waits for them all; until a removal
/// is done the container stays registered, so an interrupt still removes it.
pub(crate) fn remove_in_background(client: &Client, container: &str) {
    let (thread_client, thread_container) = (client.clone(), container.to_owned());
    let spawned = std::thread::Builder::new().name("remove-container".into()).spawn(move || {
        let _ = thread_client.remove_container(&thread_container);
    });
    match spawned {
        Ok(handle) => match PENDING.lock() {
            Ok(mut pending) => pending.push(handle),
            Err(_) => {
                let _ = handle.join();
            }
        },
        Err(_) => {
            let _ = client.remove_container(container);
        }
    }
}

/// Waits for every removal started by [`remove_in_background`]. A command calls this before it
/// ends, so that no container outlives it.
pub fn finish_removals() {
    let pending = match PENDING.lock() {
        Ok(mut pending) => std::mem::take(&mut *pending),
        Err(_) => return,
    };
    for handle in pending {
        let _ = handle.join();
    }
}

/// Removes every container this process created and has not removed yet. Called from the
/// interrupt handler; returns how many were removed.
pub fn remove_live_containers() -> usize {
    let containers = match LIVE.lock() {
        Ok(mut live) => std::mem::take(&mut *live),
        Err(_) => return 0,
    };
    let mut removed = 0;
    for (program, container) in containers {
        let status = Command::new(&program)
            .args(["rm", "-f", "-v", &container])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if status.is_ok_and(|status| status.success()) {
            removed += 1;
        }
    }
    removed
}
