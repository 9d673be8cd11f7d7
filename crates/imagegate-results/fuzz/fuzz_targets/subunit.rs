//! Fuzzes the subunit v2 reader and its detection.
#![no_main]

use imagegate_results::subunit::{looks_like_subunit, parse_subunit};
use imagegate_results_fuzz::{SOURCE_NAME, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = looks_like_subunit(bytes);
    check(&parse_subunit(SOURCE_NAME, bytes));
});
