//! Behaviour against real servers, real processes and a real `cargo build`: throw-away
//! PostgreSQL and Redis from the test kit, a fixture crate built with its own target dir.
//! Every environment is injected (`[(name, value)]`), never set on this process.
//!
//! One binary per crate, named after it
//! (`cargo test -p preflight-test-guard --test test_guard`); its modules:

// The real libpq (python3 ctypes) against the guard's resolution; needs no feature.
mod conformance;
// The fixture enables its own features; this side needs `postgres` to mark a server.
#[cfg(feature = "postgres")]
mod fixture;
// PostgreSQL: the production marker wins through every entry point.
#[cfg(feature = "postgres")]
mod postgres;
// Redis: the marker key in every database index a client selects decides.
#[cfg(feature = "redis")]
mod redis;
// Every PostgreSQL refusal path, each with its reason asserted.
#[cfg(feature = "postgres")]
mod refusals;
// Resolution end to end against a throw-away PostgreSQL.
#[cfg(feature = "postgres")]
mod resolution;
// Scratch databases against real throw-away PostgreSQL servers.
#[cfg(feature = "scratch")]
mod scratch;
// Redis scratch key spaces against throw-away `redis-server`s.
#[cfg(all(feature = "scratch", feature = "redis"))]
mod scratch_redis;
// Tunnels, for real, with `socat`.
#[cfg(feature = "postgres")]
mod tunnel;

#[cfg(any(feature = "postgres", feature = "redis"))]
use preflight_test_guard::{Layer, Refusal, Status};

/// The failed layers of a refusal, in report order.
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) fn failed_layers(refusal: &Refusal) -> Vec<Layer> {
    refusal.report().failures().map(|f| f.layer).collect()
}

/// The status of the first finding of `layer`.
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) fn status_of(report: &preflight_test_guard::Report, layer: Layer) -> Option<Status> {
    report
        .findings()
        .iter()
        .find(|f| f.layer == layer)
        .map(|f| f.status)
}
