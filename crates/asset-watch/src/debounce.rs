//! When a burst of file-system events becomes one batch.
//!
//! A batch is released once events have been quiet for `quiet`, or `max_wait` after its
//! first event, whichever comes first: an editor's save (several events within a
//! millisecond or two) becomes one run after a short quiet gap, and a process that writes
//! without pause still gets a run at least every `max_wait`. Pure logic, no clock reads.
//!
//! A batch that holds the end of a save (a close after writing, a rename into place, as
//! the watcher judges it) is *settled*: from then on the quiet gap is [`SETTLED_GAP`],
//! just long enough to fold the editor's last steps (deleting a backup) into the same
//! run, so a save starts its run in about a millisecond instead of after `quiet`.

use std::time::{Duration, Instant};

/// The quiet gap once a batch is settled.
pub(crate) const SETTLED_GAP: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
pub(crate) struct Debounce {
    quiet: Duration,
    max_wait: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    settled: bool,
}

impl Debounce {
    pub(crate) fn new(quiet: Duration, max_wait: Duration) -> Self {
        Self {
            quiet,
            max_wait: max_wait.max(quiet),
            first: None,
            last: None,
            settled: false,
        }
    }

    /// The pending batch holds the end of a save: shorten the quiet gap.
    pub(crate) fn settle(&mut self, now: Instant) {
        self.record(now);
        self.settled = true;
    }

    /// An event that counts arrived at `now`.
    pub(crate) fn record(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// When the pending batch is due, if there is one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        let gap = if self.settled {
            SETTLED_GAP.min(self.quiet)
        } else {
            self.quiet
        };
        Some((last + gap).min(first + self.max_wait))
    }

    /// The batch was released.
    pub(crate) fn reset(&mut self) {
        self.first = None;
        self.last = None;
        self.settled = false;
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
    fn a_settled_batch_waits_only_the_settled_gap_after_its_last_event() {
        let t = Instant::now();
        let mut d = Debounce::new(10 * MS, 100 * MS);
        d.record(t);
        d.settle(t + 2 * MS);
        assert_eq!(d.deadline(), Some(t + 2 * MS + SETTLED_GAP));
        // A trailing step of the same save (deleting a backup) still joins the batch.
        d.record(t + 2 * MS + SETTLED_GAP / 2);
        assert_eq!(
            d.deadline(),
            Some(t + 2 * MS + SETTLED_GAP / 2 + SETTLED_GAP)
        );
        d.reset();
        d.record(t);
        assert_eq!(
            d.deadline(),
            Some(t + 10 * MS),
            "the next batch starts unsettled"
        );
    }

    #[test]
    fn max_wait_is_never_shorter_than_quiet() {
        let t = Instant::now();
        let mut d = Debounce::new(50 * MS, 10 * MS);
        d.record(t);
        assert_eq!(d.deadline(), Some(t + 50 * MS));
    }
}
