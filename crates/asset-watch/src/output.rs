//! Prefixed, line-buffered output for processes running side by side.
//!
//! Each child's stdout and stderr are split into *segments* ending in `\n`, `\r\n` or a
//! lone `\r` (progress bars redraw with `\r`); every segment starts with the process's
//! prefix, so a progress line stays readable as `[css] 40%\r[css] 80%\r[css] done\n`. A
//! partial line (a prompt, a progress bar) is held until its end arrives or the stream
//! goes quiet for a moment, then printed; if another process prints meanwhile, the partial
//! line is ended first so two processes never share a line. Bytes are passed through
//! unchanged otherwise (colours, UTF-8 split across reads).

use std::io::{IsTerminal as _, Write};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::task::JoinHandle;

use crate::prefix::Prefix;

/// How long a partial line waits for the rest before it is shown anyway.
const PARTIAL_FLUSH: Duration = Duration::from_millis(30);

/// A partial line longer than this is shown without waiting.
const MAX_PENDING: usize = 64 * 1024;

/// Whether prefixes are coloured (and children are told to keep their colours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ColorChoice {
    /// Colour when stdout is a terminal, unless `NO_COLOR` is set; `FORCE_COLOR` or
    /// `CLICOLOR_FORCE` (not `0`) force it on.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Resolves `Auto` against the environment and stdout.
    #[must_use]
    pub fn enabled(self) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => auto_color(
                |k| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned()),
                std::io::stdout().is_terminal(),
            ),
        }
    }
}

fn auto_color(var: impl Fn(&str) -> Option<String>, tty: bool) -> bool {
    let set = |k: &str| var(k).is_some_and(|v| !v.is_empty());
    let forced = |k: &str| var(k).is_some_and(|v| !v.is_empty() && v != "0");
    if set("NO_COLOR") {
        return false;
    }
    forced("FORCE_COLOR") || forced("CLICOLOR_FORCE") || tty
}

/// How segments end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// `\n` or `\r\n`: the next segment starts a new line.
    Line,
    /// A lone `\r`: the cursor is back at the start of the same line.
    Return,
    /// Not ended yet (a partial line shown early).
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    LineStart,
    Mid(usize),
    AfterReturn(usize),
}

/// The shared output: one lock so segments of different processes never interleave.
pub(crate) struct Sink {
    state: Mutex<State>,
    next_id: AtomicUsize,
}

struct State {
    out: Box<dyn Write + Send>,
    cursor: Cursor,
    group: Option<Group>,
}

/// `--group`: output in the order of the entries, as if they ran one after the other.
/// The current entry's output goes straight through; the others' is held, each with its
/// own cursor, until every entry before it has ended.
struct Group {
    current: usize,
    done: Vec<bool>,
    held: Vec<(Vec<u8>, Cursor)>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").finish_non_exhaustive()
    }
}

/// Renders segments for writer `id` after `cursor`, prefixing where a line (or a `\r`
/// redraw) starts.
fn render(cursor: &mut Cursor, id: usize, prefix: &[u8], segments: &[(Vec<u8>, End)]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (body, end) in segments {
        match *cursor {
            Cursor::Mid(other) | Cursor::AfterReturn(other) if other != id => {
                buf.push(b'\n');
                buf.extend_from_slice(prefix);
            }
            Cursor::Mid(_) => {}
            Cursor::LineStart | Cursor::AfterReturn(_) => buf.extend_from_slice(prefix),
        }
        buf.extend_from_slice(body);
        *cursor = match end {
            End::Line => Cursor::LineStart,
            End::Return => Cursor::AfterReturn(id),
            End::Open => Cursor::Mid(id),
        };
    }
    buf
}

impl Sink {
    pub(crate) fn new(out: Box<dyn Write + Send>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                out,
                cursor: Cursor::LineStart,
                group: None,
            }),
            next_id: AtomicUsize::new(0),
        })
    }

    /// A sink that groups the output of `entries` entries (`--group`).
    pub(crate) fn grouped(out: Box<dyn Write + Send>, entries: usize) -> Arc<Self> {
        let sink = Self::new(out);
        sink.lock().group = Some(Group {
            current: 0,
            done: vec![false; entries],
            held: vec![(Vec::new(), Cursor::LineStart); entries],
        });
        sink
    }

    pub(crate) fn stdout() -> Arc<Self> {
        Self::new(Box::new(std::io::stdout()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new writer identity (one per stream, so stdout and stderr of one process do not
    /// continue each other's partial lines).
    pub(crate) fn writer_id(&self) -> usize {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes segments for writer `id` (not tied to an entry: never held).
    pub(crate) fn write(&self, id: usize, prefix: &[u8], segments: &[(Vec<u8>, End)]) {
        self.write_for(None, id, prefix, segments);
    }

    /// Writes segments for writer `id` of entry `entry`, prefixing where a line (or a
    /// `\r` redraw) starts; held while grouping and another entry is current.
    pub(crate) fn write_for(
        &self,
        entry: Option<usize>,
        id: usize,
        prefix: &[u8],
        segments: &[(Vec<u8>, End)],
    ) {
        if segments.is_empty() {
            return;
        }
        let mut guard = self.lock();
        let state = &mut *guard;
        if let (Some(group), Some(e)) = (&mut state.group, entry)
            && e != group.current
            && let Some((buf, cursor)) = group.held.get_mut(e)
        {
            let bytes = render(cursor, id, prefix, segments);
            buf.extend_from_slice(&bytes);
            return;
        }
        let buf = render(&mut state.cursor, id, prefix, segments);
        // Output is best effort: a closed stdout must not take the supervisor down.
        let _ = state.out.write_all(&buf);
        let _ = state.out.flush();
    }

    /// Entry `entry` has ended: while grouping, the next entries' held output follows.
    pub(crate) fn end_entry(&self, entry: usize) {
        let mut guard = self.lock();
        let State { out, cursor, group } = &mut *guard;
        let Some(group) = group else { return };
        if let Some(d) = group.done.get_mut(entry) {
            *d = true;
        }
        while group.done.get(group.current).copied() == Some(true) {
            group.current += 1;
            let Some((held, held_cursor)) = group.held.get_mut(group.current) else {
                break;
            };
            if held.is_empty() {
                continue;
            }
            if *cursor != Cursor::LineStart {
                let _ = out.write_all(b"\n");
            }
            let _ = out.write_all(held);
            let _ = out.flush();
            held.clear();
            *cursor = *held_cursor;
        }
    }

    /// Writes a line of our own, unprefixed.
    pub(crate) fn line(&self, text: &str) {
        let id = self.writer_id();
        self.write(id, b"", &[(format!("{text}\n").into_bytes(), End::Line)]);
    }

    /// Ends a partial line left by anyone, so what follows starts clean.
    pub(crate) fn finish(&self) {
        let mut guard = self.lock();
        // Anything still held (an entry that never reported its end) comes out now.
        if let Some(group) = guard.group.take() {
            for (held, held_cursor) in group.held {
                if held.is_empty() {
                    continue;
                }
                if guard.cursor != Cursor::LineStart {
                    let _ = guard.out.write_all(b"\n");
                }
                let _ = guard.out.write_all(&held);
                guard.cursor = held_cursor;
            }
        }
        let State { out, cursor, .. } = &mut *guard;
        if *cursor != Cursor::LineStart {
            let _ = out.write_all(b"\n");
            *cursor = Cursor::LineStart;
        }
        let _ = out.flush();
    }
}

/// Splits a byte stream into segments, keeping an unfinished one for later.
#[derive(Debug, Default)]
pub(crate) struct Splitter {
    pending: Vec<u8>,
}

impl Splitter {
    /// Feeds bytes; returns the complete segments (terminators included).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<(Vec<u8>, End)> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        let data = &self.pending;
        while i < data.len() {
            match data[i] {
                b'\n' => {
                    out.push((data[start..=i].to_vec(), End::Line));
                    start = i + 1;
                }
                b'\r' => match data.get(i + 1) {
                    Some(b'\n') => {
                        i += 1;
                        out.push((data[start..=i].to_vec(), End::Line));
                        start = i + 1;
                    }
                    Some(_) => {
                        out.push((data[start..=i].to_vec(), End::Return));
                        start = i + 1;
                    }
                    // A `\r` at the end: wait to see whether `\n` follows.
                    None => break,
                },
                _ => {}
            }
            i += 1;
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_PENDING {
            out.extend(self.flush());
        }
        out
    }

    /// Whether a partial segment is held.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Releases the held partial segment (stream quiet or ended).
    pub(crate) fn flush(&mut self) -> Option<(Vec<u8>, End)> {
        if self.pending.is_empty() {
            return None;
        }
        let body = std::mem::take(&mut self.pending);
        let end = if body.ends_with(b"\r") {
            End::Return
        } else {
            End::Open
        };
        Some((body, end))
    }
}

/// Where a command's output goes.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// Straight to our own stdout/stderr (a single watched command); status on stderr.
    Inherit,
    /// Straight to our own stdout/stderr, and no status lines (`--raw`).
    Raw,
    /// Through the shared sink with a prefix.
    Prefixed(Arc<Prefixed>),
}

/// One process's view of the shared sink.
#[derive(Debug)]
pub(crate) struct Prefixed {
    pub(crate) sink: Arc<Sink>,
    pub(crate) prefix: Prefix,
    pub(crate) color: bool,
    /// The command's own output is dropped (`--hide`); status lines stay.
    pub(crate) hide: bool,
    /// The current run's pid, for `{pid}` prefixes.
    pub(crate) pid: AtomicU32,
    /// The entry's position, for `--group`.
    pub(crate) entry: usize,
}

impl Output {
    pub(crate) fn prefixed(
        sink: Arc<Sink>,
        prefix: Prefix,
        color: bool,
        hide: bool,
        entry: usize,
    ) -> Self {
        Self::Prefixed(Arc::new(Prefixed {
            sink,
            prefix,
            color,
            hide,
            pid: AtomicU32::new(0),
            entry,
        }))
    }

    pub(crate) fn is_piped(&self) -> bool {
        matches!(self, Self::Prefixed(_))
    }

    /// Records the pid of the run now writing (for `{pid}` prefixes).
    pub(crate) fn set_pid(&self, pid: u32) {
        if let Self::Prefixed(p) = self {
            p.pid.store(pid, Ordering::Relaxed);
        }
    }

    /// Variables that keep children's colours although their stdout is now a pipe.
    pub(crate) fn child_env(&self) -> Vec<(&'static str, &'static str)> {
        match self {
            Self::Prefixed(p) if p.color => {
                vec![("FORCE_COLOR", "1"), ("CLICOLOR_FORCE", "1")]
            }
            _ => Vec::new(),
        }
    }

    /// Prints a status line of our own (started, exited, restarting) under the prefix.
    pub(crate) fn status(&self, line: &str) {
        match self {
            Self::Inherit => eprintln!("{line}"),
            Self::Raw => {}
            Self::Prefixed(p) => {
                let id = p.sink.writer_id();
                let prefix = p.prefix.render(p.pid.load(Ordering::Relaxed));
                p.sink.write_for(
                    Some(p.entry),
                    id,
                    &prefix,
                    &[(format!("{line}\n").into_bytes(), End::Line)],
                );
            }
        }
    }

    /// Copies a child stream into the sink until it closes.
    pub(crate) fn pump<R: AsyncRead + Unpin + Send + 'static>(
        &self,
        mut reader: R,
    ) -> JoinHandle<()> {
        let Self::Prefixed(p) = self.clone() else {
            return tokio::spawn(async {});
        };
        tokio::spawn(async move {
            let id = p.sink.writer_id();
            let write = |segments: &[(Vec<u8>, End)]| {
                if !p.hide && !segments.is_empty() {
                    let prefix = p.prefix.render(p.pid.load(Ordering::Relaxed));
                    p.sink.write_for(Some(p.entry), id, &prefix, segments);
                }
            };
            let mut splitter = Splitter::default();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let read = if splitter.has_pending() {
                    match tokio::time::timeout(PARTIAL_FLUSH, reader.read(&mut buf)).await {
                        Ok(read) => read,
                        Err(_) => {
                            write(&Vec::from_iter(splitter.flush()));
                            continue;
                        }
                    }
                } else {
                    reader.read(&mut buf).await
                };
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => write(&splitter.feed(&buf[..n])),
                }
            }
            write(&Vec::from_iter(splitter.flush()));
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn run(chunks: &[&[u8]]) -> String {
        let buf = Buf::default();
        let sink = Sink::new(Box::new(buf.clone()));
        let id = sink.writer_id();
        let mut s = Splitter::default();
        for c in chunks {
            sink.write(id, b"[a] ", &s.feed(c));
        }
        sink.write(id, b"[a] ", &Vec::from_iter(s.flush()));
        buf.text()
    }

    #[test]
    fn lines_split_across_reads_get_one_prefix() {
        assert_eq!(
            run(&[b"hel", b"lo\nwor", b"ld\n"]),
            "[a] hello\n[a] world\n"
        );
    }

    #[test]
    fn carriage_returns_redraw_under_the_prefix() {
        assert_eq!(
            run(&[b"10%\r50%\r", b"100%\n"]),
            "[a] 10%\r[a] 50%\r[a] 100%\n"
        );
    }

    #[test]
    fn crlf_split_between_reads_is_one_line_end() {
        assert_eq!(run(&[b"a\r", b"\nb\r\n"]), "[a] a\r\n[a] b\r\n");
    }

    #[test]
    fn partial_last_line_is_kept() {
        assert_eq!(run(&[b"done\nprompt> "]), "[a] done\n[a] prompt> ");
    }

    #[test]
    fn another_writer_ends_a_partial_line_first() {
        let buf = Buf::default();
        let sink = Sink::new(Box::new(buf.clone()));
        let (a, b) = (sink.writer_id(), sink.writer_id());
        sink.write(a, b"[a] ", &[(b"compiling...".to_vec(), End::Open)]);
        sink.write(b, b"[b] ", &[(b"ready\n".to_vec(), End::Line)]);
        sink.write(a, b"[a] ", &[(b" done\n".to_vec(), End::Line)]);
        sink.write(a, b"[a] ", &[(b"50%\r".to_vec(), End::Return)]);
        sink.write(b, b"[b] ", &[(b"x\n".to_vec(), End::Line)]);
        assert_eq!(
            buf.text(),
            "[a] compiling...\n[b] ready\n[a]  done\n[a] 50%\r\n[b] x\n"
        );
    }

    #[test]
    fn grouped_output_comes_in_entry_order_as_entries_end() {
        let buf = Buf::default();
        let sink = Sink::grouped(Box::new(buf.clone()), 3);
        let (a, b, c) = (sink.writer_id(), sink.writer_id(), sink.writer_id());
        let line = |s: &str| [(s.as_bytes().to_vec(), End::Line)];
        sink.write_for(Some(2), c, b"[c] ", &line("c1\n"));
        sink.write_for(Some(1), b, b"[b] ", &[(b"b-partial".to_vec(), End::Open)]);
        sink.write_for(Some(0), a, b"[a] ", &line("a1\n"));
        assert_eq!(buf.text(), "[a] a1\n", "only the current entry is shown");
        sink.end_entry(2);
        assert_eq!(buf.text(), "[a] a1\n", "c waits for a and b");
        sink.end_entry(0);
        assert_eq!(buf.text(), "[a] a1\n[b] b-partial");
        sink.write_for(Some(1), b, b"[b] ", &line(" done\n"));
        sink.end_entry(1);
        sink.finish();
        assert_eq!(buf.text(), "[a] a1\n[b] b-partial done\n[c] c1\n");
    }

    #[test]
    fn colour_follows_no_color_force_color_and_tty() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(auto_color(env(&[]), true));
        assert!(!auto_color(env(&[]), false));
        assert!(!auto_color(env(&[("NO_COLOR", "1")]), true));
        assert!(auto_color(env(&[("FORCE_COLOR", "1")]), false));
        assert!(!auto_color(env(&[("FORCE_COLOR", "0")]), false));
        assert!(!auto_color(
            env(&[("NO_COLOR", "1"), ("FORCE_COLOR", "1")]),
            true
        ));
        assert!(auto_color(env(&[("NO_COLOR", "")]), true));
    }

    proptest::proptest! {
        /// However a stream is cut into reads, the segments are the same and together
        /// they are exactly the input: nothing lost, nothing added, nothing reordered.
        #[test]
        fn splitting_is_lossless_and_independent_of_read_boundaries(
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b'\x1b'), proptest::num::u8::ANY
                ],
                0..300,
            ),
            cuts in proptest::collection::vec(0usize..300, 0..20),
        ) {
            let whole = {
                let mut s = Splitter::default();
                let mut out = s.feed(&data);
                out.extend(s.flush());
                out
            };
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut s = Splitter::default();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                pieces.extend(s.feed(&data[at..c]));
                at = c;
            }
            pieces.extend(s.flush());
            proptest::prop_assert_eq!(&pieces, &whole);
            let joined: Vec<u8> = whole.iter().flat_map(|(b, _)| b.iter().copied()).collect();
            proptest::prop_assert_eq!(joined, data);
        }
    }

    use proptest::strategy::Just;
}
