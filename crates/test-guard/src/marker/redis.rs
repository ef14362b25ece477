//! Redis markers: a plain key (`preflight:environment` by default), read with `GET` in the
//! database index the URL selects, because the index is per connection and the marker must
//! sit where the tests will write. Works on clusters and managed services, where `CONFIG`
//! and `SELECT` may be unavailable.

use redis::AsyncCommands;

use super::{MarkerReading, chain, scrub};
use crate::error::{Error, Result};
use crate::guard::Config;
use crate::target::Target;

fn fail(target: &Target, reason: impl std::fmt::Display) -> Error {
    Error::Marker {
        target: target.to_string(),
        reason: scrub(&reason.to_string(), target),
    }
}

async fn connect(target: &Target, cfg: &Config) -> Result<redis::aio::MultiplexedConnection> {
    let url = target
        .redis_url
        .as_ref()
        .ok_or_else(|| fail(target, "no URL"))?;
    let client = redis::Client::open(url.0.as_str()).map_err(|e| fail(target, chain(&e)))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(cfg.marker_timeout))
        .set_response_timeout(Some(cfg.marker_timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| fail(target, format!("cannot connect: {}", chain(&e))))
}

pub(super) async fn read(target: &Target, cfg: &Config) -> Result<MarkerReading> {
    let mut conn = connect(target, cfg).await?;
    let value: Option<String> = conn.get(&cfg.redis_marker_key).await.map_err(|e| {
        fail(
            target,
            format!("GET {} failed: {}", cfg.redis_marker_key, chain(&e)),
        )
    })?;
    Ok(MarkerReading {
        value: value.filter(|v| !v.is_empty()),
        source: format!(
            "key {} in db {}",
            cfg.redis_marker_key,
            target.database.as_deref().unwrap_or("0")
        ),
        standby: false,
    })
}

pub(super) async fn write(target: &Target, cfg: &Config, value: Option<&str>) -> Result<()> {
    let mut conn = connect(target, cfg).await?;
    let result: redis::RedisResult<()> = match value {
        Some(v) => conn.set(&cfg.redis_marker_key, v).await,
        None => conn.del(&cfg.redis_marker_key).await,
    };
    result.map_err(|e| fail(target, chain(&e)))
}
