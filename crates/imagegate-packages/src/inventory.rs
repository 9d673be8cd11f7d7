//! The inventory of one image: every package database among its files, read into one list.

use std::collections::BTreeMap;

use crate::model::{Inventory, Package};
use crate::paths::{InventoryFile, classify};
use crate::python::DistributionFiles;
use crate::{apk, dpkg, gem, npm, python, rpm};

/// The packages found in the files of one image, keyed by path (relative, `/`-separated, as the
/// image reader hands them over). Files that [`crate::is_inventory_path`] does not accept are
/// ignored. A database that cannot be read, or only in part, adds a warning naming the file; the
/// rest of the inventory is still returned.
pub fn inventory(files: &BTreeMap<String, Vec<u8>>) -> Inventory {
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    let mut dpkg_entries = Vec::new();
    // A distribution's metadata arrives as several files; they are gathered per folder first.
    let mut distributions: BTreeMap<(&str, &str), DistributionFiles<'_>> = BTreeMap::new();
    let mut rpm_databases = Vec::new();

    for (path, content) in files {
        let Some(file) = classify(path) else {
            continue;
        };
        match file {
            InventoryFile::DpkgStatus | InventoryFile::DpkgStatusFragment => {
                let requires_status = file == InventoryFile::DpkgStatus;
                let read = dpkg::read_status(&String::from_utf8_lossy(content), requires_status);
                if read.incomplete_stanzas > 0 {
                    warnings.push(format!(
                        "{path}: skipped {} without a Package or Version field",
                        imagegate_contract::plural(read.incomplete_stanzas, "stanza")
                    ));
                }
                dpkg_entries.extend(read.entries);
            }
            InventoryFile::ApkInstalled => {
                let read = apk::read_installed(&String::from_utf8_lossy(content));
                if read.incomplete_blocks > 0 {
                    warnings.push(format!(
                        "{path}: skipped {} without a P: or V: line",
                        imagegate_contract::plural(read.incomplete_blocks, "package block")
                    ));
                }
                packages.extend(read.packages);
            }
            InventoryFile::RpmSqlite | InventoryFile::RpmBerkeleyDb | InventoryFile::RpmNdb => {
                rpm_databases.push((file, path.as_str(), content.as_slice()));
            }
            InventoryFile::RpmSqliteWriteAheadLog => {
                if !content.is_empty() {
                    warnings.push(format!(
                        "{path}: {} bytes of rpm transactions not yet written to rpmdb.sqlite \
                         were not read; the packages installed or removed last may be missing",
                        content.len()
                    ));
                }
            }
            InventoryFile::Python { site, folder, file } => {
                distributions.entry((site, folder)).or_default().add(file, content);
            }
            InventoryFile::NpmManifest { node_modules, name } => {
                match npm::read_manifest(node_modules, name, content) {
                    Ok(Some(package)) => packages.push(package),
                    Ok(None) => {}
                    Err(error) => warnings.push(format!("{path}: failed to {error}")),
                }
            }
            InventoryFile::Gemspec { gem_home, file_name } => match gem::read_gemspec(gem_home, file_name, content) {
                Some(package) => packages.push(package),
                None => warnings.push(format!("{path}: failed to find the gem's name and version")),
            },
        }
    }

    packages.extend(dpkg::into_packages(dpkg_entries));
    // An image converted from one rpm database format to another may keep the old file; the
    // newest format present is the one rpm uses.
    let in_use = [InventoryFile::RpmSqlite, InventoryFile::RpmNdb, InventoryFile::RpmBerkeleyDb]
        .into_iter()
        .find(|format| rpm_databases.iter().any(|(file, _, _)| file == format));
    for (file, path, content) in rpm_databases {
        if Some(file) != in_use {
            continue;
        }
        let read = match file {
            InventoryFile::RpmSqlite => rpm::read_sqlite(content),
            InventoryFile::RpmNdb => rpm::read_ndb(content),
            _ => rpm::read_berkeley_db(content),
        };
        match read {
            Ok(read) => {
                for error in &read.header_errors {
                    warnings.push(format!("{path}: skipped {error}"));
                }
                packages.extend(read.packages);
            }
            Err(error) => warnings.push(format!("{path}: failed to {error}")),
        }
    }
    for ((site, folder), files) in &distributions {
        match python::read_distribution(site, folder, files) {
            Some(package) => packages.push(package),
            // Only RECORD or top_level.txt kept, and a folder name without a version: nothing
            // to list, and nothing worth a warning when the metadata file is absent too.
            None if files.metadata.is_none() => {}
            None => warnings.push(format!("{site}/{folder}: failed to find the distribution's name and version")),
        }
    }
    Inventory { packages: deduplicate(packages), warnings }
}

/// Sorts the packages and merges exact duplicates: the same package and version found twice in
/// one place, as when Debian ships both a `.dist-info` and an `.egg-info` for one distribution,
/// or when an image has both `lib/apk/db/installed` and `usr/lib/apk/db/installed`.
fn deduplicate(mut packages: Vec<Package>) -> Vec<Package> {
    packages.sort_by(|left, right| {
        (left.ecosystem, left.identity_name(), &left.location, &left.version, &left.name).cmp(&(
            right.ecosystem,
            right.identity_name(),
            &right.location,
            &right.version,
            &right.name,
        ))
    });
    let mut unique: Vec<Package> = Vec::with_capacity(packages.len());
    for package in packages {
        match unique.last_mut() {
            Some(previous)
                if previous.ecosystem == package.ecosystem
                    && previous.identity_name() == package.identity_name()
                    && previous.location == package.location
                    && previous.version == package.version =>
            {
                for module in package.modules {
                    if !previous.modules.contains(&module) {
                        previous.modules.push(module);
                    }
                }
                previous.modules.sort();
            }
            _ => unique.push(package),
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ecosystem;

    fn image(files: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        files.iter().map(|(path, content)| ((*path).to_owned(), content.to_vec())).collect()
    }

    fn listed(inventory: &Inventory) -> Vec<(Ecosystem, &str, &str, &str)> {
        inventory
            .packages
            .iter()
            .map(|package| {
                (package.ecosystem, package.name.as_str(), package.version.as_str(), package.location.as_str())
            })
            .collect()
    }

    const SITE: &str = "usr/local/lib/python3.11/site-packages";
    const DEBIAN_SITE: &str = "usr/lib/python3/dist-packages";

    #[test]
    fn reads_every_ecosystem_of_an_image() {
        let files = image(&[
            ("var/lib/dpkg/status", include_bytes!("../fixtures/dpkg/status")),
            (
                "usr/local/lib/python3.11/site-packages/werkzeug-3.1.8.dist-info/METADATA",
                include_bytes!("../fixtures/python/werkzeug-3.1.8.dist-info/METADATA"),
            ),
            (
                "usr/local/lib/python3.11/site-packages/werkzeug-3.1.8.dist-info/RECORD",
                include_bytes!("../fixtures/python/werkzeug-3.1.8.dist-info/RECORD"),
            ),
            (
                "opt/venv/lib/python3.11/site-packages/werkzeug-3.1.8.dist-info/METADATA",
                include_bytes!("../fixtures/python/werkzeug-3.1.8.dist-info/METADATA"),
            ),
            (
                "app/node_modules/@babel/code-frame/package.json",
                include_bytes!("../fixtures/npm/@babel/code-frame/package.json"),
            ),
            (
                "app/node_modules/glob/dist/esm/package.json",
                include_bytes!("../fixtures/npm/glob/dist/esm/package.json"),
            ),
            (
                "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec",
                include_bytes!("../fixtures/gem/rake-13.0.6.gemspec"),
            ),
            ("lib/apk/db/installed", b"P:musl\nV:1.2.4_git20230717-r4\n\n"),
            ("usr/bin/python3", b"\x7fELF"),
        ]);
        let inventory = inventory(&files);
        assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
        let listed = listed(&inventory);
        // dpkg 8, apk 1, Python 2 (one per environment), npm 1 (glob's partial manifest is not a package), gems 1.
        assert_eq!(listed.len(), 8 + 1 + 2 + 1 + 1, "{listed:#?}");
        assert_eq!(listed[8], (Ecosystem::Apk, "musl", "1.2.4_git20230717-r4", ""));
        assert_eq!(
            listed[9..12],
            [
                (Ecosystem::Python, "Werkzeug", "3.1.8", "opt/venv/lib/python3.11/site-packages"),
                (Ecosystem::Python, "Werkzeug", "3.1.8", SITE),
                (Ecosystem::Npm, "@babel/code-frame", "7.24.2", "app/node_modules"),
            ]
        );
        assert_eq!(listed[12], (Ecosystem::Gem, "rake", "13.0.6", "usr/lib/ruby/gems/3.1.0"));
        // Without top_level.txt or RECORD the venv's copy falls back to its name.
        assert_eq!(inventory.packages[9].modules, ["werkzeug"]);
    }

    #[test]
    fn merges_debians_dist_info_and_egg_info_of_one_distribution() {
        let files = image(&[
            (
                "usr/lib/python3/dist-packages/cryptography-38.0.4.dist-info/METADATA",
                include_bytes!("../fixtures/python/debian-dist-packages/cryptography-38.0.4.dist-info/METADATA"),
            ),
            (
                "usr/lib/python3/dist-packages/cryptography.egg-info/PKG-INFO",
                include_bytes!("../fixtures/python/debian-dist-packages/cryptography.egg-info/PKG-INFO"),
            ),
        ]);
        let inventory = inventory(&files);
        assert_eq!(listed(&inventory), [(Ecosystem::Python, "cryptography", "38.0.4", DEBIAN_SITE)]);
    }

    #[test]
    fn combines_distroless_status_files() {
        let files = image(&[
            ("var/lib/dpkg/status", b""),
            ("var/lib/dpkg/status.d/libssl3", b"Package: libssl3\nVersion: 3.0.17-1~deb12u2\nArchitecture: amd64\n"),
            ("var/lib/dpkg/status.d/tzdata", b"Package: tzdata\nVersion: 2025b-0+deb12u1\nArchitecture: all\n"),
            ("var/lib/dpkg/status.d/libssl3.md5sums", b"0123  usr/lib/libssl.so.3\n"),
        ]);
        let inventory = inventory(&files);
        assert_eq!(
            listed(&inventory),
            [(Ecosystem::Deb, "libssl3", "3.0.17-1~deb12u2", ""), (Ecosystem::Deb, "tzdata", "2025b-0+deb12u1", ""),]
        );
    }

    #[test]
    fn reads_rpm_databases_at_either_place_once() {
        let database = include_bytes!("../fixtures/rpm/rpmdb.sqlite");
        let files = image(&[
            ("usr/lib/sysimage/rpm/rpmdb.sqlite", database),
            ("var/lib/rpm/rpmdb.sqlite", database),
            ("var/lib/rpm/rpmdb.sqlite-wal", b""),
            // A stale Berkeley DB file beside the SQLite database is not what rpm reads.
            ("var/lib/rpm/Packages", b"stale"),
        ]);
        let inventory = inventory(&files);
        assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
        assert_eq!(
            listed(&inventory),
            [
                (Ecosystem::Rpm, "imagegate-hello", "1.2.3-4.fc40", ""),
                (Ecosystem::Rpm, "libimagegate", "2:0.9~rc1-1.el9", ""),
            ]
        );
    }

    #[test]
    fn reads_the_berkeley_db_of_older_rpm_images() {
        let files = image(&[("var/lib/rpm/Packages", include_bytes!("../fixtures/rpm/Packages"))]);
        let inventory = inventory(&files);
        assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
        assert_eq!(
            listed(&inventory),
            [
                (Ecosystem::Rpm, "imagegate-hello", "1.2.3-4.fc40", ""),
                (Ecosystem::Rpm, "libimagegate", "2:0.9~rc1-1.el9", ""),
            ]
        );
    }

    #[test]
    fn warns_about_what_it_cannot_read_and_keeps_the_rest() {
        let files = image(&[
            ("var/lib/rpm/rpmdb.sqlite", b"this is not sqlite"),
            ("var/lib/rpm/rpmdb.sqlite-wal", &[0u8; 32]),
            ("app/node_modules/broken/package.json", b"{"),
            ("app/node_modules/ok/package.json", br#"{"name":"ok","version":"1.0.0"}"#),
            ("var/lib/dpkg/status", b"Package: half\nStatus: install ok installed\n"),
            ("usr/local/bundle/specifications/nameless.gemspec", b"# nothing here\n"),
            (
                "usr/lib/python3/dist-packages/mystery.egg-info/PKG-INFO",
                b"Metadata-Version: 1.0\nSummary: no name or version\n",
            ),
        ]);
        let inventory = inventory(&files);
        assert_eq!(listed(&inventory), [(Ecosystem::Npm, "ok", "1.0.0", "app/node_modules")]);
        let warnings = inventory.warnings.join("\n");
        insta::assert_snapshot!(warnings, @r"
        app/node_modules/broken/package.json: failed to parse package.json: EOF while parsing an object at line 1 column 1
        usr/local/bundle/specifications/nameless.gemspec: failed to find the gem's name and version
        var/lib/dpkg/status: skipped 1 stanza without a Package or Version field
        var/lib/rpm/rpmdb.sqlite-wal: 32 bytes of rpm transactions not yet written to rpmdb.sqlite were not read; the packages installed or removed last may be missing
        var/lib/rpm/rpmdb.sqlite: failed to read rpmdb.sqlite: file is not a database
        usr/lib/python3/dist-packages/mystery.egg-info: failed to find the distribution's name and version
        ");
    }

    #[test]
    fn an_image_without_package_databases_has_an_empty_inventory() {
        let inventory = inventory(&image(&[("etc/os-release", b"ID=scratch\n")]));
        assert_eq!(inventory, Inventory::default());
    }
}
