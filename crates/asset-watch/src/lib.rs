//! Rebuild assets when their sources change, and run dev processes side by side, with no
//! lost change and no orphan process.
//!
//! Three pieces, usable alone or together:
//!
//! * **Watching** ([`Watch`] → [`Watcher`]): kernel notifications (inotify) or polling,
//!   debounced into [`ChangeSet`]s. Ignored trees (`.git`, `node_modules`, `target`,
//!   `.gitignore`/`.ignore` rules, your globs) are pruned *before* any watch is
//!   registered, so a huge `node_modules` costs nothing. Editors' atomic saves, deleted
//!   and re-created files and new directories are seen; a kernel queue overflow becomes a
//!   rescan batch, never a silent loss; hitting the inotify limit is an error naming the
//!   sysctl to raise.
//! * **Running** ([`Job`]): a command per batch, at start unless postponed; changes during
//!   a run are queued into one follow-up run (or restart / ignore, see [`OnBusy`]). Each
//!   run is its own process group: stop signal, grace, SIGKILL to the whole group; what
//!   a run leaves behind (background jobs, `setsid` or double-forked daemons, found by
//!   the token in [`RUN_ID_ENV`]) is stopped when it ends. The changed paths are in
//!   [`CHANGED_PATHS_ENV`]; exit status and duration are reported.
//! * **Side by side** ([`Supervisor`]): what `concurrently` does, under its option names:
//!   named processes and watch jobs with prefixes from templates and colours,
//!   line-buffered output that keeps partial lines and `\r` progress readable, raw,
//!   hidden and grouped output, kill-others, success rules with real exit codes,
//!   restart, max processes, teardown, timings, typed input routed by `name:` prefix;
//!   every process keeps an open stdin. SIGINT / SIGTERM / SIGHUP are forwarded to every
//!   group. The supervisor is a child subreaper and returns only when every descendant
//!   is gone; children die with it even if it is SIGKILLed (Linux parent-death signal
//!   plus a guardian for grandchildren and escapees).
//!
//! # Example
//!
//! ```
//! use preflight_asset_watch::{Command, Job, JobEvent, Watch};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let watch = Watch::builder().path(dir.path()).extensions(["css"]).build()?;
//! // The command sees what changed; postponed: no run before the first change.
//! let job = Job::builder(Command::shell("test -n \"$PREFLIGHT_CHANGED_PATHS\""))
//!     .postpone(true)
//!     .build();
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let reports = runtime.block_on(async {
//!     let mut watcher = watch.start()?;
//!     std::fs::write(dir.path().join("app.css"), "body {}")?;
//!     let (done, stop) = tokio::sync::oneshot::channel::<()>();
//!     let mut done = Some(done);
//!     let mut reports = Vec::new();
//!     job.run(&mut watcher, stop, |event| {
//!         if let JobEvent::Finished(report) = event {
//!             reports.push(report);
//!             done.take().map(|tx| tx.send(()));
//!         }
//!     })
//!     .await?;
//!     Ok::<_, Box<dyn std::error::Error>>(reports)
//! })?;
//! assert_eq!(reports.len(), 1);
//! assert!(reports[0].exit.success());
//! # Ok(()) }
//! ```
//!
//! # Crate features
//!
//! * `config`: `DevConfig`, a `dev.toml` describing a [`Supervisor`] (serde + toml), and
//!   `expand_commands`, `concurrently`'s command-line commands (`npm:watch-*` shortcuts
//!   from `package.json`, passthrough arguments; serde_json).
//!
//! # Platform
//!
//! Linux is the target: inotify, process groups, `PR_SET_PDEATHSIG`,
//! `PR_SET_CHILD_SUBREAPER` (set for the whole process at the first command started),
//! `/proc` (to find leftovers by token). Other Unix systems build and use their notify
//! backends, without the parent-death signal and the subreaper. `/bin/sh` runs
//! shell commands and the small guardian that ends grandchildren if the supervisor dies.
//! Everything async runs on a tokio runtime with the time, I/O and process drivers
//! enabled (`enable_all`).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod changes;
mod command;
#[cfg(feature = "config")]
mod config;
mod debounce;
mod descendants;
mod duration;
mod error;
mod filter;
mod job;
mod outcome;
mod output;
mod prefix;
mod process;
mod restart;
#[cfg(feature = "config")]
mod shortcut;
mod spawner;
mod supervisor;
mod walk;
mod watcher;

pub use changes::ChangeSet;
pub use command::Command;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use config::DevConfig;
pub use descendants::RUN_ID_ENV;
pub use duration::parse_duration;
pub use error::{BoxError, Error, Result};
pub use job::{
    CHANGE_KIND_ENV, CHANGED_PATHS_ENV, CHANGED_PATHS_TRUNCATED_ENV, Job, JobBuilder, JobEvent,
    MAX_PATHS_ENV_BYTES, OnBusy, RunReport,
};
pub use outcome::{Outcome, ProcessOutcome, Success};
pub use output::ColorChoice;
pub use prefix::DEFAULT_TIMESTAMP_FORMAT;
pub use process::{Exit, Stop, StopSignal};
pub use restart::Restart;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use shortcut::{ExpandedCommand, expand_commands, read_package_json};
pub use supervisor::{KillOthers, ProcessSpec, Supervisor, SupervisorBuilder};
pub use watcher::{DEFAULT_DEBOUNCE, DEFAULT_MAX_WAIT, Watch, WatchBuilder, Watcher};
