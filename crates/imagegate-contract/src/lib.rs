//! imagegate's stable contract with the programs that read it: the JSON documents printed by
//! `--json`, and the process exit codes. Each document carries a `schema` string; a field is
//! only ever added within a schema version, never removed or changed in meaning.

mod documents;
mod exit;

pub use documents::*;
pub use exit::ExitStatus;
