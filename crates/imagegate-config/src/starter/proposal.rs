//! What `init` proposes for a project: one image per variant its CI builds (Dockerfile,
//! context, build args, target, platform and current tag, from [`super::ci_builds`]), one per
//! Dockerfile no CI job builds (context and required ARGs from the Dockerfile itself), and the
//! suite from [`super::suite`]. Every guess is recorded so that the file and the summary can
//! say where `init` was not sure.
//!
//! No I/O: everything comes from the [`Project`] snapshot.

use std::collections::{BTreeMap, BTreeSet};

use super::ci_builds::{self, BuildInvocation, Resolved};
use super::project::Project;
use super::suite::{ProposedSuite, propose_suite};
use crate::dockerfile::{self, Dockerfile};

/// Dependency manifests that define an image built from the whole repository when they sit
/// at its root: installing them is what such images usually do.
pub(crate) const ROOT_MANIFESTS: &[&str] = &[
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "requirements.txt",
    "tox.ini",
    "poetry.lock",
    "uv.lock",
    "package.json",
    "package-lock.json",
    "Cargo.toml",
    "Cargo.lock",
    "go.mod",
    "go.sum",
    "Gemfile",
    "Gemfile.lock",
];

/// The whole proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The project's name (its folder), for invented tags.
    pub project: String,
    pub images: Vec<ProposedImage>,
    pub suite: ProposedSuite,
    /// Lines the repository root's `.dockerignore` should hold (empty when no image is built
    /// from the root).
    pub dockerignore: Vec<String>,
    /// Things found that concern no one image (a CI file that could not be read).
    pub notes: Vec<String>,
    /// The repository's default branch, when git tells it: `[promote] branches` names it.
    pub default_branch: Option<String>,
    /// `[store] registry` to write, when the caller knows where the CI workflow keeps images
    /// (`init --ci` does); `None` leaves the embedded store.
    pub registry: Option<String>,
}

/// Markers of a Python project whose version is read from git at build time: its image
/// build (`pip install .`, `pip wheel .`) needs `.git` in the context.
const VERSION_FROM_GIT: &[&str] =
    &["hatch-vcs", "setuptools_scm", "setuptools-scm", "versioneer", "poetry-dynamic-versioning", "dunamai", "pbr"];

/// What the root's `.dockerignore` should hold when an image is built from the root: the
/// state folder, and `.git` unless the project takes its version from git (then excluding it
/// would break the build) — said in `notes`.
fn dockerignore_entries(project: &Project, root_context: bool, notes: &mut Vec<String>) -> Vec<String> {
    if !root_context {
        return Vec::new();
    }
    let mut entries = vec![crate::model::DEFAULT_STATE_DIR.to_owned()];
    let marker = ["pyproject.toml", "setup.cfg", "setup.py"].iter().find_map(|file| {
        let text = project.text(file)?;
        VERSION_FROM_GIT.iter().find(|marker| text.contains(*marker)).map(|marker| (*file, *marker))
    });
    match marker {
        Some((file, marker)) => notes.push(format!(
            "`.git` is left in the build context: {file} takes the version from git ({marker}), which a build from the checkout needs"
        )),
        None => entries.push(".git".to_owned()),
    }
    entries
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedImage {
    pub name: String,
    /// Relative to the repository root, as every path here.
    pub dockerfile: String,
    pub context: String,
    pub build_args: Vec<ProposedArg>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub stable_tag: String,
    /// Whether `stable_tag` was invented rather than found in CI.
    pub stable_tag_guessed: bool,
    /// Patterns, relative to the context, naming the files that define the image; empty
    /// unless the context is the repository root.
    pub inputs: Vec<String>,
    /// Where the image came from: `.circleci/config.yml job build-image-debian-12`.
    pub origin: String,
    /// What was assumed or could not be learned, one sentence each.
    pub guesses: Vec<String>,
    /// `false`: written commented out (a Dockerfile no CI job builds, in a project whose CI
    /// builds others: most likely unused).
    pub enabled: bool,
}

/// A build arg; `value: None` is written commented out, so that `plan` names the missing ARG
/// rather than building with a made-up value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedArg {
    pub name: String,
    pub value: Option<String>,
    pub comment: Option<String>,
}

pub fn propose(project: &Project) -> Proposal {
    let mut notes = Vec::new();
    let dockerfiles: BTreeMap<String, Dockerfile> = project
        .dockerfiles()
        .into_iter()
        .filter_map(|path| {
            let parsed = dockerfile::parse(project.text(&path)?);
            Some((path, parsed))
        })
        .collect();

    let mut invocations = Vec::new();
    for (file, text) in project.texts_where(|path| {
        path.starts_with(".github/workflows/") || path == ".gitlab-ci.yml" || path == ".circleci/config.yml"
    }) {
        let found = if file == ".gitlab-ci.yml" {
            ci_builds::gitlab_builds(file, text)
        } else if file == ".circleci/config.yml" {
            ci_builds::circleci_builds(file, text)
        } else {
            ci_builds::github_builds(file, text)
        };
        match found {
            Ok(found) => invocations.extend(found),
            Err(error) => notes.push(format!("could not {error}; its builds are not included")),
        }
    }

    let mut used_names = BTreeSet::new();
    let mut used_tags = BTreeSet::new();
    let mut images = Vec::new();
    let mut recipes: BTreeMap<String, usize> = BTreeMap::new();
    let mut built: BTreeSet<String> = BTreeSet::new();
    for invocation in &invocations {
        let dockerfile_path = invocation.dockerfile_path();
        let origin = format!("{} job {}", invocation.file, invocation.job);
        if !dockerfile_path.is_known() || !invocation.context.is_known() {
            let unknown: Vec<String> =
                dockerfile_path.unknown.iter().chain(&invocation.context.unknown).cloned().collect();
            notes.push(format!(
                "{origin} builds from a Dockerfile or context that depends on {}, unknown here; left out",
                dollar_list(&unknown)
            ));
            continue;
        }
        let Some(parsed) = dockerfiles.get(&dockerfile_path.text) else {
            notes.push(format!("{origin} builds `{}`, which is not in the repository; left out", dockerfile_path.text));
            continue;
        };
        // The same recipe built by several jobs (on push and on pull requests) is one image.
        let recipe = recipe_key(invocation);
        if let Some(&index) = recipes.get(&recipe) {
            let image: &mut ProposedImage = &mut images[index];
            image.origin.push_str(&format!(", and {origin}"));
            continue;
        }
        built.insert(dockerfile_path.text.clone());
        let image =
            from_invocation(project, invocation, &dockerfile_path.text, parsed, &mut used_names, &mut used_tags);
        recipes.insert(recipe, images.len());
        images.push(image);
    }

    let ci_builds_some = !images.is_empty();
    for (path, parsed) in &dockerfiles {
        if built.contains(path) {
            continue;
        }
        let mut image = from_dockerfile(project, path, parsed, &mut used_names, &mut used_tags);
        if ci_builds_some {
            image.enabled = false;
            image.origin = format!("{path}, which no CI job builds");
        }
        images.push(image);
    }

    let root_context = images.iter().any(|image| image.enabled && image.context == ".");
    let dockerignore = dockerignore_entries(project, root_context, &mut notes);
    Proposal {
        project: project.name.clone(),
        images,
        suite: propose_suite(project),
        dockerignore,
        notes,
        default_branch: project.git.default_branch.clone(),
        registry: None,
    }
}

fn recipe_key(invocation: &BuildInvocation) -> String {
    let args: Vec<String> =
        invocation.build_args.iter().map(|(name, value)| format!("{name}={}", value.text)).collect();
    format!(
        "{}\0{}\0{}\0{}\0{}",
        invocation.dockerfile_path().text,
        invocation.context.text,
        args.join("\0"),
        invocation.target.as_ref().map(|target| target.text.as_str()).unwrap_or_default(),
        invocation.platforms.first().map(String::as_str).unwrap_or_default()
    )
}

fn from_invocation(
    project: &Project,
    invocation: &BuildInvocation,
    dockerfile_path: &str,
    parsed: &Dockerfile,
    used_names: &mut BTreeSet<String>,
    used_tags: &mut BTreeSet<String>,
) -> ProposedImage {
    let mut guesses = Vec::new();
    let context = invocation.context.text.clone();
    let mut build_args: Vec<ProposedArg> = invocation
        .build_args
        .iter()
        .map(|(name, value)| {
            if value.is_known() {
                ProposedArg { name: name.clone(), value: Some(value.text.clone()), comment: None }
            } else {
                ProposedArg {
                    name: name.clone(),
                    value: None,
                    comment: Some(if dollar_list(&value.unknown) == format!("`{}`", value.text) {
                        format!("set me: CI passes `{}`, unknown here", value.text)
                    } else {
                        format!("set me: CI passes `{}`; {} is unknown here", value.text, dollar_list(&value.unknown))
                    }),
                }
            }
        })
        .collect();
    build_args.extend(missing_required_args(parsed, &invocation.build_args.keys().cloned().collect()));
    check_sources(project, parsed, &context, &mut guesses);

    let known_tags: Vec<&Resolved> = invocation.tags.iter().filter(|tag| tag.is_known()).collect();
    let tag_name = known_tags.first().map(|tag| name_from_tag(&tag.text));
    let base_name = tag_name.filter(|name| !name.is_empty()).unwrap_or_else(|| {
        format!("{}-{}", dockerfile_name(dockerfile_path, &project.name), sanitize_image_name(&invocation.job))
    });
    let name = unique_name(&base_name, used_names);
    let (stable_tag, stable_tag_guessed) = match known_tags.first() {
        Some(tag) if !used_tags.contains(&with_tag(&tag.text)) => (with_tag(&tag.text), false),
        _ => {
            if invocation.tags.is_empty() {
                guesses.push("CI gives the image no tag: `stable_tag` is made up".to_owned());
            } else {
                let written: Vec<&str> = invocation.tags.iter().map(|tag| tag.text.as_str()).collect();
                guesses.push(format!(
                    "CI tags it `{}`, which is not one fixed tag: `stable_tag` is made up",
                    written.join("`, `")
                ));
            }
            (invented_tag(&project.name, &name), true)
        }
    };
    used_tags.insert(stable_tag.clone());
    if known_tags.len() > 1 {
        let others: Vec<&str> = known_tags[1..].iter().map(|tag| tag.text.as_str()).collect();
        guesses.push(format!("CI also tags it `{}`", others.join("`, `")));
    }
    let platform = invocation.platforms.first().cloned();
    if invocation.platforms.len() > 1 {
        guesses.push(format!(
            "CI builds it for {}; it is tested on {} only",
            invocation.platforms.join(", "),
            invocation.platforms[0]
        ));
    }
    let target = invocation.target.as_ref().and_then(|target| {
        if target.is_known() {
            Some(target.text.clone())
        } else {
            guesses.push(format!("CI builds the target `{}`, unknown here: left out", target.text));
            None
        }
    });
    ProposedImage {
        inputs: inputs(project, dockerfile_path, parsed, &context),
        name,
        dockerfile: dockerfile_path.to_owned(),
        context,
        build_args,
        target,
        platform,
        stable_tag,
        stable_tag_guessed,
        origin: format!("{} job {}", invocation.file, invocation.job),
        guesses,
        enabled: true,
    }
}

fn from_dockerfile(
    project: &Project,
    path: &str,
    parsed: &Dockerfile,
    used_names: &mut BTreeSet<String>,
    used_tags: &mut BTreeSet<String>,
) -> ProposedImage {
    let mut guesses = Vec::new();
    let context = derive_context(project, path, parsed, &mut guesses);
    let name = unique_name(&dockerfile_name(path, &project.name), used_names);
    let mut stable_tag = invented_tag(&project.name, &name);
    let mut number = 2;
    while used_tags.contains(&stable_tag) {
        stable_tag = invented_tag(&project.name, &format!("{name}-{number}"));
        number += 1;
    }
    used_tags.insert(stable_tag.clone());
    ProposedImage {
        inputs: inputs(project, path, parsed, &context),
        name,
        dockerfile: path.to_owned(),
        context,
        build_args: missing_required_args(parsed, &BTreeSet::new()),
        target: None,
        platform: None,
        stable_tag,
        stable_tag_guessed: true,
        origin: path.to_owned(),
        guesses,
        enabled: true,
    }
}

/// Required ARGs (no default) that nothing sets, written commented out with what needs them.
fn missing_required_args(parsed: &Dockerfile, given: &BTreeSet<String>) -> Vec<ProposedArg> {
    let mut seen = BTreeSet::new();
    parsed
        .required_args()
        .into_iter()
        .filter(|arg| !given.contains(&arg.name) && seen.insert(arg.name.clone()))
        .map(|arg| {
            let used_by = parsed
                .froms()
                .iter()
                .find(|from| {
                    from.image.contains(&format!("${{{}}}", arg.name)) || from.image.contains(&format!("${}", arg.name))
                })
                .map(|from| format!(", used by FROM {} (line {})", from.image, from.line))
                .unwrap_or_default();
            ProposedArg {
                name: arg.name.clone(),
                value: None,
                comment: Some(format!("set me: ARG {} (line {}) has no default{used_by}", arg.name, arg.line)),
            }
        })
        .collect()
}

/// The COPY/ADD sources that can be checked: no variables, no `--from` (those are not in the
/// context; the parser leaves them out), without a leading `/` (sources are relative to the
/// context whatever they start with).
fn checkable_sources(parsed: &Dockerfile, guesses: &mut Vec<String>) -> Vec<String> {
    let mut sources = Vec::new();
    for source in parsed.context_sources() {
        if source.source.contains('$') {
            guesses.push(format!(
                "{} `{}` (line {}) depends on a variable: not checked",
                source.instruction, source.source, source.line
            ));
            continue;
        }
        if source.source.contains("://") {
            continue;
        }
        let trimmed = source.source.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
        sources.push(if trimmed.is_empty() || trimmed == "." { ".".to_owned() } else { trimmed.to_owned() });
    }
    sources
}

fn source_exists(project: &Project, folder: &str, source: &str) -> bool {
    let joined = join(folder, source);
    match joined.find(['*', '?', '[']) {
        // A wildcard: checked up to the folder before it.
        Some(position) => {
            let prefix = &joined[..position];
            let folder = prefix.rsplit_once('/').map_or(".", |(folder, _)| folder);
            project.any_under(folder)
        }
        None => project.exists(&joined),
    }
}

/// The context of a Dockerfile no CI job builds: the deepest of its folder and the folders
/// above it under which every COPY/ADD source exists; the repository root when a source is `.`.
fn derive_context(project: &Project, dockerfile_path: &str, parsed: &Dockerfile, guesses: &mut Vec<String>) -> String {
    let sources = checkable_sources(parsed, guesses);
    let folder = parent(dockerfile_path);
    if sources.iter().any(|source| source == ".") {
        return ".".to_owned();
    }
    let mut candidates = vec![folder.clone()];
    let mut current = folder;
    while current != "." {
        current = parent(&current);
        candidates.push(current.clone());
    }
    let present = |candidate: &str| sources.iter().filter(|source| source_exists(project, candidate, source)).count();
    if let Some(found) = candidates.iter().find(|candidate| present(candidate) == sources.len()) {
        return found.clone();
    }
    // No folder has them all: the one with the most, the deepest on a tie.
    let best = candidates.iter().max_by_key(|candidate| present(candidate)).cloned().unwrap_or_else(|| ".".to_owned());
    let best_count = present(&best);
    let chosen = candidates.iter().find(|candidate| present(candidate) == best_count).cloned().unwrap_or(best);
    let missing: Vec<&str> =
        sources.iter().filter(|source| !source_exists(project, &chosen, source)).map(String::as_str).collect();
    guesses.push(format!(
        "no folder above the Dockerfile holds every COPY/ADD source (`{}` not found): the context is a guess",
        missing.join("`, `")
    ));
    chosen
}

/// Notes COPY/ADD sources missing from the context CI builds with.
fn check_sources(project: &Project, parsed: &Dockerfile, context: &str, guesses: &mut Vec<String>) {
    let sources = checkable_sources(parsed, guesses);
    let missing: Vec<&str> =
        sources.iter().filter(|source| !source_exists(project, context, source)).map(String::as_str).collect();
    if !missing.is_empty() {
        guesses.push(format!("`{}` not found in the context `{context}`", missing.join("`, `")));
    }
}

/// With the repository root as context, the files that define the image: the Dockerfile's
/// folder, the COPY/ADD sources other than `.`, and the dependency manifests at the root.
fn inputs(project: &Project, dockerfile_path: &str, parsed: &Dockerfile, context: &str) -> Vec<String> {
    if context != "." {
        return Vec::new();
    }
    let mut patterns: Vec<String> = Vec::new();
    let mut push = |pattern: String| {
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    };
    let folder = parent(dockerfile_path);
    if folder != "." {
        push(format!("{folder}/**"));
    }
    let mut ignored = Vec::new();
    for source in checkable_sources(parsed, &mut ignored) {
        if source == "." || (folder != "." && source.starts_with(&format!("{folder}/"))) {
            continue;
        }
        let is_folder = !source.contains(['*', '?', '[']) && project.any_under(&source);
        push(if is_folder { format!("{source}/**") } else { source });
    }
    for manifest in ROOT_MANIFESTS {
        if project.exists(manifest) {
            push((*manifest).to_owned());
        }
    }
    // `requirements.txt` and its siblings (`requirements-dev.txt`, `requirements/…` is a folder
    // the Dockerfile would COPY and so is listed above).
    project
        .root_entries()
        .filter(|name| name.starts_with("requirements") && name.ends_with(".txt") && *name != "requirements.txt")
        .for_each(|name| push(name.to_owned()));
    patterns
}

/// `tahoelafsci/debian:12-py3.11` → `debian-12-py3.11`; `acme/tools` and `acme/tools:latest` → `tools`.
fn name_from_tag(tag: &str) -> String {
    let without_digest = tag.split('@').next().unwrap_or(tag);
    let (repository, version) = match without_digest.rsplit_once(':') {
        Some((repository, version)) if !version.contains('/') => (repository, Some(version)),
        _ => (without_digest, None),
    };
    let last = repository.rsplit('/').next().unwrap_or(repository);
    let raw = match version {
        Some(version) if version != "latest" => format!("{last}-{version}"),
        _ => last.to_owned(),
    };
    sanitize_image_name(&raw)
}

/// A tag with its `:latest` made explicit, as the engine would read it.
fn with_tag(tag: &str) -> String {
    let last = tag.rsplit('/').next().unwrap_or(tag);
    if last.contains(':') || tag.contains('@') { tag.to_owned() } else { format!("{tag}:latest") }
}

fn invented_tag(project: &str, name: &str) -> String {
    let project = tag_component(project);
    let project = if project.is_empty() { "project".to_owned() } else { project };
    format!("{project}-ci/{}:stable", tag_component(name))
}

/// `Dockerfile.debian` and `debian.Dockerfile` → `debian`; `ci/Dockerfile` → `ci`; a
/// `Dockerfile` at the root → the project's name.
pub(crate) fn dockerfile_name(dockerfile: &str, project: &str) -> String {
    let (folder, file_name) = dockerfile.rsplit_once('/').unwrap_or(("", dockerfile));
    let from_file = ["Dockerfile", "Containerfile"].iter().find_map(|base| {
        file_name
            .strip_prefix(&format!("{base}."))
            .or_else(|| file_name.strip_suffix(&format!(".{base}")))
            .map(str::to_owned)
    });
    let raw = from_file.unwrap_or_else(|| {
        let folder_name = folder.rsplit('/').next().unwrap_or(folder);
        if folder_name.is_empty() { project.to_owned() } else { folder_name.to_owned() }
    });
    let name = sanitize_image_name(&raw);
    if name.is_empty() { "ci".to_owned() } else { name }
}

/// Lowercase, with anything outside `[a-z0-9._-]` made `-`, starting with a letter or digit.
pub(crate) fn sanitize_image_name(raw: &str) -> String {
    let lowered: String =
        raw.to_lowercase()
            .chars()
            .map(|character| {
                if character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-') { character } else { '-' }
            })
            .collect();
    let collapsed = lowered.split('-').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("-");
    collapsed.trim_start_matches(|character: char| !character.is_ascii_alphanumeric()).to_owned()
}

fn unique_name(name: &str, used: &mut BTreeSet<String>) -> String {
    let chosen = if used.contains(name) {
        (2..).map(|number| format!("{name}-{number}")).find(|candidate| !used.contains(candidate)).unwrap_or_default()
    } else {
        name.to_owned()
    };
    used.insert(chosen.clone());
    chosen
}

/// A valid repository path component: lowercase letters and digits joined by single `-`.
pub(crate) fn tag_component(raw: &str) -> String {
    raw.to_lowercase()
        .split(|character: char| !character.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn parent(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((folder, _)) if !folder.is_empty() => folder.to_owned(),
        _ => ".".to_owned(),
    }
}

fn join(folder: &str, path: &str) -> String {
    if folder == "." || folder.is_empty() {
        path.to_owned()
    } else if path == "." {
        folder.to_owned()
    } else {
        format!("{folder}/{path}")
    }
}

fn dollar_list(names: &[String]) -> String {
    let unique: BTreeSet<&String> = names.iter().collect();
    unique
        .iter()
        .map(|name| if name.contains('.') { format!("`${{{{ {name} }}}}`") } else { format!("`${name}`") })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_tags() {
        assert_eq!(name_from_tag("tahoelafsci/debian:12-py3.11"), "debian-12-py3.11");
        assert_eq!(name_from_tag("ghcr.io/acme/tools:latest"), "tools");
        assert_eq!(name_from_tag("localhost:5000/acme/tools"), "tools");
        assert_eq!(with_tag("localhost:5000/acme/tools"), "localhost:5000/acme/tools:latest");
        assert_eq!(with_tag("acme/tools:1"), "acme/tools:1");
    }

    #[test]
    fn derives_image_names() {
        let name = |path: &str| dockerfile_name(path, "acme");
        assert_eq!(name("ci/Dockerfile.debian"), "debian");
        assert_eq!(name("debian.Dockerfile"), "debian");
        assert_eq!(name("ci/Dockerfile"), "ci");
        assert_eq!(name("docker/python/Containerfile"), "python");
        assert_eq!(name("Dockerfile"), "acme");
        assert_eq!(name("Dockerfile.Py3.11"), "py3.11");
        assert_eq!(name("Dockerfile._odd name"), "odd-name");
    }

    #[test]
    fn tag_components_are_valid_repository_parts() {
        assert_eq!(tag_component("My Project_2"), "my-project-2");
        assert_eq!(tag_component("py3.11"), "py3-11");
        assert_eq!(tag_component("--"), "");
    }

    fn project(files: &[(&str, &str)]) -> Project {
        Project::from_files("acme", files.iter().copied())
    }

    #[test]
    fn the_context_is_the_deepest_folder_holding_every_source() {
        let files = [
            (
                "ci/images/debian/Dockerfile",
                "FROM debian:12\nCOPY images/debian/lib/ /opt/lib/\nCOPY common.sh /opt/\n",
            ),
            ("ci/images/debian/lib/x", ""),
            ("ci/images/alpine/Dockerfile", "FROM alpine\nCOPY lib/ /opt/lib/\n"),
            ("ci/images/alpine/lib/y", ""),
            ("ci/common.sh", ""),
        ];
        let proposal = propose(&project(&files));
        let contexts: BTreeMap<&str, &str> =
            proposal.images.iter().map(|image| (image.name.as_str(), image.context.as_str())).collect();
        // debian's sources are `images/debian/lib/` and `common.sh`: `ci` is the deepest with both.
        assert_eq!(contexts["alpine"], "ci/images/alpine");
        assert_eq!(contexts["debian"], "ci");
        let debian = proposal.images.iter().find(|image| image.name == "debian").expect("debian");
        assert!(debian.guesses.is_empty(), "{debian:?}");
        assert!(debian.inputs.is_empty(), "inputs only for the repository root");
    }

    #[test]
    fn a_copy_of_everything_makes_the_root_the_context_with_inputs() {
        let files = [
            ("ci/Dockerfile", "ARG TAG\nFROM debian:${TAG}\nCOPY ci/apt-list /etc/apt/\nCOPY lib/ /x/\nCOPY . /src\n"),
            ("ci/apt-list", ""),
            ("lib/a.py", ""),
            ("setup.py", ""),
            ("tox.ini", "[testenv]\ncommands = pytest\n"),
        ];
        let proposal = propose(&project(&files));
        let image = &proposal.images[0];
        assert_eq!(image.context, ".");
        assert_eq!(image.inputs, ["ci/**", "lib/**", "setup.py", "tox.ini"]);
        assert_eq!(image.build_args.len(), 1);
        assert_eq!(image.build_args[0].value, None);
        let comment = image.build_args[0].comment.as_deref().unwrap_or_default();
        assert!(comment.contains("ARG TAG (line 1) has no default, used by FROM debian:${TAG} (line 2)"), "{comment}");
        assert!(image.enabled && image.stable_tag_guessed);
        assert_eq!(proposal.dockerignore, [".imagegate", ".git"]);
    }

    #[test]
    fn git_stays_in_the_context_of_a_project_versioned_from_git() {
        let files = [
            ("ci/Dockerfile", "FROM debian:12\nCOPY . /src\nRUN pip wheel /src\n"),
            ("pyproject.toml", "[build-system]\nrequires = [\"hatchling\", \"hatch-vcs\"]\n"),
        ];
        let proposal = propose(&project(&files));
        assert_eq!(proposal.dockerignore, [".imagegate"]);
        assert!(
            proposal.notes[0].contains("pyproject.toml takes the version from git (hatch-vcs)"),
            "{:?}",
            proposal.notes
        );
    }

    #[test]
    fn an_unreadable_ci_file_is_a_note_and_the_rest_still_counts() {
        let files = [
            ("ci/Dockerfile", "FROM alpine\n"),
            (".github/workflows/broken.yml", "jobs: [unclosed\n"),
            (".gitlab-ci.yml", "build:\n  script:\n    - docker build -t acme/ci:1 ci\n"),
        ];
        let proposal = propose(&project(&files));
        assert_eq!(proposal.images.len(), 1);
        assert_eq!(proposal.images[0].stable_tag, "acme/ci:1");
        assert!(proposal.notes[0].starts_with("could not read .github/workflows/broken.yml: "), "{:?}", proposal.notes);
    }

    #[test]
    fn a_build_of_a_dockerfile_that_is_not_there_is_left_out_and_said() {
        let files = [
            ("ci/Dockerfile", "FROM alpine\n"),
            (
                ".gitlab-ci.yml",
                "build:\n  script:\n    - docker build -f ci/Dockerfile.$FLAVOUR ci\n    - docker build -f gone/Dockerfile gone\n",
            ),
        ];
        let proposal = propose(&project(&files));
        assert_eq!(proposal.notes.len(), 2, "{:?}", proposal.notes);
        assert!(proposal.notes[0].contains("depends on `$FLAVOUR`, unknown here"), "{:?}", proposal.notes);
        assert!(
            proposal.notes[1].contains("builds `gone/Dockerfile`, which is not in the repository"),
            "{:?}",
            proposal.notes
        );
        // No CI build of ci/Dockerfile was read, so it is proposed from the Dockerfile itself.
        assert!(proposal.images[0].enabled);
    }

    #[test]
    fn the_same_recipe_built_by_two_jobs_is_one_image() {
        let workflow = "jobs:\n  pr:\n    steps:\n      - run: docker build -t acme/ci:1 ci\n  main:\n    steps:\n      - run: docker build -t acme/ci:1 -t acme/ci:latest ci\n";
        let files = [("ci/Dockerfile", "FROM alpine\n"), (".github/workflows/images.yml", workflow)];
        let proposal = propose(&project(&files));
        assert_eq!(proposal.images.len(), 1, "{:?}", proposal.images);
        assert_eq!(
            proposal.images[0].origin,
            ".github/workflows/images.yml job pr, and .github/workflows/images.yml job main"
        );
    }

    #[test]
    fn a_missing_source_is_a_noted_guess() {
        let files = [("ci/Dockerfile", "FROM alpine\nCOPY nowhere.txt /x\n")];
        let proposal = propose(&project(&files));
        assert_eq!(proposal.images[0].context, "ci");
        assert!(proposal.images[0].guesses[0].contains("`nowhere.txt` not found"), "{:?}", proposal.images[0].guesses);
    }
}
