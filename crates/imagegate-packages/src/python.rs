//! Python distributions installed in an image: the `.dist-info` and `.egg-info` metadata in each
//! `site-packages` or `dist-packages` folder.
//!
//! Each such folder is one environment (the system's, a virtualenv's), and is the package's
//! location: the same distribution in two environments is two packages. The name and version
//! come from the metadata headers (`METADATA`, `PKG-INFO`); the importable top-level modules come
//! from `top_level.txt`, or from `RECORD` when a distribution has none, because a failure names
//! modules (`yaml`, `PIL`), not distributions (`PyYAML`, `Pillow`).

use std::collections::BTreeSet;

use crate::model::{Ecosystem, Package};
use crate::paths::PythonFile;

/// The files of one distribution's metadata folder that the image holds.
#[derive(Debug, Default)]
pub(crate) struct DistributionFiles<'a> {
    pub metadata: Option<&'a [u8]>,
    pub top_level: Option<&'a [u8]>,
    pub record: Option<&'a [u8]>,
}

impl<'a> DistributionFiles<'a> {
    pub fn add(&mut self, file: PythonFile, content: &'a [u8]) {
        match file {
            PythonFile::Metadata | PythonFile::EggInfoFile => self.metadata = Some(content),
            PythonFile::TopLevel => self.top_level = Some(content),
            PythonFile::Record => self.record = Some(content),
        }
    }
}

/// Normalises a distribution name as PEP 503 does (`Markup_Safe` → `markup-safe`), so that
/// spellings of one distribution compare equal.
pub fn normalize_distribution_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !in_separator_run {
                normalized.push('-');
            }
            in_separator_run = true;
        } else {
            normalized.extend(character.to_lowercase());
            in_separator_run = false;
        }
    }
    normalized
}

/// Reads one distribution from its metadata folder `folder` in the environment `site`. Returns
/// `None` when neither the metadata nor the folder's name gives a name and a version.
pub(crate) fn read_distribution(site: &str, folder: &str, files: &DistributionFiles<'_>) -> Option<Package> {
    let (mut name, mut version) = files
        .metadata
        .map(|metadata| metadata_name_and_version(&String::from_utf8_lossy(metadata)))
        .unwrap_or_default();
    // Installers name the folder `<name>-<version>.dist-info`; older egg-info folders may carry
    // only the name, in which case the metadata must say the version.
    if name.is_none() || version.is_none() {
        let (folder_name, folder_version) = name_and_version_from_folder(folder);
        name = name.or(folder_name);
        version = version.or(folder_version);
    }
    let name = name?;
    let version = version?;

    let mut modules = BTreeSet::new();
    if let Some(top_level) = files.top_level {
        modules.extend(modules_from_top_level(&String::from_utf8_lossy(top_level)));
    }
    if modules.is_empty()
        && let Some(record) = files.record
    {
        modules.extend(modules_from_record(&String::from_utf8_lossy(record)));
    }
    if modules.is_empty() {
        modules.extend(guessed_modules(&name));
    }
    Some(Package {
        ecosystem: Ecosystem::Python,
        name,
        version,
        location: site.to_owned(),
        modules: modules.into_iter().collect(),
    })
}

/// The `Name` and `Version` headers of core metadata (RFC 822-style headers, ended by the first
/// blank line; the description may follow).
fn metadata_name_and_version(text: &str) -> (Option<String>, Option<String>) {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((field, value)) = line.split_once(':') {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if field.eq_ignore_ascii_case("Name") && name.is_none() {
                name = Some(value.to_owned());
            } else if field.eq_ignore_ascii_case("Version") && version.is_none() {
                version = Some(value.to_owned());
            }
        }
    }
    (name, version)
}

/// `Werkzeug-3.1.8.dist-info` → (`Werkzeug`, `3.1.8`); `crit-3.17.1-py3.11.egg-info` →
/// (`crit`, `3.17.1`); `cryptography.egg-info` → (`cryptography`, none). Installers escape `-`
/// in names to `_`, so the first `-` ends the name.
fn name_and_version_from_folder(folder: &str) -> (Option<String>, Option<String>) {
    let stem =
        [".dist-info", ".egg-info", ".egg"].iter().find_map(|suffix| folder.strip_suffix(suffix)).unwrap_or(folder);
    let mut parts = stem.split('-');
    let name = parts.next().filter(|name| !name.is_empty()).map(str::to_owned);
    let version = parts.next().filter(|version| !version.is_empty()).map(str::to_owned);
    (name, version)
}

/// The modules listed in `top_level.txt`, one a line; a namespace package's entry
/// (`google/protobuf`) counts by its first part, the one an import starts with.
fn modules_from_top_level(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim().split(['/', '\\']).next())
        .filter(|module| is_identifier(module))
        .map(str::to_owned)
        .collect()
}

/// The top-level modules a distribution installed, from the paths of its `RECORD` (a CSV file
/// whose first column is a path relative to the environment): packages (`werkzeug/urls.py` →
/// `werkzeug`), single-file modules (`six.py`) and extension modules
/// (`_cffi_backend.cpython-311-x86_64-linux-gnu.so`). Metadata folders, bytecode caches, `.pth`
/// files and paths outside the environment (`../../../bin/pip`) are not modules.
fn modules_from_record(text: &str) -> Vec<String> {
    let mut modules = BTreeSet::new();
    for line in text.lines() {
        let path = first_csv_field(line);
        let path = path.trim();
        if path.is_empty() || path.starts_with('/') || path.starts_with("..") {
            continue;
        }
        let module = match path.split_once('/') {
            Some((folder, _)) => {
                if folder.ends_with(".dist-info") || folder.ends_with(".data") || folder == "__pycache__" {
                    continue;
                }
                folder
            }
            None => {
                let Some((stem, _)) = path.split_once('.') else {
                    continue;
                };
                // Extension modules carry their ABI tag after the module name
                // (`_yaml.cpython-311-x86_64-linux-gnu.so`), so the stem is what precedes the
                // first dot.
                if !matches!(path.rsplit('.').next(), Some("py" | "so" | "pyd" | "pyc")) {
                    continue;
                }
                stem
            }
        };
        if is_identifier(module) {
            modules.insert(module.to_owned());
        }
    }
    modules.into_iter().collect()
}

/// The first field of a CSV line, with RFC 4180 quoting (paths with commas are quoted).
fn first_csv_field(line: &str) -> String {
    let Some(quoted) = line.strip_prefix('"') else {
        return line.split(',').next().unwrap_or_default().to_owned();
    };
    let mut field = String::new();
    let mut characters = quoted.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '"' {
            if characters.peek() == Some(&'"') {
                field.push('"');
                characters.next();
            } else {
                break;
            }
        } else {
            field.push(character);
        }
    }
    field
}

fn is_identifier(text: &str) -> bool {
    let mut characters = text.chars();
    characters.next().is_some_and(|first| first.is_alphabetic() || first == '_')
        && characters.all(|character| character.is_alphanumeric() || character == '_')
}

/// The import names of a distribution whose metadata does not list its modules (a lone
/// `.egg-info` file). Well-known distributions whose import name differs from their name are
/// listed; otherwise the name itself, as an identifier, is the usual import name.
pub(crate) fn guessed_modules(name: &str) -> Vec<String> {
    let normalized = normalize_distribution_name(name);
    let known: &[&str] = match normalized.as_str() {
        "pyyaml" => &["yaml"],
        "pillow" | "pil" => &["PIL"],
        "scikit-learn" => &["sklearn"],
        "scikit-image" => &["skimage"],
        "beautifulsoup4" => &["bs4"],
        "python-dateutil" => &["dateutil"],
        "attrs" => &["attr", "attrs"],
        "pyjwt" => &["jwt"],
        "opencv-python" | "opencv-python-headless" => &["cv2"],
        "protobuf" => &["google"],
        "pygobject" => &["gi"],
        "dbus-python" => &["dbus"],
        "pyserial" => &["serial"],
        "pyopenssl" => &["OpenSSL"],
        "msgpack-python" => &["msgpack"],
        _ => &[],
    };
    if !known.is_empty() {
        return known.iter().map(|module| (*module).to_owned()).collect();
    }
    let module = normalized.replace('-', "_");
    if is_identifier(&module) { vec![module] } else { Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files<'a>(
        metadata: Option<&'a [u8]>,
        top_level: Option<&'a [u8]>,
        record: Option<&'a [u8]>,
    ) -> DistributionFiles<'a> {
        DistributionFiles { metadata, top_level, record }
    }

    const SITE: &str = "usr/local/lib/python3.11/site-packages";

    #[test]
    fn reads_werkzeug_from_its_real_metadata_and_record() {
        let package = read_distribution(
            SITE,
            "werkzeug-3.1.8.dist-info",
            &files(
                Some(include_bytes!("../fixtures/python/werkzeug-3.1.8.dist-info/METADATA")),
                None,
                Some(include_bytes!("../fixtures/python/werkzeug-3.1.8.dist-info/RECORD")),
            ),
        )
        .unwrap();
        assert_eq!(package.name, "Werkzeug");
        assert_eq!(package.version, "3.1.8");
        assert_eq!(package.location, SITE);
        assert_eq!(package.modules, ["werkzeug"]);
    }

    #[test]
    fn reads_testtools_whose_record_is_its_only_list_of_modules() {
        let package = read_distribution(
            SITE,
            "testtools-2.9.1.dist-info",
            &files(
                Some(include_bytes!("../fixtures/python/testtools-2.9.1.dist-info/METADATA")),
                None,
                Some(include_bytes!("../fixtures/python/testtools-2.9.1.dist-info/RECORD")),
            ),
        )
        .unwrap();
        assert_eq!((package.name.as_str(), package.version.as_str()), ("testtools", "2.9.1"));
        assert_eq!(package.modules, ["testtools"]);
    }

    #[test]
    fn prefers_top_level_txt_when_present() {
        let package = read_distribution(
            SITE,
            "markupsafe-3.0.3.dist-info",
            &files(
                Some(include_bytes!("../fixtures/python/markupsafe-3.0.3.dist-info/METADATA")),
                Some(include_bytes!("../fixtures/python/markupsafe-3.0.3.dist-info/top_level.txt")),
                Some(include_bytes!("../fixtures/python/markupsafe-3.0.3.dist-info/RECORD")),
            ),
        )
        .unwrap();
        assert_eq!((package.name.as_str(), package.version.as_str()), ("MarkupSafe", "3.0.3"));
        assert_eq!(package.modules, ["markupsafe"]);
    }

    #[test]
    fn finds_every_module_a_record_installs() {
        // attrs installs two import packages, `attr` and `attrs`, and has no top_level.txt.
        let package = read_distribution(
            SITE,
            "attrs-26.1.0.dist-info",
            &files(
                Some(include_bytes!("../fixtures/python/attrs-26.1.0.dist-info/METADATA")),
                None,
                Some(include_bytes!("../fixtures/python/attrs-26.1.0.dist-info/RECORD")),
            ),
        )
        .unwrap();
        assert_eq!(package.modules, ["attr", "attrs"]);

        let record = "\
../../../bin/pip,sha256=abc,248
six.py,sha256=abc,34549
__pycache__/six.cpython-311.pyc,,
_cffi_backend.cpython-311-x86_64-linux-gnu.so,sha256=abc,1
distutils-precedence.pth,sha256=abc,151
\"odd,name/__init__.py\",sha256=abc,1
six-1.16.0.dist-info/METADATA,sha256=abc,1
six-1.16.0.data/scripts/tool,sha256=abc,1
README.txt,sha256=abc,1
";
        assert_eq!(modules_from_record(record), ["_cffi_backend", "six"]);
    }

    #[test]
    fn reads_debian_python_metadata() {
        // Copied from Debian 12's /usr/lib/python3/dist-packages.
        let site = "usr/lib/python3/dist-packages";
        let yaml = read_distribution(
            site,
            "PyYAML-6.0.dist-info",
            &files(
                Some(include_bytes!("../fixtures/python/debian-dist-packages/PyYAML-6.0.dist-info/METADATA")),
                Some(include_bytes!("../fixtures/python/debian-dist-packages/PyYAML-6.0.dist-info/top_level.txt")),
                None,
            ),
        )
        .unwrap();
        assert_eq!((yaml.name.as_str(), yaml.version.as_str()), ("PyYAML", "6.0"));
        assert_eq!(yaml.modules, ["_yaml", "yaml"]);

        let cryptography = read_distribution(
            site,
            "cryptography.egg-info",
            &files(
                Some(include_bytes!("../fixtures/python/debian-dist-packages/cryptography.egg-info/PKG-INFO")),
                Some(include_bytes!("../fixtures/python/debian-dist-packages/cryptography.egg-info/top_level.txt")),
                None,
            ),
        )
        .unwrap();
        assert_eq!(cryptography.version, "38.0.4");
        assert_eq!(cryptography.modules, ["cryptography"]);

        // A lone .egg-info file: the metadata only, so the module is guessed from the name.
        let crit = read_distribution(
            site,
            "crit-3.17.1-py3.11.egg-info",
            &files(
                Some(include_bytes!("../fixtures/python/debian-dist-packages/crit-3.17.1-py3.11.egg-info")),
                None,
                None,
            ),
        )
        .unwrap();
        assert_eq!((crit.name.as_str(), crit.version.as_str()), ("crit", "3.17.1"));
        assert_eq!(crit.modules, ["crit"]);
    }

    #[test]
    fn falls_back_to_the_folder_name_without_metadata() {
        let package =
            read_distribution(SITE, "python_dateutil-2.9.0.post0.dist-info", &files(None, None, None)).unwrap();
        assert_eq!(package.name, "python_dateutil");
        assert_eq!(package.version, "2.9.0.post0");
        assert_eq!(package.modules, ["dateutil"]);
        assert!(read_distribution(SITE, "mystery.egg-info", &files(None, None, None)).is_none());
    }

    #[test]
    fn normalizes_names_as_pep_503_does() {
        assert_eq!(normalize_distribution_name("MarkupSafe"), "markupsafe");
        assert_eq!(normalize_distribution_name("Foo__Bar-.baz"), "foo-bar-baz");
        assert_eq!(normalize_distribution_name("zope.interface"), "zope-interface");
    }

    #[test]
    fn reads_only_the_headers_of_metadata() {
        let metadata = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\nName: not-a-header\n";
        assert_eq!(metadata_name_and_version(metadata), (Some("demo".to_owned()), Some("1.0".to_owned())));
    }
}
