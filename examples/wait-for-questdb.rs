//! `wait-for-questdb`: wait until QuestDB is ready, step by step, or probe it once as a
//! container HEALTHCHECK (the QuestDB image has no curl or wget).
//!
//! ```text
//! cargo run --example wait-for-questdb -- --host qdb --ping -- ./ingest
//! HEALTHCHECK CMD ["/wait-for-questdb", "--once"]
//! ```
//!
//! The ladder, and what each step proves on current QuestDB releases:
//!
//! - `min-health` (`:9003`) answers `200 Status: Healthy`: the QuestDB process is up. Not
//!   more: the min server starts first and answers while the engine is still starting.
//!   With `QDB_HTTP_USER` set, QuestDB requires its Basic credentials here (`401` without).
//! - `pg-wire` (`:8812`) logs in with a cleartext password and answers `SELECT 1`: the
//!   engine is up (QuestDB accepts on this port only once it has started).
//! - with `--ping`, `:9000/ping` answers `204`: the HTTP server (REST, console, ILP over
//!   HTTP) accepts. There is no ILP/TCP step: ILP/TCP never answers and its port is bound
//!   before QuestDB accepts on it, so a connect there proves nothing.
//!
//! Every step closes its own connection (QuestDB keeps connections open until the client
//! closes them, and limits how many it accepts).
//!
//! ## Settings
//!
//! Flags win over the environment. QuestDB's own variables are read with their QuestDB
//! meaning, so a HEALTHCHECK inside the QuestDB container needs no extra setting:
//!
//! | what | flag | environment, first set wins | default |
//! |---|---|---|---|
//! | host | `--host` | `WAIT_QDB_HOST` | `localhost` |
//! | min-health port | `--health-port` | `WAIT_QDB_HEALTH_PORT`, `QDB_HTTP_MIN_NET_BIND_TO`, `QDB_HTTP_MIN_BIND_TO` | 9003 |
//! | PG wire port | `--pg-port` | `WAIT_QDB_PG_PORT`, `QDB_PG_NET_BIND_TO` | 8812 |
//! | HTTP port (`--ping`) | `--http-port` | `WAIT_QDB_HTTP_PORT`, `QDB_HTTP_NET_BIND_TO`, `QDB_HTTP_BIND_TO` | 9000 |
//! | PG user | `--user` | `QDB_PG_USER` | `admin` |
//! | PG password | `--password-file`, `--password` | `QDB_PG_PASSWORD_FILE`, `QDB_PG_PASSWORD` | `quest` |
//! | HTTP user | `--http-user` | `QDB_HTTP_USER` | none (no authentication) |
//! | HTTP password | `--http-password-file`, `--http-password` | `QDB_HTTP_PASSWORD_FILE`, `QDB_HTTP_PASSWORD` | required with a user |
//! | database | `--database` | `WAIT_QDB_DATABASE` | `qdb` (QuestDB accepts any name) |
//! | `/ping` step | `--ping` | `WAIT_QDB_PING` | off |
//!
//! A `*_NET_BIND_TO` value is QuestDB's `IPv4:port`; only its port is used (the address is
//! where QuestDB listens, not how this probe reaches it). A `*_FILE` secret is read as
//! QuestDB reads it: at most 64 KiB of UTF-8, surrounding whitespace trimmed. Secrets are
//! never printed.
//!
//! The names this example used to read in QuestDB's namespace (`QDB_HOST`,
//! `QDB_HEALTH_PORT`, `QDB_PG_PORT`, `QDB_HTTP_PORT`, `QDB_PG_DATABASE`, `QDB_PING`) are
//! not QuestDB settings, and a compose file that sets `QDB_PG_PORT` expecting QuestDB to
//! move points the probe at a port QuestDB does not use. They still work in this release,
//! after every other source, each with a deprecation line; `QDB_ILP`/`QDB_ILP_PORT` and
//! `--ilp` are accepted and ignored, with a line saying so.
//!
//! `--once` makes a single attempt bounded by `--probe-timeout` and exits `0` (healthy) or
//! `1` (not), as Docker expects. Otherwise the exit codes are `wait-for`'s: `0`, `124`
//! deadline passed, `1` unhealthy, `2` usage error (a bad setting or unreadable secret
//! file included).

mod cli_io;
mod readiness_cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use preflight_readiness::{QuestDbProbe, Target};

use readiness_cli::{Output, PolicyArgs};

const PROGRAM: &str = "wait-for-questdb";

/// QuestDB's limit on a secret file.
const MAX_SECRET_FILE: u64 = 64 * 1024;

#[derive(Parser, Debug)]
#[command(
    name = "wait-for-questdb",
    version,
    about = "Wait until QuestDB is ready (min-health, PG wire SELECT 1, optionally /ping), or probe once as a HEALTHCHECK",
    after_help = "Settings also come from WAIT_QDB_* variables and from QuestDB's own QDB_* variables (QDB_PG_USER, QDB_PG_PASSWORD[_FILE], QDB_HTTP_USER, QDB_HTTP_PASSWORD[_FILE], QDB_*_NET_BIND_TO); see the example's docs.\n\nExit codes: 0 ready (or the command's own), 124 deadline passed, 1 unhealthy (with --once: not healthy), 2 usage error."
)]
struct Cli {
    /// QuestDB host [env: WAIT_QDB_HOST] [default: localhost]
    #[arg(long)]
    host: Option<String>,
    /// Min-health HTTP port [env: WAIT_QDB_HEALTH_PORT, QDB_HTTP_MIN_NET_BIND_TO] [default: 9003]
    #[arg(long)]
    health_port: Option<u16>,
    /// PostgreSQL wire port [env: WAIT_QDB_PG_PORT, QDB_PG_NET_BIND_TO] [default: 8812]
    #[arg(long)]
    pg_port: Option<u16>,
    /// PG wire user.
    #[arg(long, env = "QDB_PG_USER", default_value = "admin")]
    user: String,
    /// PG wire password [env: QDB_PG_PASSWORD] [default: quest]
    #[arg(long)]
    password: Option<String>,
    /// File holding the PG wire password; wins over --password [env: QDB_PG_PASSWORD_FILE]
    #[arg(long, value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// PG wire database [env: WAIT_QDB_DATABASE] [default: qdb]
    #[arg(long)]
    database: Option<String>,
    /// HTTP Basic user for the min-health step (QuestDB's http.user) [env: QDB_HTTP_USER]
    #[arg(long)]
    http_user: Option<String>,
    /// HTTP Basic password [env: QDB_HTTP_PASSWORD]
    #[arg(long)]
    http_password: Option<String>,
    /// File holding the HTTP password; wins over --http-password [env: QDB_HTTP_PASSWORD_FILE]
    #[arg(long, value_name = "PATH")]
    http_password_file: Option<PathBuf>,
    /// Also require `GET /ping` → 204 on the HTTP port [env: WAIT_QDB_PING]
    #[arg(long)]
    ping: bool,
    /// HTTP port (for --ping) [env: WAIT_QDB_HTTP_PORT, QDB_HTTP_NET_BIND_TO] [default: 9000]
    #[arg(long)]
    http_port: Option<u16>,
    /// Deprecated and ignored: the ILP/TCP step was removed.
    #[arg(long, hide = true)]
    ilp: bool,
    /// Deprecated and ignored: the ILP/TCP step was removed.
    #[arg(long, hide = true)]
    ilp_port: Option<u16>,

    #[command(flatten)]
    policy: PolicyArgs,

    /// Command to exec once QuestDB is ready.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
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
struct Settings {
    host: String,
    health_port: u16,
    pg_port: u16,
    password: String,
    database: String,
    http_auth: Option<(String, String)>,
    ping: Option<u16>,
    notes: Vec<String>,
}

impl Cli {
    fn settings(&self) -> Result<Settings, String> {
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
        Ok(Settings {
            host,
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
    fn target(&self, user: &str) -> preflight_readiness::Result<Target> {
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

fn usage_error(output: Output, message: &str) -> ExitCode {
    if output == Output::Json {
        readiness_cli::json_line(&serde_json::json!({ "event": "usage", "error": message }));
    }
    eprintln!("{PROGRAM}: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    cli_io::init_tracing();
    let cli = Cli::parse();
    let output = Output::from_args(&cli.policy);
    let settings = match cli.settings() {
        Ok(settings) => settings,
        Err(message) => return usage_error(output, &message),
    };
    if output != Output::Quiet {
        for note in &settings.notes {
            eprintln!("{PROGRAM}: {note}");
        }
    }
    let target = match settings.target(&cli.user) {
        Ok(target) => target,
        Err(err) => return readiness_cli::fail(PROGRAM, output, &err),
    };
    match cli.policy.policy() {
        Ok(policy) => readiness_cli::run(PROGRAM, vec![target], &policy, output, &cli.command),
        Err(err) => readiness_cli::fail(PROGRAM, output, &err),
    }
}
