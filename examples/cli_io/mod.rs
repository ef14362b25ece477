//! What every example CLI shares: writing to stdout, reporting an error, setting up
//! tracing. One house style: `main` returns an `ExitCode`; an error is printed once, as
//! `program: message: cause: cause` on stderr; nothing panics.
//!
//! A closed stdout (`validate-env --list-rules | head -1`, `guard check | head -0`) is a
//! normal end for a CLI: what it would have written is dropped quietly and it keeps its
//! own exit code, where `println!` would panic (exit 101) on the broken pipe.

use std::io::{ErrorKind, Write};

/// Writes `text` to stdout as it is (no newline added) and flushes it.
#[allow(dead_code, reason = "not every example writes to stdout")]
pub(crate) fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        && e.kind() != ErrorKind::BrokenPipe
    {
        let _ = writeln!(std::io::stderr(), "cannot write to stdout: {e}");
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (errors only when unset), so stdout stays the
/// program's own output.
#[allow(dead_code, reason = "not every example logs")]
pub(crate) fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
}

/// An error and its `source()` chain on one line, joined with `: ` as anyhow's `{:#}`
/// does; a cause whose text is already in the line is not repeated.
#[allow(dead_code, reason = "not every example reports library errors")]
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// Prints `program: error: cause…` on stderr: the one way an example reports an error.
#[allow(dead_code, reason = "not every example reports library errors")]
pub(crate) fn report(program: &str, error: &dyn std::error::Error) {
    eprintln!("{program}: {}", error_chain(error));
}

/// A duration flag's value, shown in `--help` as `5s`, so its default can be a library
/// constant (`default_value_t = DurationArg(...)`) rather than a string restated here.
#[allow(dead_code, reason = "not every example has duration flags")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct DurationArg(pub(crate) std::time::Duration);

impl std::fmt::Display for DurationArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}
