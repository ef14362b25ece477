//! Command probes own their processes: every attempt runs in its own process group, is
//! judged by its exit status, and leaves nothing behind. Checked by pid, on real processes.

use std::path::Path;
use std::time::{Duration, Instant};

use preflight_readiness::{Error, Policy, Target, Wait};

use crate::support::{GENEROUS, policy};

/// The pids a script wrote to `file`, one a line.
fn pids(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the `(comm)` field, which may itself hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Waits (boundedly: killing is asynchronous) until none of `pids` runs; returns those
/// still running at the end.
async fn survivors(pids: &[u32]) -> Vec<u32> {
    let until = Instant::now() + GENEROUS;
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|&p| running(p)).collect();
        if alive.is_empty() || Instant::now() > until {
            return alive;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_background_child_holding_the_output_does_not_hold_the_verdict() {
    // Before: the probe read the output to its end, which the background `sleep` holds
    // open, so `exit 0` was never seen and the wait ran into its deadline.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let spec = format!("sh:sleep 1058 & echo $! >> {}; exit 0", file.display());
    let report = Wait::new([Target::parse(&spec).unwrap()])
        .policy(policy(GENEROUS))
        .run()
        .await
        .unwrap();
    assert_eq!(report.targets[0].attempts, 1);
    let started = pids(&file);
    assert_eq!(started.len(), 1);
    assert_eq!(survivors(&started).await, Vec::<u32>::new(), "left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn timed_out_attempts_leave_no_process_behind() {
    // Before: each timed-out attempt killed only `sh`; both sleeps kept running.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let spec = format!(
        "sh:echo $$ >> {f}; sleep 1052 & echo $! >> {f}; sleep 1053 & echo $! >> {f}; wait",
        f = file.display()
    );
    let policy = Policy::builder()
        .timeout(Duration::from_millis(300))
        .interval(Duration::from_millis(50))
        .start_interval(Duration::from_millis(50))
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = Wait::new([Target::parse(&spec).unwrap()])
        .policy(policy)
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout { .. } | Error::Unhealthy { .. }),
        "{err}"
    );
    let started = pids(&file);
    assert!(started.len() >= 3, "{started:?}");
    assert_eq!(survivors(&started).await, Vec::<u32>::new(), "left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_attempt_still_quotes_output_its_background_child_keeps_writing() {
    let err =
        Wait::new([Target::parse("sh:(sleep 1059; echo late) & echo early >&2; exit 4").unwrap()])
            .policy(policy(Duration::from_millis(500)))
            .run()
            .await
            .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("exit status: 4: early"), "{text}");
    assert!(!text.contains("late"), "{text}");
}
