//! Opening what commands work with: the engine and the store, for resolved settings.

use std::sync::Arc;
use std::thread::JoinHandle;

use imagegate_engine::{Engine, RegistryAccess};
use imagegate_gate::{Backend, LocalBackend, LockfileBackend, RegistryBackend};
use imagegate_registry::RegistryStore;
use imagegate_store::Store;

use crate::error::CliError;
use crate::progress::StderrProgress;
use crate::settings::Settings;

pub struct Runtime {
    pub settings: Settings,
    pub engine: Arc<dyn Engine>,
    pub store: Store,
    pub progress: StderrProgress,
    /// Where candidates, stable pointers and records live: chosen here, once.
    pub backend: Box<dyn Backend>,
    /// What images hold in the folders runs copy out, asked once per image in this process.
    pub image_folders: imagegate_gate::ImageFolders,
    /// Holds the CA certificate for podman's `--cert-dir` while the runtime lives.
    _cert_dir: Option<tempfile::TempDir>,
    /// The removal of what killed processes left behind, beside the command's own work.
    leftovers: Option<JoinHandle<()>>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // A command ends only once its own containers and the leftovers it found are gone.
        imagegate_engine::finish_removals();
        if let Some(leftovers) = self.leftovers.take() {
            let _ = leftovers.join();
        }
    }
}

impl Runtime {
    pub fn open(settings: Settings) -> Result<Runtime, CliError> {
        Runtime::open_as(settings, false)
    }

    /// Opens for a run that may only read a shared store (`read_only`: code from a fork).
    pub fn open_as(settings: Settings, read_only: bool) -> Result<Runtime, CliError> {
        let detected = imagegate_engine::detect_explained(settings.engine)?;
        let engine: Arc<dyn Engine> = Arc::from(detected.engine);
        let store = Store::open(&settings.state_dir)?;
        if settings.engine.is_none() && settings.config.store.registry.is_none() {
            refuse_engine_switch(&settings, &store, engine.kind(), &detected.passed_over)?;
        }
        let progress = StderrProgress::new(settings.quiet);
        let leftovers = remove_leftovers(&engine, settings.quiet);
        let (backend, cert_dir): (Box<dyn Backend>, _) = match &settings.config.store.registry {
            Some(config) => {
                let (registry, access, cert_dir) = open_registry(config)?;
                (Box::new(RegistryBackend::new(registry, access, read_only)), cert_dir)
            }
            None => (Box::new(LocalBackend), None),
        };
        // A lockfile keeps the stable pointers in git; candidates and records stay where they are.
        let backend: Box<dyn Backend> = match &settings.config.store.lockfile {
            Some(config) => {
                let lockfile = imagegate_lockfile::GitLockfile::open(&settings.config.root, &config.path)
                    .map_err(imagegate_gate::GateError::from)?
                    .remote(config.remote.clone())
                    .branch(config.branch.clone());
                Box::new(LockfileBackend::new(backend, lockfile, read_only))
            }
            None => backend,
        };
        Ok(Runtime {
            settings,
            engine,
            store,
            progress,
            backend,
            image_folders: imagegate_gate::ImageFolders::default(),
            _cert_dir: cert_dir,
            leftovers,
        })
    }

    /// The project under test, as the flags name it, else as its git checkout says.
    /// On a CI provider, its links to the commit and the run go with it, for the reports.
    pub fn project(&self, args: &crate::cli::ProjectArgs) -> imagegate_gate::Project {
        let mut project = imagegate_gate::detect_project(
            &self.settings.config.root,
            args.commit.clone(),
            args.branch.clone(),
            &self.settings.state_dir,
        );
        project.links = imagegate_ci::run_links(&imagegate_ci::process_environment(), &project.commit);
        project
    }

    /// Resolves the settings, checks the images named on the command line (all when none are),
    /// and opens the engine and the store. Returns the images' names.
    pub fn open_for_images(
        global: &crate::cli::GlobalArgs,
        names: &[String],
    ) -> Result<(Runtime, Vec<String>), CliError> {
        Runtime::open_for_images_as(global, names, false)
    }

    /// [`Runtime::open_for_images`] for a run that may only read a shared store.
    pub fn open_for_images_as(
        global: &crate::cli::GlobalArgs,
        names: &[String],
        read_only: bool,
    ) -> Result<(Runtime, Vec<String>), CliError> {
        let settings = crate::settings::resolve(global)?;
        let images =
            crate::settings::select_images(&settings.config, names)?.iter().map(|image| image.name.clone()).collect();
        Ok((Runtime::open_as(settings, read_only)?, images))
    }

    pub fn context(&self) -> imagegate_gate::Context<'_> {
        imagegate_gate::Context {
            config: &self.settings.config,
            engine: self.engine.as_ref(),
            store: &self.store,
            progress: &self.progress,
            state_dir: self.settings.state_dir.clone(),
            backend: self.backend.as_ref(),
            fresh: false,
            image_folders: &self.image_folders,
        }
    }
}

/// Removes what imagegate processes that were killed (SIGKILL, a lost machine) left behind:
/// their test containers in this engine at once, then, on a thread of its own beside the
/// command's work, their experiment images and temporary files (listing images is the slowest
/// engine call of a start). A failure is only a warning: the command's own work does not depend
/// on it, and the next start tries again.
fn remove_leftovers(engine: &Arc<dyn Engine>, quiet: bool) -> Option<JoinHandle<()>> {
    use imagegate_gate::Progress;
    let warn = |progress: &StderrProgress, error: imagegate_engine::EngineError| {
        progress.note(
            "imagegate",
            &format!(
                "warning: could not look for what killed imagegate processes left behind: {}",
                error.to_string().lines().next().unwrap_or_default()
            ),
        );
    };
    let containers = match imagegate_engine::remove_leftover_containers(engine.as_ref()) {
        Ok(containers) => containers,
        Err(error) => {
            warn(&StderrProgress::new(quiet), error);
            return None;
        }
    };
    let engine = Arc::clone(engine);
    let spawned = std::thread::Builder::new().name("leftovers".into()).spawn(move || {
        let progress = StderrProgress::new(quiet);
        let (images, files) = imagegate_engine::remove_leftover_images_and_files(engine.as_ref());
        let images = images.unwrap_or_else(|error| {
            warn(&progress, error);
            Vec::new()
        });
        if !containers.is_empty() || !images.is_empty() || !files.is_empty() {
            let mut parts = vec![imagegate_contract::plural(containers.len(), "test container")];
            if !images.is_empty() {
                parts.push(imagegate_contract::plural(images.len(), "experiment image"));
            }
            parts.push(imagegate_contract::plural(files.len(), "temporary file"));
            progress.note(
                "imagegate",
                &format!("removed {} left by imagegate processes that no longer run", join_and(&parts)),
            );
        }
    });
    spawned.ok()
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(parts: &[String]) -> String {
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// With no engine configured, the one that answered must be the one the embedded store's
/// newest verdicts were made in: the stable tags and candidates of the embedded store live in
/// that engine, and gating in another would bootstrap from nothing and report a pass.
fn refuse_engine_switch(
    settings: &Settings,
    store: &Store,
    found: imagegate_config::EngineKind,
    passed_over: &[(imagegate_config::EngineKind, String)],
) -> Result<(), CliError> {
    for image in settings.config.images.keys() {
        let Some(previous) = store.latest_local_engine(image)? else { continue };
        if previous == found.as_str() {
            continue;
        }
        let why = passed_over
            .iter()
            .find(|(kind, _)| kind.as_str() == previous)
            .map(|(_, error)| format!("{previous} does not answer ({error})"))
            .unwrap_or_else(|| format!("{found} answered first"));
        return Err(CliError::Infrastructure {
            message: format!(
                "no engine is configured and {why}; the last verdict on image `{image}` was made in {previous}, where its stable tag and candidates live"
            ),
            hint: format!(
                "start {previous} again, or choose an engine: `--engine {found}` (or `[engine] kind = \"{found}\"` in imagegate.toml) to gate in {found} from its own stable tags"
            ),
        });
    }
    Ok(())
}

/// Opens the registry store with the credentials users already configure (environment,
/// docker and podman auth files, credential helpers), and the settings that hand the same
/// access to the engine for pushes and pulls.
fn open_registry(
    config: &imagegate_config::RegistryStoreConfig,
) -> Result<(RegistryStore, RegistryAccess, Option<tempfile::TempDir>), CliError> {
    use imagegate_registry::auth;
    let sources = auth::CredentialSources::from_environment();
    let resolved = auth::resolve_in_namespace(&config.host, &config.namespace, &sources)?;
    let mut connection = imagegate_registry::Connection::new(&config.host);
    connection.plain_http = config.plain_http();
    connection.ca_file = config.ca_file.clone();
    let location = imagegate_registry::StoreLocation {
        registry: config.host.clone(),
        namespace: config.namespace.clone(),
        candidate_namespace: config.candidates.clone(),
    };
    let cert_dir = match &config.ca_file {
        Some(ca_file) => {
            let dir = tempfile::Builder::new().prefix("imagegate-certs-").tempdir().map_err(|source| CliError::Io {
                operation: "create a folder for the registry's CA certificate",
                path: std::env::temp_dir(),
                source,
            })?;
            std::fs::copy(ca_file, dir.path().join("ca.crt")).map_err(|source| CliError::Io {
                operation: "copy the registry's CA certificate",
                path: ca_file.clone(),
                source,
            })?;
            Some(dir)
        }
        None => None,
    };
    let access = RegistryAccess {
        auth_json: auth::engine_auth_json(&config.host, &resolved.credentials),
        tls_verify: !config.plain_http(),
        cert_dir: cert_dir.as_ref().map(|dir| dir.path().to_path_buf()),
    };
    let mut store = RegistryStore::open(location, connection, resolved.credentials)?;
    // How long a lease outlives a promoter that was killed holding it (default two minutes):
    // shorter where clocks agree closely and promotions are quick, such as tests.
    if let Some(text) = std::env::var_os(LEASE_LIFETIME_VARIABLE) {
        let text = text.to_string_lossy();
        let lifetime = humantime::parse_duration(text.trim())
            .ok()
            .filter(|lifetime| *lifetime >= std::time::Duration::from_secs(2))
            .ok_or_else(|| {
                CliError::usage(
                    format!("{LEASE_LIFETIME_VARIABLE} is `{text}`, not a duration of 2 s or more"),
                    format!("set it like `{LEASE_LIFETIME_VARIABLE}=90s`, or unset it for the default of 2m"),
                )
            })?;
        store.lease_timing.lifetime = lifetime;
    }
    Ok((store, access, cert_dir))
}

/// The environment variable that sets the registry lease's lifetime.
const LEASE_LIFETIME_VARIABLE: &str = "IMAGEGATE_LEASE_LIFETIME";

/// Prints a JSON document on one line of stdout.
pub fn print_json<T: serde::Serialize>(document: &T) {
    match serde_json::to_string(document) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("error: failed to write JSON: {error}"),
    }
}
