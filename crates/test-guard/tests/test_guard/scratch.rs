//! Scratch databases against real throw-away PostgreSQL and Redis servers: isolation, the
//! template reused and rebuilt, refusal on production-marked servers, no leftovers after
//! normal runs, panics and a SIGKILLed process (a child run of this very test binary).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use preflight_test_guard::scratch::{Migrations, ScratchDatabase, ScratchServer};
use preflight_test_guard::{Error, Guard, GuardBuilder, Layer, Target};
use preflight_testkit::{PostgresServer, require};

use crate::failed_layers;

/// The child run's variables: the server to use, and whether to also claim Redis.
const CHILD_PG: &str = "PREFLIGHT_SCRATCH_TEST_CHILD_PG";
#[cfg(feature = "redis")]
const CHILD_REDIS: &str = "PREFLIGHT_SCRATCH_TEST_CHILD_REDIS";

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scratch_schema")
}

/// The guard of these tests: the flag, and only the scratch server as a target (the
/// machine's own `DATABASE_URL` and `PG*` are not what these tests judge).
fn guard() -> GuardBuilder {
    Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .clear_target_vars()
        .libpq_env(false)
}

fn server(pg_url: &str, migrations: Migrations) -> ScratchServer {
    ScratchServer::builder(pg_url)
        .migrations(migrations)
        .guard(guard())
        .env([("TESTING_IN_DOCKER", "1")])
        .build()
        .unwrap()
}

/// Every database whose name starts with `prefix`, sorted.
fn databases(pg: &PostgresServer, prefix: &str) -> Vec<String> {
    let out = pg
        .psql(
            "postgres",
            &format!(
                "SELECT datname FROM pg_database WHERE starts_with(datname, '{prefix}') ORDER BY 1"
            ),
        )
        .unwrap();
    out.lines().map(str::to_owned).collect()
}

fn scratch_databases(pg: &PostgresServer) -> Vec<String> {
    databases(pg, "preflight_scratch_")
}

async fn count(db: &ScratchDatabase, sql: &str) -> i64 {
    db.connect()
        .await
        .unwrap()
        .query_one(sql, &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn each_test_gets_an_isolated_migrated_marked_database() {
    let pg = require!(PostgresServer::start());
    let server = server(&pg.url(), Migrations::dir(schema()));
    let a = server.database().await.unwrap();
    let b = server.database().await.unwrap();
    assert_ne!(a.name(), b.name());
    assert!(a.name().starts_with("preflight_scratch_"), "{}", a.name());

    let tables = "SELECT count(*) FROM information_schema.tables \
                  WHERE table_schema = 'public' AND table_type = 'BASE TABLE'";
    assert_eq!(count(&a, tables).await, 50);
    assert_eq!(count(&b, tables).await, 50);
    // Data written by a migration is in every clone.
    let seeded = "SELECT count(*) FROM catalog_item WHERE code = 'default'";
    assert_eq!(count(&a, seeded).await, 1);

    // A write in one is invisible in the other.
    a.connect()
        .await
        .unwrap()
        .batch_execute("INSERT INTO account_item (code, name) VALUES ('only-a', 'A')")
        .await
        .unwrap();
    assert_eq!(count(&a, "SELECT count(*) FROM account_item").await, 1);
    assert_eq!(count(&b, "SELECT count(*) FROM account_item").await, 0);

    // The connection string reaches the same database as the config.
    let (client, conn) = tokio_postgres::connect(a.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let name: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, a.name());
    drop(client);

    // Every scratch database and the template carry the `test` marker, read as the guard
    // reads it; the template takes no connections.
    let guard = guard().build().unwrap();
    for db in [&a, &b] {
        let reading = guard
            .read_marker(&Target::from_postgres_config(db.config(), "scratch"))
            .await
            .unwrap();
        assert_eq!(reading.value.as_deref(), Some("test"), "{}", db.name());
    }
    let template = server.template().unwrap().to_owned();
    assert!(
        template.starts_with("preflight_tpl_scratch_schema_"),
        "{template}"
    );
    assert_eq!(
        pg.psql(
            "postgres",
            &format!(
                "SELECT datistemplate, datallowconn, \
                        (SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = d.oid) \
                 FROM pg_database d WHERE datname = '{template}'"
            )
        )
        .unwrap(),
        "t|f|{preflight.environment=test}"
    );

    // The guard clears a scratch database as a target of its own: its marker says test.
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", a.url())];
    guard.check_with(&env).await.unwrap();

    let a_name = a.name().to_owned();
    a.close().await.unwrap();
    drop(b);
    assert_eq!(
        scratch_databases(&pg),
        Vec::<String>::new(),
        "{a_name} and b dropped"
    );
}

#[tokio::test]
async fn the_template_is_reused_across_runs_and_rebuilt_when_a_migration_changes() {
    let pg = require!(PostgresServer::start());
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("app");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("0001_users.sql"),
        "CREATE TABLE users (id int);",
    )
    .unwrap();
    let oid = |name: &str| {
        pg.psql(
            "postgres",
            &format!("SELECT oid FROM pg_database WHERE datname = '{name}'"),
        )
        .unwrap()
    };

    // Run 1 builds the template; run 2 (a new `ScratchServer`: nothing cached in-process)
    // reuses the very same database.
    let run1 = server(&pg.url(), Migrations::dir(&migrations));
    drop(run1.database().await.unwrap());
    let template = run1.template().unwrap().to_owned();
    let first_oid = oid(&template);
    let run2 = server(&pg.url(), Migrations::dir(&migrations));
    let db = run2.database().await.unwrap();
    assert_eq!(run2.template(), Some(template.as_str()));
    assert_eq!(
        oid(&template),
        first_oid,
        "rebuilt although nothing changed"
    );
    drop(db);

    // A changed migration: a new template with the new schema; the old one is gone.
    std::fs::write(
        migrations.join("0001_users.sql"),
        "CREATE TABLE users (id int, email text);",
    )
    .unwrap();
    let run3 = server(&pg.url(), Migrations::dir(&migrations));
    let db = run3.database().await.unwrap();
    let rebuilt = run3.template().unwrap().to_owned();
    assert_ne!(rebuilt, template);
    assert_eq!(
        databases(&pg, "preflight_tpl_app_"),
        std::slice::from_ref(&rebuilt)
    );
    drop(db);
    // The old template's pooled clones went with it; the new ones are clones of the new.
    let hash = &rebuilt["preflight_tpl_app_".len()..][..10];
    let pooled = databases(&pg, "preflight_pool_");
    assert!(!pooled.is_empty());
    assert!(
        pooled
            .iter()
            .all(|p| p.starts_with(&format!("preflight_pool_{hash}_"))),
        "{pooled:?}"
    );
    let db = run3.database().await.unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users'"
        )
        .await,
        2
    );
    drop(db);

    // Four "processes" starting at once on a new schema: the migration runs once.
    let runs = Arc::new(AtomicUsize::new(0));
    let servers: Vec<ScratchServer> = (0..4)
        .map(|_| {
            let runs = Arc::clone(&runs);
            server(
                &pg.url(),
                Migrations::from_fn("v1", move |ctx| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    async move {
                        ctx.client.batch_execute("CREATE TABLE t (id int)").await?;
                        Ok(())
                    }
                }),
            )
        })
        .collect();
    let (a, b, c, d) = tokio::join!(
        servers[0].database(),
        servers[1].database(),
        servers[2].database(),
        servers[3].database()
    );
    let dbs = [a, b, c, d];
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the template was built more than once"
    );
    for db in &dbs {
        let db = db.as_ref().unwrap();
        assert_eq!(count(db, "SELECT count(*) FROM t").await, 0);
    }
    assert_eq!(databases(&pg, "preflight_tpl_schema_").len(), 1);
    drop(dbs);
    assert_eq!(scratch_databases(&pg), Vec::<String>::new());
}

#[tokio::test]
async fn a_failing_migration_names_its_file_and_line_and_builds_nothing() {
    let pg = require!(PostgresServer::start());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0001_ok.sql"), "CREATE TABLE a (id int);").unwrap();
    std::fs::write(
        dir.path().join("0002_bad.sql"),
        "CREATE TABLE b (id int);\nCREATE TABLE c (id nosuchtype);",
    )
    .unwrap();
    let broken = server(&pg.url(), Migrations::dir(dir.path()));
    let err = broken.database().await.unwrap_err();
    assert!(matches!(err, Error::Migration { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("0002_bad.sql:2"), "{message}");
    assert!(message.contains("nosuchtype"), "{message}");
    assert_eq!(scratch_databases(&pg), Vec::<String>::new());

    // A build that fails midway leaves a half-built template; the next run with the same
    // migrations drops it and builds it again instead of cloning it.
    let attempts = Arc::new(AtomicUsize::new(0));
    let flaky = |attempts: Arc<AtomicUsize>| {
        Migrations::from_fn("flaky-v1", move |ctx| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst);
            async move {
                ctx.client.batch_execute("CREATE TABLE t (id int)").await?;
                if attempt == 0 {
                    return Err("interrupted".into());
                }
                Ok(())
            }
        })
    };
    let err = server(&pg.url(), flaky(Arc::clone(&attempts)))
        .database()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("migration function failed: interrupted"),
        "{err}"
    );
    let half_built = databases(&pg, "preflight_tpl_schema_");
    assert_eq!(half_built.len(), 1);
    let next = server(&pg.url(), flaky(Arc::clone(&attempts)));
    let db = next.database().await.unwrap();
    assert_eq!(next.template(), Some(half_built[0].as_str()));
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        2,
        "the half-built template was reused"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM t").await, 0);
}

#[tokio::test]
async fn a_production_marked_server_gets_no_scratch_database() {
    let pg = require!(PostgresServer::start());
    let marker = guard().build().unwrap();
    let postgres_db = Target::parse(&pg.url()).unwrap();

    // The server's own database marked production.
    marker.set_marker(&postgres_db, "production").await.unwrap();
    let err = server(&pg.url(), Migrations::dir(schema()))
        .database()
        .await
        .unwrap_err();
    let Error::Refused { refusal } = &err else {
        panic!("not a refusal: {err:?}");
    };
    assert_eq!(failed_layers(refusal), [Layer::Marker]);
    assert!(err.to_string().contains("production"), "{err}");
    marker.clear_marker(&postgres_db).await.unwrap();

    // Another database of the server marked production: the server is refused all the same.
    pg.psql("postgres", "CREATE DATABASE app").unwrap();
    let app = Target::parse(&pg.url_for("postgres", "app")).unwrap();
    marker.set_marker(&app, "production").await.unwrap();
    let err = server(&pg.url(), Migrations::dir(schema()))
        .database()
        .await
        .unwrap_err();
    let Error::Refused { refusal } = &err else {
        panic!("not a refusal: {err:?}");
    };
    assert_eq!(failed_layers(refusal), [Layer::Marker]);
    assert!(err.to_string().contains("/app"), "{err}");

    // Without the flag, nothing is asked of the server at all.
    let err = ScratchServer::builder(pg.url())
        .migrations(Migrations::dir(schema()))
        .guard(guard())
        .env([("HOME", "/root")])
        .build()
        .unwrap()
        .database()
        .await
        .unwrap_err();
    let Error::Refused { refusal } = &err else {
        panic!("not a refusal: {err:?}");
    };
    assert!(failed_layers(refusal).contains(&Layer::Flag));

    // Nothing was created by any refused attempt.
    assert_eq!(databases(&pg, "preflight_"), Vec::<String>::new());

    // Once the mark says test, scratch databases are made.
    marker.set_marker(&app, "test").await.unwrap();
    drop(
        server(&pg.url(), Migrations::dir(schema()))
            .database()
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn nothing_is_left_after_drops_panics_and_blocking_use() {
    let pg = require!(PostgresServer::start());
    let server = server(&pg.url(), Migrations::dir(schema()));
    {
        let _a = server.database().await.unwrap();
        let _b = server.database().await.unwrap();
        assert_eq!(scratch_databases(&pg).len(), 2);
    }
    assert_eq!(scratch_databases(&pg), Vec::<String>::new());

    // The pool: ready clones of the template, kept between runs on purpose (like the
    // template). A test takes one by renaming it; its drop clones a replacement.
    let pooled = databases(&pg, "preflight_pool_");
    assert_eq!(pooled.len(), 2, "{pooled:?}");
    let db = server.database().await.unwrap();
    assert_eq!(databases(&pg, "preflight_pool_").len(), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM account_item").await, 0);
    let marker = guard()
        .build()
        .unwrap()
        .read_marker(&Target::from_postgres_config(db.config(), "scratch"))
        .await
        .unwrap();
    assert_eq!(marker.value.as_deref(), Some("test"));
    drop(db);
    assert_eq!(databases(&pg, "preflight_pool_").len(), 2);

    // A test that panics while holding a database and an open connection to it.
    let in_task = server.clone();
    let panicked = tokio::spawn(async move {
        let db = in_task.database().await.unwrap();
        let _client = db.connect().await.unwrap();
        panic!("test failure while holding {}", db.name());
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());

    // A synchronous test (blocking variant) that panics.
    let in_thread = server.clone();
    let panicked = std::thread::spawn(move || {
        let db = in_thread.database_blocking().unwrap();
        panic!("sync test failure while holding {}", db.name());
    })
    .join();
    assert!(panicked.is_err());

    // The blocking variant from inside a runtime works too.
    let db = server.database_blocking().unwrap();
    assert_eq!(scratch_databases(&pg), [db.name().to_owned()]);
    drop(db);
    assert_eq!(scratch_databases(&pg), Vec::<String>::new());
}

#[tokio::test]
async fn a_hundred_parallel_tests_are_isolated_and_leave_nothing() {
    let pg = require!(PostgresServer::start());
    let server = server(&pg.url(), Migrations::dir(schema()));
    // Sixteen workers (test threads) draining a hundred tests, each on its own runtime as
    // `#[tokio::test]` would give it.
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (server, next) = (server.clone(), Arc::clone(&next));
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let mut names = Vec::new();
                loop {
                    let test = next.fetch_add(1, Ordering::SeqCst);
                    if test >= 100 {
                        return names;
                    }
                    names.push(rt.block_on(async {
                        let db = server.database().await.unwrap();
                        let client = db.connect().await.unwrap();
                        client
                            .execute(
                                "INSERT INTO account_item (code, name) VALUES ($1, 'x')",
                                &[&format!("test-{test}")],
                            )
                            .await
                            .unwrap();
                        let codes: Vec<String> = client
                            .query("SELECT code FROM account_item", &[])
                            .await
                            .unwrap()
                            .iter()
                            .map(|r| r.get(0))
                            .collect();
                        assert_eq!(codes, [format!("test-{test}")], "not isolated");
                        db.name().to_owned()
                    }));
                }
            })
        })
        .collect();
    let mut names: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 100);
    assert_eq!(scratch_databases(&pg), Vec::<String>::new());
}

/// Not a test of its own: the child process of
/// `a_sigkilled_run_is_reaped_by_the_next_run`. It takes scratch databases (and Redis key
/// spaces), prints their names and waits to be killed.
#[tokio::test]
#[ignore = "run as a child process by a_sigkilled_run_is_reaped_by_the_next_run"]
async fn child_holds_scratch_databases() {
    let Ok(url) = std::env::var(CHILD_PG) else {
        return;
    };
    let server = server(&url, Migrations::dir(schema()));
    // The one-line helpers (their server comes from PREFLIGHT_SCRATCH_URL, set for this
    // child only) and a built server.
    let held = [
        preflight_test_guard::scratch::postgres(schema())
            .await
            .unwrap(),
        preflight_test_guard::scratch::postgres_blocking(schema()).unwrap(),
        server.database().await.unwrap(),
    ];
    for db in &held {
        println!("SCRATCH {}", db.name());
    }
    #[cfg(feature = "redis")]
    let _keys = if let Ok(url) = std::env::var(CHILD_REDIS) {
        let keys = crate::scratch_redis::child_claims(&url).await;
        for k in &keys {
            println!("KEYS {} {}", k.db().map_or(-1, |d| d), k.prefix());
        }
        keys
    } else {
        Vec::new()
    };
    println!("READY");
    // Wait to be killed: the parent never writes.
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
}

/// Runs the child, returns the lines it printed before `READY`, and SIGKILLs it.
pub(crate) fn run_child_and_kill(vars: &[(&str, &str)]) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "scratch::child_holds_scratch_databases",
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines: Vec<String> = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // libtest's `test name ... ` may share the line with the first output.
        if line.ends_with("READY") {
            break;
        }
        if let Some(at) = line.find("SCRATCH ").or_else(|| line.find("KEYS ")) {
            lines.push(line[at..].to_owned());
        }
    }
    // std's kill is SIGKILL: no destructor, no unwinding, nothing dropped.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    lines
}

#[tokio::test]
async fn a_sigkilled_run_is_reaped_by_the_next_run() {
    let pg = require!(PostgresServer::start());
    let url = pg.url();
    let lines = run_child_and_kill(&[(CHILD_PG, &url), ("PREFLIGHT_SCRATCH_URL", &url)]);
    let orphans: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("SCRATCH ").map(str::to_owned))
        .collect();
    assert_eq!(orphans.len(), 3, "{lines:?}");
    assert_eq!(
        scratch_databases(&pg),
        orphans,
        "the killed run dropped nothing"
    );

    // Things the reaper must leave alone: a database of a live owner (this process), a
    // database that looks like ours but was not made by this tool, one with a bad name.
    let live = server(&url, Migrations::dir(schema()))
        .database()
        .await
        .unwrap();
    let me_dead_stamp = &orphans[0]["preflight_scratch_".len()..];
    let foreign = format!("preflight_scratch_{me_dead_stamp}9");
    pg.psql("postgres", &format!("CREATE DATABASE {foreign}"))
        .unwrap();
    pg.psql(
        "postgres",
        &format!("COMMENT ON DATABASE {foreign} IS 'someone else'"),
    )
    .unwrap();
    pg.psql("postgres", "CREATE DATABASE preflight_scratch_manual")
        .unwrap();
    // The dead run was killed right after renaming a pooled clone, before recommenting it.
    let renamed = format!("preflight_scratch_{me_dead_stamp}7");
    pg.psql("postgres", &format!("CREATE DATABASE {renamed}"))
        .unwrap();
    pg.psql(
        "postgres",
        &format!("COMMENT ON DATABASE {renamed} IS 'preflight-test-guard scratch pool'"),
    )
    .unwrap();

    // The next run (a new server handle) reaps on first use.
    let next = server(&url, Migrations::dir(schema()));
    let db = next.database().await.unwrap();
    let mut expected = vec![
        live.name().to_owned(),
        db.name().to_owned(),
        foreign.clone(),
        "preflight_scratch_manual".to_owned(),
    ];
    expected.sort();
    assert_eq!(scratch_databases(&pg), expected);
    drop((live, db));
    assert_eq!(
        scratch_databases(&pg),
        [foreign, "preflight_scratch_manual".to_owned()]
    );
}

#[tokio::test]
async fn a_template_another_process_is_building_is_waited_for_not_dropped() {
    let pg = require!(PostgresServer::start());
    let runs = Arc::new(AtomicUsize::new(0));
    let migrations = |runs: Arc<AtomicUsize>| {
        Migrations::from_fn("wait-v1", move |ctx| {
            runs.fetch_add(1, Ordering::SeqCst);
            async move {
                ctx.client.batch_execute("CREATE TABLE t (id int)").await?;
                Ok(())
            }
        })
    };
    let first = server(&pg.url(), migrations(Arc::clone(&runs)));
    drop(first.database().await.unwrap());
    let template = first.template().unwrap().to_owned();
    let oid = pg
        .psql(
            "postgres",
            &format!("SELECT oid FROM pg_database WHERE datname = '{template}'"),
        )
        .unwrap();

    // Put the template back in the state a builder on another admin database (not held
    // off by our advisory lock) leaves it in while migrating: unsealed, with a session.
    pg.psql(
        "postgres",
        &format!(
            "ALTER DATABASE {template} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true; \
             COMMENT ON DATABASE {template} IS 'preflight-test-guard scratch template (building)'"
        ),
    )
    .unwrap();
    let (builder, conn) =
        tokio_postgres::connect(&pg.url_for("postgres", &template), tokio_postgres::NoTls)
            .await
            .unwrap();
    let builder_conn = tokio::spawn(conn);

    let next = server(&pg.url(), migrations(Arc::clone(&runs)));
    let waiting = tokio::spawn(async move { next.database().await.map(|db| (next, db)) });
    // Wait (bounded) until the next run has looked at the half-built template at least
    // once: its admin session's last query is the lookup. Dropping it then would have
    // killed this session.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let looked: i64 = builder
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                  WHERE query LIKE '%pg_stat_activity a%' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if looked > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the next run never looked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!waiting.is_finished(), "did not wait for the builder");
    // The "builder" finishes: closes its session and seals the template.
    builder.simple_query("SELECT 1").await.unwrap();
    drop(builder);
    builder_conn.await.unwrap().unwrap();
    pg.psql(
        "postgres",
        &format!(
            "ALTER DATABASE {template} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true; \
             COMMENT ON DATABASE {template} IS 'preflight-test-guard scratch template'"
        ),
    )
    .unwrap();
    let (next, db) = waiting.await.unwrap().unwrap();
    assert_eq!(next.template(), Some(template.as_str()));
    let oid_after = pg
        .psql(
            "postgres",
            &format!("SELECT oid FROM pg_database WHERE datname = '{template}'"),
        )
        .unwrap();
    assert_eq!(
        oid_after, oid,
        "the template was dropped and rebuilt instead of awaited"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM t").await, 0);
}
