//! The checks. Layers run cheapest first; the static part (flag, environment, target
//! rules, actor) reads the environment and nothing else, then the live part asks each
//! server for its marker. Every layer runs and reports even after one has failed, so the
//! refusal lists everything that is wrong at once.
//!
//! Fail closed: a target no allow rule covers and without a test marker is refused, a marker
//! that cannot be read is a refusal, a variable that cannot be parsed is a refusal.

use std::future::Future;

use crate::env::{Env, ProcessEnv, is_truthy};
use crate::guard::{AI_AGENT_VARS, Config, Guard};
use crate::marker::{self, MarkerReading};
use crate::report::{Clearance, Finding, Layer, Refusal, Report, Status};
use crate::target::{Client, PG_TARGET_VARS, Target, TargetKind};

/// What the static rules say about one target.
#[derive(Debug)]
enum Verdict {
    Denied(String),
    Allowed(String),
    Unknown(String),
}

#[derive(Debug)]
struct Planned {
    target: Target,
    verdict: Verdict,
    overridden: bool,
}

/// Everything decided before any network traffic.
#[derive(Debug)]
pub(crate) struct Plan {
    findings: Vec<Finding>,
    targets: Vec<Planned>,
    actor: Vec<Finding>,
}

impl Plan {
    /// Whether finishing needs live marker reads.
    pub(crate) fn needs_live(&self, cfg: &Config) -> bool {
        cfg.live_markers && self.targets.iter().any(|t| wants_marker(t, cfg))
    }
}

fn wants_marker(t: &Planned, cfg: &Config) -> bool {
    cfg.live_markers
        && !matches!(t.verdict, Verdict::Denied(_))
        && marker::supported(t.target.kind).is_ok()
}

fn finding(layer: Layer, status: Status, target: Option<&Target>, message: String) -> Finding {
    Finding {
        layer,
        status,
        target: target.map(ToString::to_string),
        message,
    }
}

fn is_protected(cfg: &Config, value: &str) -> bool {
    cfg.protected_values
        .iter()
        .any(|p| p.eq_ignore_ascii_case(value.trim()))
}

fn is_test(cfg: &Config, value: &str) -> bool {
    cfg.test_values
        .iter()
        .any(|p| p.eq_ignore_ascii_case(value.trim()))
}

impl Guard {
    pub(crate) fn plan(&self, env: &dyn Env) -> Plan {
        let cfg = &*self.inner;
        let mut findings = Vec::new();

        if let Some(flag) = &cfg.flag {
            let value = env.var(flag);
            findings.push(if is_truthy(value.as_deref()) {
                finding(Layer::Flag, Status::Passed, None, format!("{flag} is set"))
            } else {
                let seen = match value {
                    None => "is not set".to_owned(),
                    Some(v) => format!("is `{v}`, which does not count as set"),
                };
                finding(
                    Layer::Flag,
                    Status::Failed,
                    None,
                    format!("{flag} {seen}; set {flag}=1 only where tests are meant to run"),
                )
            });
        }

        if !cfg.env_vars.is_empty() {
            let hits: Vec<String> = cfg
                .env_vars
                .iter()
                .filter_map(|var| {
                    env.var(var)
                        .filter(|v| is_protected(cfg, v))
                        .map(|v| format!("{var}={v}"))
                })
                .collect();
            findings.push(if hits.is_empty() {
                finding(
                    Layer::Environment,
                    Status::Passed,
                    None,
                    format!(
                        "none of {} names a protected environment",
                        cfg.env_vars.join(", ")
                    ),
                )
            } else {
                finding(
                    Layer::Environment,
                    Status::Failed,
                    None,
                    format!("{} names a protected environment", hits.join(", ")),
                )
            });
        }

        let allowed_ids: Vec<String> = env
            .var(&cfg.override_var)
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();

        let mut targets = Vec::new();
        let mut add = |target: Target| {
            // The same place named twice (DATABASE_URL and PG* agreeing) is checked once.
            if targets
                .iter()
                .any(|p: &Planned| p.target.id() == target.id())
            {
                return;
            }
            let verdict = self.verdict(&target);
            let overridden = allowed_ids.iter().any(|id| *id == target.id());
            targets.push(Planned {
                target,
                verdict,
                overridden,
            });
        };
        let libpq: Option<&dyn Env> = cfg.libpq_env.then_some(env);
        for var in &cfg.target_vars {
            match env.var(var).filter(|v| !v.trim().is_empty()) {
                None if cfg.required_vars.contains(var) => findings.push(finding(
                    Layer::Targets,
                    Status::Failed,
                    None,
                    format!("{var} is not set, and it is required"),
                )),
                None => {}
                Some(conn) => {
                    let parsed = match libpq {
                        Some(env) => Target::resolve_for(cfg.client, &conn, var, env),
                        None => Target::parse_for(cfg.client, &conn).map(|mut t| {
                            t.source.clone_from(var);
                            t
                        }),
                    };
                    match parsed {
                        Ok(t) => add(t),
                        Err(e) => findings.push(finding(
                            Layer::Targets,
                            Status::Failed,
                            None,
                            format!("{e}; a target that cannot be read is refused"),
                        )),
                    }
                }
            }
        }
        if let Some(env) = libpq.filter(|_| cfg.client == Client::Libpq) {
            let set: Vec<&str> = PG_TARGET_VARS
                .iter()
                .copied()
                .filter(|v| env.var(v).is_some_and(|v| !v.is_empty()))
                .collect();
            if !set.is_empty() {
                // psql, libpq and sqlx connect here with no connection string at all.
                let source = format!("libpq defaults ({})", set.join(", "));
                match Target::resolve("postgres://", &source, env) {
                    Ok(t) => add(t),
                    Err(e) => findings.push(finding(
                        Layer::Targets,
                        Status::Failed,
                        None,
                        format!("{e}; a target that cannot be read is refused"),
                    )),
                }
            }
        }
        for conn in &cfg.explicit_conns {
            let resolved = match libpq {
                Some(env) => Target::resolve_for(cfg.client, conn, "explicit", env),
                None => Target::parse_for(cfg.client, conn),
            };
            match resolved {
                Ok(t) => add(t),
                Err(e) => findings.push(finding(
                    Layer::Targets,
                    Status::Failed,
                    None,
                    format!("{e}; a target that cannot be read is refused"),
                )),
            }
        }
        for t in &cfg.explicit {
            add(t.clone());
        }

        let mut actor = Vec::new();
        if cfg.require_ci {
            actor.push(if is_truthy(env.var("CI").as_deref()) {
                finding(Layer::Actor, Status::Passed, None, "CI is set".to_owned())
            } else {
                finding(
                    Layer::Actor,
                    Status::Failed,
                    None,
                    "CI is not set, and this guard only clears CI runs".to_owned(),
                )
            });
        }
        if cfg.refuse_interactive {
            actor.push(if env.is_interactive() {
                finding(
                    Layer::Actor,
                    Status::Failed,
                    None,
                    "standard input is a terminal, and this guard refuses interactive runs"
                        .to_owned(),
                )
            } else {
                finding(
                    Layer::Actor,
                    Status::Passed,
                    None,
                    "not interactive".to_owned(),
                )
            });
        }
        if cfg.refuse_ai_agents {
            let mut agents: Vec<String> = AI_AGENT_VARS
                .iter()
                .filter(|v| env.var(v).is_some_and(|v| !v.is_empty()))
                .map(|v| (*v).to_owned())
                .collect();
            if let Some(a) = env
                .var("AGENT")
                .filter(|a| ["goose", "amp", "1"].contains(&a.as_str()))
            {
                agents.push(format!("AGENT={a}"));
            }
            if env
                .var("REPLIT_SESSION")
                .is_some_and(|s| s.starts_with("agent-"))
            {
                agents.push("REPLIT_SESSION=agent-*".to_owned());
            }
            actor.push(if agents.is_empty() {
                finding(
                    Layer::Actor,
                    Status::Passed,
                    None,
                    "no AI agent detected".to_owned(),
                )
            } else {
                finding(
                    Layer::Actor,
                    Status::Failed,
                    None,
                    format!(
                        "run by an AI agent ({}); a person must run this",
                        agents.join(", ")
                    ),
                )
            });
        }

        Plan {
            findings,
            targets,
            actor,
        }
    }

    fn verdict(&self, target: &Target) -> Verdict {
        let cfg = &*self.inner;
        let mut reasons = Vec::new();
        let mut all_hosts_allowed = true;
        for e in &target.endpoints {
            let text = e.host.rule_text();
            if let Some(rule) = cfg.deny_hosts.iter().find(|p| p.matches(&text)) {
                return Verdict::Denied(format!("host `{text}` matches deny rule `{rule}`"));
            }
            if cfg.allow_loopback && e.host.is_local() {
                reasons.push(format!("host `{text}` is local"));
            } else if let Some(rule) = cfg.allow_hosts.iter().find(|p| p.matches(&text)) {
                reasons.push(format!("host `{text}` matches allow rule `{rule}`"));
            } else {
                all_hosts_allowed = false;
            }
        }
        if all_hosts_allowed {
            return Verdict::Allowed(reasons.join(", "));
        }
        let hosts: Vec<String> = target
            .endpoints
            .iter()
            .map(|e| e.host.rule_text())
            .collect();
        let named_databases = matches!(target.kind, TargetKind::Postgres | TargetKind::MySql);
        if named_databases
            && let Some(db) = &target.database
            && let Some(rule) = cfg.test_databases.iter().find(|p| p.matches(db))
        {
            return Verdict::Allowed(format!("database `{db}` matches test pattern `{rule}`"));
        }
        let names: Vec<&str> = cfg.test_databases.iter().map(|p| p.as_str()).collect();
        Verdict::Unknown(match named_databases {
            true => format!(
                "host `{}` is neither local nor allowlisted, and database `{}` is not named like a test database ({})",
                hosts.join(","),
                target.database.as_deref().unwrap_or(""),
                names.join(", ")
            ),
            false => format!(
                "host `{}` is neither local nor allowlisted",
                hosts.join(",")
            ),
        })
    }

    pub(crate) fn finish(
        &self,
        plan: Plan,
        mut readings: Vec<Option<crate::Result<MarkerReading>>>,
    ) -> Result<Clearance, Refusal> {
        let cfg = &*self.inner;
        readings.resize_with(plan.targets.len(), || None);
        let mut findings = plan.findings;
        let mut overridable = Vec::new();
        for (planned, reading) in plan.targets.into_iter().zip(readings) {
            let t = &planned.target;
            let mut failed = false;
            let mut test_marked = false;
            let mut markers_here = Vec::new();
            match reading {
                Some(Ok(r)) => {
                    match r.value.as_deref() {
                        Some(v) if is_protected(cfg, v) => {
                            failed = true;
                            markers_here.push((
                                Status::Failed,
                                format!("{} is `{v}`, a protected environment", r.source),
                            ));
                        }
                        Some(v) if is_test(cfg, v) => {
                            test_marked = true;
                            markers_here.push((Status::Passed, format!("{} is `{v}`", r.source)));
                        }
                        Some(v) => markers_here.push((
                            Status::Passed,
                            format!(
                                "{} is `{v}` (neither protected nor a test marker)",
                                r.source
                            ),
                        )),
                        None => markers_here.push((
                            Status::Passed,
                            format!("no marker ({} is not set)", r.source),
                        )),
                    }
                    if r.standby && cfg.refuse_standby {
                        failed = true;
                        markers_here.push((
                            Status::Failed,
                            "the server is a standby (pg_is_in_recovery), a sign of a real deployment"
                                .to_owned(),
                        ));
                    }
                }
                Some(Err(e)) => {
                    failed = true;
                    // The finding already names the target; keep only the reason.
                    let reason = match e {
                        crate::Error::Marker { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    markers_here.push((
                        Status::Failed,
                        format!("{reason}; a marker that cannot be read counts as a refusal"),
                    ));
                }
                None => {
                    let why = if !cfg.live_markers {
                        "live markers are off".to_owned()
                    } else if matches!(planned.verdict, Verdict::Denied(_)) {
                        "not asked: already refused by a host rule".to_owned()
                    } else if let Err(why) = marker::supported(t.kind) {
                        format!("not asked: {why}")
                    } else {
                        "not asked (static check only)".to_owned()
                    };
                    markers_here.push((Status::NotChecked, why));
                }
            }
            let (target_status, target_message) = match &planned.verdict {
                Verdict::Denied(why) => (Status::Failed, why.clone()),
                Verdict::Allowed(why) => (Status::Passed, why.clone()),
                Verdict::Unknown(why) if test_marked => (
                    Status::Passed,
                    format!("{why}, but the server carries a test marker"),
                ),
                Verdict::Unknown(why) => (
                    Status::Failed,
                    match marker::supported(t.kind) {
                        Err(marker::Unsupported::Kind(_)) => {
                            format!("{why}, and no marker can vouch for it")
                        }
                        _ => format!("{why}, and the server carries no test marker"),
                    },
                ),
            };
            failed |= target_status == Status::Failed;
            let lift = |s: Status| {
                if s == Status::Failed && planned.overridden {
                    Status::Overridden
                } else {
                    s
                }
            };
            findings.push(finding(
                Layer::Targets,
                lift(target_status),
                Some(t),
                target_message,
            ));
            for (status, message) in markers_here {
                findings.push(finding(Layer::Marker, lift(status), Some(t), message));
            }
            if failed {
                if planned.overridden {
                    tracing::warn!(target = %t, "test-guard override used");
                } else {
                    overridable.push(t.id());
                }
            }
        }
        // Marker findings were appended right after each target; move them after all target
        // findings so the report reads layer by layer.
        findings.sort_by_key(|f| f.layer);
        findings.extend(plan.actor);
        for f in &findings {
            tracing::debug!(layer = %f.layer, status = ?f.status, target = f.target.as_deref(), "{}", f.message);
        }
        Report {
            findings,
            override_var: cfg.override_var.clone(),
            overridable,
        }
        .into_result()
    }

    /// Runs every layer that needs no network (flag, environment, target rules, actor) on
    /// `env`. Targets that only a live test marker could clear are refused.
    ///
    /// # Errors
    /// The [`Refusal`], listing every failed check.
    pub fn check_static_with(&self, env: &impl Env) -> Result<Clearance, Refusal> {
        let plan = self.plan(env);
        self.finish(plan, Vec::new())
    }

    /// [`Guard::check_static_with`] on the process environment.
    ///
    /// # Errors
    /// The [`Refusal`], listing every failed check.
    pub fn check_static(&self) -> Result<Clearance, Refusal> {
        self.check_static_with(&ProcessEnv)
    }

    /// Runs every layer on `env`, reading live markers (needs a tokio runtime with I/O and
    /// time enabled when the `postgres` / `redis` features are on). The environment is read
    /// before the future is returned, so the future is `Send` and `'static`; it is
    /// cancel-safe (dropping it only drops marker connections).
    ///
    /// # Errors
    /// The [`Refusal`], listing every failed check.
    pub fn check_with(
        &self,
        env: &impl Env,
    ) -> impl Future<Output = Result<Clearance, Refusal>> + Send + 'static {
        let plan = self.plan(env);
        let guard = self.clone();
        async move {
            let readings = guard.read_markers(&plan).await;
            guard.finish(plan, readings)
        }
    }

    /// [`Guard::check_with`] on the process environment.
    ///
    /// # Errors
    /// The [`Refusal`], listing every failed check.
    pub fn check(&self) -> impl Future<Output = Result<Clearance, Refusal>> + Send + 'static {
        self.check_with(&ProcessEnv)
    }

    /// Reads every marker the plan needs, concurrently, under one deadline.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "redis")),
        allow(
            clippy::unused_async,
            reason = "async only does work with a live backend"
        )
    )]
    pub(crate) async fn read_markers(
        &self,
        plan: &Plan,
    ) -> Vec<Option<crate::Result<MarkerReading>>> {
        let cfg = &*self.inner;
        if !plan.needs_live(cfg) {
            return Vec::new();
        }
        #[cfg(any(feature = "postgres", feature = "redis"))]
        {
            let reads = plan.targets.iter().map(|t| async move {
                if wants_marker(t, cfg) {
                    Some(marker::read(&t.target, cfg).await)
                } else {
                    None
                }
            });
            let all = futures_util::future::join_all(reads);
            match tokio::time::timeout(cfg.marker_timeout, all).await {
                Ok(readings) => readings,
                Err(_) => plan
                    .targets
                    .iter()
                    .map(|t| {
                        wants_marker(t, cfg).then(|| {
                            Err(crate::Error::Marker {
                                target: t.target.to_string(),
                                reason: format!("no answer within {:?}", cfg.marker_timeout),
                            })
                        })
                    })
                    .collect(),
            }
        }
        #[cfg(not(any(feature = "postgres", feature = "redis")))]
        {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the connection strings look like, no report shows a password.
        #[test]
        fn no_report_shows_a_password(
            scheme in "(postgres|postgresql|redis|rediss|mysql|mongodb|sqlite)",
            host in "[a-z0-9.-]{0,20}(:[0-9a-z]{0,6})?",
            password in "Pw[A-Za-z0-9]{10,14}",
            db in "[a-z_]{0,10}",
            form in 0..3u8,
        ) {
            let url = if form == 0 {
                format!("host={host} password={password} dbname={db}")
            } else if form == 1 {
                format!("user:{password}@{host}/{db}")
            } else {
                format!("{scheme}://user:{password}@{host}/{db}")
            };
            let env = [
                ("DATABASE_URL", url.as_str()),
                ("REDIS_URL", url.as_str()),
                ("PGPASSWORD", password.as_str()),
            ];
            let text = match Guard::default().check_static_with(&env) {
                Ok(c) => format!("{c}{c:?}"),
                Err(r) => format!("{r}{r:?}"),
            };
            prop_assert!(!text.contains(&password), "{}", text);
        }

        /// Arbitrary values in every variable the guard reads never make it panic.
        #[test]
        fn check_never_panics(values in proptest::collection::vec("\\PC{0,40}", 7)) {
            let names = ["DATABASE_URL", "REDIS_URL", "PGHOST", "PGPORT", "PGHOSTADDR", "PGDATABASE", "PREFLIGHT_GUARD_ALLOW"];
            let env: Vec<(&str, &str)> = names.iter().copied().zip(values.iter().map(String::as_str)).collect();
            let _ = Guard::default().check_static_with(&env.as_slice());
        }
    }

    fn failed(guard: &Guard, env: &[(&str, &str)]) -> Vec<(Layer, String)> {
        match guard.check_static_with(&env) {
            Ok(_) => Vec::new(),
            Err(r) => r
                .report()
                .failures()
                .map(|f| (f.layer, f.message.clone()))
                .collect(),
        }
    }

    #[test]
    fn deny_rules_win_over_test_names_and_every_host_must_pass() {
        let guard = Guard::builder()
            .deny_host("*.prod.internal")
            .build()
            .unwrap();
        let f = failed(
            &guard,
            &[("DATABASE_URL", "postgres://pg.prod.internal/test_app")],
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].1.contains("deny rule `*.prod.internal`"), "{f:?}");
        // Cloud hosts are denied by default.
        let f = failed(
            &guard,
            &[(
                "DATABASE_URL",
                "postgres://x.abc.eu-west-1.rds.amazonaws.com/app_test",
            )],
        );
        assert!(f[0].1.contains("`*.amazonaws.com`"), "{f:?}");
        // One local host and one remote: the remote one decides (name rules still apply).
        let f = failed(
            &guard,
            &[("DATABASE_URL", "postgres://127.0.0.1,db.example.org/app")],
        );
        assert_eq!(f[0].0, Layer::Targets);
        assert!(
            guard
                .check_static_with(&[(
                    "DATABASE_URL",
                    "postgres://127.0.0.1,db.example.org/app_test"
                )])
                .is_ok()
        );
    }

    #[test]
    fn mysql_and_sqlite_targets_follow_the_static_rules() {
        let guard = Guard::default();
        let clearance = guard
            .check_static_with(&[("DATABASE_URL", "sqlite:data/test.db")])
            .unwrap();
        let marker = clearance
            .report()
            .findings()
            .iter()
            .find(|f| f.layer == Layer::Marker)
            .unwrap();
        assert_eq!(marker.status, Status::NotChecked);
        assert!(marker.message.contains("SQLite file is local"), "{marker}");
        assert!(
            guard
                .check_static_with(&[("DATABASE_URL", "mysql://root@127.0.0.1/app")])
                .is_ok()
        );
        let f = failed(
            &guard,
            &[("DATABASE_URL", "mysql://root:pw@db.example.org/app")],
        );
        assert_eq!(f[0].0, Layer::Targets, "{f:?}");
    }

    #[test]
    fn static_check_refuses_what_only_a_marker_could_clear() {
        let guard = Guard::builder().allow_host("db").build().unwrap();
        assert!(
            guard
                .check_static_with(&[("DATABASE_URL", "postgres://db/app")])
                .is_ok()
        );
        let f = failed(&guard, &[("REDIS_URL", "redis://cache.example.org")]);
        assert!(f[0].1.contains("carries no test marker"), "{f:?}");
    }

    #[test]
    fn environment_and_actor_layers() {
        let guard = Guard::builder()
            .require_ci(true)
            .refuse_ai_agents(true)
            .build()
            .unwrap();
        let f = failed(&guard, &[("RAILS_ENV", "Production"), ("CLAUDECODE", "1")]);
        let layers: Vec<Layer> = f.iter().map(|(l, _)| *l).collect();
        assert_eq!(layers, [Layer::Environment, Layer::Actor, Layer::Actor]);
        assert!(f[0].1.contains("RAILS_ENV=Production"));
        assert!(f[2].1.contains("CLAUDECODE"));
        assert!(guard.check_static_with(&[("CI", "true")]).is_ok());
        let interactive = Guard::builder().refuse_interactive(true).build().unwrap();
        struct Tty;
        impl Env for Tty {
            fn var(&self, _: &str) -> Option<String> {
                None
            }
            fn is_interactive(&self) -> bool {
                true
            }
        }
        assert!(interactive.check_static_with(&Tty).is_err());
    }

    #[test]
    fn unparseable_and_missing_required_targets_are_refusals() {
        let guard = Guard::builder().require_var("TEST_DB").build().unwrap();
        let f = failed(&guard, &[("DATABASE_URL", "mongodb://root:hunter2@h/db")]);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().any(|(_, m)| m.contains("unsupported scheme")));
        assert!(f.iter().any(|(_, m)| m.contains("TEST_DB is not set")));
        assert!(f.iter().all(|(_, m)| !m.contains("hunter2")));
    }

    #[test]
    fn override_is_per_target_and_lists_each_refused_target() {
        let guard = Guard::default();
        let env = [
            ("DATABASE_URL", "postgres://a.example.org/app"),
            ("REDIS_URL", "redis://b.example.org/1"),
        ];
        let refusal = guard.check_static_with(&env).unwrap_err();
        assert_eq!(
            refusal.report().override_hint().unwrap(),
            "PREFLIGHT_GUARD_ALLOW='postgres://a.example.org:5432/app,redis://b.example.org:6379/1'"
        );
        let mut one = env.to_vec();
        one.push(("PREFLIGHT_GUARD_ALLOW", "postgres://a.example.org:5432/app"));
        let refusal = guard.check_static_with(&one.as_slice()).unwrap_err();
        assert_eq!(refusal.report().failures().count(), 1);
        assert_eq!(refusal.report().overridden().count(), 1);
        let mut both = env.to_vec();
        both.push((
            "PREFLIGHT_GUARD_ALLOW",
            "postgres://a.example.org:5432/app, redis://b.example.org:6379/1",
        ));
        assert!(
            guard
                .check_static_with(&both.as_slice())
                .unwrap()
                .used_override()
        );
    }
}
