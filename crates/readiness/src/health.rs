//! The health state machine: Docker HEALTHCHECK rules plus Kubernetes' success threshold.
//! It only counts; it never sleeps or probes, so every rule is unit-tested without time.

use std::fmt;
use std::time::{Duration, Instant};

use crate::policy::Policy;

/// A target's health, as Docker reports a container's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Health {
    /// Never yet healthy (fewer than `success_threshold` successes in a row so far);
    /// failures of probes begun inside the start period do not count.
    Starting,
    /// `success_threshold` probes in a row passed.
    Healthy,
    /// `retries` counted failures in a row.
    Unhealthy,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Starting => "starting",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        })
    }
}

/// Counts probe results for one target and says when its health changes.
#[derive(Clone, Debug)]
pub(crate) struct Tracker {
    policy: Policy,
    started_at: Instant,
    health: Health,
    failing_streak: u32,
    success_streak: u32,
}

impl Tracker {
    pub(crate) fn new(policy: &Policy, started_at: Instant) -> Self {
        Self {
            policy: policy.clone(),
            started_at,
            health: Health::Starting,
            failing_streak: 0,
            success_streak: 0,
        }
    }

    pub(crate) fn health(&self) -> Health {
        self.health
    }

    /// Records the result of a probe that began at `probe_start`; returns the new health
    /// if it changed.
    pub(crate) fn record(&mut self, passed: bool, probe_start: Instant) -> Option<Health> {
        let before = self.health;
        if passed {
            // Docker: any success resets the failing streak.
            self.failing_streak = 0;
            self.success_streak = self.success_streak.saturating_add(1);
            if self.success_streak >= self.policy.success_threshold {
                self.health = Health::Healthy;
            }
        } else {
            self.success_streak = 0;
            // Docker keys the grace on the status still being "starting" (moby
            // `handleProbeResult`), not on "no success yet": a success below the success
            // threshold leaves the target starting, so the grace goes on.
            let in_grace = self.health == Health::Starting && self.in_start_period(probe_start);
            if !in_grace {
                self.failing_streak = self.failing_streak.saturating_add(1);
                if self.failing_streak >= self.policy.retries {
                    self.health = Health::Unhealthy;
                }
            }
        }
        (self.health != before).then_some(self.health)
    }

    /// The delay before the next probe, decided at `now` (after the last result was
    /// recorded, as Docker's `getInterval` is).
    pub(crate) fn next_delay(&self, now: Instant) -> Duration {
        cadence(
            &self.policy,
            now.saturating_duration_since(self.started_at),
            self.health == Health::Starting,
        )
    }

    fn in_start_period(&self, at: Instant) -> bool {
        match self.policy.start_period {
            None => true,
            Some(period) => at.saturating_duration_since(self.started_at) < period,
        }
    }
}

/// Docker's `getInterval`: `start_interval` while the target is starting and the start
/// period runs, `interval` otherwise; plus the start backoff, which slows the start
/// interval once the target has been starting for a while. One function serves the
/// tracker and [`crate::Schedule`].
pub(crate) fn cadence(policy: &Policy, elapsed: Duration, starting: bool) -> Duration {
    let in_period = policy.start_period.is_none_or(|period| elapsed < period);
    if !(starting && in_period) {
        return policy.interval;
    }
    match policy.start_backoff {
        Some(backoff) if elapsed >= backoff.after => policy.start_interval.max(backoff.interval),
        _ => policy.start_interval,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: u32, start_period: Option<Duration>, success_threshold: u32) -> Policy {
        let mut builder = Policy::builder()
            .retries(retries)
            .success_threshold(success_threshold);
        builder = match start_period {
            Some(p) => builder.start_period(p),
            None => builder.start_period_whole_wait(),
        };
        builder.build().unwrap()
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn failures_inside_the_start_period_do_not_count() {
        let t0 = Instant::now();
        let mut t = Tracker::new(&policy(2, Some(10 * SEC), 1), t0);
        for i in 0..100 {
            assert_eq!(t.record(false, t0 + SEC / 10 * i), None);
        }
        assert_eq!(t.health(), Health::Starting);
        // After the period, the streak counts: 2 failures make it unhealthy.
        assert_eq!(t.record(false, t0 + 11 * SEC), None);
        assert_eq!(t.record(false, t0 + 12 * SEC), Some(Health::Unhealthy));
    }

    #[test]
    fn after_becoming_healthy_failures_count_even_inside_the_start_period() {
        let t0 = Instant::now();
        let mut t = Tracker::new(&policy(2, Some(100 * SEC), 1), t0);
        assert_eq!(t.record(true, t0 + SEC), Some(Health::Healthy));
        assert_eq!(t.record(false, t0 + 2 * SEC), None);
        assert_eq!(t.record(false, t0 + 3 * SEC), Some(Health::Unhealthy));
    }

    #[test]
    fn a_success_below_the_threshold_leaves_the_target_starting_and_in_grace() {
        // The bug of issue 13: one success then failures was unhealthy inside the period.
        for start_period in [Some(100 * SEC), None] {
            let t0 = Instant::now();
            let mut t = Tracker::new(&policy(1, start_period, 2), t0);
            assert_eq!(t.record(true, t0), None);
            assert_eq!(t.health(), Health::Starting);
            for i in 1..50 {
                assert_eq!(t.record(false, t0 + SEC * i), None, "{start_period:?}");
            }
            assert_eq!(t.record(true, t0 + 60 * SEC), None);
            assert_eq!(t.record(true, t0 + 61 * SEC), Some(Health::Healthy));
        }
        // After the period the same failures count.
        let t0 = Instant::now();
        let mut t = Tracker::new(&policy(1, Some(10 * SEC), 2), t0);
        assert_eq!(t.record(true, t0), None);
        assert_eq!(t.record(false, t0 + 11 * SEC), Some(Health::Unhealthy));
    }

    #[test]
    fn an_unhealthy_target_is_out_of_grace_even_inside_the_start_period() {
        // Docker's TestHealthStates: retries 1, start period 0 is the start; here a
        // target that became unhealthy (after a success and failures) inside a long start
        // period counts its failures, because its status is no longer "starting".
        let t0 = Instant::now();
        let mut t = Tracker::new(&policy(1, Some(100 * SEC), 1), t0);
        assert_eq!(t.record(true, t0), Some(Health::Healthy));
        assert_eq!(t.record(false, t0 + SEC), Some(Health::Unhealthy));
        assert_eq!(t.record(true, t0 + 2 * SEC), Some(Health::Healthy));
        assert_eq!(t.record(false, t0 + 3 * SEC), Some(Health::Unhealthy));
    }

    #[test]
    fn a_success_resets_the_failing_streak() {
        let t0 = Instant::now();
        let mut t = Tracker::new(&policy(3, Some(Duration::ZERO), 1), t0);
        assert_eq!(t.record(false, t0), None);
        assert_eq!(t.record(false, t0), None);
        assert_eq!(t.record(true, t0), Some(Health::Healthy));
        assert_eq!(t.record(false, t0), None);
        assert_eq!(t.record(false, t0), None);
        assert_eq!(t.record(true, t0), None);
        assert_eq!(t.health(), Health::Healthy);
        for _ in 0..2 {
            assert_eq!(t.record(false, t0), None);
        }
        assert_eq!(t.record(false, t0), Some(Health::Unhealthy));
        // Docker: whenever a check passes it becomes healthy again.
        assert_eq!(t.record(true, t0), Some(Health::Healthy));
    }

    #[test]
    fn success_threshold_needs_consecutive_successes() {
        let t0 = Instant::now();
        let mut t = Tracker::new(&policy(3, None, 3), t0);
        assert_eq!(t.record(true, t0), None);
        assert_eq!(t.record(true, t0), None);
        assert_eq!(t.record(false, t0), None);
        assert_eq!(t.record(true, t0), None);
        assert_eq!(t.record(true, t0), None);
        assert_eq!(t.record(true, t0), Some(Health::Healthy));
    }

    #[test]
    fn whole_wait_start_period_never_gives_up_before_the_first_success() {
        let t0 = Instant::now();
        let mut t = Tracker::new(&policy(1, None, 1), t0);
        for i in 0..1000 {
            assert_eq!(t.record(false, t0 + SEC * i), None);
        }
        assert_eq!(t.health(), Health::Starting);
    }

    #[test]
    fn cadence_is_start_interval_while_starting_in_the_period_then_interval() {
        let p = Policy::builder()
            .interval(SEC)
            .start_interval(Duration::from_millis(10))
            .start_period(5 * SEC)
            .build()
            .unwrap();
        assert_eq!(cadence(&p, SEC / 2, true), Duration::from_millis(10));
        assert_eq!(cadence(&p, 6 * SEC, true), SEC);
        assert_eq!(cadence(&p, SEC / 2, false), SEC);
        let t0 = Instant::now();
        let mut t = Tracker::new(&p, t0);
        assert_eq!(t.next_delay(t0), Duration::from_millis(10));
        // The start backoff (default 1s:20ms) slows the start interval after 1 s.
        assert_eq!(t.next_delay(t0 + 2 * SEC), Duration::from_millis(20));
        t.record(true, t0);
        assert_eq!(t.next_delay(t0), SEC);
    }

    #[test]
    fn start_backoff_is_a_floor_and_can_be_switched_off() {
        let p = Policy::builder().start_interval(5 * SEC).build().unwrap();
        assert_eq!(
            cadence(&p, 10 * SEC, true),
            5 * SEC,
            "a longer start interval is kept"
        );
        let p = Policy::builder().start_backoff(None).build().unwrap();
        assert_eq!(cadence(&p, 100 * SEC, true), Duration::from_millis(10));
    }
}
