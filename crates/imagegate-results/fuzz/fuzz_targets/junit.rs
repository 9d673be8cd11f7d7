//! Fuzzes the JUnit XML reader and its detection.
#![no_main]

use imagegate_results::junit::{looks_like_junit, parse_junit};
use imagegate_results_fuzz::{SOURCE_NAME, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = looks_like_junit(bytes);
    check(&parse_junit(SOURCE_NAME, bytes));
});
