//! CircleCI (`.circleci/config.yml`): the build commands of each job's `run` steps, with the
//! job's `environment` and the step's own. Anchors and `<<` merge keys are resolved first, as
//! CircleCI does, so a template job (`build-image: &BUILD_IMAGE`) merged into many
//! (`build-image-debian-12: { <<: *BUILD_IMAGE, environment: … }`) gives one build per job.
//! When the file has workflows, only the jobs they run count: a template job that no
//! workflow runs builds nothing.

use std::collections::BTreeSet;

use serde_norway::Value;

use super::{BuildInvocation, CiFileError, Variables, invocations_in_script, scalar_text, variables_of};

pub(crate) fn circleci_builds(file: &str, text: &str) -> Result<Vec<BuildInvocation>, CiFileError> {
    let mut document: Value = serde_norway::from_str(text).map_err(|error| CiFileError::new(file, &error))?;
    document.apply_merge().map_err(|error| CiFileError::new(file, &error))?;
    let Some(Value::Mapping(jobs)) = document.get("jobs") else { return Ok(Vec::new()) };
    let in_workflows = jobs_in_workflows(document.get("workflows"));
    let mut found = Vec::new();
    for (name, job) in jobs {
        let Some(name) = scalar_text(name) else { continue };
        if in_workflows.as_ref().is_some_and(|names| !names.contains(&name)) {
            continue;
        }
        let job_variables = variables_of(job.get("environment"));
        let Some(Value::Sequence(steps)) = job.get("steps") else { continue };
        for step in steps {
            let Some(run) = step.get("run") else { continue };
            let (command, step_variables) = match run {
                Value::String(command) => (command.clone(), Variables::new()),
                Value::Mapping(_) => match run.get("command").and_then(scalar_text) {
                    Some(command) => (command, variables_of(run.get("environment"))),
                    None => continue,
                },
                _ => continue,
            };
            let mut variables = job_variables.clone();
            variables.extend(step_variables);
            found.extend(invocations_in_script(file, &name, &command, &variables));
        }
    }
    Ok(found)
}

/// The jobs that some workflow runs, or `None` when the file has no workflows (then every
/// job counts). A workflow lists a job as a string or as a one-key mapping.
fn jobs_in_workflows(workflows: Option<&Value>) -> Option<BTreeSet<String>> {
    let Some(Value::Mapping(workflows)) = workflows else { return None };
    let mut names = BTreeSet::new();
    for workflow in workflows.values() {
        let Some(Value::Sequence(jobs)) = workflow.get("jobs") else { continue };
        for job in jobs {
            match job {
                Value::String(name) => {
                    names.insert(name.clone());
                }
                Value::Mapping(mapping) => names.extend(mapping.keys().filter_map(scalar_text)),
                _ => {}
            }
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of Tahoe-LAFS's image jobs: one template job merged into each build job, whose
    /// own `environment` replaces the template's; a workflow list shared through an anchor.
    const CONFIG: &str = r#"
version: 2.1
context-template: &CONTEXT
  context: "hub"
.images: &IMAGES
  jobs:
    - "build-image-debian-12":
        <<: *CONTEXT
    - "build-image-ubuntu-22-04":
        <<: *CONTEXT
workflows:
  ci:
    jobs:
      - "tests"
  images:
    <<: *IMAGES
jobs:
  tests:
    docker:
      - image: "acme/debian:12-py3.11"
    steps:
      - "checkout"
      - run: "tox -e py311"
  build-image: &BUILD_IMAGE
    environment:
      DISTRO: "placeholder"
      TAG: "placeholder"
      PYTHON_VERSION: "placeholder"
    steps:
      - "checkout"
      - run:
          name: "Build image"
          command: |
            docker \
                build \
                --build-arg TAG=${TAG} \
                --build-arg PYTHON_VERSION=${PYTHON_VERSION} \
                -t acme/${DISTRO}:${TAG}-py${PYTHON_VERSION} \
                -f ~/project/ci/Dockerfile.${DISTRO} \
                ~/project/
      - run:
          name: "Push image"
          command: docker push acme/${DISTRO}:${TAG}-py${PYTHON_VERSION}
  build-image-debian-12:
    <<: *BUILD_IMAGE
    environment:
      DISTRO: "debian"
      TAG: "12"
      PYTHON_VERSION: "3.11"
  build-image-ubuntu-22-04:
    <<: *BUILD_IMAGE
    environment:
      DISTRO: "ubuntu"
      TAG: 22.04
      PYTHON_VERSION: "3.10"
"#;

    #[test]
    fn merged_template_jobs_each_build_their_variant() {
        let builds = circleci_builds(".circleci/config.yml", CONFIG).expect("valid YAML");
        let summary: Vec<(String, String, String, String)> = builds
            .iter()
            .map(|build| {
                (
                    build.job.clone(),
                    build.dockerfile_path().text,
                    build.tags[0].text.clone(),
                    build
                        .build_args
                        .iter()
                        .map(|(name, value)| format!("{name}={}", value.text))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "build-image-debian-12".to_owned(),
                    "ci/Dockerfile.debian".to_owned(),
                    "acme/debian:12-py3.11".to_owned(),
                    "PYTHON_VERSION=3.11 TAG=12".to_owned()
                ),
                (
                    "build-image-ubuntu-22-04".to_owned(),
                    "ci/Dockerfile.ubuntu".to_owned(),
                    "acme/ubuntu:22.04-py3.10".to_owned(),
                    "PYTHON_VERSION=3.10 TAG=22.04".to_owned()
                ),
            ]
        );
        assert!(builds.iter().all(|build| build.context.text == "." && build.context.is_known()));
    }

    #[test]
    fn without_workflows_every_job_counts() {
        let text = "jobs:\n  image:\n    environment: { V: \"1\" }\n    steps:\n      - run: docker build -t a:$V ci\n";
        let builds = circleci_builds("config.yml", text).expect("valid");
        assert_eq!(builds.len(), 1);
        assert_eq!(builds[0].tags[0].text, "a:1");
        assert_eq!(builds[0].context.text, "ci");
    }

    #[test]
    fn invalid_yaml_is_an_error_naming_the_file() {
        let error = circleci_builds(".circleci/config.yml", "jobs: [unclosed").expect_err("invalid");
        assert!(error.to_string().starts_with("read .circleci/config.yml: "), "{error}");
    }
}
