//! PostgreSQL: the production marker wins through every entry point, the flag is required,
//! an unreadable marker refuses, test markers clear hosts no rule allows.

use preflight_test_guard::{Guard, Layer, Status, Target, build_script_with};
use preflight_testkit::{PostgresServer, free_port, require};

use crate::{failed_layers, status_of};

fn guard() -> Guard {
    Guard::builder().flag("TESTING_IN_DOCKER").build().unwrap()
}

/// A server with database `test_app` marked `production` (through the crate's own helper).
async fn production_test_app() -> Option<(PostgresServer, String)> {
    let pg = match PostgresServer::start() {
        Ok(pg) => pg,
        Err(e) => {
            preflight_testkit::skip_or_fail(&e);
            return None;
        }
    };
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    let url = pg.url_for("postgres", "test_app");
    guard()
        .set_marker(&Target::parse(&url).unwrap(), "production")
        .await
        .unwrap();
    Some((pg, url))
}

#[tokio::test]
async fn production_marked_database_is_refused_through_every_entry_point() {
    let Some((pg, url)) = production_test_app().await else {
        return;
    };
    let guard = guard();
    // Flag set, loopback host, test-like name: everything static says yes.
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];

    let refusal = guard.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);
    assert_eq!(
        status_of(refusal.report(), Layer::Targets),
        Some(Status::Passed)
    );
    let message = refusal.to_string();
    assert!(
        message.contains("database setting preflight.environment is `production`"),
        "{message}"
    );
    let id = format!("postgres://127.0.0.1:{}/test_app", pg.port());
    assert!(
        message.contains(&format!("PREFLIGHT_GUARD_ALLOW='{id}'")),
        "{message}"
    );

    // The same through the sync entry point, from inside a runtime.
    let refusal = guard.check_blocking_with(&env).unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);

    // An explicit target (the pool's own URL), no environment at all besides the flag.
    let explicit = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .clear_target_vars()
        .libpq_env(false)
        .target(&url)
        .build()
        .unwrap();
    let refusal = explicit
        .check_with(&[("TESTING_IN_DOCKER", "1")])
        .await
        .unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);

    // An allowlisted host name, no loopback shortcut.
    let allowlisted = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .allow_loopback(false)
        .allow_host("localhost")
        .build()
        .unwrap();
    let via_name = format!("postgres://postgres@localhost:{}/test_app", pg.port());
    let env_name = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", via_name.as_str()),
    ];
    let refusal = allowlisted.check_with(&env_name).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    assert!(
        refusal
            .to_string()
            .contains("matches allow rule `localhost`"),
        "{refusal}"
    );

    // The build-script helper: cargo::error lines, nothing else on stdout.
    let mut out = Vec::new();
    assert!(build_script_with(&guard, env, &mut out).is_err());
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("cargo::error=test-guard: REFUSED"), "{out}");
    assert!(
        out.contains("cargo::rerun-if-env-changed=DATABASE_URL"),
        "{out}"
    );
}

#[tokio::test]
async fn spoofed_session_setting_does_not_hide_the_production_marker() {
    let Some((pg, _url)) = production_test_app().await else {
        return;
    };
    // The client asks for `preflight.environment=test` for its own session.
    let spoof = format!(
        "postgres://postgres@127.0.0.1:{}/test_app?options=-c%20preflight.environment%3Dtest",
        pg.port()
    );
    // Prove the spoof works on what a naive guard would read (`current_setting`)...
    let (client, conn) = tokio_postgres::connect(&spoof, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(conn);
    let seen: String = client
        .query_one("SELECT current_setting('preflight.environment')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        seen, "test",
        "the spoof should be visible to current_setting"
    );
    drop(client);
    let _ = task.await;

    // ...and that the guard, reading the catalog, is not fooled.
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", spoof.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);
    assert!(refusal.to_string().contains("`production`"), "{refusal}");
}

#[tokio::test]
async fn loopback_test_database_is_cleared_with_the_flag_and_refused_without() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    let url = pg.url_for("postgres", "test_app");
    let guard = guard();

    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let clearance = guard.check_with(&env).await.unwrap();
    assert!(!clearance.used_override());
    let marker = clearance
        .report()
        .findings()
        .iter()
        .find(|f| f.layer == Layer::Marker)
        .unwrap();
    assert_eq!(marker.status, Status::Passed);
    assert!(marker.message.contains("no marker"), "{marker}");
    // A `test` marker is fine too.
    guard
        .set_marker(&Target::parse(&url).unwrap(), "test")
        .await
        .unwrap();
    guard.check_with(&env).await.unwrap();

    // The flag cleared: refused, and no override can help with that.
    let env = [("TESTING_IN_DOCKER", ""), ("DATABASE_URL", url.as_str())];
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Flag]);
    assert!(refusal.report().override_hint().is_none());
    let refusal = guard
        .check_with(&[("DATABASE_URL", url.as_str())])
        .await
        .unwrap_err();
    assert!(
        refusal.to_string().contains("TESTING_IN_DOCKER is not set"),
        "{refusal}"
    );
}

#[tokio::test]
async fn unreachable_marker_check_is_a_refusal() {
    // Loopback and named like a test database, but nothing answers: we cannot know.
    let url = format!(
        "postgres://postgres:hunter2@127.0.0.1:{}/test_app",
        free_port()
    );
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker]);
    let message = refusal.to_string();
    assert!(message.contains("cannot connect"), "{message}");
    assert!(message.contains("counts as a refusal"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn test_marker_clears_a_host_no_rule_allows_and_nothing_else_does() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE app").unwrap();
    let url = pg.url_for("postgres", "app");
    // Pretend loopback is remote: no allow rule covers the host, `app` is no test name.
    let guard = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .allow_loopback(false)
        .build()
        .unwrap();
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Targets]);
    assert!(
        refusal.to_string().contains("carries no test marker"),
        "{refusal}"
    );

    let target = Target::parse(&url).unwrap();
    guard.set_marker(&target, "test").await.unwrap();
    let clearance = guard.check_with(&env).await.unwrap();
    assert!(
        clearance.to_string().contains("carries a test marker"),
        "{clearance}"
    );

    // An unknown value is not a test marker.
    guard.set_marker(&target, "development").await.unwrap();
    assert!(guard.check_with(&env).await.is_err());
}

#[tokio::test]
async fn override_allows_exactly_the_named_target() {
    let Some((pg, url)) = production_test_app().await else {
        return;
    };
    let guard = guard();
    let id = format!("postgres://127.0.0.1:{}/test_app", pg.port());
    let other = format!("postgres://127.0.0.1:{}/other", pg.port());
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", url.as_str()),
        ("PREFLIGHT_GUARD_ALLOW", other.as_str()),
    ];
    assert!(
        guard.check_with(&env).await.is_err(),
        "another target's override"
    );

    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", url.as_str()),
        ("PREFLIGHT_GUARD_ALLOW", id.as_str()),
    ];
    let clearance = guard.check_with(&env).await.unwrap();
    assert!(clearance.used_override());
    assert!(
        clearance
            .to_string()
            .contains("ONLY BECAUSE OF AN OVERRIDE"),
        "{clearance}"
    );
    assert_eq!(
        status_of(clearance.report(), Layer::Marker),
        Some(Status::Overridden)
    );
}

#[tokio::test]
async fn exported_pghost_redirect_is_followed() {
    // The HN incident: the URL names no host, a tunnel script exported PGHOST/PGPORT.
    let Some((pg, _url)) = production_test_app().await else {
        return;
    };
    let port = pg.port().to_string();
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", "postgres://postgres@/test_app"),
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
    ];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert!(refusal.to_string().contains("`production`"), "{refusal}");
    // And PG* alone, without any DATABASE_URL, is a target of its own.
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGDATABASE", "test_app"),
        ("PGUSER", "postgres"),
    ];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert!(
        refusal
            .to_string()
            .contains("libpq defaults (PGHOST, PGPORT, PGDATABASE)"),
        "{refusal}"
    );
}

#[tokio::test]
async fn marker_helpers_and_marker_rows() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE test_rows").unwrap();
    let url = pg.url_for("postgres", "test_rows");
    let target = Target::parse(&url).unwrap();
    let guard = guard();

    assert_eq!(guard.read_marker(&target).await.unwrap().value, None);
    guard.set_marker(&target, "production").await.unwrap();
    let reading = guard.read_marker(&target).await.unwrap();
    assert_eq!(reading.value.as_deref(), Some("production"));
    assert!(!reading.standby);
    guard.clear_marker(&target).await.unwrap();
    assert_eq!(guard.read_marker(&target).await.unwrap().value, None);
    assert!(
        guard
            .set_marker(&target, "prod'; DROP DATABASE x; --")
            .await
            .is_err()
    );

    // A Rails-style marker row travels with dumps: read it when configured.
    pg.psql(
        "test_rows",
        "CREATE TABLE ar_internal_metadata(key text PRIMARY KEY, value text); \
         INSERT INTO ar_internal_metadata VALUES ('environment', 'production')",
    )
    .unwrap();
    let rows = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .marker_table("ar_internal_metadata")
        .build()
        .unwrap();
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = rows.check_with(&env).await.unwrap_err();
    assert!(
        refusal
            .to_string()
            .contains("row environment in ar_internal_metadata is `production`"),
        "{refusal}"
    );
    // A guard that was not told about the table does not read it.
    guard.check_with(&env).await.unwrap();
}
