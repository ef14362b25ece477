use std::{io, path::PathBuf};

/// Why the test kit could not give a test its server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A server binary is not installed.
    #[error("`{binary}` not found ({hint})")]
    BinaryNotFound {
        /// The program looked for.
        binary: &'static str,
        /// How to install it.
        hint: &'static str,
    },
    /// An I/O step failed.
    #[error("{what} ({path})")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A helper command (initdb, psql, cp) failed.
    #[error("`{command}` failed: {output}")]
    Command {
        /// The command line, without secrets.
        command: String,
        /// What it printed on stderr (and stdout).
        output: String,
    },
    /// The server process exited or did not become ready in time.
    #[error("{service} on port {port} did not become ready: {reason}; last log lines:\n{log_tail}")]
    NotReady {
        /// `redis-server` or `postgres`.
        service: &'static str,
        /// The port it was asked to listen on.
        port: u16,
        /// Exited (with status) or timed out.
        reason: String,
        /// The end of the server's log.
        log_tail: String,
    },
    /// One of the machine's running services does not answer.
    #[error("{service} is not reachable at {url}: {reason}")]
    Unreachable {
        /// The service's name.
        service: &'static str,
        /// Its URL, password masked.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// The test kit's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }
}
