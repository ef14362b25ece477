//! Waiting: every target probed concurrently on its own schedule, under one hard deadline.
//! The deadline is enforced by dropping the probes' futures, so it holds even when a
//! server accepts a connection and never answers.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::event::{Event, EventKind};
use crate::health::{Health, Tracker};
use crate::policy::{Cadence, Policy};
use crate::probe::{ProbeContext, ProbeFailure};
use crate::report::{Report, TargetStatus};
use crate::target::Target;

type Callback = Arc<dyn Fn(&Event) + Send + Sync>;

/// A wait for a set of targets under one [`Policy`].
///
/// ```
/// use std::time::Duration;
/// use preflight_readiness::{Policy, Target, Wait};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), preflight_readiness::Error> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let port = listener.local_addr().unwrap().port();
/// let report = Wait::new([Target::parse(&format!("127.0.0.1:{port}"))?])
///     .policy(Policy::builder().deadline(Duration::from_secs(10)).build()?)
///     .on_event(|event| eprintln!("{event}"))
///     .run()
///     .await?;
/// assert_eq!(report.targets[0].attempts, 1);
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct Wait {
    targets: Vec<Target>,
    policy: Policy,
    on_event: Option<Callback>,
}

impl fmt::Debug for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("targets", &self.targets)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Wait {
    /// A wait for `targets` with the default policy.
    pub fn new(targets: impl IntoIterator<Item = Target>) -> Self {
        Self {
            targets: targets.into_iter().collect(),
            policy: Policy::default(),
            on_event: None,
        }
    }

    /// Sets the policy (built by [`Policy::builder`], so already validated).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Calls `callback` for every event (each probe, each health change). It runs on the
    /// probing task: keep it quick.
    pub fn on_event(mut self, callback: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }

    /// Waits until every target is healthy. Must run inside a tokio runtime (it spawns
    /// one task per target); cancel-safe: dropping the future stops every probe.
    ///
    /// # Errors
    /// [`Error::Timeout`] when the deadline passes, listing the targets not ready;
    /// [`Error::Unhealthy`] when a target fails `retries` counted probes in a row.
    pub async fn run(self) -> Result<Report> {
        let started = Instant::now();
        let deadline = self.policy.deadline;
        let sink = Sink {
            callback: self.on_event,
            channel: None,
        };
        let mut driven = Driven::spawn(&self.targets, &self.policy, started, &sink, true);
        let all = async {
            while let Some(joined) = driven.tasks.join_next().await {
                match joined {
                    Ok(result) => result?,
                    Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                    Err(_) => {}
                }
            }
            Ok::<(), Error>(())
        };
        let outcome = match deadline {
            Some(limit) => tokio::time::timeout_at(saturating_add(started, limit).into(), all)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Timeout {
                        deadline: limit,
                        pending: Vec::new(),
                    })
                }),
            None => all.await,
        };
        // Stop every probe still running before reading the final state.
        driven.tasks.abort_all();
        let statuses = driven.snapshot(started);
        match outcome {
            Ok(()) => Ok(Report {
                targets: statuses,
                elapsed: started.elapsed(),
            }),
            Err(Error::Timeout { deadline, .. }) => Err(Error::Timeout {
                deadline,
                pending: statuses
                    .into_iter()
                    .filter(|s| s.health != Health::Healthy)
                    .collect(),
            }),
            Err(other) => Err(other),
        }
    }

    /// [`Wait::run`] for synchronous callers (a sync `main`, a build script): builds a
    /// current-thread tokio runtime, runs the wait on it and shuts it down without waiting
    /// for a DNS lookup that may still be stuck in the resolver.
    ///
    /// # Errors
    /// As [`Wait::run`]; [`Error::Runtime`] when called from inside a tokio runtime (use
    /// `run().await` there) or when the runtime cannot be built.
    pub fn run_blocking(self) -> Result<Report> {
        let runtime = current_thread_runtime()?;
        let result = runtime.block_on(self.run());
        runtime.shutdown_background();
        result
    }

    /// Keeps probing after the first success and reports every event, as Docker keeps
    /// running a HEALTHCHECK: see [`Monitor`]. The deadline does not apply.
    ///
    /// # Errors
    /// [`Error::Runtime`] when called outside a tokio runtime.
    pub fn monitor(self) -> Result<Monitor> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Runtime {
                reason: "monitor() must be called inside a tokio runtime".to_owned(),
                source: None,
            });
        }
        let (sender, events) = mpsc::channel(MONITOR_BUFFER);
        let sink = Sink {
            callback: self.on_event,
            channel: Some(sender),
        };
        let started = Instant::now();
        let driven = Driven::spawn(&self.targets, &self.policy, started, &sink, false);
        Ok(Monitor {
            events,
            driven,
            started,
        })
    }
}

/// How many events a monitor buffers before its probes wait for the reader.
const MONITOR_BUFFER: usize = 1024;

pub(crate) fn current_thread_runtime() -> Result<tokio::runtime::Runtime> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::Runtime {
            reason: "called from inside a tokio runtime; use `run().await` there".to_owned(),
            source: None,
        });
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime {
            reason: "cannot build a tokio runtime".to_owned(),
            source: Some(source),
        })
}

/// A running health monitor: the targets are probed until it is dropped, and every event
/// (probes, health transitions) is delivered by [`Monitor::next`]. Events are buffered;
/// when the buffer is full, probing pauses until the reader catches up.
pub struct Monitor {
    events: mpsc::Receiver<Event>,
    driven: Driven,
    started: Instant,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

impl Monitor {
    /// The next event; cancel-safe. `None` only if every probing task has ended.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next health transition, skipping probe events; cancel-safe.
    pub async fn next_change(&mut self) -> Option<Event> {
        loop {
            let event = self.next().await?;
            if matches!(event.kind, EventKind::Changed { .. }) {
                return Some(event);
            }
        }
    }

    /// Every target's current state.
    #[must_use]
    pub fn statuses(&self) -> Vec<TargetStatus> {
        self.driven.snapshot(self.started)
    }
}

/// Where events go.
#[derive(Clone)]
struct Sink {
    callback: Option<Callback>,
    channel: Option<mpsc::Sender<Event>>,
}

impl Sink {
    fn wants_events(&self) -> bool {
        self.callback.is_some() || self.channel.is_some()
    }

    async fn emit(&self, event: Event) {
        if let Some(callback) = &self.callback {
            callback(&event);
        }
        if let Some(channel) = &self.channel {
            // A dropped receiver means nobody listens any more; the monitor's tasks are
            // being aborted anyway.
            let _ = channel.send(event).await;
        }
    }
}

/// The probing tasks of a wait or monitor, and the state they share with it.
struct Driven {
    tasks: JoinSet<Result<()>>,
    statuses: Vec<Arc<Mutex<TargetStatus>>>,
}

impl Driven {
    fn spawn(
        targets: &[Target],
        policy: &Policy,
        started: Instant,
        sink: &Sink,
        until_ready: bool,
    ) -> Self {
        let mut tasks = JoinSet::new();
        let mut statuses = Vec::with_capacity(targets.len());
        for (index, target) in targets.iter().enumerate() {
            let status = Arc::new(Mutex::new(TargetStatus::new(target.shared_name())));
            statuses.push(Arc::clone(&status));
            let driver = Driver {
                index,
                target: target.clone(),
                policy: policy.clone(),
                started,
                status,
                sink: sink.clone(),
                until_ready,
            };
            tasks.spawn(driver.run());
        }
        Self { tasks, statuses }
    }

    fn snapshot(&self, started: Instant) -> Vec<TargetStatus> {
        self.statuses
            .iter()
            .map(|status| {
                let mut status = lock(status).clone();
                if status.health == Health::Starting {
                    status.elapsed = started.elapsed();
                }
                status.in_flight = status.probe_started.map(|since| since.elapsed());
                status
            })
            .collect()
    }
}

fn lock(status: &Mutex<TargetStatus>) -> std::sync::MutexGuard<'_, TargetStatus> {
    // The lock is never held across a panic point that matters; take the data anyway.
    status.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Probes one target until it is ready (or unhealthy), or for ever in monitor mode.
struct Driver {
    index: usize,
    target: Target,
    policy: Policy,
    started: Instant,
    status: Arc<Mutex<TargetStatus>>,
    sink: Sink,
    until_ready: bool,
}

impl Driver {
    async fn run(self) -> Result<()> {
        let mut tracker = Tracker::new(&self.policy, self.started);
        let timeout = self.policy.timeout;
        let mut attempt: u32 = 0;
        // When the next attempt is due; the first one runs at once.
        let mut due = Instant::now();
        loop {
            let probe_start = Instant::now();
            attempt = attempt.saturating_add(1);
            {
                // Counted when it starts, so a probe cut off by the deadline is reported.
                let mut status = lock(&self.status);
                status.attempts = attempt;
                status.probe_started = Some(probe_start);
            }
            let mut cx = ProbeContext::new(timeout);
            let outcome = tokio::time::timeout(timeout, self.target.probe().probe(&mut cx)).await;
            let probe_end = Instant::now();
            let took = probe_end.saturating_duration_since(probe_start);
            let result = match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(failure)) if took < timeout => Err(failure),
                // Our timer fired, or a client's own timer (reqwest, tokio-postgres, redis)
                // set to the same timeout won the race in the same tick: either way the
                // probe ran out of time, and the report says so in one wording.
                _ => Err(ProbeFailure::new(format!(
                    "no answer within the probe timeout ({})",
                    humantime::format_duration(timeout)
                ))),
            };
            let before = tracker.health();
            let changed = tracker.record(result.is_ok(), probe_start);
            let failure = result.err();
            let snapshot = {
                let mut status = lock(&self.status);
                status.probe_started = None;
                status.health = tracker.health();
                if let Some(failure) = &failure {
                    status.last_failure = Some(failure.clone());
                }
                if changed.is_some() {
                    status.elapsed = probe_end.saturating_duration_since(self.started);
                }
                changed.map(|_| status.clone())
            };
            tracing::trace!(target = %self.target, attempt, ?failure, "probed");
            if self.sink.wants_events() {
                self.emit(
                    attempt,
                    EventKind::Probed {
                        took,
                        steps: cx.into_steps(),
                        failure,
                    },
                )
                .await;
            }
            if let (Some(to), Some(snapshot)) = (changed, snapshot) {
                tracing::debug!(target = %self.target, attempt, %before, %to, "health changed");
                if self.sink.wants_events() {
                    self.emit(attempt, EventKind::Changed { from: before, to })
                        .await;
                }
                if self.until_ready {
                    match to {
                        Health::Healthy => return Ok(()),
                        Health::Unhealthy => return Err(Error::Unhealthy { status: snapshot }),
                        Health::Starting => {}
                    }
                }
            }
            let delay = tracker.next_delay(Instant::now());
            due = match self.policy.cadence {
                // Docker: the timer is armed after the result is handled.
                Cadence::AfterFinish => saturating_add(probe_end, delay),
                // Count the delay from when this attempt was due, not from when the timer
                // got round to it: tokio rounds a deadline up to its next millisecond and
                // wakes a little later still. An attempt that overran its slot starts the
                // count afresh from its own start, so a slow probe never causes a burst.
                Cadence::FixedRate => match due.checked_add(delay) {
                    Some(next) if next > Instant::now() => next,
                    _ => saturating_add(probe_start, delay),
                },
            };
            tokio::time::sleep_until(due.into()).await;
        }
    }

    async fn emit(&self, attempt: u32, kind: EventKind) {
        self.sink
            .emit(Event {
                index: self.index,
                target: self.target.shared_name(),
                attempt,
                elapsed: self.started.elapsed(),
                kind,
            })
            .await;
    }
}

/// `at + duration`, or a point ~30 years ahead when that overflows: a deadline or an
/// interval given as `9223372036854775807s` means "never", not a panic.
fn saturating_add(at: Instant, duration: std::time::Duration) -> Instant {
    const FAR: std::time::Duration = std::time::Duration::from_secs(30 * 365 * 86_400);
    at.checked_add(duration.min(FAR)).unwrap_or(at)
}
