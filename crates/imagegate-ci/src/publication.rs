//! What a run hands on, and where each provider reads it: [`plan`] turns the outputs into the
//! exact text of each file to write and of what to print, without writing anything, so that
//! every format is tested as text; [`crate::outputs`] does the writing.
//!
//! | provider | images | summary | regressions and flaky tests | JUnit report |
//! |---|---|---|---|---|
//! | GitHub Actions | `image-NAME=REF` appended to `$GITHUB_OUTPUT` | appended to `$GITHUB_STEP_SUMMARY` | `::error` / `::warning` on stdout | — |
//! | GitLab CI/CD | `IMAGEGATE_IMAGE_NAME=REF` in `imagegate.env` (`artifacts:reports:dotenv`) | — | in the JUnit report | `imagegate-junit.xml` (`artifacts:reports:junit`) |
//! | CircleCI | `export IMAGEGATE_IMAGE_NAME='REF'` in `imagegate-workspace/imagegate.env` (`persist_to_workspace`) | — | in the JUnit report | `imagegate-junit.xml` (`store_test_results`) |
//! | generic | JSON or dotenv, at the path the caller names | — | in the JSON | — |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::OutputError;
use crate::run::Provider;
use crate::{circleci, generic, github, gitlab};

/// The dotenv report GitLab reads through `artifacts:reports:dotenv`, relative to the job's
/// working folder.
pub const GITLAB_DOTENV_FILE: &str = "imagegate.env";
/// Where the gate's JUnit report goes for GitLab's `artifacts:reports:junit` and CircleCI's
/// `store_test_results`, relative to the job's working folder.
pub const JUNIT_FILE: &str = "imagegate-junit.xml";
/// The folder CircleCI's `persist_to_workspace` takes as its root, relative to the job's
/// working folder.
pub const CIRCLECI_WORKSPACE_FOLDER: &str = "imagegate-workspace";
/// The file in [`CIRCLECI_WORKSPACE_FOLDER`] that later jobs `source` after `attach_workspace`.
pub const CIRCLECI_ENV_FILE: &str = "imagegate.env";

/// One image and the reference later steps should use for it (the stable tag after a
/// promotion, the candidate otherwise, as the caller decides).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageReference {
    /// The image's name in `imagegate.toml` (`[images.NAME]`).
    pub image: String,
    pub reference: String,
}

/// A test worth pointing out where the provider shows such things.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub kind: AnnotationKind,
    pub image: String,
    pub test_id: String,
    /// The candidate's failure text; may span lines.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationKind {
    /// Blocks promotion.
    Regression,
    /// Failed, then passed on a rerun; never blocks.
    Flaky,
}

/// Everything a run hands on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    pub images: Vec<ImageReference>,
    /// Markdown for people, shown where the provider has a place for it (GitHub's job summary).
    pub summary_markdown: Option<String>,
    pub annotations: Vec<Annotation>,
}

/// How a file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Added to the end: the provider's own files, which other steps write too.
    Append,
    /// Written whole, with its folder created if needed: files imagegate owns.
    Replace,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileWrite {
    pub path: PathBuf,
    pub mode: WriteMode,
    pub text: String,
}

/// What to write and print so the provider picks the outputs up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Publication {
    pub files: Vec<FileWrite>,
    /// To print on stdout as is (GitHub's workflow commands).
    pub stdout: String,
    /// Where the caller should write the gate's JUnit report, on providers that read one.
    pub junit: Option<PathBuf>,
}

/// The format of a generic run's output file, chosen by its extension: `.json` is JSON, any
/// other is dotenv.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenericFormat {
    Json,
    Dotenv,
}

impl GenericFormat {
    pub fn of(path: &Path) -> GenericFormat {
        if path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("json")) {
            GenericFormat::Json
        } else {
            GenericFormat::Dotenv
        }
    }
}

/// Plans the files and printed text that hand `outputs` on to `provider`. Relative paths are
/// resolved against `working_folder` (the job's working folder, where the CI configuration
/// expects them). `generic_output` names the file for a generic run; without it a generic run
/// writes nothing.
pub fn plan(
    provider: Provider,
    environment: &BTreeMap<String, String>,
    outputs: &Outputs,
    working_folder: &Path,
    generic_output: Option<&Path>,
) -> Result<Publication, OutputError> {
    let mut publication = Publication::default();
    match provider {
        Provider::GitHub => {
            let provider_file = |variable: &'static str| {
                environment
                    .get(variable)
                    .filter(|value| !value.is_empty())
                    .map(PathBuf::from)
                    .ok_or(OutputError::MissingVariable { provider, variable })
            };
            if !outputs.images.is_empty() {
                publication.files.push(FileWrite {
                    path: provider_file("GITHUB_OUTPUT")?,
                    mode: WriteMode::Append,
                    text: github::output_lines(&outputs.images)?,
                });
            }
            if let Some(markdown) = &outputs.summary_markdown {
                publication.files.push(FileWrite {
                    path: provider_file("GITHUB_STEP_SUMMARY")?,
                    mode: WriteMode::Append,
                    text: github::step_summary(markdown),
                });
            }
            publication.stdout = github::annotation_lines(&outputs.annotations);
        }
        Provider::GitLab => {
            publication.files.push(FileWrite {
                path: working_folder.join(GITLAB_DOTENV_FILE),
                mode: WriteMode::Replace,
                text: gitlab::dotenv(&outputs.images)?,
            });
            publication.junit = Some(working_folder.join(JUNIT_FILE));
        }
        Provider::CircleCi => {
            publication.files.push(FileWrite {
                path: working_folder.join(CIRCLECI_WORKSPACE_FOLDER).join(CIRCLECI_ENV_FILE),
                mode: WriteMode::Replace,
                text: circleci::env_file(&outputs.images)?,
            });
            publication.junit = Some(working_folder.join(JUNIT_FILE));
        }
        Provider::Generic => {
            if let Some(path) = generic_output {
                let text = match GenericFormat::of(path) {
                    GenericFormat::Json => generic::json(outputs),
                    GenericFormat::Dotenv => gitlab::dotenv(&outputs.images)?,
                };
                publication.files.push(FileWrite { path: working_folder.join(path), mode: WriteMode::Replace, text });
            }
        }
    }
    Ok(publication)
}

/// The variable an image's reference is handed on in, outside GitHub: `IMAGEGATE_IMAGE_` and
/// the image name upper-cased, with each character other than an ASCII letter or digit as `_`
/// (`debian-12` is `IMAGEGATE_IMAGE_DEBIAN_12`).
pub fn variable_name(image: &str) -> String {
    let mut name = "IMAGEGATE_IMAGE_".to_owned();
    name.extend(
        image.chars().map(
            |character| {
                if character.is_ascii_alphanumeric() { character.to_ascii_uppercase() } else { '_' }
            },
        ),
    );
    name
}

/// Each image's variable name, refusing two images that map to the same one.
pub(crate) fn variable_names<'a>(
    format: &'static str,
    images: &'a [ImageReference],
) -> Result<Vec<(String, &'a ImageReference)>, OutputError> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut named = Vec::with_capacity(images.len());
    for image in images {
        let variable = variable_name(&image.image);
        if let Some(first) = seen.insert(variable.clone(), &image.image) {
            return Err(OutputError::NameCollision {
                format,
                first: first.to_owned(),
                second: image.image.clone(),
                variable,
            });
        }
        named.push((variable, image));
    }
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs() -> Outputs {
        Outputs {
            images: vec![ImageReference { image: "debian".to_owned(), reference: "acme-ci/debian:stable".to_owned() }],
            summary_markdown: Some("## imagegate\n".to_owned()),
            annotations: vec![Annotation {
                kind: AnnotationKind::Regression,
                image: "debian".to_owned(),
                test_id: "test_slugify".to_owned(),
                message: "expected hello-world".to_owned(),
            }],
        }
    }

    fn github_environment() -> BTreeMap<String, String> {
        [("GITHUB_OUTPUT", "/runner/_temp/set_output_1"), ("GITHUB_STEP_SUMMARY", "/runner/_temp/step_summary_1")]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    #[test]
    fn variable_names_are_upper_case_with_underscores() {
        assert_eq!(variable_name("debian-12.py3_11"), "IMAGEGATE_IMAGE_DEBIAN_12_PY3_11");
        assert_eq!(variable_name("ünï"), "IMAGEGATE_IMAGE__N_");
    }

    #[test]
    fn two_images_with_the_same_variable_are_refused() {
        let images = [
            ImageReference { image: "debian-12".to_owned(), reference: "a".to_owned() },
            ImageReference { image: "debian.12".to_owned(), reference: "b".to_owned() },
        ];
        let error = variable_names("dotenv report", &images).expect_err("collision");
        assert_eq!(
            error.to_string(),
            "write the dotenv report: images `debian-12` and `debian.12` would both be IMAGEGATE_IMAGE_DEBIAN_12\n  \
             hint: rename one of them in imagegate.toml"
        );
    }

    #[test]
    fn github_appends_to_its_files_and_prints_annotations() {
        let publication =
            plan(Provider::GitHub, &github_environment(), &outputs(), Path::new("/work"), None).expect("plans");
        assert_eq!(publication.files.len(), 2);
        assert_eq!(publication.files[0].path, Path::new("/runner/_temp/set_output_1"));
        assert_eq!(publication.files[0].mode, WriteMode::Append);
        assert_eq!(publication.files[0].text, "image-debian=acme-ci/debian:stable\n");
        assert_eq!(publication.files[1].path, Path::new("/runner/_temp/step_summary_1"));
        assert_eq!(publication.files[1].text, "## imagegate\n\n");
        assert_eq!(publication.stdout, "::error title=debian%3A regression%3A test_slugify::expected hello-world\n");
        assert_eq!(publication.junit, None);
    }

    #[test]
    fn github_without_its_output_file_variable_is_an_error() {
        let error =
            plan(Provider::GitHub, &BTreeMap::new(), &outputs(), Path::new("/work"), None).expect_err("missing");
        assert_eq!(
            error.to_string(),
            "find where GitHub Actions reads outputs: GITHUB_OUTPUT is not set\n  hint: run `imagegate ci` in a step \
             of the job itself"
        );
    }

    #[test]
    fn gitlab_writes_the_dotenv_report_and_names_the_junit_path() {
        let publication =
            plan(Provider::GitLab, &BTreeMap::new(), &outputs(), Path::new("/builds/acme/app"), None).expect("plans");
        assert_eq!(
            publication.files,
            [FileWrite {
                path: PathBuf::from("/builds/acme/app/imagegate.env"),
                mode: WriteMode::Replace,
                text: "IMAGEGATE_IMAGE_DEBIAN=acme-ci/debian:stable\n".to_owned(),
            }]
        );
        assert_eq!(publication.junit, Some(PathBuf::from("/builds/acme/app/imagegate-junit.xml")));
        assert_eq!(publication.stdout, "");
    }

    #[test]
    fn circleci_writes_into_the_workspace_folder() {
        let publication =
            plan(Provider::CircleCi, &BTreeMap::new(), &outputs(), Path::new("/home/circleci/project"), None)
                .expect("plans");
        assert_eq!(publication.files[0].path, Path::new("/home/circleci/project/imagegate-workspace/imagegate.env"));
        assert_eq!(publication.files[0].text, "export IMAGEGATE_IMAGE_DEBIAN='acme-ci/debian:stable'\n");
    }

    #[test]
    fn generic_writes_the_named_file_in_the_format_of_its_extension() {
        let folder = Path::new("/work");
        let json = plan(Provider::Generic, &BTreeMap::new(), &outputs(), folder, Some(Path::new("out/ci.JSON")))
            .expect("plans");
        assert_eq!(json.files[0].path, Path::new("/work/out/ci.JSON"));
        assert!(json.files[0].text.starts_with("{\n  \"schema\": \"imagegate.ci-outputs/v1\""));
        let dotenv = plan(Provider::Generic, &BTreeMap::new(), &outputs(), folder, Some(Path::new("/tmp/ci.env")))
            .expect("plans");
        assert_eq!(dotenv.files[0].path, Path::new("/tmp/ci.env"));
        assert_eq!(dotenv.files[0].text, "IMAGEGATE_IMAGE_DEBIAN=acme-ci/debian:stable\n");
        let nothing = plan(Provider::Generic, &BTreeMap::new(), &outputs(), folder, None).expect("plans");
        assert_eq!(nothing, Publication::default());
    }
}
