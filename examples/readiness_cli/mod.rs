//! What `wait-for` and `wait-for-questdb` share: policy flags with `WAIT_*` env fallbacks,
//! progress output (human or JSON lines), exit codes, and the exec hand-off.
//!
//! Exit codes: `0` ready, `124` deadline passed, `1` a target became unhealthy (or, with
//! `--once`, the probe failed), `2` usage or target-spec error. Once every target is
//! ready, the command after `--` replaces this process (exec), so its exit code and its
//! signals are its own; `127`/`126` if it cannot be found or run.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use crate::cli_io::DurationArg;
use preflight_readiness::{
    Cadence, Error, Event, EventKind, Health, Policy, Report, StartBackoff, Target, Wait,
};

/// Parses `10`, `10s`, `250ms`, `1m30s` for clap.
pub(crate) fn duration(text: &str) -> Result<DurationArg, preflight_readiness::Error> {
    preflight_readiness::parse_duration(text).map(DurationArg)
}

/// `--start-backoff`: `AFTER:INTERVAL`, or `off` (clap treats an `Option` field as an
/// optional flag, hence the wrapper).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BackoffArg(pub(crate) Option<StartBackoff>);

impl std::fmt::Display for BackoffArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(backoff) => backoff.fmt(f),
            None => f.write_str("off"),
        }
    }
}

/// Parses `AFTER:INTERVAL` or `off` for clap.
pub(crate) fn start_backoff(text: &str) -> Result<BackoffArg, String> {
    StartBackoff::parse(text)
        .map(BackoffArg)
        .map_err(|e| e.to_string())
}

/// Parses `after-finish`/`docker` or `fixed-rate`/`kubernetes` for clap.
pub(crate) fn cadence(text: &str) -> Result<Cadence, String> {
    text.parse::<Cadence>().map_err(|e| e.to_string())
}

/// Policy and output flags. Their defaults are [`Policy::default()`]'s. As in Docker, `0`
/// for `--interval`, `--probe-timeout`, `--start-interval` or `--retries` means the
/// default.
#[derive(clap::Args, Debug)]
pub(crate) struct PolicyArgs {
    /// Overall deadline (`10`, `10s`, `1m30s`); `0` waits for ever.
    #[arg(short = 't', long, env = "WAIT_TIMEOUT", value_name = "DURATION", value_parser = duration, default_value_t = DurationArg(Policy::default().deadline().unwrap_or(Duration::ZERO)))]
    pub(crate) timeout: DurationArg,
    /// Cadence once healthy or after the start period (Docker `--interval`; 0 = the default).
    #[arg(long, env = "WAIT_INTERVAL", value_name = "DURATION", value_parser = duration, default_value_t = DurationArg(Policy::default().interval()))]
    pub(crate) interval: DurationArg,
    /// Longest time one probe may take (Docker `--timeout`; 0 = the default).
    #[arg(long, env = "WAIT_PROBE_TIMEOUT", value_name = "DURATION", value_parser = duration, default_value_t = DurationArg(Policy::default().timeout()))]
    pub(crate) probe_timeout: DurationArg,
    /// Counted failures in a row that make a target unhealthy, exit 1 (Docker `--retries`;
    /// 0 = the default, as in Docker).
    #[arg(long, env = "WAIT_RETRIES", value_name = "N", default_value_t = Policy::default().retries())]
    pub(crate) retries: u32,
    /// Failures do not count while the target is starting inside it (Docker
    /// `--start-period`); default: the whole wait.
    #[arg(long, env = "WAIT_START_PERIOD", value_name = "DURATION", value_parser = duration)]
    pub(crate) start_period: Option<DurationArg>,
    /// Cadence while starting (Docker `--start-interval`; 0 = the default).
    #[arg(long, env = "WAIT_START_INTERVAL", value_name = "DURATION", value_parser = duration, default_value_t = DurationArg(Policy::default().start_interval()))]
    pub(crate) start_interval: DurationArg,
    /// Slow the start interval to INTERVAL once a target has been starting for AFTER
    /// (`1s:20ms`), or `off` to keep the start interval, as Docker does.
    #[arg(long, env = "WAIT_START_BACKOFF", value_name = "AFTER:INTERVAL|off", value_parser = start_backoff, default_value_t = BackoffArg(Policy::default().start_backoff()))]
    pub(crate) start_backoff: BackoffArg,
    /// Count an interval from the end of the previous probe (`after-finish`, Docker) or
    /// from its start (`fixed-rate`, Kubernetes).
    #[arg(long, env = "WAIT_CADENCE", value_name = "after-finish|fixed-rate", value_parser = cadence, default_value_t = Policy::default().cadence())]
    pub(crate) cadence: Cadence,
    /// Successes in a row that make a target healthy (Kubernetes `successThreshold`).
    #[arg(
        long,
        env = "WAIT_SUCCESS_THRESHOLD",
        value_name = "N",
        default_value_t = Policy::default().success_threshold()
    )]
    pub(crate) success_threshold: u32,
    /// Print nothing but the final error.
    #[arg(short, long, env = "WAIT_QUIET")]
    pub(crate) quiet: bool,
    /// Print events as JSON lines on stdout.
    #[arg(long, env = "WAIT_JSON", conflicts_with = "quiet")]
    pub(crate) json: bool,
    /// Probe every target once and exit 0 (all healthy) or 1 (not): a container
    /// HEALTHCHECK or a `test-db-connection.sh`. Only `--probe-timeout` bounds it.
    #[arg(long, conflicts_with = "command")]
    pub(crate) once: bool,
}

impl PolicyArgs {
    /// The policy these flags describe.
    pub(crate) fn policy(&self) -> preflight_readiness::Result<Policy> {
        if self.once {
            // One attempt: its failure counts at once, and only the probe timeout bounds
            // it, so the result is always 0 or 1 as a HEALTHCHECK must be.
            return Policy::builder()
                .timeout(self.probe_timeout.0)
                .start_period(Duration::ZERO)
                .retries(1)
                .no_deadline()
                .build();
        }
        let mut builder = Policy::builder()
            .interval(self.interval.0)
            .timeout(self.probe_timeout.0)
            .retries(self.retries)
            .start_interval(self.start_interval.0)
            .start_backoff(self.start_backoff.0)
            .cadence(self.cadence)
            .success_threshold(self.success_threshold);
        builder = match self.start_period {
            Some(period) => builder.start_period(period.0),
            None => builder.start_period_whole_wait(),
        };
        builder = if self.timeout.0.is_zero() {
            builder.no_deadline()
        } else {
            builder.deadline(self.timeout.0)
        };
        builder.build()
    }
}

/// How progress is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Human,
    Quiet,
    Json,
}

impl Output {
    pub(crate) fn from_args(args: &PolicyArgs) -> Self {
        if args.json {
            Self::Json
        } else if args.quiet {
            Self::Quiet
        } else {
            Self::Human
        }
    }
}

/// Waits for `targets`, prints progress, then execs `command`; the exit code when there
/// is no command, the wait failed or the command could not run.
#[allow(
    dead_code,
    reason = "used by wait-for and wait-for-questdb, not by preflight"
)]
pub(crate) fn run(
    program: &str,
    targets: Vec<Target>,
    policy: &Policy,
    output: Output,
    command: &[String],
) -> ExitCode {
    match wait(program, targets, policy, output) {
        Ok(_) => exec_or_exit(program, command, &[], 0),
        Err(err) => fail(program, output, &err),
    }
}

/// Waits for `targets` under `policy`, printing the effective configuration, every
/// changed failure and the final verdict as `output` says.
pub(crate) fn wait(
    program: &str,
    targets: Vec<Target>,
    policy: &Policy,
    output: Output,
) -> Result<Report, Error> {
    say_config(program, &targets, policy, output);
    // Only a changed failure is printed, so a 10 ms cadence does not flood the log.
    let last_failure: Mutex<HashMap<usize, String>> = Mutex::new(HashMap::new());
    let prefix = program.to_owned();
    let report = Wait::new(targets)
        .policy(policy.clone())
        .on_event(move |event| {
            on_event(&prefix, output, &last_failure, event);
        })
        .run_blocking()?;
    match output {
        Output::Human => eprintln!(
            "{program}: all {} target(s) ready in {}",
            report.targets.len(),
            ms(report.elapsed)
        ),
        Output::Json => json_line(&serde_json::json!({
            "event": "ready",
            "elapsed_ms": report.elapsed.as_secs_f64() * 1000.0,
            "targets": report.targets.iter().map(|t| serde_json::json!({
                "target": &*t.target,
                "attempts": t.attempts,
                "elapsed_ms": t.elapsed.as_secs_f64() * 1000.0,
            })).collect::<Vec<_>>(),
        })),
        Output::Quiet => {}
    }
    Ok(report)
}

/// Prints `err` (and its JSON event) and returns its exit code.
#[allow(
    dead_code,
    reason = "used by wait-for and wait-for-questdb, not by preflight"
)]
pub(crate) fn fail(program: &str, output: Output, err: &Error) -> ExitCode {
    if output == Output::Json {
        json_line(&serde_json::json!({ "event": err.kind().as_str(), "error": err.to_string() }));
    }
    crate::cli_io::report(program, err);
    exit_code(err.exit_code())
}

/// A process exit code as `ExitCode` (the codes used here all fit in a byte).
pub(crate) fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn say_config(program: &str, targets: &[Target], policy: &Policy, output: Output) {
    let duration =
        |d: Option<Duration>, none: &str| d.map_or_else(|| none.to_owned(), |d| format!("{d:?}"));
    let names: Vec<&str> = targets.iter().map(Target::name).collect();
    match output {
        Output::Human => eprintln!(
            "{program}: waiting for {}; deadline {}, start interval {}, start backoff {}, interval {} ({}), probe timeout {}, retries {}, start period {}, success threshold {}",
            names.join(", "),
            duration(policy.deadline(), "none"),
            duration(Some(policy.start_interval()), ""),
            policy
                .start_backoff()
                .map_or_else(|| "off".to_owned(), |b| b.to_string()),
            duration(Some(policy.interval()), ""),
            policy.cadence(),
            duration(Some(policy.timeout()), ""),
            policy.retries(),
            duration(policy.start_period(), "whole wait"),
            policy.success_threshold(),
        ),
        Output::Json => json_line(&serde_json::json!({
            "event": "config",
            "targets": names,
            "deadline_ms": policy.deadline().map(|d| d.as_millis() as u64),
            "start_interval_ms": policy.start_interval().as_millis() as u64,
            "start_backoff": policy.start_backoff().map(|b| b.to_string()),
            "cadence": policy.cadence().to_string(),
            "interval_ms": policy.interval().as_millis() as u64,
            "probe_timeout_ms": policy.timeout().as_millis() as u64,
            "retries": policy.retries(),
            "start_period_ms": policy.start_period().map(|d| d.as_millis() as u64),
            "success_threshold": policy.success_threshold(),
        })),
        Output::Quiet => {}
    }
}

fn on_event(
    program: &str,
    output: Output,
    last_failure: &Mutex<HashMap<usize, String>>,
    event: &Event,
) {
    match &event.kind {
        EventKind::Probed {
            failure: Some(failure),
            ..
        } => {
            let message = failure.to_string();
            let mut last = last_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.get(&event.index) == Some(&message) {
                return;
            }
            last.insert(event.index, message.clone());
            match output {
                Output::Human => eprintln!("{program}: {} not ready: {message}", event.target),
                Output::Json => json_line(&serde_json::json!({
                    "event": "not_ready",
                    "target": &*event.target,
                    "attempt": event.attempt,
                    "elapsed_ms": event.elapsed.as_secs_f64() * 1000.0,
                    "failure": message,
                })),
                Output::Quiet => {}
            }
        }
        EventKind::Changed { from, to } => match output {
            Output::Human => {
                let verb = if *to == Health::Healthy {
                    "ready"
                } else {
                    "unhealthy"
                };
                eprintln!(
                    "{program}: {} {verb} after {} attempt(s), {}",
                    event.target,
                    event.attempt,
                    ms(event.elapsed)
                );
            }
            Output::Json => json_line(&serde_json::json!({
                "event": "health",
                "target": &*event.target,
                "from": from.to_string(),
                "to": to.to_string(),
                "attempt": event.attempt,
                "elapsed_ms": event.elapsed.as_secs_f64() * 1000.0,
            })),
            Output::Quiet => {}
        },
        EventKind::Probed {
            steps,
            failure: None,
            ..
        } if output == Output::Json && !steps.is_empty() => {
            json_line(&serde_json::json!({
                "event": "passed",
                "target": &*event.target,
                "steps": steps,
            }));
        }
        _ => {}
    }
}

pub(crate) fn json_line(value: &serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1000.0)
}

/// Replaces this process with `command`, with `env` added to its environment; returns
/// `code` if there is no command, `127`/`126` if it cannot be found/run.
pub(crate) fn exec_or_exit(
    program: &str,
    command: &[String],
    env: &[(String, String)],
    code: i32,
) -> ExitCode {
    let Some((cmd, args)) = command.split_first() else {
        return exit_code(code);
    };
    let _ = std::io::stdout().flush();
    let error = std::process::Command::new(cmd)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .exec();
    eprintln!("{program}: cannot run `{cmd}`: {error}");
    exit_code(if error.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}
