//! AMQP 0-9-1 (RabbitMQ): ready when the server answers the protocol header with
//! `Connection.Start`. A server that replies with its own protocol header does not speak
//! 0-9-1; that is a failure naming the version it offered.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::HostPort;
use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";

/// Ready when the broker starts the AMQP 0-9-1 handshake.
#[derive(Debug, Clone)]
pub struct AmqpProbe {
    addr: HostPort,
}

impl AmqpProbe {
    /// A probe for the broker at `host:port` (AMQP's default port is 5672).
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            addr: HostPort::new(host, port),
        }
    }
}

impl Probe for AmqpProbe {
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            let mut stream = self.addr.connect().await?;
            stream.write_all(PROTOCOL_HEADER).await?;
            // Frame header (type, channel, size) plus class and method ids.
            let mut head = [0_u8; 11];
            stream.read_exact(&mut head).await?;
            check_connection_start(&head)?;
            cx.step_passed("Connection.Start");
            Ok(())
        })
    }
}

fn check_connection_start(head: &[u8; 11]) -> Result<(), ProbeFailure> {
    if head.starts_with(b"AMQP") {
        return Err(ProbeFailure::new(format!(
            "server rejected AMQP 0-9-1 and offered {}-{}-{}",
            head[5], head[6], head[7]
        )));
    }
    let frame_type = head[0];
    let channel = u16::from_be_bytes([head[1], head[2]]);
    let class = u16::from_be_bytes([head[7], head[8]]);
    let method = u16::from_be_bytes([head[9], head[10]]);
    if frame_type == 1 && channel == 0 && class == 10 && method == 10 {
        Ok(())
    } else {
        Err(ProbeFailure::new(format!(
            "expected Connection.Start, got frame type {frame_type} class {class} method {method}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_connection_start_and_version_mismatch() {
        assert!(check_connection_start(b"\x01\x00\x00\x00\x00\x01\x00\x00\x0a\x00\x0a").is_ok());
        let err = check_connection_start(b"AMQP\x00\x01\x00\x00\x00\x00\x00").unwrap_err();
        assert!(err.message().contains("offered 1-0-0"), "{err}");
        assert!(check_connection_start(b"HTTP/1.1 40").is_err());
    }
}
