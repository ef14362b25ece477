//! Connecting to a host and port the way every network probe does: resolve the name again
//! on every attempt (a container name may appear late; an address may change) and try
//! every address at once (IPv4 and IPv6), so a dead first address cannot hide a live one.
//!
//! `localhost` and `*.localhost` are never looked up: they are 127.0.0.1 and ::1, whatever
//! the hosts file says (RFC 6761 §6.3; curl does the same). A hosts file without
//! `::1 localhost` would otherwise hide a service that listens on ::1 only (Node 17+ and
//! Vite dev servers bind there by default).

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::Poll;

use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::probe::ProbeFailure;

/// A host name or IP literal and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostPort {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl HostPort {
    pub(crate) fn new(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        // Brackets belong to URL syntax, not to the address.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map_or_else(|| host.clone(), str::to_owned);
        Self { host, port }
    }

    /// Host and port from a parsed URL, with the scheme's default port.
    pub(crate) fn from_url(url: &url::Url, default_port: u16, spec: &str) -> Result<Self> {
        let host =
            url.host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| Error::InvalidTarget {
                    spec: crate::mask::mask(spec),
                    reason: "missing host".to_owned(),
                })?;
        Ok(Self::new(host, url.port().unwrap_or(default_port)))
    }

    /// Parses bare `host:port` and `[v6]:port`.
    pub(crate) fn parse(text: &str) -> std::result::Result<Self, String> {
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or("an IPv6 address needs a closing `]`")?;
            let port = after
                .strip_prefix(':')
                .ok_or("expected `:PORT` after the IPv6 address")?;
            (host, port)
        } else {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or("expected HOST:PORT (or a URL such as http://HOST)")?;
            if host.contains(':') {
                return Err("an IPv6 address must be written in brackets: [::1]:PORT".into());
            }
            (host, port)
        };
        if host.is_empty() {
            return Err("missing host".into());
        }
        if let Some(bad) = host
            .chars()
            .find(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#'))
        {
            return Err(format!("host `{host}` contains `{bad}`"));
        }
        let port = parse_port(port)?;
        Ok(Self::new(host, port))
    }

    fn literal(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// Every address the host has right now.
    pub(crate) async fn resolve(&self) -> std::result::Result<Vec<SocketAddr>, ProbeFailure> {
        if let Some(ip) = self.literal() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        if is_localhost(&self.host) {
            return Ok(loopback(self.port).to_vec());
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                ProbeFailure::from_error(&e).context(format!("cannot resolve `{}`", self.host))
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ProbeFailure::new(format!(
                "`{}` resolves to no address",
                self.host
            )));
        }
        Ok(addrs)
    }

    /// Connects to whichever address answers first.
    pub(crate) async fn connect(&self) -> std::result::Result<TcpStream, ProbeFailure> {
        connect_first(self.resolve().await?).await
    }
}

/// Connects to every address at once and keeps the first connection established. The
/// attempts run inside this future (no task per address), so dropping it closes them all.
async fn connect_first(addrs: Vec<SocketAddr>) -> std::result::Result<TcpStream, ProbeFailure> {
    if let [addr] = addrs[..] {
        return connect_one(addr).await;
    }
    let mut attempts: Vec<_> = addrs
        .into_iter()
        .map(|addr| Box::pin(connect_one(addr)))
        .collect();
    let mut failures = Vec::new();
    std::future::poll_fn(|cx| {
        let mut index = 0;
        while index < attempts.len() {
            match attempts[index].as_mut().poll(cx) {
                Poll::Ready(Ok(stream)) => return Poll::Ready(Ok(stream)),
                Poll::Ready(Err(failure)) => {
                    failures.push(failure.to_string());
                    // `remove`, not `swap_remove`: failures stay in address order.
                    drop(attempts.remove(index));
                }
                Poll::Pending => index += 1,
            }
        }
        if attempts.is_empty() {
            Poll::Ready(Err(ProbeFailure::new(failures.join("; "))))
        } else {
            Poll::Pending
        }
    })
    .await
}

async fn connect_one(addr: SocketAddr) -> std::result::Result<TcpStream, ProbeFailure> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| ProbeFailure::from_error(&e).context(addr))?;
    // Probes write small requests and wait for the reply: do not let Nagle delay them.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Whether `host` is `localhost` or a name under it (`app.localhost`), with or without
/// the root's trailing dot, in any case: the names RFC 6761 §6.3 reserves for loopback.
pub(crate) fn is_localhost(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let Some(start) = host.len().checked_sub("localhost".len()) else {
        return false;
    };
    host.get(start..)
        .is_some_and(|tail| tail.eq_ignore_ascii_case("localhost"))
        && (start == 0 || host.as_bytes()[start - 1] == b'.')
}

/// The loopback addresses a localhost name stands for, IPv4 first.
pub(crate) fn loopback(port: u16) -> [SocketAddr; 2] {
    [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ]
}

/// The HTTP client's resolver: localhost names as [`HostPort::resolve`] treats them,
/// every other name through the system resolver (as reqwest's default does).
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resolver;

#[cfg(feature = "http")]
impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The port is filled in by the client; 0 here.
            let addrs: Vec<SocketAddr> = if is_localhost(&host) {
                loopback(0).to_vec()
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub(crate) fn parse_port(text: &str) -> std::result::Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => Err("port 0 is not a port to wait for".into()),
        Ok(port) => Ok(port),
        Err(_) => Err(format!("port `{text}` is not a number from 1 to 65535")),
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_forms() {
        assert_eq!(
            HostPort::parse("db:5432").unwrap(),
            HostPort::new("db", 5432)
        );
        assert_eq!(
            HostPort::parse("[::1]:80").unwrap(),
            HostPort::new("::1", 80)
        );
        assert_eq!(HostPort::new("::1", 80).to_string(), "[::1]:80");
    }

    #[tokio::test]
    async fn a_dead_ipv6_address_does_not_hide_a_live_ipv4_one() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Nothing listens on [::1]:port (the port was free on IPv4, and a refused or
        // unreachable IPv6 address is the case being tested).
        let addrs = vec![
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
            SocketAddr::from(([127, 0, 0, 1], port)),
        ];
        let stream = connect_first(addrs).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap().port(), port);
        assert!(stream.peer_addr().unwrap().is_ipv4());
    }

    #[tokio::test]
    async fn every_address_failing_lists_each() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addrs = vec![
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
            SocketAddr::from(([127, 0, 0, 1], port)),
        ];
        let failure = connect_first(addrs).await.unwrap_err();
        assert!(
            failure.message().contains(&format!("[::1]:{port}")),
            "{failure}"
        );
        assert!(
            failure.message().contains(&format!("127.0.0.1:{port}")),
            "{failure}"
        );
    }

    #[test]
    fn localhost_names_are_recognised_as_rfc_6761_says() {
        for yes in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "app.localhost",
            "a.b.Localhost.",
        ] {
            assert!(is_localhost(yes), "{yes}");
        }
        for no in [
            "notlocalhost",
            "localhost.example",
            "localhos",
            "",
            ".",
            "127.0.0.1",
            "xlocalhost.",
        ] {
            assert!(!is_localhost(no), "{no}");
        }
    }

    #[tokio::test]
    async fn localhost_is_both_loopbacks_without_a_lookup() {
        let addrs = HostPort::new("App.Localhost", 8080)
            .resolve()
            .await
            .unwrap();
        assert_eq!(addrs, loopback(8080));
    }

    #[test]
    fn bad_host_port_says_what_is_wrong() {
        assert!(HostPort::parse("::1:80").unwrap_err().contains("brackets"));
        assert!(HostPort::parse("db").unwrap_err().contains("HOST:PORT"));
        assert!(HostPort::parse("db:0").unwrap_err().contains("port 0"));
        assert!(HostPort::parse("db:99999").unwrap_err().contains("99999"));
        assert!(HostPort::parse(":80").unwrap_err().contains("missing host"));
    }
}
