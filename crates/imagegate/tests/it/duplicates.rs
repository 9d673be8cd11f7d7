//! A test id a suite reports both passing and failing in one run: a failure of that run, never a
//! flaky pass that promotes the candidate.

use std::fs;

use crate::both_engines;
use crate::context::{Engine, TestContext, ids};

/// Writes `t03` as the layout in `tests/layout` says, unless the image has the feature `good`
/// (then once, passing). Reruns (with arguments) write the same files.
const RUN_SH: &str = r#"#!/bin/sh
if [ "$1" = "--list" ]; then echo it.t01; echo it.t03; exit 0; fi
mkdir -p /results
other='<testcase classname="it" name="t01" time="0.01"/>'
pass='<testcase classname="it" name="t03" time="0.01"/>'
fail='<testcase classname="it" name="t03"><failure message="t03 broke in this image">boom</failure></testcase>'
write() { printf '<?xml version="1.0"?>\n<testsuite name="it">%s</testsuite>\n' "$2" > "/results/$1"; }
layout=$(cat tests/layout)
if grep -qx good /opt/lib/features; then layout=clean; fi
case "$layout" in
  clean) write a.xml "$other$pass" ;;
  fail-then-pass) write a.xml "$other$fail$pass" ;;
  pass-then-fail) write a.xml "$pass$other$fail" ;;
  split) write a.xml "$other$fail"; write b.xml "$pass" ;;
esac
exit 0
"#;

const LAYOUTS: [(&str, &str); 3] = [("fail-then-pass", "error"), ("pass-then-fail", "error"), ("split", "fail")];

both_engines!(conflicting_duplicate_ids_block_the_candidate_in_every_layout, |engine: Engine| {
    let context = TestContext::new(engine, &["good"], "");
    fs::write(context.path("tests/run.sh"), RUN_SH).unwrap();
    fs::write(context.path("tests/layout"), "clean\n").unwrap();
    context.commit("a suite that may report t03 twice");
    context.gate(&["--promote"]).0.expect_code(0);
    let stable = context.stable_id().expect("stable after bootstrap");

    context.set_features(&["other"]);
    context.commit("an image without the feature t03 needs");
    for (layout, outcome) in LAYOUTS {
        fs::write(context.path("tests/layout"), format!("{layout}\n")).unwrap();
        context.commit(layout);
        let (run, report) = context.gate(&["--promote"]);
        run.expect_code(1);
        assert_eq!(report["decision"], "regression", "{layout}: {report}");
        assert_eq!(ids(&report, "regressions"), vec!["it.t03"], "{layout}");
        assert!(ids(&report, "flaky").is_empty(), "{layout}: {report}");
        let entry = &report["regressions"][0];
        // Each of the three runs (the suite and two reruns) failed it once.
        assert_eq!(entry["candidate"], serde_json::json!([outcome, outcome, outcome]), "{layout}");
        let message = entry["message"].as_str().unwrap_or_default();
        assert!(message.contains("passing and failing"), "{layout}: {message}");
        assert_eq!(report["promotion"]["status"], "blocked", "{layout}");
        assert_eq!(context.stable_id().as_deref(), Some(stable.as_str()), "{layout}");
    }
    assert!(context.leftover_containers().is_empty());
});

#[test]
fn compare_of_a_file_reporting_a_test_passing_and_failing_does_not_pass() {
    let folder = tempfile::tempdir().unwrap();
    let write = |name: &str, cases: &str| {
        let path = folder.path().join(name);
        fs::write(&path, format!("<testsuite name=\"s\">{cases}</testsuite>")).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let pass = r#"<testcase classname="s" name="t03"/>"#;
    let fail = r#"<testcase classname="s" name="t03"><failure message="boom"/></testcase>"#;
    let base = write("base.xml", pass);
    for (new, code) in [(format!("{fail}{pass}"), 1), (format!("{pass}{fail}"), 1), (pass.to_owned(), 0)] {
        let new = write("new.xml", &new);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_imagegate"))
            .args(["compare", "--json", &base, &new])
            .output()
            .unwrap();
        let run = crate::context::Run::from(output);
        run.expect_code(code);
        let report = run.json();
        if code == 1 {
            assert_eq!(report["decision"], "regression", "{run}");
            assert_eq!(ids(&report, "regressions"), vec!["s.t03"]);
            assert!(ids(&report, "flaky").is_empty(), "{run}");
        }
    }
}
