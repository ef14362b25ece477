//! Starting children so that they die with us, even if we are SIGKILLed.
//!
//! Two mechanisms, because each alone leaves a gap:
//!
//! * **Parent-death signal** (Linux `PR_SET_PDEATHSIG`, set in a pre-exec hook): the
//!   direct child gets SIGTERM when its parent dies. The kernel ties this to the *thread*
//!   that forked, not the process, so every child is forked by one dedicated spawner
//!   thread that lives until the process exits (never a `spawn_blocking` thread, which
//!   tokio retires after 10 s idle and would take the children with it).
//! * **Guardian**: the signal is not inherited across `fork`, so grandchildren (`sh -c
//!   'npm run dev'` → node) would survive. A small `/bin/sh` guardian, in its own process
//!   group, is told each group we start and each group that ended through a pipe. When we
//!   die for any reason the pipe closes; it then sends SIGTERM to every group still
//!   listed and to every process carrying our run token (background jobs that called
//!   `setsid` or double-forked), waits a second, and sends SIGKILL.
//!
//! This module must never be bypassed: every child of the crate starts here.

use std::collections::HashSet;
use std::io::{self, Write};
use std::os::unix::process::CommandExt as _;
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use tokio::sync::oneshot;

/// The guardian: reads `+PGID` / `-PGID` lines; on end of input, TERM then KILL to every
/// group still listed and every process whose environment holds our supervisor id. It ignores the terminal's signals: Ctrl-C is for the supervisor,
/// which forwards it.
const GUARDIAN: &str = r#"trap '' INT HUP TERM QUIT
set -f
id=$1
pgs=' '
while read -r line; do
  case $line in
    +*) pgs="$pgs${line#+} " ;;
    -*) p=${line#-}
        case $pgs in *" $p "*) pgs="${pgs%% $p *} ${pgs#* $p }" ;; esac ;;
  esac
done
escaped() {
  set +f
  for f in /proc/[0-9]*/environ; do
    grep -qa -- "PREFLIGHT_RUN_ID=$id:" "$f" 2>/dev/null && { p=${f#/proc/}; echo "${p%/environ}"; }
  done
  set -f
}
for p in $pgs; do kill -s TERM -- "-$p" 2>/dev/null; done
for p in $(escaped); do kill -s TERM "$p" 2>/dev/null; done
sleep 1
for p in $pgs; do kill -s KILL -- "-$p" 2>/dev/null; done
for p in $(escaped); do kill -s KILL "$p" 2>/dev/null; done
exit 0
"#;

enum Request {
    Spawn {
        cmd: Box<tokio::process::Command>,
        runtime: tokio::runtime::Handle,
        reply: oneshot::Sender<io::Result<tokio::process::Child>>,
    },
    Release(u32),
}

/// Pids we forked that their owner has not released yet, and every group we started.
///
/// The spawner thread holds the lock from before `fork` until the new pid is registered,
/// so whoever holds it sees every direct child either registered or not yet forked: a
/// child that exits at once can never be mistaken for an orphan and reaped from under its
/// owner (whose `wait` would then fail with ECHILD).
#[derive(Default)]
pub(crate) struct Registry {
    direct: HashSet<u32>,
    groups: HashSet<u32>,
}

impl Registry {
    /// Whether `pid` is a child the crate forked and still owns (its owner reaps it).
    pub(crate) fn is_direct(&self, pid: u32) -> bool {
        self.direct.contains(&pid)
    }

    /// Whether the crate started process group `pgid`.
    pub(crate) fn started_group(&self, pgid: u32) -> bool {
        self.groups.contains(&pgid)
    }
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` with the registry locked: no child is forked, registered or released
/// meanwhile. Decide and reap under one call, so the answer still holds when acting on it.
pub(crate) fn with_registry<R>(f: impl FnOnce(&Registry) -> R) -> R {
    f(&registry())
}

fn spawner() -> &'static mpsc::Sender<Request> {
    static SPAWNER: OnceLock<mpsc::Sender<Request>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("preflight-spawner".into())
            .spawn(move || serve(&rx))
            .expect("cannot start the process-spawner thread");
        tx
    })
}

/// The spawner thread's loop. It never returns while the process runs: the sender lives in
/// a static.
fn serve(rx: &mpsc::Receiver<Request>) {
    let mut guardian = start_guardian();
    while let Ok(request) = rx.recv() {
        match request {
            Request::Spawn {
                mut cmd,
                runtime,
                reply,
            } => {
                // Locked from before the fork until the pid is registered (see Registry).
                let mut reg = registry();
                let child = {
                    let _enter = runtime.enter();
                    cmd.spawn()
                };
                let pid = child.as_ref().ok().and_then(tokio::process::Child::id);
                if let Some(pid) = pid {
                    reg.direct.insert(pid);
                    reg.groups.insert(pid);
                }
                drop(reg);
                if let Some(pid) = pid {
                    tell(&mut guardian, &format!("+{pid}"));
                }
                // The caller may have been cancelled; the child is then dropped (and,
                // without kill_on_drop, reaped by tokio) and stays registered until the
                // guardian outlives it.
                let _ = reply.send(child);
            }
            Request::Release(pid) => {
                registry().direct.remove(&pid);
                tell(&mut guardian, &format!("-{pid}"));
            }
        }
    }
}

fn tell(guardian: &mut Option<ChildStdin>, line: &str) {
    if let Some(stdin) = guardian
        && writeln!(stdin, "{line}").is_err()
    {
        tracing::warn!(
            "process guardian exited: grandchildren may outlive an abrupt supervisor exit"
        );
        *guardian = None;
    }
}

fn start_guardian() -> Option<ChildStdin> {
    let mut reg = registry();
    let spawned = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            GUARDIAN,
            "preflight-guardian",
            crate::descendants::supervisor_id(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        Ok(mut child) => {
            reg.direct.insert(child.id());
            drop(reg);
            let stdin = child.stdin.take();
            // Reap it whenever it exits, without blocking this thread.
            std::thread::Builder::new()
                .name("preflight-guardian-reaper".into())
                .spawn(move || child.wait())
                .ok();
            stdin
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the process guardian (/bin/sh): grandchildren may outlive an abrupt supervisor exit");
            None
        }
    }
}

/// Spawns `cmd` in a new process group, with the parent-death signal set, from the
/// spawner thread, and registers the group with the guardian.
pub(crate) async fn spawn(mut cmd: std::process::Command) -> io::Result<tokio::process::Child> {
    crate::descendants::become_subreaper();
    cmd.process_group(0);
    set_parent_death_signal(&mut cmd);
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    let (reply, rx) = oneshot::channel();
    spawner()
        .send(Request::Spawn {
            cmd: Box::new(cmd),
            runtime: tokio::runtime::Handle::current(),
            reply,
        })
        .map_err(|_| io::Error::other("process spawner thread is gone"))?;
    rx.await
        .map_err(|_| io::Error::other("process spawner thread is gone"))?
}

/// Tells the guardian a group is gone, so it never signals a recycled id.
pub(crate) fn release(pgid: u32) {
    let _ = spawner().send(Request::Release(pgid));
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(cmd: &mut std::process::Command) {
    let parent = std::process::id();
    #[allow(
        unsafe_code,
        reason = "pre_exec is the only way to call prctl(PR_SET_PDEATHSIG) in the child"
    )]
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed. It calls prctl(2) and getppid(2), both
    // async-signal-safe system calls, allocates nothing, takes no lock and touches no
    // state shared with other threads (it captures one `u32` by value). The getppid check
    // closes the race where we died between fork and prctl: the child was then already
    // re-parented and would never get the signal, so it refuses to start.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)?;
            if nix::unistd::getppid().as_raw().cast_unsigned() != parent {
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_cmd: &mut std::process::Command) {
    // No parent-death signal outside Linux; the guardian still covers abrupt exits.
}
