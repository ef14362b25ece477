//! Redis scratch key spaces against throw-away `redis-server`s: isolation, flush on drop,
//! fallback to prefixes, refusal on a production-marked server, reaping after SIGKILL.

use preflight_test_guard::scratch::{KeyspaceMode, ScratchKeys, ScratchRedis};
use preflight_test_guard::{Error, Guard, GuardBuilder, Layer, Target};
use preflight_testkit::{RedisServer, require};
use redis::AsyncCommands;

use crate::failed_layers;

fn guard() -> GuardBuilder {
    Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .clear_target_vars()
        .libpq_env(false)
}

fn server(url: &str, mode: KeyspaceMode) -> ScratchRedis {
    ScratchRedis::builder(url)
        .guard(guard())
        .env([("TESTING_IN_DOCKER", "1")])
        .mode(mode)
        .build()
        .unwrap()
}

async fn conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Keys in database `db` of the server.
async fn keys(url: &str, db: i64) -> Vec<String> {
    let mut c = conn(&format!("{url}/{db}")).await;
    let mut keys: Vec<String> = c.keys("*").await.unwrap();
    keys.sort();
    keys
}

/// What the SIGKILLed child claims: one database index and one prefix.
pub(crate) async fn child_claims(url: &str) -> Vec<ScratchKeys> {
    // The one-line helper (PREFLIGHT_SCRATCH_REDIS_URL is set for the child only) claims
    // an index; a built server in prefix mode takes a prefix.
    let held = vec![
        preflight_test_guard::scratch::redis().await.unwrap(),
        server(url, KeyspaceMode::Prefix).keyspace().await.unwrap(),
    ];
    for keys in &held {
        let mut c = keys.connect().await.unwrap();
        let _: () = c.set(keys.key("left"), "behind").await.unwrap();
    }
    held
}

#[tokio::test]
async fn key_spaces_are_isolated_marked_and_flushed_on_drop() {
    let redis = require!(RedisServer::start());
    let url = redis.url();
    let server = server(&url, KeyspaceMode::Auto);
    let a = server.keyspace().await.unwrap();
    let b = server.keyspace().await.unwrap();
    let (da, db) = (a.db().unwrap(), b.db().unwrap());
    assert_ne!(da, db);
    assert_ne!(da, 0, "the URL's own database is never claimed");
    assert_eq!(a.prefix(), "");

    let mut ca = a.connect().await.unwrap();
    let mut cb = b.connect().await.unwrap();
    let _: () = ca.set("user:1", "a").await.unwrap();
    let seen: Option<String> = cb.get("user:1").await.unwrap();
    assert_eq!(seen, None, "a write in one key space is visible in another");
    // The claimed database carries the `test` marker, read as the guard reads it.
    let reading = guard()
        .build()
        .unwrap()
        .read_marker(&Target::parse(a.url()).unwrap())
        .await
        .unwrap();
    assert_eq!(reading.value.as_deref(), Some("test"));

    drop(a);
    assert_eq!(keys(&url, da).await, Vec::<String>::new(), "not flushed");
    // A flushed index is free again.
    let c = server.keyspace().await.unwrap();
    assert_eq!(c.db(), Some(da));
    drop((b, c));
    assert_eq!(keys(&url, db).await, Vec::<String>::new());
}

#[tokio::test]
async fn prefixes_isolate_when_no_index_is_free_and_are_deleted_on_drop() {
    let redis = require!(RedisServer::start());
    let url = redis.url();
    let mut c0 = conn(&url).await;
    let _: () = c0.set("app:data", "not ours").await.unwrap();
    let auto = server(&url, KeyspaceMode::Auto);
    // The default server has 16 indexes; the URL's own is never taken, so 15 can be.
    let mut held = Vec::new();
    for _ in 0..15 {
        held.push(auto.keyspace().await.unwrap());
    }
    assert!(held.iter().all(|k| k.db().is_some()));
    let overflow = auto.keyspace().await.unwrap();
    assert_eq!(overflow.db(), None);
    assert!(
        overflow.prefix().starts_with("preflight:scratch:{"),
        "{}",
        overflow.prefix()
    );

    let prefixed = server(&url, KeyspaceMode::Prefix);
    let other = prefixed.keyspace().await.unwrap();
    let mut c = overflow.connect().await.unwrap();
    let _: () = c.set(overflow.key("k"), "1").await.unwrap();
    let _: () = c.set(other.key("k"), "2").await.unwrap();
    let v: String = c.get(overflow.key("k")).await.unwrap();
    assert_eq!(v, "1");
    drop((overflow, other, held));
    assert_eq!(
        keys(&url, 0).await,
        ["app:data"],
        "only this tool's keys are deleted"
    );
}

#[tokio::test]
async fn a_production_marked_redis_gets_no_key_space() {
    let redis = require!(RedisServer::start());
    let url = redis.url();
    let marker = guard().build().unwrap();
    let target = Target::parse(&url).unwrap();
    marker.set_marker(&target, "production").await.unwrap();
    let err = server(&url, KeyspaceMode::Auto)
        .keyspace()
        .await
        .unwrap_err();
    let Error::Refused { refusal } = &err else {
        panic!("not a refusal: {err:?}");
    };
    assert_eq!(failed_layers(refusal), [Layer::Marker]);
    for db in 0..16 {
        let expected: Vec<String> = if db == 0 {
            vec!["preflight:environment".to_owned()]
        } else {
            Vec::new()
        };
        assert_eq!(keys(&url, db).await, expected, "db {db} touched");
    }
}

#[tokio::test]
async fn a_sigkilled_run_s_key_spaces_are_reaped_by_the_next_run() {
    let redis = require!(RedisServer::start());
    let pg = require!(preflight_testkit::PostgresServer::start());
    let url = redis.url();
    let lines = crate::scratch::run_child_and_kill(&[
        ("PREFLIGHT_SCRATCH_TEST_CHILD_PG", &pg.url()),
        ("PREFLIGHT_SCRATCH_TEST_CHILD_REDIS", &url),
        ("PREFLIGHT_SCRATCH_URL", &pg.url()),
        ("PREFLIGHT_SCRATCH_REDIS_URL", &url),
    ]);
    let spaces: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("KEYS "))
        .collect();
    assert_eq!(spaces.len(), 2, "{lines:?}");
    let (db, _) = spaces[0].split_once(' ').unwrap();
    let db: i64 = db.parse().unwrap();
    let (_, prefix) = spaces[1].split_once(' ').unwrap();
    assert!(keys(&url, db).await.contains(&"left".to_owned()));
    assert!(keys(&url, 0).await.contains(&format!("{prefix}left")));

    // A live owner's space (this process) must survive the reaping.
    let live = server(&url, KeyspaceMode::Prefix).keyspace().await.unwrap();
    let mut c = live.connect().await.unwrap();
    let _: () = c.set(live.key("mine"), "1").await.unwrap();

    let next = server(&url, KeyspaceMode::Auto);
    let fresh = next.keyspace().await.unwrap();
    assert_eq!(fresh.db(), Some(db), "the dead owner's index was not freed");
    assert_eq!(keys(&url, 0).await, [live.key("mine")]);
}
