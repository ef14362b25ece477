//! Shared helpers: waiting on conditions the code under test produces, and process checks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Generous: these bound waits for things that normally take milliseconds, on a loaded
/// 2-core machine.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `cond` every 10 ms until it holds; panics with `what` after `PATIENCE`.
pub(crate) async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Blocking variant for tests that drive external processes.
pub(crate) fn wait_until_blocking(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        #[allow(
            clippy::disallowed_methods,
            reason = "polling a condition an external process produces"
        )]
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True while `pid` is a live process (zombies count as gone: they have exited).
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Pids written one per line by test commands (`echo $$ >> file`).
pub(crate) fn pids(path: &Path) -> Vec<u32> {
    read(path)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The crate's `supervise` example, which cargo builds alongside the tests.
pub(crate) fn supervise_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let bin = dir.join("examples").join("supervise");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test -p preflight-asset-watch` (which builds examples)",
        bin.display()
    );
    bin
}

/// Kills a supervisor under test if the test fails before it ends it, so a failed
/// assertion leaves no process behind. After a normal end the pid is already reaped and
/// the SIGKILL finds nothing.
pub(crate) struct KillOnDrop(pub(crate) u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0.cast_signed()),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The lines a child prints on stdout, read on a thread, waited on with a bound. Its
/// stderr, when piped, is collected too and shown when a wait fails.
pub(crate) struct OutputLines {
    lines: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    /// Every line received so far, in order (for [`OutputLines::rest`]).
    seen: std::cell::RefCell<Vec<String>>,
}

impl OutputLines {
    /// Takes the child's piped stdout (and stderr, if piped) and reads them in the
    /// background.
    pub(crate) fn of(child: &mut std::process::Child) -> Self {
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = std::sync::Arc::clone(&stderr);
            std::thread::spawn(move || {
                use std::io::Read as _;
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        Self {
            lines: rx,
            stderr,
            seen: std::cell::RefCell::default(),
        }
    }

    /// Returns the next line that satisfies `pred`; panics naming `what` after `PATIENCE`,
    /// or at once when the child closes its stdout.
    pub(crate) fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut skipped: Vec<String> = Vec::new();
        loop {
            let line = self.lines.recv_timeout(PATIENCE).unwrap_or_else(|e| {
                let last = skipped.len().saturating_sub(20);
                let why = match e {
                    std::sync::mpsc::RecvTimeoutError::Timeout => "no output line",
                    // Not a slow child: it closed its stdout (exited, or printed a line
                    // that is not UTF-8).
                    std::sync::mpsc::RecvTimeoutError::Disconnected => "stdout closed before",
                };
                let stderr = String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned();
                panic!(
                    "{why}: {what}; last lines seen:\n{}\nstderr:\n{stderr}",
                    skipped[last..].join("\n")
                )
            });
            self.seen.borrow_mut().push(line.clone());
            if pred(&line) {
                return line;
            }
            skipped.push(line);
        }
    }

    /// Waits until the child closes its stdout (each line within `PATIENCE`) and returns
    /// everything it printed, including the lines earlier waits consumed, one `\n` each.
    pub(crate) fn rest(&self) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => self.seen.borrow_mut().push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("stdout still open after {PATIENCE:?} without a line")
                }
            }
        }
        self.seen
            .borrow()
            .iter()
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Returns the next line containing `needle`.
    pub(crate) fn wait_line(&self, needle: &str) -> String {
        self.wait_for(&format!("containing {needle:?}"), |line| {
            line.contains(needle)
        })
    }
}
