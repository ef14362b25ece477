//! Writing to stdout from the example CLIs. A closed stdout (`validate-env --list-rules |
//! head -1`, `guard check | head -0`) is a normal end for a CLI: what it would have written
//! is dropped quietly and it keeps its own exit code, where `println!` would panic (exit
//! 101) on the broken pipe.

use std::io::{ErrorKind, Write};

/// Writes `text` to stdout as it is (no newline added) and flushes it.
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
