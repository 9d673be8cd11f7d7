//! Running short helper commands (openssl, htpasswd, curl) with a time limit.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command left behind.
pub(crate) struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `command` with no standard input, waits at most `timeout`, and fails with a message that
/// shows the command and its standard error unless it exits with status 0.
pub(crate) fn run(command: &mut Command, timeout: Duration) -> Result<Output, String> {
    let shown = format!("{command:?}");
    let (status, output) = run_status(command, timeout)?;
    if !status.success() {
        return Err(format!("{shown} failed ({status}): {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(output)
}

/// Like [`run`], but a non-zero exit status is returned instead of being an error.
pub(crate) fn run_status(command: &mut Command, timeout: Duration) -> Result<(ExitStatus, Output), String> {
    run_with_input(command, &[], timeout)
}

/// Like [`run_status`], with `input` written to the command's standard input (then closed).
pub(crate) fn run_with_input(
    command: &mut Command,
    input: &[u8],
    timeout: Duration,
) -> Result<(ExitStatus, Output), String> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(if input.is_empty() { Stdio::null() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        // written from a thread so a command that does not read cannot block us past `timeout`
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let status = wait_bounded(&mut child, timeout)
        .map_err(|e| format!("{shown}: {e}"))?
        .ok_or_else(|| format!("{shown} did not finish within {timeout:?}; killed it"))?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok((status, Output { stdout, stderr }))
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buffer = Vec::new();
        if let Some(mut pipe) = pipe {
            // a read error only shortens what is shown of the output
            let _ = pipe.read_to_end(&mut buffer);
        }
        buffer
    })
}

/// Waits for `child` at most `timeout`; kills and reaps it and returns `None` when it is late.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for process {}: {e}", child.id())),
        }
    }
}
