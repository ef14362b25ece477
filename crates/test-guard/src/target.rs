//! What a connection string really points at. A target is resolved the way the client will
//! resolve it: for PostgreSQL that means libpq's rules (URL or keyword/value string, then the
//! service file, then `PG*` variables, then built-in defaults), because an exported `PGHOST`
//! silently redirecting `DATABASE_URL=postgres:///app_test` is exactly how test suites reach
//! production. Resolution never touches the network.
//!
//! PostgreSQL URLs are split by hand rather than with the `url` crate: libpq accepts several
//! hosts (`h1:5432,h2:5433`) and percent-encoded socket paths as hosts, which WHATWG URL
//! parsing rejects. Redis URLs are plain URLs and go through `url`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::mask::{mask, percent_decode};

/// The kind of server a target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetKind {
    /// PostgreSQL (and anything speaking its wire protocol).
    Postgres,
    /// Redis (and Valkey).
    Redis,
    /// MySQL / MariaDB: host and name rules only, no live marker.
    MySql,
    /// A SQLite file: always local.
    Sqlite,
}

impl TargetKind {
    /// `postgres` or `redis`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis => "redis",
            Self::MySql => "mysql",
            Self::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a connection goes: a host name, an IP address, or a Unix socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Host {
    /// A DNS name, lower-cased.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
    /// A Unix-domain socket (a directory for PostgreSQL, a file for Redis and MySQL).
    Socket(PathBuf),
    /// A database file (SQLite).
    File(PathBuf),
}

impl Host {
    fn parse(raw: &str) -> Self {
        if raw.starts_with('/') || raw.starts_with('@') {
            return Self::Socket(PathBuf::from(raw));
        }
        Self::Name(raw.to_ascii_lowercase()).normalised()
    }

    /// A name that is really an address literal becomes [`Host::Ip`].
    pub(crate) fn normalised(self) -> Self {
        match self {
            Self::Name(name) => {
                let bare = name.trim_start_matches('[').trim_end_matches(']');
                match bare.parse::<IpAddr>() {
                    Ok(ip) => Self::Ip(ip),
                    Err(_) => Self::Name(name),
                }
            }
            other => other,
        }
    }

    /// Loopback addresses (`127.0.0.0/8`, `::1`, IPv4-mapped loopback), `localhost` and
    /// `*.localhost` (RFC 6761), and Unix sockets. Note that an SSH tunnel also looks like
    /// loopback: that is why the live marker is asked even for loopback targets.
    #[must_use]
    pub fn is_local(&self) -> bool {
        match self {
            Self::Ip(IpAddr::V4(ip)) => ip.is_loopback(),
            Self::Ip(IpAddr::V6(ip)) => {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            Self::Name(name) => name == "localhost" || name.ends_with(".localhost"),
            Self::Socket(_) | Self::File(_) => true,
        }
    }

    /// The text host rules are matched against: the name, the address, or the socket path.
    #[must_use]
    pub fn rule_text(&self) -> String {
        match self {
            Self::Name(n) => n.clone(),
            Self::Ip(ip) => ip.to_string(),
            Self::Socket(p) | Self::File(p) => p.display().to_string(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Socket(p) | Self::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One host and port of a target (libpq targets may list several).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Endpoint {
    /// Where the connection goes (for PostgreSQL, `hostaddr` when given, as libpq does).
    pub host: Host,
    /// The TCP port, or the socket's port suffix for PostgreSQL sockets.
    pub port: u16,
}

/// A password or secret-bearing URL; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A resolved connection target: what the guard checks and, for live markers, connects to.
///
/// Build one from the connection string your code really uses ([`Target::parse`]), so the
/// guard checks the same thing the pool will open; the guard also resolves the configured
/// variables itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub(crate) kind: TargetKind,
    pub(crate) source: String,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) database: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) options: Option<String>,
    pub(crate) sslmode: Option<String>,
    pub(crate) redis_url: Option<Secret>,
    pub(crate) masked: String,
}

impl Target {
    /// Parses a connection string given in code, without `PG*` environment fallbacks:
    /// `postgres://`, `postgresql://` or a libpq `key=value` string; `redis://`, `rediss://`,
    /// `redis+unix://`, `unix://`, `valkey://`, `valkeys://`.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] naming the (masked) string and the problem.
    pub fn parse(conn: &str) -> Result<Self> {
        resolve(conn, "explicit", None)
    }

    /// Like [`Target::parse`], filling what the string leaves out from the `PG*` variables and
    /// service file in `env`, as libpq, sqlx and psql do.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] naming `source` and the masked string.
    pub fn resolve(conn: &str, source: &str, env: &dyn Env) -> Result<Self> {
        resolve(conn, source, Some(env))
    }

    /// Postgres or Redis.
    #[must_use]
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// Where it came from: a variable name (`DATABASE_URL`), `PG* variables`, or `explicit`.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every host and port the client may connect to.
    #[must_use]
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The database name (PostgreSQL) or index (Redis).
    #[must_use]
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The connection string as given, password masked.
    #[must_use]
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// The canonical name of this target, without user or password: what an override must
    /// name to allow it, e.g. `postgres://db.internal:5432/app`.
    #[must_use]
    pub fn id(&self) -> String {
        if self.kind == TargetKind::Sqlite {
            return format!("sqlite://{}", self.endpoints[0].host);
        }
        let hosts: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| match &e.host {
                Host::Socket(p) | Host::File(p) => {
                    format!("{}:{}", p.display().to_string().replace('/', "%2F"), e.port)
                }
                h => format!("{h}:{}", e.port),
            })
            .collect();
        format!(
            "{}://{}/{}",
            self.kind,
            hosts.join(","),
            self.database.as_deref().unwrap_or("")
        )
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.source, self.id())
    }
}

fn resolve(conn: &str, source: &str, env: Option<&dyn Env>) -> Result<Target> {
    let invalid = |reason: String| Error::InvalidTarget {
        source_name: source.to_owned(),
        masked: mask(conn),
        reason,
    };
    let conn_trimmed = conn.trim();
    let scheme = conn_trimmed
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => {
            let params = parse_postgres_url(conn_trimmed).map_err(invalid)?;
            resolve_postgres(params, conn, source, env).map_err(invalid)
        }
        Some("redis" | "rediss" | "valkey" | "valkeys" | "redis+unix" | "valkey+unix" | "unix") => {
            resolve_redis(conn_trimmed, source).map_err(invalid)
        }
        Some("mysql" | "mariadb") => resolve_mysql(conn_trimmed, source).map_err(invalid),
        Some("sqlite") => Ok(sqlite(conn_trimmed, source)),
        Some(other) => Err(invalid(format!(
            "unsupported scheme `{other}` (expected postgres://, postgresql://, redis://, rediss://, redis+unix://, unix://, mysql://, sqlite://)"
        ))),
        None if conn_trimmed.to_ascii_lowercase().starts_with("sqlite:") => {
            Ok(sqlite(conn_trimmed, source))
        }
        None if conn_trimmed.contains('=') => {
            let params = parse_keyword_value(conn_trimmed)
                .map_err(invalid)?
                .into_iter()
                .collect();
            resolve_postgres(params, conn, source, env).map_err(invalid)
        }
        None => Err(invalid(
            "not a URL (scheme://...) or a libpq key=value string".to_owned(),
        )),
    }
}

/// Splits a libpq URI into its keyword parameters (`host`, `port`, `user`, `password`,
/// `dbname` and every query parameter).
fn parse_postgres_url(conn: &str) -> Result<BTreeMap<String, String>, String> {
    let (_, rest) = conn.split_once("://").unwrap_or(("", conn));
    let (pre, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match pre.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (pre, None),
    };
    let mut params = BTreeMap::new();
    let hostspec = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                params.insert("user".to_owned(), percent_decode(user));
            }
            if let Some(p) = password {
                params.insert("password".to_owned(), percent_decode(p));
            }
            hosts
        }
        None => authority,
    };
    let (mut hosts, mut ports) = (Vec::new(), Vec::new());
    if !hostspec.is_empty() {
        for spec in hostspec.split(',') {
            let (host, port) = if let Some(v6) = spec.strip_prefix('[') {
                let (inside, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("unterminated `[` in host `{spec}`"))?;
                let port = match after {
                    "" => "",
                    p => p
                        .strip_prefix(':')
                        .ok_or_else(|| format!("unexpected `{p}` after IPv6 address"))?,
                };
                (inside.to_owned(), port)
            } else {
                match spec.split_once(':') {
                    Some((h, p)) => (percent_decode(h), p),
                    None => (percent_decode(spec), ""),
                }
            };
            hosts.push(host);
            ports.push(port.to_owned());
        }
        params.insert("host".to_owned(), hosts.join(","));
        if ports.iter().any(|p| !p.is_empty()) {
            params.insert("port".to_owned(), ports.join(","));
        }
    }
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        params.insert("dbname".to_owned(), percent_decode(path));
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("query parameter `{}` has no `=`", mask(pair)))?;
        // Query parameters override the URL's own parts, as in libpq.
        params.insert(percent_decode(k), percent_decode(v));
    }
    Ok(params)
}

/// Parses a libpq keyword/value connection string (`host=db dbname='my app'`).
///
/// # Errors
/// A description of the first syntax error (without any value).
pub(crate) fn parse_keyword_value(conn: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = conn.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("missing `=` after `{key}`"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quoted value for `{key}`")),
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

/// libpq's `PG*` variables, by connection keyword.
const PG_ENV: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("dbname", "PGDATABASE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("options", "PGOPTIONS"),
    ("sslmode", "PGSSLMODE"),
];

/// The variables that make libpq clients connect somewhere without any connection string.
pub(crate) const PG_TARGET_VARS: &[&str] =
    &["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE"];

fn resolve_postgres(
    mut params: BTreeMap<String, String>,
    conn: &str,
    source: &str,
    env: Option<&dyn Env>,
) -> Result<Target, String> {
    if let Some(env) = env {
        let service = params
            .get("service")
            .cloned()
            .or_else(|| env.var("PGSERVICE").filter(|s| !s.is_empty()));
        if let Some(service) = service {
            for (k, v) in read_service(&service, env)? {
                params.entry(k).or_insert(v);
            }
        }
        for (key, var) in PG_ENV {
            if !params.contains_key(*key)
                && let Some(v) = env.var(var).filter(|v| !v.is_empty())
            {
                params.insert((*key).to_owned(), v);
            }
        }
    } else if params.contains_key("service") {
        return Err("`service=` needs the service file; resolve it with Target::resolve".into());
    }
    let user = params.get("user").cloned().or_else(|| {
        // libpq asks the OS for the user name; these variables say the same here.
        env.and_then(|e| {
            ["USER", "LOGNAME"]
                .iter()
                .find_map(|v| e.var(v).filter(|u| !u.is_empty()))
        })
    });
    let database = params.get("dbname").cloned().or_else(|| user.clone());

    let split = |key: &str| -> Vec<String> {
        params
            .get(key)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let mut hosts = split("host");
    let hostaddrs = split("hostaddr");
    let ports = split("port");
    if hosts.is_empty() {
        hosts = vec![String::new(); hostaddrs.len().max(1)];
    }
    if !hostaddrs.is_empty() && hostaddrs.len() != hosts.len() {
        return Err(format!(
            "{} hostaddr values for {} hosts",
            hostaddrs.len(),
            hosts.len()
        ));
    }
    if ports.len() > 1 && ports.len() != hosts.len() {
        return Err(format!("{} ports for {} hosts", ports.len(), hosts.len()));
    }
    let mut endpoints = Vec::with_capacity(hosts.len());
    for (i, host) in hosts.iter().enumerate() {
        let port_text = ports.get(i).or_else(|| ports.first()).map(String::as_str);
        let port = match port_text {
            None | Some("") => 5432,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("invalid port `{p}`"))?,
        };
        // libpq connects to hostaddr when given; the name is only for TLS and .pgpass.
        let host = match hostaddrs.get(i).filter(|a| !a.is_empty()) {
            Some(addr) => Host::Ip(
                addr.parse()
                    .map_err(|_| format!("invalid hostaddr `{addr}`"))?,
            ),
            None if host.is_empty() => Host::Socket(default_socket_dir(port)),
            None => Host::parse(host),
        };
        endpoints.push(Endpoint { host, port });
    }
    let password = params.get("password").cloned().or_else(|| {
        let env = env?;
        let first = endpoints.first()?;
        read_pgpass(env, first, database.as_deref()?, user.as_deref()?)
    });
    Ok(Target {
        kind: TargetKind::Postgres,
        source: source.to_owned(),
        endpoints,
        database,
        user,
        password: password.map(Secret),
        options: params.get("options").cloned(),
        sslmode: params.get("sslmode").cloned(),
        redis_url: None,
        masked: mask(conn),
    })
}

/// The password libpq would take from `~/.pgpass` (or `PGPASSFILE`) for this endpoint: the
/// first line whose `host:port:database:user` fields match (`*` matches anything; a socket
/// matches `localhost`), so the marker check can log in where the client would.
fn read_pgpass(env: &dyn Env, endpoint: &Endpoint, database: &str, user: &str) -> Option<String> {
    let file = match env.var("PGPASSFILE").filter(|f| !f.is_empty()) {
        Some(f) => PathBuf::from(f),
        None => Path::new(&env.var("HOME").filter(|h| !h.is_empty())?).join(".pgpass"),
    };
    let text = env.read_file(&file)?;
    let host = match &endpoint.host {
        Host::Socket(_) | Host::File(_) => "localhost".to_owned(),
        Host::Ip(ip) => ip.to_string(),
        Host::Name(name) => name.clone(),
    };
    let port = endpoint.port.to_string();
    let wanted = [host.as_str(), port.as_str(), database, user];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split_pgpass(line);
            let [h, p, d, u, password] = <[String; 5]>::try_from(fields).ok()?;
            [h, p, d, u]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field.eq_ignore_ascii_case(want))
                .then_some(password)
        })
}

/// Splits a `.pgpass` line on unescaped `:` (`\:` and `\\` are escapes).
fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ':' => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields
}

/// libpq's compiled-in socket directory: Debian's when its socket exists, else upstream's.
fn default_socket_dir(port: u16) -> PathBuf {
    let debian = Path::new("/var/run/postgresql");
    if debian.join(format!(".s.PGSQL.{port}")).exists() {
        debian.to_owned()
    } else {
        PathBuf::from("/tmp")
    }
}

/// Reads one `[service]` section from the libpq service files, user file first.
fn read_service(service: &str, env: &dyn Env) -> Result<Vec<(String, String)>, String> {
    let mut files = Vec::new();
    match env.var("PGSERVICEFILE").filter(|f| !f.is_empty()) {
        Some(f) => files.push(PathBuf::from(f)),
        None => {
            if let Some(home) = env.var("HOME").filter(|h| !h.is_empty()) {
                files.push(Path::new(&home).join(".pg_service.conf"));
            }
        }
    }
    match env.var("PGSYSCONFDIR").filter(|d| !d.is_empty()) {
        Some(dir) => files.push(Path::new(&dir).join("pg_service.conf")),
        None => {
            files.push(PathBuf::from("/etc/postgresql-common/pg_service.conf"));
            files.push(PathBuf::from("/etc/pg_service.conf"));
        }
    }
    for file in &files {
        let Some(text) = env.read_file(file) else {
            continue;
        };
        let mut in_section = false;
        let mut found = false;
        let mut pairs = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_section = name.trim() == service;
                found |= in_section;
            } else if in_section && let Some((k, v)) = line.split_once('=') {
                pairs.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        if found {
            return Ok(pairs);
        }
    }
    let looked: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    Err(format!(
        "service `{service}` not found (looked in {})",
        looked.join(", ")
    ))
}

/// `sqlite:path`, `sqlite://path`, `sqlite::memory:` (sqlx's forms): a local file.
fn sqlite(conn: &str, source: &str) -> Target {
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
fn resolve_mysql(conn: &str, source: &str) -> Result<Target, String> {
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

fn resolve_redis(conn: &str, source: &str) -> Result<Target, String> {
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
        let db = match url.path().trim_matches('/') {
            "" => query("db").unwrap_or_else(|| "0".to_owned()),
            d => d.to_owned(),
        };
        let port = url.port().unwrap_or(6379);
        (Endpoint { host, port }, db)
    };
    if database.parse::<u32>().is_err() {
        return Err(format!("database index `{database}` is not a number"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pg(conn: &str, env: &[(&str, &str)]) -> Target {
        Target::resolve(conn, "DATABASE_URL", &env).unwrap()
    }

    #[test]
    fn postgres_urls() {
        let t = pg(
            "postgres://app:pw@DB.example.com:6543/app_test?sslmode=require",
            &[],
        );
        assert_eq!(t.id(), "postgres://db.example.com:6543/app_test");
        assert_eq!(t.user.as_deref(), Some("app"));
        assert_eq!(t.password, Some(Secret("pw".into())));
        assert_eq!(t.sslmode.as_deref(), Some("require"));
        assert_eq!(
            t.masked(),
            "postgres://app:***@DB.example.com:6543/app_test?sslmode=require"
        );

        let t = pg("postgresql://[::1]:5433,127.0.0.1/db", &[]);
        assert_eq!(t.id(), "postgres://[::1]:5433,127.0.0.1:5432/db");
        assert!(t.endpoints().iter().all(|e| e.host.is_local()));

        let t = pg("postgres://%2Fvar%2Frun%2Fpostgresql/db", &[]);
        assert_eq!(
            t.endpoints()[0].host,
            Host::Socket("/var/run/postgresql".into())
        );
        assert_eq!(t.id(), "postgres://%2Fvar%2Frun%2Fpostgresql:5432/db");

        let t = pg("postgres:///db?host=/tmp&port=7000", &[]);
        assert_eq!(
            t.endpoints()[0],
            Endpoint {
                host: Host::Socket("/tmp".into()),
                port: 7000
            }
        );
    }

    #[test]
    fn libpq_environment_fills_the_gaps() {
        // The HN incident: a tunnel script exported PGHOST, the URL named no host.
        let env = [
            ("PGHOST", "prod.internal"),
            ("PGPORT", "6432"),
            ("USER", "me"),
        ];
        let t = pg("postgres:///app_test", &env);
        assert_eq!(t.id(), "postgres://prod.internal:6432/app_test");
        // Explicit parts win over the environment.
        let t = pg("postgres://localhost/x", &env);
        assert_eq!(t.id(), "postgres://localhost:6432/x");
        // hostaddr is where libpq really connects.
        let t = pg("postgres://localhost/x?hostaddr=10.1.2.3", &[]);
        assert_eq!(t.endpoints()[0].host, Host::Ip("10.1.2.3".parse().unwrap()));
        // Database defaults to the user name.
        let t = pg("host=localhost user=bob", &[]);
        assert_eq!(t.database(), Some("bob"));
        // Without env, PGHOST is not consulted.
        let t = Target::parse("postgres:///app_test").unwrap();
        assert!(matches!(t.endpoints()[0].host, Host::Socket(_)));
    }

    #[test]
    fn service_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("svc.conf");
        std::fs::write(
            &file,
            "# c\n[other]\nhost=x\n[prod]\nhost=db.prod\ndbname = app\nport=5433\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let env = [
            ("PGSERVICEFILE", file),
            ("PGSERVICE", "prod"),
            ("PGHOST", "ignored"),
        ];
        let t = pg("dbname=override", &env);
        assert_eq!(t.id(), "postgres://db.prod:5433/override");
        let err = Target::resolve(
            "service=missing",
            "DATABASE_URL",
            &[("PGSERVICEFILE", file)].as_slice(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("service `missing` not found"), "{err}");
    }

    #[test]
    fn mysql_and_sqlite() {
        let t = Target::parse("mysql://root:pw@DB.example.org/app_test").unwrap();
        assert_eq!(t.kind(), TargetKind::MySql);
        assert_eq!(t.id(), "mysql://db.example.org:3306/app_test");
        let t = Target::parse("mariadb://root@127.0.0.1:3307/x?socket=/run/mysqld.sock").unwrap();
        assert_eq!(
            t.endpoints()[0].host,
            Host::Socket("/run/mysqld.sock".into())
        );
        for (conn, path) in [
            ("sqlite:data/test.db", "data/test.db"),
            ("sqlite://data/test.db?mode=rwc", "data/test.db"),
            ("sqlite::memory:", ":memory:"),
        ] {
            let t = Target::parse(conn).unwrap();
            assert_eq!(t.endpoints()[0].host, Host::File(path.into()), "{conn}");
            assert!(t.endpoints()[0].host.is_local());
        }
    }

    #[test]
    fn pgpass_supplies_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:nope\n127.0.0.1:5433:*:app:pa\\:ss\n*:*:*:*:fallback\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let env = [("PGPASSFILE", file)];
        let t = pg("postgres://app@127.0.0.1:5433/x", &env);
        assert_eq!(t.password, Some(Secret("pa:ss".into())));
        let t = pg("postgres://bob@127.0.0.1:5433/x", &env);
        assert_eq!(t.password, Some(Secret("fallback".into())));
        let t = pg("postgres://app:given@127.0.0.1:5433/x", &env);
        assert_eq!(t.password, Some(Secret("given".into())));
    }

    #[test]
    fn keyword_value_strings() {
        let pairs = parse_keyword_value(r"host=h  dbname = 'my \'db\'' password=a\ b").unwrap();
        assert_eq!(
            pairs,
            [
                ("host".into(), "h".into()),
                ("dbname".into(), "my 'db'".into()),
                ("password".into(), "a b".into())
            ]
        );
        assert!(parse_keyword_value("host").is_err());
        assert!(parse_keyword_value("host='x").is_err());
    }

    #[test]
    fn redis_urls() {
        let t = Target::parse("redis://:pw@127.0.0.1:6380/3").unwrap();
        assert_eq!(t.id(), "redis://127.0.0.1:6380/3");
        assert_eq!(t.masked(), "redis://:***@127.0.0.1:6380/3");
        let t = Target::parse("rediss://cache.upstash.io").unwrap();
        assert_eq!(t.id(), "redis://cache.upstash.io:6379/0");
        let t = Target::parse("redis+unix:///run/redis.sock?db=2").unwrap();
        assert_eq!(t.id(), "redis://%2Frun%2Fredis.sock:0/2");
        assert!(Target::parse("redis://h/notanumber").is_err());
    }

    #[test]
    fn errors_name_source_and_mask_password() {
        let err = Target::resolve(
            "postgres://u:hunter2@h:99999/db",
            "DATABASE_URL",
            &[].as_slice(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("DATABASE_URL") && err.contains("invalid port"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = Target::parse("mongodb://root:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unsupported scheme `mongodb`") && !err.contains("hunter2"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Target::parse(&s);
            let _ = Target::parse(&format!("postgres://{s}"));
            let _ = Target::parse(&format!("redis://{s}"));
        }

        /// A password never appears in a parse error or in the masked form.
        #[test]
        fn password_never_in_errors(password in "[A-Za-z0-9]{8,16}", port in "[0-9a-z]{0,7}", scheme in "(postgres|redis|mysql)") {
            let conn = format!("{scheme}://user:{password}@host:{port}/db");
            match Target::parse(&conn) {
                Ok(t) => {
                    prop_assert!(!t.masked().contains(&password));
                    let debug = format!("{t:?}");
                    prop_assert!(!debug.contains(&password));
                    prop_assert!(!t.to_string().contains(&password));
                }
                Err(e) => prop_assert!(!e.to_string().contains(&password)),
            }
        }

        /// Host, port and database survive a round trip through `id()`.
        #[test]
        fn id_round_trips(host in "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,5})?", port in 1u16.., db in "[a-z_][a-z0-9_]{0,20}") {
            let t = Target::parse(&format!("postgres://u:p@{host}:{port}/{db}")).unwrap();
            let again = Target::parse(&t.id()).unwrap();
            prop_assert_eq!(t.id(), again.id());
            prop_assert_eq!(again.database(), Some(db.as_str()));
        }
    }
}
