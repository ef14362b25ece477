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

/// What a server said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MarkerReading {
    /// The marker's value, or `None` when the server carries no marker.
    pub value: Option<String>,
    /// Where it was read: `database setting preflight.environment`, `key ... in db 0`, ...
    pub source: String,
    /// PostgreSQL only: the server is a standby (`pg_is_in_recovery()`).
    pub standby: bool,
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

pub(crate) async fn read(target: &Target, cfg: &Config) -> Result<MarkerReading> {
    match target.kind {
        #[cfg(feature = "postgres")]
        TargetKind::Postgres => postgres::read(target, cfg).await,
        #[cfg(feature = "redis")]
        TargetKind::Redis => redis::read(target, cfg).await,
        #[allow(unreachable_patterns, reason = "reachable for kinds without a backend")]
        _ => {
            let _ = cfg;
            Err(unsupported(target))
        }
    }
}

async fn write(target: &Target, cfg: &Config, value: Option<&str>) -> Result<()> {
    if let Some(v) = value {
        validate_value(v)?;
    }
    match target.kind {
        #[cfg(feature = "postgres")]
        TargetKind::Postgres => postgres::write(target, cfg, value).await,
        #[cfg(feature = "redis")]
        TargetKind::Redis => redis::write(target, cfg, value).await,
        #[allow(unreachable_patterns, reason = "reachable for kinds without a backend")]
        _ => {
            let _ = (cfg, value);
            Err(unsupported(target))
        }
    }
}

/// Helpers to mark a server once ("this is production", "this is a test database"), read the
/// marker back and remove it. They use the guard's marker setting / key, so what they write is
/// what the guard reads.
impl Guard {
    /// Reads the marker of `target` as the check does.
    ///
    /// # Errors
    /// [`Error::Marker`] when the server cannot be asked; [`Error::FeatureDisabled`] when the
    /// backend's feature is off.
    pub async fn read_marker(&self, target: &Target) -> Result<MarkerReading> {
        read(target, &self.inner).await
    }

    /// Marks `target`: PostgreSQL `ALTER DATABASE <current> SET <setting> = '<value>'` (needs
    /// the database owner or a superuser; applies to new sessions), Redis `SET <key> <value>`
    /// in the URL's database index.
    ///
    /// # Errors
    /// [`Error::InvalidMarkerValue`], [`Error::Marker`], [`Error::FeatureDisabled`].
    pub async fn set_marker(&self, target: &Target, value: &str) -> Result<()> {
        write(target, &self.inner, Some(value)).await
    }

    /// Removes the marker of `target` (`ALTER DATABASE ... RESET`, Redis `DEL`).
    ///
    /// # Errors
    /// [`Error::Marker`], [`Error::FeatureDisabled`].
    pub async fn clear_marker(&self, target: &Target) -> Result<()> {
        write(target, &self.inner, None).await
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
