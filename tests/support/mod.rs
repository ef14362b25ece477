//! Running the example binaries from the umbrella's integration tests. Cargo offers no
//! `CARGO_BIN_EXE_*` for examples, so the examples are built once per test binary with the
//! same cargo (a no-op when `cargo test` has just built them, as it does) and found next
//! to this test binary, in `target/<profile>/examples/`.
#![allow(
    dead_code,
    reason = "each test binary uses a part of the support module"
)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

/// The longest any one run of an example may take; every run is bounded by its own flags
/// (`-t 300ms`, `--no-live`) well below it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The path of the built example `name`.
pub(crate) fn example(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args([
                "build",
                "--workspace",
                "--all-features",
                "--examples",
                "--quiet",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo to build the examples");
        assert!(status.success(), "building the examples failed");
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<this test> → target/<profile>/examples
        exe.parent().unwrap().parent().unwrap().join("examples")
    });
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code (`None`: killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

impl Run {
    /// Both streams, for assertions that care about neither in particular.
    pub(crate) fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics if the run panicked (exit 101 or a panic message).
    pub(crate) fn assert_no_panic(&self, what: &str) {
        assert!(
            self.code != Some(101) && !self.stderr.contains("panicked at"),
            "{what} panicked:\n{}",
            self.stderr
        );
    }
}

/// Runs `cmd` with stdin closed and output captured, killing it after [`RUN_LIMIT`].
pub(crate) fn run(mut cmd: Command) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the example");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    // The child is waited for on a thread so that a hung run fails the test after
    // RUN_LIMIT instead of hanging it.
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let status = match finished.recv_timeout(RUN_LIMIT) {
        Ok(status) => status.expect("wait for the example"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{cmd:?} ran longer than {RUN_LIMIT:?}");
        }
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}
