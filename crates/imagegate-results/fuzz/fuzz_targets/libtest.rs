//! Fuzzes the libtest/nextest JSON reader and its detection.
#![no_main]

use imagegate_results::libtest::{looks_like_libtest_json, parse_libtest_json};
use imagegate_results_fuzz::{SOURCE_NAME, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = looks_like_libtest_json(bytes);
    check(&parse_libtest_json(SOURCE_NAME, bytes));
});
