//! [`ConfigError`]: one diagnostic that points into `imagegate.toml`, rendered like a compiler
//! error (file, line and column, the offending line with a marker under it, and a hint).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What went wrong, coarsely: lets callers and tests tell errors apart without matching on
/// message text. Every kind is a user error in the config file (exit code 2 upstream).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file could not be read, or is not UTF-8 text.
    Read,
    /// The file is not valid TOML.
    Syntax,
    /// A key that imagegate does not know, in a table whose keys it defines.
    UnknownKey,
    /// A value of the wrong TOML type, e.g. a number where a string belongs.
    WrongType,
    /// A required key is absent.
    MissingKey,
    /// A value of the right type that is not acceptable, e.g. a malformed tag.
    InvalidValue,
    /// A file or folder that the config names does not exist.
    PathNotFound,
    /// A path that leads out of the project folder.
    PathOutsideProject,
    /// Two images share one stable tag.
    DuplicateStableTag,
    /// The config defines no image.
    NoImages,
}

/// Where in the file an error is: 1-based line and column (in characters), plus what is
/// needed to show the line with a marker under the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    /// The whole source line, without its line ending.
    source_line: String,
    /// How many characters of `source_line`, from `column`, to mark.
    marked_chars: usize,
}

impl Location {
    /// Locates the byte range `span` of `text`. A span past the end is clamped to the end, so
    /// that errors about a missing closing bracket point at the end of the file.
    pub(crate) fn from_span(text: &str, span: Range<usize>) -> Location {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.clamp(start, text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |newline| start + newline);
        let source_line = text[line_start..line_end].trim_end_matches('\r').to_owned();
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        // A span that runs onto further lines is marked to the end of its first line only.
        let marked_chars = text[start..end.min(line_end)].chars().count();
        Location { line, column, source_line, marked_chars }
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// An error in `imagegate.toml`.
///
/// Its `Display` is the full multi-line diagnostic:
///
/// ```text
/// imagegate.toml:7:1: unknown key `dockerfil` in [images.debian]
///   |
/// 7 | dockerfil = "ci/Dockerfile.debian"
///   | ^^^^^^^^^
///   hint: did you mean `dockerfile`?
/// ```
#[derive(Debug)]
pub struct ConfigError(Box<Diagnostic>);

/// Boxed so that `Result<_, ConfigError>` stays one pointer wide on the success path.
#[derive(Debug)]
struct Diagnostic {
    kind: ConfigErrorKind,
    path: PathBuf,
    location: Option<Location>,
    message: String,
    hint: String,
}

impl ConfigError {
    pub(crate) fn new(
        kind: ConfigErrorKind,
        path: &Path,
        location: Option<Location>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ConfigError {
        ConfigError(Box::new(Diagnostic {
            kind,
            path: path.to_owned(),
            location,
            message: message.into(),
            hint: hint.into(),
        }))
    }

    pub fn kind(&self) -> ConfigErrorKind {
        self.0.kind
    }

    /// The config file, as the caller named it.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// 1-based line and column; `None` only when the file could not be read at all.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        self.0.location.as_ref().map(|location| (location.line, location.column))
    }

    /// The one-line message, without position or hint.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// What to do about it, without the `hint: ` prefix.
    pub fn hint(&self) -> &str {
        &self.0.hint
    }

    /// Position used to report the earliest of several errors first, so that someone fixing
    /// the file from top to bottom meets them in order.
    pub(crate) fn sort_key(&self) -> (usize, usize) {
        self.line_column().unwrap_or((0, 0))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let diagnostic = &self.0;
        let path = diagnostic.path.display();
        match &diagnostic.location {
            None => writeln!(formatter, "{path}: {}", diagnostic.message)?,
            Some(location) => {
                writeln!(formatter, "{path}:{}:{}: {}", location.line, location.column, diagnostic.message)?;
                write_snippet(formatter, location)?;
            }
        }
        let mut hint_lines = diagnostic.hint.lines();
        write!(formatter, "  hint: {}", hint_lines.next().unwrap_or_default())?;
        for line in hint_lines {
            write!(formatter, "\n        {line}")?;
        }
        Ok(())
    }
}

/// Writes the offending line with a gutter and a `^^^` marker, as rustc does. Tabs are shown
/// as four spaces so that the marker stays under the text it marks.
fn write_snippet(formatter: &mut fmt::Formatter<'_>, location: &Location) -> fmt::Result {
    if location.source_line.trim().is_empty() {
        return Ok(());
    }
    let line_number = location.line.to_string();
    let gutter = " ".repeat(line_number.len());
    let mut shown = String::new();
    let mut marker_start = 0;
    let mut marker_width = 0;
    for (index, character) in location.source_line.chars().enumerate() {
        let width = if character == '\t' { 4 } else { 1 };
        if index + 1 < location.column {
            marker_start += width;
        } else if index + 1 < location.column + location.marked_chars {
            marker_width += width;
        }
        if character == '\t' {
            shown.push_str("    ");
        } else {
            shown.push(character);
        }
    }
    writeln!(formatter, "{gutter} |")?;
    writeln!(formatter, "{line_number} | {shown}")?;
    writeln!(formatter, "{gutter} | {}{}", " ".repeat(marker_start), "^".repeat(marker_width.max(1)))
}

/// The text of a config file being checked, and the name to report errors under.
#[derive(Clone, Copy)]
pub(crate) struct SourceFile<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl SourceFile<'_> {
    /// An error at the byte range `span` of the file.
    pub fn error(
        &self,
        kind: ConfigErrorKind,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ConfigError {
        let location = Location::from_span(self.text, span);
        ConfigError::new(kind, self.path, Some(location), message, hint)
    }

    /// The source text of `span`, for hints that repeat what the user wrote.
    pub fn slice(&self, span: Range<usize>) -> &str {
        self.text.get(span).unwrap_or_default()
    }
}

/// The message already holds any underlying I/O error, so there is no `source` for a chain
/// printer to repeat.
impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_at(text: &str, span: Range<usize>) -> ConfigError {
        ConfigError::new(
            ConfigErrorKind::InvalidValue,
            Path::new("imagegate.toml"),
            Some(Location::from_span(text, span)),
            "bad value",
            "fix it",
        )
    }

    #[test]
    fn location_is_one_based_and_counts_characters() {
        let text = "a = 1\nné = \"x\"\n";
        let start = text.find('"').expect("quote");
        let location = Location::from_span(text, start..start + 3);
        assert_eq!((location.line, location.column), (2, 6));
    }

    #[test]
    fn renders_snippet_with_marker_under_the_span() {
        let text = "[engine]\nkind = \"dokcer\"\n";
        let start = text.find("\"dokcer\"").expect("value");
        insta::assert_snapshot!(error_at(text, start..start + 8), @r#"
        imagegate.toml:2:8: bad value
          |
        2 | kind = "dokcer"
          |        ^^^^^^^^
          hint: fix it
        "#);
    }

    #[test]
    fn tabs_keep_the_marker_aligned() {
        let text = "\tkind = 1\n";
        let start = text.find('1').expect("value");
        insta::assert_snapshot!(error_at(text, start..start + 1), @r"
        imagegate.toml:1:9: bad value
          |
        1 |     kind = 1
          |            ^
          hint: fix it
        ");
    }

    #[test]
    fn span_at_end_of_file_is_clamped() {
        let text = "a = [1";
        let location = Location::from_span(text, 10..12);
        assert_eq!((location.line, location.column), (1, 7));
    }

    #[test]
    fn multi_line_span_marks_only_its_first_line() {
        let text = "a = [\n  1,\n]\n";
        let location = Location::from_span(text, 4..text.len());
        assert_eq!(location.marked_chars, 1);
    }

    #[test]
    fn multi_line_hint_is_indented() {
        let error = ConfigError::new(
            ConfigErrorKind::Read,
            Path::new("imagegate.toml"),
            None,
            "could not read the file",
            "first line\nsecond line",
        );
        insta::assert_snapshot!(error, @r"
        imagegate.toml: could not read the file
          hint: first line
                second line
        ");
    }
}
