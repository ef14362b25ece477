//! Finding and stopping what a command left behind: background jobs (`sleep 9 &`),
//! double-forked daemons and `setsid` escapees, which a process-group signal misses.
//!
//! Every child gets a run token in [`RUN_ID_ENV`] (`<process id>:<scope>.<run>`, where a
//! scope is one supervisor or job run, so two supervisors in one process never touch
//! each other's processes).
//! Descendants inherit it whatever group or session they move to, so when a run ends its
//! leftovers are found by token in `/proc` and stopped (signal, grace, SIGKILL). On Linux
//! the supervisor is also a child subreaper (`PR_SET_CHILD_SUBREAPER`): an orphaned
//! descendant is re-parented to us instead of to init, so it stays ours to reap.
//!
//! This module must never signal or reap a process it cannot tie to us: it acts only on
//! processes carrying our token, or on zombie children of ours whose process group is one
//! we started.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::process::Stop;

/// Environment variable carrying the run token of every process the crate starts (and,
/// by inheritance, of their descendants).
pub const RUN_ID_ENV: &str = "PREFLIGHT_RUN_ID";

/// How often a wait for leftovers to die looks again.
const POLL: Duration = Duration::from_millis(5);

/// After SIGKILL, how long we wait for the kernel to tear processes down.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// This process's supervisor id: pid plus start time, so a recycled pid of a later
/// supervisor never matches an old token.
pub(crate) fn supervisor_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos:x}", std::process::id())
    })
}

/// A fresh scope: one supervisor run, or one job run.
pub(crate) fn new_scope() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}:{}",
        supervisor_id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh token for one run of a command within `scope`.
pub(crate) fn new_token(scope: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{scope}.{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Makes this process a child subreaper (Linux), once. Orphaned descendants of our
/// children then become our children, not init's.
pub(crate) fn become_subreaper() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        #[cfg(target_os = "linux")]
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!(error = %e, "cannot become a child subreaper: orphaned descendants go to init");
        }
    });
}

/// Which tokens a search matches.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Match<'a> {
    /// Exactly this run.
    Run(&'a str),
    /// Any run of this scope.
    Scope(&'a str),
    /// Any run started by this process.
    Process,
}

impl Match<'_> {
    fn accepts(self, value: &[u8]) -> bool {
        let under = |prefix: &[u8], sep: u8| {
            value.len() > prefix.len() && value.starts_with(prefix) && value[prefix.len()] == sep
        };
        match self {
            Self::Run(token) => value == token.as_bytes(),
            Self::Scope(scope) => under(scope.as_bytes(), b'.'),
            Self::Process => under(supervisor_id().as_bytes(), b':'),
        }
    }
}

/// Live (not zombie) processes other than us that carry a matching token.
pub(crate) fn find(which: Match<'_>) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && carries(pid, which) && state(pid).is_some_and(|s| s != 'Z'))
        .collect()
}

fn carries(pid: u32, which: Match<'_>) -> bool {
    // Other users' processes are unreadable: they are not ours anyway.
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let key = RUN_ID_ENV.as_bytes();
    environ.split(|&b| b == 0).any(|entry| {
        entry.len() > key.len()
            && entry.starts_with(key)
            && entry[key.len()] == b'='
            && which.accepts(&entry[key.len() + 1..])
    })
}

/// The process state letter (`R`, `S`, `Z`, …), `None` once it is gone.
fn state(pid: u32) -> Option<char> {
    stat(pid).map(|(s, _, _)| s)
}

/// State, parent pid and process group from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, u32, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is parenthesised and may contain anything: split after the last `)`.
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// True while `pid` runs (a zombie has exited).
pub(crate) fn alive(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z')
}

/// Reaps `pid` if it is a zombie child of ours that no owner waits for; never blocks.
fn reap_if_ours(pid: u32) {
    crate::spawner::with_registry(|registry| {
        if !registry.is_direct(pid) {
            reap_zombie_child(pid);
        }
    });
}

/// Reaps `pid` if it is a zombie child of ours. Only under the registry lock, after
/// checking that no owner waits for it.
fn reap_zombie_child(pid: u32) {
    if let Some(('Z', ppid, _)) = stat(pid)
        && ppid == std::process::id()
    {
        let _ = nix::sys::wait::waitpid(
            Pid::from_raw(pid.cast_signed()),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
    }
}

fn send(pids: &[u32], sig: Signal) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid.cast_signed()), sig);
    }
}

/// Waits until none of `pids` runs, reaping those that were re-parented to us; false if
/// `limit` passed first.
async fn wait_gone(pids: &[u32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        for &pid in pids {
            reap_if_ours(pid);
        }
        if pids.iter().all(|&p| !alive(p)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Stops `pids`: `stop.signal`, up to `stop.grace`, SIGKILL; waits (boundedly) until they
/// are gone and reaps those that became our children.
pub(crate) async fn stop(pids: &[u32], stop: Stop) {
    if pids.is_empty() {
        return;
    }
    send(pids, stop.signal.to_nix());
    if !wait_gone(pids, stop.grace).await {
        send(pids, Signal::SIGKILL);
        if !wait_gone(pids, KILL_WAIT).await {
            tracing::warn!(?pids, "leftover processes survive SIGKILL");
        }
    }
}

/// Stops everything that carries a token of `scope`, repeating until nothing is found (a
/// dying process may start another). Returns how many were stopped.
pub(crate) async fn stop_all(scope: &str, stop_policy: Stop) -> usize {
    let mut total = 0;
    for _ in 0..10 {
        let left = find(Match::Scope(scope));
        if left.is_empty() {
            break;
        }
        total += left.len();
        stop(&left, stop_policy).await;
    }
    reap_adopted(&mut HashSet::new());
    total
}

/// Our children, read from every thread's `children` list.
fn children() -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// Reaps adopted orphans that have exited. `known` remembers live adoptees seen with our
/// token (a zombie's environment can no longer be read). A zombie is reaped when it was
/// seen with our token or belongs to a process group we started; children the crate
/// spawned itself are left to their owners.
pub(crate) fn reap_adopted(known: &mut HashSet<u32>) {
    for pid in children() {
        // One lock for the decision and the reap: a child forked a moment ago is either
        // registered as direct here or was not forked when `children` was read.
        crate::spawner::with_registry(|registry| {
            if registry.is_direct(pid) {
                return;
            }
            match stat(pid) {
                Some(('Z', _, pgrp)) if known.remove(&pid) || registry.started_group(pgrp) => {
                    reap_zombie_child(pid);
                }
                Some(_) if carries(pid, Match::Process) => {
                    known.insert(pid);
                }
                _ => {}
            }
        });
    }
}

/// Keeps a set of adoptees across calls; shared by a supervisor's periodic sweep.
#[derive(Debug, Default)]
pub(crate) struct Adopted(Mutex<HashSet<u32>>);

impl Adopted {
    pub(crate) fn sweep(&self) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        reap_adopted(&mut known);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_their_run_scope_and_process_only() {
        let scope = new_scope();
        let other_scope = new_scope();
        let token = new_token(&scope);
        assert!(Match::Run(&token).accepts(token.as_bytes()));
        assert!(Match::Scope(&scope).accepts(token.as_bytes()));
        assert!(!Match::Scope(&other_scope).accepts(token.as_bytes()));
        assert!(Match::Process.accepts(token.as_bytes()));
        assert!(!Match::Run(&token).accepts(format!("{token}0").as_bytes()));
        // A scope that merely starts with ours is another scope.
        assert!(!Match::Scope(&scope).accepts(format!("{scope}0.1").as_bytes()));
        let other_process = format!("{}0:1.1", supervisor_id());
        assert!(!Match::Process.accepts(other_process.as_bytes()));
    }

    #[test]
    fn stat_parses_names_with_parentheses_and_spaces() {
        let (state, ppid, _) = stat(std::process::id()).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(ppid > 0);
    }
}
