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

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    preflight_testkit::free_port()
}

/// Binds `port` after `delay` and keeps the listener (accepting nothing) until dropped.
pub(crate) fn listen_after(port: u16, delay: Duration) -> JoinHandle<TcpListener> {
    tokio::spawn(async move {
        // The delay is the behaviour under test: the service starts later.
        tokio::time::sleep(delay).await;
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
