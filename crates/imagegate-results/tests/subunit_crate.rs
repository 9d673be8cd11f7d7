//! The subunit reader checked against the `subunit` crate, the protocol's Rust implementation
//! from testing-cabal, on the streams python-subunit and Twisted trial wrote for the corpus
//! (`tests/fixtures/subunit/`): both must see the same tests, each with the same outcomes in
//! the same order, and agree on whether the stream is whole.
//!
//! The crate is not the reader itself: it reports neither where in a stream a bad packet lies
//! (imagegate's errors say `offset N`) nor how long each packet was, and it gathers raw text
//! between packets a byte at a time. As an independent decoder of the same bytes it checks the
//! reader's framing, checksums, numbers and status mapping.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use imagegate_results::Outcome;
use imagegate_results::subunit::parse_subunit;
use subunit::io::sync::iter_stream;
use subunit::types::stream::ScannedItem;
use subunit::types::teststatus::TestStatus;

/// Every test's outcomes in order, and whether the stream was whole (some packet, no cut
/// packet, no test left in progress), as the crate decodes it.
fn decoded_by_the_crate(bytes: &[u8]) -> (BTreeMap<String, Vec<Outcome>>, bool) {
    let mut outcomes: BTreeMap<String, Vec<Outcome>> = BTreeMap::new();
    let mut in_progress: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    let mut whole = true;
    let mut packets = 0;
    for item in iter_stream(bytes) {
        let event = match item.expect("the crate reads the stream") {
            ScannedItem::Event(event) => {
                packets += 1;
                event
            }
            ScannedItem::Bytes(_) => continue,
            ScannedItem::Unknown(_, error) => {
                assert!(error.to_string().to_lowercase().contains("not enough bytes"), "{error}");
                whole = false;
                continue;
            }
        };
        let Some(id) = event.test_id.clone() else { continue };
        let key = (event.route_code.clone(), id.clone());
        let outcome = match event.status {
            TestStatus::InProgress => {
                in_progress.insert(key);
                continue;
            }
            // An attachment without a status is output of a test that is running (imagegate's
            // rule: what was reported for a test that nothing ended is not a pass).
            TestStatus::Undefined if event.file.file.is_some() => {
                in_progress.insert(key);
                continue;
            }
            TestStatus::Undefined | TestStatus::Enumeration => continue,
            TestStatus::Success => Outcome::Pass,
            TestStatus::UnexpectedSuccess | TestStatus::Failed => Outcome::Fail,
            TestStatus::Skipped => Outcome::Skip,
            TestStatus::ExpectedFailure => Outcome::Xfail,
        };
        in_progress.remove(&key);
        outcomes.entry(id).or_default().push(outcome);
    }
    // A test still in progress when the stream ends never finished: an error.
    for (_, id) in in_progress {
        outcomes.entry(id).or_default().push(Outcome::Error);
        whole = false;
    }
    // A test reported both ok and failed in one stream is one error: a duplicate, not a rerun.
    for attempts in outcomes.values_mut() {
        if attempts.iter().any(|outcome| outcome.is_ok()) && attempts.iter().any(|outcome| outcome.is_failure()) {
            *attempts = vec![Outcome::Error];
        }
    }
    // Not one packet: nothing says the suite ran.
    (outcomes, whole && packets > 0)
}

#[test]
fn the_reader_and_the_subunit_crate_read_the_corpus_alike() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/subunit");
    let mut files: Vec<_> =
        std::fs::read_dir(&folder).expect("the corpus").map(|entry| entry.expect("entry").path()).collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let bytes = std::fs::read(&path).expect("a fixture");
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
        let (expected, whole) = decoded_by_the_crate(&bytes);
        let read = parse_subunit(&name, &bytes).expect("the reader reads the stream");
        let outcomes: BTreeMap<String, Vec<Outcome>> =
            read.tests().map(|test| (test.id.to_string(), test.outcomes().collect())).collect();
        assert!(!expected.is_empty(), "{name}: the crate found no test");
        assert_eq!(outcomes, expected, "{name}");
        assert_eq!(read.is_complete(), whole, "{name}: {:?}", read.incomplete);
    }
}

/// One packet as the crate writes it: a test (of a few, so that they repeat), a status, the
/// worker it ran in, and maybe an attachment.
fn event_strategy() -> impl proptest::strategy::Strategy<Value = subunit::types::event::Event> {
    use proptest::prelude::*;
    use subunit::types::event::Event;
    let status = prop_oneof![
        3 => Just(TestStatus::InProgress),
        3 => Just(TestStatus::Success),
        2 => Just(TestStatus::Failed),
        1 => Just(TestStatus::Skipped),
        1 => Just(TestStatus::ExpectedFailure),
        1 => Just(TestStatus::UnexpectedSuccess),
        1 => Just(TestStatus::Enumeration),
        1 => Just(TestStatus::Undefined),
    ];
    let attachment = proptest::option::of(("traceback|reason|stdout", "[a-z :\n]{0,40}"));
    (0..4_usize, status, proptest::option::of(0..2_u8), attachment).prop_map(|(test, status, route, attachment)| {
        let mut event = Event::new(status).test_id(&format!("pkg.mod.Class.test_{test}"));
        if let Some(route) = route {
            event = event.route_code(&route.to_string());
        }
        if let Some((name, content)) = attachment {
            event = event.mime_type("text/plain;charset=utf8").file_content(&name, content.as_bytes());
        }
        event.build()
    })
}

proptest::proptest! {
    #[test]
    fn the_reader_and_the_subunit_crate_read_generated_streams_alike(
        events in proptest::collection::vec(event_strategy(), 0..30),
        cut in proptest::option::of(proptest::prelude::any::<proptest::sample::Index>()),
    ) {
        use proptest::prop_assert_eq;
        let mut bytes = Vec::new();
        for event in &events {
            bytes.extend(event.to_vec().expect("the crate writes the event"));
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let (expected, whole) = decoded_by_the_crate(&bytes);
        let read = parse_subunit("generated.subunit", &bytes).expect("the reader reads the stream");
        let outcomes: BTreeMap<String, Vec<Outcome>> =
            read.tests().map(|test| (test.id.to_string(), test.outcomes().collect())).collect();
        prop_assert_eq!(outcomes, expected);
        prop_assert_eq!(read.is_complete(), whole, "{:?}", read.incomplete);
    }
}
