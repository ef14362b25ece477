//! The wait loop: not ready → ready, deadlines, Docker semantics, events, monitor mode,
//! the blocking entry point, concurrency, and the probes that need no server software
//! (TCP, unix socket, file, command).

use std::time::{Duration, Instant};

use preflight_readiness::{Error, Health, Policy, Target, Wait};

use crate::support::{
    BlackHole, Events, FirstFailure, GENEROUS, both, free_port, listen_after_failure, policy,
};

#[tokio::test(flavor = "multi_thread")]
async fn tcp_listener_that_opens_later_is_detected_after_failures() {
    let port = free_port();
    let failed = FirstFailure::default();
    let listener = listen_after_failure(port, failed.clone());
    let events = Events::default();
    let report = Wait::new([Target::parse(&format!("127.0.0.1:{port}")).unwrap()])
        .policy(policy(GENEROUS))
        .on_event(both(events.sink(), failed.sink()))
        .run()
        .await
        .unwrap();
    let _listener = listener.await.unwrap();
    let status = &report.targets[0];
    assert_eq!(status.health, Health::Healthy);
    assert!(
        status.attempts > 1,
        "it was refused before the listener opened"
    );
    let failure = status.last_failure.as_ref().unwrap().to_string();
    assert!(failure.contains("refused"), "{failure}");
    assert_eq!(events.changes(), [(Health::Starting, Health::Healthy)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_holds_against_a_black_hole() {
    let hole = BlackHole::start().await;
    // Probes that wait for a greeting or an answer the black hole never sends; their
    // per-probe timeout is far beyond the deadline.
    let mut specs = vec![
        format!("mysql://127.0.0.1:{}", hole.port),
        format!("nats://127.0.0.1:{}", hole.port),
        format!("amqp://127.0.0.1:{}", hole.port),
        format!("mqtt://127.0.0.1:{}", hole.port),
    ];
    if cfg!(feature = "http") {
        specs.push(format!("http://127.0.0.1:{}/", hole.port));
    }
    if cfg!(feature = "postgres") {
        specs.push(format!("postgres://u:s3cret@127.0.0.1:{}/db", hole.port));
    }
    if cfg!(feature = "redis") {
        specs.push(format!("redis://127.0.0.1:{}", hole.port));
    }
    for spec in specs {
        let deadline = Duration::from_millis(300);
        let policy = Policy::builder()
            .timeout(Duration::from_secs(60))
            .deadline(deadline)
            .build()
            .unwrap();
        let started = Instant::now();
        let err = Wait::new([Target::parse(&spec).unwrap()])
            .policy(policy)
            .run()
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(took >= deadline, "{spec}: returned early after {took:?}");
        // The tight bound (≤ 50 ms late) is measured in the bench; this one only proves
        // the deadline is not stretched to the 60 s probe timeout.
        assert!(took < Duration::from_secs(10), "{spec}: took {took:?}");
        assert_eq!(err.exit_code(), 124, "{spec}: {err}");
        let text = err.to_string();
        assert!(text.contains("deadline of 300ms passed"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_that_does_not_resolve_is_retried_until_the_deadline() {
    let err = Wait::new([Target::parse("no-such-host.invalid:80").unwrap()])
        .policy(policy(Duration::from_millis(500)))
        .run()
        .await
        .unwrap_err();
    let Error::Timeout { pending, .. } = &err else {
        panic!("expected a timeout, got {err}");
    };
    assert!(pending[0].attempts > 1, "resolution was not retried: {err}");
    let text = err.to_string();
    assert!(text.contains("no-such-host.invalid:80 not ready"), "{text}");
    assert!(
        text.contains("cannot resolve `no-such-host.invalid`"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_inside_the_start_period_do_not_count() {
    let port = free_port();
    let start_period = Duration::from_millis(400);
    let policy = Policy::builder()
        .retries(1)
        .start_period(start_period)
        .interval(Duration::from_millis(20))
        .deadline(GENEROUS)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = Wait::new([Target::tcp("127.0.0.1", port)])
        .policy(policy)
        .run()
        .await
        .unwrap_err();
    assert!(started.elapsed() >= start_period, "{:?}", started.elapsed());
    let Error::Unhealthy { status } = &err else {
        panic!("expected unhealthy, got {err}");
    };
    // Many refused probes at the 10 ms start interval before the one that counted.
    assert!(status.attempts > 5, "{}", status.attempts);
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("is unhealthy"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_start_period_retries_give_up_at_once() {
    let port = free_port();
    let policy = Policy::builder()
        .retries(3)
        .start_period(Duration::ZERO)
        .interval(Duration::from_millis(5))
        .deadline(GENEROUS)
        .build()
        .unwrap();
    let err = Wait::new([Target::tcp("127.0.0.1", port)])
        .policy(policy)
        .run()
        .await
        .unwrap_err();
    let Error::Unhealthy { status } = err else {
        panic!("expected unhealthy");
    };
    assert_eq!(status.attempts, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn success_threshold_needs_that_many_successes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let policy = Policy::builder()
        .success_threshold(3)
        .deadline(GENEROUS)
        .build()
        .unwrap();
    let report = Wait::new([Target::tcp("127.0.0.1", port)])
        .policy(policy)
        .run()
        .await
        .unwrap();
    assert_eq!(report.targets[0].attempts, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn many_targets_are_probed_concurrently() {
    // Ten probes that each take 300 ms: one after the other they would need 3 s.
    let targets: Vec<_> = (0..10)
        .map(|_| Target::parse("sh:sleep 0.3").unwrap())
        .collect();
    let started = Instant::now();
    let report = Wait::new(targets)
        .policy(policy(GENEROUS))
        .run()
        .await
        .unwrap();
    assert_eq!(report.targets.len(), 10);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unix_socket_and_file_that_appear_later() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("app.sock");
    let file = dir.path().join("ready");
    let (socket_path, file_path) = (socket.clone(), file.clone());
    let failed = FirstFailure::default();
    let maker = tokio::spawn({
        let failed = failed.clone();
        async move {
            // Both targets fail a probe before the socket and the file appear.
            failed.wait_for_targets(2).await;
            let listener = tokio::net::UnixListener::bind(&socket_path).unwrap();
            tokio::fs::write(&file_path, b"").await.unwrap();
            listener
        }
    });
    let targets = [
        Target::parse(&format!("unix://{}", socket.display())).unwrap(),
        Target::parse(&format!("file://{}", file.display())).unwrap(),
    ];
    let report = Wait::new(targets)
        .policy(policy(GENEROUS))
        .on_event(failed.sink())
        .run()
        .await
        .unwrap();
    let _listener = maker.await.unwrap();
    for status in &report.targets {
        assert!(status.attempts > 1, "{} was ready too early", status.target);
    }
    let err = Wait::new([Target::parse("file:///no/such/file").unwrap()])
        .policy(policy(Duration::from_millis(100)))
        .run()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("/no/such/file does not exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn command_probe_quotes_the_failure_and_passes_on_exit_zero() {
    let err = Wait::new([Target::parse("sh:echo not yet >&2; exit 3").unwrap()])
        .policy(policy(Duration::from_millis(200)))
        .run()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("exit status: 3: not yet"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let spec = format!("cmd:test -e {}", flag.display());
    let failed = FirstFailure::default();
    let writer = tokio::spawn({
        let failed = failed.clone();
        async move {
            failed.wait().await;
            tokio::fs::write(flag, b"").await.unwrap();
        }
    });
    let report = Wait::new([Target::parse(&spec).unwrap()])
        .policy(policy(GENEROUS))
        .on_event(failed.sink())
        .run()
        .await
        .unwrap();
    writer.await.unwrap();
    assert!(report.targets[0].attempts > 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn monitor_reports_health_transitions() {
    let port = free_port();
    let service = serve_tcp(port).await;
    let policy = Policy::builder()
        .interval(Duration::from_millis(20))
        .retries(2)
        .build()
        .unwrap();
    let mut monitor = Wait::new([Target::tcp("127.0.0.1", port)])
        .policy(policy)
        .monitor()
        .unwrap();
    let change = next_change(&mut monitor).await;
    assert!(
        change.to_string().contains("is healthy (was starting)"),
        "{change}"
    );
    service.abort();
    let change = next_change(&mut monitor).await;
    assert!(
        change.to_string().contains("is unhealthy (was healthy)"),
        "{change}"
    );
    assert_eq!(monitor.statuses()[0].health, Health::Unhealthy);
    let _service = serve_tcp(port).await;
    let change = next_change(&mut monitor).await;
    assert!(
        change.to_string().contains("is healthy (was unhealthy)"),
        "{change}"
    );
}

async fn next_change(monitor: &mut preflight_readiness::Monitor) -> preflight_readiness::Event {
    tokio::time::timeout(GENEROUS, monitor.next_change())
        .await
        .unwrap()
        .unwrap()
}

/// A TCP service on `port` that accepts and closes every connection until aborted (so a
/// fast monitor never fills the listen backlog).
async fn serve_tcp(port: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    })
}

#[test]
fn blocking_entry_point_works_from_sync_code_and_refuses_inside_a_runtime() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let wait = || Wait::new([Target::tcp("127.0.0.1", port)]).policy(policy(GENEROUS));
    let report = wait().run_blocking().unwrap();
    assert_eq!(report.targets[0].attempts, 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let err = runtime.block_on(async { wait().run_blocking().unwrap_err() });
    assert!(err.to_string().contains("inside a tokio runtime"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_wait_is_ready_at_once() {
    let report = Wait::new([]).run().await.unwrap();
    assert!(report.targets.is_empty());
}
