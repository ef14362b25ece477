//! Is a loopback port really local? An SSH tunnel (`ssh -L 5432:prod:5432`), `kubectl
//! port-forward`, a cloud SQL proxy or `socat` put a production server on `127.0.0.1`. This
//! module asks Linux which process holds the listening socket of a loopback port and
//! whether it is a forwarder to somewhere else.
//!
//! How: the kernel's sock_diag netlink interface is asked, for each loopback address and
//! port, which socket a connection there would reach (one hash lookup in the kernel, the
//! same one a real connection makes, so wildcard and dual-stack listeners are found too;
//! `/proc/net/tcp` and sock_diag dumps walk every hash bucket and take from 0.1 to several
//! ms on a large machine). Then `/proc/PID/comm` names each process and only the
//! forwarders' file descriptors are searched for that socket's inode. A listener's owner
//! does not change while it lives, so the answer is cached per socket inode; a new tunnel
//! on the same port is a new socket with a new inode and is looked up afresh.
//!
//! What this must never do: call a port forwarded when it is not proven (a process we
//! cannot see is not a forwarder we know of, and a container runtime's own proxy such as
//! `docker-proxy` or `rootlesskit` forwards to a local container, so it is not on the
//! list). On other systems, or when nothing can be read, no port is reported forwarded.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
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

/// One check's view of the listening sockets: one netlink socket, opened on first use.
#[derive(Debug, Default)]
pub(crate) struct Tunnels {
    #[cfg(target_os = "linux")]
    diag: Option<Option<diag::Diag>>,
    /// Answers already given in this check (`localhost` and `127.0.0.1` often share one).
    seen: Vec<((IpAddr, u16), Option<u32>)>,
}

impl Tunnels {
    /// The forwarder holding `port` on any of the loopback `addrs`, if any process on
    /// `forwarders` does.
    pub(crate) fn forwarder(
        &mut self,
        addrs: &[IpAddr],
        port: u16,
        forwarders: &[String],
    ) -> Option<Forwarder> {
        addrs
            .iter()
            .filter_map(|addr| {
                let key = (*addr, port);
                if let Some((_, inode)) = self.seen.iter().find(|(k, _)| *k == key) {
                    return *inode;
                }
                let inode = self.listener_inode(*addr, port);
                self.seen.push((key, inode));
                inode
            })
            .find_map(|inode| owner(inode, forwarders))
    }

    #[cfg(target_os = "linux")]
    fn listener_inode(&mut self, addr: IpAddr, port: u16) -> Option<u32> {
        let diag = self
            .diag
            .get_or_insert_with(|| {
                diag::Diag::open()
                    .map_err(|e| tracing::debug!(error = %e, "test-guard: sock_diag unavailable"))
                    .ok()
            })
            .as_mut()?;
        diag.listener_inode(addr, port)
            .map_err(
                |e| tracing::debug!(error = %e, %addr, port, "test-guard: sock_diag lookup failed"),
            )
            .ok()
            .flatten()
            .filter(|inode| *inode != 0)
    }

    #[cfg(not(target_os = "linux"))]
    #[allow(clippy::unused_self, reason = "same signature as the Linux version")]
    fn listener_inode(&mut self, _addr: IpAddr, _port: u16) -> Option<u32> {
        None
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

/// The sock_diag request and reply, built and parsed by hand (the layouts are the kernel's
/// stable ABI: `linux/netlink.h`, `linux/inet_diag.h`).
#[cfg(target_os = "linux")]
mod diag {
    use std::net::IpAddr;
    use std::os::fd::{AsRawFd, OwnedFd};

    use nix::sys::socket::{
        AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto,
        setsockopt, socket, sockopt,
    };
    use nix::sys::time::TimeVal;

    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLMSG_ERROR: u16 = 2;
    const IPPROTO_TCP: u8 = 6;
    const ENOENT: i32 = 2;
    const HEADER: usize = 16;
    /// `struct inet_diag_msg`: family, state, timer, retrans, sockid (48), expires, rqueue,
    /// wqueue, uid, inode.
    const MSG_LEN: usize = 72;

    #[derive(Debug)]
    pub(super) struct Diag {
        fd: OwnedFd,
        seq: u32,
        buf: Vec<u8>,
    }

    impl Diag {
        pub(super) fn open() -> nix::Result<Self> {
            let fd = socket(
                AddressFamily::Netlink,
                SockType::Datagram,
                SockFlag::SOCK_CLOEXEC,
                SockProtocol::NetlinkSockDiag,
            )?;
            setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(1, 0))?;
            Ok(Self {
                fd,
                seq: 0,
                buf: vec![0u8; 8192],
            })
        }

        /// The inode of the socket a TCP connection to `addr:port` would reach, or `None`
        /// when nothing listens there. The kernel answers with `inet_diag_find_one_icsk`,
        /// the lookup an incoming connection makes.
        pub(super) fn listener_inode(
            &mut self,
            addr: IpAddr,
            port: u16,
        ) -> nix::Result<Option<u32>> {
            self.seq = self.seq.wrapping_add(1);
            let (family, bytes) = match addr {
                IpAddr::V4(a) => (AF_INET, {
                    let mut b = [0u8; 16];
                    b[..4].copy_from_slice(&a.octets());
                    b
                }),
                IpAddr::V6(a) => (AF_INET6, a.octets()),
            };
            let len: u32 = (HEADER + 56) as u32;
            let mut req = Vec::with_capacity(len as usize);
            req.extend_from_slice(&len.to_ne_bytes());
            req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
            req.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
            req.extend_from_slice(&self.seq.to_ne_bytes());
            req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
            // struct inet_diag_req_v2: family, protocol, ext, pad, states, then the id.
            req.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
            req.extend_from_slice(&u32::MAX.to_ne_bytes());
            // struct inet_diag_sockid: our side is the local address and port asked.
            req.extend_from_slice(&port.to_be_bytes()); // sport
            req.extend_from_slice(&0u16.to_be_bytes()); // dport
            req.extend_from_slice(&bytes); // src
            req.extend_from_slice(&[0u8; 16]); // dst
            req.extend_from_slice(&0u32.to_ne_bytes()); // interface
            req.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
            sendto(
                self.fd.as_raw_fd(),
                &req,
                &NetlinkAddr::new(0, 0),
                MsgFlags::empty(),
            )?;
            loop {
                let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())?;
                let b = &self.buf[..n];
                if n < HEADER {
                    return Err(nix::Error::EIO);
                }
                let kind = u16::from_ne_bytes([b[4], b[5]]);
                let seq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
                if seq != self.seq {
                    continue; // a late answer to an earlier question
                }
                return match kind {
                    NLMSG_ERROR if n >= HEADER + 4 => {
                        let code = -i32::from_ne_bytes([b[16], b[17], b[18], b[19]]);
                        if code == ENOENT {
                            Ok(None)
                        } else {
                            Err(nix::Error::from_raw(code))
                        }
                    }
                    SOCK_DIAG_BY_FAMILY if n >= HEADER + MSG_LEN => {
                        let m = &b[HEADER..];
                        Ok(Some(u32::from_ne_bytes([m[68], m[69], m[70], m[71]])))
                    }
                    _ => Err(nix::Error::EIO),
                };
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

    /// A listener this process holds is found (sock_diag works here, also through a
    /// wildcard listener) and is not a forwarder: the test binary is not on the list.
    #[cfg(target_os = "linux")]
    #[test]
    fn own_listener_is_seen_and_not_a_forwarder() {
        let loopback = IpAddr::from([127, 0, 0, 1]);
        for bind in ["127.0.0.1:0", "0.0.0.0:0"] {
            let listener = std::net::TcpListener::bind(bind).unwrap();
            let port = listener.local_addr().unwrap().port();
            let mut tunnels = Tunnels::default();
            assert!(tunnels.listener_inode(loopback, port).is_some(), "{bind}");
            assert_eq!(
                tunnels.forwarder(&[loopback], port, &strings(DEFAULT_FORWARDERS)),
                None
            );
            // Named as a forwarder, this very process is found as the owner.
            let me = std::fs::read_to_string("/proc/self/comm").unwrap();
            let found = tunnels
                .forwarder(&[loopback], port, &[me.trim_end().to_owned()])
                .unwrap();
            assert_eq!(found.pid, std::process::id());
            drop(listener);
            assert_eq!(tunnels.listener_inode(loopback, port), None, "{bind}");
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }
}
