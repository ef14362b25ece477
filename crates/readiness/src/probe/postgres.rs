//! PostgreSQL: ready when a session is established and `SELECT 1` answers. A server that
//! accepts TCP but is still starting ("the database system is starting up"), is in
//! recovery, or refuses the role or database is not ready. Connections are made without
//! TLS: `sslmode=require` fails with tokio-postgres' message (TLS is not supported yet).

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::str::FromStr;
use std::task::Poll;

use tokio_postgres::NoTls;
use tokio_postgres::config::{Host, TargetSessionAttrs};

use crate::error::{Error, Result};
use crate::mask::mask;
use crate::net::{HostPort, is_localhost};
use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// Ready when `SELECT 1` answers. tokio-postgres tries every host of a multi-host URL and
/// every address each host resolves to.
#[derive(Clone)]
pub struct PostgresProbe {
    config: tokio_postgres::Config,
}

impl fmt::Debug for PostgresProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresProbe")
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("user", &self.config.get_user())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

impl PostgresProbe {
    /// Parses a `postgres://` / `postgresql://` URL or a libpq `key=value` string.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] with tokio-postgres' reason; the password is masked.
    pub fn parse(spec: &str) -> Result<Self> {
        let config = tokio_postgres::Config::from_str(spec).map_err(|e| Error::InvalidTarget {
            spec: mask(spec),
            reason: ProbeFailure::from_error(&e).to_string(),
        })?;
        if config.get_hosts().is_empty() {
            return Err(Error::InvalidTarget {
                spec: mask(spec),
                reason: "missing host".to_owned(),
            });
        }
        Ok(Self { config })
    }

    /// A probe from a ready-made tokio-postgres config.
    #[must_use]
    pub fn from_config(config: tokio_postgres::Config) -> Self {
        Self { config }
    }
}

impl PostgresProbe {
    /// The one TCP host of a single-host config when it is a localhost name: it is
    /// connected through [`crate::net`] (127.0.0.1 and ::1 at once, whatever the hosts
    /// file says) rather than tokio-postgres' own lookup. Multi-host configs, `hostaddr`
    /// and `target_session_attrs` keep tokio-postgres' connection logic.
    fn localhost(&self) -> Option<HostPort> {
        let config = &self.config;
        match config.get_hosts() {
            [Host::Tcp(host)]
                if is_localhost(host)
                    && config.get_hostaddrs().is_empty()
                    && config.get_target_session_attrs() == TargetSessionAttrs::Any =>
            {
                let port = config.get_ports().first().copied().unwrap_or(5432);
                Some(HostPort::new(host.clone(), port))
            }
            _ => None,
        }
    }
}

impl Probe for PostgresProbe {
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            if let Some(addr) = self.localhost() {
                let stream = addr.connect().await?;
                let (client, connection) = self
                    .config
                    .connect_raw(stream, NoTls)
                    .await
                    .map_err(|e| ProbeFailure::from_error(&e))?;
                return select_one(client, connection).await;
            }
            let mut config = self.config.clone();
            config.connect_timeout(cx.timeout());
            let (client, connection) = config
                .connect(NoTls)
                .await
                .map_err(|e| ProbeFailure::from_error(&e))?;
            select_one(client, connection).await
        })
    }
}

/// Runs `SELECT 1` on a fresh session. The connection is driven inside this attempt (no
/// spawned task, no hop between threads): dropping the client once the answer is in
/// sends Terminate, which ends the connection future and closes the socket. Cancelling
/// the attempt drops both.
async fn select_one(
    client: tokio_postgres::Client,
    connection: impl Future<Output = Result<(), tokio_postgres::Error>>,
) -> std::result::Result<(), ProbeFailure> {
    let query = async move {
        let answer = client.simple_query("SELECT 1").await;
        drop(client);
        answer
    };
    let answer = join_driven(query, connection).await;
    answer.map_err(|e| ProbeFailure::from_error(&e).context("SELECT 1"))?;
    Ok(())
}

/// Polls `work` and its connection `driver` together until both are done and returns
/// what `work` returned (`tokio::join!` without needing tokio's macros feature).
async fn join_driven<T>(work: impl Future<Output = T>, driver: impl Future) -> T {
    let mut work = pin!(work);
    let mut driver = pin!(driver);
    let mut output = None;
    let mut driven = false;
    std::future::poll_fn(|cx| {
        if output.is_none()
            && let Poll::Ready(value) = work.as_mut().poll(cx)
        {
            output = Some(value);
        }
        if !driven {
            driven = driver.as_mut().poll(cx).is_ready();
        }
        match (driven, output.take()) {
            (true, Some(value)) => Poll::Ready(value),
            (_, value) => {
                output = value;
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_mask_the_password() {
        let err = PostgresProbe::parse("postgres://u:s3cret@h:notaport/db").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("postgres://u:***@h"), "{text}");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let probe = PostgresProbe::parse("postgres://u:s3cret@h/db").unwrap();
        assert!(!format!("{probe:?}").contains("s3cret"));
    }
}
