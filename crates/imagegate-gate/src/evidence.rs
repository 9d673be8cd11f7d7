//! Evidence reuse: the per-test results of a complete suite run, stored under a key made of
//! everything that determines them, so that a later run with the same key is not made again.
//!
//! The key ([`evidence_key`]) covers the image's digest (the engine's config digest, never the
//! reference it runs by), the checkout's content as it is copied into the container
//! (`imagegate_engine::checkout_digest`), the exact command (a selection of tests is in it),
//! the environment (values hashed, never stored), the workdir and results folder, the network,
//! timeout and limits, the engine kind and imagegate's own version (an upgrade never reuses a
//! run read by an older reader).
//!
//! Only first runs are stored and served: a suite, a listing, a targeted incumbent run. Never a
//! rerun or a confirmation (flaky reruns are never served from here), never a run that timed
//! out, is incomplete, read no test, or left results files aside. A reused run goes through the
//! same judgement as a fresh one, and its failures are rerun fresh. Looking up and storing are
//! best effort: a failure is a note, and the run is made.
//!
//! Stored evidence lives in the local store (`evidence` table, bounded per image) and, when the
//! backend shares it ([`SharedEvidence`], a registry store), there too, so that another machine
//! finds it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use imagegate_config::{ImageConfig, SuiteConfig};
use imagegate_contract::{ReusedRun, RunSummary};
use imagegate_results::{ResultSet, TestId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::GateError;
use crate::suite::Runner;

/// Where stored evidence is found and kept, as a [`Runner`] carries it (on any thread).
#[derive(Clone)]
pub(crate) struct EvidenceAccess<'a> {
    /// The state folder of the local store (each lookup opens its own connection: the
    /// context's store stays on its thread).
    pub store_dir: PathBuf,
    /// The backend's shared evidence, when it has one.
    pub shared: Option<&'a dyn SharedEvidence>,
}

/// Evidence kept where other machines find it (a registry store).
pub trait SharedEvidence: Sync {
    /// Where it is, as [`ReusedRun::source`] names it (`registry:HOST/NAMESPACE`).
    fn source(&self) -> String;

    /// The run stored under `key` for `image`: when it was recorded, and its body.
    fn read_evidence(&self, image: &ImageConfig, key: &str) -> Result<Option<(String, Vec<u8>)>, GateError>;

    /// Stores a run under `key`. A home this run may only read stores nothing.
    fn write_evidence(&self, image: &ImageConfig, key: &str, recorded_at: &str, body: &[u8]) -> Result<(), GateError>;
}

/// What kind of run a key is for: a suite run reads results files; a listing reads test ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunKind {
    Suite,
    List,
}

/// Everything that determines a run's results.
#[derive(Debug, Clone)]
pub(crate) struct KeyInputs<'a> {
    /// imagegate's version: its result readers change with it.
    pub version: &'a str,
    pub engine: &'a str,
    /// The image's digest (`sha256:…`, the engine's image id).
    pub image_digest: &'a str,
    /// The checkout's digest, as copied in.
    pub checkout: &'a str,
    pub kind: RunKind,
    pub command: &'a str,
    /// The folder copied out after the run.
    pub copy_out: &'a str,
    /// The suite's settings: environment, workdir, network, timeout and limits.
    pub suite: &'a SuiteConfig,
}

/// The evidence key (`sha256:<hex>`) of a run. Each part is length-prefixed and named, so no
/// two different inputs run together into the same bytes; environment values are hashed first
/// (the key never holds them, and nothing stores them).
pub(crate) fn evidence_key(inputs: &KeyInputs<'_>) -> String {
    let mut hasher = Sha256::new();
    let mut part = |name: &str, value: &[u8]| {
        for bytes in [name.as_bytes(), value] {
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        }
    };
    let suite = inputs.suite;
    part("format", b"imagegate.evidence/v1");
    part("version", inputs.version.as_bytes());
    part("engine", inputs.engine.as_bytes());
    part("image", inputs.image_digest.as_bytes());
    part("checkout", inputs.checkout.as_bytes());
    part(
        "kind",
        match inputs.kind {
            RunKind::Suite => b"suite",
            RunKind::List => b"list",
        },
    );
    part("command", inputs.command.as_bytes());
    part("copy-out", inputs.copy_out.as_bytes());
    part("workdir", suite.workdir.as_bytes());
    part("network", suite.network.as_bytes());
    part("timeout", &suite.timeout.as_millis().to_le_bytes());
    for (name, value) in &suite.env {
        part("env-name", name.as_bytes());
        part("env-value", &Sha256::digest(value.as_bytes()));
    }
    // Debug forms, so that a limit added later is in the key without anyone remembering to.
    part("limits", format!("{:?}", suite.limits).as_bytes());
    part("results-limits", format!("{:?}", suite.results_limits).as_bytes());
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// A stored run, as it is serialised (locally and in a registry).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredRun {
    pub summary: RunSummary,
    pub results: ResultSet,
    /// The ids a listing printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<BTreeSet<TestId>>,
}

/// A stored run found for a key, with where and when it was recorded.
pub(crate) struct Found {
    pub run: StoredRun,
    pub reused: ReusedRun,
}

/// Whether a run of `purpose` may be served from stored evidence (and stored): first runs only.
pub(crate) fn reusable_purpose(purpose: &str) -> bool {
    // An experiment reruns the same tests in the same image until they pass: each attempt must
    // run, and its image is made for this gate alone.
    !matches!(purpose, "rerun" | "confirm" | "experiment")
}

/// Whether a finished suite run is complete enough to be stored for reuse.
pub(crate) fn storable(summary: &RunSummary, results: &ResultSet) -> bool {
    !summary.timed_out && summary.skipped.is_empty() && results.is_complete() && summary.tests > 0
}

/// The key of a run of `command` in `image_ref`, when reuse is on and everything it is made
/// of can be read; `None` (with a note saying why, when something could not be read) otherwise.
pub(crate) fn key_for(
    runner: &Runner<'_>,
    image: &ImageConfig,
    image_ref: &str,
    kind: RunKind,
    command: &str,
    copy_out: &str,
) -> Option<String> {
    runner.evidence.as_ref()?;
    if !image.suite.reuse {
        return None;
    }
    let problem = |what: String| {
        runner.progress.note(&image.name, &format!("stored runs are not looked up: {what}"));
        None
    };
    let image_digest = match runner.engine.inspect_image(image_ref) {
        Ok(Some(info)) => info.id,
        Ok(None) => return problem(format!("the engine has no image `{image_ref}`")),
        Err(error) => return problem(format!("inspect `{image_ref}`: {error}")),
    };
    let exclude = [runner.state_dir.clone()];
    let checkout = match imagegate_engine::checkout_digest(&runner.config.root, &exclude) {
        Ok(digest) => digest,
        Err(error) => return problem(error.to_string()),
    };
    Some(evidence_key(&KeyInputs {
        version: env!("CARGO_PKG_VERSION"),
        engine: runner.engine.kind().as_str(),
        image_digest: &image_digest,
        checkout: &checkout,
        kind,
        command,
        copy_out,
        suite: &image.suite,
    }))
}

/// The run stored under `key`: in the local store first, then in the shared one (whose find is
/// then kept locally too).
pub(crate) fn find(runner: &Runner<'_>, image: &ImageConfig, key: &str) -> Option<Found> {
    let access = runner.evidence.as_ref()?;
    let note = |what: String| runner.progress.note(&image.name, &format!("stored runs: {what}"));
    let store = match imagegate_store::Store::open(&access.store_dir) {
        Ok(store) => Some(store),
        Err(error) => {
            note(error.to_string());
            None
        }
    };
    let local = store.as_ref().and_then(|store| match store.evidence(key) {
        Ok(found) => found,
        Err(error) => {
            note(error.to_string());
            None
        }
    });
    let (recorded_at, source, body) = match local {
        Some(stored) => (stored.recorded_at, stored.source, stored.run_json.into_bytes()),
        None => {
            let shared = access.shared?;
            match shared.read_evidence(image, key) {
                Ok(Some((recorded_at, body))) => {
                    let source = shared.source();
                    if let (Some(store), Ok(text)) = (store.as_ref(), String::from_utf8(body.clone())) {
                        let kept = store.keep_evidence(&imagegate_store::StoredEvidence {
                            key: key.to_owned(),
                            image: image.name.clone(),
                            recorded_at: recorded_at.clone(),
                            source: source.clone(),
                            run_json: text,
                        });
                        if let Err(error) = kept {
                            note(error.to_string());
                        }
                    }
                    (recorded_at, source, body)
                }
                Ok(None) => return None,
                Err(error) => {
                    note(error.to_string());
                    return None;
                }
            }
        }
    };
    match serde_json::from_slice::<StoredRun>(&body) {
        Ok(run) => Some(Found { run, reused: ReusedRun { recorded_at, source, key: key.to_owned() } }),
        Err(error) => {
            note(format!("the run stored under {key} is unreadable ({error}): running it again"));
            None
        }
    }
}

/// Stores a run under `key`, locally and where the backend shares evidence.
pub(crate) fn keep(runner: &Runner<'_>, image: &ImageConfig, key: &str, run: &StoredRun) {
    let Some(access) = runner.evidence.as_ref() else { return };
    let note = |what: String| runner.progress.note(&image.name, &format!("the run was not stored for reuse: {what}"));
    let body = match serde_json::to_string(run) {
        Ok(body) => body,
        Err(error) => return note(error.to_string()),
    };
    let recorded_at = jiff::Timestamp::now().to_string();
    let stored = imagegate_store::Store::open(&access.store_dir).and_then(|store| {
        store.keep_evidence(&imagegate_store::StoredEvidence {
            key: key.to_owned(),
            image: image.name.clone(),
            recorded_at: recorded_at.clone(),
            source: "local".to_owned(),
            run_json: body.clone(),
        })
    });
    if let Err(error) = stored {
        note(error.to_string());
    }
    if let Some(shared) = access.shared
        && let Err(error) = shared.write_evidence(image, key, &recorded_at, body.as_bytes())
    {
        note(error.to_string());
    }
}

/// A reused run's summary, as this gate reports it: named for the image and purpose it stands
/// for here (a candidate's run may be reused as the incumbent's once it is promoted).
pub(crate) fn reused_summary(found: &Found, which: &str, purpose: &str) -> RunSummary {
    RunSummary {
        image: which.to_owned(),
        purpose: purpose.to_owned(),
        reused: Some(found.reused.clone()),
        experiment: None,
        ..found.run.summary.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite() -> SuiteConfig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM debian\n").unwrap();
        let config = imagegate_config::load_str(
            &dir.path().join("imagegate.toml"),
            "[images.app]\nstable_tag = \"app:stable\"\ndockerfile = \"Dockerfile\"\n[images.app.suite]\ncommand = \"pytest\"\nresults = \"/results\"\nenv = { TOKEN = \"one\" }\n",
        )
        .unwrap();
        config.images["app"].suite.clone()
    }

    /// The key's inputs for a suite run of `pytest` in one image and checkout.
    fn inputs(suite: &SuiteConfig) -> KeyInputs<'_> {
        KeyInputs {
            version: "1.0.0",
            engine: "docker",
            image_digest: "sha256:image",
            checkout: "sha256:checkout",
            kind: RunKind::Suite,
            command: "pytest",
            copy_out: "/results",
            suite,
        }
    }

    #[test]
    fn every_part_changes_the_key() {
        let suite = suite();
        let base = inputs(&suite);
        let key = evidence_key(&base);
        assert!(key.starts_with("sha256:") && key.len() == 71, "{key}");
        assert_eq!(key, evidence_key(&base.clone()), "the key is a function of its inputs");
        let mut changed: Vec<(&str, String)> = vec![
            ("version", evidence_key(&KeyInputs { version: "1.0.1", ..base.clone() })),
            ("engine", evidence_key(&KeyInputs { engine: "podman", ..base.clone() })),
            ("image digest", evidence_key(&KeyInputs { image_digest: "sha256:other", ..base.clone() })),
            ("checkout", evidence_key(&KeyInputs { checkout: "sha256:edited", ..base.clone() })),
            ("kind", evidence_key(&KeyInputs { kind: RunKind::List, ..base.clone() })),
            ("command", evidence_key(&KeyInputs { command: "pytest -k test_a", ..base.clone() })),
            ("copy-out", evidence_key(&KeyInputs { copy_out: "/tmp/imagegate-list", ..base.clone() })),
        ];
        let mut with = |name: &'static str, edit: &dyn Fn(&mut SuiteConfig)| {
            let mut suite = suite.clone();
            edit(&mut suite);
            changed.push((name, evidence_key(&KeyInputs { suite: &suite, ..base.clone() })));
        };
        with("env value", &|suite| {
            suite.env.insert("TOKEN".into(), "two".into());
        });
        with("env name", &|suite| {
            let value = suite.env.remove("TOKEN").unwrap();
            suite.env.insert("OTHER".into(), value);
        });
        with("added env", &|suite| {
            suite.env.insert("MORE".into(), String::new());
        });
        with("workdir", &|suite| suite.workdir = "/work".into());
        with("network", &|suite| suite.network = "bridge".into());
        with("timeout", &|suite| suite.timeout = std::time::Duration::from_secs(5));
        with("memory limit", &|suite| suite.limits.memory += 1);
        with("read-only", &|suite| suite.limits.read_only = !suite.limits.read_only);
        with("results limits", &|suite| suite.results_limits.max_files += 1);
        let mut seen = BTreeSet::from([key.clone()]);
        for (name, other) in &changed {
            assert!(seen.insert(other.clone()), "changing the {name} did not change the key");
        }
    }

    #[test]
    fn settings_that_shape_no_run_leave_the_key_alone() {
        let suite = suite();
        let mut other = suite.clone();
        // Reruns, attempts and the list command change other runs' commands, not this one.
        other.attempts = 7;
        other.rerun = Some("pytest {tests}".into());
        assert_eq!(evidence_key(&inputs(&suite)), evidence_key(&inputs(&other)));
    }

    #[test]
    fn environment_values_are_not_in_the_key_in_clear() {
        let mut suite = suite();
        suite.env.insert("TOKEN".into(), "s3cr3t-value".into());
        assert!(!evidence_key(&inputs(&suite)).contains("s3cr3t"));
    }

    #[test]
    fn only_first_runs_that_are_complete_are_stored_and_served() {
        assert!(reusable_purpose("suite") && reusable_purpose("list"));
        assert!(!reusable_purpose("rerun") && !reusable_purpose("confirm") && !reusable_purpose("experiment"));
        let summary = RunSummary {
            image: "candidate".into(),
            purpose: "suite".into(),
            exit_code: Some(1),
            timed_out: false,
            duration_seconds: 1.0,
            tests: 1,
            log: "log".into(),
            output_tail: None,
            skipped: Vec::new(),
            reused: None,
            experiment: None,
        };
        let mut results = ResultSet::new();
        results.record(TestId::new("t"), imagegate_results::Attempt::new(imagegate_results::Outcome::Fail));
        assert!(storable(&summary, &results), "a complete run with a failure is evidence");
        assert!(!storable(&RunSummary { timed_out: true, ..summary.clone() }, &results));
        assert!(!storable(&RunSummary { tests: 0, ..summary.clone() }, &ResultSet::new()));
        assert!(!storable(&RunSummary { skipped: vec!["big.xml".into()], ..summary.clone() }, &results));
        let mut incomplete = results.clone();
        incomplete.mark_incomplete("suite", "killed");
        assert!(!storable(&summary, &incomplete));
    }
}
