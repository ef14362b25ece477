//! Running processes and watch jobs side by side (what `concurrently` does), with
//! prefixed output, success rules that return real exit codes, restart with backoff, and
//! signals forwarded to every process group.
//!
//! Ctrl-C (SIGINT), SIGTERM and SIGHUP are forwarded as they are to every group; after the
//! grace period, SIGKILL. A second signal kills at once. The supervisor then exits with
//! 128 + the signal number, like a shell. Children die with the supervisor even when it is
//! SIGKILLed (see the spawner module).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::job::{Job, JobEvent};
use crate::outcome::{Outcome, ProcessOutcome, Success};
use crate::output::{ColorChoice, Output, Sink, prefixes};
use crate::process::{Exit, Running, Stop, StopSignal};
use crate::restart::Restart;
use crate::watcher::Watch;

/// When one process ending stops the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KillOthers {
    /// Never; the supervisor ends when everything has ended (or on a signal).
    #[default]
    Never,
    /// When any process ends, whatever its code.
    OnExit,
    /// When a process fails (after its restarts are used up) or a watch job breaks.
    OnFailure,
}

impl std::str::FromStr for KillOthers {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "never" => Ok(Self::Never),
            "on-exit" | "exit" => Ok(Self::OnExit),
            "on-failure" | "on-fail" | "failure" => Ok(Self::OnFailure),
            other => Err(Error::config(format!(
                "unknown kill-others mode `{other}` (use never, on-exit or on-failure)"
            ))),
        }
    }
}

/// A long-running process (a dev server) to run beside the others.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProcessSpec {
    name: String,
    command: Command,
    restart: Restart,
    stdin: bool,
}

impl ProcessSpec {
    /// A process named `name` (used in prefixes and success rules).
    pub fn new(name: impl Into<String>, command: Command) -> Self {
        Self {
            name: name.into(),
            command,
            restart: Restart::never(),
            stdin: false,
        }
    }

    /// Restart policy on failure.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// This process receives what the supervisor reads on its own stdin (concurrently's
    /// `--handle-input`), across restarts. At most one process may. Others read nothing
    /// (`/dev/null`): they run in their own process groups, where reading the terminal
    /// would stop them.
    pub fn stdin(mut self, yes: bool) -> Self {
        self.stdin = yes;
        self
    }
}

#[derive(Debug, Clone)]
enum Entry {
    Process(ProcessSpec),
    Watch {
        name: String,
        watch: Watch,
        job: Job,
    },
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Self::Process(p) => &p.name,
            Self::Watch { name, .. } => name,
        }
    }
}

/// Processes and watch jobs run side by side.
///
/// ```no_run
/// use preflight_asset_watch::{Command, Job, KillOthers, ProcessSpec, Restart, Supervisor, Watch};
/// # async fn demo() -> preflight_asset_watch::Result<()> {
/// let css = Watch::builder().path("static/css").extensions(["css"]).build()?;
/// let outcome = Supervisor::builder()
///     .watch("css", css, Job::builder(Command::shell("npm run build:css")).build())
///     .process(ProcessSpec::new("server", Command::shell("npm start")).restart(Restart::tries(3)))
///     .kill_others(KillOthers::OnFailure)
///     .build()?
///     .run()
///     .await?;
/// std::process::exit(outcome.exit_code());
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Supervisor {
    entries: Vec<Entry>,
    success: Success,
    kill_others: KillOthers,
    color: ColorChoice,
    stop: Stop,
    handle_signals: bool,
}

/// Builder for [`Supervisor`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SupervisorBuilder {
    entries: Vec<Entry>,
    success: Success,
    kill_others: KillOthers,
    color: ColorChoice,
    stop: Stop,
    no_signals: bool,
}

impl SupervisorBuilder {
    /// Adds a long-running process.
    pub fn process(mut self, spec: ProcessSpec) -> Self {
        self.entries.push(Entry::Process(spec));
        self
    }

    /// Adds a watch job: `job` runs on every batch of changes from `watch`.
    pub fn watch(mut self, name: impl Into<String>, watch: Watch, job: Job) -> Self {
        self.entries.push(Entry::Watch {
            name: name.into(),
            watch,
            job,
        });
        self
    }

    /// Which exits decide the exit code (default [`Success::All`]).
    pub fn success(mut self, success: Success) -> Self {
        self.success = success;
        self
    }

    /// When one process ending stops the others (default [`KillOthers::Never`]).
    pub fn kill_others(mut self, mode: KillOthers) -> Self {
        self.kill_others = mode;
        self
    }

    /// Prefix colours (default [`ColorChoice::Auto`]).
    pub fn color(mut self, color: ColorChoice) -> Self {
        self.color = color;
        self
    }

    /// How processes are stopped by kill-others; on SIGINT/SIGTERM/SIGHUP the received
    /// signal is forwarded instead, with the same grace period.
    pub fn stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Whether [`Supervisor::run`] handles SIGINT, SIGTERM and SIGHUP (default `true`).
    pub fn handle_signals(mut self, yes: bool) -> Self {
        self.no_signals = !yes;
        self
    }

    /// Validates names and rules; every problem is listed.
    pub fn build(self) -> Result<Supervisor> {
        let mut problems = Vec::new();
        if self.entries.is_empty() {
            problems.push("nothing to run: add a process or a watch job".to_owned());
        }
        let mut seen = HashSet::new();
        for entry in &self.entries {
            let name = entry.name();
            if name.trim().is_empty() {
                problems.push("a process has an empty name".to_owned());
            } else if !seen.insert(name) {
                problems.push(format!("two processes are named `{name}`"));
            }
        }
        let readers: Vec<&str> = self
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Process(p) if p.stdin => Some(p.name.as_str()),
                _ => None,
            })
            .collect();
        if readers.len() > 1 {
            problems.push(format!(
                "only one process can read stdin, not {}",
                readers.join(", ")
            ));
        }
        if let Success::Named(n) | Success::AllExcept(n) = &self.success
            && !seen.contains(n.as_str())
        {
            problems.push(format!(
                "success condition names `{n}`, which is not a process"
            ));
        }
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        Ok(Supervisor {
            entries: self.entries,
            success: self.success,
            kill_others: self.kill_others,
            color: self.color,
            stop: self.stop,
            handle_signals: !self.no_signals,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Stopping(StopSignal),
    Killing,
}

impl Supervisor {
    /// Starts a builder.
    pub fn builder() -> SupervisorBuilder {
        SupervisorBuilder::default()
    }

    /// Runs everything until every process has ended, kill-others fires, or a signal
    /// arrives; returns how each ended. Must run on a tokio runtime with the time, I/O
    /// and process drivers enabled.
    ///
    /// # Errors
    /// Signal handlers could not be installed. A process that cannot start or a watch
    /// that fails is reported in the output and the [`Outcome`] instead.
    pub async fn run(self) -> Result<Outcome> {
        self.run_to(Sink::stdout()).await
    }

    pub(crate) async fn run_to(self, sink: Arc<Sink>) -> Result<Outcome> {
        let color = self.color.enabled();
        let names: Vec<&str> = self.entries.iter().map(Entry::name).collect();
        let prefixes = prefixes(&names, color);
        let (phase_tx, phase_rx) = watch::channel(Phase::Running);
        let mut signals = if self.handle_signals {
            Some(Signals::install()?)
        } else {
            None
        };

        let mut input = self
            .entries
            .iter()
            .any(|e| matches!(e, Entry::Process(p) if p.stdin))
            .then(forward_stdin);
        let mut set = JoinSet::new();
        for (index, (entry, prefix)) in self.entries.iter().cloned().zip(prefixes).enumerate() {
            let output = Output::Prefixed {
                sink: Arc::clone(&sink),
                prefix,
                color,
            };
            let rx = phase_rx.clone();
            let grace = self.stop.grace;
            let input = match &entry {
                Entry::Process(p) if p.stdin => input.take(),
                _ => None,
            };
            set.spawn(async move {
                let outcome = match entry {
                    Entry::Process(spec) => run_process(spec, output, rx, grace, input).await,
                    Entry::Watch { name, watch, job } => {
                        run_watch(name, &watch, &job, output, rx, grace).await
                    }
                };
                (index, outcome)
            });
        }

        let mut outcomes: Vec<Option<ProcessOutcome>> = vec![None; self.entries.len()];
        let mut order = 0;
        let mut received: Option<StopSignal> = None;
        loop {
            tokio::select! {
                joined = set.join_next() => {
                    let Some(joined) = joined else { break };
                    let (index, mut outcome) = match joined {
                        Ok(pair) => pair,
                        // A task panicked: a bug, but its group is still stopped by the
                        // guardian at exit; report it as a failure.
                        Err(e) => {
                            tracing::error!(error = %e, "supervised task failed");
                            continue;
                        }
                    };
                    outcome.order = order;
                    order += 1;
                    let failed = outcome.natural().is_some_and(|e| !e.success());
                    let trigger = match self.kill_others {
                        KillOthers::Never => false,
                        KillOthers::OnExit => !outcome.stopped,
                        KillOthers::OnFailure => failed,
                    };
                    if trigger && *phase_tx.borrow() == Phase::Running {
                        tracing::debug!(name = %outcome.name, "kill-others: stopping the rest");
                        let _ = phase_tx.send(Phase::Stopping(self.stop.signal));
                    }
                    outcomes[index] = Some(outcome);
                }
                sig = recv(&mut signals) => {
                    if received.is_none() {
                        received = Some(sig);
                        let _ = phase_tx.send(Phase::Stopping(sig));
                    } else {
                        let _ = phase_tx.send(Phase::Killing);
                    }
                }
            }
        }
        sink.finish();
        let processes = outcomes
            .into_iter()
            .zip(&self.entries)
            .map(|(o, entry)| {
                o.unwrap_or_else(|| ProcessOutcome {
                    name: entry.name().to_owned(),
                    exit: Some(Exit::Code(1)),
                    stopped: false,
                    restarts: 0,
                    order: usize::MAX,
                })
            })
            .collect();
        Ok(Outcome {
            processes,
            signal: received,
            success: self.success,
        })
    }
}

/// Resolves once the supervisor starts stopping, with the stop to apply.
async fn stopping(rx: &mut watch::Receiver<Phase>, grace: Duration) -> Stop {
    match rx.wait_for(|p| *p != Phase::Running).await.map(|p| *p) {
        Ok(Phase::Stopping(sig)) => Stop::new(sig, grace),
        // Killing, or the supervisor is gone: no grace.
        _ => Stop::new(StopSignal::Kill, Duration::ZERO),
    }
}

/// Resolves when a second signal asks to kill at once.
async fn killing(mut rx: watch::Receiver<Phase>) {
    let _ = rx.wait_for(|p| *p == Phase::Killing).await;
}

async fn run_process(
    spec: ProcessSpec,
    output: Output,
    mut rx: watch::Receiver<Phase>,
    grace: Duration,
    mut input: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
) -> ProcessOutcome {
    let mut outcome = ProcessOutcome {
        name: spec.name.clone(),
        exit: None,
        stopped: false,
        restarts: 0,
        order: 0,
    };
    loop {
        let mut running =
            match Running::start(&spec.name, &spec.command, &[], &output, spec.stdin).await {
                Ok(r) => r,
                Err(e) => {
                    output.status(&crate::filter::error_chain(&e));
                    // 127: the shell's "command not found".
                    outcome.exit = Some(Exit::Code(127));
                    return outcome;
                }
            };
        if spec.stdin && input.is_none() {
            // Our input already ended: the restarted process sees end of input at once.
            running.close_input();
        }
        let exit = loop {
            tokio::select! {
                exit = running.wait() => break exit,
                chunk = recv_input(&mut input) => match chunk {
                    Some(bytes) => running.feed(bytes),
                    None => {
                        running.close_input();
                        input = None;
                    }
                },
                stop = stopping(&mut rx, grace) => {
                    let exit = running.stop(stop, killing(rx.clone())).await;
                    if let Ok(exit) = exit {
                        output.status(&format!("stopped ({exit})"));
                    }
                    outcome.exit = exit.ok();
                    outcome.stopped = true;
                    return outcome;
                }
            }
        };
        let exit = match exit {
            Ok(exit) => exit,
            Err(e) => {
                output.status(&crate::filter::error_chain(&e));
                outcome.exit = Some(Exit::Code(1));
                return outcome;
            }
        };
        outcome.exit = Some(exit);
        output.status(&format!(
            "{exit} after {}",
            fmt_duration(running.duration())
        ));
        if exit.success() || outcome.restarts >= spec.restart.tries {
            return outcome;
        }
        let delay = spec.restart.delay_for(outcome.restarts);
        outcome.restarts += 1;
        let limit = if spec.restart.tries == u32::MAX {
            String::new()
        } else {
            format!("/{}", spec.restart.tries)
        };
        output.status(&format!(
            "restarting in {} ({}{limit})",
            fmt_duration(delay),
            outcome.restarts
        ));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stopping(&mut rx, grace) => return outcome,
        }
    }
}

/// Reads our stdin on a plain thread (a blocked read must not hold up runtime shutdown;
/// the thread simply ends with the process) and hands the bytes over.
fn forward_stdin() -> mpsc::UnboundedReceiver<Vec<u8>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("preflight-stdin".into())
        .spawn(move || {
            use std::io::Read as _;
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 8192];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot read stdin for the input process");
    }
    rx
}

/// The next chunk of input; `None` once input ended; never resolves without input.
async fn recv_input(input: &mut Option<mpsc::UnboundedReceiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match input {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn run_watch(
    name: String,
    watch: &Watch,
    job: &Job,
    output: Output,
    mut rx: watch::Receiver<Phase>,
    grace: Duration,
) -> ProcessOutcome {
    let mut outcome = ProcessOutcome {
        name,
        exit: None,
        stopped: true,
        restarts: 0,
        order: 0,
    };
    let started = Instant::now();
    // The walk blocks; keep it off the runtime's workers. (No child is spawned from this
    // short-lived thread: children are always forked by the spawner thread.)
    let walk = watch.clone();
    let started_watch = tokio::task::spawn_blocking(move || walk.start())
        .await
        .unwrap_or_else(|e| Err(Error::config(format!("watch set-up panicked: {e}"))));
    let mut watcher = match started_watch {
        Ok(w) => w,
        Err(e) => {
            output.status(&crate::filter::error_chain(&e));
            outcome.exit = Some(Exit::Code(1));
            outcome.stopped = false;
            return outcome;
        }
    };
    output.status(&format!(
        "watching {} director{} ({})",
        watcher.watch_count(),
        if watcher.watch_count() == 1 {
            "y"
        } else {
            "ies"
        },
        fmt_duration(started.elapsed())
    ));
    let shutdown_rx = rx.clone();
    let job = job.clone().named(&outcome.name);
    let result = job
        .run_with(
            &mut watcher,
            &output,
            async move {
                let mut rx = shutdown_rx;
                Some(stopping(&mut rx, grace).await)
            },
            killing(rx.clone()),
            |event| report_job_event(&output, &event),
        )
        .await;
    if let Err(e) = result {
        output.status(&crate::filter::error_chain(&e));
        outcome.exit = Some(Exit::Code(1));
        outcome.stopped = false;
    }
    let _ = rx.borrow_and_update();
    outcome
}

/// One status line per job event; shared by the supervisor and the `watch` example's
/// style of reporting.
pub(crate) fn report_job_event(output: &Output, event: &JobEvent) {
    match event {
        JobEvent::Started { changes, .. } if changes.is_rescan() => {
            output.status("events were lost: rebuilding everything");
        }
        JobEvent::Started { changes, .. } => {
            if let Some(first) = changes.paths().next() {
                let name = first
                    .file_name()
                    .unwrap_or(first.as_os_str())
                    .to_string_lossy();
                match changes.len() {
                    1 => output.status(&format!("changed: {name}")),
                    n => output.status(&format!("changed: {name} and {} more", n - 1)),
                }
            }
        }
        JobEvent::Dropped { paths } => {
            output.status(&format!("busy: ignored {paths} changed paths"));
        }
        JobEvent::Finished(r) if r.stopped => output.status(&format!("stopped ({})", r.exit)),
        JobEvent::Finished(r) => output.status(&format!(
            "{} {} in {}",
            if r.exit.success() { "done:" } else { "failed:" },
            r.exit,
            fmt_duration(r.duration)
        )),
        JobEvent::SpawnFailed { error, .. } => output.status(error),
    }
}

/// `12 ms`, `1.25 s`: short, for status lines.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt()).map_err(Error::Signals)?,
            term: signal(SignalKind::terminate()).map_err(Error::Signals)?,
            hup: signal(SignalKind::hangup()).map_err(Error::Signals)?,
        })
    }
}

async fn recv(signals: &mut Option<Signals>) -> StopSignal {
    let Some(s) = signals else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = s.int.recv() => StopSignal::Int,
        _ = s.term.recv() => StopSignal::Term,
        _ = s.hup.recv() => StopSignal::Hup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_kill_others_parse() {
        assert_eq!(
            "command-web".parse::<Success>().unwrap(),
            Success::Named("web".into())
        );
        assert_eq!(
            "!command-web".parse::<Success>().unwrap(),
            Success::AllExcept("web".into())
        );
        assert!("most".parse::<Success>().is_err());
        assert_eq!(
            "on-failure".parse::<KillOthers>().unwrap(),
            KillOthers::OnFailure
        );
    }

    proptest::proptest! {
        /// The small parsers behind CLI flags and config values never panic.
        #[test]
        fn flag_parsers_never_panic(s in "\\PC*") {
            let _ = s.parse::<Success>();
            let _ = s.parse::<KillOthers>();
            let _ = s.parse::<StopSignal>();
            let _ = s.parse::<crate::job::OnBusy>();
        }

        /// Named rules round-trip through concurrently's syntax.
        #[test]
        fn named_success_rules_round_trip(name in "[a-z][a-z0-9_-]{0,12}") {
            proptest::prop_assert_eq!(
                format!("command-{name}").parse::<Success>().unwrap(),
                Success::Named(name.clone())
            );
            proptest::prop_assert_eq!(
                format!("!command-{name}").parse::<Success>().unwrap(),
                Success::AllExcept(name)
            );
        }
    }

    #[test]
    fn only_one_process_may_read_stdin() {
        let err = Supervisor::builder()
            .process(ProcessSpec::new("a", Command::shell("cat")).stdin(true))
            .process(ProcessSpec::new("b", Command::shell("cat")).stdin(true))
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("only one process can read stdin, not a, b"),
            "{err}"
        );
    }

    #[test]
    fn build_lists_every_problem() {
        let err = Supervisor::builder()
            .process(ProcessSpec::new("a", Command::shell("true")))
            .process(ProcessSpec::new("a", Command::shell("true")))
            .success(Success::Named("zz".into()))
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("two processes are named `a`") && err.contains("`zz`"),
            "{err}"
        );
    }
}
