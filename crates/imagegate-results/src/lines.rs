//! What the line-oriented readers (TAP, go test -json, libtest JSON) share: how much of a file
//! detection looks at, how an event stream is told from other text, and how serde_json's error
//! positions and messages are put in the reports' terms.

use std::borrow::Cow;

use crate::junit::{BoundedText, MAX_MESSAGE_BYTES};

/// `bytes` as text, each byte that is not part of valid UTF-8 written as `\xHH` (two lowercase
/// hex digits). Replacing such bytes with U+FFFD, as `String::from_utf8_lossy` does, would
/// make two different test ids one (`t\xff` and `t\xfe` both `t\u{FFFD}`) and hide what was
/// there; escaped, a reader sees the bytes and ids stay apart.
pub(crate) fn escape_invalid_utf8(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut text = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        push_escaped(&mut text, chunk.invalid());
    }
    Cow::Owned(text)
}

/// Appends `invalid` (bytes that are not UTF-8) to `out` as `\xHH` escapes.
pub(crate) fn push_escaped(out: &mut String, invalid: &[u8]) {
    use std::fmt::Write;
    for byte in invalid {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\x{byte:02x}");
    }
}

/// How much of a file detection looks at: a stream shows what it is in its first few hundred
/// lines, and a large log beside the results should not be read whole just to be passed over.
pub(crate) const DETECTION_WINDOW_BYTES: usize = 256 * 1024;

/// True when `bytes` opens like an XML document (a JUnit file whose captured output holds event
/// lines is still JUnit): a line stream never starts with `<`.
fn starts_with_markup(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.trim_ascii_start().starts_with(b"<")
}

/// True when, in the detection window of `bytes`, at least one non-blank line is an event and no
/// more than half of them are anything else, and fewer of them are events of the rival JSON
/// format (`is_rival_event`) than of this one: go test -json and libtest JSON lines mixed half
/// and half would otherwise be claimed by both readers (a line both would read counts as
/// neither's event). Subunit (first byte 0xB3) and anything
/// that opens like an XML document are never event streams.
pub(crate) fn is_event_stream(
    bytes: &[u8],
    is_event: impl Fn(&str) -> bool,
    is_rival_event: impl Fn(&str) -> bool,
) -> bool {
    if bytes.first() == Some(&0xB3) || starts_with_markup(bytes) {
        return false;
    }
    let window = &bytes[..bytes.len().min(DETECTION_WINDOW_BYTES)];
    let text = String::from_utf8_lossy(window);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if window.len() < bytes.len() {
        // The window cut the last line short.
        lines.pop();
    }
    let mut events = 0usize;
    let mut rivals = 0usize;
    let mut others = 0usize;
    for line in lines.iter().filter(|line| !line.trim().is_empty()) {
        // A line that both formats would read counts for neither.
        match (is_event(line), is_rival_event(line)) {
            (true, false) => events += 1,
            (false, true) => rivals += 1,
            _ => others += 1,
        }
    }
    events > 0 && rivals + others <= events && rivals < events
}

/// The character column of serde_json's byte column (both from 1) in `line`.
pub(crate) fn character_column(line: &str, byte_column: usize) -> usize {
    let mut end = byte_column.saturating_sub(1).min(line.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].chars().count() + 1
}

/// serde_json's message, lowercased as error fragments are, without its trailing
/// ` at line 1 column N`, which the location already says better.
pub(crate) fn json_error_message(message: &str) -> String {
    let message = message.find(" at line ").map_or(message, |position| &message[..position]);
    let mut characters = message.chars();
    match characters.next() {
        Some(first) => first.to_lowercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// `text` cut to [`MAX_MESSAGE_BYTES`], marked when cut.
pub(crate) fn bounded_message(text: &str) -> String {
    let mut bounded = BoundedText::new(MAX_MESSAGE_BYTES);
    bounded.push(text);
    bounded.finish().unwrap_or_default()
}
