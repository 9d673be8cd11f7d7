//! An in-memory container engine for the gate's tests.
//!
//! Images, tags and containers live in maps; "running" a container asks a suite model, supplied
//! by the test, what the suite would print and which files it would write, given the image's
//! build args and the files copied into the container. It lives in this test binary only, so the
//! product can never use it.
//!
//! What it deliberately does not do: it has no registry (pull and push fail), keeps no image
//! layers (`save_image` fails, so the gate's package diff is exercised only as the warning it
//! must degrade to), and runs nothing (a suite's duration is whatever the model says, compared
//! with the timeout as a real engine would enforce it).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use imagegate_config::EngineKind;
use imagegate_engine::{
    BuildRequest, ContainerSpec, Containment, Engine, EngineError, ImageInfo, RegistryAccess, RunOutcome,
};
use sha2::{Digest as _, Sha256};

/// An image in the engine.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<hex>`.
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub build_args: BTreeMap<String, String>,
    /// When it was made, in engine ticks: orders `images_with_label`, newest first.
    created: u64,
}

/// What a container is asked to run, as the suite model sees it.
pub struct Invocation<'a> {
    pub image: &'a Image,
    /// The container's command (`/bin/sh -c` in a real engine).
    pub command: &'a str,
    pub workdir: &'a str,
    /// The container's files by absolute path: the checkout copied in, and anything else put
    /// there before the start.
    pub files: &'a BTreeMap<String, Vec<u8>>,
}

impl Invocation<'_> {
    /// A file of the checkout copied into the workdir, as text.
    pub fn checkout_file(&self, relative: &str) -> Option<String> {
        let path = format!("{}/{relative}", self.workdir.trim_end_matches('/'));
        self.files.get(&path).map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    }
}

/// What a run did, as the suite model says.
#[derive(Debug, Default)]
pub struct Execution {
    /// Files written, by absolute path. A file whose folder does not exist is not written (the
    /// engine adds the error to the output), as most reporters do not make their folder.
    pub writes: Vec<(String, String)>,
    /// Folders removed with everything in them, before the writes.
    pub removes: Vec<String>,
    /// What the command printed.
    pub output: String,
    pub exit_code: i32,
    /// How long the command would take; beyond the timeout it is killed.
    pub duration: Duration,
}

/// The suite: given what a container runs, says what it does.
pub type SuiteModel = dyn Fn(&Invocation<'_>) -> Execution + Send + Sync;

struct Container {
    image_id: String,
    spec: ContainerSpec,
    files: BTreeMap<String, Vec<u8>>,
    folders: BTreeSet<String>,
}

/// A container's start or end, as [`MemoryEngine::events`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent {
    /// `true` when the container started, `false` when it ended.
    pub started: bool,
    pub container: String,
    pub image_id: String,
    pub command: String,
}

/// The copies into and out of one container, as [`MemoryEngine::copies`] lists them: each is
/// one `cp` of a real engine, which podman makes one at a time across containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCopies {
    pub container: String,
    pub image_id: String,
    /// The container's command.
    pub command: String,
    /// How many copies in and out.
    pub copies: usize,
}

/// Runs of selected tests wait at their start until `count` of them have started in all, for at
/// most `wait` each (see [`MemoryEngine::gather`]).
struct Gather {
    count: usize,
    wait: Duration,
}

/// Whether `command` runs selected tests (`run-tests ID…`), as reruns, targeted runs and
/// confirmations do.
fn runs_selected_tests(command: &str) -> bool {
    command.starts_with("run-tests ")
}

/// A tag move another actor makes once this many container runs have finished: a concurrent
/// promotion landing while a gate's suites run.
struct PendingMove {
    after_runs: usize,
    reference: String,
    image_id: String,
}

#[derive(Default)]
struct State {
    images: BTreeMap<String, Image>,
    tags: BTreeMap<String, String>,
    containers: BTreeMap<String, Container>,
    ticks: u64,
    no_cache_builds: u64,
    builds: usize,
    /// `(image id, command)` of every container started, in order.
    runs: Vec<(String, String)>,
    /// The containment and log limit of every container started, in order.
    contained: Vec<(Containment, u64)>,
    pending: Option<PendingMove>,
    /// Every container start and end, in order.
    events: Vec<RunEvent>,
    gather: Option<Gather>,
    /// How many runs of selected tests have started.
    selected_started: usize,
    /// Every container made, in order, with the copies into and out of it.
    copies: Vec<ContainerCopies>,
}

impl State {
    fn resolve(&self, reference: &str) -> Option<&Image> {
        self.images.get(reference).or_else(|| self.tags.get(reference).and_then(|id| self.images.get(id)))
    }

    fn tick(&mut self) -> u64 {
        self.ticks += 1;
        self.ticks
    }
}

pub struct MemoryEngine {
    state: Mutex<State>,
    /// Wakes the runs waiting in [`MemoryEngine::gather`] when another one starts.
    started: Condvar,
    suite: Box<SuiteModel>,
}

fn refused(operation: &str, message: impl Into<String>) -> EngineError {
    EngineError::Command {
        program: "memory".to_owned(),
        operation: operation.to_owned(),
        status: "1".to_owned(),
        stderr: message.into(),
    }
}

fn io_error(operation: &str, path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Io { operation: operation.to_owned(), path: path.to_path_buf(), source }
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `folder` and every folder above it.
fn with_parents(folder: &str) -> Vec<String> {
    let mut folders = Vec::new();
    let mut current = folder.trim_end_matches('/').to_owned();
    while !current.is_empty() {
        folders.push(current.clone());
        current = match current.rfind('/') {
            Some(index) => current[..index].to_owned(),
            None => String::new(),
        };
    }
    folders
}

fn is_under(path: &str, folder: &str) -> bool {
    let folder = folder.trim_end_matches('/');
    path.strip_prefix(folder).is_some_and(|rest| rest.starts_with('/'))
}

impl MemoryEngine {
    pub fn new(suite: impl Fn(&Invocation<'_>) -> Execution + Send + Sync + 'static) -> MemoryEngine {
        MemoryEngine { state: Mutex::new(State::default()), started: Condvar::new(), suite: Box::new(suite) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already; its state is still
        // good enough to read.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The image id `reference` names now.
    pub fn image_id(&self, reference: &str) -> Option<String> {
        self.state().resolve(reference).map(|image| image.id.clone())
    }

    /// Adds an image that imagegate did not build (pulled by hand, say) and returns its id.
    pub fn add_image(&self, name: &str) -> String {
        let mut state = self.state();
        let created = state.tick();
        let id = format!("sha256:{}", sha256_hex(&["added", name]));
        let image = Image { id: id.clone(), labels: BTreeMap::new(), build_args: BTreeMap::new(), created };
        state.images.insert(id.clone(), image);
        state.tags.insert(name.to_owned(), id.clone());
        id
    }

    /// Once `after_runs` containers have run in all, `reference` is pointed at `image_id`, as
    /// another promoter would do while this gate's suites run.
    pub fn move_tag_after_runs(&self, after_runs: usize, reference: &str, image_id: &str) {
        self.state().pending =
            Some(PendingMove { after_runs, reference: reference.to_owned(), image_id: image_id.to_owned() });
    }

    /// From now on, each run of selected tests (`run-tests ID…`: reruns, targeted runs,
    /// confirmations) waits at its start until `count` of them have started in all, or for
    /// `wait`. Runs the gate starts side by side then overlap in [`MemoryEngine::events`] (every
    /// one starts before any ends), as they would in a real engine where each takes a while;
    /// runs it starts one after the other each wait in vain, and do not.
    pub fn gather(&self, count: usize, wait: Duration) {
        let mut state = self.state();
        state.gather = Some(Gather { count, wait });
        state.selected_started = 0;
    }

    /// Every container start and end, in order.
    pub fn events(&self) -> Vec<RunEvent> {
        self.state().events.clone()
    }

    /// How many builds ran.
    pub fn builds(&self) -> usize {
        self.state().builds
    }

    /// `(image id, command)` of every container run, in order.
    pub fn runs(&self) -> Vec<(String, String)> {
        self.state().runs.clone()
    }

    /// The containment and log limit of every container run, in order.
    pub fn contained(&self) -> Vec<(Containment, u64)> {
        self.state().contained.clone()
    }

    /// Every container made, in order, with how many copies went into and out of it.
    pub fn copies(&self) -> Vec<ContainerCopies> {
        self.state().copies.clone()
    }

    /// Counts one copy into or out of `container`.
    fn count_copy(&self, container: &str) {
        if let Some(found) = self.state().copies.iter_mut().find(|found| found.container == container) {
            found.copies += 1;
        }
    }

    /// Containers not removed.
    pub fn containers(&self) -> usize {
        self.state().containers.len()
    }

    /// Every tag naming `image_id`.
    pub fn tags_of(&self, image_id: &str) -> Vec<String> {
        self.state().tags.iter().filter(|(_, id)| id.as_str() == image_id).map(|(tag, _)| tag.clone()).collect()
    }

    /// What `copy_into` puts in the container.
    fn put_checkout(
        &self,
        container: &str,
        source: &Path,
        destination: &str,
        exclude: &[PathBuf],
    ) -> Result<(), EngineError> {
        let mut copied = Vec::new();
        let walk = walkdir::WalkDir::new(source)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| !exclude.iter().any(|excluded| entry.path().starts_with(excluded)));
        for entry in walk {
            let entry = entry.map_err(|error| refused("copy into", error.to_string()))?;
            let relative = entry.path().strip_prefix(source).unwrap_or(entry.path());
            let target = Path::new(destination).join(relative).display().to_string();
            if entry.file_type().is_dir() {
                copied.push((target, None));
            } else if entry.file_type().is_file() {
                let bytes = fs::read(entry.path()).map_err(|source| io_error("read", entry.path(), source))?;
                copied.push((target, Some(bytes)));
            }
        }
        self.with_container(container, "copy into", |container| {
            for (path, bytes) in copied {
                match bytes {
                    None => container.folders.extend(with_parents(&path)),
                    Some(bytes) => {
                        if let Some((parent, _)) = path.rsplit_once('/') {
                            container.folders.extend(with_parents(parent));
                        }
                        container.files.insert(path, bytes);
                    }
                }
            }
            Ok(())
        })
    }

    /// What `create_folders` makes in the container.
    fn put_folders(&self, container: &str, folders: &[&str]) -> Result<(), EngineError> {
        self.with_container(container, "create folders", |container| {
            for folder in folders {
                container.folders.extend(with_parents(folder));
            }
            Ok(())
        })
    }

    fn with_container<T>(
        &self,
        container: &str,
        operation: &str,
        work: impl FnOnce(&mut Container) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut state = self.state();
        let Some(found) = state.containers.get_mut(container) else {
            return Err(refused(operation, format!("no such container: {container}")));
        };
        work(found)
    }
}

impl Engine for MemoryEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Docker
    }

    fn program(&self) -> &str {
        "memory"
    }

    /// The id is a hash of what a real engine's image config would hold (the Dockerfile, build
    /// args, target, platform and labels), so an unchanged recipe yields the same image, as a
    /// cached build does; a build without cache yields a new one, as a recipe that fetches "the
    /// newest release" does.
    fn build(&self, request: &BuildRequest) -> Result<String, EngineError> {
        let dockerfile =
            fs::read_to_string(&request.dockerfile).map_err(|source| io_error("read", &request.dockerfile, source))?;
        let mut state = self.state();
        state.builds += 1;
        let refresh = if request.no_cache {
            state.no_cache_builds += 1;
            state.no_cache_builds.to_string()
        } else {
            String::new()
        };
        let args = serde_json::to_string(&request.build_args).unwrap_or_default();
        let labels = serde_json::to_string(&request.labels).unwrap_or_default();
        let target = request.target.clone().unwrap_or_default();
        let platform = request.platform.clone().unwrap_or_default();
        let id = format!("sha256:{}", sha256_hex(&[&dockerfile, &args, &target, &platform, &labels, &refresh]));
        if !state.images.contains_key(&id) {
            let created = state.tick();
            let image = Image {
                id: id.clone(),
                labels: request.labels.clone(),
                build_args: request.build_args.clone(),
                created,
            };
            state.images.insert(id.clone(), image);
        }
        for tag in &request.tags {
            state.tags.insert(tag.clone(), id.clone());
        }
        drop(state);
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&request.log_file)
            .map_err(|source| io_error("open", &request.log_file, source))?;
        writeln!(log, "built {id}").map_err(|source| io_error("write", &request.log_file, source))?;
        Ok(id)
    }

    fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>, EngineError> {
        Ok(self.state().resolve(reference).map(|image| ImageInfo {
            id: image.id.clone(),
            labels: image.labels.clone(),
            created: Some(image.created.to_string()),
        }))
    }

    fn images_with_label(&self, key: &str, value: &str) -> Result<Vec<ImageInfo>, EngineError> {
        let state = self.state();
        let mut found: Vec<&Image> =
            state.images.values().filter(|image| image.labels.get(key).is_some_and(|found| found == value)).collect();
        found.sort_by_key(|image| std::cmp::Reverse(image.created));
        Ok(found
            .into_iter()
            .map(|image| ImageInfo {
                id: image.id.clone(),
                labels: image.labels.clone(),
                created: Some(image.created.to_string()),
            })
            .collect())
    }

    fn pull(&self, reference: &str) -> Result<(), EngineError> {
        Err(refused("pull", format!("the in-memory engine has no registry to pull `{reference}` from")))
    }

    fn pull_from(&self, reference: &str, _access: &RegistryAccess) -> Result<(), EngineError> {
        self.pull(reference)
    }

    fn push(&self, reference: &str, _access: &RegistryAccess) -> Result<(), EngineError> {
        Err(refused("push", format!("the in-memory engine has no registry to push `{reference}` to")))
    }

    fn tag(&self, image_id: &str, reference: &str) -> Result<(), EngineError> {
        let mut state = self.state();
        let Some(id) = state.resolve(image_id).map(|image| image.id.clone()) else {
            return Err(refused("tag", format!("no such image: {image_id}")));
        };
        state.tags.insert(reference.to_owned(), id);
        Ok(())
    }

    fn untag(&self, reference: &str) -> Result<(), EngineError> {
        match self.state().tags.remove(reference) {
            Some(_) => Ok(()),
            None => Err(refused("untag", format!("no such image: {reference}"))),
        }
    }

    fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let mut state = self.state();
        let Some(image_id) = state.resolve(&spec.image).map(|image| image.id.clone()) else {
            return Err(refused("create", format!("no such image: {}", spec.image)));
        };
        let id = format!("memory-{}", state.tick());
        state.copies.push(ContainerCopies {
            container: id.clone(),
            image_id: image_id.clone(),
            command: spec.command.clone(),
            copies: 0,
        });
        let container =
            Container { image_id, spec: spec.clone(), files: BTreeMap::new(), folders: BTreeSet::from(["/".into()]) };
        state.containers.insert(id.clone(), container);
        Ok(id)
    }

    fn copy_into(
        &self,
        container: &str,
        source: &Path,
        destination: &str,
        exclude: &[PathBuf],
    ) -> Result<(), EngineError> {
        self.count_copy(container);
        self.put_checkout(container, source, destination, exclude)
    }

    fn create_folders(&self, container: &str, folders: &[&str]) -> Result<(), EngineError> {
        self.count_copy(container);
        self.put_folders(container, folders)
    }

    fn copy_into_with_folders(
        &self,
        container: &str,
        source: &Path,
        destination: &str,
        exclude: &[PathBuf],
        folders: &[&str],
    ) -> Result<(), EngineError> {
        self.count_copy(container);
        self.put_checkout(container, source, destination, exclude)?;
        self.put_folders(container, folders)
    }

    fn start_and_wait(
        &self,
        container: &str,
        timeout: Duration,
        log_file: &Path,
        log_limit: u64,
    ) -> Result<RunOutcome, EngineError> {
        let mut state = self.state();
        let Some(found) = state.containers.get(container) else {
            return Err(refused("start", format!("no such container: {container}")));
        };
        let event = RunEvent {
            started: true,
            container: container.to_owned(),
            image_id: found.image_id.clone(),
            command: found.spec.command.clone(),
        };
        let selected = runs_selected_tests(&event.command);
        state.events.push(event.clone());
        if selected {
            state.selected_started += 1;
            self.started.notify_all();
            if let Some(Gather { count, wait }) = state.gather {
                let deadline = Instant::now() + wait;
                while state.selected_started < count {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    state = self.started.wait_timeout(state, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
                }
            }
        }
        let state = &mut *state;
        state.events.push(RunEvent { started: false, ..event });
        let Some(found) = state.containers.get_mut(container) else {
            return Err(refused("start", format!("no such container: {container}")));
        };
        let Some(image) = state.images.get(&found.image_id) else {
            return Err(refused("start", format!("no such image: {}", found.image_id)));
        };
        let invocation =
            Invocation { image, command: &found.spec.command, workdir: &found.spec.workdir, files: &found.files };
        let mut execution = (self.suite)(&invocation);
        // Killed at the timeout: what it wrote by then stays, and the engine reports no status.
        // Keeping whole files here is the harder case for the gate, which must not trust them.
        let timed_out = execution.duration > timeout;
        for folder in &execution.removes {
            found.files.retain(|path, _| !is_under(path, folder));
            found.folders.retain(|path| path != folder.trim_end_matches('/') && !is_under(path, folder));
        }
        for (path, text) in &execution.writes {
            let parent = path.rsplit_once('/').map_or("/", |(parent, _)| if parent.is_empty() { "/" } else { parent });
            if found.folders.contains(parent) {
                found.files.insert(path.clone(), text.clone().into_bytes());
            } else {
                execution.output.push_str(&format!("FileNotFoundError: No such file or directory: '{path}'\n"));
            }
        }
        state.runs.push((found.image_id.clone(), found.spec.command.clone()));
        state.contained.push((found.spec.containment.clone(), log_limit));
        if let Some(pending) = state.pending.take_if(|pending| pending.after_runs <= state.runs.len()) {
            state.tags.insert(pending.reference, pending.image_id);
        }
        fs::write(log_file, &execution.output).map_err(|source| io_error("write", log_file, source))?;
        Ok(RunOutcome {
            exit_code: (!timed_out).then_some(execution.exit_code),
            timed_out,
            elapsed: execution.duration.min(timeout),
        })
    }

    fn copy_out(&self, container: &str, source: &str, destination: &Path) -> Result<bool, EngineError> {
        self.count_copy(container);
        let (exists, files) = self.with_container(container, "copy out", |container| {
            let source = source.trim_end_matches('/');
            let files: Vec<(String, Vec<u8>)> = container
                .files
                .iter()
                .filter_map(|(path, bytes)| {
                    path.strip_prefix(source)
                        .and_then(|rest| rest.strip_prefix('/'))
                        .map(|relative| (relative.to_owned(), bytes.clone()))
                })
                .collect();
            Ok((container.folders.contains(source), files))
        })?;
        if !exists {
            return Ok(false);
        }
        fs::create_dir_all(destination).map_err(|source| io_error("create", destination, source))?;
        for (relative, bytes) in files {
            let path = destination.join(relative);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|source| io_error("create", parent, source))?;
            }
            fs::write(&path, bytes).map_err(|source| io_error("write", &path, source))?;
        }
        Ok(true)
    }

    fn remove_container(&self, container: &str) -> Result<(), EngineError> {
        match self.state().containers.remove(container) {
            Some(_) => Ok(()),
            None => Err(refused("remove", format!("no such container: {container}"))),
        }
    }

    fn save_image(
        &self,
        reference: &str,
        _consume: &mut dyn FnMut(&mut dyn std::io::Read) -> Result<(), String>,
    ) -> Result<(), EngineError> {
        Err(refused("save", format!("the in-memory engine keeps no layers of `{reference}`")))
    }

    /// Reads the archive's manifest and config (layers are not kept): the image gets the
    /// config's labels and the manifest's names, and the config's digest as its id, as a real
    /// engine gives it.
    fn load_image(&self, archive: &Path) -> Result<String, EngineError> {
        let file = fs::File::open(archive).map_err(|source| io_error("open", archive, source))?;
        let mut members = BTreeMap::new();
        let mut reader = tar::Archive::new(file);
        for entry in reader.entries().map_err(|source| io_error("read", archive, source))? {
            let mut entry = entry.map_err(|source| io_error("read", archive, source))?;
            let name = entry.path().map_err(|source| io_error("read", archive, source))?.to_string_lossy().into_owned();
            if name.ends_with(".json") {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut bytes)
                    .map_err(|source| io_error("read", archive, source))?;
                members.insert(name, bytes);
            }
        }
        let manifest: serde_json::Value = members
            .get("manifest.json")
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .ok_or_else(|| refused("load", "the archive has no manifest.json".to_owned()))?;
        let config_name = manifest[0]["Config"].as_str().unwrap_or_default().to_owned();
        let config = members.get(&config_name).ok_or_else(|| refused("load", format!("no config {config_name}")))?;
        let id = format!("sha256:{}", hex::encode(Sha256::digest(config)));
        let parsed: serde_json::Value =
            serde_json::from_slice(config).map_err(|error| refused("load", error.to_string()))?;
        let labels = parsed["config"]["Labels"]
            .as_object()
            .map(|labels| {
                labels.iter().map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned())).collect()
            })
            .unwrap_or_default();
        let mut state = self.state();
        let created = state.tick();
        state.images.insert(id.clone(), Image { id: id.clone(), labels, build_args: BTreeMap::new(), created });
        for name in manifest[0]["RepoTags"].as_array().into_iter().flatten().filter_map(|name| name.as_str()) {
            state.tags.insert(name.to_owned(), id.clone());
        }
        Ok(id)
    }

    fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        let mut state = self.state();
        let id = state.resolve(reference).map(|image| image.id.clone());
        if let Some(id) = id {
            state.tags.retain(|_, target| *target != id);
            state.images.remove(&id);
        }
        Ok(())
    }

    fn containers_with_label(&self, key: &str, value: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .state()
            .containers
            .iter()
            .filter(|(_, container)| container.spec.labels.get(key).is_some_and(|found| found == value))
            .map(|(id, _)| id.clone())
            .collect())
    }
}
