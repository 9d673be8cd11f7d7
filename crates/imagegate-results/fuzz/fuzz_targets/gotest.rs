//! Fuzzes the `go test -json` reader and its detection.
#![no_main]

use imagegate_results::gotest::{looks_like_go_test_json, parse_go_test_json};
use imagegate_results_fuzz::{SOURCE_NAME, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = looks_like_go_test_json(bytes);
    check(&parse_go_test_json(SOURCE_NAME, bytes));
});
