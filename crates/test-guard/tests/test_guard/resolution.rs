//! Resolution end to end: a throw-away PostgreSQL whose `test_app` database is marked
//! `production`, reached only through libpq's indirections (service files in their default
//! locations, `service=` inside `DATABASE_URL`, `PGSERVICE`, `PGHOSTADDR`, an empty URI host
//! with `PGHOST`, `.pgpass`). Each time the guard must judge, and read the marker of, the
//! server the client really reaches: the refusal names `production`.

use std::path::Path;

use preflight_test_guard::{Client, Guard, Layer, Target};
use preflight_testkit::PostgresServer;

use crate::failed_layers;

fn guard() -> Guard {
    Guard::builder().flag("TESTING_IN_DOCKER").build().unwrap()
}

async fn production_test_app() -> Option<PostgresServer> {
    let pg = match PostgresServer::start() {
        Ok(pg) => pg,
        Err(e) => {
            preflight_testkit::skip_or_fail(&e);
            return None;
        }
    };
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    guard()
        .set_marker(
            &Target::parse(&pg.url_for("postgres", "test_app")).unwrap(),
            "production",
        )
        .await
        .unwrap();
    Some(pg)
}

fn write_private(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Refused on the marker layer alone, the marker read as `production` from the server at
/// `id`: the guard reached the very server the client would.
async fn assert_production(guard: &Guard, env: &[(&str, &str)], id: &str) {
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    let text = refusal.to_string();
    assert!(text.contains("is `production`"), "{text}");
    assert!(text.contains(id), "{id} not in {text}");
}

#[tokio::test]
async fn service_files_in_their_default_locations_reach_the_marked_server() {
    let Some(pg) = production_test_app().await else {
        return;
    };
    let id = format!("postgres://127.0.0.1:{}/test_app", pg.port());
    let section = format!(
        "[prod] the production service\nhost=127.0.0.1\nport={}\ndbname=test_app\nuser=postgres\n",
        pg.port()
    );
    let home = tempfile::tempdir().unwrap();
    let home_text = home.path().to_str().unwrap();
    let nowhere = home.path().join("no-sysconf");
    let nowhere = nowhere.to_str().unwrap();
    write_private(&home.path().join(".pg_service.conf"), &section);

    // `service=` inside DATABASE_URL, keyword form and URI form; the file is the default
    // ~/.pg_service.conf.
    for url in ["service=prod", "postgres:///?service=prod"] {
        let env = [
            ("TESTING_IN_DOCKER", "1"),
            ("HOME", home_text),
            ("PGSYSCONFDIR", nowhere),
            ("DATABASE_URL", url),
        ];
        assert_production(&guard(), &env, &id).await;
    }
    // PGSERVICE alone: psql with no arguments goes there.
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("HOME", home_text),
        ("PGSYSCONFDIR", nowhere),
        ("PGSERVICE", "prod"),
    ];
    assert_production(&guard(), &env, &id).await;

    // The system file (PGSYSCONFDIR/pg_service.conf), read when the user file lacks it.
    let other_home = tempfile::tempdir().unwrap();
    let sys = tempfile::tempdir().unwrap();
    write_private(&sys.path().join("pg_service.conf"), &section);
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("HOME", other_home.path().to_str().unwrap()),
        ("PGSYSCONFDIR", sys.path().to_str().unwrap()),
        ("DATABASE_URL", "service=prod"),
    ];
    assert_production(&guard(), &env, &id).await;
}

/// Regression (issue 9): `postgres://user@:port/db` with PGHOST exported goes to PGHOST.
#[tokio::test]
async fn empty_uri_host_with_pghost_reaches_the_marked_server() {
    let Some(pg) = production_test_app().await else {
        return;
    };
    let url = format!("postgres://postgres@:{}/test_app", pg.port());
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", url.as_str()),
        ("PGHOST", "127.0.0.1"),
    ];
    let id = format!("postgres://127.0.0.1:{}/test_app", pg.port());
    assert_production(&guard(), &env, &id).await;
}

#[tokio::test]
async fn pghostaddr_is_where_the_marker_is_read() {
    let Some(pg) = production_test_app().await else {
        return;
    };
    // The name would be refused; libpq connects to PGHOSTADDR, and so does the marker read.
    let url = format!(
        "postgres://postgres@db.internal.example:{}/test_app",
        pg.port()
    );
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", url.as_str()),
        ("PGHOSTADDR", "127.0.0.1"),
    ];
    let id = format!("postgres://127.0.0.1:{}/test_app", pg.port());
    assert_production(&guard(), &env, &id).await;
}

#[tokio::test]
async fn pgpass_in_home_supplies_the_marker_login() {
    let Some(pg) = production_test_app().await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    write_private(
        &home.path().join(".pgpass"),
        &format!(
            "# the marker connection logs in as the client would\n127.0.0.1:{}:test_app:postgres:s3cr\\:et\n",
            pg.port()
        ),
    );
    let url = pg.url_for("postgres", "test_app");
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("HOME", home.path().to_str().unwrap()),
        ("DATABASE_URL", url.as_str()),
    ];
    let target = Target::resolve(&url, "DATABASE_URL", &env).unwrap();
    assert!(target.has_password(), "the .pgpass line matches");
    // The server trusts every login (the test kit's setup), so this proves the password
    // is carried without breaking the marker read, and never shown.
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert!(refusal.to_string().contains("is `production`"), "{refusal}");
    assert!(!refusal.to_string().contains("s3cr"), "{refusal}");
}

#[tokio::test]
async fn explicit_targets_and_clients_resolve_with_the_environment() {
    let Some(pg) = production_test_app().await else {
        return;
    };
    let port = pg.port().to_string();
    let id = format!("postgres://127.0.0.1:{port}/test_app");
    // A string given in code is opened by libpq with the environment: PGHOST and PGPORT
    // apply to it, so the guard resolves it at check time, not when it was configured.
    let explicit = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .clear_target_vars()
        .libpq_env(true)
        .target("dbname=test_app user=postgres")
        .build()
        .unwrap();
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        // So the libpq-defaults target is this same one (checked once).
        ("PGUSER", "postgres"),
        ("PGDATABASE", "test_app"),
    ];
    assert_production(&explicit, &env, &id).await;

    // tokio-postgres reads no PG* variable: PGHOST neither redirects its string nor forms a
    // target of its own.
    let tokio_guard = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .client(Client::TokioPostgres)
        .build()
        .unwrap();
    let kv = format!("host=127.0.0.1 port={port} user=postgres dbname=test_app");
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", kv.as_str()),
        ("PGHOST", "db.prod.example.com"),
    ];
    let refusal = tokio_guard.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    assert!(
        !refusal.to_string().contains("db.prod.example.com"),
        "{refusal}"
    );
    // The libpq client sees both: the string and the libpq defaults from PGHOST.
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert!(
        refusal.to_string().contains("libpq defaults (PGHOST)"),
        "{refusal}"
    );
}
