//! Checks an image reference used as a stable tag, following the grammar of Docker's
//! `distribution/reference` package:
//!
//! ```text
//! reference := [host[:port]/] path-component ("/" path-component)* [":" tag]
//! path-component := [a-z0-9]+ (([._] | "__" | "-"+) [a-z0-9]+)*
//! tag := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! ```
//!
//! The first component is a registry host when it contains `.` or `:` or is `localhost`, as
//! Docker decides. Digests (`@sha256:…`) are refused: a stable tag is a pointer that imagegate
//! moves, and a digest names one fixed image.

use std::sync::LazyLock;

use regex::Regex;

/// Why a stable tag was refused; [`StableTagError::message`] and [`StableTagError::hint`]
/// are written for the config file's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StableTagError {
    Empty,
    Digest { without_digest: String },
    Uppercase { lowercase: String },
    Component { component: String },
    Host { host: String },
    Tag { tag: String },
    TooLong { length: usize },
}

impl StableTagError {
    pub fn message(&self, written: &str) -> String {
        match self {
            StableTagError::Empty => "`stable_tag` is empty".to_owned(),
            StableTagError::Digest { .. } => {
                format!("stable tag `{written}` names a digest, not a tag")
            }
            StableTagError::Uppercase { .. } => {
                format!("stable tag `{written}` has uppercase letters in its repository")
            }
            StableTagError::Component { component } => {
                format!("stable tag `{written}` has an invalid repository part `{component}`")
            }
            StableTagError::Host { host } => {
                format!("stable tag `{written}` has an invalid registry host `{host}`")
            }
            StableTagError::Tag { tag } => {
                format!("stable tag `{written}` has an invalid tag `{tag}`")
            }
            StableTagError::TooLong { length } => format!(
                "stable tag `{written}` has a repository name of {length} characters, over Docker's limit of 255"
            ),
        }
    }

    /// What to write instead; every value it suggests is itself a valid stable tag (the
    /// suggestions derived from what was written are checked, else a known-good example).
    pub fn hint(&self) -> String {
        match self {
            StableTagError::Empty => {
                format!("name the tag imagegate moves on promotion, e.g. stable_tag = \"{EXAMPLE}\"")
            }
            StableTagError::Digest { without_digest } => format!(
                "a stable tag is a pointer that imagegate moves on promotion, so it cannot be pinned to a digest; write stable_tag = \"{without_digest}\""
            ),
            StableTagError::Uppercase { lowercase } => format!(
                "Docker repository names are lowercase: stable_tag = \"{lowercase}\""
            ),
            StableTagError::Component { .. } => format!("repository parts are lowercase letters and digits, separated by `.`, `_`, `__` or dashes, e.g. stable_tag = \"{EXAMPLE}\""),
            StableTagError::Host { .. } => "a registry host is a domain name or address with an optional port, e.g. stable_tag = \"registry.example.com:5000/acme/debian:stable\"".to_owned(),
            StableTagError::Tag { .. } => "a tag is up to 128 letters, digits, `_`, `.` and `-`, and does not start with `.` or `-`, e.g. stable_tag = \"acme-ci/debian:12-py3.11\"".to_owned(),
            StableTagError::TooLong { .. } => format!("use a shorter repository name, e.g. stable_tag = \"{EXAMPLE}\""),
        }
    }
}

/// A valid stable tag, suggested when nothing better can be derived from what was written.
pub(crate) const EXAMPLE: &str = "acme-ci/debian:stable";

/// `suggestion` when it is a valid stable tag, else [`EXAMPLE`]: a hint never suggests a
/// value that would be refused in turn.
pub(crate) fn valid_suggestion(suggestion: String) -> String {
    if normalize_stable_tag(&suggestion).is_ok() { suggestion } else { EXAMPLE.to_owned() }
}

static PATH_COMPONENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").expect("path component pattern is valid"));
static HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$",
    )
    .expect("host pattern is valid")
});
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("tag pattern is valid"));

/// Validates `written` as a stable tag and returns it with an explicit tag: `:latest` is
/// added when none is given, as Docker would, so that the rest of imagegate always sees one.
pub(crate) fn normalize_stable_tag(written: &str) -> Result<String, StableTagError> {
    if written.is_empty() {
        return Err(StableTagError::Empty);
    }
    if let Some((without_digest, _digest)) = written.split_once('@') {
        let without_digest =
            if has_tag(without_digest) { without_digest.to_owned() } else { format!("{without_digest}:stable") };
        return Err(StableTagError::Digest { without_digest: valid_suggestion(without_digest) });
    }
    let (name, tag) = split_tag(written);
    let mut components: Vec<&str> = name.split('/').collect();
    let host = match components.first() {
        Some(first) if components.len() > 1 && (first.contains(['.', ':']) || *first == "localhost") => {
            Some(components.remove(0))
        }
        _ => None,
    };
    if let Some(host) = host.filter(|host| !HOST.is_match(host)) {
        return Err(StableTagError::Host { host: host.to_owned() });
    }
    for component in &components {
        if !PATH_COMPONENT.is_match(component) {
            if PATH_COMPONENT.is_match(&component.to_lowercase()) {
                let repository = components.join("/").to_lowercase();
                let lowercase = match (host, tag) {
                    (Some(host), Some(tag)) => format!("{host}/{repository}:{tag}"),
                    (Some(host), None) => format!("{host}/{repository}"),
                    (None, Some(tag)) => format!("{repository}:{tag}"),
                    (None, None) => repository,
                };
                // Lowercase alone may not make it valid (another part, the tag): then the
                // first error that remains is the one to fix.
                return match normalize_stable_tag(&lowercase) {
                    Ok(_) => Err(StableTagError::Uppercase { lowercase }),
                    Err(remaining) => Err(remaining),
                };
            }
            return Err(StableTagError::Component { component: (*component).to_owned() });
        }
    }
    if name.len() > 255 {
        return Err(StableTagError::TooLong { length: name.len() });
    }
    match tag {
        Some(tag) if !TAG.is_match(tag) => Err(StableTagError::Tag { tag: tag.to_owned() }),
        Some(_) => Ok(written.to_owned()),
        None => Ok(format!("{written}:latest")),
    }
}

/// Splits `name[:tag]`. The tag's colon is the last one after the last `/`, so that a
/// registry port (`host:5000/repo`) is not mistaken for a tag.
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    let last_component_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[last_component_start..].rfind(':') {
        Some(colon) => {
            let colon = last_component_start + colon;
            (&reference[..colon], Some(&reference[colon + 1..]))
        }
        None => (reference, None),
    }
}

fn has_tag(reference: &str) -> bool {
    split_tag(reference).1.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_references() {
        let cases = [
            ("acme-ci/debian:12-py3.11", "acme-ci/debian:12-py3.11"),
            ("debian", "debian:latest"),
            ("acme/debian", "acme/debian:latest"),
            ("registry.example.com/acme/debian:stable", "registry.example.com/acme/debian:stable"),
            ("localhost:5000/ci:stable", "localhost:5000/ci:stable"),
            ("localhost/ci", "localhost/ci:latest"),
            ("Registry.Example.com:443/a/b:c", "Registry.Example.com:443/a/b:c"),
            ("[::1]:5000/ci:x", "[::1]:5000/ci:x"),
            ("a__b/c.d/e--f:_tag", "a__b/c.d/e--f:_tag"),
            ("ghcr.io/acme/ci-images/python:3.12", "ghcr.io/acme/ci-images/python:3.12"),
        ];
        for (written, normalized) in cases {
            assert_eq!(normalize_stable_tag(written).as_deref(), Ok(normalized), "{written}");
        }
    }

    #[test]
    fn refuses_invalid_references() {
        let cases = [
            ("", StableTagError::Empty),
            ("acme/debian@sha256:0123", StableTagError::Digest { without_digest: "acme/debian:stable".to_owned() }),
            ("acme/debian:12@sha256:0123", StableTagError::Digest { without_digest: "acme/debian:12".to_owned() }),
            ("Acme/Debian:12", StableTagError::Uppercase { lowercase: "acme/debian:12".to_owned() }),
            ("acme//debian", StableTagError::Component { component: String::new() }),
            ("acme/debian/", StableTagError::Component { component: String::new() }),
            ("acme/-debian", StableTagError::Component { component: "-debian".to_owned() }),
            ("acme/de..bian", StableTagError::Component { component: "de..bian".to_owned() }),
            ("-bad.host:5000/ci", StableTagError::Host { host: "-bad.host:5000".to_owned() }),
            ("acme/debian:.hidden", StableTagError::Tag { tag: ".hidden".to_owned() }),
            ("acme/debian:", StableTagError::Tag { tag: String::new() }),
            ("acme/debian:with space", StableTagError::Tag { tag: "with space".to_owned() }),
        ];
        for (written, error) in cases {
            assert_eq!(normalize_stable_tag(written), Err(error), "{written}");
        }
    }

    #[test]
    fn tag_length_limit_is_128() {
        let ok = format!("acme/ci:{}", "a".repeat(128));
        let too_long = format!("acme/ci:{}", "a".repeat(129));
        assert!(normalize_stable_tag(&ok).is_ok());
        assert!(matches!(normalize_stable_tag(&too_long), Err(StableTagError::Tag { .. })));
    }

    #[test]
    fn repository_length_limit_is_255() {
        let too_long = format!("acme/{}", "a".repeat(251));
        assert_eq!(normalize_stable_tag(&too_long), Err(StableTagError::TooLong { length: 256 }));
    }
}
