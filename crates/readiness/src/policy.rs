//! When to probe and when to give up: Docker HEALTHCHECK semantics with a fast default.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::health::cadence;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_START_INTERVAL: Duration = Duration::from_millis(10);
const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
const DEFAULT_START_BACKOFF: StartBackoff = StartBackoff {
    after: Duration::from_secs(1),
    interval: Duration::from_millis(20),
};

/// How often to probe, how long one probe may take, and when a target counts as healthy
/// or unhealthy.
///
/// The rules are Docker's HEALTHCHECK rules (moby `daemon/health.go`) plus Kubernetes'
/// success threshold:
///
/// - `timeout`: one probe taking longer fails, with the crate's own message
///   (`no answer within the probe timeout (2s)`) whatever client the probe uses.
/// - `start_period`: a failure whose probe began inside it does not count while the
///   target is still *starting*, that is until it first becomes healthy (with a
///   `success_threshold` above 1, a success below the threshold leaves it starting, so
///   the grace goes on). `None` (the default) means the start period lasts for the whole
///   wait, so a wait ends only when the target is ready or the deadline passes.
/// - `start_interval`: the cadence while the target is starting and the start period
///   runs; `interval` otherwise (once healthy, in monitor mode, or after the period).
/// - `cadence`: whether the next probe is due an interval after the previous one
///   *finished* (Docker, the default) or after it *started* (Kubernetes); see [`Cadence`].
/// - `retries`: this many counted failures in a row make the target unhealthy.
/// - `success_threshold` (Kubernetes): this many successes in a row make it healthy.
/// - `deadline`: the overall bound of a wait, which holds even against a server that
///   accepts connections and never answers.
/// - `start_backoff`: after a target has been starting for a while, the start interval
///   slows to a floor, to save CPU on a service that is not coming up soon.
///
/// As in Docker, `0` for `interval`, `timeout`, `start_interval` or `retries` means the
/// default; as in Kubernetes, a `success_threshold` of `0` means 1. The builder applies
/// this, so the accessors of a built policy return the values in effect.
///
/// A policy is built by [`Policy::builder`], which validates, and read through its
/// accessors (a CLI prints the policy in effect); [`Policy::to_builder`] starts a builder
/// from an existing policy.
///
/// Every difference from Docker and from Kubernetes is listed in the crate's README
/// ("Differences from Docker and Kubernetes"), each with the test that shows it.
///
/// The defaults (`start_interval` 10 ms, slowing to 20 ms after 1 s, `interval` 1 s,
/// `timeout` 2 s, `retries` 3, `success_threshold` 1, whole-wait start period, `deadline`
/// 30 s, Docker's cadence) notice a service within milliseconds of it becoming ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Cadence once healthy or after the start period.
    pub(crate) interval: Duration,
    /// Longest time one probe may take.
    pub(crate) timeout: Duration,
    /// Counted failures in a row that make a target unhealthy.
    pub(crate) retries: u32,
    /// Grace period for failures while the target is starting; `None` = the whole wait.
    pub(crate) start_period: Option<Duration>,
    /// Cadence while starting inside the start period.
    pub(crate) start_interval: Duration,
    /// How the start interval slows for a target that has been starting for a while;
    /// `None` keeps `start_interval` for the whole start period (as Docker does).
    pub(crate) start_backoff: Option<StartBackoff>,
    /// What an interval is counted from.
    pub(crate) cadence: Cadence,
    /// Successes in a row that make a target healthy.
    pub(crate) success_threshold: u32,
    /// Overall deadline of a wait; `None` waits for ever.
    pub(crate) deadline: Option<Duration>,
}

/// What the delay between two probes is counted from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cadence {
    /// Docker's rule (the default): the next probe is due one interval after the previous
    /// one *finished*, so a slow or hung service is never probed back to back, and
    /// `--interval 30s --timeout 30s --retries 3` gives up on a hung service after the
    /// same number of seconds as Docker (minus Docker's initial wait).
    #[default]
    AfterFinish,
    /// Kubernetes' rule (`periodSeconds` is a ticker): the next probe is due one interval
    /// after the previous one was *due*. A probe slower than the interval is followed at
    /// once by the next, without a burst to catch up (as a Go ticker drops ticks).
    FixedRate,
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AfterFinish => "after-finish",
            Self::FixedRate => "fixed-rate",
        })
    }
}

impl FromStr for Cadence {
    type Err = Error;

    /// `after-finish` (or `docker`), `fixed-rate` (or `kubernetes`, `k8s`).
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "after-finish" | "docker" => Ok(Self::AfterFinish),
            "fixed-rate" | "kubernetes" | "k8s" => Ok(Self::FixedRate),
            _ => Err(Error::InvalidPolicy {
                field: "cadence",
                reason: format!(
                    "`{text}` is not `after-finish` (Docker) or `fixed-rate` (Kubernetes)"
                ),
            }),
        }
    }
}

/// Slows the start interval of a target that has been starting for `after`: from then on
/// probes are at least `interval` apart. It trades a few milliseconds of detection
/// latency on slow starters for CPU: see the crate README for the measured figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct StartBackoff {
    /// How long a target must have been starting before the start interval slows.
    pub after: Duration,
    /// The slower start interval (a floor: a longer `start_interval` is kept).
    pub interval: Duration,
}

impl StartBackoff {
    /// Slow to `interval` after `after`.
    #[must_use]
    pub fn new(after: Duration, interval: Duration) -> Self {
        Self { after, interval }
    }

    /// Parses `AFTER:INTERVAL` (`1s:20ms`); `off` (or `none`, `0`) means no backoff.
    ///
    /// # Errors
    /// [`Error::InvalidPolicy`] naming `start_backoff`, or [`Error::InvalidDuration`].
    pub fn parse(text: &str) -> Result<Option<Self>> {
        let text = text.trim();
        if matches!(text.to_ascii_lowercase().as_str(), "off" | "none" | "0") {
            return Ok(None);
        }
        let (after, interval) = text.split_once(':').ok_or_else(|| Error::InvalidPolicy {
            field: "start_backoff",
            reason: format!("`{text}` is not AFTER:INTERVAL (e.g. `1s:20ms`) or `off`"),
        })?;
        Ok(Some(Self::new(
            crate::parse_duration(after)?,
            crate::parse_duration(interval)?,
        )))
    }
}

impl fmt::Display for StartBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            humantime::format_duration(self.after),
            humantime::format_duration(self.interval)
        )
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            start_period: None,
            start_interval: DEFAULT_START_INTERVAL,
            start_backoff: Some(DEFAULT_START_BACKOFF),
            cadence: Cadence::AfterFinish,
            success_threshold: DEFAULT_SUCCESS_THRESHOLD,
            deadline: Some(DEFAULT_DEADLINE),
        }
    }
}

impl Policy {
    /// Starts a builder from the defaults.
    pub fn builder() -> PolicyBuilder {
        Self::default().to_builder()
    }

    /// Cadence once healthy or after the start period.
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Longest time one probe may take.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Counted failures in a row that make a target unhealthy.
    #[must_use]
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Grace period for failures while the target is starting; `None` = the whole wait.
    #[must_use]
    pub fn start_period(&self) -> Option<Duration> {
        self.start_period
    }

    /// Cadence while starting inside the start period.
    #[must_use]
    pub fn start_interval(&self) -> Duration {
        self.start_interval
    }

    /// How the start interval slows for a target that has been starting for a while;
    /// `None` keeps `start_interval` for the whole start period (as Docker does).
    #[must_use]
    pub fn start_backoff(&self) -> Option<StartBackoff> {
        self.start_backoff
    }

    /// What an interval is counted from.
    #[must_use]
    pub fn cadence(&self) -> Cadence {
        self.cadence
    }

    /// Successes in a row that make a target healthy.
    #[must_use]
    pub fn success_threshold(&self) -> u32 {
        self.success_threshold
    }

    /// Overall deadline of a wait; `None` waits for ever.
    #[must_use]
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// A builder holding this policy's settings, to derive a changed policy.
    pub fn to_builder(&self) -> PolicyBuilder {
        PolicyBuilder {
            policy: self.clone(),
        }
    }

    /// The probe schedule as an owned iterator of delays between probes; see [`Schedule`].
    #[must_use]
    pub fn schedule(&self) -> Schedule {
        Schedule {
            policy: self.clone(),
            created: Instant::now(),
            starting: true,
        }
    }

    /// Docker reads `0` as "the default" for its interval, timeout, start interval and
    /// retries (`timeoutWithDefault`, `retries <= 0`); Kubernetes defaults a
    /// `successThreshold` of 0 to 1. Applied by the builder.
    fn with_defaults_for_zero(mut self) -> Self {
        if self.interval.is_zero() {
            self.interval = DEFAULT_INTERVAL;
        }
        if self.timeout.is_zero() {
            self.timeout = DEFAULT_TIMEOUT;
        }
        if self.start_interval.is_zero() {
            self.start_interval = DEFAULT_START_INTERVAL;
        }
        if self.retries == 0 {
            self.retries = DEFAULT_RETRIES;
        }
        if self.success_threshold == 0 {
            self.success_threshold = DEFAULT_SUCCESS_THRESHOLD;
        }
        if self.start_backoff.is_some_and(|b| b.interval.is_zero()) {
            self.start_backoff = None;
        }
        self
    }

    /// Every setting out of range, not just the first: one error whose `field` is the
    /// first such setting and whose reason goes on with the others
    /// (`interval must be …; timeout must be …`).
    fn validate(&self) -> Result<()> {
        let mut problems: Vec<(&'static str, String)> = Vec::new();
        let mut at_least_1ms = |field: &'static str, value: Duration| {
            if value < Duration::from_millis(1) {
                problems.push((
                    field,
                    format!(
                        "must be 0 (the default) or at least 1ms, got {value:?} (probes are \
                         scheduled on a millisecond timer)"
                    ),
                ));
            }
        };
        at_least_1ms("interval", self.interval);
        at_least_1ms("timeout", self.timeout);
        at_least_1ms("start_interval", self.start_interval);
        if let Some(backoff) = self.start_backoff
            && backoff.interval < Duration::from_millis(1)
        {
            problems.push((
                "start_backoff",
                format!(
                    "interval must be 0 (no backoff) or at least 1ms, got {:?}",
                    backoff.interval
                ),
            ));
        }
        if let Some(deadline) = self.deadline
            && deadline < Duration::from_millis(1)
        {
            problems.push((
                "deadline",
                format!(
                    "must be at least 1ms, got {deadline:?} (use no_deadline() to wait for \
                     ever)"
                ),
            ));
        }
        let mut problems = problems.into_iter();
        let Some((field, first)) = problems.next() else {
            return Ok(());
        };
        let reason = std::iter::once(first)
            .chain(problems.map(|(field, reason)| format!("{field} {reason}")))
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::InvalidPolicy { field, reason })
    }
}

/// Builds a [`Policy`]; [`PolicyBuilder::build`] validates it.
#[derive(Clone, Debug)]
#[must_use]
pub struct PolicyBuilder {
    policy: Policy,
}

impl PolicyBuilder {
    /// Cadence once healthy or after the start period (Docker `--interval`); `0` means
    /// the default (1 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.policy.interval = interval;
        self
    }

    /// Longest time one probe may take (Docker `--timeout`); `0` means the default (2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = timeout;
        self
    }

    /// Counted failures in a row that make a target unhealthy (Docker `--retries`); `0`
    /// means the default (3), as in Docker.
    pub fn retries(mut self, retries: u32) -> Self {
        self.policy.retries = retries;
        self
    }

    /// Grace period for failures while the target is starting (Docker `--start-period`).
    pub fn start_period(mut self, start_period: Duration) -> Self {
        self.policy.start_period = Some(start_period);
        self
    }

    /// Makes the start period last for the whole wait (the default).
    pub fn start_period_whole_wait(mut self) -> Self {
        self.policy.start_period = None;
        self
    }

    /// Cadence while starting (Docker `--start-interval`); `0` means the default (10 ms).
    pub fn start_interval(mut self, start_interval: Duration) -> Self {
        self.policy.start_interval = start_interval;
        self
    }

    /// Slows the start interval to `backoff.interval` once a target has been starting for
    /// `backoff.after` (default `1s:20ms`); `None` keeps `start_interval` throughout, as
    /// Docker does.
    pub fn start_backoff(mut self, backoff: Option<StartBackoff>) -> Self {
        self.policy.start_backoff = backoff;
        self
    }

    /// What an interval is counted from: the end of the previous probe (Docker, the
    /// default) or its start (Kubernetes).
    pub fn cadence(mut self, cadence: Cadence) -> Self {
        self.policy.cadence = cadence;
        self
    }

    /// Successes in a row that make a target healthy (Kubernetes `successThreshold`);
    /// `0` means 1, as in Kubernetes.
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

    /// Applies the zero-means-default rule, then validates: durations are 0 or at least
    /// 1 ms, the deadline at least 1 ms.
    ///
    /// # Errors
    /// [`Error::InvalidPolicy`] naming every setting out of range and why (`field` is the
    /// first of them).
    pub fn build(self) -> Result<Policy> {
        let policy = self.policy.with_defaults_for_zero();
        policy.validate()?;
        Ok(policy)
    }
}

/// The probe cadence as an owned, endless `Iterator<Item = Duration>`: each item is the
/// delay before the next probe, counted as the policy's [`Cadence`] says (from the end of
/// the previous probe by default).
///
/// Seen from outside the state machine (as a plain iterator, e.g. handed to `backon`,
/// whose `Backoff` is any such iterator) the target is starting until
/// [`Schedule::mark_started`] is called: it yields `start_interval` while the start period
/// runs (slowed by the start backoff once it applies) and `interval` after it, as Docker
/// does.
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
    fn validation_reports_every_setting_out_of_range_at_once() {
        let err = Policy::builder()
            .interval(Duration::from_micros(500))
            .timeout(Duration::from_nanos(1))
            .deadline(Duration::ZERO)
            .build()
            .unwrap_err();
        let Error::InvalidPolicy { field, reason } = &err else {
            panic!("{err}");
        };
        assert_eq!(*field, "interval");
        let text = err.to_string();
        assert!(
            text.starts_with("invalid policy: interval must be"),
            "{text}"
        );
        assert!(reason.contains("; timeout must be"), "{text}");
        assert!(reason.contains("; deadline must be at least 1ms"), "{text}");
        assert!(!reason.contains("start_interval"), "{text}");
    }

    #[test]
    fn to_builder_changes_one_setting_and_keeps_the_rest() {
        let base = Policy::builder()
            .interval(Duration::from_secs(5))
            .no_deadline()
            .build()
            .unwrap();
        let changed = base.to_builder().retries(7).build().unwrap();
        assert_eq!(changed.retries(), 7);
        assert_eq!(changed.interval(), Duration::from_secs(5));
        assert_eq!(changed.deadline(), None);
        assert_eq!(base.retries(), 3);
    }

    #[test]
    fn defaults_are_valid_and_fast() {
        let p = Policy::builder().build().unwrap();
        assert_eq!(p, Policy::default());
        assert!(p.start_interval <= Duration::from_millis(10));
        assert_eq!(p.start_period, None);
        assert_eq!(p.cadence, Cadence::AfterFinish);
    }

    #[test]
    fn zero_means_the_default_as_in_docker_and_kubernetes() {
        let p = Policy::builder()
            .retries(0)
            .interval(Duration::ZERO)
            .timeout(Duration::ZERO)
            .start_interval(Duration::ZERO)
            .success_threshold(0)
            .build()
            .unwrap();
        assert_eq!(p, Policy::default());
        assert_eq!(p.retries, 3);
    }

    #[test]
    fn out_of_range_settings_are_named_with_the_reason() {
        let err = Policy::builder()
            .start_interval(Duration::from_micros(500))
            .build()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("start_interval"), "{text}");
        assert!(text.contains("0 (the default) or at least 1ms"), "{text}");
        let err = Policy::builder()
            .deadline(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("no_deadline"), "{err}");
    }

    #[test]
    fn cadence_and_backoff_parse() {
        assert_eq!("docker".parse::<Cadence>().unwrap(), Cadence::AfterFinish);
        assert_eq!("fixed-rate".parse::<Cadence>().unwrap(), Cadence::FixedRate);
        let err = "sometimes".parse::<Cadence>().unwrap_err();
        assert!(err.to_string().contains("cadence"), "{err}");
        assert_eq!(StartBackoff::parse("off").unwrap(), None);
        assert_eq!(
            StartBackoff::parse("2s:50ms").unwrap(),
            Some(StartBackoff::new(
                Duration::from_secs(2),
                Duration::from_millis(50)
            ))
        );
        assert!(StartBackoff::parse("2s").is_err());
        assert_eq!(DEFAULT_START_BACKOFF.to_string(), "1s:20ms");
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
