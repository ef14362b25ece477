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
mod questdb_cli;
mod readiness_cli;

use std::process::ExitCode;

use clap::Parser;

use questdb_cli::QuestDbArgs;
use readiness_cli::{Output, PolicyArgs};

const PROGRAM: &str = "wait-for-questdb";

#[derive(Parser, Debug)]
#[command(
    name = "wait-for-questdb",
    version,
    about = "Wait until QuestDB is ready (min-health, PG wire SELECT 1, optionally /ping), or probe once as a HEALTHCHECK",
    after_help = "Settings also come from WAIT_QDB_* variables and from QuestDB's own QDB_* variables (QDB_PG_USER, QDB_PG_PASSWORD[_FILE], QDB_HTTP_USER, QDB_HTTP_PASSWORD[_FILE], QDB_*_NET_BIND_TO); see the example's docs.\n\nExit codes: 0 ready (or the command's own), 124 deadline passed, 1 unhealthy (with --once: not healthy), 2 usage error."
)]
struct Cli {
    #[command(flatten)]
    questdb: QuestDbArgs,

    #[command(flatten)]
    policy: PolicyArgs,

    /// Command to exec once QuestDB is ready.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
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
    let settings = match cli.questdb.settings() {
        Ok(settings) => settings,
        Err(message) => return usage_error(output, &message),
    };
    if output != Output::Quiet {
        for note in &settings.notes {
            eprintln!("{PROGRAM}: {note}");
        }
    }
    let target = match settings.target() {
        Ok(target) => target,
        Err(err) => return readiness_cli::fail(PROGRAM, output, &err),
    };
    match cli.policy.policy() {
        Ok(policy) => readiness_cli::run(PROGRAM, vec![target], &policy, output, &cli.command),
        Err(err) => readiness_cli::fail(PROGRAM, output, &err),
    }
}
