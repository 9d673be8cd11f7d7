//! GitHub Actions (`.github/workflows/*.yml`): `docker/build-push-action` steps (their `with:`
//! context, file, build-args, tags, target and platforms) and build commands in `run:` steps,
//! once per combination of the job's matrix where its values are literal. Variables are the
//! workflow's, job's and step's `env`, and `${{ matrix.NAME }}` / `${{ env.NAME }}`.

use serde_norway::Value;

use super::{
    BuildInvocation, CiFileError, Resolved, Variables, invocations_in_folder, job_label, repository_path, scalar_text,
    split_list, substitute, variables_of,
};

pub(crate) fn github_builds(file: &str, text: &str) -> Result<Vec<BuildInvocation>, CiFileError> {
    let mut document: Value = serde_norway::from_str(text).map_err(|error| CiFileError::new(file, &error))?;
    document.apply_merge().map_err(|error| CiFileError::new(file, &error))?;
    let Some(Value::Mapping(jobs)) = document.get("jobs") else { return Ok(Vec::new()) };
    let workflow_variables = variables_of(document.get("env"));
    let mut found = Vec::new();
    for (name, job) in jobs {
        let Some(name) = scalar_text(name) else { continue };
        let Some(Value::Sequence(steps)) = job.get("steps") else { continue };
        for combination in matrix(job.get("strategy").and_then(|strategy| strategy.get("matrix"))) {
            let mut variables = workflow_variables.clone();
            variables.extend(variables_of(job.get("env")));
            for (key, value) in &combination {
                variables.insert(format!("matrix.{key}"), value.clone());
            }
            let label = job_label(&name, &combination);
            for step in steps {
                let mut step_variables = variables.clone();
                step_variables.extend(variables_of(step.get("env")));
                // `${{ env.NAME }}` reads the same variables as `$NAME` in a shell.
                let env_paths: Variables =
                    step_variables.iter().map(|(key, value)| (format!("env.{key}"), value.clone())).collect();
                step_variables.extend(env_paths);
                if let Some(uses) = step.get("uses").and_then(scalar_text) {
                    if uses.starts_with("docker/build-push-action@") {
                        found.push(build_push_action(file, &label, step.get("with"), &step_variables));
                    }
                } else if let Some(script) = step.get("run").and_then(scalar_text) {
                    let script = expressions_substituted(&script, &step_variables);
                    let folder = step
                        .get("working-directory")
                        .or_else(|| run_default(job, "working-directory"))
                        .or_else(|| run_default(&document, "working-directory"))
                        .and_then(scalar_text)
                        .map(|folder| expressions_substituted(&folder, &step_variables))
                        .unwrap_or_else(|| ".".to_owned());
                    found.extend(invocations_in_folder(file, &label, &script, &step_variables, &folder));
                }
            }
        }
    }
    Ok(found)
}

/// `defaults: run: NAME` of a job or workflow.
fn run_default<'a>(scope: &'a Value, name: &str) -> Option<&'a Value> {
    scope.get("defaults")?.get("run")?.get(name)
}

/// A `run:` script with its `${{ … }}` expressions replaced, as GitHub does before the shell
/// sees it; an unknown one is kept without its spaces, so that it stays one shell word.
fn expressions_substituted(script: &str, variables: &Variables) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else { break };
        let expression = rest[start + 3..start + end].trim();
        match variables.get(expression) {
            Some(value) => out.push_str(value),
            None => {
                out.push_str("${{");
                out.extend(expression.chars().filter(|character| !character.is_whitespace()));
                out.push_str("}}");
            }
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// A `docker/build-push-action` step. Its context defaults to the checkout (the action's "git
/// context", which is the repository at that commit) and its file to `<context>/Dockerfile`.
fn build_push_action(file: &str, job: &str, with: Option<&Value>, variables: &Variables) -> BuildInvocation {
    let input = |name: &str| with.and_then(|with| with.get(name)).and_then(scalar_text);
    let list = |name: &str| -> Vec<String> {
        match with.and_then(|with| with.get(name)) {
            Some(Value::Sequence(items)) => items.iter().filter_map(scalar_text).collect(),
            Some(other) => scalar_text(other).map(|text| split_list(&text)).unwrap_or_default(),
            None => Vec::new(),
        }
    };
    let context = repository_path(&substitute(&input("context").unwrap_or_else(|| ".".to_owned()), variables));
    // Expressions are replaced before the lines are split: one (`${{ matrix.IMAGE.BUILD_ARGS }}`)
    // may hold several `NAME=value` lines.
    let build_args = match with.and_then(|with| with.get("build-args")) {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(scalar_text)
            .flat_map(|item| expressions_substituted(&item, variables).lines().map(str::to_owned).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        Some(other) => scalar_text(other)
            .map(|text| expressions_substituted(&text, variables).lines().map(str::to_owned).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    BuildInvocation {
        file: file.to_owned(),
        job: job.to_owned(),
        dockerfile: input("file").map(|path| repository_path(&substitute(&path, variables))),
        context,
        build_args: build_args
            .iter()
            .filter_map(|line| line.trim().split_once('='))
            .map(|(name, value)| (name.trim().to_owned(), substitute(value.trim(), variables)))
            .collect(),
        target: input("target").map(|target| substitute(&target, variables)),
        // A platform unknown here (an object of the matrix without that key) is left to the
        // engine's default rather than written as text no engine accepts.
        platforms: list("platforms")
            .iter()
            .map(|platform| substitute(platform, variables))
            .filter(Resolved::is_known)
            .flat_map(|platform| split_list(&platform.text))
            .collect(),
        tags: list("tags")
            .iter()
            .map(|tag| substitute(tag, variables))
            .filter(|tag: &Resolved| !tag.text.is_empty())
            .collect(),
    }
}

/// A matrix value as the variables it sets: `NAME` for a scalar, and `NAME.KEY` for each
/// scalar of an object value (`IMAGE: [{TAG: …, PATH: …}]` sets `matrix.IMAGE.TAG`, …).
fn matrix_value(name: &str, value: &Value) -> Option<Vec<(String, String)>> {
    match value {
        Value::Mapping(mapping) => Some(
            mapping
                .iter()
                .filter_map(|(key, value)| {
                    let key = scalar_text(key)?;
                    matrix_value(&format!("{name}.{key}"), value)
                })
                .flatten()
                .collect(),
        ),
        other => Some(vec![(name.to_owned(), scalar_text(other)?)]),
    }
}

/// The combinations of a job's matrix, as GitHub forms them: every combination of its
/// literal lists, less those matching an `exclude` entry; an `include` entry extends the
/// combinations it agrees with, or is a combination of its own when it agrees with none.
/// Object values set one variable per key. No matrix gives one empty combination; a matrix
/// computed at run time (`fromJSON(…)`) too.
fn matrix(matrix: Option<&Value>) -> Vec<Vec<(String, String)>> {
    let Some(Value::Mapping(matrix)) = matrix else { return vec![Vec::new()] };
    // Each axis: its alternatives, each the variables one value sets.
    let mut axes: Vec<Vec<Vec<(String, String)>>> = Vec::new();
    let mut axis_keys: Vec<String> = Vec::new();
    for (key, value) in matrix {
        let Some(key) = scalar_text(key) else { continue };
        if key == "include" || key == "exclude" {
            continue;
        }
        if let Value::Sequence(values) = value {
            let alternatives: Vec<Vec<(String, String)>> =
                values.iter().filter_map(|value| matrix_value(&key, value)).collect();
            axis_keys.extend(alternatives.iter().flatten().map(|(name, _)| name.clone()));
            if !alternatives.is_empty() {
                axes.push(alternatives);
            }
        }
    }
    let entries = |name: &str| -> Vec<Vec<(String, String)>> {
        match matrix.get(name) {
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(|item| match item {
                    Value::Mapping(mapping) => Some(
                        mapping
                            .iter()
                            .filter_map(|(key, value)| matrix_value(&scalar_text(key)?, value))
                            .flatten()
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let agrees = |combination: &[(String, String)], entry: &[(String, String)]| {
        entry.iter().all(|(key, value)| combination.iter().all(|(name, existing)| name != key || existing == value))
    };
    let mut all: Vec<Vec<(String, String)>> = if axes.is_empty() {
        Vec::new()
    } else {
        axes.iter().fold(vec![Vec::new()], |all, alternatives| {
            all.iter()
                .flat_map(|combination| {
                    alternatives.iter().map(move |alternative| {
                        let mut next = combination.clone();
                        next.extend(alternative.iter().cloned());
                        next
                    })
                })
                .collect()
        })
    };
    let excludes = entries("exclude");
    all.retain(|combination| !excludes.iter().any(|exclude| exclude.iter().all(|pair| combination.contains(pair))));
    for include in entries("include") {
        let mut extended = false;
        for combination in &mut all {
            let original_keys_agree =
                include.iter().filter(|(key, _)| axis_keys.contains(key)).all(|pair| combination.contains(pair));
            if original_keys_agree && agrees(combination, &include) {
                for pair in &include {
                    if !combination.iter().any(|(name, _)| *name == pair.0) {
                        combination.push(pair.clone());
                    }
                }
                extended = true;
            }
        }
        if !extended {
            all.push(include);
        }
    }
    if all.is_empty() { vec![Vec::new()] } else { all }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = r#"
name: images
on: [push]
env:
  REGISTRY: ghcr.io/acme
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: pytest
  images:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        distro: [debian, ubuntu]
        python: ["3.11", "3.12"]
        exclude:
          - distro: ubuntu
            python: "3.11"
        include:
          - distro: debian
            variant: slim
    steps:
      - uses: actions/checkout@v4
      - uses: docker/setup-buildx-action@v3
      - name: Build
        uses: docker/build-push-action@v6
        with:
          context: .
          file: ./ci/Dockerfile.${{ matrix.distro }}
          build-args: |
            PYTHON_VERSION=${{ matrix.python }}
            VARIANT=${{ matrix.variant }}
          tags: |
            ${{ env.REGISTRY }}/${{ matrix.distro }}:py${{ matrix.python }}
            ${{ env.REGISTRY }}/${{ matrix.distro }}:${{ github.sha }}
          target: test
          platforms: linux/amd64
          push: true
  tools:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: ci
    steps:
      - run: |
          docker build \
            -t acme/tools:latest \
            -f ../tools/Dockerfile ../tools
"#;

    #[test]
    fn build_push_action_is_read_once_per_matrix_combination() {
        let builds = github_builds(".github/workflows/images.yml", WORKFLOW).expect("valid");
        let jobs: Vec<&str> = builds.iter().map(|build| build.job.as_str()).collect();
        assert_eq!(
            jobs,
            [
                "images (distro=debian, python=3.11, variant=slim)",
                "images (distro=debian, python=3.12, variant=slim)",
                "images (distro=ubuntu, python=3.12)",
                "tools",
            ]
        );
        let first = &builds[0];
        assert_eq!(first.dockerfile_path().text, "ci/Dockerfile.debian");
        assert_eq!(first.context.text, ".");
        assert_eq!(first.build_args["PYTHON_VERSION"].text, "3.11");
        assert_eq!(first.build_args["VARIANT"].text, "slim");
        assert_eq!(first.target.as_ref().map(|target| target.text.as_str()), Some("test"));
        assert_eq!(first.platforms, ["linux/amd64"]);
        assert_eq!(first.tags[0], Resolved { text: "ghcr.io/acme/debian:py3.11".into(), unknown: vec![] });
        assert_eq!(first.tags[1].unknown, ["github.sha"]);
        // Without `variant` in its combination, the value stays unknown.
        assert_eq!(builds[2].build_args["VARIANT"].unknown, ["matrix.variant"]);
        assert_eq!(builds[3].dockerfile_path().text, "tools/Dockerfile");
        assert_eq!(builds[3].context.text, "tools");
    }

    #[test]
    fn the_action_defaults_to_the_checkout_and_its_dockerfile() {
        let text = "jobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v5\n        with:\n          tags: acme/app:1,acme/app:latest\n";
        let builds = github_builds("w.yml", text).expect("valid");
        assert_eq!(builds[0].dockerfile_path().text, "Dockerfile");
        assert_eq!(builds[0].tags.len(), 2);
    }

    /// One job builds many images from a list of objects, each naming its folder, tag and
    /// build args (several lines in one value), as projects that keep a repository of CI
    /// images do.
    const MATRIX_OF_OBJECTS: &str = r#"
jobs:
  build:
    strategy:
      matrix:
        IMAGE:
          - {TAG_NAME: "runner-bookworm", DOCKERFILE_PATH: "runners/debian", BUILD_ARGS: "RELEASE=bookworm"}
          - {TAG_NAME: "runner-stream9-fips", DOCKERFILE_PATH: "runners/rhel", BUILD_ARGS: "FIPS=1\nRELEASE=quay.io/centos/centos:stream9"}
          - {TAG_NAME: "runner-alpine", DOCKERFILE_PATH: "runners/alpine", DOCKER_PLATFORM: "linux/arm/v7"}
    steps:
      - uses: docker/build-push-action@v6
        with:
          context: ${{ matrix.IMAGE.DOCKERFILE_PATH }}
          platforms: ${{ matrix.IMAGE.DOCKER_PLATFORM }}
          tags: ghcr.io/acme/${{ matrix.IMAGE.TAG_NAME }}
          build-args: |
            TOOL_RELEASE=${{ env.TOOL_RELEASE }}
            ${{ matrix.IMAGE.BUILD_ARGS }}
"#;

    #[test]
    fn a_matrix_of_objects_gives_one_build_per_object_with_its_keys() {
        let builds = github_builds(".github/workflows/images.yml", MATRIX_OF_OBJECTS).unwrap();
        assert_eq!(builds.len(), 3);
        assert_eq!(builds[0].context.text, "runners/debian");
        assert_eq!(builds[0].tags[0].text, "ghcr.io/acme/runner-bookworm");
        assert_eq!(builds[0].build_args["RELEASE"].text, "bookworm");
        assert_eq!(builds[1].context.text, "runners/rhel");
        assert_eq!(builds[1].build_args["FIPS"].text, "1");
        assert_eq!(builds[1].build_args["RELEASE"].text, "quay.io/centos/centos:stream9");
        assert!(!builds[2].build_args.contains_key("RELEASE"));
        // An object without the key sets no platform: nothing unknown is written.
        assert!(builds[0].platforms.is_empty(), "{:?}", builds[0].platforms);
        assert_eq!(builds[2].platforms, ["linux/arm/v7"]);
        // Written to $GITHUB_ENV by an earlier step: not known here, and said so.
        assert_eq!(builds[0].build_args["TOOL_RELEASE"].unknown, ["env.TOOL_RELEASE"]);
        assert!(!builds[1].job.contains('\n'), "{}", builds[1].job);
    }

    #[test]
    fn a_computed_matrix_leaves_its_values_unknown() {
        let text = "jobs:\n  b:\n    strategy:\n      matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}\n    steps:\n      - run: docker build -t a:${{ matrix.tag }} .\n";
        let builds = github_builds("w.yml", text).expect("valid");
        assert_eq!(builds.len(), 1);
        assert_eq!(builds[0].tags[0].unknown, ["matrix.tag"]);
    }
}
