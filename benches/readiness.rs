//! Readiness figures, printed as a table (`cargo bench --bench readiness`).
//!
//! - Detection latency: a service (TCP listener, HTTP server, Redis, PostgreSQL) becomes
//!   ready at a random moment while `Wait::run` (default policy) is waiting; the figure is
//!   the time from the moment it became ready (listener bound) to `run` returning. Redis
//!   and PostgreSQL are real servers from the test kit behind a loopback TCP relay that
//!   starts listening at the random moment, so "ready" is a sharp instant. Two moments:
//!   early (20-220 ms, 10 ms start interval) and late (1.2-1.5 s, after the start
//!   backoff slowed it to 20 ms). A bench that cannot start Redis or PostgreSQL fails.
//! - The cost of one successful attempt against a service that is already up (TCP, Redis,
//!   PostgreSQL on loopback, no relay).
//! - The same for `wait-for-it` (Debian package), run side by side when it is installed.
//! - CPU while waiting on a refused port: process CPU time (utime + stime from
//!   `/proc/self/stat`) over 12 s of waiting (after 1.5 s), as a share of one core, with
//!   the default policy and with the start backoff off, side by side.
//! - 1,000 TCP targets at once: all refused for a while, then all listeners open; the
//!   figure is the time from the last listener opening to `run` returning.
//! - Deadline overshoot against a black hole (accepts, never answers).
//!
//! All traffic stays on loopback. Bounded in count and time; it stops by itself.

mod support;

use std::net::TcpListener as StdListener;
use std::process::Command;
use std::time::{Duration, Instant};

use preflight_readiness::{Policy, ProbeContext, Target, Wait};
use preflight_testkit::{PostgresServer, RedisServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TRIALS: usize = 40;
/// Trials for services that become ready late (each takes 1.2-1.5 s).
const LATE_TRIALS: usize = 20;
/// How long CPU is measured while waiting. `/proc/self/stat` counts 10 ms ticks (±0.08 %
/// of a core over 12 s, ±0.25 % over 4 s), but under gVisor the accounting itself is
/// noisier: the same build read 0.4 % to 1.8 % for one target over 12 s. Compare
/// several runs, not one.
const CPU_PERIOD: Duration = Duration::from_secs(12);
/// Waiting before the CPU is measured: past the default start backoff (1 s).
const CPU_WARMUP: Duration = Duration::from_millis(1500);

fn main() {
    // `cargo bench --bench readiness -- cpu` runs only the sections whose name contains
    // an argument (detect, attempt, anchor, deadline, cpu, many).
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted =
        |section: &str| filters.is_empty() || filters.iter().any(|f| section.contains(f.as_str()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut rng = Lcg::seeded();
    println!("readiness bench ({TRIALS} trials per latency row; default policy unless noted)");
    println!("{:<52} {:>9} {:>9} {:>9}", "what", "p50", "p95", "max");

    if wanted("detect") {
        // Redis and PostgreSQL are real servers: a bench that cannot start them fails
        // instead of printing a table without their rows.
        let redis = RedisServer::start()
            .unwrap_or_else(|e| panic!("detect: cannot start Redis (redis-server): {e}"));
        let pg = PostgresServer::start()
            .unwrap_or_else(|e| panic!("detect: cannot start PostgreSQL (initdb, pg_ctl): {e}"));
        let (redis_port, pg_port) = (redis.port(), pg.port());
        for when in [Readiness::Early, Readiness::Late] {
            let tcp = runtime.block_on(latency(
                &mut rng,
                when,
                |port| {
                    Box::pin(async move {
                        Service::Plain(TcpListener::bind(("127.0.0.1", port)).await.unwrap())
                    })
                },
                |port| format!("tcp://127.0.0.1:{port}"),
            ));
            row(
                &format!("detect {}: TCP listener opens", when.label()),
                &tcp,
            );

            let http = runtime.block_on(latency(
                &mut rng,
                when,
                |port| Box::pin(async move { Service::Http(http_server(port).await) }),
                |port| format!("http://127.0.0.1:{port}/health"),
            ));
            row(&format!("detect {}: HTTP answers 200", when.label()), &http);

            let redis_latency = runtime.block_on(latency(
                &mut rng,
                when,
                move |port| Box::pin(async move { Service::Relay(relay(port, redis_port).await) }),
                |port| format!("redis://127.0.0.1:{port}"),
            ));
            row(
                &format!("detect {}: Redis (relay) PING->PONG", when.label()),
                &redis_latency,
            );

            let pg_latency = runtime.block_on(latency(
                &mut rng,
                when,
                move |port| Box::pin(async move { Service::Relay(relay(port, pg_port).await) }),
                |port| format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            ));
            row(
                &format!("detect {}: PostgreSQL (relay) SELECT 1", when.label()),
                &pg_latency,
            );
        }
        drop((redis, pg));
    }

    if wanted("attempt") {
        // What one successful attempt costs against a service that is already up (no
        // relay): the part of the detection latency that is not waiting for the next tick.
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let tcp_port = listener.local_addr().unwrap().port();
        let tcp = Target::tcp("127.0.0.1", tcp_port);
        row(
            "attempt: TCP connect (listener up)",
            &runtime.block_on(attempt_cost(&tcp)),
        );
        {
            let redis = RedisServer::start()
                .unwrap_or_else(|e| panic!("attempt: cannot start Redis (redis-server): {e}"));
            let target = Target::parse(&redis.url()).unwrap();
            row(
                "attempt: Redis PING on loopback",
                &runtime.block_on(attempt_cost(&target)),
            );
        }
        {
            let pg = PostgresServer::start().unwrap_or_else(|e| {
                panic!("attempt: cannot start PostgreSQL (initdb, pg_ctl): {e}")
            });
            let target = Target::parse(&pg.url()).unwrap();
            row(
                "attempt: PostgreSQL connect + SELECT 1 on loopback",
                &runtime.block_on(attempt_cost(&target)),
            );
        }
    }

    if wanted("anchor") {
        if Command::new("wait-for-it").arg("--help").output().is_ok() {
            let wfi = runtime.block_on(wait_for_it_latency(&mut rng, 15));
            row("anchor: wait-for-it TCP (15 trials, process)", &wfi);
        } else {
            println!("anchor: wait-for-it not installed (apt-get install wait-for-it)");
        }
    }

    if wanted("deadline") {
        let hole = runtime.block_on(black_hole_overshoot());
        row("deadline 200 ms vs black hole: overshoot", &hole);
    }

    if wanted("cpu") {
        // Side by side, in the same run: the default policy (10 ms start interval,
        // slowed to 20 ms after 1 s) and the same without the start backoff (a fixed
        // 10 ms, the previous default). Measured after the first 1.5 s, so the figure is
        // the steady cost of a target that is not coming up.
        for (label, backoff) in [
            (
                "default (backoff 1s:20ms)",
                Policy::default().start_backoff(),
            ),
            ("fixed 10 ms (backoff off)", None),
        ] {
            for targets in [1, 10] {
                let (share, attempts) = cpu_while_refused(targets, CPU_PERIOD, backoff);
                println!(
                    "{:<52} {:>8.2}% of a core ({:.3}% per target; {attempts} probes of the first in {:.1} s)",
                    format!("CPU, {targets} refused port(s), {label}"),
                    share * 100.0,
                    share * 100.0 / targets as f64,
                    (CPU_WARMUP + CPU_PERIOD + Duration::from_millis(100)).as_secs_f64()
                );
            }
        }
    }

    if wanted("many") {
        let (after_last, total) = runtime.block_on(thousand_targets());
        println!(
            "{:<52} {:>8.1}ms after the last opened (open phase {:.1}ms)",
            "1,000 TCP targets: all detected",
            ms(after_last),
            ms(total)
        );
    }
}

/// When a latency trial's service becomes ready.
#[derive(Clone, Copy)]
enum Readiness {
    /// 20 to 220 ms into the wait: at the 10 ms start interval.
    Early,
    /// 1.2 to 1.5 s into the wait: after the default start backoff (1 s) slowed the
    /// start interval to 20 ms.
    Late,
}

impl Readiness {
    fn moment(self, rng: &mut Lcg) -> Duration {
        match self {
            Self::Early => Duration::from_millis(20 + rng.below(200)),
            Self::Late => Duration::from_millis(1200 + rng.below(300)),
        }
    }

    fn trials(self) -> usize {
        match self {
            Self::Early => TRIALS,
            Self::Late => LATE_TRIALS,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Early => "at 20-220 ms",
            Self::Late => "at 1.2-1.5 s",
        }
    }
}

/// What a trial starts at its random moment; kept alive until the wait returns.
enum Service {
    Plain(#[allow(dead_code, reason = "held open, never read")] TcpListener),
    Http(tokio::task::JoinHandle<()>),
    Relay(tokio::task::JoinHandle<()>),
}

impl Drop for Service {
    fn drop(&mut self) {
        match self {
            Self::Plain(_) => {}
            Self::Http(task) | Self::Relay(task) => task.abort(),
        }
    }
}

type Starter = dyn Fn(u16) -> std::pin::Pin<Box<dyn std::future::Future<Output = Service> + Send>>;

async fn latency(
    rng: &mut Lcg,
    when: Readiness,
    start: impl Fn(u16) -> std::pin::Pin<Box<dyn std::future::Future<Output = Service> + Send>>
    + 'static,
    spec: impl Fn(u16) -> String,
) -> Vec<Duration> {
    let start: Box<Starter> = Box::new(start);
    let trials = when.trials();
    let mut samples = Vec::with_capacity(trials);
    for _ in 0..trials {
        let port = free_port();
        let target = Target::parse(&spec(port)).expect("valid spec");
        let wait = tokio::spawn(async move {
            let result = Wait::new([target]).run().await;
            (result, Instant::now())
        });
        // The random moment the service becomes ready.
        tokio::time::sleep(when.moment(rng)).await;
        let service = start(port).await;
        let ready_at = Instant::now();
        let (result, returned_at) = wait.await.expect("wait task");
        result.expect("wait succeeded");
        samples.push(returned_at.saturating_duration_since(ready_at));
        drop(service);
    }
    samples
}

/// Durations of `TRIALS` single attempts (each must succeed).
async fn attempt_cost(target: &Target) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(TRIALS);
    for _ in 0..TRIALS {
        let mut cx = ProbeContext::new(Duration::from_secs(5));
        let started = Instant::now();
        target
            .probe()
            .probe(&mut cx)
            .await
            .expect("attempt succeeds");
        samples.push(started.elapsed());
    }
    samples
}

async fn wait_for_it_latency(rng: &mut Lcg, trials: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(trials);
    for _ in 0..trials {
        let port = free_port();
        let mut child = tokio::process::Command::new("wait-for-it")
            .args(["-q", "-t", "30", "-h", "127.0.0.1", "-p", &port.to_string()])
            .spawn()
            .expect("wait-for-it runs");
        tokio::time::sleep(Duration::from_millis(20 + rng.below(1000))).await;
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let ready_at = Instant::now();
        let status = child.wait().await.expect("wait-for-it exits");
        assert!(status.success());
        samples.push(ready_at.elapsed());
        drop(listener);
    }
    samples
}

async fn black_hole_overshoot() -> Vec<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let deadline = Duration::from_millis(200);
    let policy = Policy::builder()
        .timeout(Duration::from_secs(60))
        .deadline(deadline)
        .build()
        .unwrap();
    let mut samples = Vec::new();
    for _ in 0..20 {
        let target = Target::parse(&format!("postgres://u:p@127.0.0.1:{port}/db")).unwrap();
        let started = Instant::now();
        let err = Wait::new([target]).policy(policy.clone()).run().await;
        assert!(err.is_err());
        samples.push(started.elapsed().saturating_sub(deadline));
    }
    holder.abort();
    samples
}

/// CPU share of one core while `targets` refused ports are waited for, measured the way
/// the `wait-for` binary runs: `Wait::run_blocking` on its own current-thread runtime.
fn cpu_while_refused(
    targets: usize,
    period: Duration,
    backoff: Option<preflight_readiness::StartBackoff>,
) -> (f64, u32) {
    let specs: Vec<Target> = (0..targets)
        .map(|_| Target::tcp("127.0.0.1", free_port()))
        .collect();
    let warmup = CPU_WARMUP;
    let policy = Policy::builder()
        .start_backoff(backoff)
        .deadline(warmup + period + Duration::from_millis(100))
        .build()
        .unwrap();
    let waiter = std::thread::spawn(move || Wait::new(specs).policy(policy).run_blocking());
    park_for(warmup);
    let (cpu0, t0) = (support::cpu_time(None), Instant::now());
    park_for(period);
    let (cpu1, t1) = (support::cpu_time(None), Instant::now());
    let attempts = match waiter.join().unwrap() {
        Err(preflight_readiness::Error::Timeout { pending, .. }) => pending[0].attempts,
        other => panic!("expected a timeout, got {other:?}"),
    };
    (
        (cpu1 - cpu0).as_secs_f64() / (t1 - t0).as_secs_f64(),
        attempts,
    )
}

/// Blocks this (non-async) thread for `period`.
fn park_for(period: Duration) {
    let until = Instant::now() + period;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        std::thread::park_timeout(left);
    }
}

async fn thousand_targets() -> (Duration, Duration) {
    const N: usize = 1000;
    // Distinct ports: hold them all at once, then release.
    let held: Vec<StdListener> = (0..N)
        .map(|_| StdListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    drop(held);
    let targets: Vec<Target> = ports.iter().map(|&p| Target::tcp("127.0.0.1", p)).collect();
    let policy = Policy::builder()
        .deadline(Duration::from_secs(60))
        .build()
        .unwrap();
    let wait = tokio::spawn(async move {
        let result = Wait::new(targets).policy(policy).run().await;
        (result, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open_start = Instant::now();
    let mut listeners = Vec::with_capacity(N);
    for port in ports {
        listeners.push(StdListener::bind(("127.0.0.1", port)).unwrap());
    }
    let last_open = Instant::now();
    let (result, returned_at) = wait.await.unwrap();
    let report = result.expect("all 1,000 ready");
    assert_eq!(report.targets.len(), N);
    (
        returned_at.saturating_duration_since(last_open),
        last_open - open_start,
    )
}

/// A minimal HTTP/1.1 server answering 200 to everything.
async fn http_server(port: u16) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0_u8; 2048];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    })
}

/// A loopback TCP relay from `port` to `upstream`, listening from now on.
async fn relay(port: u16, upstream: u16) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", upstream)).await {
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

fn free_port() -> u16 {
    preflight_testkit::free_port()
}

fn row(what: &str, samples: &[Duration]) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what:<52} {:>7.2}ms {:>7.2}ms {:>7.2}ms",
        ms(pick(0.5)),
        ms(pick(0.95)),
        ms(*sorted.last().unwrap())
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A small deterministic-enough random source (no extra dependency for a bench).
struct Lcg(u64);

impl Lcg {
    fn seeded() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Self(nanos | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}
