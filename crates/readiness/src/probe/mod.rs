//! The probe trait and the built-in probes, one file per protocol. A probe makes one
//! attempt and says whether the service is ready; it never sleeps, retries or enforces
//! the timeout itself (the wait loop does), and it always closes what it opened.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

mod amqp;
mod command;
mod file;
mod mqtt;
mod mysql;
mod nats;
mod tcp;
mod unix;

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "questdb")]
mod questdb;
#[cfg(feature = "redis")]
mod redis;

pub use amqp::AmqpProbe;
pub use command::CommandProbe;
pub use file::FileProbe;
pub use mqtt::MqttProbe;
pub use mysql::MysqlProbe;
pub use nats::NatsProbe;
pub use tcp::TcpProbe;
pub use unix::UnixProbe;

#[cfg(feature = "http")]
pub use http::{HttpProbe, HttpProbeBuilder, StatusRule};
#[cfg(feature = "postgres")]
pub use postgres::PostgresProbe;
#[cfg(feature = "questdb")]
pub use questdb::{QuestDbProbe, QuestDbProbeBuilder};
#[cfg(feature = "redis")]
pub use redis::RedisProbe;

/// The future one probe attempt returns.
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ProbeFailure>> + Send + 'a>>;

/// One way of asking a service whether it is ready. Implement it for your own service and
/// wrap it in a [`Target`](crate::Target) with [`Target::new`](crate::Target::new).
///
/// The wait loop calls [`Probe::probe`] once per attempt, cancels it when
/// [`ProbeContext::timeout`] or the overall deadline passes (so the future must be
/// cancel-safe: drop everything it opened when dropped, as tokio's types do), and does
/// all sleeping and counting itself.
///
/// ```
/// use preflight_readiness::{Probe, ProbeContext, ProbeFailure, ProbeFuture, Target};
///
/// #[derive(Debug)]
/// struct AlwaysReady;
///
/// impl Probe for AlwaysReady {
///     fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
///         Box::pin(async move {
///             cx.step_passed("asked nicely");
///             Ok::<(), ProbeFailure>(())
///         })
///     }
/// }
///
/// let target = Target::new("always-ready", AlwaysReady);
/// assert_eq!(target.name(), "always-ready");
/// ```
pub trait Probe: fmt::Debug + Send + Sync {
    /// Makes one attempt: `Ok(())` when the service proved it is ready.
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a>;
}

/// What the wait loop tells one attempt, and what the attempt reports back.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    timeout: Duration,
    steps: Vec<String>,
}

impl ProbeContext {
    /// A context for an attempt that may take `timeout` (useful when testing a probe).
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            steps: Vec::new(),
        }
    }

    /// How long this attempt may take; the wait loop cancels it after that. Probes pass it
    /// to clients that have their own connect timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Reports that one step of a multi-step probe passed.
    pub fn step_passed(&mut self, step: impl Into<String>) {
        self.steps.push(step.into());
    }

    /// The steps that passed so far.
    #[must_use]
    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    pub(crate) fn into_steps(self) -> Vec<String> {
        self.steps
    }
}

/// Why one probe attempt failed: a short, secret-free message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    message: String,
}

impl ProbeFailure {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// A failure from an error and its whole `source()` chain, joined with `: ` (clients
    /// such as tokio-postgres put the useful part in the source).
    pub fn from_error(error: &(dyn StdError + 'static)) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(inner) = source {
            let text = inner.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = inner.source();
        }
        Self { message }
    }

    /// The same failure with `context` in front (`"pg-wire :8812: connection refused"`).
    #[must_use]
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
        }
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ProbeFailure {}

impl From<std::io::Error> for ProbeFailure {
    fn from(error: std::io::Error) -> Self {
        Self::from_error(&error)
    }
}
