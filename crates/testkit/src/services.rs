//! The services the machine runs before the session starts, by URL.

use std::{
    net::{TcpStream, ToSocketAddrs},
    time::Duration,
};

use crate::{Error, Result};

/// One of the machine's long-running services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Service {
    /// PostgreSQL, `postgres://postgres@127.0.0.1:5432/postgres`.
    Postgres,
    /// Redis, `redis://127.0.0.1:6379`.
    Redis,
    /// MariaDB, `mysql://root@127.0.0.1:3306`.
    MySql,
    /// RabbitMQ, `amqp://guest:guest@127.0.0.1:5672`.
    Amqp,
    /// NATS, `nats://127.0.0.1:4222`.
    Nats,
    /// Mosquitto, `mqtt://127.0.0.1:1883`.
    Mqtt,
}

impl Service {
    /// Every service, for loops.
    pub const ALL: [Service; 6] = [
        Service::Postgres,
        Service::Redis,
        Service::MySql,
        Service::Amqp,
        Service::Nats,
        Service::Mqtt,
    ];

    /// A short name for messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::Redis => "Redis",
            Service::MySql => "MariaDB",
            Service::Amqp => "RabbitMQ",
            Service::Nats => "NATS",
            Service::Mqtt => "Mosquitto",
        }
    }

    /// The variable that overrides the default URL, e.g. `PREFLIGHT_MYSQL_URL`.
    #[must_use]
    pub fn env_var(self) -> &'static str {
        match self {
            Service::Postgres => "PREFLIGHT_POSTGRES_URL",
            Service::Redis => "PREFLIGHT_REDIS_URL",
            Service::MySql => "PREFLIGHT_MYSQL_URL",
            Service::Amqp => "PREFLIGHT_AMQP_URL",
            Service::Nats => "PREFLIGHT_NATS_URL",
            Service::Mqtt => "PREFLIGHT_MQTT_URL",
        }
    }

    fn default_url(self) -> &'static str {
        match self {
            Service::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
            Service::Redis => "redis://127.0.0.1:6379",
            Service::MySql => "mysql://root@127.0.0.1:3306",
            Service::Amqp => "amqp://guest:guest@127.0.0.1:5672",
            Service::Nats => "nats://127.0.0.1:4222",
            Service::Mqtt => "mqtt://127.0.0.1:1883",
        }
    }

    /// The service's URL: the override variable if set, else the local default.
    #[must_use]
    pub fn url(self) -> String {
        std::env::var(self.env_var()).unwrap_or_else(|_| self.default_url().to_owned())
    }

    /// Returns the URL once a TCP connection to it succeeds (within 2 s).
    pub fn check(self) -> Result<String> {
        self.check_url(self.url())
    }

    fn check_url(self, url: String) -> Result<String> {
        let unreachable = |reason: String| Error::Unreachable {
            service: self.name(),
            url: preflight_redact::redact(&url),
            reason,
        };
        let authority =
            host_port(&url).ok_or_else(|| unreachable("no host:port in the URL".into()))?;
        let addrs = authority
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("cannot resolve {authority}: {e}")))?;
        let mut last = format!("{authority} resolved to no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(_) => return Ok(url),
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(unreachable(last))
    }
}

/// `host:port` of `scheme://[user[:password]@]host:port[/...]`.
fn host_port(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    // The last `@` ends the userinfo, as for the redaction: a password may hold `/?#`.
    let after_userinfo = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = after_userinfo.split(['/', '?', '#']).next()?;
    (!host_port.is_empty()).then_some(host_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_strips_scheme_userinfo_and_path() {
        assert_eq!(
            host_port("amqp://guest:guest@127.0.0.1:5672"),
            Some("127.0.0.1:5672")
        );
        assert_eq!(host_port("postgres://u@h:5432/db?x=1"), Some("h:5432"));
        assert_eq!(host_port("nats://127.0.0.1:4222"), Some("127.0.0.1:4222"));
        assert_eq!(host_port("nonsense"), None);
    }

    /// The URL in an `Unreachable` error goes through the shared redaction, also for a
    /// password holding `?` (the old masker here stopped at it).
    #[test]
    fn unreachable_urls_hide_their_password() {
        let url = "amqp://guest:s3cr?t@127.0.0.1:1/v".to_owned();
        let err = Service::Amqp.check_url(url).unwrap_err();
        assert!(!err.to_string().contains("s3cr"), "{err}");
    }
}
