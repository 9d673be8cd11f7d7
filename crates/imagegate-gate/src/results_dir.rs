//! Reading a copied-out results folder into one result set.

use std::fs;
use std::path::Path;

use imagegate_results::ResultSet;

/// A results file larger than this is not read whole; it is marked incomplete instead.
const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Reads every results file under `folder` (formats detected by content; other files are
/// ignored). A file that fails to parse marks the set incomplete with the parser's message,
/// which names the file and the position.
pub fn read_results_dir(folder: &Path, display_root: &str) -> ResultSet {
    let mut set = ResultSet::new();
    let mut files: Vec<_> = walkdir::WalkDir::new(folder)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .collect();
    files.sort_by(|left, right| left.path().cmp(right.path()));
    let mut recognised = 0usize;
    for entry in files {
        let relative = entry.path().strip_prefix(folder).unwrap_or(entry.path());
        let name = format!("{}/{}", display_root.trim_end_matches('/'), relative.display());
        let size = entry.metadata().map(|metadata| metadata.len()).unwrap_or(0);
        if size > MAX_FILE_BYTES {
            set.mark_incomplete(&name, format!("file of {size} bytes is larger than imagegate reads"));
            continue;
        }
        let file = match fs::File::open(entry.path()) {
            Ok(file) => file,
            Err(error) => {
                set.mark_incomplete(&name, format!("could not read: {error}"));
                continue;
            }
        };
        // Streamed: a JUnit file of hundreds of megabytes is never held whole.
        match imagegate_results::parse_detected_reader(&name, file) {
            Ok(Some(parsed)) => {
                recognised += 1;
                set.merge_file(parsed);
            }
            Ok(None) => {}
            Err(error) => set.mark_incomplete(&name, error.to_string()),
        }
    }
    if recognised == 0 && set.is_complete() {
        set.mark_incomplete(display_root, "no test results file found (JUnit XML expected)");
    }
    set
}
