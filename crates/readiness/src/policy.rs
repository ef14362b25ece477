//! When to probe and when to give up: Docker HEALTHCHECK semantics with a fast default.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::health::cadence;

/// How often to probe, how long one probe may take, and when a target counts as healthy
/// or unhealthy.
///
/// The rules are Docker's HEALTHCHECK rules, with two differences that make a wait fast:
/// the first probe runs at once (Docker waits one `interval`), and by default the start
/// period lasts for the whole wait.
///
/// - `timeout`: one probe taking longer fails.
/// - `start_period`: failures inside it do not count, until the first success; after a
///   success every failure counts, even inside the period. `None` (the default) means the
///   start period lasts for the whole wait, so a wait ends only when the target is ready
///   or the deadline passes.
/// - `start_interval`: the cadence while the target is starting and the start period runs.
/// - `interval`: the cadence otherwise (once healthy, in monitor mode, or after the start
///   period). Cadence is measured from the moment one probe was due to the start of the
///   next, so neither a slow probe nor a late timer stretches it (a probe slower than the
///   cadence is followed at once by the next, without a burst to catch up).
/// - `retries`: this many counted failures in a row make the target unhealthy.
/// - `success_threshold` (Kubernetes): this many successes in a row make it healthy.
/// - `deadline`: the overall bound of a wait, which holds even against a server that
///   accepts connections and never answers.
///
/// The defaults (`start_interval` 10 ms, `interval` 1 s, `timeout` 2 s, `retries` 3,
/// `success_threshold` 1, whole-wait start period, `deadline` 30 s) notice a service
/// within milliseconds of it becoming ready.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Cadence once healthy or after the start period.
    pub interval: Duration,
    /// Longest time one probe may take.
    pub timeout: Duration,
    /// Counted failures in a row that make a target unhealthy.
    pub retries: u32,
    /// Grace period for failures before the first success; `None` = the whole wait.
    pub start_period: Option<Duration>,
    /// Cadence while starting inside the start period.
    pub start_interval: Duration,
    /// Successes in a row that make a target healthy.
    pub success_threshold: u32,
    /// Overall deadline of a wait; `None` waits for ever.
    pub deadline: Option<Duration>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            retries: 3,
            start_period: None,
            start_interval: Duration::from_millis(10),
            success_threshold: 1,
            deadline: Some(Duration::from_secs(30)),
        }
    }
}

impl Policy {
    /// Starts a builder from the defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder {
            policy: Self::default(),
        }
    }

    /// The probe schedule as an owned iterator of delays between probe starts; see
    /// [`Schedule`].
    #[must_use]
    pub fn schedule(&self) -> Schedule {
        Schedule {
            policy: self.clone(),
            created: Instant::now(),
            starting: true,
        }
    }

    fn validate(&self) -> Result<()> {
        let positive = |field: &'static str, value: Duration| {
            if value < Duration::from_millis(1) {
                Err(Error::InvalidPolicy {
                    field,
                    reason: format!(
                        "must be at least 1ms, got {}",
                        humantime::format_duration(value)
                    ),
                })
            } else {
                Ok(())
            }
        };
        positive("interval", self.interval)?;
        positive("timeout", self.timeout)?;
        positive("start_interval", self.start_interval)?;
        if let Some(deadline) = self.deadline {
            positive("deadline", deadline)?;
        }
        for (field, value) in [
            ("retries", self.retries),
            ("success_threshold", self.success_threshold),
        ] {
            if value == 0 {
                return Err(Error::InvalidPolicy {
                    field,
                    reason: "must be at least 1".to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Builds a [`Policy`]; [`PolicyBuilder::build`] validates it.
#[derive(Clone, Debug)]
#[must_use]
pub struct PolicyBuilder {
    policy: Policy,
}

impl PolicyBuilder {
    /// Cadence once healthy or after the start period (Docker `--interval`).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.policy.interval = interval;
        self
    }

    /// Longest time one probe may take (Docker `--timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = timeout;
        self
    }

    /// Counted failures in a row that make a target unhealthy (Docker `--retries`).
    pub fn retries(mut self, retries: u32) -> Self {
        self.policy.retries = retries;
        self
    }

    /// Grace period for failures before the first success (Docker `--start-period`).
    pub fn start_period(mut self, start_period: Duration) -> Self {
        self.policy.start_period = Some(start_period);
        self
    }

    /// Makes the start period last for the whole wait (the default).
    pub fn start_period_whole_wait(mut self) -> Self {
        self.policy.start_period = None;
        self
    }

    /// Cadence while starting (Docker `--start-interval`).
    pub fn start_interval(mut self, start_interval: Duration) -> Self {
        self.policy.start_interval = start_interval;
        self
    }

    /// Successes in a row that make a target healthy (Kubernetes `successThreshold`).
    pub fn success_threshold(mut self, success_threshold: u32) -> Self {
        self.policy.success_threshold = success_threshold;
        self
    }

    /// Overall deadline of a wait.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.policy.deadline = Some(deadline);
        self
    }

    /// Waits for ever (monitor mode ignores the deadline anyway).
    pub fn no_deadline(mut self) -> Self {
        self.policy.deadline = None;
        self
    }

    /// Validates the policy: durations at least 1 ms, counts at least 1.
    ///
    /// # Errors
    /// [`Error::InvalidPolicy`] naming the first setting out of range.
    pub fn build(self) -> Result<Policy> {
        self.policy.validate()?;
        Ok(self.policy)
    }
}

/// The probe cadence as an owned, endless `Iterator<Item = Duration>`: each item is the
/// delay from the start of one probe to the start of the next.
///
/// Seen from outside the state machine (as a plain iterator, e.g. handed to `backon`,
/// whose `Backoff` is any such iterator) the target is starting until
/// [`Schedule::mark_started`] is called: it yields `start_interval` while the start period
/// runs and `interval` after it, as Docker does.
///
/// ```
/// use std::time::Duration;
/// use preflight_readiness::Policy;
///
/// let mut schedule = Policy::default().schedule();
/// assert_eq!(schedule.next(), Some(Duration::from_millis(10)));
/// schedule.mark_started();
/// assert_eq!(schedule.next(), Some(Duration::from_secs(1)));
/// ```
#[derive(Clone, Debug)]
pub struct Schedule {
    policy: Policy,
    created: Instant,
    starting: bool,
}

impl Schedule {
    /// Records that the target became healthy: from now on the cadence is `interval`.
    pub fn mark_started(&mut self) {
        self.starting = false;
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(cadence(&self.policy, self.created.elapsed(), self.starting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_fast() {
        let p = Policy::builder().build().unwrap();
        assert_eq!(p, Policy::default());
        assert!(p.start_interval <= Duration::from_millis(10));
        assert_eq!(p.start_period, None);
    }

    #[test]
    fn out_of_range_settings_are_named() {
        let err = Policy::builder().retries(0).build().unwrap_err();
        assert!(err.to_string().contains("retries"), "{err}");
        let err = Policy::builder()
            .start_interval(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("start_interval"), "{err}");
        let err = Policy::builder().success_threshold(0).build().unwrap_err();
        assert!(err.to_string().contains("success_threshold"), "{err}");
    }

    #[test]
    fn schedule_switches_to_interval_after_the_start_period() {
        let p = Policy::builder()
            .start_period(Duration::ZERO)
            .build()
            .unwrap();
        assert_eq!(p.schedule().next(), Some(p.interval));
        let p = Policy::builder()
            .start_period(Duration::from_secs(3600))
            .build()
            .unwrap();
        let delays: Vec<_> = p.schedule().take(3).collect();
        assert_eq!(delays, vec![p.start_interval; 3]);
    }
}
