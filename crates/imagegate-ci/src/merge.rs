//! Adding imagegate's jobs to a project's own one-file CI configuration (`.circleci/config.yml`,
//! `.gitlab-ci.yml`) without rewriting it: the text is kept byte for byte (comments, anchors,
//! key order, quoting) and imagegate's blocks are inserted at the end of the top-level mapping
//! they belong in (`jobs:`, `workflows:`, `include:`), at the indentation that mapping already
//! uses.
//!
//! No YAML library for Rust edits a document while keeping its comments and anchors, so the
//! positions are computed from the layout of block YAML (a top-level key starts at column 0;
//! its value is every following line that is indented, blank, a comment, or a column-0 `-`
//! item of a sequence) and every edit is checked by parsing both documents: each value the
//! project had must be unchanged, and the new entries must be exactly imagegate's. A file whose
//! layout does not allow that (flow style, an anchor on the key, several documents) is refused
//! with what to add by hand, and is left alone.

use serde_norway::{Mapping, Value};

use crate::error::TemplateError;
use crate::templates::{CircleCiPieces, GITLAB_INCLUDED_FILE};

/// One top-level mapping to extend: its key and the block of entries to add under it,
/// indented by two spaces.
struct Insertion<'a> {
    key: &'a str,
    block: &'a str,
}

/// `existing` (`.circleci/config.yml`) with imagegate's job and workflows added.
pub fn circleci(existing: &str, pieces: &CircleCiPieces) -> Result<String, TemplateError> {
    let path = ".circleci/config.yml";
    let document = parse(path, existing)?;
    let version = document.get("version").and_then(|version| match version {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) => Some(text.clone()),
        _ => None,
    });
    if version.as_deref() != Some("2.1") {
        return Err(refusal(
            path,
            format!("it says `version: {}`, and imagegate's job needs 2.1", version.as_deref().unwrap_or("?")),
            "move the configuration to `version: 2.1` (CircleCI's current format), then run `imagegate init --ci \
             circleci` again",
        ));
    }
    for (section, pieces_text) in [("jobs", &pieces.jobs), ("workflows", &pieces.workflows)] {
        let ours = parse_block(section, pieces_text)?;
        if let Some(Value::Mapping(theirs)) = document.get(section)
            && let Some(name) = ours.keys().find(|name| theirs.contains_key(*name))
        {
            return Err(refusal(
                path,
                format!("it has a {} named `{}` already", &section[..section.len() - 1], scalar(name)),
                "rename it, or keep it and run `imagegate ci` from it as it is",
            ));
        }
    }
    insert_all(
        path,
        existing,
        &document,
        &[Insertion { key: "jobs", block: &pieces.jobs }, Insertion { key: "workflows", block: &pieces.workflows }],
    )
}

/// `existing` (`.gitlab-ci.yml`) with an `include` of [`GITLAB_INCLUDED_FILE`]; `None` when it
/// includes it already.
pub fn gitlab_include(existing: &str) -> Result<Option<String>, TemplateError> {
    let path = ".gitlab-ci.yml";
    let document = parse(path, existing)?;
    let includes_it = |value: &Value| match value {
        Value::String(text) => text.trim_start_matches('/') == GITLAB_INCLUDED_FILE,
        Value::Mapping(entry) => entry
            .get("local")
            .and_then(Value::as_str)
            .is_some_and(|local| local.trim_start_matches('/') == GITLAB_INCLUDED_FILE),
        _ => false,
    };
    match document.get("include") {
        None => {}
        Some(Value::Sequence(entries)) if entries.iter().any(includes_it) => return Ok(None),
        Some(value) if includes_it(value) => return Ok(None),
        Some(Value::Sequence(_)) => {}
        Some(_) => {
            return Err(refusal(
                path,
                "its `include` is a single entry, not a list".to_owned(),
                &format!("make `include` a list and add `- local: {GITLAB_INCLUDED_FILE}` to it"),
            ));
        }
    }
    for name in crate::templates::reserved_names(crate::Provider::GitLab) {
        if document.get(*name).is_some() {
            return Err(refusal(
                path,
                format!("it has a job named `{name}` already"),
                "rename it, or keep it and run `imagegate ci` from it as it is",
            ));
        }
    }
    let block = format!("  - local: {GITLAB_INCLUDED_FILE}\n");
    insert_all(path, existing, &document, &[Insertion { key: "include", block: &block }]).map(Some)
}

/// The first stage a `.gitlab-ci.yml` lists, where imagegate's jobs go so that they run before
/// the project's own jobs (which may use the images they hand on). Not `.pre`: GitLab does
/// not run a pipeline whose only jobs are in `.pre`, as a merge request pipeline would be
/// where the project's jobs run on branches only. `None` when the file lists no stages: then
/// the jobs take GitLab's default stage, as the project's own do.
pub fn gitlab_first_stage(existing: &str) -> Option<String> {
    let document: Value = serde_norway::from_str(existing).ok()?;
    document.get("stages")?.as_sequence()?.first()?.as_str().map(str::to_owned)
}

fn parse(path: &str, text: &str) -> Result<Mapping, TemplateError> {
    if text.lines().skip(1).any(|line| line.trim_end() == "---") {
        return Err(refusal(
            path,
            "it holds several YAML documents".to_owned(),
            "add imagegate's jobs by hand (`imagegate init --ci` wrote them beside it)",
        ));
    }
    let mut value: Value = serde_norway::from_str(text)
        .map_err(|error| refusal(path, format!("it is not valid YAML ({error})"), "fix it, then run init again"))?;
    value.apply_merge().map_err(|error| {
        refusal(path, format!("its merge keys do not resolve ({error})"), "fix it, then run init again")
    })?;
    match value {
        Value::Mapping(mapping) => Ok(mapping),
        Value::Null => Ok(Mapping::new()),
        _ => Err(refusal(path, "it is not a mapping of keys".to_owned(), "fix it, then run init again")),
    }
}

/// The mapping a block of entries (indented, without its key) stands for.
fn parse_block(key: &str, block: &str) -> Result<Mapping, TemplateError> {
    let text = format!("{key}:\n{block}");
    let mut value: Value = serde_norway::from_str(&text).map_err(|error| TemplateError::Merge {
        path: key.to_owned(),
        reason: format!("imagegate's own block does not parse ({error})"),
        hint: "report this bug".to_owned(),
    })?;
    let _ = value.apply_merge();
    Ok(match value.get(key) {
        Some(Value::Mapping(mapping)) => mapping.clone(),
        _ => Mapping::new(),
    })
}

fn refusal(path: &str, reason: String, hint: &str) -> TemplateError {
    TemplateError::Merge { path: path.to_owned(), reason, hint: hint.to_owned() }
}

fn scalar(value: &Value) -> String {
    value.as_str().map_or_else(|| format!("{value:?}"), str::to_owned)
}

/// Performs the insertions, then checks the result by parsing it.
fn insert_all(
    path: &str,
    existing: &str,
    document: &Mapping,
    insertions: &[Insertion<'_>],
) -> Result<String, TemplateError> {
    let mut text = existing.to_owned();
    for insertion in insertions {
        text = insert(path, &text, insertion)?;
    }
    verify(path, document, &text, insertions)?;
    Ok(text)
}

/// Whether `line` is the top-level key `key` with its value in the following lines (nothing
/// after the colon but a comment).
fn is_key_line(line: &str, key: &str) -> Result<bool, ()> {
    let Some(rest) = line.strip_prefix(key) else { return Ok(false) };
    let Some(rest) = rest.strip_prefix(':') else { return Ok(false) };
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') { Ok(true) } else { Err(()) }
}

fn insert(path: &str, text: &str, insertion: &Insertion<'_>) -> Result<String, TemplateError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut found = None;
    for (index, line) in lines.iter().enumerate() {
        match is_key_line(line.trim_end_matches(['\n', '\r']), insertion.key) {
            Ok(true) => {
                found = Some(index);
                break;
            }
            Ok(false) => {}
            Err(()) => {
                return Err(refusal(
                    path,
                    format!("its `{}:` has its value on the same line (flow style or an anchor)", insertion.key),
                    "write that value as a block below the key, or add imagegate's entries by hand",
                ));
            }
        }
    }
    let Some(key_line) = found else {
        // No such key yet: a new one at the end.
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("\n{}:\n{}", insertion.key, insertion.block));
        return Ok(out);
    };
    let mut last_content = key_line;
    let mut indent = None;
    for (index, line) in lines.iter().enumerate().skip(key_line + 1) {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare.trim().is_empty() || bare.starts_with('#') {
            continue;
        }
        if bare.starts_with([' ', '\t']) || bare.starts_with('-') {
            if indent.is_none() && !bare.trim_start().starts_with('#') {
                if bare.starts_with('\t') {
                    return Err(refusal(path, "it indents with tabs".to_owned(), "indent with spaces"));
                }
                indent = Some(bare.len() - bare.trim_start_matches(' ').len());
            }
            last_content = index;
            continue;
        }
        break;
    }
    // Our blocks are indented by two; shift them to the file's own indentation. A sequence at
    // column 0 (`include:` then `- local: …`) takes the items as they are at two.
    let indent = indent.unwrap_or(2);
    let block: String = insertion
        .block
        .split_inclusive('\n')
        .map(|line| {
            if line.trim().is_empty() {
                line.to_owned()
            } else if indent >= 2 {
                format!("{}{line}", " ".repeat(indent - 2))
            } else {
                line.strip_prefix("  ").unwrap_or(line).to_owned()
            }
        })
        .collect();
    let mut out: String = lines[..=last_content].concat();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    // A blank line apart, unless the entries are list items.
    if !block.trim_start().starts_with('-') {
        out.push('\n');
    }
    out.push_str(&block);
    out.push_str(&lines[last_content + 1..].concat());
    Ok(out)
}

/// Checks that `edited` has every value `original` had, and exactly imagegate's entries added.
fn verify(path: &str, original: &Mapping, edited: &str, insertions: &[Insertion<'_>]) -> Result<(), TemplateError> {
    let broken = |what: String| {
        refusal(path, format!("inserting imagegate's entries would {what}"), "add imagegate's entries by hand")
    };
    let edited = parse(path, edited).map_err(|error| broken(format!("break the file ({error})")))?;
    for (key, value) in original {
        let Some(insertion) = insertions.iter().find(|insertion| key.as_str() == Some(insertion.key)) else {
            if edited.get(key) != Some(value) {
                return Err(broken(format!("change `{}`", scalar(key))));
            }
            continue;
        };
        let ours = parse_block(insertion.key, insertion.block)?;
        match (value, edited.get(key)) {
            (Value::Mapping(before), Some(Value::Mapping(after))) => {
                let mut expected = before.clone();
                expected.extend(ours);
                if &expected != after {
                    return Err(broken(format!("change the entries of `{}`", insertion.key)));
                }
            }
            (Value::Sequence(before), Some(Value::Sequence(after))) => {
                if after.len() != before.len() + 1 || after[..before.len()] != before[..] {
                    return Err(broken(format!("change the entries of `{}`", insertion.key)));
                }
            }
            (Value::Null, Some(_)) => {}
            _ => return Err(broken(format!("change `{}`", insertion.key))),
        }
    }
    for insertion in insertions {
        if edited.get(insertion.key).is_none() {
            return Err(broken(format!("lose `{}`", insertion.key)));
        }
    }
    if edited.len()
        != original.len() + insertions.iter().filter(|insertion| !original.contains_key(insertion.key)).count()
    {
        return Err(broken("add other keys".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::{Install, TemplateInput, circleci_pieces};

    fn pieces() -> CircleCiPieces {
        circleci_pieces(&TemplateInput {
            images: &[],
            default_branch: "master",
            registry: "ghcr.io/acme/app",
            install: Install { repository: "https://github.com/imagegate/imagegate", version: "0.1.0" },
            gitlab_stage: None,
        })
        .expect("pieces")
    }

    const CONFIG: &str = "\
# The project's CI.
version: 2.1

aliases:
  - &defaults
    docker:
      - image: cimg/python:3.12   # pinned
jobs:
    # Unit tests.
    test:
        <<: *defaults
        steps:
            - checkout
            - run: |
                pytest
# Between jobs and workflows.
workflows:
    ci:
        jobs:
            - test
";

    #[test]
    fn circleci_keeps_the_text_and_adds_the_job_and_workflows_at_the_file_indentation() {
        let merged = circleci(CONFIG, &pieces()).expect("merges");
        // Every original line is still there, in order.
        let mut remaining = merged.lines();
        for line in CONFIG.lines() {
            assert!(remaining.any(|candidate| candidate == line), "lost {line:?}:\n{merged}");
        }
        assert!(merged.contains("\n    imagegate:\n      parameters:\n"), "{merged}");
        assert!(merged.contains("\n    imagegate-nightly:\n"), "{merged}");
        // The job lands before the comment that sits between the two sections.
        assert!(merged.find("    imagegate:\n").unwrap() < merged.find("# Between jobs").unwrap(), "{merged}");
        let document = parse("x", &merged).expect("parses");
        assert!(document["jobs"]["test"]["docker"].is_sequence(), "the merge key still resolves");
    }

    #[test]
    fn circleci_refuses_a_job_of_the_same_name() {
        let taken = CONFIG.replace("    test:\n", "    imagegate:\n").replace("- test\n", "- imagegate\n");
        let error = circleci(&taken, &pieces()).expect_err("refused");
        assert!(error.to_string().contains("a job named `imagegate` already"), "{error}");
    }

    #[test]
    fn circleci_refuses_version_2_and_flow_style() {
        let error = circleci(&CONFIG.replace("version: 2.1", "version: 2"), &pieces()).expect_err("refused");
        assert!(error.to_string().contains("`version: 2`"), "{error}");
        let flow = "version: 2.1\njobs: {test: {docker: [{image: x}], steps: [checkout]}}\nworkflows:\n  w:\n    jobs: [test]\n";
        let error = circleci(flow, &pieces()).expect_err("refused");
        assert!(error.to_string().contains("on the same line"), "{error}");
    }

    #[test]
    fn circleci_adds_missing_sections() {
        let merged = circleci("version: 2.1\norbs:\n  node: circleci/node@5\n", &pieces()).expect("merges");
        let document = parse("x", &merged).expect("parses");
        assert!(document["jobs"]["imagegate"].is_mapping());
        assert!(document["workflows"]["imagegate-nightly"].is_mapping());
    }

    #[test]
    fn gitlab_appends_to_a_list_of_includes_in_either_indentation() {
        for existing in [
            "include:\n  - template: Security/SAST.gitlab-ci.yml\nstages: [test]\ntest:\n  script: [make]\n",
            "include:\n- project: acme/ci\n  file: /base.yml\n\ntest:\n  script: [make]\n",
        ] {
            let merged = gitlab_include(existing).expect("merges").expect("edits");
            let document = parse("x", &merged).expect("parses");
            let includes = document["include"].as_sequence().expect("a list");
            assert_eq!(includes.len(), 2, "{merged}");
            assert_eq!(includes[1]["local"], GITLAB_INCLUDED_FILE, "{merged}");
        }
    }

    #[test]
    fn gitlab_adds_an_include_or_leaves_one_that_is_there() {
        let merged = gitlab_include("test:\n  script: [make]\n").expect("merges").expect("edits");
        assert!(merged.ends_with("\ninclude:\n  - local: .gitlab/imagegate.yml\n"), "{merged}");
        assert_eq!(gitlab_include(&merged).expect("reads"), None);
        let error = gitlab_include("include: base.yml\n").expect_err("refused");
        assert!(error.to_string().contains("single entry"), "{error}");
    }

    #[test]
    fn gitlab_jobs_go_in_the_first_stage_listed() {
        assert_eq!(gitlab_first_stage("stages: [lint, build]\nbuild:\n  script: [x]\n").as_deref(), Some("lint"));
        assert_eq!(gitlab_first_stage("stages:\n  - build\n  - test\n").as_deref(), Some("build"));
        assert_eq!(gitlab_first_stage("build:\n  script: [x]\n"), None);
    }
}
