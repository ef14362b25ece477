//! Watching: real inotify (and polling) on temp dirs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use preflight_asset_watch::{ChangeSet, Command, Job, JobEvent, Watch, Watcher};
use tokio::sync::{mpsc, oneshot};

use crate::support::{PATIENCE, read, wait_until};

/// Runs `job` on `watcher` in a task; events arrive on the returned channel; dropping or
/// firing the sender stops it.
pub(crate) fn spawn_job(
    mut watcher: Watcher,
    job: Job,
) -> (
    mpsc::UnboundedReceiver<JobEvent>,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<preflight_asset_watch::Result<()>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        job.run(&mut watcher, stop_rx, move |e| {
            let _ = tx.send(e);
        })
        .await
    });
    (rx, stop_tx, handle)
}

pub(crate) async fn next_event(rx: &mut mpsc::UnboundedReceiver<JobEvent>) -> JobEvent {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("timed out waiting for a job event")
        .expect("job ended")
}

/// Waits for the next `Started` and the `Finished` after it; returns the changes.
pub(crate) async fn next_run(rx: &mut mpsc::UnboundedReceiver<JobEvent>) -> ChangeSet {
    let changes = loop {
        if let JobEvent::Started { changes, .. } = next_event(rx).await {
            break changes;
        }
    };
    loop {
        if let JobEvent::Finished(r) = next_event(rx).await {
            assert!(r.exit.success(), "command failed: {r:?}");
            return changes;
        }
    }
}

/// Asserts no run starts within `window` (an observation window, not synchronisation:
/// the point is that nothing happens).
pub(crate) async fn assert_no_run(rx: &mut mpsc::UnboundedReceiver<JobEvent>, window: Duration) {
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        assert!(
            !matches!(e, JobEvent::Started { .. }),
            "unexpected extra run: {e:?}"
        );
    }
}

async fn next_batch(watcher: &mut Watcher) -> ChangeSet {
    tokio::time::timeout(PATIENCE, watcher.next())
        .await
        .expect("timed out waiting for a change batch")
        .expect("watcher failed")
}

fn names(changes: &ChangeSet, root: &Path) -> BTreeSet<String> {
    changes
        .paths()
        .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
        .collect()
}

fn canonical(dir: &tempfile::TempDir) -> PathBuf {
    std::fs::canonicalize(dir.path()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_editor_save_style_gives_exactly_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    let css = root.join("app.css");
    std::fs::write(&css, "a{}").unwrap();
    // 40 ms instead of the 10 ms default: a save's steps must not be split by the test
    // thread being descheduled on a loaded machine. The default is measured in the bench.
    let watch = Watch::builder()
        .path(&root)
        .debounce(Duration::from_millis(40))
        .build()
        .unwrap();
    let job = Job::builder(Command::shell("true")).postpone(true).build();
    let (mut rx, _stop, _h) = spawn_job(watch.start().unwrap(), job);

    // 1. In place: truncate, write, close.
    std::fs::write(&css, "b{}").unwrap();
    assert_eq!(
        names(&next_run(&mut rx).await, &root),
        BTreeSet::from(["app.css".into()])
    );
    assert_no_run(&mut rx, Duration::from_millis(300)).await;

    // 2. Atomic: write a temporary file, rename it over the original.
    let tmp = root.join(".app.css.tmp1234");
    std::fs::write(&tmp, "c{}").unwrap();
    std::fs::rename(&tmp, &css).unwrap();
    let changes = next_run(&mut rx).await;
    assert!(names(&changes, &root).contains("app.css"), "{changes:?}");
    assert_no_run(&mut rx, Duration::from_millis(300)).await;

    // 3. Vim's default: probe file 4913, rename the original to a backup, write anew,
    //    delete the backup.
    std::fs::write(root.join("4913"), "").unwrap();
    std::fs::remove_file(root.join("4913")).unwrap();
    std::fs::rename(&css, root.join("app.css~")).unwrap();
    std::fs::write(&css, "d{}").unwrap();
    std::fs::remove_file(root.join("app.css~")).unwrap();
    assert_eq!(
        names(&next_run(&mut rx).await, &root),
        BTreeSet::from(["app.css".into()])
    );
    assert_no_run(&mut rx, Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_rapid_writes_give_few_runs_and_the_last_state_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    let src = root.join("src");
    std::fs::create_dir(&src).unwrap();
    let out = root.join("out.txt");
    let runs = root.join("runs.log");
    std::fs::write(src.join("value.txt"), "start").unwrap();
    let watch = Watch::builder().path(&src).build().unwrap();
    let cmd = format!(
        "cat '{}' > '{}.tmp' && mv '{}.tmp' '{}' && echo run >> '{}'",
        src.join("value.txt").display(),
        out.display(),
        out.display(),
        out.display(),
        runs.display()
    );
    let job = Job::builder(Command::shell(cmd)).build();
    let (mut rx, _stop, _h) = spawn_job(watch.start().unwrap(), job);
    next_run(&mut rx).await; // the initial run
    for i in 0..1000 {
        std::fs::write(src.join("value.txt"), i.to_string()).unwrap();
    }
    wait_until("the last write to be built", || read(&out) == "999").await;
    let count = read(&runs).lines().count();
    // Runs never overlap (queue), so their number is bounded by how long the writes take
    // over how long a run takes, however the events are batched; on an idle machine this
    // is 2 to 5. A fifth of the writes leaves room for a loaded machine.
    eprintln!("{count} runs for 1000 writes");
    assert!((2..=200).contains(&count), "{count} runs for 1000 writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_in_pieces_is_one_batch_after_the_last_piece() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    let file = root.join("bundle.js");
    // Pieces 20 ms apart, quiet gap 300 ms (room for a loaded machine): every piece
    // restarts the gap, so the batch comes only once the writer is done (the pauses are
    // the scenario: a slow writer).
    let watch = Watch::builder()
        .path(&root)
        .debounce(Duration::from_millis(300))
        .max_wait(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut watcher = watch.start().unwrap();
    let writer = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&file).unwrap();
            for i in 0..10 {
                writeln!(f, "piece {i}").unwrap();
                f.flush().unwrap();
                #[allow(clippy::disallowed_methods, reason = "a slow writer is the scenario")]
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let batch = next_batch(&mut watcher).await;
    assert!(
        writer.is_finished(),
        "batch released while the file was still being written"
    );
    assert_eq!(read(&file).lines().count(), 10);
    assert_eq!(names(&batch, &root), BTreeSet::from(["bundle.js".into()]));
    writer.await.unwrap();
    let extra = tokio::time::timeout(Duration::from_millis(400), watcher.next()).await;
    assert!(extra.is_err(), "a second batch for one write: {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_events_still_yields_batches_at_the_cap() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    // The cap (200 ms) is above the quiet gap (100 ms), which never passes while the
    // writer writes without pause; the writer never closes its file, so no save settles
    // the batch either. A batch after a stretch with no pause of 100 ms was released by
    // the cap.
    let quiet = Duration::from_millis(100);
    let watch = Watch::builder()
        .path(&root)
        .debounce(quiet)
        .max_wait(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut watcher = watch.start().unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    // The longest pause between two writes since the test last reset it, in µs: a loaded
    // machine may stall the writer, and a batch after such a stall proves nothing.
    let longest_pause = std::sync::Arc::new(AtomicU64::new(0));
    // Rewrites one byte of an open file without pause: a modification every iteration,
    // never a close, and the file stays one byte long.
    let writer = {
        let (file, stop, longest_pause) = (root.join("f.css"), stop.clone(), longest_pause.clone());
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt as _;
            let f = std::fs::File::create(&file).unwrap();
            let mut last = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                f.write_at(b"x", 0).unwrap();
                let now = std::time::Instant::now();
                let pause = u64::try_from((now - last).as_micros()).unwrap_or(u64::MAX);
                longest_pause.fetch_max(pause, Ordering::Relaxed);
                last = now;
            }
        })
    };
    // Skip the first batch (the flood's start), then look for one that followed a
    // stretch without a quiet-gap-long pause; bounded, so a broken cap fails.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut batches = 0;
    let proven = loop {
        let Ok(batch) = tokio::time::timeout_at(give_up, watcher.next()).await else {
            break false;
        };
        assert!(!batch.unwrap().is_empty());
        batches += 1;
        let pause = Duration::from_micros(longest_pause.swap(0, Ordering::Relaxed));
        if batches > 1 && pause < quiet {
            break true;
        }
    };
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        proven,
        "no batch released by the cap while events kept coming ({batches} batches in 30 s, \
         each after a pause of the quiet gap or more)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_places_never_trigger_and_are_never_watched() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    for d in [
        "node_modules/pkg/lib",
        "dist/x",
        "target/debug",
        ".git/objects",
        "src/sub",
        "vendor/lib",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join(".gitignore"), "dist/\n*.log\n").unwrap();
    let watch = Watch::builder()
        .path(&root)
        .exclude("vendor")
        .exclude("*.min.css")
        .build()
        .unwrap();
    let mut watcher = watch.start().unwrap();
    // root, src, src/sub: nothing under node_modules, dist, target, .git or vendor.
    assert_eq!(watcher.watch_count(), 3);

    std::fs::write(root.join("node_modules/pkg/lib/a.css"), "x").unwrap();
    std::fs::write(root.join("dist/x/a.css"), "x").unwrap();
    std::fs::write(root.join("target/debug/a.css"), "x").unwrap();
    std::fs::write(root.join(".git/objects/a"), "x").unwrap();
    std::fs::write(root.join("vendor/lib/a.css"), "x").unwrap();
    std::fs::write(root.join("src/debug.log"), "x").unwrap();
    std::fs::write(root.join("src/app.min.css"), "x").unwrap();
    std::fs::write(root.join("src/.app.css.swp"), "x").unwrap();
    std::fs::create_dir(root.join("src/node_modules")).unwrap();
    std::fs::write(root.join("src/node_modules/b.css"), "x").unwrap();
    // The sentinel: the first batch must hold it and nothing else.
    std::fs::write(root.join("src/sub/app.css"), "x").unwrap();
    let batch = next_batch(&mut watcher).await;
    assert_eq!(
        names(&batch, &root),
        BTreeSet::from(["src/sub/app.css".into()])
    );
    assert_eq!(
        watcher.watch_count(),
        3,
        "src/node_modules must not be watched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_directories_are_watched_and_their_first_files_seen() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    let watch = Watch::builder()
        .path(&root)
        .extensions(["css"])
        .build()
        .unwrap();
    let mut watcher = watch.start().unwrap();
    // Created and written at once: the file may land before the watch on `c` exists;
    // the walk of the new directory reports it.
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::write(root.join("a/b/c/new.css"), "x").unwrap();
    let batch = next_batch(&mut watcher).await;
    assert!(names(&batch, &root).contains("a/b/c/new.css"), "{batch:?}");
    assert_eq!(watcher.watch_count(), 4);
    // Now the watch on a/b/c is in place: a later edit is an ordinary event.
    std::fs::write(root.join("a/b/c/new.css"), "y").unwrap();
    let batch = next_batch(&mut watcher).await;
    assert_eq!(
        names(&batch, &root),
        BTreeSet::from(["a/b/c/new.css".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_and_recreated_files_and_directories_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::write(root.join("d/a.css"), "x").unwrap();
    let watch = Watch::builder().path(&root).build().unwrap();
    let mut watcher = watch.start().unwrap();

    std::fs::remove_file(root.join("d/a.css")).unwrap();
    assert!(names(&next_batch(&mut watcher).await, &root).contains("d/a.css"));
    std::fs::write(root.join("d/a.css"), "again").unwrap();
    assert!(names(&next_batch(&mut watcher).await, &root).contains("d/a.css"));

    std::fs::remove_dir_all(root.join("d")).unwrap();
    let batch = next_batch(&mut watcher).await;
    assert!(names(&batch, &root).contains("d"), "{batch:?}");
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::write(root.join("d/b.css"), "x").unwrap();
    assert!(names(&next_batch(&mut watcher).await, &root).contains("d/b.css"));
    std::fs::write(root.join("d/b.css"), "y").unwrap();
    assert_eq!(
        names(&next_batch(&mut watcher).await, &root),
        BTreeSet::from(["d/b.css".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_single_file_survives_atomic_saves() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    let conf = root.join("app.toml");
    std::fs::write(&conf, "a = 1").unwrap();
    let watch = Watch::builder().path(&conf).build().unwrap();
    let mut watcher = watch.start().unwrap();
    for i in 0..3 {
        let tmp = root.join(format!("app.toml.{i}.tmp"));
        std::fs::write(&tmp, format!("a = {i}")).unwrap();
        std::fs::rename(&tmp, &conf).unwrap();
        std::fs::write(root.join("other.toml"), "x").unwrap();
        let batch = next_batch(&mut watcher).await;
        assert_eq!(
            names(&batch, &root),
            BTreeSet::from(["app.toml".into()]),
            "save {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_mode_sees_changes_and_new_directories() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    std::fs::write(root.join("a.css"), "x").unwrap();
    std::fs::create_dir(root.join("node_modules")).unwrap();
    let watch = Watch::builder()
        .path(&root)
        .poll(Duration::from_millis(50))
        .build()
        .unwrap();
    let mut watcher = watch.start().unwrap();
    assert_eq!(watcher.watch_count(), 1);
    std::fs::write(root.join("node_modules/ignored.css"), "x").unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/b.css"), "x").unwrap();
    let mut seen = BTreeSet::new();
    while !seen.contains("sub/b.css") {
        seen.extend(names(&next_batch(&mut watcher).await, &root));
    }
    assert!(!seen.iter().any(|p| p.contains("node_modules")), "{seen:?}");
    assert_eq!(watcher.watch_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitignore_edits_take_effect_while_watching() {
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(root.join(".gitignore"), "gen/\n").unwrap();
    std::fs::create_dir(root.join("gen")).unwrap();
    let watch = Watch::builder()
        .path(&root)
        .extensions(["css"])
        .build()
        .unwrap();
    let mut watcher = watch.start().unwrap();
    assert_eq!(watcher.watch_count(), 1);
    std::fs::write(root.join(".gitignore"), "").unwrap();
    // Un-ignored by the edit: gen/ is watched from now on.
    wait_until("gen/ to be watched", || {
        futures_poll(&mut watcher);
        watcher.watch_count() == 2
    })
    .await;
    std::fs::write(root.join("gen/x.css"), "x").unwrap();
    let mut seen = BTreeSet::new();
    while !seen.contains("gen/x.css") {
        seen.extend(names(&next_batch(&mut watcher).await, &root));
    }
}

/// Lets the watcher absorb queued events without waiting for a batch.
fn futures_poll(watcher: &mut Watcher) {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let fut = std::pin::pin!(watcher.next());
    let _ = fut.poll(&mut cx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_request_yields_a_rescan_batch() {
    // The library entry point behind the overflow path; a real kernel overflow is
    // provoked in `side_by_side::a_kernel_queue_overflow_becomes_a_rescan_run`.
    let dir = tempfile::tempdir().unwrap();
    let root = canonical(&dir);
    let watch = Watch::builder().path(&root).build().unwrap();
    let mut watcher = watch.start().unwrap();
    std::fs::create_dir(root.join("late")).unwrap();
    watcher.rescan().unwrap();
    let batch = next_batch(&mut watcher).await;
    assert!(batch.is_rescan());
    assert_eq!(watcher.watch_count(), 2);
}

use std::future::Future as _;

/// Waits for a batch that holds `path`, skipping batches about the removal itself.
async fn batch_with(watcher: &mut Watcher, path: &Path) -> ChangeSet {
    loop {
        let batch = next_batch(watcher).await;
        if batch.paths().any(|p| p == path) {
            return batch;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_root_deleted_and_recreated_or_replaced_by_a_rename_is_watched_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("w");
    std::fs::create_dir(&root).unwrap();
    let root = root.canonicalize().unwrap();
    let mut watcher = Watch::builder()
        .path(&root)
        .build()
        .unwrap()
        .start()
        .unwrap();
    assert_eq!(watcher.watch_count(), 1, "the parent watch is not counted");

    // `rm -rf w; mkdir w`: the old watch died with the directory.
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::create_dir(&root).unwrap();
    batch_with(&mut watcher, &root).await;
    std::fs::write(root.join("a.css"), "a").unwrap();
    batch_with(&mut watcher, &root.join("a.css")).await;
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/b.css"), "b").unwrap();
    batch_with(&mut watcher, &root.join("sub/b.css")).await;

    // Replaced by a rename (`mv w w.old; mv new w`): events must come from the new
    // directory, not from the old inode that still holds the old watches.
    let new = dir.path().join("new");
    std::fs::create_dir(&new).unwrap();
    std::fs::rename(&root, dir.path().join("w.old")).unwrap();
    std::fs::rename(&new, &root).unwrap();
    batch_with(&mut watcher, &root).await;
    std::fs::write(root.join("c.css"), "c").unwrap();
    let batch = batch_with(&mut watcher, &root.join("c.css")).await;
    assert!(batch.paths().all(|p| p.starts_with(&root)), "{batch:?}");
    // The old tree is no longer watched: a write there reaches no batch. Proven by a
    // write to the new tree afterwards arriving in a batch without it.
    std::fs::write(dir.path().join("w.old/sub/old.css"), "x").unwrap();
    std::fs::write(root.join("d.css"), "d").unwrap();
    let batch = batch_with(&mut watcher, &root.join("d.css")).await;
    assert!(
        batch.paths().all(|p| !p.ends_with("old.css")),
        "the replaced directory is still watched: {batch:?}"
    );
}
