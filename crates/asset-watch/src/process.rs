//! One running command: its process group, how it ended, and how it is stopped.
//!
//! Signals always go to the whole process group (the child is its leader), so a shell's
//! children and a dev server's workers go with it. Stopping is: the stop signal, a grace
//! period, SIGKILL; and SIGKILL again for stragglers once the leader is gone.
//!
//! However the leader ends, what it left behind (a background job, a double-forked or
//! `setsid` daemon) is found by its run token and stopped the same way before the run
//! counts as over: nothing a run started outlives it.
//!
//! Stdin is always a pipe held open by the supervisor: watch-mode compilers (esbuild,
//! tailwindcss) exit when their stdin closes, and a process in its own group cannot read
//! the terminal without being stopped (SIGTTIN).

use std::fmt;
use std::future::Future;
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::task::JoinHandle;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::spawner;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal (this number) ended it.
    Signal(i32),
}

impl Exit {
    /// True for exit code 0.
    #[must_use]
    pub fn success(self) -> bool {
        self == Self::Code(0)
    }

    /// The code a shell would report: the exit code, or 128 + the signal number.
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            Self::Code(c) => c,
            Self::Signal(s) => 128 + s,
        }
    }

    fn from_std(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt as _;
        match (status.code(), status.signal()) {
            (Some(c), _) => Self::Code(c),
            (None, Some(s)) => Self::Signal(s),
            (None, None) => Self::Code(1),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Code(c) => write!(f, "exited with code {c}"),
            Self::Signal(s) => match Signal::try_from(s) {
                Ok(sig) => write!(f, "killed by {}", sig.as_str()),
                Err(_) => write!(f, "killed by signal {s}"),
            },
        }
    }
}

/// A signal used to stop a process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StopSignal {
    /// SIGTERM (the default).
    #[default]
    Term,
    /// SIGINT, what Ctrl-C sends.
    Int,
    /// SIGHUP.
    Hup,
    /// SIGQUIT.
    Quit,
    /// SIGKILL: no grace period is possible.
    Kill,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2 (nodemon's default restart signal).
    Usr2,
}

impl StopSignal {
    pub(crate) fn to_nix(self) -> Signal {
        match self {
            Self::Term => Signal::SIGTERM,
            Self::Int => Signal::SIGINT,
            Self::Hup => Signal::SIGHUP,
            Self::Quit => Signal::SIGQUIT,
            Self::Kill => Signal::SIGKILL,
            Self::Usr1 => Signal::SIGUSR1,
            Self::Usr2 => Signal::SIGUSR2,
        }
    }

    pub(crate) fn from_nix(sig: Signal) -> Option<Self> {
        [
            Self::Term,
            Self::Int,
            Self::Hup,
            Self::Quit,
            Self::Kill,
            Self::Usr1,
            Self::Usr2,
        ]
        .into_iter()
        .find(|s| s.to_nix() == sig)
    }

    /// The signal's number.
    #[must_use]
    pub fn number(self) -> i32 {
        self.to_nix() as i32
    }
}

impl FromStr for StopSignal {
    type Err = Error;

    /// Accepts `TERM`, `SIGTERM`, `sigterm` or `15`.
    fn from_str(s: &str) -> Result<Self> {
        let upper = s.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        let sig = match name.parse::<i32>() {
            Ok(n) => Signal::try_from(n).ok(),
            Err(_) => Signal::from_str(&format!("SIG{name}")).ok(),
        };
        sig.and_then(Self::from_nix).ok_or_else(|| {
            Error::config(format!(
                "unknown stop signal `{s}` (use TERM, INT, HUP, QUIT, KILL, USR1 or USR2)"
            ))
        })
    }
}

impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_nix().as_str())
    }
}

/// How to stop a running command: `signal` to its process group, up to `grace` for it to
/// exit, then SIGKILL to the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stop {
    /// The first signal.
    pub signal: StopSignal,
    /// How long to wait before SIGKILL.
    pub grace: Duration,
}

impl Stop {
    /// A stop policy.
    #[must_use]
    pub fn new(signal: StopSignal, grace: Duration) -> Self {
        Self { signal, grace }
    }
}

impl Default for Stop {
    /// SIGTERM, then SIGKILL after 5 s: long enough for a dev server to close its
    /// connections, short enough not to leave a developer waiting.
    fn default() -> Self {
        Self::new(StopSignal::Term, Duration::from_secs(5))
    }
}

/// A started command, leader of its own process group.
#[derive(Debug)]
pub(crate) struct Running {
    name: String,
    child: tokio::process::Child,
    pid: u32,
    started: Instant,
    pumps: Vec<JoinHandle<()>>,
    /// Feeds the writer task that owns the child's stdin; dropping it closes the pipe.
    stdin: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
    exit: Option<Exit>,
    ended: Option<Instant>,
    /// In the environment of the leader and everything it starts.
    token: String,
    /// How leftovers are stopped once the leader is gone.
    leftovers: Stop,
    output: Output,
}

impl Running {
    /// Starts `cmd` (see [`spawner`] for why children cannot outlive us).
    pub(crate) async fn start(
        name: &str,
        cmd: &Command,
        extra_env: &[(String, String)],
        output: &Output,
        leftovers: Stop,
        scope: &str,
    ) -> Result<Self> {
        let mut std_cmd = cmd.to_std();
        for (k, v) in extra_env {
            if !cmd.sets_env(k) {
                std_cmd.env(k, v);
            }
        }
        let token = crate::descendants::new_token(scope);
        std_cmd.env(crate::descendants::RUN_ID_ENV, &token);
        // Always a pipe we hold open (see the module docs), written only when input is
        // routed to this process.
        std_cmd.stdin(Stdio::piped());
        let piped = output.is_piped();
        if piped {
            std_cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            for (k, v) in output.child_env() {
                if !cmd.sets_env(k) {
                    std_cmd.env(k, v);
                }
            }
        }
        let started = Instant::now();
        let mut child = spawner::spawn(std_cmd)
            .await
            .map_err(|source| Error::Spawn {
                name: name.to_owned(),
                command: cmd.to_string(),
                source,
            })?;
        let pid = child.id().unwrap_or_default();
        let stdin = child.stdin.take().map(|mut pipe| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt as _;
                while let Some(bytes) = rx.recv().await {
                    if pipe.write_all(&bytes).await.is_err() || pipe.flush().await.is_err() {
                        break;
                    }
                }
            });
            tx
        });
        let mut pumps = Vec::new();
        if piped {
            if let Some(out) = child.stdout.take() {
                pumps.push(output.pump(out));
            }
            if let Some(err) = child.stderr.take() {
                pumps.push(output.pump(err));
            }
        }
        output.set_pid(pid);
        tracing::debug!(name, pid, command = %cmd, "started");
        Ok(Self {
            name: name.to_owned(),
            child,
            pid,
            started,
            pumps,
            stdin,
            exit: None,
            ended: None,
            token,
            leftovers,
            output: output.clone(),
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Passes input to the process. Never blocks: a writer task owns the pipe, so a
    /// process that does not read cannot hold up the supervisor.
    pub(crate) fn feed(&mut self, bytes: Vec<u8>) {
        if let Some(tx) = &self.stdin
            && tx.send(bytes).is_err()
        {
            // The process closed its stdin: it does not want more.
            self.stdin = None;
        }
    }

    /// Closes the process's stdin (our own input ended).
    pub(crate) fn close_input(&mut self) {
        self.stdin = None;
    }

    /// From spawn to the leader's exit (or to now, while it runs).
    pub(crate) fn duration(&self) -> Duration {
        self.ended.unwrap_or_else(Instant::now) - self.started
    }

    /// Waits for the leader to exit. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let exit = self.reap().await?;
        self.finish(exit).await;
        Ok(exit)
    }

    /// Stops the group: `stop.signal`, up to `stop.grace` (cut short when `escalate`
    /// resolves, e.g. on a second Ctrl-C), SIGKILL; then SIGKILL to stragglers.
    pub(crate) async fn stop(
        &mut self,
        stop: Stop,
        escalate: impl Future<Output = ()>,
    ) -> Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        self.signal(stop.signal.to_nix());
        // Leftovers are stopped the way the run is: with the forwarded signal and its
        // grace, or at once after an escalation.
        self.leftovers = stop;
        let exit = if stop.signal == StopSignal::Kill {
            self.reap().await?
        } else {
            tokio::select! {
                exit = self.reap() => exit?,
                () = tokio::time::sleep(stop.grace) => {
                    tracing::debug!(name = %self.name, pid = self.pid, "grace period over: SIGKILL");
                    self.signal(Signal::SIGKILL);
                    self.reap().await?
                }
                () = escalate => {
                    self.signal(Signal::SIGKILL);
                    self.leftovers = Stop::new(StopSignal::Kill, Duration::ZERO);
                    self.reap().await?
                }
            }
        };
        // The leader is gone but its group may not be: a shell's background jobs, a
        // server's workers. The id cannot be recycled while any member lives.
        self.signal(Signal::SIGKILL);
        self.finish(exit).await;
        Ok(exit)
    }

    async fn reap(&mut self) -> Result<Exit> {
        let status = self.child.wait().await.map_err(|source| Error::Process {
            name: self.name.clone(),
            pid: self.pid,
            source,
        })?;
        self.ended = Some(Instant::now());
        Ok(Exit::from_std(status))
    }

    fn signal(&self, sig: Signal) {
        if self.exit.is_some() {
            // Released: the group id may since have been recycled.
            return;
        }
        let pgid = Pid::from_raw(self.pid.cast_signed());
        if let Err(e) = killpg(pgid, sig)
            && e != nix::errno::Errno::ESRCH
        {
            tracing::warn!(name = %self.name, pid = self.pid, error = %e, "cannot signal process group");
        }
    }

    /// After the leader is reaped: stop its leftovers, let the output pumps catch up (so
    /// the command's last lines come before any status line) and tell the guardian the
    /// group is gone.
    async fn finish(&mut self, exit: Exit) {
        let left = self.stop_leftovers().await;
        self.exit = Some(exit);
        // Pumps end when every holder of the pipes exits; a grandchild that dropped our
        // token can keep them open, so wait briefly and let them run on detached.
        for pump in self.pumps.drain(..) {
            let _ = tokio::time::timeout(Duration::from_millis(200), pump).await;
        }
        if !left.is_empty() {
            self.output.status(&format!(
                "stopped {} leftover process{} ({}) after the command ended",
                left.len(),
                if left.len() == 1 { "" } else { "es" },
                left.iter()
                    .map(|p| format!("pid {p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        spawner::release(self.pid);
    }

    /// Stops whatever the run left behind: its process group and every process carrying
    /// its token (background jobs, `setsid` and double-forked daemons). Returns their pids.
    async fn stop_leftovers(&mut self) -> Vec<u32> {
        let left = crate::descendants::find(crate::descendants::Match::Run(&self.token));
        if !left.is_empty() {
            self.signal(self.leftovers.signal.to_nix());
            crate::descendants::stop(&left, self.leftovers).await;
        }
        // Members that dropped the token (`env -i`) still die with the group.
        self.signal(Signal::SIGKILL);
        crate::descendants::reap_adopted(&mut std::collections::HashSet::new());
        left
    }
}

/// A run dropped while still running (its owner was cancelled) must not outlive it: the
/// group is killed at once, since there is no way to wait out a grace period here.
impl Drop for Running {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.signal(Signal::SIGKILL);
            for pid in crate::descendants::find(crate::descendants::Match::Run(&self.token)) {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid.cast_signed()), Signal::SIGKILL);
            }
            spawner::release(self.pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_signal_parses_names_and_numbers() {
        assert_eq!("TERM".parse::<StopSignal>().unwrap(), StopSignal::Term);
        assert_eq!("sigint".parse::<StopSignal>().unwrap(), StopSignal::Int);
        assert_eq!("9".parse::<StopSignal>().unwrap(), StopSignal::Kill);
        assert_eq!("SIGUSR2".parse::<StopSignal>().unwrap(), StopSignal::Usr2);
        let err = "SIGNOPE".parse::<StopSignal>().unwrap_err().to_string();
        assert!(err.contains("SIGNOPE"), "{err}");
    }

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Exit::Code(3).code(), 3);
        assert_eq!(Exit::Signal(15).code(), 143);
        assert!(Exit::Code(0).success() && !Exit::Signal(9).success());
        assert_eq!(Exit::Signal(15).to_string(), "killed by SIGTERM");
    }
}
