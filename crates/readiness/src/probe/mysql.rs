//! MySQL and MariaDB: ready when the server sends its initial handshake packet (protocol
//! 10). An error packet instead (too many connections, host not allowed, still starting)
//! is a failure quoting the server's message. No client crate and no credentials needed.

use tokio::io::AsyncReadExt;

use crate::net::HostPort;
use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// The largest greeting we read; real ones are about 100 bytes.
const MAX_PACKET: usize = 64 * 1024;

/// Ready when the server greets with a protocol-10 handshake.
#[derive(Debug, Clone)]
pub struct MysqlProbe {
    addr: HostPort,
}

impl MysqlProbe {
    /// A probe for the server at `host:port` (MySQL's default port is 3306).
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            addr: HostPort::new(host, port),
        }
    }
}

impl Probe for MysqlProbe {
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            let mut stream = self.addr.connect().await?;
            let mut header = [0_u8; 4];
            stream.read_exact(&mut header).await?;
            let len =
                usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
            if len == 0 || len > MAX_PACKET {
                return Err(ProbeFailure::new(format!(
                    "not a MySQL greeting (packet length {len})"
                )));
            }
            let mut payload = vec![0_u8; len];
            stream.read_exact(&mut payload).await?;
            let greeting = parse_greeting(&payload)?;
            cx.step_passed(format!("greeting from {greeting}"));
            Ok(())
        })
    }
}

/// The server version from a handshake, or the server's error message.
fn parse_greeting(payload: &[u8]) -> Result<String, ProbeFailure> {
    match payload.first() {
        Some(0x0a) => {
            let version = payload[1..].split(|&b| b == 0).next().unwrap_or_default();
            Ok(String::from_utf8_lossy(version).into_owned())
        }
        Some(0xff) if payload.len() >= 3 => {
            let code = u16::from_le_bytes([payload[1], payload[2]]);
            let mut message = &payload[3..];
            if message.first() == Some(&b'#') && message.len() >= 6 {
                message = &message[6..];
            }
            Err(ProbeFailure::new(format!(
                "server refused: error {code}: {}",
                String::from_utf8_lossy(message)
            )))
        }
        Some(other) => Err(ProbeFailure::new(format!(
            "not a MySQL greeting (protocol byte {other:#04x})"
        ))),
        None => Err(ProbeFailure::new("empty MySQL greeting")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_and_errors() {
        assert_eq!(
            parse_greeting(b"\x0a10.11.6-MariaDB\0rest").unwrap(),
            "10.11.6-MariaDB"
        );
        let err = parse_greeting(b"\xff\x10\x04Too many connections").unwrap_err();
        assert_eq!(
            err.message(),
            "server refused: error 1040: Too many connections"
        );
        let err = parse_greeting(b"\xff\x15\x04#28000Access denied").unwrap_err();
        assert!(
            err.message().ends_with("error 1045: Access denied"),
            "{err}"
        );
        assert!(parse_greeting(b"HTTP/1.1").is_err());
    }
}
