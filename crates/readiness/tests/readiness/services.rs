//! Every protocol probe against the real server: throw-away PostgreSQL and Redis instances
//! started when the first probe fails (not ready → ready), and the machine's MariaDB, RabbitMQ, NATS
//! and Mosquitto.

use preflight_readiness::{Target, Wait};
use preflight_testkit::{Service, require};

use crate::support::{Events, GENEROUS, policy, start_on_first_failure};

use std::time::Duration;

async fn ready(spec: &str) -> Events {
    let events = Events::default();
    let target = Target::parse(spec).unwrap();
    Wait::new([target])
        .policy(policy(GENEROUS))
        .on_event(events.sink())
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    events
}

#[cfg(any(feature = "postgres", feature = "redis"))]
async fn not_ready(spec: &str) -> String {
    Wait::new([Target::parse(spec).unwrap()])
        .policy(policy(Duration::from_millis(700)))
        .run()
        .await
        .unwrap_err()
        .to_string()
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn postgres_started_later_is_detected_by_select_1() {
    let pg = require!(preflight_testkit::PostgresServer::builder().held().start());
    let report = Wait::new([Target::parse(&pg.url()).unwrap()])
        .policy(policy(Duration::from_secs(120)))
        .on_event(start_on_first_failure(pg.starter().unwrap()))
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.targets[0].attempts > 1,
        "it was not running at first"
    );
    assert_eq!(pg.psql("postgres", "SELECT 1").unwrap(), "1");
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn postgres_missing_database_is_not_ready_and_says_why() {
    let pg = require!(preflight_testkit::PostgresServer::start());
    let url = format!(
        "postgres://postgres:s3cret@127.0.0.1:{}/no_such_db",
        pg.port()
    );
    let text = not_ready(&url).await;
    assert!(text.contains("\"no_such_db\" does not exist"), "{text}");
    assert!(text.contains("postgres://postgres:***@127.0.0.1"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread")]
async fn redis_started_later_answers_pong() {
    let redis = require!(preflight_testkit::RedisServer::builder().held().start());
    let report = Wait::new([Target::parse(&format!("{}/2", redis.url())).unwrap()])
        .policy(policy(GENEROUS))
        .on_event(start_on_first_failure(redis.starter().unwrap()))
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.targets[0].attempts > 1,
        "it was not running at first"
    );
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread")]
async fn redis_password_is_used_and_never_shown() {
    let redis = require!(
        preflight_testkit::RedisServer::builder()
            .password("s3cret")
            .start()
    );
    ready(&redis.url()).await;
    let wrong = format!("redis://:wr0ng-pw@127.0.0.1:{}", redis.port());
    let text = not_ready(&wrong).await;
    assert!(text.contains("redis://:***@127.0.0.1"), "{text}");
    assert!(!text.contains("wr0ng-pw"), "{text}");
    assert!(
        text.to_lowercase().contains("authentication failed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_greets_with_its_version() {
    let url = require!(Service::MySql.check());
    let events = ready(&url).await;
    let steps = events.steps();
    assert!(steps[0].starts_with("greeting from "), "{steps:?}");
    assert!(steps[0].to_lowercase().contains("mariadb"), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rabbitmq_starts_the_amqp_handshake() {
    let url = require!(Service::Amqp.check());
    assert_eq!(ready(&url).await.steps(), ["Connection.Start"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn nats_answers_ping_with_pong() {
    let url = require!(Service::Nats.check());
    assert_eq!(ready(&url).await.steps(), ["INFO", "PONG"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn mosquitto_accepts_an_mqtt_connection() {
    let url = require!(Service::Mqtt.check());
    assert_eq!(ready(&url).await.steps(), ["CONNACK accepted"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn greeting_probes_reject_the_wrong_protocol() {
    // A port that answers is not enough: each probe is pointed at a server that speaks
    // first in another protocol, and must fail on what it read, naming the mismatch. A
    // probe that hung instead would end with a timeout and no such failure.
    let nats = require!(Service::Nats.check());
    let mariadb = require!(Service::MySql.check());
    let cases = [
        ("mysql", address(&nats), "not a MySQL greeting"),
        ("amqp", address(&nats), "expected Connection.Start"),
        ("amqp", address(&mariadb), "expected Connection.Start"),
        ("mqtt", address(&nats), "expected CONNACK"),
    ];
    for (scheme, addr, expected) in cases {
        let error = Wait::new([Target::parse(&format!("{scheme}://{addr}")).unwrap()])
            .policy(policy(Duration::from_secs(5)))
            .run()
            .await
            .unwrap_err();
        let status = match &error {
            preflight_readiness::Error::Unhealthy { status } => status,
            preflight_readiness::Error::Timeout { pending, .. } => &pending[0],
            other => panic!("{scheme} at {addr}: {other}"),
        };
        let failure = status
            .last_failure
            .as_ref()
            .unwrap_or_else(|| panic!("{scheme} at {addr}: no probe failed: {error}"))
            .to_string();
        assert!(
            failure.contains(expected) && !failure.contains("no answer within"),
            "{scheme} at {addr}: {failure}"
        );
    }
}

/// `host:port` of a service URL.
fn address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.rsplit('@').next().unwrap_or(authority).to_owned()
}
