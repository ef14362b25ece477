//! Every PostgreSQL refusal path, each with its reason asserted: a server that accepts and
//! never answers, a wrong password, `sslmode=require`, a standby, a configured marker table
//! that does not exist, a `search_path` that shadows the built-ins, a pooler that maps the
//! database name (a stand-in proxy, named as such: pgbouncer is not installed here), and
//! server-wide markers. Throw-away servers only; nothing touches the shared PostgreSQL.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use preflight_test_guard::{Guard, Layer, Status, Target};
use preflight_testkit::{PostgresServer, free_port, require};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::failed_layers;

fn guard() -> Guard {
    Guard::builder().flag("TESTING_IN_DOCKER").build().unwrap()
}

/// The messages of the failed findings.
fn failures(refusal: &preflight_test_guard::Refusal) -> Vec<String> {
    refusal
        .report()
        .failures()
        .map(|f| f.message.clone())
        .collect()
}

/// A server with database `test_app` marked `production`.
async fn production_test_app() -> PostgresServer {
    let pg = PostgresServer::start().unwrap();
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    guard()
        .set_marker(
            &Target::parse(&pg.url_for("postgres", "test_app")).unwrap(),
            "production",
        )
        .await
        .unwrap();
    pg
}

/// Retries `attempt` until it returns `Some`, for at most `limit` (a readiness wait, not a
/// sleep: it ends as soon as the condition holds).
async fn eventually<T, F, Fut>(limit: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = attempt().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "condition not reached in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_alone() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    // Accepts every connection and never says a word.
    let hang = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hang.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hang.accept().await {
            held.push(socket);
        }
    });
    let guard = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .marker_timeout(Duration::from_millis(800))
        .target(pg.url_for("postgres", "test_app"))
        .build()
        .unwrap();
    let hanging = format!("postgres://postgres@127.0.0.1:{port}/test_app");
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", hanging.as_str()),
    ];
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    let failed: Vec<_> = refusal.report().failures().collect();
    assert!(
        failed[0].message.contains("no answer within 800ms"),
        "{refusal}"
    );
    assert!(
        failed[0]
            .target
            .as_deref()
            .unwrap()
            .contains(&port.to_string()),
        "{refusal}"
    );
    // The answering server's own verdict stands: it was read, not timed out.
    let good = refusal
        .report()
        .findings()
        .iter()
        .find(|f| {
            f.layer == Layer::Marker
                && f.target
                    .as_deref()
                    .is_some_and(|t| t.contains(&pg.port().to_string()))
        })
        .unwrap();
    assert_eq!(good.status, Status::Passed, "{refusal}");
    assert!(good.message.contains("no marker"), "{refusal}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_showing_it() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    // Password authentication over TCP (the test kit starts servers with trust): write a
    // pg_hba.conf through the server itself and reload it.
    let hba = pg.psql("postgres", "SHOW hba_file").unwrap();
    pg.psql(
        "postgres",
        &format!(
            "ALTER ROLE postgres PASSWORD 'rightpw'; \
             COPY (SELECT 'local all all trust' UNION ALL \
                   SELECT 'host all all 127.0.0.1/32 scram-sha-256') TO '{hba}'; \
             SELECT pg_reload_conf()"
        ),
    )
    .unwrap();
    let wrong = format!(
        "postgres://postgres:wrongpw@127.0.0.1:{}/test_app",
        pg.port()
    );
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", wrong.as_str())];
    let refusal = eventually(Duration::from_secs(10), || async {
        guard().check_with(&env).await.err()
    })
    .await;
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    let message = refusal.to_string();
    assert!(
        message.contains("password authentication failed for user \"postgres\""),
        "{message}"
    );
    assert!(message.contains("counts as a refusal"), "{message}");
    assert!(!message.contains("wrongpw"), "{message}");
    let right = format!(
        "postgres://postgres:rightpw@127.0.0.1:{}/test_app",
        pg.port()
    );
    guard()
        .check_with(&[("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", right.as_str())])
        .await
        .unwrap();
}

#[tokio::test]
async fn sslmode_require_is_refused_with_its_reason() {
    let pg = require!(PostgresServer::start());
    let url = format!(
        "postgres://postgres:s3cret@127.0.0.1:{}/postgres?sslmode=require",
        pg.port()
    );
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    assert!(
        failures(&refusal)[0]
            .contains("sslmode=require needs TLS, which the marker check does not speak"),
        "{refusal}"
    );
    assert!(!refusal.to_string().contains("s3cret"), "{refusal}");
}

#[tokio::test]
async fn a_configured_marker_table_that_does_not_exist_is_refused() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    let url = pg.url_for("postgres", "test_app");
    let rows = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .marker_table("ar_internal_metadata")
        .build()
        .unwrap();
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = rows.check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    assert!(
        failures(&refusal)[0]
            .contains("marker table `ar_internal_metadata` does not exist in database `test_app`"),
        "{refusal}"
    );
    // Once it exists (empty: no marker), the database is cleared.
    pg.psql(
        "test_app",
        "CREATE TABLE ar_internal_metadata(key text PRIMARY KEY, value text)",
    )
    .unwrap();
    rows.check_with(&env).await.unwrap();
}

#[tokio::test]
async fn a_search_path_cannot_shadow_the_marker_query() {
    let pg = production_test_app().await;
    // Look-alikes of every built-in the marker query uses, in a schema of their own, that
    // would make the production setting invisible.
    pg.psql(
        "test_app",
        "CREATE SCHEMA evil; \
         CREATE FUNCTION evil.split_part(text, text, integer) RETURNS text \
           LANGUAGE sql AS $$ SELECT 'nothing'::text $$; \
         CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'x'::text $$; \
         CREATE FUNCTION evil.substr(text, integer) RETURNS text \
           LANGUAGE sql AS $$ SELECT 'test'::text $$; \
         CREATE FUNCTION evil.texteq_never(text, text) RETURNS boolean \
           LANGUAGE sql AS $$ SELECT false $$; \
         CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq_never)",
    )
    .unwrap();
    let base = pg.url_for("postgres", "test_app");
    // The shadow is real: a query that does not pin the path reads the look-alike.
    let shadowed = format!("{base}?options=-c%20search_path%3Devil,pg_catalog");
    let (client, conn) = tokio_postgres::connect(&shadowed, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(conn);
    let seen: String = client
        .query_one("SELECT split_part('a=b', '=', 1)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, "nothing");
    drop(client);
    let _ = task.await;

    let refused = |refusal: &preflight_test_guard::Refusal| {
        assert_eq!(failed_layers(refusal), [Layer::Marker], "{refusal}");
        assert!(
            failures(refusal)[0].contains("database setting preflight.environment is `production`"),
            "{refusal}"
        );
    };
    // options= in the URL.
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", shadowed.as_str()),
    ];
    refused(&guard().check_with(&env).await.unwrap_err());
    // PGOPTIONS.
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", base.as_str()),
        ("PGOPTIONS", "-c search_path=evil,pg_catalog"),
    ];
    refused(&guard().check_with(&env).await.unwrap_err());
    // The role's own search_path.
    pg.psql(
        "postgres",
        "ALTER ROLE postgres SET search_path = evil, pg_catalog",
    )
    .unwrap();
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", base.as_str())];
    refused(&guard().check_with(&env).await.unwrap_err());
}

/// A stand-in for a pooler that maps database names (pgbouncer's `[databases]` section):
/// forwards to `upstream`, rewriting the database in the startup message to `real_db`.
async fn renaming_proxy(upstream: u16, real_db: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let len = client.read_u32().await.unwrap() as usize;
                let mut body = vec![0u8; len - 4];
                client.read_exact(&mut body).await.unwrap();
                // protocol version, then NUL-terminated key/value pairs.
                let mut fields: Vec<Vec<u8>> =
                    body[4..].split(|b| *b == 0).map(<[u8]>::to_vec).collect();
                for i in (0..fields.len().saturating_sub(1)).step_by(2) {
                    if fields[i] == b"database" {
                        fields[i + 1] = real_db.as_bytes().to_vec();
                    }
                }
                let mut out = body[..4].to_vec();
                out.extend(fields.join(&0u8));
                let mut server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                server
                    .write_u32(u32::try_from(out.len() + 4).unwrap())
                    .await
                    .unwrap();
                server.write_all(&out).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn a_pooler_that_maps_the_database_name_is_refused_stand_in() {
    let pg = production_test_app().await;
    pg.psql("postgres", "CREATE DATABASE app").unwrap();
    let proxy = renaming_proxy(pg.port(), "app").await;
    // The client asks for test_app (and so would the guard); the pooler hands it `app`.
    let url = format!("postgres://postgres@127.0.0.1:{proxy}/test_app");
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    assert!(
        failures(&refusal)[0].contains(
            "reached database `app` as `postgres`, not database `test_app` as `postgres` that was judged"
        ),
        "{refusal}"
    );
    // A proxy that maps nothing is fine, and the different port is reported, not refused.
    let same = renaming_proxy(pg.port(), "app").await;
    let url = format!("postgres://postgres@127.0.0.1:{same}/app");
    let clearance = guard()
        .check_with(&[("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())])
        .await
        .unwrap();
    let text = clearance.to_string();
    assert!(
        text.contains(&format!(
            "the server's own address is 127.0.0.1:{} (asked 127.0.0.1:{same}: a port mapping, proxy or tunnel is in between)",
            pg.port()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_server_wide_marker_covers_databases_created_later() {
    let pg = require!(PostgresServer::start());
    let guard = Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .allow_loopback(false)
        .build()
        .unwrap();
    let server = Target::parse(&pg.url()).unwrap();
    guard.set_server_marker(&server, "test").await.unwrap();
    // A database created after the mark, on a host no rule allows, with no test name.
    pg.psql("postgres", "CREATE DATABASE later").unwrap();
    let url = pg.url_for("postgres", "later");
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let clearance = guard.check_with(&env).await.unwrap();
    assert!(
        clearance
            .to_string()
            .contains("server-wide setting preflight.environment is `test`"),
        "{clearance}"
    );
    // The database's own marker wins over the server's test marker...
    let later = Target::parse(&url).unwrap();
    guard.set_marker(&later, "development").await.unwrap();
    let refusal = guard.check_with(&env).await.unwrap_err();
    assert!(
        failures(&refusal)[0].contains("carries no test marker"),
        "{refusal}"
    );
    guard.clear_marker(&later).await.unwrap();
    // ...but a protected server marker refuses every database, whatever they say.
    guard
        .set_server_marker(&server, "production")
        .await
        .unwrap();
    guard.set_marker(&later, "test").await.unwrap();
    pg.psql("postgres", "CREATE DATABASE test_newer").unwrap();
    for db in ["later", "test_newer"] {
        let url = pg.url_for("postgres", db);
        let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
        let refusal = guard.check_with(&env).await.unwrap_err();
        assert!(
            refusal.to_string().contains(
                "server-wide setting preflight.environment is `production`, a protected environment"
            ),
            "{db}: {refusal}"
        );
    }
    guard.clear_server_marker(&server).await.unwrap();
    assert_eq!(
        guard.read_marker(&later).await.unwrap().value.as_deref(),
        Some("test")
    );
}

/// A hot standby of `primary`, made with `pg_basebackup -R`, stopped on drop.
struct Standby {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Standby {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pg_bindir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PREFLIGHT_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .max()
        .map(|(_, bin)| bin)
}

/// PostgreSQL refuses to run as root; the test kit's clusters belong to `postgres`.
fn cluster_owner() -> Option<(u32, u32)> {
    let meta = std::fs::metadata("/proc/self").unwrap();
    if std::os::unix::fs::MetadataExt::uid(&meta) != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    Some((id("-u"), id("-g")))
}

fn as_cluster_owner(command: &mut Command, dirs: &[&std::path::Path]) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = cluster_owner() {
        for dir in dirs {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
        }
        command.uid(uid).gid(gid);
    }
}

fn start_standby(primary: &PostgresServer) -> Standby {
    let bin = pg_bindir().expect("PostgreSQL's bin directory");
    let dir = tempfile::Builder::new()
        .prefix("test-guard-standby")
        .tempdir_in("/tmp")
        .unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut backup = Command::new(bin.join("pg_basebackup"));
    backup
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "-p",
        ])
        .arg(primary.port().to_string())
        .arg("-D")
        .arg(&data)
        .stdin(Stdio::null());
    as_cluster_owner(&mut backup, &[dir.path(), &data]);
    let out = backup.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let mut server = Command::new(bin.join("postgres"));
    server
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir.path())
        .args(["-c", "listen_addresses=127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    as_cluster_owner(&mut server, &[]);
    let child = server.spawn().unwrap();
    Standby {
        child,
        port,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_standby_is_refused() {
    let primary = require!(PostgresServer::start());
    primary
        .psql("postgres", "CREATE DATABASE test_app")
        .unwrap();
    let standby = start_standby(&primary);
    let url = format!("postgres://postgres@127.0.0.1:{}/test_app", standby.port);
    eventually(Duration::from_secs(30), || async {
        tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    assert!(
        failures(&refusal)[0].contains("the server is a standby (pg_is_in_recovery)"),
        "{refusal}"
    );
    // Allowed when configured so.
    Guard::builder()
        .flag("TESTING_IN_DOCKER")
        .refuse_standby(false)
        .build()
        .unwrap()
        .check_with(&env)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_host_of_a_multi_host_target_is_asked() {
    let clean = require!(PostgresServer::start());
    clean.psql("postgres", "CREATE DATABASE test_app").unwrap();
    let marked = production_test_app().await;
    // libpq (and the guard before) would stop at the first host that answers: the clean one.
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/test_app",
        clean.port(),
        marked.port()
    );
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    assert!(
        failures(&refusal)[0].contains(&format!(
            "127.0.0.1:{}: database setting preflight.environment is `production`",
            marked.port()
        )),
        "{refusal}"
    );
    // A host that cannot be asked refuses the whole target.
    let down = free_port();
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{down}/test_app",
        clean.port()
    );
    let env = [("TESTING_IN_DOCKER", "1"), ("DATABASE_URL", url.as_str())];
    let refusal = guard().check_with(&env).await.unwrap_err();
    assert_eq!(failed_layers(&refusal), [Layer::Marker], "{refusal}");
    assert!(
        failures(&refusal)[0].contains(&format!("127.0.0.1:{down}: cannot connect")),
        "{refusal}"
    );
    // The override that lifts it names the whole multi-host target, as printed.
    let hint = refusal.report().override_hint().unwrap();
    let value = hint
        .trim_start_matches("PREFLIGHT_GUARD_ALLOW='")
        .trim_end_matches('\'');
    let mut with = env.to_vec();
    with.push(("PREFLIGHT_GUARD_ALLOW", value));
    assert!(
        guard()
            .check_with(&with.as_slice())
            .await
            .unwrap()
            .used_override()
    );
}
