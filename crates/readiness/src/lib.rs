//! Wait for services in milliseconds, and prove they are ready by speaking their protocol.
//!
//! `preflight-readiness` replaces `sleep 5` and one-second pollers: a [`Target`] is parsed
//! from a spec (`postgres://…`, `redis://…`, `http://…`, `host:port`, …; see [`target`]
//! for the syntax) or built in code, a [`Probe`] proves the service answers (Postgres runs
//! `SELECT 1`, Redis answers `PONG`, HTTP returns 2xx, MySQL/AMQP/NATS/MQTT complete their
//! handshake), and a [`Wait`] probes every target concurrently under a [`Policy`] with
//! Docker HEALTHCHECK semantics and a hard overall deadline.
//!
//! The default policy probes at once and then every 10 ms while a target is starting
//! (20 ms once it has been starting for a second), so a service is noticed within
//! milliseconds of becoming ready (one-second pollers notice it half a second late on
//! average; Docker's defaults, after 30 s). Where the policy differs from Docker's
//! HEALTHCHECK or Kubernetes' probes, the README lists it with the test that shows it.
//!
//! ```
//! use std::time::Duration;
//! use preflight_readiness::{Policy, Target, Wait};
//!
//! // The service to wait for: here a listener of our own; in real use `db:5432`, a URL, …
//! let service = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let target: Target = format!("tcp://{}", service.local_addr()?).parse()?;
//!
//! let policy = Policy::builder().deadline(Duration::from_secs(10)).build()?;
//! let report = Wait::new([target]).policy(policy).run_blocking()?;
//! assert_eq!(report.targets.len(), 1);
//! println!("ready in {:?}", report.elapsed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Waiting
//!
//! [`Wait::run`] is async (tokio); [`Wait::run_blocking`] builds a current-thread runtime
//! for synchronous callers. Progress is reported through [`Wait::on_event`]; errors name
//! the target (password masked), the attempts, the elapsed time and the last failure, and
//! [`Error::exit_code`] maps them to the wait-for convention (`124` deadline, `1`
//! unhealthy, `2` usage). [`Wait::monitor`] keeps probing after readiness and reports
//! health transitions, as Docker does.
//!
//! # Crate features
//!
//! TCP, unix sockets, files, commands and the MySQL/MariaDB, AMQP, NATS and MQTT greeting
//! probes need only tokio and are always available. Heavier protocols are opt-in, so a
//! TCP-only user compiles neither reqwest nor tokio-postgres nor redis:
//!
//! - `http`: `http://` and `https://` targets (`HttpProbe`; reqwest with rustls/ring).
//! - `postgres`: `postgres://` targets (`PostgresProbe`; tokio-postgres, no TLS).
//! - `redis`: `redis://` and `rediss://` targets (`RedisProbe`; the redis crate).
//! - `questdb`: the `questdb://` ladder (`QuestDbProbe`); enables `http` and `postgres`.
//! - `full`: all of the above.
//!
//! A scheme whose feature is off is rejected with [`Error::FeatureDisabled`] naming it.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod duration;
mod error;
mod event;
mod health;
mod mask;
mod net;
mod policy;
pub mod probe;
mod report;
pub mod target;
mod wait;

pub use duration::parse_duration;
pub use error::{Error, ErrorKind, Result};
pub use event::{Event, EventKind};
pub use health::Health;
pub use policy::{Cadence, Policy, PolicyBuilder, Schedule, StartBackoff};
// Every probe is at the root as well as under `probe::` (the feature-gated ones below).
pub use probe::{
    AmqpProbe, CommandProbe, FileProbe, MqttProbe, MysqlProbe, NatsProbe, Probe, ProbeContext,
    ProbeFailure, ProbeFuture, TcpProbe, UnixProbe,
};
pub use report::{Report, TargetStatus};
pub use target::Target;
pub use wait::{Monitor, Wait};

#[cfg(feature = "postgres")]
pub use probe::PostgresProbe;
#[cfg(feature = "redis")]
pub use probe::RedisProbe;
#[cfg(feature = "http")]
pub use probe::{HttpProbe, HttpProbeBuilder, StatusRule};
#[cfg(feature = "questdb")]
pub use probe::{QuestDbProbe, QuestDbProbeBuilder};
