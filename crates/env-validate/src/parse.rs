//! The lossless `.env` parser: every byte of the input belongs to exactly one item (blank
//! line, comment, entry, or an over-long line), so `document.to_string()` reproduces the
//! input, and every key and value has a byte range and a line/column.
//!
//! The parser only finds the *shape* of each entry (key, separator, raw value text, which
//! may span lines inside quotes). What a value *means* depends on the loader: that is
//! [`Dialect`]'s job. The parser must stay linear in the input and must never panic.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::finding::Snippet;
use crate::{Dialect, Error, Finding, Location, Result, Rule};

/// Size limits that turn hostile or broken input into findings and errors instead of
/// unbounded memory and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Files larger than this are refused with [`Error::FileTooLarge`]. Default 64 MiB.
    pub max_file_bytes: usize,
    /// Physical lines longer than this are reported as `line-too-long` and not parsed.
    /// Default 64 KiB (room for a PEM key with `\n` escapes on one line).
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 << 20,
            max_line_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// Sets [`max_file_bytes`](Self::max_file_bytes).
    #[must_use]
    pub fn max_file_bytes(mut self, bytes: usize) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Sets [`max_line_bytes`](Self::max_line_bytes).
    #[must_use]
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }
}

/// How an entry's key is separated from its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Separator {
    /// `KEY=value`.
    Equals,
    /// `KEY: value` (YAML style; only some loaders accept it).
    Colon,
}

#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    pub(crate) export: bool,
    pub(crate) key: Range<usize>,
    pub(crate) sep: Option<(Separator, usize)>,
    /// From just after the separator to the end of the entry, line terminator excluded.
    /// Empty (at the key's end) when there is no separator.
    pub(crate) value: Range<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum ItemKind {
    Blank,
    Comment,
    Entry(RawEntry),
    TooLong,
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Whole item including its final line terminator.
    pub(crate) range: Range<usize>,
    /// End of the content, final line terminator excluded.
    pub(crate) content_end: usize,
    /// 1-based first line.
    pub(crate) line: u32,
    /// 1-based last line (differs from `line` for multi-line values).
    pub(crate) end_line: u32,
    pub(crate) kind: ItemKind,
}

/// A parsed `.env` file.
#[derive(Debug, Clone)]
pub struct Document {
    name: Arc<str>,
    text: String,
    line_starts: Vec<usize>,
    pub(crate) items: Vec<Item>,
    invalid_utf8: Vec<usize>,
    dialect: Dialect,
}

/// One `KEY=value` entry of a [`Document`].
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub(crate) doc: &'a Document,
    pub(crate) item: &'a Item,
    pub(crate) raw: &'a RawEntry,
}

impl<'a> Entry<'a> {
    /// The key as written (it may be invalid for some loaders).
    #[must_use]
    pub fn key(&self) -> &'a str {
        &self.doc.text[self.raw.key.clone()]
    }

    /// The raw text after the separator, quotes, escapes and comments included. It may be
    /// a secret: do not print it.
    #[must_use]
    pub fn raw_value(&self) -> &'a str {
        &self.doc.text[self.raw.value.clone()]
    }

    /// The separator, or `None` for a line holding only a key.
    #[must_use]
    pub fn separator(&self) -> Option<Separator> {
        self.raw.sep.map(|(s, _)| s)
    }

    /// Whether the line starts with `export `.
    #[must_use]
    pub fn is_exported(&self) -> bool {
        self.raw.export
    }

    /// 1-based line of the key.
    #[must_use]
    pub fn line(&self) -> u32 {
        self.item.line
    }

    /// Where the key is.
    #[must_use]
    pub fn location(&self) -> Location {
        let (line, col) = self.line_col();
        Location::new(self.doc.name.clone(), line, col)
    }

    /// Line and column of the key. It is on the item's first line: no search through the
    /// line table, and no reference count touched (this runs once per entry).
    pub(crate) fn line_col(&self) -> (u32, u32) {
        let start = self.item.range.start;
        let col = self.doc.text[start..self.raw.key.start.max(start)]
            .chars()
            .count()
            + 1;
        (self.item.line, to_u32(col))
    }

    pub(crate) fn snippet(&self, at: usize) -> Snippet {
        self.doc.snippet(self.item, at)
    }
}

impl Document {
    /// Parses text with the portable quote rules (every loader's quote characters).
    #[must_use]
    pub fn parse(name: impl Into<Arc<str>>, text: &str) -> Self {
        Self::parse_bytes(name, text.as_bytes(), Dialect::Portable, &Limits::default())
    }

    /// Parses bytes as `dialect` splits them into entries. Invalid UTF-8 is replaced by
    /// U+FFFD and reported as `invalid-utf8`; over-long lines become `line-too-long`.
    #[must_use]
    pub fn parse_bytes(
        name: impl Into<Arc<str>>,
        bytes: &[u8],
        dialect: Dialect,
        limits: &Limits,
    ) -> Self {
        let (text, invalid_utf8) = decode_utf8(bytes);
        Self::from_text(name, text, invalid_utf8, dialect, limits)
    }

    fn from_text(
        name: impl Into<Arc<str>>,
        text: String,
        invalid_utf8: Vec<usize>,
        dialect: Dialect,
        limits: &Limits,
    ) -> Self {
        let line_starts = line_starts(&text);
        let items = lex(&text, &line_starts, dialect, limits);
        Self {
            name: name.into(),
            text,
            line_starts,
            items,
            invalid_utf8,
            dialect,
        }
    }

    /// Reads and parses a file. Fails only when the file cannot be read or is too large.
    pub fn from_path(path: &Path, dialect: Dialect, limits: &Limits) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > limits.max_file_bytes as u64 {
            return Err(Error::FileTooLarge {
                path: path.to_owned(),
                size,
                limit: limits.max_file_bytes,
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        // Valid UTF-8 (the usual case) becomes the document's text without a copy.
        let (text, invalid_utf8) = match String::from_utf8(bytes) {
            Ok(text) => (text, Vec::new()),
            Err(e) => decode_utf8(e.as_bytes()),
        };
        Ok(Self::from_text(
            path.display().to_string(),
            text,
            invalid_utf8,
            dialect,
            limits,
        ))
    }

    /// The name used in locations (usually the path as given).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The text (invalid UTF-8 replaced by U+FFFD). It may hold secrets.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The dialect whose quote rules split this document.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The entries in file order (duplicates included).
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.items.iter().filter_map(move |item| match &item.kind {
            ItemKind::Entry(raw) => Some(Entry {
                doc: self,
                item,
                raw,
            }),
            _ => None,
        })
    }

    /// Number of physical lines.
    #[must_use]
    pub fn line_count(&self) -> usize {
        self.items.last().map_or(0, |i| i.end_line as usize)
    }

    /// The location of a byte offset.
    pub(crate) fn location(&self, byte: usize) -> Location {
        let (line, col) = self.position(byte);
        Location::new(self.name.clone(), line, col)
    }

    pub(crate) fn line_location(&self, line: u32) -> Location {
        Location::new(self.name.clone(), line, 1)
    }

    /// 1-based (line, column in chars) of a byte offset.
    pub(crate) fn position(&self, byte: usize) -> (u32, u32) {
        let idx = self.line_starts.partition_point(|&s| s <= byte).max(1) - 1;
        let start = self.line_starts[idx];
        let byte = byte.min(self.text.len());
        let col = self
            .text
            .get(start..byte)
            .map_or(1, |s| s.chars().count() + 1);
        (to_u32(idx + 1), to_u32(col))
    }

    /// Start offset and content end (terminator excluded) of a 1-based line.
    pub(crate) fn line_bounds(&self, line: u32) -> (usize, usize) {
        let idx = (line as usize)
            .saturating_sub(1)
            .min(self.line_starts.len() - 1);
        let start = self.line_starts[idx];
        let next = self
            .line_starts
            .get(idx + 1)
            .copied()
            .unwrap_or(self.text.len());
        let bytes = self.text.as_bytes();
        let mut end = next;
        if end > start && bytes[end - 1] == b'\n' {
            end -= 1;
        }
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        (start, end)
    }

    /// Findings the parser itself has: invalid UTF-8 and over-long lines.
    pub(crate) fn parse_findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for &at in &self.invalid_utf8 {
            let loc = self.location(at);
            out.push(
                Finding::new(Rule::InvalidUtf8, "invalid UTF-8 in the file")
                    .at(loc)
                    .help("save the file as UTF-8"),
            );
        }
        for item in &self.items {
            if let ItemKind::TooLong = item.kind {
                out.push(
                    Finding::new(
                        Rule::LineTooLong,
                        format!(
                            "line is {} bytes, over the limit; it was not read",
                            item.content_end - item.range.start
                        ),
                    )
                    .at(self.line_location(item.line))
                    .snippet(Some(self.snippet(item, item.range.start))),
                );
            }
        }
        out
    }

    /// The masked snippet of the item starting on `line`, caret at its key.
    pub(crate) fn snippet_for_line(&self, line: u32) -> Option<Snippet> {
        let i = self.items.partition_point(|it| it.line < line);
        let item = self.items.get(i).filter(|it| it.line == line)?;
        let at = match &item.kind {
            ItemKind::Entry(raw) => raw.key.start,
            _ => item.range.start,
        };
        Some(self.snippet(item, at))
    }

    /// A masked rendering of `item`'s first line with a caret at byte `at`: keys and
    /// separators are shown, values and comment text never are.
    pub(crate) fn snippet(&self, item: &Item, at: usize) -> Snippet {
        const VALUE: &str = "‹value›";
        let (start, end) = self.line_bounds(item.line);
        let line = &self.text[start..end];
        let keep_until = match &item.kind {
            ItemKind::Blank => end,
            ItemKind::Comment => {
                let hash = line.find('#').map_or(end, |i| start + i + 1);
                let text = format!("{}{}", &self.text[start..hash], " …");
                let caret = self.caret(start, at.min(hash));
                return Snippet { text, caret };
            }
            ItemKind::TooLong => {
                return Snippet {
                    text: "‹line too long›".to_owned(),
                    caret: 1,
                };
            }
            ItemKind::Entry(raw) => match raw.sep {
                Some((_, sep)) => {
                    let bytes = self.text.as_bytes();
                    let mut v = sep + 1;
                    while v < end && matches!(bytes[v], b' ' | b'\t') {
                        v += 1;
                    }
                    v
                }
                // Without `=` the "key" may be a pasted secret: mask it all.
                None => start,
            },
        };
        let keep_until = keep_until.clamp(start, end);
        let mut text = self.text[start..keep_until].to_owned();
        let masked = keep_until < end || item.end_line > item.line;
        if masked {
            text.push_str(VALUE);
        }
        let caret = if at < keep_until {
            self.caret(start, at)
        } else {
            self.caret(start, keep_until)
        };
        Snippet { text, caret }
    }

    fn caret(&self, start: usize, at: usize) -> u32 {
        let at = at.clamp(start, self.text.len());
        to_u32(self.text.get(start..at).map_or(0, |s| s.chars().count()) + 1)
    }
}

impl fmt::Display for Document {
    /// The original text, byte for byte (after UTF-8 repair).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Decodes UTF-8, replacing each invalid sequence with U+FFFD and remembering where (at
/// most once per line, so a binary file gives a short report).
fn decode_utf8(bytes: &[u8]) -> (String, Vec<usize>) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (s.to_owned(), Vec::new());
    }
    let mut text = String::with_capacity(bytes.len() + 16);
    let mut bad = Vec::new();
    let mut last_bad_line_start = usize::MAX;
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            let line_start = text.rfind('\n').map_or(0, |i| i + 1);
            if line_start != last_bad_line_start {
                bad.push(text.len());
                last_bad_line_start = line_start;
            }
            text.push('\u{FFFD}');
        }
    }
    (text, bad)
}

fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = Vec::with_capacity(bytes.len() / 24 + 1);
    starts.push(0);
    starts.extend(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
    // A final newline starts no line.
    if starts.len() > 1 && starts.last() == Some(&bytes.len()) {
        starts.pop();
    }
    starts
}

/// Which characters open a quoted value that may span lines, and whether a backslash
/// escapes the closing quote inside single quotes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuoteRules {
    pub(crate) backtick: bool,
    pub(crate) single_quote_escapes: bool,
}

fn is_hspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x0b' | b'\x0c')
}

fn lex(text: &str, starts: &[usize], dialect: Dialect, limits: &Limits) -> Vec<Item> {
    let rules = dialect.quote_rules();
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut items = Vec::with_capacity(starts.len());
    // A scan for a closing quote that reached the end of the file from `fail_from[q]`
    // would fail again from any later start; remembering it keeps a file full of
    // unterminated quotes linear instead of quadratic.
    let mut fail_from = [usize::MAX; 3];
    let bounds = |li: usize| -> (usize, usize, usize) {
        let start = starts[li];
        let next = starts.get(li + 1).copied().unwrap_or(len);
        let mut end = next;
        if end > start && bytes[end - 1] == b'\n' {
            end -= 1;
        }
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        (start, end, next)
    };
    let mut li = 0;
    while li < starts.len() {
        let (start, end, next) = bounds(li);
        let line = to_u32(li + 1);
        if end - start > limits.max_line_bytes {
            items.push(Item {
                range: start..next,
                content_end: end,
                line,
                end_line: line,
                kind: ItemKind::TooLong,
            });
            li += 1;
            continue;
        }
        // A byte-order mark is tolerated by the loaders; it belongs to the first item.
        let mut p = start;
        if li == 0 && text[start..end].starts_with('\u{FEFF}') {
            p += 3;
        }
        while p < end && is_hspace(bytes[p]) {
            p += 1;
        }
        if p == end {
            items.push(Item {
                range: start..next,
                content_end: end,
                line,
                end_line: line,
                kind: ItemKind::Blank,
            });
            li += 1;
            continue;
        }
        if bytes[p] == b'#' {
            items.push(Item {
                range: start..next,
                content_end: end,
                line,
                end_line: line,
                kind: ItemKind::Comment,
            });
            li += 1;
            continue;
        }
        let (raw, value_start) = entry_header(text, p, end);
        let mut raw = raw;
        let mut end_li = li;
        let mut content_end = end;
        if let Some(vs) = value_start {
            let mut v = vs;
            while v < end && is_hspace(bytes[v]) {
                v += 1;
            }
            let quote = if v < end { bytes[v] } else { 0 };
            let slot = match quote {
                b'"' => Some(0),
                b'\'' => Some(1),
                b'`' if rules.backtick => Some(2),
                _ => None,
            };
            if let Some(slot) = slot {
                let escapes = quote != b'\'' || rules.single_quote_escapes;
                let from = v + 1;
                let close = if from >= fail_from[slot] {
                    None
                } else {
                    let found = find_close(bytes, from, quote, escapes);
                    if found.is_none() {
                        fail_from[slot] = fail_from[slot].min(from);
                    }
                    found
                };
                if let Some(close) = close
                    && close >= end
                {
                    while end_li + 1 < starts.len() && starts[end_li + 1] <= close {
                        end_li += 1;
                    }
                    content_end = bounds(end_li).1;
                }
            }
            raw.value = vs..content_end;
        }
        let next = bounds(end_li).2;
        items.push(Item {
            range: start..next,
            content_end,
            line,
            end_line: to_u32(end_li + 1),
            kind: ItemKind::Entry(raw),
        });
        li = end_li + 1;
    }
    items
}

fn find_close(bytes: &[u8], from: usize, quote: u8, escapes: bool) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        if escapes && b == b'\\' {
            i += 2;
            continue;
        }
        if b == quote {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Splits `export KEY = value` at `p..end` (p at the first non-blank byte). Returns the
/// entry with an empty value range and where the value starts (after the separator).
fn entry_header(text: &str, mut p: usize, end: usize) -> (RawEntry, Option<usize>) {
    let bytes = text.as_bytes();
    let mut export = false;
    if text[p..end].starts_with("export") && p + 6 < end && is_hspace(bytes[p + 6]) {
        let mut q = p + 6;
        while q < end && is_hspace(bytes[q]) {
            q += 1;
        }
        if q < end && bytes[q] != b'=' {
            export = true;
            p = q;
        }
    }
    let line = &bytes[p..end];
    if let Some(eq) = line.iter().position(|&b| b == b'=') {
        let eq = p + eq;
        let mut key_end = eq;
        while key_end > p && is_hspace(bytes[key_end - 1]) {
            key_end -= 1;
        }
        let raw = RawEntry {
            export,
            key: p..key_end,
            sep: Some((Separator::Equals, eq)),
            value: eq + 1..eq + 1,
        };
        return (raw, Some(eq + 1));
    }
    let run = line
        .iter()
        .position(|&b| is_hspace(b) || b == b':' || b == b'#')
        .unwrap_or(line.len());
    let key_end = p + run;
    if key_end < end
        && bytes[key_end] == b':'
        && (key_end + 1 == end || is_hspace(bytes[key_end + 1]))
    {
        let raw = RawEntry {
            export,
            key: p..key_end,
            sep: Some((Separator::Colon, key_end)),
            value: key_end + 1..key_end + 1,
        };
        return (raw, Some(key_end + 1));
    }
    let raw = RawEntry {
        export,
        key: p..key_end,
        sep: None,
        value: key_end..key_end,
    };
    (raw, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(doc: &Document) -> Vec<(&str, &str, u32)> {
        doc.entries()
            .map(|e| (e.key(), e.raw_value(), e.line()))
            .collect()
    }

    #[test]
    fn line_starts_are_after_every_newline_but_a_final_one() {
        for text in [
            "",
            "\n",
            "a",
            "a\n",
            "a\nb",
            "\n\n",
            "x\r\ny\n\nz",
            &"k=v\n".repeat(40),
        ] {
            let mut naive = vec![0];
            naive.extend(
                text.bytes()
                    .enumerate()
                    .filter(|&(i, b)| b == b'\n' && i + 1 < text.len())
                    .map(|(i, _)| i + 1),
            );
            assert_eq!(line_starts(text), naive, "{text:?}");
        }
    }

    #[test]
    fn splits_entries_comments_and_blank_lines_losslessly() {
        let text = "# c\n\nexport A=1\nB = \"two\" # x\r\nC\nD: yaml\n";
        let doc = Document::parse("t", text);
        assert_eq!(doc.to_string(), text);
        assert_eq!(
            keys(&doc),
            vec![
                ("A", "1", 3),
                ("B", " \"two\" # x", 4),
                ("C", "", 5),
                ("D", " yaml", 6)
            ]
        );
        let e: Vec<_> = doc.entries().collect();
        assert!(e[0].is_exported());
        assert_eq!(e[2].separator(), None);
        assert_eq!(e[3].separator(), Some(Separator::Colon));
    }

    #[test]
    fn quoted_values_span_lines_and_unterminated_ones_do_not() {
        let text = "A=\"x\ny\"\nB='unterminated\nC=3\n";
        let doc = Document::parse("t", text);
        assert_eq!(
            keys(&doc),
            vec![
                ("A", "\"x\ny\"", 1),
                ("B", "'unterminated", 3),
                ("C", "3", 4)
            ]
        );
        let last = doc.items.last().unwrap();
        assert_eq!(last.line, 4);
    }

    #[test]
    fn invalid_utf8_and_long_lines_are_located() {
        let mut bytes = b"A=1\nB=\xff\xfe\nC=".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 100));
        let doc = Document::parse_bytes(
            "t",
            &bytes,
            Dialect::Portable,
            &Limits::default().max_line_bytes(50),
        );
        let f = doc.parse_findings();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].rule, Rule::InvalidUtf8);
        assert_eq!(
            f[0].location.as_ref().map(|l| (l.line, l.col)),
            Some((2, 3))
        );
        assert_eq!(f[1].rule, Rule::LineTooLong);
        assert_eq!(f[1].location.as_ref().map(|l| l.line), Some(3));
    }

    #[test]
    fn snippet_masks_values_and_comments() {
        let doc = Document::parse("t", "PASSWORD = hunter2 # old: swordfish\n# secret: x\n");
        let item = &doc.items[0];
        let s = doc.snippet(item, 0);
        assert_eq!(s.text, "PASSWORD = ‹value›");
        let s = doc.snippet(&doc.items[1], doc.items[1].range.start);
        assert_eq!(s.text, "# …");
    }

    #[test]
    fn line_starts_match_a_byte_by_byte_scan() {
        for text in [
            "",
            "\n",
            "a",
            "a\n",
            "\n\n\n",
            "1234567\n",
            "12345678\n",
            "123456789\nabcdefgh\n\nx",
            "é\nü€\r\n\n12345678901234567890\n",
        ] {
            let naive: Vec<usize> = std::iter::once(0)
                .chain(
                    text.bytes()
                        .enumerate()
                        .filter(|&(_, b)| b == b'\n')
                        .map(|(i, _)| i + 1)
                        .filter(|&s| s < text.len()),
                )
                .collect();
            assert_eq!(line_starts(text), naive, "{text:?}");
        }
    }

    #[test]
    fn many_unterminated_quotes_stay_linear() {
        // Each line opens a quote that the next line closes: 25,000 two-line entries.
        let text = "A=\"x\n".repeat(50_000);
        let t = std::time::Instant::now();
        let doc = Document::parse("t", &text);
        assert_eq!(doc.entries().count(), 25_000);
        // Generous: quadratic behaviour would take minutes, linear takes milliseconds.
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }
}
