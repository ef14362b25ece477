//! Commands: ready when a command exits 0 (Docker's `CMD` and `CMD-SHELL`, Kubernetes'
//! `exec`). The child is killed when the attempt is cancelled by its timeout.

use std::process::Stdio;

use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// How much of the command's output a failure quotes.
const OUTPUT_QUOTE: usize = 200;

/// Ready when the command exits with status 0. Its stdin is empty; its output is captured
/// and the end of it is quoted in the failure.
#[derive(Debug, Clone)]
pub struct CommandProbe {
    program: String,
    args: Vec<String>,
}

impl CommandProbe {
    /// Runs `program` with `args`, without a shell.
    #[must_use]
    pub fn new(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// Runs `script` with `sh -c` (Docker's `CMD-SHELL`).
    #[must_use]
    pub fn shell(script: impl Into<String>) -> Self {
        Self::new("sh", ["-c".to_owned(), script.into()])
    }
}

impl Probe for CommandProbe {
    fn probe<'a>(&'a self, _cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            let output = tokio::process::Command::new(&self.program)
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| {
                    ProbeFailure::from(e).context(format!("cannot run `{}`", self.program))
                })?;
            if output.status.success() {
                return Ok(());
            }
            let mut message = format!("`{}` exited with {}", self.program, output.status);
            let text = String::from_utf8_lossy(if output.stderr.is_empty() {
                &output.stdout
            } else {
                &output.stderr
            });
            let text = text.trim();
            if !text.is_empty() {
                let start = text
                    .char_indices()
                    .rev()
                    .nth(OUTPUT_QUOTE - 1)
                    .map_or(0, |(i, _)| i);
                message.push_str(": ");
                message.push_str(&text[start..]);
            }
            Err(ProbeFailure::new(message))
        })
    }
}
