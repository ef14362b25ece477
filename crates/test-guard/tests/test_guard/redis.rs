//! Redis: the marker key in every database index a client selects decides (redis-rs reads
//! the path, redis-py lets `?db=` win); a server-wide key covers them all; passwords never
//! leak.

use preflight_test_guard::{Guard, Layer, Status, Target};
use preflight_testkit::{RedisServer, free_port, require};

use crate::{failed_layers, status_of};

fn guard() -> Guard {
    Guard::builder().flag("TESTING_IN_DOCKER").build().unwrap()
}

#[tokio::test]
async fn production_marked_redis_is_refused_and_unmarked_is_cleared() {
    let redis = require!(RedisServer::builder().password("s3cretpw").start());
    let url = format!("{}/2", redis.url());
    let guard = guard();
    let env = [("TESTING_IN_DOCKER", "1"), ("REDIS_URL", url.as_str())];

    let clearance = guard.check_with(&env).await.unwrap();
    assert_eq!(
        status_of(clearance.report(), Layer::Marker),
        Some(Status::Passed)
    );

    let target = Target::parse(&url).unwrap();
    guard.set_marker(&target, "production").await.unwrap();
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);
    let message = refusal.to_string();
    assert!(
        message.contains("key preflight:environment in db 2 is `production`"),
        "{message}"
    );
    assert!(!message.contains("s3cretpw"), "{message}");

    // The marker is per database index: db 0 carries none.
    let db0 = format!("{}/0", redis.url());
    guard
        .check_with(&[("TESTING_IN_DOCKER", "1"), ("REDIS_URL", db0.as_str())])
        .await
        .unwrap();

    guard.clear_marker(&target).await.unwrap();
    assert_eq!(guard.read_marker(&target).await.unwrap().value, None);
    guard.check_with(&env).await.unwrap();
}

#[tokio::test]
async fn unreachable_or_unauthorised_redis_is_refused() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let env = [("TESTING_IN_DOCKER", "1"), ("REDIS_URL", url.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);
    assert!(refusal.to_string().contains("cannot connect"), "{refusal}");

    let redis = require!(RedisServer::builder().password("rightpw").start());
    let wrong = format!("redis://:wrongpw@127.0.0.1:{}", redis.port());
    let env = [("TESTING_IN_DOCKER", "1"), ("REDIS_URL", wrong.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);
    assert!(
        refusal
            .to_string()
            .contains("cannot connect: Password authentication failed"),
        "{refusal}"
    );
    assert!(!refusal.to_string().contains("wrongpw"), "{refusal}");
}

#[tokio::test]
async fn the_marker_is_read_in_the_index_redis_py_and_redis_rs_select() {
    let redis = require!(RedisServer::start());
    let base = redis.url();
    let guard = guard();
    guard
        .set_marker(&Target::parse(&format!("{base}/5")).unwrap(), "production")
        .await
        .unwrap();
    // redis-py (Celery, Django's cache) connects to db 5 for all of these; redis-rs to 0
    // for the first two. The marker in db 5 must be seen.
    for url in [
        format!("{base}?db=5"),
        format!("{base}/0?db=5"),
        format!("{base}/5"),
    ] {
        let env = [("TESTING_IN_DOCKER", "1"), ("REDIS_URL", url.as_str())];
        let refusal = guard.check_with(&env).await.unwrap_err();
        assert_eq!(failed_layers(&refusal), [Layer::Marker], "{url}: {refusal}");
        assert!(
            refusal
                .to_string()
                .contains("key preflight:environment in db 5 is `production`"),
            "{url}: {refusal}"
        );
    }
    // Both indexes are read when the clients disagree; a test marker must be in each.
    let both = format!("{base}/0?db=5");
    let target = Target::parse(&both).unwrap();
    assert_eq!(target.database(), Some("0,5"));
    let err = guard
        .set_marker(&target, "test")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "redis-rs and redis-py select different database indexes for this URL (0 and 5)"
        ),
        "{err}"
    );
    let remote = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .allow_loopback(false)
        .build()
        .unwrap();
    guard
        .set_marker(&Target::parse(&format!("{base}/5")).unwrap(), "test")
        .await
        .unwrap();
    let env = [("TESTING_IN_DOCKER", "1"), ("REDIS_URL", both.as_str())];
    assert!(
        remote.check_with(&env).await.is_err(),
        "db 0 carries no test marker"
    );
    guard
        .set_marker(&Target::parse(&format!("{base}/0")).unwrap(), "test")
        .await
        .unwrap();
    remote.check_with(&env).await.unwrap();
}

#[tokio::test]
async fn a_server_wide_redis_marker_covers_every_index() {
    let redis = require!(RedisServer::start());
    let guard = guard();
    let server = Target::parse(&redis.url()).unwrap();
    guard
        .set_server_marker(&server, "production")
        .await
        .unwrap();
    let url = format!("{}/7", redis.url());
    let env = [("TESTING_IN_DOCKER", "1"), ("REDIS_URL", url.as_str())];
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert!(
        refusal.to_string().contains(
            "server-wide key preflight:environment:server in db 0 is `production`, a protected environment"
        ),
        "{refusal}"
    );
    guard.clear_server_marker(&server).await.unwrap();
    guard.check_with(&env).await.unwrap();
}
