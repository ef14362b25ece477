//! The checks, one file per layer, cheapest first: `flag`, `environment`, `targets` (static
//! rules and tunnel detection), `markers` (what each server says), `actor`. The static part
//! reads the environment (and, for loopback ports, which process holds them) and nothing
//! else; then the live part asks each server for its marker. Every layer runs and reports
//! even after one has failed, so the refusal lists everything that is wrong at once.
//!
//! Fail closed: a target no allow rule covers and without a test marker is refused, a marker
//! that cannot be read is a refusal, a variable that cannot be parsed is a refusal. The
//! override lifts only the failures of the one target it names exactly; it never lifts the
//! flag, environment or actor layers.

mod actor;
mod environment;
mod flag;
mod markers;
mod targets;

use std::future::Future;

use targets::{Planned, Verdict};

use crate::env::{Env, ProcessEnv};
use crate::guard::{Config, Guard};
use crate::marker::{self, MarkerReading};
use crate::report::{Clearance, Finding, Layer, Refusal, Report, Status};
use crate::target::Target;

/// Each target's marker readings (one per host), or `None` when it was not asked.
pub(crate) type Readings = Vec<Option<Vec<crate::Result<MarkerReading>>>>;

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
        self.targets.iter().any(|t| wants_marker(t, cfg))
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

impl Guard {
    pub(crate) fn plan(&self, env: &dyn Env) -> Plan {
        let cfg = &*self.inner;
        let mut findings: Vec<Finding> = flag::check(cfg, env).into_iter().collect();
        findings.extend(environment::check(cfg, env));
        let (targets, unreadable) = targets::collect(cfg, env);
        findings.extend(unreadable);
        Plan {
            findings,
            targets,
            actor: actor::check(cfg, env),
        }
    }

    pub(crate) fn finish(&self, plan: Plan, mut readings: Readings) -> Result<Clearance, Refusal> {
        let cfg = &*self.inner;
        readings.resize_with(plan.targets.len(), || None);
        let mut findings = plan.findings;
        let mut overridable = Vec::new();
        for (planned, reading) in plan.targets.into_iter().zip(readings) {
            let t = &planned.target;
            let judged = markers::judge(cfg, &planned, reading);
            let (target_status, target_message) = match &planned.verdict {
                Verdict::Denied(why) => (Status::Failed, why.clone()),
                Verdict::Allowed(why) => (Status::Passed, why.clone()),
                Verdict::Unknown(why) if judged.test_marked => (
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
            let failed = judged.failed || target_status == Status::Failed;
            // The override lifts this target's failures, and nothing else.
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
            for (status, message) in judged.findings {
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
            let readings = guard.read_markers_for(&plan).await;
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

    /// Reads every marker the plan needs, all targets and hosts concurrently, each host
    /// under its own deadline (`marker_timeout`): one server that hangs is reported as
    /// such, and the others' answers stand.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "redis")),
        allow(
            clippy::unused_async,
            reason = "async only does work with a live backend"
        )
    )]
    pub(crate) async fn read_markers_for(&self, plan: &Plan) -> Readings {
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
            futures_util::future::join_all(reads).await
        }
        #[cfg(not(any(feature = "postgres", feature = "redis")))]
        {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
