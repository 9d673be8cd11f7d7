//! A fault-injecting HTTP proxy on 127.0.0.1 in front of a real registry: what a flaky network
//! or an overloaded registry does to the engine's pushes and pulls and to imagegate's own
//! requests, on demand or by a seeded random schedule.
//!
//! Clients talk to the proxy as if it were the registry (distribution builds its upload URLs
//! from the request's `Host`, so they point back at the proxy). Every request is forwarded with
//! `Connection: close`, so one TCP connection carries exactly one request and the proxy never
//! has to parse a body to find the next one. Faults:
//!
//! - [`Fault::Status`]: answer an error status (`{"errors":[{"code":"UNKNOWN"…}]}`, as
//!   distribution does) without reaching the registry;
//! - [`Fault::Reset`]: forward the request, let the registry answer, then reset the client's
//!   connection (`SO_LINGER` 0) before any of the answer reaches it — the registry did the
//!   work, the client saw a reset mid-transfer;
//! - [`Fault::Stall`]: hold the request that long before forwarding it.
//!
//! Threads are bounded by the clients' connections; every socket has a timeout; dropping the
//! proxy stops its accept loop.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Bounds every read and write on both sides of a forwarded request: longer than any stall a
/// test asks for, short enough that a stuck client cannot hold a thread for long.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// A request head larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;

/// What the proxy does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this HTTP status (e.g. 500, 502, 503) without reaching the registry.
    Status(u16),
    /// Forward the request, then reset the client's connection before the answer reaches it.
    Reset,
    /// Hold the request this long, then forward it.
    Stall(Duration),
}

/// Which requests an on-demand fault applies to.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// HTTP method (`PUT`, `PATCH` …); any when `None`.
    pub method: Option<String>,
    /// A piece of the request path (`/manifests/`, `/blobs/uploads/` …); any when `None`.
    pub path_contains: Option<String>,
    /// Only requests of a container engine (docker, podman), not imagegate's own: their
    /// `User-Agent` does not start with `imagegate/`.
    pub engine_only: bool,
}

impl Matcher {
    /// The engine's manifest uploads: the last request of a `docker push` / `podman push`,
    /// which the engines do not retry themselves.
    #[must_use]
    pub fn engine_manifest_put() -> Matcher {
        Matcher { method: Some("PUT".into()), path_contains: Some("/manifests/".into()), engine_only: true }
    }

    fn matches(&self, request: &RequestHead) -> bool {
        self.method.as_deref().is_none_or(|method| method.eq_ignore_ascii_case(&request.method))
            && self.path_contains.as_deref().is_none_or(|piece| request.path.contains(piece))
            && (!self.engine_only || !request.user_agent.starts_with("imagegate/"))
    }
}

/// A fault the proxy injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    pub method: String,
    pub path: String,
    pub user_agent: String,
    pub fault: Fault,
}

#[derive(Debug)]
struct OnDemand {
    matcher: Matcher,
    fault: Fault,
    remaining: usize,
}

#[derive(Debug)]
struct Schedule {
    rng: fastrand::Rng,
    rate: f64,
    faults: Vec<Fault>,
}

#[derive(Debug, Default)]
struct State {
    on_demand: Vec<OnDemand>,
    schedule: Option<Schedule>,
    injected: Vec<Injected>,
}

impl State {
    fn choose(&mut self, request: &RequestHead) -> Option<Fault> {
        if let Some(rule) = self.on_demand.iter_mut().find(|rule| rule.remaining > 0 && rule.matcher.matches(request)) {
            rule.remaining -= 1;
            return Some(rule.fault);
        }
        let schedule = self.schedule.as_mut()?;
        if schedule.faults.is_empty() || schedule.rng.f64() >= schedule.rate {
            return None;
        }
        let index = schedule.rng.usize(..schedule.faults.len());
        Some(schedule.faults[index])
    }
}

/// The running proxy; dropping it stops accepting connections.
pub struct FaultProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy on a free port of 127.0.0.1 in front of `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Result<FaultProxy, String> {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("fault proxy: cannot bind 127.0.0.1:0: {e}"))?;
        let port = listener.local_addr().map_err(|e| format!("fault proxy: no local address: {e}"))?.port();
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("fault proxy: cannot make the listener non-blocking: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(Mutex::new(State::default()));
        let thread = {
            let (stop, requests, state) = (Arc::clone(&stop), Arc::clone(&requests), Arc::clone(&state));
            let upstream = upstream.to_owned();
            thread::Builder::new()
                .name("testkit-fault-proxy".into())
                .spawn(move || accept_loop(&listener, &upstream, &stop, &requests, &state))
                .map_err(|e| format!("fault proxy: cannot start its thread: {e}"))?
        };
        Ok(FaultProxy { port, stop, requests, state, thread: Some(thread) })
    }

    /// `127.0.0.1:PORT`: what clients use as the registry's address.
    #[must_use]
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Injects `fault` into the next `times` requests that `matcher` matches.
    pub fn inject(&self, matcher: Matcher, fault: Fault, times: usize) {
        self.lock().on_demand.push(OnDemand { matcher, fault, remaining: times });
    }

    /// From now on, injects one of `faults` (picked at random) into each request with
    /// probability `rate`, from a generator seeded with `seed` (on-demand faults come first).
    pub fn schedule(&self, seed: u64, rate: f64, faults: &[Fault]) {
        self.lock().schedule = Some(Schedule { rng: fastrand::Rng::with_seed(seed), rate, faults: faults.to_vec() });
    }

    /// Stops injecting faults: pending on-demand faults and the random schedule are dropped.
    pub fn heal(&self) {
        let mut state = self.lock();
        state.on_demand.clear();
        state.schedule = None;
    }

    /// Every fault injected so far, in order.
    #[must_use]
    pub fn injected(&self) -> Vec<Injected> {
        self.lock().injected.clone()
    }

    /// Requests received so far, faulted or not.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    upstream: &str,
    stop: &AtomicBool,
    requests: &Arc<AtomicUsize>,
    state: &Arc<Mutex<State>>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let (upstream, requests, state) = (upstream.to_owned(), Arc::clone(requests), Arc::clone(state));
                let _ = thread::Builder::new().name("testkit-fault-proxy-connection".into()).spawn(move || {
                    let _ = serve(client, &upstream, &requests, &state);
                });
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(5)),
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The parts of a request head the proxy looks at.
#[derive(Debug)]
struct RequestHead {
    method: String,
    path: String,
    user_agent: String,
    /// The head as forwarded: `Connection: close` instead of any connection header.
    forwarded: Vec<u8>,
}

/// Reads a request head; returns it and the bytes of the body read past it.
fn read_head(client: &mut TcpStream) -> std::io::Result<Option<(RequestHead, Vec<u8>)>> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 8192];
    let end = loop {
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
        if buffer.len() > MAX_HEAD {
            return Ok(None);
        }
        let read = client.read(&mut chunk)?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let rest = buffer.split_off(end);
    let text = String::from_utf8_lossy(&buffer).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.split(' ');
    let method = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default().to_owned();
    let mut user_agent = String::new();
    let mut forwarded = format!("{request_line}\r\n");
    for line in lines.filter(|line| !line.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        if name == "user-agent" {
            user_agent = line.split_once(':').map(|(_, value)| value.trim().to_owned()).unwrap_or_default();
        }
        if name == "connection" || name == "keep-alive" {
            continue;
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    Ok(Some((RequestHead { method, path, user_agent, forwarded: forwarded.into_bytes() }, rest)))
}

fn serve(mut client: TcpStream, upstream: &str, requests: &AtomicUsize, state: &Mutex<State>) -> std::io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some((head, body_start)) = read_head(&mut client)? else {
        return Ok(());
    };
    requests.fetch_add(1, Ordering::SeqCst);
    let fault = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let fault = state.choose(&head);
        if let Some(fault) = fault {
            state.injected.push(Injected {
                method: head.method.clone(),
                path: head.path.clone(),
                user_agent: head.user_agent.clone(),
                fault,
            });
        }
        fault
    };
    match fault {
        Some(Fault::Status(code)) => answer_status(client, code, &head.method),
        Some(Fault::Stall(duration)) => {
            thread::sleep(duration);
            forward(client, upstream, &head, &body_start, false)
        }
        Some(Fault::Reset) => forward(client, upstream, &head, &body_start, true),
        None => forward(client, upstream, &head, &body_start, false),
    }
}

/// Answers `code` with a distribution-style error body, then reads what the client still sends
/// (a body) until it closes, so that closing does not turn the answer into a reset.
fn answer_status(mut client: TcpStream, code: u16, method: &str) -> std::io::Result<()> {
    let body = r#"{"errors":[{"code":"UNKNOWN","message":"fault injected by the test proxy"}]}"#;
    let reason = match code {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
    let mut answer = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        answer.push_str(body);
    }
    client.write_all(answer.as_bytes())?;
    client.flush()?;
    client.shutdown(Shutdown::Write)?;
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut sink = [0_u8; 65536];
    while matches!(client.read(&mut sink), Ok(read) if read > 0) {}
    Ok(())
}

/// Forwards the request and relays the answer; with `reset`, the answer is read from the
/// registry and the client's connection is reset instead.
fn forward(
    mut client: TcpStream,
    upstream: &str,
    head: &RequestHead,
    body_start: &[u8],
    reset: bool,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream)?;
    server.set_read_timeout(Some(IO_TIMEOUT))?;
    server.set_write_timeout(Some(IO_TIMEOUT))?;
    server.write_all(&head.forwarded)?;
    server.write_all(body_start)?;
    // The rest of the body, while the answer comes back: a registry may answer before reading
    // it all.
    let uploading = {
        let (mut from, mut to) = (client.try_clone()?, server.try_clone()?);
        thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    if reset {
        // Wait until the registry has answered (so it did the work), then reset the client.
        let mut first = [0_u8; 1];
        let _ = server.read(&mut first);
        socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO))?;
        let _ = server.shutdown(Shutdown::Both);
        // Wakes the upload thread without sending anything; the last close of the socket then
        // sends the reset (a write shutdown would send a clean end of stream first).
        let _ = client.shutdown(Shutdown::Read);
        let _ = uploading.join();
        drop(client);
        return Ok(());
    }
    let copied = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = uploading.join();
    copied.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, path: &str, user_agent: &str) -> RequestHead {
        RequestHead { method: method.into(), path: path.into(), user_agent: user_agent.into(), forwarded: Vec::new() }
    }

    #[test]
    fn on_demand_faults_match_and_run_out() {
        let mut state = State::default();
        state.on_demand.push(OnDemand {
            matcher: Matcher::engine_manifest_put(),
            fault: Fault::Status(500),
            remaining: 1,
        });
        assert_eq!(state.choose(&head("PUT", "/v2/a/manifests/1", "imagegate/0.1")), None, "imagegate's own");
        assert_eq!(state.choose(&head("GET", "/v2/a/manifests/1", "docker/20.10")), None, "not a PUT");
        assert_eq!(state.choose(&head("PUT", "/v2/a/manifests/1", "docker/20.10")), Some(Fault::Status(500)));
        assert_eq!(state.choose(&head("PUT", "/v2/a/manifests/1", "docker/20.10")), None, "used up");
    }

    #[test]
    fn a_seeded_schedule_repeats_itself() {
        let picks = |seed| {
            let mut state = State {
                schedule: Some(Schedule {
                    rng: fastrand::Rng::with_seed(seed),
                    rate: 0.3,
                    faults: vec![Fault::Reset, Fault::Status(503)],
                }),
                ..State::default()
            };
            (0..50).map(|_| state.choose(&head("GET", "/v2/", "x"))).collect::<Vec<_>>()
        };
        assert_eq!(picks(7), picks(7));
        let faulted = picks(7).iter().filter(|pick| pick.is_some()).count();
        assert!((5..=25).contains(&faulted), "about 30% of 50: {faulted}");
    }

    /// A one-shot HTTP server that answers every request with `200 ok`.
    fn tiny_server() -> (String, JoinHandle<()>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let thread = thread::spawn(move || {
            for stream in listener.incoming().take(3) {
                let mut stream = stream.unwrap();
                let mut buffer = [0_u8; 4096];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
        });
        (address, thread)
    }

    fn get(address: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nUser-Agent: docker/1\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    #[test]
    fn faults_reach_the_client_and_clean_requests_pass_through() {
        let (upstream, server) = tiny_server();
        let proxy = FaultProxy::start(&upstream).unwrap();
        let any = Matcher::default();
        proxy.inject(any.clone(), Fault::Status(503), 1);
        assert!(get(&proxy.address()).unwrap().starts_with("HTTP/1.1 503"));
        proxy.inject(any, Fault::Reset, 1);
        let reset = get(&proxy.address());
        assert!(reset.as_ref().is_err_and(|error| error.kind() == std::io::ErrorKind::ConnectionReset), "{reset:?}");
        assert!(get(&proxy.address()).unwrap().ends_with("ok"));
        assert_eq!(proxy.requests(), 3);
        assert_eq!(proxy.injected().len(), 2);
        drop(proxy);
        let _ = get(&upstream);
        server.join().unwrap();
    }
}
