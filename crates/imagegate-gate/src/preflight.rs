//! The preflight: what would make a build or a suite run fail, found before anything is built.
//!
//! `plan` runs it and exits 2 on any problem; `gate` and `build` run it first and stop the
//! same way. Each problem names the line at fault — a Dockerfile line (read with
//! [`imagegate_config::dockerfile`]) or a key of imagegate.toml — and ends with a hint.
//! All problems are collected, not only the first, so that one pass fixes them all.
//!
//! The checks, per image:
//! - every ARG the Dockerfile requires (no default, and used) is set in `build_args`;
//! - every `COPY`/`ADD` source taken from the context exists there and is not excluded by the
//!   `.dockerignore` (variables expanded where they have values; globs allowed);
//! - every base image resolves (see below);
//! - the suite's `results` and `workdir` are usable folders of the test container;
//! - a warning when the context is the repository root and no `inputs` narrows the identity.
//!
//! # Base images
//!
//! A base image present in the engine is resolved. Otherwise it depends on its registry:
//! - a registry on a loopback address (`localhost`, `127.0.0.0/8`, `::1`) is asked over plain
//!   HTTP whether it has the manifest, within a few seconds; absent or unreachable is a problem;
//! - any other registry is not asked (a public registry wants a token dance, and mirrors or
//!   proxies may stand in for it): the engine will pull the image while building, so the image
//!   is resolvable when the engine can reach its registry. Preflight checks only that a TCP
//!   connection to the registry opens within a few seconds. When it does, or when a proxy is
//!   configured, the image is a warning ("will be pulled"); when it does not — the common case
//!   of a machine without network that lacks a base image — it is a problem, with a hint to pull
//!   it elsewhere or to tag a local image under that name.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use imagegate_config::dockerfile::{self, BaseImage, Dockerfile};
use imagegate_config::{Config, ImageConfig};
use imagegate_contract::PreflightProblem;
use imagegate_engine::Engine;
use imagegate_registry::reference::Reference;

use crate::GateError;

/// How long a registry is given to answer a preflight question.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(3);

/// What the preflight found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preflight {
    /// Each would make the build or the suite fail.
    pub problems: Vec<PreflightProblem>,
    /// Worth fixing; nothing fails because of them.
    pub warnings: Vec<PreflightProblem>,
}

impl Preflight {
    /// `Err` with every problem when there is any.
    pub fn into_result(self) -> Result<Vec<PreflightProblem>, GateError> {
        if self.problems.is_empty() { Ok(self.warnings) } else { Err(GateError::Preflight { problems: self.problems }) }
    }
}

/// Runs every check on `images`. Engine failures (the engine does not answer) are errors, not
/// problems: they are infrastructure, exit 3.
pub fn preflight(config: &Config, engine: &dyn Engine, images: &[&ImageConfig]) -> Result<Preflight, GateError> {
    let mut found = Preflight::default();
    for image in images {
        let in_engine = |reference: &str| Ok(engine.inspect_image(reference)?.is_some());
        check_image(config, image, &in_engine, &NetworkProbe, &mut found)?;
    }
    Ok(found)
}

/// Whether the engine has an image, by reference.
type InEngine<'a> = dyn Fn(&str) -> Result<bool, imagegate_engine::EngineError> + 'a;

/// Every check on one image, with the engine and the network as parameters.
fn check_image(
    config: &Config,
    image: &ImageConfig,
    in_engine: &InEngine<'_>,
    probe: &dyn RegistryProbe,
    found: &mut Preflight,
) -> Result<(), GateError> {
    let mut checker = Checker { config, image, found };
    checker.suite_folders();
    checker.identity();
    let Some(dockerfile) = checker.dockerfile() else { return Ok(()) };
    // With `target`, stages after it are not built (the legacy builder stops there; BuildKit
    // builds even less): what they need is not a problem.
    let built = |line: usize| {
        image.target.as_deref().and_then(|target| dockerfile.lines_built_before(target)).is_none_or(|end| line < end)
    };
    checker.required_args(&dockerfile, &built);
    checker.context_sources(&dockerfile, &built);
    for base in dockerfile.base_images(&image.build_args) {
        let line = match &base {
            BaseImage::Image { line, .. }
            | BaseImage::Stage { line, .. }
            | BaseImage::Scratch { line }
            | BaseImage::Unresolved { line, .. } => *line,
        };
        if built(line) {
            checker.base_image(&dockerfile, &base, in_engine, probe)?;
        }
    }
    Ok(())
}

/// What a registry said about a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegistryAnswer {
    /// It has it (or wants credentials to say, which the engine has).
    Present,
    /// It answered that it does not.
    Absent,
    /// It could not be reached; why.
    Unreachable(String),
}

/// The questions the base-image check asks the network; a trait so that tests never do.
pub(crate) trait RegistryProbe {
    /// Asks a loopback registry whether it has `reference`'s manifest.
    fn loopback_manifest(&self, reference: &Reference) -> RegistryAnswer;
    /// Whether a connection to a (non-loopback) registry host opens.
    fn reachable(&self, registry: &str) -> RegistryAnswer;
}

struct Checker<'a> {
    config: &'a Config,
    image: &'a ImageConfig,
    found: &'a mut Preflight,
}

impl Checker<'_> {
    /// A path as shown in messages: relative to the config's folder when inside it.
    fn shown(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.config.root).unwrap_or(path);
        let parts: Vec<String> =
            relative.components().map(|part| part.as_os_str().to_string_lossy().into_owned()).collect();
        if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
    }

    fn config_file(&self) -> String {
        self.shown(&self.config.path)
    }

    fn problem(&self, file: String, line: Option<usize>, message: String, hint: String) -> PreflightProblem {
        PreflightProblem { image: self.image.name.clone(), file, line, message, hint }
    }

    fn push_problem(&mut self, file: String, line: Option<usize>, message: String, hint: String) {
        let problem = self.problem(file, line, message, hint);
        self.found.problems.push(problem);
    }

    fn push_warning(&mut self, file: String, line: Option<usize>, message: String, hint: String) {
        let warning = self.problem(file, line, message, hint);
        self.found.warnings.push(warning);
    }

    fn dockerfile(&mut self) -> Option<Dockerfile> {
        match std::fs::read(&self.image.dockerfile) {
            // A Dockerfile is text; a stray invalid byte must not hide the rest of it.
            Ok(bytes) => Some(dockerfile::parse(&String::from_utf8_lossy(&bytes))),
            Err(error) => {
                let file = self.shown(&self.image.dockerfile);
                self.push_problem(
                    file,
                    None,
                    format!("cannot read the Dockerfile: {error}"),
                    "make it readable by the user that runs imagegate".to_owned(),
                );
                None
            }
        }
    }

    fn build_args_hint(&self, name: &str) -> String {
        let table = format!("[images.{}]", self.image.name);
        let place = match self.image.lines.build_args.or(self.image.lines.table) {
            Some(line) => format!("{}:{line}", self.config_file()),
            None => self.config_file(),
        };
        format!("add `{name} = \"…\"` to `build_args` of {table} in `{place}`, or give the ARG a default")
    }

    fn required_args(&mut self, dockerfile: &Dockerfile, built: &dyn Fn(usize) -> bool) {
        let file = self.shown(&self.image.dockerfile);
        for arg in dockerfile.required_args() {
            if self.image.build_args.contains_key(&arg.name) || !built(arg.line) {
                continue;
            }
            let hint = self.build_args_hint(&arg.name);
            self.push_problem(
                file.clone(),
                Some(arg.line),
                format!(
                    "ARG {} has no default and image `{}` sets no build arg {}",
                    arg.name, self.image.name, arg.name
                ),
                hint,
            );
        }
    }

    fn context_sources(&mut self, dockerfile: &Dockerfile, built: &dyn Fn(usize) -> bool) {
        let sources: Vec<_> = dockerfile.context_sources().into_iter().filter(|source| built(source.line)).collect();
        if sources.is_empty() {
            return;
        }
        let file = self.shown(&self.image.dockerfile);
        let context_shown = self.shown(&self.image.context);
        let entries = match imagegate_config::context_files(self.image) {
            Ok(entries) => entries,
            Err(error) => {
                self.push_problem(
                    context_shown,
                    None,
                    format!("cannot list the build context: {error}"),
                    "make the context folder readable, and its `.dockerignore` valid".to_owned(),
                );
                return;
            }
        };
        let sent: BTreeSet<String> = entries.iter().map(|entry| slash_path(&entry.path)).collect();
        for source in sources {
            let expanded = dockerfile.expand_source(&source, &self.image.build_args);
            if !expanded.missing.is_empty() {
                // An unset ARG is reported as such; what the path would be is unknown.
                continue;
            }
            let Some(wanted) = context_relative(&expanded.text) else { continue };
            if wanted.is_empty() || source_present(&wanted, &sent) {
                continue;
            }
            let on_disk = self.image.context.join(&wanted);
            let (message, hint) = if !has_glob(&wanted) && on_disk.symlink_metadata().is_ok() {
                (
                    format!(
                        "{} source `{}` is excluded from the build context by its `.dockerignore`",
                        source.instruction, source.source
                    ),
                    format!(
                        "remove the pattern that excludes `{wanted}` from the `.dockerignore`, or add a `!{wanted}` line"
                    ),
                )
            } else {
                let in_project = self.config.root.join(&wanted);
                let hint = if self.image.context != self.config.root && in_project.symlink_metadata().is_ok() {
                    format!(
                        "COPY sources are relative to the build context `{context_shown}`, and `{wanted}` is in the project root: set `context = \".\"` in [images.{}]",
                        self.image.name
                    )
                } else {
                    format!(
                        "COPY sources are relative to the build context `{context_shown}`: add `{wanted}` there, or fix the path"
                    )
                };
                (
                    format!(
                        "{} source `{}` is not in the build context `{context_shown}`",
                        source.instruction, source.source
                    ),
                    hint,
                )
            };
            self.push_problem(file.clone(), Some(source.line), message, hint);
        }
    }

    fn base_image(
        &mut self,
        dockerfile: &Dockerfile,
        base: &BaseImage,
        in_engine: &InEngine<'_>,
        probe: &dyn RegistryProbe,
    ) -> Result<(), GateError> {
        let file = self.shown(&self.image.dockerfile);
        let (reference, line) = match base {
            BaseImage::Image { reference, line } => (reference, *line),
            BaseImage::Stage { .. } | BaseImage::Scratch { .. } => return Ok(()),
            BaseImage::Unresolved { written, missing, line } => {
                let reported: BTreeSet<&str> = dockerfile
                    .required_args()
                    .into_iter()
                    .filter(|arg| !self.image.build_args.contains_key(&arg.name))
                    .map(|arg| arg.name.as_str())
                    .collect();
                let unreported: Vec<&String> =
                    missing.iter().filter(|name| !reported.contains(name.as_str())).collect();
                if let Some(name) = unreported.first() {
                    let hint = format!(
                        "declare `ARG {name}` before the first FROM and set it in build_args ({})",
                        self.build_args_hint(name)
                    );
                    self.push_problem(
                        file,
                        Some(*line),
                        format!("FROM `{written}` uses `{name}`, which has no value, so the engine would see an invalid reference"),
                        hint,
                    );
                }
                return Ok(());
            }
        };
        let parsed = match Reference::parse(reference) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.push_problem(
                    file,
                    Some(line),
                    format!("FROM `{reference}` is not a valid image reference: {error}"),
                    "write NAME[:TAG][@DIGEST] in lowercase, e.g. `debian:12`; check the build args it uses".to_owned(),
                );
                return Ok(());
            }
        };
        if in_engine(reference)? {
            return Ok(());
        }
        let registry = parsed.registry().to_owned();
        let not_here = "pull it, or import/tag a local image as";
        if is_loopback(&registry) {
            match probe.loopback_manifest(&parsed) {
                RegistryAnswer::Present => {}
                RegistryAnswer::Absent => self.push_problem(
                    file,
                    Some(line),
                    format!("base image `{reference}` is neither in the engine nor in the registry `{registry}`"),
                    format!("push it to `{registry}`, or {not_here} `{reference}`"),
                ),
                RegistryAnswer::Unreachable(why) => self.push_problem(
                    file,
                    Some(line),
                    format!("base image `{reference}` is not in the engine, and its registry `{registry}` does not answer ({why})"),
                    format!("start the registry, or {not_here} `{reference}`"),
                ),
            }
            return Ok(());
        }
        match probe.reachable(&registry) {
            RegistryAnswer::Unreachable(why) => self.push_problem(
                file,
                Some(line),
                format!("base image `{reference}` is not in the engine, and its registry `{registry}` cannot be reached ({why})"),
                format!("{not_here} `{reference}` (e.g. `docker load` it, then `docker tag IMAGE {reference}`)"),
            ),
            RegistryAnswer::Present | RegistryAnswer::Absent => self.push_warning(
                file,
                Some(line),
                format!("base image `{reference}` is not in the engine; the build will pull it from `{registry}`"),
                format!("pull it ahead of time, or {not_here} `{reference}`, if the build machine has no network"),
            ),
        }
        Ok(())
    }

    fn suite_folders(&mut self) {
        let suite = &self.image.suite;
        let config_file = self.config_file();
        let table = format!("[images.{}.suite]", self.image.name);
        let results = normalize_container_path(&suite.results);
        let workdir = normalize_container_path(&suite.workdir);
        let results_line = self.image.lines.results.or(self.image.lines.table);
        let workdir_line = self.image.lines.workdir.or(self.image.lines.table);
        for (key, path, line) in [("results", &results, results_line), ("workdir", &workdir, workdir_line)] {
            if !path.starts_with('/') {
                self.push_problem(
                    config_file.clone(),
                    line,
                    format!("`{key}` in {table} is `{path}`, not an absolute path"),
                    format!("give an absolute folder of the container, e.g. {key} = \"/{}\"", key),
                );
            } else if is_system_folder(path) {
                self.push_problem(
                    config_file.clone(),
                    line,
                    format!("`{key}` in {table} is the system folder `{path}`"),
                    format!(
                        "give the suite a folder of its own, e.g. {key} = \"{}\"",
                        if key == "results" { "/results" } else { "/src" }
                    ),
                );
            }
        }
        if results == workdir {
            self.push_problem(
                config_file.clone(),
                results_line,
                format!("`results` and `workdir` in {table} are the same folder `{results}`, so the checkout would be read as results"),
                "keep results apart from the checkout, e.g. results = \"/results\"".to_owned(),
            );
        } else if workdir.starts_with(&format!("{}/", results.trim_end_matches('/'))) {
            self.push_problem(
                config_file,
                results_line,
                format!("`results` `{results}` in {table} holds the checkout `{workdir}`, which would be copied out as results"),
                "keep results apart from the checkout, e.g. results = \"/results\"".to_owned(),
            );
        }
    }

    /// With the repository root as context and no `inputs`, every commit is a new recipe.
    fn identity(&mut self) {
        if self.image.inputs.is_some() || self.image.context != self.config.root {
            return;
        }
        let dockerfile_folder =
            self.image.dockerfile.parent().map(|folder| self.shown(folder)).unwrap_or_else(|| ".".to_owned());
        let example = if dockerfile_folder == "." {
            format!("inputs = [\"{}\"]", self.shown(&self.image.dockerfile))
        } else {
            format!("inputs = [\"{dockerfile_folder}/**\"]")
        };
        let config_file = self.config_file();
        self.push_warning(
            config_file,
            self.image.lines.table,
            format!(
                "image `{}` is built from the repository root with no `inputs`: every commit is a new recipe, built and gated anew",
                self.image.name
            ),
            format!(
                "set `inputs` in [images.{}] to the files whose content defines the image, e.g. {example} plus the project files the build uses",
                self.image.name
            ),
        );
    }
}

/// The real network, bounded in time.
struct NetworkProbe;

impl RegistryProbe for NetworkProbe {
    fn loopback_manifest(&self, reference: &Reference) -> RegistryAnswer {
        let what = reference.digest().or(reference.tag()).unwrap_or("latest");
        let request = format!(
            "HEAD /v2/{}/manifests/{what} HTTP/1.1\r\nHost: {}\r\nAccept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json\r\nConnection: close\r\n\r\n",
            reference.repository(),
            reference.registry()
        );
        let mut stream = match connect(reference.registry(), 80) {
            Ok(stream) => stream,
            Err(why) => return RegistryAnswer::Unreachable(why),
        };
        let mut response = Vec::new();
        let exchanged = stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.take(4096).read_to_end(&mut response).map(|_| ()));
        if let Err(error) = exchanged
            && response.is_empty()
        {
            return RegistryAnswer::Unreachable(error.to_string());
        }
        let status_line = String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_owned();
        match status_line.split_whitespace().nth(1) {
            Some("404") => RegistryAnswer::Absent,
            Some(code) if code.starts_with('2') || code == "401" || code == "403" => RegistryAnswer::Present,
            // Not plain HTTP (a TLS registry) or an answer not understood: the build will tell.
            _ => RegistryAnswer::Present,
        }
    }

    fn reachable(&self, registry: &str) -> RegistryAnswer {
        if ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
            .iter()
            .any(|name| std::env::var_os(name).is_some())
        {
            // Through a proxy, only the engine can tell.
            return RegistryAnswer::Present;
        }
        // Docker Hub's name is not the host that serves it.
        let host = if registry == "docker.io" { "registry-1.docker.io" } else { registry };
        match connect(host, 443) {
            Ok(_) => RegistryAnswer::Present,
            Err(why) => RegistryAnswer::Unreachable(why),
        }
    }
}

/// Opens a TCP connection to `host[:port]` within [`REGISTRY_TIMEOUT`], name resolution
/// included (it runs on its own thread, since the system resolver has no timeout).
fn connect(host: &str, default_port: u16) -> Result<TcpStream, String> {
    let address = if host.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    };
    let (sender, receiver) = mpsc::channel();
    let lookup = address.clone();
    std::thread::spawn(move || {
        let resolved: Result<Vec<SocketAddr>, String> =
            lookup.to_socket_addrs().map(Iterator::collect).map_err(|error| error.to_string());
        // The receiver may have given up; nothing to do then.
        let _ = sender.send(resolved);
    });
    let addresses = match receiver.recv_timeout(REGISTRY_TIMEOUT) {
        Ok(Ok(addresses)) => addresses,
        Ok(Err(error)) => return Err(format!("cannot resolve `{address}`: {error}")),
        Err(_) => return Err(format!("resolving `{address}` timed out")),
    };
    let mut last = format!("no address for `{address}`");
    for socket in addresses {
        match TcpStream::connect_timeout(&socket, REGISTRY_TIMEOUT) {
            Ok(stream) => {
                // Bounded reads and writes: a registry that accepts and then says nothing.
                let _ = stream.set_read_timeout(Some(REGISTRY_TIMEOUT));
                let _ = stream.set_write_timeout(Some(REGISTRY_TIMEOUT));
                return Ok(stream);
            }
            Err(error) => last = error.to_string().to_lowercase(),
        }
    }
    Err(last)
}

/// `localhost`, `127.0.0.0/8` or `::1`, with any port.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => registry.rsplit_once(':').map_or(registry, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

/// A COPY source as a path relative to the context: a leading `/` or `./` means the context
/// root, as the engine reads it. `None` for a path that leaves the context (the engine refuses
/// it with its own message).
fn context_relative(source: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn has_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// Whether the context sent to the engine has `wanted`: the path itself, or for a glob, any
/// entry it matches (`*` within one folder, as Go's filepath.Match that the engine uses).
fn source_present(wanted: &str, sent: &BTreeSet<String>) -> bool {
    if !has_glob(wanted) {
        return sent.contains(wanted);
    }
    match globset::GlobBuilder::new(wanted).literal_separator(true).build() {
        Ok(glob) => {
            let matcher = glob.compile_matcher();
            sent.iter().any(|entry| matcher.is_match(entry))
        }
        // A pattern the engine would refuse too; its own message is clearer than a guess.
        Err(_) => true,
    }
}

fn slash_path(path: &Path) -> String {
    path.components().map(|part| part.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// A container path without `.` segments, repeated or trailing slashes.
fn normalize_container_path(path: &str) -> String {
    if !path.starts_with('/') {
        return path.to_owned();
    }
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty() && *part != ".").collect();
    format!("/{}", parts.join("/"))
}

/// Folders the system keeps its own files in: copying a checkout in or results out there
/// breaks the container or reads what is not the suite's.
fn is_system_folder(path: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/share",
        "/var",
        "/var/lib",
        "/var/run",
    ];
    SYSTEM.contains(&path)
}

#[cfg(test)]
mod tests;
