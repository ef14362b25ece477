//! test-guard scratch databases: the time to a ready, migrated, isolated PostgreSQL database
//! for one test, side by side in one run:
//!
//! - a scratch database taken from the pool of ready clones (the default: a rename), and
//!   cloned from the migrated template on demand (`STRATEGY = FILE_COPY` and `WAL_LOG`),
//!   connected; the drop (which refills the pool) is timed apart;
//! - what `#[sqlx::test]` does: create an empty database, connect, run the migrations.
//!
//! The schema is the committed fixture `crates/test-guard/tests/fixtures/scratch_schema`
//! (50 tables with keys, constraints and 240 indexes, a view, a trigger). Target (DESIGN §7):
//! ≤ 30 ms p50 per scratch database on loopback, ≥ 10× faster than migrating. Then 100 tests
//! in parallel (16 at a time): wall time, and the scratch databases left afterwards (must be 0).
//!
//! The server is a throw-away one from the test kit (loopback, fsync off as for every test
//! server); it is skipped, with a line saying so, when it cannot start.
//!
//! `cargo bench --bench scratch`

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use preflight_test_guard::Guard;
use preflight_test_guard::scratch::{Migrations, ScratchServer, Strategy};
use preflight_testkit::PostgresServer;
use tokio_postgres::{Client, NoTls};

fn schema() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/test-guard/tests/fixtures/scratch_schema"
    ))
}

fn scratch_server(url: &str, strategy: Strategy, pool: usize) -> ScratchServer {
    ScratchServer::builder(url)
        .migrations(Migrations::dir(schema()))
        .guard(Guard::builder().clear_target_vars().libpq_env(false))
        .strategy(strategy)
        .pool(pool)
        .build()
        .unwrap()
}

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// What `#[sqlx::test]` does per test: a new empty database, a connection, the migrations.
struct Migrating {
    pg_url: String,
    port: u16,
    files: Vec<String>,
    next: AtomicUsize,
}

impl Migrating {
    fn new(pg: &PostgresServer) -> Self {
        let mut files: Vec<_> = std::fs::read_dir(schema())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        Self {
            pg_url: pg.url(),
            port: pg.port(),
            files: files
                .iter()
                .map(|f| std::fs::read_to_string(f).unwrap())
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Returns the ready client and the database's name.
    async fn ready(&self) -> (Client, String) {
        let name = format!("migrated_{}", self.next.fetch_add(1, Ordering::Relaxed));
        let admin = connect(&self.pg_url).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let client = connect(&format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.port
        ))
        .await;
        for sql in &self.files {
            client.batch_execute(sql).await.unwrap();
        }
        (client, name)
    }

    async fn drop_db(&self, name: &str) {
        connect(&self.pg_url)
            .await
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .unwrap();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Times `n` runs of `ready` (not the drops), prints p50/p95, returns p50.
fn measure<F, D>(label: &str, n: usize, mut ready: F) -> Duration
where
    F: FnMut() -> (Duration, D),
{
    let mut times = Vec::with_capacity(n);
    let mut drops = Vec::with_capacity(n);
    for _ in 0..n {
        let (took, handle) = ready();
        times.push(took);
        let start = Instant::now();
        drop(handle);
        drops.push(start.elapsed());
    }
    times.sort();
    drops.sort();
    let p50 = percentile(&times, 0.5);
    println!(
        "{label:<44} p50 {:>10}  p95 {:>10}  min {:>10}  (drop p50 {})",
        ms(p50),
        ms(percentile(&times, 0.95)),
        ms(times[0]),
        ms(percentile(&drops, 0.5)),
    );
    p50
}

fn side_by_side(c: &mut Criterion) {
    let pg = match PostgresServer::start() {
        Ok(pg) => pg,
        Err(e) => {
            eprintln!("skipped: the scratch bench needs a throw-away PostgreSQL: {e}");
            return;
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = pg.url();
    let file_copy = scratch_server(&url, Strategy::FileCopy, 0);
    let wal_log = scratch_server(&url, Strategy::WalLog, 0);
    let pooled = scratch_server(&url, Strategy::FileCopy, 2);
    let migrating = Migrating::new(&pg);
    // Build the template (once per schema and server) outside the measurement.
    let started = Instant::now();
    drop(rt.block_on(file_copy.database()).unwrap());
    println!(
        "template built (50 tables) and first clone: {}",
        ms(started.elapsed())
    );
    drop(rt.block_on(wal_log.database()).unwrap());
    drop(rt.block_on(pooled.database()).unwrap()); // fills the pool

    // Percentiles first (criterion reports means), each way on a quiet server.
    let n = 40;
    let scratch = |server: &ScratchServer| {
        let server = server.clone();
        let rt = &rt;
        move || {
            rt.block_on(async {
                let start = Instant::now();
                let db = server.database().await.unwrap();
                let client = db.connect().await.unwrap();
                client.simple_query("SELECT 1").await.unwrap();
                (start.elapsed(), (db, client))
            })
        }
    };
    let p_file = measure("scratch from template, FILE_COPY", n, scratch(&file_copy));
    let p_wal = measure("scratch from template, WAL_LOG", n, scratch(&wal_log));
    let p_pool = measure(
        "scratch from the pool (default; drop refills)",
        n,
        scratch(&pooled),
    );
    let p_migrate = measure("fresh database + migrations (sqlx::test)", n / 2, || {
        rt.block_on(async {
            let start = Instant::now();
            let (client, name) = migrating.ready().await;
            (start.elapsed(), (client, name))
        })
    });
    // The migrated databases are dropped here, outside the timing.
    rt.block_on(async {
        let admin = connect(&url).await;
        for row in admin
            .query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'migrated\\_%'",
                &[],
            )
            .await
            .unwrap()
        {
            migrating.drop_db(row.get(0)).await;
        }
    });
    println!(
        "speed-up at p50: pool {:.1}x, FILE_COPY {:.1}x, WAL_LOG {:.1}x faster than migrating",
        p_migrate.as_secs_f64() / p_pool.as_secs_f64(),
        p_migrate.as_secs_f64() / p_file.as_secs_f64(),
        p_migrate.as_secs_f64() / p_wal.as_secs_f64(),
    );

    let mut group = c.benchmark_group("ready migrated database for one test");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for (name, server) in [
        ("scratch from the pool", &pooled),
        ("scratch FILE_COPY", &file_copy),
        ("scratch WAL_LOG", &wal_log),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (took, handle) = scratch(server)();
                    total += took;
                    drop(handle);
                }
                total
            });
        });
    }
    group.bench_function("fresh + migrations (sqlx::test)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (took, name) = rt.block_on(async {
                    let start = Instant::now();
                    let (client, name) = migrating.ready().await;
                    let took = start.elapsed();
                    drop(client);
                    (took, name)
                });
                total += took;
                rt.block_on(migrating.drop_db(&name));
            }
            total
        });
    });
    group.finish();

    parallel(&pg, &pooled);
}

/// 100 tests, 16 at a time, each on its own runtime like `#[tokio::test]`: create, connect,
/// write, read back its own row only, drop. Prints the wall time and the leftovers.
fn parallel(pg: &PostgresServer, server: &ScratchServer) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (server, next) = (server.clone(), Arc::clone(&next));
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                while next.fetch_add(1, Ordering::SeqCst) < 100 {
                    rt.block_on(async {
                        let db = server.database().await.unwrap();
                        let client = db.connect().await.unwrap();
                        client
                            .batch_execute(
                                "INSERT INTO account_item (code, name) VALUES ('x', 'y')",
                            )
                            .await
                            .unwrap();
                        let rows = client
                            .query_one("SELECT count(*) FROM account_item", &[])
                            .await
                            .unwrap()
                            .get::<_, i64>(0);
                        assert_eq!(rows, 1, "not isolated");
                    });
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let took = start.elapsed();
    let left = pg
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'preflight\\_scratch\\_%'",
        )
        .unwrap();
    println!(
        "100 tests in parallel (16 at a time, create+write+read+drop): {} wall, {} per test, leftovers: {left}",
        ms(took),
        ms(took / 100)
    );
    assert_eq!(left, "0");
}

criterion_group!(benches, side_by_side);
criterion_main!(benches);
