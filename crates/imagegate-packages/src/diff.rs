//! What changed between the packages of two images.
//!
//! A package is the same in both images when its ecosystem, identity name (PEP 503-normalised
//! for Python) and location agree. Versions installed side by side (several gem versions, rpm
//! kernels) are matched as sets: versions present in both images are unchanged; when the
//! remaining versions are equally many on each side they are paired in version order as
//! changes, otherwise they are added and removed.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Ecosystem, Inventory, Package};
use crate::version::compare_versions;

/// How a package differs between the two images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A newer version in the image the diff goes to.
    Upgrade,
    /// An older version in the image the diff goes to.
    Downgrade,
    /// Another version that the ecosystem's rules cannot order, or an equal one spelled
    /// differently (`1.0` and `1.0.0` in Python).
    Changed,
    /// Only in the image the diff goes to.
    Added,
    /// Only in the image the diff starts from.
    Removed,
}

impl Direction {
    /// The same change seen from the other image.
    pub fn reversed(self) -> Direction {
        match self {
            Direction::Upgrade => Direction::Downgrade,
            Direction::Downgrade => Direction::Upgrade,
            Direction::Changed => Direction::Changed,
            Direction::Added => Direction::Removed,
            Direction::Removed => Direction::Added,
        }
    }

    /// The lowercase name used in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
            Direction::Changed => "changed",
            Direction::Added => "added",
            Direction::Removed => "removed",
        }
    }
}

/// One package that differs between the two images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChange {
    pub ecosystem: Ecosystem,
    /// The name as the image the diff goes to spells it (the other image's when removed).
    pub name: String,
    /// The environment the package lives in; empty for system package databases.
    pub location: String,
    /// The version in the image the diff starts from; `None` when added.
    pub from: Option<String>,
    /// The version in the image the diff goes to; `None` when removed.
    pub to: Option<String>,
    pub direction: Direction,
    /// Python only: the modules the package installs, in either image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
}

impl PackageChange {
    /// The same change seen from the other image.
    pub fn reversed(&self) -> PackageChange {
        PackageChange {
            from: self.to.clone(),
            to: self.from.clone(),
            direction: self.direction.reversed(),
            ..self.clone()
        }
    }
}

/// The difference between the packages of two images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageDiff {
    /// Same package, other version. Each list is ordered by ecosystem, then name, then location.
    pub changed: Vec<PackageChange>,
    /// Only in the image the diff goes to.
    pub added: Vec<PackageChange>,
    /// Only in the image the diff starts from.
    pub removed: Vec<PackageChange>,
    /// Packages in each image (`[from, to]`), for every ecosystem either image has.
    pub totals: BTreeMap<Ecosystem, [usize; 2]>,
    /// The warnings of the inventory the diff starts from.
    pub from_warnings: Vec<String>,
    /// The warnings of the inventory the diff goes to.
    pub to_warnings: Vec<String>,
}

impl PackageDiff {
    /// Whether no package differs.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }

    /// Every change: changed, then added, then removed packages.
    pub fn changes(&self) -> impl Iterator<Item = &PackageChange> {
        self.changed.iter().chain(&self.added).chain(&self.removed)
    }

    /// The same diff seen from the other image.
    pub fn reversed(&self) -> PackageDiff {
        let reverse_all = |changes: &[PackageChange]| changes.iter().map(PackageChange::reversed).collect::<Vec<_>>();
        PackageDiff {
            changed: reverse_all(&self.changed),
            added: reverse_all(&self.removed),
            removed: reverse_all(&self.added),
            totals: self.totals.iter().map(|(ecosystem, [from, to])| (*ecosystem, [*to, *from])).collect(),
            from_warnings: self.to_warnings.clone(),
            to_warnings: self.from_warnings.clone(),
        }
    }
}

/// The identity of a package across images.
type Key = (Ecosystem, String, String);

fn group(inventory: &Inventory) -> BTreeMap<Key, Vec<&Package>> {
    let mut groups: BTreeMap<Key, Vec<&Package>> = BTreeMap::new();
    for package in &inventory.packages {
        groups
            .entry((package.ecosystem, package.identity_name().into_owned(), package.location.clone()))
            .or_default()
            .push(package);
    }
    groups
}

/// The packages that differ between `from` and `to`.
pub fn diff(from: &Inventory, to: &Inventory) -> PackageDiff {
    let from_groups = group(from);
    let to_groups = group(to);
    let mut keys: Vec<&Key> = from_groups.keys().chain(to_groups.keys()).collect();
    keys.sort();
    keys.dedup();

    let mut result = PackageDiff::default();
    for key in keys {
        let ecosystem = key.0;
        let mut old: Vec<&Package> = from_groups.get(key).cloned().unwrap_or_default();
        let mut new: Vec<&Package> = to_groups.get(key).cloned().unwrap_or_default();
        // Versions in both images are unchanged.
        old.retain(|package| match new.iter().position(|candidate| candidate.version == package.version) {
            Some(index) => {
                new.remove(index);
                false
            }
            None => true,
        });
        if old.is_empty() && new.is_empty() {
            continue;
        }
        sort_by_version(ecosystem, &mut old);
        sort_by_version(ecosystem, &mut new);
        let modules = |packages: &[&Package]| {
            let mut modules: Vec<String> =
                packages.iter().flat_map(|package| package.modules.iter().cloned()).collect();
            modules.sort();
            modules.dedup();
            modules
        };
        if old.len() == new.len() {
            for (before, after) in old.iter().zip(&new) {
                let direction = match compare_versions(ecosystem, &before.version, &after.version) {
                    Some(Ordering::Less) => Direction::Upgrade,
                    Some(Ordering::Greater) => Direction::Downgrade,
                    Some(Ordering::Equal) | None => Direction::Changed,
                };
                result.changed.push(PackageChange {
                    ecosystem,
                    name: after.name.clone(),
                    location: after.location.clone(),
                    from: Some(before.version.clone()),
                    to: Some(after.version.clone()),
                    direction,
                    modules: modules(&[before, after]),
                });
            }
            continue;
        }
        for package in old {
            result.removed.push(PackageChange {
                ecosystem,
                name: package.name.clone(),
                location: package.location.clone(),
                from: Some(package.version.clone()),
                to: None,
                direction: Direction::Removed,
                modules: modules(&[package]),
            });
        }
        for package in new {
            result.added.push(PackageChange {
                ecosystem,
                name: package.name.clone(),
                location: package.location.clone(),
                from: None,
                to: Some(package.version.clone()),
                direction: Direction::Added,
                modules: modules(&[package]),
            });
        }
    }
    for ecosystem in Ecosystem::ALL {
        let counts = [from.count(ecosystem), to.count(ecosystem)];
        if counts != [0, 0] {
            result.totals.insert(ecosystem, counts);
        }
    }
    result.from_warnings = from.warnings.clone();
    result.to_warnings = to.warnings.clone();
    result
}

/// Sorts versions of one package oldest first, by the ecosystem's rules when they order every
/// pair, else by their spelling; either way the order is total, so pairing is the same from
/// both sides.
fn sort_by_version(ecosystem: Ecosystem, packages: &mut [&Package]) {
    if packages.len() < 2 {
        return;
    }
    let all_comparable = packages
        .iter()
        .all(|left| packages.iter().all(|right| compare_versions(ecosystem, &left.version, &right.version).is_some()));
    if all_comparable {
        packages.sort_by(|left, right| {
            compare_versions(ecosystem, &left.version, &right.version)
                .unwrap_or(Ordering::Equal)
                .then_with(|| left.version.cmp(&right.version))
        });
    } else {
        packages.sort_by(|left, right| left.version.cmp(&right.version));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn package(ecosystem: Ecosystem, name: &str, version: &str, location: &str) -> Package {
        Package {
            ecosystem,
            name: name.to_owned(),
            version: version.to_owned(),
            location: location.to_owned(),
            modules: Vec::new(),
        }
    }

    fn inventory(packages: Vec<Package>) -> Inventory {
        Inventory { packages, warnings: Vec::new() }
    }

    fn summary(changes: &[PackageChange]) -> Vec<String> {
        changes
            .iter()
            .map(|change| {
                format!(
                    "{} {} [{}] {} -> {} ({})",
                    change.ecosystem,
                    change.name,
                    change.location,
                    change.from.as_deref().unwrap_or("-"),
                    change.to.as_deref().unwrap_or("-"),
                    change.direction.as_str()
                )
            })
            .collect()
    }

    const SITE: &str = "usr/local/lib/python3.11/site-packages";
    const VENV: &str = "opt/venv/lib/python3.11/site-packages";

    #[test]
    fn lists_upgrades_downgrades_additions_and_removals_in_order() {
        let from = inventory(vec![
            package(Ecosystem::Deb, "libssl3", "3.0.11-1~deb12u2", ""),
            package(Ecosystem::Deb, "zlib1g", "1:1.2.13.dfsg-1", ""),
            package(Ecosystem::Deb, "tzdata", "2024a-0+deb12u1", ""),
            package(Ecosystem::Python, "Werkzeug", "2.2.3", SITE),
            package(Ecosystem::Python, "MarkupSafe", "2.0.1", SITE),
            package(Ecosystem::Python, "six", "1.16.0", VENV),
            package(Ecosystem::Npm, "semver", "7.6.0", "app/node_modules"),
        ]);
        let to = inventory(vec![
            package(Ecosystem::Deb, "libssl3", "3.0.15-1~deb12u1", ""),
            package(Ecosystem::Deb, "zlib1g", "1:1.2.13.dfsg-1", ""),
            package(Ecosystem::Deb, "tzdata", "2023c-5+deb12u1", ""),
            package(Ecosystem::Python, "Werkzeug", "3.0.0", SITE),
            package(Ecosystem::Python, "markupsafe", "2.1.0", SITE),
            package(Ecosystem::Python, "six", "1.16.0", SITE),
            package(Ecosystem::Npm, "semver", "v7.6.0", "app/node_modules"),
            package(Ecosystem::Gem, "rack", "3.0.8", "usr/local/bundle"),
        ]);
        let diff = diff(&from, &to);
        assert_eq!(
            summary(&diff.changed),
            [
                "deb libssl3 [] 3.0.11-1~deb12u2 -> 3.0.15-1~deb12u1 (upgrade)",
                "deb tzdata [] 2024a-0+deb12u1 -> 2023c-5+deb12u1 (downgrade)",
                format!("python markupsafe [{SITE}] 2.0.1 -> 2.1.0 (upgrade)").as_str(),
                format!("python Werkzeug [{SITE}] 2.2.3 -> 3.0.0 (upgrade)").as_str(),
                "npm semver [app/node_modules] 7.6.0 -> v7.6.0 (changed)",
            ]
        );
        assert_eq!(
            summary(&diff.added),
            [
                format!("python six [{SITE}] - -> 1.16.0 (added)"),
                "gem rack [usr/local/bundle] - -> 3.0.8 (added)".to_owned(),
            ]
        );
        assert_eq!(summary(&diff.removed), [format!("python six [{VENV}] 1.16.0 -> - (removed)")]);
        assert_eq!(diff.totals[&Ecosystem::Deb], [3, 3]);
        assert_eq!(diff.totals[&Ecosystem::Gem], [0, 1]);
        assert!(!diff.totals.contains_key(&Ecosystem::Rpm));
    }

    #[test]
    fn matches_versions_installed_side_by_side() {
        let home = "usr/local/bundle";
        let from = inventory(vec![
            package(Ecosystem::Gem, "rack", "2.2.8", home),
            package(Ecosystem::Gem, "rack", "3.0.7", home),
            package(Ecosystem::Rpm, "kernel-core", "5.14.0-362.el9", ""),
        ]);
        let to = inventory(vec![
            package(Ecosystem::Gem, "rack", "2.2.8", home),
            package(Ecosystem::Gem, "rack", "3.0.8", home),
            package(Ecosystem::Rpm, "kernel-core", "5.14.0-362.el9", ""),
            package(Ecosystem::Rpm, "kernel-core", "5.14.0-427.el9", ""),
        ]);
        let diff = diff(&from, &to);
        assert_eq!(summary(&diff.changed), ["gem rack [usr/local/bundle] 3.0.7 -> 3.0.8 (upgrade)"]);
        assert_eq!(summary(&diff.added), ["rpm kernel-core [] - -> 5.14.0-427.el9 (added)"]);
        assert!(diff.removed.is_empty());
    }

    #[test]
    fn keeps_the_modules_of_python_changes_and_the_warnings_of_both_sides() {
        let mut old = package(Ecosystem::Python, "PyYAML", "5.4.1", SITE);
        old.modules = vec!["yaml".into()];
        let mut new = package(Ecosystem::Python, "PyYAML", "6.0.1", SITE);
        new.modules = vec!["_yaml".into(), "yaml".into()];
        let mut from = inventory(vec![old]);
        from.warnings.push("from warning".into());
        let to = inventory(vec![new]);
        let diff = diff(&from, &to);
        assert_eq!(diff.changed[0].modules, ["_yaml", "yaml"]);
        assert_eq!(diff.from_warnings, ["from warning"]);
        assert!(diff.to_warnings.is_empty());
    }

    #[test]
    fn an_inventory_does_not_differ_from_itself() {
        let same = inventory(vec![
            package(Ecosystem::Apk, "musl", "1.2.4-r2", ""),
            package(Ecosystem::Gem, "rack", "2.2.8", "home"),
            package(Ecosystem::Gem, "rack", "3.0.8", "home"),
        ]);
        let diff = diff(&same, &same);
        assert!(diff.is_empty());
        assert_eq!(diff.totals[&Ecosystem::Gem], [2, 2]);
    }

    fn arbitrary_package() -> impl Strategy<Value = Package> {
        (
            prop_oneof![Just(Ecosystem::Deb), Just(Ecosystem::Python), Just(Ecosystem::Gem)],
            prop_oneof![Just("alpha"), Just("beta"), Just("gamma")],
            prop_oneof![Just("1.0"), Just("1.0.0"), Just("1.1"), Just("2.0~rc1"), Just("2.0"), Just("x")],
            prop_oneof![Just(""), Just("env-one"), Just("env-two")],
        )
            .prop_map(|(ecosystem, name, version, location)| package(ecosystem, name, version, location))
    }

    fn arbitrary_inventory() -> impl Strategy<Value = Inventory> {
        (proptest::collection::vec(arbitrary_package(), 0..12), proptest::collection::vec("[a-z ]{1,8}", 0..2))
            .prop_map(|(packages, warnings)| Inventory { packages, warnings })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn an_inventory_never_differs_from_itself(inventory in arbitrary_inventory()) {
            prop_assert!(diff(&inventory, &inventory).is_empty());
        }

        #[test]
        fn swapping_the_images_swaps_the_diff(from in arbitrary_inventory(), to in arbitrary_inventory()) {
            prop_assert_eq!(diff(&to, &from), diff(&from, &to).reversed());
        }
    }
}
