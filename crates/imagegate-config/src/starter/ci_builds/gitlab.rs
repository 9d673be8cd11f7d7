//! GitLab CI (`.gitlab-ci.yml`): build commands in each job's `before_script` and `script`,
//! with the file's and the job's `variables`, once per `parallel: matrix:` combination.
//! `extends:` is followed (hidden `.template` jobs merged under the job's own keys, as GitLab
//! does); hidden jobs are not run themselves.

use serde_norway::{Mapping, Value};

use super::{BuildInvocation, CiFileError, combinations, invocations_in_script, job_label, scalar_text, variables_of};

/// Top-level keys of `.gitlab-ci.yml` that are settings, not jobs.
const RESERVED: &[&str] = &[
    "stages",
    "variables",
    "default",
    "include",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "types",
    "pages:deploy",
];

/// How deep `extends:` chains are followed; GitLab itself stops at 11.
const MAX_EXTENDS_DEPTH: usize = 11;

pub(crate) fn gitlab_builds(file: &str, text: &str) -> Result<Vec<BuildInvocation>, CiFileError> {
    let mut document: Value = serde_norway::from_str(text).map_err(|error| CiFileError::new(file, &error))?;
    document.apply_merge().map_err(|error| CiFileError::new(file, &error))?;
    let Value::Mapping(top) = &document else { return Ok(Vec::new()) };
    let global_variables = variables_of(top.get("variables"));
    let default_before =
        top.get("default").and_then(|default| default.get("before_script")).or_else(|| top.get("before_script"));
    let mut found = Vec::new();
    for (name, job) in top {
        let Some(name) = scalar_text(name) else { continue };
        if name.starts_with('.') || RESERVED.contains(&name.as_str()) || !job.is_mapping() {
            continue;
        }
        let job = extended(job, top, 0);
        if job.get("script").is_none() && job.get("trigger").is_none() {
            continue;
        }
        let mut variables = global_variables.clone();
        variables.extend(variables_of(job.get("variables")));
        let mut script = String::new();
        for part in [job.get("before_script").or(default_before), job.get("script")].into_iter().flatten() {
            script_lines(part, &mut script);
        }
        for combination in parallel_matrix(job.get("parallel")) {
            let mut variables = variables.clone();
            variables.extend(combination.iter().cloned());
            found.extend(invocations_in_script(file, &job_label(&name, &combination), &script, &variables));
        }
    }
    Ok(found)
}

/// The job with the keys of the jobs it `extends` underneath its own: mappings merge key by
/// key (so `variables` combine), anything else is the job's own.
fn extended(job: &Value, top: &Mapping, depth: usize) -> Value {
    let parents: Vec<String> = match job.get("extends") {
        Some(Value::String(parent)) => vec![parent.clone()],
        Some(Value::Sequence(parents)) => parents.iter().filter_map(scalar_text).collect(),
        _ => return job.clone(),
    };
    if depth >= MAX_EXTENDS_DEPTH {
        return job.clone();
    }
    let mut merged = Value::Mapping(Mapping::new());
    for parent in parents {
        if let Some(parent) = top.get(parent.as_str()) {
            deep_merge(&mut merged, &extended(parent, top, depth + 1));
        }
    }
    deep_merge(&mut merged, job);
    merged
}

fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Mapping(base), Value::Mapping(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(existing) if existing.is_mapping() && value.is_mapping() => deep_merge(existing, value),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// A script as one shell text: a string, or a list of strings (lists nest, from anchors).
fn script_lines(value: &Value, out: &mut String) {
    match value {
        Value::Sequence(items) => items.iter().for_each(|item| script_lines(item, out)),
        other => {
            if let Some(line) = scalar_text(other) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
}

/// `parallel: matrix:` is a list of mappings; each gives every combination of its values
/// (a scalar value is a list of one). No matrix gives one empty combination.
fn parallel_matrix(parallel: Option<&Value>) -> Vec<Vec<(String, String)>> {
    let Some(Value::Sequence(entries)) = parallel.and_then(|parallel| parallel.get("matrix")) else {
        return vec![Vec::new()];
    };
    let mut all = Vec::new();
    for entry in entries {
        let Value::Mapping(entry) = entry else { continue };
        let axes: Vec<(String, Vec<String>)> = entry
            .iter()
            .filter_map(|(key, value)| {
                let values = match value {
                    Value::Sequence(values) => values.iter().filter_map(scalar_text).collect(),
                    other => vec![scalar_text(other)?],
                };
                Some((scalar_text(key)?, values))
            })
            .collect();
        all.extend(combinations(&axes));
    }
    if all.is_empty() { vec![Vec::new()] } else { all }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIPELINE: &str = r#"
variables:
  REGISTRY: registry.example.com/acme
  DOCKER_DRIVER: overlay2
.docker: &docker
  image: docker:27
  services: [docker:27-dind]
  before_script:
    - docker login -u "$CI_REGISTRY_USER" -p "$CI_REGISTRY_PASSWORD" $CI_REGISTRY
build-image:
  extends: .docker
  stage: build
  variables:
    PYTHON_VERSION: "3.12"
  script:
    - >
      docker build
      --build-arg PYTHON_VERSION=$PYTHON_VERSION
      --tag $REGISTRY/ci:py$PYTHON_VERSION
      --tag $REGISTRY/ci:$CI_COMMIT_SHORT_SHA
      --file ci/Dockerfile
      $CI_PROJECT_DIR
    - docker push $REGISTRY/ci:py$PYTHON_VERSION
build-matrix:
  <<: *docker
  parallel:
    matrix:
      - DISTRO: [alpine, debian]
        RELEASE: "1"
  script:
    - docker build -t $REGISTRY/$DISTRO:$RELEASE -f docker/$DISTRO/Dockerfile docker/$DISTRO
test:
  script:
    - pytest
"#;

    #[test]
    fn script_builds_take_the_job_variables() {
        let builds = gitlab_builds(".gitlab-ci.yml", PIPELINE).expect("valid");
        let jobs: Vec<&str> = builds.iter().map(|build| build.job.as_str()).collect();
        assert_eq!(
            jobs,
            ["build-image", "build-matrix (DISTRO=alpine, RELEASE=1)", "build-matrix (DISTRO=debian, RELEASE=1)"]
        );
        let first = &builds[0];
        assert_eq!(first.dockerfile_path().text, "ci/Dockerfile");
        assert_eq!(first.context.text, ".");
        assert_eq!(first.build_args["PYTHON_VERSION"].text, "3.12");
        assert_eq!(first.tags[0].text, "registry.example.com/acme/ci:py3.12");
        assert_eq!(first.tags[1].unknown, ["CI_COMMIT_SHORT_SHA"]);
        assert_eq!(builds[2].dockerfile_path().text, "docker/debian/Dockerfile");
        assert_eq!(builds[2].context.text, "docker/debian");
        assert_eq!(builds[2].tags[0].text, "registry.example.com/acme/debian:1");
    }

    #[test]
    fn extends_merges_variables_key_by_key() {
        let text = ".base:\n  variables: { A: \"1\", B: \"1\" }\njob:\n  extends: [.base]\n  variables: { B: \"2\" }\n  script: docker build -t x:$A-$B .\n";
        let builds = gitlab_builds(".gitlab-ci.yml", text).expect("valid");
        assert_eq!(builds.len(), 1);
        assert_eq!(builds[0].tags[0].text, "x:1-2");
    }
}
