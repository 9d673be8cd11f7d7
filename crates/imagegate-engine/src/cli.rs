//! What docker and podman share: running their CLI and reading its answers.
//!
//! Both clients accept the same verbs and flags for everything imagegate does; the backends
//! differ only in how they report image ids and missing objects, handled by [`Dialect`].

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use crate::transfer;
use crate::{BuildRequest, CPU_PERIOD_MICROS, ContainerSpec, Containment, EngineError, ImageInfo, RunOutcome};

/// Differences between the docker and podman clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Docker,
    Podman,
}

/// A container engine's command-line client.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) program: String,
    pub(crate) dialect: Dialect,
}

/// A temporary folder (mode 0700) holding `config.json` (mode 0600) with `body`.
fn private_auth_dir(body: &str) -> Result<tempfile::TempDir, EngineError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io_error = |path: &Path, source| EngineError::Io {
        operation: "write the temporary registry auth file".to_owned(),
        path: path.to_path_buf(),
        source,
    };
    // Named by its maker, so that the next imagegate removes it when this one was killed.
    let prefix = format!("imagegate-auth-{}-", crate::owner::Owner::current().file_tag());
    let dir = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|source| io_error(&std::env::temp_dir(), source))?;
    let path = dir.path().join("config.json");
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| io_error(&path, source))?;
    file.write_all(body.as_bytes()).map_err(|source| io_error(&path, source))?;
    Ok(dir)
}

static CONTAINER_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Client {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.stdin(Stdio::null());
        // Own process group: a Ctrl-C at the terminal reaches imagegate, which removes its
        // containers, instead of racing the client's own signal handling.
        command.process_group(0);
        command
    }

    fn output(&self, args: &[&str]) -> Result<Output, EngineError> {
        let mut command = self.command();
        command.args(args);
        command.output().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })
    }

    fn failure(&self, operation: &str, output: &Output) -> EngineError {
        EngineError::Command {
            program: self.program.clone(),
            operation: operation.to_owned(),
            status: output.status.code().map_or_else(|| "signal".to_owned(), |code| code.to_string()),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }
    }

    /// Runs a command that must succeed and returns its stdout.
    fn run(&self, operation: &str, args: &[&str]) -> Result<String, EngineError> {
        let output = self.output(args)?;
        if !output.status.success() {
            return Err(self.failure(operation, &output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Checks that the engine answers.
    pub(crate) fn ping(&self) -> Result<String, EngineError> {
        let format = match self.dialect {
            Dialect::Docker => "{{.Server.Version}}",
            Dialect::Podman => "{{.Version}}",
        };
        self.run("ask for the engine version", &["version", "--format", format])
            .map(|version| version.trim().to_owned())
    }

    /// The engine's own identity: docker's daemon id, podman's storage root (which also tells
    /// a rootless user's engine from root's). The remote-host variable is added when set.
    pub(crate) fn identity(&self) -> Result<String, EngineError> {
        let (format, remote) = match self.dialect {
            Dialect::Docker => ("{{.ID}}", "DOCKER_HOST"),
            Dialect::Podman => ("{{.Store.GraphRoot}}", "CONTAINER_HOST"),
        };
        let id = self.run("ask for the engine's identity", &["info", "--format", format])?;
        let mut identity = format!("{}:{}", self.program, id.trim());
        if let Some(host) = std::env::var_os(remote) {
            identity.push('@');
            identity.push_str(&host.to_string_lossy());
        }
        Ok(identity)
    }

    pub(crate) fn build(&self, request: &BuildRequest) -> Result<String, EngineError> {
        let id_file = tempfile_path("iid");
        let mut args: Vec<String> = vec!["build".into(), "--file".into(), path_arg(&request.dockerfile)];
        // A failed RUN step leaves its container behind in docker's legacy builder unless told
        // otherwise; every container imagegate causes is removed.
        args.push("--force-rm".into());
        args.push("--iidfile".into());
        args.push(path_arg(&id_file));
        for (key, value) in &request.build_args {
            args.push("--build-arg".into());
            args.push(format!("{key}={value}"));
        }
        for (key, value) in &request.labels {
            args.push("--label".into());
            args.push(format!("{key}={value}"));
        }
        for tag in &request.tags {
            args.push("--tag".into());
            args.push(tag.clone());
        }
        if let Some(target) = &request.target {
            args.push("--target".into());
            args.push(target.clone());
        }
        if let Some(platform) = &request.platform {
            args.push("--platform".into());
            args.push(platform.clone());
        }
        if let Some(network) = &request.network {
            args.push("--network".into());
            args.push(network.clone());
        }
        if request.no_cache {
            args.push("--no-cache".into());
        }
        args.push(path_arg(&request.context));

        let log = OpenOptions::new().create(true).append(true).open(&request.log_file).map_err(|source| {
            EngineError::Io { operation: "open the build log".into(), path: request.log_file.clone(), source }
        })?;
        let log_err = log.try_clone().map_err(|source| EngineError::Io {
            operation: "open the build log".into(),
            path: request.log_file.clone(),
            source,
        })?;
        let mut command = self.command();
        command.args(&args).stdout(log).stderr(log_err);
        let status = command.status().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        let id = fs::read_to_string(&id_file).unwrap_or_default();
        let _ = fs::remove_file(&id_file);
        if !status.success() {
            return Err(EngineError::Command {
                program: self.program.clone(),
                operation: "build the image".into(),
                status: status.code().map_or_else(|| "signal".to_owned(), |code| code.to_string()),
                stderr: build_failure(&fs::read_to_string(&request.log_file).unwrap_or_default(), &request.log_file),
            });
        }
        let id = normalize_id(id.trim());
        if id.is_empty() {
            return Err(EngineError::Output {
                program: self.program.clone(),
                operation: "build".into(),
                message: "the build succeeded but wrote no image id".into(),
            });
        }
        Ok(id)
    }

    pub(crate) fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>, EngineError> {
        let output = self.output(&["image", "inspect", reference])?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
            if stderr.contains("no such") || stderr.contains("not known") || stderr.contains("not found") {
                return Ok(None);
            }
            return Err(self.failure(&format!("inspect image `{reference}`"), &output));
        }
        let parsed: serde_json::Value =
            serde_json::from_slice(&output.stdout).map_err(|error| EngineError::Output {
                program: self.program.clone(),
                operation: "image inspect".into(),
                message: error.to_string(),
            })?;
        let Some(first) = parsed.as_array().and_then(|items| items.first()) else {
            return Ok(None);
        };
        Ok(Some(image_info(first)))
    }

    /// [`Client::run`] for a listing of images, retried (twice, briefly) when podman reports an
    /// image "not known": podman reads every image to apply a filter, and fails the whole
    /// listing when another process removes one of them meanwhile.
    fn list_images(&self, args: &[&str]) -> Result<String, EngineError> {
        const ATTEMPTS: u32 = 3;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let output = self.output(args)?;
            if output.status.success() {
                return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
            }
            let vanished =
                self.dialect == Dialect::Podman && String::from_utf8_lossy(&output.stderr).contains("image not known");
            if !vanished || attempt == ATTEMPTS {
                return Err(self.failure("list images", &output));
            }
            std::thread::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)));
        }
    }

    pub(crate) fn images_with_label(&self, key: &str, value: &str) -> Result<Vec<ImageInfo>, EngineError> {
        let filter = format!("label={key}={value}");
        let listed = self.list_images(&["images", "--no-trunc", "--quiet", "--filter", &filter])?;
        let mut ids: Vec<String> =
            listed.lines().map(|line| normalize_id(line.trim())).filter(|id| !id.is_empty()).collect();
        ids.dedup();
        let mut images = Vec::new();
        for id in ids {
            if let Some(info) = self.inspect_image(&id)?
                && !images.iter().any(|known: &ImageInfo| known.id == info.id)
            {
                images.push(info);
            }
        }
        images.sort_by(|left, right| right.created.cmp(&left.created));
        Ok(images)
    }

    pub(crate) fn pull(&self, reference: &str) -> Result<(), EngineError> {
        let operation = format!("pull `{reference}`");
        match self.dialect {
            Dialect::Docker => self.run(&operation, &["pull", "--quiet", reference]).map(|_| ()),
            Dialect::Podman => self.run(&operation, &["pull", "--quiet", reference]).map(|_| ()),
        }
    }

    /// `push` or `pull` of `reference` against a registry imagegate stores images in. The
    /// credentials go in a temporary auth file readable only by this user, removed when the
    /// client is done: never on the command line, where `ps` would show them.
    pub(crate) fn transfer_with(
        &self,
        reference: &str,
        access: &crate::RegistryAccess,
        verb: &str,
    ) -> Result<(), EngineError> {
        let operation = format!("{verb} `{reference}`");
        let mut args: Vec<String> = Vec::new();
        let auth_dir = match &access.auth_json {
            Some(body) => Some(private_auth_dir(body)?),
            None => None,
        };
        match self.dialect {
            Dialect::Docker => {
                if let Some(dir) = &auth_dir {
                    args.extend(["--config".to_owned(), dir.path().display().to_string()]);
                }
                args.extend([verb.to_owned(), "--quiet".to_owned(), reference.to_owned()]);
            }
            Dialect::Podman => {
                args.extend([verb.to_owned(), "--quiet".to_owned()]);
                if let Some(dir) = &auth_dir {
                    args.push(format!("--authfile={}", dir.path().join("config.json").display()));
                }
                if !access.tls_verify {
                    args.push("--tls-verify=false".to_owned());
                }
                if let Some(cert_dir) = &access.cert_dir {
                    args.push(format!("--cert-dir={}", cert_dir.display()));
                }
                args.push(reference.to_owned());
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&operation, &args).map(|_| ())
    }

    pub(crate) fn tag(&self, image_id: &str, reference: &str) -> Result<(), EngineError> {
        self.run(&format!("tag {image_id} as `{reference}`"), &["tag", image_id, reference]).map(|_| ())
    }

    pub(crate) fn untag(&self, reference: &str) -> Result<(), EngineError> {
        match self.dialect {
            Dialect::Docker => {
                self.run(&format!("remove tag `{reference}`"), &["rmi", "--no-prune", reference]).map(|_| ())
            }
            Dialect::Podman => {
                self.run(&format!("remove tag `{reference}`"), &["untag", reference, reference]).map(|_| ())
            }
        }
    }

    pub(crate) fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let name =
            format!("imagegate-run-{}-{}", std::process::id(), CONTAINER_COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut args: Vec<String> = vec![
            "create".into(),
            "--name".into(),
            name.clone(),
            "--network".into(),
            spec.network.clone(),
            "--workdir".into(),
            spec.workdir.clone(),
            // The suite command is a shell line; the image's own entrypoint must not wrap it.
            "--entrypoint".into(),
            "/bin/sh".into(),
            // imagegate keeps the output itself, bounded; the engine's own log of it would be a
            // second, unbounded copy on the engine's disk. Attaching does not need it.
            "--log-driver".into(),
            "none".into(),
        ];
        args.extend(containment_args(&spec.containment));
        for (key, value) in &spec.labels {
            args.push("--label".into());
            args.push(format!("{key}={value}"));
        }
        // Its maker: a container whose maker was killed is removed by the next imagegate.
        args.push("--label".into());
        args.push(format!("{}={}", crate::owner::LABEL_OWNER, crate::owner::Owner::current().label()));
        for (key, value) in &spec.env {
            args.push("--env".into());
            args.push(format!("{key}={value}"));
        }
        args.push(spec.image.clone());
        args.push("-c".into());
        args.push(spec.command.clone());
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        // Register by name before the call returns, so an interrupt during `create` still
        // finds it.
        crate::cleanup::register(&self.program, &name);
        match self.run("create the test container", &arg_refs) {
            Ok(_) => {
                if spec.containment.read_only {
                    read_only_containers().insert(name.clone());
                }
                Ok(name)
            }
            Err(error) => {
                crate::cleanup::unregister(&name);
                Err(error)
            }
        }
    }

    pub(crate) fn copy_into(
        &self,
        container: &str,
        source: &Path,
        destination: &str,
        exclude: &[PathBuf],
    ) -> Result<(), EngineError> {
        // docker refuses any copy to `/` of a read-only container, even one whose files all
        // land in a volume: copy into the destination itself, a volume there.
        let (prefix, target) = if is_read_only(container) {
            (PathBuf::from("."), format!("{container}:{destination}"))
        } else {
            (PathBuf::from(destination.trim_start_matches('/')), format!("{container}:/"))
        };
        let mut command = self.command();
        command.args(["cp", "-", &target]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child =
            command.spawn().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        let stdin = child.stdin.take();
        let packed = match stdin {
            Some(stdin) => transfer::write_tree(stdin, source, &prefix, exclude),
            None => Ok(()),
        };
        let output =
            child.wait_with_output().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        if !output.status.success() {
            return Err(self.failure(&format!("copy the checkout into {container}:{destination}"), &output));
        }
        packed
    }

    /// [`Client::copy_into`] and [`Client::create_folders`] in one `cp`: each `cp` costs about
    /// 0.3 s in podman, which runs them one at a time across containers.
    pub(crate) fn copy_into_with_folders(
        &self,
        container: &str,
        source: &Path,
        destination: &str,
        exclude: &[PathBuf],
        folders: &[&str],
    ) -> Result<(), EngineError> {
        // docker refuses any copy to `/` of a read-only container (podman takes it, its files
        // landing in the volumes): there the checkout and each folder go to their own volume.
        if is_read_only(container) && self.dialect == Dialect::Docker {
            self.copy_into(container, source, destination, exclude)?;
            return self.create_folders(container, folders);
        }
        let prefix = PathBuf::from(destination.trim_start_matches('/'));
        let target = format!("{container}:/");
        let mut command = self.command();
        command.args(["cp", "-", &target]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child =
            command.spawn().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        let packed = match child.stdin.take() {
            Some(stdin) => transfer::write_tree_and_folders(stdin, source, &prefix, exclude, folders),
            None => Ok(()),
        };
        let output =
            child.wait_with_output().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        if !output.status.success() {
            return Err(self.failure(
                &format!("copy the checkout into {container}:{destination} and create {}", folders.join(", ")),
                &output,
            ));
        }
        packed
    }

    pub(crate) fn create_folders(&self, container: &str, folders: &[&str]) -> Result<(), EngineError> {
        if is_read_only(container) {
            // The folders are the container's volumes already; make each writable by any user
            // (podman applies the mode of `.`; docker keeps the volume's own).
            for folder in folders {
                self.send_folders(container, folder, &["."])?;
            }
            return Ok(());
        }
        self.send_folders(container, "/", folders)
    }

    /// Unpacks a tar of the `folders` (mode 0777) at `target` in the container.
    fn send_folders(&self, container: &str, target: &str, folders: &[&str]) -> Result<(), EngineError> {
        let target = format!("{container}:{target}");
        let mut command = self.command();
        command.args(["cp", "-", &target]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child =
            command.spawn().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        let packed = match child.stdin.take() {
            Some(stdin) => transfer::write_folders(stdin, folders),
            None => Ok(()),
        };
        let output =
            child.wait_with_output().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        if !output.status.success() {
            return Err(self.failure(&format!("create {} in {container}", folders.join(", ")), &output));
        }
        packed
    }

    pub(crate) fn start_and_wait(
        &self,
        container: &str,
        timeout: Duration,
        log_file: &Path,
        log_limit: u64,
    ) -> Result<RunOutcome, EngineError> {
        let io_error =
            |source| EngineError::Io { operation: "write the suite log".into(), path: log_file.to_path_buf(), source };
        let log = OpenOptions::new().create(true).append(true).open(log_file).map_err(io_error)?;
        // One pipe for stdout and stderr keeps their lines in the order they were printed; a
        // thread drains it into the bounded log so that the client never blocks on it.
        let (reader, writer) = std::io::pipe().map_err(io_error)?;
        let writer_err = writer.try_clone().map_err(io_error)?;
        let started = Instant::now();
        let mut command = self.command();
        command.args(["start", "--attach", container]).stdout(writer).stderr(writer_err);
        let spawned = command.spawn();
        // The parent's ends of the pipe must be closed (they went into `command`) for the
        // reader to see the end of the output.
        drop(command);
        let mut child = spawned.map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        let drain = std::thread::spawn(move || drain_into(reader, crate::bounded_log::BoundedLog::new(log, log_limit)));
        let waited = child
            .wait_timeout(timeout)
            .map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        let timed_out = waited.is_none();
        if timed_out {
            let _ = self.output(&["kill", container]);
            // The attached client ends once the container is gone; don't wait forever for it.
            if child.wait_timeout(Duration::from_secs(30)).ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let elapsed = started.elapsed();
        // The client has exited, so the pipe ends once any process it left behind (none,
        // normally) lets go of it.
        match drain.join() {
            Ok(result) => result.map_err(io_error)?,
            Err(_) => return Err(io_error(std::io::Error::other("the thread writing the suite log panicked"))),
        };
        if timed_out {
            return Ok(RunOutcome { exit_code: None, timed_out, elapsed });
        }
        // The attached client exits with the container's code; 125 and above may be its own
        // (the engine could not start or attach), so then the engine is asked what the
        // container's code was.
        if let Some(code) = waited.and_then(|status| status.code()).filter(|code| (0..125).contains(code)) {
            return Ok(RunOutcome { exit_code: Some(code), timed_out, elapsed });
        }
        let state =
            self.run("read the container's exit code", &["inspect", "--format", "{{.State.ExitCode}}", container])?;
        Ok(RunOutcome { exit_code: state.trim().parse::<i32>().ok(), timed_out, elapsed })
    }

    /// Copies `source` out of `container` into `destination`, through `filter` when given.
    pub(crate) fn copy_out(
        &self,
        container: &str,
        source: &str,
        destination: &Path,
        filter: Option<&crate::ResultsFilter<'_>>,
    ) -> Result<crate::CopiedResults, EngineError> {
        let from = format!("{container}:{source}");
        let mut command = self.command();
        command.args(["cp", &from, "-"]).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child =
            command.spawn().map_err(|error| EngineError::Spawn { program: self.program.clone(), source: error })?;
        let unpacked = match child.stdout.take() {
            Some(mut stdout) => {
                let unpacked =
                    transfer::unpack_results(&mut stdout, source, destination, filter, transfer::MAX_STREAMED_BYTES);
                if unpacked.as_ref().is_ok_and(|copied| copied.stopped_at.is_some()) {
                    // Stopped on purpose: the rest of the stream is not wanted.
                    let _ = child.kill();
                    let _ = child.wait();
                    return unpacked.map(|copied| crate::CopiedResults { found: true, ..copied });
                }
                // The archive ends before the stream does (padding); read it all, or the client
                // dies of SIGPIPE and the copy looks failed.
                let _ = std::io::copy(&mut stdout, &mut std::io::sink());
                unpacked
            }
            None => Ok(crate::CopiedResults::default()),
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status =
            child.wait().map_err(|error| EngineError::Spawn { program: self.program.clone(), source: error })?;
        if !status.success() {
            let lower = stderr.to_lowercase();
            if lower.contains("no such file")
                || lower.contains("could not find")
                || lower.contains("not found")
                || lower.contains("does not exist")
            {
                return Ok(crate::CopiedResults::default());
            }
            return Err(EngineError::Command {
                program: self.program.clone(),
                operation: format!("copy {source} out of the test container"),
                status: status.code().map_or_else(|| "signal".to_owned(), |code| code.to_string()),
                stderr: stderr.trim().to_owned(),
            });
        }
        unpacked.map(|copied| crate::CopiedResults { found: true, ..copied })
    }

    pub(crate) fn save_image(
        &self,
        reference: &str,
        consume: &mut dyn FnMut(&mut dyn Read) -> Result<(), String>,
    ) -> Result<(), EngineError> {
        let mut command = self.command();
        command.args(["save", reference]).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child =
            command.spawn().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        // Drain stderr on its own thread so a chatty client can't block on a full pipe.
        let stderr_reader = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        });
        let consumed = match child.stdout.take() {
            Some(mut stdout) => {
                let consumed = consume(&mut stdout);
                let _ = std::io::copy(&mut stdout, &mut std::io::sink());
                consumed
            }
            None => Ok(()),
        };
        let status = child.wait().map_err(|source| EngineError::Spawn { program: self.program.clone(), source })?;
        let stderr = stderr_reader.and_then(|handle| handle.join().ok()).unwrap_or_default();
        if !status.success() {
            return Err(EngineError::Command {
                program: self.program.clone(),
                operation: format!("save image `{reference}`"),
                status: status.code().map_or_else(|| "signal".to_owned(), |code| code.to_string()),
                stderr: stderr.trim().to_owned(),
            });
        }
        consumed.map_err(|message| EngineError::Output {
            program: self.program.clone(),
            operation: format!("save of `{reference}`"),
            message,
        })
    }

    pub(crate) fn remove_container(&self, container: &str) -> Result<(), EngineError> {
        let result = self.run(&format!("remove container {container}"), &["rm", "--force", "--volumes", container]);
        crate::cleanup::unregister(container);
        read_only_containers().remove(container);
        result.map(|_| ())
    }

    /// Every container that names its maker, with that name (the owner label).
    pub(crate) fn containers_by_owner(&self) -> Result<Vec<(String, String)>, EngineError> {
        let filter = format!("label={}", crate::owner::LABEL_OWNER);
        // docker's `.Labels` is a joined string with a `.Label` accessor; podman's is a map.
        let format = match self.dialect {
            Dialect::Docker => format!("{{{{.ID}}}} {{{{.Label \"{}\"}}}}", crate::owner::LABEL_OWNER),
            Dialect::Podman => format!("{{{{.ID}}}} {{{{index .Labels \"{}\"}}}}", crate::owner::LABEL_OWNER),
        };
        let listed =
            self.run("list containers", &["ps", "--all", "--no-trunc", "--filter", &filter, "--format", &format])?;
        Ok(listed
            .lines()
            .filter_map(|line| line.trim().split_once(' '))
            .map(|(id, owner)| (id.to_owned(), owner.trim().to_owned()))
            .collect())
    }

    /// `load` of an archive file; the image's id is read back through the name the archive
    /// gives it, since docker prints an id only for archives without names and podman prints
    /// names in a form that changed between versions.
    pub(crate) fn load_image(&self, archive: &Path) -> Result<String, EngineError> {
        let path = archive.to_string_lossy();
        let operation = format!("load image archive {path}");
        let printed = self.run(&operation, &["load", "--input", &path])?;
        let mut loaded = Vec::new();
        for line in printed.lines() {
            if let Some(id) = line.trim().strip_prefix("Loaded image ID:") {
                return Ok(normalize_id(id.trim()));
            }
            if let Some((_, names)) = line.trim().split_once(':').filter(|(head, _)| head.starts_with("Loaded image")) {
                loaded.extend(names.split(',').map(|name| name.trim().to_owned()).filter(|name| !name.is_empty()));
            }
        }
        for name in &loaded {
            if let Some(info) = self.inspect_image(name)? {
                return Ok(info.id);
            }
        }
        Err(EngineError::Output {
            program: self.program.clone(),
            operation: "load".into(),
            message: format!("no loaded image found in its output: {}", printed.trim()),
        })
    }

    pub(crate) fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        let output = self.output(&["rmi", "--force", reference])?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
        if stderr.contains("no such") || stderr.contains("not known") || stderr.contains("not found") {
            return Ok(());
        }
        Err(self.failure(&format!("remove image `{reference}`"), &output))
    }

    /// Every image that names its maker, with that name (the owner label).
    pub(crate) fn images_by_owner(&self) -> Result<Vec<(String, String)>, EngineError> {
        let filter = format!("label={}", crate::owner::LABEL_OWNER);
        let listed = self.list_images(&["images", "--no-trunc", "--quiet", "--filter", &filter])?;
        let mut ids: Vec<String> =
            listed.lines().map(|line| normalize_id(line.trim())).filter(|id| !id.is_empty()).collect();
        ids.sort();
        ids.dedup();
        let mut owned = Vec::new();
        for id in ids {
            if let Some(info) = self.inspect_image(&id)?
                && let Some(owner) = info.labels.get(crate::owner::LABEL_OWNER)
            {
                owned.push((info.id, owner.clone()));
            }
        }
        Ok(owned)
    }

    pub(crate) fn containers_with_label(&self, key: &str, value: &str) -> Result<Vec<String>, EngineError> {
        let filter = format!("label={key}={value}");
        let listed = self.run("list containers", &["ps", "--all", "--quiet", "--no-trunc", "--filter", &filter])?;
        Ok(listed.lines().map(|line| line.trim().to_owned()).filter(|line| !line.is_empty()).collect())
    }
}

/// Reads the run's output to its end into `log`.
fn drain_into(mut reader: std::io::PipeReader, mut log: crate::bounded_log::BoundedLog) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => log.push(&buffer[..read])?,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    log.finish()
}

/// The engine flags that contain a test container: see [`Containment`].
fn containment_args(containment: &Containment) -> Vec<String> {
    let mut args = vec![
        format!("--pids-limit={}", containment.pids),
        format!("--memory={}", containment.memory_bytes),
        // Equal to the memory limit: no swap on top of it.
        format!("--memory-swap={}", containment.memory_bytes),
        // The quota rather than `--cpus`, which docker checks against the CPUs its machine has:
        // a config written on a larger machine still works, and means "at most the machine".
        format!("--cpu-period={CPU_PERIOD_MICROS}"),
        format!("--cpu-quota={}", containment.cpu_quota_micros),
        "--cap-drop=ALL".to_owned(),
    ];
    args.extend(containment.capabilities.iter().map(|capability| format!("--cap-add={capability}")));
    if containment.no_new_privileges {
        args.push("--security-opt=no-new-privileges".to_owned());
    }
    if containment.read_only {
        args.push("--read-only".to_owned());
        // Programs expect a writable /tmp; a tmpfs is counted in the memory limit.
        args.push("--tmpfs=/tmp:rw,nosuid,nodev,mode=1777".to_owned());
        for folder in &containment.writable {
            args.push(format!("--volume={folder}"));
        }
    }
    args
}

/// Names of the read-only containers this process created and has not removed: copies into
/// them must target their volumes.
fn read_only_containers() -> std::sync::MutexGuard<'static, std::collections::BTreeSet<String>> {
    static NAMES: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    NAMES.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn is_read_only(container: &str) -> bool {
    read_only_containers().contains(container)
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Engines print image ids as `sha256:<hex>` (docker) or bare hex (podman); imagegate always
/// uses the prefixed form.
pub(crate) fn normalize_id(id: &str) -> String {
    if id.is_empty() || id.starts_with("sha256:") { id.to_owned() } else { format!("sha256:{id}") }
}

fn image_info(value: &serde_json::Value) -> ImageInfo {
    let id = normalize_id(value.get("Id").and_then(|id| id.as_str()).unwrap_or_default());
    let mut labels = BTreeMap::new();
    // docker keeps labels under Config; podman also copies them to the top level.
    for source in [value.get("Config").and_then(|config| config.get("Labels")), value.get("Labels")] {
        if let Some(map) = source.and_then(|labels| labels.as_object()) {
            for (key, label) in map {
                if let Some(label) = label.as_str() {
                    labels.insert(key.clone(), label.to_owned());
                }
            }
        }
    }
    let created = value.get("Created").and_then(|created| created.as_str()).map(str::to_owned);
    ImageInfo { id, labels, created }
}

/// A temporary file named by its maker (`imagegate-PURPOSE-PID-START-N`): the next imagegate
/// removes it when this process was killed before it could.
fn tempfile_path(purpose: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "imagegate-{purpose}-{}-{}",
        crate::owner::Owner::current().file_tag(),
        CONTAINER_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The last `lines` lines of a log file, for error messages.
/// The end of a failed build's log as the error shows it: without docker's legacy-builder
/// deprecation banner (it says nothing about the failure and pushes the cause out of view),
/// and with a hint when the cause is a common one.
pub(crate) fn build_failure(log: &str, log_file: &Path) -> String {
    // The legacy builder colours a RUN step's stderr; the message goes to logs and terminals
    // that show escape sequences as text.
    let log = strip_escape_sequences(log);
    let mut kept: Vec<&str> = Vec::new();
    let mut in_banner = false;
    for line in log.lines() {
        if line.starts_with("DEPRECATED: The legacy builder is deprecated") {
            in_banner = true;
            continue;
        }
        if in_banner {
            // The banner's paragraph: indented lines, then one empty line.
            if line.starts_with(char::is_whitespace) && !line.trim().is_empty() {
                continue;
            }
            in_banner = false;
            if line.trim().is_empty() {
                continue;
            }
        }
        kept.push(line);
    }
    let tail = kept[kept.len().saturating_sub(15)..].join("\n");
    let mut message = format!("{tail}\n  (build log: {})", log_file.display());
    if let Some(hint) = build_hint(&kept) {
        message.push_str("\n  hint: ");
        message.push_str(hint);
    }
    message
}

/// `text` without terminal escape sequences (CSI and OSC), which builders use for colour.
fn strip_escape_sequences(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '\u{1b}' {
            out.push(character);
            continue;
        }
        match characters.next() {
            // CSI: parameters and intermediates, then one final byte in @..~.
            Some('[') => {
                for next in characters.by_ref() {
                    if ('@'..='~').contains(&next) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ST (ESC \\).
            Some(']') => {
                while let Some(next) = characters.next() {
                    if next == '\u{7}' || (next == '\u{1b}' && characters.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A hint for the causes of a failed build that people meet first.
fn build_hint(lines: &[&str]) -> Option<&'static str> {
    let lower: Vec<String> = lines.iter().map(|line| line.to_lowercase()).collect();
    let any = |needles: &[&str]| lower.iter().any(|line| needles.iter().any(|needle| line.contains(needle)));
    if any(&["invalid reference format"]) {
        return Some(
            "a FROM line names an invalid image, most often because an ARG it uses has no value: set the ARG in the image's `build_args` (`imagegate plan` names it)",
        );
    }
    // A RUN step that failed (legacy builder, BuildKit, buildah) while reaching the network:
    // the same words as a base image that cannot be pulled, but another cause.
    let run_step_failed =
        any(&["returned a non-zero code", "did not complete successfully", "error building at step \"run"]);
    if run_step_failed
        && any(&[
            "could not resolve",
            "temporary failure resolving",
            "temporary failure in name resolution",
            "name or service not known",
            "failed to fetch",
            "network is unreachable",
            "connection refused",
            "connection timed out",
            "no such host",
            "i/o timeout",
        ])
    {
        return Some(
            "a RUN step could not reach a host it downloads from: RUN steps use the engine's default network unless `[engine] build_network` says otherwise (e.g. \"host\" where the default network has no route); check that those hosts are reachable from this machine",
        );
    }
    if any(&[
        "pull access denied",
        "manifest unknown",
        "repository does not exist",
        "failed to resolve reference",
        "error pinging",
        "pinging container registry",
        "connection refused",
        "no such host",
        "i/o timeout",
        "unable to find image",
    ]) {
        return Some(
            "the base image could not be found or pulled: pull it, or import/tag a local image under the name the FROM line uses; `imagegate plan` checks base images before building",
        );
    }
    let copy_source_missing = lower.iter().any(|line| {
        (line.contains("no such file or directory") || line.contains("not found"))
            && ["copy", "copier", "add ", "compute cache key", "calculate checksum", "lstat"]
                .iter()
                .any(|needle| line.contains(needle))
    });
    if copy_source_missing {
        return Some(
            "a COPY/ADD source is not in the build context, or its .dockerignore excludes it: check the image's `context` and `.dockerignore`; `imagegate plan` names the line",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn build_failure_drops_the_legacy_banner_and_hints_at_the_base_image() {
        let log = "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n            Install the buildx component to build images with BuildKit:\n            https://docs.docker.com/go/buildx/\n\nSending build context to Docker daemon  3.072kB\nStep 1/2 : FROM 127.0.0.1:9/base:1\nGet \"http://127.0.0.1:9/v2/\": dial tcp 127.0.0.1:9: connect: connection refused\n";
        let message = build_failure(log, Path::new("/logs/build.log"));
        assert!(!message.contains("DEPRECATED") && !message.contains("buildx"), "{message}");
        assert!(message.starts_with("Sending build context"), "{message}");
        assert!(message.contains("(build log: /logs/build.log)"));
        assert!(message.ends_with("`imagegate plan` checks base images before building"), "{message}");
    }

    #[test]
    fn build_failure_drops_colour_and_hints_at_a_run_step_without_network() {
        let log = "Step 10/15 : RUN wget -qO- https://deb.example.org/key.asc && apt-get update\n\
                   \u{1b}[91mW: Failed to fetch https://deb.example.org/dists/stable/InRelease  Could not resolve 'deb.example.org'\n\
                   \u{1b}[0mThe command '/bin/sh -c apt-get install -y tor' returned a non-zero code: 100\n";
        let message = build_failure(log, Path::new("b.log"));
        assert!(!message.contains('\u{1b}') && !message.contains("[91m"), "{message}");
        assert!(message.contains("W: Failed to fetch"), "{message}");
        assert!(message.contains("hint: a RUN step could not reach a host it downloads from"), "{message}");
        assert!(!message.contains("base image"), "{message}");
    }

    #[test]
    fn escape_sequences_of_both_kinds_are_removed() {
        assert_eq!(strip_escape_sequences("\u{1b}[1;31mred\u{1b}[0m \u{1b}]0;title\u{7}plain"), "red plain");
        assert_eq!(strip_escape_sequences("a\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\b"), "alinkb");
    }

    #[test]
    fn build_failure_hints_at_unset_args_and_missing_copy_sources() {
        let unset = build_failure("Step 1/3 : FROM debian:\ninvalid reference format\n", Path::new("b.log"));
        assert!(unset.contains("hint: a FROM line names an invalid image"), "{unset}");
        let buildkit =
            "#7 ERROR: failed to calculate checksum of ref abc::def: \"/.circleci/apt-tor-list\": not found\n";
        assert!(
            build_failure(buildkit, Path::new("b.log")).contains("hint: a COPY/ADD source is not in the build context")
        );
        let podman = "Error: building at STEP \"COPY x /y\": checking on sources under \"/ctx\": copier: stat: \"/x\": no such file or directory\n";
        assert!(build_failure(podman, Path::new("b.log")).contains("hint: a COPY/ADD source"));
        let legacy = "Step 2/2 : COPY nothere /x\nCOPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not exist\n";
        assert!(build_failure(legacy, Path::new("b.log")).contains("hint: a COPY/ADD source"));
        let other = build_failure("RUN false\nThe command returned a non-zero code: 1\n", Path::new("b.log"));
        assert!(!other.contains("hint:"), "{other}");
    }

    #[test]
    fn containment_becomes_the_flags_both_engines_take() {
        let mut containment = Containment {
            pids: 100,
            memory_bytes: 256 * 1024 * 1024,
            cpu_quota_micros: 150_000,
            capabilities: vec!["CHOWN".into(), "KILL".into()],
            no_new_privileges: true,
            read_only: false,
            writable: vec!["/src".into(), "/results".into()],
        };
        assert_eq!(
            containment_args(&containment),
            [
                "--pids-limit=100",
                "--memory=268435456",
                "--memory-swap=268435456",
                "--cpu-period=100000",
                "--cpu-quota=150000",
                "--cap-drop=ALL",
                "--cap-add=CHOWN",
                "--cap-add=KILL",
                "--security-opt=no-new-privileges",
            ]
        );
        containment.read_only = true;
        containment.no_new_privileges = false;
        containment.capabilities.clear();
        let args = containment_args(&containment);
        assert_eq!(
            &args[5..],
            [
                "--cap-drop=ALL",
                "--read-only",
                "--tmpfs=/tmp:rw,nosuid,nodev,mode=1777",
                "--volume=/src",
                "--volume=/results"
            ]
        );
    }

    /// A script standing in for the client: it fails its first `failures` runs with `stderr`,
    /// then lists one image id; it counts its runs in `runs`.
    fn flaky_client(dialect: Dialect, failures: u32, stderr: &str) -> (tempfile::TempDir, Client) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let script = dir.path().join("engine");
        let runs = dir.path().join("runs");
        let body = format!(
            "#!/bin/sh\necho run >> '{runs}'\nif [ $(wc -l < '{runs}') -le {failures} ]; then echo '{stderr}' >&2; exit 125; fi\necho sha256:{id}\n",
            runs = runs.display(),
            id = "a".repeat(64),
        );
        std::fs::write(&script, body).expect("the script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("executable");
        (dir, Client { program: script.display().to_string(), dialect })
    }

    fn runs(dir: &tempfile::TempDir) -> usize {
        std::fs::read_to_string(dir.path().join("runs")).unwrap_or_default().lines().count()
    }

    const VANISHED: &str = "Error: checking if image \"6bc4\" is dangling: reading image \"6334\": image not known";

    #[test]
    fn a_podman_listing_that_meets_a_vanished_image_is_retried() {
        let (dir, client) = flaky_client(Dialect::Podman, 2, VANISHED);
        let listed = client.list_images(&["images"]).expect("the third run lists");
        assert_eq!(listed.trim(), format!("sha256:{}", "a".repeat(64)));
        assert_eq!(runs(&dir), 3);

        // Three times in a row is reported, with podman's message.
        let (dir, client) = flaky_client(Dialect::Podman, 3, VANISHED);
        let error = client.list_images(&["images"]).expect_err("fails three times");
        assert!(error.to_string().contains("image not known"), "{error}");
        assert_eq!(runs(&dir), 3);
    }

    #[test]
    fn other_listing_failures_are_not_retried() {
        let (dir, client) = flaky_client(Dialect::Podman, 1, "Error: permission denied");
        client.list_images(&["images"]).expect_err("not retried");
        assert_eq!(runs(&dir), 1);
        let (dir, client) = flaky_client(Dialect::Docker, 1, VANISHED);
        client.list_images(&["images"]).expect_err("docker has no such race");
        assert_eq!(runs(&dir), 1);
    }
}
