//! The inventory model: the packages found in one image and the ecosystems they belong to.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::python::normalize_distribution_name;

/// Where a package comes from: a system package database or a language's installed packages.
///
/// The order of the variants is the order of every list this crate produces: system packages
/// first, then language packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Debian and Ubuntu: dpkg's status database.
    Deb,
    /// Alpine and Wolfi: apk's installed database.
    Apk,
    /// Fedora, RHEL and their relatives: the rpm database.
    Rpm,
    /// Python distributions in a `site-packages` or `dist-packages` folder.
    Python,
    /// npm packages in a `node_modules` folder.
    Npm,
    /// Ruby gems, from their installed specifications.
    Gem,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 6] =
        [Ecosystem::Deb, Ecosystem::Apk, Ecosystem::Rpm, Ecosystem::Python, Ecosystem::Npm, Ecosystem::Gem];

    /// The lowercase name used in documents (`deb`, `apk`, `rpm`, `python`, `npm`, `gem`).
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Python => "python",
            Ecosystem::Npm => "npm",
            Ecosystem::Gem => "gem",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    /// The name as the package database spells it. Debian and RPM packages of an architecture
    /// other than the image's main one carry it as a suffix (`libc6:i386`, `glibc.i686`), the
    /// way `dpkg-query` and `rpm -q` show them, so that both stay distinct.
    pub name: String,
    /// The version as the package database spells it (Debian and RPM: `[epoch:]version-release`).
    pub version: String,
    /// The environment the package is installed in: the `site-packages` folder, the
    /// `node_modules` folder or the gem home. Empty for system package databases, of which an
    /// image has one.
    pub location: String,
    /// Python only: the top-level modules the distribution installs (`yaml` for `PyYAML`), from
    /// `top_level.txt` or `RECORD`; what a traceback or an import error names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
}

impl Package {
    /// The name under which the same package is recognised in two images. Python names are
    /// normalised (PEP 503), because `MarkupSafe` 2 and `markupsafe` 3 are one distribution;
    /// every other ecosystem's names are exact.
    pub fn identity_name(&self) -> Cow<'_, str> {
        match self.ecosystem {
            Ecosystem::Python => Cow::Owned(normalize_distribution_name(&self.name)),
            _ => Cow::Borrowed(&self.name),
        }
    }
}

/// The packages found in the files of one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Ordered by ecosystem, then identity name, then location, then version. The same package
    /// may be listed with several versions when they are installed side by side (gems, rpm
    /// kernels).
    pub packages: Vec<Package>,
    /// Package databases that could not be read, or only in part; each names its file.
    pub warnings: Vec<String>,
}

impl Inventory {
    /// How many packages of `ecosystem` the image holds.
    pub fn count(&self, ecosystem: Ecosystem) -> usize {
        self.packages.iter().filter(|package| package.ecosystem == ecosystem).count()
    }
}
