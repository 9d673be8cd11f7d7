//! The registry store against real CNCF distribution registries started by the tests
//! (anonymous, htpasswd basic auth, TLS with a private CA, a bearer-token flow), with images
//! built by real docker and podman and checked independently with `skopeo`.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use imagegate_testkit::{FaultProxy, Registry, RegistryAuth, RegistryOptions};
use serde_json::Value;

use crate::both_engines;
use crate::context::{Engine, Run, TestContext};

/// A test project whose `[store]` is a registry, or a fault proxy in front of it.
pub(crate) struct RegistryProject {
    pub(crate) context: TestContext,
    pub(crate) registry: Registry,
    pub(crate) namespace: String,
    /// Where imagegate and the engine reach the registry through, when not directly.
    pub(crate) proxy: Option<FaultProxy>,
}

impl RegistryProject {
    fn new(engine: Engine, options: RegistryOptions, features: &[&str], cases: &str) -> RegistryProject {
        let registry = Registry::start(options).expect("start the registry");
        let context = TestContext::new(engine, features, cases);
        let namespace = "it".to_owned();
        let project = RegistryProject { context, registry, namespace, proxy: None };
        project.write_store("");
        project
    }

    /// An anonymous registry that imagegate and the engine reach only through a fault proxy.
    pub(crate) fn behind_proxy(engine: Engine, features: &[&str], cases: &str) -> RegistryProject {
        let mut project = RegistryProject::anonymous(engine, features, cases);
        project.proxy = Some(FaultProxy::start(&project.registry.address()).expect("start the fault proxy"));
        project.write_store("");
        project
    }

    /// The registry's address as imagegate.toml names it.
    fn store_address(&self) -> String {
        self.proxy.as_ref().map_or_else(|| self.registry.address(), FaultProxy::address)
    }

    pub(crate) fn anonymous(engine: Engine, features: &[&str], cases: &str) -> RegistryProject {
        RegistryProject::new(engine, RegistryOptions { auth: RegistryAuth::None, tls: false }, features, cases)
    }

    /// Rewrites imagegate.toml with a `[store]` table for the registry, plus `extra` lines.
    pub(crate) fn write_store(&self, extra: &str) {
        let path = self.context.path("imagegate.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        // Drop the [store] table written before, if any: up to the next table.
        let mut kept = String::new();
        let mut in_store = false;
        for line in text.lines() {
            if line.starts_with('[') {
                in_store = line == "[store]";
            }
            if !in_store {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        let mut store = format!("[store]\nregistry = \"{}/{}\"\n", self.store_address(), self.namespace);
        match self.registry.ca_file() {
            Some(ca) => store.push_str(&format!("ca_file = \"{}\"\n", ca.display())),
            None => store.push_str("insecure = true\n"),
        }
        store.push_str(extra);
        std::fs::write(&path, format!("{store}\n{kept}")).unwrap();
    }

    pub(crate) fn stable_reference(&self) -> String {
        format!("{}/{}/{}", self.registry.address(), self.namespace, self.context.stable_tag)
    }

    fn repository(&self) -> String {
        let stable = self.stable_reference();
        stable.rsplit_once(':').unwrap().0.to_owned()
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    pub(crate) fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.context.command();
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        Run::from(command.output().unwrap())
    }

    pub(crate) fn gate(&self, args: &[&str]) -> (Run, Value) {
        let mut all = vec!["gate", "--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        let json = run.json();
        (run, json)
    }

    /// What `skopeo inspect` sees under `reference` (digest), or `None`.
    pub(crate) fn skopeo_digest(&self, reference: &str) -> Option<String> {
        skopeo_inspect(&self.registry, reference).map(|value| value["Digest"].as_str().unwrap().to_owned())
    }

    pub(crate) fn tags(&self) -> Vec<String> {
        let output = skopeo(&self.registry, &["list-tags", &format!("docker://{}", self.repository())]);
        assert!(output.status.success(), "skopeo list-tags: {}", String::from_utf8_lossy(&output.stderr));
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        value["Tags"].as_array().unwrap().iter().map(|tag| tag.as_str().unwrap().to_owned()).collect()
    }

    /// Removes every local image of this project, as on a fresh CI machine.
    pub(crate) fn empty_engine(&self) {
        remove_local_images(self.context.engine, &self.registry.address());
        if let Some(proxy) = &self.proxy {
            remove_local_images(self.context.engine, &proxy.address());
        }
        remove_local_images(self.context.engine, self.context.stable_tag.split(':').next().unwrap());
    }
}

impl Drop for RegistryProject {
    fn drop(&mut self) {
        remove_local_images(self.context.engine, &self.registry.address());
        if let Some(proxy) = &self.proxy {
            remove_local_images(self.context.engine, &proxy.address());
        }
    }
}

fn remove_local_images(engine: Engine, containing: &str) {
    let output = Command::new(engine.name()).args(["images", "--format", "{{.Repository}}:{{.Tag}}"]).output();
    if let Ok(output) = output {
        let tags: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.contains(containing))
            .map(str::to_owned)
            .collect();
        if !tags.is_empty() {
            crate::context::remove_images(engine, &tags);
        }
    }
}

fn skopeo(registry: &Registry, args: &[&str]) -> std::process::Output {
    let mut command = Command::new("skopeo");
    command.args(args);
    match registry.ca_file() {
        Some(ca) => {
            command.arg(format!("--cert-dir={}", ca_dir(ca).display()));
        }
        None => {
            command.arg("--tls-verify=false");
        }
    }
    if let Some((user, password)) = registry.credentials() {
        command.arg(format!("--creds={user}:{password}"));
    }
    command.output().expect("skopeo is installed by scripts/test-tools.sh")
}

/// A folder holding `ca.crt`, as skopeo's and podman's `--cert-dir` want.
fn ca_dir(ca: &Path) -> PathBuf {
    let dir = ca.parent().unwrap().join("cert-dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(ca, dir.join("ca.crt")).unwrap();
    dir
}

fn skopeo_inspect(registry: &Registry, reference: &str) -> Option<Value> {
    let output = skopeo(registry, &["inspect", &format!("docker://{reference}")]);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("manifest unknown") || stderr.contains("not found"), "skopeo inspect: {stderr}");
        return None;
    }
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

pub(crate) fn digest(report: &Value, path: &str) -> String {
    report.pointer(path).and_then(Value::as_str).unwrap_or_else(|| panic!("no {path} in {report}")).to_owned()
}

both_engines!(the_registry_holds_candidates_stable_tags_and_history, |engine: Engine| {
    let project = RegistryProject::anonymous(engine, &["alpha"], "test_a pass\ntest_b needs:alpha\n");

    // Bootstrap: the first candidate becomes the stable image, by its exact manifest digest.
    let (run, first) = project.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(first["promotion"]["status"], "promoted", "{run}");
    let first_digest = digest(&first, "/candidate/digest");
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(first_digest.as_str()));

    // A recipe change that breaks a test is blocked; the stable tag stays where it was.
    project.context.set_features(&["beta"]);
    project.context.commit("drop alpha");
    let (run, blocked) = project.gate(&["--promote"]);
    run.expect_code(1);
    assert_eq!(blocked["decision"], "regression");
    assert_eq!(digest(&blocked, "/incumbent/digest"), first_digest);
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(first_digest.as_str()));
    let second_digest = digest(&blocked, "/candidate/digest");

    // The project adapts; the next run promotes the same candidate by itself.
    project.context.set_cases("test_a pass\ntest_b pass\n");
    let (run, unblocked) = project.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(unblocked["candidate"]["source"], "reused");
    assert_eq!(digest(&unblocked, "/candidate/digest"), second_digest);
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(second_digest.as_str()));

    // History from the registry alone: a new state folder on an engine without the images.
    project.empty_engine();
    let fresh = project.context.scratch.join("fresh-state");
    let history = project.run(&["history", "--json", "--state-dir", fresh.to_str().unwrap()]);
    history.expect_code(0);
    let events = history.json()["events"].as_array().unwrap().clone();
    let kinds: Vec<&str> = events.iter().map(|event| event["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["verdict", "promote", "verdict", "verdict", "promote"], "{history}");
    assert_eq!(events[2]["regressions"], serde_json::json!(["it.test_b"]));

    // Rollback from the registry alone, too.
    let rolled = project.run(&["rollback", &project.context.image, "--state-dir", fresh.to_str().unwrap()]);
    rolled.expect_code(0);
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(first_digest.as_str()));
    // The rolled-back candidate is not promoted again.
    let (run, again) = project.gate(&["--promote"]);
    assert_eq!(again["promotion"]["status"], "refused", "{run}");
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(first_digest.as_str()));
});

#[test]
fn a_fresh_machine_reuses_the_candidate_from_the_registry() {
    let project = RegistryProject::anonymous(Engine::Docker, &["alpha"], "test_a pass\n");
    let (run, first) = project.gate(&[]);
    run.expect_code(0);
    project.empty_engine();
    let fresh = project.context.scratch.join("fresh-state");
    let fresh = fresh.to_str().unwrap();
    let plan = project.run(&["plan", "--json", "--state-dir", fresh]);
    plan.expect_code(0);
    let plan = plan.json();
    assert_eq!(plan["store"], format!("{}/it", project.registry.address()));
    assert_eq!(plan["images"][0]["action"], "reuse");
    assert_eq!(plan["images"][0]["candidate"], first["candidate"]["digest"]);
    assert_eq!(plan["images"][0]["last_verdict"]["decision"], "pass");

    // The gate pulls the candidate instead of building it.
    let (run, second) = project.gate(&["--state-dir", fresh]);
    run.expect_code(0);
    assert_eq!(second["candidate"]["source"], "reused");
    assert!(!run.stderr.contains("building the candidate"), "{run}");
    assert!(run.stderr.contains("pulling"), "{run}");
}

both_engines!(a_registry_on_a_loopback_address_is_spoken_to_over_plain_http_by_itself, |engine: Engine| {
    let project = RegistryProject::anonymous(engine, &["alpha"], "test_a pass\n");
    // As docker and go-containerregistry do: no `insecure = true` for a registry on this machine.
    let path = project.context.path("imagegate.toml");
    let config = std::fs::read_to_string(&path).unwrap().replace("insecure = true\n", "");
    assert!(!config.contains("insecure"), "{config}");
    std::fs::write(&path, config).unwrap();
    let (run, report) = project.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(report["promotion"]["status"], "promoted", "{run}");
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), report["candidate"]["digest"].as_str());
});

#[test]
fn basic_auth_credentials_come_from_the_environment_and_never_show() {
    let password = "s3cret-Pa55word-for-imagegate";
    let options = RegistryOptions {
        auth: RegistryAuth::Htpasswd { username: "ci".into(), password: password.into() },
        tls: false,
    };
    let project = RegistryProject::new(Engine::Podman, options, &["alpha"], "test_a pass\n");

    let denied = project.run(&["gate", "--promote"]);
    denied.expect_code(3);
    assert!(denied.stderr.contains(&project.registry.address()), "{denied}");
    assert!(denied.stderr.contains("hint:"), "{denied}");

    let env = [("IMAGEGATE_REGISTRY_USERNAME", "ci"), ("IMAGEGATE_REGISTRY_PASSWORD", password)];
    let run = project.run_with(&["gate", "--promote", "--json"], &env);
    run.expect_code(0);
    let report = run.json();
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(digest(&report, "/candidate/digest")));
    let history = project.run_with(&["history"], &env);
    history.expect_code(0);
    for output in [&denied, &run, &history] {
        assert!(!output.stdout.contains(password) && !output.stderr.contains(password), "{output}");
    }
    // Nor in any file imagegate wrote (logs, run folders, the local store).
    for entry in walk(&project.context.path(".imagegate")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(password), "the password is in {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// docker's daemon trusts a private CA for a registry through `/etc/docker/certs.d/HOST:PORT/`.
struct DockerCertificate(PathBuf);

impl DockerCertificate {
    fn install(registry: &Registry) -> DockerCertificate {
        let dir = PathBuf::from("/etc/docker/certs.d").join(registry.address());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(registry.ca_file().unwrap(), dir.join("ca.crt")).unwrap();
        DockerCertificate(dir)
    }
}

impl Drop for DockerCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

both_engines!(a_tls_registry_with_a_private_ca, |engine: Engine| {
    let options = RegistryOptions { auth: RegistryAuth::None, tls: true };
    let project = RegistryProject::new(engine, options, &["alpha"], "test_a pass\n");
    let _certificate = (engine == Engine::Docker).then(|| DockerCertificate::install(&project.registry));
    let (run, report) = project.gate(&["--promote"]);
    run.expect_code(0);
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(digest(&report, "/candidate/digest")));
});

#[test]
fn an_untrusted_certificate_is_refused_with_a_clear_error() {
    let options = RegistryOptions { auth: RegistryAuth::None, tls: true };
    let project = RegistryProject::new(Engine::Docker, options, &["alpha"], "test_a pass\n");
    // Without the CA: the config names no ca_file.
    let path = project.context.path("imagegate.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String =
        text.lines().filter(|line| !line.starts_with("ca_file")).map(|line| format!("{line}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let run = project.run(&["plan"]);
    run.expect_code(3);
    assert!(run.stderr.contains(&project.registry.address()), "{run}");
    // On a loopback address the store speaks plain HTTP unless a CA is given, as docker does:
    // the TLS registry says so, and the hint names the key that fixes it.
    assert!(run.stderr.contains("hint: the registry serves HTTPS: set `[store] ca_file`"), "{run}");

    // With a CA file the store speaks TLS; a certificate that CA did not sign is refused as such.
    let other = Registry::start(RegistryOptions { auth: RegistryAuth::None, tls: true }).expect("start a registry");
    let wrong_ca = other.ca_file().expect("the other registry's CA");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("[store]\n", &format!("[store]\nca_file = \"{}\"\n", wrong_ca.display())))
        .unwrap();
    let run = project.run(&["plan"]);
    run.expect_code(3);
    assert!(run.stderr.contains(&project.registry.address()), "{run}");
    assert!(run.stderr.to_lowercase().contains("certificate"), "{run}");
}

#[test]
fn a_bearer_token_flow_with_credentials_from_the_docker_config() {
    let options = RegistryOptions {
        auth: RegistryAuth::Token { username: "robot".into(), password: "t0ken-pass".into() },
        tls: false,
    };
    let project = RegistryProject::new(Engine::Docker, options, &["alpha"], "test_a pass\n");
    let docker_config = project.context.scratch.join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(b"robot:t0ken-pass");
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, project.registry.address()),
    )
    .unwrap();
    let env = [("DOCKER_CONFIG", docker_config.to_str().unwrap())];
    let run = project.run_with(&["gate", "--promote", "--json"], &env);
    run.expect_code(0);
    let report = run.json();
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(digest(&report, "/candidate/digest")));
    assert!(project.registry.token_requests() > 0, "no token was asked for");
    assert!(!run.stderr.contains("t0ken-pass") && !run.stdout.contains("t0ken-pass"));

    // Deleting needs a token with delete rights: prune asks for one.
    project.context.set_features(&["beta"]);
    project.context.commit("beta");
    project.run_with(&["gate"], &env).expect_code(0);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let pruned = project.run_with(&["prune", "--older-than", "1s", "--json"], &env);
    pruned.expect_code(0);
    let report = pruned.json();
    let removed = report["candidates"].as_array().unwrap().iter().filter(|entry| entry["action"] == "removed").count();
    assert_eq!(removed, 1, "{pruned}");
}

#[test]
fn prune_removes_only_old_candidates_that_were_never_promoted() {
    let project = RegistryProject::anonymous(Engine::Docker, &["alpha"], "test_a pass\n");
    let (_, stable) = project.gate(&["--promote"]);
    let stable_digest = digest(&stable, "/candidate/digest");
    project.context.set_features(&["beta"]);
    project.context.commit("beta");
    let (run, unpromoted) = project.gate(&[]);
    run.expect_code(0);
    let unpromoted_digest = digest(&unpromoted, "/candidate/digest");
    std::thread::sleep(std::time::Duration::from_secs(2));

    let dry = project.run(&["prune", "--older-than", "1s", "--dry-run", "--json"]);
    dry.expect_code(0);
    let dry = dry.json();
    assert_eq!(dry["dry_run"], true);
    let entries = dry["candidates"].as_array().unwrap();
    let removed: Vec<&Value> = entries.iter().filter(|entry| entry["action"] == "removed").collect();
    assert_eq!(removed.len(), 1, "{dry}");
    assert_eq!(removed[0]["digest"], unpromoted_digest.as_str());
    assert!(entries.iter().any(|entry| entry["digest"] == stable_digest.as_str() && entry["action"] == "kept"));
    // A dry run deletes nothing.
    let candidate_tag = removed[0]["tag"].as_str().unwrap().to_owned();
    assert!(project.tags().contains(&candidate_tag));

    let pruned = project.run(&["prune", "--older-than", "1s"]);
    pruned.expect_code(0);
    assert!(pruned.stdout.contains("1 candidate removed"), "{pruned}");
    let tags = project.tags();
    assert!(!tags.contains(&candidate_tag), "{tags:?}");
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(stable_digest.clone()));
    // History keeps the pruned candidate's verdict.
    let history = project.run(&["history", "--json"]).json();
    assert!(history["events"].as_array().unwrap().iter().any(|event| event["candidate"] == unpromoted_digest.as_str()));
    // Nothing newer than a day is old enough by default.
    let default = project.run(&["prune", "--dry-run", "--json"]).json();
    assert!(default["candidates"].as_array().unwrap().iter().all(|entry| entry["action"] == "kept"));
}

#[test]
fn candidates_in_another_namespace_are_promoted_by_mounting_their_blobs() {
    let project = RegistryProject::anonymous(Engine::Docker, &["alpha"], "test_a pass\n");
    project.write_store("candidates = \"it-candidates\"\n");
    let (run, report) = project.gate(&["--promote"]);
    run.expect_code(0);
    let candidate = digest(&report, "/candidate/digest");
    assert!(digest(&report, "/candidate/reference").contains("/it-candidates/"), "{report}");
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(candidate.clone()));
    let log = std::fs::read_to_string(project.registry.log_file()).unwrap();
    assert!(log.contains("mount="), "no blob was mounted:\n{log}");
}

#[test]
fn eight_concurrent_promoters_exactly_one_wins() {
    const PROMOTERS: usize = 8;
    let project = RegistryProject::anonymous(Engine::Docker, &["base"], "test_a pass\n");
    let (run, incumbent) = project.gate(&["--promote"]);
    run.expect_code(0);
    let incumbent = digest(&incumbent, "/candidate/digest");

    // Eight checkouts, each with its own recipe and a passing verdict against the incumbent.
    let mut checkouts = Vec::new();
    let mut candidates = Vec::new();
    for index in 0..PROMOTERS {
        let checkout = project.context.scratch.join(format!("checkout-{index}"));
        let copied = Command::new("cp").arg("-a").arg(&project.context.root).arg(&checkout).status().unwrap();
        assert!(copied.success());
        let _ = std::fs::remove_dir_all(checkout.join(".imagegate"));
        std::fs::write(checkout.join("ci/lib/features"), format!("base\nvariant-{index}\n")).unwrap();
        let output = project.context.command().current_dir(&checkout).args(["gate", "--json"]).output().unwrap();
        let run = Run::from(output);
        run.expect_code(0);
        let report = run.json();
        assert_eq!(digest(&report, "/incumbent/digest"), incumbent);
        candidates.push(digest(&report, "/candidate/digest"));
        checkouts.push(checkout);
    }

    let children: Vec<_> = checkouts
        .iter()
        .map(|checkout| project.context.command().current_dir(checkout).args(["promote"]).spawn().unwrap())
        .collect();
    let codes: Vec<i32> =
        children.into_iter().map(|child| child.wait_with_output().unwrap().status.code().unwrap_or(-1)).collect();
    assert_eq!(codes.iter().filter(|code| **code == 0).count(), 1, "exit codes: {codes:?}");
    assert_eq!(codes.iter().filter(|code| **code == 4).count(), PROMOTERS - 1, "exit codes: {codes:?}");
    let winner = codes.iter().position(|code| *code == 0).unwrap();
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(candidates[winner].as_str()));

    // No record is lost: a machine that never saw the project reads every verdict and both
    // promotions.
    let fresh = project.context.scratch.join("fresh-state");
    let history = project.run(&["history", "--json", "--state-dir", fresh.to_str().unwrap()]).json();
    let events = history["events"].as_array().unwrap();
    let verdicts = events.iter().filter(|event| event["kind"] == "verdict").count();
    let promotions: Vec<&Value> = events.iter().filter(|event| event["kind"] == "promote").collect();
    assert_eq!(verdicts, 1 + PROMOTERS);
    assert_eq!(promotions.len(), 2);
    assert_eq!(promotions[1]["to"], candidates[winner].as_str());
    assert_eq!(promotions[1]["from"], incumbent.as_str());
}

#[test]
fn an_unreachable_registry_fails_clearly_and_moves_nothing() {
    let mut project = RegistryProject::anonymous(Engine::Docker, &["alpha"], "test_a pass\n");
    let (_, first) = project.gate(&["--promote"]);
    let first = digest(&first, "/candidate/digest");
    project.context.set_features(&["alpha", "beta"]);
    project.context.commit("beta");
    project.gate(&[]).0.expect_code(0);

    // The registry goes away between the verdict and the promotion.
    let storage = project.registry.storage_dir().to_path_buf();
    let address = project.registry.address();
    project.registry.stop();
    let run = project.run(&["promote"]);
    run.expect_code(3);
    assert!(run.stderr.contains(&address), "{run}");
    assert!(run.stderr.contains("attempts"), "the request was not retried: {run}");
    project.registry.restart().unwrap();
    assert_eq!(project.registry.storage_dir(), storage);
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(first));
}

#[test]
fn ci_runs_publish_pullable_registry_references_and_promote_only_where_trusted() {
    let project = RegistryProject::anonymous(Engine::Docker, &["alpha"], "test_a pass\n");
    let output = project.context.scratch.join("github-output");
    let summary = project.context.scratch.join("summary");
    // On a GitHub-hosted runner: with a registry store, promoting there is what is wanted.
    let environment = |name: &str| {
        let mut environment = crate::ci::github_environment(name, &output, &summary);
        environment.insert("RUNNER_ENVIRONMENT".into(), "github-hosted".into());
        environment
    };
    let last_output = || std::fs::read_to_string(&output).unwrap().lines().last().unwrap().to_owned();

    let (run, report) = crate::ci::run_ci(&project.context, &environment("push"));
    run.expect_code(0);
    assert_eq!(report["promotion"]["status"], "promoted");
    let stable = project.skopeo_digest(&project.stable_reference()).unwrap();
    assert_eq!(last_output(), format!("image-{}={}", project.context.image, project.stable_reference()));

    // A pull request from a fork that changes the recipe, on a fresh machine: gated against the
    // stable image pulled from the registry, never promoted, and nothing written there (code
    // from a fork gets no say in the shared store): the candidate stays in this engine, which
    // its later jobs on this machine use, and the verdict stays on this machine.
    project.context.set_features(&["alpha", "beta"]);
    project.context.commit("new recipe");
    project.empty_engine();
    let tags_before = project.tags();
    let requests_before = project.registry.requests().len();
    let (run, report) = crate::ci::run_ci(&project.context, &environment("pull_request_fork"));
    let requests = project.registry.requests();
    run.expect_code(0);
    assert_eq!(report["decision"], "pass", "{run}");
    assert_eq!(report["promotion"]["status"], "not-allowed", "{run}");
    assert_eq!(report["candidate"]["source"], "built");
    assert!(report["warnings"].to_string().contains("read only"), "{report}");
    let writes: Vec<_> = requests[requests_before..]
        .iter()
        .filter(|request| !matches!(request.method.as_str(), "GET" | "HEAD"))
        .collect();
    assert!(writes.is_empty(), "the fork's run wrote to the registry: {writes:?}");
    assert!(
        requests[requests_before..].iter().any(|request| request.path.contains("/blobs/")),
        "the stable image was not pulled from the registry"
    );
    assert_eq!(project.tags(), tags_before);
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(stable.clone()));
    let published = last_output();
    let reference = published.split_once('=').unwrap().1;
    assert_eq!(reference, report["candidate"]["reference"].as_str().unwrap(), "{published}");
    let local = Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", reference]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&local.stdout).trim(), report["candidate"]["digest"].as_str().unwrap());

    // The same change from a branch of the project itself is pushed, and its jobs get the
    // candidate by digest, which any machine can pull from the registry.
    let (run, report) = crate::ci::run_ci(&project.context, &environment("pull_request"));
    run.expect_code(0);
    assert_eq!(report["promotion"]["status"], "not-allowed", "{run}");
    assert_eq!(project.skopeo_digest(&project.stable_reference()), Some(stable));
    let published = last_output();
    let reference = published.split_once('=').unwrap().1;
    assert!(reference.contains("@sha256:"), "{published}");
    assert_eq!(project.skopeo_digest(reference), Some(digest(&report, "/candidate/digest")));
}

#[test]
fn sharded_runs_list_their_tests_in_the_images_pulled_from_the_registry() {
    // `suite.list` runs in both images: in registry mode the engine must be handed the pulled
    // image, not the manifest digest the registry names it by (which the engine does not know).
    let project = RegistryProject::anonymous(Engine::Docker, &["alpha", "beta"], "test_a pass\n");
    project.gate(&["--promote"]).0.expect_code(0);
    project.context.set_cases("test_a needs:alpha\ntest_b needs:beta\ntest_c pass\ntest_d fail\n");
    project.context.set_features(&["alpha"]);
    project.context.commit("the new image drops beta");
    let (run, whole) = project.gate(&[]);
    run.expect_code(1);

    let evidence = project.context.scratch.join("shards");
    let evidence = evidence.to_str().unwrap();
    for shard in ["1/2", "2/2"] {
        let run = project.run(&["test", &project.context.image, "--shard", shard, "--output", evidence]);
        run.expect_code(0);
        assert!(run.stderr.contains("tests listed"), "{run}");
    }
    let (run, merged) = project.gate(&["--results", evidence]);
    run.expect_code(1);
    assert_eq!(merged["decision"], whole["decision"]);
    assert_eq!(merged["regressions"], whole["regressions"]);
    assert_eq!(merged["candidate"]["digest"], whole["candidate"]["digest"]);
}

/// Promoters that all gated the same candidate: one moves the tag, and every other one finds
/// its promotion done (exit 0, "already promoted"), as in the local store, never exit 4.
#[test]
fn promoters_racing_with_the_same_candidate_all_succeed() {
    const PROMOTERS: usize = 4;
    let project = RegistryProject::anonymous(Engine::Docker, &["base"], "test_a pass\n");
    project.gate(&["--promote"]).0.expect_code(0);
    project.context.set_features(&["base", "next"]);
    let (run, report) = project.gate(&[]);
    run.expect_code(0);
    let candidate = digest(&report, "/candidate/digest");
    let children: Vec<_> = (0..PROMOTERS)
        .map(|index| {
            let state = project.context.scratch.join(format!("state-{index}"));
            project
                .context
                .command()
                .arg("--state-dir")
                .arg(&state)
                .args(["promote", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<Run> = children.into_iter().map(|child| Run::from(child.wait_with_output().unwrap())).collect();
    let statuses: Vec<String> = runs
        .iter()
        .map(|run| run.json()["images"][0]["promotion"]["status"].as_str().unwrap_or("none").to_owned())
        .collect();
    for run in &runs {
        run.expect_code(0);
    }
    assert_eq!(statuses.iter().filter(|status| *status == "promoted").count(), 1, "{statuses:?}");
    for run in runs.iter().filter(|run| !run.stdout.contains("\"promoted\"")) {
        assert!(run.stdout.contains("already"), "{run}");
    }
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(candidate.as_str()));
}

/// A lease left by a promoter that was killed holding it: the next promoter says whose it is
/// and until when, in a few lines, waits for it to expire and promotes.
#[test]
fn a_stale_lease_is_named_with_its_expiry_and_waited_for_in_a_few_lines() {
    use imagegate_registry::lease::{self, LeaseTiming};
    let project = RegistryProject::anonymous(Engine::Docker, &["base"], "test_a pass\n");
    project.gate(&["--promote"]).0.expect_code(0);
    project.context.set_features(&["base", "next"]);
    project.gate(&[]).0.expect_code(0);

    let mut connection = imagegate_registry::Connection::new(&project.registry.address());
    connection.plain_http = true;
    let client = imagegate_registry::Client::new(connection, imagegate_registry::auth::Credentials::Anonymous).unwrap();
    let repository = imagegate_registry::reference::Reference::parse(&project.repository()).unwrap();
    let timing = LeaseTiming {
        lifetime: std::time::Duration::from_secs(6),
        settle: std::time::Duration::from_millis(100),
        patience: std::time::Duration::from_secs(10),
    };
    let holder = "runner-7/4242/deadbeef";
    // Taken and never released: what a killed promoter leaves.
    let _stale =
        lease::acquire(&client, &repository, holder, timing, |_| Ok::<(), imagegate_registry::RegistryError>(()))
            .unwrap();
    let run = project.run(&["promote"]);
    run.expect_code(0);
    let waits: Vec<&str> = run.stderr.lines().filter(|line| line.contains("waiting")).collect();
    assert!(!waits.is_empty() && waits.len() <= 3, "{} waiting lines:\n{run}", waits.len());
    assert!(waits[0].contains(holder) && waits[0].contains("until "), "{run}");
    assert!(run.stdout.contains("moved from"), "{run}");
}

/// A promoter killed with SIGKILL between its tag write and its record: on another machine,
/// once the lease it left expires, history shows the promotion and rollback undoes it; one
/// killed before its tag write leaves no promotion, and the next one goes through.
#[cfg(feature = "failpoints")]
#[test]
fn a_promoter_killed_mid_move_is_settled_on_another_machine() {
    use crate::crashes::kills::kill_command;
    const LEASE: (&str, &str) = ("IMAGEGATE_LEASE_LIFETIME", "3s");
    let project = RegistryProject::anonymous(Engine::Docker, &["base"], "test_a pass\n");
    let (run, first) = project.gate(&["--promote"]);
    run.expect_code(0);
    let incumbent = digest(&first, "/candidate/digest");
    let promotions_to = |state: &str, to: &str| {
        let state = project.context.scratch.join(state);
        let history = project.run_with(&["history", "--json", "--state-dir", state.to_str().unwrap()], &[LEASE]);
        history.expect_code(0);
        history.json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["kind"] == "promote" && event["to"] == to)
            .count()
    };

    // Killed before the tag moved: nothing to record, and the promotion is made again.
    project.context.set_features(&["base", "first"]);
    let (run, report) = project.gate(&[]);
    run.expect_code(0);
    let dropped = digest(&report, "/candidate/digest");
    let mut command = project.context.command();
    command.args(["promote"]).env(LEASE.0, LEASE.1);
    kill_command(command, "move.intent");
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(incumbent.as_str()));
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(promotions_to("fresh-1", &dropped), 0);

    // Killed after the tag moved, before its record: recorded by the next machine.
    let mut command = project.context.command();
    let scratch = project.context.scratch.join("killed-state");
    command.arg("--state-dir").arg(&scratch).args(["promote"]).env(LEASE.0, LEASE.1);
    kill_command(command, "move.moved");
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(dropped.as_str()));
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(promotions_to("fresh-2", &dropped), 1);
    // Recorded once, whichever machine looks next.
    assert_eq!(promotions_to("fresh-3", &dropped), 1);
    let fresh = project.context.scratch.join("fresh-4");
    let run = project.run_with(&["rollback", &project.context.image, "--state-dir", fresh.to_str().unwrap()], &[LEASE]);
    run.expect_code(0);
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(incumbent.as_str()));
}

/// Docker Hub counts every manifest GET as a pull (a HEAD is free) and rate-limits them: a
/// promotion reads digests with HEAD and makes one manifest GET, for the candidate it puts
/// under the stable tag. The lease released by the last promoter is known from its digest,
/// the incumbent's keep tag from a HEAD, and the referrers index is read from its blob copy.
/// The promotion is still whole: compare-and-swap on the incumbent, lease, keep tag, record
/// and referrers index.
#[test]
fn a_promotion_reads_digests_with_head() {
    let project = RegistryProject::anonymous(Engine::Docker, &["alpha"], "test_a pass\n");
    let (run, first) = project.gate(&["--promote"]);
    run.expect_code(0);
    let incumbent = digest(&first, "/candidate/digest");
    project.context.set_features(&["alpha", "beta"]);
    project.context.commit("beta");
    let (run, second) = project.gate(&[]);
    run.expect_code(0);
    let candidate = digest(&second, "/candidate/digest");

    let before = project.registry.requests().len();
    let run = project.run(&["promote"]);
    run.expect_code(0);
    let requests: Vec<_> = project.registry.requests().into_iter().skip(before).collect();
    let summary: Vec<String> =
        requests.iter().map(|entry| format!("{} {} {}", entry.method, entry.path, entry.status)).collect();
    let summary = summary.join("\n");
    let manifest_gets: Vec<_> =
        requests.iter().filter(|entry| entry.method == "GET" && entry.path.contains("/manifests/")).collect();
    assert!(manifest_gets.len() <= 1, "{} manifest GETs in a promotion:\n{summary}", manifest_gets.len());
    // The compare-and-swap read the stable tag right before moving it.
    let stable_path = format!("/manifests/{}", project.context.stable_tag.rsplit_once(':').unwrap().1);
    let moved = requests
        .iter()
        .position(|entry| entry.method == "PUT" && entry.path.ends_with(&stable_path))
        .unwrap_or_else(|| panic!("the stable tag was not written:\n{summary}"));
    assert!(
        requests[..moved].iter().any(|entry| entry.method == "HEAD" && entry.path.ends_with(&stable_path)),
        "no compare-and-swap read of the stable tag:\n{summary}"
    );

    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(candidate.as_str()));
    // Both images keep a tag that rollback returns to.
    let repository = project.repository();
    let kept: Vec<String> = project
        .tags()
        .iter()
        .filter(|tag| tag.starts_with("promoted-"))
        .filter_map(|tag| project.skopeo_digest(&format!("{repository}:{tag}")))
        .collect();
    assert!(kept.contains(&incumbent) && kept.contains(&candidate), "{kept:?}");
    // The lease is released.
    let lease = skopeo_raw(&project.registry, &format!("{repository}:imagegate-lease"));
    assert_eq!(lease["annotations"]["io.imagegate.lease.released"], "true", "{lease}");
    // The promotion is recorded, from the incumbent to the candidate.
    let history = project.run(&["history", "--json"]).json();
    let promotions: Vec<&Value> =
        history["events"].as_array().unwrap().iter().filter(|event| event["kind"] == "promote").collect();
    assert_eq!(promotions.len(), 2, "{history}");
    assert_eq!(
        (&promotions[1]["from"], &promotions[1]["to"]),
        (&Value::from(incumbent.clone()), &Value::from(candidate.clone()))
    );
    // The referrers index of the candidate lists its verdict and its promotion.
    let index = skopeo_raw(&project.registry, &format!("{repository}:{}", candidate.replace(':', "-")));
    let types: Vec<&str> =
        index["manifests"].as_array().unwrap().iter().filter_map(|entry| entry["artifactType"].as_str()).collect();
    assert!(types.contains(&"application/vnd.imagegate.verdict.v1+json"), "{index}");
    assert!(types.contains(&"application/vnd.imagegate.promotion.v1+json"), "{index}");

    // A rollback still returns to the incumbent.
    project.run(&["rollback", &project.context.image]).expect_code(0);
    assert_eq!(project.skopeo_digest(&project.stable_reference()).as_deref(), Some(incumbent.as_str()));
}

/// The manifest under `reference` as stored (`skopeo inspect --raw`).
fn skopeo_raw(registry: &Registry, reference: &str) -> Value {
    let output = skopeo(registry, &["inspect", "--raw", &format!("docker://{reference}")]);
    assert!(output.status.success(), "skopeo inspect --raw: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}
