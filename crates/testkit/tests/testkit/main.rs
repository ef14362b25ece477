//! Integration tests of `preflight-testkit`, the test kit's own proof: what it starts is
//! real and answers, delayed and held servers are refused before their start and answer
//! after it, and dropping a server stops it. One binary per crate, named after it
//! (`cargo test -p preflight-testkit --test testkit`); a single module.

use std::{
    io::{ErrorKind, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    time::Duration,
};

use preflight_testkit::{PostgresServer, RedisServer, Service, require};

const READY: Duration = Duration::from_secs(60);
/// Long enough that the "refused before the start" check cannot race the start, even on a
/// loaded machine.
const DELAY: Duration = Duration::from_secs(2);
/// A drop stops the server with a 10 s grace period before a kill; far below an hour.
const DROP_BOUND: Duration = Duration::from_secs(30);

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Sends one inline Redis command and returns the first reply line.
fn redis_command(port: u16, command: &str) -> String {
    let mut stream = TcpStream::connect(loopback(port)).expect("redis accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut reply = [0; 128];
    let n = stream.read(&mut reply).unwrap();
    String::from_utf8_lossy(&reply[..n]).trim_end().to_owned()
}

/// Drops `server` on another thread and fails if that takes longer than `DROP_BOUND`: a
/// drop that hangs (a cancel that does not cancel, a stop that does not stop) is a
/// failure with a message, not a test that never ends.
fn drop_within_bound<T: Send + 'static>(server: T) {
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(server);
        let _ = done.send(());
    });
    dropped
        .recv_timeout(DROP_BOUND)
        .unwrap_or_else(|_| panic!("dropping the server took longer than {DROP_BOUND:?}"));
}

fn assert_refused(port: u16) {
    let error = TcpStream::connect_timeout(&loopback(port), Duration::from_secs(2))
        .expect_err("nothing may listen on the port yet");
    assert_eq!(
        error.kind(),
        ErrorKind::ConnectionRefused,
        "port {port}: {error}"
    );
}

#[test]
fn redis_server_answers_ping_and_stops_on_drop() {
    let redis = require!(RedisServer::start());
    assert_eq!(redis_command(redis.port(), "PING"), "+PONG");
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));
    let port = redis.port();
    drop_within_bound(redis);
    assert_refused(port);
}

#[test]
fn redis_server_with_password_requires_auth() {
    let redis = require!(RedisServer::builder().password("s3cret").start());
    assert!(redis_command(redis.port(), "PING").starts_with("-NOAUTH"));
    assert!(redis.url().starts_with("redis://:s3cret@127.0.0.1:"));
    let mut stream = TcpStream::connect(redis.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"AUTH s3cret\r\nPING\r\n").unwrap();
    let mut reply = Vec::new();
    let mut buf = [0; 64];
    while !reply.ends_with(b"+PONG\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "redis closed the connection: {reply:?}");
        reply.extend_from_slice(&buf[..n]);
    }
    assert_eq!(reply, b"+OK\r\n+PONG\r\n");
}

#[test]
fn delayed_redis_is_refused_before_its_start_and_answers_after() {
    let redis = require!(RedisServer::start_after(DELAY));
    assert_refused(redis.port());
    redis.wait_until_ready(READY).unwrap();
    assert_eq!(redis_command(redis.port(), "PING"), "+PONG");
}

#[test]
fn postgres_server_runs_sql_and_stops_on_drop() {
    let pg = require!(PostgresServer::start());
    assert_eq!(pg.psql("postgres", "SELECT 1").unwrap(), "1");
    pg.psql("postgres", "CREATE DATABASE qdb").unwrap();
    pg.psql("postgres", "CREATE ROLE admin LOGIN PASSWORD 'quest'")
        .unwrap();
    assert_eq!(pg.psql("qdb", "SELECT current_database()").unwrap(), "qdb");
    let error = pg
        .psql("postgres", "SELECT * FROM no_such_table")
        .unwrap_err();
    assert!(error.to_string().contains("no_such_table"), "{error}");
    assert!(
        pg.socket_dir()
            .join(format!(".s.PGSQL.{}", pg.port()))
            .exists()
    );
    let port = pg.port();
    drop_within_bound(pg);
    assert_refused(port);
}

#[test]
fn delayed_postgres_is_refused_before_its_start_and_answers_after() {
    let pg = require!(PostgresServer::start_after(DELAY));
    assert_refused(pg.port());
    pg.wait_until_ready(READY).unwrap();
    assert_eq!(pg.psql("postgres", "SELECT 41 + 1").unwrap(), "42");
}

#[test]
fn a_held_server_starts_when_its_starter_says_so() {
    let redis = require!(RedisServer::builder().held().start());
    let starter = redis.starter().expect("a held server has a starter");
    // Held well past the delayed-start tests' delay: nothing starts on its own.
    assert!(redis.wait_until_ready(DELAY).is_err());
    assert_refused(redis.port());
    std::thread::spawn(move || starter.start());
    redis.wait_until_ready(READY).unwrap();
    assert_eq!(redis_command(redis.port(), "PING"), "+PONG");
}

#[test]
fn dropping_a_held_server_cancels_it_even_while_a_starter_lives() {
    let redis = require!(RedisServer::builder().held().start());
    let starter = redis.starter().unwrap();
    let port = redis.port();
    drop_within_bound(redis);
    starter.start();
    assert_refused(port);
}

#[test]
fn dropping_a_delayed_server_before_its_start_cancels_it() {
    let redis = require!(RedisServer::start_after(Duration::from_secs(3600)));
    let port = redis.port();
    // Would wait an hour if the drop did not cancel the pending start.
    drop_within_bound(redis);
    assert_refused(port);
}

#[test]
fn two_servers_get_distinct_ports() {
    let a = require!(PostgresServer::start());
    let b = require!(PostgresServer::start());
    assert_ne!(a.port(), b.port());
    a.psql("postgres", "CREATE DATABASE only_in_a").unwrap();
    let in_b = b
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'only_in_a'",
        )
        .unwrap();
    assert_eq!(in_b, "0", "each server has its own cluster");
}

#[test]
fn machine_services_accept_connections() {
    for service in Service::ALL {
        let url = require!(service.check());
        assert!(url.contains("://"), "{service:?}: {url}");
    }
}

#[test]
fn machine_redis_answers_ping() {
    let url = require!(Service::Redis.check());
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(redis_command(port, "PING"), "+PONG");
}
