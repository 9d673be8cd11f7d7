//! The Dockerfile analysis on recipes shaped like real CI images: a Tahoe-LAFS-like image built
//! from the repository root, multi-stage builds, continuations, heredocs and directives.

use std::collections::BTreeMap;

use super::*;

/// In the shape of Tahoe-LAFS's `.circleci/Dockerfile.debian` (written for these tests).
const DEBIAN: &str = r#"ARG TAG
FROM debian:${TAG}
ARG PYTHON_VERSION

ENV DEBIAN_FRONTEND=noninteractive
ENV WHEELHOUSE_PATH /tmp/wheelhouse
ENV BUILD_SRC_ROOT /tmp/project

# Install the interpreter the variant is named after.
RUN apt-get --quiet update && \
    apt-get --quiet --yes install \
        git \
        python${PYTHON_VERSION} \
        python${PYTHON_VERSION}-dev

COPY .circleci/apt-tor-list /etc/apt/sources.list.d/tor.list
COPY . ${BUILD_SRC_ROOT}

RUN "${BUILD_SRC_ROOT}"/.circleci/prepare-image.sh "${WHEELHOUSE_PATH}" "python${PYTHON_VERSION}"
"#;

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

fn sources(dockerfile: &Dockerfile) -> Vec<(&'static str, String, usize)> {
    dockerfile.context_sources().into_iter().map(|source| (source.instruction, source.source, source.line)).collect()
}

#[test]
fn tahoe_shaped_recipe_declares_its_args_and_sources() {
    let dockerfile = parse(DEBIAN);
    assert_eq!(
        dockerfile.args(),
        [
            ArgDecl { name: "TAG".into(), default: None, line: 1, global: true },
            ArgDecl { name: "PYTHON_VERSION".into(), default: None, line: 3, global: false },
        ]
    );
    assert_eq!(dockerfile.froms(), [FromLine { image: "debian:${TAG}".into(), alias: None, line: 2 }]);
    let required: Vec<(&str, usize)> =
        dockerfile.required_args().into_iter().map(|arg| (arg.name.as_str(), arg.line)).collect();
    assert_eq!(required, [("TAG", 1), ("PYTHON_VERSION", 3)]);
    assert_eq!(
        sources(&dockerfile),
        [("COPY", ".circleci/apt-tor-list".to_string(), 16), ("COPY", ".".to_string(), 17)]
    );
}

#[test]
fn base_image_resolves_with_build_args_or_names_what_is_missing() {
    let dockerfile = parse(DEBIAN);
    assert_eq!(
        dockerfile.base_images(&args(&[("TAG", "12")])),
        [BaseImage::Image { reference: "debian:12".into(), line: 2 }]
    );
    assert_eq!(
        dockerfile.base_images(&BTreeMap::new()),
        [BaseImage::Unresolved { written: "debian:${TAG}".into(), missing: vec!["TAG".into()], line: 2 }]
    );
}

#[test]
fn copy_source_expands_with_stage_env_and_args() {
    let dockerfile = parse("FROM busybox\nARG DIR=ci\nENV SUB=files\nCOPY ${DIR}/$SUB/x /x\nCOPY $NOPE /y\n");
    let found = dockerfile.context_sources();
    assert_eq!(dockerfile.expand_source(&found[0], &BTreeMap::new()).text, "ci/files/x");
    assert_eq!(dockerfile.expand_source(&found[0], &args(&[("DIR", "other")])).text, "other/files/x");
    let unset = dockerfile.expand_source(&found[1], &BTreeMap::new());
    assert_eq!(unset.missing, ["NOPE"]);
}

#[test]
fn args_with_defaults_or_unused_are_not_required() {
    let dockerfile = parse(
        "ARG BASE=alpine\nARG UNUSED\nARG VERSION\nFROM ${BASE}:${VERSION}\n\
         ARG VERSION\nARG BASE\nARG LATE\nRUN echo $BASE\nARG NEVER\n",
    );
    let required: Vec<(&str, usize, bool)> =
        dockerfile.required_args().into_iter().map(|arg| (arg.name.as_str(), arg.line, arg.global)).collect();
    // BASE inherits the global default in its stage; LATE is declared after its only use;
    // VERSION is listed once, at its first declaration.
    assert_eq!(required, [("VERSION", 3, true)]);
}

#[test]
fn global_arg_used_inside_a_stage_without_redeclaring_is_not_required() {
    // A global ARG is not visible inside a stage unless redeclared there.
    let dockerfile = parse("ARG SECRET\nFROM busybox\nRUN echo $SECRET\n");
    assert!(dockerfile.required_args().is_empty());
}

#[test]
fn multi_stage_names_stages_and_skips_copy_from() {
    let dockerfile = parse(
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nCOPY go.mod go.sum ./\n\
         FROM build as test\nFROM scratch\nCOPY --from=build /out/app /app\n\
         COPY --chown=1000:1000 --link config.toml /etc/app/\n",
    );
    assert_eq!(
        dockerfile.base_images(&BTreeMap::new()),
        [
            BaseImage::Image { reference: "golang:1.22".into(), line: 1 },
            BaseImage::Stage { name: "build".into(), line: 3 },
            BaseImage::Scratch { line: 4 },
        ]
    );
    assert_eq!(dockerfile.froms()[1].alias.as_deref(), Some("test"));
    assert_eq!(
        sources(&dockerfile),
        [("COPY", "go.mod".to_string(), 2), ("COPY", "go.sum".to_string(), 2), ("COPY", "config.toml".to_string(), 6),]
    );
}

#[test]
fn a_target_stage_ends_at_the_next_from() {
    let dockerfile = parse("FROM alpine AS base\nRUN true\nFROM base AS test\nCOPY x /x\nFROM base AS release\n");
    assert_eq!(dockerfile.lines_built_before("TEST"), Some(5));
    assert_eq!(dockerfile.lines_built_before("release"), None);
    assert_eq!(dockerfile.lines_built_before("nope"), None);
}

#[test]
fn continuations_keep_the_first_line_and_drop_inner_comments() {
    let dockerfile =
        parse("FROM alpine\nCOPY \\\n# a comment in the middle\n\n   a.txt \\\n   b.txt \\\n  /dest/\nARG X\n");
    assert_eq!(sources(&dockerfile), [("COPY", "a.txt".to_string(), 2), ("COPY", "b.txt".to_string(), 2)]);
    assert_eq!(dockerfile.args()[0].line, 8);
}

#[test]
fn heredoc_bodies_are_not_instructions() {
    let dockerfile = parse(
        "# syntax=docker/dockerfile:1\nFROM alpine\nRUN <<EOF\nARG NOT_AN_ARG\nCOPY nothing /here\nEOF\n\
         COPY <<-\"END\" /etc/config\n\tFROM not-a-stage\n\tEND\nRUN cat <<<\"here string\"\nCOPY real.txt /\n",
    );
    assert!(dockerfile.args().is_empty());
    assert_eq!(dockerfile.froms().len(), 1);
    assert_eq!(sources(&dockerfile), [("COPY", "real.txt".to_string(), 11)]);
}

#[test]
fn json_form_and_remote_sources() {
    let dockerfile = parse(
        "FROM alpine\nCOPY [\"with space.txt\", \"b.txt\", \"/dest/\"]\n\
         ADD https://example.invalid/x.tar.gz /x\nADD git@example.invalid:r.git /r\nADD local.tar /l\n",
    );
    assert_eq!(
        sources(&dockerfile),
        [
            ("COPY", "with space.txt".to_string(), 2),
            ("COPY", "b.txt".to_string(), 2),
            ("ADD", "local.tar".to_string(), 5),
        ]
    );
}

#[test]
fn escape_directive_changes_the_continuation_character() {
    let dockerfile = parse("# escape=`\nFROM mcr.example/windows\nCOPY `\n  C:\\src\\app.txt `\n  C:\\app\\\n");
    assert_eq!(sources(&dockerfile), [("COPY", "C:\\src\\app.txt".to_string(), 3)]);
}

#[test]
fn directives_stop_at_the_first_other_line() {
    // After an instruction, `# escape=` is a comment: the backslash still continues lines.
    let dockerfile = parse("FROM alpine\n# escape=`\nCOPY a \\\n b /\n");
    assert_eq!(sources(&dockerfile), [("COPY", "a".to_string(), 3), ("COPY", "b".to_string(), 3)]);
}

#[test]
fn expansion_forms() {
    let values = args(&[("SET", "v"), ("EMPTY", "")]);
    let lookup = |name: &str| values.get(name).cloned();
    assert_eq!(expand("${SET}-$SET-${UNSET:-d}-${SET:+a}-${UNSET:+a}", '\\', lookup).text, "v-v-d-a-");
    assert_eq!(expand("${EMPTY:-fallback}", '\\', lookup).text, "fallback");
    let unset = expand("x:${A}$B${A}", '\\', lookup);
    assert_eq!((unset.text.as_str(), unset.missing), ("x:", vec!["A".to_string(), "B".to_string()]));
    assert_eq!(expand("\\$SET", '\\', lookup).text, "$SET");
}

#[test]
fn malformed_lines_are_skipped_not_fatal() {
    let dockerfile = parse("FROM\nCOPY onlyone\n=== nonsense\nARG 1BAD\nFROM ok\n\\\n");
    assert_eq!(dockerfile.froms(), [FromLine { image: "ok".into(), alias: None, line: 5 }]);
    assert!(dockerfile.context_sources().is_empty());
    assert!(dockerfile.args().is_empty());
}
