//! Round trips of the output formats: what imagegate writes, read back the way the provider
//! reads it, is what was meant.

use std::process::Command;

use imagegate_ci::ImageReference;
use imagegate_ci::formats::{
    circleci_env_file, dotenv, github_escape_data, github_escape_property, github_output_lines,
};
use proptest::prelude::*;

/// Unescapes a workflow command value the way GitHub's runner does (`ActionCommand`:
/// `%25` last, so that an escaped `%` is not unescaped twice).
fn runner_unescape(text: &str, property: bool) -> String {
    let mut text = text.replace("%0D", "\r").replace("%0A", "\n");
    if property {
        text = text.replace("%3A", ":").replace("%2C", ",");
    }
    text.replace("%25", "%")
}

/// Reads a `$GITHUB_OUTPUT` file the way GitHub's runner does: `NAME=VALUE` lines, and
/// `NAME<<DELIMITER` followed by lines up to one that is the delimiter.
fn read_github_output(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let heredoc = line.find("<<");
        let equals = line.find('=');
        match (heredoc, equals) {
            (Some(heredoc), equals) if equals.is_none_or(|equals| heredoc < equals) => {
                let (name, delimiter) = (&line[..heredoc], &line[heredoc + 2..]);
                let mut value = Vec::new();
                for line in lines.by_ref() {
                    if line == delimiter {
                        break;
                    }
                    value.push(line);
                }
                pairs.push((name.to_owned(), value.join("\n")));
            }
            (_, Some(equals)) => pairs.push((line[..equals].to_owned(), line[equals + 1..].to_owned())),
            _ => panic!("unreadable line {line:?}"),
        }
    }
    pairs
}

fn image(name: &str, reference: &str) -> ImageReference {
    ImageReference { image: name.to_owned(), reference: reference.to_owned() }
}

fn image_name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9._-]{0,15}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn escaped_messages_read_back_unchanged(text in "[ -~\r\n%:,]{0,40}") {
        let data = github_escape_data(&text);
        prop_assert!(!data.contains(['\r', '\n']));
        prop_assert_eq!(runner_unescape(&data, false), text.clone());
        let property = github_escape_property(&text);
        prop_assert!(!property.contains(['\r', '\n', ':', ',']));
        prop_assert_eq!(runner_unescape(&property, true), text);
    }

    #[test]
    fn github_outputs_read_back_unchanged(
        name in image_name(),
        // Line breaks here are `\n` only: GitHub's runner reads lines with .NET's ReadLine,
        // which also ends a line at a lone `\r`, so a `\r` in a value comes back as a break.
        value in "([ -~]|\n|IMAGEGATE_EOF){0,12}",
    ) {
        let text = github_output_lines(&[image(&name, &value)]).expect("writes");
        prop_assert_eq!(read_github_output(&text), vec![(format!("image-{name}"), value)]);
    }

    #[test]
    fn dotenv_lines_are_single_lines_or_refused(name in image_name(), value in "[ -~\t\r\n]{0,20}") {
        match dotenv(&[image(&name, &value)]) {
            Ok(text) => {
                prop_assert_eq!(text.matches('\n').count(), 1);
                let (variable, written) = text.trim_end_matches('\n').split_once('=').expect("NAME=VALUE");
                let is_name_byte = |byte: u8| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_';
                prop_assert!(variable.bytes().all(is_name_byte));
                prop_assert_eq!(written, value.as_str());
            }
            Err(_) => prop_assert!(value.contains(['\r', '\n', '\t']) || value.trim() != value),
        }
    }
}

proptest! {
    // Each case starts a shell; a few dozen cover the quoting.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_circleci_env_file_sources_back_unchanged(value in "[ -~\n\t]{0,24}") {
        let script = format!(
            "{}printf '%s' \"$IMAGEGATE_IMAGE_DEBIAN\"",
            circleci_env_file(&[image("debian", &value)]).expect("writes"),
        );
        let output = Command::new("sh").arg("-c").arg(&script).output().expect("sh runs");
        prop_assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        prop_assert_eq!(String::from_utf8_lossy(&output.stdout), value);
    }
}
