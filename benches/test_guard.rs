//! test-guard costs. Targets (DESIGN §7): a check without live marker ≤ 50 µs; a check with
//! a PostgreSQL marker read on loopback ≤ 10 ms. The live cases use throw-away servers from
//! the test kit (loopback only); they are skipped, with a line saying so, when the servers
//! cannot start.
//!
//! `cargo bench --bench test_guard`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use preflight_test_guard::Guard;
use preflight_testkit::{PostgresServer, RedisServer};

fn static_checks(c: &mut Criterion) {
    let guard = Guard::builder().flag("TESTING_IN_DOCKER").build().unwrap();
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        (
            "DATABASE_URL",
            "postgres://app:pw@127.0.0.1:5432/app_test?sslmode=disable",
        ),
        ("REDIS_URL", "redis://:pw@127.0.0.1:6379/1"),
        ("PGHOST", "localhost"),
    ];
    c.bench_function("check without live marker (cleared, 3 targets)", |b| {
        b.iter(|| guard.check_static_with(black_box(&env)).is_ok());
    });
    // Tunnel detection: the listeners are asked of the kernel on every check; which process
    // holds one is cached per socket. Off, for comparison; and cold, with a forwarder list
    // never seen before, so every loopback port's owner is searched in /proc again.
    let no_tunnels = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .detect_tunnels(false)
        .build()
        .unwrap();
    c.bench_function(
        "check without live marker (cleared, 3 targets, tunnel detection off)",
        |b| b.iter(|| no_tunnels.check_static_with(black_box(&env)).is_ok()),
    );
    let mut fresh = 0u64;
    c.bench_function(
        "check without live marker (cleared, 3 targets, cold tunnel lookup)",
        |b| {
            b.iter_batched(
                || {
                    fresh += 1;
                    Guard::builder()
                        .flag("TESTING_IN_DOCKER")
                        .forwarder(format!("bench{fresh}"))
                        .build()
                        .unwrap()
                },
                |cold| cold.check_static_with(black_box(&env)).is_ok(),
                criterion::BatchSize::SmallInput,
            );
        },
    );
    let prod = [
        (
            "DATABASE_URL",
            "postgres://app:hunter2@db.prod.example.com:5432/app",
        ),
        ("APP_ENV", "production"),
    ];
    c.bench_function("check without live marker (refused, message built)", |b| {
        b.iter(|| {
            guard
                .check_static_with(black_box(&prod))
                .unwrap_err()
                .to_string()
        });
    });
}

fn live_checks(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let guard = Guard::builder().flag("TESTING_IN_DOCKER").build().unwrap();
    match PostgresServer::start() {
        Ok(pg) => {
            pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
            let url = pg.url_for("postgres", "test_app");
            let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
            assert!(rt.block_on(guard.check_with(&env)).is_ok());
            c.bench_function("check with PostgreSQL marker on loopback (async)", |b| {
                b.iter(|| rt.block_on(guard.check_with(black_box(&env))).is_ok());
            });
            // The floor: what one bare connection and query cost on this server.
            c.bench_function("baseline: tokio-postgres connect + SELECT 1", |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                            .await
                            .unwrap();
                        let task = tokio::spawn(conn);
                        client.simple_query("SELECT 1").await.unwrap();
                        drop(client);
                        let _ = task.await;
                    });
                });
            });
            c.bench_function(
                "check with PostgreSQL marker on loopback (blocking: thread + runtime)",
                |b| b.iter(|| guard.check_blocking_with(black_box(&env)).is_ok()),
            );
        }
        Err(e) => eprintln!("skipped PostgreSQL bench: {e}"),
    }
    match RedisServer::start() {
        Ok(redis) => {
            let url = redis.url();
            let env = [("TESTING_IN_DOCKER", "1"), ("REDIS_URL", url.as_str())];
            assert!(rt.block_on(guard.check_with(&env)).is_ok());
            c.bench_function("check with Redis marker on loopback (async)", |b| {
                b.iter(|| rt.block_on(guard.check_with(black_box(&env))).is_ok());
            });
        }
        Err(e) => eprintln!("skipped Redis bench: {e}"),
    }
}

criterion_group!(benches, static_checks, live_checks);
criterion_main!(benches);
