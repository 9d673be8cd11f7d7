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
        .unwrap_or_else(|| panic!("no package diff in {report}"))
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

/// A throwaway `docker-registry` (CNCF distribution) on a free loopback port.
struct Registry {
    child: std::process::Child,
    address: String,
    _storage: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let storage = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
                storage.path().join("data").display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("docker-registry")
            .args(["serve", config.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry is installed by scripts/engines.sh registry / .ci/run");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(std::time::Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Registry { child, address, _storage: storage }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn diff_pulls_images_it_does_not_have_from_a_registry() {
    let registry = Registry::start();
    let context = TestContext::new(Engine::Docker, &["alpha"], "test_a pass\n");
    std::fs::write(
        context.path("ci/Dockerfile"),
        format!("FROM {BASE_IMAGE}\nCOPY site/ /usr/local/lib/python3.11/dist-packages/\n"),
    )
    .unwrap();
    let docker = |args: &[&str]| {
        let output = std::process::Command::new("docker").args(args).output().unwrap();
        assert!(output.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    let mut references = Vec::new();
    for (tag, version) in [("a", "2.2.3"), ("b", "2.3.0")] {
        let _ = std::fs::remove_dir_all(context.path("ci/site"));
        write_distribution(&context, "Werkzeug", version);
        let reference = format!("{}/imagegate-it/{}:{tag}", registry.address, context.image);
        docker(&["build", "-q", "-t", &reference, context.path("ci").to_str().unwrap()]);
        docker(&["push", "-q", &reference]);
        docker(&["rmi", "--no-prune", &reference]);
        references.push(reference);
    }
    let run = context.run(&["diff", "--json", &references[0], &references[1]]);
    run.expect_code(0);
    let diff = run.json();
    assert_eq!(diff["changed"][0]["name"], "Werkzeug", "{diff}");
    assert_eq!(diff["changed"][0]["from"], "2.2.3");
    assert_eq!(diff["changed"][0]["to"], "2.3.0");
    for reference in &references {
        let _ = std::process::Command::new("docker").args(["rmi", "--no-prune", reference]).output();
    }
}
