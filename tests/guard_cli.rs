//! The `guard` and `manage` examples as a user runs them: exit codes (`0` cleared, `1`
//! refused, `2` usage, the command's own once it runs, `127` when it cannot be found), and
//! `show` / `mark` resolving exactly as `check` does. Runs the binaries `cargo test` built
//! from `examples/`, each with an environment of its own (nothing inherited but `PATH`),
//! against a throw-away PostgreSQL.

use std::path::PathBuf;
use std::process::{Command, Output};

use preflight_test_guard::{Guard, Target};
use preflight_testkit::PostgresServer;

/// `target/<profile>/examples/<name>`, built by `cargo test` with the examples.
fn example(name: &str) -> Option<PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_owned();
    let path = deps.parent()?.join("examples").join(name);
    if path.is_file() {
        Some(path)
    } else {
        preflight_testkit::skip_or_fail(&format!(
            "{} is not built (run `cargo test --workspace --all-features`, which builds the examples)",
            path.display()
        ));
        None
    }
}

fn run(bin: &PathBuf, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `--marker-timeout` reads durations as every preflight crate does: a bare number is
/// seconds (it was rejected as a usage error); garbage is still exit 2, naming the input.
#[test]
fn marker_timeout_takes_a_bare_number_as_seconds() {
    let Some(guard) = example("guard") else {
        return;
    };
    let env = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", "postgres://127.0.0.1/app_test"),
    ];
    for ok in ["10", "0.5", "1m30s", "250ms"] {
        let out = run(
            &guard,
            &["check", "--no-live", "--marker-timeout", ok],
            &env,
        );
        assert_eq!(out.status.code(), Some(0), "{ok}: {}", text(&out));
    }
    let bad = run(
        &guard,
        &["check", "--no-live", "--marker-timeout", "soon"],
        &env,
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("`soon`"), "{}", text(&bad));
}

#[test]
fn guard_check_exit_codes() {
    let Some(guard) = example("guard") else {
        return;
    };
    let cleared = run(
        &guard,
        &["check", "--no-live"],
        &[
            ("TESTING_IN_DOCKER", "1"),
            ("DATABASE_URL", "postgres://127.0.0.1/app_test"),
        ],
    );
    assert_eq!(cleared.status.code(), Some(0), "{}", text(&cleared));
    let refused = run(
        &guard,
        &["check", "--no-live"],
        &[
            ("TESTING_IN_DOCKER", "1"),
            (
                "DATABASE_URL",
                "postgres://app:hunter2@db.prod.example.com/app",
            ),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(!text(&refused).contains("hunter2"));
    // Issue 9: user info runs to the first `@`, so this is db.prod.example.com.
    let refused = run(
        &guard,
        &["check", "--no-live"],
        &[
            ("TESTING_IN_DOCKER", "1"),
            (
                "DATABASE_URL",
                "postgres://localhost?x=@db.prod.example.com/app",
            ),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("db.prod.example.com"),
        "{}",
        text(&refused)
    );
    // What libpq rejects is refused, never cleared.
    let refused = run(
        &guard,
        &["check", "--no-live"],
        &[
            ("TESTING_IN_DOCKER", "1"),
            ("DATABASE_URL", "HOST=localhost dbname=app_test"),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let usage = run(&guard, &["check", "--client", "jdbc"], &[]);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
    let usage = run(&guard, &["check", "--allow-host", ""], &[]);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
}

#[test]
fn guard_mark_refuses_ambiguous_and_bad_values() {
    let Some(guard) = example("guard") else {
        return;
    };
    let multi = run(
        &guard,
        &["mark", "postgres://127.0.0.1:1,127.0.0.1:2/x", "production"],
        &[],
    );
    assert_eq!(multi.status.code(), Some(1), "{}", text(&multi));
    let out = text(&multi);
    assert!(out.contains("host 127.0.0.1:1,127.0.0.1:2"), "{out}");
    assert!(out.contains("resolves to 2 hosts"), "{out}");
    let bad = run(
        &guard,
        &["mark", "postgres://127.0.0.1:1/x", "not a value"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let unparseable = run(&guard, &["show", "postgres://h/%zz"], &[]);
    assert_eq!(unparseable.status.code(), Some(2), "{}", text(&unparseable));
}

#[test]
fn guard_show_and_mark_resolve_like_check() {
    let Some(guard) = example("guard") else {
        return;
    };
    let pg = match PostgresServer::start() {
        Ok(pg) => pg,
        Err(e) => return preflight_testkit::skip_or_fail(&e),
    };
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    let port = pg.port().to_string();
    // No host in the string: PGHOST/PGPORT decide, as for psql. `show` says so and reads
    // that server's marker.
    let env = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
    ];
    let marked = run(
        &guard,
        &["mark", "postgres:///test_app", "production"],
        &env,
    );
    assert_eq!(marked.status.code(), Some(0), "{}", text(&marked));
    let shown = run(&guard, &["show", "dbname=test_app"], &env);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown));
    let out = text(&shown);
    assert!(
        out.contains(&format!(
            "host 127.0.0.1:{port} dbname test_app user postgres password none"
        )),
        "{out}"
    );
    assert!(out.contains("`production`"), "{out}");
    // The mark landed where the library's check looks.
    let reading = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(
            Guard::default()
                .read_marker(&Target::parse(&pg.url_for("postgres", "test_app")).unwrap()),
        )
        .unwrap();
    assert_eq!(reading.value.as_deref(), Some("production"));
    // A password, when one is found, is never printed.
    let with_pw = run(&guard, &["show", "dbname=test_app password=hunter2"], &env);
    let out = text(&with_pw);
    assert!(
        out.contains("password ***") && !out.contains("hunter2"),
        "{out}"
    );
}

#[test]
fn manage_test_exit_codes() {
    let Some(manage) = example("manage") else {
        return;
    };
    let local = [
        ("TESTING_IN_DOCKER", "1"),
        ("DATABASE_URL", "postgres://127.0.0.1/app_test"),
        ("GUARD_NO_LIVE", "true"),
    ];
    let ran = run(&manage, &["test", "--", "sh", "-c", "exit 7"], &local);
    assert_eq!(ran.status.code(), Some(7), "{}", text(&ran));
    let cleared = run(&manage, &["test"], &local);
    assert_eq!(cleared.status.code(), Some(0), "{}", text(&cleared));
    let missing = run(
        &manage,
        &["test", "--", "no-such-command-preflight"],
        &local,
    );
    assert_eq!(missing.status.code(), Some(127), "{}", text(&missing));
    let refused = run(
        &manage,
        &["test", "--", "sh", "-c", "echo RAN"],
        &[
            ("TESTING_IN_DOCKER", "1"),
            ("DATABASE_URL", "postgres://db.prod.example.com/app"),
            ("GUARD_NO_LIVE", "true"),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(!text(&refused).contains("RAN"));
    let usage = run(&manage, &["test", "--deny-host", ""], &local);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
}

/// The reproduction: `manage test -- sh -c 'psql "$DATABASE_URL"'` with a templated
/// URL (empty host) and an exported PGHOST pointing at a production-marked database.
#[test]
fn manage_refuses_what_psql_would_reach() {
    let Some(manage) = example("manage") else {
        return;
    };
    let pg = match PostgresServer::start() {
        Ok(pg) => pg,
        Err(e) => return preflight_testkit::skip_or_fail(&e),
    };
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(Guard::default().set_marker(
            &Target::parse(&pg.url_for("postgres", "test_app")).unwrap(),
            "production",
        ))
        .unwrap();
    let url = format!("postgres://postgres@:{}/test_app", pg.port());
    let refused = run(
        &manage,
        &["test", "--", "sh", "-c", "echo RAN"],
        &[
            ("TESTING_IN_DOCKER", "1"),
            ("DATABASE_URL", url.as_str()),
            ("PGHOST", "127.0.0.1"),
        ],
    );
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(
        out.contains("`production`") && !out.contains("RAN"),
        "{out}"
    );
}
