//! Running commands per batch: queueing, restart, stop escalation, what the command is told.

use std::time::{Duration, Instant};

use preflight_asset_watch::{
    CHANGE_KIND_ENV, CHANGED_PATHS_ENV, Command, Exit, Job, JobEvent, OnBusy, Stop, StopSignal,
    Watch,
};

use crate::support::{alive, pids, read, wait_until};
use crate::watching::{next_event, next_run, spawn_job};

fn mkfifo(path: &std::path::Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_during_a_run_is_queued_into_one_follow_up_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let src = root.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.css"), "v1").unwrap();
    let gate = root.join("gate");
    mkfifo(&gate);
    let out = root.join("out");
    // Each run copies the source, then blocks on the gate until the test opens it.
    let cmd = format!(
        "cat '{src}/a.css' > '{out}'; read _ < '{gate}'",
        src = src.display(),
        out = out.display(),
        gate = gate.display()
    );
    let watch = Watch::builder().path(&src).build().unwrap();
    let job = Job::builder(Command::shell(cmd)).build();
    let (mut rx, _stop, _h) = spawn_job(watch.start().unwrap(), job);
    assert!(matches!(
        next_event(&mut rx).await,
        JobEvent::Started { run: 1, .. }
    ));
    wait_until("run 1 to copy v1", || read(&out) == "v1").await;

    // Changes while run 1 is blocked: two files, several writes.
    std::fs::write(src.join("a.css"), "v2").unwrap();
    std::fs::write(src.join("b.css"), "x").unwrap();
    std::fs::write(src.join("a.css"), "v3").unwrap();
    std::fs::write(&gate, "go\n").unwrap();
    match next_event(&mut rx).await {
        JobEvent::Finished(r) => assert_eq!((r.run, r.exit, r.stopped), (1, Exit::Code(0), false)),
        e => panic!("expected run 1 to finish, got {e:?}"),
    }
    let changes = match next_event(&mut rx).await {
        JobEvent::Started {
            run: 2, changes, ..
        } => changes,
        e => panic!("expected run 2, got {e:?}"),
    };
    let paths: Vec<_> = changes
        .paths()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["a.css", "b.css"]);
    wait_until("run 2 to copy v3", || read(&out) == "v3").await;
    std::fs::write(&gate, "go\n").unwrap();
    assert!(matches!(next_event(&mut rx).await, JobEvent::Finished(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_kills_the_old_process_group_with_its_grandchildren() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let src = root.join("src");
    std::fs::create_dir(&src).unwrap();
    let leaders = root.join("leaders");
    let grandkids = root.join("grandkids");
    // A server-like command: a background grandchild and a foreground wait.
    let cmd = format!(
        "echo $$ >> '{}'; sleep 300 & echo $! >> '{}'; wait",
        leaders.display(),
        grandkids.display()
    );
    let watch = Watch::builder().path(&src).build().unwrap();
    let job = Job::builder(Command::shell(cmd))
        .on_busy(OnBusy::Restart)
        .stop(Stop::new(StopSignal::Term, Duration::from_secs(5)))
        .build();
    let (mut rx, stop, handle) = spawn_job(watch.start().unwrap(), job);
    wait_until("run 1's grandchild", || pids(&grandkids).len() == 1).await;
    let (old_leader, old_grandkid) = (pids(&leaders)[0], pids(&grandkids)[0]);
    assert!(alive(old_grandkid));

    std::fs::write(src.join("a.css"), "x").unwrap();
    wait_until("run 2's grandchild", || pids(&grandkids).len() == 2).await;
    assert!(
        !alive(old_leader),
        "old leader {old_leader} survived the restart"
    );
    // The leader was reaped before run 2 started; its group's stragglers were sent SIGKILL
    // then, and the kernel tears them down asynchronously: wait for that, boundedly.
    wait_until("run 1's grandchild to be killed", || !alive(old_grandkid)).await;
    let mut saw_stopped = false;
    while let Ok(e) = rx.try_recv() {
        if let JobEvent::Finished(r) = e {
            saw_stopped |= r.stopped && r.run == 1;
        }
    }
    assert!(saw_stopped, "run 1 must be reported as stopped");

    // Shutdown stops the current group too.
    let new_grandkid = pids(&grandkids)[1];
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    wait_until("run 2's grandchild to be killed by the shutdown", || {
        !alive(new_grandkid)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_ignoring_the_stop_signal_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let ready = root.join("ready");
    let cmd = format!(
        "trap '' TERM; echo $$ > '{}'; while :; do sleep 0.05; done",
        ready.display()
    );
    let watch = Watch::builder().path(&root).build().unwrap();
    let job = Job::builder(Command::shell(cmd))
        .stop(Stop::new(StopSignal::Term, Duration::from_millis(300)))
        .build();
    let (mut rx, stop, handle) = spawn_job(watch.start().unwrap(), job);
    wait_until("the command to start", || !pids(&ready).is_empty()).await;
    let pid = pids(&ready)[0];
    let t = Instant::now();
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "killed before the grace period: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    assert!(!alive(pid));
    let mut finished = None;
    while let Ok(e) = rx.try_recv() {
        if let JobEvent::Finished(r) = e {
            finished = Some(r);
        }
    }
    let r = finished.expect("a Finished event");
    assert_eq!(r.exit, Exit::Signal(9));
    assert!(r.stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_is_told_what_changed_and_its_status_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let src = root.join("src");
    std::fs::create_dir(&src).unwrap();
    let env_out = root.join("env");
    let cmd = format!(
        "printf '%s|%s' \"${CHANGE_KIND_ENV}\" \"${CHANGED_PATHS_ENV}\" > '{}'; exit 7",
        env_out.display()
    );
    let watch = Watch::builder().path(&src).build().unwrap();
    let job = Job::builder(Command::shell(cmd)).build();
    let (mut rx, _stop, _h) = spawn_job(watch.start().unwrap(), job);
    let first = loop {
        if let JobEvent::Finished(r) = next_event(&mut rx).await {
            break r;
        }
    };
    assert_eq!(first.exit, Exit::Code(7));
    assert!(first.duration < Duration::from_secs(10));
    assert_eq!(read(&env_out), "initial|");
    std::fs::write(src.join("x.css"), "x").unwrap();
    loop {
        if let JobEvent::Finished(r) = next_event(&mut rx).await {
            assert_eq!((r.run, r.exit), (2, Exit::Code(7)));
            break;
        }
    }
    assert_eq!(
        read(&env_out),
        format!("change|{}", src.join("x.css").display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_policy_drops_changes_during_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let src = root.join("src");
    std::fs::create_dir(&src).unwrap();
    let gate = root.join("gate");
    mkfifo(&gate);
    let cmd = format!("read _ < '{}'", gate.display());
    let watch = Watch::builder().path(&src).build().unwrap();
    let job = Job::builder(Command::shell(cmd))
        .on_busy(OnBusy::Ignore)
        .build();
    let (mut rx, _stop, _h) = spawn_job(watch.start().unwrap(), job);
    assert!(matches!(
        next_event(&mut rx).await,
        JobEvent::Started { run: 1, .. }
    ));
    std::fs::write(src.join("a.css"), "x").unwrap();
    match next_event(&mut rx).await {
        JobEvent::Dropped { paths } => assert_eq!(paths, 1),
        e => panic!("expected the change to be dropped, got {e:?}"),
    }
    std::fs::write(&gate, "go\n").unwrap();
    // Under load the save's events may straddle the quiet gap: more drops, no run.
    loop {
        match next_event(&mut rx).await {
            JobEvent::Dropped { .. } => {}
            JobEvent::Finished(_) => break,
            e => panic!("expected the run to finish, got {e:?}"),
        }
    }
    // Nothing was queued: the next run comes only from a new change.
    std::fs::write(src.join("b.css"), "x").unwrap();
    let run2 = tokio::spawn(async move {
        let changes = next_run(&mut rx).await;
        changes
            .paths()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect::<Vec<_>>()
    });
    std::fs::write(&gate, "go\n").unwrap();
    assert_eq!(run2.await.unwrap(), ["b.css"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_takes_its_running_process_group_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let src = root.join("src");
    std::fs::create_dir(&src).unwrap();
    let pids_file = root.join("pids");
    let cmd = format!(
        "echo $$ >> '{p}'; sleep 300 & echo $! >> '{p}'; wait",
        p = pids_file.display()
    );
    let watch = Watch::builder().path(&src).build().unwrap();
    let job = Job::builder(Command::shell(cmd)).build();
    let (_rx, _stop, handle) = spawn_job(watch.start().unwrap(), job);
    wait_until("the command and its grandchild", || {
        pids(&pids_file).len() == 2
    })
    .await;
    handle.abort();
    let _ = handle.await;
    let all = pids(&pids_file);
    wait_until("the dropped run's group to be gone", || {
        all.iter().all(|&p| !alive(p))
    })
    .await;
}
