//! Watching: configuration ([`Watch`], [`WatchBuilder`]) and the running [`Watcher`]
//! that turns kernel events into debounced [`ChangeSet`]s.
//!
//! Each kept directory gets its own non-recursive watch (notify's recursive mode cannot
//! skip a subtree). Directories that appear later are walked and watched as their creation
//! event arrives, and the files already inside them are reported, so a `mkdir -p` followed
//! at once by a write is never lost. A queue overflow becomes a rescan batch, never
//! silence.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::changes::ChangeSet;
use crate::debounce::Debounce;
use crate::error::{Error, Result};
use crate::filter::{Filter, FilterSpec, Root};
use crate::walk::walk;

/// Default quiet gap before a batch is released: long enough to fold an editor's save
/// (write, rename, close within a millisecond or two) into one run, short enough that the
/// run starts in about 10 ms.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(10);

/// Default cap on how long a batch may keep growing while events never pause.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_millis(250);

/// Events absorbed in one go before the debounce deadline is looked at again.
const DRAIN_BATCH: usize = 1024;

/// What to watch and how: a validated, reusable configuration.
///
/// ```
/// # fn main() -> preflight_asset_watch::Result<()> {
/// let dir = std::env::temp_dir();
/// let watch = preflight_asset_watch::Watch::builder()
///     .path(&dir)
///     .extensions(["css", "scss"])
///     .exclude("*.min.css")
///     .build()?;
/// assert_eq!(watch.debounce(), preflight_asset_watch::DEFAULT_DEBOUNCE);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Watch {
    roots: Vec<Root>,
    spec: FilterSpec,
    debounce: Duration,
    max_wait: Duration,
    poll: Option<Duration>,
}

/// Builder for [`Watch`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct WatchBuilder {
    paths: Vec<PathBuf>,
    spec: FilterSpec,
    debounce: Option<Duration>,
    max_wait: Option<Duration>,
    poll: Option<Duration>,
}

impl WatchBuilder {
    /// Adds a directory (watched recursively, minus ignored parts) or a single file (its
    /// directory is watched so editors' atomic saves are seen).
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.paths.push(path.into());
        self
    }

    /// Adds several paths; see [`WatchBuilder::path`].
    pub fn paths<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.paths.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Only files with one of these extensions count (case-insensitive, dot optional).
    pub fn extensions<S: Into<String>>(mut self, exts: impl IntoIterator<Item = S>) -> Self {
        self.spec
            .extensions
            .extend(exts.into_iter().map(Into::into));
        self
    }

    /// Only files matching one of the include globs count. A glob without `/` matches a
    /// file name; one with `/` matches the path relative to the watched root.
    pub fn include(mut self, glob: impl Into<String>) -> Self {
        self.spec.include.push(glob.into());
        self
    }

    /// Ignores matching files and prunes matching directories before watching. A glob
    /// without `/` matches any path component (`build` ignores every `build` directory);
    /// one with `/` matches the path relative to the watched root (`vendor/**`).
    pub fn exclude(mut self, glob: impl Into<String>) -> Self {
        self.spec.exclude.push(glob.into());
        self
    }

    /// Whether the built-in ignores apply (default `true`): `.git` and other VCS stores,
    /// `node_modules`, `target`, `__pycache__`, editors' swap and backup files.
    pub fn default_ignores(mut self, yes: bool) -> Self {
        self.spec.no_default_ignores = !yes;
        self
    }

    /// Whether `.gitignore`, `.ignore` and `.git/info/exclude` rules apply (default
    /// `true`). They are read from the watched roots, the directories inside them and
    /// their ancestors up to the repository root.
    pub fn vcs_ignores(mut self, yes: bool) -> Self {
        self.spec.no_vcs_ignores = !yes;
        self
    }

    /// Quiet gap after the last event before a batch is released (default
    /// [`DEFAULT_DEBOUNCE`]).
    pub fn debounce(mut self, quiet: Duration) -> Self {
        self.debounce = Some(quiet);
        self
    }

    /// Longest a batch waits while events keep arriving (default [`DEFAULT_MAX_WAIT`]).
    pub fn max_wait(mut self, max: Duration) -> Self {
        self.max_wait = Some(max);
        self
    }

    /// Polls every `interval` instead of using kernel notifications: for bind mounts,
    /// network file systems and WSL paths, where inotify sees nothing. Ignored trees are
    /// pruned from polling too, which keeps its cost low.
    pub fn poll(mut self, interval: Duration) -> Self {
        self.poll = Some(interval);
        self
    }

    /// Validates: every path must exist, every glob must parse. All problems are reported.
    pub fn build(self) -> Result<Watch> {
        let mut problems = Vec::new();
        if self.paths.is_empty() {
            problems.push("no path to watch".to_owned());
        }
        if self.poll.is_some_and(|p| p.is_zero()) {
            problems.push("poll interval must be greater than zero".to_owned());
        }
        let mut roots = Vec::new();
        for path in &self.paths {
            match std::fs::canonicalize(path).and_then(|p| Ok((std::fs::metadata(&p)?, p))) {
                Ok((meta, p)) if meta.is_dir() => roots.push(Root::Dir(p)),
                Ok((_, p)) => roots.push(Root::File(p)),
                Err(e) => problems.push(format!("cannot watch {}: {e}", path.display())),
            }
        }
        if let Err(e) = Filter::new(&self.spec, roots.clone()) {
            match e {
                Error::Config { problems: p } => problems.extend(p),
                e => problems.push(crate::error::error_chain(&e)),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        Ok(Watch {
            roots,
            spec: self.spec,
            debounce: self.debounce.unwrap_or(DEFAULT_DEBOUNCE),
            max_wait: self.max_wait.unwrap_or(DEFAULT_MAX_WAIT),
            poll: self.poll,
        })
    }
}

impl Watch {
    /// Starts a builder.
    pub fn builder() -> WatchBuilder {
        WatchBuilder::default()
    }

    /// The quiet gap before a batch is released.
    #[must_use]
    pub fn debounce(&self) -> Duration {
        self.debounce
    }

    /// The watched roots (canonical paths).
    pub fn roots(&self) -> impl Iterator<Item = &Path> + '_ {
        self.roots.iter().map(|r| match r {
            Root::Dir(p) | Root::File(p) => p.as_path(),
        })
    }

    /// Registers the watches and returns the running watcher. Synchronous (it walks the
    /// tree); call it where blocking for the walk is fine. The returned [`Watcher`] is
    /// polled with [`Watcher::next`] on a tokio runtime.
    pub fn start(&self) -> Result<Watcher> {
        let (tx, rx) = mpsc::unbounded_channel();
        let handler = move |event: notify::Result<notify::Event>| {
            // The receiver is gone only when the Watcher was dropped.
            let _ = tx.send(event);
        };
        let backend: Box<dyn notify::Watcher + Send> = match self.poll {
            Some(interval) => {
                let config = notify::Config::default()
                    .with_poll_interval(interval)
                    .with_follow_symlinks(false);
                Box::new(
                    notify::PollWatcher::new(handler, config)
                        .map_err(|e| backend_error(e, None, 0))?,
                )
            }
            None => Box::new(
                notify::RecommendedWatcher::new(handler, notify::Config::default())
                    .map_err(|e| backend_error(e, None, 0))?,
            ),
        };
        let mut watcher = Watcher {
            backend,
            rx,
            filter: Filter::new(&self.spec, self.roots.clone())?,
            watched: HashSet::new(),
            parents: HashSet::new(),
            polling: self.poll.is_some(),
            debounce: Debounce::new(self.debounce, self.max_wait),
            pending: ChangeSet::new(),
            hits: 0,
            created: HashSet::new(),
            removed: HashSet::new(),
        };
        watcher.watch_roots(None)?;
        if self.poll.is_none() {
            for root in &self.roots {
                if let Some(fs) = remote_filesystem(root.dir()) {
                    tracing::warn!(
                        root = %root.dir().display(),
                        "{fs} file system: inotify sees no changes made by other machines \
                         or the host; use polling"
                    );
                }
            }
        }
        tracing::debug!(watches = watcher.watched.len(), "watching");
        Ok(watcher)
    }
}

/// A running watcher: yields one [`ChangeSet`] per debounced burst of relevant changes.
///
/// Dropping it removes every watch.
pub struct Watcher {
    backend: Box<dyn notify::Watcher + Send>,
    rx: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    filter: Filter,
    watched: HashSet<PathBuf>,
    /// Parents of the watched roots, watched for the roots' own deletion and return.
    parents: HashSet<PathBuf>,
    polling: bool,
    debounce: Debounce,
    pending: ChangeSet,
    /// Relevant paths seen so far (repeats included); tells `absorb` to restart the gap.
    hits: u64,
    /// Paths created, and removed or renamed away, within the pending batch: they tell
    /// the end of a save from a temporary file being written.
    created: HashSet<PathBuf>,
    removed: HashSet<PathBuf>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watches", &self.watched.len())
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// How many directories are watched (one kernel watch each in native mode).
    #[must_use]
    pub fn watch_count(&self) -> usize {
        self.watched.len()
    }

    /// Waits for the next batch of changes.
    ///
    /// Cancel-safe: events received before the future is dropped stay pending and are
    /// part of the next batch.
    ///
    /// # Errors
    /// A new directory could not be watched (watch limit reached) or the backend failed.
    pub async fn next(&mut self) -> Result<ChangeSet> {
        loop {
            let deadline = self.debounce.deadline();
            // Checked first: under a flood of events the channel is always ready, and the
            // cap must still release a batch.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.release();
                if !self.pending.is_noop() {
                    return Ok(self.pending.take());
                }
                continue;
            }
            tokio::select! {
                biased;
                event = self.rx.recv() => {
                    let Some(event) = event else {
                        return Err(Error::WatcherStopped);
                    };
                    self.absorb(event)?;
                    // Drain what is already queued (boundedly) before looking at the clock.
                    for _ in 0..DRAIN_BATCH {
                        let Ok(event) = self.rx.try_recv() else { break };
                        self.absorb(event)?;
                    }
                }
                () = sleep_until_opt(deadline) => {
                    self.release();
                    if !self.pending.is_noop() {
                        return Ok(self.pending.take());
                    }
                }
            }
        }
    }

    /// Changes seen so far that have not been returned yet (they are still debouncing).
    #[must_use]
    pub fn has_pending(&self) -> bool {
        !self.pending.is_noop()
    }

    /// Walks every root again, watching what is new, and queues a rescan batch.
    pub fn rescan(&mut self) -> Result<()> {
        self.watch_roots(None)?;
        self.pending.mark_rescan();
        self.debounce.record(Instant::now());
        Ok(())
    }

    fn watch_roots(&mut self, mut files: Option<&mut Vec<PathBuf>>) -> Result<()> {
        let roots: Vec<Root> = self.filter.roots().to_vec();
        for root in roots {
            match root {
                Root::Dir(dir) => {
                    self.watch_tree(&dir, files.as_deref_mut())?;
                    // The parent tells us when the root itself is deleted, recreated or
                    // replaced by a rename; it is not counted as a watched directory.
                    // Not when polling: that would list the parent (a home directory,
                    // /tmp) every interval.
                    if !self.polling
                        && let Some(parent) = dir.parent()
                        && !self.parents.contains(parent)
                    {
                        let mut parents = std::mem::take(&mut self.parents);
                        add_watch(self.backend.as_mut(), &mut parents, parent)?;
                        self.parents = parents;
                    }
                }
                Root::File(file) => {
                    let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
                    add_watch(self.backend.as_mut(), &mut self.watched, &dir)?;
                }
            }
        }
        Ok(())
    }

    fn watch_tree(&mut self, dir: &Path, files: Option<&mut Vec<PathBuf>>) -> Result<()> {
        let Self {
            backend,
            watched,
            filter,
            ..
        } = self;
        walk(dir, filter, files, &mut |d| {
            add_watch(backend.as_mut(), watched, d)
        })
    }

    /// Folds one backend event into the pending batch.
    fn absorb(&mut self, event: notify::Result<notify::Event>) -> Result<()> {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                let path = e.paths.first().cloned();
                return Err(backend_error(e, path, self.watched.len()));
            }
        };
        if event.need_rescan() {
            tracing::warn!("file-system event queue overflowed: rescanning everything");
            return self.rescan();
        }
        let before = self.hits;
        let settles = self.track_save(&event);
        match event.kind {
            // Reads and opens (the build command reading its sources) are not changes.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => self.changed_files(&event),
            EventKind::Access(_) => {}
            EventKind::Create(CreateKind::Folder) => {
                for path in &event.paths {
                    self.forget(path);
                    self.new_dir(path)?;
                }
            }
            // A rename target, or a creation as polling reports it: file or directory?
            // A directory that replaced a watched one (`mv new w`) is a new inode: the old
            // watches follow the old one, so it is watched afresh.
            EventKind::Modify(ModifyKind::Name(RenameMode::To))
            | EventKind::Create(CreateKind::Any | CreateKind::Other) => {
                for path in &event.paths {
                    if path.is_dir() {
                        self.forget(path);
                        self.new_dir(path)?;
                    } else {
                        self.changed_file(path)?;
                    }
                }
            }
            // Both halves of a rename were already reported on their own.
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {}
            _ => {
                for path in &event.paths {
                    self.changed_file(path)?;
                }
            }
        }
        // Every relevant event restarts the quiet gap, even for a path already pending:
        // a file still being written must not be built half-way.
        if self.hits != before {
            if settles {
                self.debounce.settle(Instant::now());
            } else {
                self.debounce.record(Instant::now());
            }
        } else if settles && self.has_pending() {
            // A rename whose target was already pending (judged by its own event).
            self.debounce.settle(Instant::now());
        }
        Ok(())
    }

    /// The batch is released: forget what it was made of.
    fn release(&mut self) {
        self.debounce.reset();
        self.created.clear();
        self.removed.clear();
    }

    /// Records creations and removals, and tells whether `event` ends a save of a kept
    /// file: a close after writing to a file that was not created in this batch (an
    /// in-place save) or was re-created after being moved away (vim's backup dance),
    /// or a rename onto a kept file from a file created in this batch (an atomic save
    /// through a temporary file). A temporary file closed after writing does not end a
    /// save: its rename will.
    fn track_save(&mut self, event: &notify::Event) -> bool {
        /// Bounds the bookkeeping under a flood; past it, batches just debounce.
        const TRACKED: usize = 4096;
        let room = self.created.len() + self.removed.len() < TRACKED;
        match event.kind {
            EventKind::Create(_) if room => {
                self.created.extend(event.paths.iter().cloned());
                false
            }
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From))
                if room =>
            {
                self.removed.extend(event.paths.iter().cloned());
                false
            }
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                event.paths.iter().any(|p| {
                    (!self.created.contains(p) || self.removed.contains(p))
                        && self.filter.keep_file(p)
                })
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => match &event.paths[..] {
                [from, to] => self.created.contains(from) && self.filter.keep_file(to),
                _ => false,
            },
            _ => false,
        }
    }

    fn hit(&mut self, path: impl Into<PathBuf>) {
        self.hits += 1;
        self.pending.insert(path);
    }

    fn changed_files(&mut self, event: &notify::Event) {
        for path in &event.paths {
            if self.pending.contains(path) || self.filter.keep_file(path) {
                self.hit(path.clone());
            }
        }
    }

    fn changed_file(&mut self, path: &Path) -> Result<()> {
        if self.watched.contains(path) {
            // An event about a watched directory itself. Gone (deleted, moved away): its
            // contents changed, and it and everything below stop being watched. Still
            // there (attributes, mtime): nothing a command cares about.
            if path.symlink_metadata().is_err() {
                if self.is_root(path) {
                    tracing::warn!(
                        root = %path.display(),
                        "the watched directory was removed; it is watched again when it reappears"
                    );
                }
                self.forget(path);
                self.hit(path);
            }
            return Ok(());
        }
        if path.file_name().is_some_and(Filter::is_ignore_file)
            && let Some(dir) = path.parent()
            && self.filter.dir_in_scope(dir)
        {
            // New rules may un-ignore directories: re-walk the directory they govern.
            self.filter.load_ignores(dir)?;
            let dir = dir.to_path_buf();
            self.watch_tree(&dir, None)?;
        }
        // A directory we do not watch (pruned, or outside the roots: the parent watch)
        // changed its own metadata; that is no change to any kept file.
        if !self.pending.contains(path) && path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
        // A file changes in several events (create, write, close): judge it once.
        if self.pending.contains(path) || self.filter.keep_file(path) {
            self.hit(path);
        }
        Ok(())
    }

    fn is_root(&self, path: &Path) -> bool {
        self.filter
            .roots()
            .iter()
            .any(|r| matches!(r, Root::Dir(d) if d == path))
    }

    /// Stops watching `path` and everything below it.
    fn forget(&mut self, path: &Path) {
        let gone: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|w| w.starts_with(path))
            .cloned()
            .collect();
        for dir in gone {
            self.watched.remove(&dir);
            // The backend may already have dropped it (inotify does): nothing to undo.
            let _ = self.backend.unwatch(&dir);
        }
    }

    fn new_dir(&mut self, path: &Path) -> Result<()> {
        if !self.filter.dir_in_scope(path) {
            return Ok(());
        }
        if self.is_root(path) {
            tracing::info!(root = %path.display(), "the watched directory is back: watching it again");
            // Everything below it is new: the root itself is the change.
            self.hit(path);
        }
        let mut files = Vec::new();
        self.watch_tree(path, Some(&mut files))?;
        for file in files {
            if self.filter.keep_file(&file) {
                self.hit(file);
            }
        }
        Ok(())
    }
}

fn add_watch(
    backend: &mut dyn notify::Watcher,
    watched: &mut HashSet<PathBuf>,
    dir: &Path,
) -> Result<()> {
    match backend.watch(dir, RecursiveMode::NonRecursive) {
        Ok(()) => {
            watched.insert(dir.to_path_buf());
            Ok(())
        }
        // Deleted between listing and watching: its parent reports that.
        Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => Ok(()),
        Err(e) => Err(backend_error(e, Some(dir.to_path_buf()), watched.len())),
    }
}

/// Maps the backend's error, turning kernel limits into errors that say how to fix them.
pub(crate) fn backend_error(e: notify::Error, path: Option<PathBuf>, watches: usize) -> Error {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => Error::WatchLimit {
            path: path.unwrap_or_default(),
            watches,
        },
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(nix::libc::EMFILE) => {
            Error::InstanceLimit
        }
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(nix::libc::ENOSPC) => {
            Error::WatchLimit {
                path: path.unwrap_or_default(),
                watches,
            }
        }
        _ => Error::Notify {
            path,
            source: Box::new(e),
        },
    }
}

/// The kind of file system at `path` when it is one where inotify misses changes made
/// elsewhere (network mounts, the 9p mounts of WSL and some VMs, FUSE).
#[cfg(target_os = "linux")]
fn remote_filesystem(path: &Path) -> Option<&'static str> {
    let kind = nix::sys::statfs::statfs(path).ok()?.filesystem_type().0;
    // Magic numbers from statfs(2).
    #[allow(
        clippy::unreadable_literal,
        reason = "the magic numbers as statfs(2) prints them"
    )]
    match kind as i64 {
        0x6969 => Some("NFS"),
        0x01021997 => Some("9p"),
        0xFF534D42 => Some("CIFS"),
        0xFE534D42 => Some("SMB2"),
        0x65735546 => Some("FUSE"),
        _ => None,
    }
}

#[cfg(not(target_os = "linux"))]
fn remote_filesystem(_path: &Path) -> Option<&'static str> {
    None
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_reports_every_problem() {
        let err = Watch::builder()
            .path("/definitely/not/here")
            .exclude("a[")
            .poll(Duration::ZERO)
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/definitely/not/here"), "{msg}");
        assert!(msg.contains("`a[`"), "{msg}");
        assert!(msg.contains("poll interval"), "{msg}");
    }

    #[test]
    fn no_path_is_an_error() {
        assert!(
            Watch::builder()
                .build()
                .unwrap_err()
                .to_string()
                .contains("no path")
        );
    }

    /// A stand-in for the kernel refusing a watch: ENOSPC cannot be provoked here without
    /// lowering a machine-wide sysctl that other users share.
    #[test]
    fn stand_in_watch_limit_error_names_the_sysctl() {
        let e = notify::Error::new(notify::ErrorKind::MaxFilesWatch);
        let err = backend_error(e, Some("/p/src".into()), 8191);
        let msg = err.to_string();
        assert!(msg.contains("fs.inotify.max_user_watches"), "{msg}");
        assert!(msg.contains("/p/src") && msg.contains("8191"), "{msg}");
    }
}
