//! The crate's one error type. Every message names the target with its password masked;
//! no variant ever carries a secret.

use std::time::Duration;

use crate::report::TargetStatus;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while parsing targets, building a policy or waiting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A target spec could not be parsed (the spec is shown with its password masked).
    #[error("invalid target `{spec}`: {reason}")]
    InvalidTarget {
        /// The spec as given, password masked.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A target needs a probe whose cargo feature is not enabled.
    #[error("target `{spec}` needs the `{feature}` feature of preflight-readiness")]
    FeatureDisabled {
        /// The spec as given, password masked.
        spec: String,
        /// The cargo feature to enable.
        feature: &'static str,
    },

    /// A policy setting is out of range (several: `field` is the first, `reason` goes on
    /// with the others, `interval must be …; timeout must be …`).
    #[error("invalid policy: {field} {reason}")]
    InvalidPolicy {
        /// The setting, e.g. `start_interval` (the first, when several are out of range).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A duration string could not be parsed.
    #[error("invalid duration `{input}`: expected e.g. `10` (seconds), `250ms`, `1m30s`")]
    InvalidDuration {
        /// The input as given.
        input: String,
    },

    /// A probe option (a CA file, a header, a status rule) is invalid.
    #[error("invalid probe option for `{target}`: {reason}")]
    InvalidProbe {
        /// The target, password masked.
        target: String,
        /// What is wrong.
        reason: String,
    },

    /// The overall deadline passed before every target was ready.
    #[error("deadline of {} passed: {}", humantime::format_duration(*deadline), summarize(pending))]
    Timeout {
        /// The configured overall deadline.
        deadline: Duration,
        /// The targets that were not ready, with their attempts and last failure.
        pending: Vec<TargetStatus>,
    },

    /// A target failed `retries` probes in a row where failures count (probes begun after
    /// the start period, or any once the target is no longer starting). The status
    /// carries the attempts and the time of the verdict.
    #[error("{} is unhealthy: {}", status.target, status.describe())]
    Unhealthy {
        /// The target's state when it became unhealthy.
        status: TargetStatus,
    },

    /// The blocking entry point was called from inside a tokio runtime, or its runtime
    /// could not be built.
    #[error("cannot run the blocking wait: {reason}")]
    Runtime {
        /// Why.
        reason: String,
        /// The I/O error from building the runtime, if that was the cause.
        #[source]
        source: Option<std::io::Error>,
    },
}

/// What kind of failure an [`Error`] is, for callers that branch on it (a CLI's exit code,
/// a JSON event name) without matching every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input: a target spec, a policy setting, a duration, a probe option, or a
    /// probe whose feature is disabled.
    Usage,
    /// The overall deadline passed ([`Error::Timeout`]).
    Timeout,
    /// A target became unhealthy ([`Error::Unhealthy`]).
    Unhealthy,
    /// The blocking wait could not run ([`Error::Runtime`]).
    Runtime,
}

impl ErrorKind {
    /// The kind's name: `usage`, `timeout`, `unhealthy` or `runtime`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Timeout => "timeout",
            Self::Unhealthy => "unhealthy",
            Self::Runtime => "runtime",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// What kind of failure this is.
    ///
    /// ```
    /// use preflight_readiness::{ErrorKind, parse_duration};
    ///
    /// let err = parse_duration("ten").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Usage);
    /// assert_eq!(err.exit_code(), 2);
    /// ```
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Unhealthy { .. } => ErrorKind::Unhealthy,
            Self::Runtime { .. } => ErrorKind::Runtime,
            Self::InvalidTarget { .. }
            | Self::FeatureDisabled { .. }
            | Self::InvalidPolicy { .. }
            | Self::InvalidDuration { .. }
            | Self::InvalidProbe { .. } => ErrorKind::Usage,
        }
    }

    /// The exit code a wait-for style CLI should use for this error: `124` when the
    /// deadline passed (the `timeout(1)` convention wait-for-it and wait4x use), `1` when
    /// a target became unhealthy or the wait could not run, `2` for usage errors (bad
    /// target, policy, duration).
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self.kind() {
            ErrorKind::Timeout => 124,
            ErrorKind::Unhealthy | ErrorKind::Runtime => 1,
            ErrorKind::Usage => 2,
        }
    }
}

fn summarize(pending: &[TargetStatus]) -> String {
    if pending.is_empty() {
        return "no target was pending".to_owned();
    }
    pending
        .iter()
        .map(|s| format!("{} not ready ({})", s.target, s.describe()))
        .collect::<Vec<_>>()
        .join("; ")
}
