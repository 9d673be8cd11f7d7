//! npm packages installed in an image: the `package.json` at the root of each package folder in
//! a `node_modules` folder (nested ones included, and pnpm's `.pnpm` store).
//!
//! The package is named by its folder, scope included, because that is what `require` and
//! `import` resolve and what paths in a stack trace show; it differs from the manifest's `name`
//! only for aliased installs (`npm install alias@npm:real`). The location is the `node_modules`
//! folder, so one package at two places in the tree is two packages. A `package.json` without
//! both a `name` and a `version` is not a package's manifest (some packages ship partial ones
//! inside their folders) and is skipped without a warning; private packages are still installed
//! code and are kept.

use serde::Deserialize;
use thiserror::Error;

use crate::model::{Ecosystem, Package};

/// Why a `package.json` could not be read.
#[derive(Debug, Error)]
#[error("parse package.json: {0}")]
pub(crate) struct ManifestError(#[from] serde_json::Error);

#[derive(Deserialize)]
struct Manifest {
    name: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

/// Reads one package from its manifest; `Ok(None)` when the file is not a package manifest.
pub(crate) fn read_manifest(
    node_modules: &str,
    folder_name: &str,
    content: &[u8],
) -> Result<Option<Package>, ManifestError> {
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    let manifest: Manifest = serde_json::from_slice(content)?;
    let has_name = manifest.name.as_ref().and_then(serde_json::Value::as_str).is_some_and(|name| !name.is_empty());
    let version = manifest.version.as_ref().and_then(serde_json::Value::as_str).filter(|version| !version.is_empty());
    Ok(match (has_name, version) {
        (true, Some(version)) => Some(Package {
            ecosystem: Ecosystem::Npm,
            name: folder_name.to_owned(),
            version: version.to_owned(),
            location: node_modules.to_owned(),
            modules: Vec::new(),
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_real_manifests() {
        // Copied from the node_modules of `npm install semver@7.6.0 debug@4.3.4
        // @babel/code-frame@7.24.2`.
        let cases: [(&str, &[u8], &str); 4] = [
            ("semver", include_bytes!("../fixtures/npm/semver/package.json"), "7.6.0"),
            ("debug", include_bytes!("../fixtures/npm/debug/package.json"), "4.3.4"),
            ("ms", include_bytes!("../fixtures/npm/ms/package.json"), "2.1.2"),
            ("@babel/code-frame", include_bytes!("../fixtures/npm/@babel/code-frame/package.json"), "7.24.2"),
        ];
        for (name, manifest, version) in cases {
            let package = read_manifest("app/node_modules", name, manifest).unwrap().unwrap();
            assert_eq!(package.name, name);
            assert_eq!(package.version, version);
            assert_eq!(package.location, "app/node_modules");
        }
    }

    #[test]
    fn skips_partial_manifests_inside_a_package() {
        // glob ships `dist/esm/package.json` holding only `"type": "module"`; the path rules keep
        // it out, and so would its content.
        let partial = include_bytes!("../fixtures/npm/glob/dist/esm/package.json");
        assert_eq!(read_manifest("node_modules", "glob", partial).unwrap(), None);
        let glob = read_manifest(
            "usr/lib/node_modules/npm/node_modules",
            "glob",
            include_bytes!("../fixtures/npm/glob/package.json"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(glob.version, "13.0.6");
    }

    #[test]
    fn keeps_private_packages_and_names_aliases_by_their_folder() {
        let manifest = br#"{"name": "string-width", "version": "4.2.3", "private": true}"#;
        let package = read_manifest("node_modules", "string-width-cjs", manifest).unwrap().unwrap();
        assert_eq!(package.name, "string-width-cjs");
        assert_eq!(package.version, "4.2.3");
    }

    #[test]
    fn reports_a_manifest_that_is_not_json() {
        let error = read_manifest("node_modules", "broken", b"{\"name\": ").unwrap_err();
        assert!(error.to_string().starts_with("parse package.json: "), "{error}");
        assert_eq!(
            read_manifest("node_modules", "bom", b"\xEF\xBB\xBF{\"name\":\"bom\",\"version\":\"1.0.0\"}")
                .unwrap()
                .map(|package| package.version),
            Some("1.0.0".to_owned())
        );
    }
}
