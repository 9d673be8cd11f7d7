//! The records of a Berkeley DB hash database, read from its bytes: the format of rpm's
//! `Packages` file before rpm moved to SQLite (RHEL 8 and older, CentOS 7, Amazon Linux 2).
//!
//! The file is a sequence of pages of one size. Page 0 is the hash metadata page (magic
//! `0x061561`, page size, last page number, in the byte order of the machine that wrote it).
//! Hash pages hold an index of 16-bit item offsets followed by the items, stored from the end of
//! the page down; items alternate key and value. A small value is stored in place; a large one
//! (an rpm header, nearly always) is a reference to a chain of overflow pages, each holding a
//! part of the value. Only what reading every record needs is implemented: no lookups, no
//! duplicates, no encryption.

use thiserror::Error;

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER_BYTES: usize = 26;

const PAGE_HASH_UNSORTED: u8 = 2;
const PAGE_OVERFLOW: u8 = 7;
const PAGE_HASH_METADATA: u8 = 8;
const PAGE_HASH: u8 = 13;

const ITEM_KEY_DATA: u8 = 1;
const ITEM_OFF_PAGE: u8 = 3;

/// Why a Berkeley DB file could not be read.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BerkeleyDbError {
    /// The first page is not a hash database's metadata page.
    #[error("not a Berkeley DB hash database")]
    NotHashDatabase,
    /// The database is encrypted.
    #[error("the database is encrypted")]
    Encrypted,
    /// The page size is not one Berkeley DB uses.
    #[error("unexpected page size {0}")]
    PageSize(u32),
    /// A value's overflow chain is broken.
    #[error("record on page {page} has a broken overflow chain")]
    BrokenOverflowChain { page: u32 },
}

/// Byte order of the file: that of the machine that wrote it.
#[derive(Debug, Clone, Copy)]
enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn u16(self, bytes: &[u8], at: usize) -> Option<u16> {
        let pair: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u16::from_le_bytes(pair),
            ByteOrder::Big => u16::from_be_bytes(pair),
        })
    }

    fn u32(self, bytes: &[u8], at: usize) -> Option<u32> {
        let quad: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u32::from_le_bytes(quad),
            ByteOrder::Big => u32::from_be_bytes(quad),
        })
    }
}

/// One record: its key and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// The record's 32-bit key in the file's byte order, when the key is four bytes long (rpm's
    /// header numbers).
    pub key_number: Option<u32>,
}

/// What the file held.
#[derive(Debug, Default)]
pub(crate) struct BerkeleyDbRead {
    pub records: Vec<Record>,
    /// Records that could not be read; the others still are.
    pub errors: Vec<BerkeleyDbError>,
}

/// Reads every record of a hash database.
pub(crate) fn read_records(file: &[u8]) -> Result<BerkeleyDbRead, BerkeleyDbError> {
    let order = [ByteOrder::Little, ByteOrder::Big]
        .into_iter()
        .find(|order| order.u32(file, 12) == Some(HASH_MAGIC))
        .ok_or(BerkeleyDbError::NotHashDatabase)?;
    if file.get(25) != Some(&PAGE_HASH_METADATA) {
        return Err(BerkeleyDbError::NotHashDatabase);
    }
    if file.get(24).is_some_and(|algorithm| *algorithm != 0) {
        return Err(BerkeleyDbError::Encrypted);
    }
    let page_size = order.u32(file, 20).ok_or(BerkeleyDbError::NotHashDatabase)?;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(BerkeleyDbError::PageSize(page_size));
    }
    let page_size = page_size as usize;
    let last_page = order.u32(file, 32).ok_or(BerkeleyDbError::NotHashDatabase)? as usize;
    // A file cut short still yields the records of the pages it has.
    let pages: Vec<&[u8]> = file.chunks_exact(page_size).take(last_page.saturating_add(1)).collect();

    let mut read = BerkeleyDbRead::default();
    for (number, page) in pages.iter().enumerate().skip(1) {
        if !matches!(page[25], PAGE_HASH | PAGE_HASH_UNSORTED) {
            continue;
        }
        let entries = usize::from(order.u16(page, 20).unwrap_or(0));
        let offsets: Vec<usize> =
            (0..entries).map_while(|index| order.u16(page, PAGE_HEADER_BYTES + 2 * index).map(usize::from)).collect();
        // Items are stored from the end of the page down: each ends where the previous begins.
        let item = |index: usize| -> Option<&[u8]> {
            let start = *offsets.get(index)?;
            let end = if index == 0 { page_size } else { *offsets.get(index - 1)? };
            page.get(start..end)
        };
        for pair in 0..offsets.len() / 2 {
            let (Some(key), Some(value)) = (item(2 * pair), item(2 * pair + 1)) else {
                continue;
            };
            let page_number = number as u32;
            let key = match item_content(key, &pages, order, page_number) {
                Ok(key) => key,
                Err(error) => {
                    read.errors.push(error);
                    continue;
                }
            };
            match item_content(value, &pages, order, page_number) {
                Ok(value) => {
                    let key_number = (key.len() == 4).then(|| order.u32(&key, 0)).flatten();
                    read.records.push(Record { key, value, key_number });
                }
                Err(error) => read.errors.push(error),
            }
        }
    }
    Ok(read)
}

/// The bytes of one item: in place, or gathered from its overflow chain.
fn item_content(item: &[u8], pages: &[&[u8]], order: ByteOrder, page_number: u32) -> Result<Vec<u8>, BerkeleyDbError> {
    let broken = BerkeleyDbError::BrokenOverflowChain { page: page_number };
    match item.first() {
        Some(&ITEM_KEY_DATA) => Ok(item[1..].to_vec()),
        Some(&ITEM_OFF_PAGE) => {
            let mut next = order.u32(item, 4).ok_or_else(|| broken.clone())? as usize;
            let total = order.u32(item, 8).ok_or_else(|| broken.clone())? as usize;
            let mut content = Vec::with_capacity(total.min(16 * 1024 * 1024));
            // Each page is visited at most once, so a chain that loops ends.
            let mut remaining_pages = pages.len();
            while next != 0 && content.len() < total {
                let page = pages.get(next).ok_or_else(|| broken.clone())?;
                if page[25] != PAGE_OVERFLOW || remaining_pages == 0 {
                    return Err(broken);
                }
                remaining_pages -= 1;
                // On an overflow page, the field that elsewhere holds the free-space offset holds
                // the length of the data on the page.
                let length = usize::from(order.u16(page, 22).ok_or_else(|| broken.clone())?);
                let data = page.get(PAGE_HEADER_BYTES..PAGE_HEADER_BYTES + length).ok_or_else(|| broken.clone())?;
                content.extend_from_slice(data);
                next = order.u32(page, 16).ok_or_else(|| broken.clone())? as usize;
            }
            if content.len() < total {
                return Err(broken);
            }
            content.truncate(total);
            Ok(content)
        }
        // Duplicate sets are not used by rpm's Packages file.
        _ => Err(broken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rpm's Packages file in Berkeley DB form, made by `db5.3_load -t hash` (page size 4096)
    /// from the two headers of `fixtures/rpm/rpmdb.sqlite`, keyed by their header numbers in
    /// little-endian order, with rpm's record 0 (the next header number). rpm 4.18 lists both
    /// packages from it (`rpm --define '_db_backend bdb_ro' -qa`).
    const PACKAGES: &[u8] = include_bytes!("../fixtures/rpm/Packages");

    #[test]
    fn reads_every_record_of_a_hash_database() {
        let read = read_records(PACKAGES).unwrap();
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        let mut records: Vec<(Option<u32>, usize)> =
            read.records.iter().map(|record| (record.key_number, record.value.len())).collect();
        records.sort();
        assert_eq!(records, [(Some(0), 4), (Some(1), 1436), (Some(2), 1308)]);
    }

    #[test]
    fn refuses_what_is_not_a_hash_database() {
        assert_eq!(read_records(b"").unwrap_err(), BerkeleyDbError::NotHashDatabase);
        assert_eq!(read_records(&[0u8; 4096]).unwrap_err(), BerkeleyDbError::NotHashDatabase);
        let mut odd_page_size = PACKAGES.to_vec();
        odd_page_size[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(read_records(&odd_page_size).unwrap_err(), BerkeleyDbError::PageSize(1000));
    }

    #[test]
    fn reports_a_broken_overflow_chain_and_keeps_the_other_records() {
        // Turn every overflow page into a page of another type: the large values cannot be read.
        let mut broken = PACKAGES.to_vec();
        for page in broken.chunks_exact_mut(4096) {
            if page[25] == PAGE_OVERFLOW {
                page[25] = 0;
            }
        }
        let read = read_records(&broken).unwrap();
        assert_eq!(read.records.len(), 1);
        assert_eq!(read.errors.len(), 2);
    }

    #[test]
    fn reads_the_pages_a_truncated_file_has() {
        let read = read_records(&PACKAGES[..8192]).unwrap();
        assert!(read.records.len() + read.errors.len() <= 3);
    }
}
