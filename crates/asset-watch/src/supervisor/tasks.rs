//! One task per entry: a process with its restart loop, or a watch job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};

use crate::error::Error;
use crate::job::Job;
use crate::outcome::ProcessOutcome;
use crate::output::Output;
use crate::process::{Exit, Stop, StopSignal};
use crate::watcher::Watch;

use super::config::ProcessSpec;
use super::input::Input;
use super::launch::{Launch, Run};
use super::status::{fmt_duration, report_job_event};

/// Where the supervisor is: every task watches it to know when to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    Stopping(StopSignal),
    Killing,
}

/// Resolves once the supervisor starts stopping, with the stop to apply.
pub(crate) async fn stopping(rx: &mut watch::Receiver<Phase>, grace: Duration) -> Stop {
    match rx.wait_for(|p| *p != Phase::Running).await.map(|p| *p) {
        Ok(Phase::Stopping(sig)) => Stop::new(sig, grace),
        // Killing, or the supervisor is gone: no grace.
        _ => Stop::new(StopSignal::Kill, Duration::ZERO),
    }
}

/// Resolves when a second signal asks to kill at once.
pub(crate) async fn killing(mut rx: watch::Receiver<Phase>) {
    let _ = rx.wait_for(|p| *p == Phase::Killing).await;
}

/// The next input for a process; `None` once the router is gone; never resolves
/// without a router.
async fn recv_input(input: &mut Option<mpsc::UnboundedReceiver<Input>>) -> Option<Input> {
    match input {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What a process task needs besides its spec.
pub(crate) struct ProcessTask<L> {
    pub(crate) launcher: Arc<L>,
    pub(crate) output: Output,
    pub(crate) phase: watch::Receiver<Phase>,
    /// The supervisor's stop policy: grace for forwarded signals, and how leftovers die.
    pub(crate) stop: Stop,
    pub(crate) input: Option<mpsc::UnboundedReceiver<Input>>,
    pub(crate) permits: Option<Arc<Semaphore>>,
    pub(crate) scope: Arc<str>,
}

impl<L: Launch> ProcessTask<L> {
    pub(crate) async fn run(mut self, spec: ProcessSpec) -> ProcessOutcome {
        let mut outcome = ProcessOutcome {
            name: spec.name.clone(),
            exit: None,
            stopped: false,
            restarts: 0,
            order: 0,
            duration: None,
        };
        let grace = self.stop.grace;
        // `--max-processes`: wait for a slot, held across restarts.
        let _permit = match self.permits.clone() {
            Some(permits) => tokio::select! {
                permit = permits.acquire_owned() => permit.ok(),
                _ = stopping(&mut self.phase, grace) => {
                    outcome.stopped = true;
                    return outcome;
                }
            },
            None => None,
        };
        let mut input_ended = false;
        loop {
            let mut running = match self
                .launcher
                .start(&spec, &self.output, self.stop, &self.scope)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    self.output.status(&crate::error::error_chain(&e));
                    // 127: the shell's "command not found".
                    outcome.exit = Some(Exit::Code(127));
                    return outcome;
                }
            };
            if input_ended {
                // Our input already ended: the restarted process sees end of input at once.
                running.close_input();
            }
            let exit = loop {
                tokio::select! {
                    exit = running.wait() => break exit,
                    input = recv_input(&mut self.input) => match input {
                        Some(Input::Bytes(bytes)) => running.feed(bytes),
                        Some(Input::End) => {
                            running.close_input();
                            input_ended = true;
                        }
                        None => self.input = None,
                    },
                    stop = stopping(&mut self.phase, grace) => {
                        let exit = running.stop(stop, killing(self.phase.clone())).await;
                        if let Ok(exit) = exit {
                            self.output.status(&format!("stopped ({exit})"));
                        }
                        outcome.exit = exit.ok();
                        outcome.stopped = true;
                        outcome.duration = Some(running.duration());
                        return outcome;
                    }
                }
            };
            outcome.duration = Some(running.duration());
            let exit = match exit {
                Ok(exit) => exit,
                Err(e) => {
                    self.output.status(&crate::error::error_chain(&e));
                    outcome.exit = Some(Exit::Code(1));
                    return outcome;
                }
            };
            outcome.exit = Some(exit);
            self.output.status(&format!(
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
            self.output.status(&format!(
                "restarting in {} ({}{limit})",
                fmt_duration(delay),
                outcome.restarts
            ));
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stopping(&mut self.phase, grace) => {
                    // Stopped while waiting to restart: its failure stands.
                    return outcome;
                }
            }
        }
    }
}

pub(crate) async fn run_watch(
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
        duration: None,
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
            output.status(&crate::error::error_chain(&e));
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
        output.status(&crate::error::error_chain(&e));
        outcome.exit = Some(Exit::Code(1));
        outcome.stopped = false;
    }
    let _ = rx.borrow_and_update();
    outcome
}
