//! Scratch databases for tests (feature `scratch`): every test gets its own migrated
//! PostgreSQL database in milliseconds, and its own Redis key space, only on a server the
//! guard has cleared.
//!
//! - **A template per schema.** The migrations (a directory of `.sql` files, inline SQL or
//!   your own migrator) are run once into `preflight_tpl_<label>_<hash>`, named after a hash
//!   of their content, and reused by every later run until they change. Concurrent test
//!   processes wait on an advisory lock instead of racing. The template accepts no
//!   connections once built (a clone needs it idle).
//! - **A database per test**, taken from a small pool of ready clones by renaming it (the
//!   drop of the handle clones the replacement; see [`ScratchServerBuilder::pool`]) or
//!   cloned with `CREATE DATABASE … TEMPLATE` (see [`Strategy`]),
//!   named `preflight_scratch_<host>_<pid>_<start time>_<n>`, handed over as a connection
//!   string and a `tokio_postgres::Config`, and dropped when the handle drops, panics
//!   included. A killed process drops nothing: the next run reaps databases whose owner is
//!   provably gone (same machine and pid namespace; pid dead, or reused by a process that
//!   started at another time). Nothing without this tool's name and comment is dropped.
//! - **The guard first.** Before anything is created, the server's URL passes the
//!   [`Guard`](crate::Guard) (flag, host rules, live marker), and so does every other
//!   database on the server that carries a marker: a server holding a
//!   production-marked database gets no scratch databases. Templates and scratch databases
//!   carry the `test` marker.
//! - **Redis** (with the `redis` feature): a key space per test, a free database index
//!   claimed atomically where the server has them, else a key prefix; flushed on drop,
//!   reaped like databases, under the same guard rule.
//!
//! One line in a plain `#[tokio::test]` (the server comes from `PREFLIGHT_SCRATCH_URL`,
//! else `DATABASE_URL`):
//!
//! ```no_run
//! # async fn t() -> preflight_test_guard::Result<()> {
//! let db = preflight_test_guard::scratch::postgres("migrations").await?;
//! let client = db.connect().await?; // or db.url() / db.config() for your own pool
//! # Ok(()) }
//! ```
//!
//! For a flag, your own rules or migrator, build a [`ScratchServer`] once (e.g. in a
//! `static`) and call [`ScratchServer::database`] per test. Synchronous tests use
//! [`postgres_blocking`] / [`ScratchServer::database_blocking`].

mod migrations;
mod owner;
mod postgres;
#[cfg(feature = "redis")]
mod redis;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

pub use migrations::{MigrateContext, MigrateError, Migrations};
pub use postgres::{ScratchDatabase, ScratchServer, ScratchServerBuilder, Strategy};
#[cfg(feature = "redis")]
pub use redis::{KeyspaceMode, ScratchKeys, ScratchRedis, ScratchRedisBuilder};

use crate::error::{Error, Result};
use crate::marker::chain;

/// Where the one-line helpers find the PostgreSQL server, before `DATABASE_URL`.
pub const SCRATCH_URL_VAR: &str = "PREFLIGHT_SCRATCH_URL";
/// Where the one-line Redis helper finds the server, before `REDIS_URL`.
pub const SCRATCH_REDIS_URL_VAR: &str = "PREFLIGHT_SCRATCH_REDIS_URL";

fn env_url(vars: [&str; 2]) -> Result<String> {
    vars.iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .ok_or_else(|| Error::Scratch {
            target: "the environment".to_owned(),
            reason: format!("set {} or {} to the server's URL", vars[0], vars[1]),
        })
}

/// A database for this test, migrated from `migrations_dir`, on the server in
/// `PREFLIGHT_SCRATCH_URL` (else `DATABASE_URL`) checked by the default guard. One
/// [`ScratchServer`] per (server, directory) is kept for the whole process, so the guard,
/// the reaping and the template happen once.
///
/// # Errors
/// As [`ScratchServer::database`]; [`Error::Scratch`] when neither variable is set.
pub async fn postgres(migrations_dir: impl AsRef<Path>) -> Result<ScratchDatabase> {
    server_for(migrations_dir.as_ref())?.database().await
}

/// [`postgres`] for synchronous tests (works inside and outside a runtime).
///
/// # Errors
/// As [`postgres`].
pub fn postgres_blocking(migrations_dir: impl AsRef<Path>) -> Result<ScratchDatabase> {
    server_for(migrations_dir.as_ref())?.database_blocking()
}

fn server_for(dir: &Path) -> Result<ScratchServer> {
    static SERVERS: OnceLock<Mutex<HashMap<(String, PathBuf), ScratchServer>>> = OnceLock::new();
    let url = env_url([SCRATCH_URL_VAR, "DATABASE_URL"])?;
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut servers = SERVERS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(server) = servers.get(&(url.clone(), dir.clone())) {
        return Ok(server.clone());
    }
    let server = ScratchServer::builder(url.clone())
        .migrations(Migrations::dir(&dir))
        .build()?;
    servers.insert((url, dir), server.clone());
    Ok(server)
}

/// A key space for this test on the Redis server in `PREFLIGHT_SCRATCH_REDIS_URL` (else
/// `REDIS_URL`), checked by the default guard.
///
/// # Errors
/// As [`ScratchRedis::keyspace`]; [`Error::Scratch`] when neither variable is set.
#[cfg(feature = "redis")]
pub async fn redis() -> Result<ScratchKeys> {
    redis_server()?.keyspace().await
}

/// [`redis()`] for synchronous tests.
///
/// # Errors
/// As [`redis()`].
#[cfg(feature = "redis")]
pub fn redis_blocking() -> Result<ScratchKeys> {
    redis_server()?.keyspace_blocking()
}

#[cfg(feature = "redis")]
fn redis_server() -> Result<ScratchRedis> {
    static SERVERS: OnceLock<Mutex<HashMap<String, ScratchRedis>>> = OnceLock::new();
    let url = env_url([SCRATCH_REDIS_URL_VAR, "REDIS_URL"])?;
    let mut servers = SERVERS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(server) = servers.get(&url) {
        return Ok(server.clone());
    }
    let server = ScratchRedis::builder(url.clone()).build()?;
    servers.insert(url, server.clone());
    Ok(server)
}

/// Runs `future` to completion on a new thread with its own current-thread runtime: the
/// blocking entry points must work from plain `#[test]`s and from inside a runtime alike.
fn block_on_thread<T: Send>(future: impl Future<Output = Result<T>> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Scratch {
                        target: "this process".to_owned(),
                        reason: format!("cannot start a runtime: {e}"),
                    })?
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Removes the server's password from a message, in case a driver echoes it.
fn scrub(message: &str, config: &tokio_postgres::Config) -> String {
    match config.get_password() {
        Some(p) if !p.is_empty() => message.replace(&*String::from_utf8_lossy(p), "***"),
        _ => message.to_owned(),
    }
}
