//! QuestDB's settings as `wait-for-questdb` and `preflight check` read them: flags, this
//! example's `WAIT_QDB_*` variables and QuestDB's own `QDB_*` variables (`*_FILE` secrets
//! and `*_NET_BIND_TO` ports included), never printing a secret. See `wait-for-questdb`'s
//! docs for the table of sources.

use std::path::{Path, PathBuf};

use preflight_readiness::{QuestDbProbe, Target};

/// QuestDB's limit on a secret file.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// QuestDB flags (every one also read from the environment, see the example's docs).
#[derive(clap::Args, Debug, Default)]
#[group(id = "questdb")]
pub(crate) struct QuestDbArgs {
    /// QuestDB host [env: WAIT_QDB_HOST] [default: localhost]
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Min-health HTTP port [env: WAIT_QDB_HEALTH_PORT, QDB_HTTP_MIN_NET_BIND_TO] [default: 9003]
    #[arg(long)]
    pub(crate) health_port: Option<u16>,
    /// PostgreSQL wire port [env: WAIT_QDB_PG_PORT, QDB_PG_NET_BIND_TO] [default: 8812]
    #[arg(long)]
    pub(crate) pg_port: Option<u16>,
    /// PG wire user [env: QDB_PG_USER] [default: admin]
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// PG wire password [env: QDB_PG_PASSWORD] [default: quest]
    #[arg(long)]
    pub(crate) password: Option<String>,
    /// File holding the PG wire password; wins over --password [env: QDB_PG_PASSWORD_FILE]
    #[arg(long, value_name = "PATH")]
    pub(crate) password_file: Option<PathBuf>,
    /// PG wire database [env: WAIT_QDB_DATABASE] [default: qdb]
    #[arg(long)]
    pub(crate) database: Option<String>,
    /// HTTP Basic user for the min-health step (QuestDB's http.user) [env: QDB_HTTP_USER]
    #[arg(long)]
    pub(crate) http_user: Option<String>,
    /// HTTP Basic password [env: QDB_HTTP_PASSWORD]
    #[arg(long)]
    pub(crate) http_password: Option<String>,
    /// File holding the HTTP password; wins over --http-password [env: QDB_HTTP_PASSWORD_FILE]
    #[arg(long, value_name = "PATH")]
    pub(crate) http_password_file: Option<PathBuf>,
    /// Also require `GET /ping` → 204 on the HTTP port [env: WAIT_QDB_PING]
    #[arg(long)]
    pub(crate) ping: bool,
    /// HTTP port (for --ping) [env: WAIT_QDB_HTTP_PORT, QDB_HTTP_NET_BIND_TO] [default: 9000]
    #[arg(long)]
    pub(crate) http_port: Option<u16>,
    /// Deprecated and ignored: the ILP/TCP step was removed.
    #[arg(long, hide = true)]
    pub(crate) ilp: bool,
    /// Deprecated and ignored: the ILP/TCP step was removed.
    #[arg(long, hide = true)]
    pub(crate) ilp_port: Option<u16>,
}

/// Reads the environment, collecting deprecation notes on the way.
struct Env {
    notes: Vec<String>,
}

impl Env {
    fn get(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    /// An old name of this example's, honoured after every other source.
    fn deprecated(&mut self, old: &str, new: &str) -> Option<String> {
        let value = Self::get(old)?;
        self.notes.push(format!(
            "{old} is deprecated (it is not a QuestDB setting) and will be ignored in the next release: use {new}"
        ));
        Some(value)
    }

    fn port(name: &str, value: &str) -> Result<u16, String> {
        match value.trim().parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(format!("{name}: `{value}` is not a port from 1 to 65535")),
        }
    }

    /// The port of QuestDB's `IPv4:port` bind setting.
    fn bind_port(name: &str, value: &str) -> Result<u16, String> {
        let (_, port) = value
            .rsplit_once(':')
            .ok_or_else(|| format!("{name}: `{value}` is not QuestDB's `IPv4:port`"))?;
        Self::port(name, port)
    }

    /// flag, then `WAIT_QDB_*`, then QuestDB's bind settings, then the old name.
    fn resolve_port(
        &mut self,
        flag: Option<u16>,
        ours: &str,
        questdb: &[&str],
        old: &str,
        default: u16,
    ) -> Result<u16, String> {
        if let Some(port) = flag {
            return Ok(port);
        }
        if let Some(value) = Self::get(ours) {
            return Self::port(ours, &value);
        }
        for name in questdb {
            if let Some(value) = Self::get(name) {
                return Self::bind_port(name, &value);
            }
        }
        match self.deprecated(old, ours) {
            Some(value) => Self::port(old, &value),
            None => Ok(default),
        }
    }

    /// flags (the file wins), then `<VAR>_FILE`, then `<VAR>`, as QuestDB reads them.
    fn secret(
        flag_file: Option<&Path>,
        flag: Option<&str>,
        var: &str,
    ) -> Result<Option<String>, String> {
        if let Some(path) = flag_file {
            return read_secret(&format!("--{}-file", flag_name(var)), path).map(Some);
        }
        if let Some(value) = flag {
            return Ok(Some(value.to_owned()));
        }
        let file_var = format!("{var}_FILE");
        if let Some(path) = Self::get(&file_var) {
            return read_secret(&file_var, Path::new(&path)).map(Some);
        }
        Ok(Self::get(var))
    }
}

fn flag_name(var: &str) -> &'static str {
    if var == "QDB_HTTP_PASSWORD" {
        "http-password"
    } else {
        "password"
    }
}

/// A secret file as QuestDB reads one: a regular file of at most 64 KiB of UTF-8, trimmed.
/// Errors name the setting and the path, never the content.
fn read_secret(setting: &str, path: &Path) -> Result<String, String> {
    let fail = |why: String| {
        format!(
            "{setting}: cannot use {} as a secret: {why}",
            path.display()
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".to_owned()));
    }
    if meta.len() > MAX_SECRET_FILE {
        return Err(fail("larger than 64 KiB".to_owned()));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| fail("not UTF-8".to_owned()))?;
    Ok(text.trim().to_owned())
}

/// The resolved settings.
pub(crate) struct Settings {
    pub(crate) host: String,
    user: String,
    health_port: u16,
    pg_port: u16,
    password: String,
    database: String,
    http_auth: Option<(String, String)>,
    ping: Option<u16>,
    /// Deprecation lines to print.
    pub(crate) notes: Vec<String>,
}

impl QuestDbArgs {
    /// The settings these flags and the environment describe (flags win).
    pub(crate) fn settings(&self) -> Result<Settings, String> {
        self.settings_inner()
    }

    fn settings_inner(&self) -> Result<Settings, String> {
        let mut env = Env { notes: Vec::new() };
        let host = match self.host.clone().or_else(|| Env::get("WAIT_QDB_HOST")) {
            Some(host) => host,
            None => env
                .deprecated("QDB_HOST", "WAIT_QDB_HOST")
                .unwrap_or_else(|| "localhost".to_owned()),
        };
        let health_port = env.resolve_port(
            self.health_port,
            "WAIT_QDB_HEALTH_PORT",
            &["QDB_HTTP_MIN_NET_BIND_TO", "QDB_HTTP_MIN_BIND_TO"],
            "QDB_HEALTH_PORT",
            9003,
        )?;
        let pg_port = env.resolve_port(
            self.pg_port,
            "WAIT_QDB_PG_PORT",
            &["QDB_PG_NET_BIND_TO"],
            "QDB_PG_PORT",
            8812,
        )?;
        let database = match self
            .database
            .clone()
            .or_else(|| Env::get("WAIT_QDB_DATABASE"))
        {
            Some(database) => database,
            None => env
                .deprecated("QDB_PG_DATABASE", "WAIT_QDB_DATABASE")
                .unwrap_or_else(|| "qdb".to_owned()),
        };
        let password = Env::secret(
            self.password_file.as_deref(),
            self.password.as_deref(),
            "QDB_PG_PASSWORD",
        )?
        .unwrap_or_else(|| "quest".to_owned());
        let http_user = self.http_user.clone().or_else(|| Env::get("QDB_HTTP_USER"));
        let http_auth = match http_user {
            None => None,
            Some(user) => {
                let password = Env::secret(
                    self.http_password_file.as_deref(),
                    self.http_password.as_deref(),
                    "QDB_HTTP_PASSWORD",
                )?
                .ok_or_else(|| {
                    format!(
                        "HTTP user `{user}` is set but no password: set QDB_HTTP_PASSWORD_FILE, \
                         QDB_HTTP_PASSWORD or --http-password[-file] (QuestDB itself refuses \
                         to start so)"
                    )
                })?;
                Some((user, password))
            }
        };
        let ping = self.ping
            || Env::get("WAIT_QDB_PING").is_some_and(|v| truthy(&v))
            || env
                .deprecated("QDB_PING", "WAIT_QDB_PING")
                .is_some_and(|v| truthy(&v));
        let http_port = env.resolve_port(
            self.http_port,
            "WAIT_QDB_HTTP_PORT",
            &["QDB_HTTP_NET_BIND_TO", "QDB_HTTP_BIND_TO"],
            "QDB_HTTP_PORT",
            9000,
        )?;
        for old in ["QDB_ILP", "QDB_ILP_PORT"] {
            if Env::get(old).is_some() {
                env.notes.push(format!(
                    "{old} is ignored: the ILP/TCP step was removed (a connect proved only that \
                     the port was bound); use --ping"
                ));
            }
        }
        if self.ilp || self.ilp_port.is_some() {
            env.notes.push(
                "--ilp/--ilp-port are ignored: the ILP/TCP step was removed (a connect proved \
                 only that the port was bound); use --ping"
                    .to_owned(),
            );
        }
        let user = self
            .user
            .clone()
            .or_else(|| Env::get("QDB_PG_USER"))
            .unwrap_or_else(|| "admin".to_owned());
        Ok(Settings {
            host,
            user,
            health_port,
            pg_port,
            password,
            database,
            http_auth,
            ping: ping.then_some(http_port),
            notes: env.notes,
        })
    }
}

/// clap's reading of a boolean variable: anything but an empty value, `0`, `false`,
/// `no`, `off`.
fn truthy(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "no" | "off" | "n" | "f"
    )
}

impl Settings {
    /// The QuestDB ladder target these settings describe (its name masks the password).
    pub(crate) fn target(&self) -> preflight_readiness::Result<Target> {
        let user = self.user.as_str();
        let mut builder = QuestDbProbe::builder(self.host.clone())
            .health_port(self.health_port)
            .pg_port(self.pg_port)
            .user(user)
            .password(self.password.clone())
            .database(self.database.clone());
        let mut name = format!(
            "questdb://{user}:***@{}?health_port={}&pg_port={}&database={}",
            self.host, self.health_port, self.pg_port, self.database
        );
        if let Some((http_user, http_password)) = &self.http_auth {
            builder = builder.http_auth(http_user.clone(), http_password.clone());
            name.push_str(&format!("&http_user={http_user}"));
        }
        if let Some(port) = self.ping {
            builder = builder.ping_port(port);
            name.push_str(&format!("&ping={port}"));
        }
        Ok(Target::new(name, builder.build()?))
    }
}
