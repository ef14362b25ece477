//! Input typed to the supervisor, routed to processes as `concurrently -i` does: a line
//! `name:text` or `index:text` goes (as `text`) to that process, any other line to the
//! default target.
//!
//! Routing is per line, not per read as in `concurrently`: a line pasted or piped in
//! several reads still reaches one process whole. The end of our input closes the
//! default target's stdin (so `cat` under `dev < file` ends) and no other: the rest keep
//! an open stdin, which watch compilers need.

use std::collections::HashMap;

use tokio::sync::mpsc;

/// What a process task receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// Bytes to write to the process's stdin.
    Bytes(Vec<u8>),
    /// Our input ended: close the process's stdin.
    End,
}

/// Where input lines go.
#[derive(Debug)]
pub(crate) struct Router {
    /// Name or index (as text) → entry index.
    ids: HashMap<String, usize>,
    default: usize,
    /// One sender per entry; `None` for watch jobs, which read no input.
    targets: Vec<Option<mpsc::UnboundedSender<Input>>>,
    /// A partial line (no newline yet).
    pending: Vec<u8>,
}

impl Router {
    pub(crate) fn new(
        names: &[&str],
        default: usize,
        targets: Vec<Option<mpsc::UnboundedSender<Input>>>,
    ) -> Self {
        let mut ids = HashMap::new();
        for i in 0..names.len() {
            ids.insert(i.to_string(), i);
        }
        // Names win over indices, as in concurrently (its map sets names last).
        for (i, name) in names.iter().enumerate() {
            ids.insert((*name).to_owned(), i);
        }
        Self {
            ids,
            default,
            targets,
            pending: Vec::new(),
        }
    }

    /// Where one complete line goes, and what of it: `(entry, bytes)`.
    pub(crate) fn route<'a>(&self, line: &'a [u8]) -> (usize, &'a [u8]) {
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && let Ok(id) = std::str::from_utf8(&line[..colon])
            && let Some(&target) = self.ids.get(id)
        {
            return (target, &line[colon + 1..]);
        }
        (self.default, line)
    }

    /// Feeds bytes read from our stdin; complete lines are delivered.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut problems = Vec::new();
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            problems.extend(self.deliver(&line));
        }
        problems
    }

    /// Our input ended: a partial last line is delivered, then the default target's
    /// stdin is closed.
    pub(crate) fn end(&mut self) -> Vec<String> {
        let line = std::mem::take(&mut self.pending);
        let mut problems = Vec::new();
        if !line.is_empty() {
            problems.extend(self.deliver(&line));
        }
        if let Some(Some(tx)) = self.targets.get(self.default) {
            let _ = tx.send(Input::End);
        }
        problems
    }

    fn deliver(&self, line: &[u8]) -> Option<String> {
        let (target, bytes) = self.route(line);
        match self.targets.get(target) {
            Some(Some(tx)) if tx.send(Input::Bytes(bytes.to_vec())).is_ok() => None,
            Some(Some(_)) => Some(format!("input for process {target} dropped: it has ended")),
            _ => Some(format!(
                "input for entry {target} dropped: a watch job reads no input"
            )),
        }
    }
}

/// Reads our stdin on a plain thread (a blocked read must not hold up runtime shutdown;
/// the thread simply ends with the process). `None` from the receiver: input ended.
pub(crate) fn read_stdin() -> mpsc::UnboundedReceiver<Vec<u8>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("preflight-stdin".into())
        .spawn(move || {
            use std::io::Read as _;
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 8192];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot read stdin for input routing");
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(n: usize, default: usize) -> (Router, Vec<mpsc::UnboundedReceiver<Input>>) {
        let names = ["server", "css", "7"];
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..n)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), rx)
            })
            .unzip();
        (Router::new(&names[..n], default, txs), rxs)
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<Input>) -> Vec<Input> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    fn bytes(s: &str) -> Input {
        Input::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn prefixed_lines_go_to_their_process_by_name_or_index() {
        let (mut r, mut rx) = router(2, 0);
        assert!(
            r.feed(b"css:rebuild\n1:again\nserver:rs\nplain\n")
                .is_empty()
        );
        assert_eq!(drain(&mut rx[1]), [bytes("rebuild\n"), bytes("again\n")]);
        assert_eq!(drain(&mut rx[0]), [bytes("rs\n"), bytes("plain\n")]);
    }

    #[test]
    fn unknown_prefixes_send_the_whole_line_to_the_default_target() {
        let (mut r, mut rx) = router(2, 1);
        r.feed(b"http://x:80\nnope:text\n");
        assert_eq!(
            drain(&mut rx[1]),
            [bytes("http://x:80\n"), bytes("nope:text\n")]
        );
        assert!(drain(&mut rx[0]).is_empty());
    }

    #[test]
    fn a_name_wins_over_an_index() {
        // Entry 2 is named "7"; index 7 does not exist, and "2:" still means entry 2.
        let (mut r, mut rx) = router(3, 0);
        r.feed(b"7:by-name\n2:by-index\n");
        assert_eq!(drain(&mut rx[2]), [bytes("by-name\n"), bytes("by-index\n")]);
    }

    #[test]
    fn lines_split_across_reads_are_routed_whole_and_the_end_closes_the_default() {
        let (mut r, mut rx) = router(2, 0);
        r.feed(b"cs");
        r.feed(b"s:a\n1:partial");
        assert!(r.end().is_empty());
        assert_eq!(drain(&mut rx[1]), [bytes("a\n"), bytes("partial")]);
        assert_eq!(drain(&mut rx[0]), [Input::End]);
    }

    #[test]
    fn input_for_a_watch_job_or_an_ended_process_is_reported() {
        let (tx, rx) = mpsc::unbounded_channel();
        drop(rx);
        let mut r = Router::new(&["w", "gone"], 0, vec![None, Some(tx)]);
        let problems = r.feed(b"w:x\ngone:y\n");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("watch job"), "{problems:?}");
        assert!(problems[1].contains("ended"), "{problems:?}");
    }
}
