//! rpm's package database: `rpmdb.sqlite` (Fedora 33 and later, RHEL 9 and their relatives), the
//! Berkeley DB `Packages` file before it (RHEL 8 and older, CentOS 7, Amazon Linux 2), and
//! SUSE's `Packages.db`.
//!
//! Both hold one rpm header per installed package: in SQLite, the table
//! `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`; in Berkeley DB, a hash database keyed by the
//! header number. A header as stored there has no magic: two big-endian 32-bit counts (index
//! entries, data bytes), then the index entries (tag, type, offset into the data, count; each a
//! big-endian 32-bit number), then the data. The name, version, release, epoch and architecture
//! are read from their tags. Both databases are read from the bytes in memory; nothing is
//! written anywhere.
//!
//! SUSE's `Packages.db`, in rpm's own "ndb" format, holds the same headers in blobs.

use rusqlite::{Connection, OpenFlags};
use thiserror::Error;

use crate::berkeley_db::{self, BerkeleyDbError};
use crate::dpkg::{is_foreign, main_architecture};
use crate::model::{Ecosystem, Package};
use crate::ndb::{self, NdbError};

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18N_STRING: u32 = 9;

/// The size of one index entry: tag, type, offset and count.
const INDEX_ENTRY_BYTES: usize = 16;

/// Why an rpm database or one of its headers could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RpmError {
    /// SQLite refused the file, or it has no `Packages` table of the expected shape.
    #[error("read rpmdb.sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The Berkeley DB `Packages` file could not be read.
    #[error("read the Berkeley DB Packages file: {0}")]
    BerkeleyDb(#[from] BerkeleyDbError),
    /// The ndb `Packages.db` file could not be read.
    #[error("read the ndb Packages.db file: {0}")]
    Ndb(#[from] NdbError),
    /// One package's blob in `Packages.db` could not be read.
    #[error("a package: {0}")]
    NdbPackage(NdbError),
    /// One record of the Berkeley DB `Packages` file could not be read.
    #[error("a record: {0}")]
    Record(BerkeleyDbError),
    /// A header is shorter than its own counts say.
    #[error("header {hnum}, truncated: {length} bytes where its counts need {needed}")]
    Truncated { hnum: i64, length: usize, needed: usize },
    /// An index entry points outside the header's data.
    #[error("header {hnum}, whose tag {tag} points outside its data")]
    OutOfBounds { hnum: i64, tag: u32 },
    /// A required tag is absent or not of the type rpm gives it.
    #[error("header {hnum}, which has no usable {tag_name} tag")]
    MissingTag { hnum: i64, tag_name: &'static str },
}

/// One package read from a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RpmHeader {
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub arch: String,
}

impl RpmHeader {
    /// `[epoch:]version-release`, as rpm's `%{EVR}` shows it.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(epoch) => format!("{epoch}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }
}

/// What the database held.
#[derive(Debug, Default)]
pub(crate) struct RpmRead {
    pub packages: Vec<Package>,
    /// Headers that could not be read; the others still are.
    pub header_errors: Vec<RpmError>,
}

/// Reads every package of an `rpmdb.sqlite`.
pub(crate) fn read_sqlite(database: &[u8]) -> Result<RpmRead, RpmError> {
    let mut bytes = database.to_vec();
    // rpm keeps its database in write-ahead-log mode (header bytes 18 and 19 are 2). SQLite's
    // in-memory database cannot open a file in that mode, so the copy is marked as a rollback
    // journal database; the content is the same. Transactions still in the -wal file are not
    // seen (the inventory warns about them).
    if bytes.len() >= 20 && (bytes[18] == 2 || bytes[19] == 2) {
        bytes[18] = 1;
        bytes[19] = 1;
    }
    let mut connection =
        Connection::open_in_memory_with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let length = bytes.len();
    connection.deserialize_read_exact(rusqlite::MAIN_DB, bytes.as_slice(), length, true)?;
    let mut statement = connection.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")?;
    let rows = statement.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)))?;

    let blobs = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(packages_from_headers(blobs, Vec::new()))
}

/// Reads every package of a Berkeley DB `Packages` file. Record 0 holds rpm's next header
/// number, not a header.
pub(crate) fn read_berkeley_db(database: &[u8]) -> Result<RpmRead, RpmError> {
    let read = berkeley_db::read_records(database)?;
    let blobs = read
        .records
        .into_iter()
        .filter(|record| record.key_number != Some(0))
        .map(|record| (i64::from(record.key_number.unwrap_or(u32::MAX)), record.value))
        .collect();
    let errors = read.errors.into_iter().map(RpmError::Record).collect();
    Ok(packages_from_headers(blobs, errors))
}

/// Reads every package of an ndb `Packages.db` file.
pub(crate) fn read_ndb(database: &[u8]) -> Result<RpmRead, RpmError> {
    let read = ndb::read_blobs(database)?;
    let blobs = read.blobs.into_iter().map(|(index, blob)| (i64::from(index), blob)).collect();
    let errors = read.errors.into_iter().map(RpmError::NdbPackage).collect();
    Ok(packages_from_headers(blobs, errors))
}

/// Turns header blobs (with their header numbers) into packages. The public keys rpm stores as
/// `gpg-pubkey` pseudo-packages are left out: they are keys, not software.
fn packages_from_headers(mut blobs: Vec<(i64, Vec<u8>)>, errors: Vec<RpmError>) -> RpmRead {
    blobs.sort_by_key(|(hnum, _)| *hnum);
    let mut headers = Vec::new();
    let mut read = RpmRead { packages: Vec::new(), header_errors: errors };
    for (hnum, blob) in blobs {
        match parse_header(hnum, &blob) {
            Ok(header) if header.name == "gpg-pubkey" => {}
            Ok(header) => headers.push(header),
            Err(error) => read.header_errors.push(error),
        }
    }
    // Multilib systems install a package for two architectures (glibc.x86_64 and glibc.i686);
    // the second architecture's is named as `rpm -q` names it, so that both stay distinct.
    let main = main_architecture(headers.iter().map(|header| header.arch.as_str()));
    read.packages = headers
        .into_iter()
        .map(|header| {
            let version = header.evr();
            let name = if is_foreign(&header.arch, main.as_deref()) {
                format!("{}.{}", header.name, header.arch)
            } else {
                header.name
            };
            Package { ecosystem: Ecosystem::Rpm, name, version, location: String::new(), modules: Vec::new() }
        })
        .collect();
    read
}

/// One index entry of a header.
#[derive(Debug, Clone, Copy)]
struct IndexEntry {
    tag: u32,
    kind: u32,
    offset: usize,
    count: u32,
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let slice = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([slice[0], slice[1], slice[2], slice[3]]))
}

/// Parses a header blob as stored in the database (no magic, no signature header).
pub(crate) fn parse_header(hnum: i64, blob: &[u8]) -> Result<RpmHeader, RpmError> {
    let truncated = |needed: usize| RpmError::Truncated { hnum, length: blob.len(), needed };
    let index_count = be_u32(blob, 0).ok_or_else(|| truncated(8))? as usize;
    let data_length = be_u32(blob, 4).ok_or_else(|| truncated(8))? as usize;
    let data_start = index_count
        .checked_mul(INDEX_ENTRY_BYTES)
        .and_then(|bytes| bytes.checked_add(8))
        .ok_or_else(|| truncated(usize::MAX))?;
    let needed = data_start.checked_add(data_length).ok_or_else(|| truncated(usize::MAX))?;
    if blob.len() < needed {
        return Err(truncated(needed));
    }
    let data = &blob[data_start..needed];
    let entries = (0..index_count).filter_map(|index| {
        let at = 8 + index * INDEX_ENTRY_BYTES;
        Some(IndexEntry {
            tag: be_u32(blob, at)?,
            kind: be_u32(blob, at + 4)?,
            offset: be_u32(blob, at + 8)? as usize,
            count: be_u32(blob, at + 12)?,
        })
    });

    let mut name = None;
    let mut version = None;
    let mut release = None;
    let mut epoch = None;
    let mut arch = None;
    for entry in entries {
        let slot = match entry.tag {
            TAG_NAME => &mut name,
            TAG_VERSION => &mut version,
            TAG_RELEASE => &mut release,
            TAG_ARCH => &mut arch,
            TAG_EPOCH => {
                if entry.kind == TYPE_INT32 && entry.count >= 1 {
                    let value = be_u32(data, entry.offset).ok_or(RpmError::OutOfBounds { hnum, tag: entry.tag })?;
                    epoch = Some(value);
                }
                continue;
            }
            _ => continue,
        };
        if matches!(entry.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18N_STRING) {
            // A string array's first element is read the same way: up to its NUL.
            let text = data
                .get(entry.offset..)
                .and_then(|rest| rest.iter().position(|byte| *byte == 0).map(|end| &rest[..end]))
                .ok_or(RpmError::OutOfBounds { hnum, tag: entry.tag })?;
            *slot = Some(String::from_utf8_lossy(text).into_owned());
        }
    }
    let required = |value: Option<String>, tag_name: &'static str| {
        value.filter(|value| !value.is_empty()).ok_or(RpmError::MissingTag { hnum, tag_name })
    };
    Ok(RpmHeader {
        name: required(name, "NAME")?,
        version: required(version, "VERSION")?,
        release: required(release, "RELEASE")?,
        epoch,
        // The public-key pseudo-packages have no architecture; neither need one to be listed.
        arch: arch.unwrap_or_default(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A database made by rpm 4.18 (Debian's `rpm` package): `rpm --initdb` with the sqlite
    /// backend, then `rpm -i --justdb` of two packages built by `rpmbuild` from minimal specs:
    /// `imagegate-hello-1.2.3-4.fc40.noarch` and `libimagegate-2:0.9~rc1-1.el9.x86_64`. As rpm
    /// leaves it, it is in write-ahead-log mode.
    const REAL_RPMDB: &[u8] = include_bytes!("../fixtures/rpm/rpmdb.sqlite");

    /// The same database marked as a rollback-journal database, which SQLite opens from memory.
    static REAL_RPMDB_WITHOUT_WAL: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut bytes = REAL_RPMDB.to_vec();
        bytes[18] = 1;
        bytes[19] = 1;
        bytes
    });

    /// One tag of a header to build.
    pub(crate) enum Value<'a> {
        Text(&'a str),
        Number(u32),
    }

    /// Builds a header blob by the documented layout: counts, index entries, data (strings
    /// NUL-terminated, 32-bit numbers aligned to 4 bytes).
    pub(crate) fn header_blob(tags: &[(u32, Value<'_>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, value) in tags {
            let (kind, offset) = match value {
                Value::Text(text) => {
                    let offset = data.len();
                    data.extend_from_slice(text.as_bytes());
                    data.push(0);
                    (TYPE_STRING, offset)
                }
                Value::Number(number) => {
                    while !data.len().is_multiple_of(4) {
                        data.push(0);
                    }
                    let offset = data.len();
                    data.extend_from_slice(&number.to_be_bytes());
                    (TYPE_INT32, offset)
                }
            };
            for field in [*tag, kind, offset as u32, 1] {
                index.extend_from_slice(&field.to_be_bytes());
            }
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(tags.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&data);
        blob
    }

    /// An rpmdb.sqlite with rpm's `Packages` table holding the given header blobs.
    pub(crate) fn sqlite_database(blobs: &[Vec<u8>]) -> Vec<u8> {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL);")
            .unwrap();
        for blob in blobs {
            connection.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob]).unwrap();
        }
        connection.serialize(rusqlite::MAIN_DB).unwrap().to_vec()
    }

    pub(crate) fn package_blob(name: &str, epoch: Option<u32>, version: &str, release: &str, arch: &str) -> Vec<u8> {
        let mut tags = vec![
            (TAG_NAME, Value::Text(name)),
            (TAG_VERSION, Value::Text(version)),
            (TAG_RELEASE, Value::Text(release)),
            (TAG_ARCH, Value::Text(arch)),
        ];
        if let Some(epoch) = epoch {
            tags.push((TAG_EPOCH, Value::Number(epoch)));
        }
        header_blob(&tags)
    }

    fn listed(read: &RpmRead) -> Vec<(&str, &str)> {
        read.packages.iter().map(|package| (package.name.as_str(), package.version.as_str())).collect()
    }

    #[test]
    fn reads_a_database_written_by_rpm() {
        assert_eq!(&REAL_RPMDB[18..20], [2, 2], "the fixture is in WAL mode");
        let read = read_sqlite(REAL_RPMDB).unwrap();
        assert!(read.header_errors.is_empty(), "{:?}", read.header_errors);
        assert_eq!(listed(&read), [("libimagegate", "2:0.9~rc1-1.el9"), ("imagegate-hello", "1.2.3-4.fc40")]);
    }

    #[test]
    fn reads_headers_built_by_the_documented_layout() {
        let database = sqlite_database(&[
            package_blob("bash", None, "5.2.26", "3.fc40", "x86_64"),
            package_blob("openssl-libs", Some(1), "3.2.2", "3.fc40", "x86_64"),
            package_blob("glibc", None, "2.39", "17.fc40", "x86_64"),
            package_blob("glibc", None, "2.39", "17.fc40", "i686"),
            package_blob("tzdata", None, "2024a", "5.fc40", "noarch"),
            header_blob(&[
                (TAG_NAME, Value::Text("gpg-pubkey")),
                (TAG_VERSION, Value::Text("a15b79cc")),
                (TAG_RELEASE, Value::Text("63d04c2c")),
            ]),
        ]);
        let read = read_sqlite(&database).unwrap();
        assert!(read.header_errors.is_empty());
        assert_eq!(
            listed(&read),
            [
                ("bash", "5.2.26-3.fc40"),
                ("openssl-libs", "1:3.2.2-3.fc40"),
                ("glibc", "2.39-17.fc40"),
                ("glibc.i686", "2.39-17.fc40"),
                ("tzdata", "2024a-5.fc40"),
            ]
        );
    }

    #[test]
    fn reports_broken_headers_and_keeps_the_others() {
        let mut truncated = package_blob("bash", None, "5.2.26", "3.fc40", "x86_64");
        truncated.truncate(20);
        let mut pointing_outside = package_blob("zlib", None, "1.3", "1.fc40", "x86_64");
        // The first index entry's offset (bytes 16..20) now points past the data.
        pointing_outside[16..20].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
        let without_release = header_blob(&[(TAG_NAME, Value::Text("curl")), (TAG_VERSION, Value::Text("8.6.0"))]);
        let database = sqlite_database(&[
            truncated,
            pointing_outside,
            without_release,
            package_blob("bash", None, "5.2.26", "3.fc40", "x86_64"),
        ]);
        let read = read_sqlite(&database).unwrap();
        assert_eq!(listed(&read), [("bash", "5.2.26-3.fc40")]);
        let messages: Vec<String> = read.header_errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "header 1, truncated: 20 bytes where its counts need 98",
                "header 2, whose tag 1000 points outside its data",
                "header 3, which has no usable RELEASE tag",
            ]
        );
    }

    #[test]
    fn refuses_a_file_that_is_not_an_rpm_database() {
        assert!(read_sqlite(b"not a database").is_err());
        let empty = {
            let mut connection = Connection::open_in_memory().unwrap();
            connection.execute_batch("CREATE TABLE other (x);").unwrap();
            connection.serialize(rusqlite::MAIN_DB).unwrap().to_vec()
        };
        assert!(matches!(read_sqlite(&empty), Err(RpmError::Sqlite(_))));
    }

    #[test]
    fn reads_a_berkeley_db_packages_file() {
        let read = read_berkeley_db(include_bytes!("../fixtures/rpm/Packages")).unwrap();
        assert!(read.header_errors.is_empty(), "{:?}", read.header_errors);
        assert_eq!(listed(&read), [("libimagegate", "2:0.9~rc1-1.el9"), ("imagegate-hello", "1.2.3-4.fc40")]);
        let error = read_berkeley_db(REAL_RPMDB).unwrap_err();
        assert_eq!(error.to_string(), "read the Berkeley DB Packages file: not a Berkeley DB hash database");
    }

    #[test]
    fn reads_an_ndb_packages_file_holding_real_headers() {
        let connection = {
            let mut connection = Connection::open_in_memory().unwrap();
            connection
                .deserialize_read_exact(rusqlite::MAIN_DB, &REAL_RPMDB_WITHOUT_WAL[..], REAL_RPMDB.len(), true)
                .unwrap();
            connection
        };
        let headers: Vec<Vec<u8>> = connection
            .prepare("SELECT blob FROM Packages ORDER BY hnum")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let read = read_ndb(&crate::ndb::tests::ndb_file(&headers)).unwrap();
        assert!(read.header_errors.is_empty(), "{:?}", read.header_errors);
        assert_eq!(listed(&read), [("libimagegate", "2:0.9~rc1-1.el9"), ("imagegate-hello", "1.2.3-4.fc40")]);
    }
}
