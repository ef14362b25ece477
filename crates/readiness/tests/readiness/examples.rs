//! The `wait-for` and `wait-for-questdb` examples, run as the binaries users run: exit
//! codes, the exec hand-off, env fallbacks, JSON output and masked passwords.
//!
//! Cargo gives integration tests no path to the umbrella package's examples, so the first
//! test that needs them runs `cargo build --example …` (a no-op when they are fresh) and
//! takes the executables' paths from cargo's JSON messages: no guessing of target dirs,
//! profiles or stale binaries.
#![cfg(feature = "questdb")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub(crate) fn example(name: &str) -> Command {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let output = Command::new(env!("CARGO"))
            .current_dir(&workspace)
            .args([
                "build",
                "--package",
                "preflight",
                // Only this crate's feature: the other crates of the workspace are not
                // built (or broken) by this test.
                "--no-default-features",
                "--features",
                "readiness",
                "--example",
                "wait-for",
                "--example",
                "wait-for-questdb",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "building the examples failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["reason"] == "compiler-artifact")
            .filter_map(|msg| {
                let name = msg["target"]["name"].as_str()?.to_owned();
                let exe = msg["executable"].as_str()?;
                Some((name, PathBuf::from(exe)))
            })
            .collect()
    });
    let mut command = Command::new(&built[name]);
    // The test's own environment must not leak WAIT_*/QDB_* settings into the example.
    for (key, _) in std::env::vars() {
        if key.starts_with("WAIT_") || key.starts_with("QDB_") {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::null());
    command
}

pub(crate) fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn open_port() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn wait_for_execs_the_command_in_its_own_place() {
    let (_listener, port) = open_port();
    let child = example("wait-for")
        .args([
            "-q",
            &format!("127.0.0.1:{port}"),
            "--",
            "sh",
            "-c",
            "echo $$; exit 7",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    // exec: the shell has the example's pid, and its exit code is the example's.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        pid.to_string()
    );
    assert_eq!(output.status.code(), Some(7));
}

#[test]
fn wait_for_exit_codes() {
    let (_listener, open) = open_port();
    let closed = preflight_testkit::free_port();
    let (code, _, stderr) = run(example("wait-for").arg(format!("127.0.0.1:{open}")));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("ready"), "{stderr}");

    let (code, _, stderr) =
        run(example("wait-for").args(["-t", "300ms", &format!("tcp://127.0.0.1:{closed}")]));
    assert_eq!(code, 124, "{stderr}");
    assert!(stderr.contains("deadline of 300ms passed"), "{stderr}");
    assert!(
        stderr.contains(&format!("tcp://127.0.0.1:{closed} not ready")),
        "{stderr}"
    );

    let (code, _, stderr) = run(example("wait-for").args([
        "--start-period",
        "0",
        "--retries",
        "2",
        "--interval",
        "10ms",
        &format!("127.0.0.1:{closed}"),
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is unhealthy"), "{stderr}");

    let (code, _, stderr) = run(example("wait-for").arg("db:notaport"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`db:notaport`"), "{stderr}");
    let (code, _, stderr) = run(example("wait-for").args(["-t", "soon", "db:1"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("soon"), "{stderr}");
    let (code, _, stderr) = run(example("wait-for").env("WAIT_RETRIES", "many").arg("db:1"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("many"), "{stderr}");
    let (code, _, stderr) = run(&mut example("wait-for"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("WAIT_HOSTS"), "{stderr}");
}

#[test]
fn wait_for_retries_0_means_docker_s_default_and_the_config_line_says_so() {
    let (_, closed) = open_port();
    let (code, _, stderr) = run(example("wait-for").args([
        "--retries",
        "0",
        "--start-period",
        "0",
        "--interval",
        "10ms",
        "-t",
        "20s",
        &format!("tcp://127.0.0.1:{closed}"),
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("retries 3"), "{stderr}");
    assert!(stderr.contains("3 attempts in"), "{stderr}");
    assert!(!stderr.contains("in 0.0ms"), "{stderr}");
    let (code, _, stderr) = run(example("wait-for").args(["--cadence", "sometimes", "db:1"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("fixed-rate"), "{stderr}");
}

#[test]
fn wait_for_reads_wait_hosts_and_masks_passwords() {
    let (_a, a) = open_port();
    let (_b, b) = open_port();
    let (code, _, stderr) =
        run(example("wait-for").env("WAIT_HOSTS", format!("127.0.0.1:{a}, 127.0.0.1:{b}")));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{a} ready")), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{b} ready")), "{stderr}");

    let closed = preflight_testkit::free_port();
    for args in [vec!["-t", "300ms"], vec!["-t", "300ms", "--json"]] {
        let (code, stdout, stderr) = run(example("wait-for")
            .args(args)
            .arg(format!("redis://:s3cret@127.0.0.1:{closed}/0"))
            .arg(format!("postgres://app:s3cret@127.0.0.1:{closed}/app")));
        assert_eq!(code, 124, "{stderr}");
        for text in [&stdout, &stderr] {
            assert!(!text.contains("s3cret"), "{text}");
        }
        assert!(
            stderr.contains(&format!("redis://:***@127.0.0.1:{closed}/0")),
            "{stderr}"
        );
    }
}

#[test]
fn wait_for_json_lines() {
    let (_listener, port) = open_port();
    let (code, stdout, _) = run(example("wait-for").args(["--json", &format!("127.0.0.1:{port}")]));
    assert_eq!(code, 0);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["config", "health", "ready"]);
    assert_eq!(events[0]["start_interval_ms"], 10);
    assert_eq!(events[1]["to"], "healthy");
}
