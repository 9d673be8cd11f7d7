//! The per-test results model shared by every part of imagegate, and the parsers that fill it.
//!
//! This crate does no I/O: parsers take bytes and a source name (used in error messages), and
//! return a [`ResultSet`]. Reading a results folder from disk is the caller's job.

mod model;
pub mod junit;

pub use model::{Attempt, Counts, Incomplete, Outcome, ResultSet, TestId, TestResult};
pub use junit::parse_junit;

/// An error that makes a results file unreadable as a whole.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}:{location}: {message}")]
pub struct ParseError {
    /// The file (or stream) the error was found in, as given by the caller.
    pub source_name: String,
    /// Where in that file: `line:column` for text formats, `offset N` for binary ones.
    pub location: String,
    pub message: String,
}

/// Detects the format of `bytes` by content and parses it.
///
/// Returns `Ok(None)` when the content is not a results format imagegate knows, so that a
/// results folder may hold other files (logs, coverage) beside the results.
pub fn parse_detected(source_name: &str, bytes: &[u8]) -> Result<Option<ResultSet>, ParseError> {
    if junit::looks_like_junit(bytes) {
        return parse_junit(source_name, bytes).map(Some);
    }
    Ok(None)
}
