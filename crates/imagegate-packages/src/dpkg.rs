//! Debian's package database: `var/lib/dpkg/status`, and the `var/lib/dpkg/status.d/` files of
//! distroless images.
//!
//! Both hold control-file stanzas (RFC 822-style `Field: value` lines, continuation lines
//! indented, stanzas separated by blank lines). In `status`, a package counts when its `Status`
//! field's last word says its files are on disk (`installed`, or a state on the way there such
//! as `unpacked`); packages removed with their configuration kept (`config-files`) do not.
//! `status.d` files carry no `Status` field: every stanza there is installed.

use crate::model::{Ecosystem, Package};

/// One package read from a stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpkgEntry {
    pub name: String,
    pub version: String,
    pub architecture: String,
}

/// What a database file held.
#[derive(Debug, Default)]
pub(crate) struct DpkgRead {
    pub entries: Vec<DpkgEntry>,
    /// Stanzas without a `Package` or `Version` field, which cannot be listed.
    pub incomplete_stanzas: usize,
}

/// Whether the status says the package's files are on disk. The states are dpkg's
/// (`man dpkg-query`): want, error flag, status.
fn files_are_installed(status: &str) -> bool {
    matches!(
        status.split_whitespace().last(),
        Some("installed" | "triggers-pending" | "triggers-awaited" | "half-configured" | "unpacked")
    )
}

/// Reads the stanzas of a status file. `requires_status` is true for `var/lib/dpkg/status`,
/// false for a distroless `status.d` file.
pub(crate) fn read_status(text: &str, requires_status: bool) -> DpkgRead {
    let mut read = DpkgRead::default();
    for stanza in stanzas(text) {
        let mut name = None;
        let mut version = None;
        let mut architecture = None;
        let mut status = None;
        for (field, value) in stanza {
            // Field names are case-insensitive (Debian policy §5.1).
            if field.eq_ignore_ascii_case("Package") {
                name = Some(value);
            } else if field.eq_ignore_ascii_case("Version") {
                version = Some(value);
            } else if field.eq_ignore_ascii_case("Architecture") {
                architecture = Some(value);
            } else if field.eq_ignore_ascii_case("Status") {
                status = Some(value);
            }
        }
        if requires_status && !status.is_some_and(files_are_installed) {
            continue;
        }
        match (name, version) {
            (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => {
                read.entries.push(DpkgEntry {
                    name: name.to_owned(),
                    version: version.to_owned(),
                    architecture: architecture.unwrap_or_default().to_owned(),
                });
            }
            _ => read.incomplete_stanzas += 1,
        }
    }
    read
}

/// The `(field, first line of value)` pairs of each stanza; continuation lines are skipped, as
/// none of the fields read here has them.
fn stanzas(text: &str) -> impl Iterator<Item = Vec<(&str, &str)>> {
    let mut lines = text.lines().peekable();
    std::iter::from_fn(move || {
        // Skip the blank lines between stanzas.
        while lines.peek().is_some_and(|line| line.trim().is_empty()) {
            lines.next();
        }
        lines.peek()?;
        let mut fields = Vec::new();
        for line in lines.by_ref() {
            if line.trim().is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) || line.starts_with('#') {
                continue;
            }
            if let Some((field, value)) = line.split_once(':') {
                fields.push((field.trim(), value.trim()));
            }
        }
        Some(fields)
    })
}

/// Turns the entries of every dpkg file of one image into packages. A package of a foreign
/// architecture (multiarch) is named `name:arch`, as `dpkg-query` shows it, so that `libc6`
/// and `libc6:i386` stay two packages; the native architecture is the one most packages have
/// (`all` aside), since nothing in the status file names it.
pub(crate) fn into_packages(entries: Vec<DpkgEntry>) -> Vec<Package> {
    let native = main_architecture(entries.iter().map(|entry| entry.architecture.as_str()));
    entries
        .into_iter()
        .map(|entry| {
            let name = if is_foreign(&entry.architecture, native.as_deref()) {
                format!("{}:{}", entry.name, entry.architecture)
            } else {
                entry.name
            };
            Package {
                ecosystem: Ecosystem::Deb,
                name,
                version: entry.version,
                location: String::new(),
                modules: Vec::new(),
            }
        })
        .collect()
}

/// The architecture most packages are built for, leaving aside the ones built for every
/// architecture (`all` in Debian, `noarch` in RPM). Ties go to the alphabetically first, so the
/// answer does not depend on the order of the database.
pub(crate) fn main_architecture<'a>(architectures: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for architecture in architectures {
        if !architecture.is_empty() && !is_architecture_independent(architecture) {
            *counts.entry(architecture).or_default() += 1;
        }
    }
    let most = counts.values().copied().max()?;
    counts.into_iter().find(|(_, count)| *count == most).map(|(architecture, _)| architecture.to_owned())
}

fn is_architecture_independent(architecture: &str) -> bool {
    matches!(architecture, "all" | "noarch")
}

/// Whether a package's architecture differs from the image's main one.
pub(crate) fn is_foreign(architecture: &str, main: Option<&str>) -> bool {
    !architecture.is_empty()
        && !is_architecture_independent(architecture)
        && main.is_some_and(|main| main != architecture)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stanzas copied from a Debian 12 machine's /var/lib/dpkg/status.
    const DEBIAN_STATUS: &str = include_str!("../fixtures/dpkg/status");

    fn names_and_versions(packages: &[Package]) -> Vec<(&str, &str)> {
        packages.iter().map(|package| (package.name.as_str(), package.version.as_str())).collect()
    }

    #[test]
    fn reads_a_real_debian_status_file() {
        let read = read_status(DEBIAN_STATUS, true);
        assert_eq!(read.incomplete_stanzas, 0);
        let packages = into_packages(read.entries);
        assert_eq!(
            names_and_versions(&packages),
            [
                ("base-files", "12.4+deb12u11"),
                ("libc6", "2.36-9+deb12u14"),
                ("libpython3.11-stdlib", "3.11.2-6+deb12u6"),
                ("libssl3", "3.0.19-1~deb12u2"),
                ("libstdc++6", "12.2.0-14+deb12u1"),
                ("python3-yaml", "6.0-3+b2"),
                ("tzdata", "2025b-0+deb12u2"),
                ("zlib1g", "1:1.2.13.dfsg-1"),
            ]
        );
        assert!(packages.iter().all(|package| package.location.is_empty()));
    }

    #[test]
    fn skips_packages_whose_files_are_not_installed() {
        let status = "\
Package: removed-but-configured
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: never-installed
Status: purge ok not-installed
Architecture: amd64

Package: held
Status: hold ok installed
Architecture: amd64
Version: 2.0-1

Package: interrupted
Status: install ok unpacked
Architecture: amd64
Version: 3.0-1
";
        let packages = into_packages(read_status(status, true).entries);
        assert_eq!(names_and_versions(&packages), [("held", "2.0-1"), ("interrupted", "3.0-1")]);
    }

    #[test]
    fn reads_a_distroless_stanza_without_status() {
        // A distroless image's var/lib/dpkg/status.d/libssl3: the package's control stanza.
        let stanza = "\
Package: libssl3
Source: openssl
Version: 3.0.17-1~deb12u2
Architecture: amd64
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Installed-Size: 6164
Depends: libc6 (>= 2.34)
Section: libs
Priority: optional
Multi-Arch: same
Homepage: https://www.openssl.org/
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
";
        let read = read_status(stanza, false);
        assert_eq!(
            read.entries,
            [DpkgEntry { name: "libssl3".into(), version: "3.0.17-1~deb12u2".into(), architecture: "amd64".into() }]
        );
        assert!(read_status(stanza, true).entries.is_empty());
    }

    #[test]
    fn names_foreign_architecture_packages_as_dpkg_query_does() {
        let status = "\
Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u14

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u14

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b7

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2025b-0+deb12u2
";
        let packages = into_packages(read_status(status, true).entries);
        assert_eq!(
            names_and_versions(&packages),
            [
                ("libc6", "2.36-9+deb12u14"),
                ("libc6:i386", "2.36-9+deb12u14"),
                ("bash", "5.2.15-2+b7"),
                ("tzdata", "2025b-0+deb12u2"),
            ]
        );
    }

    #[test]
    fn counts_stanzas_it_cannot_list() {
        let status = "\
Package: no-version
Status: install ok installed

Version: 1.0
Status: install ok installed
";
        let read = read_status(status, true);
        assert!(read.entries.is_empty());
        assert_eq!(read.incomplete_stanzas, 2);
    }

    #[test]
    fn tolerates_windows_line_endings_and_lowercase_field_names() {
        let status = "package: curl\r\nstatus: install ok installed\r\nversion: 7.88.1-10\r\n\r\n";
        let read = read_status(status, true);
        assert_eq!(read.entries.len(), 1);
        assert_eq!(read.entries[0].version, "7.88.1-10");
    }
}
