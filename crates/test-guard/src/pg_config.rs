//! A [`Target`] from the `tokio_postgres::Config` a pool really uses, so the guard checks
//! the very connection the code will open (DatabaseCleaner#684: checking `DATABASE_URL`
//! while the pool was configured elsewhere). Read-only; never connects.

use std::path::PathBuf;

use tokio_postgres::config::{Host as PgHost, SslMode};

use crate::mask::mask;
use crate::target::{Endpoint, Host, Secret, Target, TargetKind};

impl Target {
    /// The target a `tokio_postgres::Config` connects to (hosts, `hostaddr`s, ports,
    /// database, user, password, options). `source` names it in reports.
    #[must_use]
    pub fn from_postgres_config(config: &tokio_postgres::Config, source: &str) -> Self {
        let hosts = config.get_hosts();
        let addrs = config.get_hostaddrs();
        let ports = config.get_ports();
        let count = hosts.len().max(addrs.len()).max(1);
        let endpoints = (0..count)
            .map(|i| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                // tokio-postgres, like libpq, connects to hostaddr when given.
                let host = match (addrs.get(i), hosts.get(i)) {
                    (Some(ip), _) => Host::Ip(*ip),
                    (None, Some(PgHost::Tcp(name))) => {
                        Host::Name(name.to_ascii_lowercase()).normalised()
                    }
                    #[cfg(unix)]
                    (None, Some(PgHost::Unix(path))) => Host::Socket(path.clone()),
                    (None, _) => Host::Socket(PathBuf::from("/tmp")),
                };
                Endpoint { host, port }
            })
            .collect::<Vec<_>>();
        let user = config.get_user().map(str::to_owned);
        let mut target = Self {
            kind: TargetKind::Postgres,
            source: source.to_owned(),
            endpoints,
            database: config
                .get_dbname()
                .map(str::to_owned)
                .or_else(|| user.clone()),
            user,
            password: config
                .get_password()
                .map(|p| Secret(String::from_utf8_lossy(p).into_owned())),
            options: config.get_options().map(str::to_owned),
            sslmode: Some(
                match config.get_ssl_mode() {
                    SslMode::Disable => "disable",
                    SslMode::Require => "require",
                    _ => "prefer",
                }
                .to_owned(),
            ),
            redis_url: None,
            masked: String::new(),
        };
        // No connection string exists; show the canonical id (it carries no secret).
        target.masked = mask(&target.id());
        target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_targets_match_url_targets() {
        let url = "postgres://app:hunter2@DB.example.org:6543,127.0.0.1/app_test";
        let config: tokio_postgres::Config = url.parse().unwrap();
        let from_config = Target::from_postgres_config(&config, "pool");
        let from_url = Target::parse(url).unwrap();
        assert_eq!(from_config.id(), from_url.id());
        assert_eq!(from_config.source(), "pool");
        assert!(!format!("{from_config:?}{from_config}").contains("hunter2"));
        let mut with_addr = tokio_postgres::Config::new();
        with_addr
            .host("localhost")
            .hostaddr([10, 0, 0, 7].into())
            .dbname("x");
        let t = Target::from_postgres_config(&with_addr, "pool");
        assert_eq!(t.id(), "postgres://10.0.0.7:5432/x");
    }
}
