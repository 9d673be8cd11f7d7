//! Problems in a valid config that make imagegate work worse without stopping it; the CLI
//! prints them and goes on.

use std::fmt;

use crate::Config;
use crate::dockerignore::{DockerIgnore, ignore_file_for};
use crate::load::shown;

/// Something worth fixing in a config that loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub message: String,
    /// What to do about it, without the `hint: ` prefix.
    pub hint: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}\n  hint: {}", self.message, self.hint)
    }
}

impl Config {
    /// Checks that need the filesystem beyond what loading checks: the store folder and the
    /// lockfile must not be part of a build context, or every run (promotion) would change the
    /// image's inputs digest (and send the store to the engine); and each `inputs` pattern should
    /// select some file.
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let state_dir = self.state_dir();
        let mut warnings = Vec::new();
        for image in self.images.values() {
            // An unreadable context is reported when the digest is computed.
            for pattern in crate::digest::unmatched_inputs(image).unwrap_or_default() {
                let line = image.lines.inputs.map_or_else(String::new, |line| format!(":{line}"));
                warnings.push(ConfigWarning {
                    message: format!(
                        "{}{line}: the `inputs` pattern `{pattern}` of image `{}` matches no file of its build context",
                        self.path.file_name().map_or_else(|| self.path.display().to_string(), |name| name.to_string_lossy().into_owned()),
                        image.name
                    ),
                    hint: "patterns are relative to the image's `context` folder and see only what its `.dockerignore` keeps; fix or remove the pattern".to_owned(),
                });
            }

            warnings.extend(self.inside_context(image, &state_dir, "the store folder", "run"));
            if let Some(lockfile) = &self.store.lockfile {
                warnings.extend(self.inside_context(image, &lockfile.path, "the lockfile", "promotion"));
            }
        }
        warnings
    }

    /// A warning when `path` (the store folder, the lockfile) is part of `image`'s recipe: it
    /// changes on every `event`, and so would the image's inputs digest.
    fn inside_context(
        &self,
        image: &crate::ImageConfig,
        path: &std::path::Path,
        what: &str,
        event: &str,
    ) -> Option<ConfigWarning> {
        let inside_context = path.strip_prefix(&image.context).ok()?;
        if !crate::digest::inputs_cover(image, inside_context) {
            // The build is still sent the file, but the identity does not change with it.
            return None;
        }
        let ignore_file = ignore_file_for(&image.dockerfile, &image.context);
        let ignore = match &ignore_file {
            // An unreadable or malformed ignore file is reported when the digest is
            // computed; here it counts as excluding nothing.
            Some(path) => {
                std::fs::read_to_string(path).ok().and_then(|text| DockerIgnore::parse(&text).ok()).unwrap_or_default()
            }
            None => DockerIgnore::default(),
        };
        let pattern = shown(inside_context);
        if ignore.is_excluded(&pattern) {
            return None;
        }
        let relative =
            |path: &std::path::Path| path.strip_prefix(&self.root).map_or_else(|_| path.display().to_string(), shown);
        let ignore_file_shown =
            ignore_file.as_deref().map_or_else(|| relative(&image.context.join(".dockerignore")), relative);
        Some(ConfigWarning {
            message: format!(
                "{what} `{}` is inside the build context of image `{}`, so every {event} changes the image's inputs digest",
                relative(path),
                image.name
            ),
            hint: format!("add the line `{pattern}` to `{ignore_file_shown}`"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::{CONFIG_FILE_NAME, load};

    const CONFIG: &str = r#"[images.app]
stable_tag = "acme/app:stable"
[images.app.suite]
command = "make test"
results = "/results"
"#;

    #[test]
    fn warns_when_the_store_is_in_a_build_context() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("write");
        let path = dir.path().join(CONFIG_FILE_NAME);
        fs::write(&path, CONFIG).expect("write");
        let config = load(&path).expect("valid");
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 1);
        insta::assert_snapshot!(warnings[0], @r"
        the store folder `.imagegate` is inside the build context of image `app`, so every run changes the image's inputs digest
          hint: add the line `.imagegate` to `.dockerignore`
        ");

        fs::write(dir.path().join(".dockerignore"), ".git\n.imagegate\n").expect("write");
        assert_eq!(config.warnings(), []);
    }

    #[test]
    fn warns_when_the_lockfile_is_in_a_build_context() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join(".git")).expect("mark the folder as a repository");
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("write");
        fs::write(dir.path().join(".dockerignore"), ".imagegate\n").expect("write");
        let path = dir.path().join(CONFIG_FILE_NAME);
        fs::write(&path, format!("[store]\nlockfile = \"ci/images.lock\"\n{CONFIG}")).expect("write");
        let config = load(&path).expect("valid");
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        insta::assert_snapshot!(warnings[0], @r"
        the lockfile `ci/images.lock` is inside the build context of image `app`, so every promotion changes the image's inputs digest
          hint: add the line `ci/images.lock` to `.dockerignore`
        ");

        fs::write(dir.path().join(".dockerignore"), ".imagegate\nci/images.lock\n").expect("write");
        assert_eq!(config.warnings(), []);
    }

    #[test]
    fn warns_when_an_inputs_pattern_matches_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("ci")).expect("mkdir");
        fs::write(dir.path().join("ci/Dockerfile"), "FROM scratch\n").expect("write");
        let path = dir.path().join(CONFIG_FILE_NAME);
        let text =
            CONFIG.replace("[images.app]", "[images.app]\ncontext = \"ci\"\ninputs = [\"Dockerfile\", \"setup.py\"]");
        fs::write(&path, text).expect("write");
        let warnings = load(&path).expect("valid").warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].message.contains("`setup.py`"), "{warnings:?}");
        insta::assert_snapshot!(warnings[0], @r#"
            imagegate.toml:3: the `inputs` pattern `setup.py` of image `app` matches no file of its build context
              hint: patterns are relative to the image's `context` folder and see only what its `.dockerignore` keeps; fix or remove the pattern
        "#);
    }

    #[test]
    fn no_store_warning_when_inputs_leave_the_store_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("ci")).expect("mkdir");
        fs::write(dir.path().join("ci/Dockerfile"), "FROM scratch\n").expect("write");
        let path = dir.path().join(CONFIG_FILE_NAME);
        fs::write(
            &path,
            CONFIG.replace("[images.app]", "[images.app]\ndockerfile = \"ci/Dockerfile\"\ninputs = [\"ci/**\"]"),
        )
        .expect("write");
        assert_eq!(load(&path).expect("valid").warnings(), []);
        fs::write(
            &path,
            CONFIG.replace("[images.app]", "[images.app]\ndockerfile = \"ci/Dockerfile\"\ninputs = [\"**\"]"),
        )
        .expect("write");
        assert_eq!(load(&path).expect("valid").warnings().len(), 1, "`**` selects the store too");
    }

    #[test]
    fn no_warning_when_the_context_is_elsewhere() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("ci")).expect("mkdir");
        fs::write(dir.path().join("ci/Dockerfile"), "FROM scratch\n").expect("write");
        let path = dir.path().join(CONFIG_FILE_NAME);
        fs::write(&path, CONFIG.replace("[images.app]", "[images.app]\ncontext = \"ci\"")).expect("write");
        assert_eq!(load(&path).expect("valid").warnings(), []);
    }
}
