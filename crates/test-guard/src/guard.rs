//! The guard's configuration: which layers run and with which rules. [`GuardBuilder`] wraps
//! the very [`Config`] the checks read (its `Default` is the documented defaults), records
//! every problem as a knob is set, and reports them all at once in `build()`. The checks
//! themselves live in `check/`, one file per layer.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::rules::{DEFAULT_DENY_HOSTS, DEFAULT_TEST_DATABASES, Pattern};
use crate::target::{Client, Target};
use crate::tunnel::DEFAULT_FORWARDERS;

/// A configured, validated guard. Cheap to clone.
///
/// See the [crate docs](crate) for the layers; [`Guard::default()`] is the guard a project
/// without special needs would choose.
#[derive(Debug, Clone)]
pub struct Guard {
    pub(crate) inner: Arc<Config>,
}

/// Every knob of a guard. The builder edits one of these in place; the checks read it.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) flag: Option<String>,
    pub(crate) env_vars: Vec<String>,
    pub(crate) protected_values: Vec<String>,
    pub(crate) test_values: Vec<String>,
    pub(crate) target_vars: Vec<String>,
    pub(crate) required_vars: Vec<String>,
    pub(crate) libpq_env: bool,
    pub(crate) client: Client,
    /// Connection strings given in code, resolved at check time (the client reads the
    /// environment when it opens them, so the guard must too).
    pub(crate) explicit_conns: Vec<String>,
    pub(crate) explicit: Vec<Target>,
    pub(crate) allow_loopback: bool,
    pub(crate) detect_tunnels: bool,
    pub(crate) forwarders: Vec<String>,
    pub(crate) allow_hosts: Vec<Pattern>,
    pub(crate) deny_hosts: Vec<Pattern>,
    pub(crate) test_databases: Vec<Pattern>,
    pub(crate) live_markers: bool,
    pub(crate) marker_setting: String,
    #[cfg_attr(
        not(feature = "postgres"),
        allow(dead_code, reason = "read by the PostgreSQL backend")
    )]
    pub(crate) marker_table: Option<String>,
    pub(crate) redis_marker_key: String,
    pub(crate) refuse_standby: bool,
    #[cfg_attr(
        not(any(feature = "postgres", feature = "redis")),
        allow(dead_code, reason = "read by the live backends")
    )]
    pub(crate) marker_timeout: Duration,
    pub(crate) require_ci: bool,
    pub(crate) refuse_interactive: bool,
    pub(crate) refuse_ai_agents: bool,
    pub(crate) override_var: String,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn patterns(items: &[&str]) -> Vec<Pattern> {
    items
        .iter()
        .map(|p| Pattern::new(p).unwrap_or_else(|e| unreachable!("built-in pattern: {e}")))
        .collect()
}

/// The PostgreSQL setting that holds a marker unless
/// [`GuardBuilder::marker_setting`] says otherwise.
pub const DEFAULT_MARKER_SETTING: &str = "preflight.environment";

/// The Redis key that holds a marker unless [`GuardBuilder::redis_marker_key`] says
/// otherwise.
pub const DEFAULT_REDIS_MARKER_KEY: &str = "preflight:environment";

/// How long reading one target's markers may take unless
/// [`GuardBuilder::marker_timeout`] says otherwise.
pub const DEFAULT_MARKER_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for Config {
    fn default() -> Self {
        Self {
            flag: None,
            env_vars: strings(&["APP_ENV", "RAILS_ENV", "RACK_ENV", "ENVIRONMENT"]),
            protected_values: strings(&["production", "prod", "live", "staging"]),
            test_values: strings(&["test", "testing"]),
            target_vars: strings(&["DATABASE_URL", "REDIS_URL"]),
            required_vars: Vec::new(),
            libpq_env: true,
            client: Client::Libpq,
            explicit_conns: Vec::new(),
            explicit: Vec::new(),
            allow_loopback: true,
            detect_tunnels: true,
            forwarders: strings(DEFAULT_FORWARDERS),
            allow_hosts: Vec::new(),
            deny_hosts: patterns(DEFAULT_DENY_HOSTS),
            test_databases: patterns(DEFAULT_TEST_DATABASES),
            live_markers: true,
            marker_setting: DEFAULT_MARKER_SETTING.to_owned(),
            marker_table: None,
            redis_marker_key: DEFAULT_REDIS_MARKER_KEY.to_owned(),
            refuse_standby: true,
            marker_timeout: DEFAULT_MARKER_TIMEOUT,
            require_ci: false,
            refuse_interactive: false,
            refuse_ai_agents: false,
            override_var: "PREFLIGHT_GUARD_ALLOW".to_owned(),
        }
    }
}

impl Config {
    pub(crate) fn is_protected(&self, value: &str) -> bool {
        self.protected_values
            .iter()
            .any(|p| p.eq_ignore_ascii_case(value.trim()))
    }

    pub(crate) fn is_test(&self, value: &str) -> bool {
        self.test_values
            .iter()
            .any(|p| p.eq_ignore_ascii_case(value.trim()))
    }

    /// The problems no single knob can see (names, combinations).
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let var_names = self
            .flag
            .iter()
            .map(|f| ("flag", f))
            .chain(self.env_vars.iter().map(|v| ("environment_vars", v)))
            .chain(self.target_vars.iter().map(|v| ("target_var", v)))
            .chain(std::iter::once(("override_var", &self.override_var)));
        for (what, name) in var_names {
            if !is_var_name(name) {
                problems.push(format!(
                    "{what}: `{name}` is not a variable name (letters, digits, `_`)"
                ));
            }
        }
        if !is_setting_name(&self.marker_setting) {
            problems.push(format!(
                "marker_setting: `{}` must look like `prefix.name` (letters, digits, `_`)",
                self.marker_setting
            ));
        }
        if let Some(table) = &self.marker_table
            && !table.split('.').all(is_identifier)
        {
            problems.push(format!(
                "marker_table: `{table}` must be `table` or `schema.table` (letters, digits, `_`)"
            ));
        }
        if self.redis_marker_key.is_empty() {
            problems.push("redis_marker_key: empty".to_owned());
        }
        if self.marker_timeout.is_zero() {
            problems.push("marker_timeout: must be more than zero".to_owned());
        }
        for name in &self.forwarders {
            if name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace) {
                problems.push(format!(
                    "forwarder: `{name}` is not a process name (no `/`, no whitespace)"
                ));
            }
        }
        for v in self.protected_values.iter().chain(&self.test_values) {
            if crate::marker::validate_value(v).is_err() {
                problems.push(format!(
                    "marker values: `{v}` is not 1 to 64 letters, digits, `_`, `-`, `.`"
                ));
            }
        }
        if let Some(both) = self
            .protected_values
            .iter()
            .find(|p| self.test_values.iter().any(|t| t.eq_ignore_ascii_case(p)))
        {
            problems.push(format!("`{both}` is both a protected and a test value"));
        }
        problems
    }
}

impl Guard {
    /// Starts a builder with the defaults described on [`GuardBuilder`].
    pub fn builder() -> GuardBuilder {
        GuardBuilder::default()
    }

    /// The variable an override is read from (`PREFLIGHT_GUARD_ALLOW` by default).
    #[must_use]
    pub fn override_var(&self) -> &str {
        &self.inner.override_var
    }

    /// The setting that holds a PostgreSQL marker (database-level, or server-wide).
    #[must_use]
    pub fn marker_setting(&self) -> &str {
        &self.inner.marker_setting
    }

    /// The key that holds a Redis marker (in each database index).
    #[must_use]
    pub fn redis_marker_key(&self) -> &str {
        &self.inner.redis_marker_key
    }

    /// How long reading one target's markers may take.
    #[must_use]
    pub fn marker_timeout(&self) -> Duration {
        self.inner.marker_timeout
    }
}

impl Default for Guard {
    /// No flag variable; `DATABASE_URL`, `REDIS_URL` and the `PG*` variables checked against
    /// loopback (unless a tunnel holds the port), the default cloud denylist and test
    /// database names; live markers on.
    fn default() -> Self {
        Self {
            inner: Arc::new(Config::default()),
        }
    }
}

/// Builds a [`Guard`]. Defaults:
///
/// | knob | default |
/// |---|---|
/// | flag variable | none (`TESTING_IN_DOCKER` in the examples) |
/// | environment variables refused when production-like | `APP_ENV`, `RAILS_ENV`, `RACK_ENV`, `ENVIRONMENT` |
/// | protected values (environment and markers) | `production`, `prod`, `live`, `staging` |
/// | test marker values | `test`, `testing` |
/// | target variables | `DATABASE_URL`, `REDIS_URL` (none required) |
/// | libpq `PG*` fallbacks | on |
/// | client whose rules resolve PostgreSQL strings | [`Client::Libpq`] |
/// | allowed hosts | loopback, `localhost`, Unix sockets, unless a forwarder holds the port |
/// | forwarders (loopback ports they hold need a `test` marker) | `ssh`, `sshd`, `autossh`, `kubectl`, `oc`, `cloud-sql-proxy`, `cloud_sql_proxy`, `alloydb-auth-proxy`, `session-manager-plugin`, `tsh`, `boundary`, `flyctl`, `socat`, `ncat`, `stunnel`, `stunnel4` |
/// | denied hosts | managed cloud databases (`*.amazonaws.com`, `*.neon.tech`, ...) |
/// | test database names | `test`, `test_*`, `*_test`, `*_test_*`, `_sqlx_test_*` |
/// | live markers | on: setting `preflight.environment`, Redis key `preflight:environment`, 5 s per target |
/// | standby servers | refused |
/// | actor checks | off |
/// | override variable | `PREFLIGHT_GUARD_ALLOW` |
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct GuardBuilder {
    cfg: Config,
    /// Problems found while knobs were set (bad patterns, unparseable targets).
    problems: Vec<String>,
}

impl GuardBuilder {
    fn pattern(&mut self, what: &str, text: &str) -> Option<Pattern> {
        Pattern::new(text)
            .map_err(|e| self.problems.push(format!("{what}: {e}")))
            .ok()
    }

    /// Requires this variable to be set to a non-empty value other than `0`, `false`, `no`,
    /// `off` (the original project used `TESTING_IN_DOCKER`).
    pub fn flag(mut self, name: impl Into<String>) -> Self {
        self.cfg.flag = Some(name.into());
        self
    }

    /// Replaces the variables whose production-like value refuses the run.
    pub fn environment_vars<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.env_vars = names.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the values that mean production, in environment variables and markers.
    pub fn protected_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.protected_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the marker values that mean "a test database".
    pub fn test_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.test_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Also checks the connection string in this variable (kind taken from its scheme).
    pub fn target_var(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.cfg.target_vars.contains(&name) {
            self.cfg.target_vars.push(name);
        }
        self
    }

    /// Checks this variable, and refuses when it is unset.
    pub fn require_var(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self = self.target_var(name.clone());
        self.cfg.required_vars.push(name);
        self
    }

    /// Forgets every target variable (the defaults included).
    pub fn clear_target_vars(mut self) -> Self {
        self.cfg.target_vars.clear();
        self.cfg.required_vars.clear();
        self
    }

    /// Whether `PGHOST`, `PGPORT`, `PGDATABASE`, `PGSERVICE`... fill gaps in PostgreSQL
    /// targets and form a target of their own, as libpq does (default on).
    pub fn libpq_env(mut self, on: bool) -> Self {
        self.cfg.libpq_env = on;
        self
    }

    /// Which client's rules resolve PostgreSQL connection strings (default
    /// [`Client::Libpq`]); see [`Client`] for the variables each one reads. With
    /// [`Client::TokioPostgres`] the `PG*` variables form no target of their own.
    pub fn client(mut self, client: Client) -> Self {
        self.cfg.client = client;
        self
    }

    /// Also checks this connection string: pass the one your pool really uses. It is
    /// resolved at check time, with the environment, as the client will resolve it.
    pub fn target(mut self, conn: impl Into<String>) -> Self {
        self.cfg.explicit_conns.push(conn.into());
        self
    }

    /// Also checks an already resolved target (e.g. `Target::from_postgres_config` on the
    /// pool's own configuration).
    pub fn resolved_target(mut self, target: Target) -> Self {
        self.cfg.explicit.push(target);
        self
    }

    /// Whether loopback hosts and Unix sockets count as allowed (default on). A loopback
    /// port held by a forwarder never counts (see [`GuardBuilder::forwarder`]).
    pub fn allow_loopback(mut self, on: bool) -> Self {
        self.cfg.allow_loopback = on;
        self
    }

    /// Whether the process holding a loopback port is looked up (Linux `/proc` and
    /// sock_diag; default on). When it is a forwarder (an SSH tunnel, `kubectl
    /// port-forward`, a cloud SQL proxy, `socat`, ...), the port leads somewhere else and
    /// loopback is no proof: clearing it then needs a `test` marker on the server.
    pub fn detect_tunnels(mut self, on: bool) -> Self {
        self.cfg.detect_tunnels = on;
        self
    }

    /// Adds a process name (as `/proc/PID/comm` shows it, first 15 bytes) that forwards
    /// loopback ports to somewhere else, to the built-in list.
    pub fn forwarder(mut self, process_name: impl Into<String>) -> Self {
        self.cfg.forwarders.push(process_name.into());
        self
    }

    /// Allows hosts matching this pattern, e.g. a compose service name `db`.
    pub fn allow_host(mut self, pattern: impl Into<String>) -> Self {
        if let Some(p) = self.pattern("allow_host", &pattern.into()) {
            self.cfg.allow_hosts.push(p);
        }
        self
    }

    /// Refuses hosts matching this pattern, whatever else says; e.g. `*.prod.example.com`.
    pub fn deny_host(mut self, pattern: impl Into<String>) -> Self {
        if let Some(p) = self.pattern("deny_host", &pattern.into()) {
            self.cfg.deny_hosts.push(p);
        }
        self
    }

    /// Drops the built-in cloud denylist (your own `deny_host` rules stay).
    pub fn no_default_deny(mut self) -> Self {
        self.cfg
            .deny_hosts
            .retain(|p| !DEFAULT_DENY_HOSTS.contains(&p.as_str()));
        self
    }

    /// Replaces the database-name patterns that mean "a test database".
    pub fn test_databases<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.test_databases = patterns
            .into_iter()
            .filter_map(|p| self.pattern("test_databases", &p.into()))
            .collect();
        self
    }

    /// Whether to ask each server for its marker (default on; needs the `postgres` /
    /// `redis` features to do anything).
    pub fn live_markers(mut self, on: bool) -> Self {
        self.cfg.live_markers = on;
        self
    }

    /// The PostgreSQL setting holding the marker (`prefix.name`), database-level
    /// (`ALTER DATABASE`) or server-wide (`ALTER ROLE ALL`).
    pub fn marker_setting(mut self, name: impl Into<String>) -> Self {
        self.cfg.marker_setting = name.into();
        self
    }

    /// Also reads a marker row: `SELECT value FROM <table> WHERE key = 'environment'`
    /// (e.g. Rails' `ar_internal_metadata`). A configured table that does not exist is a
    /// refusal: the guard was told the marker lives there.
    pub fn marker_table(mut self, table: impl Into<String>) -> Self {
        self.cfg.marker_table = Some(table.into());
        self
    }

    /// The Redis key holding the marker.
    pub fn redis_marker_key(mut self, key: impl Into<String>) -> Self {
        self.cfg.redis_marker_key = key.into();
        self
    }

    /// Whether a PostgreSQL standby (`pg_is_in_recovery()`) is refused (default on: a
    /// replica is evidence of a real deployment).
    pub fn refuse_standby(mut self, on: bool) -> Self {
        self.cfg.refuse_standby = on;
        self
    }

    /// The deadline for one target's marker (default 5 s), per host of a multi-host
    /// target; targets are asked concurrently, so one that hangs does not delay the others'
    /// verdicts. Past it, a refusal.
    pub fn marker_timeout(mut self, timeout: Duration) -> Self {
        self.cfg.marker_timeout = timeout;
        self
    }

    /// Refuses unless `CI` is set (truthy).
    pub fn require_ci(mut self, on: bool) -> Self {
        self.cfg.require_ci = on;
        self
    }

    /// Refuses when standard input is a terminal.
    pub fn refuse_interactive(mut self, on: bool) -> Self {
        self.cfg.refuse_interactive = on;
        self
    }

    /// Refuses when an AI coding agent's variables are present (`CLAUDECODE`, `CODEX_CI`,
    /// `CURSOR_AGENT`, ... as Prisma checks).
    pub fn refuse_ai_agents(mut self, on: bool) -> Self {
        self.cfg.refuse_ai_agents = on;
        self
    }

    /// The variable an override is read from.
    pub fn override_var(mut self, name: impl Into<String>) -> Self {
        self.cfg.override_var = name.into();
        self
    }

    /// Validates everything and returns the guard.
    ///
    /// # Errors
    /// [`Error::Config`] listing every invalid pattern, name and target.
    pub fn build(self) -> Result<Guard> {
        let mut problems = self.problems;
        problems.extend(self.cfg.problems());
        for conn in &self.cfg.explicit_conns {
            // Syntax is checked now; the environment is read at check time, and a
            // service can only be looked up with it.
            if let Err(e) = Target::resolve_for(self.cfg.client, conn, "explicit", &[].as_slice())
                && !matches!(&e, Error::InvalidTarget { reason, .. } if reason.contains("service `"))
            {
                problems.push(format!("target: {e}"));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        Ok(Guard {
            inner: Arc::new(self.cfg),
        })
    }
}

fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Custom PostgreSQL settings must have a prefix (`prefix.name`).
fn is_setting_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|p| is_identifier(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().problems().is_empty());
        GuardBuilder::default().build().unwrap();
    }

    #[test]
    fn build_reports_every_problem() {
        let err = Guard::builder()
            .flag("NOT A VAR")
            .allow_host("*")
            .deny_host("")
            .marker_setting("nodot")
            .marker_table("x; drop")
            .forwarder("/usr/bin/ssh")
            .target("postgres://u:hunter2@h:0/db")
            .protected_values(["test"])
            .build()
            .unwrap_err()
            .to_string();
        for want in [
            "`NOT A VAR`",
            "allow_host",
            "deny_host",
            "marker_setting",
            "marker_table",
            "forwarder",
            "invalid port",
            "`test` is both",
        ] {
            assert!(err.contains(want), "{want} missing in {err}");
        }
        assert!(!err.contains("hunter2"), "{err}");
    }
}
