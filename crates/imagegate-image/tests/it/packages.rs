//! The package databases of the busybox test images (npm tree, apk database, a real rpm sqlite
//! database) read out of `docker save` archives and inventoried.

use std::fs::File;

use imagegate_image::{ImageFiles, read_archive};
use imagegate_packages::{Ecosystem, inventory, is_inventory_path};

use crate::support::{APK, NPM, RPM, Saved, saved_archive};

fn files_of(image: &str) -> ImageFiles {
    let file = File::open(saved_archive(image, Saved::Docker)).expect("open the saved archive");
    read_archive(file, &is_inventory_path).expect("read the archive")
}

fn packages(files: &ImageFiles, ecosystem: Ecosystem) -> Vec<(String, String)> {
    let mut packages: Vec<_> = inventory(files)
        .packages
        .into_iter()
        .filter(|package| package.ecosystem == ecosystem)
        .map(|package| (package.name, package.version))
        .collect();
    packages.sort();
    packages
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(name, version)| ((*name).to_owned(), (*version).to_owned())).collect()
}

#[test]
fn npm_packages_of_a_node_modules_tree_with_a_nested_version() {
    let files = files_of(NPM);
    for manifest in [
        "app/node_modules/debug/package.json",
        "app/node_modules/ms/package.json",
        "app/node_modules/debug/node_modules/ms/package.json",
        "app/node_modules/left-pad/package.json",
    ] {
        assert!(files.contains_key(manifest), "{manifest} in {:?}", files.keys().collect::<Vec<_>>());
    }
    assert_eq!(
        packages(&files, Ecosystem::Npm),
        pairs(&[("debug", "4.3.4"), ("left-pad", "1.3.0"), ("ms", "2.1.2"), ("ms", "2.1.3")])
    );
}

#[test]
fn apk_packages_of_a_hand_written_database() {
    let files = files_of(APK);
    assert!(files["lib/apk/db/installed"].starts_with(b"C:"));
    assert_eq!(
        packages(&files, Ecosystem::Apk),
        pairs(&[("busybox", "1.36.1-r15"), ("musl", "1.2.4-r2"), ("zlib", "1.3.1-r0")])
    );
}

#[test]
fn rpm_packages_of_a_database_written_by_rpm() {
    let files = files_of(RPM);
    assert!(files["var/lib/rpm/rpmdb.sqlite"].starts_with(b"SQLite format 3\0"));
    assert_eq!(
        packages(&files, Ecosystem::Rpm),
        pairs(&[("imagegate-hello", "1.0-1"), ("imagegate-tools", "2.3.1-4")])
    );
}
