//! The signals a supervisor forwards: SIGINT (Ctrl-C), SIGTERM and SIGHUP.

use crate::error::{Error, Result};
use crate::process::StopSignal;

pub(crate) struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt()).map_err(Error::Signals)?,
            term: signal(SignalKind::terminate()).map_err(Error::Signals)?,
            hup: signal(SignalKind::hangup()).map_err(Error::Signals)?,
        })
    }
}

/// The next signal; never resolves when signals are not handled.
pub(crate) async fn recv(signals: &mut Option<Signals>) -> StopSignal {
    let Some(s) = signals else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = s.int.recv() => StopSignal::Int,
        _ = s.term.recv() => StopSignal::Term,
        _ = s.hup.recv() => StopSignal::Hup,
    }
}
