//! Progress events, so a caller can show what each target is doing.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::health::Health;
use crate::probe::ProbeFailure;
use crate::report::format_elapsed;

/// Something that happened to one target.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Event {
    /// The target's position in the list given to the wait.
    pub index: usize,
    /// The target, password masked.
    pub target: Arc<str>,
    /// The attempt this event belongs to (1 for the first probe).
    pub attempt: u32,
    /// Time since the wait (or monitor) started.
    pub elapsed: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] reports.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EventKind {
    /// A probe finished.
    Probed {
        /// How long the probe took.
        took: Duration,
        /// The steps that passed, for multi-step probes such as the QuestDB ladder.
        steps: Vec<String>,
        /// Why it failed; `None` when it passed.
        failure: Option<ProbeFailure>,
    },
    /// The target's health changed.
    Changed {
        /// The health before.
        from: Health,
        /// The health now.
        to: Health,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format_elapsed(self.elapsed);
        match &self.kind {
            EventKind::Probed {
                took,
                steps,
                failure,
            } => {
                write!(f, "{} attempt {} ", self.target, self.attempt)?;
                match failure {
                    None => write!(f, "passed")?,
                    Some(failure) => write!(f, "failed: {failure}")?,
                }
                if !steps.is_empty() {
                    write!(f, " [passed: {}]", steps.join(", "))?;
                }
                write!(f, " (took {}, at {at})", format_elapsed(*took))
            }
            EventKind::Changed { from, to } => write!(
                f,
                "{} is {to} (was {from}) after {} attempt{} at {at}",
                self.target,
                self.attempt,
                if self.attempt == 1 { "" } else { "s" }
            ),
        }
    }
}
