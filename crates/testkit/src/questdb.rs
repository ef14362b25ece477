//! A stand-in for QuestDB's HTTP endpoints, because QuestDB cannot be installed on this
//! machine. Tests that use it must say "stand_in" in their names.
//!
//! It reproduces the documented behaviour a readiness probe depends on, and nothing else:
//!
//! - the **min-health server** (QuestDB's `:9003`): any path answers `200`,
//!   `Server: questDB/1.0`, `Content-Type: text/plain`, chunked body `Status: Healthy`;
//!   in "pessimistic" mode with unhandled errors it answers `500` with body
//!   `Status: Unhealthy\nUnhandled errors: N` ([`QuestDbStandIn::set_healthy`]). Like the
//!   real one (`http.min.net.connection.limit=4`) it serves at most **4 connections** at
//!   once and keeps idle connections open (HTTP/1.1 keep-alive) until the client closes
//!   them; a fifth connection is not accepted while 4 are open, so it waits unanswered in
//!   the kernel's backlog. A client that leaks connections therefore locks itself out, as
//!   it would against QuestDB.
//! - the **HTTP server** (QuestDB's `:9000`): `GET /ping` answers `204` with an
//!   `X-Influxdb-Version` header and no body; other paths answer `404` (the web console,
//!   `/exec` and the rest are not reproduced).
//!
//! The PostgreSQL wire port is not part of the stand-in: test it against a real
//! PostgreSQL ([`crate::PostgresServer`]) set up with QuestDB's role and database.

use std::{
    io::{self, BufRead, BufReader, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        Arc, Condvar, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle},
    time::Duration,
};

use crate::{Error, Result, free_port};

/// QuestDB's `http.min.net.connection.limit` default.
pub const MIN_HEALTH_CONNECTION_LIMIT: usize = 4;

/// How often a full accept loop re-checks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// A running (or about to run) stand-in for QuestDB's min-health and HTTP servers on
/// loopback ports. Stopped on drop: listeners closed, open connections shut down.
#[derive(Debug)]
pub struct QuestDbStandIn {
    health_port: u16,
    http_port: u16,
    shared: Arc<Shared>,
    cancel: Option<mpsc::Sender<()>>,
    starter: Option<JoinHandle<()>>,
}

impl QuestDbStandIn {
    /// Starts both servers; they accept connections when this returns.
    ///
    /// # Errors
    /// [`Error::Io`] if a loopback port cannot be bound.
    pub fn start() -> Result<Self> {
        let shared = Arc::new(Shared::default());
        let health = bind(0)?;
        let http = bind(0)?;
        let (health_port, http_port) = (port_of(&health)?, port_of(&http)?);
        let servers = serve(&shared, health, http);
        Ok(Self {
            health_port,
            http_port,
            shared,
            cancel: None,
            starter: Some(servers),
        })
    }

    /// Returns at once with the ports known; nothing listens on them until `delay` has
    /// passed (dropping the handle earlier cancels the start).
    ///
    /// # Errors
    /// None today; the signature matches the other servers of the test kit. A port taken
    /// by another process in the meantime shows up as a server that never answers.
    pub fn start_after(delay: Duration) -> Result<Self> {
        let shared = Arc::new(Shared::default());
        let (health_port, http_port) = (free_port(), free_port());
        let (cancel, cancelled) = mpsc::channel::<()>();
        let starter_shared = Arc::clone(&shared);
        let starter = thread::spawn(move || {
            // A message or a hang-up both mean: the handle was dropped, do not start.
            if cancelled.recv_timeout(delay) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            match (bind(health_port), bind(http_port)) {
                (Ok(health), Ok(http)) => {
                    let _ = serve(&starter_shared, health, http).join();
                }
                (health, http) => {
                    eprintln!(
                        "questdb stand-in: cannot bind its ports: {:?} {:?}",
                        health.err(),
                        http.err()
                    );
                }
            }
        });
        Ok(Self {
            health_port,
            http_port,
            shared,
            cancel: Some(cancel),
            starter: Some(starter),
        })
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

    /// Connections the min-health server holds open right now.
    #[must_use]
    pub fn open_health_connections(&self) -> usize {
        *lock(&self.shared.active)
    }

    /// The most connections the min-health server ever held open at once.
    #[must_use]
    pub fn peak_health_connections(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    /// Requests the min-health server has answered.
    #[must_use]
    pub fn health_requests(&self) -> usize {
        self.shared.health_requests.load(Ordering::SeqCst)
    }
}

impl Drop for QuestDbStandIn {
    fn drop(&mut self) {
        self.cancel.take();
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.freed.notify_all();
        // Wake the accept loops blocked in accept().
        for port in [self.health_port, self.http_port] {
            let _ = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), STOP_CHECK);
        }
        for (_, stream) in lock(&self.shared.streams).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(starter) = self.starter.take() {
            let _ = starter.join();
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    unhealthy: AtomicBool,
    /// Open min-health connections, guarded for the limit.
    active: Mutex<usize>,
    freed: Condvar,
    peak: AtomicUsize,
    health_requests: AtomicUsize,
    /// Clones of every open connection by id, shut down on drop so no handler thread
    /// lingers; a handler removes its own when it ends, so the server side really closes.
    streams: Mutex<Vec<(u64, TcpStream)>>,
    next_id: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
    thread::spawn(move || {
        let health = thread::spawn(move || accept_loop(&health_shared, &health, Server::MinHealth));
        let http = thread::spawn(move || accept_loop(&http_shared, &http, Server::Http));
        let _ = health.join();
        let _ = http.join();
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    MinHealth,
    Http,
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, server: Server) {
    let mut handlers = Vec::new();
    loop {
        if server == Server::MinHealth {
            // QuestDB stops accepting at the limit: the next client waits in the backlog.
            let mut active = lock(&shared.active);
            while *active >= MIN_HEALTH_CONNECTION_LIMIT && !shared.stop.load(Ordering::SeqCst) {
                active = shared
                    .freed
                    .wait_timeout(active, STOP_CHECK)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.streams).push((id, clone));
        }
        if server == Server::MinHealth {
            let mut active = lock(&shared.active);
            *active += 1;
            shared.peak.fetch_max(*active, Ordering::SeqCst);
        }
        let shared = Arc::clone(shared);
        handlers.push(thread::spawn(move || {
            let _ = handle(&shared, stream, server);
            lock(&shared.streams).retain(|(other, _)| *other != id);
            if server == Server::MinHealth {
                *lock(&shared.active) -= 1;
                shared.freed.notify_all();
            }
        }));
        handlers.retain(|h: &JoinHandle<()>| !h.is_finished());
    }
    for handler in handlers {
        let _ = handler.join();
    }
}

/// Serves one keep-alive connection until the client closes it (or asks to).
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
        let mut close = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                close |= name.trim().eq_ignore_ascii_case("connection")
                    && value.trim().eq_ignore_ascii_case("close");
            }
        }
        let response = match server {
            Server::MinHealth => {
                shared.health_requests.fetch_add(1, Ordering::SeqCst);
                if shared.unhealthy.load(Ordering::SeqCst) {
                    health_response("500 Internal Server Error", "Status: Unhealthy\nUnhandled errors: 1")
                } else {
                    health_response("200 OK", "Status: Healthy")
                }
            }
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
        if close {
            return Ok(());
        }
    }
}

/// QuestDB's min server answers `text/plain` with chunked transfer encoding.
fn health_response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nServer: questDB/1.0\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn get(port: u16, path: &str, close: bool) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let connection = if close { "close" } else { "keep-alive" };
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: {connection}\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        if close {
            stream.read_to_string(&mut response).unwrap();
        } else {
            let mut buf = [0_u8; 1024];
            let n = stream.read(&mut buf).unwrap();
            response.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        response
    }

    #[test]
    fn stand_in_answers_like_questdb() {
        let qdb = QuestDbStandIn::start().unwrap();
        let health = get(qdb.health_port(), "/anything", true);
        assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
        assert!(
            health.contains("\r\nf\r\nStatus: Healthy\r\n0\r\n\r\n"),
            "{health}"
        );
        let ping = get(qdb.http_port(), "/ping", true);
        assert!(ping.starts_with("HTTP/1.1 204 No Content\r\n"), "{ping}");
        qdb.set_healthy(false);
        let unhealthy = get(qdb.health_port(), "/status", true);
        assert!(unhealthy.starts_with("HTTP/1.1 500"), "{unhealthy}");
        assert_eq!(qdb.health_requests(), 2);
    }

    #[test]
    fn stand_in_holds_at_most_four_connections() {
        let qdb = QuestDbStandIn::start().unwrap();
        let idle: Vec<_> = (0..MIN_HEALTH_CONNECTION_LIMIT)
            .map(|_| {
                let mut s = TcpStream::connect(("127.0.0.1", qdb.health_port())).unwrap();
                // A completed request proves the connection was accepted.
                write!(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                let mut buf = [0_u8; 256];
                assert!(s.read(&mut buf).unwrap() > 0);
                s
            })
            .collect();
        assert_eq!(qdb.open_health_connections(), MIN_HEALTH_CONNECTION_LIMIT);
        // The fifth connects at TCP level (backlog) but gets no answer.
        let mut fifth = TcpStream::connect(("127.0.0.1", qdb.health_port())).unwrap();
        fifth
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        write!(fifth, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0_u8; 256];
        assert!(
            fifth.read(&mut buf).is_err(),
            "a fifth connection was served"
        );
        // Closing one lets the fifth in.
        drop(idle);
        fifth
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert!(fifth.read(&mut buf).unwrap() > 0);
        assert_eq!(qdb.peak_health_connections(), MIN_HEALTH_CONNECTION_LIMIT);
    }

    #[test]
    fn stand_in_starts_after_its_delay() {
        let qdb = QuestDbStandIn::start_after(Duration::from_millis(300)).unwrap();
        assert!(TcpStream::connect(("127.0.0.1", qdb.health_port())).is_err());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", qdb.health_port())).is_err() {
            assert!(std::time::Instant::now() < deadline, "never started");
            thread::park_timeout(Duration::from_millis(5));
        }
        assert!(get(qdb.health_port(), "/", true).contains("Status: Healthy"));
    }
}
