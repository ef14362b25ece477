//! What a wait found out about each target.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::health::Health;
use crate::probe::ProbeFailure;

/// One target's state: in a [`Report`] when ready, in an error when not.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TargetStatus {
    /// The target, password masked.
    pub target: Arc<str>,
    /// Its health when the wait ended.
    pub health: Health,
    /// Probes started, including one still running when the wait ended.
    pub attempts: u32,
    /// Time from the start of the wait to the target's last change of health (becoming
    /// healthy or unhealthy), or to the end of the wait (or now, for a monitor) while it
    /// is still starting.
    pub elapsed: Duration,
    /// The last probe failure, if a probe failed.
    pub last_failure: Option<ProbeFailure>,
    /// How long the probe still running when this status was taken had been running: in
    /// a timeout error, the probe the deadline cut off. `None` if no probe was running.
    pub in_flight: Option<Duration>,
    /// When the running probe began (internal: `in_flight` is computed from it).
    pub(crate) probe_started: Option<Instant>,
}

impl TargetStatus {
    pub(crate) fn new(target: Arc<str>) -> Self {
        Self {
            target,
            health: Health::Starting,
            attempts: 0,
            elapsed: Duration::ZERO,
            last_failure: None,
            in_flight: None,
            probe_started: None,
        }
    }

    /// "3 attempts in 1.2s, last failure: connection refused"; with a probe cut off by
    /// the deadline: "2 attempts in 300.4ms (attempt 2 had no answer after 290.1ms when
    /// the wait ended), last failure: connection refused".
    #[must_use]
    pub fn describe(&self) -> String {
        let plural = if self.attempts == 1 { "" } else { "s" };
        let mut text = format!(
            "{} attempt{plural} in {}",
            self.attempts,
            format_elapsed(self.elapsed)
        );
        if let Some(running) = self.in_flight {
            text.push_str(&format!(
                " (attempt {} had no answer after {} when the wait ended)",
                self.attempts,
                format_elapsed(running)
            ));
        }
        if let Some(failure) = &self.last_failure {
            text.push_str(", last failure: ");
            text.push_str(&failure.to_string());
        }
        text
    }
}

/// The outcome of a successful wait.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// Every target, in the order given.
    pub targets: Vec<TargetStatus>,
    /// Time from the start of the wait until the last target became healthy.
    pub elapsed: Duration,
}

/// Milliseconds with one decimal below 10 s, humantime-rounded above: the precision a
/// reader needs.
pub(crate) fn format_elapsed(elapsed: Duration) -> String {
    if elapsed < Duration::from_secs(10) {
        format!("{:.1}ms", elapsed.as_secs_f64() * 1000.0)
    } else {
        humantime::format_duration(Duration::from_millis(
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        ))
        .to_string()
    }
}
