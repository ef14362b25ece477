//! Local servers the tests control: listeners that open later and a black hole that
//! accepts and never answers; event collection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use preflight_readiness::{Event, EventKind, Health, Policy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A deadline generous enough for a loaded 2-core machine.
pub(crate) const GENEROUS: Duration = Duration::from_secs(30);

/// The default policy with a deadline.
pub(crate) fn policy(deadline: Duration) -> Policy {
    Policy::builder().deadline(deadline).build().unwrap()
}

/// An event sink that starts a held server when the first probe fails: the service is
/// provably down for attempt 1 and comes up for a later one, with no delay to race.
pub(crate) fn start_on_first_failure(
    starter: preflight_testkit::Starter,
) -> impl Fn(&Event) + Send + Sync + 'static {
    move |event: &Event| {
        if let EventKind::Probed {
            failure: Some(_), ..
        } = &event.kind
        {
            starter.start();
        }
    }
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    preflight_testkit::free_port()
}

/// Records which targets have had a failed probe: a test starts its service once they
/// all have, so each service is provably down for attempt 1 and up for a later one, with
/// no delay to race.
#[derive(Clone)]
pub(crate) struct FirstFailure(Arc<tokio::sync::watch::Sender<std::collections::BTreeSet<usize>>>);

impl Default for FirstFailure {
    fn default() -> Self {
        Self(Arc::new(
            tokio::sync::watch::Sender::new(Default::default()),
        ))
    }
}

impl FirstFailure {
    /// An event sink that records the target of every failed probe.
    pub(crate) fn sink(&self) -> impl Fn(&Event) + Send + Sync + 'static {
        let failed = Arc::clone(&self.0);
        move |event: &Event| {
            if let EventKind::Probed {
                failure: Some(_), ..
            } = &event.kind
            {
                failed.send_modify(|set| {
                    set.insert(event.index);
                });
            }
        }
    }

    /// Returns once a probe has failed (at once if one already did).
    pub(crate) async fn wait(&self) {
        self.wait_for_targets(1).await;
    }

    /// Returns once `n` distinct targets have had a failed probe.
    pub(crate) async fn wait_for_targets(&self, n: usize) {
        let mut seen = self.0.subscribe();
        seen.wait_for(|set| set.len() >= n)
            .await
            .expect("the sender lives in self");
    }
}

/// One event sink that feeds two.
pub(crate) fn both(
    a: impl Fn(&Event) + Send + Sync + 'static,
    b: impl Fn(&Event) + Send + Sync + 'static,
) -> impl Fn(&Event) + Send + Sync + 'static {
    move |event: &Event| {
        a(event);
        b(event);
    }
}

/// Binds `port` once the first probe has failed and keeps the listener (accepting
/// nothing) until dropped.
pub(crate) fn listen_after_failure(port: u16, failed: FirstFailure) -> JoinHandle<TcpListener> {
    tokio::spawn(async move {
        failed.wait().await;
        TcpListener::bind(("127.0.0.1", port)).await.unwrap()
    })
}

/// A server that accepts connections and never answers; they stay open until it drops.
pub(crate) struct BlackHole {
    pub(crate) port: u16,
    task: JoinHandle<()>,
}

impl BlackHole {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Self { port, task }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Collects every event of a wait.
#[derive(Clone, Default)]
pub(crate) struct Events(pub(crate) Arc<Mutex<Vec<Event>>>);

impl Events {
    pub(crate) fn sink(&self) -> impl Fn(&Event) + Send + Sync + 'static {
        let events = Arc::clone(&self.0);
        move |event: &Event| events.lock().unwrap().push(event.clone())
    }

    pub(crate) fn changes(&self) -> Vec<(Health, Health)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Changed { from, to } => Some((from, to)),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn steps(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Probed {
                    steps,
                    failure: None,
                    ..
                } => Some(steps.clone()),
                _ => None,
            })
            .next_back()
            .unwrap_or_default()
    }
}
