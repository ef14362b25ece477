//! Every protocol probe against the real server: throw-away PostgreSQL and Redis instances
//! that start after a delay (not ready → ready), and the machine's MariaDB, RabbitMQ, NATS
//! and Mosquitto.

use preflight_readiness::{Target, Wait};
use preflight_testkit::{Service, require};

use crate::support::{Events, GENEROUS, policy};

#[cfg(any(feature = "postgres", feature = "redis"))]
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
    let pg = require!(preflight_testkit::PostgresServer::start_after(
        Duration::from_millis(500)
    ));
    let report = Wait::new([Target::parse(&pg.url()).unwrap()])
        .policy(policy(Duration::from_secs(120)))
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
    let redis = require!(preflight_testkit::RedisServer::start_after(
        Duration::from_millis(300)
    ));
    let report = Wait::new([Target::parse(&format!("{}/2", redis.url())).unwrap()])
        .policy(policy(GENEROUS))
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
    // Redis speaks RESP, not MySQL, AMQP or MQTT: a port that answers is not enough.
    let url = require!(Service::Redis.check());
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let addr = addr.rsplit('@').next().unwrap();
    for scheme in ["mysql", "amqp", "nats"] {
        let text = Wait::new([Target::parse(&format!("{scheme}://{addr}")).unwrap()])
            .policy(policy(std::time::Duration::from_millis(500)))
            .run()
            .await
            .unwrap_err()
            .to_string();
        assert!(text.contains("not ready"), "{scheme}: {text}");
    }
}
