//! What Redis and PostgreSQL servers share: a temp dir, a reserved port, a child process
//! started now or after a delay, a readiness poll, and a stop on drop.
//!
//! It must never leave a server running after its handle is dropped, even when the test
//! panicked or the delayed start had not happened yet.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Child,
    sync::{Arc, Condvar, Mutex, PoisonError, mpsc},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use nix::{sys::signal, unistd::Pid};
use tempfile::TempDir;

use crate::{Error, Result};

/// How long a server may take to become ready before the test kit gives up.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often readiness is polled while waiting; short, so tests start fast.
const POLL: Duration = Duration::from_millis(2);

/// A loopback port that was free a moment ago.
///
/// The port is released before it is returned, so another process could take it in
/// between; on a test machine that is rare enough, and the server start then fails loudly.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("the loopback interface accepts a bind to port 0")
}

/// One kind of server: how to start it, how to tell that it is ready, how to stop it.
pub(crate) trait Flavor: Send + Sync + 'static {
    /// Name used in messages (`redis-server`, `postgres`).
    const NAME: &'static str;
    /// Signal asking the server to exit quickly but cleanly.
    const STOP_SIGNAL: signal::Signal;
    /// Prepares the directory and spawns the server in the foreground.
    fn spawn(&self, dir: &Path, port: u16) -> Result<Child>;
    /// Whether the server answers now.
    fn is_ready(&self, dir: &Path, port: u16) -> bool;
    /// The server's log file, for error messages.
    fn log_file(&self, dir: &Path) -> PathBuf;
}

#[derive(Debug)]
enum State {
    /// Waiting for its delay to pass.
    Pending,
    Running(Child),
    Failed(String),
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// A running (or about to run) server process.
#[derive(Debug)]
pub(crate) struct Instance<F: Flavor> {
    flavor: Arc<F>,
    port: u16,
    shared: Arc<Shared>,
    /// Tells a pending start to happen now (`true`) or never (`false`, sent on drop).
    cancel: Option<mpsc::Sender<bool>>,
    starter: Option<JoinHandle<()>>,
    // Declared last: removed after the process is gone.
    dir: Arc<TempDir>,
}

impl<F: Flavor> Instance<F> {
    /// Starts the server and waits until it is ready.
    pub(crate) fn start(flavor: F) -> Result<Self> {
        let instance = Self::launch(flavor, None)?;
        instance.wait_until_ready(START_TIMEOUT)?;
        Ok(instance)
    }

    /// Returns at once; the server is spawned in the background once `delay` has passed.
    pub(crate) fn start_after(flavor: F, delay: Duration) -> Result<Self> {
        Self::launch(flavor, Some(Some(delay)))
    }

    /// Returns at once; the server is spawned when a [`Starter`] from
    /// [`Instance::starter`] says so.
    pub(crate) fn start_held(flavor: F) -> Result<Self> {
        Self::launch(flavor, Some(None))
    }

    /// A handle that starts a pending server now; `None` once it is no longer pending
    /// (started without delay).
    pub(crate) fn starter(&self) -> Option<Starter> {
        self.cancel.clone().map(Starter)
    }

    /// `delay`: `None` starts now, `Some(Some(d))` after `d`, `Some(None)` when told.
    fn launch(flavor: F, delay: Option<Option<Duration>>) -> Result<Self> {
        let dir = Arc::new(
            tempfile::Builder::new()
                .prefix("preflight-testkit-")
                .tempdir_in(crate::scratch_root())
                .map_err(Error::io("creating a temp dir", crate::scratch_root()))?,
        );
        let flavor = Arc::new(flavor);
        let port = free_port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::Pending),
            changed: Condvar::new(),
        });
        let mut instance = Self {
            flavor,
            port,
            shared,
            cancel: None,
            starter: None,
            dir,
        };
        match delay {
            None => {
                let child = instance.flavor.spawn(instance.dir.path(), port)?;
                instance.set_state(State::Running(child));
            }
            Some(delay) => {
                let (cancel, cancelled) = mpsc::channel::<bool>();
                let (flavor, dir, shared) = (
                    Arc::clone(&instance.flavor),
                    Arc::clone(&instance.dir),
                    Arc::clone(&instance.shared),
                );
                let starter = thread::Builder::new()
                    .name(format!("start-{}", F::NAME))
                    .spawn(move || {
                        // `recv_timeout` doubles as a cancellable sleep: the handle's drop
                        // sends `false` and ends the wait early; a `Starter` sends `true`.
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
                        let state = match flavor.spawn(dir.path(), port) {
                            Ok(child) => State::Running(child),
                            Err(error) => State::Failed(error.to_string()),
                        };
                        *shared.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
                        shared.changed.notify_all();
                    })
                    .map_err(Error::io(
                        "spawning the delayed-start thread",
                        dir_path(&instance.dir),
                    ))?;
                instance.cancel = Some(cancel);
                instance.starter = Some(starter);
            }
        }
        Ok(instance)
    }

    fn set_state(&self, state: State) {
        *self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = state;
        self.shared.changed.notify_all();
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Blocks until the server answers, it exits, or `timeout` passes.
    pub(crate) fn wait_until_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let not_ready = |reason: String| Error::NotReady {
            service: F::NAME,
            port: self.port,
            reason,
            log_tail: log_tail(&self.flavor.log_file(self.dir.path())),
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(not_ready(format!("not ready after {timeout:?}")));
            }
            let mut state = self
                .shared
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &mut *state {
                State::Pending => {
                    // Not spawned yet: sleep until the starter thread reports.
                    drop(
                        self.shared
                            .changed
                            .wait_timeout(state, deadline - now)
                            .unwrap_or_else(PoisonError::into_inner),
                    );
                    continue;
                }
                State::Failed(reason) => return Err(not_ready(reason.clone())),
                State::Running(child) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(not_ready(format!("the server exited with {status}")));
                    }
                }
            }
            drop(state);
            if self.flavor.is_ready(self.dir.path(), self.port) {
                return Ok(());
            }
            #[allow(
                clippy::disallowed_methods,
                reason = "polling a foreign server's readiness: there is no event to wait on"
            )]
            thread::sleep(POLL);
        }
    }
}

/// Starts a server that was created held (or with a delay) now, from any thread: for
/// tests that start a service at the moment a client first fails to reach it. Starting
/// twice, or after the server started or was dropped, does nothing.
#[derive(Clone, Debug)]
pub struct Starter(pub(crate) mpsc::Sender<bool>);

impl Starter {
    /// Starts the server now if it is still pending.
    pub fn start(&self) {
        let _ = self.0.send(true);
    }
}

fn dir_path(dir: &TempDir) -> PathBuf {
    dir.path().to_path_buf()
}

impl<F: Flavor> Drop for Instance<F> {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            // Explicit: a `Starter` clone elsewhere keeps the channel connected.
            let _ = cancel.send(false);
        }
        if let Some(starter) = self.starter.take() {
            let _ = starter.join();
        }
        let state = std::mem::replace(
            &mut *self
                .shared
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            State::Pending,
        );
        if let State::Running(mut child) = state {
            stop(&mut child, F::STOP_SIGNAL);
        }
    }
}

/// Asks the process to stop with `sig`; kills it if it is still there after a grace period.
fn stop(child: &mut Child, sig: signal::Signal) {
    let Ok(raw) = i32::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    if signal::kill(Pid::from_raw(raw), sig).is_ok() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            #[allow(
                clippy::disallowed_methods,
                reason = "waiting for a child to exit with a deadline: std has no timed wait"
            )]
            thread::sleep(Duration::from_millis(5));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last lines of a log file, or a note that there is none.
fn log_tail(path: &Path) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }
        Err(error) => format!("(no log at {}: {error})", path.display()),
    }
}
