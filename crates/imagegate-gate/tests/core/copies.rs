//! Engine copies per run: podman makes its `cp`s one at a time across containers (0.3 s each
//! alone, up to 1.5 s when four containers copy at once), so a run's copies are what runs side
//! by side wait for. A run copies in once (the checkout and its results folder in one stream)
//! and out once (its results); what the image holds in the folder before the run is asked once
//! per image and folder in a process, and what the checkout puts there is read on the host.

use std::collections::BTreeSet;
use std::fs;

use imagegate_contract::Decision;
use imagegate_gate::GateError;

use crate::context::{TestProject, ids};
use crate::engine::ContainerCopies;

/// Whether a container ran the gate's list command (whose folder is not the results folder).
fn lists(container: &ContainerCopies) -> bool {
    container.command.starts_with("mkdir -p /tmp/imagegate-list")
}

#[test]
fn a_run_copies_in_once_and_out_once_and_each_image_is_asked_once_per_folder() {
    // The shape of the day-2 gate that the gate_cost benchmark times: list + rerun, a
    // regression of one test, reruns and a confirmation, side by side.
    let project = TestProject::new(&["alpha"], "test_a pass\ntest_b needs:alpha\ntest_c pass\n");
    project.add_suite_line("list = \"list-tests\"");
    project.add_engine_line("concurrency = 2");
    assert_eq!(project.gate(true).decision, Decision::Pass);
    project.set_features(&["beta"]);
    let before = project.engine.copies().len();
    let report = project.gate(false);
    assert_eq!(report.decision, Decision::Regression, "{}", report.summary);
    assert_eq!(ids(&report.regressions), ["it.test_b"]);

    let containers = project.engine.copies()[before..].to_vec();
    // The candidate's suite and its two reruns; the incumbent's list, targeted run and
    // confirmation.
    assert_eq!(containers.len(), 6, "{containers:#?}");
    // The first run of each image and folder asks the image what the folder holds: one copy
    // more, once.
    let asked: BTreeSet<(&str, bool)> =
        containers.iter().map(|container| (container.image_id.as_str(), lists(container))).collect();
    assert_eq!(asked.len(), 3, "{containers:#?}");
    // The incumbent's list, which runs while the candidate is built and tested, also asks what
    // the image holds in the results folder: the incumbent's runs after the candidate's suite
    // (what the gate waits for) copy only in and out.
    let list = containers.iter().find(|container| lists(container)).expect("the incumbent's list");
    assert_eq!(list.copies, 4, "{list:#?}");
    for container in containers.iter().filter(|container| !lists(container)) {
        if container.image_id == list.image_id {
            assert_eq!(container.copies, 2, "{container:#?}");
        } else {
            assert!((2..=3).contains(&container.copies), "{container:#?}");
        }
    }
    let total: usize = containers.iter().map(|container| container.copies).sum();
    assert_eq!(total, 2 * containers.len() + asked.len(), "{containers:#?}");
}

#[test]
fn files_the_checkout_puts_in_a_results_folder_inside_the_workdir_are_refused_before_copying() {
    let project = TestProject::new(&["alpha"], "test_a pass\n");
    fs::create_dir_all(project.root.join("out/nested")).expect("mkdir");
    fs::write(project.root.join("out/nested/old-junit.xml"), "<testsuite/>").expect("write");
    let config_path = project.root.join("imagegate.toml");
    let config = fs::read_to_string(&config_path).expect("read config");
    fs::write(&config_path, config.replace("results = \"/results\"", "results = \"/src/out\"")).expect("write");

    let error = project.try_gate(&project.options(false)).expect_err("refused");
    let GateError::Usage { message, hint } = &error else { panic!("{error:?}") };
    assert!(
        message.contains(
            "the results folder `/src/out` already holds 1 file before the suite runs (nested/old-junit.xml)"
        ),
        "{message}"
    );
    assert!(hint.contains("a folder that neither the image nor the checkout has"), "{hint}");
    assert_eq!(error.exit_status(), imagegate_contract::ExitStatus::Usage);
    // Known from the host: the only copy was the image's answer for the folder.
    let containers = project.engine.copies();
    assert_eq!(containers.iter().map(|container| container.copies).collect::<Vec<_>>(), [1], "{containers:#?}");
    assert_eq!(project.engine.containers(), 0);

    // The workdir as the results folder: every file of the checkout is in it.
    let config = fs::read_to_string(&config_path).expect("read config");
    fs::write(&config_path, config.replace("results = \"/src/out\"", "results = \"/src\"")).expect("write");
    let error = project.try_gate(&project.options(false)).expect_err("refused");
    assert!(error.to_string().contains("the results folder `/src` already holds 4 files before the suite runs (ci/Dockerfile, imagegate.toml, out/nested/old-junit.xml, …)"), "{error}");
}
