//! The suite's output log, bounded: a suite that prints without end must not fill the disk.
//!
//! The log keeps the head of the output (how the run started: the command, the versions, the
//! first error) and its tail (how it ended: the summary, the traceback), each at most half the
//! limit, and one line between them that says how many bytes and lines were cut. The head goes
//! to the file as it arrives; the tail is held in memory until the output ends, so memory use
//! is bounded by half the limit.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};

/// More than the longest marker line takes.
const MARKER_ROOM: u64 = 160;

/// Writes what a run prints to `file`, keeping at most `limit` bytes in all.
pub(crate) struct BoundedLog {
    file: File,
    head_left: u64,
    tail_limit: usize,
    /// The last bytes seen after the head, in the chunks they arrived in; `tail_skip` bytes of
    /// the first chunk are already cut.
    tail: VecDeque<Vec<u8>>,
    tail_skip: usize,
    tail_len: usize,
    cut_bytes: u64,
    cut_lines: u64,
    /// Whether the head ended at the end of a line, so the marker starts on its own line.
    head_ends_line: bool,
}

impl BoundedLog {
    pub(crate) fn new(file: File, limit: u64) -> BoundedLog {
        // Room for the marker, so that the whole log stays within the limit.
        let kept = limit.saturating_sub(MARKER_ROOM);
        let head = kept / 2;
        BoundedLog {
            file,
            head_left: head,
            tail_limit: usize::try_from(kept - head).unwrap_or(usize::MAX),
            tail: VecDeque::new(),
            tail_skip: 0,
            tail_len: 0,
            cut_bytes: 0,
            cut_lines: 0,
            head_ends_line: true,
        }
    }

    /// Takes the next bytes of output.
    pub(crate) fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if self.head_left > 0 && !bytes.is_empty() {
            let take = bytes.len().min(usize::try_from(self.head_left).unwrap_or(usize::MAX));
            self.file.write_all(&bytes[..take])?;
            self.head_ends_line = bytes[take - 1] == b'\n';
            self.head_left -= take as u64;
            bytes = &bytes[take..];
        }
        if bytes.is_empty() {
            return Ok(());
        }
        self.tail_len += bytes.len();
        self.tail.push_back(bytes.to_vec());
        // Cut from the front of the tail until it fits, whole chunks first.
        while self.tail_len > self.tail_limit {
            let excess = self.tail_len - self.tail_limit;
            let Some(front) = self.tail.front() else { break };
            let available = front.len() - self.tail_skip;
            let cut = excess.min(available);
            let removed = &front[self.tail_skip..self.tail_skip + cut];
            self.cut_lines += memchr::memchr_iter(b'\n', removed).count() as u64;
            self.cut_bytes += cut as u64;
            self.tail_len -= cut;
            if cut == available {
                self.tail.pop_front();
                self.tail_skip = 0;
            } else {
                self.tail_skip += cut;
            }
        }
        Ok(())
    }

    /// Writes the marker (if anything was cut) and the tail; returns the bytes cut.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        if self.cut_bytes > 0 {
            let marker = format!(
                "{}[imagegate: {} bytes ({} lines) of output cut here; the log keeps its first and last bytes]\n",
                if self.head_ends_line { "" } else { "\n" },
                self.cut_bytes,
                self.cut_lines
            );
            self.file.write_all(marker.as_bytes())?;
        }
        let mut skip = self.tail_skip;
        for chunk in &self.tail {
            self.file.write_all(&chunk[skip..])?;
            skip = 0;
        }
        self.file.flush()?;
        Ok(self.cut_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(limit: u64, chunks: &[&[u8]]) -> (String, u64) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("output.log");
        let mut log = BoundedLog::new(File::create(&path).expect("the log"), limit);
        for chunk in chunks {
            log.push(chunk).expect("written");
        }
        let cut = log.finish().expect("finished");
        (std::fs::read_to_string(&path).expect("read back"), cut)
    }

    #[test]
    fn output_within_the_limit_is_kept_whole() {
        let (text, cut) = logged(MARKER_ROOM + 100, &[b"one\n", b"two\n"]);
        assert_eq!(text, "one\ntwo\n");
        assert_eq!(cut, 0);
        let (text, _) = logged(MARKER_ROOM + 8, &[b"one\n", b"two\n"]);
        assert_eq!(text, "one\ntwo\n");
    }

    #[test]
    fn the_head_and_the_tail_are_kept_and_the_cut_is_named() {
        let lines: Vec<String> = (0..100).map(|index| format!("line {index:02}\n")).collect();
        let chunks: Vec<&[u8]> = lines.iter().map(String::as_bytes).collect();
        // 8 bytes a line; 16 bytes of head and 16 of tail.
        let (text, cut) = logged(MARKER_ROOM + 32, &chunks);
        assert_eq!(
            text,
            "line 00\nline 01\n[imagegate: 768 bytes (96 lines) of output cut here; the log keeps its first and last bytes]\nline 98\nline 99\n"
        );
        assert_eq!(cut, 768);
    }

    #[test]
    fn cuts_inside_chunks_count_bytes_and_lines_exactly() {
        let big = vec![b'x'; 1000];
        let (text, cut) = logged(MARKER_ROOM + 10, &[b"ab", &big, b"\nend\n"]);
        assert_eq!(cut, 2 + 1000 + 5 - 10);
        assert!(text.starts_with("abxxx\n[imagegate: 997 bytes (0 lines)"), "{text}");
        assert!(text.ends_with("]\n\nend\n"), "{text}");
        assert!(text.len() as u64 <= MARKER_ROOM + 10, "{}", text.len());
    }

    #[test]
    fn a_gigabyte_of_output_leaves_at_most_the_default_64_mib() {
        const LIMIT: u64 = 64 * 1024 * 1024;
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("output.log");
        let mut log = BoundedLog::new(File::create(&path).expect("the log"), LIMIT);
        let mut line = vec![b'x'; 99];
        line.push(b'\n');
        let chunk = line.repeat(10 * 1024);
        log.push(b"first line\n").expect("written");
        for _ in 0..1000 {
            log.push(&chunk).expect("written");
        }
        log.push(b"last line\n").expect("written");
        let cut = log.finish().expect("finished");
        let size = std::fs::metadata(&path).expect("the log").len();
        assert!(size <= LIMIT, "{size} bytes");
        assert!(size > LIMIT - MARKER_ROOM, "{size} bytes");
        let total = 11 + 1000 * chunk.len() as u64 + 10;
        assert_eq!(cut, total - (size - marker_length(&path)));
        let text = std::fs::read(&path).expect("read back");
        assert!(text.starts_with(b"first line\nxxx"));
        assert!(text.ends_with(b"xxx\nlast line\n"));
    }

    /// The length of the marker line in the log at `path`, with the line break before it that
    /// ends a head cut mid-line.
    fn marker_length(path: &std::path::Path) -> u64 {
        let text = std::fs::read(path).expect("read back");
        let start = text.windows(13).position(|window| window == b"\n[imagegate: ").expect("a marker");
        let end = start + 1 + text[start + 1..].iter().position(|&byte| byte == b'\n').expect("a whole line");
        (end + 1 - start) as u64
    }
}
