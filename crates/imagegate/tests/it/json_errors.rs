//! Every `--json` run prints a JSON document on stdout whatever its exit code: a command that
//! fails prints an `imagegate.error/v1` document (exit code, kind, message, hint) instead of
//! its own, for bad configuration (exit 2), an engine or a registry that does not answer
//! (exit 3) and bad arguments.

use serde_json::Value;

use crate::context::{Engine, Run, TestContext};

/// The one error document of `run`, checked against the exit code it must carry.
#[track_caller]
fn error_document(run: &Run, code: i32, kind: &str) -> Value {
    run.expect_code(code);
    let lines: Vec<&str> = run.stdout.lines().filter(|line| !line.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one document on stdout\n{run}");
    let document: Value = serde_json::from_str(lines[0]).unwrap_or_else(|error| panic!("not JSON ({error})\n{run}"));
    assert_eq!(document["schema"], "imagegate.error/v1", "{run}");
    assert_eq!(document["exit_code"], code, "{run}");
    assert_eq!(document["kind"], kind, "{run}");
    let message = document["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty() && !message.contains("hint:"), "the hint is apart from the message\n{run}");
    document
}

/// The commands that take `--json` and read the configuration, with the image's name where
/// one is needed.
fn commands(image: &str) -> Vec<Vec<String>> {
    [
        vec!["plan"],
        vec!["build"],
        vec!["gate"],
        vec!["gate", "--promote"],
        vec!["promote"],
        vec!["rollback", image],
        vec!["history"],
        vec!["test"],
        vec!["prune", "--dry-run"],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(str::to_owned).chain(["--json".to_owned()]).collect())
    .collect()
}

fn run(context: &TestContext, args: &[String], env: &[(&str, &str)]) -> Run {
    let mut command = context.command();
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    Run::from(command.output().unwrap())
}

#[test]
fn bad_configuration_prints_an_error_document_with_exit_2() {
    let context = TestContext::new(Engine::Docker, &[], "a pass\n");
    let path = context.path("imagegate.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("context = \"ci\"", "context = \"ci\"\ncontexts = \"x\"")).unwrap();
    for args in commands(&context.image) {
        let run = run(&context, &args, &[]);
        let document = error_document(&run, 2, "config");
        assert_eq!(document["command"], args[0], "{run}");
        assert!(document["message"].as_str().unwrap().contains("unknown key `contexts`"), "{run}");
        assert!(document["hint"].as_str().unwrap().contains("`context`"), "{run}");
    }
}

#[test]
fn an_unreachable_registry_prints_an_error_document_with_exit_3() {
    let context = TestContext::new(Engine::Docker, &[], "a pass\n");
    let path = context.path("imagegate.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // A loopback port nothing listens on: every request is refused at once.
    let port = imagegate_testkit::free_port();
    std::fs::write(&path, format!("[store]\nregistry = \"127.0.0.1:{port}/it\"\n\n{text}")).unwrap();
    for args in [vec!["history", "--json"], vec!["plan", "--json"], vec!["gate", "--json"], vec!["prune", "--json"]] {
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let run = run(&context, &args, &[]);
        let document = error_document(&run, 3, "registry");
        assert!(document["message"].as_str().unwrap().contains(&format!("127.0.0.1:{port}")), "{run}");
        assert!(document["hint"].as_str().unwrap().contains("registry is up"), "{run}");
    }
}

#[test]
fn an_unreachable_engine_prints_an_error_document_with_exit_3() {
    let context = TestContext::new(Engine::Docker, &[], "a pass\n");
    let nowhere = format!("tcp://127.0.0.1:{}", imagegate_testkit::free_port());
    for args in commands(&context.image) {
        let run = run(&context, &args, &[("DOCKER_HOST", &nowhere)]);
        let document = error_document(&run, 3, "engine");
        assert!(document["message"].as_str().unwrap().contains("docker"), "{run}");
    }
}

#[test]
fn bad_arguments_with_json_print_an_error_document_with_exit_2() {
    let context = TestContext::new(Engine::Docker, &[], "a pass\n");
    let args: Vec<String> = ["history", "--json", "--no-such-flag"].map(str::to_owned).to_vec();
    let run = run(&context, &args, &[]);
    let document = error_document(&run, 2, "usage");
    assert_eq!(document["command"], "history");
    assert!(document["message"].as_str().unwrap().contains("--no-such-flag"), "{run}");
    // Help is not an error: no document.
    let help = run_help(&context);
    assert_eq!(help.code, 0, "{help}");
}

fn run_help(context: &TestContext) -> Run {
    let args: Vec<String> = ["history", "--json", "--help"].map(str::to_owned).to_vec();
    run(context, &args, &[])
}
