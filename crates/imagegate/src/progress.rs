//! Progress on stderr: a spinner on a terminal, timestamped lines elsewhere (CI logs).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use imagegate_gate::Progress;
use indicatif::{ProgressBar, ProgressStyle};

pub enum StderrProgress {
    Quiet,
    Lines,
    Spinner(Mutex<Option<ProgressBar>>),
}

impl StderrProgress {
    pub fn new(quiet: bool) -> Self {
        if quiet {
            StderrProgress::Quiet
        } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            StderrProgress::Spinner(Mutex::new(None))
        } else {
            StderrProgress::Lines
        }
    }

    fn line(&self, image: &str, message: &str) {
        let now = jiff::Timestamp::now();
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "[{}] {image}: {message}", now.strftime("%H:%M:%SZ"));
    }

    /// Stops any spinner, so that what follows on the terminal is not overdrawn.
    pub fn clear(&self) {
        if let StderrProgress::Spinner(spinner) = self
            && let Some(bar) = spinner.lock().ok().and_then(|mut spinner| spinner.take())
        {
            bar.finish_and_clear();
        }
    }
}

impl Progress for StderrProgress {
    fn start(&self, image: &str, message: &str) {
        match self {
            StderrProgress::Quiet => {}
            StderrProgress::Lines => self.line(image, message),
            StderrProgress::Spinner(spinner) => {
                if let Ok(mut spinner) = spinner.lock() {
                    let bar = spinner.get_or_insert_with(|| {
                        let bar = ProgressBar::new_spinner();
                        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
                            bar.set_style(style);
                        }
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bar
                    });
                    bar.set_message(format!("{image}: {message}"));
                }
            }
        }
    }

    fn finish(&self, image: &str, message: &str) {
        match self {
            StderrProgress::Quiet => {}
            StderrProgress::Lines => self.line(image, message),
            StderrProgress::Spinner(spinner) => {
                if let Ok(spinner) = spinner.lock() {
                    match spinner.as_ref() {
                        Some(bar) => bar.println(format!("✓ {image}: {message}")),
                        None => eprintln!("✓ {image}: {message}"),
                    }
                }
            }
        }
    }

    fn note(&self, image: &str, message: &str) {
        match self {
            StderrProgress::Quiet => {}
            StderrProgress::Lines => self.line(image, message),
            StderrProgress::Spinner(spinner) => {
                if let Ok(spinner) = spinner.lock() {
                    match spinner.as_ref() {
                        Some(bar) => bar.println(format!("· {image}: {message}")),
                        None => eprintln!("· {image}: {message}"),
                    }
                }
            }
        }
    }
}
