//! The seam between the supervisor's rules and real processes.
//!
//! The run loop, restarts, kill-others, success rules and input routing only need a
//! process that can be started, waited for, stopped and fed; [`Launch`] and [`Run`] are
//! that much. [`Real`] starts real process groups; the unit tests drive the same loop
//! with a scripted fake, on tokio's paused clock.

use std::future::Future;
use std::time::Duration;

use crate::error::Result;
use crate::output::Output;
use crate::process::{Exit, Running, Stop};

use super::config::ProcessSpec;

/// Starts one run of a process.
pub(crate) trait Launch: Send + Sync + 'static {
    /// A started run.
    type Run: Run;

    /// Starts `spec` within `scope` (see the descendants module); `leftovers` stops what
    /// the run leaves behind when it ends.
    fn start(
        &self,
        spec: &ProcessSpec,
        output: &Output,
        leftovers: Stop,
        scope: &str,
    ) -> impl Future<Output = Result<Self::Run>> + Send;
}

/// One started run.
pub(crate) trait Run: Send {
    /// Waits for it to end. Cancel-safe.
    fn wait(&mut self) -> impl Future<Output = Result<Exit>> + Send;

    /// Stops it (signal, grace cut short by `escalate`, SIGKILL).
    fn stop(
        &mut self,
        stop: Stop,
        escalate: impl Future<Output = ()> + Send,
    ) -> impl Future<Output = Result<Exit>> + Send;

    /// Writes to its stdin, never blocking.
    fn feed(&mut self, bytes: Vec<u8>);

    /// Closes its stdin.
    fn close_input(&mut self);

    /// From start to end (or to now).
    fn duration(&self) -> Duration;
}

/// Real processes, each in its own process group.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Real;

impl Launch for Real {
    type Run = Running;

    async fn start(
        &self,
        spec: &ProcessSpec,
        output: &Output,
        leftovers: Stop,
        scope: &str,
    ) -> Result<Running> {
        Running::start(&spec.name, &spec.command, &[], output, leftovers, scope).await
    }
}

impl Run for Running {
    async fn wait(&mut self) -> Result<Exit> {
        Running::wait(self).await
    }

    async fn stop(
        &mut self,
        stop: Stop,
        escalate: impl Future<Output = ()> + Send,
    ) -> Result<Exit> {
        Running::stop(self, stop, escalate).await
    }

    fn feed(&mut self, bytes: Vec<u8>) {
        Running::feed(self, bytes);
    }

    fn close_input(&mut self) {
        Running::close_input(self);
    }

    fn duration(&self) -> Duration {
        Running::duration(self)
    }
}
