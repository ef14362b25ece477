//! Is a loopback port really local? An SSH tunnel (`ssh -L 5432:prod:5432`), `kubectl
//! port-forward`, a cloud SQL proxy or `socat` put a production server on `127.0.0.1`. This
//! module asks Linux which process holds the listening socket of a loopback port and
//! whether it is a forwarder to somewhere else.
//!
//! How: the kernel's sock_diag netlink interface lists the listening TCP sockets with their
//! inodes (cheap: `/proc/net/tcp` walks every hash bucket and takes milliseconds on a large
//! machine), then `/proc/PID/comm` names each process and only the forwarders' file
//! descriptors are searched for that inode. A listener's owner does not change while it
//! lives, so the answer is cached per socket inode; a new tunnel on the same port is a new
//! socket with a new inode and is looked up afresh.
//!
//! What this must never do: call a port forwarded when it is not proven (a process we
//! cannot see is not a forwarder we know of, and a container runtime's own proxy such as
//! `docker-proxy` or `rootlesskit` forwards to a local container, so it is not on the
//! list). On other systems, or when nothing can be read, no port is reported forwarded.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

/// Process names (as `/proc/PID/comm` shows them) of programs that forward a local port to
/// another machine. Users add their own with `GuardBuilder::forwarder`.
pub(crate) const DEFAULT_FORWARDERS: &[&str] = &[
    "ssh",
    "sshd",
    "autossh",
    "kubectl",
    "oc",
    "cloud-sql-proxy",
    "cloud_sql_proxy",
    "alloydb-auth-proxy",
    "session-manager-plugin",
    "tsh",
    "boundary",
    "flyctl",
    "socat",
    "ncat",
    "stunnel",
    "stunnel4",
];

/// The process that holds a loopback port and forwards it elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forwarder {
    /// Its name, as `/proc/PID/comm` shows it.
    pub(crate) name: String,
    /// Its process id.
    pub(crate) pid: u32,
}

impl fmt::Display for Forwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` (pid {})", self.name, self.pid)
    }
}

/// `/proc/PID/comm` holds at most 15 bytes of the name.
const COMM_LEN: usize = 15;

fn comm_matches(comm: &str, name: &str) -> bool {
    let name = name.as_bytes();
    comm.as_bytes() == &name[..name.len().min(COMM_LEN)]
}

/// One check's view of the listening sockets, read at most once per check.
#[derive(Debug, Default)]
pub(crate) struct Tunnels {
    listeners: Option<Vec<Listener>>,
}

/// A listening TCP socket on loopback or on every address.
#[derive(Debug, Clone, Copy)]
struct Listener {
    port: u16,
    inode: u32,
}

impl Tunnels {
    /// The forwarder holding loopback `port`, if any process on `forwarders` does.
    pub(crate) fn forwarder(&mut self, port: u16, forwarders: &[String]) -> Option<Forwarder> {
        let listeners = self.listeners.get_or_insert_with(listeners);
        let inodes: Vec<u32> = listeners
            .iter()
            .filter(|l| l.port == port && l.inode != 0)
            .map(|l| l.inode)
            .collect();
        inodes
            .into_iter()
            .find_map(|inode| owner(inode, forwarders))
    }
}

/// Owner lookups, by socket inode and forwarder list.
type OwnerCache = HashMap<(u32, Vec<String>), Option<Forwarder>>;

fn cache() -> &'static Mutex<OwnerCache> {
    static CACHE: OnceLock<Mutex<OwnerCache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn owner(inode: u32, forwarders: &[String]) -> Option<Forwarder> {
    let key = (inode, forwarders.to_vec());
    if let Some(hit) = cache().lock().ok().and_then(|c| c.get(&key).cloned()) {
        return hit;
    }
    let found = scan_owner(inode, forwarders);
    if let Ok(mut c) = cache().lock() {
        c.insert(key, found.clone());
    }
    found
}

/// Searches the forwarders' file descriptors for `socket:[inode]`.
fn scan_owner(inode: u32, forwarders: &[String]) -> Option<Forwarder> {
    let wanted = format!("socket:[{inode}]");
    let procs = std::fs::read_dir("/proc").ok()?;
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim_end_matches('\n');
        if !forwarders.iter().any(|f| comm_matches(comm, f)) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == wanted.as_str())
        });
        if holds {
            return Some(Forwarder {
                name: comm.to_owned(),
                pid,
            });
        }
    }
    None
}

#[cfg(target_os = "linux")]
fn listeners() -> Vec<Listener> {
    diag::dump_listeners().unwrap_or_else(|e| {
        tracing::debug!(error = %e, "test-guard: sock_diag unavailable");
        Vec::new()
    })
}

#[cfg(not(target_os = "linux"))]
fn listeners() -> Vec<Listener> {
    Vec::new()
}

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// The sock_diag request and reply, built and parsed by hand (the layouts are the kernel's
/// stable ABI: `linux/netlink.h`, `linux/inet_diag.h`).
#[cfg(target_os = "linux")]
mod diag {
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{
        AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto,
        setsockopt, socket, sockopt,
    };
    use nix::sys::time::TimeVal;

    use super::{AF_INET, AF_INET6, Listener};

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const IPPROTO_TCP: u8 = 6;
    const TCP_LISTEN: u32 = 10;
    const HEADER: usize = 16;
    /// `struct inet_diag_msg`: family, state, timer, retrans, sockid (48), expires, rqueue,
    /// wqueue, uid, inode.
    const MSG_LEN: usize = 72;

    fn request(family: u8) -> Vec<u8> {
        let len: u32 = (HEADER + 56) as u32;
        let mut buf = Vec::with_capacity(len as usize);
        buf.extend_from_slice(&len.to_ne_bytes());
        buf.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        buf.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
        // struct inet_diag_req_v2
        buf.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
        buf.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
        buf.extend_from_slice(&[0u8; 48]); // any socket id
        buf
    }

    fn u16_ne(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    fn u32_ne(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Whether the socket's local address is loopback or the wildcard (a listener on
    /// `0.0.0.0` or `::` also answers on loopback).
    fn loopback_or_any(family: u8, addr: &[u8]) -> bool {
        if family == AF_INET {
            addr[0] == 127 || addr[..4] == [0; 4]
        } else if family == AF_INET6 {
            let loopback = addr[..15] == [0; 15] && addr[15] == 1;
            let any = addr[..16] == [0; 16];
            let mapped_loopback =
                addr[..10] == [0; 10] && addr[10..12] == [0xff, 0xff] && addr[12] == 127;
            loopback || any || mapped_loopback
        } else {
            false
        }
    }

    /// The IPv4 and IPv6 listeners, over one netlink socket.
    pub(super) fn dump_listeners() -> nix::Result<Vec<Listener>> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )?;
        setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(1, 0))?;
        let mut found = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        for family in [AF_INET, AF_INET6] {
            dump(fd.as_raw_fd(), family, &mut buf, &mut found)?;
        }
        Ok(found)
    }

    fn dump(
        fd: std::os::fd::RawFd,
        family: u8,
        buf: &mut [u8],
        found: &mut Vec<Listener>,
    ) -> nix::Result<()> {
        sendto(
            fd,
            &request(family),
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        loop {
            let n = recv(fd, buf, MsgFlags::empty())?;
            if n == 0 {
                return Ok(());
            }
            let mut at = 0;
            while at + HEADER <= n {
                let len = u32_ne(buf, at) as usize;
                let kind = u16_ne(buf, at + 4);
                if len < HEADER || at + len > n {
                    return Ok(());
                }
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => return Err(nix::Error::EIO),
                    _ if len >= HEADER + MSG_LEN => {
                        let msg = &buf[at + HEADER..at + len];
                        let port = u16::from_be_bytes([msg[4], msg[5]]);
                        if loopback_or_any(msg[0], &msg[8..24]) {
                            found.push(Listener {
                                port,
                                inode: u32_ne(msg, 68),
                            });
                        }
                    }
                    _ => {}
                }
                // Messages are aligned to 4 bytes.
                at += (len + 3) & !3;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_names_are_compared_on_their_first_15_bytes() {
        assert!(comm_matches("ssh", "ssh"));
        assert!(!comm_matches("sshd", "ssh"));
        assert!(comm_matches("session-manager", "session-manager-plugin"));
        assert!(comm_matches("cloud-sql-proxy", "cloud-sql-proxy"));
        assert!(!comm_matches("docker-proxy", "socat"));
    }

    /// A listener this process holds is found (sock_diag works here) and is not a
    /// forwarder: the test binary is not on the list.
    #[cfg(target_os = "linux")]
    #[test]
    fn own_listener_is_seen_and_not_a_forwarder() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = listeners();
        assert!(
            seen.iter().any(|l| l.port == port),
            "port {port} not listed"
        );
        let mut tunnels = Tunnels::default();
        assert_eq!(tunnels.forwarder(port, &strings(DEFAULT_FORWARDERS)), None);
        // Named as a forwarder, this very process is found as the owner.
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        let found = Tunnels::default()
            .forwarder(port, &[me.trim_end().to_owned()])
            .unwrap();
        assert_eq!(found.pid, std::process::id());
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }
}
