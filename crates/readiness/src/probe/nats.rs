//! NATS: ready when the server greets with `INFO` and answers `CONNECT` + `PING` with
//! `PONG` (so credentials are checked too: `-ERR 'Authorization Violation'` is a failure).

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::net::HostPort;
use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// Longest protocol line we accept (the INFO line is about 500 bytes).
const MAX_LINE: u64 = 64 * 1024;

/// How a NATS client proves who it is.
#[derive(Clone, Default)]
enum Auth {
    #[default]
    None,
    Token(String),
    UserPassword(String, String),
}

/// Ready when the server completes the NATS handshake (`INFO`, `CONNECT`, `PING`/`PONG`).
#[derive(Clone)]
pub struct NatsProbe {
    addr: HostPort,
    auth: Auth,
}

impl std::fmt::Debug for NatsProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("NatsProbe")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl NatsProbe {
    /// A probe for the server at `host:port` (NATS's default port is 4222).
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            addr: HostPort::new(host, port),
            auth: Auth::None,
        }
    }

    /// Authenticates with a user and password.
    #[must_use]
    pub fn user_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::UserPassword(user.into(), password.into());
        self
    }

    /// Authenticates with a token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Token(token.into());
        self
    }

    fn connect_line(&self) -> String {
        let auth = match &self.auth {
            Auth::None => String::new(),
            Auth::Token(token) => format!(r#","auth_token":"{}""#, json_escape(token)),
            Auth::UserPassword(user, pass) => format!(
                r#","user":"{}","pass":"{}""#,
                json_escape(user),
                json_escape(pass)
            ),
        };
        format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"preflight-readiness\",\"lang\":\"rust\",\"protocol\":0{auth}}}\r\nPING\r\n"
        )
    }
}

impl Probe for NatsProbe {
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            let stream = self.addr.connect().await?;
            let mut stream = BufReader::new(stream);
            let info = read_line(&mut stream).await?;
            if !info.starts_with("INFO ") {
                return Err(ProbeFailure::new(format!(
                    "expected a NATS INFO greeting, got `{}`",
                    truncate(&info)
                )));
            }
            cx.step_passed("INFO");
            stream
                .get_mut()
                .write_all(self.connect_line().as_bytes())
                .await?;
            loop {
                let line = read_line(&mut stream).await?;
                match line.as_str() {
                    "PONG" => break,
                    "+OK" | "PING" => {}
                    other if other.starts_with("-ERR") => {
                        return Err(ProbeFailure::new(format!(
                            "server refused: {}",
                            truncate(other)
                        )));
                    }
                    other if other.starts_with("INFO ") => {}
                    other => {
                        return Err(ProbeFailure::new(format!(
                            "unexpected NATS reply `{}`",
                            truncate(other)
                        )));
                    }
                }
            }
            cx.step_passed("PONG");
            Ok(())
        })
    }
}

async fn read_line(stream: &mut BufReader<tokio::net::TcpStream>) -> Result<String, ProbeFailure> {
    let mut line = String::new();
    let read = (&mut *stream).take(MAX_LINE).read_line(&mut line).await?;
    if read == 0 {
        return Err(ProbeFailure::new("server closed the connection"));
    }
    Ok(line.trim_end().to_owned())
}

fn truncate(text: &str) -> &str {
    text.char_indices()
        .nth(120)
        .map_or(text, |(i, _)| &text[..i])
}

fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_line_escapes_credentials() {
        let line = NatsProbe::new("h", 4222)
            .user_password("u", "p\"w\\")
            .connect_line();
        assert!(line.contains(r#""user":"u","pass":"p\"w\\""#), "{line}");
        assert!(line.ends_with("PING\r\n"));
    }

    #[test]
    fn debug_never_shows_credentials() {
        let probe = NatsProbe::new("h", 4222).token("s3cret");
        assert!(!format!("{probe:?}").contains("s3cret"));
    }
}
