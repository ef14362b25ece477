//! Refuse to run tests and destructive commands against a production database.
//!
//! Test suites wipe databases. When a developer's shell still exports a production
//! `DATABASE_URL`, a tunnel script exported `PGHOST`, or onboarding notes held production
//! credentials, `cargo test` wipes production (DigitalOcean 2017, the HN `make test`
//! thread, DatabaseCleaner#521). This crate checks, before anything runs, where the
//! connections really go, in layers, cheapest first, each reported by name:
//!
//! 1. **flag**: a variable that must be set where tests are meant to run (the original
//!    project's `TESTING_IN_DOCKER`); **environment**: `APP_ENV=production` and friends.
//! 2. **targets**: `DATABASE_URL`, `REDIS_URL`, your own variables and the libpq `PG*`
//!    fallbacks (service file and `.pgpass` included), resolved as the client resolves them
//!    ([`Client`]: libpq's rules by default, checked against the real libpq; what cannot be
//!    reproduced exactly is refused, naming the construct), against host allow/deny rules
//!    and database-name patterns (`test_*`, `*_test`).
//!    PostgreSQL, Redis, MySQL/MariaDB (rules only) and SQLite (always local) URLs are
//!    understood; any other scheme is refused. Loopback is not proof: a loopback port held
//!    by a forwarder (an SSH tunnel, `kubectl port-forward`, a cloud SQL proxy, `socat`)
//!    needs a test marker ([`GuardBuilder::forwarder`], [`GuardBuilder::detect_tunnels`]).
//! 3. **marker**: asked live of the server, on every host of the target, on a connection
//!    verified to have reached the judged database and user. PostgreSQL: a setting read
//!    from the catalog (`pg_db_role_setting`), which a client's `options=-c` cannot spoof,
//!    per database or server-wide, or a marker row; Redis: a marker key in every database
//!    index a client may select. Markers are per database (per Redis index);
//!    [`Guard::set_server_marker`] marks a whole server. Features `postgres` / `redis`.
//! 4. **actor** (optional): CI only, no interactive terminal, no AI agent.
//!
//! **Unknown is unsafe**: a target that no allow rule covers and that carries no test marker
//! is refused, and a marker that cannot be read is a refusal. The override is narrow and
//! loud: `PREFLIGHT_GUARD_ALLOW=<target id>` names exactly one target, and the refusal prints
//! the line to type. Passwords never appear in any message.
//!
//! ```
//! use preflight_test_guard::{Guard, Layer};
//!
//! let guard = Guard::builder().flag("TESTING_IN_DOCKER").build()?;
//!
//! // Inside the test container: flag set, database on loopback.
//! let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", "postgres://app:pw@127.0.0.1/app_test")];
//! assert!(guard.check_static_with(&env).is_ok());
//!
//! // A laptop shell that still points at production.
//! let env = [("DATABASE_URL", "postgres://app:hunter2@db.prod.example.com:5432/app")];
//! let refusal = guard.check_static_with(&env).unwrap_err();
//! let failed: Vec<Layer> = refusal.report().failures().map(|f| f.layer).collect();
//! assert_eq!(failed, [Layer::Flag, Layer::Targets]);
//! let message = refusal.to_string();
//! assert!(message.contains("PREFLIGHT_GUARD_ALLOW='postgres://db.prod.example.com:5432/app'"));
//! assert!(!message.contains("hunter2"));
//! # Ok::<(), preflight_test_guard::Error>(())
//! ```
//!
//! # Entry points
//!
//! - [`Guard::check`] (async, live markers), [`Guard::check_blocking`],
//!   [`Guard::check_static`] (no network): a [`Clearance`] or a [`Refusal`] listing every
//!   failed check. Pass the connection your pool really uses with [`GuardBuilder::target`]
//!   (a string) or [`GuardBuilder::resolved_target`] (a [`Target`], e.g. from a
//!   `tokio_postgres::Config` with the `postgres` feature).
//! - [`Guard::enforce`] / [`Guard::enforce_blocking`] for a service's or command's `main`:
//!   prints the refusal to stderr and exits with [`REFUSED_EXIT_CODE`].
//! - `guard_test_binary!` (feature `test-binary`): one line in a test crate; refuses
//!   before any test runs, under `cargo test` and nextest, with nothing on stdout.
//! - [`build_script`]: for `build.rs` (protects sqlx's compile-time queries); prints
//!   `cargo::rerun-if-env-changed` for every variable read and fails with `cargo::error=`.
//! - [`Guard::set_marker`], [`Guard::read_marker`], [`Guard::clear_marker`]: mark production
//!   once (`production`), or mark a test database (`test`) on a host no rule allows.
//!
//! - [`scratch`] (feature `scratch`): a migrated scratch database per test, cloned from a
//!   template in milliseconds, only on a server the guard clears; a Redis key space per
//!   test with `redis`.
//!
//! The `guard` example is a CLI for all of this and works as a nextest setup script.
//!
//! # Crate features
//!
//! - `postgres`: live PostgreSQL markers (tokio-postgres, no TLS: a target requiring TLS
//!   cannot be asked and is refused).
//! - `redis`: live Redis markers (redis on tokio, no TLS: `rediss://` targets are refused).
//! - `test-binary`: `guard_test_binary!` (re-exports `ctor`).
//! - `scratch`: scratch databases and key spaces for tests ([`scratch`]; implies
//!   `postgres`, and Redis key spaces with `redis`).
//! - `full`: all of the above.
//!
//! Without `postgres` / `redis` the flag, environment and target layers still run, with no
//! runtime and no network; markers are reported as not checked.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod build_script;
mod check;
mod duration;
mod enforce;
mod env;
mod error;
mod guard;
mod marker;
mod mask;
#[cfg(feature = "postgres")]
mod pg_config;
mod report;
mod rules;
#[cfg(feature = "scratch")]
#[cfg_attr(docsrs, doc(cfg(feature = "scratch")))]
pub mod scratch;
mod target;
#[cfg(feature = "test-binary")]
mod test_binary;
mod tunnel;

pub use build_script::{build_script, build_script_with};
pub use duration::parse_duration;
pub use enforce::{CONFIG_ERROR_EXIT_CODE, REFUSED_EXIT_CODE};
pub use env::{Env, ProcessEnv, Recorded};
pub use error::{Error, Result};
pub use guard::{
    DEFAULT_MARKER_SETTING, DEFAULT_MARKER_TIMEOUT, DEFAULT_REDIS_MARKER_KEY, Guard, GuardBuilder,
};
pub use marker::{Marker, MarkerReading, MarkerScope};
pub use mask::mask;
pub use report::{Clearance, Finding, Layer, Refusal, Report, Status};
pub use rules::{Pattern, parse_patterns};
pub use target::{Client, Endpoint, Host, Target, TargetKind};

/// Not public API: what [`guard_test_binary!`] expands to needs.
#[cfg(feature = "test-binary")]
#[doc(hidden)]
pub mod __private {
    pub use crate::test_binary::{IntoGuard, run_test_binary_guard};
    pub use ctor;
}
