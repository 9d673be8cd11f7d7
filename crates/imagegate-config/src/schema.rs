//! The keys `imagegate.toml` may hold, table by table, and the walk that checks a parsed file
//! against them.
//!
//! The walk runs on the span-preserving parse, before any value is used, and reports two
//! kinds of mistakes at the exact key or value: keys imagegate does not know (with the
//! nearest valid name, or the table where the key belongs) and values of the wrong TOML type.
//! Checking types here rather than leaving them to serde lets the messages speak of the
//! file's own keys and types ("must be a string, found an integer") instead of Rust types.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::error::{ConfigError, ConfigErrorKind, SourceFile};

/// What a key's value must look like.
pub(crate) enum Shape {
    String,
    Integer,
    /// An integer or a float.
    Number,
    Boolean,
    StringList,
    /// A table whose keys the user chooses, each with a string value. `what` names one
    /// entry in messages, e.g. "build arg".
    StringMap {
        what: &'static str,
    },
    Table(&'static [Key]),
    /// A table whose keys the user chooses (the image names), each a table of `keys`.
    NamedTables(&'static [Key]),
}

pub(crate) struct Key {
    pub name: &'static str,
    pub shape: Shape,
    /// A valid value as written in the file, for hints.
    pub example: &'static str,
}

/// String keys whose value may be any text, so that quoting a number or boolean written
/// there gives a valid value.
const FREE_TEXT: &[&str] = &["command", "rerun", "list", "target"];

const fn key(name: &'static str, shape: Shape, example: &'static str) -> Key {
    Key { name, shape, example }
}

pub(crate) const ENGINE_KEYS: &[Key] = &[
    key("kind", Shape::String, r#""docker""#),
    key("build_network", Shape::String, r#""host""#),
    key("concurrency", Shape::Integer, "2"),
];

pub(crate) const PROMOTE_KEYS: &[Key] = &[key("branches", Shape::StringList, r#"["main"]"#)];

pub(crate) const STORE_KEYS: &[Key] = &[
    key("state_dir", Shape::String, r#"".imagegate""#),
    key("registry", Shape::String, r#""ghcr.io/acme""#),
    key("candidates", Shape::String, r#""acme-ci-candidates""#),
    key("insecure", Shape::Boolean, "true"),
    key("ca_file", Shape::String, r#""ci/registry-ca.pem""#),
    key("prune_after", Shape::String, r#""30d""#),
    key("lockfile", Shape::String, r#""ci/images.lock""#),
    key("lockfile_remote", Shape::String, r#""origin""#),
    key("lockfile_branch", Shape::String, r#""imagegate-lock""#),
];

pub(crate) const SUITE_KEYS: &[Key] = &[
    key("command", Shape::String, r#""./run-tests.sh""#),
    key("results", Shape::String, r#""/results""#),
    key("workdir", Shape::String, r#""/src""#),
    key("env", Shape::StringMap { what: "environment variable" }, r#"{ CI = "true" }"#),
    key("timeout", Shape::String, r#""45m""#),
    key("rerun", Shape::String, r#""./run-tests.sh {tests}""#),
    key("attempts", Shape::Integer, "3"),
    key("network", Shape::String, r#""none""#),
    key("shard", Shape::String, r#""./run-tests.sh --shard {index}/{total}""#),
    key("list", Shape::String, r#""./run-tests.sh --list""#),
    key("incumbent", Shape::String, r#""full""#),
    key("reuse", Shape::Boolean, "false"),
    // What the results folder may hold (`ResultsLimits`).
    key("max_results_size", Shape::String, r#""256MiB""#),
    key("max_results_files", Shape::Integer, "10000"),
    key("limits", Shape::Table(LIMITS_KEYS), ""),
];

pub(crate) const LIMITS_KEYS: &[Key] = &[
    key("pids", Shape::Integer, "4096"),
    key("memory", Shape::String, r#""4GiB""#),
    key("cpus", Shape::Number, "2"),
    key("capabilities", Shape::StringList, r#"["CHOWN", "DAC_OVERRIDE", "SETUID", "SETGID"]"#),
    key("no_new_privileges", Shape::Boolean, "true"),
    key("read_only", Shape::Boolean, "true"),
    key("log_size", Shape::String, r#""64MiB""#),
];

pub(crate) const IMAGE_KEYS: &[Key] = &[
    key("dockerfile", Shape::String, r#""ci/Dockerfile""#),
    key("context", Shape::String, r#""ci""#),
    key("inputs", Shape::StringList, r#"["ci/**", "setup.py", "pyproject.toml"]"#),
    key("build_args", Shape::StringMap { what: "build arg" }, r#"{ PYTHON_VERSION = "3.12" }"#),
    key("target", Shape::String, r#""test""#),
    key("platform", Shape::String, r#""linux/amd64""#),
    key("stable_tag", Shape::String, r#""acme-ci/debian:stable""#),
    key("suite", Shape::Table(SUITE_KEYS), ""),
    key("culprits", Shape::Table(CULPRITS_KEYS), ""),
];

pub(crate) const CULPRITS_KEYS: &[Key] = &[key("budget", Shape::Integer, "8"), key("keep", Shape::Boolean, "true")];

pub(crate) const ROOT_KEYS: &[Key] = &[
    key("engine", Shape::Table(ENGINE_KEYS), ""),
    key("promote", Shape::Table(PROMOTE_KEYS), ""),
    key("store", Shape::Table(STORE_KEYS), ""),
    key("images", Shape::NamedTables(IMAGE_KEYS), ""),
];

/// Checks `root` against [`ROOT_KEYS`]; returns every mistake found, in no particular order.
pub(crate) fn check(source: SourceFile<'_>, root: &DeTable<'_>) -> Vec<ConfigError> {
    let mut checker = Checker { source, errors: Vec::new() };
    checker.table(root, ROOT_KEYS, &[]);
    checker.errors
}

struct Checker<'a> {
    source: SourceFile<'a>,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    fn table(&mut self, table: &DeTable<'_>, keys: &'static [Key], table_path: &[&str]) {
        for (name, value) in table.iter() {
            match keys.iter().find(|key| key.name == name.get_ref().as_ref()) {
                Some(key) => self.value(value, key, table_path),
                None => {
                    let error = self.unknown_key(name, value, keys, table_path);
                    self.errors.push(error);
                }
            }
        }
    }

    fn value(&mut self, value: &Spanned<DeValue<'_>>, key: &'static Key, table_path: &[&str]) {
        let mut key_path = table_path.to_vec();
        key_path.push(key.name);
        match (&key.shape, value.get_ref()) {
            (Shape::String, DeValue::String(_))
            | (Shape::Integer, DeValue::Integer(_))
            | (Shape::Number, DeValue::Integer(_) | DeValue::Float(_))
            | (Shape::Boolean, DeValue::Boolean(_)) => {}
            (Shape::StringList, DeValue::Array(items)) => {
                for item in items.iter() {
                    if !item.get_ref().is_str() {
                        let message = format!(
                            "`{}` in {} must be a list of strings, found {} in it",
                            key.name,
                            table_name(table_path),
                            a_type(item.get_ref())
                        );
                        let hint =
                            format!("quote the value: \"{}\"", self.source.slice(item.span()).replace('"', "\\\""));
                        self.errors.push(self.source.error(ConfigErrorKind::WrongType, item.span(), message, hint));
                    }
                }
            }
            (Shape::StringMap { what }, DeValue::Table(entries)) => {
                for (name, entry) in entries.iter() {
                    if !entry.get_ref().is_str() {
                        let message =
                            format!("{what} `{}` must be a string, found {}", name.get_ref(), a_type(entry.get_ref()));
                        let hint = format!(
                            "quote the value: {} = {}",
                            bare_or_quoted(name.get_ref()),
                            quoted(self.source.slice(entry.span()))
                        );
                        self.errors.push(self.source.error(ConfigErrorKind::WrongType, entry.span(), message, hint));
                    }
                }
            }
            (Shape::Table(keys), DeValue::Table(table)) => self.table(table, keys, &key_path),
            (Shape::NamedTables(keys), DeValue::Table(tables)) => {
                for (name, entry) in tables.iter() {
                    let mut entry_path = key_path.clone();
                    entry_path.push(name.get_ref().as_ref());
                    match entry.get_ref() {
                        DeValue::Table(table) => self.table(table, keys, &entry_path),
                        other => {
                            let message =
                                format!("image `{}` must be a table, found {}", name.get_ref(), a_type(other));
                            let hint = if other.as_array().is_some() {
                                format!(
                                    "use single brackets: {} (double brackets make a list of tables)",
                                    table_name(&entry_path)
                                )
                            } else {
                                format!(
                                    "describe each image in its own table: {} with `dockerfile`, `stable_tag` and a {} table",
                                    table_name(&entry_path),
                                    table_name(&[&entry_path[..], &["suite"]].concat())
                                )
                            };
                            self.errors.push(self.source.error(
                                ConfigErrorKind::WrongType,
                                entry.span(),
                                message,
                                hint,
                            ));
                        }
                    }
                }
            }
            (_, found) => {
                let error = self.wrong_type(value.span(), found, key, table_path);
                self.errors.push(error);
            }
        }
    }

    fn wrong_type(&self, span: Range<usize>, found: &DeValue<'_>, key: &Key, table_path: &[&str]) -> ConfigError {
        let expected = match key.shape {
            Shape::String => "a string",
            Shape::Integer => "an integer",
            Shape::Number => "a number",
            Shape::Boolean => "a boolean (true or false)",
            Shape::StringList => "a list of strings",
            Shape::StringMap { .. } | Shape::Table(_) | Shape::NamedTables(_) => "a table",
        };
        let location = if table_path.is_empty() { String::new() } else { format!(" in {}", table_name(table_path)) };
        let message = format!("`{}`{location} must be {expected}, found {}", key.name, a_type(found));
        let written = self.source.slice(span.clone());
        let scalar =
            matches!(found, DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_));
        let hint = match (&key.shape, found) {
            (Shape::String, _) if key.name == "timeout" && scalar => {
                // The number as a duration only when it is one (a positive whole number).
                let minutes = written.parse::<u64>().ok().filter(|minutes| *minutes > 0).unwrap_or(45);
                format!("write the duration as a string with its unit, e.g. timeout = \"{minutes}m\" or \"{minutes}s\"")
            }
            // Quoting is the fix only where any text is valid; a path, a name from a list or a
            // duration gets a valid example instead.
            (Shape::String, _) if scalar && FREE_TEXT.contains(&key.name) => {
                format!("quote the value: {} = {}", key.name, quoted(written))
            }
            (Shape::String, _) if scalar => format!("write a quoted string, e.g. {} = {}", key.name, key.example),
            (Shape::Number, DeValue::String(text)) if text.trim().parse::<f64>().is_ok() => {
                format!("remove the quotes: {} = {}", key.name, text.trim())
            }
            (Shape::Integer, DeValue::String(text)) if text.trim().parse::<i64>().is_ok() => {
                format!("remove the quotes: {} = {}", key.name, text.trim())
            }
            (Shape::StringList, DeValue::String(_)) => {
                format!("write a list: {} = [{written}]", key.name)
            }
            (Shape::Table(_) | Shape::NamedTables(_), DeValue::Array(_)) => {
                let mut path = table_path.to_vec();
                path.push(key.name);
                format!("use single brackets: {} (double brackets make a list of tables)", table_name(&path))
            }
            (Shape::Table(_), _) => {
                let mut path = table_path.to_vec();
                path.push(key.name);
                format!("write it as a table: {}", table_name(&path))
            }
            (Shape::NamedTables(_), _) => "describe each image in its own table: [images.NAME]".to_owned(),
            _ => format!("for example: {} = {}", key.name, key.example),
        };
        self.source.error(ConfigErrorKind::WrongType, span, message, hint)
    }

    fn unknown_key(
        &self,
        name: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
        keys: &'static [Key],
        table_path: &[&str],
    ) -> ConfigError {
        let name_text: &str = name.get_ref();
        let mut full_path = table_path.to_vec();
        full_path.push(name_text);
        let is_table = value.get_ref().is_table();
        let message = match (is_table, table_path.is_empty()) {
            (true, _) => format!("unknown table {}", table_name(&full_path)),
            (false, true) => format!("unknown key `{name_text}` at the top level"),
            (false, false) => format!("unknown key `{name_text}` in {}", table_name(table_path)),
        };
        let describe = |key: &Key| {
            if matches!(key.shape, Shape::Table(_) | Shape::NamedTables(_)) {
                let mut path = table_path.to_vec();
                path.push(key.name);
                if matches!(key.shape, Shape::NamedTables(_)) {
                    path.push("NAME");
                }
                table_name(&path)
            } else {
                format!("`{}`", key.name)
            }
        };
        let hint = if let Some(nearest) = nearest_key(name_text, keys) {
            format!("did you mean {}?", describe(nearest))
        } else if let Some(home) = home_of(name_text, table_path) {
            format!("`{name_text}` belongs in {home}")
        } else {
            let valid: Vec<String> = keys.iter().map(describe).collect();
            let place = if table_path.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in {}", table_name(table_path))
            };
            format!("valid keys {place} are {}", english_list(&valid))
        };
        self.source.error(ConfigErrorKind::UnknownKey, name.span(), message, hint)
    }
}

/// The valid key nearest to a misspelt one, if any is near enough to be a likely typo.
fn nearest_key<'k>(name: &str, keys: &'k [Key]) -> Option<&'k Key> {
    let lowercase = name.to_lowercase();
    // One edit per three characters catches typos without suggesting unrelated short keys.
    let limit = (lowercase.chars().count() / 3).max(1);
    keys.iter()
        .map(|key| (strsim::damerau_levenshtein(&lowercase, key.name), key))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, key)| key)
}

/// Where a key that is valid elsewhere belongs, e.g. `command` written in `[images.debian]`
/// instead of `[images.debian.suite]`.
fn home_of(name: &str, table_path: &[&str]) -> Option<String> {
    let image = match table_path {
        ["images", image, ..] => *image,
        _ => "NAME",
    };
    let tables: [(Vec<&str>, &[Key]); 7] = [
        (vec!["engine"], ENGINE_KEYS),
        (vec!["promote"], PROMOTE_KEYS),
        (vec!["store"], STORE_KEYS),
        (vec!["images", image], IMAGE_KEYS),
        (vec!["images", image, "suite"], SUITE_KEYS),
        (vec!["images", image, "suite", "limits"], LIMITS_KEYS),
        (vec!["images", image, "culprits"], CULPRITS_KEYS),
    ];
    tables
        .iter()
        .filter(|(path, _)| path.as_slice() != table_path)
        .find(|(_, keys)| keys.iter().any(|key| key.name == name))
        .map(|(path, _)| table_name(path))
}

/// `[images.debian.suite]`, quoting keys that are not bare TOML keys.
pub(crate) fn table_name(path: &[&str]) -> String {
    let keys: Vec<String> = path.iter().map(|key| bare_or_quoted(key)).collect();
    format!("[{}]", keys.join("."))
}

/// A key as TOML needs it written: bare when it can be, quoted otherwise.
pub(crate) fn bare_or_quoted(key: &str) -> String {
    let bare = !key.is_empty()
        && key.chars().all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | '-'));
    if bare { key.to_owned() } else { quoted(key) }
}

/// A TOML basic string holding `text`.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            control if control.is_control() => {
                out.push_str(&format!("\\u{:04X}", u32::from(control)));
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

fn a_type(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// "`a`, `b` and `c`".
pub(crate) fn english_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_quote_keys_that_are_not_bare() {
        assert_eq!(table_name(&["images", "py3.11", "suite"]), r#"[images."py3.11".suite]"#);
        assert_eq!(table_name(&["images", "debian"]), "[images.debian]");
    }

    #[test]
    fn nearest_key_allows_one_edit_per_three_characters() {
        let nearest = |name| nearest_key(name, IMAGE_KEYS).map(|key| key.name);
        assert_eq!(nearest("dockerfil"), Some("dockerfile"));
        assert_eq!(nearest("Dockerfile"), Some("dockerfile"));
        assert_eq!(nearest("build-args"), Some("build_args"));
        assert_eq!(nearest("stabletag"), Some("stable_tag"));
        assert_eq!(nearest("tag"), None);
        assert_eq!(nearest("command"), None);
    }

    #[test]
    fn home_of_finds_the_table_a_key_belongs_in() {
        assert_eq!(home_of("command", &["images", "debian"]).as_deref(), Some("[images.debian.suite]"));
        assert_eq!(home_of("stable_tag", &["images", "debian", "suite"]).as_deref(), Some("[images.debian]"));
        assert_eq!(home_of("kind", &[]).as_deref(), Some("[engine]"));
        assert_eq!(home_of("nonsense", &[]), None);
    }

    #[test]
    fn english_list_joins_with_and() {
        let items = ["`a`".to_owned(), "`b`".to_owned(), "`c`".to_owned()];
        assert_eq!(english_list(&items), "`a`, `b` and `c`");
        assert_eq!(english_list(&items[..1]), "`a`");
    }
}
