//! Live markers: asking the server itself what it is. This module dispatches to the
//! PostgreSQL and Redis backends (each behind its feature) and holds what they share.
//! It must never turn an error into "no marker": a marker that cannot be read is reported
//! as an error, and the check refuses.

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

use crate::error::{Error, Result};
use crate::guard::{Config, Guard};
use crate::target::{Target, TargetKind};

/// Where a marker applies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MarkerScope {
    /// One PostgreSQL database (by name) or one Redis database index.
    Database(String),
    /// Every database on the server, including ones created later (PostgreSQL
    /// `ALTER ROLE ALL SET`, Redis: the server key in db 0).
    Server,
}

/// One marker place read on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Marker {
    /// The value, or `None` when this place carries no marker.
    pub value: Option<String>,
    /// Where it was read: `database setting preflight.environment`, `key ... in db 0`, ...
    pub source: String,
    /// What it applies to.
    pub scope: MarkerScope,
}

/// What one server (one host of a target) said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MarkerReading {
    /// The first marker found (database-level before server-wide), or `None` when the
    /// server carries none. [`MarkerReading::markers`] has every place read.
    pub value: Option<String>,
    /// Where [`MarkerReading::value`] was read (or the first place asked, when none).
    pub source: String,
    /// PostgreSQL only: the server is a standby (`pg_is_in_recovery()`).
    pub standby: bool,
    /// Every marker place read, database-level first.
    pub markers: Vec<Marker>,
    /// The host and port asked (`127.0.0.1:5432`, a socket path).
    pub host: String,
    /// Where the marker connection landed, as the server reports it (database, user, the
    /// server's own address), when the backend can tell.
    pub landed: Option<String>,
}

impl MarkerReading {
    #[cfg_attr(
        not(any(feature = "postgres", feature = "redis")),
        allow(dead_code, reason = "used by the live backends")
    )]
    pub(crate) fn new(host: String, markers: Vec<Marker>, standby: bool) -> Self {
        let decisive = markers
            .iter()
            .filter(|m| matches!(m.scope, MarkerScope::Database(_)))
            .chain(markers.iter().filter(|m| m.scope == MarkerScope::Server))
            .find(|m| m.value.is_some())
            .or(markers.first());
        Self {
            value: decisive.and_then(|m| m.value.clone()),
            source: decisive.map(|m| m.source.clone()).unwrap_or_default(),
            standby,
            markers,
            host,
            landed: None,
        }
    }

    /// Whether every database this reading covers is marked as a test database: by its own
    /// marker, or, where it has none, by a server-wide one. A database's own marker wins
    /// over the server's (except that a protected value anywhere refuses, see the check).
    pub(crate) fn all_test(&self, is_test: impl Fn(&str) -> bool) -> bool {
        let server = self
            .markers
            .iter()
            .find(|m| m.scope == MarkerScope::Server && m.value.is_some())
            .and_then(|m| m.value.as_deref());
        let mut databases: Vec<&str> = Vec::new();
        for m in &self.markers {
            if let MarkerScope::Database(d) = &m.scope
                && !databases.contains(&d.as_str())
            {
                databases.push(d);
            }
        }
        if databases.is_empty() {
            return server.is_some_and(&is_test);
        }
        databases.iter().all(|d| {
            self.markers
                .iter()
                .filter(|m| matches!(&m.scope, MarkerScope::Database(x) if x == d))
                .find_map(|m| m.value.as_deref())
                .or(server)
                .is_some_and(&is_test)
        })
    }
}

/// Marker values are written into SQL and Redis commands by this crate, so they are kept
/// to a safe, readable alphabet.
pub(crate) fn validate_value(value: &str) -> Result<()> {
    let ok = (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidMarkerValue {
            value: value.to_owned(),
        })
    }
}

/// Why a target's marker cannot be read by this build.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unsupported {
    /// The backend exists behind this crate feature.
    Feature(&'static str),
    /// This kind of target has no marker (the text says why).
    Kind(&'static str),
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Feature(feature) => write!(f, "the `{feature}` feature is off"),
            Self::Kind(why) => f.write_str(why),
        }
    }
}

/// Whether this build can read markers of `kind`.
pub(crate) fn supported(kind: TargetKind) -> Result<(), Unsupported> {
    match kind {
        TargetKind::Postgres if cfg!(feature = "postgres") => Ok(()),
        TargetKind::Postgres => Err(Unsupported::Feature("postgres")),
        TargetKind::Redis if cfg!(feature = "redis") => Ok(()),
        TargetKind::Redis => Err(Unsupported::Feature("redis")),
        TargetKind::MySql => Err(Unsupported::Kind(
            "no live marker for MySQL targets; host and name rules decide",
        )),
        TargetKind::Sqlite => Err(Unsupported::Kind("a SQLite file is local")),
    }
}

/// Replaces the target's password in a server or driver message, in case a driver ever
/// echoes it.
#[cfg_attr(
    not(any(feature = "postgres", feature = "redis")),
    allow(dead_code, reason = "only the live backends produce driver messages")
)]
pub(crate) fn scrub(message: &str, target: &Target) -> String {
    match &target.password {
        Some(p) if !p.0.is_empty() => message.replace(&p.0, "***"),
        _ => message.to_owned(),
    }
}

/// A driver error with its causes (`error connecting to server: Connection refused`).
#[cfg_attr(
    not(any(feature = "postgres", feature = "redis")),
    allow(dead_code, reason = "only the live backends produce driver errors")
)]
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

fn unsupported(target: &Target) -> Error {
    match supported(target.kind) {
        Err(Unsupported::Feature(feature)) => Error::FeatureDisabled {
            target: target.to_string(),
            feature,
        },
        Err(Unsupported::Kind(why)) => Error::Marker {
            target: target.to_string(),
            reason: why.to_owned(),
        },
        Ok(()) => Error::Marker {
            target: target.to_string(),
            reason: "no backend".to_owned(),
        },
    }
}

/// Reads the marker on every host of `target`, concurrently, each under the configured
/// per-target deadline: one answer per endpoint, in endpoint order.
pub(crate) async fn read(target: &Target, cfg: &Config) -> Vec<Result<MarkerReading>> {
    let reads = (0..target.endpoints.len()).map(|i| async move {
        #[cfg(any(feature = "postgres", feature = "redis"))]
        {
            let host = endpoint_text(target, i);
            let one = read_endpoint(target, i, cfg);
            match tokio::time::timeout(cfg.marker_timeout, one).await {
                Ok(result) => result,
                Err(_) => Err(Error::Marker {
                    target: target.to_string(),
                    reason: format!("{host}: no answer within {}", humanise(cfg.marker_timeout)),
                }),
            }
        }
        #[cfg(not(any(feature = "postgres", feature = "redis")))]
        {
            let _ = (i, cfg);
            Err(unsupported(target))
        }
    });
    futures_join_all(reads).await
}

#[cfg(any(feature = "postgres", feature = "redis"))]
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    futures_util::future::join_all(futures).await
}

#[cfg(not(any(feature = "postgres", feature = "redis")))]
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut out = Vec::new();
    for f in futures {
        out.push(f.await);
    }
    out
}

/// `5s`, `250ms`.
#[cfg_attr(
    not(any(feature = "postgres", feature = "redis")),
    allow(dead_code, reason = "only the live backends time out")
)]
pub(crate) fn humanise(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// How an endpoint is named in reports: `127.0.0.1:5432`, `/run/postgresql:5432`.
#[cfg_attr(
    not(any(feature = "postgres", feature = "redis")),
    allow(dead_code, reason = "used by the live backends")
)]
pub(crate) fn endpoint_text(target: &Target, i: usize) -> String {
    let e = &target.endpoints[i];
    match &e.host {
        crate::target::Host::Socket(_) | crate::target::Host::File(_) if e.port == 0 => {
            e.host.to_string()
        }
        h => format!("{h}:{}", e.port),
    }
}

#[cfg(any(feature = "postgres", feature = "redis"))]
async fn read_endpoint(target: &Target, i: usize, cfg: &Config) -> Result<MarkerReading> {
    match target.kind {
        #[cfg(feature = "postgres")]
        TargetKind::Postgres => postgres::read(target, i, cfg).await,
        #[cfg(feature = "redis")]
        TargetKind::Redis => redis::read(target, cfg).await,
        #[allow(unreachable_patterns, reason = "reachable for kinds without a backend")]
        _ => {
            let _ = (i, cfg);
            Err(unsupported(target))
        }
    }
}

async fn write(target: &Target, cfg: &Config, value: Option<&str>, scope: Scope) -> Result<()> {
    if let Some(v) = value {
        validate_value(v)?;
    }
    match target.kind {
        #[cfg(feature = "postgres")]
        TargetKind::Postgres => postgres::write(target, cfg, value, scope).await,
        #[cfg(feature = "redis")]
        TargetKind::Redis => redis::write(target, cfg, value, scope).await,
        #[allow(unreachable_patterns, reason = "reachable for kinds without a backend")]
        _ => {
            let _ = (cfg, value, scope);
            Err(unsupported(target))
        }
    }
}

/// Which marker a write touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The target's own database (or Redis database index).
    Database,
    /// The whole server.
    Server,
}

/// Helpers to mark a server once ("this is production", "this is a test database"), read the
/// marker back and remove it. They use the guard's marker setting / key, so what they write is
/// what the guard reads.
///
/// A marker belongs to **one database** (PostgreSQL) or **one database index** (Redis):
/// marking `postgres://db/app` says nothing about `postgres://db/other`, and
/// `redis://cache/0` nothing about `redis://cache/5`. To mark every database of a server,
/// including ones created later, use [`Guard::set_server_marker`]. The check reads both and
/// a protected value in either refuses.
impl Guard {
    /// Reads the marker of `target` as the check does. For a target with several hosts,
    /// this is the first host's answer; [`Guard::read_markers`] asks each.
    ///
    /// # Errors
    /// [`Error::Marker`] when the server cannot be asked; [`Error::FeatureDisabled`] when the
    /// backend's feature is off.
    pub async fn read_marker(&self, target: &Target) -> Result<MarkerReading> {
        read(target, &self.inner)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(unsupported(target)))
    }

    /// Reads the marker on every host of `target`, one result per host, in order.
    pub async fn read_markers(&self, target: &Target) -> Vec<Result<MarkerReading>> {
        read(target, &self.inner).await
    }

    /// Marks `target`'s database: PostgreSQL `ALTER DATABASE <current> SET <setting> =
    /// '<value>'` (needs the database owner or a superuser; applies to new sessions), Redis
    /// `SET <key> <value>` in the URL's database index. Refused when the URL's database
    /// index is ambiguous (redis-rs and redis-py would select different ones).
    ///
    /// # Errors
    /// [`Error::InvalidMarkerValue`], [`Error::Marker`], [`Error::FeatureDisabled`].
    pub async fn set_marker(&self, target: &Target, value: &str) -> Result<()> {
        write(target, &self.inner, Some(value), Scope::Database).await
    }

    /// Removes the marker of `target`'s database (`ALTER DATABASE ... RESET`, Redis `DEL`).
    ///
    /// # Errors
    /// [`Error::Marker`], [`Error::FeatureDisabled`].
    pub async fn clear_marker(&self, target: &Target) -> Result<()> {
        write(target, &self.inner, None, Scope::Database).await
    }

    /// Marks the whole server `target` points at: every database on it, including ones
    /// created later. PostgreSQL: `ALTER ROLE ALL SET <setting> = '<value>'` (a superuser
    /// only; stored in `pg_db_role_setting` for no database and no role, so `CREATE
    /// DATABASE` cannot leave it behind and `pg_dump` does not carry it to a copy); Redis:
    /// the key `<key>:server` in database 0 (the only one a cluster has). A database's own
    /// marker wins over the server's, except that a protected value in either refuses.
    ///
    /// # Errors
    /// [`Error::InvalidMarkerValue`], [`Error::Marker`], [`Error::FeatureDisabled`].
    pub async fn set_server_marker(&self, target: &Target, value: &str) -> Result<()> {
        write(target, &self.inner, Some(value), Scope::Server).await
    }

    /// Removes the server-wide marker (`ALTER ROLE ALL RESET`, Redis `DEL` in db 0).
    ///
    /// # Errors
    /// [`Error::Marker`], [`Error::FeatureDisabled`].
    pub async fn clear_server_marker(&self, target: &Target) -> Result<()> {
        write(target, &self.inner, None, Scope::Server).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_values() {
        for ok in ["production", "test", "ci-1", "a.b_c"] {
            validate_value(ok).unwrap();
        }
        for bad in ["", "x y", "it's", "a;b", &"x".repeat(65)] {
            assert!(validate_value(bad).is_err(), "{bad}");
        }
    }
}
