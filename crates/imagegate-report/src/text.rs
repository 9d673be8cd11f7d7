//! Text from test output made safe to show anywhere. Failure messages, test ids and package
//! names come from inside the images under test, so they may hold terminal escape sequences,
//! bytes no XML parser accepts, or characters that reorder what a reader sees. Every format
//! cleans such text here before escaping it in its own way.

/// Shown in place of a character that cannot be shown as it is.
const REPLACEMENT: char = '\u{FFFD}';

/// `text` with terminal escape sequences removed, line endings made `\n`, and every other
/// control character (and the few characters XML 1.0 forbids, and bidirectional overrides)
/// replaced with U+FFFD. Tabs and newlines stay.
///
/// Escape sequences go because they are formatting (colours from a test runner) or worse (a
/// sequence that retitles the terminal or writes the clipboard); a replacement character
/// marks anything else so the reader knows something was there.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\u{1b}' => skip_escape_sequence(&mut characters),
            '\r' => {
                // `\r\n` is one line ending; a lone `\r` (a progress bar redrawing its line)
                // still ends a line as far as a reader is concerned.
                if characters.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\t' => out.push(character),
            // C1 controls include a one-character form of the escape sequence introducer.
            '\u{9b}' => skip_escape_parameters(&mut characters),
            character if is_unshowable(character) => out.push(REPLACEMENT),
            character => out.push(character),
        }
    }
    out
}

/// True for characters no format here may show as they are: C0 and C1 controls, the two
/// non-characters XML 1.0 forbids, and bidirectional embeddings, overrides and isolates (which
/// can make a test id read as something else).
fn is_unshowable(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{fffe}' | '\u{ffff}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Skips what follows an ESC: a control sequence (`ESC [ … final`), an operating system
/// command (`ESC ] … BEL` or `ESC ] … ESC \`), or a single character.
fn skip_escape_sequence(characters: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match characters.next() {
        Some('[') => skip_escape_parameters(characters),
        Some(']' | 'P' | '_' | '^') => {
            while let Some(character) = characters.next() {
                if character == '\u{7}' {
                    break;
                }
                if character == '\u{1b}' {
                    characters.next_if_eq(&'\\');
                    break;
                }
            }
        }
        _ => {}
    }
}

/// Skips the parameters and the final character of a control sequence.
fn skip_escape_parameters(characters: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(&character) = characters.peek() {
        if !('\u{20}'..='\u{3f}').contains(&character) {
            break;
        }
        characters.next();
    }
    characters.next_if(|character| ('\u{40}'..='\u{7e}').contains(character));
}

/// `text` cleaned and on one line: line breaks and tabs become spaces.
pub(crate) fn one_line(text: &str) -> String {
    clean(text).trim().replace(['\n', '\t'], " ")
}

/// At most `max_characters` characters of `text`, ending with `…` when it was cut.
pub(crate) fn shorten(text: &str, max_characters: usize) -> String {
    match text.char_indices().nth(max_characters) {
        Some(_) => {
            let keep: String = text.chars().take(max_characters.saturating_sub(1)).collect();
            format!("{keep}…")
        }
        None => text.to_owned(),
    }
}

/// The first `max_lines` lines of a cleaned message, at most `max_characters` characters in
/// all, with a note of what was left out; `None` when the message is blank.
pub(crate) fn message_excerpt(message: &str, max_lines: usize, max_characters: usize) -> Option<String> {
    let message = clean(message);
    let message = message.trim_matches('\n').trim_end();
    if message.trim().is_empty() {
        return None;
    }
    let total_lines = message.lines().count();
    let mut kept = String::new();
    let mut kept_lines = 0;
    let mut cut = false;
    for line in message.lines().take(max_lines) {
        let room = max_characters.saturating_sub(kept.chars().count());
        if room == 0 {
            cut = true;
            break;
        }
        if !kept.is_empty() {
            kept.push('\n');
        }
        let line_characters = line.chars().count();
        if line_characters > room {
            kept.push_str(&shorten(line, room));
            kept_lines += 1;
            cut = true;
            break;
        }
        kept.push_str(line);
        kept_lines += 1;
    }
    let more_lines = total_lines - kept_lines;
    let note = if more_lines > 0 {
        format!("… ({more_lines} more {})", if more_lines == 1 { "line" } else { "lines" })
    } else if cut {
        "… (cut)".to_owned()
    } else {
        return Some(kept);
    };
    if !kept.is_empty() {
        kept.push('\n');
    }
    kept.push_str(&note);
    Some(kept)
}

/// The longest run of `wanted` in `text`.
pub(crate) fn longest_run(text: &str, wanted: char) -> usize {
    let mut longest = 0;
    let mut current = 0;
    for character in text.chars() {
        if character == wanted {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    longest
}

/// Splits imagegate's own prose into plain text and the `` `code` `` spans it marks: summaries
/// and promotion messages quote tags and names that way. An unpaired backtick stays plain text.
pub(crate) fn prose_parts(text: &str) -> Vec<(bool, &str)> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else { break };
        if open > 0 {
            parts.push((false, &rest[..open]));
        }
        parts.push((true, &after[..close]));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push((false, rest));
    }
    parts
}

/// The runs that kept the last lines of their output (runs that gave no usable results), as
/// a label ("candidate suite run"), the cleaned lines and the full log's path.
pub(crate) fn output_tails(report: &imagegate_contract::GateReport) -> Vec<(String, String, String)> {
    report
        .runs
        .iter()
        .filter_map(|run| {
            let tail = clean(run.output_tail.as_deref()?);
            let tail = tail.trim_matches('\n').to_owned();
            (!tail.trim().is_empty()).then(|| (format!("{} {} run", run.image, run.purpose), tail, clean(&run.log)))
        })
        .collect()
}

/// One phrase per run of the report whose stored results were reused rather than run again:
/// "the candidate's suite run, reused from 2026-01-01T00:00:00Z (local)".
pub(crate) fn reused_runs(report: &imagegate_contract::GateReport) -> Vec<String> {
    report
        .runs
        .iter()
        .filter_map(|run| {
            let reused = run.reused.as_ref()?;
            Some(format!(
                "the {}'s {} run, reused from {} ({})",
                run.image, run.purpose, reused.recorded_at, reused.source
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_removes_colour_and_terminal_commands() {
        assert_eq!(clean("\u{1b}[31mFAILED\u{1b}[0m test_a"), "FAILED test_a");
        assert_eq!(clean("x\u{1b}]0;pwned\u{7}y"), "xy");
        assert_eq!(clean("x\u{1b}]52;c;aGk=\u{1b}\\y"), "xy");
        assert_eq!(clean("x\u{9b}2Jy"), "xy");
        assert_eq!(clean("x\u{1b}cy"), "xy");
    }

    #[test]
    fn clean_replaces_controls_and_xml_forbidden_characters() {
        assert_eq!(clean("a\u{0}b\u{8}c\u{7f}d\u{85}e"), "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e");
        assert_eq!(clean("\u{fffe}\u{ffff}"), "\u{fffd}\u{fffd}");
        assert_eq!(clean("admin\u{202e}txt.exe"), "admin\u{fffd}txt.exe");
        assert_eq!(clean("tab\tand\nnewline"), "tab\tand\nnewline");
    }

    #[test]
    fn clean_makes_every_line_ending_a_newline() {
        assert_eq!(clean("a\r\nb\rc\n"), "a\nb\nc\n");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("  first\nsecond\tthird\r\n"), "first second third");
    }

    #[test]
    fn shorten_cuts_on_characters_not_bytes() {
        assert_eq!(shorten("ééééé", 5), "ééééé");
        assert_eq!(shorten("éééééé", 5), "éééé…");
        assert_eq!(shorten("", 3), "");
    }

    #[test]
    fn message_excerpt_says_what_it_left_out() {
        let message = "line 1\nline 2\nline 3\n";
        assert_eq!(message_excerpt(message, 5, 1000).as_deref(), Some("line 1\nline 2\nline 3"));
        assert_eq!(message_excerpt(message, 2, 1000).as_deref(), Some("line 1\nline 2\n… (1 more line)"));
        assert_eq!(message_excerpt("abcdefgh", 5, 4).as_deref(), Some("abc…\n… (cut)"));
        assert_eq!(message_excerpt(" \n\n", 5, 100), None);
    }

    #[test]
    fn prose_parts_finds_code_spans() {
        assert_eq!(prose_parts("`a:stable` left on 45f7; `b"), vec![(true, "a:stable"), (false, " left on 45f7; `b")]);
        assert_eq!(prose_parts("plain"), vec![(false, "plain")]);
    }

    #[test]
    fn longest_run_counts_consecutive_characters() {
        assert_eq!(longest_run("a ``` b ` c ````", '`'), 4);
        assert_eq!(longest_run("none", '`'), 0);
    }
}
