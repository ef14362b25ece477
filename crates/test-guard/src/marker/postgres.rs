//! PostgreSQL markers. The marker is a setting stored in the catalog (`pg_db_role_setting`):
//! per database (`ALTER DATABASE ... SET`, `setdatabase` = the database, `setrole` = 0) or
//! for the whole server (`ALTER ROLE ALL SET`, both 0). It is never read through
//! `current_setting()`: a client can set any custom setting for its own session with
//! `options=-c name=value`. `pg_dump` without `--create` and `CREATE DATABASE ... TEMPLATE`
//! do not copy either, so a production mark stays on production.
//!
//! The marker is read where the client lands: one connection per host of the target, with
//! the client's own options kept, and the connection must report the database and user
//! that were judged (a pooler or proxy that maps names is refused; a different server
//! address or port, as behind `docker run -p 15432:5432`, is only reported). The query pins
//! `search_path` and names every function, operator and type with `pg_catalog.`, so a
//! `search_path` from the URL, `PGOPTIONS` or the role cannot put a look-alike `lower()` or
//! `=` in front of the built-ins.
//!
//! Connects with TLS off: a target that requires TLS is refused with that reason (never a
//! silent downgrade that would send a password in clear).

use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage, SimpleQueryRow};

use super::{Marker, MarkerReading, MarkerScope, Scope, chain, endpoint_text, scrub};
use crate::error::{Error, Result};
use crate::guard::Config;
use crate::target::{Host, Target};

/// `pg_catalog.lower(pg_catalog.split_part(c, '=', 1)) = lower('<setting>')`, the value after
/// `<setting>=`, for the `pg_db_role_setting` rows matching `filter`.
fn setting_sql(setting: &str, filter: &str, from: &str) -> String {
    format!(
        "(SELECT pg_catalog.substr(c, {skip}) \
            FROM {from}, pg_catalog.unnest(s.setconfig) AS c \
           WHERE {filter} \
             AND s.setrole OPERATOR(pg_catalog.=) 0::pg_catalog.oid \
             AND pg_catalog.lower(pg_catalog.split_part(c, '=', 1)) \
                 OPERATOR(pg_catalog.=) pg_catalog.lower('{setting}') \
           LIMIT 1)",
        skip = setting.len() + 2
    )
}

/// One simple-protocol round trip. With a marker table, the table name is first resolved
/// under the client's own `search_path` (that is the table the client's code would read),
/// then the path is pinned for everything else. `setting` and `table` were validated to
/// `[A-Za-z0-9_.]` when the guard was built, so inlining them is safe.
fn read_sql(setting: &str, table: Option<&str>) -> String {
    let resolve = table.map_or(String::new(), |t| {
        format!(
            "SELECT (SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' \
                      OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) \
                 FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
                WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('{t}')::pg_catalog.oid); "
        )
    });
    format!(
        "{resolve}SET search_path TO pg_catalog, pg_temp; \
         SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_database(), \
                session_user, \
                pg_catalog.host(pg_catalog.inet_server_addr()), pg_catalog.inet_server_port(), \
                {database}, {server}",
        database = setting_sql(
            setting,
            "d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()",
            "pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d \
               ON d.oid OPERATOR(pg_catalog.=) s.setdatabase",
        ),
        server = setting_sql(
            setting,
            "s.setdatabase OPERATOR(pg_catalog.=) 0::pg_catalog.oid",
            "pg_catalog.pg_db_role_setting s",
        ),
    )
}

fn fail(target: &Target, reason: impl std::fmt::Display) -> Error {
    Error::Marker {
        target: target.to_string(),
        reason: scrub(&reason.to_string(), target),
    }
}

/// The user the client logs in as, and the database it asks for (libpq's default: the
/// user name).
fn judged(target: &Target) -> (&str, &str) {
    let user = target.user.as_deref().unwrap_or("postgres");
    (user, target.database.as_deref().unwrap_or(user))
}

/// A driver configuration for the target's hosts (`only`: just that one).
fn config(target: &Target, cfg: &Config, only: Option<usize>) -> Result<tokio_postgres::Config> {
    if let Some(mode @ ("require" | "verify-ca" | "verify-full")) = target.sslmode.as_deref() {
        return Err(fail(
            target,
            format!(
                "sslmode={mode} needs TLS, which the marker check does not speak, so this server's marker cannot be read"
            ),
        ));
    }
    let mut pg = tokio_postgres::Config::new();
    for (i, endpoint) in target.endpoints.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        match &endpoint.host {
            Host::Socket(dir) | Host::File(dir) => pg.host_path(dir),
            Host::Ip(ip) => pg.host(ip.to_string()),
            Host::Name(name) => pg.host(name),
        };
        pg.port(endpoint.port);
    }
    let (user, database) = judged(target);
    pg.user(user).dbname(database);
    if let Some(p) = &target.password {
        pg.password(p.0.as_bytes());
    }
    // Kept on purpose: the marker must hold even against the client's own `-c` options.
    if let Some(options) = &target.options {
        pg.options(options);
    }
    pg.ssl_mode(match target.sslmode.as_deref() {
        Some("disable") => SslMode::Disable,
        _ => SslMode::Prefer,
    });
    pg.application_name("preflight-test-guard");
    pg.connect_timeout(cfg.marker_timeout);
    Ok(pg)
}

/// A client and the task driving its connection on the current tokio runtime.
struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Closes the connection and waits for it to end, so no connection outlives the check
    /// (and the next check does not pay for this one's teardown).
    async fn close(self) {
        drop(self.client);
        let _ = self.task.await;
    }
}

async fn connect(target: &Target, cfg: &Config, only: Option<usize>) -> Result<Session> {
    let (client, connection) = config(target, cfg, only)?
        .connect(NoTls)
        .await
        .map_err(|e| fail(target, format!("cannot connect: {}", chain(&e))))?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "test-guard marker connection ended");
        }
    });
    Ok(Session { client, task })
}

/// Refuses a connection that reached another database or user than the one judged.
fn check_landing(target: &Target, host: &str, database: &str, user: &str) -> Result<()> {
    let (want_user, want_db) = judged(target);
    if database == want_db && user == want_user {
        return Ok(());
    }
    Err(fail(
        target,
        format!(
            "{host}: the marker connection reached database `{database}` as `{user}`, not database `{want_db}` as `{want_user}` that was judged (a pooler or proxy maps names here), so its marker says nothing about the judged database"
        ),
    ))
}

fn rows(messages: &[SimpleQueryMessage]) -> Vec<&SimpleQueryRow> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect()
}

/// Reads the markers of host `i` of `target`.
pub(super) async fn read(target: &Target, i: usize, cfg: &Config) -> Result<MarkerReading> {
    let host = endpoint_text(target, i);
    let at = |reason: String| fail(target, format!("{host}: {reason}"));
    let session = connect(target, cfg, Some(i)).await.map_err(|e| match e {
        Error::Marker { reason, .. } => at(reason),
        other => other,
    })?;
    let reading = read_on(&session.client, target, i, cfg, &host).await;
    session.close().await;
    reading
}

async fn read_on(
    client: &Client,
    target: &Target,
    i: usize,
    cfg: &Config,
    host: &str,
) -> Result<MarkerReading> {
    let at = |reason: String| fail(target, format!("{host}: {reason}"));
    let table = cfg.marker_table.as_deref();
    let messages = client
        .simple_query(&read_sql(&cfg.marker_setting, table))
        .await
        .map_err(|e| at(format!("marker query failed: {}", chain(&e))))?;
    let rows = rows(&messages);
    let row = rows
        .last()
        .ok_or_else(|| at("marker query returned no row".to_owned()))?;
    let database = row.get(1).unwrap_or_default();
    let user = row.get(2).unwrap_or_default();
    check_landing(target, host, database, user)?;
    let scope = MarkerScope::Database(database.to_owned());
    let mut markers = vec![Marker {
        value: row.get(5).filter(|v| !v.is_empty()).map(str::to_owned),
        source: format!("database setting {}", cfg.marker_setting),
        scope: scope.clone(),
    }];
    if let Some(table) = table {
        let qualified = rows
            .first()
            .filter(|_| rows.len() == 2)
            .and_then(|r| r.get(0))
            .ok_or_else(|| {
                at(format!(
                    "marker table `{table}` does not exist in database `{database}` (as this client's search_path resolves it), and the guard was told the marker lives there"
                ))
            })?;
        // `qualified` is quote_ident()ed by the server.
        let found = client
            .simple_query(&format!(
                "SELECT value::pg_catalog.text FROM {qualified} \
                  WHERE key OPERATOR(pg_catalog.=) 'environment' LIMIT 1"
            ))
            .await
            .map_err(|e| at(format!("marker row query failed: {}", chain(&e))))?;
        markers.push(Marker {
            value: super::postgres::rows(&found)
                .first()
                .and_then(|r| r.get(0))
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            source: format!("row environment in {table}"),
            scope,
        });
    }
    markers.push(Marker {
        value: row.get(6).filter(|v| !v.is_empty()).map(str::to_owned),
        source: format!("server-wide setting {}", cfg.marker_setting),
        scope: MarkerScope::Server,
    });
    let mut reading = MarkerReading::new(host.to_owned(), markers, row.get(0) == Some("t"));
    reading.landed = Some(landed(target, i, database, user, row.get(3), row.get(4)));
    Ok(reading)
}

/// `reached database `x` as `u`; the server's address is ...`, noting when it differs from
/// the one asked (a port mapping, proxy or tunnel in between: reported, not refused).
fn landed(
    target: &Target,
    i: usize,
    database: &str,
    user: &str,
    addr: Option<&str>,
    port: Option<&str>,
) -> String {
    let mut text = format!("reached database `{database}` as `{user}`");
    let endpoint = &target.endpoints[i];
    match (addr, port) {
        (Some(addr), Some(port)) => {
            text.push_str(&format!("; the server's own address is {addr}:{port}"));
            let same_port = port.parse::<u16>() == Ok(endpoint.port);
            let same_addr = match &endpoint.host {
                Host::Ip(ip) => addr.parse::<std::net::IpAddr>() == Ok(*ip),
                _ => true,
            };
            if !(same_port && same_addr) {
                text.push_str(&format!(
                    " (asked {}: a port mapping, proxy or tunnel is in between)",
                    endpoint_text(target, i)
                ));
            }
        }
        _ => text.push_str(" over a Unix socket"),
    }
    text
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(super) async fn write(
    target: &Target,
    cfg: &Config,
    value: Option<&str>,
    scope: Scope,
) -> Result<()> {
    let session = connect(target, cfg, None).await?;
    let result = write_on(&session.client, target, cfg, value, scope).await;
    session.close().await;
    result
}

async fn write_on(
    client: &Client,
    target: &Target,
    cfg: &Config,
    value: Option<&str>,
    scope: Scope,
) -> Result<()> {
    let messages = client
        .simple_query(
            "SET search_path TO pg_catalog, pg_temp; \
             SELECT pg_catalog.current_database(), session_user",
        )
        .await
        .map_err(|e| fail(target, chain(&e)))?;
    let rows = rows(&messages);
    let row = rows
        .first()
        .ok_or_else(|| fail(target, "no row from current_database()"))?;
    let (db, user) = (
        row.get(0).unwrap_or_default(),
        row.get(1).unwrap_or_default(),
    );
    check_landing(target, &endpoint_text(target, 0), db, user)?;
    // The setting name and the value were validated to a safe alphabet; the database name
    // is quoted as an identifier.
    let on = match scope {
        Scope::Database => format!("DATABASE {}", quote_ident(db)),
        Scope::Server => "ROLE ALL".to_owned(),
    };
    let sql = match value {
        Some(v) => format!("ALTER {on} SET {} = '{v}'", cfg.marker_setting),
        None => format!("ALTER {on} RESET {}", cfg.marker_setting),
    };
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| fail(target, chain(&e)))
}
