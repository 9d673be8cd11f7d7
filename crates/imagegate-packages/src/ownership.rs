//! Which files of an image belong to one installed package, from the package manager's own
//! records, and the edits that put one package's entry in a single-file database back to
//! another image's.
//!
//! Used to transplant a package from one image into another: the files the package owns in
//! each image tell what to copy and what to delete, and the database entry moves with them.
//! Pure: works on the files' contents handed in.
//!
//! - dpkg: `var/lib/dpkg/info/NAME.list` (or `NAME:ARCH.list`) lists every path the package
//!   installed, folders included; its `info/NAME.*` files (maintainer scripts, md5sums) belong
//!   to it too. The entry is its stanza in `var/lib/dpkg/status`.
//! - Python: the `RECORD` of its `.dist-info` folder lists its files relative to the
//!   site-packages folder; the `.dist-info` folder is its own.
//! - npm: the package's folder under `node_modules`, whole.
//! - apk: its block in `lib/apk/db/installed`, whose `F:` (folder) and `R:` (file) lines list
//!   its files; the block is the entry.
//! - gem: its specification and the folders RubyGems names after it (`gems/`, `doc/`,
//!   `extensions/*/*/`), its cached `.gem` and build settings; the specification is the entry.
//! - rpm: the file list of its header in `rpmdb.sqlite` (folders included); the entry is the
//!   header with its rows in the database's index tables. The Berkeley DB and ndb databases of
//!   older rpm are read for inventories only: a put-back needs the SQLite one.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::model::Ecosystem;
use crate::python::normalize_distribution_name;

/// dpkg's database of installed packages.
pub const DPKG_STATUS: &str = "var/lib/dpkg/status";
const DPKG_INFO: &str = "var/lib/dpkg/info/";
/// apk's database of installed packages, at either of its two places.
pub const APK_INSTALLED: [&str; 2] = ["lib/apk/db/installed", "usr/lib/apk/db/installed"];
/// rpm's SQLite database, at either of its two places (`/var/lib/rpm` is a link to the second
/// in recent Fedora).
pub const RPM_SQLITE: [&str; 2] = ["usr/lib/sysimage/rpm/rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite"];

/// An image's files by path, as the image reader gives them.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Why a package's files cannot be told.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OwnershipError {
    /// The package manager's record of the package's files is not in the image.
    #[error("{ecosystem} package {name} {version}: its file list {expected} is not in the image")]
    NoFileList { ecosystem: Ecosystem, name: String, version: String, expected: String },
    /// The ecosystem keeps no file list imagegate reads yet.
    #[error("cannot put back {ecosystem} packages yet ({name} {version}): imagegate reads no file list of theirs")]
    Unsupported { ecosystem: Ecosystem, name: String, version: String },
    /// The image keeps its rpm packages in a database imagegate reads but does not rewrite.
    #[error(
        "cannot put back rpm package {name} {version}: the image's rpm database is {path}, which imagegate reads but does not rewrite (only rpmdb.sqlite)"
    )]
    RpmDatabaseFormat { name: String, version: String, path: String },
    /// The rpm database could not be read or rewritten.
    #[error("rpm package {name}: {path}: {message}")]
    RpmDatabase { name: String, path: String, message: String },
}

/// The paths a package owns in one image: exact paths, and folders owned with everything in
/// them. Paths are relative and `/`-separated, as the image reader gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owned {
    /// Paths listed one by one. Some may be folders (dpkg lists the folders it made).
    pub paths: BTreeSet<String>,
    /// Folders owned whole: every path under them belongs to the package.
    pub folders: BTreeSet<String>,
    /// Prefixes of file names owned (dpkg's `info/NAME.`).
    pub prefixes: BTreeSet<String>,
    /// Folders inside the owned ones that belong to other packages (an npm package's own
    /// `node_modules`).
    pub excluded: BTreeSet<String>,
    /// Folders owned whole that lie a fixed number of unknown folders deep: `(base, skip, name)`
    /// owns every `base/A/B/name` (with `skip` = 2) and what is in it (a gem's compiled
    /// extensions, under `extensions/PLATFORM/API/`).
    pub deep_folders: BTreeSet<(String, usize, String)>,
}

impl Owned {
    /// Whether `path` belongs to the package.
    pub fn owns(&self, path: &str) -> bool {
        if self.excluded.iter().any(|folder| is_within(path, folder)) {
            return false;
        }
        self.paths.contains(path)
            || self.prefixes.iter().any(|prefix| path.starts_with(prefix.as_str()))
            || self.folders.iter().any(|folder| is_within(path, folder))
            || self.deep_folders.iter().any(|(base, skip, name)| {
                path.strip_prefix(base.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .is_some_and(|rest| rest.split('/').nth(*skip) == Some(name.as_str()))
            })
    }
}

/// Whether `path` is `folder` or lies under it.
fn is_within(path: &str, folder: &str) -> bool {
    path == folder || (path.starts_with(folder) && path.as_bytes().get(folder.len()) == Some(&b'/'))
}

/// What [`owned_files`] needs to read from an image, beyond [`crate::is_inventory_path`].
pub fn is_ownership_path(path: &str) -> bool {
    let path = crate::paths::trim_root(path);
    (path.starts_with(DPKG_INFO) && path.ends_with(".list")) || crate::is_inventory_path(path)
}

/// The paths package `name` at `version` owns in an image whose files (at least those
/// [`is_ownership_path`] accepts) are `files`. `location` is the package's environment
/// (site-packages or node_modules folder), empty for system packages.
pub fn owned_files(
    files: &Files,
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
    location: &str,
) -> Result<Owned, OwnershipError> {
    match ecosystem {
        Ecosystem::Deb => dpkg_owned(files, name, version),
        Ecosystem::Python => python_owned(files, name, version, location),
        Ecosystem::Npm => {
            let folder = format!("{}/{name}", location.trim_end_matches('/'));
            // The packages installed in its own `node_modules` are other packages.
            let nested = format!("{folder}/node_modules");
            Ok(Owned { folders: BTreeSet::from([folder]), excluded: BTreeSet::from([nested]), ..Owned::default() })
        }
        Ecosystem::Apk => apk_owned(files, name, version),
        Ecosystem::Gem => gem_owned(files, name, version, location),
        Ecosystem::Rpm => rpm_owned(files, name, version),
    }
}

/// The rpm database an image uses, as `(path, content)`: its rpmdb.sqlite; an error naming the
/// older database when that is what the image has.
fn rpm_sqlite<'a>(files: &'a Files, name: &str, version: &str) -> Result<(&'static str, &'a [u8]), OwnershipError> {
    if let Some(found) = RPM_SQLITE.iter().find_map(|path| files.get(*path).map(|content| (*path, content.as_slice())))
    {
        return Ok(found);
    }
    let older = files.keys().find(|path| {
        matches!(
            crate::paths::classify(path),
            Some(crate::paths::InventoryFile::RpmBerkeleyDb | crate::paths::InventoryFile::RpmNdb)
        )
    });
    Err(match older {
        Some(path) => {
            OwnershipError::RpmDatabaseFormat { name: name.to_owned(), version: version.to_owned(), path: path.clone() }
        }
        None => OwnershipError::NoFileList {
            ecosystem: Ecosystem::Rpm,
            name: name.to_owned(),
            version: version.to_owned(),
            expected: format!("in {}", RPM_SQLITE[1]),
        },
    })
}

/// The path of the image's rpmdb.sqlite and every package in it.
fn rpm_installed(
    files: &Files,
    name: &str,
    version: &str,
) -> Result<(&'static str, Vec<crate::rpm::InstalledRpm>), OwnershipError> {
    let (path, content) = rpm_sqlite(files, name, version)?;
    let installed = crate::rpm::installed_sqlite(content).map_err(|error| OwnershipError::RpmDatabase {
        name: name.to_owned(),
        path: path.to_owned(),
        message: error.to_string(),
    })?;
    Ok((path, installed))
}

fn rpm_owned(files: &Files, name: &str, version: &str) -> Result<Owned, OwnershipError> {
    let (path, installed) = rpm_installed(files, name, version)?;
    let package =
        installed.into_iter().find(|package| package.is(name, version)).ok_or_else(|| OwnershipError::NoFileList {
            ecosystem: Ecosystem::Rpm,
            name: name.to_owned(),
            version: version.to_owned(),
            expected: format!("in {path}"),
        })?;
    Ok(Owned { paths: package.files.into_iter().filter(|path| !path.is_empty()).collect(), ..Owned::default() })
}

/// The rpmdb.sqlite `target` with package `name` made what it is in `source`: `to` is its version
/// in `target` and `from` in `source` (`None` where that image lacks it). Its header and index
/// rows are replaced, removed or added.
pub fn put_back_rpm_entry(
    target: &[u8],
    source: &[u8],
    name: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<u8>, OwnershipError> {
    crate::rpm::put_back_sqlite(
        target,
        source,
        &crate::rpm::RpmPick { name, version: to },
        &crate::rpm::RpmPick { name, version: from },
    )
    .map_err(|error| OwnershipError::RpmDatabase {
        name: name.to_owned(),
        path: "rpmdb.sqlite".to_owned(),
        message: error.to_string(),
    })
}

/// The path of the rpmdb.sqlite among `files`, when there is one.
pub fn rpm_sqlite_path(files: &Files) -> Option<&'static str> {
    RPM_SQLITE.iter().find(|path| files.contains_key(**path)).copied()
}

fn dpkg_owned(files: &Files, name: &str, version: &str) -> Result<Owned, OwnershipError> {
    // A package of the main architecture that is `Multi-Arch: same` keeps `NAME:ARCH.list`; one
    // of a foreign architecture is named `NAME:ARCH` by the inventory already.
    let exact = format!("{DPKG_INFO}{name}.list");
    let qualified = format!("{DPKG_INFO}{name}:");
    let list = files.get(exact.as_str()).map(|content| (exact.clone(), content)).or_else(|| {
        files
            .iter()
            .find(|(path, _)| {
                path.starts_with(&qualified) && path.ends_with(".list") && !path[qualified.len()..].contains('/')
            })
            .map(|(path, content)| (path.clone(), content))
    });
    let Some((list_path, content)) = list else {
        return Err(OwnershipError::NoFileList {
            ecosystem: Ecosystem::Deb,
            name: name.to_owned(),
            version: version.to_owned(),
            expected: exact,
        });
    };
    let mut owned = Owned::default();
    for line in String::from_utf8_lossy(content).lines() {
        let path = line.trim().trim_start_matches('/');
        // `/.` is the root folder, listed by some packages: never the package's own.
        if !path.is_empty() && path != "." {
            owned.paths.insert(path.to_owned());
        }
    }
    let stem = list_path.trim_end_matches("list");
    owned.prefixes.insert(stem.to_owned());
    Ok(owned)
}

fn python_owned(files: &Files, name: &str, version: &str, site: &str) -> Result<Owned, OwnershipError> {
    let site = site.trim_end_matches('/');
    let wanted = normalize_distribution_name(name);
    let record = files.iter().find_map(|(path, content)| {
        let folder = path.strip_prefix(site)?.strip_prefix('/')?.strip_suffix("/RECORD")?;
        let stem = folder.strip_suffix(".dist-info")?;
        // `NAME-VERSION.dist-info`: names never hold a `-` there (it is escaped to `_`).
        let (found_name, found_version) = stem.split_once('-')?;
        (normalize_distribution_name(found_name) == wanted && found_version == version)
            .then(|| (format!("{site}/{folder}"), content))
    });
    let Some((folder, content)) = record else {
        return Err(OwnershipError::NoFileList {
            ecosystem: Ecosystem::Python,
            name: name.to_owned(),
            version: version.to_owned(),
            expected: format!("{site}/{}-{version}.dist-info/RECORD", name.replace('-', "_")),
        });
    };
    let mut owned = Owned::default();
    for line in String::from_utf8_lossy(content).lines() {
        // `path,hash,size`; a path holding a comma is quoted, which RECORD writers do only then.
        let path = match line.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').map_or(quoted, |(path, _)| path),
            None => line.split(',').next().unwrap_or_default(),
        };
        if path.is_empty() {
            continue;
        }
        // Paths are relative to the site folder and may climb out of it (`../../../bin/flask`).
        if let Some(resolved) = resolve(site, path) {
            owned.paths.insert(resolved);
        }
    }
    owned.folders.insert(folder);
    Ok(owned)
}

/// `relative` from `base`, lexically; `None` when it climbs above the root.
fn resolve(base: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = if relative.starts_with('/') { Vec::new() } else { base.split('/').collect() };
    for component in relative.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    let joined = parts.into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join("/");
    (!joined.is_empty()).then_some(joined)
}

/// A gem's files: its specification, its folder under `gems/`, and what RubyGems keeps beside
/// them under the same full name (`NAME-VERSION[-PLATFORM]`): documentation, build settings,
/// the cached `.gem` and compiled extensions.
fn gem_owned(files: &Files, name: &str, version: &str, home: &str) -> Result<Owned, OwnershipError> {
    let home = home.trim_end_matches('/');
    let stem = format!("{name}-{version}");
    let spec = files.keys().find(|path| {
        let Some(file) = path.strip_prefix(home).and_then(|rest| rest.strip_prefix("/specifications/")) else {
            return false;
        };
        // `NAME-VERSION.gemspec` or `NAME-VERSION-PLATFORM.gemspec`; the default gems Ruby ships
        // live in `specifications/default/` and are Ruby's own.
        file.strip_prefix(&stem)
            .and_then(|rest| rest.strip_suffix(".gemspec"))
            .is_some_and(|platform| platform.is_empty() || (platform.starts_with('-') && !platform.contains('/')))
    });
    let Some(spec) = spec else {
        return Err(OwnershipError::NoFileList {
            ecosystem: Ecosystem::Gem,
            name: name.to_owned(),
            version: version.to_owned(),
            expected: format!("{home}/specifications/{stem}.gemspec"),
        });
    };
    let full = spec.rsplit('/').next().unwrap_or_default().trim_end_matches(".gemspec").to_owned();
    let mut owned = Owned::default();
    owned.paths.insert(spec.clone());
    owned.paths.insert(format!("{home}/cache/{full}.gem"));
    owned.paths.insert(format!("{home}/build_info/{full}.info"));
    owned.folders.insert(format!("{home}/gems/{full}"));
    owned.folders.insert(format!("{home}/doc/{full}"));
    owned.deep_folders.insert((format!("{home}/extensions"), 2, full));
    Ok(owned)
}

fn apk_database(files: &Files) -> Option<(&'static str, &[u8])> {
    APK_INSTALLED.iter().find_map(|path| files.get(*path).map(|content| (*path, content.as_slice())))
}

fn apk_owned(files: &Files, name: &str, version: &str) -> Result<Owned, OwnershipError> {
    let missing = || OwnershipError::NoFileList {
        ecosystem: Ecosystem::Apk,
        name: name.to_owned(),
        version: version.to_owned(),
        expected: format!("in {}", APK_INSTALLED[0]),
    };
    let (_, content) = apk_database(files).ok_or_else(missing)?;
    let text = String::from_utf8_lossy(content);
    let block = apk_blocks(&text).into_iter().find(|block| apk_field(block, "P") == Some(name)).ok_or_else(missing)?;
    let mut owned = Owned::default();
    let mut folder = "";
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("F:") {
            folder = value.trim();
        } else if let Some(value) = line.strip_prefix("R:") {
            let path = if folder.is_empty() { value.trim().to_owned() } else { format!("{folder}/{}", value.trim()) };
            owned.paths.insert(path);
        }
    }
    Ok(owned)
}

/// The blocks of an apk database, each with its lines (no blank line).
fn apk_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn apk_field<'a>(block: &'a str, letter: &str) -> Option<&'a str> {
    block.lines().find_map(|line| line.strip_prefix(letter)?.strip_prefix(':')).map(str::trim)
}

/// dpkg's stanzas, each with its lines (no blank line).
fn dpkg_stanzas(text: &str) -> Vec<String> {
    // The same shape as apk's blocks: paragraphs separated by blank lines.
    apk_blocks(text)
}

fn dpkg_stanza_name(stanza: &str) -> Option<String> {
    let field = |wanted: &str| {
        stanza.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(wanted).then(|| value.trim().to_owned())
        })
    };
    let package = field("Package")?;
    Some(package)
}

/// Whether the `NAME` or `NAME:ARCH` the inventory gives names this stanza.
fn dpkg_names(stanza: &str, name: &str) -> bool {
    let Some(package) = dpkg_stanza_name(stanza) else {
        return false;
    };
    match name.split_once(':') {
        Some((bare, architecture)) => {
            package == bare
                && stanza.lines().any(|line| {
                    line.split_once(':').is_some_and(|(key, value)| {
                        key.trim().eq_ignore_ascii_case("Architecture") && value.trim() == architecture
                    })
                })
        }
        None => package == name,
    }
}

/// The database `target` with the entry of package `name` made what it is in `source`: replaced
/// by `source`'s entry, removed when `source` has none, added when `target` has none. Stanzas
/// (dpkg) or blocks (apk) keep their order; an added one goes last.
pub fn put_back_entry(
    ecosystem: Ecosystem,
    target: &[u8],
    source: &[u8],
    name: &str,
) -> Result<Vec<u8>, OwnershipError> {
    let (target, source) = (String::from_utf8_lossy(target), String::from_utf8_lossy(source));
    type Matcher<'a> = Box<dyn Fn(&str) -> bool + 'a>;
    let (target_entries, source_entries, matches): (Vec<String>, Vec<String>, Matcher<'_>) = match ecosystem {
        Ecosystem::Deb => (dpkg_stanzas(&target), dpkg_stanzas(&source), Box::new(|entry| dpkg_names(entry, name))),
        Ecosystem::Apk => {
            (apk_blocks(&target), apk_blocks(&source), Box::new(|entry| apk_field(entry, "P") == Some(name)))
        }
        other => {
            return Err(OwnershipError::Unsupported {
                ecosystem: other,
                name: name.to_owned(),
                version: String::new(),
            });
        }
    };
    let replacement = source_entries.iter().find(|entry| matches(entry));
    let mut entries: Vec<&str> = Vec::with_capacity(target_entries.len() + 1);
    let mut placed = false;
    for entry in &target_entries {
        if matches(entry) {
            if let Some(replacement) = replacement
                && !placed
            {
                entries.push(replacement);
                placed = true;
            }
        } else {
            entries.push(entry);
        }
    }
    if let Some(replacement) = replacement
        && !placed
    {
        entries.push(replacement);
    }
    // dpkg and apk both end each paragraph with a blank line.
    let mut out = String::new();
    for entry in entries {
        out.push_str(entry);
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// The names of the packages that package `name` at `version` depends on in an image whose
/// files are `files`, as its package manager records them: dpkg `Depends`/`Pre-Depends`
/// (every alternative), Python `Requires-Dist` (PEP 503 names, extras' requirements left out),
/// npm `dependencies`, apk `D:` (package names, not `so:`/`cmd:` provides). Empty when nothing
/// is recorded.
pub fn dependencies(
    files: &Files,
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
    location: &str,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    match ecosystem {
        Ecosystem::Deb => {
            let Some(status) = files.get(DPKG_STATUS) else { return found };
            let text = String::from_utf8_lossy(status);
            let Some(stanza) = dpkg_stanzas(&text).into_iter().find(|stanza| dpkg_names(stanza, name)) else {
                return found;
            };
            for (key, value) in stanza_fields(&stanza) {
                if key.eq_ignore_ascii_case("Depends") || key.eq_ignore_ascii_case("Pre-Depends") {
                    for alternative in value.split([',', '|']) {
                        // `libc6 (>= 2.34)`, `python3:any`
                        let package = alternative.split_whitespace().next().unwrap_or_default();
                        let package = package.split(':').next().unwrap_or_default();
                        if !package.is_empty() {
                            found.insert(package.to_owned());
                        }
                    }
                }
            }
        }
        Ecosystem::Python => {
            let site = location.trim_end_matches('/');
            let wanted = normalize_distribution_name(name);
            let metadata = files.iter().find_map(|(path, content)| {
                let folder = path.strip_prefix(site)?.strip_prefix('/')?.strip_suffix("/METADATA")?;
                let (found_name, found_version) = folder.strip_suffix(".dist-info")?.split_once('-')?;
                (normalize_distribution_name(found_name) == wanted && found_version == version).then_some(content)
            });
            let Some(metadata) = metadata else { return found };
            for line in String::from_utf8_lossy(metadata).lines() {
                if line.is_empty() {
                    break; // the body (the description) starts here
                }
                let Some(requirement) = line.strip_prefix("Requires-Dist:") else { continue };
                if requirement.split(';').nth(1).is_some_and(|marker| marker.contains("extra")) {
                    continue;
                }
                let end = requirement
                    .trim()
                    .find(|character: char| !(character.is_ascii_alphanumeric() || "-_.".contains(character)))
                    .unwrap_or(requirement.trim().len());
                let package = &requirement.trim()[..end];
                if !package.is_empty() {
                    found.insert(normalize_distribution_name(package));
                }
            }
        }
        Ecosystem::Npm => {
            let manifest = format!("{}/{name}/package.json", location.trim_end_matches('/'));
            let Some(content) = files.get(&manifest) else { return found };
            if let Ok(document) = serde_json::from_slice::<serde_json::Value>(content)
                && let Some(listed) = document.get("dependencies").and_then(serde_json::Value::as_object)
            {
                found.extend(listed.keys().cloned());
            }
        }
        Ecosystem::Apk => {
            let Some((_, content)) = apk_database(files) else { return found };
            let text = String::from_utf8_lossy(content);
            if let Some(block) = apk_blocks(&text).into_iter().find(|block| apk_field(block, "P") == Some(name))
                && let Some(listed) = apk_field(&block, "D")
            {
                for dependency in listed.split_whitespace() {
                    // `so:libc.musl-x86_64.so.1` and `cmd:` name what a package provides, not a package.
                    if dependency.contains(':') || dependency.starts_with('!') {
                        continue;
                    }
                    let package = dependency.split(['=', '<', '>', '~']).next().unwrap_or_default();
                    if !package.is_empty() {
                        found.insert(package.to_owned());
                    }
                }
            }
        }
        Ecosystem::Rpm => {
            // rpm requires capabilities (`libz.so.1()(64bit)`, `zlib >= 1.2`); a package needs
            // the packages that provide one of them.
            let Ok((_, installed)) = rpm_installed(files, name, version) else { return found };
            let Some(package) = installed.iter().find(|package| package.is(name, version)) else { return found };
            let required: BTreeSet<&str> = package.requires.iter().map(String::as_str).collect();
            // A file required by its path (`/bin/sh`) is provided by the package that owns it.
            let required_files: BTreeSet<&str> =
                package.requires.iter().filter_map(|capability| capability.strip_prefix('/')).collect();
            for other in &installed {
                if other.hnum != package.hnum
                    && (other.provides.iter().any(|provided| required.contains(provided.as_str()))
                        || (!required_files.is_empty()
                            && other.files.iter().any(|path| required_files.contains(path.as_str()))))
                {
                    found.insert(other.header.name.clone());
                }
            }
        }
        Ecosystem::Gem => {}
    }
    found.remove(name);
    found
}

/// A dpkg stanza's fields, with continuation lines joined.
fn stanza_fields(stanza: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in stanza.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

/// The path of the apk database among `files`, when there is one.
pub fn apk_database_path(files: &Files) -> Option<&'static str> {
    apk_database(files).map(|(path, _)| path)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries.iter().map(|(path, content)| ((*path).to_owned(), content.as_bytes().to_vec())).collect()
    }

    #[test]
    fn dependencies_come_from_each_package_managers_own_records() {
        let image = files(&[
            (
                "var/lib/dpkg/status",
                "Package: curl\nVersion: 7.88\nDepends: libc6 (>= 2.34), libcurl4 (= 7.88) | libcurl4-gnutls,\n zlib1g\nPre-Depends: dpkg:any\n\nPackage: zlib1g\nVersion: 1\n\n",
            ),
            (
                "site/Werkzeug-2.3.0.dist-info/METADATA",
                "Name: Werkzeug\nVersion: 2.3.0\nRequires-Dist: MarkupSafe (>=2.1.1)\nRequires-Dist: watchdog ; extra == 'watchdog'\n\nRequires-Dist: not-a-header\n",
            ),
            (
                "app/node_modules/debug/package.json",
                r#"{"name":"debug","version":"4.3.5","dependencies":{"ms":"2.1.2"}}"#,
            ),
            ("lib/apk/db/installed", "P:curl\nV:8\nD:so:libc.musl-x86_64.so.1 libcurl=8.5.0-r0 !other\n\n"),
        ]);
        let names = |ecosystem, name, version, location| -> Vec<String> {
            dependencies(&image, ecosystem, name, version, location).into_iter().collect()
        };
        assert_eq!(
            names(Ecosystem::Deb, "curl", "7.88", ""),
            ["dpkg", "libc6", "libcurl4", "libcurl4-gnutls", "zlib1g"]
        );
        assert_eq!(names(Ecosystem::Python, "werkzeug", "2.3.0", "site"), ["markupsafe"]);
        assert_eq!(names(Ecosystem::Npm, "debug", "4.3.5", "app/node_modules"), ["ms"]);
        assert_eq!(names(Ecosystem::Apk, "curl", "8", ""), ["libcurl"]);
        assert!(names(Ecosystem::Deb, "wget", "1", "").is_empty());
    }

    #[test]
    fn a_gem_owns_its_specification_folder_cache_and_extensions_by_its_full_name() {
        let home = "usr/local/bundle";
        let image = files(&[
            ("usr/local/bundle/specifications/nokogiri-1.16.0-x86_64-linux.gemspec", "# stub"),
            ("usr/local/bundle/specifications/nokogiri-1.16.0.1.gemspec", "# stub"),
            ("usr/local/bundle/specifications/rake-13.0.6.gemspec", "# stub"),
        ]);
        let nokogiri = owned_files(&image, Ecosystem::Gem, "nokogiri", "1.16.0", home).unwrap();
        let full = "nokogiri-1.16.0-x86_64-linux";
        assert!(nokogiri.owns(&format!("{home}/specifications/{full}.gemspec")));
        assert!(nokogiri.owns(&format!("{home}/gems/{full}/lib/nokogiri.rb")));
        assert!(nokogiri.owns(&format!("{home}/cache/{full}.gem")));
        assert!(nokogiri.owns(&format!("{home}/extensions/x86_64-linux/3.3.0/{full}/nokogiri/nokogiri.so")));
        assert!(!nokogiri.owns(&format!("{home}/extensions/x86_64-linux/{full}/x.so")), "two folders deep only");
        assert!(!nokogiri.owns(&format!("{home}/specifications/nokogiri-1.16.0.1.gemspec")));
        assert!(!nokogiri.owns(&format!("{home}/gems/rake-13.0.6/lib/rake.rb")));
        let missing = owned_files(&image, Ecosystem::Gem, "rack", "3.0.8", home).unwrap_err();
        assert!(missing.to_string().contains("specifications/rack-3.0.8.gemspec"), "{missing}");
    }

    #[test]
    fn an_npm_package_owns_its_folder_but_not_the_packages_in_its_own_node_modules() {
        let debug = owned_files(&Files::new(), Ecosystem::Npm, "debug", "4.3.5", "app/node_modules").unwrap();
        assert!(debug.owns("app/node_modules/debug/package.json") && debug.owns("app/node_modules/debug/src/index.js"));
        assert!(!debug.owns("app/node_modules/debug/node_modules/ms/package.json"));
        assert!(!debug.owns("app/node_modules/debugger/package.json"));
    }

    #[test]
    fn dpkg_lists_with_and_without_architecture_give_paths_and_info_files() {
        let image = files(&[
            ("var/lib/dpkg/info/curl.list", "/.\n/usr\n/usr/bin\n/usr/bin/curl\n"),
            ("var/lib/dpkg/info/libc6:amd64.list", "/usr/lib/x86_64-linux-gnu/libc.so.6\n"),
        ]);
        let curl = owned_files(&image, Ecosystem::Deb, "curl", "7.88", "").unwrap();
        assert_eq!(curl.paths, BTreeSet::from(["usr".into(), "usr/bin".into(), "usr/bin/curl".into()]));
        assert!(curl.owns("var/lib/dpkg/info/curl.postinst") && !curl.owns("var/lib/dpkg/info/curlie.list"));
        let libc = owned_files(&image, Ecosystem::Deb, "libc6", "2.36", "").unwrap();
        assert!(libc.owns("usr/lib/x86_64-linux-gnu/libc.so.6") && libc.owns("var/lib/dpkg/info/libc6:amd64.md5sums"));
        let missing = owned_files(&image, Ecosystem::Deb, "wget", "1", "").unwrap_err();
        assert!(missing.to_string().contains("var/lib/dpkg/info/wget.list"), "{missing}");
    }

    #[test]
    fn python_record_paths_resolve_from_the_site_folder_and_the_dist_info_is_owned() {
        let site = "usr/lib/python3/dist-packages";
        let record = "werkzeug/__init__.py,sha256=x,10\n\"odd,name.py\",sha256=y,1\n../../../bin/flask,,\nWerkzeug-2.3.7.dist-info/RECORD,,\n";
        let image = files(&[
            ("usr/lib/python3/dist-packages/Werkzeug-2.3.7.dist-info/RECORD", record),
            ("usr/lib/python3/dist-packages/Werkzeug-3.0.1.dist-info/RECORD", "werkzeug/new.py,,\n"),
        ]);
        let owned = owned_files(&image, Ecosystem::Python, "werkzeug", "2.3.7", site).unwrap();
        let paths: Vec<&str> = owned.paths.iter().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "usr/bin/flask",
                "usr/lib/python3/dist-packages/Werkzeug-2.3.7.dist-info/RECORD",
                "usr/lib/python3/dist-packages/odd,name.py",
                "usr/lib/python3/dist-packages/werkzeug/__init__.py",
            ]
        );
        assert!(owned.owns("usr/lib/python3/dist-packages/Werkzeug-2.3.7.dist-info/METADATA"));
        assert!(!owned.owns("usr/lib/python3/dist-packages/Werkzeug-3.0.1.dist-info/METADATA"));
        assert!(owned_files(&image, Ecosystem::Python, "werkzeug", "9", site).is_err());
    }

    #[test]
    fn npm_owns_its_folder_and_apk_its_listed_files() {
        let npm = owned_files(&files(&[]), Ecosystem::Npm, "@scope/left-pad", "1.0.0", "app/node_modules").unwrap();
        assert!(npm.owns("app/node_modules/@scope/left-pad/index.js"));
        assert!(!npm.owns("app/node_modules/@scope/left-pad-extra/index.js"));
        let installed =
            "P:musl\nV:1\nF:lib\nR:libc.so\n\nP:zlib\nV:1.3\nF:usr/lib\nR:libz.so.1\nR:libz.so.1.3\nF:etc\n\n";
        let image = files(&[("lib/apk/db/installed", installed)]);
        let zlib = owned_files(&image, Ecosystem::Apk, "zlib", "1.3", "").unwrap();
        assert_eq!(zlib.paths, BTreeSet::from(["usr/lib/libz.so.1".into(), "usr/lib/libz.so.1.3".into()]));
        let rpm = owned_files(&image, Ecosystem::Rpm, "bash", "5", "").unwrap_err();
        assert_eq!(
            rpm.to_string(),
            "rpm package bash 5: its file list in var/lib/rpm/rpmdb.sqlite is not in the image"
        );
    }

    #[test]
    fn a_dpkg_stanza_is_replaced_removed_or_added() {
        let candidate =
            "Package: a\nVersion: 2\n\nPackage: b\nVersion: 2\nDescription: new\n more\n\nPackage: c\nVersion: 1\n\n";
        let incumbent =
            "Package: a\nVersion: 2\n\nPackage: b\nVersion: 1\nDescription: old\n\nPackage: d\nVersion: 1\n";
        let replaced = put_back_entry(Ecosystem::Deb, candidate.as_bytes(), incumbent.as_bytes(), "b").unwrap();
        assert_eq!(
            String::from_utf8(replaced).unwrap(),
            "Package: a\nVersion: 2\n\nPackage: b\nVersion: 1\nDescription: old\n\nPackage: c\nVersion: 1\n\n"
        );
        let removed = put_back_entry(Ecosystem::Deb, candidate.as_bytes(), incumbent.as_bytes(), "c").unwrap();
        assert!(!String::from_utf8(removed).unwrap().contains("Package: c"));
        let added = put_back_entry(Ecosystem::Deb, candidate.as_bytes(), incumbent.as_bytes(), "d").unwrap();
        assert!(String::from_utf8(added).unwrap().ends_with("Package: c\nVersion: 1\n\nPackage: d\nVersion: 1\n\n"));
        // The inventory's `NAME:ARCH` names the stanza of that architecture only.
        let multi = "Package: z\nArchitecture: amd64\nVersion: 2\n\nPackage: z\nArchitecture: i386\nVersion: 2\n\n";
        let old = "Package: z\nArchitecture: i386\nVersion: 1\n\n";
        let edited = put_back_entry(Ecosystem::Deb, multi.as_bytes(), old.as_bytes(), "z:i386").unwrap();
        assert_eq!(
            String::from_utf8(edited).unwrap(),
            "Package: z\nArchitecture: amd64\nVersion: 2\n\nPackage: z\nArchitecture: i386\nVersion: 1\n\n"
        );
    }

    #[test]
    fn an_apk_block_is_replaced() {
        let candidate = "P:musl\nV:2\n\nP:zlib\nV:1.3\nR:new\n\n";
        let incumbent = "P:zlib\nV:1.2\nR:old\n\nP:musl\nV:1\n\n";
        let edited = put_back_entry(Ecosystem::Apk, candidate.as_bytes(), incumbent.as_bytes(), "zlib").unwrap();
        assert_eq!(String::from_utf8(edited).unwrap(), "P:musl\nV:2\n\nP:zlib\nV:1.2\nR:old\n\n");
    }

    #[test]
    fn an_rpm_package_owns_what_its_header_lists_and_needs_what_provides_its_requirements() {
        use crate::rpm::tests::{full_blob, indexed_database, zlib};
        let database = indexed_database(&[
            zlib("1.3.1"),
            full_blob("curl", "8.6", &[("/usr/bin/", "curl")], &["curl"], &["libz.so.1()(64bit)", "/bin/sh"]),
            full_blob("bash", "5.2", &[("/usr/bin/", "bash"), ("/bin/", "sh")], &["bash"], &[]),
            full_blob("tzdata", "2024a", &[("/usr/share/", "zoneinfo")], &["tzdata"], &[]),
        ]);
        let image = Files::from([("usr/lib/sysimage/rpm/rpmdb.sqlite".to_owned(), database)]);
        let owned = owned_files(&image, Ecosystem::Rpm, "zlib", "1.3.1-1.fc40", "").unwrap();
        assert!(owned.owns("usr/lib64/libz.so.1.3.1") && owned.owns("usr/share/doc/zlib"));
        assert!(!owned.owns("usr/bin/curl") && !owned.owns("usr/lib64"));
        let deps: Vec<String> = dependencies(&image, Ecosystem::Rpm, "curl", "8.6-1.fc40", "").into_iter().collect();
        assert_eq!(deps, ["bash", "zlib"], "libz.so.1 by what zlib provides, /bin/sh by the file bash owns");
        assert!(dependencies(&image, Ecosystem::Rpm, "tzdata", "2024a-1.fc40", "").is_empty());
        assert_eq!(rpm_sqlite_path(&image), Some("usr/lib/sysimage/rpm/rpmdb.sqlite"));

        let other_version = owned_files(&image, Ecosystem::Rpm, "zlib", "1.2.13-1.fc40", "").unwrap_err();
        assert_eq!(
            other_version.to_string(),
            "rpm package zlib 1.2.13-1.fc40: its file list in usr/lib/sysimage/rpm/rpmdb.sqlite is not in the image"
        );
        // An older rpm's Berkeley DB is read for inventories, not rewritten: said, not guessed.
        let older = Files::from([("var/lib/rpm/Packages".to_owned(), b"bdb".to_vec())]);
        let error = owned_files(&older, Ecosystem::Rpm, "zlib", "1.3.1-1.fc40", "").unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot put back rpm package zlib 1.3.1-1.fc40: the image's rpm database is var/lib/rpm/Packages, which imagegate reads but does not rewrite (only rpmdb.sqlite)"
        );
    }
}
