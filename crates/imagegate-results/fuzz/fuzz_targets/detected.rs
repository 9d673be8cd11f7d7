//! Fuzzes detection and dispatch as a results folder is read: no two text formats may claim one
//! input, and whichever reader is picked must hold the same properties as when fuzzed alone.
//!
//! Subunit is left out of the exclusivity check on purpose: its reader accepts text before the
//! first packet (python-subunit writes a test's prints there), so text of any format followed by
//! a valid packet is, by subunit's own rules, also a subunit stream. `parse_detected` settles
//! that overlap by the order it asks the readers in.
#![no_main]

use imagegate_results::{gotest, junit, libtest, parse_detected, subunit, tap};
use imagegate_results_fuzz::{SOURCE_NAME, check_results};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let text_claims = [
        ("junit", junit::looks_like_junit(bytes)),
        ("go test -json", gotest::looks_like_go_test_json(bytes)),
        ("libtest json", libtest::looks_like_libtest_json(bytes)),
        ("tap", tap::looks_like_tap(bytes)),
    ];
    let claimed: Vec<&str> = text_claims.iter().filter(|(_, claimed)| *claimed).map(|(name, _)| *name).collect();
    assert!(claimed.len() <= 1, "several formats claim the same input: {claimed:?}");
    let any_claim = !claimed.is_empty() || subunit::looks_like_subunit(bytes);

    match parse_detected(SOURCE_NAME, bytes) {
        Ok(Some(results)) => check_results(&results),
        Ok(None) => assert!(!any_claim, "a format claimed the input, yet it was passed over"),
        Err(error) => assert_eq!(error.source_name, SOURCE_NAME),
    }
});
