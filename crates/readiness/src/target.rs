//! Targets: a probe with a printable, password-masked name, parsed from a spec string or
//! built in code.
//!
//! Spec syntax (one scheme per probe):
//!
//! | spec | probe |
//! |---|---|
//! | `tcp://host:port`, `host:port`, `[::1]:port` | TCP connect |
//! | `http://…`, `https://…` | HTTP status 2xx (feature `http`) |
//! | `postgres://…`, `postgresql://…` | connect + `SELECT 1` (feature `postgres`) |
//! | `redis://…`, `rediss://…`, `redis+unix://…`, `unix+redis://…` | `PING` → `PONG` (feature `redis`) |
//! | `questdb://[user:password@]host[?pg_port=…&health_port=…&database=…&ping[=port]&http_auth]` | QuestDB ladder (feature `questdb`); `http_auth` sends the URL's user and password to the min-health server too |
//! | `mysql://host[:3306]`, `mariadb://…` | server handshake |
//! | `amqp://host[:5672]` | AMQP 0-9-1 `Connection.Start` |
//! | `nats://[user:pass@\|token@]host[:4222]` | `INFO`, `CONNECT`, `PING` → `PONG` |
//! | `mqtt://[user[:pass]@]host[:1883]` | MQTT 3.1.1 `CONNACK` accepted |
//! | `unix:///path` | unix socket connect |
//! | `file:///path` | path exists |
//! | `cmd:program arg…` / `sh:script` | command exits 0 (no shell / `sh -c`) |
//!
//! The `cmd:` and `sh:` prefixes win over a bare `host:port`: a host that is really named
//! `cmd` or `sh` is written `tcp://sh:80`.
//!
//! The URL schemes come from one table (`SCHEMES`: names, cargo feature, default port,
//! constructor) that drives parsing and the unknown-scheme message; a unit test checks
//! that the table above lists exactly its names.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use url::Url;

use crate::error::{Error, Result};
use crate::mask::{mask, scrub_reason};
use crate::net::HostPort;
use crate::probe::{
    AmqpProbe, CommandProbe, FileProbe, MqttProbe, MysqlProbe, NatsProbe, Probe, TcpProbe,
    UnixProbe,
};

/// Something to wait for: a probe and the name it is reported under.
#[derive(Clone)]
pub struct Target {
    name: Arc<str>,
    probe: Arc<dyn Probe>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        Self::parse(spec)
    }
}

impl Target {
    /// A target for a probe built in code, e.g. your own [`Probe`]. Passwords in `name`
    /// are masked anyway.
    pub fn new(name: impl AsRef<str>, probe: impl Probe + 'static) -> Self {
        Self {
            name: mask(name.as_ref()).into(),
            probe: Arc::new(probe),
        }
    }

    /// A TCP target.
    #[must_use]
    pub fn tcp(host: &str, port: u16) -> Self {
        Self::new(
            format!("tcp://{}", HostPort::new(host, port)),
            TcpProbe::new(host, port),
        )
    }

    /// Parses a spec; see the [module docs](self) for the syntax.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] saying what is wrong (the password masked), or
    /// [`Error::FeatureDisabled`] naming the cargo feature a scheme needs.
    ///
    /// ```
    /// use preflight_readiness::Target;
    ///
    /// let target = Target::parse("redis://:s3cret@cache:6379/0");
    /// # #[cfg(feature = "redis")]
    /// assert_eq!(target.unwrap().name(), "redis://:***@cache:6379/0");
    /// let err = Target::parse("db:99999").unwrap_err();
    /// assert!(err.to_string().contains("99999"));
    /// ```
    pub fn parse(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        let probe = parse_probe(spec).map_err(|e| match e {
            Error::InvalidTarget { spec, reason } => Error::InvalidTarget {
                reason: scrub_reason(&spec, &reason),
                spec,
            },
            other => other,
        })?;
        Ok(Self {
            name: mask(spec).into(),
            probe,
        })
    }

    /// The name the target is reported under, password masked.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    /// The probe.
    #[must_use]
    pub fn probe(&self) -> &dyn Probe {
        &*self.probe
    }
}

fn invalid(spec: &str, reason: impl Into<String>) -> Error {
    Error::InvalidTarget {
        spec: mask(spec),
        reason: reason.into(),
    }
}

fn parse_probe(spec: &str) -> Result<Arc<dyn Probe>> {
    if spec.is_empty() {
        return Err(invalid(spec, "empty target"));
    }
    if let Some(command) = spec.strip_prefix("cmd:") {
        let mut words = command.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| invalid(spec, "`cmd:` needs a program"))?;
        return Ok(Arc::new(CommandProbe::new(program, words)));
    }
    if let Some(script) = spec.strip_prefix("sh:") {
        if script.trim().is_empty() {
            return Err(invalid(spec, "`sh:` needs a script"));
        }
        return Ok(Arc::new(CommandProbe::shell(script)));
    }
    let Some((scheme, _)) = spec.split_once("://") else {
        let addr = HostPort::parse(spec).map_err(|reason| invalid(spec, reason))?;
        return Ok(Arc::new(TcpProbe::new(addr.host, addr.port)));
    };
    let name = scheme.to_ascii_lowercase();
    if let Some(scheme) = SCHEMES.iter().find(|s| s.names.contains(&name.as_str())) {
        return (scheme.build)(spec, &name, scheme);
    }
    // Quote a scheme only when it is one: text before `://` that is not may be part of a
    // secret.
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let named = if valid {
        format!("unknown scheme `{name}`")
    } else {
        "invalid scheme".to_owned()
    };
    let known: Vec<&str> = SCHEMES
        .iter()
        .flat_map(|s| s.names.iter().copied())
        .collect();
    Err(invalid(
        spec,
        format!(
            "{named}; expected {} (or cmd:, sh:, host:port)",
            known.join(", ")
        ),
    ))
}

/// One row of the scheme table.
struct Scheme {
    /// The scheme and its aliases, as written before `://` (lowercase).
    names: &'static [&'static str],
    /// The cargo feature the probe needs, if any (read by the constructor of a disabled
    /// feature, and by the test that checks the docs).
    #[cfg_attr(
        all(
            feature = "http",
            feature = "postgres",
            feature = "redis",
            feature = "questdb"
        ),
        allow(
            dead_code,
            reason = "every feature is on: no disabled constructor reads it"
        )
    )]
    feature: Option<&'static str>,
    /// The port used when the URL has none, where this module applies it (`None`: the
    /// URL needs a port, or the probe's own URL parser applies its client's default).
    default_port: Option<u16>,
    /// Builds the probe from the whole spec and the scheme as written (lowercased).
    build: fn(&str, &str, &Scheme) -> Result<Arc<dyn Probe>>,
}

/// Every URL scheme, in the order the unknown-scheme message lists them.
const SCHEMES: &[Scheme] = &[
    Scheme {
        names: &["tcp"],
        feature: None,
        default_port: None,
        build: simple,
    },
    Scheme {
        names: &["http", "https"],
        feature: Some("http"),
        default_port: None,
        build: http,
    },
    Scheme {
        names: &["postgres", "postgresql"],
        feature: Some("postgres"),
        default_port: None,
        build: postgres,
    },
    Scheme {
        names: &["redis", "rediss", "redis+unix", "unix+redis"],
        feature: Some("redis"),
        default_port: None,
        build: redis,
    },
    Scheme {
        names: &["questdb"],
        feature: Some("questdb"),
        default_port: Some(9003),
        build: questdb,
    },
    Scheme {
        names: &["mysql", "mariadb"],
        feature: None,
        default_port: Some(3306),
        build: simple,
    },
    Scheme {
        names: &["amqp"],
        feature: None,
        default_port: Some(5672),
        build: simple,
    },
    Scheme {
        names: &["nats"],
        feature: None,
        default_port: Some(4222),
        build: simple,
    },
    Scheme {
        names: &["mqtt"],
        feature: None,
        default_port: Some(1883),
        build: simple,
    },
    Scheme {
        names: &["unix"],
        feature: None,
        default_port: None,
        build: simple,
    },
    Scheme {
        names: &["file"],
        feature: None,
        default_port: None,
        build: simple,
    },
];

/// The constructor of a scheme whose cargo feature is off.
#[cfg(not(all(
    feature = "http",
    feature = "postgres",
    feature = "redis",
    feature = "questdb"
)))]
fn disabled(spec: &str, _name: &str, scheme: &Scheme) -> Result<Arc<dyn Probe>> {
    Err(Error::FeatureDisabled {
        spec: mask(spec),
        feature: scheme.feature.unwrap_or("default"),
    })
}

/// The probes that need no optional dependency.
fn simple(spec: &str, scheme: &str, row: &Scheme) -> Result<Arc<dyn Probe>> {
    let url = Url::parse(spec).map_err(|e| invalid(spec, e.to_string()))?;
    let url = &url;
    let default_port = row.default_port.unwrap_or(0);
    let user = || {
        let user = url.username();
        (!user.is_empty()).then(|| decode(user))
    };
    let password = || url.password().map(decode);
    let probe: Arc<dyn Probe> = match scheme {
        "tcp" => {
            let Some(port) = url.port() else {
                return Err(invalid(spec, "missing port: expected tcp://HOST:PORT"));
            };
            if !matches!(url.path(), "" | "/") {
                return Err(invalid(spec, format!("unexpected path `{}`", url.path())));
            }
            let addr = HostPort::from_url(url, port, spec)?;
            if addr.port == 0 {
                return Err(invalid(spec, "port 0 is not a port to wait for"));
            }
            Arc::new(TcpProbe::new(addr.host, addr.port))
        }
        "mysql" | "mariadb" => {
            let addr = HostPort::from_url(url, default_port, spec)?;
            Arc::new(MysqlProbe::new(addr.host, addr.port))
        }
        "amqp" => {
            let addr = HostPort::from_url(url, default_port, spec)?;
            Arc::new(AmqpProbe::new(addr.host, addr.port))
        }
        "nats" => {
            let addr = HostPort::from_url(url, default_port, spec)?;
            let probe = NatsProbe::new(addr.host, addr.port);
            Arc::new(match (user(), password()) {
                (Some(user), Some(password)) => probe.user_password(user, password),
                (Some(token), None) => probe.token(token),
                _ => probe,
            })
        }
        "mqtt" => {
            let addr = HostPort::from_url(url, default_port, spec)?;
            let probe = MqttProbe::new(addr.host, addr.port);
            Arc::new(match user() {
                Some(user) => probe.credentials(user, password()),
                None => probe,
            })
        }
        "unix" | "file" => {
            if url.host_str().is_some_and(|h| !h.is_empty()) {
                return Err(invalid(
                    spec,
                    format!("expected an absolute path: {scheme}:///path"),
                ));
            }
            let path = decode(url.path());
            if path.is_empty() || path == "/" {
                return Err(invalid(spec, "missing path"));
            }
            if scheme == "unix" {
                Arc::new(UnixProbe::new(path))
            } else {
                Arc::new(FileProbe::new(path))
            }
        }
        _ => unreachable!("simple() is only called for the schemes of its table rows"),
    };
    Ok(probe)
}

/// Percent-decodes URL userinfo (`p%40ss` → `p@ss`); invalid escapes stay as they are,
/// bytes that are not UTF-8 become U+FFFD.
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(feature = "http")]
fn http(spec: &str, _name: &str, _row: &Scheme) -> Result<Arc<dyn Probe>> {
    Ok(Arc::new(crate::probe::HttpProbe::builder(spec).build()?))
}

#[cfg(not(feature = "http"))]
use self::disabled as http;

#[cfg(feature = "postgres")]
fn postgres(spec: &str, _name: &str, _row: &Scheme) -> Result<Arc<dyn Probe>> {
    Ok(Arc::new(crate::probe::PostgresProbe::parse(spec)?))
}

#[cfg(not(feature = "postgres"))]
use self::disabled as postgres;

#[cfg(feature = "redis")]
fn redis(spec: &str, _name: &str, _row: &Scheme) -> Result<Arc<dyn Probe>> {
    Ok(Arc::new(crate::probe::RedisProbe::parse(spec)?))
}

#[cfg(not(feature = "redis"))]
use self::disabled as redis;

#[cfg(feature = "questdb")]
fn questdb(spec: &str, _name: &str, row: &Scheme) -> Result<Arc<dyn Probe>> {
    use crate::net::parse_port;

    let url = Url::parse(spec).map_err(|e| invalid(spec, e.to_string()))?;
    let addr = HostPort::from_url(&url, row.default_port.unwrap_or(9003), spec)?;
    if url.port().is_some() {
        return Err(invalid(
            spec,
            "give ports as health_port=, pg_port=, ping=PORT, ilp=PORT query parameters",
        ));
    }
    let mut builder = crate::probe::QuestDbProbe::builder(addr.host);
    let user = (!url.username().is_empty()).then(|| decode(url.username()));
    let password = url.password().map(decode);
    if let Some(user) = &user {
        builder = builder.user(user.clone());
    }
    if let Some(password) = &password {
        builder = builder.password(password.clone());
    }
    let port = |key: &str, value: &str| {
        parse_port(value).map_err(|reason| invalid(spec, format!("{key}: {reason}")))
    };
    for (key, value) in url.query_pairs() {
        builder = match (&*key, &*value) {
            ("health_port", v) => builder.health_port(port("health_port", v)?),
            ("pg_port", v) => builder.pg_port(port("pg_port", v)?),
            ("database", v) if !v.is_empty() => builder.database(v),
            ("ping", "" | "true") => builder.ping_port(9000),
            ("ping", v) => builder.ping_port(port("ping", v)?),
            ("http_auth", "" | "true") => builder.http_auth(
                user.clone().unwrap_or_else(|| "admin".to_owned()),
                password.clone().unwrap_or_else(|| "quest".to_owned()),
            ),
            ("ilp", _) => {
                return Err(invalid(
                    spec,
                    "the ilp step was removed: ILP/TCP never answers and QuestDB binds it before \
                     it accepts, so a connect proved nothing; use ping (ILP over HTTP)",
                ));
            }
            (other, _) => {
                return Err(invalid(
                    spec,
                    format!(
                        "unknown parameter `{other}`; expected health_port, pg_port, database, ping, http_auth"
                    ),
                ));
            }
        };
    }
    Ok(Arc::new(builder.build()?))
}

#[cfg(not(feature = "questdb"))]
use self::disabled as questdb;

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(spec: &str) -> String {
        Target::parse(spec).unwrap_err().to_string()
    }

    /// Every `scheme://` the module docs' table names.
    fn documented_schemes() -> std::collections::BTreeSet<String> {
        include_str!("target.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! |"))
            .flat_map(|row| row.split('`').skip(1).step_by(2))
            .filter_map(|code| code.split_once("://").map(|(scheme, _)| scheme.to_owned()))
            .collect()
    }

    #[test]
    fn the_docs_table_lists_exactly_the_scheme_table() {
        let table: std::collections::BTreeSet<String> = SCHEMES
            .iter()
            .flat_map(|s| s.names.iter().map(|n| (*n).to_owned()))
            .collect();
        assert_eq!(documented_schemes(), table);
    }

    #[test]
    fn the_unknown_scheme_message_lists_every_scheme() {
        let text = reason("gopher://db");
        for row in SCHEMES {
            for name in row.names {
                assert!(
                    text.contains(&format!(" {name},")) || text.contains(&format!(" {name} (")),
                    "{name}: {text}"
                );
            }
            if let Some(feature) = row.feature {
                // The docs name each feature next to its schemes.
                assert!(
                    include_str!("target.rs").contains(&format!("(feature `{feature}`)")),
                    "{feature}"
                );
            }
        }
    }

    #[test]
    fn parses_every_always_available_scheme() {
        for spec in [
            "db:5432",
            "[::1]:80",
            "tcp://db:5432",
            "tcp://[::1]:5432",
            "mysql://db",
            "mariadb://db:3307",
            "amqp://guest:guest@mq:5672/vhost",
            "nats://tok@nats",
            "mqtt://u:p@broker:1883",
            "unix:///run/app.sock",
            "file:///tmp/ready",
            "cmd:pg_isready -h db",
            "sh:test -e /tmp/x",
        ] {
            assert!(Target::parse(spec).is_ok(), "{spec}");
        }
    }

    #[test]
    fn userinfo_is_percent_decoded() {
        assert_eq!(decode("p%40ss%2Fw+rd&x"), "p@ss/w+rd&x");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%e2%82%ac"), "%zz€");
    }

    #[test]
    fn names_are_masked() {
        let target = Target::parse("amqp://guest:s3cret@mq").unwrap();
        assert_eq!(target.name(), "amqp://guest:***@mq");
        assert!(!format!("{target:?}").contains("s3cret"));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert!(reason("").contains("empty"));
        assert!(reason("tcp://db").contains("missing port"));
        assert!(reason("tcp://db:80/x").contains("unexpected path"));
        assert!(reason("gopher://db").contains("unknown scheme `gopher`"));
        assert!(reason("unix://relative/x").contains("absolute path"));
        assert!(reason("file://").contains("missing path"));
        assert!(reason("cmd:").contains("needs a program"));
        assert!(reason("db:http").contains("`http`"));
        assert!(reason("mysql://u:s3cret@:3306").contains("***"));
        assert!(!reason("mysql://u:s3cret@:3306").contains("s3cret"));
    }

    #[cfg(not(feature = "http"))]
    #[test]
    fn disabled_features_are_named() {
        assert!(reason("http://h").contains("`http` feature"));
    }

    #[cfg(feature = "questdb")]
    #[test]
    fn questdb_parameters() {
        assert!(Target::parse("questdb://admin:quest@qdb?pg_port=5432&ping&http_auth").is_ok());
        assert!(reason("questdb://qdb?ilp=9009").contains("use ping"));
        assert!(reason("questdb://qdb:9003").contains("query parameters"));
        assert!(reason("questdb://qdb?pg=1").contains("unknown parameter `pg`"));
        assert!(reason("questdb://qdb?pg_port=x").contains("pg_port"));
    }
}
