//! The QuestDB ladder. QuestDB cannot be installed here: its PG-wire step runs against a
//! real PostgreSQL set up with QuestDB's defaults (role `admin`/`quest`, database `qdb`),
//! its HTTP steps against the test kit's stand-in, which reproduces the documented
//! responses and the min server's 4-connection limit.
#![cfg(feature = "questdb")]

use std::time::Duration;

use preflight_readiness::{QuestDbProbe, Target, Wait};
use preflight_testkit::questdb::{MIN_HEALTH_CONNECTION_LIMIT, QuestDbStandIn};
use preflight_testkit::{PostgresServer, require};

use crate::support::{Events, GENEROUS, policy};

/// A real PostgreSQL with QuestDB's role and database.
pub(crate) fn questdb_postgres() -> preflight_testkit::Result<PostgresServer> {
    let pg = PostgresServer::start()?;
    pg.psql("postgres", "CREATE ROLE admin LOGIN PASSWORD 'quest'")?;
    pg.psql("postgres", "CREATE DATABASE qdb OWNER admin")?;
    Ok(pg)
}

fn ladder(qdb: &QuestDbStandIn, pg: &PostgresServer, ilp: u16) -> QuestDbProbe {
    QuestDbProbe::builder("127.0.0.1")
        .health_port(qdb.health_port())
        .pg_port(pg.port())
        .ping_port(qdb.http_port())
        .ilp_port(ilp)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_ladder_stand_in_http_and_real_postgres_reports_each_step() {
    let pg = require!(questdb_postgres());
    let qdb = QuestDbStandIn::start_after(Duration::from_millis(300)).unwrap();
    let ilp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ilp_port = ilp.local_addr().unwrap().port();
    let events = Events::default();
    let report = Wait::new([Target::new("questdb", ladder(&qdb, &pg, ilp_port))])
        .policy(policy(GENEROUS))
        .on_event(events.sink())
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
            format!("ilp :{ilp_port}"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_stand_in_probes_close_their_connections() {
    let pg = require!(questdb_postgres());
    let qdb = QuestDbStandIn::start().unwrap();
    let probe = ladder(&qdb, &pg, pg.port());
    let target = Target::new("questdb", probe);
    // Far more probes than the min server has connection slots: a probe that kept its
    // connection open would lock the next ones out.
    for _ in 0..3 * MIN_HEALTH_CONNECTION_LIMIT {
        Wait::new([target.clone()])
            .policy(policy(GENEROUS))
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(qdb.health_requests(), 3 * MIN_HEALTH_CONNECTION_LIMIT);
    // The server notices a close a moment after the client makes it, so two
    // back-to-back probes may overlap briefly; a leaking client would reach the limit.
    assert!(
        qdb.peak_health_connections() < MIN_HEALTH_CONNECTION_LIMIT,
        "{}",
        qdb.peak_health_connections()
    );
    // Every connection is closed by the client, none kept alive in a pool.
    let deadline = std::time::Instant::now() + GENEROUS;
    while qdb.open_health_connections() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a connection stayed open"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_stand_in_full_min_server_or_unhealthy_is_not_ready() {
    let pg = require!(questdb_postgres());
    let qdb = QuestDbStandIn::start().unwrap();
    let target = Target::new("questdb", ladder(&qdb, &pg, pg.port()));
    let short = || policy(Duration::from_millis(500));

    qdb.set_healthy(false);
    let err = Wait::new([target.clone()])
        .policy(short())
        .run()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    qdb.set_healthy(true);

    // Four idle keep-alive clients use up the min server (as on QuestDB): the probe's
    // connection waits in the backlog and the deadline ends the wait.
    let idle: Vec<_> = (0..MIN_HEALTH_CONNECTION_LIMIT)
        .map(|_| {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", qdb.health_port())).unwrap();
            write!(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut buf = [0_u8; 256];
            assert!(s.read(&mut buf).unwrap() > 0);
            s
        })
        .collect();
    let err = Wait::new([target.clone()])
        .policy(short())
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 124, "{err}");
    drop(idle);
    Wait::new([target])
        .policy(policy(GENEROUS))
        .run()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn questdb_url_target_with_wrong_password_names_the_pg_step() {
    let pg = require!(questdb_postgres());
    // Trust auth ignores passwords, so point the ladder at a database that is missing.
    let qdb = QuestDbStandIn::start().unwrap();
    let spec = format!(
        "questdb://admin:s3cret@127.0.0.1?health_port={}&pg_port={}&database=nope",
        qdb.health_port(),
        pg.port()
    );
    let err = Wait::new([Target::parse(&spec).unwrap()])
        .policy(policy(Duration::from_millis(700)))
        .run()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("pg-wire :{}", pg.port())), "{text}");
    assert!(text.contains("\"nope\" does not exist"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}
