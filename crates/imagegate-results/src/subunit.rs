//! The subunit v2 reader: recognises subunit v2 byte streams by content and reads them into a
//! [`ResultSet`].
//!
//! Subunit v2 is the binary stream that python-subunit (`python -m subunit.run`, `stestr`,
//! `subunit-1to2`) and Twisted trial's `subunitv2` reporters write. A stream is a sequence of
//! packets:
//!
//! ```text
//! packet  = 0xB3 flags:u16 length:number [timestamp] [test id] [tags] [mime type]
//!           [file name, file length:number, file bytes] [route code] crc32:u32
//! flags   = version (0x2, high nibble) | feature bits | status (low three bits)
//! number  = 1 to 4 bytes, big-endian; the top two bits of the first byte say how many follow
//! ```
//!
//! The length counts the whole packet, signature and checksum included, and is at most three
//! bytes long (so a packet is at most 4 MiB); the checksum is zlib's CRC-32 of everything before
//! it, big-endian. Strings are a length number followed by UTF-8.
//!
//! A test's life in the stream is an `inprogress` packet, then packets carrying its attachments
//! (`traceback`, `reason`, captured output) in chunks, then a packet with its final status. Each
//! final status is one attempt of the test named by the subunit test id as written
//! (`package.module.Class.test_method`, the same id subunit2junitxml splits into `classname` and
//! `name`, so a run reads the same either way):
//!
//! | status | outcome |
//! | --- | --- |
//! | `success` | [`Outcome::Pass`] |
//! | `fail` | [`Outcome::Fail`] (trial and unittest errors are `fail` too; subunit has no error status) |
//! | `skip` | [`Outcome::Skip`], its message the `reason` attachment |
//! | `xfail` | [`Outcome::Xfail`] |
//! | `uxsuccess` | [`Outcome::Fail`]: a test expected to fail that passed is a failure |
//! | `exists`, none | not an attempt (a listing, or an attachment on its own) |
//!
//! An attempt's message is the last line of its traceback attachment (which names the
//! exception), else the first line of its first attachment; its output is the attachments'
//! text, the one the message came from first and each other one under a `--- name ---` heading.
//! Its duration runs from the test's `inprogress` timestamp to its final one. Tests in separate
//! workers are told apart by route code, so two workers running the same test do not mix their
//! attachments.
//!
//! A stream that ends inside a packet is not an error: the packets before it are read, and the
//! set is marked incomplete with the byte offset where the cut packet starts. A test still in
//! progress at the end of the stream (its worker crashed or was killed) is recorded as an
//! [`Outcome::Error`] with the message [`UNFINISHED_MESSAGE`], and the set is marked incomplete,
//! so that a test that never finished is never taken for a pass.
//!
//! Bytes between packets are tolerated when they are UTF-8 text, as python-subunit's own tools
//! do: a test's `print` lands in the stream as raw output (`python -m subunit.run` writes it
//! there). Such text is not attributed to any test. A packet with a bad checksum, an unknown
//! version, an impossible length or fields that overrun it, and bytes between packets that are
//! neither a packet nor text, are a [`ParseError`] located as `offset N` (bytes from the start of
//! the stream): a corrupted stream is not read as fewer tests.
//!
//! Memory stays bounded by the input: each attempt keeps at most [`MAX_OUTPUT_BYTES`] of
//! attachments however many chunks the stream sends, and the reader never panics on any input.
//!
//! The framing is read here rather than through the `subunit` crate (testing-cabal's Rust
//! implementation), which reports neither where a bad packet lies nor how long each packet was;
//! `tests/subunit_crate.rs` holds this reader to that crate's decoding of the corpus streams and
//! of generated ones, whole and cut anywhere.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::junit::{BoundedText, MAX_OUTPUT_BYTES, TRUNCATION_MARKER, message_from_text};
use crate::{Attempt, Outcome, ParseError, ResultSet, TestId};

/// The message of the attempt recorded for a test that was still in progress when the stream
/// ended.
pub const UNFINISHED_MESSAGE: &str = "no outcome: the stream ended while the test was in progress";

/// The message of an unexpected success that carried no attachment to explain it.
pub const UNEXPECTED_SUCCESS_MESSAGE: &str = "unexpected success: the test was expected to fail";

const SIGNATURE: u8 = 0xB3;
const VERSION_MASK: u16 = 0xF000;
const VERSION_2: u16 = 0x2000;
const FLAG_TEST_ID: u16 = 0x0800;
const FLAG_ROUTE_CODE: u16 = 0x0400;
const FLAG_TIMESTAMP: u16 = 0x0200;
const FLAG_TAGS: u16 = 0x0080;
const FLAG_FILE_CONTENT: u16 = 0x0040;
const FLAG_MIME_TYPE: u16 = 0x0020;
const STATUS_MASK: u16 = 0x0007;

/// The checksum that ends every packet.
const CHECKSUM_BYTES: usize = 4;

/// The smallest packet: signature, flags, a one-byte length and the checksum.
const MIN_PACKET_BYTES: usize = 1 + 2 + 1 + CHECKSUM_BYTES;

/// How far into a file detection looks for the first packet past leading text output.
const DETECTION_WINDOW: usize = 64 * 1024;

/// The most attachments kept for one test: each may hold text up to the output bound, so a
/// stream that sends thousands of differently named files for one test still reads in bounded
/// memory.
const MAX_ATTACHMENTS: usize = 16;

/// True when `bytes` is a subunit v2 stream: its first packet (after any leading text output)
/// has the v2 signature, flags and a plausible length, and a valid checksum when the whole
/// packet is there.
///
/// A stream cut short inside its very first packet is still recognised from the header alone
/// (and then read as truncated by [`parse_subunit`]); past leading text, a complete packet with
/// a matching checksum is required, so that a text file that merely contains the byte 0xB3 is
/// not taken for a stream.
pub fn looks_like_subunit(bytes: &[u8]) -> bool {
    let window = &bytes[..bytes.len().min(DETECTION_WINDOW)];
    let Ok(start) = skip_text(window, 0) else { return false };
    if start >= window.len() {
        return false;
    }
    match read_packet(bytes, start) {
        Ok(Read::Packet { .. }) => true,
        Ok(Read::Truncated) => start == 0 && header_is_plausible(bytes),
        Ok(Read::End) | Err(_) => false,
    }
}

/// Whether a stream that ends inside its first packet at least starts like one: signature,
/// version 2 flags, and a length that fits the format.
fn header_is_plausible(bytes: &[u8]) -> bool {
    let Some(&[signature, high, low]) = bytes.get(..3) else {
        return bytes.first() == Some(&SIGNATURE) && bytes.get(1).is_some_and(|high| high & 0xF0 == 0x20);
    };
    let flags = u16::from_be_bytes([high, low]);
    if signature != SIGNATURE || flags & VERSION_MASK != VERSION_2 {
        return false;
    }
    match bytes.get(3) {
        // A four-byte length is not allowed for a packet.
        Some(&first) => first >> 6 != 3,
        None => true,
    }
}

/// Reads a subunit v2 stream. `source_name` names the stream in errors and incomplete marks.
///
/// See the module documentation for how statuses map to outcomes, and how truncated and
/// corrupted streams are told apart.
pub fn parse_subunit(source_name: &str, bytes: &[u8]) -> Result<ResultSet, ParseError> {
    let mut stream = StreamReader::new(source_name);
    let mut offset = 0;
    let mut packets = 0_usize;
    loop {
        offset = skip_text(bytes, offset).map_err(|bad| stream.error(bad, bad_signature_message(bytes, bad)))?;
        match read_packet(bytes, offset) {
            Ok(Read::Packet { packet, length }) => {
                packets += 1;
                stream.apply(packet);
                offset += length;
            }
            Ok(Read::End) => break,
            Ok(Read::Truncated) => {
                stream.results.mark_incomplete(source_name, format!("truncated at offset {offset}: packet cut short"));
                break;
            }
            Err(message) => return Err(stream.error(offset, message)),
        }
    }
    if packets == 0 && stream.results.is_complete() {
        stream.results.mark_incomplete(source_name, "no subunit packets in the stream");
    }
    Ok(stream.finish())
}

fn bad_signature_message(bytes: &[u8], offset: usize) -> String {
    let byte = bytes.get(offset).copied().unwrap_or_default();
    format!("bad signature: byte 0x{byte:02x} starts neither a packet (0xb3) nor text")
}

/// Skips text output between packets from `offset`: returns the offset of the next packet
/// signature (or the end of `bytes`), or, as the error, the offset of a byte that is neither.
///
/// Text is UTF-8 without the control characters that output to a terminal never has (NUL and
/// most of C0; tabs, line ends, escape sequences, backspace and bell are text). A 0xB3 inside a
/// UTF-8 character (a continuation byte, as in `³`) is text, not a packet, as in
/// python-subunit's own reader.
fn skip_text(bytes: &[u8], offset: usize) -> Result<usize, usize> {
    let mut position = offset;
    while let Some(&byte) = bytes.get(position) {
        let width = match byte {
            SIGNATURE => return Ok(position),
            // Control characters that terminal output does not use: a packet whose signature
            // was damaged, not text (its lengths and timestamps are full of them).
            0x00..=0x06 | 0x0E..=0x1A | 0x1C..=0x1F => return Err(position),
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Err(position),
        };
        let Some(character) = bytes.get(position..position + width) else {
            // Text cut at the very end of the stream: a partial character, harmless.
            return Ok(bytes.len());
        };
        if std::str::from_utf8(character).is_err() {
            return Err(position);
        }
        position += width;
    }
    Ok(position)
}

/// One packet's fields, as far as the results need them.
#[derive(Debug, Default)]
struct Packet<'bytes> {
    status: u16,
    timestamp: Option<Duration>,
    test_id: Option<&'bytes [u8]>,
    route_code: Option<&'bytes [u8]>,
    file: Option<File<'bytes>>,
}

/// A chunk of a file attachment.
#[derive(Debug)]
struct File<'bytes> {
    name: &'bytes [u8],
    content: &'bytes [u8],
}

/// What reading a packet at an offset found.
#[derive(Debug)]
enum Read<'bytes> {
    Packet {
        packet: Packet<'bytes>,
        length: usize,
    },
    /// The stream ends exactly here.
    End,
    /// The stream ends inside the packet.
    Truncated,
}

/// Reads the packet that starts at `offset` (where `bytes` has the signature, or ends). The
/// error is a message for a [`ParseError`] at `offset`.
fn read_packet(bytes: &[u8], offset: usize) -> Result<Read<'_>, String> {
    let Some(rest) = bytes.get(offset..).filter(|rest| !rest.is_empty()) else { return Ok(Read::End) };
    let Some(&[_signature, high, low]) = rest.get(..3) else { return Ok(Read::Truncated) };
    let flags = u16::from_be_bytes([high, low]);
    if flags & VERSION_MASK != VERSION_2 {
        return Err(format!("unsupported subunit version {:#x} (flags {flags:#06x})", flags >> 12));
    }
    let mut header = Cursor { bytes: rest, position: 3 };
    let length = match header.number() {
        Ok((_, 4)) => return Err("packet length takes four bytes; at most three are allowed".to_owned()),
        Ok((length, _)) => length,
        Err(Overrun) => return Ok(Read::Truncated),
    };
    if length < header.position + CHECKSUM_BYTES || length < MIN_PACKET_BYTES {
        return Err(format!("packet length {length} is shorter than its header and checksum"));
    }
    let Some(packet) = rest.get(..length) else { return Ok(Read::Truncated) };
    let (content, checksum) = packet.split_at(length - CHECKSUM_BYTES);
    let stored = u32::from_be_bytes([checksum[0], checksum[1], checksum[2], checksum[3]]);
    let computed = crc32(content);
    if stored != computed {
        return Err(format!("bad checksum: computed {computed:#010x}, stored {stored:#010x}"));
    }
    let mut body = Cursor { bytes: content, position: header.position };
    let packet =
        read_fields(flags, &mut body).map_err(|Overrun| "a field runs past the end of the packet".to_owned())?;
    Ok(Read::Packet { packet, length })
}

/// Reads the optional fields, in the order the format puts them.
fn read_fields<'bytes>(flags: u16, body: &mut Cursor<'bytes>) -> Result<Packet<'bytes>, Overrun> {
    let mut packet = Packet { status: flags & STATUS_MASK, ..Packet::default() };
    if flags & FLAG_TIMESTAMP != 0 {
        let seconds = body.u32()?;
        let (nanoseconds, _) = body.number()?;
        // Nanoseconds past a second are a writer's bug; the whole timestamp is then dropped
        // rather than guessed at.
        packet.timestamp = u32::try_from(nanoseconds)
            .ok()
            .filter(|&nanoseconds| nanoseconds < 1_000_000_000)
            .map(|nanoseconds| Duration::new(u64::from(seconds), nanoseconds));
    }
    if flags & FLAG_TEST_ID != 0 {
        packet.test_id = Some(body.string()?);
    }
    if flags & FLAG_TAGS != 0 {
        let (count, _) = body.number()?;
        for _ in 0..count {
            body.string()?;
        }
    }
    if flags & FLAG_MIME_TYPE != 0 {
        body.string()?;
    }
    if flags & FLAG_FILE_CONTENT != 0 {
        let name = body.string()?;
        let content = body.string()?;
        packet.file = Some(File { name, content });
    }
    if flags & FLAG_ROUTE_CODE != 0 {
        packet.route_code = Some(body.string()?);
    }
    Ok(packet)
}

/// A field ran past the bytes available.
#[derive(Debug)]
struct Overrun;

struct Cursor<'bytes> {
    bytes: &'bytes [u8],
    position: usize,
}

impl<'bytes> Cursor<'bytes> {
    fn take(&mut self, count: usize) -> Result<&'bytes [u8], Overrun> {
        let end = self.position.checked_add(count).ok_or(Overrun)?;
        let taken = self.bytes.get(self.position..end).ok_or(Overrun)?;
        self.position = end;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32, Overrun> {
        let taken = self.take(4)?;
        Ok(u32::from_be_bytes([taken[0], taken[1], taken[2], taken[3]]))
    }

    /// A variable-length number and how many bytes it took.
    fn number(&mut self) -> Result<(usize, usize), Overrun> {
        let first = *self.take(1)?.first().ok_or(Overrun)?;
        let width = usize::from(first >> 6) + 1;
        let mut value = usize::from(first & 0x3F);
        for &byte in self.take(width - 1)? {
            value = (value << 8) | usize::from(byte);
        }
        Ok((value, width))
    }

    /// A length-prefixed string, as raw bytes.
    fn string(&mut self) -> Result<&'bytes [u8], Overrun> {
        let (length, _) = self.number()?;
        self.take(length)
    }
}

/// zlib's CRC-32 (the reflected polynomial 0xEDB88320), as python-subunit computes it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0_u32;
    for &byte in bytes {
        crc = CRC32_TABLE[usize::from((crc as u8) ^ byte)] ^ (crc >> 8);
    }
    !crc
}

const CRC32_TABLE: [u32; 256] = {
    let mut table = [0_u32; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = index as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
};

/// A test between its first packet and its final status.
#[derive(Debug, Default)]
struct RunningTest {
    started: Option<Duration>,
    attachments: Vec<Attachment>,
}

/// One named file attachment of a test, gathered from its chunks.
#[derive(Debug)]
struct Attachment {
    name: String,
    content: Vec<u8>,
    truncated: bool,
}

impl RunningTest {
    fn attach(&mut self, name: &[u8], chunk: &[u8]) {
        let name = crate::lines::escape_invalid_utf8(name);
        let kept: usize = self.attachments.iter().map(|attachment| attachment.content.len()).sum();
        let room = MAX_OUTPUT_BYTES.saturating_sub(kept);
        let index = match self.attachments.iter().position(|attachment| attachment.name == name) {
            Some(index) => index,
            None if self.attachments.len() < MAX_ATTACHMENTS => {
                self.attachments.push(Attachment { name: name.into_owned(), content: Vec::new(), truncated: false });
                self.attachments.len() - 1
            }
            None => {
                if let Some(last) = self.attachments.last_mut() {
                    last.truncated = true;
                }
                return;
            }
        };
        let attachment = &mut self.attachments[index];
        let kept_now = chunk.len().min(room);
        attachment.content.extend_from_slice(&chunk[..kept_now]);
        attachment.truncated |= kept_now < chunk.len();
    }

    /// The attempt this test's final `status` (with its timestamp) stands for.
    fn into_attempt(self, outcome: Outcome, status: u16, finished: Option<Duration>) -> Attempt {
        let duration = match (self.started, finished) {
            (Some(started), Some(finished)) => finished.checked_sub(started),
            _ => None,
        };
        let mut attachments = self.attachments;
        // The attachment that explains the outcome leads the output and gives the message.
        let leading = match outcome {
            Outcome::Pass => None,
            Outcome::Skip => attachments.iter().position(|attachment| attachment.name == "reason").or(Some(0)),
            Outcome::Fail | Outcome::Error | Outcome::Xfail => {
                attachments.iter().position(|attachment| attachment.name.starts_with("traceback")).or(Some(0))
            }
        };
        let leading = leading.filter(|&index| index < attachments.len()).map(|index| attachments.remove(index));

        let mut output = BoundedText::new(MAX_OUTPUT_BYTES);
        let mut message = None;
        if let Some(leading) = &leading {
            let text = crate::lines::escape_invalid_utf8(&leading.content);
            message = message_from_text(&text);
            output.push(&text);
            if leading.truncated {
                output.push(TRUNCATION_MARKER);
            }
        }
        for attachment in &attachments {
            output.push_heading(&attachment.name);
            output.push(&crate::lines::escape_invalid_utf8(&attachment.content));
            if attachment.truncated {
                output.push(TRUNCATION_MARKER);
            }
        }
        if message.is_none() && status == STATUS_UNEXPECTED_SUCCESS {
            message = Some(UNEXPECTED_SUCCESS_MESSAGE.to_owned());
        }
        Attempt { outcome, duration, message, output: output.finish() }
    }

    fn into_unfinished_attempt(self) -> Attempt {
        let mut attempt = self.into_attempt(Outcome::Error, STATUS_IN_PROGRESS, None);
        attempt.message = Some(UNFINISHED_MESSAGE.to_owned());
        attempt
    }
}

/// A test listed, not run (`exists` in python-subunit).
const STATUS_EXISTS: u16 = 1;
const STATUS_IN_PROGRESS: u16 = 2;
const STATUS_SUCCESS: u16 = 3;
const STATUS_UNEXPECTED_SUCCESS: u16 = 4;
const STATUS_SKIP: u16 = 5;
const STATUS_FAIL: u16 = 6;
const STATUS_EXPECTED_FAILURE: u16 = 7;

/// The outcome a final status stands for; `None` for statuses that end nothing.
fn final_outcome(status: u16) -> Option<Outcome> {
    match status {
        STATUS_SUCCESS => Some(Outcome::Pass),
        STATUS_UNEXPECTED_SUCCESS | STATUS_FAIL => Some(Outcome::Fail),
        STATUS_SKIP => Some(Outcome::Skip),
        STATUS_EXPECTED_FAILURE => Some(Outcome::Xfail),
        _ => None,
    }
}

/// A running test's key: its route code (the worker it runs in) and its id.
type TestKey = (Vec<u8>, Vec<u8>);

/// Turns packets into attempts.
struct StreamReader<'name> {
    source_name: &'name str,
    results: ResultSet,
    running: BTreeMap<TestKey, RunningTest>,
}

impl<'name> StreamReader<'name> {
    fn new(source_name: &'name str) -> Self {
        StreamReader { source_name, results: ResultSet::new(), running: BTreeMap::new() }
    }

    fn apply(&mut self, packet: Packet<'_>) {
        // Packets without a test id carry stream-level output: no test to give it to.
        let Some(test_id) = packet.test_id else { return };
        if packet.status == STATUS_EXISTS {
            // A listing: the test has not run.
            return;
        }
        let outcome = final_outcome(packet.status);
        let starts = packet.status == STATUS_IN_PROGRESS;
        if outcome.is_none() && !starts && packet.file.is_none() {
            // A bare tag update: nothing to record.
            return;
        }
        let key = (packet.route_code.unwrap_or_default().to_vec(), test_id.to_vec());
        let running = self.running.entry(key).or_default();
        if let Some(file) = &packet.file {
            running.attach(file.name, file.content);
        }
        if starts && running.started.is_none() {
            running.started = packet.timestamp;
        }
        let Some(outcome) = outcome else { return };
        let key = (packet.route_code.unwrap_or_default().to_vec(), test_id.to_vec());
        if let Some(running) = self.running.remove(&key) {
            let id = TestId::new(crate::lines::escape_invalid_utf8(test_id));
            self.results.report(id, running.into_attempt(outcome, packet.status, packet.timestamp));
        }
    }

    fn error(&self, offset: usize, message: String) -> ParseError {
        ParseError { source_name: self.source_name.to_owned(), location: format!("offset {offset}"), message }
    }

    /// Records every test still running as unfinished, and returns the results.
    fn finish(mut self) -> ResultSet {
        let running = std::mem::take(&mut self.running);
        // A test that only ever had attachments (no `inprogress`) was never started in the
        // stream's terms; still, something was reported for it and nothing ended it.
        let unfinished = running.len();
        for ((_, test_id), test) in running {
            let id = TestId::new(crate::lines::escape_invalid_utf8(&test_id));
            self.results.report(id, test.into_unfinished_attempt());
        }
        if unfinished > 0 {
            let tests = if unfinished == 1 { "test" } else { "tests" };
            self.results.mark_incomplete(
                self.source_name,
                format!("{unfinished} {tests} still in progress at the end of the stream"),
            );
        }
        self.results
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Writes packets the way python-subunit's `StreamResultToBytes` does.
    #[derive(Default)]
    struct Event<'a> {
        status: u16,
        test_id: Option<&'a str>,
        /// A test id that need not be UTF-8, written when `test_id` is not given.
        test_id_bytes: Option<&'a [u8]>,
        timestamp: Option<(u32, u32)>,
        tags: &'a [&'a str],
        mime_type: Option<&'a str>,
        file: Option<(&'a str, &'a [u8])>,
        route_code: Option<&'a str>,
    }

    fn number(value: usize, out: &mut Vec<u8>) {
        let value = u32::try_from(value).expect("small");
        match value {
            0..=0x3F => out.push(value as u8),
            0x40..=0x3FFF => out.extend_from_slice(&((value | 0x4000) as u16).to_be_bytes()),
            0x4000..=0x3F_FFFF => out.extend_from_slice(&(value | 0x80_0000).to_be_bytes()[1..]),
            _ => out.extend_from_slice(&(value | 0xC000_0000).to_be_bytes()),
        }
    }

    fn string(text: &[u8], out: &mut Vec<u8>) {
        number(text.len(), out);
        out.extend_from_slice(text);
    }

    fn encode(event: &Event<'_>) -> Vec<u8> {
        let mut flags = VERSION_2 | event.status;
        let mut body = Vec::new();
        if let Some((seconds, nanoseconds)) = event.timestamp {
            flags |= FLAG_TIMESTAMP;
            body.extend_from_slice(&seconds.to_be_bytes());
            number(nanoseconds as usize, &mut body);
        }
        if let Some(test_id) = event.test_id.map(str::as_bytes).or(event.test_id_bytes) {
            flags |= FLAG_TEST_ID;
            string(test_id, &mut body);
        }
        if !event.tags.is_empty() {
            flags |= FLAG_TAGS;
            number(event.tags.len(), &mut body);
            for tag in event.tags {
                string(tag.as_bytes(), &mut body);
            }
        }
        flags |= 0x0100; // runnable, as python-subunit always sets it
        if let Some(mime_type) = event.mime_type {
            flags |= FLAG_MIME_TYPE;
            string(mime_type.as_bytes(), &mut body);
        }
        if let Some((name, content)) = event.file {
            flags |= FLAG_FILE_CONTENT;
            string(name.as_bytes(), &mut body);
            string(content, &mut body);
        }
        if let Some(route_code) = event.route_code {
            flags |= FLAG_ROUTE_CODE;
            string(route_code.as_bytes(), &mut body);
        }
        let base = 1 + 2 + body.len() + CHECKSUM_BYTES;
        let length = match base {
            0..=62 => base + 1,
            63..=16381 => base + 2,
            _ => base + 3,
        };
        let mut packet = vec![SIGNATURE];
        packet.extend_from_slice(&flags.to_be_bytes());
        number(length, &mut packet);
        packet.extend_from_slice(&body);
        let checksum = crc32(&packet);
        packet.extend_from_slice(&checksum.to_be_bytes());
        assert_eq!(packet.len(), length);
        packet
    }

    fn status(test_id: &str, status: u16, seconds: u32) -> Vec<u8> {
        encode(&Event { status, test_id: Some(test_id), timestamp: Some((seconds, 0)), ..Event::default() })
    }

    fn attachment(test_id: &str, name: &str, content: &str) -> Vec<u8> {
        encode(&Event {
            test_id: Some(test_id),
            mime_type: Some("text/plain; charset=utf8"),
            file: Some((name, content.as_bytes())),
            ..Event::default()
        })
    }

    fn stream(packets: &[Vec<u8>]) -> Vec<u8> {
        packets.concat()
    }

    fn parse(bytes: &[u8]) -> ResultSet {
        parse_subunit("results.subunit", bytes).expect("the stream should parse")
    }

    fn only_attempt<'a>(results: &'a ResultSet, id: &str) -> &'a Attempt {
        let result = results.get(&TestId::new(id)).unwrap_or_else(|| panic!("{id} should be recorded"));
        assert_eq!(result.attempts.len(), 1, "{id}: {:?}", result.attempts);
        &result.attempts[0]
    }

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn reads_a_passing_test_with_its_duration() {
        let results = parse(&stream(&[
            status("a.B.test_c", STATUS_IN_PROGRESS, 100),
            encode(&Event {
                status: STATUS_SUCCESS,
                test_id: Some("a.B.test_c"),
                timestamp: Some((101, 500_000_000)),
                tags: &["worker-0"],
                ..Event::default()
            }),
        ]));
        assert!(results.is_complete());
        let attempt = only_attempt(&results, "a.B.test_c");
        assert_eq!(attempt.outcome, Outcome::Pass);
        assert_eq!(attempt.duration, Some(Duration::from_millis(1500)));
        assert_eq!((attempt.message.as_deref(), attempt.output.as_deref()), (None, None));
    }

    #[test]
    fn a_failure_gets_the_last_line_of_its_chunked_traceback() {
        let results = parse(&stream(&[
            status("a.B.test_c", STATUS_IN_PROGRESS, 100),
            attachment("a.B.test_c", "traceback", "Traceback (most recent call last):\n"),
            attachment("a.B.test_c", "traceback", "  File \"a.py\", line 3, in test_c\n    divide(1, 0)\n"),
            attachment("a.B.test_c", "traceback", "ZeroDivisionError: division by zero\n"),
            attachment("a.B.test_c", "stdout", "parsing 42\n"),
            status("a.B.test_c", STATUS_FAIL, 100),
        ]));
        let attempt = only_attempt(&results, "a.B.test_c");
        assert_eq!(attempt.outcome, Outcome::Fail);
        assert_eq!(attempt.message.as_deref(), Some("ZeroDivisionError: division by zero"));
        assert_eq!(
            attempt.output.as_deref(),
            Some(
                "Traceback (most recent call last):\n  File \"a.py\", line 3, in test_c\n    divide(1, 0)\nZeroDivisionError: division by zero\n\n--- stdout ---\nparsing 42"
            )
        );
    }

    #[test]
    fn skips_take_their_reason_and_expected_failures_count_as_xfail() {
        let results = parse(&stream(&[
            attachment("t.skipped", "reason", "needs a GPU"),
            status("t.skipped", STATUS_SKIP, 1),
            status("t.known_bug", STATUS_EXPECTED_FAILURE, 1),
            status("t.bug_fixed", STATUS_UNEXPECTED_SUCCESS, 1),
        ]));
        let skipped = only_attempt(&results, "t.skipped");
        assert_eq!((skipped.outcome, skipped.message.as_deref()), (Outcome::Skip, Some("needs a GPU")));
        assert_eq!(only_attempt(&results, "t.known_bug").outcome, Outcome::Xfail);
        let fixed = only_attempt(&results, "t.bug_fixed");
        assert_eq!((fixed.outcome, fixed.message.as_deref()), (Outcome::Fail, Some(UNEXPECTED_SUCCESS_MESSAGE)));
        assert!(results.is_complete());
    }

    #[test]
    fn a_listing_records_nothing() {
        let results = parse(&stream(&[
            status("t.listed", STATUS_EXISTS, 1),
            encode(&Event { status: STATUS_EXISTS, test_id: Some("t.run"), ..Event::default() }),
            status("t.run", STATUS_SUCCESS, 1),
        ]));
        assert_eq!(results.ids().map(TestId::as_str).collect::<Vec<_>>(), ["t.run"]);
        assert!(results.is_complete());
    }

    #[test]
    fn the_same_test_twice_is_two_attempts_when_they_agree_and_one_error_when_not() {
        let results = parse(&stream(&[
            status("t.twice", STATUS_IN_PROGRESS, 1),
            status("t.twice", STATUS_FAIL, 2),
            status("t.twice", STATUS_IN_PROGRESS, 3),
            status("t.twice", STATUS_FAIL, 5),
        ]));
        let twice = results.get(&TestId::new("t.twice")).expect("recorded");
        assert_eq!(twice.outcomes().collect::<Vec<_>>(), [Outcome::Fail, Outcome::Fail]);
        assert_eq!(twice.attempts[1].duration, Some(Duration::from_secs(2)));

        let results = parse(&stream(&[
            status("t.flaky", STATUS_IN_PROGRESS, 1),
            status("t.flaky", STATUS_FAIL, 2),
            status("t.flaky", STATUS_IN_PROGRESS, 3),
            status("t.flaky", STATUS_SUCCESS, 4),
        ]));
        let flaky = results.get(&TestId::new("t.flaky")).expect("recorded");
        assert_eq!(flaky.outcomes().collect::<Vec<_>>(), [Outcome::Error]);
        assert_eq!(flaky.failure_message(), Some(crate::CONFLICT_IN_ONE_FILE));
    }

    #[test]
    fn test_ids_that_are_not_utf8_stay_apart_and_show_their_bytes() {
        let event =
            |id: &'static [u8], status: u16| encode(&Event { status, test_id_bytes: Some(id), ..Event::default() });
        let results = parse(&stream(&[
            event(b"t.caf\xe9", STATUS_IN_PROGRESS),
            event(b"t.caf\xe9", STATUS_FAIL),
            event(b"t.caf\xe8", STATUS_IN_PROGRESS),
            event(b"t.caf\xe8", STATUS_SUCCESS),
        ]));
        let ids: Vec<&str> = results.ids().map(TestId::as_str).collect();
        assert_eq!(ids, ["t.caf\\xe8", "t.caf\\xe9"]);
        assert_eq!(only_attempt(&results, "t.caf\\xe9").outcome, Outcome::Fail);
        assert_eq!(only_attempt(&results, "t.caf\\xe8").outcome, Outcome::Pass);
    }

    #[test]
    fn workers_are_told_apart_by_route_code() {
        let in_worker = |route: &'static str, status: u16, file: Option<(&'static str, &'static [u8])>| {
            encode(&Event { status, test_id: Some("t.shared"), route_code: Some(route), file, ..Event::default() })
        };
        let results = parse(&stream(&[
            in_worker("0", STATUS_IN_PROGRESS, None),
            in_worker("1", STATUS_IN_PROGRESS, None),
            in_worker("0", 0, Some(("traceback", b"AssertionError: from worker 0\n"))),
            in_worker("1", STATUS_SKIP, None),
            in_worker("0", STATUS_FAIL, None),
        ]));
        let shared = results.get(&TestId::new("t.shared")).expect("recorded");
        assert_eq!(shared.outcomes().collect::<Vec<_>>(), [Outcome::Skip, Outcome::Fail]);
        assert_eq!(shared.attempts[0].output, None);
        assert_eq!(shared.attempts[1].message.as_deref(), Some("AssertionError: from worker 0"));
    }

    #[test]
    fn a_test_in_progress_at_the_end_is_an_error_and_the_set_incomplete() {
        let results = parse(&stream(&[
            status("t.done", STATUS_IN_PROGRESS, 1),
            status("t.done", STATUS_SUCCESS, 1),
            status("t.crashed", STATUS_IN_PROGRESS, 2),
            attachment("t.crashed", "stdout", "about to segfault"),
        ]));
        assert_eq!(only_attempt(&results, "t.done").outcome, Outcome::Pass);
        let crashed = only_attempt(&results, "t.crashed");
        assert_eq!(crashed.outcome, Outcome::Error);
        assert_eq!(crashed.message.as_deref(), Some(UNFINISHED_MESSAGE));
        assert_eq!(crashed.output.as_deref(), Some("about to segfault"));
        assert_eq!(results.incomplete.len(), 1);
        assert_eq!(results.incomplete[0].reason, "1 test still in progress at the end of the stream");
    }

    #[test]
    fn a_stream_cut_inside_a_packet_keeps_the_packets_before_it() {
        let first = stream(&[status("t.a", STATUS_IN_PROGRESS, 1), status("t.a", STATUS_SUCCESS, 1)]);
        let second = status("t.b", STATUS_SUCCESS, 1);
        for cut in 1..second.len() {
            let mut bytes = first.clone();
            bytes.extend_from_slice(&second[..cut]);
            let results = parse(&bytes);
            assert_eq!(results.ids().map(TestId::as_str).collect::<Vec<_>>(), ["t.a"], "cut at {cut}");
            assert_eq!(results.incomplete.len(), 1, "cut at {cut}");
            assert_eq!(
                results.incomplete[0].reason,
                format!("truncated at offset {}: packet cut short", first.len()),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_bad_checksum_is_an_error_at_the_packets_offset() {
        let first = status("t.a", STATUS_SUCCESS, 1);
        let mut second = status("t.b", STATUS_SUCCESS, 1);
        let last = second.len() - 1;
        second[last] ^= 0xFF;
        let error = parse_subunit("run.subunit", &stream(&[first.clone(), second])).expect_err("bad checksum");
        assert_eq!(error.location, format!("offset {}", first.len()));
        assert!(error.message.starts_with("bad checksum"), "{}", error.message);
        assert_eq!(error.to_string(), format!("run.subunit:offset {}: {}", first.len(), error.message));
    }

    #[test]
    fn binary_garbage_between_packets_is_a_bad_signature() {
        let first = status("t.a", STATUS_SUCCESS, 1);
        let bytes = stream(&[first.clone(), b"ok\n\xFF\xFE".to_vec(), status("t.b", STATUS_SUCCESS, 1)]);
        let error = parse_subunit("run.subunit", &bytes).expect_err("garbage");
        assert_eq!(error.location, format!("offset {}", first.len() + 3));
        assert_eq!(error.message, "bad signature: byte 0xff starts neither a packet (0xb3) nor text");

        let nul = stream(&[first.clone(), vec![0x00], status("t.b", STATUS_SUCCESS, 1)]);
        let error = parse_subunit("run.subunit", &nul).expect_err("a damaged signature");
        assert_eq!(error.location, format!("offset {}", first.len()));
    }

    #[test]
    fn text_between_packets_is_passed_over() {
        // `³` is 0xC2 0xB3: its second byte is the signature's value but inside a character.
        let bytes = stream(&[
            b"collecting tests\n".to_vec(),
            status("t.a", STATUS_SUCCESS, 1),
            "hello from a test: x³\t\x1b[32mok\x1b[0m\r\n".as_bytes().to_vec(),
            status("t.b", STATUS_SUCCESS, 1),
            b"trailing output".to_vec(),
        ]);
        let results = parse(&bytes);
        assert_eq!(results.ids().map(TestId::as_str).collect::<Vec<_>>(), ["t.a", "t.b"]);
        assert!(results.is_complete());
        assert!(looks_like_subunit(&bytes));
    }

    #[test]
    fn malformed_headers_are_errors() {
        let mut version_one = status("t.a", STATUS_SUCCESS, 1);
        version_one[1] = 0x10 | (version_one[1] & 0x0F);
        let error = parse_subunit("s", &version_one).expect_err("version 1");
        assert_eq!(
            (error.location.as_str(), error.message.as_str()),
            ("offset 0", "unsupported subunit version 0x1 (flags 0x1b03)")
        );

        let four_byte_length = [SIGNATURE, 0x20, 0x03, 0xC0, 0x00, 0x00, 0x10, 0, 0, 0, 0];
        let error = parse_subunit("s", &four_byte_length).expect_err("four-byte length");
        assert!(error.message.contains("four bytes"), "{}", error.message);

        let too_short = [SIGNATURE, 0x20, 0x03, 0x05, 0x00, 0x00, 0x00, 0x00];
        let error = parse_subunit("s", &too_short).expect_err("length under the header");
        assert_eq!(error.message, "packet length 5 is shorter than its header and checksum");
    }

    #[test]
    fn a_field_that_overruns_its_packet_is_an_error() {
        // A test id that claims 40 bytes in a packet that has 3, with a valid checksum.
        let mut packet = vec![SIGNATURE, 0x28, 0x03, 0x00, 40, b'a', b'b', b'c'];
        packet[3] = u8::try_from(packet.len() + CHECKSUM_BYTES).expect("small");
        let checksum = crc32(&packet);
        packet.extend_from_slice(&checksum.to_be_bytes());
        let error = parse_subunit("s", &packet).expect_err("overrun");
        assert_eq!(error.message, "a field runs past the end of the packet");
    }

    #[test]
    fn attachments_are_bounded() {
        let chunk = "x".repeat(16 * 1024);
        let mut packets = vec![status("t.big", STATUS_IN_PROGRESS, 1)];
        for index in 0..(MAX_OUTPUT_BYTES / chunk.len()) * 3 {
            packets.push(attachment("t.big", "traceback", &chunk));
            packets.push(attachment("t.big", &format!("log-{index}"), &chunk));
        }
        packets.push(status("t.big", STATUS_FAIL, 2));
        let attempt = parse(&stream(&packets)).get(&TestId::new("t.big")).expect("recorded").attempts[0].clone();
        let output = attempt.output.expect("output kept");
        assert!(output.len() <= MAX_OUTPUT_BYTES + TRUNCATION_MARKER.len(), "{}", output.len());
        assert!(output.ends_with(TRUNCATION_MARKER.trim_start()), "{}", &output[output.len() - 40..]);
    }

    #[test]
    fn an_empty_stream_is_incomplete() {
        let results = parse(b"");
        assert!(results.is_empty());
        assert_eq!(results.incomplete[0].reason, "no subunit packets in the stream");
    }

    #[test]
    fn detects_subunit_by_content() {
        let packet = status("t.a", STATUS_SUCCESS, 1);
        assert!(looks_like_subunit(&packet));
        // Cut inside the first packet: still a stream, read as truncated.
        assert!(looks_like_subunit(&packet[..4]));
        assert!(looks_like_subunit(&packet[..2]));

        assert!(!looks_like_subunit(b""));
        assert!(!looks_like_subunit(&[SIGNATURE]));
        assert!(!looks_like_subunit(b"<testsuite><testcase name=\"a\"/></testsuite>"));
        assert!(!looks_like_subunit(b"TAP version 13\n1..1\nok 1 - x\xc2\xb3\n"));
        assert!(!looks_like_subunit(b"{\"Action\":\"run\"}\n"));
        // A Latin-1 `³` followed by text: a lone 0xB3 without a valid packet after it.
        assert!(!looks_like_subunit(b"x = 2\xb3 + 1, and more text to fill a packet's length"));
        let mut corrupted = packet.clone();
        let last = corrupted.len() - 1;
        corrupted[last] ^= 1;
        assert!(!looks_like_subunit(&[b"log line\n".as_slice(), &corrupted].concat()));
        assert!(looks_like_subunit(&[b"log line\n".as_slice(), &packet].concat()));
    }

    fn realistic_stream() -> Vec<u8> {
        stream(&[
            status("t.a", STATUS_IN_PROGRESS, 1),
            attachment("t.a", "traceback", "Traceback (most recent call last):\nValueError: x\n"),
            status("t.a", STATUS_FAIL, 2),
            b"printed\n".to_vec(),
            status("t.b", STATUS_IN_PROGRESS, 2),
            attachment("t.b", "reason", "later"),
            status("t.b", STATUS_SKIP, 2),
            status("t.c", STATUS_IN_PROGRESS, 3),
        ])
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = looks_like_subunit(&bytes);
            let _ = parse_subunit("fuzz", &bytes);
            let mut with_signature = vec![SIGNATURE, 0x2B];
            with_signature.extend_from_slice(&bytes);
            let _ = looks_like_subunit(&with_signature);
            let _ = parse_subunit("fuzz", &with_signature);
        }

        #[test]
        fn never_panics_on_a_corrupted_stream(
            position in 0_usize..10_000,
            value in any::<u8>(),
            cut in 0_usize..10_000,
        ) {
            let mut bytes = realistic_stream();
            let position = position % bytes.len();
            bytes[position] = value;
            bytes.truncate(cut % (bytes.len() + 1));
            let _ = looks_like_subunit(&bytes);
            let _ = parse_subunit("fuzz", &bytes);
        }

        #[test]
        fn a_stream_cut_inside_a_packet_never_reads_as_complete(cut in 0_usize..10_000) {
            let packets = [
                status("t.a", STATUS_IN_PROGRESS, 1),
                attachment("t.a", "traceback", "Traceback (most recent call last):\nValueError: x\n"),
                status("t.a", STATUS_FAIL, 2),
                status("t.b", STATUS_SUCCESS, 2),
            ];
            let bytes = stream(&packets);
            let cut = cut % bytes.len();
            let mut packet_start = 0;
            let inside_a_packet = packets.iter().any(|packet| {
                let inside = cut > packet_start && cut < packet_start + packet.len();
                packet_start += packet.len();
                inside
            });
            prop_assume!(inside_a_packet);
            let results = parse_subunit("fuzz", &bytes[..cut]).expect("a cut stream parses");
            prop_assert!(!results.is_complete(), "cut at {}: {:?}", cut, results);
        }
    }
}
