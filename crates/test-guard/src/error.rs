//! The crate's one error type. A refusal is not an error: it is the [`Refusal`](crate::Refusal)
//! side of a check's result. Errors here are bad configuration, unparseable targets and
//! failed marker operations. No message ever carries a password.

/// Everything that can go wrong in this crate, other than a refusal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The guard's configuration is invalid; every problem is listed.
    #[error("invalid test-guard configuration: {}", problems.join("; "))]
    Config {
        /// One line per problem, naming the option and the value.
        problems: Vec<String>,
    },

    /// A connection string could not be understood.
    #[error("cannot parse {source_name} `{masked}`: {reason}")]
    InvalidTarget {
        /// Where the string came from (a variable name, or `explicit`).
        source_name: String,
        /// The string with any password replaced by `***`.
        masked: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A duration (e.g. the `guard --marker-timeout` flag) could not be parsed; see
    /// [`parse_duration`](crate::parse_duration) for the syntax.
    #[error("invalid duration `{input}`: expected e.g. `10` (seconds), `250ms`, `1m30s`")]
    InvalidDuration {
        /// The input as given.
        input: String,
    },

    /// A host rule or database-name pattern is malformed.
    #[error("invalid pattern `{pattern}`: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A marker value is not something this crate writes.
    #[error("invalid marker value `{value}`: use 1 to 64 letters, digits, `_`, `-` or `.`")]
    InvalidMarkerValue {
        /// The rejected value.
        value: String,
    },

    /// Reading, setting or clearing a marker failed on the server.
    #[error("marker operation on {target} failed: {reason}")]
    Marker {
        /// The target, password masked.
        target: String,
        /// What the server or the connection said.
        reason: String,
    },

    /// The target's kind cannot be checked live because its crate feature is off.
    #[error("{target}: live marker checks need the `{feature}` feature of preflight-test-guard")]
    FeatureDisabled {
        /// The target, password masked.
        target: String,
        /// The feature to enable.
        feature: &'static str,
    },

    /// A scratch database or key space was not created: the server did not pass the
    /// guard. The refusal lists every failed check.
    #[cfg(feature = "scratch")]
    #[error("no scratch database on a server the guard refuses: {refusal}")]
    Refused {
        /// The guard's refusal.
        refusal: Box<crate::Refusal>,
    },

    /// A migration failed while a scratch template was built.
    #[cfg(feature = "scratch")]
    #[error("migration {migration} failed: {reason}")]
    Migration {
        /// The file (with line when the server reported a position) or `inline SQL`.
        migration: String,
        /// What the server or the migration function said.
        reason: String,
    },

    /// Creating, cloning or dropping a scratch database or key space failed.
    #[cfg(feature = "scratch")]
    #[error("scratch on {target}: {reason}")]
    Scratch {
        /// The server, password masked.
        target: String,
        /// What failed.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
