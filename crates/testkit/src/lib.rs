//! Throw-away real servers for preflight's tests, and the machine's running services.
//!
//! - [`RedisServer`] and [`PostgresServer`] start real `redis-server` / PostgreSQL
//!   processes on free loopback ports in temp dirs, and stop them on drop (also when the
//!   test panics). Both can start **after a delay, in the background**, returning the port
//!   at once, so a test can wait on a service that becomes ready later.
//! - [`Service`] names the services the machine runs (PostgreSQL, Redis, MariaDB, RabbitMQ,
//!   NATS, Mosquitto) by URL, overridable with `PREFLIGHT_<NAME>_URL`.
//! - [`require!`] is the one rule for a missing service: with
//!   `PREFLIGHT_REQUIRE_SERVICES=1` (set by `.ci/run`) the test fails; otherwise it prints
//!   one `skipped:` line saying why.
//! - [`questdb`] is a stand-in for QuestDB's HTTP endpoints, because QuestDB cannot be
//!   installed here; tests that use it say so in their names.
//!
//! ```no_run
//! use preflight_testkit::{require, RedisServer};
//! use std::time::Duration;
//!
//! fn redis_becomes_ready_later() {
//!     let redis = require!(RedisServer::start_after(Duration::from_millis(200)));
//!     // Nothing listens on redis.port() yet; in 200 ms a real redis-server will.
//!     redis.wait_until_ready(Duration::from_secs(10)).unwrap();
//! }
//! ```
//!
//! This crate is `publish = false` and only ever a dev-dependency.
#![forbid(unsafe_code)]

mod error;
mod instance;
mod postgres;
pub mod questdb;
mod redis;
mod services;
mod skip;

use std::path::PathBuf;

pub use crate::{
    error::{Error, Result},
    instance::{Starter, free_port},
    postgres::{PostgresBuilder, PostgresServer},
    redis::{RedisBuilder, RedisServer},
    services::Service,
    skip::{REQUIRE_SERVICES_VAR, services_required, skip_or_fail},
};

/// Where servers keep their files: `PREFLIGHT_TESTKIT_DIR`, else `/dev/shm` (tmpfs: copying
/// a PostgreSQL cluster there takes ~30 ms against ~0.5 s on this machine's disk), else the
/// system temp dir.
fn scratch_root() -> &'static std::path::Path {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        if let Some(dir) = std::env::var_os("PREFLIGHT_TESTKIT_DIR") {
            return PathBuf::from(dir);
        }
        let shm = std::path::Path::new("/dev/shm");
        if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() {
            return shm.to_path_buf();
        }
        std::env::temp_dir()
    })
}

/// Finds `name` on `PATH`.
fn find_program(name: &'static str, hint: &'static str) -> Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or(Error::BinaryNotFound { binary: name, hint })
}
