//! Redis, MySQL / MariaDB and SQLite targets: plain URLs, parsed with the `url` crate
//! (SQLite's `sqlite:path` forms by hand).

use std::net::IpAddr;
use std::path::PathBuf;

use super::{Endpoint, Host, Secret, Target, TargetKind};
use crate::mask::{mask, percent_decode};

/// `sqlite:path`, `sqlite://path`, `sqlite::memory:` (sqlx's forms): a local file.
pub(super) fn sqlite(conn: &str, source: &str) -> Target {
    // A path has no password, but a confused URL may carry one: derive the path (shown in
    // every report) from the masked form.
    let masked = mask(conn);
    let rest = masked.get("sqlite:".len()..).unwrap_or_default();
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    Target {
        kind: TargetKind::Sqlite,
        source: source.to_owned(),
        endpoints: vec![Endpoint {
            host: Host::File(PathBuf::from(percent_decode(path))),
            port: 0,
        }],
        database: None,
        user: None,
        password: None,
        options: None,
        sslmode: None,
        redis_url: None,
        masked,
    }
}

/// `mysql://user:pass@host:port/db` (also `mariadb://`, `?socket=/path`).
pub(super) fn resolve_mysql(conn: &str, source: &str) -> Result<Target, String> {
    let url = url::Url::parse(conn).map_err(|e| e.to_string())?;
    let socket = url
        .query_pairs()
        .find(|(k, _)| k == "socket")
        .map(|(_, v)| v.into_owned());
    let host = match (socket, url.host()) {
        (Some(path), _) => Host::Socket(PathBuf::from(path)),
        (None, None | Some(url::Host::Domain(""))) => Host::Name("localhost".to_owned()),
        (None, Some(url::Host::Domain(d))) => Host::parse(&percent_decode(d)),
        (None, Some(url::Host::Ipv4(ip))) => Host::Ip(ip.into()),
        (None, Some(url::Host::Ipv6(ip))) => Host::Ip(ip.into()),
    };
    let database = percent_decode(url.path().trim_start_matches('/'));
    Ok(Target {
        kind: TargetKind::MySql,
        source: source.to_owned(),
        endpoints: vec![Endpoint {
            host,
            port: url.port().unwrap_or(3306),
        }],
        database: (!database.is_empty()).then_some(database),
        user: (!url.username().is_empty()).then(|| percent_decode(url.username())),
        password: url.password().map(|p| Secret(percent_decode(p))),
        options: None,
        sslmode: None,
        redis_url: None,
        masked: mask(conn),
    })
}

pub(super) fn resolve_redis(conn: &str, source: &str) -> Result<Target, String> {
    let url = url::Url::parse(conn).map_err(|e| e.to_string())?;
    let query = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let scheme = url.scheme().to_ascii_lowercase();
    let (endpoint, database) = if scheme == "unix" || scheme.ends_with("+unix") {
        let path = percent_decode(url.path());
        if path.is_empty() {
            return Err("missing socket path".to_owned());
        }
        let db = query("db").unwrap_or_else(|| "0".to_owned());
        (
            Endpoint {
                host: Host::Socket(PathBuf::from(path)),
                port: 0,
            },
            db,
        )
    } else {
        let host = match url.host() {
            None => Host::Ip(IpAddr::from([127, 0, 0, 1])),
            Some(url::Host::Domain("")) => Host::Ip(IpAddr::from([127, 0, 0, 1])),
            Some(url::Host::Domain(d)) => Host::parse(&percent_decode(d)),
            Some(url::Host::Ipv4(ip)) => Host::Ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => Host::Ip(ip.into()),
        };
        // redis-rs takes the index from the path only; redis-py (Celery, Django's cache)
        // lets `?db=` win over the path. When they differ, the target names both indexes
        // (`0,5`) and the marker is read in each.
        let path_db = match url.path().trim_matches('/') {
            "" => "0".to_owned(),
            d => d.to_owned(),
        };
        let db = match query("db") {
            Some(q) if q != path_db => format!("{path_db},{q}"),
            _ => path_db,
        };
        let port = url.port().unwrap_or(6379);
        (Endpoint { host, port }, db)
    };
    if let Some(bad) = database.split(',').find(|d| d.parse::<u32>().is_err()) {
        return Err(format!("database index `{bad}` is not a number"));
    }
    Ok(Target {
        kind: TargetKind::Redis,
        source: source.to_owned(),
        endpoints: vec![endpoint],
        database: Some(database),
        user: (!url.username().is_empty()).then(|| percent_decode(url.username())),
        password: url.password().map(|p| Secret(percent_decode(p))),
        options: None,
        sslmode: None,
        redis_url: Some(Secret(conn.to_owned())),
        masked: mask(conn),
    })
}
