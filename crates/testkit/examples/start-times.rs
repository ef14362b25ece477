//! Prints how long the test kit takes to start its servers (median of several runs).
//!
//! `cargo run --release -p preflight-testkit --example start-times`

use std::time::{Duration, Instant};

use preflight_testkit::{PostgresServer, RedisServer};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(
    runs: usize,
    start: impl Fn() -> preflight_testkit::Result<T>,
) -> preflight_testkit::Result<Vec<Duration>> {
    (0..runs)
        .map(|_| {
            let began = Instant::now();
            let server = start()?;
            let took = began.elapsed();
            drop(server);
            Ok(took)
        })
        .collect()
}

fn main() -> preflight_testkit::Result<()> {
    // The first PostgreSQL start may include the one-off initdb of the template.
    let first = time(1, PostgresServer::start)?;
    let pg = time(11, PostgresServer::start)?;
    let redis = time(11, RedisServer::start)?;
    println!("postgres first start (may include initdb): {:?}", first[0]);
    println!(
        "postgres start, median of {}: {:?} (min {:?}, max {:?})",
        pg.len(),
        median(pg.clone()),
        pg.iter().min().unwrap(),
        pg.iter().max().unwrap()
    );
    println!(
        "redis start, median of {}: {:?} (min {:?}, max {:?})",
        redis.len(),
        median(redis.clone()),
        redis.iter().min().unwrap(),
        redis.iter().max().unwrap()
    );
    Ok(())
}
