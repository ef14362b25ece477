//! PostgreSQL scratch databases: a migrated template per schema, one clone per test.
//!
//! Order of work on a server, once per [`ScratchServer`]: the guard checks the server's
//! URL (flag, host rules, markers); then every other database on the server that carries
//! a marker is checked too (a production mark anywhere refuses the server); then leftovers
//! of dead owners are reaped; then the template is found or built under an advisory lock.
//! Only after that is any database created. This module must never drop a database whose
//! name and comment do not say this tool created it, nor one whose owner may be alive.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio_postgres::{Client, NoTls};

use super::migrations::{MigrateContext, Migrations, Step, line_of};
use super::owner::Owner;
use super::{block_on_thread, chain, scrub};
use crate::error::{Error, Result};
use crate::{GuardBuilder, Target};

const TEMPLATE_PREFIX: &str = "preflight_tpl_";
const SCRATCH_PREFIX: &str = "preflight_scratch_";
const POOL_PREFIX: &str = "preflight_pool_";
const TEMPLATE_COMMENT: &str = "preflight-test-guard scratch template";
const BUILDING_COMMENT: &str = "preflight-test-guard scratch template (building)";
const SCRATCH_COMMENT: &str = "preflight-test-guard scratch database";
const POOL_COMMENT: &str = "preflight-test-guard scratch pool";
/// How long to wait for a template another process is building.
const BUILD_WAIT: Duration = Duration::from_secs(300);
/// The marker value every template and scratch database carries.
const TEST_MARKER: &str = "test";

/// Numbers scratch databases within this process (across every [`ScratchServer`]).
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// How `CREATE DATABASE … TEMPLATE` copies the template (PostgreSQL 15+; older servers
/// always copy files and ignore this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// `STRATEGY = FILE_COPY`: copies the template's files and checkpoints twice. The
    /// default: for a test schema (a few MB) measured faster than `WAL_LOG` on loopback
    /// (see `benches/scratch.rs`).
    #[default]
    FileCopy,
    /// `STRATEGY = WAL_LOG`: copies block by block through the WAL, no checkpoint
    /// (PostgreSQL 15's default; better for large templates on busy servers).
    WalLog,
    /// No `STRATEGY` clause: whatever the server does by default.
    ServerDefault,
}

impl Strategy {
    fn clause(self, server_version: i32) -> &'static str {
        match self {
            _ if server_version < 150_000 => "",
            Self::FileCopy => " STRATEGY = FILE_COPY",
            Self::WalLog => " STRATEGY = WAL_LOG",
            Self::ServerDefault => "",
        }
    }
}

/// Scratch databases on one PostgreSQL server for one schema. Build it once (e.g. in a
/// `static`) and call [`ScratchServer::database`] in each test; the guard check, the
/// reaping of leftovers and the template are done once per `ScratchServer`, on first use.
///
/// ```no_run
/// use preflight_test_guard::scratch::{Migrations, ScratchServer};
///
/// # async fn test() -> Result<(), Box<dyn std::error::Error>> {
/// let server = ScratchServer::builder("postgres://postgres@127.0.0.1:5432/postgres")
///     .migrations(Migrations::dir("migrations"))
///     .build()?;
/// let db = server.database().await?;
/// let client = db.connect().await?;
/// client.batch_execute("INSERT INTO users (name) VALUES ('a')").await?;
/// // `db` is dropped (DROP DATABASE … WITH (FORCE)) at the end of the scope.
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ScratchServer {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    config: tokio_postgres::Config,
    target: Target,
    guard: GuardBuilder,
    env: Option<BTreeMap<String, String>>,
    migrations: Migrations,
    label: String,
    strategy: Strategy,
    pool: usize,
    ready: OnceCell<Arc<Ready>>,
}

/// What the first use found out, shared with every handle (for the pool refill).
#[derive(Debug)]
struct Ready {
    template: String,
    server_version: i32,
    marker_setting: String,
    /// `preflight_pool_<hash10>_`: ready clones of this template.
    pool_prefix: String,
    pool: usize,
    strategy: Strategy,
}

impl fmt::Debug for ScratchServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScratchServer")
            .field("server", &self.inner.target.to_string())
            .field("migrations", &self.inner.migrations)
            .field("label", &self.inner.label)
            .field("strategy", &self.inner.strategy)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ScratchServer`]. Defaults: migrations none (an empty schema), the guard
/// [`Guard::builder()`](crate::Guard::builder)'s defaults, the process environment,
/// [`Strategy::FileCopy`], label from the migration directory's name.
#[derive(Debug)]
#[must_use]
pub struct ScratchServerBuilder {
    url: String,
    guard: GuardBuilder,
    env: Option<BTreeMap<String, String>>,
    migrations: Migrations,
    label: Option<String>,
    strategy: Strategy,
    pool: usize,
}

impl ScratchServer {
    /// Starts a builder for the server behind `url` (a `postgres://` URL or libpq
    /// `key=value` string; its database is where `CREATE DATABASE` runs, so the user needs
    /// `CREATEDB`).
    pub fn builder(url: impl Into<String>) -> ScratchServerBuilder {
        ScratchServerBuilder {
            url: url.into(),
            guard: crate::Guard::builder(),
            env: None,
            migrations: Migrations::sql(""),
            label: None,
            strategy: Strategy::default(),
            pool: 2,
        }
    }

    /// A fresh database cloned from the migrated template, carrying the `test` marker;
    /// dropped when the handle drops. The first call checks the server with the guard,
    /// reaps leftovers of dead owners and builds the template if needed.
    ///
    /// Cancel-safe: a cancelled call leaves at most a database that the next run reaps.
    ///
    /// # Errors
    /// [`Error::Refused`] when the server does not pass the guard; [`Error::Migration`]
    /// when a migration fails; [`Error::Scratch`] when the server cannot be reached or
    /// refuses a statement.
    pub async fn database(&self) -> Result<ScratchDatabase> {
        let inner = &*self.inner;
        let ready = inner.ready.get_or_try_init(|| inner.prepare()).await?;
        let name = format!(
            "{SCRATCH_PREFIX}{}_{}",
            Owner::current().stamp(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let admin = inner.connect_admin().await?;
        let handle = ScratchDatabase {
            url: with_dbname(&inner.url, &name),
            config: {
                let mut c = inner.config.clone();
                c.dbname(&name);
                c
            },
            admin: inner.config.clone(),
            server: inner.target.to_string(),
            ready: Arc::clone(ready),
            name,
            dropped: false,
        };
        let q = quote_ident(&handle.name);
        if ready.pool > 0 && adopt(&admin, ready, &handle.name).await {
            admin
                .batch_execute(&format!("COMMENT ON DATABASE {q} IS '{SCRATCH_COMMENT}'"))
                .await
                .map_err(|e| inner.fail(format!("cannot mark database {}", handle.name), &e))?;
            return Ok(handle);
        }
        create_clone(&admin, ready, &handle.name, SCRATCH_COMMENT)
            .await
            .map_err(|e| inner.fail(format!("cannot create database {}", handle.name), &e))?;
        Ok(handle)
    }

    /// [`ScratchServer::database`] for synchronous tests: runs on a thread of its own with
    /// its own runtime, so it works inside and outside a tokio runtime.
    ///
    /// # Errors
    /// As [`ScratchServer::database`].
    pub fn database_blocking(&self) -> Result<ScratchDatabase> {
        let server = self.clone();
        block_on_thread(async move { server.database().await })
    }

    /// The template's name, once the first database was created.
    #[must_use]
    pub fn template(&self) -> Option<&str> {
        self.inner.ready.get().map(|r| r.template.as_str())
    }
}

impl ScratchServerBuilder {
    /// What the template is built from.
    pub fn migrations(mut self, migrations: Migrations) -> Self {
        self.migrations = migrations;
        self
    }

    /// The guard the server must pass (default: [`Guard::builder()`](crate::Guard::builder)).
    /// The server's URL is added to its targets; its flag, rules and markers apply.
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

    /// Names the schema in the template's name (`preflight_tpl_<label>_<hash>`; up to 32
    /// letters, digits and `_`). Templates of the same label with another hash are dropped
    /// when a new one is built. Default: the migration directory's name, else `schema`.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// How templates are cloned.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// How many ready clones of the template to keep (default 2; 0 turns the pool off).
    /// A test takes a ready clone by renaming it (no copy, about a millisecond) and the
    /// drop of its handle clones a new one, so the copy is paid after the test instead of
    /// before it. The pool stays on the server between runs, like the template, and is
    /// dropped with the template when the migrations change.
    pub fn pool(mut self, size: usize) -> Self {
        self.pool = size;
        self
    }

    /// Validates the URL and label. Does no I/O.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] for a URL that does not parse; [`Error::Config`] for a bad
    /// label or guard configuration.
    pub fn build(self) -> Result<ScratchServer> {
        let mut config: tokio_postgres::Config =
            self.url.parse().map_err(|e: tokio_postgres::Error| {
                let masked = Target::parse(&self.url)
                    .map_or_else(|_| "(unparseable)".to_owned(), |t| t.masked().to_owned());
                Error::InvalidTarget {
                    source_name: "scratch server".to_owned(),
                    masked,
                    reason: e.to_string(),
                }
            })?;
        if config.get_connect_timeout().is_none() {
            // A server that accepts and never answers must not hang the test run.
            config.connect_timeout(Duration::from_secs(10));
        }
        let target = Target::from_postgres_config(&config, "scratch server");
        // Surface a bad guard configuration now, not at the first test.
        self.guard.clone().build()?;
        let label = match self.label {
            Some(label) => {
                if label.is_empty()
                    || label.len() > 32
                    || !label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    return Err(Error::Config {
                        problems: vec![format!(
                            "scratch label `{label}`: use 1 to 32 lowercase letters, digits, `_`"
                        )],
                    });
                }
                label
            }
            None => default_label(&self.migrations),
        };
        Ok(ScratchServer {
            inner: Arc::new(Inner {
                url: self.url,
                config,
                target,
                guard: self.guard,
                env: self.env,
                migrations: self.migrations,
                label,
                strategy: self.strategy,
                pool: self.pool,
                ready: OnceCell::new(),
            }),
        })
    }
}

fn default_label(migrations: &Migrations) -> String {
    let name = migrations
        .directory()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let label: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(32)
        .collect();
    if label.is_empty() {
        "schema".to_owned()
    } else {
        label
    }
}

impl Inner {
    fn fail(&self, what: impl fmt::Display, e: &dyn std::error::Error) -> Error {
        Error::Scratch {
            target: self.target.to_string(),
            reason: scrub(&format!("{what}: {}", chain(e)), &self.config),
        }
    }

    async fn connect_admin(&self) -> Result<Client> {
        connect(&self.config)
            .await
            .map_err(|e| self.fail("cannot connect", &e))
    }

    /// Runs the guard on `builder` plus `targets`, on the configured environment.
    async fn check(&self, targets: Vec<Target>) -> Result<crate::Clearance> {
        let guard = targets
            .into_iter()
            .fold(self.guard.clone(), GuardBuilder::resolved_target)
            .build()?;
        let result = match &self.env {
            Some(env) => guard.check_with(env).await,
            None => guard.check().await,
        };
        result.map_err(|refusal| Error::Refused {
            refusal: Box::new(refusal),
        })
    }

    /// Guard, reaping, template: everything before the first clone.
    async fn prepare(&self) -> Result<Arc<Ready>> {
        // The guard first: nothing is asked of a server that does not pass.
        self.check(vec![self.target.clone()]).await?;
        let marker_setting = self.guard.clone().build()?.marker_setting().to_owned();

        let admin = self.connect_admin().await?;
        // A production mark on any other database of this server refuses it too: scratch
        // databases would share its disk, its connections and its superuser.
        let marked = admin
            .query(
                "SELECT DISTINCT d.datname \
                   FROM pg_catalog.pg_db_role_setting s \
                   JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase, \
                        unnest(s.setconfig) AS c \
                  WHERE s.setrole = 0 AND d.datallowconn \
                    AND lower(split_part(c, '=', 1)) = lower($1) \
                    AND d.datname <> pg_catalog.current_database() \
                    AND NOT starts_with(d.datname, $2) AND NOT starts_with(d.datname, $3) \
                    AND NOT starts_with(d.datname, $4)",
                &[
                    &marker_setting,
                    &TEMPLATE_PREFIX,
                    &SCRATCH_PREFIX,
                    &POOL_PREFIX,
                ],
            )
            .await
            .map_err(|e| self.fail("cannot list marked databases", &e))?;
        if !marked.is_empty() {
            let targets = marked
                .iter()
                .map(|row| {
                    let db: String = row.get(0);
                    let mut config = self.config.clone();
                    config.dbname(&db);
                    Target::from_postgres_config(&config, "a marked database on the scratch server")
                })
                .collect();
            self.check(targets).await?;
        }

        let server_version: i32 = admin
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| self.fail("cannot read the server version", &e))?
            .get(0);
        let force = server_version >= 130_000;
        reap(&admin, force).await;

        let (steps, hash) = self.migrations.load()?;
        let template = format!("{TEMPLATE_PREFIX}{}_{}", self.label, &hash[..16]);
        // One builder per label at a time, across processes (advisory locks are per
        // database: every process must use the same server URL, which is the normal case).
        let key = lock_key(&format!("{TEMPLATE_PREFIX}{}", self.label));
        admin
            .execute("SELECT pg_advisory_lock($1)", &[&key])
            .await
            .map_err(|e| self.fail("cannot take the template lock", &e))?;
        let built = self
            .ensure_template(&admin, &template, &steps, &marker_setting, force)
            .await;
        // Dropping the connection would release the lock too; unlock to keep it short.
        let _ = admin
            .execute("SELECT pg_advisory_unlock($1)", &[&key])
            .await;
        built?;
        Ok(Arc::new(Ready {
            template,
            server_version,
            marker_setting,
            pool_prefix: format!("{POOL_PREFIX}{}_", &hash[..10]),
            pool: self.pool,
            strategy: self.strategy,
        }))
    }

    /// Under the lock: reuses a complete template, or drops a half-built one and builds it.
    async fn ensure_template(
        &self,
        admin: &Client,
        template: &str,
        steps: &[Step],
        marker_setting: &str,
        force: bool,
    ) -> Result<()> {
        let q = quote_ident(template);
        // Advisory locks are per database: a process that gave another database of this
        // server as its URL is not held off by our lock. A half-built template with a
        // session on it is such a builder at work: wait for it (bounded) rather than drop
        // it. Without sessions, its builder is gone: drop and rebuild.
        let deadline = tokio::time::Instant::now() + BUILD_WAIT;
        loop {
            let existing = admin
                .query_opt(
                    "SELECT datistemplate AND NOT datallowconn, \
                            pg_catalog.shobj_description(oid, 'pg_database'), \
                            (SELECT count(*) FROM pg_catalog.pg_stat_activity a \
                              WHERE a.datid = d.oid) \
                       FROM pg_catalog.pg_database d WHERE datname = $1",
                    &[&template],
                )
                .await
                .map_err(|e| self.fail("cannot look up the template", &e))?;
            let Some(row) = existing else { break };
            let complete: bool = row.get(0);
            let comment: Option<String> = row.get(1);
            let sessions: i64 = row.get(2);
            match comment.as_deref() {
                Some(TEMPLATE_COMMENT) if complete => {
                    tracing::debug!(template, "reusing scratch template");
                    return Ok(());
                }
                Some(TEMPLATE_COMMENT | BUILDING_COMMENT)
                    if sessions > 0 && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Some(TEMPLATE_COMMENT | BUILDING_COMMENT) => {
                    tracing::info!(template, "dropping a half-built scratch template");
                    drop_template(admin, template, force)
                        .await
                        .map_err(|e| self.fail(format!("cannot drop {template}"), &e))?;
                    break;
                }
                _ => {
                    return Err(Error::Scratch {
                        target: self.target.to_string(),
                        reason: format!(
                            "a database named {template} exists that this tool did not create; \
                             refusing to use or drop it"
                        ),
                    });
                }
            }
        }
        tracing::info!(template, "building scratch template");
        admin
            .batch_execute(&format!("CREATE DATABASE {q}"))
            .await
            .map_err(|e| self.fail(format!("cannot create {template}"), &e))?;
        admin
            .batch_execute(&format!(
                "COMMENT ON DATABASE {q} IS '{BUILDING_COMMENT}'; \
                 ALTER DATABASE {q} SET {marker_setting} = '{TEST_MARKER}'"
            ))
            .await
            .map_err(|e| self.fail(format!("cannot mark {template}"), &e))?;
        self.migrate(template, steps).await?;
        // Nobody may stay connected (a clone would fail), and nobody may connect later.
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {q} WITH ALLOW_CONNECTIONS false; \
                 SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
                  WHERE datname = '{template}' AND pid <> pg_catalog.pg_backend_pid(); \
                 ALTER DATABASE {q} WITH IS_TEMPLATE true; \
                 COMMENT ON DATABASE {q} IS '{TEMPLATE_COMMENT}'"
            ))
            .await
            .map_err(|e| self.fail(format!("cannot seal {template}"), &e))?;
        self.drop_old_templates(admin, template, force).await;
        Ok(())
    }

    async fn migrate(&self, template: &str, steps: &[Step]) -> Result<()> {
        let mut config = self.config.clone();
        config.dbname(template);
        let client = connect(&config)
            .await
            .map_err(|e| self.fail(format!("cannot connect to {template}"), &e))?;
        for step in steps {
            if step.sql.trim().is_empty() {
                continue;
            }
            client.batch_execute(&step.sql).await.map_err(|e| {
                let position = e.as_db_error().and_then(|db| match db.position() {
                    Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
                    _ => None,
                });
                Error::Migration {
                    migration: match position {
                        Some(p) => format!("{}:{}", step.name, line_of(&step.sql, p)),
                        None => step.name.clone(),
                    },
                    reason: scrub(&chain(&e), &self.config),
                }
            })?;
        }
        if let Some(run) = self.migrations.function() {
            let ctx = MigrateContext {
                client,
                url: with_dbname(&self.url, template),
                config,
            };
            run(ctx).await.map_err(|e| Error::Migration {
                migration: "migration function".to_owned(),
                reason: scrub(&chain(&*e), &self.config),
            })?;
        }
        Ok(())
    }

    /// Best effort: a template of this label with another hash is stale. A clone running
    /// from it right now makes the drop wait; after a short lock timeout it is left for
    /// the next build.
    async fn drop_old_templates(&self, admin: &Client, current: &str, force: bool) {
        let prefix = format!("{TEMPLATE_PREFIX}{}_", self.label);
        let rows = match admin
            .query(
                "SELECT datname FROM pg_catalog.pg_database \
                  WHERE starts_with(datname, $1) AND datname <> $2 \
                    AND pg_catalog.shobj_description(oid, 'pg_database') = $3",
                &[&prefix, &current, &TEMPLATE_COMMENT],
            )
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list old scratch templates");
                return;
            }
        };
        for row in rows {
            let name: String = row.get(0);
            // The label must match exactly: `a_b`'s templates are not `a`'s.
            let rest = &name[prefix.len()..];
            if rest.len() != 16 || !rest.chars().all(|c| c.is_ascii_hexdigit()) {
                continue;
            }
            let _ = admin.batch_execute("SET lock_timeout = '2s'").await;
            drop_pool(admin, &format!("{POOL_PREFIX}{}_", &rest[..10]), force).await;
            match drop_template(admin, &name, force).await {
                Ok(()) => {
                    tracing::info!(template = name, "dropped an old scratch template");
                }
                Err(e) => {
                    tracing::warn!(template = name, error = %e, "cannot drop an old scratch template");
                }
            }
            let _ = admin.batch_execute("RESET lock_timeout").await;
        }
    }
}

/// Takes a ready clone from the pool by renaming it to `name`. Another process may take
/// the same one first (it is then gone); a few are tried, in random order, before giving up.
async fn adopt(admin: &Client, ready: &Ready, name: &str) -> bool {
    let Ok(rows) = admin
        .query(
            "SELECT datname FROM pg_catalog.pg_database \
              WHERE starts_with(datname, $1) \
                AND pg_catalog.shobj_description(oid, 'pg_database') = $2 \
              ORDER BY random() LIMIT 3",
            &[&ready.pool_prefix, &POOL_COMMENT],
        )
        .await
    else {
        return false;
    };
    for row in rows {
        let pooled: String = row.get(0);
        let renamed = admin
            .batch_execute(&format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(&pooled),
                quote_ident(name)
            ))
            .await;
        match renamed {
            Ok(()) => return true,
            Err(e) => {
                tracing::debug!(database = pooled, error = %e, "pooled clone taken by another");
            }
        }
    }
    false
}

/// `CREATE DATABASE name TEMPLATE …`, then the comment and the `test` marker (settings and
/// comments are not copied from a template).
async fn create_clone(
    admin: &Client,
    ready: &Ready,
    name: &str,
    comment: &str,
) -> Result<(), tokio_postgres::Error> {
    let q = quote_ident(name);
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {q} TEMPLATE {}{}",
            quote_ident(&ready.template),
            ready.strategy.clause(ready.server_version)
        ))
        .await?;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {q} SET {} = '{TEST_MARKER}'; COMMENT ON DATABASE {q} IS '{comment}'",
            ready.marker_setting
        ))
        .await
}

/// Tops the pool up by one clone when it holds fewer than its size. Best effort.
async fn refill(admin: &Client, ready: &Ready) {
    let held: i64 = match admin
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_database WHERE starts_with(datname, $1)",
            &[&ready.pool_prefix],
        )
        .await
    {
        Ok(row) => row.get(0),
        Err(_) => return,
    };
    if usize::try_from(held).unwrap_or(usize::MAX) >= ready.pool {
        return;
    }
    let name = format!(
        "{}{}_{}",
        ready.pool_prefix,
        Owner::current().stamp(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    );
    if let Err(e) = create_clone(admin, ready, &name, POOL_COMMENT).await {
        tracing::warn!(database = name, error = %e, "cannot refill the scratch pool");
    }
}

/// Drops every finished pool database under `prefix` (those of a replaced template).
async fn drop_pool(admin: &Client, prefix: &str, force: bool) {
    let Ok(rows) = admin
        .query(
            "SELECT datname FROM pg_catalog.pg_database \
              WHERE starts_with(datname, $1) \
                AND pg_catalog.shobj_description(oid, 'pg_database') = $2",
            &[&prefix, &POOL_COMMENT],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        if let Err(e) = drop_database(admin, &name, force).await {
            tracing::warn!(database = name, error = %e, "cannot drop an old pooled clone");
        }
    }
}

async fn drop_template(
    admin: &Client,
    name: &str,
    force: bool,
) -> Result<(), tokio_postgres::Error> {
    // Two statements: DROP DATABASE cannot run in the implicit transaction of a batch.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} WITH IS_TEMPLATE false",
            quote_ident(name)
        ))
        .await?;
    drop_database(admin, name, force).await
}

/// Drops scratch databases whose owner is provably gone (same host, process dead or its
/// pid reused). Errors are logged, never fatal: reaping is housekeeping.
async fn reap(admin: &Client, force: bool) {
    let rows = match admin
        .query(
            "SELECT datname FROM pg_catalog.pg_database \
              WHERE (starts_with(datname, $1) \
                     AND coalesce(pg_catalog.shobj_description(oid, 'pg_database'), $2) \
                         IN ($2, $4)) \
                 OR (starts_with(datname, $3) \
                     AND pg_catalog.shobj_description(oid, 'pg_database') IS NULL)",
            // A scratch name with the pool's comment: killed between taking a pooled
            // clone (rename) and recommenting it.
            &[
                &SCRATCH_PREFIX,
                &SCRATCH_COMMENT,
                &POOL_PREFIX,
                &POOL_COMMENT,
            ],
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list scratch databases to reap");
            return;
        }
    };
    for row in rows {
        let name: String = row.get(0);
        if !owner_is_gone(&name) {
            continue;
        }
        match drop_database(admin, &name, force).await {
            Ok(()) => {
                tracing::info!(database = name, "reaped a scratch database of a dead owner");
            }
            Err(e) => {
                tracing::warn!(database = name, error = %e, "cannot reap a scratch database");
            }
        }
    }
}

/// A scratch name is `preflight_scratch_<host>_<pid>_<start>_<seq>`, a pool name
/// `preflight_pool_<hash10>_<host>_<pid>_<start>_<seq>` (judged only while its creation
/// was unfinished: a finished pool database belongs to the template, not to a process);
/// anything else is not judged (so not reaped).
fn owner_is_gone(name: &str) -> bool {
    let rest = match name.strip_prefix(SCRATCH_PREFIX) {
        Some(rest) => rest,
        None => match name.strip_prefix(POOL_PREFIX).and_then(|rest| {
            rest.get(11..)
                .filter(|_| rest.as_bytes().get(10) == Some(&b'_'))
        }) {
            Some(rest) => rest,
            None => return false,
        },
    };
    match Owner::parse_stamp(rest) {
        Some((owner, seq)) if !seq.is_empty() && seq.chars().all(|c| c.is_ascii_digit()) => {
            owner.is_gone()
        }
        _ => false,
    }
}

async fn drop_database(
    admin: &Client,
    name: &str,
    force: bool,
) -> Result<(), tokio_postgres::Error> {
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {}{}",
            quote_ident(name),
            if force { " WITH (FORCE)" } else { "" }
        ))
        .await
}

/// Connects without TLS (like the guard's marker reads) and drives the connection on the
/// current runtime until the client is dropped.
async fn connect(config: &tokio_postgres::Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "scratch connection ended");
        }
    });
    Ok(client)
}

/// A stable 64-bit advisory lock key for `name`.
fn lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

pub(super) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `url` with its database replaced by `db`: the path of a `postgres://` URL (a `dbname`
/// query parameter, which would win, is removed), or a `dbname=` appended to a libpq
/// key/value string (the last one wins).
pub(super) fn with_dbname(url: &str, db: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url)
        && matches!(parsed.scheme(), "postgres" | "postgresql")
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(k, _)| k != "dbname")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        parsed.set_path(&format!("/{db}"));
        if pairs.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return parsed.to_string();
    }
    format!("{url} dbname={db}")
}

/// A database for one test, cloned from the migrated template. Dropped (`DROP DATABASE …
/// WITH (FORCE)`, so the test's open connections do not block it) when the handle drops,
/// also during a panic; [`ScratchDatabase::close`] drops it asynchronously and reports
/// errors. A process killed before that leaves the database behind for the next run to
/// reap.
pub struct ScratchDatabase {
    name: String,
    url: String,
    config: tokio_postgres::Config,
    admin: tokio_postgres::Config,
    server: String,
    ready: Arc<Ready>,
    dropped: bool,
}

impl fmt::Debug for ScratchDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScratchDatabase")
            .field("name", &self.name)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl ScratchDatabase {
    /// The database's name (`preflight_scratch_<host>_<pid>_<start>_<n>`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connection string: the server's, with this database. It carries the server
    /// URL's password, if any: do not print it.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The tokio-postgres configuration for this database.
    #[must_use]
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// Connects (no TLS) and drives the connection on the current runtime.
    ///
    /// # Errors
    /// [`Error::Scratch`] when the connection fails.
    pub async fn connect(&self) -> Result<Client> {
        connect(&self.config).await.map_err(|e| Error::Scratch {
            target: self.server.clone(),
            reason: scrub(
                &format!("cannot connect to {}: {}", self.name, chain(&e)),
                &self.config,
            ),
        })
    }

    /// Drops the database now, asynchronously, terminating its connections.
    ///
    /// # Errors
    /// [`Error::Scratch`] when the server refuses; the next run reaps it then.
    pub async fn close(mut self) -> Result<()> {
        self.dropped = true;
        self.drop_now().await
    }

    async fn drop_now(&self) -> Result<()> {
        let fail = |e: &tokio_postgres::Error| Error::Scratch {
            target: self.server.clone(),
            reason: scrub(
                &format!("cannot drop {}: {}", self.name, chain(e)),
                &self.admin,
            ),
        };
        let admin = connect(&self.admin).await.map_err(|e| fail(&e))?;
        let ready = &*self.ready;
        drop_database(&admin, &self.name, ready.server_version >= 130_000)
            .await
            .map_err(|e| fail(&e))?;
        if ready.pool > 0 {
            refill(&admin, ready).await;
        }
        Ok(())
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        self.dropped = true;
        // Drop cannot await: a thread of its own with its own runtime, joined, so the
        // database is gone when the handle is (also inside a runtime, also in a panic).
        match block_on_thread(self.drop_now()) {
            Ok(()) => {
                tracing::debug!(database = self.name, "dropped scratch database");
            }
            Err(e) => {
                tracing::warn!(error = %e, "scratch database left for the next run to reap");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls_and_key_values() {
        assert_eq!(
            with_dbname(
                "postgres://u:p@127.0.0.1:5432/app?sslmode=disable&dbname=x",
                "s_1"
            ),
            "postgres://u:p@127.0.0.1:5432/s_1?sslmode=disable"
        );
        assert_eq!(with_dbname("postgresql://h", "s"), "postgresql://h/s");
        assert_eq!(
            with_dbname("host=127.0.0.1 dbname=app", "s"),
            "host=127.0.0.1 dbname=app dbname=s"
        );
        let parsed: tokio_postgres::Config = with_dbname("host=127.0.0.1 dbname=app", "s")
            .parse()
            .unwrap();
        assert_eq!(parsed.get_dbname(), Some("s"));
    }

    #[test]
    fn only_well_formed_names_of_dead_owners_are_judged_gone() {
        let me = Owner::current();
        let dead = Owner {
            start: me.start + 1,
            ..me
        };
        assert!(owner_is_gone(&format!(
            "{SCRATCH_PREFIX}{}_3",
            dead.stamp()
        )));
        assert!(!owner_is_gone(&format!("{SCRATCH_PREFIX}{}_3", me.stamp())));
        assert!(owner_is_gone(&format!(
            "{POOL_PREFIX}0123456789_{}_3",
            dead.stamp()
        )));
        assert!(!owner_is_gone(&format!(
            "{POOL_PREFIX}0123456789_{}_3",
            me.stamp()
        )));
        assert!(!owner_is_gone(&format!(
            "{POOL_PREFIX}012345678_{}_3",
            dead.stamp()
        )));
        for not_ours in [
            format!("{SCRATCH_PREFIX}{}", dead.stamp()),
            format!("{SCRATCH_PREFIX}{}_x", dead.stamp()),
            format!("app_{}_3", dead.stamp()),
            "preflight_scratch_".to_owned(),
        ] {
            assert!(!owner_is_gone(&not_ours), "{not_ours}");
        }
    }

    #[test]
    fn labels_are_validated_and_derived() {
        let bad = ScratchServer::builder("postgres://127.0.0.1/x")
            .label("Has Space")
            .build()
            .unwrap_err();
        assert!(bad.to_string().contains("Has Space"), "{bad}");
        let s = ScratchServer::builder("postgres://127.0.0.1/x")
            .migrations(Migrations::dir("db/My-Migrations"))
            .build()
            .unwrap();
        assert_eq!(s.inner.label, "my_migrations");
        let err = ScratchServer::builder("postgres://u:hunter2@127.0.0.1:port/x")
            .build()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
