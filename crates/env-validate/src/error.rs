//! The crate's one error type: failures of the tool itself (a file that cannot be read, a
//! schema built wrongly in code), as opposed to problems *in* the environment, which are
//! [`Finding`](crate::Finding)s. No message ever carries a value read from an env file.

use std::path::PathBuf;

/// A tool error: the validation could not run, so there is no verdict on the environment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An env file or template could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than [`Limits::max_file_bytes`](crate::Limits::max_file_bytes).
    #[error("{} is {size} bytes, over the limit of {limit} bytes", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A schema built in Rust is inconsistent (a bad regex, a default of the wrong type...).
    #[error("invalid schema for key `{key}`: {reason}")]
    Schema {
        /// The key whose declaration is wrong.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A typed read asked for a key the schema does not declare with that type.
    #[error("key `{key}` {reason}")]
    Access {
        /// The key asked for.
        key: String,
        /// Why it cannot be read as asked.
        reason: &'static str,
    },
    /// Deserialising the validated values into a user struct failed. The message has every
    /// value replaced by `<hidden>`.
    #[cfg(feature = "serde")]
    #[error("cannot deserialise the environment: {message}")]
    Deserialize {
        /// serde's message, with values masked.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
