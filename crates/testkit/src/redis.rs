//! A throw-away `redis-server` on a free loopback port.

use std::{
    fs::File,
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use nix::sys::signal::Signal;

use crate::{
    Error, Result, find_program,
    instance::{Flavor, Instance},
};

/// A `redis-server` that keeps nothing on disk, stopped and removed on drop.
///
/// ```no_run
/// let redis = preflight_testkit::RedisServer::start()?;
/// assert!(redis.url().starts_with("redis://127.0.0.1:"));
/// # Ok::<(), preflight_testkit::Error>(())
/// ```
#[derive(Debug)]
pub struct RedisServer {
    instance: Instance<Redis>,
    password: Option<String>,
}

/// Options for a [`RedisServer`].
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct RedisBuilder {
    password: Option<String>,
    delay: Option<Duration>,
    held: bool,
}

impl RedisBuilder {
    /// Requires clients to authenticate with this password (`requirepass`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Starts the server in the background after `delay`; `start` then returns at once.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Reserves the port and returns at once; the server starts when the
    /// [`crate::Starter`] from `starter()` says so (or never, if the handle is dropped
    /// first). For tests that start a service the moment a client first fails to reach
    /// it, instead of racing a delay against the first attempt.
    pub fn held(mut self) -> Self {
        self.held = true;
        self
    }

    /// Starts the server; without a delay, returns once it answers `PING`.
    pub fn start(self) -> Result<RedisServer> {
        let flavor = Redis {
            binary: find_program("redis-server", "Debian: apt-get install redis-server")?,
            password: self.password.clone(),
        };
        let instance = match (self.held, self.delay) {
            (true, _) => Instance::start_held(flavor)?,
            (false, None) => Instance::start(flavor)?,
            (false, Some(delay)) => Instance::start_after(flavor, delay)?,
        };
        Ok(RedisServer {
            instance,
            password: self.password,
        })
    }
}

impl RedisServer {
    /// Options: password, delayed start.
    pub fn builder() -> RedisBuilder {
        RedisBuilder::default()
    }

    /// Starts a server and returns once it answers `PING`.
    pub fn start() -> Result<Self> {
        Self::builder().start()
    }

    /// Returns at once with the port reserved; the server starts after `delay`.
    pub fn start_after(delay: Duration) -> Result<Self> {
        Self::builder().delay(delay).start()
    }

    /// Starts a server built with `held()` (or still waiting for its delay) now, from
    /// any thread; `None` for a server started without delay.
    #[must_use]
    pub fn starter(&self) -> Option<crate::Starter> {
        self.instance.starter()
    }

    /// The loopback port it listens on (or will).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.instance.port()
    }

    /// `127.0.0.1:PORT`.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port()))
    }

    /// `redis://127.0.0.1:PORT`, with `:PASSWORD@` when one is set.
    #[must_use]
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port()),
            None => format!("redis://127.0.0.1:{}", self.port()),
        }
    }

    /// Blocks until the server answers `PING` (for servers started with a delay).
    pub fn wait_until_ready(&self, timeout: Duration) -> Result<()> {
        self.instance.wait_until_ready(timeout)
    }
}

#[derive(Debug)]
struct Redis {
    binary: PathBuf,
    password: Option<String>,
}

impl Flavor for Redis {
    const NAME: &'static str = "redis-server";
    const STOP_SIGNAL: Signal = Signal::SIGTERM;

    fn spawn(&self, dir: &Path, port: u16) -> Result<Child> {
        let log = self.log_file(dir);
        let log_file = File::create(&log).map_err(Error::io("creating the log file", &log))?;
        let mut command = Command::new(&self.binary);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(
                log_file
                    .try_clone()
                    .map_err(Error::io("opening the log file", &log))?,
            )
            .stderr(log_file);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        command
            .spawn()
            .map_err(Error::io("spawning redis-server", &self.binary))
    }

    fn is_ready(&self, _dir: &Path, port: u16) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0_u8; 16];
        // A server with a password answers -NOAUTH: it is up, which is all this asks.
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read(&mut reply).is_ok_and(|n| {
                reply[..n].starts_with(b"+PONG") || reply[..n].starts_with(b"-NOAUTH")
            })
    }

    fn log_file(&self, dir: &Path) -> PathBuf {
        dir.join("redis.log")
    }
}
