//! Behaviour against real servers, real processes and a real `cargo build`: throw-away
//! PostgreSQL and Redis from the test kit, a fixture crate built with its own target dir.
//! Every environment is injected (`[(name, value)]`), never set on this process.

// The real libpq (python3 ctypes) against the guard's resolution; needs no feature.
mod conformance;
// The fixture enables its own features; this side needs `postgres` to mark a server.
#[cfg(feature = "postgres")]
mod fixture;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "postgres")]
mod refusals;
#[cfg(feature = "postgres")]
mod resolution;
#[cfg(feature = "scratch")]
mod scratch;
#[cfg(all(feature = "scratch", feature = "redis"))]
mod scratch_redis;
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
