//! Running a command per batch of changes, with a policy for changes that arrive while it
//! runs.
//!
//! The default policy, [`OnBusy::Queue`], never loses a change: everything that arrives
//! during a run is folded into one follow-up run, which starts as soon as the current one
//! ends. The last state of the files is therefore always built.

use std::future::Future;
use std::time::Duration;

use crate::changes::ChangeSet;
use crate::command::Command;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::process::{Exit, Running, Stop};
use crate::watcher::Watcher;

/// Environment variable holding the changed paths, one per line.
pub const CHANGED_PATHS_ENV: &str = "PREFLIGHT_CHANGED_PATHS";

/// Environment variable saying why the command runs: `initial`, `change` or `rescan`
/// (events were lost: rebuild everything).
pub const CHANGE_KIND_ENV: &str = "PREFLIGHT_CHANGE_KIND";

/// Set to `1` when the path list did not fit ([`MAX_PATHS_ENV_BYTES`]) and was cut.
pub const CHANGED_PATHS_TRUNCATED_ENV: &str = "PREFLIGHT_CHANGED_PATHS_TRUNCATED";

/// Largest path list passed in [`CHANGED_PATHS_ENV`], far below the kernel's limit for
/// one variable (128 KiB).
pub const MAX_PATHS_ENV_BYTES: usize = 64 * 1024;

/// What to do with changes that arrive while the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnBusy {
    /// Let the run finish, then run once more for everything that changed meanwhile.
    #[default]
    Queue,
    /// Stop the run (whole process group: stop signal, grace, SIGKILL) and start again.
    Restart,
    /// Drop the changes.
    Ignore,
}

impl std::str::FromStr for OnBusy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "queue" => Ok(Self::Queue),
            "restart" => Ok(Self::Restart),
            "ignore" | "do-nothing" => Ok(Self::Ignore),
            other => Err(Error::config(format!(
                "unknown on-busy policy `{other}` (use queue, restart or ignore)"
            ))),
        }
    }
}

/// What happened to a job; passed to the callback of [`Job::run`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum JobEvent {
    /// A run started.
    Started {
        /// Run number, from 1.
        run: u64,
        /// Process id (and process group id).
        pid: u32,
        /// The changes it covers.
        changes: ChangeSet,
    },
    /// A run ended, on its own or stopped.
    Finished(RunReport),
    /// Changes arrived while busy and were dropped ([`OnBusy::Ignore`]).
    Dropped {
        /// How many paths were dropped.
        paths: usize,
    },
    /// The command could not be started; the job waits for the next change.
    SpawnFailed {
        /// Run number.
        run: u64,
        /// The error, already formatted with its causes.
        error: String,
    },
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunReport {
    /// Run number, from 1.
    pub run: u64,
    /// How the process ended.
    pub exit: Exit,
    /// From spawn to exit.
    pub duration: Duration,
    /// True when we stopped it (restart or shutdown) rather than it ending on its own.
    pub stopped: bool,
}

/// A command run per batch of changes.
///
/// ```no_run
/// use preflight_asset_watch::{Command, Job, JobEvent, Watch};
/// # async fn demo() -> preflight_asset_watch::Result<()> {
/// let watch = Watch::builder().path("static/css").extensions(["css"]).build()?;
/// let job = Job::builder(Command::shell("npm run build:css")).build();
/// let mut watcher = watch.start()?;
/// job.run(&mut watcher, tokio::signal::ctrl_c(), |event| {
///     if let JobEvent::Finished(report) = event {
///         eprintln!("run {} {} in {:?}", report.run, report.exit, report.duration);
///     }
/// })
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Job {
    name: String,
    command: Command,
    on_busy: OnBusy,
    postpone: bool,
    stop: Stop,
}

/// Builder for [`Job`].
#[derive(Debug, Clone)]
#[must_use]
pub struct JobBuilder {
    job: Job,
}

impl JobBuilder {
    /// A name for messages and errors (default `watch`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.job.name = name.into();
        self
    }

    /// The busy policy (default [`OnBusy::Queue`]).
    pub fn on_busy(mut self, policy: OnBusy) -> Self {
        self.job.on_busy = policy;
        self
    }

    /// Skip the run at start; wait for the first change.
    pub fn postpone(mut self, yes: bool) -> Self {
        self.job.postpone = yes;
        self
    }

    /// How a run is stopped on restart or shutdown (default [`Stop::default`]).
    pub fn stop(mut self, stop: Stop) -> Self {
        self.job.stop = stop;
        self
    }

    /// The job.
    pub fn build(self) -> Job {
        self.job
    }
}

impl Job {
    /// Starts a builder for `command`.
    pub fn builder(command: Command) -> JobBuilder {
        JobBuilder {
            job: Self {
                name: "watch".into(),
                command,
                on_busy: OnBusy::default(),
                postpone: false,
                stop: Stop::default(),
            },
        }
    }

    /// The job's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn command(&self) -> &Command {
        &self.command
    }

    pub(crate) fn named(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Runs until `shutdown` resolves (then stops a running command and returns), with the
    /// command's output on our own stdout/stderr. `on_event` sees every start and end.
    ///
    /// # Errors
    /// The watcher failed (for example the inotify watch limit was reached while adding
    /// a new directory). A command that cannot start is reported through `on_event`.
    pub async fn run(
        &self,
        watcher: &mut Watcher,
        shutdown: impl Future,
        on_event: impl FnMut(JobEvent),
    ) -> Result<()> {
        let shutdown = async move {
            shutdown.await;
            None
        };
        self.run_with(
            watcher,
            &Output::Inherit,
            shutdown,
            std::future::pending(),
            on_event,
        )
        .await
    }

    /// [`Job::run`] with a chosen output and an escalation future (a second Ctrl-C turns
    /// the graceful stop into SIGKILL).
    pub(crate) async fn run_with(
        &self,
        watcher: &mut Watcher,
        output: &Output,
        shutdown: impl Future<Output = Option<Stop>>,
        escalate: impl Future<Output = ()>,
        mut on_event: impl FnMut(JobEvent),
    ) -> Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut escalate = std::pin::pin!(escalate);
        let mut queued = if self.postpone {
            ChangeSet::new()
        } else {
            ChangeSet::initial()
        };
        let mut current: Option<(Running, u64)> = None;
        let mut runs = 0u64;
        let scope = crate::descendants::new_scope();
        loop {
            if current.is_none() && !queued.is_noop() {
                runs += 1;
                let changes = queued.take();
                let env = change_env(&changes);
                match Running::start(&self.name, &self.command, &env, output, self.stop, &scope)
                    .await
                {
                    Ok(running) => {
                        on_event(JobEvent::Started {
                            run: runs,
                            pid: running.pid(),
                            changes,
                        });
                        current = Some((running, runs));
                    }
                    Err(e) => on_event(JobEvent::SpawnFailed {
                        run: runs,
                        error: crate::error::error_chain(&e),
                    }),
                }
            }
            tokio::select! {
                stop = &mut shutdown => {
                    if let Some((mut running, run)) = current.take() {
                        let exit = running.stop(stop.unwrap_or(self.stop), &mut escalate).await?;
                        on_event(JobEvent::Finished(report(run, &running, exit, true)));
                    }
                    return Ok(());
                }
                batch = watcher.next() => {
                    let batch = batch?;
                    match (&mut current, self.on_busy) {
                        (None, _) | (Some(_), OnBusy::Queue) => queued.merge(batch),
                        (Some((running, run)), OnBusy::Restart) => {
                            let exit = running.stop(self.stop, &mut escalate).await?;
                            on_event(JobEvent::Finished(report(*run, running, exit, true)));
                            current = None;
                            queued.merge(batch);
                        }
                        (Some(_), OnBusy::Ignore) => on_event(JobEvent::Dropped { paths: batch.len() }),
                    }
                }
                exit = wait(&mut current) => {
                    let (running, run) = current.take().expect("wait only completes with a run");
                    on_event(JobEvent::Finished(report(run, &running, exit?, false)));
                }
            }
        }
    }
}

async fn wait(current: &mut Option<(Running, u64)>) -> Result<Exit> {
    match current {
        Some((running, _)) => running.wait().await,
        None => std::future::pending().await,
    }
}

fn report(run: u64, running: &Running, exit: Exit, stopped: bool) -> RunReport {
    RunReport {
        run,
        exit,
        duration: running.duration(),
        stopped,
    }
}

/// The variables that tell the command what changed.
fn change_env(changes: &ChangeSet) -> Vec<(String, String)> {
    let kind = if changes.is_rescan() {
        "rescan"
    } else if changes.is_initial() && changes.is_empty() {
        "initial"
    } else {
        "change"
    };
    let mut list = String::new();
    let mut truncated = false;
    for path in changes.paths() {
        let p = path.to_string_lossy();
        if list.len() + p.len() + 1 > MAX_PATHS_ENV_BYTES {
            truncated = true;
            break;
        }
        if !list.is_empty() {
            list.push('\n');
        }
        list.push_str(&p);
    }
    let mut env = vec![
        (CHANGE_KIND_ENV.to_owned(), kind.to_owned()),
        (CHANGED_PATHS_ENV.to_owned(), list),
    ];
    if truncated {
        env.push((CHANGED_PATHS_TRUNCATED_ENV.to_owned(), "1".to_owned()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_env_lists_paths_and_kind() {
        let mut c = ChangeSet::new();
        c.insert("/p/b.css");
        c.insert("/p/a.css");
        let env = change_env(&c);
        assert_eq!(env[0], (CHANGE_KIND_ENV.into(), "change".into()));
        assert_eq!(env[1].1, "/p/a.css\n/p/b.css");
        assert_eq!(env.len(), 2);
        assert_eq!(change_env(&ChangeSet::initial())[0].1, "initial");
    }

    #[test]
    fn change_env_truncates_huge_lists_and_says_so() {
        let mut c = ChangeSet::new();
        for i in 0..10_000 {
            c.insert(format!("/some/fairly/long/project/path/file-{i:05}.css"));
        }
        let env = change_env(&c);
        assert!(env[1].1.len() <= MAX_PATHS_ENV_BYTES);
        assert_eq!(env[2], (CHANGED_PATHS_TRUNCATED_ENV.into(), "1".into()));
    }

    #[test]
    fn on_busy_parses() {
        assert_eq!("restart".parse::<OnBusy>().unwrap(), OnBusy::Restart);
        assert_eq!("do-nothing".parse::<OnBusy>().unwrap(), OnBusy::Ignore);
        assert!(
            "later"
                .parse::<OnBusy>()
                .unwrap_err()
                .to_string()
                .contains("later")
        );
    }
}
