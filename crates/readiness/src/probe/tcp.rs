//! TCP: ready when a connection is established (Kubernetes' `tcpSocket`).

use crate::net::HostPort;
use crate::probe::{Probe, ProbeContext, ProbeFuture};

/// Ready when a TCP connection to the host and port is established. The name is resolved
/// again on every attempt and every address is tried.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    addr: HostPort,
}

impl TcpProbe {
    /// A probe for `host:port` (a name, an IPv4 or an IPv6 address, with or without brackets).
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            addr: HostPort::new(host, port),
        }
    }
}

impl Probe for TcpProbe {
    fn probe<'a>(&'a self, _cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            // Dropping the stream closes it at once.
            self.addr.connect().await.map(drop)
        })
    }
}
