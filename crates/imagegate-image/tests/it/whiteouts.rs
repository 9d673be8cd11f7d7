//! Deletions made by real builds: a later layer that uninstalls a distribution (whiteouts of
//! its folders), a folder deleted and made again in one step (an opaque folder), and a hard
//! link, read from `docker save` archives.

use std::fs::File;

use imagegate_image::{ArchiveImage, ArchiveReader};
use imagegate_packages::is_inventory_path;

use crate::support::{DEBIAN_PY_WHITEOUTS, LAYERS, Saved, python_version, saved_archive};

fn read(image: &str) -> ArchiveImage {
    let file = File::open(saved_archive(image, Saved::Docker)).expect("open the saved archive");
    ArchiveReader::new().read(file, &is_inventory_path).expect("read the archive")
}

fn has_opaque_folder(image: &ArchiveImage, folder: &str) -> bool {
    image.layers.iter().any(|layer| layer.opaque_folders.iter().any(|opaque| opaque == folder))
}

#[test]
fn an_uninstalled_distribution_is_gone_and_an_opaque_venv_holds_only_its_new_content() {
    let image = read(DEBIAN_PY_WHITEOUTS);
    let files = &image.contents.files;
    let system = "usr/local/lib/python3.11/dist-packages";
    let venv = "opt/venv/lib/python3.11/site-packages";

    // `pip uninstall werkzeug` in a later layer: its dist-info folder is whited out.
    assert!(image.layers.iter().any(|layer| layer.whiteout_count > 0), "the image has whiteouts");
    assert_eq!(python_version(files, system, "werkzeug"), None, "werkzeug was uninstalled");
    assert!(!files.keys().any(|path| path.to_ascii_lowercase().contains("werkzeug")), "nothing of werkzeug is left");
    assert_eq!(python_version(files, system, "markupsafe").as_deref(), Some("2.1.3"), "markupsafe stays");

    // /opt/venv deleted and made again in one step: the layer marks it opaque.
    assert!(has_opaque_folder(&image, "opt/venv"), "layers: {:?}", image.layers);
    assert_eq!(python_version(files, venv, "idna").as_deref(), Some("3.7"));
    assert!(!files.keys().any(|path| path.contains("idna-3.6")), "the old venv's idna is hidden");
}

#[test]
fn deletions_opaque_folders_and_hard_links_of_a_busybox_image() {
    let image = read(LAYERS);
    let files = &image.contents.files;
    let site = "usr/lib/python3.11/site-packages";
    let venv = "opt/venv/lib/python3.11/site-packages";

    assert_eq!(python_version(files, site, "gone"), None, "deleted in a later layer");
    assert_eq!(python_version(files, site, "kept").as_deref(), Some("2.0"));
    // `linked` is a hard link to kept's METADATA, made in the same layer.
    assert_eq!(
        files[&format!("{site}/linked-2.0.dist-info/METADATA")],
        files[&format!("{site}/kept-2.0.dist-info/METADATA")]
    );
    assert!(has_opaque_folder(&image, "opt/venv"), "layers: {:?}", image.layers);
    assert_eq!(python_version(files, venv, "old"), None, "hidden by the opaque folder");
    assert_eq!(python_version(files, venv, "new").as_deref(), Some("2.0"));
    assert!(image.contents.warnings.is_empty(), "{:?}", image.contents.warnings);
}
