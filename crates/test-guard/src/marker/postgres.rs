//! PostgreSQL markers. The marker is a database-level setting read from the catalog
//! (`pg_db_role_setting`), never through `current_setting()`: a client can set any custom
//! setting for its own session with `options=-c name=value` in the URL, and the catalog is
//! what the database itself carries. `pg_dump` without `--create` and `CREATE DATABASE ...
//! TEMPLATE` do not copy it, so a production mark stays on production.
//!
//! Connects with TLS off: a target that requires TLS fails to connect, which is a refusal
//! (never a silent downgrade that would send a password in clear).

use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::{MarkerReading, chain, scrub};
use crate::error::{Error, Result};
use crate::guard::Config;
use crate::target::{Host, Target};

/// One simple-protocol round trip: standby flag and the marker value, unnested from the
/// catalog row of the current database for all roles (`setrole = 0`). `setting` was
/// validated as `[A-Za-z0-9_.]` when the guard was built, so inlining it is safe.
fn read_sql(setting: &str) -> String {
    format!(
        "SELECT pg_catalog.pg_is_in_recovery(), \
           (SELECT substr(c, {skip}) \
              FROM pg_catalog.pg_db_role_setting s \
              JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase, \
                   unnest(s.setconfig) AS c \
             WHERE d.datname = pg_catalog.current_database() AND s.setrole = 0 \
               AND lower(split_part(c, '=', 1)) = lower('{setting}') \
             LIMIT 1)",
        skip = setting.len() + 2
    )
}

fn fail(target: &Target, reason: impl std::fmt::Display) -> Error {
    Error::Marker {
        target: target.to_string(),
        reason: scrub(&reason.to_string(), target),
    }
}

fn config(target: &Target, cfg: &Config) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    for endpoint in &target.endpoints {
        match &endpoint.host {
            Host::Socket(dir) | Host::File(dir) => pg.host_path(dir),
            Host::Ip(ip) => pg.host(ip.to_string()),
            Host::Name(name) => pg.host(name),
        };
        pg.port(endpoint.port);
    }
    pg.user(target.user.as_deref().unwrap_or("postgres"));
    if let Some(p) = &target.password {
        pg.password(p.0.as_bytes());
    }
    if let Some(db) = &target.database {
        pg.dbname(db);
    }
    // Kept on purpose: the marker must hold even against the client's own `-c` options.
    if let Some(options) = &target.options {
        pg.options(options);
    }
    pg.ssl_mode(match target.sslmode.as_deref() {
        Some("disable") => SslMode::Disable,
        Some("require" | "verify-ca" | "verify-full") => SslMode::Require,
        _ => SslMode::Prefer,
    });
    pg.application_name("preflight-test-guard");
    pg.connect_timeout(cfg.marker_timeout);
    pg
}

/// Connects and drives the connection on the current tokio runtime; the task ends when the
/// returned client is dropped.
async fn connect(target: &Target, cfg: &Config) -> Result<Client> {
    let (client, connection) = config(target, cfg)
        .connect(NoTls)
        .await
        .map_err(|e| fail(target, format!("cannot connect: {}", chain(&e))))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "test-guard marker connection ended");
        }
    });
    Ok(client)
}

pub(super) async fn read(target: &Target, cfg: &Config) -> Result<MarkerReading> {
    let client = connect(target, cfg).await?;
    let messages = client
        .simple_query(&read_sql(&cfg.marker_setting))
        .await
        .map_err(|e| fail(target, format!("marker query failed: {}", chain(&e))))?;
    let row = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .ok_or_else(|| fail(target, "marker query returned no row"))?;
    let standby = row.get(0) == Some("t");
    let mut value = row.get(1).map(str::to_owned);
    let mut source = format!("database setting {}", cfg.marker_setting);
    if value.is_none()
        && let Some(table) = &cfg.marker_table
    {
        let exists: bool = client
            .query_one("SELECT pg_catalog.to_regclass($1) IS NOT NULL", &[table])
            .await
            .map_err(|e| fail(target, format!("marker table lookup failed: {}", chain(&e))))?
            .get(0);
        if exists {
            // `table` was validated as `[schema.]identifier` when the guard was built.
            let row = client
                .query_opt(
                    &format!("SELECT value::text FROM {table} WHERE key = 'environment'"),
                    &[],
                )
                .await
                .map_err(|e| fail(target, format!("marker row query failed: {}", chain(&e))))?;
            value = row.and_then(|r| r.get::<_, Option<String>>(0));
            source = format!("row environment in {table}");
        }
    }
    Ok(MarkerReading {
        value: value.filter(|v| !v.is_empty()),
        source,
        standby,
    })
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(super) async fn write(target: &Target, cfg: &Config, value: Option<&str>) -> Result<()> {
    let client = connect(target, cfg).await?;
    let db: String = client
        .query_one("SELECT pg_catalog.current_database()", &[])
        .await
        .map_err(|e| fail(target, chain(&e)))?
        .get(0);
    // The setting name and the value were validated to a safe alphabet; the database name
    // is quoted as an identifier.
    let sql = match value {
        Some(v) => format!(
            "ALTER DATABASE {} SET {} = '{v}'",
            quote_ident(&db),
            cfg.marker_setting
        ),
        None => format!(
            "ALTER DATABASE {} RESET {}",
            quote_ident(&db),
            cfg.marker_setting
        ),
    };
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| fail(target, chain(&e)))
}
