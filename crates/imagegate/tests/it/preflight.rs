//! The preflight and `inputs` on a project shaped like Tahoe-LAFS's CI images: the repository
//! root as build context, `ARG TAG` in `FROM`, a COPY of a file under `.circleci/` and a COPY of
//! the whole checkout.

use std::fs;

use crate::both_engines;
use crate::context::{BASE_IMAGE, Engine, TestContext};

/// `imagegate-test/busybox:base` split at the tag, so the Dockerfile can take the tag from an ARG.
fn base_name() -> &'static str {
    BASE_IMAGE.split_once(':').map(|(name, _)| name).expect("the base image has a tag")
}

const BASE_TAG: &str = "base";

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_loopback_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Turns a test project into the Tahoe-LAFS shape and commits it.
fn tahoe_shaped(engine: Engine) -> TestContext {
    let context = TestContext::new(engine, &["alpha"], "test_a pass\ntest_b pass\n");
    fs::create_dir_all(context.path(".circleci/lib")).unwrap();
    write_dockerfile(&context, &format!("{}:${{TAG}}", base_name()));
    fs::write(context.path(".circleci/lib/features"), "alpha\n").unwrap();
    fs::write(context.path(".circleci/apt-tor-list"), "deb https://deb.torproject.invalid bookworm main\n").unwrap();
    fs::create_dir_all(context.path("src/allmydata")).unwrap();
    fs::write(context.path("src/allmydata/__init__.py"), "version = 1\n").unwrap();
    fs::write(context.path(".dockerignore"), ".git\n.imagegate\n").unwrap();
    write_config(&context, r#"build_args = { TAG = "base", PYTHON_VERSION = "3.11" }"#, true);
    context.commit("tahoe-shaped CI image");
    context
}

fn write_dockerfile(context: &TestContext, from: &str) {
    let text = format!(
        "ARG TAG\nFROM {from}\nARG PYTHON_VERSION\nENV BUILD_SRC_ROOT=/opt/project\n\
         COPY .circleci/apt-tor-list /etc/tor.list\nCOPY .circleci/lib/ /opt/lib/\n\
         COPY . ${{BUILD_SRC_ROOT}}\nRUN echo \"python${{PYTHON_VERSION}}\" > /opt/python-version\n"
    );
    fs::write(context.path(".circleci/Dockerfile.debian"), text).unwrap();
}

fn write_config(context: &TestContext, build_args: &str, inputs: bool) {
    let inputs = if inputs { "inputs = [\".circleci/**\"]\n" } else { "" };
    let config = format!(
        r#"[engine]
kind = "{engine}"

[images.{image}]
dockerfile = ".circleci/Dockerfile.debian"
{inputs}{build_args}
stable_tag = "{stable}"

[images.{image}.suite]
command = "sh tests/run.sh"
results = "/results"
workdir = "/src"
timeout = "2m"
"#,
        engine = context.engine.name(),
        image = context.image,
        stable = context.stable_tag,
    );
    fs::write(context.path("imagegate.toml"), config).unwrap();
}

both_engines!(a_complete_tahoe_shaped_project_passes_and_reuses_across_source_commits, |engine: Engine| {
    let context = tahoe_shaped(engine);
    let plan = context.run(&["plan"]);
    plan.expect_code(0);
    assert!(plan.stdout.starts_with(&format!("engine: {}\n", engine.name())), "{plan}");
    assert!(!plan.stderr.contains("every commit is a new recipe"), "{plan}");

    let (gate, first) = context.gate(&[]);
    gate.expect_code(0);
    assert_eq!(first["candidate"]["source"], "built");

    // A commit that touches only project source: the same recipe.
    fs::write(context.path("src/allmydata/__init__.py"), "version = 2\n").unwrap();
    context.commit("change project source");
    let plan = context.run(&["plan", "--json"]).json();
    assert_eq!(plan["images"][0]["action"], "reuse", "{plan}");
    assert_eq!(plan["images"][0]["inputs_digest"], first["candidate"]["inputs_digest"]);
    assert!(plan.get("problems").is_none(), "a clean plan has no problems: {plan}");

    // A file the `inputs` select: a new recipe.
    fs::write(context.path(".circleci/apt-tor-list"), "deb https://other.invalid bookworm main\n").unwrap();
    context.commit("change the image");
    let plan = context.run(&["plan", "--json"]).json();
    assert_eq!(plan["images"][0]["action"], "build", "{plan}");
    assert_ne!(plan["images"][0]["inputs_digest"], first["candidate"]["inputs_digest"]);
});

#[test]
fn removing_a_required_build_arg_stops_plan_and_gate_naming_the_arg_and_line() {
    let context = tahoe_shaped(Engine::Docker);
    write_config(&context, r#"build_args = { PYTHON_VERSION = "3.11" }"#, true);

    let plan = context.run(&["plan"]);
    plan.expect_code(2);
    assert!(
        plan.stderr.contains(&format!(
            "`.circleci/Dockerfile.debian:1`: ARG TAG has no default and image `{}` sets no build arg TAG",
            context.image
        )),
        "{plan}"
    );
    assert!(plan.stderr.contains("hint: add `TAG = \"…\"` to `build_args`"), "{plan}");

    let json = context.run(&["plan", "--json"]);
    json.expect_code(2);
    let problems = &json.json()["problems"];
    assert_eq!(problems.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(problems[0]["file"], ".circleci/Dockerfile.debian");
    assert_eq!(problems[0]["line"], 1);

    let gate = context.run(&["gate"]);
    gate.expect_code(2);
    assert!(gate.stderr.contains("ARG TAG has no default"), "{gate}");
    assert!(gate.stderr.contains("nothing was built"), "{gate}");
    assert_eq!(context.run(&["plan", "--json"]).json()["images"][0]["action"], "build", "no candidate was built");
}

#[test]
fn a_missing_copy_source_stops_plan_naming_the_line() {
    let context = tahoe_shaped(Engine::Docker);
    fs::remove_file(context.path(".circleci/apt-tor-list")).unwrap();
    context.commit("lose a file");
    let plan = context.run(&["plan"]);
    plan.expect_code(2);
    assert!(
        plan.stderr.contains(
            "`.circleci/Dockerfile.debian:5`: COPY source `.circleci/apt-tor-list` is not in the build context `.`"
        ),
        "{plan}"
    );
    let build = context.run(&["build"]);
    build.expect_code(2);
    assert!(build.stderr.contains("apt-tor-list"), "{build}");
}

both_engines!(an_absent_base_image_is_named_with_the_hint, |engine: Engine| {
    let context = tahoe_shaped(engine);
    let port = closed_loopback_port();
    let absent = format!("127.0.0.1:{port}/imagegate-absent/busybox:{BASE_TAG}");
    write_dockerfile(&context, &format!("127.0.0.1:{port}/imagegate-absent/busybox:${{TAG}}"));
    context.commit("a base image nobody has");
    let plan = context.run(&["plan"]);
    plan.expect_code(2);
    assert!(plan.stderr.contains(&format!("`.circleci/Dockerfile.debian:2`: base image `{absent}`")), "{plan}");
    assert!(plan.stderr.contains(&format!("import/tag a local image as `{absent}`")), "{plan}");
});

#[test]
fn the_root_context_without_inputs_warns_that_every_commit_is_a_new_recipe() {
    let context = tahoe_shaped(Engine::Docker);
    write_config(&context, r#"build_args = { TAG = "base", PYTHON_VERSION = "3.11" }"#, false);
    let plan = context.run(&["plan"]);
    plan.expect_code(0);
    assert!(plan.stderr.contains("every commit is a new recipe"), "{plan}");
    assert!(plan.stderr.contains("hint: set `inputs`"), "{plan}");
    let json = context.run(&["plan", "--json"]).json();
    assert_eq!(json["warnings"][0]["line"], 4, "{json}");
}

#[test]
fn a_base_image_from_an_arg_default_is_checked_before_building() {
    let context = tahoe_shaped(Engine::Docker);
    let port = closed_loopback_port();
    fs::write(
        context.path(".circleci/Dockerfile.debian"),
        format!("ARG BASE=127.0.0.1:{port}/imagegate-absent/busybox:{BASE_TAG}\nFROM ${{BASE}}\n"),
    )
    .unwrap();
    context.commit("a base image nobody has");
    let build = context.run(&["build"]);
    build.expect_code(2);
    assert!(build.stderr.contains("`.circleci/Dockerfile.debian:2`: base image `127.0.0.1:"), "{build}");
    assert!(build.stderr.contains("nothing was built"), "{build}");
}
