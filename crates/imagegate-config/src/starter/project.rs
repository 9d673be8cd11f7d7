//! What `init` knows of a project: the paths in its checkout, the text of the files it
//! reads (Dockerfiles, CI configurations, dependency manifests, ignore files) and what git says
//! of the repository (its default branch and `origin`). [`Project::read`] is the one place
//! where `init` reads the disk; everything after it works on this snapshot, so tests build one
//! from strings with [`Project::from_files`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::model::DEFAULT_STATE_DIR;

/// Folders never searched: version control, build output, virtual environments and
/// dependencies, which hold other projects' files rather than this one's.
const SKIPPED_FOLDERS: &[&str] =
    &[".git", "target", "node_modules", DEFAULT_STATE_DIR, ".tox", ".venv", "venv", "__pycache__", ".mypy_cache"];

/// How deep below the root Dockerfiles are looked for: deep enough for `ci/images/debian/`,
/// shallow enough not to pick up test fixtures of vendored projects.
const MAX_DOCKERFILE_DEPTH: usize = 5;

/// At most this many paths are listed; a larger checkout is listed in part (then a COPY
/// source may be reported missing when it is not, which `init` says is a guess).
const MAX_PATHS: usize = 200_000;

/// Files larger than this are not read: no CI config or manifest is that large.
const MAX_TEXT_BYTES: u64 = 2 * 1024 * 1024;

/// Manifests and test configurations at the root that `init` reads.
pub(crate) const ROOT_FILES: &[&str] = &[
    "tox.ini",
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "pytest.ini",
    "go.mod",
    "Cargo.toml",
    "package.json",
    ".gitignore",
    ".gitlab-ci.yml",
    ".circleci/config.yml",
    ".config/nextest.toml",
];

/// A checkout as `init` sees it.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// The checkout's folder name, used for names when nothing better is known.
    pub name: String,
    /// Every file and folder, relative to the root, with `/` separators.
    paths: BTreeSet<String>,
    /// The text of the files read, by relative path.
    texts: BTreeMap<String, String>,
    /// Whether the listing stopped at [`MAX_PATHS`].
    pub truncated: bool,
    /// What git says of the repository; empty outside a git checkout.
    pub git: GitFacts,
}

/// What `init --ci` needs from the repository's git configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitFacts {
    /// The branch the repository treats as its default, if git tells it.
    pub default_branch: Option<String>,
    /// Where [`GitFacts::default_branch`] was read, for messages.
    pub default_branch_source: Option<&'static str>,
    /// The URL of the `origin` remote.
    pub origin_url: Option<String>,
}

impl GitFacts {
    /// Asks git in `root`, in order of authority: the remote's default branch
    /// (`refs/remotes/origin/HEAD`, set by `git clone`), then the branch checked out, then
    /// `init.defaultBranch`. A folder that is no git checkout, or a machine without git, gives
    /// nothing: the caller falls back and says so.
    pub fn read(root: &Path) -> GitFacts {
        let git = |arguments: &[&str]| -> Option<String> {
            let output = std::process::Command::new("git")
                .arg("-C")
                .arg(root)
                .args(arguments)
                .stdin(std::process::Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
            (output.status.success() && !text.is_empty()).then_some(text)
        };
        let from_remote = git(&["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"])
            .and_then(|name| name.strip_prefix("origin/").map(str::to_owned))
            .map(|name| (name, "refs/remotes/origin/HEAD"));
        let default = from_remote
            .or_else(|| {
                git(&["symbolic-ref", "--quiet", "--short", "HEAD"]).map(|name| (name, "the branch checked out"))
            })
            .or_else(|| git(&["config", "--get", "init.defaultBranch"]).map(|name| (name, "init.defaultBranch")));
        GitFacts {
            default_branch: default.as_ref().map(|(name, _)| name.clone()),
            default_branch_source: default.map(|(_, source)| source),
            origin_url: git(&["remote", "get-url", "origin"]),
        }
    }
}

impl Project {
    /// Lists the checkout at `root` and reads the files `init` looks at.
    pub fn read(root: &Path) -> std::io::Result<Project> {
        let name =
            std::path::absolute(root)?.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let mut project = Project { name, git: GitFacts::read(root), ..Project::default() };
        let walk = walkdir::WalkDir::new(root).sort_by_file_name().into_iter().filter_entry(|entry| {
            entry.depth() == 0
                || !(entry.file_type().is_dir()
                    && SKIPPED_FOLDERS.contains(&entry.file_name().to_string_lossy().as_ref()))
        });
        for entry in walk {
            // An unreadable folder is simply not listed, as `docker build` would fail on it anyway.
            let Ok(entry) = entry else { continue };
            if entry.depth() == 0 {
                continue;
            }
            if project.paths.len() >= MAX_PATHS {
                project.truncated = true;
                break;
            }
            let Ok(relative) = entry.path().strip_prefix(root) else { continue };
            let relative = relative_text(relative);
            if entry.file_type().is_file() && project.wants_text(&relative, entry.depth()) {
                let small = entry.metadata().map(|metadata| metadata.len() <= MAX_TEXT_BYTES).unwrap_or(false);
                if small && let Ok(text) = std::fs::read_to_string(entry.path()) {
                    project.texts.insert(relative.clone(), text);
                }
            }
            project.paths.insert(relative);
        }
        Ok(project)
    }

    /// A project made of `files` (relative path, text); their folders exist too.
    pub fn from_files<'a>(name: &str, files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Project {
        let mut project = Project { name: name.to_owned(), ..Project::default() };
        for (path, text) in files {
            let mut folder = Path::new(path).parent();
            while let Some(parent) = folder.filter(|parent| !parent.as_os_str().is_empty()) {
                project.paths.insert(relative_text(parent));
                folder = parent.parent();
            }
            project.paths.insert(path.to_owned());
            project.texts.insert(path.to_owned(), text.to_owned());
        }
        project
    }

    fn wants_text(&self, relative: &str, depth: usize) -> bool {
        let file_name = relative.rsplit('/').next().unwrap_or(relative);
        ROOT_FILES.contains(&relative)
            || (depth <= MAX_DOCKERFILE_DEPTH && is_dockerfile_name(file_name))
            || file_name == ".dockerignore"
            || (relative.starts_with(".github/workflows/")
                && relative.matches('/').count() == 2
                && (relative.ends_with(".yml") || relative.ends_with(".yaml")))
    }

    /// Whether a file or folder exists at `relative` (`.` is the root).
    pub fn exists(&self, relative: &str) -> bool {
        relative == "." || relative.is_empty() || self.paths.contains(relative)
    }

    /// The text of a file that was read.
    pub fn text(&self, relative: &str) -> Option<&str> {
        self.texts.get(relative).map(String::as_str)
    }

    /// Paths of files read whose path satisfies `wanted`, sorted.
    pub(crate) fn texts_where(&self, wanted: impl Fn(&str) -> bool) -> impl Iterator<Item = (&str, &str)> {
        self.texts.iter().filter(move |(path, _)| wanted(path)).map(|(path, text)| (path.as_str(), text.as_str()))
    }

    /// Whether some path under `folder` matches the glob-free prefix of a pattern; used for
    /// COPY sources with wildcards, which are checked only up to their first wildcard.
    pub(crate) fn any_under(&self, folder: &str) -> bool {
        if folder == "." || folder.is_empty() {
            return !self.paths.is_empty();
        }
        let prefix = format!("{folder}/");
        self.paths.range(prefix.clone()..).next().is_some_and(|path| path.starts_with(&prefix))
    }

    /// The names of the files and folders at the root, sorted.
    pub(crate) fn root_entries(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().filter(|path| !path.contains('/')).map(String::as_str)
    }

    /// The project's Dockerfiles, sorted.
    pub fn dockerfiles(&self) -> Vec<String> {
        self.texts.keys().filter(|path| is_dockerfile_name(path.rsplit('/').next().unwrap_or(path))).cloned().collect()
    }
}

fn relative_text(path: &Path) -> String {
    path.components().map(|component| component.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Files named `Dockerfile`, `Containerfile`, or either with a suffix or prefix joined by `.`,
/// `-` or `_` (`Dockerfile.debian`, `Dockerfile-test`, `ci.Dockerfile`, `test_Containerfile`).
pub(crate) fn is_dockerfile_name(name: &str) -> bool {
    // `Dockerfile.dockerignore` is the ignore file of a Dockerfile, not a Dockerfile.
    if name.ends_with(".dockerignore") {
        return false;
    }
    ["Dockerfile", "Containerfile"].iter().any(|base| {
        name == *base
            || name.strip_prefix(base).is_some_and(|rest| rest.starts_with(['.', '-', '_']) && rest.len() > 1)
            || name.strip_suffix(base).is_some_and(|rest| rest.ends_with(['.', '-', '_']) && rest.len() > 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_dockerfile_names() {
        for name in [
            "Dockerfile",
            "Dockerfile.debian",
            "debian.Dockerfile",
            "Containerfile",
            "Containerfile.alpine",
            "alpine.Containerfile",
            "Dockerfile-test",
            "Dockerfile_ci",
            "ci-Dockerfile",
        ] {
            assert!(is_dockerfile_name(name), "{name}");
        }
        for name in [
            "Dockerfile.dockerignore",
            "Dockerfile.",
            ".Dockerfile",
            "Dockerfile-",
            "Dockerfiles",
            "MyDockerfile",
            "README.md",
        ] {
            assert!(!is_dockerfile_name(name), "{name}");
        }
    }

    #[test]
    fn reads_dockerfiles_ci_files_and_manifests_outside_skipped_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("acme");
        for file in [
            "Dockerfile",
            "ci/Dockerfile.debian",
            "ci/alpine.Containerfile",
            "ci/Dockerfile.debian.dockerignore",
            "docker/debian/Dockerfile",
            "a/b/c/d/Dockerfile",
            "a/b/c/d/e/f/Dockerfile",
            ".git/Dockerfile",
            "target/Dockerfile",
            "node_modules/pkg/Dockerfile",
            ".github/workflows/ci.yml",
            ".github/workflows/nested/x.yml",
            "tox.ini",
            "src/deep/module.py",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "FROM scratch\n").expect("write");
        }
        let project = Project::read(&root).expect("read");
        assert_eq!(project.name, "acme");
        assert_eq!(
            project.dockerfiles(),
            [
                "Dockerfile",
                "a/b/c/d/Dockerfile",
                "ci/Dockerfile.debian",
                "ci/alpine.Containerfile",
                "docker/debian/Dockerfile"
            ]
        );
        assert!(project.text(".github/workflows/ci.yml").is_some());
        assert!(project.text(".github/workflows/nested/x.yml").is_none());
        assert!(project.text("tox.ini").is_some());
        assert!(project.text("src/deep/module.py").is_none());
        assert!(project.exists("src/deep/module.py") && project.exists("src/deep") && !project.exists(".git"));
        assert!(project.any_under("src") && !project.any_under("sr"));
    }
}
