//! MQTT 3.1.1 (Mosquitto and others): ready when the broker answers `CONNECT` with a
//! `CONNACK` whose return code is 0. A refusal (bad credentials, not authorised, server
//! unavailable) is a failure naming the reason. The probe disconnects cleanly.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::HostPort;
use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// Keeps client ids unique inside one process (a broker drops the older of two sessions
/// with the same id).
static CLIENT_SEQ: AtomicU32 = AtomicU32::new(0);

/// Ready when the broker accepts an MQTT 3.1.1 connection.
#[derive(Clone)]
pub struct MqttProbe {
    addr: HostPort,
    credentials: Option<(String, Option<String>)>,
}

impl std::fmt::Debug for MqttProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttProbe")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MqttProbe {
    /// A probe for the broker at `host:port` (MQTT's default port is 1883).
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            addr: HostPort::new(host, port),
            credentials: None,
        }
    }

    /// Connects with a user name and, optionally, a password.
    #[must_use]
    pub fn credentials(mut self, user: impl Into<String>, password: Option<String>) -> Self {
        self.credentials = Some((user.into(), password));
        self
    }

    fn connect_packet(&self) -> Vec<u8> {
        let client_id = format!(
            "preflight-{}-{}",
            std::process::id(),
            CLIENT_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut flags = 0x02_u8; // clean session
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04]);
        let mut payload = Vec::new();
        push_string(&mut payload, client_id.as_bytes());
        if let Some((user, password)) = &self.credentials {
            flags |= 0x80;
            push_string(&mut payload, user.as_bytes());
            if let Some(password) = password {
                flags |= 0x40;
                push_string(&mut payload, password.as_bytes());
            }
        }
        body.push(flags);
        body.extend_from_slice(&10_u16.to_be_bytes()); // keep-alive seconds
        body.extend_from_slice(&payload);
        let mut packet = vec![0x10];
        push_remaining_length(&mut packet, body.len());
        packet.extend_from_slice(&body);
        packet
    }
}

impl Probe for MqttProbe {
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            let mut stream = self.addr.connect().await?;
            stream.write_all(&self.connect_packet()).await?;
            let mut connack = [0_u8; 4];
            stream.read_exact(&mut connack).await?;
            check_connack(connack)?;
            cx.step_passed("CONNACK accepted");
            // A clean DISCONNECT keeps the broker from logging a lost client.
            let _ = stream.write_all(&[0xe0, 0x00]).await;
            let _ = stream.shutdown().await;
            Ok(())
        })
    }
}

fn check_connack(packet: [u8; 4]) -> Result<(), ProbeFailure> {
    if packet[0] != 0x20 || packet[1] != 0x02 {
        return Err(ProbeFailure::new(format!(
            "expected CONNACK, got bytes {:02x} {:02x}",
            packet[0], packet[1]
        )));
    }
    let reason = match packet[3] {
        0 => return Ok(()),
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorised",
        _ => "unknown return code",
    };
    Err(ProbeFailure::new(format!(
        "broker refused the connection: {reason} ({})",
        packet[3]
    )))
}

fn push_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

fn push_remaining_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = u8::try_from(len % 128).unwrap_or(0);
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_packet_is_well_formed() {
        let packet = MqttProbe::new("h", 1883)
            .credentials("u", Some("p".into()))
            .connect_packet();
        assert_eq!(packet[0], 0x10);
        assert_eq!(usize::from(packet[1]), packet.len() - 2);
        assert_eq!(&packet[2..9], b"\x00\x04MQTT\x04");
        assert_eq!(packet[9], 0xc2);
    }

    #[test]
    fn remaining_length_is_a_varint() {
        let mut out = Vec::new();
        push_remaining_length(&mut out, 321);
        assert_eq!(out, [0xc1, 0x02]);
    }

    #[test]
    fn connack_codes_are_named() {
        assert!(check_connack([0x20, 0x02, 0, 0]).is_ok());
        let err = check_connack([0x20, 0x02, 0, 5]).unwrap_err();
        assert!(err.message().contains("not authorised"), "{err}");
    }
}
