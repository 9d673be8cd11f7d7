//! Recognising what a stream holds from its first bytes (never from its name or media type) and
//! decompressing it as it streams by.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::FrameDecoder;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};

/// How many bytes are looked at to recognise a stream: one tar header.
pub(crate) const HEAD_LENGTH: usize = 512;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: [u8; 3] = *b"BZh";

/// How a layer's tar stream was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::None => "uncompressed",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        })
    }
}

/// What the first bytes of a stream say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// A tar stream, compressed or not.
    Tar(Compression),
    /// Compressed with something imagegate does not decompress.
    Unsupported(&'static str),
    /// Anything else (JSON, text, or too short to tell).
    Other,
}

/// Recognises a stream from its first [`HEAD_LENGTH`] bytes (fewer when it is shorter).
pub(crate) fn recognise(head: &[u8]) -> Content {
    if head.starts_with(&GZIP_MAGIC) {
        Content::Tar(Compression::Gzip)
    } else if head.starts_with(&ZSTD_MAGIC) {
        Content::Tar(Compression::Zstd)
    } else if head.starts_with(&XZ_MAGIC) {
        Content::Unsupported("xz")
    } else if head.starts_with(&BZIP2_MAGIC) && head.get(3).is_some_and(|level| (b'1'..=b'9').contains(level)) {
        Content::Unsupported("bzip2")
    } else if is_tar_header(head) {
        Content::Tar(Compression::None)
    } else {
        Content::Other
    }
}

/// Whether `head` starts with a tar header: a valid header checksum (which also accepts old
/// headers without the `ustar` magic) or the all-zero block that ends an empty archive.
fn is_tar_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..HEAD_LENGTH) else {
        return false;
    };
    if block.iter().all(|byte| *byte == 0) {
        return true;
    }
    let stored = std::str::from_utf8(&block[148..156])
        .ok()
        .map(|field| field.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|field| u32::from_str_radix(field, 8).ok());
    let Some(stored) = stored else {
        return false;
    };
    // The checksum is the sum of the header's bytes with its own field counted as spaces.
    let computed: u32 = block
        .iter()
        .enumerate()
        .map(|(index, byte)| if (148..156).contains(&index) { u32::from(b' ') } else { u32::from(*byte) })
        .sum();
    computed == stored
}

/// Reads up to [`HEAD_LENGTH`] bytes: fewer only when the stream ends first.
pub(crate) fn read_head(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_LENGTH);
    reader.take(HEAD_LENGTH as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A reader that remembers the first error of the reader it wraps, so that an error that
/// surfaces later through the tar reader (which rewords it) can be told apart from a malformed
/// tar stream.
pub(crate) struct Tracked<R> {
    inner: R,
    pub(crate) failure: Option<String>,
}

impl<R: Read> Tracked<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self { inner, failure: None }
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buffer).inspect_err(|error| {
            if self.failure.is_none() {
                self.failure = Some(error.to_string());
            }
        })
    }
}

/// The decompressed stream of `reader`.
pub(crate) fn decompressed<'a, R: Read + 'a>(reader: R, compression: Compression) -> Box<dyn Read + 'a> {
    match compression {
        Compression::None => Box::new(reader),
        // Several gzip members in a row are one stream (eStargz layers are made that way).
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(ZstdFrames::new(reader)),
    }
}

/// Decodes every zstd frame of a stream in turn, skipping skippable frames (zstd:chunked layers
/// hold several frames and a skippable one with their table of contents) and checking each
/// frame's checksum when it has one.
pub(crate) struct ZstdFrames<R> {
    source: BufReader<R>,
    decoder: FrameDecoder,
    in_frame: bool,
}

impl<R: Read> ZstdFrames<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self { source: BufReader::with_capacity(128 * 1024, reader), decoder: FrameDecoder::new(), in_frame: false }
    }

    /// Starts the next frame; returns `false` at the end of the stream.
    fn start_frame(&mut self) -> io::Result<bool> {
        loop {
            if self.source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            match self.decoder.reset(&mut self.source) {
                Ok(()) => return Ok(true),
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                    let skipped = io::copy(&mut (&mut self.source).take(u64::from(length)), &mut io::sink())?;
                    if skipped < u64::from(length) {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the data ends inside a skippable frame",
                        ));
                    }
                }
                Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
            }
        }
    }
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if buffer.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if !self.start_frame()? {
                    return Ok(0);
                }
                self.in_frame = true;
            }
            while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                self.decoder
                    .decode_blocks(&mut self.source, ruzstd::decoding::BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(|error| match error {
                        FrameDecoderError::FailedToReadBlockHeader(_) | FrameDecoderError::FailedToReadBlockBody(_) => {
                            io::Error::new(io::ErrorKind::UnexpectedEof, error)
                        }
                        other => io::Error::new(io::ErrorKind::InvalidData, other),
                    })?;
            }
            if self.decoder.can_collect() > 0 {
                return self.decoder.read(buffer);
            }
            // The frame is finished and every byte of it handed out.
            if let (Some(stored), Some(computed)) =
                (self.decoder.get_checksum_from_data(), self.decoder.get_calculated_checksum())
                && stored != computed
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a zstd frame's checksum does not match its data",
                ));
            }
            self.in_frame = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn read_all(mut reader: impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn recognises_streams_by_their_first_bytes() {
        let tar = tar_of(&[("a", b"x")]);
        assert_eq!(recognise(&tar[..HEAD_LENGTH]), Content::Tar(Compression::None));
        assert_eq!(recognise(&gzip(&tar)), Content::Tar(Compression::Gzip));
        assert_eq!(recognise(&zstd(&tar)), Content::Tar(Compression::Zstd));
        assert_eq!(recognise(&[0u8; 1024][..HEAD_LENGTH]), Content::Tar(Compression::None));
        assert_eq!(recognise(b"{\"schemaVersion\": 2}"), Content::Other);
        assert_eq!(recognise(&XZ_MAGIC), Content::Unsupported("xz"));
        assert_eq!(recognise(b"BZh91AY&SY"), Content::Unsupported("bzip2"));
        assert_eq!(recognise(b""), Content::Other);
    }

    #[test]
    fn a_corrupted_tar_header_is_not_recognised_as_tar() {
        let mut tar = tar_of(&[("a", b"x")]);
        tar[0] ^= 0x55;
        assert_eq!(recognise(&tar[..HEAD_LENGTH]), Content::Other);
    }

    #[test]
    fn zstd_frames_decode_several_frames_and_skip_skippable_ones() {
        let mut stream = zstd(b"first frame, ");
        // a skippable frame: magic 0x184D2A50 (little endian), length 5, five bytes of payload
        stream.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0, 1, 2, 3, 4, 5]);
        stream.extend_from_slice(&zstd(b"second frame"));
        assert_eq!(read_all(ZstdFrames::new(&stream[..])).unwrap(), b"first frame, second frame");
    }

    #[test]
    fn zstd_frames_report_a_truncated_stream() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|n| n.to_le_bytes()).collect();
        let stream = zstd(&data);
        let error = read_all(ZstdFrames::new(&stream[..stream.len() / 2])).unwrap_err();
        assert!(matches!(error.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData), "{error:?}");
    }

    #[test]
    fn gzip_members_in_a_row_are_one_stream() {
        let mut stream = gzip(b"one ");
        stream.extend_from_slice(&gzip(b"two"));
        assert_eq!(read_all(decompressed(&stream[..], Compression::Gzip)).unwrap(), b"one two");
    }

    #[test]
    fn tracked_remembers_the_first_error() {
        let stream = gzip(b"some data that is long enough to be cut");
        let mut tracked = Tracked::new(decompressed(&stream[..stream.len() - 6], Compression::Gzip));
        assert!(read_all(&mut tracked).is_err());
        assert!(tracked.failure.is_some());
    }
}
