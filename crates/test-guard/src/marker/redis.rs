//! Redis markers: a plain key (`preflight:environment` by default), read with `GET` in the
//! database index the client selects, because the index is per connection and the marker
//! must sit where the tests will write. The index is selected explicitly (`SELECT n` then
//! `GET`, in one pipeline on a connection of our own), for each index a client may land on:
//! redis-rs takes it from the URL's path, redis-py lets `?db=` win, so `redis://h/0?db=5`
//! is read in both 0 and 5. The server-wide marker is the key `<key>:server` in db 0, the
//! one database every deployment has (a cluster has no other).

use redis::AsyncCommands;

use super::{Marker, MarkerReading, MarkerScope, Scope, chain, endpoint_text, scrub};
use crate::error::{Error, Result};
use crate::guard::Config;
use crate::target::Target;

fn fail(target: &Target, reason: impl std::fmt::Display) -> Error {
    Error::Marker {
        target: target.to_string(),
        reason: scrub(&reason.to_string(), target),
    }
}

/// Every index a client may select for this target (see `target::urls`).
fn indexes(target: &Target) -> Vec<i64> {
    target
        .database
        .as_deref()
        .unwrap_or("0")
        .split(',')
        .filter_map(|d| d.parse().ok())
        .collect()
}

fn server_key(cfg: &Config) -> String {
    format!("{}:server", cfg.redis_marker_key)
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

/// `GET key` in database `db`, selected on this connection first.
async fn get_in(
    conn: &mut redis::aio::MultiplexedConnection,
    db: i64,
    key: &str,
) -> redis::RedisResult<Option<String>> {
    let (value,): (Option<String>,) = redis::pipe()
        .cmd("SELECT")
        .arg(db)
        .ignore()
        .cmd("GET")
        .arg(key)
        .query_async(conn)
        .await?;
    Ok(value)
}

pub(super) async fn read(target: &Target, cfg: &Config) -> Result<MarkerReading> {
    let host = endpoint_text(target, 0);
    let at = |reason: String| fail(target, format!("{host}: {reason}"));
    let mut conn = connect(target, cfg).await.map_err(|e| match e {
        Error::Marker { reason, .. } => at(reason),
        other => other,
    })?;
    let mut markers = Vec::new();
    for db in indexes(target) {
        let value = get_in(&mut conn, db, &cfg.redis_marker_key)
            .await
            .map_err(|e| {
                at(format!(
                    "SELECT {db} + GET {} failed: {}",
                    cfg.redis_marker_key,
                    chain(&e)
                ))
            })?;
        markers.push(Marker {
            value: value.filter(|v| !v.is_empty()),
            source: format!("key {} in db {db}", cfg.redis_marker_key),
            scope: MarkerScope::Database(db.to_string()),
        });
    }
    let key = server_key(cfg);
    let server = get_in(&mut conn, 0, &key)
        .await
        .map_err(|e| at(format!("SELECT 0 + GET {key} failed: {}", chain(&e))))?;
    markers.push(Marker {
        value: server.filter(|v| !v.is_empty()),
        source: format!("server-wide key {key} in db 0"),
        scope: MarkerScope::Server,
    });
    Ok(MarkerReading::new(host, markers, false))
}

pub(super) async fn write(
    target: &Target,
    cfg: &Config,
    value: Option<&str>,
    scope: Scope,
) -> Result<()> {
    let (db, key) = match scope {
        Scope::Server => (0, server_key(cfg)),
        Scope::Database => match indexes(target).as_slice() {
            [db] => (*db, cfg.redis_marker_key.clone()),
            several => {
                let list: Vec<String> = several.iter().map(ToString::to_string).collect();
                return Err(fail(
                    target,
                    format!(
                        "redis-rs and redis-py select different database indexes for this URL ({}); name one index in the path, e.g. redis://host/{}",
                        list.join(" and "),
                        list.last().map_or("0", String::as_str)
                    ),
                ));
            }
        },
    };
    let mut conn = connect(target, cfg).await?;
    let selected: redis::RedisResult<()> =
        redis::cmd("SELECT").arg(db).query_async(&mut conn).await;
    selected.map_err(|e| fail(target, chain(&e)))?;
    let result: redis::RedisResult<()> = match value {
        Some(v) => conn.set(&key, v).await,
        None => conn.del(&key).await,
    };
    result.map_err(|e| fail(target, chain(&e)))
}
