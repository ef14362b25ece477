//! The crate's one error type.
//!
//! Every variant names what it is about (a path, a glob, a process name, a config key) so
//! a message alone tells the user where to look. Causes from the libraries underneath
//! (notify, globset, ignore) are kept as opaque [`BoxError`] sources: their messages
//! stay in the chain, their types stay out of this crate's API, so a major upgrade of
//! one of them is not a breaking change here. Nothing here ever carries the value of an
//! environment variable: commands may receive secrets through their environment.

use std::path::PathBuf;

/// An opaque cause: displayable, walkable with `source()`, downcastable if you must.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while watching, running or supervising.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A glob (include, exclude or ignore) did not parse.
    #[error("invalid glob `{glob}`")]
    Glob {
        /// The glob as given.
        glob: String,
        /// Why it did not parse.
        #[source]
        source: BoxError,
    },

    /// An ignore file (`.gitignore`, `.ignore`) could not be read or parsed.
    #[error("cannot read ignore rules from {}", path.display())]
    IgnoreFile {
        /// The ignore file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: BoxError,
    },

    /// A path to watch does not exist or cannot be read.
    #[error("cannot watch {}", path.display())]
    WatchPath {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },

    /// The kernel refused another inotify watch: the per-user limit is reached.
    #[error(
        "inotify watch limit reached after {watches} watches while watching {}; \
         other programs of this user share the limit; raise it with \
         `sudo sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d/), \
         ignore more directories, or use polling",
        path.display()
    )]
    WatchLimit {
        /// The directory that could not be watched.
        path: PathBuf,
        /// Watches this watcher had registered when the limit was hit.
        watches: usize,
    },

    /// The kernel refused another inotify instance: the per-user limit is reached.
    #[error(
        "inotify instance limit reached; raise it with \
         `sudo sysctl fs.inotify.max_user_instances=1024` or use polling"
    )]
    InstanceLimit,

    /// The file-system notification backend failed.
    #[error("file watcher failed{}", path.as_ref().map(|p| format!(" on {}", p.display())).unwrap_or_default())]
    Notify {
        /// The path concerned, when known.
        path: Option<PathBuf>,
        /// The backend's error.
        #[source]
        source: BoxError,
    },

    /// The notification backend's thread ended (it only does when it failed).
    #[error("file watcher backend stopped")]
    WatcherStopped,

    /// A command could not be started.
    #[error("cannot start `{name}` (`{command}`)")]
    Spawn {
        /// The process name (or `watch` for an unnamed watch job).
        name: String,
        /// The command line, as configured.
        command: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },

    /// Waiting for, or signalling, a running process failed.
    #[error("cannot control `{name}` (pid {pid})")]
    Process {
        /// The process name.
        name: String,
        /// Its pid (also its process group id).
        pid: u32,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },

    /// A duration (a CLI flag, a `dev.toml` field) could not be parsed; see
    /// [`parse_duration`](crate::parse_duration) for the syntax.
    #[error("invalid duration `{input}`: expected e.g. `10` (seconds), `250ms`, `1m30s`")]
    InvalidDuration {
        /// The input as given.
        input: String,
    },

    /// A configuration value is wrong; every problem found is listed.
    #[error("invalid configuration: {}", problems.join("; "))]
    Config {
        /// One entry per problem, each naming the key.
        problems: Vec<String>,
    },

    /// A config file could not be read.
    #[error("cannot read {}", path.display())]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },

    /// A config file is not valid TOML or does not fit the schema.
    #[cfg(feature = "config")]
    #[error("{}: {message}", path.display())]
    ConfigSyntax {
        /// The file (or a name such as `<string>`).
        path: PathBuf,
        /// The parser's message, which names the line, column and key.
        message: String,
    },

    /// Installing the supervisor's signal handlers failed.
    #[error("cannot install signal handlers")]
    Signals(#[source] std::io::Error),
}

impl Error {
    /// A `Config` error with a single problem.
    pub(crate) fn config(problem: impl Into<String>) -> Self {
        Self::Config {
            problems: vec![problem.into()],
        }
    }
}

/// An error and its sources on one line, for lists of problems and status lines: the
/// crate's one place that walks a `source()` chain.
pub(crate) fn error_chain(e: &Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sources from notify, globset and ignore are opaque boxes: the match below only
    /// compiles while no dependency type is part of the public error.
    #[test]
    fn dependency_errors_are_opaque_sources_with_their_message_kept() {
        let err = crate::Watch::builder()
            .path(std::env::temp_dir())
            .exclude("a[")
            .build()
            .unwrap_err();
        let msg = crate::error::error_chain(&err);
        assert!(msg.contains("`a[`") && msg.contains("unclosed"), "{msg}");
        let glob = Error::Glob {
            glob: "a[".into(),
            source: "unclosed character class".into(),
        };
        if let Error::Glob { source, .. }
        | Error::IgnoreFile { source, .. }
        | Error::Notify { source, .. } = &glob
        {
            let opaque: &BoxError = source;
            assert_eq!(opaque.to_string(), "unclosed character class");
        }
    }
}
