//! What `guard` and `manage` share: the policy flags (with `GUARD_*` env fallbacks) and the
//! exit codes. With no flags, the policy is the original project's: `TESTING_IN_DOCKER`
//! must be set; `DATABASE_URL` (required) and `REDIS_URL` (when set) must point at a
//! loopback host or a test-named database, and must not carry a production marker, asked
//! live. Anything else is refused.
//!
//! Exit codes: `0` cleared, `1` refused (or a marker operation failed), `2` usage or
//! configuration error.

use preflight_test_guard::{
    CONFIG_ERROR_EXIT_CODE, Client, DEFAULT_MARKER_SETTING, DEFAULT_MARKER_TIMEOUT,
    DEFAULT_REDIS_MARKER_KEY, Guard, GuardBuilder, ProcessEnv, REFUSED_EXIT_CODE, Target,
};

use crate::cli_io::DurationArg;

/// Cleared.
pub(crate) const CLEARED: u8 = 0;
/// Refused, or a marker operation failed: the library's code (it fits in a byte).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "REFUSED_EXIT_CODE is 1"
)]
pub(crate) const REFUSED: u8 = REFUSED_EXIT_CODE as u8;
/// Usage or configuration error: the library's code, as clap's (it fits in a byte).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "CONFIG_ERROR_EXIT_CODE is 2"
)]
pub(crate) const USAGE: u8 = CONFIG_ERROR_EXIT_CODE as u8;

/// Parses `5`, `5s`, `500ms` by the library's rule for clap.
fn duration(text: &str) -> preflight_test_guard::Result<DurationArg> {
    preflight_test_guard::parse_duration(text).map(DurationArg)
}

fn client(text: &str) -> Result<Client, String> {
    match text {
        "libpq" => Ok(Client::Libpq),
        "tokio-postgres" => Ok(Client::TokioPostgres),
        other => Err(format!(
            "unknown client `{other}` (expected libpq or tokio-postgres)"
        )),
    }
}

/// How PostgreSQL connection strings are resolved: shared by `check` and by
/// `show` / `mark` / `unmark`, so they judge and touch the same server.
#[derive(clap::Args, Debug)]
pub(crate) struct ResolveArgs {
    /// Whose rules resolve PostgreSQL strings: `libpq` (psql, psycopg, Django: reads the
    /// service file, .pgpass and PG* variables) or `tokio-postgres` (reads no variables).
    #[arg(long, env = "GUARD_CLIENT", value_parser = client, default_value = "libpq")]
    pub(crate) client: Client,
    /// Ignore PGHOST, PGPORT, PGDATABASE, PGSERVICE...
    #[arg(long, env = "GUARD_NO_LIBPQ_ENV")]
    pub(crate) no_libpq_env: bool,
}

impl ResolveArgs {
    fn apply(&self, b: GuardBuilder) -> GuardBuilder {
        b.client(self.client).libpq_env(!self.no_libpq_env)
    }

    /// Resolves `conn` exactly as `check` does.
    #[allow(dead_code, reason = "used by `guard`, not by `manage`")]
    pub(crate) fn resolve(&self, conn: &str) -> preflight_test_guard::Result<Target> {
        let empty: &[(&str, &str)] = &[];
        match (self.no_libpq_env, self.client) {
            (true, Client::Libpq) => Target::parse(conn),
            (true, client) => Target::resolve_for(client, conn, "argument", &empty),
            (false, client) => {
                Target::resolve_for(client, conn, "argument", &ProcessEnv::default())
            }
        }
    }
}

/// Where markers live and how long to wait for them.
#[derive(clap::Args, Debug)]
pub(crate) struct MarkerArgs {
    /// PostgreSQL database-level setting holding the marker.
    #[arg(long, env = "GUARD_MARKER_SETTING", default_value = DEFAULT_MARKER_SETTING)]
    pub(crate) marker_setting: String,
    /// Redis key holding the marker.
    #[arg(long, env = "GUARD_REDIS_KEY", default_value = DEFAULT_REDIS_MARKER_KEY)]
    pub(crate) redis_key: String,
    /// Also read a marker row from this table (`key`/`value` columns, key `environment`).
    #[arg(long, env = "GUARD_MARKER_TABLE")]
    pub(crate) marker_table: Option<String>,
    /// Deadline for reading markers (`5` seconds, `5s`, `500ms`).
    #[arg(long, env = "GUARD_MARKER_TIMEOUT", value_parser = duration, default_value_t = DurationArg(DEFAULT_MARKER_TIMEOUT))]
    pub(crate) marker_timeout: DurationArg,
}

impl MarkerArgs {
    fn apply(&self, mut b: GuardBuilder) -> GuardBuilder {
        b = b
            .marker_setting(&self.marker_setting)
            .redis_marker_key(&self.redis_key)
            .marker_timeout(self.marker_timeout.0);
        if let Some(table) = &self.marker_table {
            b = b.marker_table(table);
        }
        b
    }

    /// A guard that only knows where markers live (for mark / unmark / show).
    #[allow(dead_code, reason = "used by `guard`, not by `manage`")]
    pub(crate) fn guard(&self) -> preflight_test_guard::Result<Guard> {
        self.apply(Guard::builder()).build()
    }
}

/// The policy. Lists take several flags or one comma-separated env value.
#[derive(clap::Args, Debug)]
#[group(id = "guard-policy")]
pub(crate) struct PolicyArgs {
    /// The variable that must be set where tests may run.
    #[arg(long, env = "GUARD_FLAG", default_value = "TESTING_IN_DOCKER")]
    pub(crate) flag: String,
    /// Do not require a flag variable.
    #[arg(long, env = "GUARD_NO_FLAG")]
    pub(crate) no_flag: bool,
    /// Do not require DATABASE_URL to be set.
    #[arg(long, env = "GUARD_DATABASE_OPTIONAL")]
    pub(crate) database_optional: bool,
    /// More variables holding connection strings to check.
    #[arg(
        long = "var",
        env = "GUARD_VARS",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub(crate) vars: Vec<String>,
    /// Connection strings to check directly (the one your code really uses).
    #[arg(long = "url", value_name = "URL")]
    pub(crate) urls: Vec<String>,
    /// Also allow hosts matching this pattern (e.g. a compose service `db`).
    #[arg(
        long = "allow-host",
        env = "GUARD_ALLOW_HOSTS",
        value_delimiter = ',',
        value_name = "PATTERN"
    )]
    pub(crate) allow_hosts: Vec<String>,
    /// Refuse hosts matching this pattern, whatever else says.
    #[arg(
        long = "deny-host",
        env = "GUARD_DENY_HOSTS",
        value_delimiter = ',',
        value_name = "PATTERN"
    )]
    pub(crate) deny_hosts: Vec<String>,
    /// Database names that mean "test" (replaces test, test_*, *_test, *_test_*, _sqlx_test_*).
    #[arg(
        long = "test-db",
        env = "GUARD_TEST_DATABASES",
        value_delimiter = ',',
        value_name = "PATTERN"
    )]
    pub(crate) test_databases: Vec<String>,
    /// Do not ask servers for their marker (static checks only).
    #[arg(long, env = "GUARD_NO_LIVE")]
    pub(crate) no_live: bool,
    #[command(flatten)]
    pub(crate) resolve: ResolveArgs,
    /// Refuse unless CI is set.
    #[arg(long, env = "GUARD_REQUIRE_CI")]
    pub(crate) require_ci: bool,
    /// Refuse when standard input is a terminal.
    #[arg(long, env = "GUARD_REFUSE_INTERACTIVE")]
    pub(crate) refuse_interactive: bool,
    /// Refuse when run by an AI coding agent.
    #[arg(long, env = "GUARD_REFUSE_AI_AGENTS")]
    pub(crate) refuse_ai_agents: bool,
    #[command(flatten)]
    pub(crate) marker: MarkerArgs,
}

impl PolicyArgs {
    /// Builds the guard; every invalid pattern or name is reported at once.
    pub(crate) fn guard(&self) -> preflight_test_guard::Result<Guard> {
        let mut b = Guard::builder()
            .live_markers(!self.no_live)
            .require_ci(self.require_ci)
            .refuse_interactive(self.refuse_interactive)
            .refuse_ai_agents(self.refuse_ai_agents);
        if !self.no_flag {
            b = b.flag(&self.flag);
        }
        if !self.database_optional {
            b = b.require_var("DATABASE_URL");
        }
        for var in &self.vars {
            b = b.target_var(var);
        }
        for url in &self.urls {
            b = b.target(url);
        }
        for host in &self.allow_hosts {
            b = b.allow_host(host);
        }
        for host in &self.deny_hosts {
            b = b.deny_host(host);
        }
        if !self.test_databases.is_empty() {
            b = b.test_databases(&self.test_databases);
        }
        self.marker.apply(self.resolve.apply(b)).build()
    }
}
