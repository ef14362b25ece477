//! The build-script helper and the test-binary opt-in, used for real: the fixture crate in
//! `tests/fixtures/guarded` is built by cargo (offline, its own target dir under
//! `CARGO_TARGET_TMPDIR`, so reruns are incremental) and its test binary run by
//! `cargo test` and `cargo nextest`. Production-looking hosts in these tests match a deny
//! rule, so no connection ever leaves loopback.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use preflight_test_guard::Target;
use preflight_testkit::{PostgresServer, require};

/// One fixture build at a time, across threads and processes (nextest runs each test in
/// its own): the scenarios flip the build script's environment. Released on drop.
fn fixture_lock() -> File {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-guard-fixture.lock");
    let file = File::create(path).expect("create the fixture lock file");
    file.lock().expect("lock the fixture");
    file
}

const PRODUCTION: &str = "postgres://app:hunter2@db.prod.example.com:5432/app";

/// A working copy of the committed fixture under `CARGO_TARGET_TMPDIR`, with the path
/// dependency made absolute and the workspace's `Cargo.lock`, so `--offline` resolves to
/// exactly the versions the workspace build already fetched. Files are only rewritten when
/// they change, which keeps rebuilds incremental. Call it holding [`fixture_lock`].
fn fixture() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = crate_dir.join("tests/fixtures/guarded");
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-guard-fixture/crate");
    let write = |rel: &str, contents: String| {
        let dest = copy.join(rel);
        if std::fs::read_to_string(&dest).ok().as_deref() != Some(contents.as_str()) {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(&dest, contents).unwrap();
        }
    };
    for rel in [
        "build.rs",
        "src/lib.rs",
        "src/bin/service.rs",
        "tests/guarded.rs",
    ] {
        write(rel, std::fs::read_to_string(source.join(rel)).unwrap());
    }
    let manifest = std::fs::read_to_string(source.join("Cargo.toml"))
        .unwrap()
        .replace(
            "\"../../..\"",
            &format!("{:?}", crate_dir.display().to_string()),
        );
    write("Cargo.toml", manifest);
    let lock = crate_dir.join("../../Cargo.lock");
    if let Ok(lock) = std::fs::read_to_string(lock) {
        // Cargo prunes what the fixture does not use; only seed it when absent.
        if !copy.join("Cargo.lock").exists() {
            write("Cargo.lock", lock);
        }
    }
    copy
}

/// Runs `cargo <args>` on the fixture with exactly the given FIXTURE_* variables.
fn cargo(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args)
        .arg("--manifest-path")
        .arg(fixture().join("Cargo.toml"))
        .arg("--offline")
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-guard-fixture/target"),
        );
    for (name, _) in std::env::vars() {
        if name.starts_with("FIXTURE_")
            || name.starts_with("NEXTEST")
            || name == "PREFLIGHT_GUARD_ALLOW"
        {
            cmd.env_remove(name);
        }
    }
    cmd.envs(vars.iter().copied());
    cmd.output().expect("run cargo")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn build_helper_fails_the_build_for_a_production_target_and_passes_for_a_test_one() {
    let _lock = fixture_lock();
    let build = |url: &str| cargo(&["build"], &[("FIXTURE_BUILD_DATABASE_URL", url)]);

    let ok = build("postgres://app:pw@127.0.0.1:5432/app_test");
    assert!(ok.status.success(), "{}", text(&ok.stderr));

    let refused = build(PRODUCTION);
    let stderr = text(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("test-guard: REFUSED"), "{stderr}");
    assert!(
        stderr.contains("matches deny rule `*.prod.example.com`"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");

    // rerun-if-env-changed at work: back to a test target passes, and production after a
    // successful build is refused again rather than served from cache.
    let ok = build("postgres://app:pw@localhost/app_test");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let refused = build(PRODUCTION);
    assert!(!refused.status.success(), "{}", text(&refused.stderr));
}

#[test]
fn build_helper_fails_the_build_for_a_live_production_marker() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE test_build").unwrap();
    pg.psql("postgres", "CREATE DATABASE test_prod").unwrap();
    let clean = pg.url_for("postgres", "test_build");
    let production = pg.url_for("postgres", "test_prod");
    // Cargo reruns a build script when a variable it read changes, not when a server's
    // marker does: mark first, then build.
    mark(&production, "production");
    let _lock = fixture_lock();
    let build = |url: &str| {
        cargo(
            &["build"],
            &[
                ("FIXTURE_BUILD_DATABASE_URL", url),
                ("FIXTURE_BUILD_LIVE", "1"),
            ],
        )
    };
    let refused = build(&production);
    let stderr = text(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("is `production`"), "{stderr}");
    let ok = build(&clean);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
}

/// Marks the database at `url` through the crate's own helper.
fn mark(url: &str, value: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(
        preflight_test_guard::Guard::default().set_marker(&Target::parse(url).unwrap(), value),
    )
    .unwrap();
}

#[test]
fn enforce_stops_a_service_main_before_it_starts() {
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE app").unwrap();
    let url = pg.url_for("postgres", "app");
    let _lock = fixture_lock();
    let run = |vars: &[(&str, &str)]| cargo(&["run", "--quiet", "--bin", "service"], vars);
    let vars = [
        ("FIXTURE_FLAG", "1"),
        ("FIXTURE_DATABASE_URL", url.as_str()),
    ];

    let started = run(&vars);
    assert!(started.status.success(), "{}", text(&started.stderr));
    assert_eq!(text(&started.stdout), "service started\n");

    mark(&url, "production");
    let refused = run(&vars);
    let (stdout, stderr) = (text(&refused.stdout), text(&refused.stderr));
    assert_eq!(
        refused.status.code(),
        Some(preflight_test_guard::REFUSED_EXIT_CODE),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("is `production`"), "{stderr}");

    // The override names the one target, and the clearance says so on stderr.
    let id = format!("postgres://127.0.0.1:{}/app", pg.port());
    let overridden = run(&[
        ("FIXTURE_FLAG", "1"),
        ("FIXTURE_DATABASE_URL", url.as_str()),
        ("PREFLIGHT_GUARD_ALLOW", id.as_str()),
    ]);
    assert!(overridden.status.success(), "{}", text(&overridden.stderr));
    assert!(text(&overridden.stderr).contains("ONLY BECAUSE OF AN OVERRIDE"));
}

/// Runs the guarded test binary through `runner` and checks that it was stopped before its
/// test ran (`refused`) or ran it (`!refused`).
fn run_guarded(runner: &[&str], vars: &[(&str, &str)], refused: bool) -> String {
    let proof_dir = tempfile::tempdir().unwrap();
    let proof = proof_dir.path().join("ran");
    let proof_str = proof.to_str().unwrap();
    let mut all = vec![("FIXTURE_PROOF", proof_str)];
    all.extend_from_slice(vars);
    let mut args = runner.to_vec();
    args.extend(["--test", "guarded"]);
    let out = cargo(&args, &all);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if refused {
        assert!(!out.status.success(), "{stdout}\n{stderr}");
        assert!(!proof.exists(), "the test ran although the guard refused");
        assert!(stderr.contains("test-guard: REFUSED"), "{stderr}");
        assert!(
            !stdout.contains("test-guard"),
            "refusal leaked to stdout: {stdout}"
        );
    } else {
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(proof.exists(), "the test did not run: {stdout}\n{stderr}");
    }
    stderr
}

/// The scenarios shared by both runners.
fn opt_in_scenarios(runner: &[&str]) {
    // No flag: refused before any test.
    let stderr = run_guarded(runner, &[], true);
    assert!(stderr.contains("FIXTURE_FLAG is not set"), "{stderr}");
    // Flag set, production URL: refused, password masked.
    let stderr = run_guarded(
        runner,
        &[("FIXTURE_FLAG", "1"), ("FIXTURE_DATABASE_URL", PRODUCTION)],
        true,
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    // Flag set, nothing configured: the test runs.
    run_guarded(runner, &[("FIXTURE_FLAG", "1")], false);

    // A real server: a clean test database runs, a production-marked one is refused by the
    // live marker read before main.
    let pg = require!(PostgresServer::start());
    pg.psql("postgres", "CREATE DATABASE test_app").unwrap();
    let url = pg.url_for("postgres", "test_app");
    let vars = [
        ("FIXTURE_FLAG", "1"),
        ("FIXTURE_DATABASE_URL", url.as_str()),
    ];
    run_guarded(runner, &vars, false);
    mark(&url, "production");
    let stderr = run_guarded(runner, &vars, true);
    assert!(stderr.contains("is `production`"), "{stderr}");
}

#[test]
fn test_binary_opt_in_stops_cargo_test_before_its_tests_run() {
    let _lock = fixture_lock();
    opt_in_scenarios(&["test"]);
}

#[test]
fn test_binary_opt_in_stops_nextest_before_its_tests_run() {
    let _lock = fixture_lock();
    let has_nextest = cargo(&["nextest", "--version"], &[]).status.success()
        || Command::new("cargo-nextest")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !has_nextest {
        // Fails under PREFLIGHT_REQUIRE_SERVICES=1, skips loudly elsewhere.
        preflight_testkit::skip_or_fail(&"cargo-nextest is not installed");
        return;
    }
    opt_in_scenarios(&["nextest", "run"]);
}
