//! Files: ready when the path exists (a pid file, a socket, a "migrations done" marker).

use std::path::PathBuf;

use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// Ready when something exists at `path` (file, directory or socket).
#[derive(Debug, Clone)]
pub struct FileProbe {
    path: PathBuf,
}

impl FileProbe {
    /// A probe for `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl Probe for FileProbe {
    fn probe<'a>(&'a self, _cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            match tokio::fs::try_exists(&self.path).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ProbeFailure::new(format!(
                    "{} does not exist",
                    self.path.display()
                ))),
                Err(e) => Err(ProbeFailure::from(e).context(self.path.display())),
            }
        })
    }
}
