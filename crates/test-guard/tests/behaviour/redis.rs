//! Redis: the marker key in the URL's database index decides; passwords never leak.

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

    let redis = require!(RedisServer::builder().password("rightpw").start());
    let wrong = format!("redis://:wrongpw@127.0.0.1:{}", redis.port());
    let env = [("TESTING_IN_DOCKER", "1"), ("REDIS_URL", wrong.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);
    assert!(!refusal.to_string().contains("wrongpw"), "{refusal}");
}
