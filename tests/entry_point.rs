//! `preflight check` / `preflight test`, run as the binary a container runs, against the
//! machine's real PostgreSQL and Redis and throw-away servers from testkit: validation
//! that never prints a value, the guard, waiting for what the template names, the exec
//! hand-off with the app's own exit code and signals (as PID 1 of a fresh PID namespace).

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use preflight_testkit::{PostgresServer, Service, require};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/.env.example");
/// 50+ characters, as the template's `DJANGO_SECRET_KEY` requires.
const SECRET_KEY: &str = "k3y-for-tests-only-0123456789-abcdefghijklmnopqrstuvwxyz";

/// An example of this package (built by the shared support module), with an environment
/// that has only what a test gives it.
fn example(name: &str) -> Command {
    let mut command = Command::new(support::example(name));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    command
}

fn preflight() -> Command {
    example("preflight")
}

/// A valid environment for the sample template, pointing at `db` and `redis`.
fn valid_env(db: &str, redis: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        ("DJANGO_ALLOWED_HOSTS", "localhost".to_owned()),
        ("DJANGO_ENV", "test".to_owned()),
        ("DJANGO_SECRET_KEY", SECRET_KEY.to_owned()),
        ("DATABASE_URL", db.to_owned()),
        ("CELERY_BROKER_URL", redis.to_owned()),
        ("REDIS_URL", redis.to_owned()),
    ])
}

/// The machine's PostgreSQL and Redis URLs; `None` (after `require!`'s skip line, or a
/// failure under `PREFLIGHT_REQUIRE_SERVICES=1`) when either is down.
fn machine_services() -> Option<(String, String)> {
    let services = || -> preflight_testkit::Result<(String, String)> {
        Ok((Service::Postgres.check()?, Service::Redis.check()?))
    };
    let mut found = None;
    (|| found = Some(require!(services())))();
    found
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("runs");
    (
        status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Every 4-character window of `secret`: none may appear in the output.
fn assert_never_shown(secret: &str, output: &str) {
    for i in 0..=secret.len().saturating_sub(4) {
        let fragment = &secret[i..i + 4];
        assert!(
            !output.contains(fragment),
            "`{fragment}` of a secret was printed:\n{output}"
        );
    }
}

#[test]
fn ready_services_are_checked_and_the_app_replaces_the_entry_point() {
    let Some((db, redis)) = machine_services() else {
        return;
    };
    let child = preflight()
        .args(["check", "--template", TEMPLATE, "--skip", "QDB_HOST"])
        .args(["--", "sh", "-c", "echo $$; exit 7"])
        .envs(valid_env(&db, &redis))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // exec: the app has the entry point's pid, and its exit code is the entry point's.
    assert_eq!(output.status.code(), Some(7), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        pid.to_string()
    );
    for step in ["validate:", "wait: 3 service(s) ready", "exec sh"] {
        assert!(stderr.contains(step), "no `{step}` in:\n{stderr}");
    }
}

#[test]
fn an_invalid_environment_exits_1_without_printing_a_value() {
    let Some((_, redis)) = machine_services() else {
        return;
    };
    let password = "Zq7canaryPw";
    let short_key = "Xv9canaryKey";
    let mut env = valid_env(&format!("mysql://app:{password}@127.0.0.1/app"), &redis);
    env.insert("DJANGO_SECRET_KEY", short_key.to_owned());
    env.insert("PORT", "80canary".to_owned());
    for format in [&[][..], &["--json"][..]] {
        let (code, stdout, stderr) = run(preflight()
            .args(["check", "--template", TEMPLATE])
            .args(format)
            .args(["--", "sh", "-c", "echo the app ran"])
            .envs(&env));
        let all = format!("{stdout}{stderr}");
        assert_eq!(code, 1, "{all}");
        assert!(!all.contains("the app ran"), "{all}");
        for key in ["DATABASE_URL", "DJANGO_SECRET_KEY", "PORT"] {
            assert!(all.contains(key), "{key} is not named in:\n{all}");
        }
        assert_never_shown(password, &all);
        assert_never_shown(short_key, &all);
        assert!(!all.contains("80canary"), "{all}");
    }
}

/// A `redis-server` this test starts itself, killed on drop.
struct LateRedis(Child);

impl Drop for LateRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_service_that_starts_late_is_waited_for_then_the_app_runs() {
    let Some((db, _)) = machine_services() else {
        return;
    };
    let port = preflight_testkit::free_port();
    let redis = format!("redis://127.0.0.1:{port}/0");
    let mut child = preflight()
        .args(["check", "--json", "-t", "60s", "--template", TEMPLATE])
        .args([
            "--skip",
            "QDB_HOST",
            "--",
            "sh",
            "-c",
            "echo app-ran; exit 3",
        ])
        .envs(valid_env(&db, &redis))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    let mut late = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line == "app-ran" {
            events.push(line);
            break;
        }
        let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        // Start Redis only once the entry point has seen it refuse: no race with a timer.
        if event["event"] == "not_ready" && late.is_none() {
            late = Some(LateRedis(
                Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no"])
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("redis-server starts"),
            ));
        }
        events.push(format!("{}:{}", event["event"], event["step"]));
    }
    let status = child.wait().unwrap();
    assert!(
        late.is_some(),
        "Redis was never reported not ready: {events:?}"
    );
    assert_eq!(status.code(), Some(3), "{events:?}");
    let steps: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|e| e.starts_with("\"step\"") || *e == "app-ran")
        .collect();
    assert_eq!(
        steps,
        [
            "\"step\":\"validate\"",
            "\"step\":\"wait\"",
            "\"step\":\"exec\"",
            "app-ran"
        ],
        "{events:?}"
    );
}

#[test]
fn the_guard_refuses_a_production_marked_database() {
    let Some((_, redis)) = machine_services() else {
        return;
    };
    let server = require!(PostgresServer::start());
    server.psql("postgres", "CREATE DATABASE app_test").unwrap();
    server
        .psql(
            "postgres",
            "ALTER DATABASE app_test SET preflight.environment = 'production'",
        )
        .unwrap();
    let db = server.url_for("postgres", "app_test");
    let mut env = valid_env(&db, &redis);
    env.insert("TESTING_IN_DOCKER", "1".to_owned());
    let (code, stdout, stderr) = run(preflight()
        .args(["test", "--template", TEMPLATE, "--skip", "QDB_HOST"])
        .args(["--", "sh", "-c", "echo the tests ran"])
        .envs(&env));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stdout.contains("the tests ran"), "{stdout}");
    assert!(stderr.contains("guard: refusing"), "{stderr}");
    assert!(stderr.contains("production"), "{stderr}");

    // The same database without the marker is cleared (a test-named db on loopback).
    server
        .psql(
            "postgres",
            "ALTER DATABASE app_test RESET preflight.environment;",
        )
        .unwrap();
    let (code, stdout, stderr) = run(preflight()
        .args(["test", "--template", TEMPLATE, "--skip", "QDB_HOST"])
        .args(["--", "sh", "-c", "echo the tests ran"])
        .envs(&env));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("the tests ran"), "{stdout}");
}

#[test]
fn env_file_values_reach_the_app_and_the_process_environment_wins() {
    let Some((db, redis)) = machine_services() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join(".env");
    std::fs::write(&env_file, "DJANGO_LOG_LEVEL=ERROR\nPORT=9001\n").unwrap();
    let (code, stdout, stderr) = run(preflight()
        .args(["check", "--no-wait", "--template", TEMPLATE, "--env-file"])
        .arg(&env_file)
        .args(["--", "sh", "-c", "echo $DJANGO_LOG_LEVEL $PORT"])
        .envs(valid_env(&db, &redis))
        .env("PORT", "9002"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "ERROR 9002");
}

#[test]
fn exit_codes_for_a_deadline_and_for_usage() {
    let Some((db, _)) = machine_services() else {
        return;
    };
    let closed = preflight_testkit::free_port();
    let (code, _, stderr) = run(preflight()
        .args([
            "check",
            "-t",
            "300ms",
            "--template",
            TEMPLATE,
            "--skip",
            "QDB_HOST",
        ])
        .envs(valid_env(&db, &format!("redis://127.0.0.1:{closed}"))));
    assert_eq!(code, 124, "{stderr}");
    assert!(stderr.contains("deadline"), "{stderr}");

    let (code, _, stderr) =
        run(preflight().args(["check", "--template", "/nonexistent/.env.example"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent/.env.example"), "{stderr}");

    let (code, _, stderr) = run(preflight().args(["check", "--no-such-flag"]));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn as_pid_1_of_a_fresh_pid_namespace_the_app_gets_the_signals_and_the_exit_code() {
    let Some((db, redis)) = machine_services() else {
        return;
    };
    let exe = preflight().get_program().to_owned();
    // `unshare --fork` makes the entry point PID 1 of the new namespace; after exec the app
    // is PID 1 and must get SIGTERM itself (PID 1 ignores signals it has no handler for).
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child"])
        .arg(&exe)
        .args(["check", "--template", TEMPLATE, "--skip", "QDB_HOST"])
        .args(["--", "sh", "-c"])
        .arg("trap 'echo got TERM; exit 42' TERM; echo pid=$$; while :; do sleep 1 & wait $!; done")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(valid_env(&db, &redis))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "pid=1",
        "the app is not PID 1 of the namespace"
    );
    // The namespace's PID 1 is unshare's only child; signal it from outside.
    let unshare = child.id();
    let children = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
        .expect("/proc lists children");
    let pid1: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &pid1.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(rest.trim(), "got TERM");
    assert_eq!(status.code(), Some(42));
    assert!(Path::new(&exe).exists());
}

#[test]
fn wait_for_once_probes_each_target_once_and_exits_0_or_1() {
    let Some((db, redis)) = machine_services() else {
        return;
    };
    let (code, _, stderr) = run(example("wait-for").args(["--once", &db, &redis]));
    assert_eq!(code, 0, "{stderr}");
    // A refused port is unhealthy at once: 1, not the deadline's 124, and one attempt.
    let closed = preflight_testkit::free_port();
    let (code, _, stderr) =
        run(example("wait-for").args(["--once", &redis, &format!("tcp://127.0.0.1:{closed}")]));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("tcp://127.0.0.1:{closed}")),
        "{stderr}"
    );
    assert!(stderr.contains("1 attempt"), "{stderr}");
    let (code, _, stderr) = run(example("wait-for").args(["--once", &redis, "--", "true"]));
    assert_eq!(code, 2, "--once takes no command: {stderr}");
}

/// Docker cannot run here: what can be checked without it is that the compose file parses
/// (PyYAML, as compose's own YAML rules are YAML 1.1), that every service the stack needs
/// has a health check and gates its dependents, and that every preflight binary it calls
/// is one the Dockerfile builds, which in turn are examples of this package.
#[test]
fn docker_files_name_only_binaries_the_dockerfile_builds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/docker");
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(dir.join("compose.yaml"))
        .output()
        .expect("python3 runs (scripts/test installs PyYAML)");
    assert!(
        parsed.status.success(),
        "compose.yaml does not parse: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let compose: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let built: Vec<&str> = dockerfile
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "--example")
        .map(|w| w[1])
        .collect();
    assert!(built.contains(&"preflight") && built.contains(&"wait-for-questdb"));
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    for name in &built {
        assert!(
            manifest.contains(&format!("[[example]]\nname = \"{name}\"")),
            "the Dockerfile builds `{name}`, which is not an example"
        );
        assert!(
            dockerfile.contains(&format!("target/release/examples/{name}")),
            "the Dockerfile builds `{name}` but does not copy it"
        );
    }

    let services = compose["services"].as_object().expect("services");
    for name in ["postgres", "redis", "questdb", "web", "worker"] {
        let service = &services[name];
        let test = service["healthcheck"]["test"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no health check"));
        let program = test[1].as_str().unwrap();
        let binary = program.strip_prefix("/opt/preflight/").unwrap_or_else(|| {
            panic!("{name}'s health check runs {program}, not a preflight binary")
        });
        assert!(
            built.contains(&binary),
            "{name} runs `{binary}`, which is not built"
        );
        assert!(test.iter().any(|a| a == "--once"), "{name}: {test:?}");
    }
    for name in ["web", "worker", "tests"] {
        for dependency in ["postgres", "redis", "questdb"] {
            assert_eq!(
                services[name]["depends_on"][dependency]["condition"], "service_healthy",
                "{name} does not wait for {dependency} to be healthy"
            );
        }
    }
    assert!(dockerfile.contains(r#"ENTRYPOINT ["preflight", "check""#));
    let entrypoint = services["tests"]["entrypoint"].as_array().unwrap();
    assert_eq!(entrypoint[..2], ["preflight", "test"]);
}
