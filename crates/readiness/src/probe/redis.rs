//! Redis: ready when `PING` answers `PONG`, with authentication, database index and TLS
//! (`rediss://`) taken from the URL. A server still loading its dataset answers `LOADING`,
//! which is a failure.

use std::fmt;

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr};

use crate::error::{Error, Result};
use crate::mask::mask;
use crate::net::{HostPort, is_localhost};
use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// Ready when `PING` answers `PONG`.
#[derive(Clone)]
pub struct RedisProbe {
    client: redis::Client,
}

impl fmt::Debug for RedisProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisProbe")
            .field("addr", self.client.get_connection_info().addr())
            .finish_non_exhaustive()
    }
}

impl RedisProbe {
    /// Parses a `redis://`, `rediss://` or `redis+unix://` URL
    /// (`redis://[user][:password@]host[:port][/db]`; `rediss://host/#insecure` skips
    /// certificate checks).
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] with the redis crate's reason; the password is masked.
    pub fn parse(spec: &str) -> Result<Self> {
        let client = redis::Client::open(spec).map_err(|e| Error::InvalidTarget {
            spec: mask(spec),
            reason: ProbeFailure::from_error(&e).to_string(),
        })?;
        Ok(Self { client })
    }
}

impl Probe for RedisProbe {
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(cx.timeout()))
                .set_response_timeout(Some(cx.timeout()));
            let info = self.client.get_connection_info();
            if let ConnectionAddr::Tcp(host, port) = info.addr()
                && is_localhost(host)
            {
                // 127.0.0.1 and ::1 at once, whatever the hosts file says (see net.rs);
                // TLS and unix sockets keep the redis crate's own connection logic.
                let stream = HostPort::new(host.clone(), *port).connect().await?;
                let (mut connection, driver) =
                    MultiplexedConnection::new_with_config(info.redis_settings(), stream, config)
                        .await
                        .map_err(|e| ProbeFailure::from_error(&e))?;
                return until_done(ping(&mut connection), driver).await;
            }
            let mut connection = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(|e| ProbeFailure::from_error(&e))?;
            ping(&mut connection).await
        })
    }
}

async fn ping(connection: &mut MultiplexedConnection) -> Result<(), ProbeFailure> {
    let reply: String = redis::cmd("PING")
        .query_async(connection)
        .await
        .map_err(|e| ProbeFailure::from_error(&e).context("PING"))?;
    if reply == "PONG" {
        Ok(())
    } else {
        Err(ProbeFailure::new(format!(
            "PING answered `{reply}`, not PONG"
        )))
    }
}

/// Polls `work` and the connection's `driver` together until `work` is done; dropping
/// the driver then closes the socket.
async fn until_done<T>(work: impl Future<Output = T>, driver: impl Future<Output = ()>) -> T {
    let mut work = pin!(work);
    let mut driver = pin!(driver);
    let mut driven = false;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = work.as_mut().poll(cx) {
            return Poll::Ready(value);
        }
        if !driven {
            driven = driver.as_mut().poll(cx).is_ready();
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_rejected_with_the_password_masked() {
        let err = RedisProbe::parse("redis://:s3cret@h:notaport").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
