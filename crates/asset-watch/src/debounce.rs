//! When a burst of file-system events becomes one batch.
//!
//! A batch is released once events have been quiet for `quiet`, or `max_wait` after its
//! first event, whichever comes first: an editor's save (several events within a
//! millisecond or two) becomes one run after a short quiet gap, and a process that writes
//! without pause still gets a run at least every `max_wait`. Pure logic, no clock reads.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(crate) struct Debounce {
    quiet: Duration,
    max_wait: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Debounce {
    pub(crate) fn new(quiet: Duration, max_wait: Duration) -> Self {
        Self {
            quiet,
            max_wait: max_wait.max(quiet),
            first: None,
            last: None,
        }
    }

    /// An event that counts arrived at `now`.
    pub(crate) fn record(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// When the pending batch is due, if there is one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + self.quiet).min(first + self.max_wait))
    }

    /// The batch was released.
    pub(crate) fn reset(&mut self) {
        self.first = None;
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn nothing_pending_means_no_deadline() {
        assert_eq!(Debounce::new(10 * MS, 100 * MS).deadline(), None);
    }

    #[test]
    fn quiet_gap_slides_with_each_event() {
        let t = Instant::now();
        let mut d = Debounce::new(10 * MS, 100 * MS);
        d.record(t);
        assert_eq!(d.deadline(), Some(t + 10 * MS));
        d.record(t + 5 * MS);
        assert_eq!(d.deadline(), Some(t + 15 * MS));
        d.reset();
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn continuous_events_are_capped_by_max_wait() {
        let t = Instant::now();
        let mut d = Debounce::new(10 * MS, 100 * MS);
        for i in 0..50 {
            d.record(t + i * 3 * MS);
        }
        assert_eq!(d.deadline(), Some(t + 100 * MS));
    }

    #[test]
    fn max_wait_is_never_shorter_than_quiet() {
        let t = Instant::now();
        let mut d = Debounce::new(50 * MS, 10 * MS);
        d.record(t);
        assert_eq!(d.deadline(), Some(t + 50 * MS));
    }
}
