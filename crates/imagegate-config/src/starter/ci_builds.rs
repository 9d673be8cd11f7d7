//! The image builds a project's CI configuration already runs: every `docker build`, `docker
//! buildx build`, `podman build` and `buildah bud` line of a job's script, and every
//! `docker/build-push-action` step, with the job's variables substituted. One file per
//! provider reads the YAML ([`github`], [`gitlab`], [`circleci`]); this module holds what they
//! share: the invocation, the variable substitution and the reading of a build command line.
//!
//! No I/O: the providers take the text of a CI file and return what it builds.

mod circleci;
mod github;
mod gitlab;

use std::collections::BTreeMap;

pub(crate) use circleci::circleci_builds;
pub(crate) use github::github_builds;
pub(crate) use gitlab::gitlab_builds;

/// A CI file that could not be read as YAML; `init` reports it and goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read {file}: {message}")]
pub(crate) struct CiFileError {
    pub file: String,
    pub message: String,
}

impl CiFileError {
    fn new(file: &str, error: &serde_norway::Error) -> CiFileError {
        CiFileError { file: file.to_owned(), message: error.to_string() }
    }
}

/// A value after substitution: `unknown` names the variables (or expressions) that had no value
/// in the job, which stay in `text` as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Resolved {
    pub text: String,
    pub unknown: Vec<String>,
}

impl Resolved {
    pub fn is_known(&self) -> bool {
        self.unknown.is_empty()
    }
}

/// One image build found in a CI configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuildInvocation {
    /// The CI file, relative to the repository root.
    pub file: String,
    /// The job, with its matrix values when it has a matrix: `build (python=3.11)`.
    pub job: String,
    /// The Dockerfile relative to the repository root; `None` means `<context>/Dockerfile`.
    pub dockerfile: Option<Resolved>,
    /// The build context relative to the repository root (`.` for the root itself).
    pub context: Resolved,
    pub build_args: BTreeMap<String, Resolved>,
    pub target: Option<Resolved>,
    /// Every platform asked for (`--platform linux/amd64,linux/arm64` gives two).
    pub platforms: Vec<String>,
    pub tags: Vec<Resolved>,
}

impl BuildInvocation {
    /// The Dockerfile this invocation builds, relative to the repository root.
    pub fn dockerfile_path(&self) -> Resolved {
        match &self.dockerfile {
            Some(dockerfile) => dockerfile.clone(),
            None => {
                Resolved { text: join_path(&self.context.text, "Dockerfile"), unknown: self.context.unknown.clone() }
            }
        }
    }
}

/// Variables of a job: shell variables by name, and GitHub expressions (`matrix.python`,
/// `env.TAG`) by their path.
pub(crate) type Variables = BTreeMap<String, String>;

/// Variables that name the checkout itself in each provider; they map to the repository root.
const ROOT_VARIABLES: &[&str] = &["CI_PROJECT_DIR", "GITHUB_WORKSPACE", "CIRCLE_WORKING_DIRECTORY", "github.workspace"];

/// Substitutes `$NAME`, `${NAME}`, `${NAME:-default}` and GitHub's `${{ expression }}` from
/// `variables`. What has no value stays as written and is listed in `unknown`.
pub(crate) fn substitute(text: &str, variables: &Variables) -> Resolved {
    let lookup = |name: &str| -> Option<String> {
        if ROOT_VARIABLES.contains(&name) {
            return Some(ROOT_MARK.to_owned());
        }
        variables.get(name).cloned()
    };
    let mut out = String::new();
    let mut unknown = Vec::new();
    let mut rest = text;
    while let Some(position) = rest.find('$') {
        out.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if let Some(inner) = after.strip_prefix("{{") {
            // A GitHub expression: `${{ matrix.python }}`.
            if let Some(end) = inner.find("}}") {
                let expression = inner[..end].trim();
                match lookup(expression) {
                    Some(value) => out.push_str(&value),
                    None => {
                        out.push_str(&rest[position..position + 3 + end + 2]);
                        unknown.push(expression.to_owned());
                    }
                }
                rest = &inner[end + 2..];
                continue;
            }
        } else if let Some(inner) = after.strip_prefix('{') {
            if let Some(end) = inner.find('}') {
                let body = &inner[..end];
                let (name, default) = match body.split_once(":-").or_else(|| body.split_once('-')) {
                    Some((name, default)) => (name, Some(default)),
                    None => (body, None),
                };
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => match default {
                        Some(default) => {
                            let inner = substitute(default, variables);
                            out.push_str(&inner.text);
                            unknown.extend(inner.unknown);
                        }
                        None => {
                            out.push_str(&rest[position..position + 2 + end + 1]);
                            unknown.push(name.to_owned());
                        }
                    },
                }
                rest = &inner[end + 1..];
                continue;
            }
        } else {
            let length = after
                .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
                .unwrap_or(after.len());
            if length > 0 {
                let name = &after[..length];
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => {
                        out.push('$');
                        out.push_str(name);
                        unknown.push(name.to_owned());
                    }
                }
                rest = &after[length..];
                continue;
            }
        }
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    Resolved { text: out, unknown }
}

/// What the checkout's own path becomes during substitution, so that [`repository_path`] can
/// tell `$CI_PROJECT_DIR/ci` from a path outside the checkout.
const ROOT_MARK: &str = "\u{1}root";

/// A path as a CI job writes it, relative to the repository root: `~/project/ci/`,
/// `$CI_PROJECT_DIR/ci`, `${{ github.workspace }}/ci`, `./ci` and `ci` all give `ci`;
/// the root itself is `.`.
pub(crate) fn repository_path(path: &Resolved) -> Resolved {
    let mut text = path.text.replace(ROOT_MARK, "");
    // CircleCI checks out into ~/project unless the job says otherwise.
    for prefix in ["~/project", "/home/circleci/project", "/root/project", "{{defaultContext}}"] {
        if text == prefix
            || text.starts_with(&format!("{prefix}/"))
            || (prefix == "{{defaultContext}}" && text.starts_with(prefix))
        {
            text = text[prefix.len()..].trim_start_matches(':').to_owned();
        }
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split('/').filter(|part| !part.is_empty() && *part != ".") {
        if part == ".." && parts.last().is_some_and(|last| *last != "..") {
            parts.pop();
        } else {
            parts.push(part);
        }
    }
    let text = if parts.is_empty() { ".".to_owned() } else { parts.join("/") };
    Resolved { text, unknown: path.unknown.clone() }
}

fn join_path(folder: &str, name: &str) -> String {
    if folder == "." || folder.is_empty() {
        name.to_owned()
    } else {
        format!("{}/{name}", folder.trim_end_matches('/'))
    }
}

/// The options of `docker build` (and buildx, podman, buildah) that take a value, so that the
/// value is not mistaken for the context.
const OPTIONS_WITH_VALUES: &[&str] = &[
    "-f",
    "--file",
    "-t",
    "--tag",
    "--build-arg",
    "--target",
    "--platform",
    "--label",
    "--network",
    "--cache-from",
    "--cache-to",
    "--secret",
    "--ssh",
    "--progress",
    "-o",
    "--output",
    "--iidfile",
    "--add-host",
    "--build-context",
    "--builder",
    "--shm-size",
    "-m",
    "--memory",
    "--memory-swap",
    "--cpu-shares",
    "--cpu-period",
    "--cpu-quota",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--isolation",
    "--ulimit",
    "--metadata-file",
    "--attest",
    "--annotation",
    "--allow",
    "--cgroup-parent",
    "--security-opt",
    "--format",
    "--authfile",
    "--creds",
    "--jobs",
    "--layers",
    "--volume",
    "-v",
    "--env",
    "-e",
    "--runtime",
    "--arch",
    "--os",
    "--variant",
    "--logfile",
    "--sign-by",
    "--timestamp",
    "--userns",
    "--from",
    "--build-arg-file",
    "--cert-dir",
];

/// The words of a build command after its subcommand (`docker buildx build` → what follows
/// `build`), read as the engine would.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BuildCommand {
    pub dockerfile: Option<String>,
    pub context: Option<String>,
    /// `--build-arg K=V`, or `--build-arg K` (the value then comes from the environment).
    pub build_args: Vec<(String, Option<String>)>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub tags: Vec<String>,
}

/// Every image build command in a shell script, as words (not yet substituted). Lines ending
/// in `\` continue on the next; `&&`, `||`, `;` and `|` separate commands; `$(…)` (whose
/// output is unknown here) becomes the variable `command_output`. A `cd` before a build moves
/// the folder its relative paths start from, as in the shell.
pub(crate) fn build_commands(script: &str) -> Vec<BuildCommand> {
    let joined = script.replace("\\\r\n", " ").replace("\\\n", " ");
    let joined = replace_command_substitutions(&joined);
    let mut found = Vec::new();
    let mut folder = ".".to_owned();
    for line in joined.lines() {
        if !line.contains("build") && !line.contains("bud") && !line.contains("cd ") {
            continue;
        }
        // A line shlex cannot split (an unbalanced quote) is not a command we can read.
        let Some(words) = shlex::split(line) else { continue };
        for command in split_commands(words) {
            match command.as_slice() {
                [cd, target] if cd == "cd" => folder = within(&folder, target),
                _ => found.extend(read_build_command(&command).map(|mut build| {
                    build.dockerfile = build.dockerfile.map(|path| within(&folder, &path));
                    build.context = build.context.map(|path| if path == "-" { path } else { within(&folder, &path) });
                    build
                })),
            }
        }
    }
    found
}

/// A line's words as separate commands, without redirections.
fn split_commands(words: Vec<String>) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut command: Vec<String> = Vec::new();
    let mut redirect_target = false;
    for word in words {
        // A redirection and its file are not arguments (`docker build - < Dockerfile`).
        if redirect_target {
            redirect_target = false;
            continue;
        }
        if is_redirection(&word) {
            redirect_target = !word.ends_with(|character: char| character.is_ascii_alphanumeric() || character == '/');
            continue;
        }
        let (word, ends_command) = match word.strip_suffix(';') {
            Some(stripped) => (stripped.to_owned(), true),
            None => (word, false),
        };
        if matches!(word.as_str(), "&&" | "||" | ";" | "|" | "&") {
            commands.push(std::mem::take(&mut command));
            continue;
        }
        if !word.is_empty() {
            command.push(word);
        }
        if ends_command {
            commands.push(std::mem::take(&mut command));
        }
    }
    commands.push(command);
    commands.retain(|command| !command.is_empty());
    commands
}

/// `path` as seen from `folder`: unchanged when it starts from somewhere of its own (`/`, `~`,
/// a variable such as `$CI_PROJECT_DIR`), else joined to the folder.
pub(crate) fn within(folder: &str, path: &str) -> String {
    if folder == "." || folder.is_empty() || path.starts_with(['/', '~', '$']) {
        path.to_owned()
    } else {
        format!("{}/{path}", folder.trim_end_matches('/'))
    }
}

/// `<`, `>`, `>>`, `2>`, `2>&1`, `&>`, and the forms with the file attached (`>out.log`).
fn is_redirection(word: &str) -> bool {
    let rest = word.trim_start_matches(|character: char| character.is_ascii_digit() || character == '&');
    rest.starts_with('<') || rest.starts_with('>')
}

fn replace_command_substitutions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let mut depth = 0usize;
        let mut end = None;
        for (offset, character) in rest[start + 1..].char_indices() {
            match character {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(start + 1 + offset);
                        break;
                    }
                }
                '\n' => break,
                _ => {}
            }
        }
        match end {
            Some(end) => {
                out.push_str("${command_output}");
                rest = &rest[end + 1..];
            }
            None => {
                out.push_str("$(");
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reads one command (its words) if it builds an image.
fn read_build_command(words: &[String]) -> Option<BuildCommand> {
    let mut position = 0;
    // Variable assignments and wrappers before the command.
    while let Some(word) = words.get(position) {
        let is_assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
        });
        if is_assignment || matches!(word.as_str(), "sudo" | "time" | "exec" | "env" | "command") {
            position += 1;
        } else {
            break;
        }
    }
    let program = words.get(position)?.rsplit('/').next()?;
    let rest = &words[position + 1..];
    let arguments = match program {
        "docker" | "podman" => {
            let subcommand = rest.iter().position(|word| !word.starts_with('-'))?;
            let tail = &rest[subcommand..];
            match tail {
                [build, rest @ ..] if build == "build" => rest,
                [group, build, rest @ ..]
                    if matches!(group.as_str(), "buildx" | "image" | "builder") && build == "build" =>
                {
                    rest
                }
                _ => return None,
            }
        }
        "buildah" => match rest {
            [build, rest @ ..] if matches!(build.as_str(), "bud" | "build" | "build-using-dockerfile") => rest,
            _ => return None,
        },
        _ => return None,
    };
    Some(read_build_arguments(arguments))
}

fn read_build_arguments(arguments: &[String]) -> BuildCommand {
    let mut command = BuildCommand::default();
    let mut positional = Vec::new();
    let mut index = 0;
    while index < arguments.len() {
        let word = &arguments[index];
        index += 1;
        if !word.starts_with('-') || word == "-" {
            positional.push(word.clone());
            continue;
        }
        let (option, value) = match word.split_once('=') {
            Some((option, value)) if option.starts_with("--") => (option.to_owned(), Some(value.to_owned())),
            _ => (word.clone(), None),
        };
        let value = match value {
            Some(value) => value,
            None if OPTIONS_WITH_VALUES.contains(&option.as_str()) => {
                let Some(value) = arguments.get(index) else { break };
                index += 1;
                value.clone()
            }
            None => continue,
        };
        match option.as_str() {
            "-f" | "--file" => command.dockerfile = Some(value),
            "-t" | "--tag" => command.tags.push(value),
            "--target" => command.target = Some(value),
            "--platform" => command.platform = Some(value),
            "--build-arg" => match value.split_once('=') {
                Some((name, value)) => command.build_args.push((name.to_owned(), Some(value.to_owned()))),
                None => command.build_args.push((value, None)),
            },
            _ => {}
        }
    }
    command.context = positional.pop();
    command
}

/// The invocations of the build commands in `script`, run by `job` of `file` with `variables`.
/// A build from standard input (`-` as context) is left out: there is no context to name.
pub(crate) fn invocations_in_script(
    file: &str,
    job: &str,
    script: &str,
    variables: &Variables,
) -> Vec<BuildInvocation> {
    invocations_in_folder(file, job, script, variables, ".")
}

/// [`invocations_in_script`] for a script that starts in `folder` (GitHub's
/// `working-directory`), relative to the checkout.
pub(crate) fn invocations_in_folder(
    file: &str,
    job: &str,
    script: &str,
    variables: &Variables,
    folder: &str,
) -> Vec<BuildInvocation> {
    let script = if folder == "." {
        script.to_owned()
    } else {
        let quoted = shlex::try_quote(folder).map_or_else(|_| folder.to_owned(), |quoted| quoted.into_owned());
        format!("cd {quoted}\n{script}")
    };
    build_commands(&script)
        .into_iter()
        .filter(|command| command.context.as_deref().is_some_and(|context| context != "-"))
        .map(|command| {
            let context = repository_path(&substitute(command.context.as_deref().unwrap_or("."), variables));
            let build_args = command
                .build_args
                .iter()
                .map(|(name, value)| {
                    let resolved = match value {
                        Some(value) => substitute(value, variables),
                        // `--build-arg NAME` passes the variable of the same name.
                        None => substitute(&format!("${{{name}}}"), variables),
                    };
                    (name.clone(), resolved)
                })
                .collect();
            BuildInvocation {
                file: file.to_owned(),
                job: job.to_owned(),
                dockerfile: command.dockerfile.as_deref().map(|path| repository_path(&substitute(path, variables))),
                context,
                build_args,
                target: command.target.as_deref().map(|target| substitute(target, variables)),
                // A platform unknown here is left to the engine's default rather than written
                // as text no engine accepts.
                platforms: command
                    .platform
                    .as_deref()
                    .map(|platform| substitute(platform, variables))
                    .filter(Resolved::is_known)
                    .map(|platform| split_list(&platform.text))
                    .unwrap_or_default(),
                tags: command.tags.iter().map(|tag| substitute(tag, variables)).collect(),
            }
        })
        .collect()
}

/// A list written as one string, separated by commas or newlines (build-push-action's
/// `tags`, `platforms`).
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n']).map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

/// A YAML scalar as the text a CI provider would see (`3.11` stays `3.11`, `true` is `true`).
pub(crate) fn scalar_text(value: &serde_norway::Value) -> Option<String> {
    match value {
        serde_norway::Value::String(text) => Some(text.clone()),
        serde_norway::Value::Number(number) => Some(number.to_string()),
        serde_norway::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A mapping of scalars (an `environment:` or `variables:` block) as variables; GitLab's
/// `{ value: …, description: … }` form gives its value.
pub(crate) fn variables_of(value: Option<&serde_norway::Value>) -> Variables {
    let mut variables = Variables::new();
    if let Some(serde_norway::Value::Mapping(mapping)) = value {
        for (key, value) in mapping {
            let Some(name) = scalar_text(key) else { continue };
            let text = match value {
                serde_norway::Value::Mapping(inner) => inner.get("value").and_then(scalar_text),
                other => scalar_text(other),
            };
            if let Some(text) = text {
                variables.insert(name, text);
            }
        }
    }
    variables
}

/// Values of a matrix: every combination of the literal lists in `axes` (a value that is not a
/// list, or a list entry that is not a scalar, leaves that axis out: its values are computed
/// at run time). Each combination is `(name, value)` pairs in the order written.
pub(crate) fn combinations(axes: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut all: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, values) in axes {
        if values.is_empty() {
            continue;
        }
        all = all
            .into_iter()
            .flat_map(|combination| {
                values.iter().map(move |value| {
                    let mut next = combination.clone();
                    next.push((name.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    all
}

/// How many matrix values a job's label shows.
const MAX_LABEL_VALUES: usize = 3;

/// `build (python=3.11, distro=debian)`: a job's name with its matrix values.
pub(crate) fn job_label(job: &str, combination: &[(String, String)]) -> String {
    if combination.is_empty() {
        return job.to_owned();
    }
    // A value may span lines (a matrix entry's list of build args); a label is one line, and
    // names its combination by its first values (an entry of objects sets many).
    let mut values: Vec<String> = combination
        .iter()
        .take(MAX_LABEL_VALUES)
        .map(|(name, value)| format!("{name}={}", value.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    if combination.len() > MAX_LABEL_VALUES {
        values.push("…".to_owned());
    }
    format!("{job} ({})", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(pairs: &[(&str, &str)]) -> Variables {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn substitutes_shell_variables_and_github_expressions() {
        let known = variables(&[("TAG", "12"), ("matrix.python", "3.11")]);
        let resolved = substitute("debian:${TAG}-py${{ matrix.python }}-$TAG", &known);
        assert_eq!(resolved, Resolved { text: "debian:12-py3.11-12".into(), unknown: vec![] });
        let resolved = substitute("x:$CI_COMMIT_SHA-${{ github.sha }}-${MISSING:-dev}", &known);
        assert_eq!(resolved.text, "x:$CI_COMMIT_SHA-${{ github.sha }}-dev");
        assert_eq!(resolved.unknown, ["CI_COMMIT_SHA", "github.sha"]);
        assert_eq!(substitute("cost $5 and $", &known).unknown, ["5"]);
        assert_eq!(substitute("a $ b", &known).text, "a $ b");
    }

    #[test]
    fn checkout_paths_map_to_the_repository_root() {
        let path = |text: &str| repository_path(&substitute(text, &Variables::new())).text;
        assert_eq!(path("~/project/"), ".");
        assert_eq!(path("~/project/.circleci/Dockerfile.debian"), ".circleci/Dockerfile.debian");
        assert_eq!(path("$CI_PROJECT_DIR"), ".");
        assert_eq!(path("${CI_PROJECT_DIR}/ci/"), "ci");
        assert_eq!(path("${{ github.workspace }}/docker/Dockerfile"), "docker/Dockerfile");
        assert_eq!(path("./ci/./images"), "ci/images");
        assert_eq!(path("."), ".");
        assert_eq!(path("{{defaultContext}}:ci"), "ci");
    }

    #[test]
    fn reads_multi_line_build_commands_with_continuations() {
        let script = "docker login -u x -p y\n\
            docker \\\n    build \\\n    --build-arg TAG=${TAG} \\\n    --build-arg \"PYTHON_VERSION=${PYTHON_VERSION}\" \\\n\
            \x20   -t tahoelafsci/${DISTRO}:${TAG}-py${PYTHON_VERSION} \\\n    -f ~/project/.circleci/Dockerfile.${DISTRO} \\\n    ~/project/\n\
            docker push tahoelafsci/${DISTRO}:${TAG}\n";
        let commands = build_commands(script);
        assert_eq!(commands.len(), 1, "{commands:?}");
        let command = &commands[0];
        assert_eq!(command.dockerfile.as_deref(), Some("~/project/.circleci/Dockerfile.${DISTRO}"));
        assert_eq!(command.context.as_deref(), Some("~/project/"));
        assert_eq!(command.tags, ["tahoelafsci/${DISTRO}:${TAG}-py${PYTHON_VERSION}"]);
        assert_eq!(
            command.build_args,
            [("TAG".into(), Some("${TAG}".into())), ("PYTHON_VERSION".into(), Some("${PYTHON_VERSION}".into()))]
        );
    }

    #[test]
    fn a_cd_moves_the_folder_relative_paths_start_from() {
        let script = "cd docker/app && docker build -f ../Dockerfile.base -t a:1 .\ncd ..\ndocker build -t b:1 $CI_PROJECT_DIR/x\n";
        let commands = build_commands(script);
        assert_eq!(commands[0].context.as_deref(), Some("docker/app/."));
        assert_eq!(commands[0].dockerfile.as_deref(), Some("docker/app/../Dockerfile.base"));
        assert_eq!(commands[1].context.as_deref(), Some("$CI_PROJECT_DIR/x"));
        let path = |text: &str| repository_path(&substitute(text, &Variables::new())).text;
        assert_eq!(path("docker/app/../Dockerfile.base"), "docker/Dockerfile.base");
        assert_eq!(path("docker/app/."), "docker/app");
        let invocations = invocations_in_folder("w.yml", "j", "docker build -t c:1 .", &Variables::new(), "tools");
        assert_eq!(invocations[0].context.text, "tools");
        assert_eq!(invocations[0].dockerfile_path().text, "tools/Dockerfile");
    }

    #[test]
    fn finds_every_builder_and_separates_commands() {
        let script = "cd ci && docker buildx build --platform=linux/amd64 --push -t a:1 --target test . && echo done\n\
            sudo podman build --network host -f Containerfile -t b:$(git rev-parse HEAD) ctx; buildah bud -t c:2 other\n\
            DOCKER_BUILDKIT=1 docker image build --build-arg FROM_ENV --cache-from x:y - < Dockerfile\n\
            docker run --rm build\n\
            echo 'docker build in a string'\n";
        let commands = build_commands(script);
        let contexts: Vec<Option<&str>> = commands.iter().map(|command| command.context.as_deref()).collect();
        // The `cd ci` holds for the rest of the script, as in the shell.
        assert_eq!(contexts, [Some("ci/."), Some("ci/ctx"), Some("ci/other"), Some("-")]);
        assert_eq!(commands[0].platform.as_deref(), Some("linux/amd64"));
        assert_eq!(commands[0].target.as_deref(), Some("test"));
        assert_eq!(commands[1].tags, ["b:${command_output}"]);
        assert_eq!(commands[1].dockerfile.as_deref(), Some("ci/Containerfile"));
        assert_eq!(commands[3].build_args, [("FROM_ENV".into(), None)]);
    }

    #[test]
    fn invocations_substitute_the_job_variables() {
        let known = variables(&[("DISTRO", "debian"), ("TAG", "12")]);
        let invocations = invocations_in_script(
            ".circleci/config.yml",
            "build-image-debian-12",
            "docker build --build-arg TAG --build-arg PY=$PY -t acme/${DISTRO}:${TAG} -f ~/project/ci/Dockerfile.${DISTRO} ~/project\n\
             docker build - < Dockerfile\n",
            &known,
        );
        assert_eq!(invocations.len(), 1);
        let invocation = &invocations[0];
        assert_eq!(invocation.dockerfile_path().text, "ci/Dockerfile.debian");
        assert_eq!(invocation.context.text, ".");
        assert_eq!(invocation.build_args["TAG"].text, "12");
        assert_eq!(invocation.build_args["PY"], Resolved { text: "$PY".into(), unknown: vec!["PY".into()] });
        assert_eq!(invocation.tags[0].text, "acme/debian:12");
    }

    #[test]
    fn matrix_combinations_cover_every_value() {
        let axes = vec![
            ("os".to_owned(), vec!["debian".to_owned(), "ubuntu".to_owned()]),
            ("py".to_owned(), vec!["3.11".to_owned(), "3.12".to_owned()]),
        ];
        let all = combinations(&axes);
        assert_eq!(all.len(), 4);
        assert_eq!(job_label("build", &all[1]), "build (os=debian, py=3.12)");
    }
}
