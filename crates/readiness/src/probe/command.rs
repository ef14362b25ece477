//! Commands: ready when a command exits 0 (Docker's `CMD` and `CMD-SHELL`, Kubernetes'
//! `exec`).
//!
//! Each attempt owns its processes: the command runs in a process group of its own, the
//! verdict is the command's exit status (not the end of its output, which a background
//! child may keep open forever: `sh:server & exit 0`), and the whole group is killed when
//! the attempt ends, succeeds, fails or is cancelled by its timeout, so no attempt leaves
//! anything running behind it.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// How much of the command's output a failure quotes.
const OUTPUT_QUOTE: usize = 200;

/// How many bytes of each output stream are kept (the end of it).
const OUTPUT_KEEP: usize = 4096;

/// How long a failed attempt waits for the rest of its output once its process group is
/// dead. Only a process that left the group (`setsid`) can hold a pipe that long.
const OUTPUT_DRAIN: Duration = Duration::from_millis(200);

/// Ready when the command exits with status 0. Its stdin is empty; its output is captured
/// and the end of it is quoted in the failure. It runs in its own process group, which is
/// killed (`SIGKILL`) when the attempt ends, so background jobs it started do not outlive
/// the attempt.
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

/// Kills the attempt's process group when dropped: when the attempt returns and when its
/// future is dropped by a timeout.
struct GroupKill(Option<Pid>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            // ESRCH: every member is gone already. The group id cannot have been reused
            // while a member lived, and the leader is reaped only by us.
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

/// The end of a stream, read in the background so that a full pipe never blocks the
/// command, and so that reading never decides when the attempt ends.
fn collect(
    stream: Option<impl AsyncRead + Unpin + Send + 'static>,
) -> (Arc<Mutex<Vec<u8>>>, Option<tokio::task::JoinHandle<()>>) {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let mut reader = None;
    if let Some(mut stream) = stream {
        let sink = Arc::clone(&kept);
        reader = Some(tokio::spawn(async move {
            let mut buf = [0_u8; 1024];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                let Ok(mut kept) = sink.lock() else { return };
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * OUTPUT_KEEP {
                    let excess = kept.len() - OUTPUT_KEEP;
                    kept.drain(..excess);
                }
            }
        }));
    }
    (kept, reader)
}

impl Probe for CommandProbe {
    fn probe<'a>(&'a self, _cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move {
            let mut child = tokio::process::Command::new(&self.program)
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    ProbeFailure::from(e).context(format!("cannot run `{}`", self.program))
                })?;
            let group = child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .map(Pid::from_raw);
            let kill = GroupKill(group);
            let (stdout, stdout_reader) = collect(child.stdout.take());
            let (stderr, stderr_reader) = collect(child.stderr.take());
            let status = child.wait().await.map_err(|e| {
                ProbeFailure::from(e).context(format!("cannot wait for `{}`", self.program))
            })?;
            drop(kill);
            if status.success() {
                return Ok(());
            }
            // The group is dead, so the pipes reach their end at once (bounded for a
            // process that left the group and still holds one).
            let readers = async {
                for reader in [stdout_reader, stderr_reader].into_iter().flatten() {
                    let _ = reader.await;
                }
            };
            let _ = tokio::time::timeout(OUTPUT_DRAIN, readers).await;
            let mut message = format!("`{}` exited with {status}", self.program);
            let stderr = stderr.lock().map(|b| b.clone()).unwrap_or_default();
            let output = if stderr.trim_ascii().is_empty() {
                stdout.lock().map(|b| b.clone()).unwrap_or_default()
            } else {
                stderr
            };
            let text = String::from_utf8_lossy(&output);
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
