//! Snapshot tests over the corpus of real-world JUnit files in `tests/fixtures/junit/`: each
//! file is detected, parsed, and its result set snapshotted as JSON, so that any change in how a
//! writer's output is read shows up in review as a changed snapshot.

use std::fs;
use std::path::{Path, PathBuf};

use imagegate_results::parse_detected;

fn fixture_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit")
}

fn snapshot(name: &str) {
    let file_name = format!("{name}.xml");
    let bytes = fs::read(fixture_directory().join(&file_name)).expect("the fixture should be readable");
    let results = parse_detected(&file_name, &bytes)
        .expect("the fixture should parse")
        .expect("the fixture should be detected as JUnit");
    insta::assert_json_snapshot!(name, results);
}

/// One test per fixture, so that a changed snapshot names its fixture, and the list of them
/// that `every_fixture_has_a_test` checks against the folder.
macro_rules! corpus {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                snapshot(stringify!($name));
            }
        )*

        const FIXTURES: &[&str] = &[$(stringify!($name)),*];
    };
}

corpus!(nextest, phpunit, pytest, subunit2junitxml, surefire, truncated);

#[test]
fn every_fixture_has_a_test() {
    let mut on_disk: Vec<String> = fs::read_dir(fixture_directory())
        .expect("the fixture folder should be readable")
        .map(|entry| entry.expect("the fixture folder should be listable").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "xml"))
        .filter_map(|path| path.file_stem().map(|stem| stem.to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = FIXTURES.to_vec();
    listed.sort_unstable();
    assert_eq!(on_disk, listed, "add each fixture to the corpus! list above");
}
