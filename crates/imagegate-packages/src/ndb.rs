//! rpm's own package database format ("ndb"), SUSE's `Packages.db`, read from its bytes.
//!
//! All numbers are little-endian. The file starts with a 32-byte header (magic `RpmP`, format
//! version 0, generation, number of slot pages). The slot pages follow from the start of the
//! file, 4096 bytes each, holding 16-byte slots (magic `Slot`, package index, offset and length
//! in 16-byte blocks); the header takes the place of the first two slots. A used slot points at
//! a blob: a 16-byte blob header (magic `BlbS`, package index, checksum, length) followed by
//! the package's rpm header.

use thiserror::Error;

const HEADER_MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_MAGIC: &[u8; 4] = b"BlbS";
const SLOT_PAGE_BYTES: usize = 4096;
const SLOT_BYTES: usize = 16;
const BLOCK_BYTES: usize = 16;
/// rpm refuses more slot pages than this; so does this reader, to bound what a corrupt count
/// makes it read.
const MAX_SLOT_PAGES: usize = 2048;

/// Why an ndb database, or one package in it, could not be read.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NdbError {
    /// The file does not start with an ndb header of format version 0.
    #[error("not an rpm ndb database")]
    NotNdb,
    /// The header counts more slot pages than the file holds or rpm allows.
    #[error("the header counts {0} slot pages")]
    SlotPages(usize),
    /// A slot in the slot pages lacks its magic.
    #[error("slot {position} is damaged")]
    Slot { position: usize },
    /// A slot points at something that is not the blob of its package.
    #[error("package {index} has no valid blob")]
    Blob { index: u32 },
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let quad: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(quad))
}

/// What the file held.
#[derive(Debug, Default)]
pub(crate) struct NdbRead {
    /// Each package's index and rpm header.
    pub blobs: Vec<(u32, Vec<u8>)>,
    /// Packages whose blob could not be read; the others still are.
    pub errors: Vec<NdbError>,
}

/// Reads the rpm header of every package in the database.
pub(crate) fn read_blobs(file: &[u8]) -> Result<NdbRead, NdbError> {
    if file.get(..4) != Some(HEADER_MAGIC) || u32_at(file, 4) != Some(0) {
        return Err(NdbError::NotNdb);
    }
    let slot_pages = u32_at(file, 12).ok_or(NdbError::NotNdb)? as usize;
    if slot_pages == 0 || slot_pages > MAX_SLOT_PAGES || slot_pages * SLOT_PAGE_BYTES > file.len() {
        return Err(NdbError::SlotPages(slot_pages));
    }
    let mut read = NdbRead::default();
    let slots = file[..slot_pages * SLOT_PAGE_BYTES].chunks_exact(SLOT_BYTES).skip(2);
    for (position, slot) in slots.enumerate() {
        if &slot[..4] != SLOT_MAGIC {
            read.errors.push(NdbError::Slot { position });
            continue;
        }
        let index = u32_at(slot, 4).unwrap_or(0);
        if index == 0 {
            continue;
        }
        let offset = u32_at(slot, 8).unwrap_or(0) as usize * BLOCK_BYTES;
        match blob(file, offset, index) {
            Some(header) => read.blobs.push((index, header.to_vec())),
            None => read.errors.push(NdbError::Blob { index }),
        }
    }
    Ok(read)
}

/// The rpm header in the blob at `offset`, if the blob there is package `index`'s.
fn blob(file: &[u8], offset: usize, index: u32) -> Option<&[u8]> {
    let blob_header = file.get(offset..offset.checked_add(BLOCK_BYTES)?)?;
    if &blob_header[..4] != BLOB_MAGIC || u32_at(blob_header, 4) != Some(index) {
        return None;
    }
    let length = u32_at(blob_header, 12)? as usize;
    let start = offset + BLOCK_BYTES;
    file.get(start..start.checked_add(length)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An ndb file laid out by the format: header and one slot page, then one blob per package
    /// (blob header, rpm header, padding to a whole block).
    pub(crate) fn ndb_file(headers: &[Vec<u8>]) -> Vec<u8> {
        let mut file = vec![0u8; SLOT_PAGE_BYTES];
        file[..4].copy_from_slice(HEADER_MAGIC);
        file[12..16].copy_from_slice(&1u32.to_le_bytes());
        let mut slots = Vec::new();
        for (position, header) in headers.iter().enumerate() {
            let index = position as u32 + 1;
            let block = file.len() / BLOCK_BYTES;
            file.extend_from_slice(BLOB_MAGIC);
            file.extend_from_slice(&index.to_le_bytes());
            file.extend_from_slice(&0u32.to_le_bytes());
            file.extend_from_slice(&(header.len() as u32).to_le_bytes());
            file.extend_from_slice(header);
            while !file.len().is_multiple_of(BLOCK_BYTES) {
                file.push(0);
            }
            let blocks = file.len() / BLOCK_BYTES - block;
            slots.push((index, block as u32, blocks as u32));
        }
        // Every slot of the page carries the magic; unused ones have package index 0.
        for slot in 2..SLOT_PAGE_BYTES / SLOT_BYTES {
            let at = slot * SLOT_BYTES;
            file[at..at + 4].copy_from_slice(SLOT_MAGIC);
            if let Some((index, block, blocks)) = slots.get(slot - 2) {
                file[at + 4..at + 8].copy_from_slice(&index.to_le_bytes());
                file[at + 8..at + 12].copy_from_slice(&block.to_le_bytes());
                file[at + 12..at + 16].copy_from_slice(&blocks.to_le_bytes());
            }
        }
        file
    }

    #[test]
    fn reads_every_blob() {
        let file = ndb_file(&[b"first header".to_vec(), b"second".to_vec()]);
        let read = read_blobs(&file).unwrap();
        assert!(read.errors.is_empty());
        assert_eq!(read.blobs, [(1, b"first header".to_vec()), (2, b"second".to_vec())]);
    }

    #[test]
    fn refuses_what_is_not_an_ndb_file() {
        assert_eq!(read_blobs(b"").unwrap_err(), NdbError::NotNdb);
        assert_eq!(read_blobs(&[0u8; 4096]).unwrap_err(), NdbError::NotNdb);
        let mut too_many_pages = ndb_file(&[]);
        too_many_pages[12..16].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(read_blobs(&too_many_pages).unwrap_err(), NdbError::SlotPages(3));
    }

    #[test]
    fn reports_a_slot_whose_blob_is_missing() {
        let mut file = ndb_file(&[b"first header".to_vec(), b"second".to_vec()]);
        // Point the second slot past the end of the file.
        let at = 3 * SLOT_BYTES + 8;
        file[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let read = read_blobs(&file).unwrap();
        assert_eq!(read.blobs.len(), 1);
        assert_eq!(read.errors, [NdbError::Blob { index: 2 }]);
    }
}
