//! GitHub Actions (`.github/workflows/*.yml`): `docker/build-push-action` steps (their `with:`
//! context, file, build-args, tags, target and platforms) and build commands in `run:` steps,
//! once per combination of the job's matrix where its values are literal. Variables are the
//! workflow's, job's and step's `env`, and `${{ matrix.NAME }}` / `${{ env.NAME }}`.

use serde_norway::Value;

use super::{
    BuildInvocation, CiFileError, Resolved, Variables, combinations, invocations_in_folder, job_label, repository_path,
    scalar_text, split_list, substitute, variables_of,
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
    let build_args = match with.and_then(|with| with.get("build-args")) {
        Some(Value::Sequence(items)) => items.iter().filter_map(scalar_text).collect::<Vec<_>>(),
        Some(other) => scalar_text(other).map(|text| text.lines().map(str::to_owned).collect()).unwrap_or_default(),
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
        platforms: list("platforms")
            .iter()
            .flat_map(|platform| split_list(&substitute(platform, variables).text))
            .collect(),
        tags: list("tags")
            .iter()
            .map(|tag| substitute(tag, variables))
            .filter(|tag: &Resolved| !tag.text.is_empty())
            .collect(),
    }
}

/// The combinations of a job's matrix, as GitHub forms them: every combination of its
/// literal lists, less those matching an `exclude` entry; an `include` entry extends the
/// combinations it agrees with, or is a combination of its own when it agrees with none.
/// No matrix gives one empty combination; a matrix computed at run time (`fromJSON(…)`) too.
fn matrix(matrix: Option<&Value>) -> Vec<Vec<(String, String)>> {
    let Some(Value::Mapping(matrix)) = matrix else { return vec![Vec::new()] };
    let mut axes = Vec::new();
    for (key, value) in matrix {
        let Some(key) = scalar_text(key) else { continue };
        if key == "include" || key == "exclude" {
            continue;
        }
        if let Value::Sequence(values) = value {
            axes.push((key, values.iter().filter_map(scalar_text).collect::<Vec<_>>()));
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
                            .filter_map(|(key, value)| Some((scalar_text(key)?, scalar_text(value)?)))
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
    let mut all: Vec<Vec<(String, String)>> = if axes.is_empty() { Vec::new() } else { combinations(&axes) };
    let excludes = entries("exclude");
    all.retain(|combination| !excludes.iter().any(|exclude| exclude.iter().all(|pair| combination.contains(pair))));
    for include in entries("include") {
        let mut extended = false;
        for combination in &mut all {
            let original_keys_agree = include
                .iter()
                .filter(|(key, _)| axes.iter().any(|(axis, _)| axis == key))
                .all(|pair| combination.contains(pair));
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

    #[test]
    fn a_computed_matrix_leaves_its_values_unknown() {
        let text = "jobs:\n  b:\n    strategy:\n      matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}\n    steps:\n      - run: docker build -t a:${{ matrix.tag }} .\n";
        let builds = github_builds("w.yml", text).expect("valid");
        assert_eq!(builds.len(), 1);
        assert_eq!(builds[0].tags[0].unknown, ["matrix.tag"]);
    }
}
