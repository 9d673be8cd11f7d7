//! The lockfile's format: TOML with one `[images.NAME]` table per image naming its stable image.
//!
//! ```toml
//! [images.python]
//! digest = "sha256:…"                   # the image id (local engine) or manifest digest (registry)
//! reference = "ghcr.io/acme/ci@sha256:…" # what a job pulls or runs
//! ```
//!
//! Pure: text in, text out, no I/O. Edits go through `toml_edit`, so a move changes only the
//! two values of one image and keeps every other table, key, comment and the layout as the
//! person or tool that wrote them left them.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use toml_edit::{Document, DocumentMut, Item, Table, TableLike, Value};

use crate::error::LockfileError;

/// The table that holds one sub-table per image.
const IMAGES: &str = "images";

/// Written at the top of a lockfile imagegate creates, so a reader knows what it is.
const HEADER: &str = "# The stable image of each image gated by imagegate: what CI jobs of this commit run in.\n# Moved by `imagegate gate --promote` and `imagegate rollback`; edit only to roll back by hand.\n\n";

/// What the lockfile says about one image: the image that is stable now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `sha256:` and 64 hex digits: the image id in a local engine, the manifest digest in a
    /// registry store.
    pub digest: String,
    /// The full reference a job pulls or runs (for a registry, `host/repository@sha256:…`).
    pub reference: String,
}

impl Entry {
    pub fn new(digest: impl Into<String>, reference: impl Into<String>) -> Self {
        Entry { digest: digest.into(), reference: reference.into() }
    }

    /// Refuses a digest or reference that the format would not read back.
    pub fn validate(&self) -> Result<(), LockfileError> {
        if let Some(message) = digest_problem(&self.digest).or_else(|| reference_problem(&self.reference)) {
            return Err(LockfileError::Usage {
                message: format!("write lockfile entry: {message}"),
                hint: "pass the image's `sha256:` digest and its full pullable reference".to_owned(),
            });
        }
        Ok(())
    }
}

/// A parsed lockfile, kept with its layout and comments so that it can be written back.
#[derive(Debug, Clone)]
pub struct Lockfile {
    document: DocumentMut,
}

impl Default for Lockfile {
    fn default() -> Self {
        Lockfile::empty()
    }
}

impl Lockfile {
    /// A lockfile with no image yet: what a missing file means (no stable image, bootstrap).
    pub fn empty() -> Self {
        Lockfile { document: DocumentMut::new() }
    }

    /// Parses and checks a lockfile. `location` names it in errors (a path, or
    /// `commit:path` for a version read from git).
    pub fn parse(text: &str, location: &str) -> Result<Self, LockfileError> {
        let malformed = |span: Option<Range<usize>>, message: String| LockfileError::Malformed {
            location: location.to_owned(),
            line: line_of(text, span),
            message,
        };
        let document = Document::parse(text.to_owned())
            .map_err(|error| malformed(error.span(), error.message().trim_end().to_owned()))?;
        if let Some(images) = document.as_table().get(IMAGES) {
            let Some(table) = images.as_table_like() else {
                return Err(malformed(
                    images.span(),
                    format!("`{IMAGES}` must be a table, found {}", images.type_name()),
                ));
            };
            for (name, item) in table.iter() {
                let key_span = table.key(name).and_then(|key| key.span());
                let Some(entry) = item.as_table_like() else {
                    return Err(malformed(
                        item.span().or(key_span),
                        format!("`{IMAGES}.{name}` must be a table, found {}", item.type_name()),
                    ));
                };
                for (field, problem) in
                    [("digest", digest_problem as fn(&str) -> Option<String>), ("reference", reference_problem)]
                {
                    match entry.get(field) {
                        None => {
                            return Err(malformed(key_span, format!("`{IMAGES}.{name}` has no `{field}`")));
                        }
                        Some(value) => {
                            let found = value.as_str().map_or_else(
                                || Some(format!("must be a string, found {}", value.type_name())),
                                problem,
                            );
                            if let Some(found) = found {
                                return Err(malformed(
                                    value.span().or(key_span),
                                    format!("`{IMAGES}.{name}.{field}` {found}"),
                                ));
                            }
                        }
                    }
                }
            }
        }
        Ok(Lockfile { document: document.into_mut() })
    }

    /// The entry of one image, or `None` when the lockfile has none (no stable image yet).
    pub fn entry(&self, image: &str) -> Option<Entry> {
        let entry = self.images()?.get(image)?.as_table_like()?;
        // `parse` checked both fields of every entry, and `set` writes only checked ones.
        Some(Entry::new(entry.get("digest")?.as_str()?, entry.get("reference")?.as_str()?))
    }

    /// Every image's entry, by image name.
    pub fn entries(&self) -> BTreeMap<String, Entry> {
        let Some(images) = self.images() else { return BTreeMap::new() };
        images.iter().filter_map(|(name, _)| Some((name.to_owned(), self.entry(name)?))).collect()
    }

    /// Points `image` at `entry`, changing nothing else: other images, other keys of this
    /// image's table and the comments beside its values stay as they are.
    pub fn set(&mut self, image: &str, entry: &Entry) -> Result<(), LockfileError> {
        entry.validate()?;
        if self.document.as_table().is_empty() && self.document.trailing().as_str().is_none_or(str::is_empty) {
            self.document.decor_mut().set_prefix(HEADER);
        }
        let root = self.document.as_table_mut();
        if !root.contains_key(IMAGES) {
            // Implicit: the file shows `[images.NAME]` headers only, not an empty `[images]`.
            let mut images = Table::new();
            images.set_implicit(true);
            root.insert(IMAGES, Item::Table(images));
        }
        let images = root.get_mut(IMAGES).and_then(Item::as_table_like_mut).ok_or_else(|| LockfileError::Usage {
            message: format!("write lockfile entry: `{IMAGES}` is not a table"),
            hint: "fix the lockfile by hand".to_owned(),
        })?;
        if !images.get(image).is_some_and(Item::is_table_like) {
            images.insert(image, Item::Table(Table::new()));
        }
        let table = images.get_mut(image).and_then(Item::as_table_like_mut).ok_or_else(|| LockfileError::Usage {
            message: format!("write lockfile entry: `{IMAGES}.{image}` is not a table"),
            hint: "fix the lockfile by hand".to_owned(),
        })?;
        set_keeping_decor(table, "digest", &entry.digest);
        set_keeping_decor(table, "reference", &entry.reference);
        Ok(())
    }

    fn images(&self) -> Option<&dyn TableLike> {
        self.document.as_table().get(IMAGES)?.as_table_like()
    }
}

impl fmt::Display for Lockfile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.document)
    }
}

/// Replaces a string value, keeping the whitespace and comment around the old one.
fn set_keeping_decor(table: &mut dyn TableLike, key: &str, text: &str) {
    let mut value = Value::from(text);
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        *value.decor_mut() = old.decor().clone();
    }
    table.insert(key, Item::Value(value));
}

fn digest_problem(digest: &str) -> Option<String> {
    let valid = digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')));
    (!valid).then(|| format!("must be `sha256:` and 64 lowercase hex digits, found `{digest}`"))
}

fn reference_problem(reference: &str) -> Option<String> {
    let valid = !reference.is_empty() && !reference.chars().any(char::is_whitespace);
    (!valid).then(|| format!("must be a pullable image reference, found `{reference}`"))
}

/// The 1-based line where `span` starts; the first line when the parser gave no span.
fn line_of(text: &str, span: Option<Range<usize>>) -> usize {
    let start = span.map_or(0, |span| span.start.min(text.len()));
    text.as_bytes()[..start].iter().filter(|&&byte| byte == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(digit: char) -> String {
        format!("sha256:{}", digit.to_string().repeat(64))
    }

    fn malformed_line(text: &str) -> (usize, String) {
        match Lockfile::parse(text, "ci/images.lock") {
            Err(LockfileError::Malformed { line, message, location }) => {
                assert_eq!(location, "ci/images.lock");
                (line, message)
            }
            other => panic!("expected a malformed lockfile, got {other:?}"),
        }
    }

    #[test]
    fn a_new_lockfile_has_a_header_and_one_table_per_image() {
        let mut lockfile = Lockfile::empty();
        lockfile.set("python", &Entry::new(digest('a'), "registry.example/ci@sha256:aa")).expect("set");
        let text = lockfile.to_string();
        assert!(text.starts_with("# The stable image"), "{text}");
        assert!(text.contains("[images.python]\ndigest = \"sha256:aaaa"), "{text}");
        assert!(!text.contains("[images]\n"), "{text}");
        let read = Lockfile::parse(&text, "x").expect("parse");
        assert_eq!(read.entry("python"), Some(Entry::new(digest('a'), "registry.example/ci@sha256:aa")));
    }

    #[test]
    fn moving_one_image_keeps_the_others_and_their_comments_byte_for_byte() {
        let text = "# team notes\n\n[images.node] # the frontend image\ndigest = \"DIGEST_B\" # pinned by hand\nreference = \"node-ci:stable\"\nowner = \"web\"\n\n[images.python]\n# python comment\ndigest = \"DIGEST_C\"\nreference = \"python-ci@x\"\n\n[other]\nkept = true\n"
            .replace("DIGEST_B", &digest('b'))
            .replace("DIGEST_C", &digest('c'));
        let mut lockfile = Lockfile::parse(&text, "x").expect("parse");
        lockfile.set("node", &Entry::new(digest('d'), "node-ci@sha256:dd")).expect("set");
        let written = lockfile.to_string();
        let expected = text.replace(&digest('b'), &digest('d')).replace("node-ci:stable", "node-ci@sha256:dd");
        assert_eq!(written, expected);
    }

    #[test]
    fn a_new_image_is_appended_and_round_trips() {
        let text = format!("[images.node]\ndigest = \"{}\"\nreference = \"node-ci\"\n", digest('b'));
        let mut lockfile = Lockfile::parse(&text, "x").expect("parse");
        lockfile.set("python", &Entry::new(digest('e'), "python-ci")).expect("set");
        let written = lockfile.to_string();
        assert!(written.starts_with(&text), "{written}");
        let entries = Lockfile::parse(&written, "x").expect("parse").entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries["node"], Entry::new(digest('b'), "node-ci"));
        assert_eq!(entries["python"], Entry::new(digest('e'), "python-ci"));
        // Emitting what was parsed, unchanged, gives the same text.
        assert_eq!(Lockfile::parse(&written, "x").expect("parse").to_string(), written);
    }

    #[test]
    fn inline_and_dotted_entries_are_read_and_moved() {
        let text = format!("images.node = {{ digest = \"{}\", reference = \"node-ci\" }}\n", digest('b'));
        let mut lockfile = Lockfile::parse(&text, "x").expect("parse");
        assert_eq!(lockfile.entry("node").map(|entry| entry.digest), Some(digest('b')));
        lockfile.set("node", &Entry::new(digest('f'), "node-ci@f")).expect("set");
        let read = Lockfile::parse(&lockfile.to_string(), "x").expect("parse");
        assert_eq!(read.entry("node"), Some(Entry::new(digest('f'), "node-ci@f")));
    }

    #[test]
    fn a_missing_image_or_file_means_no_stable_image() {
        assert_eq!(Lockfile::empty().entry("python"), None);
        assert_eq!(Lockfile::parse("", "x").expect("parse").entry("python"), None);
        assert_eq!(Lockfile::parse("[other]\na = 1\n", "x").expect("parse").entries().len(), 0);
    }

    #[test]
    fn invalid_toml_names_its_line() {
        let (line, message) = malformed_line("[images.python]\ndigest = \"sha256:\nreference = \"x\"\n");
        assert_eq!(line, 2, "{message}");
    }

    #[test]
    fn a_bad_digest_names_the_line_of_its_value() {
        let text = format!(
            "[images.node]\ndigest = \"{}\"\nreference = \"node\"\n\n[images.python]\ndigest = \"sha256:short\"\nreference = \"x\"\n",
            digest('a')
        );
        let (line, message) = malformed_line(&text);
        assert_eq!(line, 6);
        assert!(message.contains("`images.python.digest` must be `sha256:`"), "{message}");
    }

    #[test]
    fn a_missing_field_names_the_table_header_line() {
        let (line, message) = malformed_line("\n\n[images.python]\nreference = \"x\"\n");
        assert_eq!(line, 3);
        assert_eq!(message, "`images.python` has no `digest`");
    }

    #[test]
    fn wrong_types_are_named() {
        let (_, message) = malformed_line("images = 3\n");
        assert!(message.contains("`images` must be a table, found integer"), "{message}");
        let (line, message) = malformed_line("[images]\npython = \"sha256:x\"\n");
        assert_eq!(line, 2);
        assert!(message.contains("`images.python` must be a table, found string"), "{message}");
        let (_, message) = malformed_line(&format!("[images.p]\ndigest = \"{}\"\nreference = 3\n", digest('a')));
        assert!(message.contains("`images.p.reference` must be a string, found integer"), "{message}");
    }

    #[test]
    fn set_refuses_what_it_could_not_read_back() {
        let mut lockfile = Lockfile::empty();
        let error = lockfile.set("python", &Entry::new("sha256:ABC", "x")).expect_err("bad digest");
        assert!(error.to_string().contains("64 lowercase hex"), "{error}");
        let error = lockfile.set("python", &Entry::new(digest('a'), "")).expect_err("no reference");
        assert!(error.to_string().contains("pullable image reference"), "{error}");
    }

    #[test]
    fn image_names_that_need_quotes_round_trip() {
        let mut lockfile = Lockfile::empty();
        lockfile.set("ci.python 3", &Entry::new(digest('a'), "x")).expect("set");
        let read = Lockfile::parse(&lockfile.to_string(), "x").expect("parse");
        assert_eq!(read.entry("ci.python 3").map(|entry| entry.digest), Some(digest('a')));
    }
}
