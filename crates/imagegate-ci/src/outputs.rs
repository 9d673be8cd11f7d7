//! The crate's only file writes: carrying out a [`Publication`] planned by
//! [`crate::publication::plan`]. What it prints on stdout is left to the caller, which owns
//! stdout.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::OutputError;
use crate::publication::{FileWrite, Publication, WriteMode};

/// Writes each file of `publication`, in order, stopping at the first failure.
pub fn write_files(publication: &Publication) -> Result<(), OutputError> {
    publication.files.iter().try_for_each(write_file)
}

/// Appends to or replaces one file, as its mode says.
pub fn write_file(file: &FileWrite) -> Result<(), OutputError> {
    match file.mode {
        WriteMode::Append => append(&file.path, &file.text),
        WriteMode::Replace => replace(&file.path, &file.text),
    }
}

/// Appends `text` to the file at `path`, creating it if needed. The provider's own files
/// (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`) are shared with the job's other steps, so they
/// are only ever appended to, in one write.
pub fn append(path: &Path, text: &str) -> Result<(), OutputError> {
    let io_error = |operation| move |source| OutputError::Io { operation, path: path.to_owned(), source };
    let mut file = OpenOptions::new().create(true).append(true).open(path).map_err(io_error("open for appending"))?;
    file.write_all(text.as_bytes()).map_err(io_error("append to"))
}

/// Writes `text` as the whole of the file at `path`, creating its folder if needed.
pub fn replace(path: &Path, text: &str) -> Result<(), OutputError> {
    if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        fs::create_dir_all(folder).map_err(|source| OutputError::Io {
            operation: "create the folder",
            path: folder.to_owned(),
            source,
        })?;
    }
    fs::write(path, text).map_err(|source| OutputError::Io { operation: "write", path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appending_keeps_what_other_steps_wrote() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("set_output");
        fs::write(&path, "earlier=step\n").expect("seed");
        append(&path, "image-debian=acme/debian:stable\n").expect("appends");
        assert_eq!(fs::read_to_string(&path).expect("reads"), "earlier=step\nimage-debian=acme/debian:stable\n");
    }

    #[test]
    fn replacing_creates_the_folder_and_overwrites() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("imagegate-workspace/imagegate.env");
        replace(&path, "old\n").expect("writes");
        replace(&path, "new\n").expect("writes");
        assert_eq!(fs::read_to_string(&path).expect("reads"), "new\n");
    }

    #[test]
    fn a_publication_writes_each_file_by_its_mode() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let appended = folder.path().join("summary.md");
        fs::write(&appended, "# before\n").expect("seed");
        let publication = Publication {
            files: vec![
                FileWrite { path: appended.clone(), mode: WriteMode::Append, text: "after\n".to_owned() },
                FileWrite {
                    path: folder.path().join("out/ci.env"),
                    mode: WriteMode::Replace,
                    text: "A=b\n".to_owned(),
                },
            ],
            stdout: String::new(),
            junit: None,
        };
        write_files(&publication).expect("writes");
        assert_eq!(fs::read_to_string(&appended).expect("reads"), "# before\nafter\n");
        assert_eq!(fs::read_to_string(folder.path().join("out/ci.env")).expect("reads"), "A=b\n");
    }

    #[test]
    fn a_write_that_fails_names_the_path() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let blocker = folder.path().join("file");
        fs::write(&blocker, "").expect("seed");
        let error = replace(&blocker.join("below/imagegate.env"), "x").expect_err("cannot write below a file");
        assert!(error.to_string().starts_with(&format!("create the folder `{}`: ", blocker.join("below").display())));
    }
}
