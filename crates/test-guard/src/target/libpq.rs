//! libpq's resolution rules, so a PostgreSQL target is what libpq (psql, psycopg, Django)
//! would really connect to: the URI or keyword/value string, then the service file, then the
//! `PG*` variables, then built-in defaults (the user name from the OS, the database from the
//! user), and the password from `.pgpass`.
//!
//! Every rule here mirrors libpq 15 (`fe-connect.c`), byte for byte where it matters: URIs
//! are split by hand (libpq takes user info up to the first `@` before any `/`, `?`
//! included; hosts and ports are comma lists; `%2C` in a host is a separator), keyword
//! strings separate on ASCII whitespace only, keywords are case-sensitive and unknown ones
//! are errors, and a variable that is set but empty still counts as set. The conformance
//! test in `tests/test_guard/conformance` checks all of it against the real libpq.
//!
//! What cannot be reproduced exactly is refused with the construct named (see
//! `REFUSED` in the crate docs): it must never be resolved to a guess.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{Endpoint, Host, Secret, Target, TargetKind};
use crate::env::Env;
use crate::mask::mask;

/// libpq 15's connection keywords (`PQconndefaults`), plus the few later versions added that
/// do not change where a connection goes. Matching is exact: `HOST=` is an error to libpq.
const KEYWORDS: &[&str] = &[
    "service",
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "dbname",
    "host",
    "hostaddr",
    "port",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "replication",
    "target_session_attrs",
    // libpq 16 and later; none of them changes the host, port, database or user.
    "load_balance_hosts",
    "require_auth",
    "sslcertmode",
    "sslnegotiation",
];

/// The `PG*` variables libpq reads for the keywords that decide where a connection goes and
/// who logs in (the others only tune TLS and timeouts).
const PG_ENV: &[(&str, &str)] = &[
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("dbname", "PGDATABASE"),
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("options", "PGOPTIONS"),
    ("sslmode", "PGSSLMODE"),
];

/// The variables that make libpq clients connect somewhere without any connection string.
pub(crate) const PG_TARGET_VARS: &[&str] =
    &["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE"];

/// Where libpq builds look for `pg_service.conf` when `PGSYSCONFDIR` is unset: the
/// compiled-in `SYSCONFDIR` differs by build (Debian and Ubuntu, upstream, Fedora and RHEL,
/// Homebrew). The guard reads them all and refuses when two of them define the service
/// differently, because it cannot know which one the client's libpq was built with.
const SYSCONF_DIRS: &[&str] = &[
    "/etc/postgresql-common",
    "/usr/local/pgsql/etc",
    "/etc",
    "/opt/homebrew/etc",
    "/usr/local/etc",
];

/// libpq's default socket directories: Debian's build and upstream's.
const DEBIAN_SOCKET_DIR: &str = "/var/run/postgresql";
const UPSTREAM_SOCKET_DIR: &str = "/tmp";

/// Keyword → value, the last one given winning (as in libpq).
pub(super) type Options = BTreeMap<&'static str, String>;

/// C `isspace` in the C locale: libpq separates keyword strings and trims service-file
/// lines with it, so a no-break space or any other Unicode space is an ordinary character.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

fn keyword(name: &str) -> Option<&'static str> {
    KEYWORDS.iter().copied().find(|k| *k == name)
}

/// libpq's `conninfo_storeval`: `requiressl` maps to `sslmode`, unknown keywords are errors.
fn store(options: &mut Options, key: &str, value: String) -> Result<(), String> {
    let (key, value) = if key == "requiressl" {
        let mode = if value.starts_with('1') {
            "require"
        } else {
            "prefer"
        };
        ("sslmode", mode.to_owned())
    } else {
        (key, value)
    };
    let Some(key) = keyword(key) else {
        return Err(format!(
            "unknown connection keyword `{}` (libpq keywords are lower-case and exact)",
            key.escape_debug()
        ));
    };
    options.insert(key, value);
    Ok(())
}

/// Parses a libpq connection string: a URI when it starts with exactly `postgresql://` or
/// `postgres://`, else keyword/value pairs.
pub(super) fn parse_conninfo(conn: &str) -> Result<Options, String> {
    if conn.contains('\0') {
        return Err("contains a NUL byte".to_owned());
    }
    let mut options = Options::new();
    if let Some(rest) = conn
        .strip_prefix("postgresql://")
        .or_else(|| conn.strip_prefix("postgres://"))
    {
        parse_uri(rest, &mut options)?;
    } else {
        for (key, value) in parse_keyword_value(conn)? {
            store(&mut options, &key, value)?;
        }
    }
    Ok(options)
}

/// libpq's `conninfo_uri_decode`: `%XX` with two hex digits, never `%00`.
fn uri_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
            let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                return Err(
                    "invalid percent-encoding (`%` must be followed by two hex digits)".to_owned(),
                );
            };
            let byte = u8::try_from(hi * 16 + lo).unwrap_or_default();
            if byte == 0 {
                return Err("forbidden `%00` in a percent-encoded value".to_owned());
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| "percent-encoding decodes to bytes that are not UTF-8".to_owned())
}

/// libpq's `conninfo_uri_parse_options`, after the `postgres://` prefix.
fn parse_uri(rest: &str, options: &mut Options) -> Result<(), String> {
    let mut p = rest;
    // User info runs to the first `@` that comes before any `/`: a `?` does not end it.
    if let Some(at) = rest.find(['@', '/'])
        && rest.as_bytes()[at] == b'@'
    {
        let userinfo = &rest[..at];
        let (user, password) = match userinfo.split_once(':') {
            Some((u, pw)) => (u, Some(pw)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            store(options, "user", uri_decode(user)?)?;
        }
        if let Some(pw) = password.filter(|pw| !pw.is_empty()) {
            store(options, "password", uri_decode(pw)?)?;
        }
        p = &rest[at + 1..];
    }
    let (mut hosts, mut ports) = (String::new(), String::new());
    let terminator = loop {
        if let Some(after) = p.strip_prefix('[') {
            let close = after.find(']').ok_or_else(|| {
                "unterminated `[` in an IPv6 host address (no matching `]`)".to_owned()
            })?;
            if close == 0 {
                return Err("empty IPv6 host address `[]`".to_owned());
            }
            hosts.push_str(&after[..close]);
            p = &after[close + 1..];
            if let Some(c) = p.chars().next()
                && !matches!(c, ':' | '/' | '?' | ',')
            {
                return Err(format!(
                    "unexpected `{}` after an IPv6 host address",
                    c.escape_debug()
                ));
            }
        } else {
            let end = p.find([':', '/', '?', ',']).unwrap_or(p.len());
            hosts.push_str(&p[..end]);
            p = &p[end..];
        }
        if let Some(after) = p.strip_prefix(':') {
            let end = after.find(['/', '?', ',']).unwrap_or(after.len());
            ports.push_str(&after[..end]);
            p = &after[end..];
        }
        match p.strip_prefix(',') {
            Some(after) => {
                p = after;
                hosts.push(',');
                ports.push(',');
            }
            None => break p.chars().next(),
        }
    };
    if !hosts.is_empty() {
        store(options, "host", uri_decode(&hosts)?)?;
    }
    if !ports.is_empty() {
        store(options, "port", uri_decode(&ports)?)?;
    }
    let mut terminator = terminator;
    if terminator == Some('/') {
        let after = &p[1..];
        let end = after.find('?').unwrap_or(after.len());
        // An empty path sets nothing, so PGDATABASE still applies.
        if end > 0 {
            store(options, "dbname", uri_decode(&after[..end])?)?;
        }
        p = &after[end..];
        terminator = p.chars().next();
    }
    if terminator.is_some() {
        parse_uri_query(&p[1..], options)?;
    }
    Ok(())
}

/// libpq's `conninfo_uri_parse_params`.
fn parse_uri_query(query: &str, options: &mut Options) -> Result<(), String> {
    let mut rest = query;
    while !rest.is_empty() {
        let end = rest.find('&').unwrap_or(rest.len());
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!(
                "URI query parameter `{}` has no `=`",
                mask(pair).escape_debug()
            ));
        };
        if value.contains('=') {
            return Err(format!(
                "URI query parameter `{}` has a second `=`",
                key.escape_debug()
            ));
        }
        let (key, value) = (uri_decode(key)?, uri_decode(value)?);
        if key == "ssl" && value == "true" {
            store(options, "sslmode", "require".to_owned())?;
        } else {
            store(options, &key, value)?;
        }
    }
    Ok(())
}

/// Parses a libpq keyword/value connection string (`host=db dbname='my app'`): pairs are
/// separated by ASCII whitespace only, `\` escapes the next character, single quotes hold
/// whitespace. Keywords are not checked here.
///
/// # Errors
/// A description of the first syntax error (without any value).
pub(crate) fn parse_keyword_value(conn: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = conn.chars().peekable();
    loop {
        while chars.next_if(|c| is_c_space(*c)).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !is_c_space(*c)) {
            key.push(c);
        }
        while chars.next_if(|c| is_c_space(*c)).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("missing `=` after `{}`", key.escape_debug()));
        }
        while chars.next_if(|c| is_c_space(*c)).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(format!(
                            "unterminated quoted value for `{}`",
                            key.escape_debug()
                        ));
                    }
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !is_c_space(*c)) {
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

/// The OS account of the effective uid (`getpwuid_r`, as libpq asks): its name and home
/// directory. Looked up once per process and uid: the check runs on every test start and the
/// lookup may go through NSS.
#[cfg(unix)]
fn os_account() -> Result<(String, PathBuf), String> {
    use std::sync::Mutex;
    type Account = (u32, Result<(String, PathBuf), String>);
    static CACHE: Mutex<Option<Account>> = Mutex::new(None);
    let uid = nix::unistd::Uid::effective();
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((cached, account)) = cache.as_ref()
        && *cached == uid.as_raw()
    {
        return account.clone();
    }
    let account = match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => Ok((user.name, user.dir)),
        Ok(None) => Err(format!(
            "no user name for uid {uid} (libpq cannot pick a default user)"
        )),
        Err(e) => Err(format!("cannot look up uid {uid}: {e}")),
    };
    *cache = Some((uid.as_raw(), account.clone()));
    account
}

/// The name libpq logs in with when none is given: the OS user of the effective uid, never
/// `$USER` or `$LOGNAME`, which anyone can set.
pub(crate) fn os_user() -> Result<String, String> {
    #[cfg(unix)]
    {
        os_account().map(|(name, _)| name)
    }
    #[cfg(not(unix))]
    {
        Err("the default user name is only known on Unix; give `user=`".to_owned())
    }
}

/// The home directory libpq uses for `.pgpass` and `.pg_service.conf`: `$HOME` when set and
/// non-empty, else the OS's record for the effective uid.
fn home_dir(env: &dyn Env) -> Option<PathBuf> {
    if let Some(home) = env.var("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    #[cfg(unix)]
    {
        os_account().ok().map(|(_, dir)| dir)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// libpq's default socket directory for this build of the guard's host: Debian's when it
/// exists, else upstream's. When both hold a socket for `port`, two servers could answer and
/// the guard cannot tell which one the client's libpq was built to use: refused.
fn default_socket_dir(port: u16) -> Result<PathBuf, String> {
    let debian = Path::new(DEBIAN_SOCKET_DIR);
    let socket = format!(".s.PGSQL.{port}");
    if debian.is_dir() {
        if Path::new(UPSTREAM_SOCKET_DIR).join(&socket).exists() && debian.join(&socket).exists() {
            return Err(format!(
                "no host given, and both {DEBIAN_SOCKET_DIR} and {UPSTREAM_SOCKET_DIR} hold a socket for port {port}: which one the client uses depends on how its libpq was built; give host="
            ));
        }
        Ok(debian.to_owned())
    } else {
        Ok(PathBuf::from(UPSTREAM_SOCKET_DIR))
    }
}

/// libpq's `parse_int_param` for a port, then its 1..=65535 range check. libpq checks a port
/// only when it tries that host (an out-of-range one skips the host); the guard refuses.
fn parse_port(text: &str) -> Result<u16, String> {
    let trimmed = text.trim_matches(is_c_space);
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    match digits.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) && !digits.starts_with('+') => {
            Ok(u16::try_from(p).unwrap_or_default())
        }
        _ => Err(format!("invalid port `{}`", text.escape_debug())),
    }
}

/// A host name as libpq takes it: a path (`/…`, `@…`) is a Unix socket, an address literal
/// is an address, anything else a name looked up in DNS. Brackets are not stripped here:
/// only the URI form removes them.
fn libpq_host(raw: &str) -> Host {
    if raw.starts_with('/') || raw.starts_with('@') {
        return Host::Socket(PathBuf::from(raw));
    }
    match raw.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(raw.to_ascii_lowercase()),
    }
}

/// One host slot as libpq's `connectOptions2` builds it.
struct Slot {
    /// Where the connection goes.
    endpoint: Endpoint,
    /// The text `.pgpass` lines are matched against.
    pgpass_host: String,
    /// The port as text, for `.pgpass`.
    port_text: String,
}

/// libpq's `connectOptions2`: split `hostaddr`, `host` and `port` on commas (no trimming),
/// match their counts, fill the defaults.
fn slots(options: &Options) -> Result<Vec<Slot>, String> {
    let list = |key: &str| -> Option<Vec<&str>> {
        options
            .get(key)
            .filter(|v| !v.is_empty())
            .map(|v| v.split(',').collect())
    };
    let addrs = list("hostaddr");
    let hosts = list("host");
    let count = addrs
        .as_ref()
        .map(Vec::len)
        .or_else(|| hosts.as_ref().map(Vec::len))
        .unwrap_or(1);
    if let Some(hosts) = &hosts
        && hosts.len() != count
    {
        return Err(format!(
            "{} host names for {count} hostaddr values",
            hosts.len()
        ));
    }
    let ports = match list("port") {
        None => vec![""; count],
        Some(p) if p.len() == 1 => vec![p[0]; count],
        Some(p) if p.len() == count => p,
        Some(p) => return Err(format!("{} ports for {count} hosts", p.len())),
    };
    let mut slots = Vec::with_capacity(count);
    for i in 0..count {
        let port_text = ports[i];
        let port = if port_text.is_empty() {
            5432
        } else {
            parse_port(port_text)?
        };
        let host = hosts.as_ref().map_or("", |h| h[i]);
        let addr = addrs.as_ref().map_or("", |a| a[i]);
        let (host, pgpass_host) = if !addr.is_empty() {
            // libpq connects to hostaddr; the name only serves TLS and .pgpass.
            let ip = addr.parse::<IpAddr>().map_err(|_| {
                format!(
                    "hostaddr `{}` is not a plain IPv4 or IPv6 address",
                    addr.escape_debug()
                )
            })?;
            let pgpass = if host.is_empty() { addr } else { host };
            (Host::Ip(ip), pgpass.to_owned())
        } else if !host.is_empty() {
            (libpq_host(host), host.to_owned())
        } else {
            let dir = default_socket_dir(port)?;
            let text = dir.display().to_string();
            (Host::Socket(dir), text)
        };
        slots.push(Slot {
            endpoint: Endpoint { host, port },
            pgpass_host,
            port_text: if port_text.is_empty() {
                "5432".to_owned()
            } else {
                port_text.to_owned()
            },
        });
    }
    Ok(slots)
}

/// Resolves libpq options into a target: the service file and `PG*` variables when `env` is
/// given (as `conninfo_add_defaults` does), then `connectOptions2`.
pub(super) fn resolve_postgres(
    mut options: Options,
    conn: &str,
    source: &str,
    env: Option<&dyn Env>,
) -> Result<Target, String> {
    if let Some(env) = env {
        // `service=` in the string wins; else PGSERVICE, even when empty (libpq then looks
        // for a service with an empty name, and fails).
        let service = options
            .get("service")
            .cloned()
            .or_else(|| env.var("PGSERVICE"));
        if let Some(service) = service {
            for (key, value) in read_service(&service, env)? {
                options.entry(key).or_insert(value);
            }
        }
        for (key, var) in PG_ENV {
            if !options.contains_key(key)
                && let Some(value) = env.var(var)
            {
                options.insert(key, value);
            }
        }
    } else if options.contains_key("service") {
        return Err("`service=` needs the service file; resolve it with Target::resolve".into());
    }
    let user = match options.get("user").filter(|u| !u.is_empty()) {
        Some(u) => u.clone(),
        None => os_user()?,
    };
    let database = options
        .get("dbname")
        .filter(|d| !d.is_empty())
        .cloned()
        .unwrap_or_else(|| user.clone());
    let slots = slots(&options)?;
    let password = match options.get("password").filter(|p| !p.is_empty()) {
        Some(p) => Some(p.clone()),
        None => env.and_then(|env| {
            let first = slots.first()?;
            let file = match options.get("passfile").filter(|f| !f.is_empty()) {
                Some(f) => PathBuf::from(f),
                None => home_dir(env)?.join(".pgpass"),
            };
            read_pgpass(env, &file, first, &database, &user)
        }),
    };
    Ok(Target {
        kind: TargetKind::Postgres,
        source: source.to_owned(),
        endpoints: slots.into_iter().map(|s| s.endpoint).collect(),
        database: Some(database),
        user: Some(user),
        password: password.map(Secret),
        options: options.get("options").cloned().filter(|o| !o.is_empty()),
        sslmode: options.get("sslmode").cloned(),
        redis_url: None,
        masked: mask(conn),
    })
}

/// libpq's `pwdfMatchesString`: `*` alone matches anything, else an exact, case-sensitive
/// match where `\` escapes the next character. Returns the rest of the line after the field.
fn pgpass_field<'a>(line: &'a str, want: &str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix("*:") {
        return Some(rest);
    }
    let mut want = want.chars();
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        let (c, escaped) = if c == '\\' {
            match chars.next() {
                Some((_, next)) => (next, true),
                None => return None,
            }
        } else {
            (c, false)
        };
        if c == ':' && !escaped {
            return want.next().is_none().then(|| &line[i + 1..]);
        }
        if want.next() != Some(c) {
            return None;
        }
    }
    None
}

/// The password libpq would take from the password file for the first host: the first line
/// whose `host:port:database:user` fields match. A socket in the default directory (or no
/// host) matches `localhost`; a file group or others may read is ignored, as libpq does.
fn read_pgpass(
    env: &dyn Env,
    file: &Path,
    slot: &Slot,
    database: &str,
    user: &str,
) -> Option<String> {
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let text = env.read_file(file)?;
    let default_dir = if Path::new(DEBIAN_SOCKET_DIR).is_dir() {
        DEBIAN_SOCKET_DIR
    } else {
        UPSTREAM_SOCKET_DIR
    };
    let host = if slot.pgpass_host == default_dir {
        "localhost"
    } else {
        slot.pgpass_host.as_str()
    };
    text.split('\n').find_map(|line| {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.starts_with('#') || line.is_empty() {
            return None;
        }
        let rest = pgpass_field(line, host)?;
        let rest = pgpass_field(rest, &slot.port_text)?;
        let rest = pgpass_field(rest, database)?;
        let rest = pgpass_field(rest, user)?;
        let mut password = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ':' => break,
                '\\' if chars.peek().is_some() => password.extend(chars.next()),
                c => password.push(c),
            }
        }
        Some(password)
    })
}

/// Reads the service `name` as libpq does: from `PGSERVICEFILE` (or `~/.pg_service.conf`)
/// first, and only when it does not define the service, from `pg_service.conf` in
/// `PGSYSCONFDIR` (or the built-in system directory).
fn read_service(name: &str, env: &dyn Env) -> Result<Vec<(&'static str, String)>, String> {
    let named = env.var("PGSERVICEFILE");
    let user_file = match &named {
        Some(f) => Some(PathBuf::from(f)),
        None => home_dir(env).map(|h| h.join(".pg_service.conf")),
    };
    let mut looked = Vec::new();
    if let Some(file) = user_file {
        looked.push(file.display().to_string());
        // A file named by PGSERVICEFILE must exist (even when the name is empty); the
        // default ~/.pg_service.conf may be missing.
        if named.is_some() && std::fs::metadata(&file).is_err() {
            return Err(format!(
                "service file `{}` (PGSERVICEFILE) not found",
                file.display()
            ));
        }
        if let Some(text) = env.read_file(&file)
            && let Some(found) = parse_service_file(&text, name, &file)?
        {
            return Ok(found);
        }
    }
    let system: Vec<PathBuf> = match env.var("PGSYSCONFDIR") {
        Some(dir) => vec![PathBuf::from(format!("{dir}/pg_service.conf"))],
        None => SYSCONF_DIRS
            .iter()
            .map(|d| Path::new(d).join("pg_service.conf"))
            .collect(),
    };
    let mut found: Vec<(PathBuf, Vec<(&'static str, String)>)> = Vec::new();
    for file in system {
        looked.push(file.display().to_string());
        if let Some(text) = env.read_file(&file)
            && let Some(pairs) = parse_service_file(&text, name, &file)?
        {
            found.push((file, pairs));
        }
    }
    match found.len() {
        0 => Err(format!(
            "service `{}` not found (looked in {})",
            name.escape_debug(),
            looked.join(", ")
        )),
        1 => Ok(found.remove(0).1),
        _ if found.windows(2).all(|w| w[0].1 == w[1].1) => Ok(found.remove(0).1),
        _ => {
            let files: Vec<String> = found.iter().map(|(f, _)| f.display().to_string()).collect();
            Err(format!(
                "service `{}` is defined differently in {}: which one the client reads depends on how its libpq was built; set PGSYSCONFDIR",
                name.escape_debug(),
                files.join(" and ")
            ))
        }
    }
}

/// libpq's `parseServiceFile`: lines trimmed of ASCII whitespace, `#` comments; the first
/// line `[name]...` (the name exactly, anything after the `]`) opens the section and the
/// next line starting with `[` ends it; inside it every line is `keyword=value` with the
/// keyword exact (no spaces around `=`). `None` when the file does not define the service.
fn parse_service_file(
    text: &str,
    name: &str,
    file: &Path,
) -> Result<Option<Vec<(&'static str, String)>>, String> {
    let mut in_section = false;
    let mut found = false;
    let mut pairs: Vec<(&'static str, String)> = Vec::new();
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let line = raw.trim_matches(is_c_space);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if found {
                break;
            }
            in_section = header
                .strip_prefix(name)
                .is_some_and(|after| after.starts_with(']'));
            found = in_section;
            continue;
        }
        if !in_section {
            continue;
        }
        let syntax = || {
            format!(
                "syntax error in service file {}, line {number}",
                file.display()
            )
        };
        let (key, value) = line.split_once('=').ok_or_else(syntax)?;
        if key == "service" {
            return Err(format!(
                "nested service in service file {}, line {number}",
                file.display()
            ));
        }
        let key = keyword(key).ok_or_else(syntax)?;
        // The first setting of a keyword wins inside a section (libpq never overrides).
        if !pairs.iter().any(|(k, _)| *k == key) {
            pairs.push((key, value.to_owned()));
        }
    }
    Ok(found.then_some(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(conn: &str, env: &[(&str, &str)]) -> Target {
        Target::resolve(conn, "DATABASE_URL", &env).unwrap()
    }

    fn err(conn: &str, env: &[(&str, &str)]) -> String {
        Target::resolve(conn, "DATABASE_URL", &env)
            .unwrap_err()
            .to_string()
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

    /// Regression (issue 9): user info runs to the first `@` before the path, and a `?`
    /// does not end it.
    #[test]
    fn uri_userinfo_ends_at_the_first_at_sign() {
        let t = pg("postgres://localhost?x=@db.prod.example.com/app", &[]);
        assert_eq!(t.id(), "postgres://db.prod.example.com:5432/app");
        assert_eq!(t.user.as_deref(), Some("localhost?x="));
        let t = pg("postgres://u@localhost,x@db.prod.example.com/app", &[]);
        assert_eq!(t.user.as_deref(), Some("u"));
        // libpq takes `localhost,x@db.prod.example.com` as hosts after the first `@`.
        assert_eq!(
            t.id(),
            "postgres://localhost:5432,x@db.prod.example.com:5432/app"
        );
        // `%2C` in a host is decoded before the split, so it separates hosts.
        let t = pg("postgres://a%2Cb/db", &[]);
        assert_eq!(t.endpoints().len(), 2);
    }

    /// Regression (issue 9): an empty URI host leaves PGHOST in force.
    #[test]
    fn empty_uri_host_takes_pghost() {
        let env = [("PGHOST", "db.prod.example.com")];
        let t = pg("postgres://app:pw@:5432/app", &env);
        assert_eq!(t.id(), "postgres://db.prod.example.com:5432/app");
        // An explicitly empty `host=` is a value: PGHOST is not read, the socket is used.
        let t = pg("postgres://app@/app?host=", &env);
        assert!(matches!(t.endpoints()[0].host, Host::Socket(_)));
    }

    /// Regression (issue 9): only ASCII whitespace separates keyword/value pairs.
    #[test]
    fn keyword_strings_split_on_ascii_whitespace_only() {
        let t = pg(
            "host=localhost\u{a0}host=db.prod.example.com dbname=app",
            &[],
        );
        assert_eq!(
            t.endpoints()[0].host,
            Host::Name("localhost\u{a0}host=db.prod.example.com".into())
        );
        assert!(!t.endpoints()[0].host.is_local());
        let t = pg("host=a\u{0B}dbname=b", &[]);
        assert_eq!(t.database(), Some("b"));
    }

    /// Regression (issue 9): the default user comes from the OS, never from `$USER`.
    #[test]
    fn default_user_is_the_os_user() {
        let me = os_user().unwrap();
        let t = pg(
            "postgres://db.prod.example.com",
            &[("USER", "app_test"), ("LOGNAME", "app_test")],
        );
        assert_eq!(t.user.as_deref(), Some(me.as_str()));
        assert_eq!(t.database(), Some(me.as_str()));
    }

    /// Regression (issue 9): what libpq rejects is rejected, what it accepts is accepted.
    #[test]
    fn rejects_and_accepts_like_libpq() {
        for bad in [
            "HOST=localhost dbname=x",
            "hots=localhost",
            "postgres://h/db?HOST=x",
            "postgres://h/%zz",
            "postgres://h/a%00b",
            "postgres://[]/db",
            "POSTGRES://h/db",
            " postgres://h/db",
            "postgres://h/db?a",
            "postgres://h/db?host=a=b",
        ] {
            assert!(Target::resolve(bad, "X", &[].as_slice()).is_err(), "{bad}");
        }
        assert!(err("postgres://h/db", &[("PGSERVICE", "")]).contains("service ``"));
        let t = pg("postgres://h:%35%34%33%33/db", &[]);
        assert_eq!(t.endpoints()[0].port, 5433);
        let t = pg("host=h options=-c\\ search_path=a://b dbname=x", &[]);
        assert_eq!(t.options.as_deref(), Some("-c search_path=a://b"));
        let t = pg("postgres://h/db?ssl=true", &[]);
        assert_eq!(t.sslmode.as_deref(), Some("require"));
        // Set but empty variables count as set: PGHOST="" is the local socket.
        let t = pg("dbname=x", &[("PGHOST", "")]);
        assert!(matches!(t.endpoints()[0].host, Host::Socket(_)));
    }

    #[test]
    fn libpq_environment_fills_the_gaps() {
        // The HN incident: a tunnel script exported PGHOST, the URL named no host.
        let env = [("PGHOST", "prod.internal"), ("PGPORT", "6432")];
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
        // Lists are not trimmed: ` h2` is a host name with a space.
        let t = pg("postgres://h1,%20h2/x", &[]);
        assert_eq!(t.endpoints()[1].host, Host::Name(" h2".into()));
        assert!(err("host=a,b port=1,2,3", &[]).contains("3 ports for 2 hosts"));
        assert!(err("host=a,b hostaddr=127.0.0.1", &[]).contains("2 host names"));
    }

    /// Regression (issue 9): the first section named exactly `[name]` (anything may follow
    /// the `]`), ended by the next line starting with `[`; `key = value` is an error.
    #[test]
    fn service_file_sections_follow_libpq() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("svc.conf");
        std::fs::write(
            &file,
            "# c\n[other]\nhost=x\n[ prod]\nhost=wrong\n[prod] # comment\nhost=db.prod\nport=5433\n[prod]\nhost=second\ndbname=second\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let env = [
            ("PGSERVICEFILE", file),
            ("PGSERVICE", "prod"),
            ("PGHOST", "ignored"),
            ("PGSYSCONFDIR", "/nonexistent"),
        ];
        let t = pg("dbname=override", &env);
        assert_eq!(t.id(), "postgres://db.prod:5433/override");
        let t = pg("user=u", &env);
        assert_eq!(t.database(), Some("u"), "the second [prod] is not read");
        let e = err(
            "service=missing",
            &[("PGSERVICEFILE", file), ("PGSYSCONFDIR", "/nonexistent")],
        );
        assert!(e.contains("service `missing` not found"), "{e}");
        std::fs::write(dir.path().join("spaced.conf"), "[s]\nhost = db\n").unwrap();
        let spaced = dir.path().join("spaced.conf");
        let e = err("service=s", &[("PGSERVICEFILE", spaced.to_str().unwrap())]);
        assert!(e.contains("syntax error"), "{e}");
        // An empty PGSERVICEFILE is the path "": the home file is not read.
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".pg_service.conf"), "[s]\nhost=db\n").unwrap();
        let home = home.path().to_str().unwrap();
        let e = err(
            "service=s",
            &[
                ("HOME", home),
                ("PGSERVICEFILE", ""),
                ("PGSYSCONFDIR", "/nonexistent"),
            ],
        );
        assert!(e.contains("not found"), "{e}");
        let t = pg(
            "service=s",
            &[("HOME", home), ("PGSYSCONFDIR", "/nonexistent")],
        );
        assert_eq!(t.endpoints()[0].host, Host::Name("db".into()));
    }

    #[test]
    fn pgpass_supplies_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\n #x:*:*:*:no\nother:*:*:*:nope\n127.0.0.1:5433:*:app:pa\\:ss:extra\n*:*:*:*:fallback\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let path = file.to_str().unwrap();
        let env = [("PGPASSFILE", path)];
        let t = pg("postgres://app@127.0.0.1:5433/x", &env);
        assert_eq!(t.password, Some(Secret("pa:ss".into())));
        let t = pg("postgres://bob@127.0.0.1:5433/x", &env);
        assert_eq!(t.password, Some(Secret("fallback".into())));
        let t = pg("postgres://app:given@127.0.0.1:5433/x", &env);
        assert_eq!(t.password, Some(Secret("given".into())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let t = pg("postgres://bob@127.0.0.1:5433/x", &env);
            assert_eq!(t.password, None, "a readable password file is ignored");
        }
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
