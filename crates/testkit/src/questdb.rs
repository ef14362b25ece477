//! A stand-in for QuestDB's HTTP endpoints, because QuestDB cannot be installed on this
//! machine. Tests that use it must say "stand_in" in their names.
//!
//! It reproduces what a readiness probe depends on, read from QuestDB's own source
//! (`HealthCheckProcessor`, `LineHttpPingProcessor`, `HttpConnectionContext`,
//! `AbstractIODispatcher`, `PropServerConfiguration`, `ServerMainHttpAuthTest`), and
//! nothing else:
//!
//! - the **min-health server** (QuestDB's `:9003`): any path answers `200`,
//!   `Server: questDB/1.0`, `Content-Type: text/plain`, chunked body `Status: Healthy`;
//!   in "pessimistic" mode with unhandled errors it answers `500` with body
//!   `Status: Unhealthy\nUnhandled errors: N` ([`QuestDbStandIn::set_healthy`]).
//! - the **HTTP server** (QuestDB's `:9000`): `GET /ping` answers `204` with an
//!   `X-Influxdb-Version` header and no body, and never asks for credentials
//!   (`AUTH_TYPE_NONE`); other paths answer `404` (the console, `/exec` and the rest are
//!   not reproduced).
//! - **Authentication** ([`QuestDbStandInBuilder::http_auth`], QuestDB's
//!   `http.user`/`http.password`): the min server then answers `401` with
//!   `WWW-Authenticate: Basic realm="questdb"` unless the request carries those Basic
//!   credentials (`http.health.check.authentication.required` defaults to true), and keeps
//!   the connection open, as QuestDB does.
//! - **Keep-alive is the server's choice**: a request's `Connection: close` is ignored
//!   (QuestDB's `getServerKeepAlive()`), so a connection ends only when the client closes
//!   it. A client that leaks connections shows up in [`QuestDbStandIn::open_connections`].
//! - **The connection limit** (`http.min.net.connection.limit`, 64 since QuestDB 8.2,
//!   4 before; `http.net.connection.limit`, 64): at the limit the server stops accepting
//!   (new clients wait in the kernel's backlog); if it is still at the limit after the
//!   queue timeout (`*.net.connection.queue.timeout`, 5 s) it closes its listening socket,
//!   so waiting clients are reset and new ones refused; below the limit it listens again.
//! - **Start-up order** ([`QuestDbStandInBuilder::engine_starting`]): recent QuestDB starts
//!   the min server first, answering `200` while the engine still starts (a restore, WAL
//!   replay), and binds its other ports with accepts paused: clients connect at TCP level
//!   and get no answer until [`QuestDbStandIn::engine_started`].
//!
//! Not reproduced: the idle timeout (`*.net.connection.timeout`, 5 min), `/metrics`, TLS.
//! The PostgreSQL wire port is not part of the stand-in: test it against a real PostgreSQL
//! set up as QuestDB authenticates ([`crate::PostgresBuilder::password_auth`]).

use std::{
    io::{self, BufRead, BufReader, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use crate::{Error, Result, free_port};

/// QuestDB's default `http.min.net.connection.limit` (and `http.net.connection.limit`)
/// since 8.2; it was 4 before.
pub const CONNECTION_LIMIT: usize = 64;

/// QuestDB's default `*.net.connection.queue.timeout`: how long clients may wait in the
/// backlog of a server at its limit before it closes its listening socket.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `WWW-Authenticate` header QuestDB sends with a `401`.
const AUTHENTICATE: &str = "WWW-Authenticate: Basic realm=\"questdb\", charset=\"UTF-8\"";

/// Which of the two servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Server {
    /// The min-health server (QuestDB's `:9003`).
    MinHealth,
    /// The HTTP server (QuestDB's `:9000`), where `/ping` lives.
    Http,
}

/// Options for a [`QuestDbStandIn`].
#[derive(Clone, Debug)]
#[must_use]
pub struct QuestDbStandInBuilder {
    http_auth: Option<(String, String)>,
    connection_limit: usize,
    queue_timeout: Duration,
    engine_starting: bool,
    delay: Option<Duration>,
    held: bool,
}

impl Default for QuestDbStandInBuilder {
    fn default() -> Self {
        Self {
            http_auth: None,
            connection_limit: CONNECTION_LIMIT,
            queue_timeout: QUEUE_TIMEOUT,
            engine_starting: false,
            delay: None,
            held: false,
        }
    }
}

impl QuestDbStandInBuilder {
    /// QuestDB's `http.user`/`http.password`: the min server requires these Basic
    /// credentials and answers `401` without them (`/ping` never asks).
    pub fn http_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.http_auth = Some((user.into(), password.into()));
        self
    }

    /// Connections each server holds at once (default [`CONNECTION_LIMIT`]; QuestDB
    /// before 8.2 allowed 4 on the min server).
    pub fn connection_limit(mut self, limit: usize) -> Self {
        self.connection_limit = limit.max(1);
        self
    }

    /// How long a server at its limit keeps its listening socket (default
    /// [`QUEUE_TIMEOUT`]).
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// Starts with the engine still starting: the min server answers, the HTTP server is
    /// bound but accepts nothing until [`QuestDbStandIn::engine_started`].
    pub fn engine_starting(mut self) -> Self {
        self.engine_starting = true;
        self
    }

    /// Binds nothing until `delay` has passed (dropping the handle earlier cancels the
    /// start); `start` returns at once with the ports known.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Binds nothing until the [`crate::Starter`] from [`QuestDbStandIn::starter`] says so
    /// (dropping the handle first cancels the start); `start` returns at once with the
    /// ports known. For tests that start the service on a client's first failure.
    pub fn held(mut self) -> Self {
        self.held = true;
        self
    }

    /// Starts both servers; without a delay they are bound when this returns.
    ///
    /// # Errors
    /// [`Error::Io`] if a loopback port cannot be bound. With a delay, a port taken by
    /// another process in the meantime shows up as a server that never answers.
    pub fn start(self) -> Result<QuestDbStandIn> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            unhealthy: AtomicBool::new(false),
            authorization: self.http_auth.as_ref().map(|(user, password)| {
                format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
            }),
            limit: self.connection_limit,
            queue_timeout: self.queue_timeout,
            engine_started: Mutex::new(!self.engine_starting),
            engine_changed: Condvar::new(),
            health: Counters::default(),
            http: Counters::default(),
            streams: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
        });
        let delay = match (self.held, self.delay) {
            (true, _) => Some(None),
            (false, delay) => delay.map(Some),
        };
        let (cancel, starter, health_port, http_port) = match delay {
            None => {
                let health = bind(0)?;
                let http = bind(0)?;
                let ports = (port_of(&health)?, port_of(&http)?);
                (None, serve(&shared, health, http), ports.0, ports.1)
            }
            Some(delay) => {
                let (health_port, http_port) = (free_port(), free_port());
                let (cancel, cancelled) = mpsc::channel::<bool>();
                let starter_shared = Arc::clone(&shared);
                let starter = thread::spawn(move || {
                    // `true` from a `Starter`: start now; `false` (sent on drop) or a
                    // hang-up: never.
                    let go = match delay {
                        Some(delay) => match cancelled.recv_timeout(delay) {
                            Ok(go) => go,
                            Err(mpsc::RecvTimeoutError::Timeout) => true,
                            Err(mpsc::RecvTimeoutError::Disconnected) => false,
                        },
                        None => cancelled.recv().unwrap_or(false),
                    };
                    if !go {
                        return;
                    }
                    match (bind(health_port), bind(http_port)) {
                        (Ok(health), Ok(http)) => {
                            let _ = serve(&starter_shared, health, http).join();
                        }
                        (health, http) => eprintln!(
                            "questdb stand-in: cannot bind its ports: {:?} {:?}",
                            health.err(),
                            http.err()
                        ),
                    }
                });
                (Some(cancel), starter, health_port, http_port)
            }
        };
        Ok(QuestDbStandIn {
            health_port,
            http_port,
            shared,
            cancel,
            starter: Some(starter),
        })
    }
}

/// A running (or about to run) stand-in for QuestDB's min-health and HTTP servers on
/// loopback ports. Stopped on drop: listeners closed, open connections shut down.
#[derive(Debug)]
pub struct QuestDbStandIn {
    health_port: u16,
    http_port: u16,
    shared: Arc<Shared>,
    cancel: Option<mpsc::Sender<bool>>,
    starter: Option<JoinHandle<()>>,
}

impl QuestDbStandIn {
    /// Options: authentication, connection limit, queue timeout, start-up phase, delay.
    pub fn builder() -> QuestDbStandInBuilder {
        QuestDbStandInBuilder::default()
    }

    /// Starts both servers with QuestDB's defaults (no authentication, engine started).
    ///
    /// # Errors
    /// [`Error::Io`] if a loopback port cannot be bound.
    pub fn start() -> Result<Self> {
        Self::builder().start()
    }

    /// Returns at once with the ports known; nothing listens on them until `delay` has
    /// passed.
    ///
    /// # Errors
    /// None today; the signature matches the other servers of the test kit.
    pub fn start_after(delay: Duration) -> Result<Self> {
        Self::builder().delay(delay).start()
    }

    /// Starts a stand-in built with `held()` (or still waiting for its delay) now, from
    /// any thread; `None` for one started without delay.
    #[must_use]
    pub fn starter(&self) -> Option<crate::Starter> {
        self.cancel.clone().map(crate::Starter)
    }

    /// The min-health server's port (QuestDB's 9003).
    #[must_use]
    pub fn health_port(&self) -> u16 {
        self.health_port
    }

    /// The HTTP server's port (QuestDB's 9000), where `/ping` answers 204.
    #[must_use]
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// `http://127.0.0.1:PORT/status` on the min-health server.
    #[must_use]
    pub fn health_url(&self) -> String {
        format!("http://127.0.0.1:{}/status", self.health_port)
    }

    /// `http://127.0.0.1:PORT/ping` on the HTTP server.
    #[must_use]
    pub fn ping_url(&self) -> String {
        format!("http://127.0.0.1:{}/ping", self.http_port)
    }

    /// Switches the min-health server between `200 Status: Healthy` and the pessimistic
    /// mode's `500 Status: Unhealthy`.
    pub fn set_healthy(&self, healthy: bool) {
        self.shared.unhealthy.store(!healthy, Ordering::SeqCst);
    }

    /// Ends the start-up phase of [`QuestDbStandInBuilder::engine_starting`]: the HTTP
    /// server starts accepting, and serves the clients waiting in its backlog.
    pub fn engine_started(&self) {
        *lock(&self.shared.engine_started) = true;
        self.shared.engine_changed.notify_all();
    }

    /// Connections `server` holds open right now.
    #[must_use]
    pub fn open_connections(&self, server: Server) -> usize {
        lock(&self.shared.counters(server).state).open
    }

    /// Min-health connections open right now.
    #[must_use]
    pub fn open_health_connections(&self) -> usize {
        self.open_connections(Server::MinHealth)
    }

    /// The most connections `server` ever held open at once.
    #[must_use]
    pub fn peak_connections(&self, server: Server) -> usize {
        self.shared.counters(server).peak.load(Ordering::SeqCst)
    }

    /// The most min-health connections ever open at once.
    #[must_use]
    pub fn peak_health_connections(&self) -> usize {
        self.peak_connections(Server::MinHealth)
    }

    /// Connections `server` ever accepted.
    #[must_use]
    pub fn accepted_connections(&self, server: Server) -> usize {
        self.shared.counters(server).accepted.load(Ordering::SeqCst)
    }

    /// Requests `server` has answered (`401`s included).
    #[must_use]
    pub fn requests(&self, server: Server) -> usize {
        self.shared.counters(server).requests.load(Ordering::SeqCst)
    }

    /// Requests the min-health server has answered.
    #[must_use]
    pub fn health_requests(&self) -> usize {
        self.requests(Server::MinHealth)
    }

    /// Connections that ended because the client closed them (or broke them); the
    /// stand-in itself never closes a connection while it runs.
    #[must_use]
    pub fn closed_by_client(&self, server: Server) -> usize {
        self.shared.counters(server).closed.load(Ordering::SeqCst)
    }

    /// Whether `server` has its listening socket open (QuestDB closes it after the queue
    /// timeout at the connection limit).
    #[must_use]
    pub fn is_listening(&self, server: Server) -> bool {
        lock(&self.shared.counters(server).state).listening
    }

    /// Blocks until both servers hold no connection (every client has closed its own),
    /// or `timeout` passes; returns whether they got there.
    #[must_use]
    pub fn wait_until_idle(&self, timeout: Duration) -> bool {
        [Server::MinHealth, Server::Http].into_iter().all(|server| {
            self.shared
                .wait_for(server, timeout, |state| state.open == 0)
                .open
                == 0
        })
    }

    /// Blocks until `server`'s listening socket is open (`true`) or closed (`false`), or
    /// `timeout` passes; returns whether it got there.
    #[must_use]
    pub fn wait_until_listening(&self, server: Server, listening: bool, timeout: Duration) -> bool {
        self.shared
            .wait_for(server, timeout, |state| state.listening == listening)
            .listening
            == listening
    }
}

impl Drop for QuestDbStandIn {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            // Explicit: a `Starter` clone elsewhere keeps the channel connected.
            let _ = cancel.send(false);
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.engine_changed.notify_all();
        for server in [Server::MinHealth, Server::Http] {
            self.shared.counters(server).changed.notify_all();
        }
        // Wake the accept loops blocked in accept().
        for port in [self.health_port, self.http_port] {
            let _ = TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_millis(50),
            );
        }
        for (_, stream) in lock(&self.shared.streams).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(starter) = self.starter.take() {
            let _ = starter.join();
        }
    }
}

#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    unhealthy: AtomicBool,
    /// The `Authorization` value QuestDB would accept, when authentication is on.
    authorization: Option<String>,
    limit: usize,
    queue_timeout: Duration,
    engine_started: Mutex<bool>,
    engine_changed: Condvar,
    health: Counters,
    http: Counters,
    /// Clones of every open connection by id, shut down on drop so no handler thread
    /// lingers; a handler removes its own when it ends.
    streams: Mutex<Vec<(u64, TcpStream)>>,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Counters {
    state: Mutex<ServerState>,
    changed: Condvar,
    peak: AtomicUsize,
    accepted: AtomicUsize,
    requests: AtomicUsize,
    closed: AtomicUsize,
}

#[derive(Clone, Copy, Debug, Default)]
struct ServerState {
    open: usize,
    listening: bool,
}

impl Shared {
    fn counters(&self, server: Server) -> &Counters {
        match server {
            Server::MinHealth => &self.health,
            Server::Http => &self.http,
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Waits on `server`'s state until `done` holds, the stand-in stops, or `timeout`
    /// passes; returns the last state seen.
    fn wait_for(
        &self,
        server: Server,
        timeout: Duration,
        done: impl Fn(&ServerState) -> bool,
    ) -> ServerState {
        let counters = self.counters(server);
        // `None`: no deadline (Duration::MAX).
        let deadline = Instant::now().checked_add(timeout);
        let mut state = lock(&counters.state);
        while !done(&state) && !self.stopping() {
            state = match deadline {
                None => counters
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    counters
                        .changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        *state
    }

    fn set_listening(&self, server: Server, listening: bool) {
        let counters = self.counters(server);
        lock(&counters.state).listening = listening;
        counters.changed.notify_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn bind(port: u16) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).map_err(Error::io(
        "binding the QuestDB stand-in",
        format!("127.0.0.1:{port}"),
    ))
}

fn port_of(listener: &TcpListener) -> Result<u16> {
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(Error::io(
            "reading the QuestDB stand-in's port",
            "127.0.0.1",
        ))
}

/// Runs both accept loops; the returned thread ends when both have stopped.
fn serve(shared: &Arc<Shared>, health: TcpListener, http: TcpListener) -> JoinHandle<()> {
    let health_shared = Arc::clone(shared);
    let http_shared = Arc::clone(shared);
    shared.set_listening(Server::MinHealth, true);
    shared.set_listening(Server::Http, true);
    thread::spawn(move || {
        let health = thread::spawn(move || accept_loop(&health_shared, health, Server::MinHealth));
        let http = thread::spawn(move || accept_loop(&http_shared, http, Server::Http));
        let _ = health.join();
        let _ = http.join();
    })
}

/// QuestDB's `AbstractIODispatcher`: accept below the limit; at the limit stop accepting,
/// and close the listening socket once the queue timeout has passed; listen again below it.
fn accept_loop(shared: &Arc<Shared>, listener: TcpListener, server: Server) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let mut listener = Some(listener);
    let mut handlers: Vec<JoinHandle<()>> = Vec::new();
    let counters = shared.counters(server);
    loop {
        if server == Server::Http {
            // Bound, accepting nothing, while the engine starts.
            let mut started = lock(&shared.engine_started);
            while !*started && !shared.stopping() {
                started = shared
                    .engine_changed
                    .wait(started)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        let at_limit = shared.wait_for(server, shared.queue_timeout, |s| s.open < shared.limit);
        if shared.stopping() {
            break;
        }
        if at_limit.open >= shared.limit {
            // Still full after the queue timeout: QuestDB closes its listener, so clients
            // in the backlog are reset and new ones refused.
            listener = None;
            shared.set_listening(server, false);
            shared.wait_for(server, Duration::MAX, |s| s.open < shared.limit);
            continue;
        }
        let Some(active) = &listener else {
            match bind(port) {
                Ok(rebound) => {
                    listener = Some(rebound);
                    shared.set_listening(server, true);
                }
                Err(err) => {
                    eprintln!("questdb stand-in: cannot listen again: {err}");
                    break;
                }
            }
            continue;
        };
        let Ok((stream, _)) = active.accept() else {
            continue;
        };
        if shared.stopping() {
            break;
        }
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.streams).push((id, clone));
        }
        {
            let mut state = lock(&counters.state);
            state.open += 1;
            counters.peak.fetch_max(state.open, Ordering::SeqCst);
        }
        counters.accepted.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(shared);
        handlers.push(thread::spawn(move || {
            // The stand-in never closes a connection itself while it runs: however the
            // handler ended (EOF or a broken connection), the client ended it.
            let _ = handle(&shared, stream, server);
            lock(&shared.streams).retain(|(other, _)| *other != id);
            let counters = shared.counters(server);
            if !shared.stopping() {
                counters.closed.fetch_add(1, Ordering::SeqCst);
            }
            lock(&counters.state).open -= 1;
            counters.changed.notify_all();
        }));
        handlers.retain(|h| !h.is_finished());
    }
    drop(listener);
    shared.set_listening(server, false);
    for handler in handlers {
        let _ = handler.join();
    }
}

/// Serves one connection until the client closes it: keep-alive whatever the request
/// says, as QuestDB does.
fn handle(shared: &Shared, stream: TcpStream, server: Server) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        let mut authorization = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.trim().eq_ignore_ascii_case("authorization")
            {
                authorization = Some(value.trim().to_owned());
            }
        }
        shared
            .counters(server)
            .requests
            .fetch_add(1, Ordering::SeqCst);
        let authorized = match (&shared.authorization, &authorization) {
            (None, _) => true,
            (Some(expected), Some(given)) => basic_matches(expected, given),
            (Some(_), None) => false,
        };
        let response = match server {
            Server::MinHealth if !authorized => format!(
                "HTTP/1.1 401 Unauthorized\r\nServer: questDB/1.0\r\n{AUTHENTICATE}\r\nContent-Length: 0\r\n\r\n"
            ),
            Server::MinHealth if shared.unhealthy.load(Ordering::SeqCst) => {
                health_response("500 Internal Server Error", "Status: Unhealthy\nUnhandled errors: 1")
            }
            Server::MinHealth => health_response("200 OK", "Status: Healthy"),
            Server::Http if path.split('?').next() == Some("/ping") => {
                "HTTP/1.1 204 No Content\r\nServer: questDB/1.0\r\nX-Influxdb-Version: v2.2.2\r\n\r\n"
                    .to_owned()
            }
            Server::Http => {
                "HTTP/1.1 404 Not Found\r\nServer: questDB/1.0\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nNot Found"
                    .to_owned()
            }
        };
        writer.write_all(response.as_bytes())?;
        writer.flush()?;
    }
}

/// The scheme is case-insensitive (RFC 9110); the credentials are compared exactly.
fn basic_matches(expected: &str, given: &str) -> bool {
    let (Some((_, want)), Some((scheme, got))) = (expected.split_once(' '), given.split_once(' '))
    else {
        return false;
    };
    scheme.eq_ignore_ascii_case("basic") && got.trim() == want
}

/// QuestDB's min server answers `text/plain` with chunked transfer encoding.
fn health_response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nServer: questDB/1.0\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    )
}

/// Standard base64 with padding (RFC 4648), for the Basic credentials.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read};

    use super::*;

    /// Generous for a loaded 2-core machine; only reached when something is wrong.
    const GENEROUS: Duration = Duration::from_secs(30);

    fn request(stream: &mut TcpStream, path: &str, extra: &str) -> String {
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"
        )
        .unwrap();
        stream.set_read_timeout(Some(GENEROUS)).unwrap();
        let mut buf = [0_u8; 1024];
        let n = stream.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn get(port: u16, path: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        request(&mut stream, path, "")
    }

    /// Whether the server has closed `stream` (EOF or reset) within `wait`.
    fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
        stream.set_read_timeout(Some(wait)).unwrap();
        match stream.read(&mut [0_u8; 64]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("admin:quest", "YWRtaW46cXVlc3Q="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn stand_in_answers_like_questdb() {
        let qdb = QuestDbStandIn::start().unwrap();
        let health = get(qdb.health_port(), "/anything");
        assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
        assert!(
            health.contains("\r\nf\r\nStatus: Healthy\r\n0\r\n\r\n"),
            "{health}"
        );
        let ping = get(qdb.http_port(), "/ping");
        assert!(ping.starts_with("HTTP/1.1 204 No Content\r\n"), "{ping}");
        assert!(ping.contains("\r\nX-Influxdb-Version: "), "{ping}");
        qdb.set_healthy(false);
        let unhealthy = get(qdb.health_port(), "/status");
        assert!(unhealthy.starts_with("HTTP/1.1 500"), "{unhealthy}");
        assert_eq!(qdb.health_requests(), 2);
    }

    #[test]
    fn stand_in_with_http_auth_answers_401_without_the_credentials() {
        let qdb = QuestDbStandIn::builder()
            .http_auth("admin", "s3cret")
            .start()
            .unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", qdb.health_port())).unwrap();
        let missing = request(&mut stream, "/status", "");
        assert!(missing.starts_with("HTTP/1.1 401 "), "{missing}");
        assert!(missing.contains(AUTHENTICATE), "{missing}");
        // QuestDB keeps the connection after a 401: the next request on it is served.
        let wrong = request(
            &mut stream,
            "/status",
            &format!("Authorization: Basic {}\r\n", base64(b"admin:quest")),
        );
        assert!(wrong.starts_with("HTTP/1.1 401 "), "{wrong}");
        let right = request(
            &mut stream,
            "/status",
            &format!("Authorization: basic {}\r\n", base64(b"admin:s3cret")),
        );
        assert!(right.starts_with("HTTP/1.1 200 OK"), "{right}");
        // /ping never asks for credentials.
        assert!(get(qdb.http_port(), "/ping").starts_with("HTTP/1.1 204"));
    }

    #[test]
    fn stand_in_keeps_connections_open_despite_connection_close() {
        let qdb = QuestDbStandIn::start().unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", qdb.health_port())).unwrap();
        let answer = request(&mut stream, "/", "");
        assert!(answer.contains("Status: Healthy"), "{answer}");
        assert!(
            !closed_by_server(&mut stream, Duration::from_millis(300)),
            "the server closed on `Connection: close`"
        );
        assert_eq!(qdb.open_health_connections(), 1);
        drop(stream);
        assert!(qdb.wait_until_idle(GENEROUS));
        assert_eq!(qdb.closed_by_client(Server::MinHealth), 1);
    }

    #[test]
    fn stand_in_at_its_limit_stops_accepting_then_closes_its_listener() {
        let queue_timeout = Duration::from_millis(300);
        let qdb = QuestDbStandIn::builder()
            .connection_limit(2)
            .queue_timeout(queue_timeout)
            .start()
            .unwrap();
        let idle: Vec<_> = (0..2)
            .map(|_| {
                let mut s = TcpStream::connect(("127.0.0.1", qdb.health_port())).unwrap();
                // A completed request proves the connection was accepted.
                assert!(request(&mut s, "/", "").contains("Healthy"));
                s
            })
            .collect();
        assert_eq!(qdb.open_health_connections(), 2);
        // The next one connects (backlog) but is not served...
        let mut queued = TcpStream::connect(("127.0.0.1", qdb.health_port())).unwrap();
        write!(queued, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        // ...and once the queue timeout has passed the listener is closed: the queued
        // client is reset, a new one refused.
        assert!(qdb.wait_until_listening(Server::MinHealth, false, GENEROUS));
        assert!(closed_by_server(&mut queued, GENEROUS));
        let refused = TcpStream::connect(("127.0.0.1", qdb.health_port())).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
        assert_eq!(qdb.accepted_connections(Server::MinHealth), 2);
        // Below the limit it listens again.
        drop(idle);
        assert!(qdb.wait_until_listening(Server::MinHealth, true, GENEROUS));
        assert!(get(qdb.health_port(), "/").contains("Status: Healthy"));
        assert_eq!(qdb.peak_health_connections(), 2);
    }

    #[test]
    fn stand_in_engine_starting_binds_http_but_accepts_nothing() {
        let qdb = QuestDbStandIn::builder().engine_starting().start().unwrap();
        // The min server answers while the engine starts.
        assert!(get(qdb.health_port(), "/").contains("Status: Healthy"));
        // The HTTP port takes the TCP connection and answers nothing.
        let mut early = TcpStream::connect(("127.0.0.1", qdb.http_port())).unwrap();
        write!(early, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        early
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let err = early.read(&mut [0_u8; 64]).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{err}"
        );
        assert_eq!(qdb.accepted_connections(Server::Http), 0);
        // Once started, the waiting client is served.
        qdb.engine_started();
        early.set_read_timeout(Some(GENEROUS)).unwrap();
        let mut buf = [0_u8; 256];
        let n = early.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 204"));
    }

    #[test]
    fn held_stand_in_starts_when_its_starter_says_so() {
        let qdb = QuestDbStandIn::builder().held().start().unwrap();
        assert!(!qdb.wait_until_listening(Server::MinHealth, true, Duration::from_millis(300)));
        assert!(TcpStream::connect(("127.0.0.1", qdb.health_port())).is_err());
        qdb.starter().unwrap().start();
        assert!(qdb.wait_until_listening(Server::MinHealth, true, GENEROUS));
        assert!(get(qdb.health_port(), "/").contains("Status: Healthy"));
    }

    #[test]
    fn stand_in_starts_after_its_delay() {
        let qdb = QuestDbStandIn::start_after(Duration::from_millis(300)).unwrap();
        assert!(TcpStream::connect(("127.0.0.1", qdb.health_port())).is_err());
        assert!(qdb.wait_until_listening(Server::MinHealth, true, GENEROUS));
        assert!(get(qdb.health_port(), "/").contains("Status: Healthy"));
    }
}
