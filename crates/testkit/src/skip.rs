//! The one rule for a test whose service is missing: fail in CI, skip (loudly) elsewhere.

use std::fmt::Display;

/// The variable that turns a missing service into a test failure. `.ci/run` sets it.
pub const REQUIRE_SERVICES_VAR: &str = "PREFLIGHT_REQUIRE_SERVICES";

/// Whether a missing service must fail the test (`PREFLIGHT_REQUIRE_SERVICES=1`).
#[must_use]
pub fn services_required() -> bool {
    matches!(
        std::env::var(REQUIRE_SERVICES_VAR).as_deref(),
        Ok("1" | "true" | "yes")
    )
}

/// Panics with `reason` when services are required, otherwise prints one `skipped:` line.
///
/// Use it through [`require!`](crate::require), which also returns from the test.
#[track_caller]
pub fn skip_or_fail(reason: &dyn Display) {
    if services_required() {
        panic!("required service unavailable ({REQUIRE_SERVICES_VAR}=1): {reason}");
    }
    eprintln!("skipped: {reason} (set {REQUIRE_SERVICES_VAR}=1 to make this a failure)");
}

/// Unwraps a test kit result inside a test returning `()`: on `Err`, fails the test when
/// `PREFLIGHT_REQUIRE_SERVICES=1`, otherwise prints why it skips and returns.
///
/// ```no_run
/// use preflight_testkit::{require, RedisServer, Service};
///
/// fn my_test() {
///     let redis = require!(RedisServer::start());
///     let nats = require!(Service::Nats.check());
///     assert!(redis.url().starts_with("redis://"));
///     assert!(nats.starts_with("nats://"));
/// }
/// ```
#[macro_export]
macro_rules! require {
    ($result:expr) => {
        match $result {
            ::core::result::Result::Ok(value) => value,
            ::core::result::Result::Err(error) => {
                $crate::skip_or_fail(&error);
                return;
            }
        }
    };
}
