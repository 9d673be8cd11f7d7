//! Fuzzes the TAP reader and its detection.
#![no_main]

use imagegate_results::tap::{looks_like_tap, parse_tap};
use imagegate_results_fuzz::{SOURCE_NAME, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = looks_like_tap(bytes);
    check(&parse_tap(SOURCE_NAME, bytes));
});
