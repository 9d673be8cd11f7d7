//! What every fuzz target checks beyond "does not panic": the properties that hold for any
//! result set a reader returns, whatever bytes it was given.

use imagegate_results::junit::{MAX_MESSAGE_BYTES, MAX_OUTPUT_BYTES};
use imagegate_results::{ParseError, ResultSet};

/// Room for the `[truncated]` marker and a heading or two past the bounds.
const SLACK_BYTES: usize = 64;

/// The name every target passes as the source name; it must come back in errors.
pub const SOURCE_NAME: &str = "fuzz-input";

/// Checks a reader's answer: every test has an attempt, texts stay within their bounds, and an
/// error names the source and a location.
pub fn check(result: &Result<ResultSet, ParseError>) {
    match result {
        Ok(results) => check_results(results),
        Err(error) => {
            assert_eq!(error.source_name, SOURCE_NAME);
            assert!(!error.location.is_empty(), "an error without a location: {error}");
            assert!(!error.message.is_empty(), "an error without a message: {error}");
        }
    }
}

pub fn check_results(results: &ResultSet) {
    for test in results.tests() {
        assert!(!test.attempts.is_empty(), "{} has no attempt", test.id);
        for attempt in &test.attempts {
            if let Some(message) = &attempt.message {
                assert!(
                    message.len() <= MAX_MESSAGE_BYTES + SLACK_BYTES,
                    "{}: message of {} bytes",
                    test.id,
                    message.len()
                );
            }
            if let Some(output) = &attempt.output {
                assert!(
                    output.len() <= MAX_OUTPUT_BYTES + SLACK_BYTES,
                    "{}: output of {} bytes",
                    test.id,
                    output.len()
                );
            }
        }
    }
    for incomplete in &results.incomplete {
        assert!(!incomplete.reason.is_empty(), "an incomplete mark without a reason");
    }
}
