//! Redis: ready when `PING` answers `PONG`, with authentication, database index and TLS
//! (`rediss://`) taken from the URL. A server still loading its dataset answers `LOADING`,
//! which is a failure.

use std::fmt;

use redis::AsyncConnectionConfig;

use crate::error::{Error, Result};
use crate::mask::mask;
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
            let mut connection = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(|e| ProbeFailure::from_error(&e))?;
            let reply: String = redis::cmd("PING")
                .query_async(&mut connection)
                .await
                .map_err(|e| ProbeFailure::from_error(&e).context("PING"))?;
            if reply == "PONG" {
                Ok(())
            } else {
                Err(ProbeFailure::new(format!(
                    "PING answered `{reply}`, not PONG"
                )))
            }
        })
    }
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
