//! GitHub Actions: detection from the default environment variables and the event payload, and
//! the text of step outputs, job summaries and annotations.
//!
//! Variables read (GitHub's "Variables reference", default environment variables):
//! `GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`, `GITHUB_REF` (else `GITHUB_REF_TYPE` and
//! `GITHUB_REF_NAME`), `GITHUB_HEAD_REF`, `GITHUB_SHA`, `GITHUB_REPOSITORY`,
//! `GITHUB_SERVER_URL` and `GITHUB_RUN_ID` (the run URL is
//! `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`, as that page gives it).
//! GitHub does not let a workflow override `GITHUB_*` variables, which is why they are believed.
//!
//! From the event payload (GitHub's "Webhook events and payloads"): `repository.default_branch`,
//! and for pull request events `pull_request.number`, `pull_request.head.sha`,
//! `pull_request.head.ref` and the head and base repositories.
//!
//! Events: `push` (a branch or, by its ref, a tag), `schedule` and `workflow_dispatch` are
//! trusted; `pull_request`, `pull_request_target`, `pull_request_review` and
//! `pull_request_review_comment` are pull requests; every other event (`merge_group`,
//! `workflow_run`, `repository_dispatch`, `issue_comment`, `release`, …) is
//! [`Event::Other`], not trusted.
//!
//! For a pull request, the commit is `pull_request.head.sha`, the commit its author pushed:
//! `GITHUB_SHA` is then a merge commit GitHub makes on `refs/pull/N/merge` (or, for
//! `pull_request_target`, the base branch's head), which no branch holds and GitHub remakes
//! whenever the base branch moves, so a verdict recorded against it could not be found again.

use std::path::Path;

use serde_json::Value;

use crate::detect::{Environment, ReadFile};
use crate::error::{CiError, OutputError};
use crate::publication::{Annotation, AnnotationKind, ImageReference};
use crate::run::{CiRun, Event, Provider};

/// Events whose payload carries a `pull_request` object and whose code comes from a pull request.
const PULL_REQUEST_EVENTS: [&str; 4] =
    ["pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment"];

const RUNNER_HINT: &str = "GitHub Actions sets this in every step; run `imagegate ci` in a step of the workflow job";

pub(crate) fn detect(environment: &Environment<'_>, read_file: ReadFile<'_>) -> Result<CiRun, CiError> {
    let event_name = environment.require(Provider::GitHub, "GITHUB_EVENT_NAME", RUNNER_HINT)?;
    let payload_path = Path::new(environment.require(Provider::GitHub, "GITHUB_EVENT_PATH", RUNNER_HINT)?);
    let bytes = read_file(payload_path)
        .map_err(|source| CiError::UnreadablePayload { path: payload_path.to_owned(), source })?;
    let payload = Payload::parse(payload_path, &bytes)?;

    let repository = environment.get("GITHUB_REPOSITORY");
    let run_url = match (environment.get("GITHUB_SERVER_URL"), repository, environment.get("GITHUB_RUN_ID")) {
        (Some(server), Some(repository), Some(run_id)) => {
            Some(format!("{}/{repository}/actions/runs/{run_id}", server.trim_end_matches('/')))
        }
        _ => None,
    };
    let mut run = CiRun {
        provider: Provider::GitHub,
        provider_event: event_name.to_owned(),
        event: Event::Other(event_name.to_owned()),
        branch: None,
        default_branch: payload.string("/repository/default_branch")?.map(str::to_owned),
        commit: environment.get("GITHUB_SHA").map(str::to_owned),
        repository: repository.map(str::to_owned),
        trusted: false,
        pull_request: None,
        run_url,
        warnings: Vec::new(),
        ephemeral_runner: None,
    };

    if PULL_REQUEST_EVENTS.contains(&event_name) {
        let Some(Value::Object(_)) = payload.value.get("pull_request") else {
            return Err(payload.malformed(format!("a `{event_name}` event has no `pull_request` object")));
        };
        let number = match payload.number("/pull_request/number")? {
            Some(number) => number,
            None => payload
                .number("/number")?
                .ok_or_else(|| payload.malformed(format!("a `{event_name}` event has no `pull_request.number`")))?,
        };
        run.pull_request = Some(number);
        run.event = if payload.is_from_fork()? { Event::ForkPullRequest } else { Event::PullRequest };
        run.branch = match environment.get("GITHUB_HEAD_REF") {
            Some(head) => Some(head.to_owned()),
            None => payload.string("/pull_request/head/ref")?.map(str::to_owned),
        };
        if let Some(head_sha) = payload.string("/pull_request/head/sha")? {
            run.commit = Some(head_sha.to_owned());
        }
        return Ok(run);
    }

    let reference = Reference::of(environment);
    run.event = match (event_name, &reference) {
        ("push", Reference::Tag) => Event::Tag,
        ("push", Reference::Branch(_)) => Event::Push,
        ("push", Reference::Other(reference)) => {
            return Err(CiError::InvalidValue {
                variable: "GITHUB_REF",
                value: (*reference).to_owned(),
                hint: "a push event's ref is a branch (`refs/heads/…`) or a tag (`refs/tags/…`)",
            });
        }
        ("push", Reference::Missing) => {
            return Err(CiError::MissingVariable {
                provider: Provider::GitHub,
                variable: "GITHUB_REF",
                hint: RUNNER_HINT,
            });
        }
        ("schedule", _) => Event::Schedule,
        ("workflow_dispatch", _) => Event::Manual,
        (other, _) => Event::Other(other.to_owned()),
    };
    run.trusted = run.event.is_trusted();
    if let Reference::Branch(branch) = reference {
        run.branch = Some(branch.to_owned());
    }
    // GitHub sends a schedule event with no repository object; scheduled workflows run on the
    // latest commit of the default branch, so the run's branch is the default branch.
    if run.event == Event::Schedule && run.default_branch.is_none() {
        run.default_branch.clone_from(&run.branch);
    }
    Ok(run)
}

/// What the run's ref names.
enum Reference<'a> {
    Branch(&'a str),
    Tag,
    /// A ref that is neither, e.g. `refs/pull/7/merge`.
    Other(&'a str),
    Missing,
}

impl<'a> Reference<'a> {
    fn of(environment: &Environment<'a>) -> Reference<'a> {
        if let Some(full) = environment.get("GITHUB_REF") {
            return if let Some(branch) = full.strip_prefix("refs/heads/") {
                Reference::Branch(branch)
            } else if full.starts_with("refs/tags/") {
                Reference::Tag
            } else {
                Reference::Other(full)
            };
        }
        match (environment.get("GITHUB_REF_TYPE"), environment.get("GITHUB_REF_NAME")) {
            (Some("branch"), Some(name)) => Reference::Branch(name),
            (Some("tag"), Some(_)) => Reference::Tag,
            (_, Some(name)) => Reference::Other(name),
            (_, None) => Reference::Missing,
        }
    }
}

/// The event payload: a JSON object, read with checks that each field GitHub documents has the
/// documented type. A field of the wrong type is an error, never a default.
struct Payload<'a> {
    path: &'a Path,
    value: Value,
}

impl<'a> Payload<'a> {
    fn parse(path: &'a Path, bytes: &[u8]) -> Result<Self, CiError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|error| CiError::MalformedPayload {
            path: path.to_owned(),
            reason: format!("not JSON: {error}"),
        })?;
        if !value.is_object() {
            return Err(CiError::MalformedPayload { path: path.to_owned(), reason: "not a JSON object".to_owned() });
        }
        Ok(Payload { path, value })
    }

    fn malformed(&self, reason: String) -> CiError {
        CiError::MalformedPayload { path: self.path.to_owned(), reason }
    }

    fn field_name(pointer: &str) -> String {
        pointer.trim_start_matches('/').replace('/', ".")
    }

    /// A string field; `null` and absence are both `None`.
    fn string(&self, pointer: &str) -> Result<Option<&str>, CiError> {
        match self.value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text).filter(|text| !text.is_empty()).map(String::as_str)),
            Some(_) => Err(self.malformed(format!("`{}` is not a string", Self::field_name(pointer)))),
        }
    }

    fn number(&self, pointer: &str) -> Result<Option<u64>, CiError> {
        match self.value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.malformed(format!("`{}` is not a whole number", Self::field_name(pointer)))),
        }
    }

    /// Whether the pull request's head repository is another repository than its base.
    ///
    /// The head repository is `null` when the fork has been deleted, and a missing name is
    /// treated as another repository: either way the run cannot be shown to hold only the
    /// project's own code. `head.repo.fork` is not used: it says whether the head repository is
    /// a fork of anything, which is also true for a branch of a repository that is itself a
    /// fork, so it cannot tell an outside pull request from an inside one.
    fn is_from_fork(&self) -> Result<bool, CiError> {
        let head = self.string("/pull_request/head/repo/full_name")?;
        let base = match self.string("/pull_request/base/repo/full_name")? {
            Some(base) => Some(base),
            None => self.string("/repository/full_name")?,
        };
        let names_differ = match (head, base) {
            (Some(head), Some(base)) => head != base,
            _ => true,
        };
        let ids_differ = match (self.number("/pull_request/head/repo/id")?, self.number("/pull_request/base/repo/id")?)
        {
            (Some(head), Some(base)) => head != base,
            _ => false,
        };
        Ok(names_differ || ids_differ)
    }
}

/// Lines to append to `$GITHUB_OUTPUT`: `image-NAME=REF` for each image.
///
/// A value with a line break is written as `image-NAME<<DELIMITER`, the value, and the
/// delimiter on a line of its own (GitHub's "Workflow commands", multiline strings). The
/// delimiter is derived from the content: `IMAGEGATE_EOF`, lengthened until it occurs in
/// neither the name nor the value, so it cannot end the value early and the file is the same
/// for the same outputs.
pub fn output_lines(images: &[ImageReference]) -> Result<String, OutputError> {
    const FORMAT: &str = "GitHub step outputs";
    let mut text = String::new();
    for image in images {
        let name = format!("image-{}", image.image);
        if name.contains(['\n', '\r', '=', '<']) {
            return Err(OutputError::UnwritableName {
                format: FORMAT,
                name,
                reason: "an output name cannot contain a line break, `=` or `<`",
            });
        }
        let value = &image.reference;
        if value.contains(['\n', '\r']) {
            let mut delimiter = "IMAGEGATE_EOF".to_owned();
            while value.contains(&delimiter) || name.contains(&delimiter) {
                delimiter.push('_');
            }
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    Ok(text)
}

/// Text to append to `$GITHUB_STEP_SUMMARY`: the caller's Markdown, ending with a blank line
/// so that what a later step appends starts a new block.
pub fn step_summary(markdown: &str) -> String {
    let mut text = markdown.trim_end_matches('\n').to_owned();
    text.push_str("\n\n");
    text
}

/// Workflow commands for stdout: `::error` for each regression and `::warning` for each flaky
/// test, titled with the image and the test id.
pub fn annotation_lines(annotations: &[Annotation]) -> String {
    let mut text = String::new();
    for annotation in annotations {
        let (command, what) = match annotation.kind {
            AnnotationKind::Regression => ("error", "regression"),
            AnnotationKind::Flaky => ("warning", "flaky"),
        };
        let title = format!("{}: {what}: {}", annotation.image, annotation.test_id);
        let message = if annotation.message.is_empty() { &title } else { &annotation.message };
        text.push_str(&format!("::{command} title={}::{}\n", escape_property(&title), escape_data(message)));
    }
    text
}

/// Escapes a workflow command's message the way GitHub's runner unescapes it: `%`, carriage
/// return and line feed as `%25`, `%0D` and `%0A` (`escapeData` in GitHub's actions toolkit).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value: as [`escape_data`], and also `:` and `,`,
/// which separate the command from its properties and the properties from each other
/// (`escapeProperty` in GitHub's actions toolkit).
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io;

    use super::*;

    fn detect_with(pairs: &[(&str, &str)], payload: &str) -> Result<CiRun, CiError> {
        let mut map: BTreeMap<String, String> =
            pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        map.insert("GITHUB_ACTIONS".to_owned(), "true".to_owned());
        map.entry("GITHUB_EVENT_PATH".to_owned()).or_insert_with(|| "/github/workflow/event.json".to_owned());
        let payload = payload.as_bytes().to_vec();
        crate::detect(&map, &move |_| Ok(payload.clone()))
    }

    const PUSH: &[(&str, &str)] = &[
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", "ffac537e6cbbf934b08745a378932722df287a53"),
        ("GITHUB_REPOSITORY", "octo-org/octo-repo"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "1658821493"),
    ];

    #[test]
    fn a_push_to_a_branch_is_trusted() {
        let run = detect_with(PUSH, r#"{"repository": {"default_branch": "main"}}"#).expect("detects");
        assert_eq!(run.event, Event::Push);
        assert!(run.trusted);
        assert_eq!(run.branch.as_deref(), Some("main"));
        assert_eq!(run.default_branch.as_deref(), Some("main"));
        assert_eq!(run.run_url.as_deref(), Some("https://github.com/octo-org/octo-repo/actions/runs/1658821493"));
    }

    #[test]
    fn a_push_of_a_tag_is_a_tag() {
        let pairs = [("GITHUB_EVENT_NAME", "push"), ("GITHUB_REF", "refs/tags/v1.2.0")];
        let run = detect_with(&pairs, "{}").expect("detects");
        assert_eq!(run.event, Event::Tag);
        assert_eq!(run.branch, None);
    }

    #[test]
    fn the_short_ref_variables_serve_when_github_ref_is_absent() {
        let pairs = [("GITHUB_EVENT_NAME", "push"), ("GITHUB_REF_TYPE", "branch"), ("GITHUB_REF_NAME", "release/2.x")];
        let run = detect_with(&pairs, "{}").expect("detects");
        assert_eq!(run.branch.as_deref(), Some("release/2.x"));
        let pairs = [("GITHUB_EVENT_NAME", "push"), ("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v1")];
        assert_eq!(detect_with(&pairs, "{}").expect("detects").event, Event::Tag);
    }

    #[test]
    fn a_push_without_a_ref_is_an_error() {
        let error = detect_with(&[("GITHUB_EVENT_NAME", "push")], "{}").expect_err("no ref");
        assert!(matches!(error, CiError::MissingVariable { variable: "GITHUB_REF", .. }));
    }

    #[test]
    fn a_missing_event_name_is_an_error_naming_it() {
        let error = detect_with(&[("GITHUB_REF", "refs/heads/main")], "{}").expect_err("no event name");
        assert_eq!(
            error.to_string(),
            "detect the GitHub Actions run: GITHUB_EVENT_NAME is not set\n  hint: GitHub Actions sets this in every \
             step; run `imagegate ci` in a step of the workflow job"
        );
    }

    #[test]
    fn an_unreadable_payload_is_an_error_naming_the_file() {
        let map: BTreeMap<String, String> = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", "/missing/event.json"),
            ("GITHUB_REF", "refs/heads/main"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        let error = crate::detect(&map, &|_| Err(io::Error::new(io::ErrorKind::NotFound, "No such file or directory")))
            .expect_err("unreadable");
        assert!(
            error.to_string().starts_with(
                "read the GitHub event payload `/missing/event.json` (GITHUB_EVENT_PATH): No such file or directory\n  \
                 hint: "
            ),
            "{error}"
        );
    }

    #[test]
    fn malformed_payloads_are_errors() {
        for (payload, reason) in [
            ("", "not JSON: EOF while parsing a value at line 1 column 0"),
            ("[1, 2]", "not a JSON object"),
            (r#"{"repository": {"default_branch": 3}}"#, "`repository.default_branch` is not a string"),
        ] {
            let error = detect_with(PUSH, payload).expect_err("malformed");
            let CiError::MalformedPayload { reason: actual, .. } = &error else {
                panic!("expected a malformed payload error, got {error:?}");
            };
            assert_eq!(actual, reason);
        }
    }

    #[test]
    fn a_pull_request_event_without_a_pull_request_is_an_error() {
        let error = detect_with(&[("GITHUB_EVENT_NAME", "pull_request")], r#"{"number": 3}"#).expect_err("malformed");
        assert_eq!(
            error.to_string().lines().next(),
            Some(
                "read the GitHub event payload `/github/workflow/event.json` (GITHUB_EVENT_PATH): a `pull_request` \
                 event has no `pull_request` object"
            )
        );
    }

    fn pull_request_payload(head_repository: &str, base_repository: &str) -> String {
        format!(
            r#"{{"number": 12, "pull_request": {{"number": 12,
                "head": {{"ref": "feature", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "repo": {head_repository}}},
                "base": {{"ref": "main", "repo": {base_repository}}}}},
              "repository": {{"full_name": "octo-org/octo-repo", "default_branch": "main"}}}}"#
        )
    }

    const OWN: &str = r#"{"id": 1296269, "full_name": "octo-org/octo-repo", "fork": false}"#;
    const FORK: &str = r#"{"id": 4242, "full_name": "someone/octo-repo", "fork": true}"#;

    #[test]
    fn a_pull_request_uses_the_head_branch_and_the_head_commit() {
        let pairs = [
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF", "refs/pull/12/merge"),
            ("GITHUB_HEAD_REF", "feature"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_SHA", "0000000000000000000000000000000000000001"),
        ];
        let run = detect_with(&pairs, &pull_request_payload(OWN, OWN)).expect("detects");
        assert_eq!(run.event, Event::PullRequest);
        assert!(!run.trusted);
        assert_eq!(run.branch.as_deref(), Some("feature"));
        assert_eq!(run.commit.as_deref(), Some("6dcb09b5b57875f334f61aebed695e2e4193db5e"));
        assert_eq!(run.pull_request, Some(12));
    }

    #[test]
    fn a_pull_request_from_another_repository_is_a_fork() {
        let pairs = [("GITHUB_EVENT_NAME", "pull_request"), ("GITHUB_HEAD_REF", "main")];
        let run = detect_with(&pairs, &pull_request_payload(FORK, OWN)).expect("detects");
        assert_eq!(run.event, Event::ForkPullRequest);
        assert!(!run.trusted);
        assert!(run.may_promote(&["main".to_owned()]).is_err());
    }

    #[test]
    fn a_deleted_fork_is_a_fork() {
        let run =
            detect_with(&[("GITHUB_EVENT_NAME", "pull_request")], &pull_request_payload("null", OWN)).expect("detects");
        assert_eq!(run.event, Event::ForkPullRequest);
    }

    #[test]
    fn a_branch_of_a_repository_that_is_itself_a_fork_is_not_an_outside_pull_request() {
        let own_fork = r#"{"id": 1296269, "full_name": "octo-org/octo-repo", "fork": true}"#;
        let run = detect_with(&[("GITHUB_EVENT_NAME", "pull_request")], &pull_request_payload(own_fork, own_fork))
            .expect("detects");
        assert_eq!(run.event, Event::PullRequest);
    }

    #[test]
    fn the_same_name_with_another_repository_id_is_a_fork() {
        let impostor = r#"{"id": 99, "full_name": "octo-org/octo-repo"}"#;
        let run = detect_with(&[("GITHUB_EVENT_NAME", "pull_request")], &pull_request_payload(impostor, OWN))
            .expect("detects");
        assert_eq!(run.event, Event::ForkPullRequest);
    }

    #[test]
    fn pull_request_target_is_never_trusted_nor_promotable() {
        let pairs = [("GITHUB_EVENT_NAME", "pull_request_target"), ("GITHUB_REF", "refs/heads/main")];
        let run = detect_with(&pairs, &pull_request_payload(OWN, OWN)).expect("detects");
        assert!(!run.trusted);
        assert_eq!(run.provider_event, "pull_request_target");
        let reason = run.may_promote(&["main".to_owned()]).expect_err("never promotes");
        assert!(reason.starts_with("pull_request_target runs never promote"), "{reason}");
    }

    #[test]
    fn a_schedule_without_a_repository_in_its_payload_runs_on_the_default_branch() {
        let pairs = [("GITHUB_EVENT_NAME", "schedule"), ("GITHUB_REF", "refs/heads/main")];
        let run = detect_with(&pairs, r#"{"schedule": "17 3 * * *"}"#).expect("detects");
        assert_eq!(run.event, Event::Schedule);
        assert!(run.trusted);
        assert_eq!(run.default_branch.as_deref(), Some("main"));
    }

    #[test]
    fn other_events_are_not_trusted() {
        for event in ["merge_group", "workflow_run", "issue_comment", "repository_dispatch", "release"] {
            let pairs = [("GITHUB_EVENT_NAME", event), ("GITHUB_REF", "refs/heads/main")];
            let run = detect_with(&pairs, "{}").expect("detects");
            assert_eq!(run.event, Event::Other(event.to_owned()));
            assert!(!run.trusted, "{event}");
        }
    }

    fn image(name: &str, reference: &str) -> ImageReference {
        ImageReference { image: name.to_owned(), reference: reference.to_owned() }
    }

    #[test]
    fn outputs_are_one_line_each() {
        let text = output_lines(&[
            image("debian", "acme-ci/debian:stable"),
            image("tools.x", "acme-ci/tools@sha256:45f7e705fe22"),
        ])
        .expect("writes");
        insta::assert_snapshot!(text, @r"
        image-debian=acme-ci/debian:stable
        image-tools.x=acme-ci/tools@sha256:45f7e705fe22
        ");
    }

    #[test]
    fn a_value_with_a_line_break_uses_a_delimiter_that_is_not_in_it() {
        let text = output_lines(&[image("odd", "first\nIMAGEGATE_EOF\nIMAGEGATE_EOF_ and more")]).expect("writes");
        insta::assert_snapshot!(text, @r"
        image-odd<<IMAGEGATE_EOF__
        first
        IMAGEGATE_EOF
        IMAGEGATE_EOF_ and more
        IMAGEGATE_EOF__
        ");
    }

    #[test]
    fn a_carriage_return_also_needs_the_delimited_form() {
        let text = output_lines(&[image("odd", "a\rb")]).expect("writes");
        assert_eq!(text, "image-odd<<IMAGEGATE_EOF\na\rb\nIMAGEGATE_EOF\n");
    }

    #[test]
    fn output_names_that_would_break_the_file_are_refused() {
        for name in ["a=b", "a<<b", "a\nb"] {
            let error = output_lines(&[image(name, "x")]).expect_err("refused");
            assert!(matches!(error, OutputError::UnwritableName { .. }), "{name:?}");
        }
    }

    #[test]
    fn the_summary_ends_with_a_blank_line() {
        assert_eq!(step_summary("## imagegate\n\npass\n\n\n"), "## imagegate\n\npass\n\n");
    }

    #[test]
    fn annotations_escape_messages_and_titles() {
        let text = annotation_lines(&[
            Annotation {
                kind: AnnotationKind::Regression,
                image: "debian".to_owned(),
                test_id: "tests::parse, with: colons".to_owned(),
                message: "expected \"a\"\ngot \"b\" (100% sure)\r\n".to_owned(),
            },
            Annotation {
                kind: AnnotationKind::Flaky,
                image: "tools".to_owned(),
                test_id: "test_network".to_owned(),
                message: String::new(),
            },
        ]);
        insta::assert_snapshot!(text, @r#"
        ::error title=debian%3A regression%3A tests%3A%3Aparse%2C with%3A colons::expected "a"%0Agot "b" (100%25 sure)%0D%0A
        ::warning title=tools%3A flaky%3A test_network::tools: flaky: test_network
        "#);
    }

    #[test]
    fn escaping_matches_the_actions_toolkit() {
        assert_eq!(escape_data("50%\r\n::x,y"), "50%25%0D%0A::x,y");
        assert_eq!(escape_property("50%\r\n::x,y"), "50%25%0D%0A%3A%3Ax%2Cy");
        // `%` first, so that an escape already in the text is not read back as one.
        assert_eq!(escape_data("%0A"), "%250A");
    }
}
