//! Who owns a scratch database or key space, written into its name so that a later run can
//! tell whether the owner is gone: the process id, the process's start time (so a reused
//! pid is not mistaken for the owner) and a host key (boot id and pid namespace, so a
//! process in another container or on another machine is never judged by pids that are
//! not its own). Reaping must only ever drop what is *proven* dead: anything this process
//! cannot judge is alive.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The owner stamp of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    /// Host key: 8 hex digits of a hash of the boot id and the pid namespace.
    pub(crate) host: u32,
    pub(crate) pid: u32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22), 0 if unknown.
    pub(crate) start: u64,
}

impl Owner {
    /// This process.
    pub(crate) fn current() -> Self {
        static CURRENT: OnceLock<Owner> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let pid = std::process::id();
            Owner {
                host: host_key(),
                pid,
                start: start_time(pid).unwrap_or(0),
            }
        })
    }

    /// `<host>_<pid>_<start>`: goes into names (identifier-safe, lowercase).
    pub(crate) fn stamp(self) -> String {
        format!("{:08x}_{}_{}", self.host, self.pid, self.start)
    }

    /// Parses what [`Owner::stamp`] wrote (followed by anything).
    pub(crate) fn parse_stamp(s: &str) -> Option<(Self, &str)> {
        let mut parts = s.splitn(4, '_');
        let host = parts.next()?;
        if host.len() != 8 {
            return None;
        }
        let host = u32::from_str_radix(host, 16).ok()?;
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        Some((Self { host, pid, start }, parts.next().unwrap_or("")))
    }

    /// Whether this owner is provably gone: same host key as this process (same machine,
    /// same boot, same pid namespace), and its pid is not running or now belongs to a
    /// process that started at another time. Anything else (another host, an unknown start
    /// time, no `/proc`) counts as alive.
    pub(crate) fn is_gone(self) -> bool {
        let me = Self::current();
        if self.host != me.host || me.start == 0 || self.start == 0 {
            return false;
        }
        if self.pid == me.pid {
            return self.start != me.start;
        }
        if !std::path::Path::new("/proc/self/stat").exists() {
            return false;
        }
        match start_time(self.pid) {
            Some(start) => start != self.start,
            // No such process. (A `/proc` we cannot read at all was excluded above.)
            None => !std::path::Path::new(&format!("/proc/{}", self.pid)).exists(),
        }
    }
}

/// Field 22 of `/proc/<pid>/stat`: start time in clock ticks after boot. The command name
/// (field 2) is in parentheses and may hold spaces and `)`, so fields are counted after
/// the last `)`.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first; field 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn host_key() -> u32 {
    let mut hash = Sha256::new();
    match std::fs::read_to_string("/proc/sys/kernel/random/boot_id") {
        Ok(boot) => hash.update(boot.trim().as_bytes()),
        // Without a boot id, a random key: nothing this process creates can be judged by
        // a later run, so nothing is ever reaped wrongly.
        Err(_) => hash
            .update(format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes()),
    }
    if let Ok(ns) = std::fs::read_link("/proc/self/ns/pid") {
        hash.update(ns.to_string_lossy().as_bytes());
    }
    let digest = hash.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_and_rejects_junk() {
        let me = Owner::current();
        let text = format!("{}_7", me.stamp());
        assert_eq!(Owner::parse_stamp(&text), Some((me, "7")));
        for junk in [
            "",
            "x_1_2_3",
            "0000000g_1_2_3",
            "00000001_a_2_3",
            "0001_1_2_3",
        ] {
            assert_eq!(Owner::parse_stamp(junk), None, "{junk}");
        }
    }

    #[test]
    fn this_process_is_alive_and_a_dead_or_reused_pid_is_gone() {
        let me = Owner::current();
        assert!(me.start > 0, "no start time read from /proc");
        assert!(!me.is_gone());
        // Our pid with another start time: a reused pid.
        assert!(
            Owner {
                start: me.start + 1,
                ..me
            }
            .is_gone()
        );
        // A child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        if let Some(start) = start {
            assert!(Owner { pid, start, ..me }.is_gone());
        }
        // Another host key is never judged.
        assert!(
            !Owner {
                host: me.host ^ 1,
                start: me.start + 1,
                ..me
            }
            .is_gone()
        );
    }
}
