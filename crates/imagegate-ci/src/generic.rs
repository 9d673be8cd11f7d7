//! Generic CI runs (`IMAGEGATE_PROVIDER=generic`), described entirely by `IMAGEGATE_*`
//! variables, and the JSON file that hands their outputs on.
//!
//! Variables: `IMAGEGATE_EVENT` (required: `push`, `pull_request`, `fork_pull_request`,
//! `schedule` or `manual`), `IMAGEGATE_BRANCH`, `IMAGEGATE_DEFAULT_BRANCH` and
//! `IMAGEGATE_COMMIT`. Whoever writes the CI configuration vouches for these, so the CI
//! configuration must set `IMAGEGATE_EVENT` from the CI service's own account of the trigger,
//! never from anything a pull request controls. A generic run is refused where a known
//! provider's marker variable is set (see [`crate::detect()`]).

use serde::Serialize;

use crate::detect::Environment;
use crate::error::CiError;
use crate::publication::{Annotation, Outputs};
use crate::run::{CiRun, Provider};

pub(crate) fn detect(environment: &Environment<'_>) -> Result<CiRun, CiError> {
    let event = environment.event_override()?.ok_or(CiError::MissingVariable {
        provider: Provider::Generic,
        variable: "IMAGEGATE_EVENT",
        hint: "set IMAGEGATE_EVENT to push, pull_request, fork_pull_request, schedule or manual, from what the CI \
               service says started the run",
    })?;
    Ok(CiRun {
        provider: Provider::Generic,
        provider_event: event.key().to_owned(),
        trusted: event.is_trusted(),
        event,
        branch: environment.get("IMAGEGATE_BRANCH").map(str::to_owned),
        default_branch: environment.get("IMAGEGATE_DEFAULT_BRANCH").map(str::to_owned),
        commit: environment.get("IMAGEGATE_COMMIT").map(str::to_owned),
        repository: None,
        pull_request: None,
        run_url: None,
        warnings: Vec::new(),
        ephemeral_runner: None,
    })
}

/// The `imagegate.ci-outputs/v1` document: image references by image name, and the tests
/// worth pointing out. Fields are only ever added within a schema version.
#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    images: std::collections::BTreeMap<&'a str, &'a str>,
    annotations: &'a [Annotation],
}

/// The JSON output file of a generic run, pretty-printed and ending with a line break.
pub fn json(outputs: &Outputs) -> String {
    let document = Document {
        schema: "imagegate.ci-outputs/v1",
        images: outputs.images.iter().map(|image| (image.image.as_str(), image.reference.as_str())).collect(),
        annotations: &outputs.annotations,
    };
    // Serialising string maps and plain structs cannot fail; the fallback keeps this total.
    let mut text =
        serde_json::to_string_pretty(&document).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::publication::{AnnotationKind, ImageReference};
    use crate::run::Event;

    fn detect_in(pairs: &[(&str, &str)]) -> Result<CiRun, CiError> {
        let mut map: BTreeMap<String, String> =
            pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        map.insert("IMAGEGATE_PROVIDER".to_owned(), "generic".to_owned());
        crate::detect(&map, &|_| unreachable!("generic detection reads no files"))
    }

    #[test]
    fn a_generic_push_is_described_by_its_variables() {
        let run = detect_in(&[
            ("IMAGEGATE_EVENT", "push"),
            ("IMAGEGATE_BRANCH", "main"),
            ("IMAGEGATE_DEFAULT_BRANCH", "main"),
            ("IMAGEGATE_COMMIT", "abc"),
        ])
        .expect("detects");
        assert_eq!(run.event, Event::Push);
        assert!(run.trusted);
        assert_eq!(run.branch.as_deref(), Some("main"));
        assert_eq!(run.may_promote(&["main".to_owned()]), Ok(()));
        assert!(run.warnings.is_empty());
    }

    #[test]
    fn generic_pull_requests_are_not_trusted() {
        for event in ["pull_request", "fork_pull_request"] {
            let run = detect_in(&[("IMAGEGATE_EVENT", event), ("IMAGEGATE_BRANCH", "main")]).expect("detects");
            assert!(!run.trusted, "{event}");
            assert!(run.may_promote(&["main".to_owned()]).is_err(), "{event}");
        }
    }

    #[test]
    fn a_generic_run_needs_its_event() {
        let error = detect_in(&[("IMAGEGATE_BRANCH", "main")]).expect_err("missing");
        assert!(error.to_string().starts_with("detect the generic CI run: IMAGEGATE_EVENT is not set\n  hint: "));
    }

    #[test]
    fn the_json_document_maps_images_to_references() {
        let outputs = Outputs {
            images: vec![
                ImageReference { image: "tools".to_owned(), reference: "acme/tools:stable".to_owned() },
                ImageReference { image: "debian".to_owned(), reference: "acme/debian:candidate-1".to_owned() },
            ],
            summary_markdown: Some("ignored here".to_owned()),
            annotations: vec![Annotation {
                kind: AnnotationKind::Flaky,
                image: "tools".to_owned(),
                test_id: "test_network".to_owned(),
                message: "timed out\nonce".to_owned(),
            }],
        };
        insta::assert_snapshot!(json(&outputs), @r#"
        {
          "schema": "imagegate.ci-outputs/v1",
          "images": {
            "debian": "acme/debian:candidate-1",
            "tools": "acme/tools:stable"
          },
          "annotations": [
            {
              "kind": "flaky",
              "image": "tools",
              "test_id": "test_network",
              "message": "timed out\nonce"
            }
          ]
        }
        "#);
    }
}
