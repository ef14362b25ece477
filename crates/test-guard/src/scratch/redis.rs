//! Redis key spaces for tests: a free database index claimed atomically (a Lua script
//! checks that the index is empty and writes the claim key in one step), or, where the
//! server has no free index (cluster mode, all taken), a key prefix. Flushed on drop only
//! while the claim is still this handle's: a database index or key this tool did not
//! claim is never flushed.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::aio::MultiplexedConnection;
use tokio::sync::OnceCell;

use super::owner::Owner;
use super::{block_on_thread, chain};
use crate::error::{Error, Result};
use crate::{GuardBuilder, Target};

/// The key that says a database index is a scratch key space, and whose.
const CLAIM_KEY: &str = "preflight:scratch:owner";
/// The prefix of every key-prefix scratch space.
const PREFIX_ROOT: &str = "preflight:scratch:";

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Claims an empty database: sets the claim and the marker, or returns 0.
const CLAIM_SCRIPT: &str = r"
if redis.call('DBSIZE') ~= 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1";

/// Flushes the database only while the claim is `ARGV[1]`.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('FLUSHDB')
return 1";

/// How a key space is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyspaceMode {
    /// A free database index when the server has one, else a key prefix.
    #[default]
    Auto,
    /// Always a key prefix in the URL's database (for clusters, or to leave the indexes
    /// alone).
    Prefix,
}

/// Scratch key spaces on one Redis server. Build once, call [`ScratchRedis::keyspace`] per
/// test; the guard check and reaping run once, on first use.
#[derive(Clone)]
pub struct ScratchRedis {
    inner: Arc<Inner>,
}

struct Inner {
    url: url::Url,
    target: Target,
    guard: GuardBuilder,
    env: Option<std::collections::BTreeMap<String, String>>,
    mode: KeyspaceMode,
    /// The database indexes a key space may claim (empty: prefixes only).
    indexes: OnceCell<Vec<i64>>,
}

impl fmt::Debug for ScratchRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScratchRedis")
            .field("server", &self.inner.target.to_string())
            .field("mode", &self.inner.mode)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ScratchRedis`]. Defaults: the guard's defaults, the process environment,
/// [`KeyspaceMode::Auto`].
#[derive(Debug)]
#[must_use]
pub struct ScratchRedisBuilder {
    url: String,
    guard: GuardBuilder,
    env: Option<std::collections::BTreeMap<String, String>>,
    mode: KeyspaceMode,
}

impl ScratchRedis {
    /// Starts a builder for the server behind `url` (`redis://`; its database index holds
    /// prefixed key spaces and is where the guard reads the marker).
    pub fn builder(url: impl Into<String>) -> ScratchRedisBuilder {
        ScratchRedisBuilder {
            url: url.into(),
            guard: crate::Guard::builder(),
            env: None,
            mode: KeyspaceMode::Auto,
        }
    }

    /// An isolated key space for one test, flushed when the handle drops.
    ///
    /// # Errors
    /// [`Error::Refused`] when the server does not pass the guard; [`Error::Scratch`] when
    /// it cannot be reached.
    pub async fn keyspace(&self) -> Result<ScratchKeys> {
        let inner = &*self.inner;
        let indexes = inner.indexes.get_or_try_init(|| inner.prepare()).await?;
        let owner = format!(
            "{}_{}",
            Owner::current().stamp(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let marker_key = inner.guard.clone().build()?.redis_marker_key().to_owned();
        let mut conn = inner.connect(&inner.url).await?;
        for &db in indexes {
            select(&mut conn, db)
                .await
                .map_err(|e| inner.fail("SELECT", &e))?;
            let claimed: i64 = eval(CLAIM_SCRIPT, &[CLAIM_KEY, &marker_key], &[&owner, "test"])
                .query_async(&mut conn)
                .await
                .map_err(|e| inner.fail("claiming a database", &e))?;
            if claimed == 1 {
                return Ok(ScratchKeys {
                    url: with_db(&inner.url, db).to_string(),
                    db: Some(db),
                    prefix: String::new(),
                    owner,
                    server: inner.target.to_string(),
                    released: false,
                });
            }
        }
        Ok(ScratchKeys {
            url: inner.url.to_string(),
            db: None,
            // A hash tag keeps every key of the space in one cluster slot.
            prefix: format!("{PREFIX_ROOT}{{{owner}}}:"),
            owner,
            server: inner.target.to_string(),
            released: false,
        })
    }

    /// [`ScratchRedis::keyspace`] for synchronous tests.
    ///
    /// # Errors
    /// As [`ScratchRedis::keyspace`].
    pub fn keyspace_blocking(&self) -> Result<ScratchKeys> {
        let server = self.clone();
        block_on_thread(async move { server.keyspace().await })
    }
}

impl ScratchRedisBuilder {
    /// The guard the server must pass; the server's URL is added to its targets.
    pub fn guard(mut self, guard: GuardBuilder) -> Self {
        self.guard = guard;
        self
    }

    /// Checks the guard against these variables instead of the process environment.
    pub fn env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// How key spaces are isolated.
    pub fn mode(mut self, mode: KeyspaceMode) -> Self {
        self.mode = mode;
        self
    }

    /// Validates the URL. Does no I/O.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] for a URL that is not `redis://`; [`Error::Config`] for a
    /// bad guard configuration.
    pub fn build(self) -> Result<ScratchRedis> {
        let target = Target::parse(&self.url)?;
        let invalid = |reason: &str| Error::InvalidTarget {
            source_name: "scratch server".to_owned(),
            masked: target.masked().to_owned(),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(&self.url).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "redis" {
            return Err(invalid("scratch key spaces need a `redis://` URL (no TLS)"));
        }
        self.guard.clone().build()?;
        Ok(ScratchRedis {
            inner: Arc::new(Inner {
                url,
                target,
                guard: self.guard,
                env: self.env,
                mode: self.mode,
                indexes: OnceCell::new(),
            }),
        })
    }
}

impl Inner {
    fn fail(&self, what: &str, e: &dyn std::error::Error) -> Error {
        let mut reason = format!("{what}: {}", chain(e));
        if let Some(p) = self.url.password().filter(|p| !p.is_empty()) {
            reason = reason.replace(p, "***");
        }
        Error::Scratch {
            target: self.target.to_string(),
            reason,
        }
    }

    async fn connect(&self, url: &url::Url) -> Result<MultiplexedConnection> {
        let client = redis::Client::open(url.as_str()).map_err(|e| self.fail("bad URL", &e))?;
        client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| self.fail("cannot connect", &e))
    }

    /// The guard, then the indexes to try, then reaping of dead owners' spaces.
    async fn prepare(&self) -> Result<Vec<i64>> {
        let guard = self
            .guard
            .clone()
            .resolved_target(self.target.clone())
            .build()?;
        let checked = match &self.env {
            Some(env) => guard.check_with(env).await,
            None => guard.check().await,
        };
        checked.map_err(|refusal| Error::Refused {
            refusal: Box::new(refusal),
        })?;
        let mut conn = self.connect(&self.url).await?;
        let base = base_db(&self.url);
        let indexes = match self.mode {
            KeyspaceMode::Prefix => Vec::new(),
            KeyspaceMode::Auto => {
                // `CONFIG` may be disabled (managed services); then no index is claimed.
                let databases: Option<i64> = redis::cmd("CONFIG")
                    .arg("GET")
                    .arg("databases")
                    .query_async::<Vec<String>>(&mut conn)
                    .await
                    .ok()
                    .and_then(|kv| kv.get(1).and_then(|n| n.parse().ok()));
                (0..databases.unwrap_or(0))
                    .filter(|&db| db != base)
                    .collect()
            }
        };
        self.reap(&mut conn, &indexes, base).await;
        Ok(indexes)
    }

    /// Flushes claimed indexes and deletes prefixed keys whose owner is provably gone.
    async fn reap(&self, conn: &mut MultiplexedConnection, indexes: &[i64], base: i64) {
        for &db in indexes {
            if select(conn, db).await.is_err() {
                continue;
            }
            let claim: Option<String> = redis::cmd("GET")
                .arg(CLAIM_KEY)
                .query_async(conn)
                .await
                .unwrap_or(None);
            if let Some(claim) = claim.filter(|c| owner_is_gone(c)) {
                let _: redis::RedisResult<i64> = eval(RELEASE_SCRIPT, &[CLAIM_KEY], &[&claim])
                    .query_async(conn)
                    .await;
                tracing::info!(db, "reaped a scratch Redis database of a dead owner");
            }
        }
        if select(conn, base).await.is_err() {
            return;
        }
        let keys: Vec<String> = match scan(conn, &format!("{PREFIX_ROOT}*")).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "cannot scan for scratch keys to reap");
                return;
            }
        };
        let dead: Vec<&String> = keys
            .iter()
            .filter(|k| {
                k.strip_prefix(PREFIX_ROOT)
                    .and_then(|rest| rest.strip_prefix('{'))
                    .and_then(|rest| rest.split_once("}:"))
                    .is_some_and(|(owner, _)| owner_is_gone(owner))
            })
            .collect();
        if !dead.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&dead).query_async(conn).await;
            tracing::info!(
                keys = dead.len(),
                "reaped scratch Redis keys of dead owners"
            );
        }
    }
}

/// `<host>_<pid>_<start>_<n>` of a dead owner.
fn owner_is_gone(owner: &str) -> bool {
    match Owner::parse_stamp(owner) {
        Some((owner, seq)) if !seq.is_empty() && seq.chars().all(|c| c.is_ascii_digit()) => {
            owner.is_gone()
        }
        _ => false,
    }
}

/// `EVAL script numkeys keys... args...` (plain `EVAL`: the `script` feature of redis
/// would pull in a SHA-1 crate for `EVALSHA` caching that a few calls per test do not need).
fn eval(script: &str, keys: &[&str], args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
    cmd
}

async fn select(conn: &mut MultiplexedConnection, db: i64) -> redis::RedisResult<()> {
    redis::cmd("SELECT").arg(db).query_async(conn).await
}

async fn scan(conn: &mut MultiplexedConnection, pattern: &str) -> redis::RedisResult<Vec<String>> {
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// The database index of a `redis://` URL: path `/N` or `?db=N`, else 0.
fn base_db(url: &url::Url) -> i64 {
    url.path()
        .trim_start_matches('/')
        .parse()
        .ok()
        .or_else(|| {
            url.query_pairs()
                .find(|(k, _)| k == "db")
                .and_then(|(_, v)| v.parse().ok())
        })
        .unwrap_or(0)
}

fn with_db(url: &url::Url, db: i64) -> url::Url {
    let mut url = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "db")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_path(&format!("/{db}"));
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url
}

/// An isolated Redis key space for one test: either a database index of its own
/// ([`ScratchKeys::db`] is `Some`, [`ScratchKeys::url`] selects it, keys need no prefix) or
/// a prefix in the server URL's database (use [`ScratchKeys::key`] for every key).
/// Flushed when the handle drops.
pub struct ScratchKeys {
    url: String,
    db: Option<i64>,
    prefix: String,
    owner: String,
    server: String,
    released: bool,
}

impl fmt::Debug for ScratchKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScratchKeys")
            .field("server", &self.server)
            .field("db", &self.db)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ScratchKeys {
    /// The URL to connect with (it selects the claimed database). It carries the server
    /// URL's password, if any: do not print it.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The claimed database index, or `None` in prefix mode.
    #[must_use]
    pub fn db(&self) -> Option<i64> {
        self.db
    }

    /// The prefix every key must carry (empty when a database index was claimed).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `key` inside this key space (`prefix + key`).
    #[must_use]
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Connects to the key space's database.
    ///
    /// # Errors
    /// [`Error::Scratch`] when the connection fails.
    pub async fn connect(&self) -> Result<MultiplexedConnection> {
        let fail = |e: redis::RedisError| Error::Scratch {
            target: self.server.clone(),
            reason: format!("cannot connect: {}", chain(&e)),
        };
        redis::Client::open(self.url.as_str())
            .map_err(fail)?
            .get_multiplexed_async_connection()
            .await
            .map_err(fail)
    }

    /// Flushes the key space now.
    ///
    /// # Errors
    /// [`Error::Scratch`] when the server cannot be reached; the next run reaps it then.
    pub async fn close(mut self) -> Result<()> {
        self.released = true;
        self.release().await
    }

    async fn release(&self) -> Result<()> {
        let fail = |e: &redis::RedisError| Error::Scratch {
            target: self.server.clone(),
            reason: format!("cannot flush the scratch key space: {}", chain(e)),
        };
        let mut conn = self.connect().await?;
        if self.db.is_some() {
            let _: i64 = eval(RELEASE_SCRIPT, &[CLAIM_KEY], &[&self.owner])
                .query_async(&mut conn)
                .await
                .map_err(|e| fail(&e))?;
        } else {
            let keys = scan(&mut conn, &format!("{}*", self.prefix))
                .await
                .map_err(|e| fail(&e))?;
            for chunk in keys.chunks(500) {
                let _: () = redis::cmd("DEL")
                    .arg(chunk)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| fail(&e))?;
            }
        }
        Ok(())
    }
}

impl Drop for ScratchKeys {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.released = true;
        let this = &*self;
        match block_on_thread(this.release()) {
            Ok(()) => {
                tracing::debug!("flushed scratch key space");
            }
            Err(e) => {
                tracing::warn!(error = %e, "scratch key space left for the next run to reap");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_indexes_in_urls() {
        let url = url::Url::parse("redis://:pw@127.0.0.1:6379/2?db=3&protocol=resp3").unwrap();
        assert_eq!(base_db(&url), 2);
        assert_eq!(
            with_db(&url, 5).as_str(),
            "redis://:pw@127.0.0.1:6379/5?protocol=resp3"
        );
        assert_eq!(base_db(&url::Url::parse("redis://h?db=4").unwrap()), 4);
        assert_eq!(base_db(&url::Url::parse("redis://h").unwrap()), 0);
    }
}
