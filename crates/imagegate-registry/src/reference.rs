//! Image references by Docker's reference grammar, normalized the way `docker pull` reads them.
//!
//! The grammar and the normalization follow `ParseNormalizedNamed` of the Go module
//! `github.com/distribution/reference` (`regexp.go`, `normalize.go`, `reference.go`): `debian`
//! is `docker.io/library/debian`, `index.docker.io/x` is `docker.io/x`, and the first path
//! component names a registry only if it contains `.` or `:`, is `localhost`, or has an uppercase
//! letter. Unlike Docker, no default tag is added: a reference without tag or digest says so.
//!
//! `oci_client::Reference` (re-exported from `oci_spec::distribution`) is not used for parsing: it
//! always adds `latest`, rejects registries in IPv6 brackets, reports uppercase names as a format
//! error and accepts a bare 64-hex name, so it fails Docker's own test vectors.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

/// Docker Hub's canonical registry name.
const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's historical name, still written by users and old configuration.
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The namespace of Docker Hub's official images, implied by one-component names.
const OFFICIAL_NAMESPACE: &str = "library/";
/// Longest repository path Docker accepts (`RepositoryNameTotalLengthMax`).
const REPOSITORY_LENGTH_MAX: usize = 255;
/// The digest algorithms registries use (the OCI image spec registers these two).
const DIGEST_ALGORITHMS: [(&str, usize); 2] = [("sha256", 64), ("sha512", 128)];

// The pieces of Docker's grammar (distribution/reference regexp.go). Go's `\w` and
// `[[:xdigit:]]` are ASCII-only while Rust's `\w` is Unicode, so the classes are spelled out.
const ALPHANUMERIC: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_NAME_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const OPTIONAL_PORT: &str = "(?::[0-9]+)?";
const IPV6_ADDRESS: &str = r"\[(?:[a-fA-F0-9:]+)\]";
const TAG: &str = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";

fn domain_and_port() -> String {
    let domain_name = format!(r"{DOMAIN_NAME_COMPONENT}(?:\.{DOMAIN_NAME_COMPONENT})*");
    format!("(?:{domain_name}|{IPV6_ADDRESS}){OPTIONAL_PORT}")
}

fn remote_name() -> String {
    let path_component = format!("{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*");
    format!("{path_component}(?:/{path_component})*")
}

/// Compiles one of the fixed patterns above.
fn compile(pattern: &str) -> Regex {
    // The patterns are constants of this file, so failing to compile one is a bug caught by
    // every test, never something input can cause.
    Regex::new(pattern).expect("reference grammar pattern compiles")
}

/// `name[:tag][@digest]`, capturing the three parts.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!("^((?:{}/)?{})(?::({TAG}))?(?:@({DIGEST}))?$", domain_and_port(), remote_name()))
});
/// A name split into its optional domain and its path.
static ANCHORED_NAME: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!("^(?:({})/)?({})$", domain_and_port(), remote_name())));
static ANCHORED_TAG: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^{TAG}$")));
static ANCHORED_DIGEST: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^{DIGEST}$")));
/// What Docker reads as an image id rather than a name.
static ANCHORED_IDENTIFIER: LazyLock<Regex> = LazyLock::new(|| compile("^[a-f0-9]{64}$"));

/// An image reference, normalized: always a registry and a repository path, a tag and a digest
/// only if written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses `text` as `docker pull` would (`ParseNormalizedNamed`), without adding a default tag.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        parse_normalized(text).map_err(|kind| ReferenceError { input: text.to_owned(), kind })
    }

    /// The registry host, with its port if any: `docker.io`, `127.0.0.1:5000`, `[::1]:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path within the registry: `library/debian`, `acme-ci/debian`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest as written, `algorithm:hex`, validated for a known algorithm and its length.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository at `tag`. A digest is dropped: the new reference names what the tag
    /// points to, which need not be the old digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !is_valid_tag(tag) {
            return Err(ReferenceError {
                input: format!("{}:{tag}", self.name()),
                kind: ReferenceErrorKind::InvalidTag,
            });
        }
        Ok(Reference { tag: Some(tag.to_owned()), digest: None, ..self.clone() })
    }

    /// The same repository at `digest`. A tag is dropped: the digest alone says what is meant, and
    /// a tag beside it would only be ignored by registries.
    pub fn with_digest(&self, digest: &str) -> Result<Reference, ReferenceError> {
        validate_digest(digest).map_err(|kind| ReferenceError { input: format!("{}@{digest}", self.name()), kind })?;
        Ok(Reference { tag: None, digest: Some(digest.to_owned()), ..self.clone() })
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same reference for the registry client. The client always needs something to fetch, so
    /// a reference with neither tag nor digest becomes `latest` there, as Docker does on pull.
    pub fn to_oci(&self) -> oci_client::Reference {
        let registry = self.registry.clone();
        let repository = self.repository.clone();
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => {
                oci_client::Reference::with_tag_and_digest(registry, repository, tag.clone(), digest.clone())
            }
            (None, Some(digest)) => oci_client::Reference::with_digest(registry, repository, digest.clone()),
            (Some(tag), None) => oci_client::Reference::with_tag(registry, repository, tag.clone()),
            (None, None) => oci_client::Reference::with_tag(registry, repository, "latest".to_owned()),
        }
    }
}

impl fmt::Display for Reference {
    /// The full normalized form, `registry/repository[:tag][@digest]`, which parses back to the
    /// same reference.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(formatter, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(formatter, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Reference::parse(text)
    }
}

/// Whether `tag` is a tag Docker accepts: up to 128 ASCII letters, digits, `_`, `.` and `-`,
/// not starting with `.` or `-`.
pub fn is_valid_tag(tag: &str) -> bool {
    ANCHORED_TAG.is_match(tag)
}

/// A text that is not an image reference, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("read image reference `{input}`: {kind}")]
pub struct ReferenceError {
    input: String,
    kind: ReferenceErrorKind,
}

impl ReferenceError {
    pub fn kind(&self) -> &ReferenceErrorKind {
        &self.kind
    }

    /// The text that was rejected; for `with_tag` and `with_digest`, the reference it would have made.
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// Why a text is not an image reference.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceErrorKind {
    /// The text is empty.
    #[error("the reference is empty")]
    Empty,
    /// The text does not follow `[registry/]repository[:tag][@digest]`: a character outside the
    /// grammar, an empty path component, a separator at the start or end of one, or a registry
    /// that is not a host name or bracketed IPv6 address.
    #[error("not of the form [registry/]repository[:tag][@digest]")]
    InvalidFormat,
    /// The text is 64 lowercase hex digits alone, which Docker reads as an image id.
    #[error("a name of 64 hex digits is an image id, not a repository; write the registry before it")]
    HexadecimalName,
    /// The repository path has an uppercase letter (registries are case-sensitive but Docker
    /// forbids uppercase repositories).
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// The repository path, after normalization, is longer than 255 characters.
    #[error("repository name is {length} characters long, more than {REPOSITORY_LENGTH_MAX}")]
    NameTooLong { length: usize },
    /// A tag given to `with_tag` is not a valid tag.
    #[error("invalid tag: up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`")]
    InvalidTag,
    /// The digest is not `algorithm:hex` in lowercase hex.
    #[error("invalid digest format: expected an algorithm, `:` and lowercase hex digits, as in sha256:<64 hex>")]
    InvalidDigestFormat,
    /// The digest's algorithm is known but its hex part has the wrong length.
    #[error("{algorithm} digest has {actual} hex digits instead of {expected}")]
    InvalidDigestLength { algorithm: String, expected: usize, actual: usize },
    /// The digest is well-formed but its algorithm is neither sha256 nor sha512.
    #[error("unsupported digest algorithm {algorithm}: only sha256 and sha512 are supported")]
    UnsupportedDigest { algorithm: String },
}

/// `ParseNormalizedNamed`: pick the registry by Docker's rule, then parse the full form strictly.
fn parse_normalized(text: &str) -> Result<Reference, ReferenceErrorKind> {
    if text.is_empty() {
        return Err(ReferenceErrorKind::Empty);
    }
    if ANCHORED_IDENTIFIER.is_match(text) {
        return Err(ReferenceErrorKind::HexadecimalName);
    }
    let (domain, remainder) = split_docker_domain(text);
    // Docker checks the case of everything before the first `:` here, so that an uppercase name
    // is reported as such rather than as a malformed reference.
    let remote = remainder.split(':').next().unwrap_or_default();
    if remote.to_lowercase() != remote {
        return Err(ReferenceErrorKind::NameContainsUppercase);
    }
    parse_strict(&format!("{domain}/{remainder}"))
}

/// `splitDockerDomain` of normalize.go: the registry and the rest (path, tag and digest).
fn split_docker_domain(text: &str) -> (&str, String) {
    let Some((maybe_domain, maybe_remainder)) = text.split_once('/') else {
        return (DOCKER_HUB, format!("{OFFICIAL_NAMESPACE}{text}"));
    };
    let (domain, remainder) = if maybe_domain == DOCKER_HUB_LEGACY {
        (DOCKER_HUB, maybe_remainder)
    } else if maybe_domain == "localhost"
        || maybe_domain.contains(['.', ':'])
        || maybe_domain.to_lowercase() != maybe_domain
    {
        (maybe_domain, maybe_remainder)
    } else {
        (DOCKER_HUB, text)
    };
    if domain == DOCKER_HUB && !remainder.contains('/') {
        (domain, format!("{OFFICIAL_NAMESPACE}{remainder}"))
    } else {
        (domain, remainder.to_owned())
    }
}

/// `Parse` of reference.go on a text that already starts with its registry.
fn parse_strict(text: &str) -> Result<Reference, ReferenceErrorKind> {
    let Some(captures) = REFERENCE.captures(text) else {
        let lowercase = text.to_lowercase();
        if lowercase != text && REFERENCE.is_match(&lowercase) {
            return Err(ReferenceErrorKind::NameContainsUppercase);
        }
        return Err(ReferenceErrorKind::InvalidFormat);
    };
    let name = captures.get(1).map_or("", |found| found.as_str());
    let name_parts = ANCHORED_NAME.captures(name);
    let registry = name_parts.as_ref().and_then(|parts| parts.get(1)).map_or("", |found| found.as_str());
    let repository = name_parts.as_ref().and_then(|parts| parts.get(2)).map_or("", |found| found.as_str());
    if repository.len() > REPOSITORY_LENGTH_MAX {
        return Err(ReferenceErrorKind::NameTooLong { length: repository.len() });
    }
    // Docker keeps a first component that looks like a host but is not one (`a_b.com/x`) as part of
    // the path with no registry at all; every reference here names its registry, so it is refused.
    if registry.is_empty() {
        return Err(ReferenceErrorKind::InvalidFormat);
    }
    let digest = captures.get(3).map(|found| found.as_str().to_owned());
    if let Some(digest) = &digest {
        validate_digest(digest)?;
    }
    Ok(Reference {
        registry: registry.to_owned(),
        repository: repository.to_owned(),
        tag: captures.get(2).map(|found| found.as_str().to_owned()),
        digest,
    })
}

/// `Digest.Validate` of go-digest, with sha256 and sha512 as the available algorithms.
fn validate_digest(digest: &str) -> Result<(), ReferenceErrorKind> {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err(ReferenceErrorKind::InvalidDigestFormat);
    };
    if algorithm.is_empty() || encoded.is_empty() {
        return Err(ReferenceErrorKind::InvalidDigestFormat);
    }
    let Some(&(_, expected)) = DIGEST_ALGORITHMS.iter().find(|(known, _)| *known == algorithm) else {
        if !ANCHORED_DIGEST.is_match(digest) {
            return Err(ReferenceErrorKind::InvalidDigestFormat);
        }
        return Err(ReferenceErrorKind::UnsupportedDigest { algorithm: algorithm.to_owned() });
    };
    if encoded.len() != expected {
        return Err(ReferenceErrorKind::InvalidDigestLength {
            algorithm: algorithm.to_owned(),
            expected,
            actual: encoded.len(),
        });
    }
    if !encoded.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ReferenceErrorKind::InvalidDigestFormat);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;
    use serde::Deserialize;

    /// The vectors of Docker's own tests, re-expressed for normalized parsing; see the file's
    /// `source` field for where each group comes from.
    const VECTORS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference-vectors.json"));

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Vectors {
        #[expect(dead_code, reason = "documents the vectors' origin for readers of the file")]
        source: String,
        parse: Vec<ParseCase>,
        with_tag: Vec<WithCase>,
        with_digest: Vec<WithCase>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ParseCase {
        /// Which upstream test the input comes from.
        from: String,
        input: String,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        registry: Option<String>,
        #[serde(default)]
        repository: Option<String>,
        #[serde(default)]
        tag: Option<String>,
        #[serde(default)]
        digest: Option<String>,
        #[serde(default)]
        full: Option<String>,
        /// Why the expectation differs from the upstream one, where it does.
        #[serde(default)]
        #[expect(dead_code, reason = "read by people, not by the test")]
        note: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct WithCase {
        from: String,
        base: String,
        value: String,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        full: Option<String>,
        #[serde(default)]
        #[expect(dead_code, reason = "read by people, not by the test")]
        note: Option<String>,
    }

    fn kind_code(kind: &ReferenceErrorKind) -> &'static str {
        match kind {
            ReferenceErrorKind::Empty => "empty",
            ReferenceErrorKind::InvalidFormat => "invalid_format",
            ReferenceErrorKind::HexadecimalName => "hexadecimal_name",
            ReferenceErrorKind::NameContainsUppercase => "name_contains_uppercase",
            ReferenceErrorKind::NameTooLong { .. } => "name_too_long",
            ReferenceErrorKind::InvalidTag => "invalid_tag",
            ReferenceErrorKind::InvalidDigestFormat => "invalid_digest_format",
            ReferenceErrorKind::InvalidDigestLength { .. } => "invalid_digest_length",
            ReferenceErrorKind::UnsupportedDigest { .. } => "unsupported_digest",
        }
    }

    fn vectors() -> Vectors {
        serde_json::from_str(VECTORS).expect("reference-vectors.json parses")
    }

    #[test]
    fn parse_follows_dockers_test_vectors() {
        let vectors = vectors();
        assert!(vectors.parse.len() > 100, "the vector file lost cases");
        let mut failures = Vec::new();
        for case in &vectors.parse {
            let outcome = Reference::parse(&case.input);
            let problem = match (&case.error, outcome) {
                (Some(expected), Ok(reference)) => Some(format!("expected error {expected}, parsed as {reference}")),
                (Some(expected), Err(error)) => {
                    (kind_code(error.kind()) != expected).then(|| format!("expected error {expected}, got {error}"))
                }
                (None, Err(error)) => Some(format!("unexpected error: {error}")),
                (None, Ok(reference)) => {
                    let actual = (
                        reference.registry(),
                        reference.repository(),
                        reference.tag(),
                        reference.digest(),
                        reference.to_string(),
                    );
                    let expected = (
                        case.registry.as_deref().unwrap_or("<missing>"),
                        case.repository.as_deref().unwrap_or("<missing>"),
                        case.tag.as_deref(),
                        case.digest.as_deref(),
                        case.full.clone().unwrap_or_default(),
                    );
                    (actual != expected).then(|| format!("expected {expected:?}, got {actual:?}"))
                }
            };
            if let Some(problem) = problem {
                failures.push(format!("{} `{}`: {problem}", case.from, case.input));
            }
        }
        assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
    }

    fn check_with_cases(cases: &[WithCase], apply: impl Fn(&Reference, &str) -> Result<Reference, ReferenceError>) {
        let mut failures = Vec::new();
        for case in cases {
            let base = Reference::parse(&case.base).expect("a with_* vector's base parses");
            let outcome = apply(&base, &case.value);
            let problem = match (&case.error, outcome) {
                (Some(expected), Ok(reference)) => Some(format!("expected error {expected}, got {reference}")),
                (Some(expected), Err(error)) => {
                    (kind_code(error.kind()) != expected).then(|| format!("expected error {expected}, got {error}"))
                }
                (None, Err(error)) => Some(format!("unexpected error: {error}")),
                (None, Ok(reference)) => (Some(reference.to_string()) != case.full)
                    .then(|| format!("expected {:?}, got {reference}", case.full)),
            };
            if let Some(problem) = problem {
                failures.push(format!("{} `{}` + `{}`: {problem}", case.from, case.base, case.value));
            }
        }
        assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn with_tag_follows_dockers_test_vectors() {
        check_with_cases(&vectors().with_tag, Reference::with_tag);
    }

    #[test]
    fn with_digest_follows_dockers_test_vectors() {
        check_with_cases(&vectors().with_digest, Reference::with_digest);
    }

    #[test]
    fn no_default_tag_is_added() {
        let reference = Reference::parse("debian").unwrap();
        assert_eq!(reference.tag(), None);
        assert_eq!(reference.to_string(), "docker.io/library/debian");
        assert_eq!(reference.name(), "docker.io/library/debian");
        assert_eq!(reference.to_oci().to_string(), "docker.io/library/debian:latest");
    }

    #[test]
    fn to_oci_keeps_every_part() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let reference = Reference::parse(&format!("127.0.0.1:5000/acme-ci/debian:12@{digest}")).unwrap();
        let oci = reference.to_oci();
        assert_eq!(oci.registry(), "127.0.0.1:5000");
        assert_eq!(oci.repository(), "acme-ci/debian");
        assert_eq!(oci.tag(), Some("12"));
        assert_eq!(oci.digest(), Some(digest.as_str()));
        let by_digest = reference.with_digest(&digest).unwrap().to_oci();
        assert_eq!((by_digest.tag(), by_digest.digest()), (None, Some(digest.as_str())));
    }

    #[test]
    fn with_tag_drops_the_digest_and_with_digest_drops_the_tag() {
        let digest = format!("sha512:{}", "0".repeat(128));
        let reference = Reference::parse(&format!("localhost:5000/ci/base:old@{digest}")).unwrap();
        let retagged = reference.with_tag("new").unwrap();
        assert_eq!((retagged.tag(), retagged.digest()), (Some("new"), None));
        let pinned = retagged.with_digest(&digest).unwrap();
        assert_eq!((pinned.tag(), pinned.digest()), (None, Some(digest.as_str())));
        assert_eq!(pinned.to_string(), format!("localhost:5000/ci/base@{digest}"));
    }

    #[test]
    fn errors_name_the_input_and_the_reason() {
        let error = Reference::parse("Debian").unwrap_err();
        assert_eq!(error.to_string(), "read image reference `Debian`: repository name must be lowercase");
        let error = Reference::parse("debian").unwrap().with_tag(".hidden").unwrap_err();
        assert_eq!(error.input(), "docker.io/library/debian:.hidden");
        let error = Reference::parse(&format!("debian@sha256:{}", "f".repeat(63))).unwrap_err();
        assert_eq!(
            error.kind(),
            &ReferenceErrorKind::InvalidDigestLength { algorithm: "sha256".to_owned(), expected: 64, actual: 63 }
        );
    }

    #[test]
    fn tags_are_validated_by_dockers_rule() {
        assert!(is_valid_tag("latest"));
        assert!(is_valid_tag("_"));
        assert!(is_valid_tag("v1.2.3-rc_1"));
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(!is_valid_tag(""));
        assert!(!is_valid_tag("-foo"));
        assert!(!is_valid_tag(".foo"));
        assert!(!is_valid_tag("a:b"));
        // Go's `\w` is ASCII-only; a Unicode-aware class would accept this.
        assert!(!is_valid_tag("é"));
    }

    fn path_component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,4}(([._]|__|-{1,2})[a-z0-9]{1,4}){0,2}"
    }

    fn registry() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some("docker.io".to_owned())),
            Just(Some("index.docker.io".to_owned())),
            Just(Some("localhost".to_owned())),
            "localhost:[0-9]{1,5}".prop_map(Some),
            "[a-z0-9]{1,5}(-[a-z0-9]{1,3})?(\\.[a-z0-9]{1,5}){1,3}(:[0-9]{1,5})?".prop_map(Some),
            // Docker takes a first component for a host only if it has `.` or `:`, as IPv6 does.
            "\\[[a-f0-9]{0,4}:[a-f0-9:]{1,12}\\](:[0-9]{1,5})?".prop_map(Some),
            "[A-Z][A-Za-z0-9]{0,5}".prop_map(Some),
        ]
    }

    fn digest() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-f0-9]{64}".prop_map(|hex| format!("sha256:{hex}")),
            "[a-f0-9]{128}".prop_map(|hex| format!("sha512:{hex}"))
        ]
    }

    fn reference_text() -> impl Strategy<Value = String> {
        (
            registry(),
            prop::collection::vec(path_component(), 1..4),
            prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            prop::option::of(digest()),
        )
            .prop_map(|(registry, mut path, tag, digest)| {
                // Without a registry, a first component with a `.` would be read as one.
                if registry.is_none() && path.len() > 1 {
                    path[0] = path[0].replace('.', "-");
                }
                let mut text = registry.map(|registry| format!("{registry}/")).unwrap_or_default();
                text.push_str(&path.join("/"));
                if let Some(tag) = tag {
                    text.push_str(&format!(":{tag}"));
                }
                if let Some(digest) = digest {
                    text.push_str(&format!("@{digest}"));
                }
                text
            })
    }

    proptest! {
        #[test]
        fn display_then_parse_gives_the_same_reference(text in reference_text()) {
            let reference = Reference::parse(&text).map_err(|error| TestCaseError::fail(error.to_string()))?;
            let shown = reference.to_string();
            let again = Reference::parse(&shown).map_err(|error| TestCaseError::fail(error.to_string()))?;
            prop_assert_eq!(&again, &reference);
            prop_assert_eq!(again.to_string(), shown);
        }

        #[test]
        fn whatever_parses_round_trips(text in "[a-zA-Z0-9./:_@\\[\\]-]{0,40}") {
            if let Ok(reference) = Reference::parse(&text) {
                let again = Reference::parse(&reference.to_string());
                prop_assert_eq!(again, Ok(reference));
            }
        }
    }
}
