//! Behaviour against real servers, real processes and a real `cargo build`: throw-away
//! PostgreSQL and Redis from the test kit, a fixture crate built with its own target dir.
//! Every environment is injected (`[(name, value)]`), never set on this process.

#[cfg(feature = "test-binary")]
mod fixture;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

use preflight_test_guard::{Layer, Refusal, Status};

/// The failed layers of a refusal, in report order.
pub(crate) fn failed_layers(refusal: &Refusal) -> Vec<Layer> {
    refusal.report().failures().map(|f| f.layer).collect()
}

/// The status of the first finding of `layer`.
pub(crate) fn status_of(report: &preflight_test_guard::Report, layer: Layer) -> Option<Status> {
    report
        .findings()
        .iter()
        .find(|f| f.layer == layer)
        .map(|f| f.status)
}
