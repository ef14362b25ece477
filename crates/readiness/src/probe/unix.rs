//! Unix domain sockets: ready when a connection is accepted.

use std::path::PathBuf;

use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// Ready when a stream connection to the unix socket at `path` is accepted.
#[derive(Debug, Clone)]
pub struct UnixProbe {
    path: PathBuf,
}

impl UnixProbe {
    /// A probe for the socket at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl Probe for UnixProbe {
    fn probe<'a>(&'a self, _cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            tokio::net::UnixStream::connect(&self.path)
                .await
                .map(drop)
                .map_err(|e| ProbeFailure::from(e).context(self.path.display()))
        })
    }
}
