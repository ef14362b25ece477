//! No panic on bad input or a closed stdout, for every example binary.

mod support;

use std::process::{Command, Stdio};

use support::{example, run};

/// Runs `cmd` with its stdout a pipe whose reading end is already closed: the first write
/// fails with `EPIPE` (Rust ignores `SIGPIPE`), as after `| head -0`.
fn with_closed_stdout(mut cmd: Command) -> support::Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(Stdio::from(writer));
    let output = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    support::Run {
        code: output.status.code(),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_closed_stdout_is_a_normal_end() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "A=1\nlower=2\n").unwrap();
    std::fs::write(dir.path().join(".env.example"), "# @required\nA=\n").unwrap();
    std::fs::write(
        dir.path().join("dev.toml"),
        "[[process]]\nname = \"app\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ready = format!("tcp://{}", service.local_addr().unwrap());
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        ("validate-env", vec!["--list-rules"], 0),
        ("validate-env", vec![".env"], 1),
        ("validate-env", vec![".env", "-f", "json"], 1),
        (
            "validate-env",
            vec!["-t", ".env.example", "--print-template"],
            0,
        ),
        (
            "guard",
            vec![
                "check",
                "--no-flag",
                "--no-live",
                "--database-optional",
                "--url",
                "postgres://127.0.0.1/app_test",
            ],
            0,
        ),
        (
            "manage",
            vec![
                "test",
                "--no-flag",
                "--no-live",
                "--database-optional",
                "--url",
                "postgres://127.0.0.1/app_test",
            ],
            0,
        ),
        ("wait-for", vec!["--json", &ready], 0),
        ("wait-for", vec!["--json", &ready, "--", "echo", "after"], 0),
        ("dev", vec!["--check"], 0),
        ("wait-for", vec!["--version"], 0),
    ];
    let mut tried = 0;
    for (binary, args, code) in cases {
        let mut cmd = Command::new(example(binary));
        cmd.current_dir(dir.path())
            .args(&args)
            .env("TESTING_IN_DOCKER", "1");
        let run = with_closed_stdout(cmd);
        let what = format!("{binary} {args:?} | head -0");
        run.assert_no_panic(&what);
        // `echo` after exec is killed by SIGPIPE as any Unix tool is: no code, no panic.
        if !args.contains(&"echo") {
            assert_eq!(run.code, Some(code), "{what}: {}", run.stderr);
        }
        tried += 1;
    }
    println!("closed stdout: {tried} runs");
}

#[test]
fn deadlines_beyond_the_clock_saturate() {
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ready = format!("tcp://{}", service.local_addr().unwrap());
    for timeout in [
        "9223372036854775807s",
        "18446744073709551615s",
        "99999999999999h",
    ] {
        let mut cmd = Command::new(example("wait-for"));
        cmd.args(["-t", timeout, "--interval", timeout, &ready]);
        let run = run(cmd);
        run.assert_no_panic(&format!("wait-for -t {timeout}"));
        assert!(
            matches!(run.code, Some(0 | 2)),
            "wait-for -t {timeout}: {run:?}"
        );
    }
}
