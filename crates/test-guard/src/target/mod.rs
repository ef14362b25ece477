//! What a connection string really points at. A target is resolved the way the client will
//! resolve it: for PostgreSQL that means libpq's rules (URL or keyword/value string, then the
//! service file, then `PG*` variables, then built-in defaults), because an exported `PGHOST`
//! silently redirecting `DATABASE_URL=postgres:///app_test` is exactly how test suites reach
//! production. Resolution never touches the network.

mod libpq;
mod urls;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::mask::mask;

pub(crate) use libpq::PG_TARGET_VARS;
use libpq::{parse_conninfo, resolve_postgres};
use urls::{resolve_mysql, resolve_redis, sqlite};

/// The kind of server a target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetKind {
    /// PostgreSQL (and anything speaking its wire protocol).
    Postgres,
    /// Redis (and Valkey).
    Redis,
    /// MySQL / MariaDB: host and name rules only, no live marker.
    MySql,
    /// A SQLite file: always local.
    Sqlite,
}

impl TargetKind {
    /// `postgres` or `redis`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis => "redis",
            Self::MySql => "mysql",
            Self::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which client library will open the connection, and so whose rules resolve a PostgreSQL
/// connection string. They differ: libpq reads the service file, `.pgpass` and more than a
/// dozen `PG*` variables; tokio-postgres reads no environment at all.
///
/// | client | used by | reads |
/// |---|---|---|
/// | [`Client::Libpq`] (default) | psql, psycopg, Django, Rails, most tools | the string, then the service file (`service=` or `PGSERVICE`; `PGSERVICEFILE` or `~/.pg_service.conf`, then `PGSYSCONFDIR`), then `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `PGPASSFILE` (or `~/.pgpass`), `PGOPTIONS`, `PGSSLMODE`; the OS user name |
/// | [`Client::TokioPostgres`] | tokio-postgres, deadpool-postgres, bb8-postgres | the string only (its own `Config` parser); the OS user name |
///
/// sqlx has a third set of rules (it reads `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
/// `PGDATABASE`, `PGSSLMODE` and `.pgpass`, but no service file and no `PGHOSTADDR`); it is
/// not modelled: pass the options your pool really uses as a [`Target`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Client {
    /// libpq's rules, proven against the real libpq by this crate's conformance test.
    #[default]
    Libpq,
    /// tokio-postgres' own `Config` parser (needs the `postgres` feature).
    TokioPostgres,
}

/// Where a connection goes: a host name, an IP address, or a Unix socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Host {
    /// A DNS name, lower-cased.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
    /// A Unix-domain socket (a directory for PostgreSQL, a file for Redis and MySQL).
    Socket(PathBuf),
    /// A database file (SQLite).
    File(PathBuf),
}

impl Host {
    fn parse(raw: &str) -> Self {
        if raw.starts_with('/') || raw.starts_with('@') {
            return Self::Socket(PathBuf::from(raw));
        }
        Self::Name(raw.to_ascii_lowercase()).normalised()
    }

    /// A name that is really an address literal becomes [`Host::Ip`].
    pub(crate) fn normalised(self) -> Self {
        match self {
            Self::Name(name) => {
                let bare = name.trim_start_matches('[').trim_end_matches(']');
                match bare.parse::<IpAddr>() {
                    Ok(ip) => Self::Ip(ip),
                    Err(_) => Self::Name(name),
                }
            }
            other => other,
        }
    }

    /// Loopback addresses (`127.0.0.0/8`, `::1`, IPv4-mapped loopback), `localhost` and
    /// `*.localhost` (RFC 6761), and Unix sockets. Note that an SSH tunnel also looks like
    /// loopback: that is why the live marker is asked even for loopback targets.
    #[must_use]
    pub fn is_local(&self) -> bool {
        match self {
            Self::Ip(IpAddr::V4(ip)) => ip.is_loopback(),
            Self::Ip(IpAddr::V6(ip)) => {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            Self::Name(name) => name == "localhost" || name.ends_with(".localhost"),
            Self::Socket(_) | Self::File(_) => true,
        }
    }

    /// The text host rules are matched against: the name, the address, or the socket path.
    #[must_use]
    pub fn rule_text(&self) -> String {
        match self {
            Self::Name(n) => n.clone(),
            Self::Ip(ip) => ip.to_string(),
            Self::Socket(p) | Self::File(p) => p.display().to_string(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Socket(p) | Self::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One host and port of a target (libpq targets may list several).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Endpoint {
    /// Where the connection goes (for PostgreSQL, `hostaddr` when given, as libpq does).
    pub host: Host,
    /// The TCP port, or the socket's port suffix for PostgreSQL sockets.
    pub port: u16,
}

/// A password or secret-bearing URL; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A resolved connection target: what the guard checks and, for live markers, connects to.
///
/// Build one from the connection string your code really uses ([`Target::parse`]), so the
/// guard checks the same thing the pool will open; the guard also resolves the configured
/// variables itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub(crate) kind: TargetKind,
    pub(crate) source: String,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) database: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) options: Option<String>,
    pub(crate) sslmode: Option<String>,
    pub(crate) redis_url: Option<Secret>,
    pub(crate) masked: String,
}

impl Target {
    /// Parses a connection string given in code, without `PG*` environment fallbacks:
    /// `postgres://`, `postgresql://` or a libpq `key=value` string; `redis://`, `rediss://`,
    /// `redis+unix://`, `unix://`, `valkey://`, `valkeys://`.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] naming the (masked) string and the problem.
    pub fn parse(conn: &str) -> Result<Self> {
        resolve(conn, "explicit", None)
    }

    /// Like [`Target::parse`], filling what the string leaves out from the `PG*` variables and
    /// service file in `env`, as libpq, sqlx and psql do.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] naming `source` and the masked string.
    pub fn resolve(conn: &str, source: &str, env: &dyn Env) -> Result<Self> {
        resolve(conn, source, Some(env))
    }

    /// Like [`Target::resolve`], by the rules of `client` (see [`Client`] for what each
    /// reads). Non-PostgreSQL strings resolve the same for every client.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] naming `source` and the masked string.
    pub fn resolve_for(client: Client, conn: &str, source: &str, env: &dyn Env) -> Result<Self> {
        match client {
            Client::Libpq => resolve(conn, source, Some(env)),
            Client::TokioPostgres => resolve_tokio_postgres(conn, source, env),
        }
    }

    /// [`Target::parse`] by the rules of `client`: no environment is read.
    pub(crate) fn parse_for(client: Client, conn: &str) -> Result<Self> {
        match client {
            Client::Libpq => Self::parse(conn),
            Client::TokioPostgres => resolve_tokio_postgres(conn, "explicit", &[].as_slice()),
        }
    }

    /// The user name the client logs in as (PostgreSQL: the OS user when none is given).
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether a password is known for this target (given, or found in `.pgpass`).
    #[must_use]
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Postgres or Redis.
    #[must_use]
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// Where it came from: a variable name (`DATABASE_URL`), `PG* variables`, or `explicit`.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every host and port the client may connect to.
    #[must_use]
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The database name (PostgreSQL) or index (Redis; `0,5` when redis-rs and redis-py
    /// would select different ones, as for `redis://host/0?db=5`).
    #[must_use]
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The connection string as given, password masked.
    #[must_use]
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// The canonical name of this target, without user or password: what an override must
    /// name to allow it, e.g. `postgres://db.internal:5432/app`.
    #[must_use]
    pub fn id(&self) -> String {
        if self.kind == TargetKind::Sqlite {
            return format!("sqlite://{}", self.endpoints[0].host);
        }
        let hosts: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| match &e.host {
                Host::Socket(p) | Host::File(p) => {
                    format!("{}:{}", p.display().to_string().replace('/', "%2F"), e.port)
                }
                h => format!("{h}:{}", e.port),
            })
            .collect();
        // A database name holding `@` is most likely the rest of a password libpq split
        // at its first `@` (`postgres://u:p@/x@h/db`): shown redacted like one.
        format!(
            "{}://{}/{}",
            self.kind,
            hosts.join(","),
            mask(self.database.as_deref().unwrap_or(""))
        )
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.source, self.id())
    }
}

/// A URL scheme at the very start (`scheme://`), as RFC 3986 spells schemes.
fn scheme_of(conn: &str) -> Option<&str> {
    let (scheme, _) = conn.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

fn resolve(conn: &str, source: &str, env: Option<&dyn Env>) -> Result<Target> {
    let invalid = |reason: String| Error::InvalidTarget {
        source_name: source.to_owned(),
        masked: mask(conn),
        reason,
    };
    // libpq recognises a URI only by the exact lower-case prefix; anything else is a
    // keyword/value string to it. Never trimmed: a leading space makes it a keyword string.
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let options = parse_conninfo(conn).map_err(invalid)?;
        return resolve_postgres(options, conn, source, env).map_err(invalid);
    }
    let conn_trimmed = conn.trim();
    let scheme = scheme_of(conn_trimmed).map(str::to_ascii_lowercase);
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => Err(invalid(
            "libpq only recognises a URI starting exactly with `postgres://` or `postgresql://` (lower case, nothing before it); to it this is a keyword/value string"
                .to_owned(),
        )),
        Some("redis" | "rediss" | "valkey" | "valkeys" | "redis+unix" | "valkey+unix" | "unix") => {
            resolve_redis(conn_trimmed, source).map_err(invalid)
        }
        Some("mysql" | "mariadb") => resolve_mysql(conn_trimmed, source).map_err(invalid),
        Some("sqlite") => Ok(sqlite(conn_trimmed, source)),
        Some(other) => Err(invalid(format!(
            "unsupported scheme `{other}` (expected postgres://, postgresql://, redis://, rediss://, redis+unix://, unix://, mysql://, sqlite://)"
        ))),
        None if conn_trimmed.to_ascii_lowercase().starts_with("sqlite:") => {
            Ok(sqlite(conn_trimmed, source))
        }
        None if conn.contains('=') => {
            let options = parse_conninfo(conn).map_err(invalid)?;
            resolve_postgres(options, conn, source, env).map_err(invalid)
        }
        None => Err(invalid(
            "not a URL (scheme://...) or a libpq key=value string (libpq would take it as a database name; refused)".to_owned(),
        )),
    }
}

/// tokio-postgres' rules: its own `Config` parser, no environment; the user defaults to the
/// OS user and the database to the user, as the server does.
fn resolve_tokio_postgres(conn: &str, source: &str, env: &dyn Env) -> Result<Target> {
    let is_postgres = conn.starts_with("postgres://")
        || conn.starts_with("postgresql://")
        || (scheme_of(conn.trim()).is_none() && conn.contains('='));
    if !is_postgres {
        return resolve(conn, source, Some(env));
    }
    #[cfg(feature = "postgres")]
    {
        let invalid = |reason: String| Error::InvalidTarget {
            source_name: source.to_owned(),
            masked: mask(conn),
            reason,
        };
        let config: tokio_postgres::Config = conn
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid(crate::mask::mask(&e.to_string())))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(invalid(
                "no host: tokio-postgres refuses to connect without one".to_owned(),
            ));
        }
        let mut target = Target::from_postgres_config(&config, source);
        if target.user.is_none() {
            let user = libpq::os_user().map_err(invalid)?;
            target.database.get_or_insert_with(|| user.clone());
            target.user = Some(user);
        }
        target.masked = mask(conn);
        Ok(target)
    }
    #[cfg(not(feature = "postgres"))]
    {
        Err(Error::InvalidTarget {
            source_name: source.to_owned(),
            masked: mask(conn),
            reason: "resolving as tokio-postgres does needs the `postgres` feature".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mysql_and_sqlite() {
        let t = Target::parse("mysql://root:pw@DB.example.org/app_test").unwrap();
        assert_eq!(t.kind(), TargetKind::MySql);
        assert_eq!(t.id(), "mysql://db.example.org:3306/app_test");
        let t = Target::parse("mariadb://root@127.0.0.1:3307/x?socket=/run/mysqld.sock").unwrap();
        assert_eq!(
            t.endpoints()[0].host,
            Host::Socket("/run/mysqld.sock".into())
        );
        for (conn, path) in [
            ("sqlite:data/test.db", "data/test.db"),
            ("sqlite://data/test.db?mode=rwc", "data/test.db"),
            ("sqlite::memory:", ":memory:"),
        ] {
            let t = Target::parse(conn).unwrap();
            assert_eq!(t.endpoints()[0].host, Host::File(path.into()), "{conn}");
            assert!(t.endpoints()[0].host.is_local());
        }
    }

    #[test]
    fn redis_urls() {
        let t = Target::parse("redis://:pw@127.0.0.1:6380/3").unwrap();
        assert_eq!(t.id(), "redis://127.0.0.1:6380/3");
        assert_eq!(t.masked(), "redis://:***@127.0.0.1:6380/3");
        let t = Target::parse("rediss://cache.upstash.io").unwrap();
        assert_eq!(t.id(), "redis://cache.upstash.io:6379/0");
        let t = Target::parse("redis+unix:///run/redis.sock?db=2").unwrap();
        assert_eq!(t.id(), "redis://%2Frun%2Fredis.sock:0/2");
        // redis-rs reads the path, redis-py lets `?db=` win: both indexes are named.
        for (url, db) in [
            ("redis://h:6379?db=5", "0,5"),
            ("redis://h/0?db=5", "0,5"),
            ("redis://h/3?db=5", "3,5"),
            ("redis://h/5?db=5", "5"),
        ] {
            assert_eq!(Target::parse(url).unwrap().database(), Some(db), "{url}");
        }
        assert!(Target::parse("redis://h/1?db=x").is_err());
        assert!(Target::parse("redis://h/notanumber").is_err());
    }

    #[test]
    fn a_password_libpq_splits_into_the_database_name_stays_hidden() {
        // libpq ends the userinfo at the first `@` before the path: the rest of this
        // password becomes the database name, which the id used to print.
        let t = Target::parse("postgres://app:Kq7a@/Zx9b@127.0.0.1:1/app_test").unwrap();
        assert!(!t.id().contains("Zx9b"), "{}", t.id());
        assert!(!t.to_string().contains("Zx9b"), "{t}");
    }

    #[test]
    fn errors_name_source_and_mask_password() {
        let err = Target::resolve(
            "postgres://u:hunter2@h:99999/db",
            "DATABASE_URL",
            &[].as_slice(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("DATABASE_URL") && err.contains("invalid port"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = Target::parse("mongodb://root:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unsupported scheme `mongodb`") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    #[cfg(feature = "postgres")]
    fn tokio_postgres_client_reads_no_environment() {
        let env = [("PGHOST", "db.prod.example.com"), ("PGPORT", "6543")];
        let t = Target::resolve_for(
            Client::TokioPostgres,
            "host=127.0.0.1 dbname=app_test",
            "DATABASE_URL",
            &env,
        )
        .unwrap();
        assert_eq!(t.id(), "postgres://127.0.0.1:5432/app_test");
        let libpq =
            Target::resolve_for(Client::Libpq, "dbname=app_test", "DATABASE_URL", &env).unwrap();
        assert_eq!(libpq.id(), "postgres://db.prod.example.com:6543/app_test");
        // No host: tokio-postgres would not connect at all.
        assert!(
            Target::resolve_for(Client::TokioPostgres, "dbname=x", "DATABASE_URL", &env).is_err()
        );
        // Other kinds resolve the same for every client.
        let r = Target::resolve_for(Client::TokioPostgres, "redis://h/1", "REDIS_URL", &env);
        assert_eq!(r.unwrap().id(), "redis://h:6379/1");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Target::parse(&s);
            let _ = Target::parse(&format!("postgres://{s}"));
            let _ = Target::parse(&format!("redis://{s}"));
        }

        /// A password never appears in a parse error or in the masked form.
        #[test]
        fn password_never_in_errors(password in "[A-Za-z0-9]{8,16}", port in "[0-9a-z]{0,7}", scheme in "(postgres|redis|mysql)") {
            let conn = format!("{scheme}://user:{password}@host:{port}/db");
            match Target::parse(&conn) {
                Ok(t) => {
                    prop_assert!(!t.masked().contains(&password));
                    let debug = format!("{t:?}");
                    prop_assert!(!debug.contains(&password));
                    prop_assert!(!t.to_string().contains(&password));
                }
                Err(e) => prop_assert!(!e.to_string().contains(&password)),
            }
        }

        /// Host, port and database survive a round trip through `id()`.
        #[test]
        fn id_round_trips(host in "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,5})?", port in 1u16.., db in "[a-z_][a-z0-9_]{0,20}") {
            let t = Target::parse(&format!("postgres://u:p@{host}:{port}/{db}")).unwrap();
            let again = Target::parse(&t.id()).unwrap();
            prop_assert_eq!(t.id(), again.id());
            prop_assert_eq!(again.database(), Some(db.as_str()));
        }
    }
}
