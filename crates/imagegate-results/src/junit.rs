//! JUnit XML reader (placeholder until the reader lands).

use crate::{ParseError, ResultSet};

pub fn looks_like_junit(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    head.contains("<testsuite")
}

pub fn parse_junit(source_name: &str, _bytes: &[u8]) -> Result<ResultSet, ParseError> {
    Err(ParseError { source_name: source_name.into(), location: "1:1".into(), message: "JUnit reader missing".into() })
}
