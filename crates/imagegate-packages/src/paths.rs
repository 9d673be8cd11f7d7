//! Which files of an image the inventory reads, decided from the path alone.
//!
//! The image reader streams every layer and keeps only the files [`is_inventory_path`] accepts,
//! so the decision is made one path at a time, without seeing the rest of the image, and has to
//! be cheap: a large image has hundreds of thousands of paths.

/// A file the inventory reads, with the parts of its path that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InventoryFile<'a> {
    /// `var/lib/dpkg/status`.
    DpkgStatus,
    /// `var/lib/dpkg/status.d/<package>`: distroless images keep one stanza per file there.
    DpkgStatusFragment,
    /// `lib/apk/db/installed` (or `usr/lib/apk/db/installed`).
    ApkInstalled,
    /// `var/lib/rpm/rpmdb.sqlite` (or `usr/lib/sysimage/rpm/rpmdb.sqlite`).
    RpmSqlite,
    /// The write-ahead log beside an rpmdb.sqlite: transactions not yet written back into it.
    RpmSqliteWriteAheadLog,
    /// `var/lib/rpm/Packages`: the Berkeley DB database of RHEL 8 and older.
    RpmBerkeleyDb,
    /// `Packages.db`: SUSE's ndb database.
    RpmNdb,
    /// A file of a Python distribution's metadata folder.
    Python {
        /// The `site-packages` or `dist-packages` folder.
        site: &'a str,
        /// The metadata folder's name (`Werkzeug-3.1.8.dist-info`), or the `.egg-info` file's.
        folder: &'a str,
        file: PythonFile,
    },
    /// The `package.json` at the root of an installed npm package.
    NpmManifest {
        /// The `node_modules` folder the package is installed in.
        node_modules: &'a str,
        /// The folder name under `node_modules`, scope included (`@babel/code-frame`).
        name: &'a str,
    },
    /// An installed gem's specification.
    Gemspec {
        /// The gem home: the folder that holds `specifications/`.
        gem_home: &'a str,
        /// The file name (`rack-3.0.8.gemspec`).
        file_name: &'a str,
    },
}

/// The files of a Python distribution's metadata that the inventory reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PythonFile {
    /// `METADATA` of a `.dist-info` folder, or `PKG-INFO` of an `.egg-info` folder or an egg's
    /// `EGG-INFO`: the name and version.
    Metadata,
    /// An `.egg-info` that is a file rather than a folder: it holds what `PKG-INFO` would.
    EggInfoFile,
    /// `top_level.txt`: the modules the distribution installs.
    TopLevel,
    /// `RECORD`: every file the distribution installed, which names its modules when there is no
    /// `top_level.txt` (distributions built by newer tools have none).
    Record,
}

/// Whether the inventory needs the file at `path` (relative, `/`-separated, e.g.
/// `var/lib/dpkg/status`; a leading `/` or `./` is tolerated).
///
/// Accepted:
/// - `var/lib/dpkg/status` and `var/lib/dpkg/status.d/<package>` (not `*.md5sums`);
/// - `lib/apk/db/installed` and `usr/lib/apk/db/installed`;
/// - `var/lib/rpm/rpmdb.sqlite` and `usr/lib/sysimage/rpm/rpmdb.sqlite`, each with its
///   `rpmdb.sqlite-wal`, and the Berkeley DB `Packages` and ndb `Packages.db` files in either
///   folder;
/// - under any folder named `site-packages` or `dist-packages`: `<dist>.dist-info/METADATA`,
///   `<dist>.dist-info/top_level.txt`, `<dist>.dist-info/RECORD`, `<dist>.egg-info/PKG-INFO`,
///   `<dist>.egg-info/top_level.txt`, a `<dist>.egg-info` file, and
///   `<dist>.egg/EGG-INFO/PKG-INFO` and `<dist>.egg/EGG-INFO/top_level.txt`;
/// - `…/node_modules/<name>/package.json` and `…/node_modules/@<scope>/<name>/package.json`
///   (a package's root only: `package.json` files deeper inside a package are not packages);
/// - `…/specifications/<gem>.gemspec` and `…/specifications/default/<gem>.gemspec`.
pub fn is_inventory_path(path: &str) -> bool {
    classify(path).is_some()
}

/// What the file at `path` is to the inventory, or `None` when it is not needed.
pub(crate) fn classify(path: &str) -> Option<InventoryFile<'_>> {
    let path = trim_root(path);
    // Every accepted path ends in one of a few names; most paths of an image are rejected here
    // without further work.
    let (parent, file_name) = split_last(path);
    match file_name {
        "status" if path == "var/lib/dpkg/status" => Some(InventoryFile::DpkgStatus),
        "installed" if path == "lib/apk/db/installed" || path == "usr/lib/apk/db/installed" => {
            Some(InventoryFile::ApkInstalled)
        }
        "rpmdb.sqlite" if is_rpm_database_folder(parent) => Some(InventoryFile::RpmSqlite),
        "rpmdb.sqlite-wal" if is_rpm_database_folder(parent) => Some(InventoryFile::RpmSqliteWriteAheadLog),
        "Packages" if is_rpm_database_folder(parent) => Some(InventoryFile::RpmBerkeleyDb),
        "Packages.db" if is_rpm_database_folder(parent) => Some(InventoryFile::RpmNdb),
        "package.json" => classify_npm(parent),
        "METADATA" | "RECORD" | "top_level.txt" | "PKG-INFO" => classify_python(parent, file_name),
        _ if parent == "var/lib/dpkg/status.d" && !file_name.is_empty() && !file_name.ends_with(".md5sums") => {
            Some(InventoryFile::DpkgStatusFragment)
        }
        _ if file_name.ends_with(".egg-info") && is_site_folder(parent) => {
            Some(InventoryFile::Python { site: parent, folder: file_name, file: PythonFile::EggInfoFile })
        }
        _ if file_name.ends_with(".gemspec") => classify_gemspec(parent, file_name),
        _ => None,
    }
}

/// Removes a leading `/` or `./`, which some image readers keep.
pub(crate) fn trim_root(path: &str) -> &str {
    let path = path.strip_prefix("./").unwrap_or(path);
    path.trim_start_matches('/')
}

/// Splits a path into its folder and its last component (`""` for the folder of a top-level
/// name).
pub(crate) fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(index) => (&path[..index], &path[index + 1..]),
        None => ("", path),
    }
}

fn last_component(path: &str) -> &str {
    split_last(path).1
}

fn is_rpm_database_folder(folder: &str) -> bool {
    // Fedora 36 and later keep the database in /usr/lib/sysimage/rpm, with /var/lib/rpm a
    // symbolic link to it; a reader that does not follow links sees only the real folder.
    folder == "var/lib/rpm" || folder == "usr/lib/sysimage/rpm"
}

fn is_site_folder(folder: &str) -> bool {
    matches!(last_component(folder), "site-packages" | "dist-packages")
}

fn classify_python<'a>(parent: &'a str, file_name: &str) -> Option<InventoryFile<'a>> {
    let (grandparent, folder) = split_last(parent);
    let file = match file_name {
        "METADATA" | "PKG-INFO" => PythonFile::Metadata,
        "top_level.txt" => PythonFile::TopLevel,
        _ => PythonFile::Record,
    };
    let accepted = if folder.ends_with(".dist-info") {
        file_name != "PKG-INFO"
    } else if folder.ends_with(".egg-info") {
        matches!(file_name, "PKG-INFO" | "top_level.txt")
    } else if folder == "EGG-INFO" {
        // An egg installed by easy_install: <site>/<dist>.egg/EGG-INFO/PKG-INFO.
        let (site, egg) = split_last(grandparent);
        return (egg.ends_with(".egg") && is_site_folder(site) && matches!(file_name, "PKG-INFO" | "top_level.txt"))
            .then_some(InventoryFile::Python { site, folder: egg, file });
    } else {
        false
    };
    (accepted && is_site_folder(grandparent)).then_some(InventoryFile::Python { site: grandparent, folder, file })
}

fn classify_npm(package_folder: &str) -> Option<InventoryFile<'_>> {
    let (above, folder_name) = split_last(package_folder);
    if folder_name.is_empty() || folder_name.starts_with('.') {
        // `.bin`, `.cache`, `.pnpm` and the like are npm's own folders, not packages.
        return None;
    }
    if folder_name.starts_with('@') {
        // A scope folder holds packages; its own package.json (if any) is not one.
        return None;
    }
    if last_component(above) == "node_modules" {
        return Some(InventoryFile::NpmManifest { node_modules: above, name: folder_name });
    }
    let (node_modules, scope) = split_last(above);
    if scope.len() > 1 && scope.starts_with('@') && last_component(node_modules) == "node_modules" {
        // The scoped name is the tail of the folder path: `@babel/code-frame`.
        let name_start = package_folder.len() - folder_name.len() - scope.len() - 1;
        return Some(InventoryFile::NpmManifest { node_modules, name: &package_folder[name_start..] });
    }
    None
}

fn classify_gemspec<'a>(parent: &'a str, file_name: &'a str) -> Option<InventoryFile<'a>> {
    let (above, folder) = split_last(parent);
    let gem_home = match folder {
        "specifications" => above,
        // Gems that ship with Ruby itself.
        "default" if last_component(above) == "specifications" => split_last(above).0,
        _ => return None,
    };
    (file_name.len() > ".gemspec".len()).then_some(InventoryFile::Gemspec { gem_home, file_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_system_package_databases() {
        for path in [
            "var/lib/dpkg/status",
            "/var/lib/dpkg/status",
            "./var/lib/dpkg/status",
            "var/lib/dpkg/status.d/libssl3",
            "var/lib/dpkg/status.d/libstdc++6",
            "lib/apk/db/installed",
            "usr/lib/apk/db/installed",
            "var/lib/rpm/rpmdb.sqlite",
            "var/lib/rpm/rpmdb.sqlite-wal",
            "usr/lib/sysimage/rpm/rpmdb.sqlite",
            "var/lib/rpm/Packages",
            "usr/lib/sysimage/rpm/Packages.db",
        ] {
            assert!(is_inventory_path(path), "{path}");
        }
    }

    #[test]
    fn rejects_neighbours_of_the_system_databases() {
        for path in [
            "var/lib/dpkg/status-old",
            "var/lib/dpkg/available",
            "var/lib/dpkg/status.d/libssl3.md5sums",
            "var/lib/dpkg/info/libssl3.list",
            "home/user/var/lib/dpkg/status",
            "lib/apk/db/scripts.tar",
            "var/lib/rpm/rpmdb.sqlite-shm",
            "var/lib/rpm/Packages.sqlite",
            "var/lib/rpm/Name",
            "usr/share/doc/Packages",
            "status",
            "",
        ] {
            assert!(!is_inventory_path(path), "{path}");
        }
    }

    #[test]
    fn accepts_python_metadata_in_any_environment() {
        let site = "usr/local/lib/python3.11/site-packages";
        assert_eq!(
            classify(&format!("{site}/Werkzeug-3.1.8.dist-info/METADATA")),
            Some(InventoryFile::Python { site, folder: "Werkzeug-3.1.8.dist-info", file: PythonFile::Metadata })
        );
        for path in [
            "opt/venv/lib/python3.12/site-packages/attrs-26.1.0.dist-info/RECORD",
            "opt/venv/lib/python3.12/site-packages/PyYAML-6.0.dist-info/top_level.txt",
            "usr/lib/python3/dist-packages/cryptography.egg-info/PKG-INFO",
            "usr/lib/python3/dist-packages/cryptography.egg-info/top_level.txt",
            "usr/lib/python3/dist-packages/crit-3.17.1-py3.11.egg-info",
            "usr/lib/python2.7/site-packages/foo-1.0-py2.7.egg/EGG-INFO/PKG-INFO",
            "site-packages/six-1.16.0.dist-info/METADATA",
        ] {
            assert!(is_inventory_path(path), "{path}");
        }
    }

    #[test]
    fn rejects_python_files_that_are_not_distribution_metadata() {
        for path in [
            "usr/lib/python3/dist-packages/werkzeug/urls.py",
            "usr/lib/python3/dist-packages/foo.dist-info/WHEEL",
            "usr/lib/python3/dist-packages/foo.dist-info/PKG-INFO",
            "usr/lib/python3/dist-packages/foo.egg-info/RECORD",
            "home/user/project/foo.egg-info/PKG-INFO",
            "home/user/project/build/foo.dist-info/METADATA",
            "usr/share/doc/METADATA",
        ] {
            assert!(!is_inventory_path(path), "{path}");
        }
    }

    #[test]
    fn accepts_only_the_root_package_json_of_npm_packages() {
        assert_eq!(
            classify("app/node_modules/@babel/code-frame/package.json"),
            Some(InventoryFile::NpmManifest { node_modules: "app/node_modules", name: "@babel/code-frame" })
        );
        assert_eq!(
            classify("node_modules/debug/node_modules/ms/package.json"),
            Some(InventoryFile::NpmManifest { node_modules: "node_modules/debug/node_modules", name: "ms" })
        );
        assert_eq!(
            classify("app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json"),
            Some(InventoryFile::NpmManifest {
                node_modules: "app/node_modules/.pnpm/lodash@4.17.21/node_modules",
                name: "lodash",
            })
        );
        for path in [
            "usr/lib/node_modules/npm/node_modules/glob/dist/esm/package.json",
            "app/node_modules/semver/test/fixtures/package.json",
            "app/node_modules/@babel/package.json",
            "app/node_modules/.cache/x/package.json",
            "app/package.json",
            "package.json",
        ] {
            assert!(!is_inventory_path(path), "{path}");
        }
    }

    #[test]
    fn accepts_installed_gem_specifications() {
        assert_eq!(
            classify("usr/local/bundle/specifications/rack-3.0.8.gemspec"),
            Some(InventoryFile::Gemspec { gem_home: "usr/local/bundle", file_name: "rack-3.0.8.gemspec" })
        );
        assert_eq!(
            classify("usr/lib/ruby/gems/3.1.0/specifications/default/bigdecimal-3.1.1.gemspec"),
            Some(InventoryFile::Gemspec { gem_home: "usr/lib/ruby/gems/3.1.0", file_name: "bigdecimal-3.1.1.gemspec" })
        );
        for path in [
            "usr/local/bundle/gems/rack-3.0.8/rack.gemspec",
            "app/rack.gemspec",
            "usr/local/bundle/specifications/.gemspec",
        ] {
            assert!(!is_inventory_path(path), "{path}");
        }
    }
}
