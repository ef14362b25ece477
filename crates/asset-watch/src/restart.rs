//! Restarting a failed process, with exponential backoff and a limit.

use std::time::Duration;

/// Restarting a process that failed (non-zero exit or killed by a signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restart {
    /// How many restarts at most (`u32::MAX`: no limit).
    pub tries: u32,
    /// Delay before the first restart; doubled each time.
    pub delay: Duration,
    /// The delay never grows beyond this.
    pub max_delay: Duration,
}

impl Restart {
    /// Never restart (the default).
    #[must_use]
    pub fn never() -> Self {
        Self {
            tries: 0,
            delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }

    /// Restart up to `tries` times.
    #[must_use]
    pub fn tries(tries: u32) -> Self {
        Self {
            tries,
            ..Self::never()
        }
    }

    /// Restart without limit.
    #[must_use]
    pub fn forever() -> Self {
        Self::tries(u32::MAX)
    }

    /// Sets the backoff: `delay` before the first restart, doubling up to `max_delay`.
    #[must_use]
    pub fn backoff(mut self, delay: Duration, max_delay: Duration) -> Self {
        self.delay = delay;
        self.max_delay = max_delay.max(delay);
        self
    }

    /// The delay before restart number `n` (from 0).
    #[must_use]
    pub fn delay_for(&self, n: u32) -> Duration {
        self.delay
            .checked_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

impl Default for Restart {
    fn default() -> Self {
        Self::never()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Restart::tries(10).backoff(Duration::from_millis(100), Duration::from_secs(1));
        let d: Vec<u128> = (0..6).map(|n| r.delay_for(n).as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(r.delay_for(40), Duration::from_secs(1));
    }
}
