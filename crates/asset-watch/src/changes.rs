//! A batch of changes: what a command run is told about.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The changes that triggered (or will trigger) one run.
///
/// Paths are absolute and deduplicated. A batch can be a *rescan*: the kernel's event queue
/// overflowed (or the watcher was told to rescan), so some changes are known to be lost and
/// the command must treat everything as changed. A rescan batch may list no paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeSet {
    paths: BTreeSet<PathBuf>,
    rescan: bool,
    initial: bool,
}

impl ChangeSet {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The batch for the run at start-up (nothing changed yet; everything is to be built).
    #[must_use]
    pub fn initial() -> Self {
        Self {
            initial: true,
            ..Self::default()
        }
    }

    /// The changed paths, sorted.
    pub fn paths(&self) -> impl ExactSizeIterator<Item = &Path> + '_ {
        self.paths.iter().map(PathBuf::as_path)
    }

    /// How many paths changed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether `path` is listed.
    #[must_use]
    pub fn contains(&self, path: &Path) -> bool {
        self.paths.contains(path)
    }

    /// True when no path is listed (a rescan or the initial run may still list none).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// True when there is no reason to run: no path, not a rescan, not the initial run.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.paths.is_empty() && !self.rescan && !self.initial
    }

    /// True when events were lost and everything must be considered changed.
    #[must_use]
    pub fn is_rescan(&self) -> bool {
        self.rescan
    }

    /// True for the run at start-up.
    #[must_use]
    pub fn is_initial(&self) -> bool {
        self.initial
    }

    /// Adds a changed path.
    pub fn insert(&mut self, path: impl Into<PathBuf>) {
        self.paths.insert(path.into());
    }

    /// Marks the batch as a rescan.
    pub fn mark_rescan(&mut self) {
        self.rescan = true;
    }

    /// Folds `other` into this batch (used to queue changes that arrive during a run).
    pub fn merge(&mut self, other: Self) {
        self.paths.extend(other.paths);
        self.rescan |= other.rescan;
        self.initial |= other.initial;
    }

    /// Takes the batch out, leaving an empty one.
    pub(crate) fn take(&mut self) -> Self {
        std::mem::take(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_unions_paths_and_flags() {
        let mut a = ChangeSet::new();
        a.insert("/x/a.css");
        let mut b = ChangeSet::new();
        b.insert("/x/a.css");
        b.insert("/x/b.css");
        b.mark_rescan();
        a.merge(b);
        assert_eq!(a.len(), 2);
        assert!(a.is_rescan());
        assert!(!a.is_noop());
        assert!(a.take().len() == 2 && a.is_noop());
    }

    #[test]
    fn initial_and_rescan_batches_are_not_empty_without_paths() {
        assert!(!ChangeSet::initial().is_noop() && ChangeSet::initial().is_empty());
        let mut r = ChangeSet::new();
        r.mark_rescan();
        assert!(!r.is_noop());
        assert!(ChangeSet::new().is_noop());
    }
}
