//! `wait-for-questdb`: wait until QuestDB is ready, step by step, or probe it once as a
//! container HEALTHCHECK (the QuestDB image has no curl or wget).
//!
//! ```text
//! cargo run --example wait-for-questdb -- --host qdb --ping --ilp -- ./ingest
//! HEALTHCHECK CMD ["/wait-for-questdb", "--once"]
//! ```
//!
//! The ladder: min-health `:9003` answers `200` with `Status: Healthy`; PG wire `:8812`
//! answers `SELECT 1` as `admin`/`quest` on `qdb`; with `--ping`, `:9000/ping` answers
//! `204`; with `--ilp`, `:9009` accepts TCP. Each step is reported as it passes; every
//! connection is closed (the min server allows only 4). Host, ports and credentials come
//! from flags or `QDB_*` variables (`QDB_PG_USER` and `QDB_PG_PASSWORD` are the names
//! QuestDB itself reads); policy flags from `WAIT_*`.
//!
//! `--once` makes a single attempt bounded by `--probe-timeout` and exits `0` (healthy) or
//! `1` (not), as Docker expects. Otherwise the exit codes are `wait-for`'s: `0`, `124`
//! deadline passed, `1` unhealthy, `2` usage error.

mod readiness_cli;

use clap::Parser;
use preflight_readiness::{QuestDbProbe, Target};

use readiness_cli::{Output, PolicyArgs};

const PROGRAM: &str = "wait-for-questdb";

#[derive(Parser, Debug)]
#[command(
    name = "wait-for-questdb",
    version,
    about = "Wait until QuestDB is ready (min-health, PG wire, optionally /ping and ILP), or probe once as a HEALTHCHECK",
    after_help = "Exit codes: 0 ready (or the command's own), 124 deadline passed, 1 unhealthy (with --once: not healthy), 2 usage error."
)]
struct Cli {
    /// QuestDB host.
    #[arg(long, env = "QDB_HOST", default_value = "localhost")]
    host: String,
    /// Min-health HTTP port.
    #[arg(long, env = "QDB_HEALTH_PORT", default_value_t = 9003)]
    health_port: u16,
    /// PostgreSQL wire port.
    #[arg(long, env = "QDB_PG_PORT", default_value_t = 8812)]
    pg_port: u16,
    /// PG wire user.
    #[arg(long, env = "QDB_PG_USER", default_value = "admin")]
    user: String,
    /// PG wire password.
    #[arg(
        long,
        env = "QDB_PG_PASSWORD",
        default_value = "quest",
        hide_default_value = true,
        hide_env_values = true
    )]
    password: String,
    /// PG wire database.
    #[arg(long, env = "QDB_PG_DATABASE", default_value = "qdb")]
    database: String,
    /// Also require `GET /ping` → 204 on the HTTP port.
    #[arg(long, env = "QDB_PING")]
    ping: bool,
    /// HTTP port (for --ping).
    #[arg(long, env = "QDB_HTTP_PORT", default_value_t = 9000)]
    http_port: u16,
    /// Also require the ILP/TCP port to accept a connection.
    #[arg(long, env = "QDB_ILP")]
    ilp: bool,
    /// ILP/TCP port (for --ilp).
    #[arg(long, env = "QDB_ILP_PORT", default_value_t = 9009)]
    ilp_port: u16,
    #[command(flatten)]
    policy: PolicyArgs,

    /// Command to exec once QuestDB is ready.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

impl Cli {
    fn target(&self) -> preflight_readiness::Result<Target> {
        let mut builder = QuestDbProbe::builder(self.host.clone())
            .health_port(self.health_port)
            .pg_port(self.pg_port)
            .user(self.user.clone())
            .password(self.password.clone())
            .database(self.database.clone());
        let mut name = format!(
            "questdb://{}:***@{}?health_port={}&pg_port={}&database={}",
            self.user, self.host, self.health_port, self.pg_port, self.database
        );
        if self.ping {
            builder = builder.ping_port(self.http_port);
            name.push_str(&format!("&ping={}", self.http_port));
        }
        if self.ilp {
            builder = builder.ilp_port(self.ilp_port);
            name.push_str(&format!("&ilp={}", self.ilp_port));
        }
        Ok(Target::new(name, builder.build()?))
    }
}

fn main() {
    let cli = Cli::parse();
    let output = Output::from_args(&cli.policy);
    let target = cli
        .target()
        .unwrap_or_else(|err| readiness_cli::fail(PROGRAM, output, &err));
    let policy = cli
        .policy
        .policy()
        .unwrap_or_else(|err| readiness_cli::fail(PROGRAM, output, &err));
    readiness_cli::run(PROGRAM, vec![target], &policy, output, &cli.command);
}
