//! The containers this process has created and not yet removed, so that an interrupt (Ctrl-C,
//! a CI runner cancelling the job) can remove them before the process exits.

use std::process::{Command, Stdio};
use std::sync::Mutex;

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
