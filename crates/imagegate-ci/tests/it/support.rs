//! Loading the fixtures in `tests/fixtures/`: `PROVIDER/SCENARIO.env` holds the environment,
//! one `NAME=VALUE` a line (`#` starts a comment line), and for GitHub `PROVIDER/SCENARIO.json`
//! is the event payload, served at whatever path `GITHUB_EVENT_PATH` names.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use imagegate_ci::{CiError, CiRun};

pub fn fixture_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn environment(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) =
                line.split_once('=').unwrap_or_else(|| panic!("a fixture line is NAME=VALUE: {line:?}"));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// Detects the run of one fixture, e.g. `github/pull_request_fork`.
pub fn detect_fixture(name: &str) -> Result<CiRun, CiError> {
    let folder = fixture_folder();
    let text = fs::read_to_string(folder.join(format!("{name}.env")))
        .unwrap_or_else(|error| panic!("fixture {name}.env should be readable: {error}"));
    let environment = environment(&text);
    let payload = folder.join(format!("{name}.json"));
    let event_path = environment.get("GITHUB_EVENT_PATH").cloned();
    imagegate_ci::detect(&environment, &move |path: &Path| {
        if event_path.as_deref().map(Path::new) == Some(path) {
            fs::read(&payload)
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, format!("{} is not a fixture", path.display())))
        }
    })
}
