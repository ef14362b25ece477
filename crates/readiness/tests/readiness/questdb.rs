//! The QuestDB ladder. QuestDB cannot be installed here: its PG-wire step runs against a
//! real PostgreSQL configured as QuestDB authenticates (cleartext `password`
//! authentication, role `admin`/`quest`), its HTTP steps against the test kit's stand-in,
//! which reproduces QuestDB's responses, its Basic authentication, its keep-alive, its
//! connection limit and its start-up order. Tests that use the stand-in say `stand_in`.
//!
//! One difference the tests work around instead of hiding: QuestDB accepts any database
//! name, PostgreSQL only existing ones, so the cluster gets a `qdb` database.
#![cfg(feature = "questdb")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use preflight_readiness::probe::TcpProbe;
use preflight_readiness::{Policy, QuestDbProbe, Target, Wait};
use preflight_testkit::questdb::{QuestDbStandIn, Server};
use preflight_testkit::{PostgresServer, require};

use crate::examples::{example, run};
use crate::support::{Events, GENEROUS, both, policy, start_on_first_failure};

/// A real PostgreSQL that authenticates as QuestDB does: role `admin` with password
/// `quest`, sent in cleartext; database `qdb` (QuestDB would accept any name).
pub(crate) fn questdb_postgres() -> preflight_testkit::Result<PostgresServer> {
    let pg = PostgresServer::builder()
        .password_auth("admin", "quest")
        .start()?;
    pg.psql("postgres", "CREATE DATABASE qdb OWNER admin")?;
    Ok(pg)
}

fn ladder(qdb: &QuestDbStandIn, pg: &PostgresServer) -> preflight_readiness::QuestDbProbeBuilder {
    QuestDbProbe::builder("127.0.0.1")
        .health_port(qdb.health_port())
        .pg_port(pg.port())
        .ping_port(qdb.http_port())
}

async fn wait(target: &Target, deadline: Duration) -> Result<(), preflight_readiness::Error> {
    Wait::new([target.clone()])
        .policy(policy(deadline))
        .run()
        .await
        .map(drop)
}

/// A wait whose probes give up after 1 s, so a server that accepts and never answers
/// shows up as a failed attempt (with its step) before the deadline; the steps before it
/// have that second to pass on a loaded machine.
async fn wait_briefly(target: &Target) -> Result<(), preflight_readiness::Error> {
    let policy = Policy::builder()
        .timeout(Duration::from_secs(1))
        .deadline(Duration::from_millis(2500))
        .build()
        .unwrap();
    Wait::new([target.clone()])
        .policy(policy)
        .run()
        .await
        .map(drop)
}

/// An idle client that completed one request, so the server has surely accepted it.
fn idle_client(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    assert!(stream.read(&mut [0_u8; 256]).unwrap() > 0);
    stream
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_ladder_stand_in_http_and_real_postgres_reports_each_step() {
    let pg = require!(questdb_postgres());
    let qdb = QuestDbStandIn::builder().held().start().unwrap();
    let events = Events::default();
    let target = Target::new("questdb", ladder(&qdb, &pg).build().unwrap());
    let report = Wait::new([target])
        .policy(policy(GENEROUS))
        .on_event(both(
            events.sink(),
            start_on_first_failure(qdb.starter().unwrap()),
        ))
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.targets[0].attempts > 1, "the stand-in started later");
    let failure = report.targets[0].last_failure.as_ref().unwrap().to_string();
    assert!(
        failure.starts_with(&format!("min-health :{}", qdb.health_port())),
        "{failure}"
    );
    assert_eq!(
        events.steps(),
        [
            format!("min-health :{}", qdb.health_port()),
            format!("pg-wire :{}", pg.port()),
            format!("ping :{}", qdb.http_port()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_stand_in_probes_close_their_connections() {
    let pg = require!(questdb_postgres());
    // QuestDB before 8.2 allowed 4 min-health connections: a probe that leaked its
    // connection would lock the fifth probe out.
    let limit = 4;
    let qdb = QuestDbStandIn::builder()
        .connection_limit(limit)
        .start()
        .unwrap();
    let target = Target::new("questdb", ladder(&qdb, &pg).build().unwrap());
    let probes = 5 * limit;
    for _ in 0..probes {
        wait(&target, GENEROUS)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(qdb.health_requests(), probes);
    assert_eq!(qdb.requests(Server::Http), probes);
    // The stand-in, like QuestDB, ignores the probe's `Connection: close` and never
    // closes a connection itself: every connection it ever accepted was closed by the
    // probe, and none is left open.
    assert!(
        qdb.wait_until_idle(GENEROUS),
        "a probe left a connection open"
    );
    for server in [Server::MinHealth, Server::Http] {
        assert_eq!(qdb.open_connections(server), 0, "{server:?}");
        assert_eq!(
            qdb.closed_by_client(server),
            qdb.accepted_connections(server),
            "{server:?}"
        );
        assert!(qdb.accepted_connections(server) >= probes, "{server:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_stand_in_with_http_auth_needs_its_credentials() {
    let pg = require!(questdb_postgres());
    let qdb = QuestDbStandIn::builder()
        .http_auth("web", "http-s3cret")
        .start()
        .unwrap();
    let short = Duration::from_millis(700);

    // No credentials: the min server answers 401 and the gate never passes.
    let anonymous = Target::new("questdb", ladder(&qdb, &pg).build().unwrap());
    let err = wait(&anonymous, short).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("min-health :{}", qdb.health_port())),
        "{err}"
    );

    let wrong = ladder(&qdb, &pg)
        .http_auth("web", "wrong-s3cret")
        .build()
        .unwrap();
    let err = wait(&Target::new("questdb", wrong), short)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");

    let right = ladder(&qdb, &pg)
        .http_auth("web", "http-s3cret")
        .build()
        .unwrap();
    wait(&Target::new("questdb", right), GENEROUS)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_stand_in_engine_starting_is_not_ready_though_ports_connect() {
    let pg = require!(questdb_postgres());
    let qdb = QuestDbStandIn::builder().engine_starting().start().unwrap();

    // A bare connect passes on the HTTP port while nothing is served there: that is why
    // the ladder has no connect-only step.
    let connect = Target::new("connect", TcpProbe::new("127.0.0.1", qdb.http_port()));
    wait(&connect, GENEROUS)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // The min server answers 200 while the engine starts; the ladder still waits.
    let target = Target::new("questdb", ladder(&qdb, &pg).build().unwrap());
    let err = wait_briefly(&target).await.unwrap_err();
    assert_eq!(err.exit_code(), 124, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("ping :{}", qdb.http_port())),
        "{err}"
    );

    // A PG wire port that is bound with accepts paused fails the same way.
    let paused_pg = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let paused_port = paused_pg.local_addr().unwrap().port();
    let paused = QuestDbProbe::builder("127.0.0.1")
        .health_port(qdb.health_port())
        .pg_port(paused_port)
        .build()
        .unwrap();
    let err = wait_briefly(&Target::new("questdb", paused))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("pg-wire :{paused_port}")),
        "{err}"
    );

    qdb.engine_started();
    wait(&target, GENEROUS)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_stand_in_full_min_server_or_unhealthy_is_not_ready() {
    let pg = require!(questdb_postgres());
    let limit = 2;
    let qdb = QuestDbStandIn::builder()
        .connection_limit(limit)
        .queue_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    let target = Target::new("questdb", ladder(&qdb, &pg).build().unwrap());
    let short = Duration::from_millis(700);

    qdb.set_healthy(false);
    let err = wait(&target, short).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    qdb.set_healthy(true);

    // Idle keep-alive clients use up the min server: it stops accepting, then closes its
    // listener, and the probe is refused.
    let idle: Vec<_> = (0..limit).map(|_| idle_client(qdb.health_port())).collect();
    assert!(qdb.wait_until_listening(Server::MinHealth, false, GENEROUS));
    let err = wait(&target, short).await.unwrap_err();
    assert_eq!(err.exit_code(), 124, "{err}");
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
    drop(idle);
    wait(&target, GENEROUS)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_pg_wire_wrong_password_is_refused_by_cleartext_auth() {
    let pg = require!(questdb_postgres());
    let qdb = QuestDbStandIn::start().unwrap();
    let spec = |password: &str, database: &str| {
        format!(
            "questdb://admin:{password}@127.0.0.1?health_port={}&pg_port={}&database={database}",
            qdb.health_port(),
            pg.port()
        )
    };
    let short = Duration::from_millis(700);
    let err = Wait::new([Target::parse(&spec("s3cret", "qdb")).unwrap()])
        .policy(policy(short))
        .run()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("pg-wire :{}", pg.port())), "{text}");
    assert!(
        text.contains("password authentication failed for user \"admin\""),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    // PostgreSQL, unlike QuestDB, refuses a database that does not exist.
    let err = Wait::new([Target::parse(&spec("quest", "nope")).unwrap()])
        .policy(policy(short))
        .run()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"nope\" does not exist"), "{err}");

    Wait::new([Target::parse(&spec("quest", "qdb")).unwrap()])
        .policy(policy(GENEROUS))
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_url_target_http_auth_sends_the_url_credentials() {
    let pg = require!(questdb_postgres());
    let qdb = QuestDbStandIn::builder()
        .http_auth("admin", "quest")
        .start()
        .unwrap();
    let spec = format!(
        "questdb://admin:quest@127.0.0.1?health_port={}&pg_port={}&http_auth",
        qdb.health_port(),
        pg.port()
    );
    Wait::new([Target::parse(&spec).unwrap()])
        .policy(policy(GENEROUS))
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Writes `secret` (with the newline editors add) to a file in `dir`.
fn secret_file(dir: &tempfile::TempDir, name: &str, secret: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn wait_for_questdb_once_is_a_healthcheck_for_an_authenticated_stand_in() {
    let pg = require!(questdb_postgres());
    pg.psql("postgres", "ALTER ROLE admin PASSWORD 'pg-s3cret'")
        .unwrap();
    let qdb = QuestDbStandIn::builder()
        .http_auth("web", "http-s3cret")
        .start()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // As in the QuestDB container: QuestDB's own variables, the *_FILE ones winning.
    let healthcheck = |qdb: &QuestDbStandIn| {
        let mut command = example("wait-for-questdb");
        command
            .env("WAIT_QDB_HOST", "127.0.0.1")
            .env(
                "QDB_HTTP_MIN_NET_BIND_TO",
                format!("0.0.0.0:{}", qdb.health_port()),
            )
            .env("QDB_PG_NET_BIND_TO", format!("0.0.0.0:{}", pg.port()))
            .env(
                "QDB_HTTP_NET_BIND_TO",
                format!("0.0.0.0:{}", qdb.http_port()),
            )
            .env("QDB_PG_PASSWORD", "stale-s3cret")
            .env("QDB_PG_PASSWORD_FILE", secret_file(&dir, "pg", "pg-s3cret"))
            .env("QDB_HTTP_USER", "web")
            .env("QDB_HTTP_PASSWORD", "stale-s3cret")
            .env(
                "QDB_HTTP_PASSWORD_FILE",
                secret_file(&dir, "http", "http-s3cret"),
            )
            .args(["--once", "--ping"]);
        run(&mut command)
    };
    let (code, stdout, stderr) = healthcheck(&qdb);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("ready"), "{stderr}");
    assert!(stderr.contains("http_user=web"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("s3cret"), "{stderr}");

    qdb.set_healthy(false);
    let (code, stdout, stderr) = healthcheck(&qdb);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("min-health"), "{stderr}");
    assert!(stderr.contains("HTTP 500"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("s3cret"), "{stderr}");
}

#[test]
fn wait_for_questdb_old_variable_names_work_with_a_deprecation_line() {
    let pg = require!(questdb_postgres());
    let later = QuestDbStandIn::start_after(Duration::from_millis(300)).unwrap();
    let (code, stdout, stderr) = run(example("wait-for-questdb")
        .env("QDB_HOST", "127.0.0.1")
        .env("QDB_HEALTH_PORT", later.health_port().to_string())
        .env("QDB_PG_PORT", pg.port().to_string())
        .env("QDB_ILP", "true")
        .args(["--", "echo", "ingest"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "ingest");
    for old in ["QDB_HOST", "QDB_HEALTH_PORT", "QDB_PG_PORT"] {
        assert!(
            stderr.contains(&format!("{old} is deprecated")),
            "{old}: {stderr}"
        );
    }
    assert!(stderr.contains("QDB_ILP is ignored"), "{stderr}");

    // QuestDB's own bind setting wins over the old name: that is where QuestDB listens.
    let qdb = QuestDbStandIn::start().unwrap();
    let (code, _, stderr) = run(example("wait-for-questdb")
        .env("WAIT_QDB_HOST", "127.0.0.1")
        .env(
            "QDB_HTTP_MIN_NET_BIND_TO",
            format!("0.0.0.0:{}", qdb.health_port()),
        )
        .env("QDB_PG_NET_BIND_TO", format!("0.0.0.0:{}", pg.port()))
        .env("QDB_PG_PORT", "1")
        .arg("--once"));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("QDB_PG_PORT"), "{stderr}");
}

#[test]
fn wait_for_questdb_bad_settings_are_usage_errors_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    /// Environment, arguments, and what the error must name.
    type Case<'a> = (Vec<(&'a str, String)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("QDB_PG_NET_BIND_TO", "0.0.0.0".to_owned())],
            vec![],
            "QDB_PG_NET_BIND_TO",
        ),
        (
            vec![("QDB_HTTP_MIN_NET_BIND_TO", "0.0.0.0:99999".to_owned())],
            vec![],
            "QDB_HTTP_MIN_NET_BIND_TO",
        ),
        (
            vec![(
                "QDB_PG_PASSWORD_FILE",
                missing.to_string_lossy().into_owned(),
            )],
            vec![],
            "QDB_PG_PASSWORD_FILE",
        ),
        (
            vec![("QDB_HTTP_USER", "web".to_owned())],
            vec![],
            "HTTP user `web` is set but no password",
        ),
        (
            vec![],
            vec!["--http-user", "web", "--http-password-file", "/"],
            "--http-password-file",
        ),
    ];
    for (env, args, expected) in cases {
        let mut command = example("wait-for-questdb");
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(&args)
            .arg("--once");
        let (code, _, stderr) = run(&mut command);
        assert_eq!(code, 2, "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}
