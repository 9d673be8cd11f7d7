//! Loading `imagegate.toml`: reading, parsing with positions, checking keys and types against
//! [`crate::schema`], then validating every value (names, tags, paths on disk) into a
//! [`Config`].
//!
//! Each stage reports the earliest of its errors in the file, so that someone fixing the file
//! from top to bottom meets them in order; a later stage runs only on a file the earlier
//! stages accepted.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::CONFIG_FILE_NAME;
use crate::error::{ConfigError, ConfigErrorKind, Location, SourceFile};
use crate::model::{
    ALLOWED_CAPABILITIES, Config, CulpritsConfig, DEFAULT_ATTEMPTS, DEFAULT_CULPRIT_BUDGET, DEFAULT_NETWORK,
    DEFAULT_PIDS, DEFAULT_PRUNE_AFTER, DEFAULT_STATE_DIR, DEFAULT_TIMEOUT, DEFAULT_WORKDIR, EngineConfig, EngineKind,
    ImageConfig, ImageLines, IncumbentRuns, LOG_SIZE_RANGE, LockfileConfig, MAX_ATTEMPTS, MAX_CONCURRENCY, MAX_CPUS,
    MAX_CULPRIT_BUDGET, MIN_MEMORY, PIDS_RANGE, PromoteConfig, RegistryStoreConfig, ResultsLimits, StoreConfig,
    SuiteConfig, SuiteLimits,
};
use crate::raw::{RawConfig, RawCulprits, RawEngine, RawImage, RawLimits, RawPromote, RawStore, RawSuite};
use crate::reference::normalize_stable_tag;
use crate::schema::{quoted, table_name};

/// Reads and validates the config file at `path`. Relative paths in the file are resolved
/// against the folder that holds it.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let bytes = fs::read(path).map_err(|error| read_error(path, error))?;
    match String::from_utf8(bytes) {
        Ok(text) => load_str(path, &text),
        Err(error) => {
            let valid_up_to = error.utf8_error().valid_up_to();
            let valid = String::from_utf8_lossy(&error.as_bytes()[..valid_up_to]);
            let location = Location::from_span(&valid, valid.len()..valid.len());
            Err(ConfigError::new(
                ConfigErrorKind::Read,
                path,
                Some(location),
                "the file is not UTF-8 text",
                format!("save {CONFIG_FILE_NAME} as UTF-8"),
            ))
        }
    }
}

/// Validates `text` as the config file at `path`, which need not exist: only its folder
/// matters, to resolve the relative paths in `text` (and those must exist).
pub fn load_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let source = SourceFile { path, text };
    let absolute_path = std::path::absolute(path).map_err(|error| read_error(path, error))?;
    let root = absolute_path.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);

    let document = DeTable::parse(text).map_err(|error| syntax_error(source, &error))?;
    earliest(crate::schema::check(source, document.get_ref()))?;

    let document_span = document.span();
    let root_value = Spanned::new(document_span, DeValue::Table(document.into_inner()));
    let raw = RawConfig::deserialize(ValueDeserializer::from(root_value)).map_err(|error| {
        // The schema check accepts only what these structs accept, so this is a safety net
        // that still points at the value.
        source.error(
            ConfigErrorKind::WrongType,
            error.span().unwrap_or(0..0),
            error.message().to_owned(),
            "check the value's type against the documented format of imagegate.toml",
        )
    })?;

    let mut validator = Validator { source, root: &root, errors: Vec::new() };
    let engine = validator.engine(raw.engine);
    let promote = validator.promote(raw.promote);
    let store = validator.store(raw.store);
    let images = validator.images(raw.images);
    earliest(validator.errors)?;
    Ok(Config { path: absolute_path, root, engine, promote, store, images })
}

/// The nearest `imagegate.toml` in `start_dir` or one of its ancestors, up to the filesystem
/// root.
pub fn find_config(start_dir: &Path) -> Option<PathBuf> {
    let start_dir = std::path::absolute(start_dir).ok()?;
    start_dir.ancestors().map(|dir| dir.join(CONFIG_FILE_NAME)).find(|candidate| candidate.is_file())
}

fn earliest(errors: Vec<ConfigError>) -> Result<(), ConfigError> {
    match errors.into_iter().min_by_key(ConfigError::sort_key) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn read_error(path: &Path, error: io::Error) -> ConfigError {
    let hint = match error.kind() {
        io::ErrorKind::NotFound => {
            format!("run `imagegate init` to write a starter {CONFIG_FILE_NAME}, or pass the path of an existing one")
        }
        io::ErrorKind::PermissionDenied => "make the file readable by the user that runs imagegate".to_owned(),
        _ => format!("check that the path names a readable {CONFIG_FILE_NAME}"),
    };
    ConfigError::new(ConfigErrorKind::Read, path, None, format!("could not read the file: {error}"), hint)
}

fn syntax_error(source: SourceFile<'_>, error: &toml::de::Error) -> ConfigError {
    let span = error.span().unwrap_or(0..0);
    let mut message = error.message().trim_end_matches('.').to_owned();
    if message == "duplicate key" {
        message = format!("duplicate key `{}`", source.slice(span.clone()));
    }
    let hint = if message.starts_with("string values must be quoted") {
        format!("quote the value: {}", quoted(source.slice(span.clone())))
    } else if message.starts_with("duplicate key") {
        "each key and each table may be defined only once; merge or remove the repeated one".to_owned()
    } else if message.starts_with("unclosed table") {
        "close the table header with `]`".to_owned()
    } else if message.starts_with("unclosed array") {
        "close the list with `]`".to_owned()
    } else if message.contains("string") {
        "close the string with the quote that opened it".to_owned()
    } else {
        format!("{CONFIG_FILE_NAME} is TOML: see https://toml.io for its syntax")
    };
    source.error(ConfigErrorKind::Syntax, span, message, hint)
}

static IMAGE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9._-]*$").expect("image name pattern is valid"));
/// A repository path (Docker's grammar): lowercase components separated by `/`.
static REPOSITORY_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
        .expect("the repository path pattern is valid")
});
static PLATFORM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$").expect("platform pattern is valid")
});

/// Turns raw values into the model, collecting every error on the way. Values that fail are
/// replaced by placeholders so that the rest is still checked; the placeholders never escape
/// because any error fails the whole load.
struct Validator<'a> {
    source: SourceFile<'a>,
    root: &'a Path,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn error(
        &mut self,
        kind: ConfigErrorKind,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let error = self.source.error(kind, span, message, hint);
        self.errors.push(error);
    }

    fn invalid(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        self.error(ConfigErrorKind::InvalidValue, span, message, hint);
    }

    /// A string that must hold something other than whitespace.
    fn non_blank(&mut self, value: Spanned<String>, key: &str, table: &str, example: &str) -> String {
        if value.get_ref().trim().is_empty() {
            self.invalid(
                value.span(),
                format!("`{key}` in {table} is empty"),
                format!("for example: {key} = {example}"),
            );
        }
        value.into_inner()
    }

    fn engine(&mut self, raw: Option<RawEngine>) -> EngineConfig {
        let Some(raw) = raw else {
            return EngineConfig::default();
        };
        let kind = raw.kind.and_then(|kind| {
            let parsed = kind.get_ref().parse::<EngineKind>().ok();
            if parsed.is_none() {
                let written = kind.get_ref();
                let known = ["docker", "podman"];
                let hint =
                    match known.iter().find(|name| strsim::damerau_levenshtein(&written.to_lowercase(), name) <= 2) {
                        Some(name) => format!("did you mean `{name}`?"),
                        None => "imagegate drives `docker` or `podman`; leave `kind` out to use whichever is installed"
                            .to_owned(),
                    };
                self.invalid(kind.span(), format!("unknown engine `{written}`"), hint);
            }
            parsed
        });
        let build_network =
            raw.build_network.map(|network| self.non_blank(network, "build_network", "[engine]", r#""host""#));
        let concurrency = raw.concurrency.map(|concurrency| match u32::try_from(*concurrency.get_ref()) {
            Ok(count) if (1..=MAX_CONCURRENCY).contains(&count) => count,
            _ => {
                self.invalid(
                    concurrency.span(),
                    format!("`concurrency` must be between 1 and {MAX_CONCURRENCY}, found {}", concurrency.get_ref()),
                    "concurrency is how many runs each image (candidate, incumbent) may have going at once: 1 runs everything one after the other; leave it out for the machine's default",
                );
                1
            }
        });
        EngineConfig { kind, build_network, concurrency }
    }

    fn promote(&mut self, raw: Option<RawPromote>) -> PromoteConfig {
        let Some(branches) = raw.and_then(|raw| raw.branches) else {
            return PromoteConfig::default();
        };
        if branches.get_ref().is_empty() {
            self.invalid(
                branches.span(),
                "`branches` in [promote] is empty, so no branch could ever promote an image",
                r#"list the branches where promotion is allowed, e.g. branches = ["main"]"#,
            );
        }
        let branches = branches
            .into_inner()
            .into_iter()
            .map(|branch| {
                let name = branch.get_ref();
                if name.is_empty() || name.chars().any(char::is_whitespace) {
                    self.invalid(
                        branch.span(),
                        format!("invalid branch name {}", quoted(name)),
                        "a branch name is not empty and has no spaces, e.g. \"main\"",
                    );
                }
                branch.into_inner()
            })
            .collect();
        PromoteConfig { branches }
    }

    fn store(&mut self, raw: Option<RawStore>) -> StoreConfig {
        let (state_dir, registry, prune_after, lockfile) = match raw {
            Some(raw) => {
                let registry = self.registry_store(raw.registry, raw.candidates, raw.insecure, raw.ca_file);
                let lockfile = self.lockfile(raw.lockfile, raw.lockfile_remote, raw.lockfile_branch);
                let prune_after = match raw.prune_after {
                    Some(text) => match humantime::parse_duration(text.get_ref()) {
                        Ok(duration) if !duration.is_zero() => duration,
                        Ok(_) => {
                            self.invalid(
                                text.span(),
                                "`prune_after` is zero, so every candidate would be pruned at once",
                                "keep candidates for a while, e.g. prune_after = \"30d\"",
                            );
                            DEFAULT_PRUNE_AFTER
                        }
                        Err(error) => {
                            self.invalid(
                                text.span(),
                                format!("invalid duration `{}`: {error}", text.get_ref()),
                                "write a duration such as \"30d\", \"2weeks\" or \"72h\"",
                            );
                            DEFAULT_PRUNE_AFTER
                        }
                    },
                    None => DEFAULT_PRUNE_AFTER,
                };
                (raw.state_dir, registry, prune_after, lockfile)
            }
            None => (None, None, DEFAULT_PRUNE_AFTER, None),
        };
        let state_dir = match state_dir {
            Some(state_dir) => {
                let state_dir = self.non_blank(state_dir, "state_dir", "[store]", r#"".imagegate""#);
                PathBuf::from(state_dir)
            }
            None => PathBuf::from(DEFAULT_STATE_DIR),
        };
        // An absolute state_dir replaces the root in `join`: the store may live anywhere.
        StoreConfig { state_dir: Some(lexically_normal(&self.root.join(state_dir))), registry, prune_after, lockfile }
    }

    /// `lockfile`, `lockfile_remote` and `lockfile_branch` of [store]. The lockfile must stay
    /// inside the git repository that holds imagegate.toml: git only versions files there.
    fn lockfile(
        &mut self,
        lockfile: Option<Spanned<String>>,
        remote: Option<Spanned<String>>,
        branch: Option<Spanned<String>>,
    ) -> Option<LockfileConfig> {
        let Some(lockfile) = lockfile else {
            for (name, span) in [
                ("lockfile_remote", remote.map(|value| value.span())),
                ("lockfile_branch", branch.map(|value| value.span())),
            ] {
                if let Some(span) = span {
                    self.invalid(
                        span,
                        format!("`{name}` in [store] applies only to a lockfile, and no `lockfile` is given"),
                        "add lockfile = \"ci/images.lock\" to [store], or remove this key",
                    );
                }
            }
            return None;
        };
        let text = lockfile.get_ref().trim();
        let example = "for example: lockfile = \"ci/images.lock\"";
        if text.is_empty() || text.ends_with('/') || text.ends_with('\\') {
            self.invalid(
                lockfile.span(),
                format!("`lockfile` in [store] must name a file, found `{text}`"),
                format!("give a file path relative to imagegate.toml; {example}"),
            );
            return None;
        }
        if Path::new(text).is_absolute() {
            self.invalid(
                lockfile.span(),
                format!("`lockfile` in [store] is the absolute path `{text}`"),
                format!("give a path relative to imagegate.toml, inside its git repository; {example}"),
            );
            return None;
        }
        let path = lexically_normal(&self.root.join(text));
        let repository = self.root.ancestors().find(|folder| folder.join(".git").exists()).map(Path::to_path_buf);
        let Some(repository) = repository else {
            self.invalid(
                lockfile.span(),
                format!("`lockfile` in [store] needs a git repository, and `{}` is not in one", self.root.display()),
                "run `git init` (and add the remote that holds the truth), or remove `lockfile`",
            );
            return None;
        };
        if !path.starts_with(&repository) || path == repository {
            self.invalid(
                lockfile.span(),
                format!("`lockfile` `{text}` leaves the git repository `{}`", repository.display()),
                format!("keep the lockfile inside the repository that holds imagegate.toml; {example}"),
            );
            return None;
        }
        if path.is_dir() {
            self.invalid(
                lockfile.span(),
                format!("`lockfile` `{text}` is a folder"),
                format!("name the file inside it; {example}"),
            );
            return None;
        }
        let remote = match remote {
            Some(remote) => {
                let value = remote.get_ref().trim().to_owned();
                if value.is_empty() || value.starts_with('-') || value.contains(char::is_whitespace) {
                    self.invalid(
                        remote.span(),
                        format!("invalid git remote `{value}` in `lockfile_remote`"),
                        "name a remote of the repository (see `git remote`), e.g. lockfile_remote = \"origin\"",
                    );
                }
                value
            }
            None => "origin".to_owned(),
        };
        let branch = branch.map(|branch| {
            let value = branch.get_ref().trim().to_owned();
            if value.is_empty() || value.starts_with('-') || value.contains(char::is_whitespace) {
                self.invalid(
                    branch.span(),
                    format!("invalid branch `{value}` in `lockfile_branch`"),
                    "name a branch, e.g. lockfile_branch = \"imagegate-lock\"; leave it out to use the remote's default branch",
                );
            }
            value
        });
        Some(LockfileConfig { path, remote, branch })
    }

    fn registry_store(
        &mut self,
        registry: Option<Spanned<String>>,
        candidates: Option<Spanned<String>>,
        insecure: Option<Spanned<bool>>,
        ca_file: Option<Spanned<String>>,
    ) -> Option<RegistryStoreConfig> {
        let Some(registry) = registry else {
            for (name, span) in [
                ("candidates", candidates.map(|value| value.span())),
                ("insecure", insecure.map(|value| value.span())),
                ("ca_file", ca_file.map(|value| value.span())),
            ] {
                if let Some(span) = span {
                    self.invalid(
                        span,
                        format!("`{name}` in [store] applies only to a registry store, and no `registry` is given"),
                        "add registry = \"HOST[:PORT]/NAMESPACE\" to [store], or remove this key",
                    );
                }
            }
            return None;
        };
        let text = registry.get_ref().trim().trim_end_matches('/');
        let example = "for example: registry = \"ghcr.io/acme\" or \"registry.example.com:5000/ci\"";
        let Some((host, namespace)) = text.split_once('/') else {
            self.invalid(
                registry.span(),
                format!("`registry` in [store] is `{text}`, with no namespace"),
                format!("write HOST[:PORT]/NAMESPACE; {example}"),
            );
            return None;
        };
        let host_is_registry = host.contains('.') || host.contains(':') || host == "localhost";
        if !host_is_registry || text.contains("://") {
            self.invalid(
                registry.span(),
                format!("`registry` in [store] must start with a registry host, not `{host}`"),
                format!("a host has a `.` or a `:port`, or is `localhost`, and no scheme; {example}"),
            );
            return None;
        }
        if !REPOSITORY_PATH.is_match(namespace) {
            self.invalid(
                registry.span(),
                format!("invalid namespace `{namespace}` in `registry`"),
                "a namespace is lowercase path components of letters, digits, `.`, `_` and `-`, separated by `/`",
            );
            return None;
        }
        let candidates = candidates.and_then(|candidates| {
            let value = candidates.get_ref().trim().trim_matches('/').to_owned();
            if REPOSITORY_PATH.is_match(&value) {
                Some(value)
            } else {
                self.invalid(
                    candidates.span(),
                    format!("invalid namespace `{value}` for candidates"),
                    "name a namespace in the same registry, e.g. candidates = \"acme-ci-candidates\"",
                );
                None
            }
        });
        let ca_file = ca_file.and_then(|ca_file| {
            let path = lexically_normal(&self.root.join(ca_file.get_ref()));
            if path.is_file() {
                Some(path)
            } else {
                self.invalid(
                    ca_file.span(),
                    format!("`ca_file` `{}` is not a file", ca_file.get_ref()),
                    "give the PEM file of the CA that signed the registry's certificate, relative to imagegate.toml",
                );
                None
            }
        });
        Some(RegistryStoreConfig {
            host: host.to_owned(),
            namespace: namespace.to_owned(),
            candidates,
            insecure: insecure.is_some_and(|insecure| insecure.into_inner()),
            ca_file,
        })
    }

    fn images(
        &mut self,
        raw: Option<Spanned<BTreeMap<Spanned<String>, Spanned<RawImage>>>>,
    ) -> BTreeMap<String, ImageConfig> {
        let example = "add a table per CI image: [images.NAME] with `dockerfile` and `stable_tag`, and [images.NAME.suite] with `command` and `results`; `imagegate init` writes one per Dockerfile of the project";
        let Some(raw) = raw else {
            let end = self.source.text.len();
            self.error(ConfigErrorKind::NoImages, end..end, "no image is defined", example);
            return BTreeMap::new();
        };
        if raw.get_ref().is_empty() {
            self.error(ConfigErrorKind::NoImages, raw.span(), "no image is defined", example);
        }
        let mut images = BTreeMap::new();
        let mut stable_tags: Vec<(String, String, Range<usize>)> = Vec::new();
        for (name, image) in raw.into_inner() {
            let name_span = name.span();
            let name = name.into_inner();
            if !IMAGE_NAME.is_match(&name) {
                let lowercase = name.to_lowercase();
                let hint = if IMAGE_NAME.is_match(&lowercase) {
                    format!("image names are lowercase: {}", table_name(&["images", &lowercase]))
                } else {
                    "an image name is lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit, e.g. `debian-12`".to_owned()
                };
                self.invalid(name_span, format!("invalid image name `{name}`"), hint);
            }
            let (image, stable_tag_span) = self.image(&name, image);
            if let Some(span) = stable_tag_span {
                stable_tags.push((image.stable_tag.clone(), name.clone(), span));
            }
            images.insert(name, image);
        }
        // Report the later of two images sharing a tag: the first one is not the mistake.
        stable_tags.sort_by_key(|(_, _, span)| span.start);
        for (index, (tag, name, span)) in stable_tags.iter().enumerate() {
            if let Some((_, first_name, first_span)) =
                stable_tags[..index].iter().find(|(first_tag, _, _)| first_tag == tag)
            {
                let first_line = Location::from_span(self.source.text, first_span.clone()).line;
                self.error(
                    ConfigErrorKind::DuplicateStableTag,
                    span.clone(),
                    format!(
                        "image `{name}` has the same stable tag as image `{first_name}` (line {first_line}): `{tag}`"
                    ),
                    "give each image its own stable tag: promoting one image would replace the other",
                );
            }
        }
        images
    }

    /// Validates one image; also returns where its stable tag was written, for the duplicate
    /// check.
    fn image(&mut self, name: &str, raw: Spanned<RawImage>) -> (ImageConfig, Option<Range<usize>>) {
        let table = table_name(&["images", name]);
        let image_span = raw.span();
        let raw = raw.into_inner();

        let context = match &raw.context {
            Some(context) => self.project_path(context, "context", true),
            None => Some((".".to_owned(), self.root.to_path_buf())),
        };
        let dockerfile = match (&raw.dockerfile, &context) {
            (Some(dockerfile), _) => self.project_path(dockerfile, "dockerfile", false).map(|(_, absolute)| absolute),
            (None, Some((context_shown, context_absolute))) => {
                self.default_dockerfile(&table, context_shown, context_absolute, &raw, image_span.clone())
            }
            (None, None) => None,
        };

        let line_of = |span: Range<usize>| Some(Location::from_span(self.source.text, span).line);
        let suite_keys = raw.suite.as_ref().map(Spanned::get_ref);
        let lines = ImageLines {
            table: line_of(image_span.clone()),
            build_args: raw
                .build_args
                .as_ref()
                .and_then(|args| args.keys().map(Spanned::span).min_by_key(|span| span.start))
                .and_then(line_of),
            inputs: raw.inputs.as_ref().and_then(|inputs| line_of(inputs.span())),
            results: suite_keys.and_then(|suite| suite.results.as_ref()).and_then(|results| line_of(results.span())),
            workdir: suite_keys.and_then(|suite| suite.workdir.as_ref()).and_then(|workdir| line_of(workdir.span())),
            network: suite_keys.and_then(|suite| suite.network.as_ref()).and_then(|network| line_of(network.span())),
        };
        let inputs = raw.inputs.map(|inputs| self.inputs(&table, inputs));

        let build_args = raw
            .build_args
            .unwrap_or_default()
            .into_iter()
            .map(|(arg, value)| {
                self.variable_name(&arg, "build arg");
                (arg.into_inner(), value.into_inner())
            })
            .collect();
        let target = raw.target.map(|target| {
            if target.get_ref().trim().is_empty() || target.get_ref().contains(char::is_whitespace) {
                self.invalid(
                    target.span(),
                    format!("invalid build target {}", quoted(target.get_ref())),
                    "name a stage of the Dockerfile (`FROM … AS test`), e.g. target = \"test\"",
                );
            }
            target.into_inner()
        });
        let platform = raw.platform.map(|platform| {
            let written = platform.get_ref();
            if written.contains(',') {
                self.invalid(
                    platform.span(),
                    format!("`platform` in {table} lists several platforms: `{written}`"),
                    "imagegate tests an image on one platform; define one image per platform",
                );
            } else if !PLATFORM.is_match(written) {
                self.invalid(
                    platform.span(),
                    format!("invalid platform {}", quoted(written)),
                    "write os/architecture[/variant], e.g. platform = \"linux/amd64\" or \"linux/arm64\"",
                );
            }
            platform.into_inner()
        });

        let (stable_tag, stable_tag_span) = match raw.stable_tag {
            Some(written) => match normalize_stable_tag(written.get_ref()) {
                Ok(tag) => (tag, Some(written.span())),
                Err(error) => {
                    self.invalid(written.span(), error.message(written.get_ref()), error.hint());
                    (String::new(), None)
                }
            },
            None => {
                self.error(
                    ConfigErrorKind::MissingKey,
                    image_span.clone(),
                    format!("missing `stable_tag` in {table}"),
                    format!(
                        "add the tag that imagegate moves to a candidate once it passes, e.g. stable_tag = \"{}\"",
                        crate::reference::valid_suggestion(format!("acme-ci/{name}:stable"))
                    ),
                );
                (String::new(), None)
            }
        };

        let suite = match raw.suite {
            Some(suite) => self.suite(name, suite),
            None => {
                let suite_table = table_name(&["images", name, "suite"]);
                self.error(
                    ConfigErrorKind::MissingKey,
                    image_span,
                    format!("missing {suite_table}"),
                    format!(
                        "add a {suite_table} table with `command` (how to run the tests) and `results` (where they write their reports)"
                    ),
                );
                placeholder_suite()
            }
        };

        let (_, context) = context.unwrap_or_default();
        let culprits = match raw.culprits {
            Some(culprits) => self.culprits(name, culprits.into_inner()),
            None => CulpritsConfig::default(),
        };
        let image = ImageConfig {
            culprits,
            name: name.to_owned(),
            dockerfile: dockerfile.unwrap_or_default(),
            context,
            inputs,
            build_args,
            target,
            platform,
            stable_tag,
            suite,
            lines,
        };
        (image, stable_tag_span)
    }

    /// `inputs`: a non-empty list of glob patterns relative to the context.
    fn inputs(&mut self, table: &str, inputs: Spanned<Vec<Spanned<String>>>) -> Vec<String> {
        let example = r#"inputs = ["ci/**", "setup.py", "pyproject.toml"]"#;
        if inputs.get_ref().is_empty() {
            self.invalid(
                inputs.span(),
                format!("`inputs` in {table} is empty, so no file of the context would define the image"),
                format!("list the files whose content defines the image, relative to the context, e.g. {example}; or remove `inputs` to hash the whole context"),
            );
        }
        inputs
            .into_inner()
            .into_iter()
            .map(|pattern| {
                let written = pattern.get_ref();
                if let Err(error) = crate::digest::inputs_glob(written) {
                    self.invalid(
                        pattern.span(),
                        format!("invalid pattern {} in `inputs`: {}", quoted(written), error),
                        format!("patterns are globs relative to the context (`*` within a folder, `**` across folders), e.g. {example}"),
                    );
                }
                pattern.into_inner()
            })
            .collect()
    }

    /// `<context>/Dockerfile`, which must exist when `dockerfile` is not given.
    fn default_dockerfile(
        &mut self,
        table: &str,
        context_shown: &str,
        context_absolute: &Path,
        raw: &RawImage,
        image_span: Range<usize>,
    ) -> Option<PathBuf> {
        let absolute = context_absolute.join("Dockerfile");
        if absolute.is_file() {
            return Some(absolute);
        }
        let shown = join_shown(context_shown, "Dockerfile");
        let alternative = ["Containerfile", "dockerfile"]
            .into_iter()
            .find(|name| context_absolute.join(name).is_file())
            .map(|name| join_shown(context_shown, name));
        let hint = match alternative {
            Some(alternative) => format!(
                "without `dockerfile`, imagegate builds `{shown}`; add dockerfile = {} to {table}",
                quoted(&alternative)
            ),
            None => format!(
                "without `dockerfile`, imagegate builds `Dockerfile` in the context folder; add dockerfile = \"…\" to {table} with the Dockerfile's path"
            ),
        };
        let span = raw.context.as_ref().map_or(image_span, Spanned::span);
        self.error(ConfigErrorKind::PathNotFound, span, format!("dockerfile `{shown}` not found"), hint);
        None
    }

    /// Resolves a path written relative to the config's folder, checking that it stays inside
    /// the folder and exists as a folder (`want_folder`) or file. Returns the path as shown in
    /// messages (normalised, `/`-separated) and its absolute form.
    fn project_path(&mut self, written: &Spanned<String>, key: &str, want_folder: bool) -> Option<(String, PathBuf)> {
        let text = written.get_ref();
        let span = written.span();
        let example = if want_folder { "ci" } else { "ci/Dockerfile" };
        if text.trim().is_empty() {
            self.invalid(span, format!("`{key}` is empty"), format!("for example: {key} = \"{example}\""));
            return None;
        }
        let path = Path::new(text);
        if path.is_absolute() || text.starts_with('/') {
            let hint = match path.strip_prefix(self.root) {
                Ok(relative) => format!(
                    "write it relative to the folder of {CONFIG_FILE_NAME}: {key} = {}",
                    quoted(&shown(relative))
                ),
                Err(_) => format!(
                    "imagegate builds from the project checkout: keep the {key} inside the folder of {CONFIG_FILE_NAME} and write its path relative to it"
                ),
            };
            self.error(ConfigErrorKind::PathOutsideProject, span, format!("{key} `{text}` is an absolute path"), hint);
            return None;
        }
        let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => parts.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    if parts.pop().is_none() {
                        self.error(
                            ConfigErrorKind::PathOutsideProject,
                            span,
                            format!("{key} `{text}` is outside the project folder"),
                            format!(
                                "imagegate builds from the project checkout: keep the {key} inside the folder of {CONFIG_FILE_NAME}"
                            ),
                        );
                        return None;
                    }
                }
                Component::RootDir | Component::Prefix(_) => {}
            }
        }
        let relative: PathBuf = parts.iter().collect();
        let shown_path = if parts.is_empty() { ".".to_owned() } else { shown(&relative) };
        let absolute = self.root.join(&relative);

        let what = if want_folder { "folder" } else { "file" };
        match fs::metadata(&absolute) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let hint = match near_miss(&absolute) {
                    Some(name) => {
                        let parent = relative.parent().map(shown).unwrap_or_default();
                        format!("did you mean `{}`?", join_shown(&parent, &name))
                    }
                    None => format!("paths are relative to the folder of {CONFIG_FILE_NAME}: {}", self.root.display()),
                };
                self.error(ConfigErrorKind::PathNotFound, span, format!("{key} `{shown_path}` not found"), hint);
                return None;
            }
            Err(error) => {
                self.error(
                    ConfigErrorKind::PathNotFound,
                    span,
                    format!("could not read {key} `{shown_path}`: {error}"),
                    format!("make the {what} readable by the user that runs imagegate"),
                );
                return None;
            }
            Ok(metadata) if metadata.is_dir() != want_folder => {
                let found = if metadata.is_dir() { "a folder" } else { "a file" };
                let hint = if want_folder {
                    "`context` is the folder sent to the engine as the build context, e.g. context = \"ci\"".to_owned()
                } else {
                    format!(
                        "point `dockerfile` at the Dockerfile itself, e.g. dockerfile = {}",
                        quoted(&join_shown(&shown_path, "Dockerfile"))
                    )
                };
                self.invalid(span, format!("{key} `{shown_path}` is {found}, not a {what}"), hint);
                return None;
            }
            Ok(_) => {}
        }
        // A symbolic link can lead out of the checkout even when the path does not; the
        // inputs digest would then miss files that define the image.
        let real_root = self.root.canonicalize().ok();
        let escaped_to = absolute
            .canonicalize()
            .ok()
            .filter(|real| real_root.as_ref().is_some_and(|real_root| !real.starts_with(real_root)));
        if let Some(real) = escaped_to {
            self.error(
                ConfigErrorKind::PathOutsideProject,
                span,
                format!(
                    "{key} `{shown_path}` leads outside the project folder through a symbolic link, to {}",
                    real.display()
                ),
                "keep the files that define an image in the project checkout, so that its inputs digest covers them",
            );
            return None;
        }
        Some((shown_path, absolute))
    }

    /// Names of build args and environment variables: passed as `NAME=value`, so they can
    /// hold neither `=` nor whitespace.
    fn variable_name(&mut self, name: &Spanned<String>, what: &str) {
        let text = name.get_ref();
        if text.is_empty() || text.contains('=') || text.contains(char::is_whitespace) {
            self.invalid(
                name.span(),
                format!("invalid {what} name {}", quoted(text)),
                format!("{what} names are not empty and have neither `=` nor spaces, e.g. PYTHON_VERSION"),
            );
        }
    }

    fn suite(&mut self, image: &str, raw: Spanned<RawSuite>) -> SuiteConfig {
        let table = table_name(&["images", image, "suite"]);
        let suite_span = raw.span();
        let raw = raw.into_inner();

        let command = match raw.command {
            Some(command) => self.non_blank(command, "command", &table, r#""./run-tests.sh""#),
            None => {
                self.error(
                    ConfigErrorKind::MissingKey,
                    suite_span.clone(),
                    format!("missing `command` in {table}"),
                    "add the shell command that runs the tests in the image, e.g. command = \"./run-tests.sh\"",
                );
                String::new()
            }
        };
        let results = match raw.results {
            Some(results) => {
                let written = results.get_ref();
                if !written.starts_with('/') {
                    self.invalid(
                        results.span(),
                        format!("`results` must be an absolute path inside the container, found `{written}`"),
                        format!("for example: results = \"{}\"", suggested_results(written)),
                    );
                } else if has_parent_component(written) {
                    self.invalid(
                        results.span(),
                        format!("`results` `{written}` climbs out of its folder with `..`"),
                        "give the tests a folder of their own, without `..`, e.g. results = \"/results\"",
                    );
                } else if written.trim_end_matches('/').is_empty() {
                    self.invalid(
                        results.span(),
                        "`results` is the container's root folder",
                        "imagegate copies this folder out after the run: give the tests a folder of their own, e.g. results = \"/results\"",
                    );
                }
                results.into_inner()
            }
            None => {
                self.error(
                    ConfigErrorKind::MissingKey,
                    suite_span,
                    format!("missing `results` in {table}"),
                    "add the folder in the container where the tests write their reports (JUnit XML or subunit v2), e.g. results = \"/results\"",
                );
                String::new()
            }
        };
        let workdir = match raw.workdir {
            Some(workdir) => {
                if !workdir.get_ref().starts_with('/') {
                    self.invalid(
                        workdir.span(),
                        format!(
                            "`workdir` must be an absolute path inside the container, found `{}`",
                            workdir.get_ref()
                        ),
                        format!("for example: workdir = \"{DEFAULT_WORKDIR}\""),
                    );
                } else if has_parent_component(workdir.get_ref()) {
                    self.invalid(
                        workdir.span(),
                        format!("`workdir` `{}` climbs out of its folder with `..`", workdir.get_ref()),
                        format!(
                            "give the checkout a folder of its own, without `..`, e.g. workdir = \"{DEFAULT_WORKDIR}\""
                        ),
                    );
                }
                workdir.into_inner()
            }
            None => DEFAULT_WORKDIR.to_owned(),
        };
        let env = raw
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| {
                self.variable_name(&name, "environment variable");
                (name.into_inner(), value.into_inner())
            })
            .collect();
        let timeout = match raw.timeout {
            Some(timeout) => match humantime::parse_duration(timeout.get_ref()) {
                Ok(duration) if duration.is_zero() => {
                    self.invalid(
                        timeout.span(),
                        "`timeout` is zero",
                        "give the suite time to run, e.g. timeout = \"45m\"",
                    );
                    DEFAULT_TIMEOUT
                }
                Ok(duration) => duration,
                Err(error) => {
                    self.invalid(
                        timeout.span(),
                        format!("invalid timeout `{}`: {error}", timeout.get_ref()),
                        "write a duration such as \"45m\", \"1h 30m\" or \"90s\"",
                    );
                    DEFAULT_TIMEOUT
                }
            },
            None => DEFAULT_TIMEOUT,
        };
        let rerun = raw.rerun.map(|rerun| {
            if !rerun.get_ref().contains("{tests}") {
                self.invalid(
                    rerun.span(),
                    "`rerun` does not contain `{tests}`",
                    "imagegate replaces `{tests}` with the ids of the tests to rerun, e.g. rerun = \"./run-tests.sh {tests}\"; leave `rerun` out to rerun the whole suite",
                );
            }
            rerun.into_inner()
        });
        let attempts = match raw.attempts {
            Some(attempts) => match u32::try_from(*attempts.get_ref()) {
                Ok(count) if (1..=MAX_ATTEMPTS).contains(&count) => count,
                _ => {
                    self.invalid(
                        attempts.span(),
                        format!(
                            "`attempts` must be between 1 and {MAX_ATTEMPTS}, found {}",
                            attempts.get_ref()
                        ),
                        format!(
                            "attempts counts every run of a failing test, the first included: 1 turns reruns off, {DEFAULT_ATTEMPTS} is the default"
                        ),
                    );
                    DEFAULT_ATTEMPTS
                }
            },
            None => DEFAULT_ATTEMPTS,
        };
        let network = match raw.network {
            Some(network) => self.non_blank(network, "network", &table, r#""none""#),
            None => DEFAULT_NETWORK.to_owned(),
        };
        let shard = raw.shard.map(|shard| {
            if !shard.get_ref().contains("{index}") {
                self.invalid(
                    shard.span(),
                    "`shard` does not contain `{index}`",
                    "imagegate replaces `{index}` with the shard's number (from 1) and `{total}` with the number of shards, e.g. shard = \"pytest --shard-id={index} --num-shards={total}\"",
                );
            }
            shard.into_inner()
        });
        let list = raw.list.map(|list| self.non_blank(list, "list", &table, r#""./run-tests.sh --list""#));
        let limits = match raw.limits {
            Some(limits) => self.limits(image, limits.into_inner()),
            None => SuiteLimits::default(),
        };
        let results_limits = self.results_limits(raw.max_results_size, raw.max_results_files);
        let incumbent = match raw.incumbent {
            Some(incumbent) => match incumbent.get_ref().as_str() {
                "targeted" => IncumbentRuns::Targeted,
                "full" => IncumbentRuns::Full,
                other => {
                    self.invalid(
                        incumbent.span(),
                        format!("unknown `incumbent` value `{other}`"),
                        "write incumbent = \"full\" to run the whole suite in the incumbent, or \"targeted\" (the default) to run only the tests its judgement needs",
                    );
                    IncumbentRuns::default()
                }
            },
            None => IncumbentRuns::default(),
        };
        SuiteConfig {
            command,
            results,
            workdir,
            env,
            timeout,
            rerun,
            attempts,
            network,
            shard,
            list,
            limits,
            results_limits,
            incumbent,
            reuse: raw.reuse.is_none_or(Spanned::into_inner),
        }
    }

    /// `max_results_size` and `max_results_files`, or their defaults.
    fn results_limits(&mut self, size: Option<Spanned<String>>, files: Option<Spanned<i64>>) -> ResultsLimits {
        let mut limits = ResultsLimits::default();
        if let Some(size) = size {
            match size.get_ref().trim().parse::<bytesize::ByteSize>() {
                Ok(parsed) if parsed.as_u64() > 0 => limits.max_bytes = parsed.as_u64(),
                Ok(_) => self.invalid(
                    size.span(),
                    "`max_results_size` is zero",
                    "give the results room, e.g. max_results_size = \"256MiB\" (the default)",
                ),
                Err(error) => self.invalid(
                    size.span(),
                    format!("invalid max_results_size `{}`: {error}", size.get_ref()),
                    "write a size with its unit, e.g. max_results_size = \"256MiB\" or \"1GiB\"",
                ),
            }
        }
        if let Some(files) = files {
            match usize::try_from(*files.get_ref()) {
                Ok(count) if (1..=ResultsLimits::MOST_FILES).contains(&count) => limits.max_files = count,
                _ => self.invalid(
                    files.span(),
                    format!(
                        "`max_results_files` must be between 1 and {}, found {}",
                        ResultsLimits::MOST_FILES,
                        files.get_ref()
                    ),
                    format!("the default is max_results_files = {}", ResultsLimits::DEFAULT_MAX_FILES),
                ),
            }
        }
        limits
    }

    /// `[images.NAME.suite.limits]`. Every limit stays finite whatever the file says.
    /// `[images.NAME.culprits]`.
    fn culprits(&mut self, image: &str, raw: RawCulprits) -> CulpritsConfig {
        let table = table_name(&["images", image, "culprits"]);
        let defaults = CulpritsConfig::default();
        let budget = match raw.budget {
            Some(budget) => match u32::try_from(*budget.get_ref()) {
                Ok(count) if count <= MAX_CULPRIT_BUDGET => count,
                _ => {
                    self.invalid(
                        budget.span(),
                        format!(
                            "`budget` in {table} must be between 0 and {MAX_CULPRIT_BUDGET}, found {}",
                            budget.get_ref()
                        ),
                        format!(
                            "budget is the most experiments one gate runs to prove a culprit; 0 turns the proof off, \
                             the default is {DEFAULT_CULPRIT_BUDGET}"
                        ),
                    );
                    defaults.budget
                }
            },
            None => defaults.budget,
        };
        CulpritsConfig { budget, keep: raw.keep.map_or(defaults.keep, Spanned::into_inner) }
    }

    fn limits(&mut self, image: &str, raw: RawLimits) -> SuiteLimits {
        let table = table_name(&["images", image, "suite", "limits"]);
        let defaults = SuiteLimits::default();
        let pids = match raw.pids {
            Some(pids) => match u32::try_from(*pids.get_ref()) {
                Ok(count) if PIDS_RANGE.contains(&count) => count,
                _ => {
                    self.invalid(
                        pids.span(),
                        format!(
                            "`pids` in {table} must be between {} and {}, found {}",
                            PIDS_RANGE.start(),
                            PIDS_RANGE.end(),
                            pids.get_ref()
                        ),
                        format!(
                            "pids bounds the processes and threads the suite runs at once; the default is {DEFAULT_PIDS}"
                        ),
                    );
                    defaults.pids
                }
            },
            None => defaults.pids,
        };
        let memory = match raw.memory {
            Some(memory) => self.size(&memory, "memory", &table, MIN_MEMORY..=u64::MAX, r#""4GiB""#),
            None => defaults.memory,
        };
        let cpus = raw.cpus.and_then(|cpus| {
            let value = *cpus.get_ref();
            if value.is_finite() && (0.01..=MAX_CPUS).contains(&value) {
                Some(value)
            } else {
                self.invalid(
                    cpus.span(),
                    format!("`cpus` in {table} must be between 0.01 and {MAX_CPUS}, found {value}"),
                    "cpus is CPU time as a number of CPUs, e.g. cpus = 2 or cpus = 1.5; leave it out to allow all the machine's CPUs",
                );
                None
            }
        });
        let capabilities = match raw.capabilities {
            Some(list) => list
                .into_inner()
                .into_iter()
                .filter_map(|capability| {
                    let written = capability.get_ref().trim();
                    let name = written.to_ascii_uppercase();
                    let name = name.strip_prefix("CAP_").unwrap_or(&name).to_owned();
                    if ALLOWED_CAPABILITIES.contains(&name.as_str()) {
                        return Some(name);
                    }
                    self.invalid(
                        capability.span(),
                        format!("capability {} in {table} is not one a test container may keep", quoted(written)),
                        format!(
                            "a suite may keep only capabilities of docker's default set: {}",
                            ALLOWED_CAPABILITIES.join(", ")
                        ),
                    );
                    None
                })
                .collect::<std::collections::BTreeSet<String>>()
                .into_iter()
                .collect(),
            None => defaults.capabilities,
        };
        let no_new_privileges = raw.no_new_privileges.map_or(defaults.no_new_privileges, Spanned::into_inner);
        let read_only = raw.read_only.map_or(defaults.read_only, Spanned::into_inner);
        let log_size = match raw.log_size {
            Some(size) => self.size(&size, "log_size", &table, LOG_SIZE_RANGE, r#""64MiB""#),
            None => defaults.log_size,
        };
        SuiteLimits { pids, memory, cpus, capabilities, no_new_privileges, read_only, log_size }
    }

    /// A size such as "4GiB" or "512MB", within `range`.
    fn size(
        &mut self,
        written: &Spanned<String>,
        key: &str,
        table: &str,
        range: std::ops::RangeInclusive<u64>,
        example: &str,
    ) -> u64 {
        let fallback = *range.start();
        match written.get_ref().trim().parse::<bytesize::ByteSize>() {
            Ok(size) if range.contains(&size.as_u64()) => size.as_u64(),
            Ok(size) => {
                let bound = |bytes: u64| bytesize::ByteSize::b(bytes).display().iec().to_string();
                let within = if *range.end() == u64::MAX {
                    format!("at least {}", bound(*range.start()))
                } else {
                    format!("between {} and {}", bound(*range.start()), bound(*range.end()))
                };
                self.invalid(
                    written.span(),
                    format!(
                        "`{key}` in {table} must be {within}, found {} ({} bytes)",
                        written.get_ref(),
                        size.as_u64()
                    ),
                    format!("for example: {key} = {example}"),
                );
                fallback
            }
            Err(_) => {
                self.invalid(
                    written.span(),
                    format!("invalid size {} for `{key}` in {table}", quoted(written.get_ref())),
                    format!("write a number and a unit (KiB, MiB, GiB, or KB, MB, GB), e.g. {key} = {example}"),
                );
                fallback
            }
        }
    }
}

fn placeholder_suite() -> SuiteConfig {
    SuiteConfig {
        command: String::new(),
        results: String::new(),
        workdir: DEFAULT_WORKDIR.to_owned(),
        env: BTreeMap::new(),
        timeout: Duration::ZERO,
        rerun: None,
        attempts: DEFAULT_ATTEMPTS,
        network: DEFAULT_NETWORK.to_owned(),
        shard: None,
        list: None,
        limits: SuiteLimits::default(),
        results_limits: ResultsLimits::default(),
        incumbent: IncumbentRuns::default(),
        reuse: true,
    }
}

/// A relative path as shown in messages and the starter config: `/`-separated on every
/// system.
pub(crate) fn shown(path: &Path) -> String {
    let parts: Vec<String> =
        path.components().map(|component| component.as_os_str().to_string_lossy().into_owned()).collect();
    parts.join("/")
}

fn join_shown(folder: &str, name: &str) -> String {
    if folder.is_empty() || folder == "." { name.to_owned() } else { format!("{folder}/{name}") }
}

/// `path` without `.` components and with each `..` applied to what precedes it, without
/// touching the filesystem.
pub(crate) fn lexically_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    normal.push(component);
                }
            }
            other => normal.push(other),
        }
    }
    normal
}

/// The name in `missing`'s folder nearest to its own, when one is near enough to be a typo.
fn near_miss(missing: &Path) -> Option<String> {
    let wanted = missing.file_name()?.to_string_lossy().to_lowercase();
    let limit = (wanted.chars().count() / 3).max(1);
    fs::read_dir(missing.parent()?)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .map(|name| (strsim::damerau_levenshtein(&wanted, &name.to_lowercase()), name))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests;

/// Whether a container path has a `..` part: it could name any folder, a system one included.
fn has_parent_component(path: &str) -> bool {
    path.split('/').any(|part| part == "..")
}

/// An absolute `results` folder for a relative one: its own plain parts under `/` when they
/// name a folder of the suite's own (`out/junit` → `/out/junit`), else `/results`. Never a
/// path with `..`, the root, or a folder the system keeps its files in.
fn suggested_results(written: &str) -> String {
    const SYSTEM_ROOTS: &[&str] = &[
        "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "opt", "proc", "root", "run", "sbin",
        "src", "sys", "tmp", "usr", "var",
    ];
    let parts: Vec<&str> = written.split('/').filter(|part| !part.is_empty() && *part != ".").collect();
    let plain = parts.iter().all(|part| *part != ".." && !part.chars().any(char::is_whitespace));
    match parts.first() {
        Some(first) if plain && !SYSTEM_ROOTS.contains(first) => format!("/{}", parts.join("/")),
        _ => "/results".to_owned(),
    }
}
