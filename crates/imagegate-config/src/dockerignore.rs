//! `.dockerignore` with Docker's own rules (those of moby's `patternmatcher` and
//! `ignorefile` packages), which differ from `.gitignore`'s:
//!
//! - Reading the file: lines that start with `#` are comments (a `#` after leading spaces is
//!   part of a pattern, as in Docker); each line is trimmed; empty lines are skipped; a
//!   leading `!` marks an exclusion (a pattern that re-includes); the rest is cleaned like
//!   Go's `filepath.Clean` (`a//b/./c/../d` → `a/b/d`, no trailing `/`) and a leading `/`
//!   is dropped. A line that is only `!` is an error, as it is for Docker.
//! - Patterns are anchored at the context root: `foo` matches `foo` and, through the parent
//!   rule below, everything under it, but not `a/foo`. `*` matches any run of characters
//!   other than `/`, `?` one character other than `/`, `[...]` a class as in Go's
//!   `filepath.Match` (`[^...]` negates, `\` escapes), `\x` the character `x`, and `**`
//!   any number of folders, none included. As in moby, a pattern that ends in `**` after
//!   plain text matches by prefix (`abc**` matches `abcdef`), and one that starts with `**`
//!   followed by plain text matches by suffix (`**file` matches `myfile`).
//! - A pattern excludes a path when it matches the path or one of its parent folders, and
//!   the last pattern that matches decides. Parent matches are carried down folder by folder
//!   exactly as BuildKit's context walker does (`MatchesUsingParentResults`): a pattern that
//!   is skipped for a folder (an exclusion while nothing is excluded yet, or an inclusion
//!   while the folder is already excluded) is not inherited by what the folder holds. This
//!   decides only contrived orderings such as `d`, `!d/c`, `d`, and follows what the engine
//!   is actually sent.
//!
//! Patterns are translated to regular expressions, as moby does. Malformed patterns (an
//! unclosed `[`, an empty class, a trailing `\`, a reversed range) are errors, because
//! Docker refuses them too.

use std::path::{Path, PathBuf};

use regex::Regex;

/// A malformed `.dockerignore` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read pattern `{pattern}` on line {line}: {reason}")]
pub struct PatternError {
    /// 1-based line in the file, or position in the pattern list.
    pub line: usize,
    pub pattern: String,
    pub reason: &'static str,
}

/// The ignore file that applies to a build: `<Dockerfile>.dockerignore` beside the Dockerfile
/// when it exists (BuildKit prefers it), otherwise `<context>/.dockerignore` when that
/// exists.
pub fn ignore_file_for(dockerfile: &Path, context: &Path) -> Option<PathBuf> {
    let beside_dockerfile = dockerfile.file_name().map(|name| {
        let mut name = name.to_os_string();
        name.push(".dockerignore");
        dockerfile.with_file_name(name)
    });
    beside_dockerfile
        .into_iter()
        .chain(std::iter::once(context.join(".dockerignore")))
        .find(|candidate| candidate.is_file())
}

/// A parsed `.dockerignore`: decides which paths of a build context the engine is not sent.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// A `!` pattern: re-includes what it matches.
    exclusion: bool,
    matcher: Matcher,
    /// The plain text every path this pattern matches starts with; lets the walker skip
    /// excluded folders that no exclusion could reach into.
    literal_prefix: String,
}

/// The four ways moby matches a pattern; the first three are not just speed-ups but have
/// their own semantics (see the module documentation).
#[derive(Debug, Clone)]
enum Matcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Regex(Regex),
}

/// What is known about a folder's matches, handed to its entries. `pattern_matched[i]`:
/// pattern `i` matched the folder or was inherited by it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParentMatches {
    pattern_matched: Vec<bool>,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<DockerIgnore, PatternError> {
        let mut patterns = Vec::new();
        for (index, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let line = if index == 0 { line.strip_prefix('\u{feff}').unwrap_or(line) } else { line };
            if line.starts_with('#') {
                continue;
            }
            let mut pattern = line.trim();
            if pattern.is_empty() {
                continue;
            }
            let exclusion = pattern.starts_with('!');
            if exclusion {
                pattern = pattern[1..].trim();
            }
            let mut cleaned = String::new();
            if !pattern.is_empty() {
                cleaned = go_clean(pattern);
                if cleaned.len() > 1 && cleaned.starts_with('/') {
                    cleaned.remove(0);
                }
            }
            if exclusion {
                cleaned.insert(0, '!');
            }
            patterns.push(Pattern::new(&cleaned, index + 1)?);
        }
        Ok(DockerIgnore { patterns })
    }

    /// Builds a matcher from patterns as Docker's API takes them (already read from a file);
    /// each is trimmed and cleaned, and empty ones are skipped.
    pub fn from_patterns<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<DockerIgnore, PatternError> {
        let mut parsed = Vec::new();
        for (index, pattern) in patterns.into_iter().enumerate() {
            let pattern = pattern.trim();
            if pattern.is_empty() {
                continue;
            }
            parsed.push(Pattern::new(&go_clean(pattern), index + 1)?);
        }
        Ok(DockerIgnore { patterns: parsed })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the engine is not sent `path` (relative to the context, `/`-separated),
    /// deciding each of its parent folders first, as the context walker does.
    pub fn is_excluded(&self, path: &str) -> bool {
        let mut parent = ParentMatches::default();
        let mut excluded = false;
        let mut end = 0;
        loop {
            let next_slash = path[end..].find('/').map(|offset| end + offset);
            let prefix = &path[..next_slash.unwrap_or(path.len())];
            if !prefix.is_empty() {
                (excluded, parent) = self.check(prefix, &parent);
            }
            match next_slash {
                Some(slash) => end = slash + 1,
                None => return excluded,
            }
        }
    }

    /// Decides `path` given what its parent folder's matches were (the default for entries
    /// of the context root). Returns whether it is excluded and what its own entries inherit.
    pub(crate) fn check(&self, path: &str, parent: &ParentMatches) -> (bool, ParentMatches) {
        let mut excluded = false;
        let mut pattern_matched = vec![false; self.patterns.len()];
        for (index, pattern) in self.patterns.iter().enumerate() {
            let mut matched = parent.pattern_matched.get(index).copied().unwrap_or(false);
            if !matched {
                // A pattern that cannot change the outcome is not evaluated, and so not
                // inherited either: BuildKit behaves this way and the digest must agree.
                if pattern.exclusion != excluded {
                    continue;
                }
                matched = pattern.matcher.matches(path);
                if !matched && parent.pattern_matched.is_empty() {
                    matched = go_parent_folders(path).any(|folder| pattern.matcher.matches(folder));
                }
            }
            pattern_matched[index] = matched;
            if matched {
                excluded = !pattern.exclusion;
            }
        }
        (excluded, ParentMatches { pattern_matched })
    }

    /// Whether an exclusion pattern could re-include something below the excluded folder
    /// `folder`; when none can, the walker need not look inside.
    pub(crate) fn may_include_below(&self, folder: &str) -> bool {
        let below = format!("{folder}/");
        self.patterns.iter().any(|pattern| {
            pattern.exclusion
                && (below.starts_with(&pattern.literal_prefix) || pattern.literal_prefix.starts_with(&below))
        })
    }

    /// moby's `MatchesOrParentMatches`: any pattern matching the path or any parent folder,
    /// last one deciding, without the walker's skipping. Kept to check the moby test vectors.
    #[cfg(test)]
    fn matches_or_parent_matches(&self, path: &str) -> bool {
        let mut excluded = false;
        for pattern in &self.patterns {
            if pattern.exclusion != excluded {
                continue;
            }
            let matched =
                pattern.matcher.matches(path) || go_parent_folders(path).any(|folder| pattern.matcher.matches(folder));
            if matched {
                excluded = !pattern.exclusion;
            }
        }
        excluded
    }

    /// moby's `MatchesExact`: no parent folders considered.
    #[cfg(test)]
    fn matches_exact(&self, path: &str) -> bool {
        let mut excluded = false;
        for pattern in &self.patterns {
            if pattern.exclusion != excluded {
                continue;
            }
            if pattern.matcher.matches(path) {
                excluded = !pattern.exclusion;
            }
        }
        excluded
    }
}

impl Matcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Exact(pattern) => path == pattern,
            Matcher::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    // `**/foo` also matches `foo` itself.
                    || suffix.strip_prefix('/') == Some(path)
            }
            Matcher::Regex(regex) => regex.is_match(path),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MatchType {
    Exact,
    Prefix,
    Suffix,
    Regex,
}

impl Pattern {
    /// Compiles one cleaned pattern, `!` included, following moby's `compile`.
    fn new(cleaned: &str, line: usize) -> Result<Pattern, PatternError> {
        let error = |reason| PatternError { line, pattern: cleaned.to_owned(), reason };
        let (exclusion, text) = match cleaned.strip_prefix('!') {
            Some("") => return Err(error("a lone `!` excludes nothing")),
            Some(rest) => (true, rest),
            None => (false, cleaned),
        };
        let characters: Vec<char> = text.chars().collect();
        let mut regex = String::from("^");
        let mut match_type = MatchType::Exact;
        let mut literal_prefix = String::new();
        let mut prefix_open = true;
        let mut position = 0;
        let mut iteration = 0;
        while position < characters.len() {
            let character = characters[position];
            position += 1;
            match character {
                '*' if characters.get(position) == Some(&'*') => {
                    position += 1;
                    prefix_open = false;
                    // `**/` is `**`: it may stand for no folder at all.
                    if characters.get(position) == Some(&'/') {
                        position += 1;
                    }
                    if position == characters.len() {
                        if match_type == MatchType::Exact {
                            match_type = MatchType::Prefix;
                        } else {
                            regex.push_str(".*");
                            match_type = MatchType::Regex;
                        }
                    } else {
                        regex.push_str("(.*/)?");
                        match_type = MatchType::Regex;
                    }
                    if iteration == 0 {
                        match_type = MatchType::Suffix;
                    }
                }
                '*' => {
                    prefix_open = false;
                    regex.push_str("[^/]*");
                    match_type = MatchType::Regex;
                }
                '?' => {
                    prefix_open = false;
                    regex.push_str("[^/]");
                    match_type = MatchType::Regex;
                }
                '\\' => {
                    prefix_open = false;
                    let Some(&escaped) = characters.get(position) else {
                        return Err(error("it ends with `\\`, which escapes nothing"));
                    };
                    position += 1;
                    regex.push_str(&regex::escape(escaped.encode_utf8(&mut [0; 4])));
                    match_type = MatchType::Regex;
                }
                '[' => {
                    prefix_open = false;
                    position = translate_class(&characters, position, &mut regex).map_err(error)?;
                    match_type = MatchType::Regex;
                }
                ']' => {
                    prefix_open = false;
                    regex.push_str("\\]");
                    match_type = MatchType::Regex;
                }
                other => {
                    if prefix_open {
                        literal_prefix.push(other);
                    }
                    regex.push_str(&regex::escape(other.encode_utf8(&mut [0; 4])));
                }
            }
            iteration += 1;
        }
        let matcher = match match_type {
            MatchType::Exact => Matcher::Exact(text.to_owned()),
            // The pattern ends in `**`, which the prefix leaves out.
            MatchType::Prefix => Matcher::Prefix(text.strip_suffix("**").unwrap_or(text).to_owned()),
            // The pattern starts with `**`, which the suffix leaves out.
            MatchType::Suffix => Matcher::Suffix(text.strip_prefix("**").unwrap_or(text).to_owned()),
            MatchType::Regex => {
                regex.push('$');
                Matcher::Regex(Regex::new(&regex).map_err(|_| error("it is not a valid pattern"))?)
            }
        };
        Ok(Pattern { exclusion, matcher, literal_prefix })
    }
}

/// Translates the class that starts after the `[` at `position - 1`, following the grammar
/// of Go's `filepath.Match`: `[`, an optional `^`, one or more of `c` or `lo-hi` (where a
/// character is `\x` or anything but `\`, `-` and `]`), then `]`. Returns the position after
/// the closing `]`.
fn translate_class(characters: &[char], mut position: usize, regex: &mut String) -> Result<usize, &'static str> {
    const UNCLOSED: &str = "it has a `[` without its `]`";
    regex.push('[');
    if characters.get(position) == Some(&'^') {
        regex.push('^');
        position += 1;
    }
    let mut ranges = 0;
    loop {
        if characters.get(position) == Some(&']') && ranges > 0 {
            regex.push(']');
            return Ok(position + 1);
        }
        let (low, after_low) = class_character(characters, position)?;
        position = after_low;
        let mut high = low;
        if characters.get(position) == Some(&'-') {
            (high, position) = class_character(characters, position + 1)?;
        }
        if position >= characters.len() {
            return Err(UNCLOSED);
        }
        if low > high {
            return Err("it has a character range whose end comes before its start");
        }
        regex.push_str(&regex::escape(low.encode_utf8(&mut [0; 4])));
        if high != low {
            regex.push('-');
            regex.push_str(&regex::escape(high.encode_utf8(&mut [0; 4])));
        }
        ranges += 1;
    }
}

/// One character of a class, as Go's `getEsc` reads it.
fn class_character(characters: &[char], mut position: usize) -> Result<(char, usize), &'static str> {
    match characters.get(position) {
        None => return Err("it has a `[` without its `]`"),
        Some('-') => return Err("it has a `-` at the start or end of a class; write `\\-` for a dash"),
        Some(']') => return Err("it has an empty class or a `]` where a character belongs; write `\\]` for a bracket"),
        Some('\\') => position += 1,
        Some(_) => {}
    }
    match characters.get(position) {
        Some(&character) => Ok((character, position + 1)),
        None => Err("it ends with `\\`, which escapes nothing"),
    }
}

/// Go's `filepath.Clean` for `/`-separated paths: the shortest equivalent path, by
/// collapsing repeated slashes, dropping `.` and resolving `..` against what precedes it.
pub(crate) fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    // Leading `..` of a relative path cannot be resolved and stay.
    let mut fixed = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.len() > fixed {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                    fixed = parts.len();
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// The parent folders of `path` as moby lists them: `a` and `a/b` for `a/b/c`, taken from
/// Go's `filepath.Dir` (so a trailing `/` makes the last part a folder too).
fn go_parent_folders(path: &str) -> impl Iterator<Item = &str> {
    let parent = match path.rfind('/') {
        // Clean only shortens, so the parent stays a prefix of `path` unless the path has
        // `.` or `..` parts, which paths from a walk never have.
        Some(slash) => {
            let cleaned = go_clean(&path[..=slash]);
            path.get(..cleaned.len()).filter(|prefix| *prefix == cleaned && *prefix != ".").unwrap_or("")
        }
        None => "",
    };
    let ends: Vec<usize> = if parent.is_empty() {
        Vec::new()
    } else {
        parent.match_indices('/').map(|(index, _)| index).chain(std::iter::once(parent.len())).collect()
    };
    ends.into_iter().map(move |end| &parent[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Expect {
        /// Matches the path itself.
        Exact,
        /// Matches only through a parent folder.
        Inexact,
        Fail,
    }
    use Expect::{Exact, Fail, Inexact};

    /// moby/patternmatcher `TestMatches`, unix cases included.
    const MOBY_MATCHES: &[(&str, &str, Expect)] = &[
        ("**", "file", Exact),
        ("**", "file/", Exact),
        ("**/", "file", Exact),
        ("**/", "file/", Exact),
        ("**", "/", Exact),
        ("**/", "/", Exact),
        ("**", "dir/file", Exact),
        ("**/", "dir/file", Exact),
        ("**", "dir/file/", Exact),
        ("**/", "dir/file/", Exact),
        ("**/**", "dir/file", Exact),
        ("**/**", "dir/file/", Exact),
        ("dir/**", "dir/file", Exact),
        ("dir/**", "dir/file/", Exact),
        ("dir/**", "dir/dir2/file", Exact),
        ("dir/**", "dir/dir2/file/", Exact),
        ("**/dir", "dir", Exact),
        ("**/dir", "dir/file", Inexact),
        ("**/dir2/*", "dir/dir2/file", Exact),
        ("**/dir2/*", "dir/dir2/file/", Inexact),
        ("**/dir2/**", "dir/dir2/dir3/file", Exact),
        ("**/dir2/**", "dir/dir2/dir3/file/", Exact),
        ("**file", "file", Exact),
        ("**file", "dir/file", Exact),
        ("**/file", "dir/file", Exact),
        ("**file", "dir/dir/file", Exact),
        ("**/file", "dir/dir/file", Exact),
        ("**/file*", "dir/dir/file", Exact),
        ("**/file*", "dir/dir/file.txt", Exact),
        ("**/file*txt", "dir/dir/file.txt", Exact),
        ("**/file*.txt", "dir/dir/file.txt", Exact),
        ("**/file*.txt*", "dir/dir/file.txt", Exact),
        ("**/**/*.txt", "dir/dir/file.txt", Exact),
        ("**/**/*.txt2", "dir/dir/file.txt", Fail),
        ("**/*.txt", "file.txt", Exact),
        ("**/**/*.txt", "file.txt", Exact),
        ("a**/*.txt", "a/file.txt", Exact),
        ("a**/*.txt", "a/dir/file.txt", Exact),
        ("a**/*.txt", "a/dir/dir/file.txt", Exact),
        ("a/*.txt", "a/dir/file.txt", Fail),
        ("a/*.txt", "a/file.txt", Exact),
        ("a/*.txt**", "a/file.txt", Exact),
        ("a[b-d]e", "ae", Fail),
        ("a[b-d]e", "ace", Exact),
        ("a[b-d]e", "aae", Fail),
        ("a[^b-d]e", "aze", Exact),
        (".*", ".foo", Exact),
        (".*", "foo", Fail),
        ("abc.def", "abcdef", Fail),
        ("abc.def", "abc.def", Exact),
        ("abc.def", "abcZdef", Fail),
        ("abc?def", "abcZdef", Exact),
        ("abc?def", "abcdef", Fail),
        ("**/foo/bar", "foo/bar", Exact),
        ("**/foo/bar", "dir/foo/bar", Exact),
        ("**/foo/bar", "dir/dir2/foo/bar", Exact),
        ("abc/**", "abc", Fail),
        ("abc/**", "abc/def", Exact),
        ("abc/**", "abc/def/ghi", Exact),
        ("**/.foo", ".foo", Exact),
        ("**/.foo", "bar.foo", Fail),
        ("a(b)c/def", "a(b)c/def", Exact),
        ("a(b)c/def", "a(b)c/xyz", Fail),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", Exact),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            Exact,
        ),
        ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", Exact),
        ("a\\\\", "a\\", Exact),
        ("a\\*b", "a*b", Exact),
    ];

    /// moby/patternmatcher `TestMatches`, multi-pattern cases.
    const MOBY_MULTI_PATTERN: &[(&[&str], &str, bool)] = &[
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (&["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true),
        (
            &["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (&["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false),
    ];

    fn matcher(patterns: &[&str]) -> DockerIgnore {
        DockerIgnore::from_patterns(patterns.iter().copied()).unwrap_or_else(|error| panic!("{patterns:?}: {error}"))
    }

    /// Decides `path` the way the context walker does: each parent folder first, handing
    /// its matches down. Trailing slashes in the vectors name folders, as in moby's test.
    fn walked(ignore: &DockerIgnore, path: &str) -> bool {
        // Go's filepath.Dir.
        let parent_path = match path.rfind('/') {
            Some(slash) => go_clean(&path[..=slash]),
            None => ".".to_owned(),
        };
        let mut parent = ParentMatches::default();
        if parent_path != "." {
            let parts: Vec<&str> = parent_path.split('/').collect();
            for end in 1..=parts.len() {
                parent = ignore.check(&parts[..end].join("/"), &parent).1;
            }
        }
        ignore.check(path, &parent).0
    }

    #[test]
    fn moby_matches_table() {
        for &(pattern, path, expect) in MOBY_MATCHES {
            let ignore = matcher(&[pattern]);
            let description = format!("pattern {pattern:?}, path {path:?}");
            assert_eq!(ignore.matches_exact(path), expect == Exact, "exact: {description}");
            assert_eq!(ignore.matches_or_parent_matches(path), expect != Fail, "or parent: {description}");
            assert_eq!(walked(&ignore, path), expect != Fail, "walked: {description}");
            assert_eq!(
                ignore.check(path, &ParentMatches::default()).0,
                expect != Fail,
                "no parent results: {description}"
            );
        }
    }

    #[test]
    fn moby_multi_pattern_table() {
        for &(patterns, path, excluded) in MOBY_MULTI_PATTERN {
            let ignore = matcher(patterns);
            let description = format!("patterns {patterns:?}, path {path:?}");
            assert_eq!(ignore.matches_or_parent_matches(path), excluded, "{description}");
            assert_eq!(walked(&ignore, path), excluded, "walked: {description}");
            assert_eq!(ignore.is_excluded(path), excluded, "is_excluded: {description}");
        }
    }

    /// moby/patternmatcher `TestMatch`: Go's own `filepath.Match` vectors, run through
    /// `MatchesOrParentMatches`; `None` means the pattern is malformed.
    #[test]
    fn go_filepath_match_table() {
        let cases: &[(&str, &str, Option<bool>)] = &[
            ("abc", "abc", Some(true)),
            ("*", "abc", Some(true)),
            ("*c", "abc", Some(true)),
            ("a*", "a", Some(true)),
            ("a*", "abc", Some(true)),
            ("a*", "ab/c", Some(true)),
            ("a*/b", "abc/b", Some(true)),
            ("a*/b", "a/c/b", Some(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Some(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Some(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Some(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Some(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Some(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Some(false)),
            ("ab[c]", "abc", Some(true)),
            ("ab[b-d]", "abc", Some(true)),
            ("ab[e-g]", "abc", Some(false)),
            ("ab[^c]", "abc", Some(false)),
            ("ab[^b-d]", "abc", Some(false)),
            ("ab[^e-g]", "abc", Some(true)),
            ("a\\*b", "a*b", Some(true)),
            ("a\\*b", "ab", Some(false)),
            ("a?b", "a☺b", Some(true)),
            ("a[^a]b", "a☺b", Some(true)),
            ("a???b", "a☺b", Some(false)),
            ("a[^a][^a][^a]b", "a☺b", Some(false)),
            ("[a-ζ]*", "α", Some(true)),
            ("*[a-ζ]", "A", Some(false)),
            ("a?b", "a/b", Some(false)),
            ("a*b", "a/b", Some(false)),
            ("[\\]a]", "]", Some(true)),
            ("[\\-]", "-", Some(true)),
            ("[x\\-]", "x", Some(true)),
            ("[x\\-]", "-", Some(true)),
            ("[x\\-]", "z", Some(false)),
            ("[\\-x]", "x", Some(true)),
            ("[\\-x]", "-", Some(true)),
            ("[\\-x]", "a", Some(false)),
            ("[]a]", "]", None),
            ("[-]", "-", None),
            ("[x-]", "x", None),
            ("[x-]", "-", None),
            ("[x-]", "z", None),
            ("[-x]", "x", None),
            ("[-x]", "-", None),
            ("[-x]", "a", None),
            ("\\", "a", None),
            ("[a-b-c]", "a", None),
            ("[", "a", None),
            ("[^", "a", None),
            ("[^bc", "a", None),
            ("a[", "a", None),
            ("a[", "ab", None),
            ("*x", "xxx", Some(true)),
        ];
        for &(pattern, path, expected) in cases {
            let result = DockerIgnore::from_patterns([pattern]).map(|ignore| ignore.matches_or_parent_matches(path));
            match expected {
                Some(matched) => assert_eq!(result, Ok(matched), "{pattern:?} {path:?}"),
                None => assert!(result.is_err(), "{pattern:?} should be malformed"),
            }
        }
    }

    /// moby/patternmatcher `TestCompile`: which patterns take which matching shortcut.
    #[test]
    fn moby_compile_match_types() {
        let cases = [
            ("*", "regex"),
            ("file*", "regex"),
            ("*file", "regex"),
            ("a*/b", "regex"),
            ("**", "suffix"),
            ("**/**", "regex"),
            ("dir/**", "prefix"),
            ("**/dir", "suffix"),
            ("**/dir2/*", "regex"),
            ("**/dir2/**", "regex"),
            ("**file", "suffix"),
            ("**/file*txt", "regex"),
            ("**/**/*.txt", "regex"),
            ("a[b-d]e", "regex"),
            (".*", "regex"),
            ("abc.def", "exact"),
            ("abc?def", "regex"),
            ("**/foo/bar", "suffix"),
            ("a(b)c/def", "exact"),
            ("a.|)$(}+{bc", "exact"),
            ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact"),
        ];
        for (pattern, expected) in cases {
            let ignore = matcher(&[pattern]);
            let kind = match &ignore.patterns[0].matcher {
                Matcher::Exact(_) => "exact",
                Matcher::Prefix(_) => "prefix",
                Matcher::Suffix(_) => "suffix",
                Matcher::Regex(_) => "regex",
            };
            assert_eq!(kind, expected, "{pattern}");
        }
    }

    #[test]
    fn simple_cases_from_moby() {
        let excluded = |patterns: &[&str], path| matcher(patterns).is_excluded(path);
        assert!(excluded(&["*"], "fileutils.go"));
        assert!(excluded(&["*.go"], "fileutils.go"));
        assert!(excluded(&["!fileutils.go", "*.go"], "fileutils.go"));
        assert!(!excluded(&["docs", "!docs/README.md"], "docs/README.md"));
        assert!(!excluded(&["docs/", "!docs/README.md"], "docs/README.md"));
        assert!(!excluded(&["docs/*", "!docs/README.md"], "docs/README.md"));
        assert!(!excluded(&["*.go", "!fileutils.go"], "fileutils.go"));
        assert!(!excluded(&[], "any/path/there"));
        assert!(DockerIgnore::from_patterns(["!"]).is_err());
        assert!(DockerIgnore::from_patterns(["["]).is_err());
    }

    /// moby/patternmatcher/ignorefile `TestReadAll`.
    #[test]
    fn reads_ignore_file_like_docker() {
        let text = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n";
        let ignore = DockerIgnore::parse(text).expect("valid file");
        let shown: Vec<String> = ignore
            .patterns
            .iter()
            .map(|pattern| {
                let text = match &pattern.matcher {
                    Matcher::Exact(text) => text.clone(),
                    other => panic!("expected exact patterns, got {other:?}"),
                };
                if pattern.exclusion { format!("!{text}") } else { text }
            })
            .collect();
        assert_eq!(shown, ["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path"]);
        let error = DockerIgnore::parse("ok\n! \n").expect_err("a lone `!` is refused");
        assert_eq!(error.line, 2);
    }

    #[test]
    fn reading_details() {
        // A BOM, CRLF line endings, a comment only at the very start of a line, cleaning.
        let ignore = DockerIgnore::parse("\u{feff}a\r\n  # not a comment\r\nb/./c//d/../e/\r\n").expect("valid file");
        assert!(ignore.is_excluded("a"));
        assert!(ignore.is_excluded("# not a comment"));
        assert!(ignore.is_excluded("b/c/e"));
        assert!(ignore.is_excluded("b/c/e/f"));
        assert!(!ignore.is_excluded("b/c/d"));
    }

    #[test]
    fn patterns_are_anchored_at_the_context_root() {
        let ignore = matcher(&["foo"]);
        assert!(ignore.is_excluded("foo"));
        assert!(ignore.is_excluded("foo/bar"));
        assert!(!ignore.is_excluded("a/foo"));
        let anywhere = matcher(&["**/foo"]);
        assert!(anywhere.is_excluded("a/b/foo"));
        assert!(anywhere.is_excluded("a/b/foo/c"));
    }

    #[test]
    fn last_matching_pattern_wins() {
        let ignore = matcher(&["*.md", "!README.md", "README.md"]);
        assert!(ignore.is_excluded("README.md"));
        let ignore = matcher(&["build", "!build/keep", "build/keep/tmp"]);
        assert!(ignore.is_excluded("build/other"));
        assert!(!ignore.is_excluded("build/keep/file"));
        assert!(ignore.is_excluded("build/keep/tmp/x"));
    }

    #[test]
    fn escapes_and_classes() {
        assert!(matcher(&["\\!important"]).is_excluded("!important"));
        assert!(matcher(&["\\#file"]).is_excluded("#file"));
        assert!(matcher(&["[!a]"]).is_excluded("!"), "`!` in a class is a character, as in Go");
        assert!(matcher(&["file[0-9].txt"]).is_excluded("file7.txt"));
        assert!(!matcher(&["file[0-9].txt"]).is_excluded("filex.txt"));
        assert!(DockerIgnore::from_patterns(["[z-a]"]).is_err());
        assert!(DockerIgnore::from_patterns(["a\\"]).is_err());
    }

    /// The two orderings where BuildKit's walker and the simple "pattern or parent" rule
    /// disagree: the digest follows the walker, which decides what the engine is sent.
    #[test]
    fn follows_buildkit_walker_where_it_differs_from_parent_rule() {
        // The exclusion `!d` was skipped for `d` (nothing excluded yet), so `d/c` does not
        // inherit it; `d/c.md` stays excluded.
        let ignore = matcher(&["d/*.md", "!d"]);
        assert!(!ignore.matches_or_parent_matches("d/c.md"));
        assert!(walked(&ignore, "d/c.md"));
        assert!(ignore.is_excluded("d/c.md"));
        // The second `d` was skipped for `d` (already excluded), so `d/c`, re-included by
        // `!d/c`, stays included.
        let ignore = matcher(&["d", "!d/c", "d"]);
        assert!(ignore.matches_or_parent_matches("d/c"));
        assert!(!ignore.is_excluded("d/c"));
    }

    #[test]
    fn may_include_below_uses_literal_prefixes() {
        let ignore = matcher(&["*", "!docs/README.md", "!src/**"]);
        assert!(ignore.may_include_below("docs"));
        assert!(ignore.may_include_below("src"));
        assert!(!ignore.may_include_below("node_modules"));
        assert!(!ignore.may_include_below("doc"));
        let anywhere = matcher(&["*", "!**/keep"]);
        assert!(anywhere.may_include_below("node_modules"));
        assert!(!matcher(&["node_modules"]).may_include_below("node_modules"));
    }

    #[test]
    fn go_clean_matches_go() {
        let cases = [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("abc//", "abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("/../abc", "/abc"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
        ];
        for (path, cleaned) in cases {
            assert_eq!(go_clean(path), cleaned, "{path}");
        }
    }

    #[test]
    fn ignore_file_beside_dockerfile_is_preferred() {
        let dir = tempfile::tempdir().expect("tempdir");
        let context = dir.path().join("ctx");
        std::fs::create_dir_all(&context).expect("mkdir");
        let dockerfile = dir.path().join("Dockerfile.ci");
        assert_eq!(ignore_file_for(&dockerfile, &context), None);
        std::fs::write(context.join(".dockerignore"), "x").expect("write");
        assert_eq!(ignore_file_for(&dockerfile, &context), Some(context.join(".dockerignore")));
        std::fs::write(dir.path().join("Dockerfile.ci.dockerignore"), "y").expect("write");
        assert_eq!(ignore_file_for(&dockerfile, &context), Some(dir.path().join("Dockerfile.ci.dockerignore")));
    }
}
