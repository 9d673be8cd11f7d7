//! The package diff of the two images in the gate's report, and the suspects of a regression.

use crate::context::{BASE_IMAGE, Engine, TestContext};

fn write_distribution(context: &TestContext, name: &str, version: &str) {
    let folder = context.path(&format!("ci/site/{name}-{version}.dist-info"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("METADATA"), format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"))
        .unwrap();
    std::fs::write(folder.join("top_level.txt"), format!("{}\n", name.to_lowercase())).unwrap();
}

#[test]
fn a_regression_names_the_changed_package_its_traceback_points_at() {
    let context = TestContext::new(Engine::Docker, &["urls"], "test_a pass\ntest_app werkzeug-urls:urls\n");
    std::fs::write(
        context.path("ci/Dockerfile"),
        format!("FROM {BASE_IMAGE}\nCOPY lib/ /opt/lib/\nCOPY site/ /usr/local/lib/python3.11/dist-packages/\n"),
    )
    .unwrap();
    write_distribution(&context, "Werkzeug", "2.2.3");
    write_distribution(&context, "Flask", "2.2.5");
    write_distribution(&context, "requests", "2.31.0");
    context.commit("python packages");
    context.gate(&["--promote"]).0.expect_code(0);

    // The rebuild brings werkzeug 2.3 (no url_quote any more) and a requests upgrade.
    std::fs::remove_dir_all(context.path("ci/site")).unwrap();
    write_distribution(&context, "Werkzeug", "2.3.0");
    write_distribution(&context, "Flask", "2.2.5");
    write_distribution(&context, "requests", "2.32.3");
    context.set_features(&["other"]);
    context.commit("rebuild with new releases");
    let (run, report) = context.gate(&[]);
    run.expect_code(1);
    let changed: Vec<(String, String, String)> = report["packages"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["name"].as_str().unwrap().to_owned(),
                change["from"].as_str().unwrap().to_owned(),
                change["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            ("requests".to_owned(), "2.31.0".to_owned(), "2.32.3".to_owned()),
            ("Werkzeug".to_owned(), "2.2.3".to_owned(), "2.3.0".to_owned()),
        ],
        "{report}"
    );
    assert_eq!(report["packages"]["changed"][1]["ecosystem"], "python");
    assert_eq!(report["packages"]["changed"][1]["direction"], "upgrade");
    let regression = &report["regressions"][0];
    assert_eq!(regression["id"], "it.test_app");
    assert_eq!(regression["suspects"][0]["name"], "Werkzeug", "{regression}");
    // Nothing in the traceback points at requests.
    assert!(
        regression["suspects"].as_array().unwrap().iter().all(|suspect| suspect["name"] != "requests"),
        "{regression}"
    );

    let text = context.run(&["gate"]);
    assert!(text.stdout.contains("Werkzeug"), "{text}");

    let diff = context.run(&["diff", "--json", &context.stable_tag, report["candidate"]["digest"].as_str().unwrap()]);
    diff.expect_code(0);
    let diff = diff.json();
    assert_eq!(diff["schema"], "imagegate.diff/v1");
    assert_eq!(diff["changed"].as_array().unwrap().len(), 2);
}

#[test]
fn diff_of_an_unknown_image_is_a_usage_error() {
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    let run = context.run(&["diff", BASE_IMAGE, "imagegate-it/no-such-image:never"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no-such-image"), "{run}");
}
