//! How a side-by-side run ended, and which exit code that means.
//!
//! Processes the supervisor stopped itself (forwarded signal, kill-others) never count as
//! failures: only processes that ended on their own decide the code.

use crate::error::{Error, Result};
use crate::process::{Exit, StopSignal};

/// Which exits decide the supervisor's exit code (concurrently's `--success`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Success {
    /// 0 if every process that ended on its own succeeded; otherwise the code of the
    /// first that failed.
    #[default]
    All,
    /// The code of the first process to end on its own.
    First,
    /// The code of the last process to end on its own.
    Last,
    /// The code of the named process, or the process at this index when no process has
    /// that name (0 if it was stopped by the supervisor).
    Named(String),
    /// Like `All`, ignoring the named process.
    AllExcept(String),
}

impl std::str::FromStr for Success {
    type Err = Error;

    /// `all`, `first`, `last`, `command-NAME`, `!command-NAME` (concurrently's syntax).
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "all" => Self::All,
            "first" => Self::First,
            "last" => Self::Last,
            _ => {
                if let Some(name) = s.strip_prefix("!command-") {
                    Self::AllExcept(name.to_owned())
                } else if let Some(name) = s.strip_prefix("command-") {
                    Self::Named(name.to_owned())
                } else {
                    return Err(Error::config(format!(
                        "unknown success condition `{s}` (use all, first, last, command-NAME or !command-NAME)"
                    )));
                }
            }
        })
    }
}

/// How one process or watch job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessOutcome {
    /// Its name.
    pub name: String,
    /// How its (last) process ended; `None` for a watch job stopped cleanly or a process
    /// that never started.
    pub exit: Option<Exit>,
    /// True when the supervisor stopped it (signal forwarded, kill-others).
    pub stopped: bool,
    /// Restarts made.
    pub restarts: u32,
    /// Position in the order of endings (0 first).
    pub order: usize,
    /// How long its last run took, when it ran.
    pub duration: Option<std::time::Duration>,
}

impl ProcessOutcome {
    /// Ended by itself (not stopped by us) with a known status.
    pub(crate) fn natural(&self) -> Option<Exit> {
        if self.stopped { None } else { self.exit }
    }
}

/// How the supervisor's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// One entry per process and watch job, in configuration order.
    pub processes: Vec<ProcessOutcome>,
    /// The signal that ended the run, if one did.
    pub signal: Option<StopSignal>,
    pub(crate) success: Success,
}

impl Outcome {
    /// The process with this name, else at this index (`command-0` in concurrently).
    fn find(&self, id: &str) -> Option<&ProcessOutcome> {
        self.processes
            .iter()
            .find(|p| p.name == id)
            .or_else(|| id.parse::<usize>().ok().and_then(|i| self.processes.get(i)))
    }

    /// The exit code the supervisor should end with: 128 + the signal after a signal,
    /// otherwise the code chosen by the [`Success`] rule (a real code, not just 0/1).
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        if let Some(sig) = self.signal {
            return 128 + sig.number();
        }
        let mut by_order: Vec<&ProcessOutcome> = self.processes.iter().collect();
        by_order.sort_by_key(|p| p.order);
        let first_failure = |skip: Option<&str>| {
            by_order
                .iter()
                .filter(|p| Some(p.name.as_str()) != skip)
                .filter_map(|p| p.natural())
                .find(|e| !e.success())
                .map_or(0, Exit::code)
        };
        match &self.success {
            Success::All => first_failure(None),
            Success::AllExcept(name) => first_failure(self.find(name).map(|p| p.name.as_str())),
            Success::First => by_order
                .iter()
                .find_map(|p| p.natural())
                .map_or(0, Exit::code),
            Success::Last => by_order
                .iter()
                .rev()
                .find_map(|p| p.natural())
                .map_or(0, Exit::code),
            Success::Named(name) => self
                .find(name)
                .and_then(ProcessOutcome::natural)
                .map_or(0, Exit::code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(success: Success, procs: &[(&str, Option<Exit>, bool, usize)]) -> Outcome {
        Outcome {
            processes: procs
                .iter()
                .map(|&(name, exit, stopped, order)| ProcessOutcome {
                    name: name.into(),
                    exit,
                    stopped,
                    restarts: 0,
                    order,
                    duration: None,
                })
                .collect(),
            signal: None,
            success,
        }
    }

    const OK: Option<Exit> = Some(Exit::Code(0));
    const E3: Option<Exit> = Some(Exit::Code(3));
    const KILLED: Option<Exit> = Some(Exit::Signal(9));

    #[test]
    fn all_returns_the_first_real_failure_code() {
        let o = outcome(
            Success::All,
            &[
                ("a", OK, false, 1),
                ("b", E3, false, 2),
                ("c", KILLED, false, 0),
            ],
        );
        assert_eq!(o.exit_code(), 137);
        let o = outcome(Success::All, &[("a", OK, false, 0), ("b", E3, false, 1)]);
        assert_eq!(o.exit_code(), 3);
        let o = outcome(
            Success::All,
            &[("a", OK, false, 0), ("b", Some(Exit::Signal(15)), true, 1)],
        );
        assert_eq!(o.exit_code(), 0, "processes we stopped are not failures");
    }

    #[test]
    fn first_last_named_and_all_except() {
        let procs = [
            ("a", E3, false, 1),
            ("b", OK, false, 0),
            ("c", Some(Exit::Code(5)), false, 2),
        ];
        assert_eq!(outcome(Success::First, &procs).exit_code(), 0);
        assert_eq!(outcome(Success::Last, &procs).exit_code(), 5);
        assert_eq!(outcome(Success::Named("a".into()), &procs).exit_code(), 3);
        assert_eq!(
            outcome(Success::AllExcept("a".into()), &procs).exit_code(),
            5
        );
        let procs = [("a", E3, false, 0), ("b", OK, false, 1)];
        assert_eq!(
            outcome(Success::AllExcept("a".into()), &procs).exit_code(),
            0
        );
    }

    #[test]
    fn a_signal_wins_with_the_shell_code() {
        let mut o = outcome(Success::All, &[("a", E3, false, 0)]);
        o.signal = Some(StopSignal::Int);
        assert_eq!(o.exit_code(), 130);
    }
}
