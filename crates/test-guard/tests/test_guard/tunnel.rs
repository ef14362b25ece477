//! Tunnels, for real: `socat` (from Debian's packages, installed by `scripts/services`)
//! forwards a loopback port to a throw-away PostgreSQL, as `ssh -L` or `kubectl
//! port-forward` would forward it to production. Loopback is then no proof: the forwarded
//! port is refused until the server carries a `test` marker, and the refusal names the
//! process holding the port; the same server reached directly is local and cleared.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use preflight_test_guard::{Guard, Layer, Target};
use preflight_testkit::{PostgresServer, free_port, require, skip_or_fail};

use crate::failed_layers;

/// A `socat` forwarder from a loopback port to `upstream`, killed on drop.
struct Socat {
    child: Child,
    port: u16,
}

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn socat(upstream: u16) -> Option<Socat> {
    let port = free_port();
    let child = Command::new("socat")
        .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
        .arg(format!("TCP:127.0.0.1:{upstream}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            skip_or_fail(&format!(
                "socat cannot run ({e}); Debian: apt-get install socat (scripts/services does)"
            ));
            return None;
        }
    };
    let socat = Socat { child, port };
    // Ready when it accepts a connection: this project's own readiness wait.
    let policy = preflight_readiness::Policy::builder()
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    preflight_readiness::Wait::new([preflight_readiness::Target::tcp("127.0.0.1", port)])
        .policy(policy)
        .run()
        .await
        .unwrap_or_else(|e| panic!("socat did not listen on {port}: {e}"));
    Some(socat)
}

#[tokio::test]
async fn a_forwarded_loopback_port_needs_a_test_marker() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    let Some(tunnel) = socat(pg.port()).await else {
        return;
    };
    let guard = Guard::builder().flag("TESTING_IN_DOCKER").build().unwrap();
    let forwarded = format!("postgres://postgres@127.0.0.1:{}/test_app", tunnel.port);
    let direct = pg.url_for("postgres", "test_app");

    // Loopback host and a test name, but socat holds the port: refused, naming it.
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", forwarded.as_str()),
    ];
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Targets], "{refusal}");
    let message = refusal.report().failures().next().unwrap().message.clone();
    assert!(
        message.contains(&format!(
            "port {} on `127.0.0.1` is held by `socat` (pid {}), a forwarder to another machine",
            tunnel.port,
            tunnel.child.id()
        )),
        "{message}"
    );
    assert!(message.contains("carries no test marker"), "{message}");
    // The static check refuses it too (only a marker could clear it).
    assert!(guard.check_static_with(&env).is_err());

    // The same server reached directly is local and cleared.
    let env_direct = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", direct.as_str()),
    ];
    let clearance = guard.check_with(&env_direct).await.unwrap();
    assert!(clearance.to_string().contains("is local"), "{clearance}");

    // With a test marker on the server, the forwarded port is cleared as well, and the
    // report says the server sits behind something.
    guard
        .set_marker(&Target::parse(&direct).unwrap(), "test")
        .await
        .unwrap();
    let clearance = guard.check_with(&env).await.unwrap();
    let text = clearance.to_string();
    assert!(
        text.contains("but the server carries a test marker"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "the server's own address is 127.0.0.1:{} (asked 127.0.0.1:{}",
            pg.port(),
            tunnel.port
        )),
        "{text}"
    );

    // A production marker behind the tunnel is refused, of course.
    guard
        .set_marker(&Target::parse(&direct).unwrap(), "production")
        .await
        .unwrap();
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert_eq!(
        failed_layers(&refusal),
        [Layer::Targets, Layer::Marker],
        "{refusal}"
    );

    // Not a forwarder we know of (the list is the user's): loopback again.
    let trusting = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .detect_tunnels(false)
        .build()
        .unwrap();
    let refusal = trusting.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
}

#[tokio::test]
async fn users_can_name_their_own_forwarders() {
    // This test binary holds a loopback port; named as a forwarder, its port is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let me = me.trim_end();
    let guard = Guard::builder().forwarder(me).build().unwrap();
    let url = format!("postgres://u@localhost:{port}/test_app");
    let refusal = guard
        .check_static_with(&[("DATABASE_URL", url.as_str())])
        .unwrap_err();
    assert!(
        refusal.to_string().contains(&format!(
            "port {port} on `localhost` is held by `{me}` (pid {})",
            std::process::id()
        )),
        "{refusal}"
    );
    // Without that name, the same port is local.
    assert!(
        Guard::default()
            .check_static_with(&[("DATABASE_URL", url.as_str())])
            .is_ok()
    );
}
