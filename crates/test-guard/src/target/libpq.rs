//! libpq's resolution rules, so a PostgreSQL target is what libpq, psql and sqlx would
//! really connect to: URI or keyword/value string, then the service file, then the `PG*`
//! variables, then built-in defaults; the password from `.pgpass` when none is given.
//!
//! URIs are split by hand rather than with the `url` crate: libpq accepts several hosts
//! (`h1:5432,h2:5433`) and percent-encoded socket paths as hosts, which WHATWG URL parsing
//! rejects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Endpoint, Host, Secret, Target, TargetKind};
use crate::env::Env;
use crate::mask::{mask, percent_decode};

/// Splits a libpq URI into its keyword parameters (`host`, `port`, `user`, `password`,
/// `dbname` and every query parameter).
pub(super) fn parse_postgres_url(conn: &str) -> Result<BTreeMap<String, String>, String> {
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

pub(super) fn resolve_postgres(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
