//! The policy's rules, scenario by scenario, against scripted services on loopback: real
//! TCP servers whose answer to each connection is scripted (a MySQL greeting = ready, a
//! MySQL error packet = not ready, silence = hung), ported from moby's `TestHealthStates`
//! and `TestHealthStartInterval`, moby issue #46747 and Kubernetes' prober. Each test
//! asserts the exit code, the time of the verdict and the number of attempts, and names
//! the rule (and the difference from Docker or Kubernetes) it shows; the README's list of
//! differences points here.
//!
//! Timing bounds are generous (the machine is shared) but each lower bound is one the
//! rule implies, so a wrong rule fails them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use preflight_readiness::{
    Cadence, Error, EventKind, Health, Policy, PolicyBuilder, StartBackoff, Target, Wait,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::support::{BlackHole, Events, GENEROUS};

/// What a scripted service does with one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// A MySQL handshake: the probe passes.
    Ready,
    /// A MySQL error packet ("still starting"): the probe fails.
    NotReady,
    /// Accepts and never answers: the probe runs into its timeout.
    Hang,
}

type Script = dyn Fn(usize, Duration) -> Answer + Send + Sync;

/// A loopback TCP server that answers connection `n` (0-based), accepted `t` after it
/// started, with `script(n, t)`, and counts the connections it saw.
struct Scripted {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Scripted {
    async fn start(script: impl Fn(usize, Duration) -> Answer + Send + Sync + 'static) -> Self {
        let script: Arc<Script> = Arc::new(script);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&connections);
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let held = Arc::new(Mutex::new(Vec::new()));
            while let Ok((mut stream, _)) = listener.accept().await {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                match script(n, started.elapsed()) {
                    Answer::Ready => {
                        let _ = stream.write_all(&packet(b"\x0a8.0.0-scripted\0")).await;
                    }
                    Answer::NotReady => {
                        let _ = stream
                            .write_all(&packet(b"\xff\x10\x04still starting"))
                            .await;
                    }
                    Answer::Hang => held.lock().unwrap().push(stream),
                }
            }
        });
        Self {
            port,
            connections,
            task,
        }
    }

    fn target(&self) -> Target {
        Target::parse(&format!("mysql://127.0.0.1:{}", self.port)).unwrap()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn packet(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    let mut packet = vec![len[0], len[1], len[2], 0];
    packet.extend_from_slice(payload);
    packet
}

/// The default policy with the generous deadline; tests change only what they test.
fn base() -> PolicyBuilder {
    Policy::builder().deadline(GENEROUS)
}

/// Start (relative to the wait's start) and end of every probe, from the events.
fn probe_times(events: &Events) -> Vec<(Duration, Duration, bool)> {
    events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Probed { took, failure, .. } => Some((
                e.elapsed.saturating_sub(*took),
                e.elapsed,
                failure.is_none(),
            )),
            _ => None,
        })
        .collect()
}

const MS: Duration = Duration::from_millis(1);

// --- Readiness and the start period (Docker) -------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn fails_n_times_then_ready_after_n_plus_one_attempts() {
    let service = Scripted::start(|n, _| {
        if n < 5 {
            Answer::NotReady
        } else {
            Answer::Ready
        }
    })
    .await;
    let started = Instant::now();
    let report = Wait::new([service.target()])
        .policy(base().build().unwrap())
        .run()
        .await
        .unwrap();
    let took = started.elapsed();
    let status = &report.targets[0];
    assert_eq!(status.attempts, 6);
    assert_eq!(service.connections(), 6);
    // Five waits of at least the 10 ms start interval (Docker's cadence: after each end).
    assert!(status.elapsed >= 50 * MS, "{:?}", status.elapsed);
    assert!(took < GENEROUS, "{took:?}");
    assert_eq!(status.health, Health::Healthy);
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_at_t_is_noticed_after_t() {
    let at = Duration::from_millis(300);
    // The service's clock starts inside `start`, so it is ready no earlier than `at`
    // after this instant.
    let before = Instant::now();
    let service = Scripted::start(move |_, t| {
        if t < at {
            Answer::NotReady
        } else {
            Answer::Ready
        }
    })
    .await;
    let report = Wait::new([service.target()])
        .policy(base().build().unwrap())
        .run()
        .await
        .unwrap();
    assert!(before.elapsed() >= at, "ready before the service was");
    let status = &report.targets[0];
    assert!(
        status.elapsed < at + Duration::from_secs(5),
        "{:?}",
        status.elapsed
    );
    assert!(status.attempts > 3, "{}", status.attempts);
    assert_eq!(status.attempts as usize, service.connections());
}

/// The bug of issue 13: one success below `success_threshold`, then failures, inside the
/// start period. Docker keys the grace on the status being "starting"; a success below
/// the threshold leaves the target starting, so the failures do not count and the wait
/// runs into its deadline (exit 124), where it used to give up (exit 1) within ~30 ms.
#[tokio::test(flavor = "multi_thread")]
async fn a_success_below_the_threshold_keeps_the_start_period_grace() {
    for start_period in [Some(Duration::from_secs(10)), None] {
        let service = Scripted::start(|n, _| {
            if n == 0 {
                Answer::Ready
            } else {
                Answer::NotReady
            }
        })
        .await;
        let deadline = Duration::from_millis(600);
        let mut policy = base().success_threshold(2).retries(1).deadline(deadline);
        policy = match start_period {
            Some(period) => policy.start_period(period),
            None => policy.start_period_whole_wait(),
        };
        let started = Instant::now();
        let err = Wait::new([service.target()])
            .policy(policy.build().unwrap())
            .run()
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.exit_code(), 124, "{start_period:?}: {err}");
        assert!(took >= deadline, "{start_period:?}: gave up after {took:?}");
        let Error::Timeout { pending, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(pending[0].health, Health::Starting);
        assert!(pending[0].attempts > 3, "{}", pending[0].attempts);
        assert!(pending[0].elapsed >= deadline, "{:?}", pending[0].elapsed);
    }
}

/// A database image that restarts once during initialisation: ready, down, ready. With
/// `success_threshold 2` the wait rides over the flap and ends ready.
#[tokio::test(flavor = "multi_thread")]
async fn a_flap_during_start_is_ridden_over_with_a_success_threshold() {
    let script = [
        Answer::Ready,
        Answer::NotReady,
        Answer::NotReady,
        Answer::Ready,
        Answer::Ready,
    ];
    let service =
        Scripted::start(move |n, _| script.get(n).copied().unwrap_or(Answer::Ready)).await;
    let report = Wait::new([service.target()])
        .policy(
            base()
                .success_threshold(2)
                .retries(1)
                .start_period(Duration::from_secs(10))
                .build()
                .unwrap(),
        )
        .run()
        .await
        .unwrap();
    assert_eq!(report.targets[0].attempts, 5);
    assert!(report.targets[0].elapsed >= 40 * MS);
}

/// Docker `TestHealthStates`: once healthy a target is no longer starting, so failures
/// count even inside the start period (here: monitor mode, retries 2).
#[tokio::test(flavor = "multi_thread")]
async fn after_healthy_failures_count_inside_the_start_period() {
    let service = Scripted::start(|n, _| {
        if n == 0 {
            Answer::Ready
        } else {
            Answer::NotReady
        }
    })
    .await;
    let events = Events::default();
    let mut monitor = Wait::new([service.target()])
        .policy(
            base()
                .retries(2)
                .interval(20 * MS)
                .start_period(Duration::from_secs(3600))
                .build()
                .unwrap(),
        )
        .on_event(events.sink())
        .monitor()
        .unwrap();
    for to in [Health::Healthy, Health::Unhealthy] {
        let change = tokio::time::timeout(GENEROUS, monitor.next_change())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(change.kind, EventKind::Changed { to: t, .. } if t == to),
            "{change}"
        );
        if to == Health::Unhealthy {
            assert_eq!(change.attempt, 3, "1 success + 2 counted failures");
        }
    }
    let status = &monitor.statuses()[0];
    assert_eq!(status.health, Health::Unhealthy);
    assert!(status.elapsed >= 40 * MS, "{:?}", status.elapsed);
}

/// A failure streak that straddles the end of the start period: only failures of probes
/// that *began* after the period count (Docker compares the probe's start with it), and
/// `retries` of them make the verdict.
#[tokio::test(flavor = "multi_thread")]
async fn only_failures_begun_after_the_start_period_count() {
    let service = Scripted::start(|_, _| Answer::NotReady).await;
    let period = Duration::from_millis(300);
    let events = Events::default();
    let err = Wait::new([service.target()])
        .policy(
            base()
                .retries(3)
                .start_period(period)
                .start_interval(40 * MS)
                .interval(100 * MS)
                .build()
                .unwrap(),
        )
        .on_event(events.sink())
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    let Error::Unhealthy { status } = &err else {
        panic!("{err}")
    };
    let times = probe_times(&events);
    assert_eq!(times.len(), status.attempts as usize);
    assert_eq!(service.connections(), status.attempts as usize);
    // Probe starts read back from the events are a few µs late, never early.
    let counted = times
        .iter()
        .filter(|(start, _, _)| *start >= period)
        .count();
    assert_eq!(counted, 3, "{times:?}");
    assert!(
        times.len() >= 4,
        "some failures fell inside the period: {times:?}"
    );
    // Verdict: the first counted probe begins at ≥ 300 ms, then two waits of 100 ms.
    assert!(status.elapsed >= period + 200 * MS, "{:?}", status.elapsed);
    assert!(!err.to_string().contains(" in 0.0ms"), "{err}");
}

/// Docker `TestHealthStartInterval`: `start_interval` while starting inside the start
/// period, `interval` after it; and (moby #46747) the start interval is not cut short at
/// the end of the period.
#[tokio::test(flavor = "multi_thread")]
async fn start_interval_inside_the_period_then_interval() {
    let service = Scripted::start(|_, _| Answer::NotReady).await;
    let period = Duration::from_millis(300);
    let (start_interval, interval) = (20 * MS, 400 * MS);
    let events = Events::default();
    let deadline = Duration::from_millis(1500);
    let err = Wait::new([service.target()])
        .policy(
            base()
                .retries(100)
                .start_period(period)
                .start_interval(start_interval)
                .interval(interval)
                .deadline(deadline)
                .build()
                .unwrap(),
        )
        .on_event(events.sink())
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 124, "{err}");
    let times = probe_times(&events);
    let slack = 3 * MS;
    for pair in times.windows(2) {
        let ((_, prev_end, _), (next_start, _, _)) = (pair[0], pair[1]);
        let gap = next_start.saturating_sub(prev_end);
        // Decided after the previous probe: start interval while in the period.
        let expected = if prev_end < period {
            start_interval
        } else {
            interval
        };
        assert!(
            gap + slack >= expected,
            "gap {gap:?} < {expected:?}: {times:?}"
        );
    }
    let fast = times.iter().filter(|(start, _, _)| *start < period).count();
    assert!(fast >= 3, "start interval not used: {times:?}");
    let slow = times.len() - fast;
    assert!(slow <= 4, "interval not used after the period: {times:?}");
}

// --- Cadence: Docker counts from the end of a probe, Kubernetes from its start ---------

/// `--interval 300ms --probe-timeout 300ms --retries 3` against a service that hangs:
/// with Docker's cadence the three probes start at 0, 600 and 1200 ms, so the verdict
/// comes at ~1500 ms (Docker's own is one interval later, as its first probe waits);
/// with Kubernetes' fixed rate they start at 0, 300 and 600 ms, verdict at ~900 ms.
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_service_is_given_up_after_docker_s_time_or_kubernetes_time() {
    let step = Duration::from_millis(300);
    for (cadence, at_least, below) in [
        (Cadence::AfterFinish, 5 * step, Duration::from_secs(20)),
        (Cadence::FixedRate, 3 * step, 5 * step),
    ] {
        let service = Scripted::start(|_, _| Answer::Hang).await;
        let started = Instant::now();
        let err = Wait::new([service.target()])
            .policy(
                base()
                    .interval(step)
                    .timeout(step)
                    .retries(3)
                    .start_period(Duration::ZERO)
                    .cadence(cadence)
                    .build()
                    .unwrap(),
            )
            .run()
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.exit_code(), 1, "{cadence}: {err}");
        let Error::Unhealthy { status } = &err else {
            panic!("{err}")
        };
        assert_eq!(status.attempts, 3, "{cadence}");
        assert_eq!(service.connections(), 3, "{cadence}");
        assert!(
            status.elapsed >= at_least,
            "{cadence}: {:?}",
            status.elapsed
        );
        assert!(took < below, "{cadence}: {took:?}");
        // Honest report: the real elapsed time and the crate's own timeout wording.
        let text = err.to_string();
        assert!(
            text.contains("last failure: no answer within the probe timeout (300ms)"),
            "{text}"
        );
        assert!(!text.contains(" in 0.0ms"), "{text}");
    }
}

// --- Zero means the default (Docker) ----------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn retries_0_means_docker_s_default_of_3() {
    let service = Scripted::start(|_, _| Answer::NotReady).await;
    let err = Wait::new([service.target()])
        .policy(
            base()
                .retries(0)
                .start_period(Duration::ZERO)
                .build()
                .unwrap(),
        )
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 1);
    let Error::Unhealthy { status } = &err else {
        panic!("{err}")
    };
    assert_eq!(status.attempts, 3);
    assert!(err.to_string().contains("still starting"), "{err}");
}

// --- Differences from Docker and Kubernetes ---------------------------------------------

/// Difference from Docker: the first probe runs at once (Docker waits one interval, or
/// one start interval with a start period; 30 s by default).
#[tokio::test(flavor = "multi_thread")]
async fn the_first_probe_runs_at_once() {
    let service = Scripted::start(|_, _| Answer::Ready).await;
    let started = Instant::now();
    let report = Wait::new([service.target()])
        .policy(
            base()
                .interval(Duration::from_secs(30))
                .start_interval(Duration::from_secs(30))
                .start_period(Duration::ZERO)
                .build()
                .unwrap(),
        )
        .run()
        .await
        .unwrap();
    assert_eq!(report.targets[0].attempts, 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// Difference from Docker (whose start interval is fixed): by default the start interval
/// slows from 10 ms to 20 ms once a target has been starting for 1 s, to save CPU.
#[tokio::test(flavor = "multi_thread")]
async fn the_start_interval_slows_after_a_while_unless_switched_off() {
    for (backoff, after_one_second) in [
        (
            Some(StartBackoff::new(Duration::from_millis(300), 60 * MS)),
            60 * MS,
        ),
        (None, 10 * MS),
    ] {
        let service = Scripted::start(|_, _| Answer::NotReady).await;
        let events = Events::default();
        let err = Wait::new([service.target()])
            .policy(
                base()
                    .start_backoff(backoff)
                    .deadline(Duration::from_millis(800))
                    .build()
                    .unwrap(),
            )
            .on_event(events.sink())
            .run()
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 124);
        let times = probe_times(&events);
        let late: Vec<_> = times
            .windows(2)
            .filter(|p| p[0].1 >= Duration::from_millis(300))
            .map(|p| p[1].0.saturating_sub(p[0].1))
            .collect();
        assert!(!late.is_empty(), "{times:?}");
        assert!(
            late.iter().all(|gap| *gap + 3 * MS >= after_one_second),
            "{backoff:?}: {late:?}"
        );
        if backoff.is_none() {
            // Without the backoff the cadence stays fast (far more than 500/60 probes).
            assert!(late.len() > 12, "{late:?}");
        }
    }
}

/// Difference from Kubernetes: a readiness probe never gives up (it keeps probing and
/// flips Ready); a wait ends at the first verdict, so `retries` counted failures end it
/// with exit 1. In monitor mode the target comes back, as in Kubernetes, but it must
/// pass `success_threshold` probes in a row again.
#[tokio::test(flavor = "multi_thread")]
async fn after_unhealthy_the_success_threshold_applies_again_in_monitor_mode() {
    let script = [
        Answer::NotReady,
        Answer::Ready,
        Answer::NotReady,
        Answer::Ready,
        Answer::Ready,
    ];
    let service =
        Scripted::start(move |n, _| script.get(n).copied().unwrap_or(Answer::Ready)).await;
    let mut monitor = Wait::new([service.target()])
        .policy(
            base()
                .retries(1)
                .success_threshold(2)
                .start_period(Duration::ZERO)
                .interval(10 * MS)
                .build()
                .unwrap(),
        )
        .monitor()
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let change = tokio::time::timeout(GENEROUS, monitor.next_change())
            .await
            .unwrap()
            .unwrap();
        if let EventKind::Changed { to, .. } = change.kind {
            seen.push((to, change.attempt));
        }
    }
    assert_eq!(seen, [(Health::Unhealthy, 1), (Health::Healthy, 5)]);
}

// --- Honest reports ---------------------------------------------------------------------

/// A probe still running when the deadline passes is counted and reported.
#[tokio::test(flavor = "multi_thread")]
async fn a_probe_cut_off_by_the_deadline_is_counted_and_reported() {
    let hole = BlackHole::start().await;
    let deadline = Duration::from_millis(300);
    let err = Wait::new([Target::parse(&format!("mysql://127.0.0.1:{}", hole.port)).unwrap()])
        .policy(
            base()
                .timeout(Duration::from_secs(60))
                .deadline(deadline)
                .build()
                .unwrap(),
        )
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 124);
    let Error::Timeout { pending, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(pending[0].attempts, 1);
    let running = pending[0].in_flight.expect("the probe was running");
    assert!(running >= deadline - 50 * MS, "{running:?}");
    let text = err.to_string();
    assert!(text.contains("1 attempt in"), "{text}");
    assert!(text.contains("attempt 1 had no answer after"), "{text}");
}

/// Every probe kind that can hang reports the probe timeout in the crate's own words,
/// never a client's ("operation timed out", "timed out", "deadline has elapsed").
#[tokio::test(flavor = "multi_thread")]
async fn every_probe_kind_reports_the_timeout_in_the_crate_s_words() {
    let hole = BlackHole::start().await;
    let mut specs = vec![
        format!("mysql://127.0.0.1:{}", hole.port),
        format!("nats://127.0.0.1:{}", hole.port),
        format!("amqp://127.0.0.1:{}", hole.port),
        format!("mqtt://127.0.0.1:{}", hole.port),
        "sh:sleep 30".to_owned(),
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
    let timeout = Duration::from_millis(200);
    let mut waits = tokio::task::JoinSet::new();
    for spec in specs {
        let policy = base()
            .timeout(timeout)
            .retries(1)
            .start_period(Duration::ZERO)
            .build()
            .unwrap();
        waits.spawn(async move {
            let result = Wait::new([Target::parse(&spec).unwrap()])
                .policy(policy)
                .run()
                .await;
            (spec, result)
        });
    }
    while let Some(joined) = waits.join_next().await {
        let (spec, result) = joined.unwrap();
        let err = result.unwrap_err();
        let Error::Unhealthy { status } = &err else {
            panic!("{spec}: {err}")
        };
        assert_eq!(status.attempts, 1, "{spec}");
        assert!(status.elapsed >= timeout, "{spec}: {:?}", status.elapsed);
        assert_eq!(
            status.last_failure.as_ref().unwrap().message(),
            "no answer within the probe timeout (200ms)",
            "{spec}"
        );
    }
}

// --- localhost is both loopbacks (RFC 6761 §6.3) ----------------------------------------

/// A service listening on ::1 only (Node 17+, Vite) is found through `localhost` and
/// `*.localhost`, whatever /etc/hosts says.
#[tokio::test(flavor = "multi_thread")]
async fn localhost_reaches_a_service_on_ipv6_loopback_only() {
    let listener = TcpListener::bind("[::1]:0")
        .await
        .expect("this test needs the IPv6 loopback (::1)");
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&accepted);
    let accepter = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            notify.notify_one();
            tokio::spawn(async move {
                // Read the request before answering: closing a socket with unread data
                // resets the connection, and the client may see the reset first.
                let mut request = Vec::new();
                let mut buf = [0_u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    let mut specs = vec![
        format!("tcp://localhost:{port}"),
        format!("app.localhost:{port}"),
        format!("tcp://LOCALHOST.:{port}"),
    ];
    if cfg!(feature = "http") {
        specs.push(format!("http://localhost:{port}/"));
        specs.push(format!("http://app.localhost:{port}/"));
    }
    for spec in specs {
        let report = Wait::new([Target::parse(&spec).unwrap()])
            .policy(base().deadline(Duration::from_secs(10)).build().unwrap())
            .run()
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(report.targets[0].attempts, 1, "{spec}");
        // It was this ::1 listener that answered, not something on 127.0.0.1.
        tokio::time::timeout(GENEROUS, accepted.notified())
            .await
            .unwrap_or_else(|_| panic!("{spec}: the ::1 listener saw no connection"));
    }
    accepter.abort();
}

/// PostgreSQL and Redis URLs naming `localhost` connect through the same rule (the
/// machine's servers listen on 127.0.0.1; this hosts file may lack `::1 localhost`).
#[cfg(all(feature = "postgres", feature = "redis"))]
#[tokio::test(flavor = "multi_thread")]
async fn localhost_postgres_and_redis_urls_use_the_loopback_rule() {
    use preflight_testkit::{Service, require};
    let pg = require!(Service::Postgres.check());
    let redis = require!(Service::Redis.check());
    for url in [pg, redis] {
        let url = url.replace("127.0.0.1", "localhost");
        assert!(
            url.contains("@localhost") || url.contains("//localhost"),
            "{url}"
        );
        let report = Wait::new([Target::parse(&url).unwrap()])
            .policy(base().deadline(Duration::from_secs(10)).build().unwrap())
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.targets[0].attempts, 1, "{url}");
    }
}
