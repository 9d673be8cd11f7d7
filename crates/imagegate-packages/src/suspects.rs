//! Which changed packages most likely caused one regression, judged by what its failure text
//! (traceback, error message, tool output) says.
//!
//! The text is read once into clues; each changed, added or removed package is scored by the
//! clues that point at it. A package scores the weight of each kind of clue it has (once per
//! kind), plus bonuses:
//!
//! | clue | weight |
//! |---|---|
//! | an import failed against one of its modules (`cannot import name 'X' from 'werkzeug.urls'`, `No module named 'markupsafe'`, `Cannot find module 'x'`, a missing distribution) | 12 |
//! | a path into it (`site-packages/<module>/…`, `node_modules/<name>/…`, `gems/<name>-<version>/…`) | 10, +0.5 for each further line (at most +2) |
//! | an attribute missing from one of its modules (`module 'tox.config' has no attribute 'parseini'`) | 8 |
//! | a Ruby load error naming it (`cannot load such file -- rack/handler`, `can't activate rack`) | 8 |
//! | output only it produces (tox 4's `allowlist_externals`, `evaluation failed :(`) | 5 |
//! | a reference to one of its modules (`werkzeug.urls`, `from yaml import`, `require('x')`) | 4 |
//! | a shared library it provides by Debian's naming (`libssl.so.3` → `libssl3`) | 2 |
//! | its name as a word (not for names of two letters or common words such as `six`, `mock`) | 1 |
//!
//! | bonus | when |
//! |---|---|
//! | +6 | of the paths into packages, the innermost is into it (the last in a Python traceback, the first in a JavaScript or Ruby backtrace) |
//! | +2 | a path into it lies in its own environment (its site-packages, node_modules or gem home) |
//! | +1 | its major version changed, and it has other evidence |
//!
//! A package with no clue is not a suspect: when nothing in the text points at a changed
//! package, the list is empty. Python packages are matched by the modules they install (so
//! `PyYAML` by `yaml`); Debian, Alpine and RPM packages of Python, Node.js and Ruby libraries
//! (`python3-yaml`, `py3-yaml`, `node-semver`, `ruby-rack`) by the module their name carries,
//! with paths only under the system's `/usr/lib`, `/usr/lib64` and `/usr/share`.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::diff::{Direction, PackageChange, PackageDiff};
use crate::model::Ecosystem;
use crate::python::{guessed_modules, normalize_distribution_name};
use crate::version::major_number;

const IMPORT_FAILURE: f64 = 12.0;
const PATH: f64 = 10.0;
const PATH_REPEAT: f64 = 0.5;
const PATH_REPEAT_CAP: f64 = 2.0;
const MISSING_ATTRIBUTE: f64 = 8.0;
const LOAD_ERROR: f64 = 8.0;
const TOOL_OUTPUT: f64 = 5.0;
const MODULE_REFERENCE: f64 = 4.0;
const SHARED_LIBRARY: f64 = 2.0;
const NAME_MENTION: f64 = 1.0;
const INNERMOST_FRAME: f64 = 6.0;
const SAME_ENVIRONMENT: f64 = 2.0;
const MAJOR_CHANGE: f64 = 1.0;

/// Names too common in ordinary text for a mention to mean the package.
const COMMON_WORDS: &[&str] = &[
    "six", "attrs", "mock", "test", "tests", "core", "util", "utils", "common", "base", "lib", "json", "time", "path",
    "file", "files", "types", "typing", "text", "data", "log", "debug", "color", "which", "once", "glob", "make",
    "patch", "less", "more", "diff", "find", "error", "errors", "build", "main", "run", "runner", "setup", "config",
    "python", "node", "ruby", "version", "tools", "request", "requests", "date", "next", "send", "yes", "open",
];

/// A changed package ranked as a likely cause of one regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspect {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub location: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Direction,
    /// Higher is likelier; comparable only within one regression's list.
    pub score: f64,
    /// What in the failure text points at the package, strongest first.
    pub evidence: Vec<String>,
}

/// The changed packages of `diff` that `failure_text` points at, likeliest first; empty when
/// nothing in the text points at any of them.
pub fn suspects(failure_text: &str, diff: &PackageDiff) -> Vec<Suspect> {
    let clues = Clues::read(failure_text);
    let mut suspects: Vec<Suspect> = diff.changes().filter_map(|change| score(change, &clues)).collect();
    suspects.sort_by(|left, right| {
        right
            .score
            .total_cmp(&left.score)
            .then_with(|| left.ecosystem.cmp(&right.ecosystem))
            .then_with(|| left.name.cmp(&right.name))
            .then_with(|| left.location.cmp(&right.location))
    });
    suspects
}

/// A path in the text into an installed package.
#[derive(Debug)]
struct Frame {
    /// The module (Python), package name (npm) or gem name the path enters.
    key: String,
    /// The folder the package is installed in, as the text spells it.
    prefix: String,
    /// Byte offset in the text, to find the innermost frame.
    position: usize,
}

/// A clue naming something, with the text that named it.
#[derive(Debug)]
struct Named {
    key: String,
    detail: String,
}

/// Everything in one failure text that can point at a package.
#[derive(Debug, Default)]
struct Clues {
    python_frames: Vec<Frame>,
    npm_frames: Vec<Frame>,
    gem_frames: Vec<Frame>,
    /// Modules (top-level names) an import failed against.
    python_import_failures: Vec<Named>,
    /// Distributions (normalised) whose metadata was missing.
    python_missing_distributions: Vec<Named>,
    python_missing_attributes: Vec<Named>,
    python_references: Vec<Named>,
    npm_missing: Vec<Named>,
    npm_references: Vec<Named>,
    /// Gem names a load error points at (each possible name of the feature).
    gem_load_errors: Vec<Named>,
    /// Package names a shared library may come from.
    shared_libraries: Vec<Named>,
    /// Tools whose output appears (Python distribution names, normalised).
    tool_outputs: Vec<Named>,
    /// The words of the text, lower-cased, for name mentions.
    words: HashSet<String>,
}

fn pattern(source: &str) -> Regex {
    // The patterns are constants of this file; every one is exercised by the tests below.
    Regex::new(source).expect("a constant pattern of this file is valid")
}

static PYTHON_PATH: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r#"(?P<prefix>[^\s"'()\[\],;=<>]*(?:site|dist)-packages)/(?P<module>[A-Za-z_][A-Za-z0-9_]*)"#)
});
static PYTHON_CANNOT_IMPORT: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"cannot import name '?[\w.]+'? from '?(?P<module>[A-Za-z_][\w.]*)'?"#));
static PYTHON_NO_MODULE: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"No module named '?(?P<module>[A-Za-z_][\w.]*)'?"#));
static PYTHON_MISSING_ATTRIBUTE: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"module '(?P<module>[A-Za-z_][\w.]*)' has no attribute '?\w+'?"#));
static PYTHON_MISSING_DISTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r#"(?:The '(?P<requirement>[A-Za-z0-9][\w.-]*)[^']*' distribution was not found|No package metadata was found for (?P<name>[A-Za-z0-9][\w.-]*))"#,
    )
});
static PYTHON_DOTTED_NAME: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"\b(?P<module>[A-Za-z_][A-Za-z0-9_]*)\.(?P<next>[A-Za-z_][A-Za-z0-9_]*)"));

/// What follows the dot in a file name or a host name (`setup.py`, `tox.ini`, `pypi.org`),
/// which a dotted module path is not.
const NOT_ATTRIBUTES: &[&str] = &[
    "py", "pyc", "pyi", "pyx", "so", "txt", "md", "rst", "ini", "cfg", "toml", "json", "yaml", "yml", "xml", "html",
    "log", "csv", "lock", "sh", "js", "mjs", "cjs", "ts", "rb", "com", "org", "net", "io", "dev",
];
static PYTHON_IMPORT_STATEMENT: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?m)^\s*(?:from|import)\s+(?P<module>[A-Za-z_][A-Za-z0-9_]*)"));
static NPM_PATH: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"(?P<prefix>[^\s"'()\[\],;=<>]*node_modules)/(?P<name>@[\w.-]+/[\w.-]+|[\w-][\w.-]*)"#));
static NPM_MISSING: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"Cannot find (?:module|package) '(?P<specifier>[^']+)'"#));
static NPM_REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"(?:require\(\s*|import\(\s*|from\s+)['"](?P<specifier>[^'"\s]+)['"]"#));
static GEM_PATH: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"(?P<prefix>[^\s"'()\[\],;=<>]*)/gems/(?P<folder>[A-Za-z0-9_.-]+-\d[A-Za-z0-9_.-]*)/"#));
static RUBY_LOAD_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r#"(?:cannot load such file -- (?P<feature>[\w./-]+)|(?:can't|cannot) activate (?P<activate>[\w.-]+)|Could not find (?:gem )?'?(?P<missing>[A-Za-z][\w.-]*?)(?:-\d[\w.]*)?'? in )"#,
    )
});
static SHARED_LIBRARY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    // The shortest name before `.so` (`libpython3.11` of `libpython3.11.so.1.0`), then the
    // major version if any; `.so` must end there or go on with a number (not `.socket`).
    pattern(r"\b(?P<base>lib[A-Za-z0-9_+.-]*?)\.so(?:\.(?P<major>\d+)|\b)")
});

/// Output that only one tool prints, for tools whose errors do not name themselves.
static TOOL_SIGNATURES: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        // tox 4: the per-environment command lines and the closing summary.
        ("tox", pattern(r"\ballowlist_externals\b")),
        ("tox", pattern(r"evaluation failed :\(")),
        ("tox", pattern(r"(?m)^\s*[\w.-]+: commands\[\d+\]>")),
        ("tox", pattern(r"(?m)^\s*[\w.-]+: FAIL code \d+ \(")),
        ("tox", pattern(r"\btox\.ini\b")),
    ]
});

/// The text of a match, shortened for an evidence line.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 120;
    let text = text.trim();
    if text.len() <= LIMIT {
        return text.to_owned();
    }
    let mut end = LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The first part of a dotted module path (`werkzeug` of `werkzeug.urls`).
fn module_root(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

/// The package an npm module specifier names (`@babel/core` of `@babel/core/lib/x`, `lodash` of
/// `lodash/fp`); `None` for relative, absolute and built-in (`node:fs`) specifiers.
fn npm_package_of(specifier: &str) -> Option<String> {
    if specifier.starts_with(['.', '/']) || specifier.contains(':') {
        return None;
    }
    let mut parts = specifier.split('/');
    let first = parts.next()?;
    if first.starts_with('@') {
        let second = parts.next()?;
        Some(format!("{first}/{second}"))
    } else {
        Some(first.to_owned())
    }
}

impl Clues {
    fn read(text: &str) -> Clues {
        let mut clues = Clues { words: words(text), ..Clues::default() };
        for found in PYTHON_PATH.captures_iter(text) {
            if let (Some(prefix), Some(module)) = (found.name("prefix"), found.name("module")) {
                clues.python_frames.push(Frame {
                    key: module.as_str().to_owned(),
                    prefix: prefix.as_str().to_owned(),
                    position: module.start(),
                });
            }
        }
        for regex in [&*PYTHON_CANNOT_IMPORT, &*PYTHON_NO_MODULE] {
            for found in regex.captures_iter(text) {
                if let Some(module) = found.name("module") {
                    clues
                        .python_import_failures
                        .push(Named { key: module_root(module.as_str()).to_owned(), detail: excerpt(&found[0]) });
                }
            }
        }
        for found in PYTHON_MISSING_DISTRIBUTION.captures_iter(text) {
            if let Some(name) = found.name("requirement").or_else(|| found.name("name")) {
                clues
                    .python_missing_distributions
                    .push(Named { key: normalize_distribution_name(name.as_str()), detail: excerpt(&found[0]) });
            }
        }
        for found in PYTHON_MISSING_ATTRIBUTE.captures_iter(text) {
            if let Some(module) = found.name("module") {
                clues
                    .python_missing_attributes
                    .push(Named { key: module_root(module.as_str()).to_owned(), detail: excerpt(&found[0]) });
            }
        }
        for found in PYTHON_DOTTED_NAME.captures_iter(text) {
            let Some(module) = found.name("module") else {
                continue;
            };
            // `self.yaml.x`, `werkzeug/urls.py` and `config.yaml` name an attribute or a file,
            // `pypi.org` a host; none is a module.
            let preceding = text[..module.start()].chars().next_back();
            if preceding.is_some_and(|character| matches!(character, '.' | '/' | '\\' | '-'))
                || found.name("next").is_some_and(|next| NOT_ATTRIBUTES.contains(&next.as_str()))
            {
                continue;
            }
            clues.python_references.push(Named { key: module.as_str().to_owned(), detail: excerpt(&found[0]) });
        }
        for found in PYTHON_IMPORT_STATEMENT.captures_iter(text) {
            if let Some(module) = found.name("module") {
                clues.python_references.push(Named { key: module.as_str().to_owned(), detail: excerpt(&found[0]) });
            }
        }
        for found in NPM_PATH.captures_iter(text) {
            if let (Some(prefix), Some(name)) = (found.name("prefix"), found.name("name")) {
                clues.npm_frames.push(Frame {
                    key: name.as_str().to_owned(),
                    prefix: prefix.as_str().to_owned(),
                    position: name.start(),
                });
            }
        }
        for found in NPM_MISSING.captures_iter(text) {
            if let Some(package) = found.name("specifier").and_then(|specifier| npm_package_of(specifier.as_str())) {
                clues.npm_missing.push(Named { key: package, detail: excerpt(&found[0]) });
            }
        }
        for found in NPM_REFERENCE.captures_iter(text) {
            if let Some(package) = found.name("specifier").and_then(|specifier| npm_package_of(specifier.as_str())) {
                clues.npm_references.push(Named { key: package, detail: excerpt(&found[0]) });
            }
        }
        for found in GEM_PATH.captures_iter(text) {
            let (Some(prefix), Some(folder)) = (found.name("prefix"), found.name("folder")) else {
                continue;
            };
            if let Some((name, _version)) = gem_folder_name(folder.as_str()) {
                clues.gem_frames.push(Frame {
                    key: name,
                    prefix: prefix.as_str().to_owned(),
                    position: folder.start(),
                });
            }
        }
        for found in RUBY_LOAD_ERROR.captures_iter(text) {
            let detail = excerpt(&found[0]);
            if let Some(feature) = found.name("feature") {
                // `rack/handler` comes from the gem `rack`; `net/http` from `net-http`.
                let feature = feature.as_str();
                let mut parts = feature.split('/');
                let first = parts.next().unwrap_or(feature);
                clues.gem_load_errors.push(Named { key: first.to_owned(), detail: detail.clone() });
                if let Some(second) = parts.next() {
                    clues.gem_load_errors.push(Named { key: format!("{first}-{second}"), detail });
                }
            } else if let Some(name) = found.name("activate").or_else(|| found.name("missing")) {
                clues.gem_load_errors.push(Named { key: name.as_str().to_owned(), detail });
            }
        }
        for found in SHARED_LIBRARY_NAME.captures_iter(text) {
            let Some(base) = found.name("base") else {
                continue;
            };
            let base = base.as_str().to_lowercase().replace('_', "-");
            let major = found.name("major").map(|major| major.as_str());
            for candidate in shared_library_packages(&base, major) {
                clues.shared_libraries.push(Named { key: candidate, detail: excerpt(&found[0]) });
            }
        }
        for (tool, signature) in TOOL_SIGNATURES.iter() {
            if let Some(found) = signature.find(text) {
                clues.tool_outputs.push(Named { key: (*tool).to_owned(), detail: excerpt(found.as_str()) });
            }
        }
        clues
    }
}

/// `rack-3.0.8` → (`rack`, `3.0.8`); `nokogiri-1.15.4-x86_64-linux` → (`nokogiri`, `1.15.4`).
fn gem_folder_name(folder: &str) -> Option<(String, String)> {
    let split = folder
        .match_indices('-')
        .map(|(index, _)| index)
        .find(|index| folder[index + 1..].starts_with(|character: char| character.is_ascii_digit()))?;
    let version = folder[split + 1..].split('-').next()?;
    Some((folder[..split].to_owned(), version.to_owned()))
}

/// The package names that may provide `<base>.so.<major>` under Debian's library naming
/// (`libssl.so.3` → `libssl3`, `libpython3.11.so.1.0` → `libpython3.11`, `libfoo1.2.so.0` →
/// `libfoo1.2-0`), with the `t64` names of Debian's 64-bit time transition. The library's own
/// name covers RPM's and Alpine's packages of the same name (`libffi`).
fn shared_library_packages(base: &str, major: Option<&str>) -> Vec<String> {
    let mut names = vec![base.to_owned()];
    if let Some(major) = major {
        if base.ends_with(|character: char| character.is_ascii_digit()) {
            names.push(format!("{base}-{major}"));
        } else {
            names.push(format!("{base}{major}"));
        }
    }
    let with_t64: Vec<String> = names.iter().map(|name| format!("{name}t64")).collect();
    names.extend(with_t64);
    names
}

/// What a changed package can be recognised by in a failure text.
#[derive(Debug, Default)]
struct Handles {
    /// Python import names.
    python_modules: Vec<String>,
    /// A system package (`python3-yaml`, `node-semver`): its paths are only the system's.
    system_package: bool,
    /// Python only: the normalised distribution name.
    python_distribution: Option<String>,
    npm_names: Vec<String>,
    gem_names: Vec<String>,
    /// System packages: the name, for shared libraries.
    library_name: Option<String>,
    /// Names to look for as words, lower-cased.
    mention_names: Vec<String>,
}

impl Handles {
    fn of(change: &PackageChange) -> Handles {
        let mut handles = Handles::default();
        // `libc6:i386` and the like: the architecture is not part of what a text names.
        let name = match change.ecosystem {
            Ecosystem::Deb => change.name.split(':').next().unwrap_or(&change.name),
            _ => change.name.as_str(),
        };
        match change.ecosystem {
            Ecosystem::Python => {
                handles.python_modules =
                    if change.modules.is_empty() { guessed_modules(name) } else { change.modules.clone() };
                handles.python_distribution = Some(normalize_distribution_name(name));
            }
            Ecosystem::Npm => handles.npm_names.push(name.to_owned()),
            Ecosystem::Gem => handles.gem_names.push(name.to_owned()),
            Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => {
                handles.system_package = true;
                handles.library_name = Some(name.to_lowercase());
                let python_library =
                    ["python3-", "python-", "py3-"].iter().find_map(|prefix| name.strip_prefix(prefix));
                if let Some(library) = python_library {
                    handles.python_modules = guessed_modules(library);
                }
                if let Some(library) = name.strip_prefix("node-") {
                    handles.npm_names.push(library.to_owned());
                }
                if let Some(library) = name.strip_prefix("ruby-") {
                    handles.gem_names.push(library.to_owned());
                }
            }
        }
        let lowercase = name.to_lowercase();
        if lowercase.len() >= 3 && !COMMON_WORDS.contains(&lowercase.as_str()) {
            handles.mention_names.push(lowercase);
        }
        handles
    }
}

/// Whether a path prefix is where distribution packages install libraries
/// (`/usr/lib/python3/dist-packages`, `/usr/lib64/python3.12/site-packages`,
/// `/usr/share/nodejs`), rather than where pip, npm or bundler do (`/usr/local`, `/opt`, a
/// project's folder).
fn is_system_prefix(prefix: &str) -> bool {
    let prefix = prefix.trim_start_matches('/');
    ["usr/lib/", "usr/lib64/", "usr/share/"].iter().any(|system| prefix.starts_with(system))
}

/// The words of a text, lower-cased: runs of letters, digits and `_ - + .` (the characters of
/// package names), with each dotted word also split at its dots (`werkzeug.urls` gives
/// `werkzeug.urls`, `werkzeug` and `urls`) and cut after each dot (`zope.interface` of
/// `zope.interface.verify`). Looking names up in this set keeps the cost of mentions linear in
/// the text, however many packages changed.
fn words(text: &str) -> HashSet<String> {
    let is_name_character = |character: char| character.is_alphanumeric() || matches!(character, '_' | '-' | '+' | '.');
    let mut words = HashSet::new();
    for word in text.to_lowercase().split(|character: char| !is_name_character(character)) {
        let word = word.trim_matches(['.', '-']);
        if word.is_empty() {
            continue;
        }
        if word.contains('.') {
            let mut prefix_end = 0;
            for part in word.split('.') {
                prefix_end += part.len();
                words.insert(part.to_owned());
                words.insert(word[..prefix_end].to_owned());
                prefix_end += 1;
            }
        }
        words.insert(word.to_owned());
    }
    words
}

/// The evidence gathered for one package.
#[derive(Default)]
struct Tally {
    score: f64,
    evidence: Vec<(f64, String)>,
}

impl Tally {
    fn add(&mut self, weight: f64, evidence: String) {
        self.score += weight;
        self.evidence.push((weight, evidence));
    }

    /// Adds the first clue naming one of `keys`, if any.
    fn add_first(&mut self, weight: f64, clues: &[Named], keys: &[String], describe: impl Fn(&Named) -> String) {
        if let Some(clue) = clues.iter().find(|clue| keys.contains(&clue.key)) {
            self.add(weight, describe(clue));
        }
    }

    /// Adds the paths into the package, with the innermost-frame and same-environment bonuses.
    fn add_frames(
        &mut self,
        frames: &[Frame],
        innermost: Option<&Frame>,
        matches: impl Fn(&Frame) -> bool,
        location: &str,
    ) {
        let hits: Vec<&Frame> = frames.iter().filter(|frame| matches(frame)).collect();
        let Some(first) = hits.first() else {
            return;
        };
        let repeats = (hits.len() - 1) as f64 * PATH_REPEAT;
        let lines = if hits.len() == 1 { String::new() } else { format!(" ({} times)", hits.len()) };
        self.add(PATH + repeats.min(PATH_REPEAT_CAP), format!("path {}/{}/{lines}", first.prefix, first.key));
        if !location.is_empty() && hits.iter().any(|frame| frame.prefix.trim_start_matches('/') == location) {
            self.add(SAME_ENVIRONMENT, format!("the path is in its environment ({location})"));
        }
        if let Some(innermost) = innermost
            && hits.iter().any(|frame| std::ptr::eq(*frame, innermost))
        {
            self.add(INNERMOST_FRAME, format!("the innermost frame is in {}/{}/", innermost.prefix, innermost.key));
        }
    }
}

fn score(change: &PackageChange, clues: &Clues) -> Option<Suspect> {
    let handles = Handles::of(change);
    let mut tally = Tally::default();

    let modules = &handles.python_modules;
    tally.add_first(IMPORT_FAILURE, &clues.python_import_failures, modules, |clue| {
        format!("import failed: {}", clue.detail)
    });
    if let Some(distribution) = &handles.python_distribution {
        tally.add_first(
            IMPORT_FAILURE,
            &clues.python_missing_distributions,
            std::slice::from_ref(distribution),
            |clue| format!("distribution missing: {}", clue.detail),
        );
    }
    tally.add_first(IMPORT_FAILURE, &clues.npm_missing, &handles.npm_names, |clue| {
        format!("module not found: {}", clue.detail)
    });

    let in_reach = |frame: &Frame| !handles.system_package || is_system_prefix(&frame.prefix);
    let python_innermost = clues.python_frames.iter().max_by_key(|frame| frame.position);
    tally.add_frames(
        &clues.python_frames,
        python_innermost,
        |frame| modules.contains(&frame.key) && in_reach(frame),
        &change.location,
    );
    // JavaScript and Ruby print the innermost frame first.
    let npm_innermost = clues.npm_frames.iter().min_by_key(|frame| frame.position);
    tally.add_frames(
        &clues.npm_frames,
        npm_innermost,
        |frame| handles.npm_names.contains(&frame.key) && in_reach(frame),
        &change.location,
    );
    let gem_innermost = clues.gem_frames.iter().min_by_key(|frame| frame.position);
    tally.add_frames(
        &clues.gem_frames,
        gem_innermost,
        |frame| handles.gem_names.contains(&frame.key) && in_reach(frame),
        &change.location,
    );

    tally.add_first(MISSING_ATTRIBUTE, &clues.python_missing_attributes, modules, |clue| {
        format!("missing attribute: {}", clue.detail)
    });
    tally.add_first(LOAD_ERROR, &clues.gem_load_errors, &handles.gem_names, |clue| {
        format!("load error: {}", clue.detail)
    });
    if let Some(distribution) = &handles.python_distribution {
        tally.add_first(TOOL_OUTPUT, &clues.tool_outputs, std::slice::from_ref(distribution), |clue| {
            format!("{} output: {}", clue.key, clue.detail)
        });
    }
    tally.add_first(MODULE_REFERENCE, &clues.python_references, modules, |clue| {
        format!("module referenced: {}", clue.detail)
    });
    tally.add_first(MODULE_REFERENCE, &clues.npm_references, &handles.npm_names, |clue| {
        format!("module referenced: {}", clue.detail)
    });
    if let Some(library) = &handles.library_name {
        tally.add_first(SHARED_LIBRARY, &clues.shared_libraries, std::slice::from_ref(library), |clue| {
            format!("shared library {}", clue.detail)
        });
    }
    if handles.mention_names.iter().any(|name| clues.words.contains(name)) {
        tally.add(NAME_MENTION, format!("name mentioned: {}", change.name));
    }

    if tally.evidence.is_empty() {
        return None;
    }
    if let (Some(from), Some(to)) = (&change.from, &change.to)
        && let (Some(old), Some(new)) = (major_number(from), major_number(to))
        && old != new
    {
        tally.add(MAJOR_CHANGE, format!("major version changed ({old} → {new})"));
    }
    tally.evidence.sort_by(|left, right| right.0.total_cmp(&left.0));
    Some(Suspect {
        ecosystem: change.ecosystem,
        name: change.name.clone(),
        location: change.location.clone(),
        from: change.from.clone(),
        to: change.to.clone(),
        direction: change.direction,
        score: tally.score,
        evidence: tally.evidence.into_iter().map(|(_, evidence)| evidence).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "usr/local/lib/python3.11/site-packages";

    fn change(ecosystem: Ecosystem, name: &str, from: &str, to: &str, location: &str) -> PackageChange {
        PackageChange {
            ecosystem,
            name: name.to_owned(),
            location: location.to_owned(),
            from: Some(from.to_owned()),
            to: Some(to.to_owned()),
            direction: Direction::Upgrade,
            modules: Vec::new(),
        }
    }

    fn python(name: &str, from: &str, to: &str, modules: &[&str]) -> PackageChange {
        PackageChange {
            modules: modules.iter().map(|module| (*module).to_owned()).collect(),
            ..change(Ecosystem::Python, name, from, to, SITE)
        }
    }

    fn diff_of(changes: Vec<PackageChange>) -> PackageDiff {
        PackageDiff { changed: changes, ..PackageDiff::default() }
    }

    fn ranking(suspects: &[Suspect]) -> Vec<&str> {
        suspects.iter().map(|suspect| suspect.name.as_str()).collect()
    }

    /// One line per suspect: score, name, versions, then the evidence.
    fn render(suspects: &[Suspect]) -> String {
        suspects
            .iter()
            .map(|suspect| {
                format!(
                    "{:>5.1} {} {} -> {}\n{}",
                    suspect.score,
                    suspect.name,
                    suspect.from.as_deref().unwrap_or("-"),
                    suspect.to.as_deref().unwrap_or("-"),
                    suspect.evidence.iter().map(|line| format!("      {line}\n")).collect::<String>()
                )
            })
            .collect()
    }

    /// The Python packages that changed together in the cases below: a rebuilt image picked up
    /// new releases of several at once.
    fn python_web_stack() -> Vec<PackageChange> {
        vec![
            python("Flask", "2.2.2", "2.2.5", &["flask"]),
            python("Jinja2", "3.0.3", "3.1.2", &["jinja2"]),
            python("MarkupSafe", "2.0.1", "2.1.0", &["markupsafe"]),
            python("Werkzeug", "2.2.3", "3.0.0", &["werkzeug"]),
            python("PyYAML", "5.4.1", "6.0.1", &["_yaml", "yaml"]),
            python("attrs", "22.2.0", "23.1.0", &["attr", "attrs"]),
            python("six", "1.15.0", "1.16.0", &["six"]),
            python("testtools", "2.7.2", "2.9.1", &["testtools"]),
            python("fixtures", "4.0.1", "4.1.0", &["fixtures"]),
            python("tox", "3.28.0", "4.0.0", &["tox"]),
            python("pytest", "7.2.0", "7.2.1", &["_pytest", "py", "pytest"]),
            change(Ecosystem::Deb, "libssl3", "3.0.11-1~deb12u2", "3.0.15-1~deb12u1", ""),
            change(Ecosystem::Deb, "python3-yaml", "6.0-3+b2", "6.0.1-1", ""),
        ]
    }

    #[test]
    fn werkzeug_3_removing_url_quote_is_blamed_on_werkzeug() {
        // Flask 2.2 imports url_quote, which Werkzeug 3.0 removed.
        let failure = r#"ImportError while importing test module '/app/tests/test_app.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/usr/local/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
tests/test_app.py:3: in <module>
    from flask import Flask
/usr/local/lib/python3.11/site-packages/flask/__init__.py:5: in <module>
    from .app import Flask as Flask
/usr/local/lib/python3.11/site-packages/flask/app.py:30: in <module>
    from werkzeug.urls import url_quote
E   ImportError: cannot import name 'url_quote' from 'werkzeug.urls' (/usr/local/lib/python3.11/site-packages/werkzeug/urls.py)"#;
        let ranked = suspects(failure, &diff_of(python_web_stack()));
        insta::assert_snapshot!(render(&ranked), @r"
        36.0 Werkzeug 2.2.3 -> 3.0.0
             import failed: cannot import name 'url_quote' from 'werkzeug.urls'
             path /usr/local/lib/python3.11/site-packages/werkzeug/
             the innermost frame is in /usr/local/lib/python3.11/site-packages/werkzeug/
             module referenced: werkzeug.urls
             the path is in its environment (usr/local/lib/python3.11/site-packages)
             name mentioned: Werkzeug
             major version changed (2 → 3)
        17.5 Flask 2.2.2 -> 2.2.5
             path /usr/local/lib/python3.11/site-packages/flask/ (2 times)
             module referenced: from flask
             the path is in its environment (usr/local/lib/python3.11/site-packages)
             name mentioned: Flask
        ");
        assert_eq!(ranking(&ranked)[..2], ["Werkzeug", "Flask"]);
        assert_eq!(ranked[0].evidence[0], "import failed: cannot import name 'url_quote' from 'werkzeug.urls'");
        assert!(ranked[0].score > ranked[1].score + 5.0, "{ranked:#?}");
    }

    #[test]
    fn markupsafe_2_1_removing_soft_unicode_is_blamed_on_markupsafe() {
        // Jinja2 < 3.0 imported soft_unicode, which MarkupSafe 2.1 removed.
        let failure = r#"Traceback (most recent call last):
  File "/app/tests/test_templates.py", line 4, in <module>
    import jinja2
  File "/usr/local/lib/python3.11/site-packages/jinja2/__init__.py", line 12, in <module>
    from .environment import Environment
  File "/usr/local/lib/python3.11/site-packages/jinja2/environment.py", line 25, in <module>
    from .defaults import BLOCK_END_STRING
  File "/usr/local/lib/python3.11/site-packages/jinja2/defaults.py", line 3, in <module>
    from .filters import FILTERS as DEFAULT_FILTERS  # noqa: F401
  File "/usr/local/lib/python3.11/site-packages/jinja2/filters.py", line 13, in <module>
    from markupsafe import soft_unicode
ImportError: cannot import name 'soft_unicode' from 'markupsafe' (/usr/local/lib/python3.11/site-packages/markupsafe/__init__.py)"#;
        let ranked = suspects(failure, &diff_of(python_web_stack()));
        insta::assert_snapshot!(render(&ranked), @r"
        35.0 MarkupSafe 2.0.1 -> 2.1.0
             import failed: cannot import name 'soft_unicode' from 'markupsafe'
             path /usr/local/lib/python3.11/site-packages/markupsafe/
             the innermost frame is in /usr/local/lib/python3.11/site-packages/markupsafe/
             module referenced: from markupsafe
             the path is in its environment (usr/local/lib/python3.11/site-packages)
             name mentioned: MarkupSafe
        18.5 Jinja2 3.0.3 -> 3.1.2
             path /usr/local/lib/python3.11/site-packages/jinja2/ (4 times)
             module referenced: import jinja2
             the path is in its environment (usr/local/lib/python3.11/site-packages)
             name mentioned: Jinja2
        ");
        assert_eq!(ranking(&ranked)[..2], ["MarkupSafe", "Jinja2"]);
        assert!(ranked[0].evidence.iter().any(|line| line.starts_with("the innermost frame")));
    }

    #[test]
    fn a_traceback_through_testtools_is_blamed_on_testtools() {
        let failure = r#"Traceback (most recent call last):
  File "/app/tests/test_widget.py", line 42, in test_render
    self.useFixture(fixtures.TempDir())
  File "/usr/local/lib/python3.11/site-packages/fixtures/fixture.py", line 205, in setUp
    self._setUp()
  File "/app/tests/test_widget.py", line 47, in test_render
    self.assertThat(rendered, Equals(expected))
  File "/usr/local/lib/python3.11/site-packages/testtools/testcase.py", line 478, in assertThat
    mismatch_error = self._matchHelper(matchee, matcher, message, verbose)
  File "/usr/local/lib/python3.11/site-packages/testtools/testcase.py", line 531, in _matchHelper
    mismatch = matcher.match(matchee)
  File "/usr/local/lib/python3.11/site-packages/testtools/matchers/_basic.py", line 59, in match
    if self.comparator(other, self.expected):
TypeError: 'NoneType' object is not callable"#;
        let ranked = suspects(failure, &diff_of(python_web_stack()));
        insta::assert_snapshot!(render(&ranked), @r"
        20.0 testtools 2.7.2 -> 2.9.1
             path /usr/local/lib/python3.11/site-packages/testtools/ (3 times)
             the innermost frame is in /usr/local/lib/python3.11/site-packages/testtools/
             the path is in its environment (usr/local/lib/python3.11/site-packages)
             name mentioned: testtools
        17.0 fixtures 4.0.1 -> 4.1.0
             path /usr/local/lib/python3.11/site-packages/fixtures/
             module referenced: fixtures.TempDir
             the path is in its environment (usr/local/lib/python3.11/site-packages)
             name mentioned: fixtures
        ");
        assert_eq!(ranking(&ranked)[..2], ["testtools", "fixtures"]);
        assert!(ranked[0].evidence[0].starts_with(&format!("path /{SITE}/testtools/ (3 times)")));
    }

    #[test]
    fn tox_4_rejecting_a_tox_3_configuration_is_blamed_on_tox() {
        // tox 4 no longer reads whitelist_externals: a command it used to allow now fails.
        let failure = "\
py311: install_deps> python -I -m pip install pytest
py311: commands[0]> pytest tests
py311: failed with pytest is not allowed, use allowlist_externals to allow it
  py311: FAIL code 1 (3.13 seconds)
  evaluation failed :( (3.21 seconds)";
        let ranked = suspects(failure, &diff_of(python_web_stack()));
        insta::assert_snapshot!(render(&ranked), @r"
        6.0 tox 3.28.0 -> 4.0.0
            tox output: allowlist_externals
            major version changed (3 → 4)
        1.0 pytest 7.2.0 -> 7.2.1
            name mentioned: pytest
        ");
        assert_eq!(ranking(&ranked), ["tox", "pytest"]);
    }

    #[test]
    fn unrelated_text_has_no_suspects() {
        let failure = "AssertionError: expected 200 OK, got 404 Not Found\n  at tests/test_routes.py:18";
        assert!(suspects(failure, &diff_of(python_web_stack())).is_empty());
        assert!(suspects("", &diff_of(python_web_stack())).is_empty());
    }

    #[test]
    fn short_and_common_names_need_more_than_a_mention() {
        let failure = "six tests failed; the py launcher printed attrs of the mock";
        assert!(suspects(failure, &diff_of(python_web_stack())).is_empty());
    }

    #[test]
    fn finds_a_distribution_by_the_module_it_installs() {
        let failure = "ModuleNotFoundError: No module named 'yaml._yaml'";
        let ranked = suspects(failure, &diff_of(python_web_stack()));
        assert_eq!(ranking(&ranked), ["PyYAML", "python3-yaml"]);
    }

    #[test]
    fn prefers_the_package_in_the_environment_the_path_is_in() {
        let venv = "opt/venv/lib/python3.11/site-packages";
        let debian = "usr/lib/python3/dist-packages";
        let changes = vec![
            PackageChange { location: debian.into(), ..python("Werkzeug", "2.2.2", "2.2.3", &["werkzeug"]) },
            PackageChange { location: venv.into(), ..python("Werkzeug", "2.3.8", "3.0.1", &["werkzeug"]) },
            change(Ecosystem::Deb, "python3-werkzeug", "2.2.2-3", "2.2.2-3+deb12u1", ""),
        ];
        let failure = "  File \"/opt/venv/lib/python3.11/site-packages/werkzeug/routing/rules.py\", line 9\nSyntaxError: invalid syntax";
        let ranked = suspects(failure, &diff_of(changes));
        // The Debian package installs into /usr/lib only, so a venv path does not point at it.
        assert_eq!(
            ranked.iter().map(|suspect| (suspect.name.as_str(), suspect.location.as_str())).collect::<Vec<_>>(),
            [("Werkzeug", venv), ("Werkzeug", debian)]
        );
        assert!(ranked[0].score > ranked[1].score);
    }

    #[test]
    fn reads_node_stack_traces() {
        let node_modules = "app/node_modules";
        let changes = vec![
            change(Ecosystem::Npm, "chalk", "4.1.2", "5.0.0", node_modules),
            change(Ecosystem::Npm, "@babel/code-frame", "7.22.13", "7.24.2", node_modules),
            change(Ecosystem::Npm, "semver", "7.5.4", "7.6.0", node_modules),
        ];
        let failure = "\
Error [ERR_REQUIRE_ESM]: require() of ES Module /app/node_modules/chalk/source/index.js from /app/node_modules/@babel/code-frame/lib/index.js not supported.
Instead change the require of index.js in /app/node_modules/@babel/code-frame/lib/index.js to a dynamic import() which is available in all CommonJS modules.
    at Object.<anonymous> (/app/node_modules/@babel/code-frame/lib/index.js:8:14)
    at Module._compile (node:internal/modules/cjs/loader:1256:14)";
        let ranked = suspects(failure, &diff_of(changes));
        assert_eq!(ranking(&ranked), ["chalk", "@babel/code-frame"]);
        assert!(ranked[0].evidence.iter().any(|line| line.starts_with("the innermost frame")));

        let missing = "Error: Cannot find module 'semver/functions/coerce'\nRequire stack:\n- /app/src/version.js";
        let changes = vec![change(Ecosystem::Npm, "semver", "7.5.4", "7.6.0", node_modules)];
        let ranked = suspects(missing, &diff_of(changes));
        assert_eq!(ranking(&ranked), ["semver"]);
        assert_eq!(ranked[0].evidence[0], "module not found: Cannot find module 'semver/functions/coerce'");
    }

    #[test]
    fn reads_ruby_backtraces_and_load_errors() {
        let home = "usr/local/bundle";
        let changes = vec![
            change(Ecosystem::Gem, "rack", "2.2.8", "3.0.8", home),
            change(Ecosystem::Gem, "rspec-core", "3.12.0", "3.12.2", home),
            change(Ecosystem::Gem, "net-http", "0.3.2", "0.4.1", home),
        ];
        let failure = "\
/usr/local/bundle/gems/rack-3.0.8/lib/rack/builder.rb:103:in `require': cannot load such file -- rack/handler (LoadError)
\tfrom /usr/local/bundle/gems/rack-3.0.8/lib/rack/builder.rb:103:in `load_file'
\tfrom /usr/local/bundle/gems/rspec-core-3.12.2/lib/rspec/core/runner.rb:45:in `invoke'";
        let ranked = suspects(failure, &diff_of(changes));
        assert_eq!(ranking(&ranked), ["rack", "rspec-core"]);
        assert_eq!(ranked[0].evidence[0], format!("path /{home}/rack/ (2 times)"));
        let failure = "cannot load such file -- net/http/persistent (LoadError)";
        let changes = vec![change(Ecosystem::Gem, "net-http", "0.3.2", "0.4.1", home)];
        assert_eq!(ranking(&suspects(failure, &diff_of(changes))), ["net-http"]);
    }

    #[test]
    fn names_the_debian_package_of_a_missing_shared_library() {
        let changes = vec![
            change(Ecosystem::Deb, "libssl3", "3.0.11-1~deb12u2", "3.0.15-1~deb12u1", ""),
            change(Ecosystem::Deb, "libpython3.11", "3.11.2-6", "3.11.2-6+deb12u1", ""),
            change(Ecosystem::Deb, "libffi8", "3.4.4-1", "3.4.4-2", ""),
        ];
        let failure = "ImportError: libssl.so.3: cannot open shared object file: No such file or directory";
        let ranked = suspects(failure, &diff_of(changes.clone()));
        assert_eq!(ranking(&ranked), ["libssl3"]);
        assert_eq!(ranked[0].evidence, ["shared library libssl.so.3"]);
        let failure = "error while loading shared libraries: libpython3.11.so.1.0: cannot open shared object file";
        assert_eq!(ranking(&suspects_of(failure, &changes)), ["libpython3.11"]);
        assert!(suspects_of("open /run/app.socket: refused by libssl.sockets", &changes).is_empty());
    }

    fn suspects_of(failure: &str, changes: &[PackageChange]) -> Vec<Suspect> {
        suspects(failure, &diff_of(changes.to_vec()))
    }

    #[test]
    fn blames_removed_and_added_packages_too() {
        let mut removed = python("python-dateutil", "2.8.2", "", &["dateutil"]);
        removed.to = None;
        removed.direction = Direction::Removed;
        let diff = PackageDiff { removed: vec![removed], ..PackageDiff::default() };
        let ranked = suspects("ModuleNotFoundError: No module named 'dateutil'", &diff);
        assert_eq!(ranking(&ranked), ["python-dateutil"]);
        assert_eq!(ranked[0].to, None);
        assert_eq!(ranked[0].direction, Direction::Removed);
    }

    #[test]
    fn a_missing_attribute_and_a_missing_distribution_point_at_their_packages() {
        let failure = "AttributeError: module 'tox.config' has no attribute 'parseini'";
        let ranked = suspects_of(failure, &python_web_stack());
        assert_eq!(ranking(&ranked)[0], "tox");
        let failure = "importlib.metadata.PackageNotFoundError: No package metadata was found for Jinja2";
        let ranked = suspects_of(failure, &python_web_stack());
        assert_eq!(ranking(&ranked)[0], "Jinja2");
        assert!(ranked[0].evidence[0].starts_with("distribution missing: "));
    }

    #[test]
    fn the_major_version_bonus_needs_other_evidence() {
        let changes = vec![python("Werkzeug", "2.3.8", "3.0.0", &["werkzeug"])];
        assert!(suspects_of("unrelated", &changes).is_empty());
        let ranked = suspects_of("see werkzeug.serving for details", &changes);
        assert_eq!(ranked[0].score, MODULE_REFERENCE + NAME_MENTION + MAJOR_CHANGE);
    }

    #[test]
    fn splits_words_as_package_names_are_spelled() {
        let found = words("Werkzeug.urls failed; see zope.interface.verify and pytest-cov, libstdc++6.");
        for word in ["werkzeug.urls", "werkzeug", "urls", "zope.interface", "zope", "pytest-cov", "libstdc++6"] {
            assert!(found.contains(word), "{word}");
        }
        assert!(!found.contains("pytest"));
        assert!(!found.contains("libstdc++6."));
    }

    #[test]
    fn file_and_host_names_are_not_module_references() {
        let changes = vec![
            python("PyGithub", "1.59.1", "2.1.1", &["github"]),
            python("setuptools", "68.0.0", "69.0.0", &["_distutils_hack", "pkg_resources", "setuptools"]),
        ];
        assert!(suspects_of("fetching https://github.com/org/repo failed; see setup.py", &changes).is_empty());
        assert_eq!(ranking(&suspects_of("AttributeError in github.Repository", &changes)), ["PyGithub"]);
    }
}
