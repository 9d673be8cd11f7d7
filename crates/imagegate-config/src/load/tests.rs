//! Loading and validating `imagegate.toml`: the full example, defaults, and every error with
//! its exact message.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::{
    CONFIG_FILE_NAME, Config, ConfigError, ConfigErrorKind, EngineKind, ResultsLimits, find_config, load, load_str,
};

/// A project folder with the files the example config names.
struct Project {
    dir: TempDir,
}

impl Project {
    fn new() -> Project {
        let project = Project { dir: tempfile::tempdir().expect("create a temporary folder") };
        project.write("ci/Dockerfile.debian", "FROM debian:12\n");
        project
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.root().join(relative);
        fs::create_dir_all(path.parent().expect("a parent folder")).expect("create folders");
        fs::write(&path, contents).expect("write a file");
        path
    }

    fn load(&self, config: &str) -> Result<Config, ConfigError> {
        load(&self.write(CONFIG_FILE_NAME, config))
    }

    /// The error's full message, with the temporary folder shown as `[ROOT]`.
    fn error(&self, config: &str) -> String {
        match self.load(config) {
            Ok(loaded) => panic!("expected an error, loaded {loaded:#?}"),
            Err(error) => redact(&error.to_string(), self.root()),
        }
    }

    fn error_kind(&self, config: &str) -> ConfigErrorKind {
        self.load(config).expect_err("expected an error").kind()
    }
}

fn redact(text: &str, root: &Path) -> String {
    redact_as(text, root, "[ROOT]")
}

fn redact_as(text: &str, folder: &Path, label: &str) -> String {
    let mut text = text.to_owned();
    if let Ok(real_folder) = folder.canonicalize() {
        text = text.replace(&real_folder.display().to_string(), label);
    }
    text.replace(&folder.display().to_string(), label)
}

const MINIMAL: &str = r#"[images.debian]
dockerfile = "ci/Dockerfile.debian"
context = "ci"
stable_tag = "acme-ci/debian:12"

[images.debian.suite]
command = "./run-tests.sh"
results = "/results"
"#;

const FULL_EXAMPLE: &str = r#"[engine]
kind = "docker"              # docker | podman; default: auto-detect
build_network = "host"       # network for RUN steps while building; default: the engine's own
[promote]
branches = ["main"]          # where promotion is allowed; default ["main", "master"]
[store]
state_dir = ".imagegate"     # embedded store folder (relative to the config's folder); default .imagegate
[images.debian]
dockerfile = "ci/Dockerfile.debian"   # default: "<context>/Dockerfile"
context = "ci"                        # default "."
inputs = ["Dockerfile.*", "apt/**"]   # optional: the context files that define the image
build_args = { PYTHON_VERSION = "3.11" }
target = "test"                       # optional --target
platform = "linux/amd64"              # optional --platform
stable_tag = "acme-ci/debian:12-py3.11"   # required
[images.debian.suite]
command = "python -m twisted.trial --reporter=subunitv2-file allmydata"   # required
results = "/results"         # required, absolute path inside the container
workdir = "/src"             # default /src, absolute
env = { SUBUNITREPORTER_OUTPUT_PATH = "/results/results.subunit2" }
timeout = "45m"              # humantime; default 1h; must be > 0
rerun = "python -m twisted.trial --reporter=subunitv2-file {tests}"   # optional; must contain {tests}
attempts = 3                 # 1..=10, default 3: runs of a failing test in the candidate, first run included
network = "none"             # test container network, default "none"
[images.debian.suite.limits]
pids = 512                   # processes and threads at once; default 4096
memory = "2GiB"              # swap included; default 4GiB
cpus = 1.5                   # CPU time in CPUs; default: all the machine's
capabilities = ["CHOWN", "cap_setuid", "SETUID"]   # kept; default: CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETGID SETUID
no_new_privileges = false    # default true
read_only = true             # default false
log_size = "16MiB"           # output kept in the run's log; default 64MiB
"#;

#[test]
fn loads_the_full_example() {
    let project = Project::new();
    let config = project.load(FULL_EXAMPLE).expect("the example is valid");
    let root = project.root();
    assert_eq!(config.root, root);
    assert_eq!(config.path, root.join(CONFIG_FILE_NAME));
    assert_eq!(config.engine.kind, Some(EngineKind::Docker));
    assert_eq!(config.engine.build_network.as_deref(), Some("host"));
    assert_eq!(config.promote.branches, ["main"]);
    assert_eq!(config.state_dir(), root.join(".imagegate"));
    assert_eq!(config.images.len(), 1);

    let image = &config.images["debian"];
    assert_eq!(image.name, "debian");
    assert_eq!(image.dockerfile, root.join("ci/Dockerfile.debian"));
    assert_eq!(image.context, root.join("ci"));
    assert_eq!(image.inputs.as_deref(), Some(&["Dockerfile.*".to_owned(), "apt/**".to_owned()][..]));
    assert_eq!((image.lines.table, image.lines.inputs, image.lines.build_args), (Some(8), Some(11), Some(12)));
    assert_eq!((image.lines.results, image.lines.workdir), (Some(18), Some(19)));
    assert_eq!(image.build_args.get("PYTHON_VERSION").map(String::as_str), Some("3.11"));
    assert_eq!(image.target.as_deref(), Some("test"));
    assert_eq!(image.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(image.stable_tag, "acme-ci/debian:12-py3.11");

    let suite = &image.suite;
    assert_eq!(suite.command, "python -m twisted.trial --reporter=subunitv2-file allmydata");
    assert_eq!(suite.results, "/results");
    assert_eq!(suite.workdir, "/src");
    assert_eq!(suite.env.get("SUBUNITREPORTER_OUTPUT_PATH").map(String::as_str), Some("/results/results.subunit2"));
    assert_eq!(suite.timeout, Duration::from_secs(45 * 60));
    assert_eq!(suite.rerun.as_deref(), Some("python -m twisted.trial --reporter=subunitv2-file {tests}"));
    assert_eq!(suite.attempts, 3);
    assert_eq!(suite.network, "none");
    assert_eq!(image.lines.network, Some(24));
    assert_eq!(
        suite.limits,
        crate::SuiteLimits {
            pids: 512,
            memory: 2 * 1024 * 1024 * 1024,
            cpus: Some(1.5),
            capabilities: vec!["CHOWN".to_owned(), "SETUID".to_owned()],
            no_new_privileges: false,
            read_only: true,
            log_size: 16 * 1024 * 1024,
        }
    );
}

#[test]
fn applies_defaults() {
    let project = Project::new();
    project.write("Dockerfile", "FROM scratch\n");
    let config = project
        .load(
            r#"[images.app]
stable_tag = "acme/app"
[images.app.suite]
command = "make test"
results = "/results"
"#,
        )
        .expect("valid");
    let root = project.root();
    assert_eq!(config.engine, crate::EngineConfig::default());
    assert_eq!(config.promote.branches, ["main", "master"]);
    assert_eq!(config.store.state_dir.as_deref(), Some(root.join(".imagegate").as_path()));
    let image = &config.images["app"];
    assert_eq!(image.context, root);
    assert_eq!(image.dockerfile, root.join("Dockerfile"));
    assert_eq!(image.stable_tag, "acme/app:latest", "a missing tag is `latest`");
    assert!(image.build_args.is_empty());
    assert_eq!((image.target.as_ref(), image.platform.as_ref()), (None, None));
    let suite = &image.suite;
    assert_eq!(suite.workdir, "/src");
    assert!(suite.env.is_empty());
    assert_eq!(suite.timeout, Duration::from_secs(3600));
    assert_eq!(suite.rerun, None);
    assert_eq!(suite.attempts, 3);
    assert_eq!(suite.network, "none");
    let limits = &suite.limits;
    assert_eq!((limits.pids, limits.memory, limits.cpus), (4096, 4 * 1024 * 1024 * 1024, None));
    assert_eq!(
        limits.capabilities,
        ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"]
    );
    assert!(limits.no_new_privileges && !limits.read_only);
    assert_eq!(limits.log_size, 64 * 1024 * 1024);
}

#[test]
fn limits_accept_an_integer_for_cpus_and_decimal_sizes() {
    let config = Project::new()
        .load(&format!("{MINIMAL}[images.debian.suite.limits]\ncpus = 2\nmemory = \"512 MB\"\ncapabilities = []\n"))
        .expect("valid");
    let limits = &config.images["debian"].suite.limits;
    assert_eq!((limits.cpus, limits.memory), (Some(2.0), 512_000_000));
    assert!(limits.capabilities.is_empty());
}

#[test]
fn limits_that_would_turn_containment_off_are_refused() {
    let project = Project::new();
    let limits = |body: &str| project.error(&format!("{MINIMAL}[images.debian.suite.limits]\n{body}\n"));
    assert_eq!(
        limits("pids = 0"),
        "[ROOT]/imagegate.toml:10:8: `pids` in [images.debian.suite.limits] must be between 32 and 1048576, found 0\n   |\n10 | pids = 0\n   |        ^\n  hint: pids bounds the processes and threads the suite runs at once; the default is 4096"
    );
    let error = limits("memory = \"1MiB\"");
    assert!(
        error
            .contains("`memory` in [images.debian.suite.limits] must be at least 64.0 MiB, found 1MiB (1048576 bytes)"),
        "{error}"
    );
    assert!(error.contains("hint: for example: memory = \"4GiB\""), "{error}");
    let error = limits("memory = \"lots\"");
    assert!(error.contains("invalid size \"lots\" for `memory`"), "{error}");
    assert!(error.contains("hint: write a number and a unit (KiB, MiB, GiB, or KB, MB, GB)"), "{error}");
    let error = limits("memory = 4096");
    assert!(error.contains("`memory` in [images.debian.suite.limits] must be a string, found an integer"), "{error}");
    assert!(error.contains("hint: write a quoted string, e.g. memory = \"4GiB\""), "{error}");
    let error = limits("cpus = 0");
    assert!(error.contains("`cpus` in [images.debian.suite.limits] must be between 0.01 and 1024, found 0"), "{error}");
    let error = limits("cpus = \"2\"");
    assert!(error.contains("hint: remove the quotes: cpus = 2"), "{error}");
    let error = limits("capabilities = [\"CHOWN\", \"SYS_ADMIN\"]");
    assert!(
        error.contains(
            ":10:26: capability \"SYS_ADMIN\" in [images.debian.suite.limits] is not one a test container may keep"
        ),
        "{error}"
    );
    assert!(
        error.contains("hint: a suite may keep only capabilities of docker's default set: AUDIT_WRITE, CHOWN,"),
        "{error}"
    );
    let error = limits("log_size = \"1GB\"\nlog_size2 = 1");
    assert!(error.contains("unknown key `log_size2` in [images.debian.suite.limits]"), "{error}");
    let error = limits("log_size = \"2GiB\"");
    assert!(
        error.contains("`log_size` in [images.debian.suite.limits] must be between 64.0 KiB and 1.0 GiB, found 2GiB"),
        "{error}"
    );
    let error = project.error(&format!("{MINIMAL}pids = 10\n"));
    assert!(error.contains("hint: `pids` belongs in [images.debian.suite.limits]"), "{error}");
}

#[test]
fn default_dockerfile_is_in_the_context() {
    let project = Project::new();
    project.write("ci/Dockerfile", "FROM scratch\n");
    let config = project.load(&MINIMAL.replace("dockerfile = \"ci/Dockerfile.debian\"\n", "")).expect("valid");
    assert_eq!(config.images["debian"].dockerfile, project.root().join("ci/Dockerfile"));
}

#[test]
fn state_dir_may_be_absolute_or_relative() {
    let project = Project::new();
    let config = project.load(&format!("[store]\nstate_dir = \"/var/cache/imagegate\"\n{MINIMAL}")).expect("valid");
    assert_eq!(config.state_dir(), Path::new("/var/cache/imagegate"));
    let config = project.load(&format!("[store]\nstate_dir = \"../state/./x\"\n{MINIMAL}")).expect("valid");
    let parent = project.root().parent().expect("a parent");
    assert_eq!(config.state_dir(), parent.join("state/x"));
}

#[test]
fn paths_are_normalised_and_may_use_dot_segments_inside_the_project() {
    let project = Project::new();
    let config =
        project.load(&MINIMAL.replace("\"ci/Dockerfile.debian\"", "\"./ci/../ci/Dockerfile.debian\"")).expect("valid");
    assert_eq!(config.images["debian"].dockerfile, project.root().join("ci/Dockerfile.debian"));
}

#[test]
fn image_names_with_dots_load() {
    let project = Project::new();
    let config = project.load(&MINIMAL.replace("images.debian", "images.\"py3.11\"")).expect("valid");
    assert!(config.images.contains_key("py3.11"));
}

#[test]
fn load_str_resolves_against_the_path_given() {
    let project = Project::new();
    let config = load_str(&project.root().join(CONFIG_FILE_NAME), MINIMAL).expect("valid");
    assert_eq!(config.images["debian"].context, project.root().join("ci"));
}

#[test]
fn the_demo_project_config_loads() {
    // The example shipped with the workspace must stay valid as the format evolves.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo/project/imagegate.toml");
    if !demo.exists() {
        eprintln!("skipped: {} is absent", demo.display());
        return;
    }
    let config = load(&demo).unwrap_or_else(|error| panic!("{error}"));
    assert!(!config.images.is_empty());
}

#[test]
fn find_config_walks_up_to_the_nearest_file() {
    let project = Project::new();
    let nested = project.root().join("a/b/c");
    fs::create_dir_all(&nested).expect("mkdir");
    let config_path = project.write(CONFIG_FILE_NAME, MINIMAL);
    assert_eq!(find_config(&nested), Some(config_path.clone()));
    assert_eq!(find_config(project.root()), Some(config_path));
    let inner = project.write("a/imagegate.toml", MINIMAL);
    assert_eq!(find_config(&nested), Some(inner));
}

#[test]
fn find_config_returns_none_without_a_file() {
    let project = Project::new();
    // Some ancestor of the temporary folder could hold one; only assert when none does.
    let outside = project.root().ancestors().skip(1).any(|dir| dir.join(CONFIG_FILE_NAME).is_file());
    if !outside {
        assert_eq!(find_config(project.root()), None);
    }
}

#[test]
fn reports_the_earliest_error_first() {
    let project = Project::new();
    let config = r#"[images.debian]
dockerfile = "ci/Dockerfile.debian"
context = "ci"
stable_tag = "acme-ci/debian:12"
[images.debian.suite]
command = "./run-tests.sh"
results = "results"
attempts = 0
[engine]
kind = "dokcer"
"#;
    let error = project.load(config).expect_err("invalid");
    assert_eq!(error.line_column(), Some((7, 11)));
}

// Every error kind, with its exact message.

#[test]
fn unknown_key_suggests_the_nearest() {
    let error = Project::new().error(&MINIMAL.replace("dockerfile =", "dockerfil ="));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:1: unknown key `dockerfil` in [images.debian]
          |
        2 | dockerfil = "ci/Dockerfile.debian"
          | ^^^^^^^^^
          hint: did you mean `dockerfile`?
        "#);
}

#[test]
fn unknown_key_far_from_all_lists_the_valid_ones() {
    let error =
        Project::new().error(&MINIMAL.replace("[images.debian.suite]", "[images.debian.suite]\nflaky_retries = 2"));
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:7:1: unknown key `flaky_retries` in [images.debian.suite]
          |
        7 | flaky_retries = 2
          | ^^^^^^^^^^^^^
          hint: valid keys in [images.debian.suite] are `command`, `results`, `workdir`, `env`, `timeout`, `rerun`, `attempts`, `network`, `shard`, `list`, `incumbent`, `reuse`, `max_results_size`, `max_results_files` and [images.debian.suite.limits]
        ");
}

#[test]
fn unknown_key_that_belongs_elsewhere_says_where() {
    let error = Project::new().error(&MINIMAL.replace("context = \"ci\"", "context = \"ci\"\ncommand = \"make test\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:1: unknown key `command` in [images.debian]
          |
        4 | command = "make test"
          | ^^^^^^^
          hint: `command` belongs in [images.debian.suite]
        "#);
}

#[test]
fn unknown_table_suggests_the_nearest() {
    let error = Project::new().error(&format!("[engin]\nkind = \"docker\"\n\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:1:2: unknown table [engin]
          |
        1 | [engin]
          |  ^^^^^
          hint: did you mean [engine]?
        ");
}

#[test]
fn unknown_top_level_key() {
    let error = Project::new().error(&format!("verbose = true\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:1:1: unknown key `verbose` at the top level
          |
        1 | verbose = true
          | ^^^^^^^
          hint: valid keys at the top level are [engine], [promote], [store] and [images.NAME]
        ");
}

#[test]
fn syntax_error_unquoted_string() {
    let error = Project::new().error(&format!("[engine]\nkind = docker\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:8: string values must be quoted, expected literal string
          |
        2 | kind = docker
          |        ^^^^^^
          hint: quote the value: "docker"
        "#);
}

#[test]
fn syntax_error_unclosed_header() {
    let error = Project::new().error(&MINIMAL.replace("[images.debian.suite]", "[images.debian.suite"));
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:6:21: unclosed table, expected `]`
          |
        6 | [images.debian.suite
          |                     ^
          hint: close the table header with `]`
        ");
}

#[test]
fn syntax_error_duplicate_key() {
    let error = Project::new().error(&MINIMAL.replace("context = \"ci\"", "context = \"ci\"\ncontext = \".\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:1: duplicate key `context`
          |
        4 | context = "."
          | ^^^^^^^
          hint: each key and each table may be defined only once; merge or remove the repeated one
        "#);
}

#[test]
fn type_error_quoted_integer() {
    let error = Project::new().error(&format!("{MINIMAL}attempts = \"3\"\n"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:9:12: `attempts` in [images.debian.suite] must be an integer, found a string
          |
        9 | attempts = "3"
          |            ^^^
          hint: remove the quotes: attempts = 3
        "#);
}

#[test]
fn type_error_unquoted_build_arg() {
    let error = Project::new()
        .error(&MINIMAL.replace("context = \"ci\"", "context = \"ci\"\nbuild_args = { PYTHON_VERSION = 3.11 }"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:33: build arg `PYTHON_VERSION` must be a string, found a float
          |
        4 | build_args = { PYTHON_VERSION = 3.11 }
          |                                 ^^^^
          hint: quote the value: PYTHON_VERSION = "3.11"
        "#);
}

#[test]
fn type_error_string_for_list() {
    let error = Project::new().error(&format!("[promote]\nbranches = \"main\"\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:12: `branches` in [promote] must be a list of strings, found a string
          |
        2 | branches = "main"
          |            ^^^^^^
          hint: write a list: branches = ["main"]
        "#);
}

#[test]
fn type_error_timeout_without_unit() {
    let error = Project::new().error(&format!("{MINIMAL}timeout = 45\n"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:9:11: `timeout` in [images.debian.suite] must be a string, found an integer
          |
        9 | timeout = 45
          |           ^^
          hint: write the duration as a string with its unit, e.g. timeout = "45m" or "45s"
        "#);
}

#[test]
fn type_error_string_for_table() {
    let error = Project::new().error(&format!("{MINIMAL}\n[images.other]\nsuite = \"make test\"\n"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:11:9: `suite` in [images.other] must be a table, found a string
           |
        11 | suite = "make test"
           |         ^^^^^^^^^^^
          hint: write it as a table: [images.other.suite]
        "#);
}

#[test]
fn type_error_array_of_tables() {
    let error = Project::new().error("[[images.debian]]\nstable_tag = \"acme-ci/debian:12\"\n");
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:1:1: image `debian` must be a table, found an array
          |
        1 | [[images.debian]]
          | ^^^^^^^^^^^^^^^^^
          hint: use single brackets: [images.debian] (double brackets make a list of tables)
        ");
}

#[test]
fn missing_stable_tag() {
    let error = Project::new().error(&MINIMAL.replace("stable_tag = \"acme-ci/debian:12\"\n", ""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:1:1: missing `stable_tag` in [images.debian]
          |
        1 | [images.debian]
          | ^^^^^^^^^^^^^^^
          hint: add the tag that imagegate moves to a candidate once it passes, e.g. stable_tag = "acme-ci/debian:stable"
        "#);
}

#[test]
fn missing_suite() {
    let config = MINIMAL.split("\n\n").next().expect("image table");
    let error = Project::new().error(config);
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:1:1: missing [images.debian.suite]
          |
        1 | [images.debian]
          | ^^^^^^^^^^^^^^^
          hint: add a [images.debian.suite] table with `command` (how to run the tests) and `results` (where they write their reports)
        ");
}

#[test]
fn missing_command_and_results() {
    let project = Project::new();
    let error = project.error(&MINIMAL.replace("command = \"./run-tests.sh\"\n", ""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:6:1: missing `command` in [images.debian.suite]
          |
        6 | [images.debian.suite]
          | ^^^^^^^^^^^^^^^^^^^^^
          hint: add the shell command that runs the tests in the image, e.g. command = "./run-tests.sh"
        "#);
    let error = project.error(&MINIMAL.replace("results = \"/results\"\n", ""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:6:1: missing `results` in [images.debian.suite]
          |
        6 | [images.debian.suite]
          | ^^^^^^^^^^^^^^^^^^^^^
          hint: add the folder in the container where the tests write their reports (JUnit XML or subunit v2), e.g. results = "/results"
        "#);
}

#[test]
fn invalid_image_name() {
    let error = Project::new().error(&MINIMAL.replace("images.debian", "images.Debian"));
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:1:9: invalid image name `Debian`
          |
        1 | [images.Debian]
          |         ^^^^^^
          hint: image names are lowercase: [images.debian]
        ");
    let error = Project::new().error(&MINIMAL.replace("images.debian", "images.\"-debian\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:1:9: invalid image name `-debian`
          |
        1 | [images."-debian"]
          |         ^^^^^^^^^
          hint: an image name is lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit, e.g. `debian-12`
        "#);
}

#[test]
fn stable_tag_with_digest() {
    let error =
        Project::new().error(&MINIMAL.replace("acme-ci/debian:12", "acme-ci/debian:12@sha256:0123456789abcdef"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:14: stable tag `acme-ci/debian:12@sha256:0123456789abcdef` names a digest, not a tag
          |
        4 | stable_tag = "acme-ci/debian:12@sha256:0123456789abcdef"
          |              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
          hint: a stable tag is a pointer that imagegate moves on promotion, so it cannot be pinned to a digest; write stable_tag = "acme-ci/debian:12"
        "#);
}

#[test]
fn stable_tag_with_uppercase() {
    let error = Project::new().error(&MINIMAL.replace("acme-ci/debian:12", "Acme-CI/debian:12"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:14: stable tag `Acme-CI/debian:12` has uppercase letters in its repository
          |
        4 | stable_tag = "Acme-CI/debian:12"
          |              ^^^^^^^^^^^^^^^^^^^
          hint: Docker repository names are lowercase: stable_tag = "acme-ci/debian:12"
        "#);
}

#[test]
fn stable_tag_with_invalid_tag() {
    let error = Project::new().error(&MINIMAL.replace("acme-ci/debian:12", "acme-ci/debian:-12"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:14: stable tag `acme-ci/debian:-12` has an invalid tag `-12`
          |
        4 | stable_tag = "acme-ci/debian:-12"
          |              ^^^^^^^^^^^^^^^^^^^^
          hint: a tag is up to 128 letters, digits, `_`, `.` and `-`, and does not start with `.` or `-`, e.g. stable_tag = "acme-ci/debian:12-py3.11"
        "#);
}

#[test]
fn duplicate_stable_tag() {
    let project = Project::new();
    project.write("ci/Dockerfile.alpine", "FROM alpine\n");
    let second = MINIMAL
        .replace("debian]", "alpine]")
        .replace("debian.suite", "alpine.suite")
        .replace("Dockerfile.debian", "Dockerfile.alpine");
    let error = project.error(&format!("{MINIMAL}\n{second}"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:13:14: image `alpine` has the same stable tag as image `debian` (line 4): `acme-ci/debian:12`
           |
        13 | stable_tag = "acme-ci/debian:12"
           |              ^^^^^^^^^^^^^^^^^^^
          hint: give each image its own stable tag: promoting one image would replace the other
        "#);
    assert_eq!(project.error_kind(&format!("{MINIMAL}\n{second}")), ConfigErrorKind::DuplicateStableTag);
}

#[test]
fn duplicate_stable_tag_counts_the_implicit_latest() {
    let project = Project::new();
    let first = MINIMAL.replace("acme-ci/debian:12", "acme-ci/debian");
    let second = MINIMAL.replace("images.debian", "images.other").replace("acme-ci/debian:12", "acme-ci/debian:latest");
    assert_eq!(project.error_kind(&format!("{first}\n{second}")), ConfigErrorKind::DuplicateStableTag);
}

#[test]
fn dockerfile_not_found_suggests_a_near_name() {
    let error = Project::new().error(&MINIMAL.replace("Dockerfile.debian", "Dockerfile.debain"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:14: dockerfile `ci/Dockerfile.debain` not found
          |
        2 | dockerfile = "ci/Dockerfile.debain"
          |              ^^^^^^^^^^^^^^^^^^^^^^
          hint: did you mean `ci/Dockerfile.debian`?
        "#);
}

#[test]
fn dockerfile_not_found() {
    let error = Project::new().error(&MINIMAL.replace("ci/Dockerfile.debian", "docker/Dockerfile.ubuntu"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:14: dockerfile `docker/Dockerfile.ubuntu` not found
          |
        2 | dockerfile = "docker/Dockerfile.ubuntu"
          |              ^^^^^^^^^^^^^^^^^^^^^^^^^^
          hint: paths are relative to the folder of imagegate.toml: [ROOT]
        "#);
}

#[test]
fn default_dockerfile_not_found() {
    let error = Project::new().error(&MINIMAL.replace("dockerfile = \"ci/Dockerfile.debian\"\n", ""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:11: dockerfile `ci/Dockerfile` not found
          |
        2 | context = "ci"
          |           ^^^^
          hint: without `dockerfile`, imagegate builds `Dockerfile` in the context folder; add dockerfile = "…" to [images.debian] with the Dockerfile's path
        "#);
}

#[test]
fn default_dockerfile_not_found_points_at_a_containerfile() {
    let project = Project::new();
    project.write("ci/Containerfile", "FROM scratch\n");
    let error = project.error(&MINIMAL.replace("dockerfile = \"ci/Dockerfile.debian\"\n", ""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:11: dockerfile `ci/Dockerfile` not found
          |
        2 | context = "ci"
          |           ^^^^
          hint: without `dockerfile`, imagegate builds `ci/Dockerfile`; add dockerfile = "ci/Containerfile" to [images.debian]
        "#);
}

#[test]
fn dockerfile_is_a_folder() {
    let error = Project::new().error(&MINIMAL.replace("\"ci/Dockerfile.debian\"", "\"ci\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:14: dockerfile `ci` is a folder, not a file
          |
        2 | dockerfile = "ci"
          |              ^^^^
          hint: point `dockerfile` at the Dockerfile itself, e.g. dockerfile = "ci/Dockerfile"
        "#);
}

#[test]
fn context_not_found_or_a_file() {
    let project = Project::new();
    let error = project.error(&MINIMAL.replace("context = \"ci\"", "context = \"docker\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:3:11: context `docker` not found
          |
        3 | context = "docker"
          |           ^^^^^^^^
          hint: paths are relative to the folder of imagegate.toml: [ROOT]
        "#);
    let error = project.error(&MINIMAL.replace("context = \"ci\"", "context = \"ci/Dockerfile.debian\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:3:11: context `ci/Dockerfile.debian` is a file, not a folder
          |
        3 | context = "ci/Dockerfile.debian"
          |           ^^^^^^^^^^^^^^^^^^^^^^
          hint: `context` is the folder sent to the engine as the build context, e.g. context = "ci"
        "#);
}

#[test]
fn paths_may_not_leave_the_project() {
    let project = Project::new();
    let error = project.error(&MINIMAL.replace("context = \"ci\"", "context = \"ci/../..\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:3:11: context `ci/../..` is outside the project folder
          |
        3 | context = "ci/../.."
          |           ^^^^^^^^^^
          hint: imagegate builds from the project checkout: keep the context inside the folder of imagegate.toml
        "#);
    let absolute = project.root().join("ci/Dockerfile.debian");
    let error = project.error(&MINIMAL.replace("\"ci/Dockerfile.debian\"", &format!("\"{}\"", absolute.display())));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:14: dockerfile `[ROOT]/ci/Dockerfile.debian` is an absolute path
          |
        2 | dockerfile = "[ROOT]/ci/Dockerfile.debian"
          |              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
          hint: write it relative to the folder of imagegate.toml: dockerfile = "ci/Dockerfile.debian"
        "#);
    let error = project.error(&MINIMAL.replace("\"ci/Dockerfile.debian\"", "\"/etc/Dockerfile\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:14: dockerfile `/etc/Dockerfile` is an absolute path
          |
        2 | dockerfile = "/etc/Dockerfile"
          |              ^^^^^^^^^^^^^^^^^
          hint: imagegate builds from the project checkout: keep the dockerfile inside the folder of imagegate.toml and write its path relative to it
        "#);
}

#[cfg(unix)]
#[test]
fn symbolic_links_may_not_leave_the_project() {
    let project = Project::new();
    let outside = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(outside.path(), project.root().join("elsewhere")).expect("symlink");
    let config = MINIMAL.replace("context = \"ci\"", "context = \"elsewhere\"");
    assert_eq!(project.error_kind(&config), ConfigErrorKind::PathOutsideProject);
    let message = redact_as(&project.error(&config), outside.path(), "[OUTSIDE]");
    insta::assert_snapshot!(message, @r#"
        [ROOT]/imagegate.toml:3:11: context `elsewhere` leads outside the project folder through a symbolic link, to [OUTSIDE]
          |
        3 | context = "elsewhere"
          |           ^^^^^^^^^^^
          hint: keep the files that define an image in the project checkout, so that its inputs digest covers them
        "#);
}

#[test]
fn inputs_must_be_a_non_empty_list_of_relative_globs() {
    let project = Project::new();
    let with_inputs =
        |inputs: &str| MINIMAL.replace("context = \"ci\"\n", &format!("context = \"ci\"\ninputs = {inputs}\n"));
    let error = project.error(&with_inputs("[]"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:10: `inputs` in [images.debian] is empty, so no file of the context would define the image
          |
        4 | inputs = []
          |          ^^
          hint: list the files whose content defines the image, relative to the context, e.g. inputs = ["ci/**", "setup.py", "pyproject.toml"]; or remove `inputs` to hash the whole context
    "#);
    let error = project.error(&with_inputs(r#"["apt/**", "apt/[a-z"]"#));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:21: invalid pattern "apt/[a-z" in `inputs`: error parsing glob 'apt/[a-z': unclosed character class; missing ']'
          |
        4 | inputs = ["apt/**", "apt/[a-z"]
          |                     ^^^^^^^^^^
          hint: patterns are globs relative to the context (`*` within a folder, `**` across folders), e.g. inputs = ["ci/**", "setup.py", "pyproject.toml"]
    "#);
    let error = project.error(&with_inputs(r#"["../setup.py"]"#));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:11: invalid pattern "../setup.py" in `inputs`: `..` leads out of the build context
          |
        4 | inputs = ["../setup.py"]
          |           ^^^^^^^^^^^^^
          hint: patterns are globs relative to the context (`*` within a folder, `**` across folders), e.g. inputs = ["ci/**", "setup.py", "pyproject.toml"]
    "#);
    assert_eq!(project.error_kind(&with_inputs(r#""apt/**""#)), ConfigErrorKind::WrongType);
    let config = project.load(&with_inputs(r#"["./apt/", "Dockerfile.*"]"#)).expect("valid");
    assert_eq!(config.images["debian"].inputs.as_ref().map(Vec::len), Some(2));
}

#[test]
fn container_paths_must_be_absolute() {
    let project = Project::new();
    let error = project.error(&MINIMAL.replace("results = \"/results\"", "results = \"results\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:8:11: `results` must be an absolute path inside the container, found `results`
          |
        8 | results = "results"
          |           ^^^^^^^^^
          hint: for example: results = "/results"
        "#);
    let error = project.error(&format!("{MINIMAL}workdir = \"src\"\n"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:9:11: `workdir` must be an absolute path inside the container, found `src`
          |
        9 | workdir = "src"
          |           ^^^^^
          hint: for example: workdir = "/src"
        "#);
    let error = project.error(&MINIMAL.replace("results = \"/results\"", "results = \"/\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:8:11: `results` is the container's root folder
          |
        8 | results = "/"
          |           ^^^
          hint: imagegate copies this folder out after the run: give the tests a folder of their own, e.g. results = "/results"
        "#);
}

#[test]
fn rerun_needs_the_tests_placeholder() {
    let error = Project::new().error(&format!("{MINIMAL}rerun = \"./run-tests.sh --failed\"\n"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:9:9: `rerun` does not contain `{tests}`
          |
        9 | rerun = "./run-tests.sh --failed"
          |         ^^^^^^^^^^^^^^^^^^^^^^^^^
          hint: imagegate replaces `{tests}` with the ids of the tests to rerun, e.g. rerun = "./run-tests.sh {tests}"; leave `rerun` out to rerun the whole suite
        "#);
}

#[test]
fn unknown_engine_kind() {
    let project = Project::new();
    let error = project.error(&format!("[engine]\nkind = \"dokcer\"\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:8: unknown engine `dokcer`
          |
        2 | kind = "dokcer"
          |        ^^^^^^^^
          hint: did you mean `docker`?
        "#);
    let error = project.error(&format!("[engine]\nkind = \"containerd\"\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:8: unknown engine `containerd`
          |
        2 | kind = "containerd"
          |        ^^^^^^^^^^^^
          hint: imagegate drives `docker` or `podman`; leave `kind` out to use whichever is installed
        "#);
}

#[test]
fn invalid_timeouts() {
    let project = Project::new();
    let error = project.error(&format!("{MINIMAL}timeout = \"45 mins and change\"\n"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:9:11: invalid timeout `45 mins and change`: expected number at 8
          |
        9 | timeout = "45 mins and change"
          |           ^^^^^^^^^^^^^^^^^^^^
          hint: write a duration such as "45m", "1h 30m" or "90s"
        "#);
    let error = project.error(&format!("{MINIMAL}timeout = \"0s\"\n"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:9:11: `timeout` is zero
          |
        9 | timeout = "0s"
          |           ^^^^
          hint: give the suite time to run, e.g. timeout = "45m"
        "#);
}

#[test]
fn attempts_out_of_range() {
    let project = Project::new();
    let error = project.error(&format!("{MINIMAL}attempts = 0\n"));
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:9:12: `attempts` must be between 1 and 10, found 0
          |
        9 | attempts = 0
          |            ^
          hint: attempts counts every run of a failing test, the first included: 1 turns reruns off, 3 is the default
        ");
    assert_eq!(project.error_kind(&format!("{MINIMAL}attempts = 11\n")), ConfigErrorKind::InvalidValue);
    assert_eq!(project.error_kind(&format!("{MINIMAL}attempts = -1\n")), ConfigErrorKind::InvalidValue);
    assert!(project.load(&format!("{MINIMAL}attempts = 10\n")).is_ok());
    assert!(project.load(&format!("{MINIMAL}attempts = 1\n")).is_ok());
}

#[test]
fn results_limits_have_safe_defaults_and_take_sizes_with_units() {
    let project = Project::new();
    let limits = |extra: &str| {
        let config = project.load(&format!("{MINIMAL}{extra}")).expect("valid");
        config.images.values().next().expect("one image").suite.results_limits
    };
    assert_eq!(limits(""), ResultsLimits { max_bytes: 256 * 1024 * 1024, max_files: 10_000 });
    assert_eq!(
        limits("max_results_size = \"1GiB\"\nmax_results_files = 3\n"),
        ResultsLimits { max_bytes: 1 << 30, max_files: 3 }
    );
    assert_eq!(limits("max_results_size = \"20 MB\"\n").max_bytes, 20_000_000);

    let error = project.error(&format!("{MINIMAL}max_results_size = \"lots\"\n"));
    assert!(error.contains("invalid max_results_size `lots`"), "{error}");
    assert!(error.contains("hint: write a size with its unit"), "{error}");
    let error = project.error(&format!("{MINIMAL}max_results_size = \"0B\"\n"));
    assert!(error.contains("`max_results_size` is zero"), "{error}");
    let error = project.error(&format!("{MINIMAL}max_results_files = 0\n"));
    assert!(error.contains("`max_results_files` must be between 1 and 1000000, found 0"), "{error}");
    assert_eq!(project.error_kind(&format!("{MINIMAL}max_results_files = 5000000\n")), ConfigErrorKind::InvalidValue);
}

#[test]
fn no_images() {
    let project = Project::new();
    let error = project.error("[engine]\nkind = \"docker\"\n");
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:3:1: no image is defined
          hint: add a table per CI image: [images.NAME] with `dockerfile` and `stable_tag`, and [images.NAME.suite] with `command` and `results`; `imagegate init` writes one per Dockerfile of the project
        ");
    let error = project.error("[images]\n");
    insta::assert_snapshot!(error, @r"
        [ROOT]/imagegate.toml:1:1: no image is defined
          |
        1 | [images]
          | ^^^^^^^^
          hint: add a table per CI image: [images.NAME] with `dockerfile` and `stable_tag`, and [images.NAME.suite] with `command` and `results`; `imagegate init` writes one per Dockerfile of the project
        ");
    assert_eq!(project.error_kind(""), ConfigErrorKind::NoImages);
}

#[test]
fn empty_branch_list() {
    let error = Project::new().error(&format!("[promote]\nbranches = []\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:2:12: `branches` in [promote] is empty, so no branch could ever promote an image
          |
        2 | branches = []
          |            ^^
          hint: list the branches where promotion is allowed, e.g. branches = ["main"]
        "#);
}

#[test]
fn invalid_platform() {
    let project = Project::new();
    let error =
        project.error(&MINIMAL.replace("context = \"ci\"", "context = \"ci\"\nplatform = \"linux/amd64,linux/arm64\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:12: `platform` in [images.debian] lists several platforms: `linux/amd64,linux/arm64`
          |
        4 | platform = "linux/amd64,linux/arm64"
          |            ^^^^^^^^^^^^^^^^^^^^^^^^^
          hint: imagegate tests an image on one platform; define one image per platform
        "#);
    let error = project.error(&MINIMAL.replace("context = \"ci\"", "context = \"ci\"\nplatform = \"amd64\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:4:12: invalid platform "amd64"
          |
        4 | platform = "amd64"
          |            ^^^^^^^
          hint: write os/architecture[/variant], e.g. platform = "linux/amd64" or "linux/arm64"
        "#);
}

#[test]
fn invalid_variable_names() {
    let error = Project::new().error(&format!("{MINIMAL}env = {{ \"A=B\" = \"x\" }}\n"));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:9:9: invalid environment variable name "A=B"
          |
        9 | env = { "A=B" = "x" }
          |         ^^^^^
          hint: environment variable names are not empty and have neither `=` nor spaces, e.g. PYTHON_VERSION
        "#);
}

#[test]
fn empty_values() {
    let project = Project::new();
    let error = project.error(&MINIMAL.replace("command = \"./run-tests.sh\"", "command = \"  \""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:7:11: `command` in [images.debian.suite] is empty
          |
        7 | command = "  "
          |           ^^^^
          hint: for example: command = "./run-tests.sh"
        "#);
    let error = project.error(&MINIMAL.replace("context = \"ci\"", "context = \"\""));
    insta::assert_snapshot!(error, @r#"
        [ROOT]/imagegate.toml:3:11: `context` is empty
          |
        3 | context = ""
          |           ^^
          hint: for example: context = "ci"
        "#);
}

#[test]
fn unreadable_files() {
    let project = Project::new();
    let missing = project.root().join("nowhere/imagegate.toml");
    let error = load(&missing).expect_err("missing");
    assert_eq!(error.kind(), ConfigErrorKind::Read);
    insta::assert_snapshot!(redact(&error.to_string(), project.root()), @r"
        [ROOT]/nowhere/imagegate.toml: could not read the file: No such file or directory (os error 2)
          hint: run `imagegate init` to write a starter imagegate.toml, or pass the path of an existing one
        ");

    let path = project.root().join(CONFIG_FILE_NAME);
    fs::write(&path, b"[engine]\nkind = \"doc\xffker\"\n").expect("write");
    let error = load(&path).expect_err("not UTF-8");
    insta::assert_snapshot!(redact(&error.to_string(), project.root()), @r#"
        [ROOT]/imagegate.toml:2:12: the file is not UTF-8 text
          |
        2 | kind = "doc
          |            ^
          hint: save imagegate.toml as UTF-8
        "#);
}

#[test]
fn every_error_names_line_column_and_ends_with_a_hint() {
    let project = Project::new();
    let broken = [
        MINIMAL.replace("dockerfile =", "dockerfil ="),
        format!("{MINIMAL}attempts = \"3\"\n"),
        format!("[engine]\nkind = docker\n{MINIMAL}"),
        MINIMAL.replace("Dockerfile.debian", "Dockerfile.nope"),
        String::new(),
    ];
    for config in broken {
        let error = project.load(&config).expect_err("invalid");
        assert!(error.line_column().is_some(), "{error}");
        let shown = error.to_string();
        let last_line = shown.lines().last().unwrap_or_default();
        assert!(last_line.starts_with("  hint: "), "{shown}");
        assert!(shown.starts_with(&format!("{}:", error.path().display())), "{shown}");
    }
}

#[test]
fn a_registry_store_loads_with_its_options() {
    let project = Project::new();
    project.write("ci/registry-ca.pem", "-----BEGIN CERTIFICATE-----\n");
    let config = project
        .load(&format!(
            "[store]\nregistry = \"registry.example.com:5000/acme/ci/\"\ncandidates = \"acme-candidates\"\ninsecure = true\nca_file = \"ci/registry-ca.pem\"\nprune_after = \"2weeks\"\n{MINIMAL}"
        ))
        .expect("loads");
    let registry = config.store.registry.expect("a registry store");
    assert_eq!(registry.host, "registry.example.com:5000");
    assert_eq!(registry.namespace, "acme/ci");
    assert_eq!(registry.location(), "registry.example.com:5000/acme/ci");
    assert_eq!(registry.candidates.as_deref(), Some("acme-candidates"));
    assert!(registry.insecure);
    assert!(registry.ca_file.expect("a CA file").ends_with("ci/registry-ca.pem"));
    assert_eq!(config.store.prune_after, Duration::from_secs(14 * 24 * 60 * 60));
}

#[test]
fn without_a_registry_the_store_is_local_and_keeps_candidates_thirty_days() {
    let config = Project::new().load(MINIMAL).expect("loads");
    assert_eq!(config.store.registry, None);
    assert_eq!(config.store.prune_after, Duration::from_secs(30 * 24 * 60 * 60));
}

#[test]
fn registry_without_namespace() {
    let error = Project::new().error(&format!("[store]\nregistry = \"ghcr.io\"\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r#"
    [ROOT]/imagegate.toml:2:12: `registry` in [store] is `ghcr.io`, with no namespace
      |
    2 | registry = "ghcr.io"
      |            ^^^^^^^^^
      hint: write HOST[:PORT]/NAMESPACE; for example: registry = "ghcr.io/acme" or "registry.example.com:5000/ci"
    "#);
}

#[test]
fn registry_with_a_scheme_or_without_a_host() {
    let project = Project::new();
    for value in ["https://ghcr.io/acme", "acme/images"] {
        let error = project.error(&format!("[store]\nregistry = \"{value}\"\n{MINIMAL}"));
        assert!(error.contains("must start with a registry host"), "{value}: {error}");
    }
}

#[test]
fn registry_options_without_a_registry() {
    let error = Project::new().error(&format!("[store]\ninsecure = true\n{MINIMAL}"));
    insta::assert_snapshot!(error, @r#"
    [ROOT]/imagegate.toml:2:12: `insecure` in [store] applies only to a registry store, and no `registry` is given
      |
    2 | insecure = true
      |            ^^^^
      hint: add registry = "HOST[:PORT]/NAMESPACE" to [store], or remove this key
    "#);
}

#[test]
fn type_error_quoted_boolean() {
    let error = Project::new().error(&format!("[store]\nregistry = \"ghcr.io/acme\"\ninsecure = \"yes\"\n{MINIMAL}"));
    assert!(error.contains("`insecure` in [store] must be a boolean (true or false), found a string"), "{error}");
}

#[test]
fn invalid_prune_after_and_missing_ca_file() {
    let project = Project::new();
    let error = project.error(&format!("[store]\nregistry = \"ghcr.io/acme\"\nprune_after = \"soon\"\n{MINIMAL}"));
    assert!(error.contains("invalid duration `soon`"), "{error}");
    let error = project.error(&format!("[store]\nregistry = \"ghcr.io/acme\"\nca_file = \"ca.pem\"\n{MINIMAL}"));
    assert!(error.contains("`ca_file` `ca.pem` is not a file"), "{error}");
}

#[test]
fn a_lockfile_inside_the_repository_loads_with_its_remote_and_branch() {
    let project = Project::new();
    fs::create_dir_all(project.root().join(".git")).expect("mark the folder as a repository");
    let config = project
        .load(&format!(
            "[store]\nlockfile = \"ci/../ci/images.lock\"\nlockfile_remote = \"upstream\"\nlockfile_branch = \"imagegate-lock\"\n{MINIMAL}"
        ))
        .expect("loads");
    let lockfile = config.store.lockfile.expect("a lockfile");
    assert_eq!(lockfile.path, project.root().join("ci/images.lock"));
    assert_eq!(lockfile.remote, "upstream");
    assert_eq!(lockfile.branch.as_deref(), Some("imagegate-lock"));

    let config = project.load(&format!("[store]\nlockfile = \"images.lock\"\n{MINIMAL}")).expect("loads");
    let lockfile = config.store.lockfile.expect("a lockfile");
    assert_eq!((lockfile.remote.as_str(), lockfile.branch), ("origin", None));
    assert_eq!(Project::new().load(MINIMAL).expect("loads").store.lockfile, None);
}

#[test]
fn a_lockfile_outside_the_repository_or_without_one_is_refused_where_it_is_written() {
    let project = Project::new();
    let error = project.error(&format!("[store]\nlockfile = \"ci/images.lock\"\n{MINIMAL}"));
    assert!(error.contains("needs a git repository"), "{error}");
    assert!(error.contains("imagegate.toml:2"), "{error}");
    assert!(error.contains("hint: run `git init`"), "{error}");

    fs::create_dir_all(project.root().join(".git")).expect("mark the folder as a repository");
    let error = project.error(&format!("[store]\nlockfile = \"../images.lock\"\n{MINIMAL}"));
    assert!(error.contains("`lockfile` `../images.lock` leaves the git repository"), "{error}");
    let error = project.error(&format!("[store]\nlockfile = \"/etc/images.lock\"\n{MINIMAL}"));
    assert!(error.contains("is the absolute path `/etc/images.lock`"), "{error}");
    let error = project.error(&format!("[store]\nlockfile = \"ci\"\n{MINIMAL}"));
    assert!(error.contains("`lockfile` `ci` is a folder"), "{error}");
    assert_eq!(project.error_kind(&format!("[store]\nlockfile = \"\"\n{MINIMAL}")), ConfigErrorKind::InvalidValue);
}

#[test]
fn lockfile_remote_and_branch_need_a_lockfile_and_a_name() {
    let project = Project::new();
    fs::create_dir_all(project.root().join(".git")).expect("mark the folder as a repository");
    let error = project.error(&format!("[store]\nlockfile_branch = \"lock\"\n{MINIMAL}"));
    assert!(error.contains("`lockfile_branch` in [store] applies only to a lockfile"), "{error}");
    let error =
        project.error(&format!("[store]\nlockfile = \"images.lock\"\nlockfile_branch = \"my lock\"\n{MINIMAL}"));
    assert!(error.contains("invalid branch `my lock`"), "{error}");
    let error = project.error(&format!("[store]\nlockfile = \"images.lock\"\nlockfile_remote = \"\"\n{MINIMAL}"));
    assert!(error.contains("invalid git remote"), "{error}");
}

/// Every value a hint suggests, written back in place of the refused one, is accepted: a hint
/// never leads from one error to another.
#[test]
fn every_suggested_value_is_itself_valid() {
    let project = Project::new();
    project.write("ci/Dockerfile", "FROM debian:12\n");
    // (the offending line in MINIMAL's place, or added to it; the key whose hint is followed)
    let cases: &[(&str, &str, &str)] = &[
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"Acme/de..bian:12\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"Acme/Debian:.hidden\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"Acme/Debian:12\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"a/b:-1@sha256:0123\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"De..bian@sha256:0123\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"@sha256:0123\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"acme//debian\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"-bad.host:5000/ci\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"acme/debian:with space\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = \"\"", "stable_tag"),
        ("stable_tag = \"acme-ci/debian:12\"", "stable_tag = 12", "stable_tag"),
        ("results = \"/results\"", "results = \"../../etc\"", "results"),
        ("results = \"/results\"", "results = \"etc\"", "results"),
        ("results = \"/results\"", "results = \"./out/junit\"", "results"),
        ("results = \"/results\"", "results = \"/../../etc\"", "results"),
        ("results = \"/results\"", "results = \"/\"", "results"),
        ("results = \"/results\"", "results = 5", "results"),
        ("results = \"/results\"", "results = \"/results\"\nworkdir = \"../src\"", "workdir"),
        ("results = \"/results\"", "results = \"/results\"\nworkdir = \"/a/../..\"", "workdir"),
        ("results = \"/results\"", "results = \"/results\"\nworkdir = true", "workdir"),
        ("results = \"/results\"", "results = \"/results\"\ntimeout = -5", "timeout"),
        ("results = \"/results\"", "results = \"/results\"\ntimeout = 0", "timeout"),
        ("results = \"/results\"", "results = \"/results\"\ntimeout = 30", "timeout"),
        ("results = \"/results\"", "results = \"/results\"\ntimeout = \"0s\"", "timeout"),
        ("results = \"/results\"", "results = \"/results\"\nnetwork = 1", "network"),
        ("context = \"ci\"", "context = \"ci\"\nplatform = \"amd64\"", "platform"),
        ("context = \"ci\"", "context = \"ci\"\ntarget = 7", "target"),
    ];
    let suggestion = regex::Regex::new(r#"(?:^|[ :(])([a-z_]+) = ("[^"]*"|-?[0-9]+|true|false)"#).unwrap();
    for (original, replacement, key) in cases {
        let config = MINIMAL.replace(original, replacement);
        assert_ne!(config, MINIMAL, "{original}");
        let error = project.load(&config).expect_err(&format!("`{replacement}` is refused"));
        let hint = error.hint().to_owned();
        let suggested: Vec<String> = suggestion
            .captures_iter(&hint)
            .filter(|found| &found[1] == *key)
            .map(|found| found[2].to_owned())
            .collect();
        assert!(!suggested.is_empty(), "the hint for `{replacement}` suggests no {key}: {hint}");
        for value in suggested {
            let fixed: String =
                config
                    .lines()
                    .map(|line| {
                        if line.starts_with(&format!("{key} =")) { format!("{key} = {value}") } else { line.to_owned() }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            if let Err(again) = project.load(&fixed) {
                panic!("`{replacement}` suggests {key} = {value}, which is refused too:\n{again}");
            }
        }
    }
}

#[test]
fn a_relative_results_folder_is_never_moved_onto_a_system_folder() {
    let project = Project::new();
    for (written, suggested) in [
        ("../../etc", "/results"),
        ("etc", "/results"),
        ("usr/lib", "/results"),
        ("./tmp", "/results"),
        ("src", "/results"),
        ("out/../..", "/results"),
        ("./out/junit", "/out/junit"),
        ("reports", "/reports"),
    ] {
        let hint =
            project.load(&MINIMAL.replace("results = \"/results\"", &format!("results = \"{written}\""))).unwrap_err();
        assert_eq!(hint.hint(), format!("for example: results = \"{suggested}\""), "{written}");
    }
}

#[test]
fn incumbent_runs_and_concurrency() {
    let project = Project::new();
    let config = project.load(&format!("{MINIMAL}incumbent = \"full\"\n")).expect("valid");
    assert_eq!(config.images.values().next().map(|image| image.suite.incumbent), Some(crate::IncumbentRuns::Full));
    let error = project.error(&format!("{MINIMAL}incumbent = \"some\"\n"));
    assert!(error.contains("unknown `incumbent` value `some`") && error.contains("hint:"), "{error}");
    let error = project.error(&format!("[engine]\nconcurrency = 0\n{MINIMAL}"));
    assert!(error.contains("`concurrency` must be between 1 and 16, found 0") && error.contains("hint:"), "{error}");
    let config = project.load(&format!("[engine]\nconcurrency = 1\n{MINIMAL}")).expect("valid");
    assert_eq!(config.engine.concurrency(), 1);
}

#[test]
fn culprit_budget_and_keep() {
    let project = Project::new();
    let config = project.load(MINIMAL).expect("valid");
    let image = config.images.values().next().expect("an image");
    assert_eq!(image.culprits, crate::CulpritsConfig { budget: crate::DEFAULT_CULPRIT_BUDGET, keep: false });
    let name = &image.name;
    let config = project.load(&format!("{MINIMAL}[images.{name}.culprits]\nbudget = 0\nkeep = true\n")).expect("valid");
    let image = config.images.values().next().expect("an image");
    assert_eq!(image.culprits, crate::CulpritsConfig { budget: 0, keep: true });
    let error = project.error(&format!("{MINIMAL}[images.{name}.culprits]\nbudget = 65\n"));
    assert!(
        error.contains("`budget` in [images.")
            && error.contains("must be between 0 and 64, found 65")
            && error.contains("hint:"),
        "{error}"
    );
    let error = project.error(&format!("{MINIMAL}[images.{name}.culprits]\nbudegt = 3\n"));
    assert!(error.contains("budegt"), "{error}");
}
