//! What a Dockerfile asks of its build: the ARGs it declares, the base images it starts from and
//! the files it copies from the build context, each with the line it is written on.
//!
//! The analysis is pure: [`parse`] takes the file's text and never fails. Lines it does not
//! understand are skipped, because the engine is the judge of a Dockerfile's syntax; this module
//! only answers the questions a preflight asks before anything is built.
//!
//! The text is read the way BuildKit's front end reads it:
//! - parser directives (`# syntax=…`, `# escape=…`, `# check=…`) are read from the top of the
//!   file until the first line that is not one; `# escape=`` ` `` changes the escape character;
//! - a line ending in the escape character continues on the next one; comment lines and empty
//!   lines inside a continued instruction are dropped;
//! - heredocs (`RUN <<EOF`, `COPY <<-"EOF" /dest`) are skipped up to their terminator, so their
//!   bodies are never mistaken for instructions;
//! - `COPY`/`ADD` take flags (`--from=`, `--chown=`, `--link`, …) and a shell or JSON form.
//!
//! Variables are expanded as BuildKit does for `FROM` and `COPY`: `$X`, `${X}`, `${X:-default}`
//! and `${X:+alternative}`, with the escape character protecting a `$`.

use std::collections::{BTreeMap, BTreeSet};

/// A Dockerfile as far as imagegate reads it. Built by [`parse`].
#[derive(Debug, Clone, Default)]
pub struct Dockerfile {
    instructions: Vec<Instruction>,
    args: Vec<ArgDecl>,
    froms: Vec<FromLine>,
    escape: char,
}

/// One `ARG` declaration (a line declaring several names gives one per name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
    /// 1-based line of the `ARG`.
    pub line: usize,
    /// Declared before the first `FROM`: usable in `FROM` lines only.
    pub global: bool,
}

/// One `FROM` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromLine {
    /// The image as written, e.g. `debian:${TAG}`.
    pub image: String,
    pub alias: Option<String>,
    pub line: usize,
}

/// One source of a `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    /// `"COPY"` or `"ADD"`.
    pub instruction: &'static str,
    /// The source as written (quotes removed, variables not expanded).
    pub source: String,
    pub line: usize,
}

/// What a `FROM` line starts from once its variables are expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseImage {
    /// An image reference, variables expanded.
    Image { reference: String, line: usize },
    /// An earlier stage of the same Dockerfile.
    Stage { name: String, line: usize },
    /// `FROM scratch`: no base image.
    Scratch { line: usize },
    /// The reference uses variables that have no value.
    Unresolved { written: String, missing: Vec<String>, line: usize },
}

/// The result of expanding variables in one word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The text with every variable replaced (an unset one by the empty string).
    pub text: String,
    /// Variables used without a value, each once, in order of use.
    pub missing: Vec<String>,
}

/// One logical instruction: its keyword (upper case), its arguments with continuations joined,
/// the 1-based line it starts on, and the stage it belongs to (`None` before the first `FROM`).
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    arguments: String,
    line: usize,
    stage: Option<usize>,
}

/// Reads a Dockerfile's text. Never fails: what is not understood is skipped.
pub fn parse(text: &str) -> Dockerfile {
    let lines: Vec<&str> = text.lines().collect();
    let (escape, first_line) = read_directives(&lines);
    let instructions = read_instructions(&lines[first_line..], first_line, escape);
    let mut dockerfile = Dockerfile { instructions, args: Vec::new(), froms: Vec::new(), escape };
    for instruction in &dockerfile.instructions {
        match instruction.keyword.as_str() {
            "ARG" => {
                for (name, default) in parse_arg(&instruction.arguments, escape) {
                    dockerfile.args.push(ArgDecl {
                        name,
                        default,
                        line: instruction.line,
                        global: instruction.stage.is_none(),
                    });
                }
            }
            "FROM" => {
                if let Some((image, alias)) = parse_from(&instruction.arguments, escape) {
                    dockerfile.froms.push(FromLine { image, alias, line: instruction.line });
                }
            }
            _ => {}
        }
    }
    dockerfile
}

impl Dockerfile {
    /// Every `ARG`, in order.
    pub fn args(&self) -> &[ArgDecl] {
        &self.args
    }

    /// Every `FROM`, in order.
    pub fn froms(&self) -> &[FromLine] {
        &self.froms
    }

    /// ARGs that have no default and are used somewhere — a global one in a `FROM` line, a stage
    /// one in an instruction after it in its stage — each name once, at its first declaration.
    ///
    /// A stage `ARG X` with no default inherits the default of a global `ARG X=…`, so it is not
    /// required.
    pub fn required_args(&self) -> Vec<&ArgDecl> {
        let global_defaults: BTreeSet<&str> =
            self.args.iter().filter(|arg| arg.global && arg.default.is_some()).map(|arg| arg.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        let mut required = Vec::new();
        for arg in &self.args {
            if arg.default.is_some() || seen.contains(arg.name.as_str()) {
                continue;
            }
            if !arg.global && global_defaults.contains(arg.name.as_str()) {
                continue;
            }
            if self.is_used(arg) {
                seen.insert(arg.name.as_str());
                required.push(arg);
            }
        }
        required
    }

    /// Whether `arg` is referenced where its value is visible.
    fn is_used(&self, arg: &ArgDecl) -> bool {
        let stage_of_decl = self
            .instructions
            .iter()
            .find(|instruction| instruction.line == arg.line)
            .and_then(|instruction| instruction.stage);
        self.instructions.iter().filter(|instruction| instruction.line > arg.line).any(|instruction| {
            let in_scope = if arg.global {
                // A global ARG is visible in FROM lines, and in the defaults of later global ARGs.
                instruction.keyword == "FROM" || (instruction.stage.is_none() && instruction.keyword == "ARG")
            } else {
                instruction.stage == stage_of_decl
            };
            in_scope && variables_used(&instruction.arguments, self.escape).contains(&arg.name)
        })
    }

    /// With `--target STAGE`, the first line that is not built: the `FROM` of the stage after
    /// `STAGE`. `None` when the target is the last stage or is not found (then every line counts).
    pub fn lines_built_before(&self, target: &str) -> Option<usize> {
        let index = self
            .froms
            .iter()
            .position(|from| from.alias.as_deref().is_some_and(|alias| alias.eq_ignore_ascii_case(target)))?;
        self.froms.get(index + 1).map(|from| from.line)
    }

    /// `COPY`/`ADD` sources read from the build context: not those of `--from=`, not URLs or git
    /// repositories (`ADD https://…`), not heredocs.
    pub fn context_sources(&self) -> Vec<CopySource> {
        let mut sources = Vec::new();
        for instruction in &self.instructions {
            let name: &'static str = match instruction.keyword.as_str() {
                "COPY" => "COPY",
                "ADD" => "ADD",
                _ => continue,
            };
            let Some(copy) = parse_copy(&instruction.arguments, self.escape) else { continue };
            if copy.from_other_image {
                continue;
            }
            for source in copy.sources {
                if source.starts_with("<<") || is_remote(&source) {
                    continue;
                }
                sources.push(CopySource { instruction: name, source, line: instruction.line });
            }
        }
        sources
    }

    /// Each `FROM` resolved with the global ARG defaults, overridden by `build_args`.
    ///
    /// An earlier stage's name gives [`BaseImage::Stage`], `scratch` gives [`BaseImage::Scratch`],
    /// and a reference that uses a variable with no value gives [`BaseImage::Unresolved`].
    pub fn base_images(&self, build_args: &BTreeMap<String, String>) -> Vec<BaseImage> {
        let globals = self.global_values(build_args);
        let mut stages: Vec<String> = Vec::new();
        let mut bases = Vec::new();
        for from in &self.froms {
            let expanded = expand(&from.image, self.escape, |name| globals.get(name).cloned());
            let line = from.line;
            let base = if !expanded.missing.is_empty() {
                BaseImage::Unresolved { written: from.image.clone(), missing: expanded.missing, line }
            } else if expanded.text.eq_ignore_ascii_case("scratch") {
                BaseImage::Scratch { line }
            } else if let Some(stage) = stages.iter().find(|stage| stage.eq_ignore_ascii_case(&expanded.text)) {
                BaseImage::Stage { name: stage.clone(), line }
            } else {
                BaseImage::Image { reference: expanded.text, line }
            };
            bases.push(base);
            if let Some(alias) = &from.alias {
                stages.push(alias.clone());
            }
        }
        bases
    }

    /// Expands the variables in `source` with the values visible at its line: the ARGs and ENVs
    /// declared earlier in its stage (an ARG takes `build_args`, then its default, then the global
    /// default of the same name).
    pub fn expand_source(&self, source: &CopySource, build_args: &BTreeMap<String, String>) -> Expanded {
        let globals = self.global_values(build_args);
        let stage = self
            .instructions
            .iter()
            .find(|instruction| instruction.line == source.line)
            .and_then(|instruction| instruction.stage);
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for instruction in &self.instructions {
            if instruction.line >= source.line {
                break;
            }
            if stage.is_none() || instruction.stage != stage {
                continue;
            }
            match instruction.keyword.as_str() {
                "ARG" => {
                    for (name, default) in parse_arg(&instruction.arguments, self.escape) {
                        let value = build_args
                            .get(&name)
                            .cloned()
                            .or_else(|| {
                                default
                                    .map(|default| expand(&default, self.escape, |used| values.get(used).cloned()).text)
                            })
                            .or_else(|| globals.get(&name).cloned());
                        match value {
                            Some(value) => values.insert(name, value),
                            None => values.remove(&name),
                        };
                    }
                }
                "ENV" => {
                    for (name, value) in parse_env(&instruction.arguments, self.escape) {
                        let value = expand(&value, self.escape, |used| values.get(used).cloned()).text;
                        values.insert(name, value);
                    }
                }
                _ => {}
            }
        }
        expand(&source.source, self.escape, |name| values.get(name).cloned())
    }

    /// The value of each global ARG: its build arg, else its default (expanded with the globals
    /// before it). A global with neither has no value.
    fn global_values(&self, build_args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for arg in self.args.iter().filter(|arg| arg.global) {
            let value = build_args.get(&arg.name).cloned().or_else(|| {
                arg.default.as_ref().map(|default| expand(default, self.escape, |name| values.get(name).cloned()).text)
            });
            match value {
                Some(value) => values.insert(arg.name.clone(), value),
                None => values.remove(&arg.name),
            };
        }
        values
    }
}

/// Reads the parser directives at the top of the file; returns the escape character and the
/// index of the first line after them.
fn read_directives(lines: &[&str]) -> (char, usize) {
    let mut escape = '\\';
    let mut seen = BTreeSet::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(comment) = line.trim_start().strip_prefix('#') else { return (escape, index) };
        let Some((key, value)) = comment.split_once('=') else { return (escape, index) };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(char::is_whitespace) || !seen.insert(key.clone()) {
            // Not a directive (or a repeated one, which BuildKit reads as a comment): directives end.
            return (escape, index);
        }
        if key == "escape" {
            match value.trim() {
                "`" => escape = '`',
                "\\" => escape = '\\',
                _ => {}
            }
        }
    }
    (escape, lines.len())
}

/// Joins continued lines into instructions and skips comments, empty lines and heredoc bodies.
/// `offset` is the index of `lines[0]` in the file.
fn read_instructions(lines: &[&str], offset: usize, escape: char) -> Vec<Instruction> {
    let mut instructions = Vec::new();
    let mut stage: Option<usize> = None;
    let mut index = 0;
    while index < lines.len() {
        let first = lines[index].trim_start();
        let line = offset + index + 1;
        index += 1;
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let mut text = String::new();
        let mut current = first;
        loop {
            let trimmed = current.trim_end();
            match trimmed.strip_suffix(escape) {
                Some(continued) => {
                    text.push_str(continued);
                    // Comment and empty lines inside a continuation are dropped, as BuildKit does.
                    while index < lines.len() {
                        let next = lines[index].trim_start();
                        if next.is_empty() || next.starts_with('#') {
                            index += 1;
                        } else {
                            break;
                        }
                    }
                    if index >= lines.len() {
                        break;
                    }
                    current = lines[index];
                    index += 1;
                }
                None => {
                    text.push_str(trimmed);
                    break;
                }
            }
        }
        let (keyword, arguments) = match text.split_once(char::is_whitespace) {
            Some((keyword, arguments)) => (keyword, arguments.trim()),
            None => (text.as_str(), ""),
        };
        let keyword = keyword.to_ascii_uppercase();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            for terminator in heredoc_terminators(arguments) {
                index = skip_heredoc(lines, index, &terminator);
            }
        }
        if !keyword.chars().all(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        if keyword == "FROM" {
            stage = Some(stage.map_or(0, |stage| stage + 1));
        }
        instructions.push(Instruction { keyword, arguments: arguments.to_string(), line, stage });
    }
    instructions
}

/// A heredoc's terminator and whether leading tabs are stripped before comparing (`<<-`).
struct Terminator {
    word: String,
    strip_tabs: bool,
}

/// The heredocs an instruction opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in order. A `<<<` here-string
/// of a shell is not one.
fn heredoc_terminators(arguments: &str) -> Vec<Terminator> {
    let bytes = arguments.as_bytes();
    let mut terminators = Vec::new();
    let mut position = 0;
    while let Some(found) = arguments[position..].find("<<") {
        let start = position + found;
        position = start + 2;
        if start > 0 && bytes[start - 1] == b'<' {
            continue;
        }
        let mut rest = &arguments[position..];
        if rest.starts_with('<') {
            position += 1;
            continue;
        }
        let strip_tabs = rest.starts_with('-');
        if strip_tabs {
            rest = &rest[1..];
        }
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'');
        if let Some(quote) = quote {
            rest = &rest[1..];
            let Some(end) = rest.find(quote) else { continue };
            rest = &rest[..end];
        }
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !word.is_empty() && (quote.is_some() || !word.chars().all(|c| c.is_ascii_digit())) {
            terminators.push(Terminator { word, strip_tabs });
        }
    }
    terminators
}

/// Skips a heredoc body starting at `index`; returns the index of the line after its terminator
/// (the end of the file when there is none).
fn skip_heredoc(lines: &[&str], mut index: usize, terminator: &Terminator) -> usize {
    while index < lines.len() {
        let line = lines[index];
        index += 1;
        let line = if terminator.strip_tabs { line.trim_start_matches('\t') } else { line };
        if line == terminator.word {
            break;
        }
    }
    index
}

/// Splits arguments into words the way the shell form does: whitespace separates, quotes group
/// and are removed, the escape character keeps the next character literal.
fn split_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(open) if c == open => quote = None,
            Some('"') if c == escape => {
                // Inside double quotes the escape keeps `"` and itself; before `$` it is kept so
                // the expansion still sees an escaped dollar.
                match chars.peek() {
                    Some(&next) if next == '"' || next == escape => {
                        word.push(next);
                        chars.next();
                    }
                    _ => word.push(c),
                }
            }
            Some(_) => word.push(c),
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                if c == '"' || c == '\'' {
                    quote = Some(c);
                } else if c == escape {
                    match chars.peek() {
                        Some('$') => word.push(c),
                        Some(&next) => {
                            word.push(next);
                            chars.next();
                        }
                        None => {}
                    }
                } else {
                    word.push(c);
                }
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// `ARG NAME[=default] …`: each name with its default.
fn parse_arg(arguments: &str, escape: char) -> Vec<(String, Option<String>)> {
    split_words(arguments, escape)
        .into_iter()
        .filter_map(|word| {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (name.to_string(), Some(default.to_string())),
                None => (word, None),
            };
            is_variable_name(&name).then_some((name, default))
        })
        .collect()
}

/// `ENV NAME=value …` or the legacy `ENV NAME value`.
fn parse_env(arguments: &str, escape: char) -> Vec<(String, String)> {
    let words = split_words(arguments, escape);
    if let Some(first) = words.first()
        && !first.contains('=')
    {
        let value = arguments.trim_start()[first.len()..].trim().to_string();
        return if is_variable_name(first) { vec![(first.clone(), value)] } else { Vec::new() };
    }
    words
        .into_iter()
        .filter_map(|word| {
            let (name, value) = word.split_once('=')?;
            is_variable_name(name).then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

/// `FROM [--platform=…] image [AS name]`.
fn parse_from(arguments: &str, escape: char) -> Option<(String, Option<String>)> {
    let words: Vec<String> =
        split_words(arguments, escape).into_iter().skip_while(|word| word.starts_with("--")).collect();
    let image = words.first()?.clone();
    let alias = match words.get(1) {
        Some(keyword) if keyword.eq_ignore_ascii_case("as") => words.get(2).cloned(),
        _ => None,
    };
    Some((image, alias))
}

/// A `COPY`/`ADD` as far as the context is concerned.
struct CopyArguments {
    /// `--from=`: the sources are read from a stage or an image, not the context.
    from_other_image: bool,
    sources: Vec<String>,
}

/// `COPY [--flag…] src… dest` or `COPY [--flag…] ["src", …, "dest"]`.
fn parse_copy(arguments: &str, escape: char) -> Option<CopyArguments> {
    let mut rest = arguments.trim_start();
    let mut from_other_image = false;
    // Flags come first and are single words (`--link`, `--chown=a:b`); a value never holds spaces.
    while rest.starts_with("--") {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let flag = &rest[..end];
        if flag.starts_with("--from=") {
            from_other_image = true;
        }
        rest = rest[end..].trim_start();
    }
    let words = if rest.starts_with('[') {
        match serde_json::from_str::<Vec<String>>(rest) {
            Ok(words) => words,
            // Not valid JSON: the engine reads it as the shell form.
            Err(_) => split_words(rest, escape),
        }
    } else {
        split_words(rest, escape)
    };
    let (_destination, sources) = words.split_last()?;
    if sources.is_empty() {
        return None;
    }
    Some(CopyArguments { from_other_image, sources: sources.to_vec() })
}

/// A source `ADD` fetches from elsewhere: a URL or a git repository.
fn is_remote(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    ["http://", "https://", "git://", "git@", "ssh://"].iter().any(|scheme| lower.starts_with(scheme))
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The names of the variables `text` refers to (`$X`, `${X}`, `${X:-…}`, …), escaped dollars aside.
fn variables_used(text: &str, escape: char) -> Vec<String> {
    let mut used = Vec::new();
    scan_variables(text, escape, &mut |name, _| {
        used.push(name.to_string());
        None
    });
    used
}

/// Expands `$X`, `${X}`, `${X:-default}` and `${X:+alternative}` in `text` with `lookup`.
/// A variable with no value becomes the empty string and is listed in [`Expanded::missing`],
/// unless a `:-` default or a `:+` form makes its value unnecessary.
pub fn expand(text: &str, escape: char, lookup: impl Fn(&str) -> Option<String>) -> Expanded {
    let mut missing: Vec<String> = Vec::new();
    let text = scan_variables(text, escape, &mut |name, modifier| {
        let value = lookup(name);
        match modifier {
            Some((":-", default)) => {
                Some(value.filter(|value| !value.is_empty()).unwrap_or_else(|| default.to_string()))
            }
            Some((":+", alternative)) => {
                Some(if value.is_some_and(|value| !value.is_empty()) { alternative.to_string() } else { String::new() })
            }
            _ => Some(value.unwrap_or_else(|| {
                if !missing.iter().any(|known| known == name) {
                    missing.push(name.to_string());
                }
                String::new()
            })),
        }
    });
    Expanded { text, missing }
}

/// A `${X:-word}` or `${X:+word}` form: the operator and its word.
type Modifier<'a> = (&'a str, &'a str);

/// Walks `text`, calling `replace(name, modifier)` for each variable reference and writing what it
/// returns (the reference as written when it returns `None`). Returns the rewritten text.
fn scan_variables(
    text: &str,
    escape: char,
    replace: &mut dyn FnMut(&str, Option<Modifier<'_>>) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == escape && rest[c.len_utf8()..].starts_with('$') {
            out.push('$');
            rest = &rest[c.len_utf8() + 1..];
            continue;
        }
        if c != '$' {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let after = &rest[1..];
        if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = braced.find('}') else {
                out.push_str(rest);
                break;
            };
            let inner = &braced[..close];
            let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
            let name = &inner[..name_end];
            let modifier = &inner[name_end..];
            let modifier = if modifier.is_empty() {
                None
            } else {
                [":-", ":+"].iter().find_map(|op| modifier.strip_prefix(op).map(|word| (*op, word)))
            };
            let written = &rest[..close + 3];
            let known_form = inner.len() == name_end || modifier.is_some();
            if is_variable_name(name) && known_form {
                out.push_str(&replace(name, modifier).unwrap_or_else(|| written.to_string()));
            } else {
                out.push_str(written);
            }
            rest = &rest[close + 3..];
        } else {
            let name_end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let name = &after[..name_end];
            if is_variable_name(name) {
                out.push_str(&replace(name, None).unwrap_or_else(|| rest[..name_end + 1].to_string()));
                rest = &after[name_end..];
            } else {
                out.push('$');
                rest = after;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
