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
//! For a put-back, an rpmdb.sqlite's file lists (`BASENAMES`, `DIRNAMES`, `DIRINDEXES`),
//! provides and requires are read too, and a copy of the database in memory gets one package's
//! header and index rows from another image's database ([`put_back_sqlite`]).
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
const TAG_OLDFILENAMES: u32 = 1027;
const TAG_PROVIDENAME: u32 = 1047;
const TAG_REQUIRENAME: u32 = 1049;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;

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
    /// The package to put back is not in the database.
    #[error("rpmdb.sqlite has no package {name} {version}")]
    NotInstalled { name: String, version: String },
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
    let connection = open_sqlite(database, true)?;
    Ok(packages_from_headers(header_blobs(&connection)?, Vec::new()))
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

/// A header's index entries and data, as stored in the database (no magic, no signature
/// header).
struct RawHeader<'a> {
    hnum: i64,
    entries: Vec<IndexEntry>,
    data: &'a [u8],
}

impl<'a> RawHeader<'a> {
    fn parse(hnum: i64, blob: &'a [u8]) -> Result<RawHeader<'a>, RpmError> {
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
        let entries = (0..index_count)
            .filter_map(|index| {
                let at = 8 + index * INDEX_ENTRY_BYTES;
                Some(IndexEntry {
                    tag: be_u32(blob, at)?,
                    kind: be_u32(blob, at + 4)?,
                    offset: be_u32(blob, at + 8)? as usize,
                    count: be_u32(blob, at + 12)?,
                })
            })
            .collect();
        Ok(RawHeader { hnum, entries, data: &blob[data_start..needed] })
    }

    fn entry(&self, tag: u32) -> Option<IndexEntry> {
        self.entries.iter().find(|entry| entry.tag == tag).copied()
    }

    /// The strings of a string, string array or i18n string tag (an i18n string's translations
    /// included); empty when the tag is absent or of another type.
    fn strings(&self, tag: u32) -> Result<Vec<String>, RpmError> {
        let Some(entry) = self.entry(tag) else { return Ok(Vec::new()) };
        if !matches!(entry.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18N_STRING) {
            return Ok(Vec::new());
        }
        // A plain string's count is 1 whatever its length.
        let count = if entry.kind == TYPE_STRING { 1 } else { entry.count as usize };
        let mut strings = Vec::with_capacity(count.min(4096));
        let mut at = entry.offset;
        for _ in 0..count {
            let text = self
                .data
                .get(at..)
                .and_then(|rest| rest.iter().position(|byte| *byte == 0).map(|end| &rest[..end]))
                .ok_or(RpmError::OutOfBounds { hnum: self.hnum, tag })?;
            at += text.len() + 1;
            strings.push(String::from_utf8_lossy(text).into_owned());
        }
        Ok(strings)
    }

    /// The numbers of a 32-bit integer tag; empty when absent or of another type.
    fn int32s(&self, tag: u32) -> Result<Vec<u32>, RpmError> {
        let Some(entry) = self.entry(tag) else { return Ok(Vec::new()) };
        if entry.kind != TYPE_INT32 {
            return Ok(Vec::new());
        }
        (0..entry.count as usize)
            .map(|index| {
                be_u32(self.data, entry.offset.saturating_add(index * 4))
                    .ok_or(RpmError::OutOfBounds { hnum: self.hnum, tag })
            })
            .collect()
    }

    fn first_string(&self, tag: u32) -> Result<Option<String>, RpmError> {
        Ok(self.strings(tag)?.into_iter().next())
    }

    /// The paths the package installed, folders included, relative to the root: the
    /// compressed form (`DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`) or, in headers older than
    /// rpm 4.0, the full names.
    fn file_paths(&self) -> Result<Vec<String>, RpmError> {
        let basenames = self.strings(TAG_BASENAMES)?;
        if basenames.is_empty() {
            let old = self.strings(TAG_OLDFILENAMES)?;
            return Ok(old.into_iter().map(|path| path.trim_start_matches('/').to_owned()).collect());
        }
        let dirnames = self.strings(TAG_DIRNAMES)?;
        let indexes = self.int32s(TAG_DIRINDEXES)?;
        if indexes.len() != basenames.len() {
            return Err(RpmError::OutOfBounds { hnum: self.hnum, tag: TAG_DIRINDEXES });
        }
        basenames
            .iter()
            .zip(indexes)
            .map(|(base, index)| {
                let folder = dirnames
                    .get(index as usize)
                    .ok_or(RpmError::OutOfBounds { hnum: self.hnum, tag: TAG_DIRINDEXES })?;
                Ok(format!("{folder}{base}").trim_start_matches('/').to_owned())
            })
            .collect()
    }
}

/// Parses a header blob as stored in the database (no magic, no signature header).
pub(crate) fn parse_header(hnum: i64, blob: &[u8]) -> Result<RpmHeader, RpmError> {
    header_of(&RawHeader::parse(hnum, blob)?)
}

/// The package an already parsed header describes.
fn header_of(raw: &RawHeader<'_>) -> Result<RpmHeader, RpmError> {
    let hnum = raw.hnum;
    let epoch = match raw.entry(TAG_EPOCH) {
        Some(entry) if entry.kind == TYPE_INT32 && entry.count >= 1 => {
            Some(be_u32(raw.data, entry.offset).ok_or(RpmError::OutOfBounds { hnum, tag: TAG_EPOCH })?)
        }
        _ => None,
    };
    let required = |tag: u32, tag_name: &'static str| -> Result<String, RpmError> {
        raw.first_string(tag)?.filter(|value| !value.is_empty()).ok_or(RpmError::MissingTag { hnum, tag_name })
    };
    // Each tag is checked in the header's own order, so that the first broken one is named.
    for entry in &raw.entries {
        if matches!(entry.tag, TAG_NAME | TAG_VERSION | TAG_RELEASE | TAG_ARCH) {
            raw.first_string(entry.tag)?;
        }
    }
    Ok(RpmHeader {
        name: required(TAG_NAME, "NAME")?,
        version: required(TAG_VERSION, "VERSION")?,
        release: required(TAG_RELEASE, "RELEASE")?,
        epoch,
        // The public-key pseudo-packages have no architecture; neither need one to be listed.
        arch: raw.first_string(TAG_ARCH)?.unwrap_or_default(),
    })
}

/// One installed package of an rpmdb.sqlite, with what a put-back needs from its header.
#[derive(Debug, Clone)]
pub(crate) struct InstalledRpm {
    pub hnum: i64,
    pub header: RpmHeader,
    /// Relative paths, folders included.
    pub files: Vec<String>,
    pub provides: Vec<String>,
    pub requires: Vec<String>,
}

impl RpmHeader {
    /// Whether this is the package the inventory names `name` (`NAME`, or `NAME.ARCH` for a
    /// second architecture) at `version` (`[epoch:]version-release`).
    pub fn is(&self, name: &str, version: &str) -> bool {
        let named = self.name == name
            || name.strip_prefix(self.name.as_str()).and_then(|rest| rest.strip_prefix('.'))
                == Some(self.arch.as_str());
        named && self.evr() == version
    }
}

impl InstalledRpm {
    /// [`RpmHeader::is`].
    pub fn is(&self, name: &str, version: &str) -> bool {
        self.header.is(name, version)
    }
}

/// Opens an rpmdb.sqlite from its bytes, in memory (never on disk).
fn open_sqlite(database: &[u8], read_only: bool) -> Result<Connection, RpmError> {
    let mut bytes = database.to_vec();
    // rpm keeps its database in write-ahead-log mode (header bytes 18 and 19 are 2). SQLite's
    // in-memory database cannot open a file in that mode, so the copy is marked as a rollback
    // journal database; the content is the same. Transactions still in the -wal file are not
    // seen (the inventory warns about them).
    if is_write_ahead_log(&bytes) {
        bytes[18] = 1;
        bytes[19] = 1;
    }
    let mut connection =
        Connection::open_in_memory_with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let length = bytes.len();
    connection.deserialize_read_exact(rusqlite::MAIN_DB, bytes.as_slice(), length, read_only)?;
    Ok(connection)
}

fn is_write_ahead_log(bytes: &[u8]) -> bool {
    bytes.len() >= 20 && (bytes[18] == 2 || bytes[19] == 2)
}

fn header_blobs(connection: &Connection) -> Result<Vec<(i64, Vec<u8>)>, RpmError> {
    let mut statement = connection.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")?;
    let rows = statement.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Every package of an rpmdb.sqlite with its files, provides and requires. A header that cannot
/// be read fails the whole read: a put-back must not work from a partial database.
pub(crate) fn installed_sqlite(database: &[u8]) -> Result<Vec<InstalledRpm>, RpmError> {
    let connection = open_sqlite(database, true)?;
    let mut installed = Vec::new();
    for (hnum, blob) in header_blobs(&connection)? {
        let raw = RawHeader::parse(hnum, &blob)?;
        installed.push(InstalledRpm {
            hnum,
            header: header_of(&raw)?,
            files: raw.file_paths()?,
            provides: raw.strings(TAG_PROVIDENAME)?,
            requires: raw.strings(TAG_REQUIRENAME)?,
        });
    }
    Ok(installed)
}

/// Which package of a database a put-back concerns: its inventory name and its version there
/// (`None` when that database does not have it).
pub(crate) struct RpmPick<'a> {
    pub name: &'a str,
    pub version: Option<&'a str>,
}

/// `target` (an rpmdb.sqlite) with package `target_pick` made what `source_pick` is in `source`:
/// its header replaced by `source`'s, removed when `source` lacks it, added when `target` lacks
/// it. The index tables (`Name`, `Basenames`, `Providename`, …: rows of key, header number and
/// position) take `source`'s rows for the package under `target`'s header number, so every
/// lookup rpm makes (`rpm -q`, `rpm -qf`, dependency checks) finds the put-back version. The
/// result keeps `target`'s journal mode.
pub(crate) fn put_back_sqlite(
    target: &[u8],
    source: &[u8],
    target_pick: &RpmPick<'_>,
    source_pick: &RpmPick<'_>,
) -> Result<Vec<u8>, RpmError> {
    let find = |connection: &Connection, pick: &RpmPick<'_>| -> Result<Option<(i64, Vec<u8>)>, RpmError> {
        let Some(version) = pick.version else { return Ok(None) };
        for (hnum, blob) in header_blobs(connection)? {
            if parse_header(hnum, &blob)?.is(pick.name, version) {
                return Ok(Some((hnum, blob)));
            }
        }
        Err(RpmError::NotInstalled { name: pick.name.to_owned(), version: version.to_owned() })
    };
    let source_connection = open_sqlite(source, true)?;
    let mut connection = open_sqlite(target, false)?;
    let from = find(&source_connection, source_pick)?;
    let to = find(&connection, target_pick)?;
    let tables = index_tables(&connection)?;
    let source_tables = index_tables(&source_connection)?;
    let transaction = connection.transaction()?;
    let hnum = match (&to, &from) {
        (Some((hnum, _)), Some((_, blob))) => {
            transaction.execute("UPDATE Packages SET blob = ?1 WHERE hnum = ?2", rusqlite::params![blob, hnum])?;
            Some(*hnum)
        }
        (None, Some((_, blob))) => {
            transaction.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])?;
            Some(transaction.last_insert_rowid())
        }
        (_, None) => None,
    };
    if let Some((old, _)) = &to {
        for table in &tables {
            transaction.execute(&format!("DELETE FROM \"{table}\" WHERE hnum = ?1"), [old])?;
        }
    }
    match (hnum, &from) {
        (Some(hnum), Some((source_hnum, _))) => {
            for table in tables.iter().filter(|table| source_tables.contains(table)) {
                let mut read =
                    source_connection.prepare(&format!("SELECT key, idx FROM \"{table}\" WHERE hnum = ?1"))?;
                let rows = read
                    .query_map([source_hnum], |row| {
                        Ok((row.get::<_, rusqlite::types::Value>(0)?, row.get::<_, i64>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut write =
                    transaction.prepare(&format!("INSERT INTO \"{table}\" (key, hnum, idx) VALUES (?1, ?2, ?3)"))?;
                for (key, idx) in rows {
                    write.execute(rusqlite::params![key, hnum, idx])?;
                }
            }
        }
        _ => {
            if let Some((old, _)) = &to {
                transaction.execute("DELETE FROM Packages WHERE hnum = ?1", [old])?;
            }
        }
    }
    transaction.commit()?;
    let mut bytes = connection.serialize(rusqlite::MAIN_DB)?.to_vec();
    if is_write_ahead_log(target) && bytes.len() >= 20 {
        bytes[18] = 2;
        bytes[19] = 2;
    }
    Ok(bytes)
}

/// The index tables of an rpmdb.sqlite: every table with rpm's `key, hnum, idx` columns.
fn index_tables(connection: &Connection) -> Result<Vec<String>, RpmError> {
    let mut statement = connection.prepare(
        "SELECT m.name FROM sqlite_master AS m WHERE m.type = 'table' AND m.name <> 'Packages' \
         AND (SELECT count(*) FROM pragma_table_info(m.name) AS c WHERE c.name IN ('key', 'hnum', 'idx')) = 3 \
         ORDER BY m.name",
    )?;
    let names = statement.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(names)
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
        Texts(&'a [&'a str]),
        Numbers(&'a [u32]),
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
                Value::Texts(texts) => {
                    let offset = data.len();
                    for text in *texts {
                        data.extend_from_slice(text.as_bytes());
                        data.push(0);
                    }
                    (TYPE_STRING_ARRAY, offset)
                }
                Value::Numbers(numbers) => {
                    while !data.len().is_multiple_of(4) {
                        data.push(0);
                    }
                    let offset = data.len();
                    for number in *numbers {
                        data.extend_from_slice(&number.to_be_bytes());
                    }
                    (TYPE_INT32, offset)
                }
            };
            let count = match value {
                Value::Texts(texts) => texts.len() as u32,
                Value::Numbers(numbers) => numbers.len() as u32,
                _ => 1,
            };
            for field in [*tag, kind, offset as u32, count] {
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

    /// A package with files (`DIR|BASE` pairs), provides and requires.
    pub(crate) fn full_blob(
        name: &str,
        version: &str,
        files: &[(&str, &str)],
        provides: &[&str],
        requires: &[&str],
    ) -> Vec<u8> {
        let mut folders: Vec<&str> = Vec::new();
        let mut indexes = Vec::new();
        for (folder, _) in files {
            let index = folders.iter().position(|known| known == folder).unwrap_or_else(|| {
                folders.push(folder);
                folders.len() - 1
            });
            indexes.push(index as u32);
        }
        let basenames: Vec<&str> = files.iter().map(|(_, base)| *base).collect();
        header_blob(&[
            (TAG_NAME, Value::Text(name)),
            (TAG_VERSION, Value::Text(version)),
            (TAG_RELEASE, Value::Text("1.fc40")),
            (TAG_ARCH, Value::Text("x86_64")),
            (TAG_PROVIDENAME, Value::Texts(provides)),
            (TAG_REQUIRENAME, Value::Texts(requires)),
            (TAG_DIRINDEXES, Value::Numbers(&indexes)),
            (TAG_BASENAMES, Value::Texts(&basenames)),
            (TAG_DIRNAMES, Value::Texts(&folders)),
        ])
    }

    /// An rpmdb.sqlite in rpm's shape: `Packages` and the `Name`, `Basenames`, `Providename`
    /// index tables filled as rpm fills them (key, header number, position in the tag).
    pub(crate) fn indexed_database(blobs: &[Vec<u8>]) -> Vec<u8> {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL);
                 CREATE TABLE 'Name' (key 'TEXT' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);
                 CREATE TABLE 'Basenames' (key 'TEXT' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);
                 CREATE TABLE 'Providename' (key 'TEXT' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);
                 CREATE TABLE 'Sigmd5' (key 'BLOB' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);",
            )
            .unwrap();
        for blob in blobs {
            connection.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob]).unwrap();
            let hnum = connection.last_insert_rowid();
            let raw = RawHeader::parse(hnum, blob).unwrap();
            let rows = [
                ("Name", raw.strings(TAG_NAME).unwrap()),
                ("Basenames", raw.strings(TAG_BASENAMES).unwrap()),
                ("Providename", raw.strings(TAG_PROVIDENAME).unwrap()),
            ];
            for (table, keys) in rows {
                for (idx, key) in keys.iter().enumerate() {
                    connection
                        .execute(
                            &format!("INSERT INTO {table} (key, hnum, idx) VALUES (?1, ?2, ?3)"),
                            rusqlite::params![key, hnum, idx as i64],
                        )
                        .unwrap();
                }
            }
            connection
                .execute("INSERT INTO Sigmd5 (key, hnum, idx) VALUES (?1, ?2, 0)", rusqlite::params![&blob[..8], hnum])
                .unwrap();
        }
        let mut bytes = connection.serialize(rusqlite::MAIN_DB).unwrap().to_vec();
        // As rpm leaves it: in write-ahead-log mode.
        bytes[18] = 2;
        bytes[19] = 2;
        bytes
    }

    /// Every index row of `table`, as `(key, hnum, idx)` with the key as text or hex.
    fn index_rows(database: &[u8], table: &str) -> Vec<(String, i64, i64)> {
        let connection = open_sqlite(database, true).unwrap();
        let mut statement =
            connection.prepare(&format!("SELECT key, hnum, idx FROM {table} ORDER BY hnum, idx")).unwrap();
        statement
            .query_map([], |row| {
                let key = match row.get::<_, rusqlite::types::Value>(0)? {
                    rusqlite::types::Value::Text(text) => text,
                    rusqlite::types::Value::Blob(bytes) => bytes.iter().map(|byte| format!("{byte:02x}")).collect(),
                    other => format!("{other:?}"),
                };
                Ok((key, row.get(1)?, row.get(2)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    pub(crate) fn zlib(version: &str) -> Vec<u8> {
        let library = format!("libz.so.{version}");
        full_blob(
            "zlib",
            version,
            &[("/usr/lib64/", "libz.so.1"), ("/usr/lib64/", &library), ("/usr/share/doc/", "zlib")],
            &["zlib", "zlib(x86-64)", "libz.so.1()(64bit)"],
            &["libc.so.6()(64bit)", "/bin/sh"],
        )
    }

    #[test]
    fn a_header_gives_its_files_provides_and_requires() {
        let database = indexed_database(&[
            zlib("1.3.1"),
            full_blob("bash", "5.2", &[("/usr/bin/", "bash"), ("/bin/", "sh")], &["bash"], &[]),
        ]);
        let installed = installed_sqlite(&database).unwrap();
        assert_eq!(installed[0].files, ["usr/lib64/libz.so.1", "usr/lib64/libz.so.1.3.1", "usr/share/doc/zlib"]);
        assert_eq!(installed[0].provides, ["zlib", "zlib(x86-64)", "libz.so.1()(64bit)"]);
        assert_eq!(installed[0].requires, ["libc.so.6()(64bit)", "/bin/sh"]);
        assert!(installed[0].is("zlib", "1.3.1-1.fc40") && !installed[0].is("zlib", "1.2.13-1.fc40"));
        assert_eq!(installed[1].files, ["usr/bin/bash", "bin/sh"]);

        // A file list whose folder index points past the folders is refused, not guessed.
        let broken = header_blob(&[
            (TAG_NAME, Value::Text("zlib")),
            (TAG_VERSION, Value::Text("1")),
            (TAG_RELEASE, Value::Text("1")),
            (TAG_DIRINDEXES, Value::Numbers(&[3])),
            (TAG_BASENAMES, Value::Texts(&["libz.so.1"])),
            (TAG_DIRNAMES, Value::Texts(&["/usr/lib64/"])),
        ]);
        let error = installed_sqlite(&indexed_database(&[broken])).unwrap_err();
        assert_eq!(error.to_string(), "header 1, whose tag 1116 points outside its data");
    }

    #[test]
    fn a_put_back_moves_the_header_and_its_index_rows_under_the_targets_number() {
        let bash = full_blob("bash", "5.2", &[("/usr/bin/", "bash")], &["bash"], &[]);
        let curl = full_blob("curl", "8.6", &[("/usr/bin/", "curl")], &["curl"], &["libz.so.1()(64bit)"]);
        // zlib is header 2 in the candidate and header 1 in the incumbent.
        let candidate = indexed_database(&[bash.clone(), zlib("1.3.1"), curl.clone()]);
        let incumbent = indexed_database(&[zlib("1.2.13"), bash.clone()]);
        let zlib_rows = |database: &[u8], table: &str, hnum: i64| -> Vec<(String, i64)> {
            index_rows(database, table)
                .into_iter()
                .filter(|row| row.1 == hnum)
                .map(|(key, _, idx)| (key, idx))
                .collect()
        };

        let put_back = put_back_sqlite(
            &candidate,
            &incumbent,
            &RpmPick { name: "zlib", version: Some("1.3.1-1.fc40") },
            &RpmPick { name: "zlib", version: Some("1.2.13-1.fc40") },
        )
        .unwrap();
        assert_eq!(&put_back[18..20], [2, 2], "the journal mode stays rpm's");
        let installed = installed_sqlite(&put_back).unwrap();
        let listed: Vec<(i64, String)> = installed.iter().map(|package| (package.hnum, package.header.evr())).collect();
        assert_eq!(listed, [(1, "5.2-1.fc40".into()), (2, "1.2.13-1.fc40".into()), (3, "8.6-1.fc40".into())]);
        assert_eq!(installed[1].files[1], "usr/lib64/libz.so.1.2.13");
        for table in ["Name", "Basenames", "Providename", "Sigmd5"] {
            assert_eq!(zlib_rows(&put_back, table, 2), zlib_rows(&incumbent, table, 1), "{table}");
            // The other packages' rows are untouched.
            for hnum in [1, 3] {
                assert_eq!(zlib_rows(&put_back, table, hnum), zlib_rows(&candidate, table, hnum), "{table} {hnum}");
            }
        }
        assert!(index_rows(&put_back, "Basenames").iter().all(|(key, _, _)| key != "libz.so.1.3.1"));

        // A package only the candidate has is removed, with its rows.
        let removed = put_back_sqlite(
            &candidate,
            &incumbent,
            &RpmPick { name: "curl", version: Some("8.6-1.fc40") },
            &RpmPick { name: "curl", version: None },
        )
        .unwrap();
        let names: Vec<String> =
            installed_sqlite(&removed).unwrap().into_iter().map(|package| package.header.name).collect();
        assert_eq!(names, ["bash", "zlib"]);
        assert!(index_rows(&removed, "Basenames").iter().all(|(_, hnum, _)| *hnum != 3));

        // A package only the incumbent has is added under a new number, with its rows.
        let without_zlib = indexed_database(&[bash.clone(), curl.clone()]);
        let added = put_back_sqlite(
            &without_zlib,
            &incumbent,
            &RpmPick { name: "zlib", version: None },
            &RpmPick { name: "zlib", version: Some("1.2.13-1.fc40") },
        )
        .unwrap();
        let installed = installed_sqlite(&added).unwrap();
        assert_eq!(
            installed.last().map(|package| (package.hnum, package.header.evr())),
            Some((3, "1.2.13-1.fc40".into()))
        );
        assert_eq!(zlib_rows(&added, "Providename", 3), zlib_rows(&incumbent, "Providename", 1));

        // A version the database does not hold is an error, and nothing is guessed.
        let error = put_back_sqlite(
            &candidate,
            &incumbent,
            &RpmPick { name: "zlib", version: Some("9-1") },
            &RpmPick { name: "zlib", version: Some("1.2.13-1.fc40") },
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "rpmdb.sqlite has no package zlib 9-1");
    }

    #[test]
    fn a_put_back_works_on_a_database_written_by_rpm() {
        // Both of rpm's own packages moved from the fixture into a database without them.
        let target = indexed_database(&[full_blob("bash", "5.2", &[("/usr/bin/", "bash")], &["bash"], &[])]);
        let added = put_back_sqlite(
            &target,
            REAL_RPMDB,
            &RpmPick { name: "libimagegate", version: None },
            &RpmPick { name: "libimagegate", version: Some("2:0.9~rc1-1.el9") },
        )
        .unwrap();
        let read = read_sqlite(&added).unwrap();
        assert_eq!(listed(&read), [("bash", "5.2-1.fc40"), ("libimagegate", "2:0.9~rc1-1.el9")]);
        // rpm's rows for it came along; tables the target lacks are left alone.
        let keys: Vec<String> =
            index_rows(&added, "Providename").into_iter().filter(|row| row.1 == 2).map(|row| row.0).collect();
        assert_eq!(keys, ["libimagegate", "libimagegate(x86-64)"]);
    }
}
