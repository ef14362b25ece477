//! Running processes and watch jobs side by side (what `concurrently` does), with
//! prefixed output, success rules that return real exit codes, restart, input routing,
//! and signals forwarded to every process group.
//!
//! Ctrl-C (SIGINT), SIGTERM and SIGHUP are forwarded as they are to every group; after the
//! grace period, SIGKILL. A second signal kills at once. The supervisor then exits with
//! 128 + the signal number, like a shell. Children die with the supervisor even when it is
//! SIGKILLed (see the spawner module), and [`Supervisor::run`] returns only when every
//! process it started, and everything those started, is gone.
//!
//! The files: `config` (specs, builder, validation), this file (the run loop), `tasks`
//! (one task per entry: restart loop, watch job), `input` (routing typed lines),
//! `launch` (the seam to real or fake processes), `signals`, `status` (our own lines).

mod config;
mod input;
mod launch;
mod signals;
mod status;
mod tasks;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

pub use config::{KillOthers, ProcessSpec, SupervisorBuilder};

use crate::error::Result;
use crate::outcome::{Outcome, ProcessOutcome};
use crate::output::{Output, Sink};
use crate::prefix::{Fields, Prefix};
use crate::process::{Exit, Stop, StopSignal};
use config::Entry;
use input::{Input, Router};
use launch::Launch;
use signals::Signals;
use tasks::{Phase, ProcessTask};

/// How often adopted orphans that exited are looked for (besides on every SIGCHLD).
const SWEEP: Duration = Duration::from_secs(1);

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
///     .handle_input(true)
///     .build()?
///     .run()
///     .await?;
/// std::process::exit(outcome.exit_code());
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Supervisor {
    config: Arc<SupervisorBuilder>,
    handle_input: bool,
    default_target: usize,
}

impl Supervisor {
    /// Starts a builder.
    pub fn builder() -> SupervisorBuilder {
        SupervisorBuilder::default()
    }

    /// Runs everything until every process has ended, kill-others fires, or a signal
    /// arrives; then stops what is left (leftover background jobs included), runs the
    /// teardown commands, and returns how each entry ended. Must run on a tokio runtime
    /// with the time, I/O and process drivers enabled.
    ///
    /// On Linux the process becomes a child subreaper (`PR_SET_CHILD_SUBREAPER`) for
    /// good: orphaned descendants of the commands are re-parented to it, and the
    /// supervisor reaps the ones it can tie to its own commands.
    ///
    /// # Errors
    /// Signal handlers could not be installed. A process that cannot start or a watch
    /// that fails is reported in the output and the [`Outcome`] instead.
    pub async fn run(self) -> Result<Outcome> {
        let sink = if self.config.group {
            Sink::grouped(Box::new(std::io::stdout()), self.config.entries.len())
        } else {
            Sink::stdout()
        };
        self.run_to(sink, Arc::new(launch::Real), None).await
    }

    /// [`Supervisor::run`] with a chosen sink, launcher and input (our stdin when `None`).
    pub(crate) async fn run_to<L: Launch>(
        self,
        sink: Arc<Sink>,
        launcher: Arc<L>,
        input_source: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
    ) -> Result<Outcome> {
        crate::descendants::become_subreaper();
        let cfg = Arc::clone(&self.config);
        let scope: Arc<str> = crate::descendants::new_scope().into();
        let color = cfg.color.enabled();
        let commands: Vec<String> = cfg.entries.iter().map(Entry::command_line).collect();
        let names: Vec<&str> = cfg.entries.iter().map(Entry::name).collect();
        let fields: Vec<Fields<'_>> = names
            .iter()
            .zip(&commands)
            .enumerate()
            .map(|(index, (name, command))| Fields {
                index,
                name,
                command,
            })
            .collect();
        let prefixes = Prefix::build_all(
            &fields,
            cfg.prefix.as_deref(),
            cfg.timestamp_format.as_deref(),
            &cfg.colors(),
            color,
        )?;
        let (phase_tx, phase_rx) = watch::channel(Phase::Running);
        let mut signals = if cfg.no_signals {
            None
        } else {
            Some(Signals::install()?)
        };

        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for entry in &cfg.entries {
            if matches!(entry, Entry::Process(_)) && self.handle_input {
                let (tx, rx) = mpsc::unbounded_channel::<Input>();
                senders.push(Some(tx));
                receivers.push(Some(rx));
            } else {
                senders.push(None);
                receivers.push(None);
            }
        }
        let mut router = self
            .handle_input
            .then(|| Router::new(&names, self.default_target, senders));
        let mut stdin = if self.handle_input {
            Some(input_source.unwrap_or_else(input::read_stdin))
        } else {
            None
        };
        let permits = cfg.max_processes.map(|n| Arc::new(Semaphore::new(n)));

        let mut set = JoinSet::new();
        for (index, ((entry, prefix), input)) in cfg
            .entries
            .iter()
            .cloned()
            .zip(prefixes)
            .zip(receivers)
            .enumerate()
        {
            let hide = matches!(&entry, Entry::Process(p) if p.hide);
            let output = if cfg.raw {
                Output::Raw
            } else {
                Output::prefixed(Arc::clone(&sink), prefix, color, hide, index)
            };
            let rx = phase_rx.clone();
            let stop = cfg.stop;
            match entry {
                Entry::Process(spec) => {
                    let task = ProcessTask {
                        launcher: Arc::clone(&launcher),
                        output,
                        phase: rx,
                        stop,
                        input,
                        permits: permits.clone(),
                        scope: Arc::clone(&scope),
                    };
                    set.spawn(async move { (index, task.run(spec).await) });
                }
                Entry::Watch { name, watch, job } => {
                    set.spawn(async move {
                        let outcome =
                            tasks::run_watch(name, &watch, &job, output, rx, stop.grace).await;
                        (index, outcome)
                    });
                }
            }
        }

        let adopted = crate::descendants::Adopted::default();
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sigchld =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()).ok();

        let mut outcomes: Vec<Option<ProcessOutcome>> = vec![None; cfg.entries.len()];
        let mut order = 0;
        let mut received: Option<StopSignal> = None;
        let mut killing = false;
        loop {
            tokio::select! {
                joined = set.join_next() => {
                    let Some(joined) = joined else { break };
                    let (index, mut outcome) = match joined {
                        Ok(pair) => pair,
                        // A task panicked: a bug; its processes are still stopped below
                        // and by the guardian at exit.
                        Err(e) => {
                            tracing::error!(error = %e, "supervised task failed");
                            continue;
                        }
                    };
                    outcome.order = order;
                    order += 1;
                    sink.end_entry(index);
                    let failed = outcome.natural().is_some_and(|e| !e.success());
                    let trigger = match cfg.kill_others {
                        KillOthers::Never => false,
                        KillOthers::OnExit => !outcome.stopped,
                        KillOthers::OnFailure => failed,
                    };
                    if trigger && *phase_tx.borrow() == Phase::Running {
                        tracing::debug!(name = %outcome.name, "kill-others: stopping the rest");
                        let _ = phase_tx.send(Phase::Stopping(cfg.stop.signal));
                    }
                    outcomes[index] = Some(outcome);
                }
                sig = signals::recv(&mut signals) => {
                    if received.is_none() {
                        received = Some(sig);
                        let _ = phase_tx.send(Phase::Stopping(sig));
                    } else {
                        killing = true;
                        let _ = phase_tx.send(Phase::Killing);
                    }
                }
                chunk = recv_stdin(&mut stdin) => {
                    let Some(router) = router.as_mut() else { continue };
                    let problems = match chunk {
                        Some(bytes) => router.feed(&bytes),
                        None => {
                            stdin = None;
                            router.end()
                        }
                    };
                    for p in problems {
                        tracing::warn!("{p}");
                    }
                }
                _ = sweep.tick() => adopted.sweep(),
                Some(()) = recv_sigchld(&mut sigchld) => adopted.sweep(),
            }
        }
        // Whatever escaped its run's clean-up (a task that panicked, a process that
        // dropped its token's group): nothing this supervisor started may outlive it.
        let last = if killing {
            Stop::new(StopSignal::Kill, Duration::ZERO)
        } else {
            cfg.stop
        };
        let left = crate::descendants::stop_all(&scope, last).await;
        if left > 0 {
            tracing::info!(processes = left, "stopped leftovers at exit");
        }
        sink.finish();
        let processes: Vec<ProcessOutcome> = outcomes
            .into_iter()
            .zip(&cfg.entries)
            .map(|(o, entry)| {
                o.unwrap_or_else(|| ProcessOutcome {
                    name: entry.name().to_owned(),
                    exit: Some(Exit::Code(1)),
                    stopped: false,
                    restarts: 0,
                    order: usize::MAX,
                    duration: None,
                })
            })
            .collect();
        self.teardown(&sink, &scope).await;
        if cfg.timings && !cfg.raw {
            let table = status::timings_table(&processes, &commands);
            for line in table.lines() {
                sink.line(line);
            }
        }
        Ok(Outcome {
            processes,
            signal: received,
            success: cfg.success.clone(),
        })
    }

    /// Runs the teardown commands one after the other, whatever happened before.
    async fn teardown(&self, sink: &Arc<Sink>, scope: &str) {
        let cfg = &self.config;
        for command in &cfg.teardown {
            let output = if cfg.raw {
                Output::Raw
            } else {
                let prefix = Prefix::build_all(
                    &[Fields {
                        index: cfg.entries.len(),
                        name: "teardown",
                        command: &command.to_string(),
                    }],
                    None,
                    None,
                    &["gray".to_owned()],
                    cfg.color.enabled(),
                );
                match prefix {
                    Ok(mut p) => {
                        Output::prefixed(Arc::clone(sink), p.remove(0), false, false, usize::MAX)
                    }
                    Err(_) => Output::Raw,
                }
            };
            output.status(&format!("running `{command}`"));
            match crate::process::Running::start("teardown", command, &[], &output, cfg.stop, scope)
                .await
            {
                Ok(mut running) => match running.wait().await {
                    Ok(exit) => output.status(&format!("`{command}` {exit}")),
                    Err(e) => output.status(&crate::error::error_chain(&e)),
                },
                Err(e) => output.status(&crate::error::error_chain(&e)),
            }
        }
        sink.finish();
    }
}

/// The next chunk of our stdin; `None` once it ended; never resolves without input.
async fn recv_stdin(stdin: &mut Option<mpsc::UnboundedReceiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match stdin {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_sigchld(sig: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match sig {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
