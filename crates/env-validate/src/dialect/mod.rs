//! Loader dialects: what a value *means* to dotenvy, docker compose, Node `dotenv` and
//! python-dotenv, which disagree on `#`, quotes, escapes, keys and `${…}` (see the crate
//! docs for the table). Each loader module mirrors one loader's parser; a reading is
//! computed from the raw entry text, never by running the loader.

mod compose;
mod dotenvy;
mod expand;
mod node;
mod python;
mod render;

use std::fmt;
use std::str::FromStr;

pub use render::Unrepresentable;

use crate::hash::FastMap;
use crate::parse::QuoteRules;
use crate::{Document, Entry, Separator};

/// A `.env` loader whose reading of a file is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// The Rust crate `dotenvy` 0.15 (and `dotenv`): strict, `$VAR` expansion, first
    /// duplicate wins.
    Dotenvy,
    /// Docker Compose v2 `env_file` / `.env` (compose-go): shell-like `${VAR:-default}`.
    Compose,
    /// Node's `dotenv` (18.0, default parser): `#` always starts a
    /// comment, no expansion.
    Node,
    /// python-dotenv 1.2.4 (`dotenv_values` / `load_dotenv`, Django, Celery): `${VAR}` and
    /// `${VAR:-default}` expansion, also inside single quotes. Before 1.2.4 it read
    /// `K=   # c` as `# c` (now empty) and kept a byte-order mark in the first key.
    Python,
    /// Every loader at once: a line that any two loaders read differently is a finding.
    /// Values are validated as the first loader that accepts them reads them.
    #[default]
    Portable,
}

/// How one loader reads one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reading {
    /// The variable is set to this value. It may be a secret: do not print it.
    Value(String),
    /// A key without a value: the loader copies the variable from the host environment.
    Inherit,
    /// A key without a value: the loader does not set the variable.
    NoValue,
    /// The loader skips the line (with at most a log line): the variable is not set.
    Skipped(String),
    /// The loader fails on the line.
    Rejected(String),
}

impl Reading {
    /// The value, if the loader sets one.
    #[must_use]
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }

    /// A short description that never includes the value.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Value(_) => "reads a value",
            Self::Inherit => "copies it from the host environment",
            Self::NoValue => "does not set it",
            Self::Skipped(_) => "skips the line",
            Self::Rejected(_) => "fails on the line",
        }
    }
}

/// Expansion can grow a value without bound (`B=${A}${A}`, `C=${B}${B}`, …): a value
/// over this size is rejected instead of built, and not offered to later references.
pub(crate) const MAX_VALUE: usize = 1 << 20;
/// Total bytes of expanded values one document may produce per loader (16 MiB).
const EXPANSION_BUDGET: usize = 16 << 20;
pub(crate) const TOO_LONG: &str = "the value expands to more than 1 MiB";

/// Applies the size caps to a reading made by the loader's scanner.
fn capped(reading: Reading, spent: &mut usize) -> Reading {
    match reading {
        Reading::Value(v) if v.len() > MAX_VALUE => Reading::Rejected(TOO_LONG.to_owned()),
        Reading::Value(v) => {
            *spent += v.len();
            if *spent > EXPANSION_BUDGET {
                Reading::Rejected("expanded values exceed 16 MiB for this file".to_owned())
            } else {
                Reading::Value(v)
            }
        }
        other => other,
    }
}

/// What the expansion of `$VAR` can see: the earlier entries of the same file and, when
/// given, the process environment. Which one wins differs per loader.
pub(crate) struct Vars<'a> {
    pub(crate) file: &'a FastMap<&'a str, Slot<'a>>,
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
}

/// An earlier entry's value: borrowed from the file when every loader reads it as
/// written, else this loader's reading.
pub(crate) enum Slot<'d> {
    Plain(&'d str),
    Read(String),
}

impl Vars<'_> {
    fn file(&self, name: &str) -> Option<String> {
        match self.file.get(name)? {
            Slot::Plain(s) => Some((*s).to_owned()),
            Slot::Read(s) => Some(s.clone()),
        }
    }

    fn env_then_file(&self, name: &str) -> Option<String> {
        (self.env)(name).or_else(|| self.file(name))
    }

    fn file_then_env(&self, name: &str) -> Option<String> {
        self.file(name).or_else(|| (self.env)(name))
    }
}

/// Each loader's reading of one entry, or the one reading they all share.
pub(crate) enum PortableReading {
    /// A plain entry: every loader reads the text as written.
    Plain(String),
    /// `[dotenvy, compose, node, python]`.
    Each(Box<[Reading; 4]>),
}

/// Reads every entry with all four loaders in one pass, decoding only the entries that
/// are not plain. Expansion state is kept per loader, and only when the file has a `$`.
pub(crate) fn read_portable(
    doc: &Document,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<PortableReading> {
    let track = doc.text().contains('$');
    let bom = doc.text().starts_with('\u{feff}');
    let mut files: [FastMap<&str, Slot<'_>>; 4] = Default::default();
    let mut spent = [0usize; 4];
    let mut out = Vec::with_capacity(doc.items.len());
    for entry in doc.entries() {
        if let Some(v) = plain_value(&entry).filter(|_| !(bom && entry.raw.key.start == 3)) {
            if track {
                for f in &mut files {
                    f.insert(entry.key(), Slot::Plain(v));
                }
            }
            out.push(PortableReading::Plain(v.to_owned()));
            continue;
        }
        let each = [0, 1, 2, 3].map(|d| {
            let vars = Vars {
                file: &files[d],
                env,
            };
            capped(
                Dialect::LOADERS[d].read_one(&entry, &vars, bom),
                &mut spent[d],
            )
        });
        if track {
            for (f, r) in files.iter_mut().zip(&each) {
                if let Reading::Value(v) = r {
                    f.insert(entry.key(), Slot::Read(v.clone()));
                }
            }
        }
        out.push(PortableReading::Each(Box::new(each)));
    }
    out
}

impl Dialect {
    /// The four modelled loaders.
    pub const LOADERS: [Dialect; 4] = [
        Dialect::Dotenvy,
        Dialect::Compose,
        Dialect::Node,
        Dialect::Python,
    ];

    /// The name used on the command line: `dotenvy`, `compose`, `node`, `python`, `portable`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Dotenvy => "dotenvy",
            Self::Compose => "compose",
            Self::Node => "node",
            Self::Python => "python",
            Self::Portable => "portable",
        }
    }

    /// The loader as people know it, for messages.
    #[must_use]
    pub fn loader(self) -> &'static str {
        match self {
            Self::Dotenvy => "dotenvy",
            Self::Compose => "docker compose",
            Self::Node => "Node dotenv",
            Self::Python => "python-dotenv",
            Self::Portable => "every loader",
        }
    }

    /// Whether the first of several entries with one key wins (dotenvy does not override
    /// a variable it already set) rather than the last.
    #[must_use]
    pub fn first_duplicate_wins(self) -> bool {
        matches!(self, Self::Dotenvy)
    }

    pub(crate) fn quote_rules(self) -> QuoteRules {
        QuoteRules {
            backtick: matches!(self, Self::Node | Self::Portable),
            single_quote_escapes: !matches!(self, Self::Dotenvy),
        }
    }

    /// Reads every entry of `doc` as this loader would, in file order. `env` is the
    /// process environment expansion may consult (`|_| None` for none).
    ///
    /// For [`Dialect::Portable`] this returns the first accepting loader's reading; use
    /// [`Dialect::read_all`] to see each loader's.
    #[must_use]
    pub fn read(self, doc: &Document, env: &dyn Fn(&str) -> Option<String>) -> Vec<Reading> {
        if self == Self::Portable {
            return portable_pick(Self::read_all(doc, env));
        }
        let track = doc.text().contains('$');
        let bom = doc.text().starts_with('\u{feff}');
        let mut file: FastMap<&str, Slot<'_>> = FastMap::default();
        let mut spent = 0usize;
        let mut out: Vec<Reading> = Vec::with_capacity(doc.items.len());
        for entry in doc.entries() {
            let plain = plain_value(&entry).filter(|_| !(bom && entry.raw.key.start == 3));
            let reading = match plain {
                Some(v) => Reading::Value(v.to_owned()),
                None => capped(
                    self.read_one(&entry, &Vars { file: &file, env }, bom),
                    &mut spent,
                ),
            };
            // Every loader's substitution table takes each line as it comes (even
            // dotenvy's, whose *loading* keeps the first duplicate).
            if track {
                match (plain, &reading) {
                    (Some(v), _) => {
                        file.insert(entry.key(), Slot::Plain(v));
                    }
                    (None, Reading::Value(v)) => {
                        file.insert(entry.key(), Slot::Read(v.clone()));
                    }
                    _ => {}
                }
            }
            out.push(reading);
        }
        out
    }

    /// One entry as this loader reads it (no plain-entry shortcut).
    pub(crate) fn read_one(self, entry: &Entry<'_>, vars: &Vars<'_>, bom: bool) -> Reading {
        if bom && self == Self::Dotenvy && entry.raw.key.start == 3 {
            // dotenvy 0.15.7 reads the BOM as part of the first key, which it rejects.
            return Reading::Rejected(
                "dotenvy rejects a UTF-8 byte-order mark before the first key".to_owned(),
            );
        }
        self.read_entry(entry, vars)
    }

    /// Each loader's readings: `[dotenvy, compose, node, python]`, each in file order.
    #[must_use]
    pub fn read_all(doc: &Document, env: &dyn Fn(&str) -> Option<String>) -> [Vec<Reading>; 4] {
        Self::LOADERS.map(|d| d.read(doc, env))
    }

    fn read_entry(self, entry: &Entry<'_>, vars: &Vars<'_>) -> Reading {
        let key = entry.key();
        let sep = entry.separator();
        let raw = entry.raw_value();
        match self {
            Self::Dotenvy => dotenvy::read(key, sep, raw, vars),
            Self::Compose => compose::read(key, sep, raw, vars),
            Self::Node => node::read(key, sep, raw),
            Self::Python => python::read(key, sep, raw, vars),
            Self::Portable => unreachable_portable(),
        }
    }

    /// Renders `KEY=value` so that this loader reads back exactly `value` (portable: so
    /// that every loader does). Fails for values the loader cannot represent.
    pub fn render_entry(self, key: &str, value: &str) -> Result<String, Unrepresentable> {
        render::render_entry(self, key, value)
    }
}

/// `KEY=value` where the key is `[A-Za-z_][A-Za-z0-9_]*` and the value has only
/// characters no loader treats specially (no quotes, `#`, `$`, `\\`, whitespace), or is
/// such text with spaces wrapped in one pair of `"` or `'` and nothing after: every
/// loader reads the text (inside the quotes) as it is, so the per-loader scanners can be
/// skipped. This is most lines of most files. Returns the value as read.
fn plain_value<'a>(entry: &Entry<'a>) -> Option<&'a str> {
    if entry.separator() != Some(Separator::Equals) {
        return None;
    }
    let key = entry.key().as_bytes();
    let key_ok = key
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if !key_ok {
        return None;
    }
    let raw = entry.raw_value();
    let (inner, quoted) = match raw.as_bytes() {
        [q @ (b'"' | b'\''), .., last] if last == q => (&raw[1..raw.len() - 1], true),
        _ => (raw, false),
    };
    inner
        .bytes()
        .all(|b| is_plain_byte(b) || (quoted && b == b' '))
        .then_some(inner)
}

/// A byte that no loader treats specially in an unquoted value.
pub(crate) fn is_plain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'_' | b'.'
                | b'/'
                | b':'
                | b'@'
                | b'%'
                | b'+'
                | b','
                | b'-'
                | b'='
                | b'?'
                | b'&'
                | b'*'
                | b';'
                | b'~'
                | b'^'
                | b'|'
                | b'!'
        )
}

fn unreachable_portable() -> Reading {
    // `read` handles Portable before dispatching; keep a harmless answer rather than a panic.
    Reading::Skipped("portable mode has no single reading".to_owned())
}

fn portable_pick(all: [Vec<Reading>; 4]) -> Vec<Reading> {
    let [a, b, c, d] = all;
    a.into_iter()
        .zip(b)
        .zip(c)
        .zip(d)
        .map(|(((a, b), c), d)| {
            [a, b, c, d]
                .into_iter()
                .find(|r| matches!(r, Reading::Value(_)))
                .unwrap_or(Reading::NoValue)
        })
        .collect()
}

/// Which separator rules a loader applies to a key; shared so each module says only what
/// differs.
pub(crate) fn is_colon(sep: Option<Separator>) -> bool {
    matches!(sep, Some(Separator::Colon))
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of [`Dialect::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect `{0}` (expected dotenvy, compose, node, python or portable)")]
pub struct UnknownDialect(String);

impl FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "dotenvy" | "dotenv" | "rust" => Self::Dotenvy,
            "compose" | "docker" | "docker-compose" => Self::Compose,
            "node" | "nodejs" | "js" => Self::Node,
            "python" | "python-dotenv" | "py" => Self::Python,
            "portable" | "all" => Self::Portable,
            _ => return Err(UnknownDialect(s.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line, each loader's reading (`None` = no value set).
    fn read(text: &str) -> [Option<String>; 4] {
        let doc = Document::parse("t", text);
        Dialect::read_all(&doc, &|_| None).map(|r| r[r.len() - 1].value().map(str::to_owned))
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn the_anchor_table_of_disagreements() {
        // [dotenvy, compose, node, python]
        assert_eq!(read("K=a #c"), [s("a"), s("a"), s("a"), s("a")]);
        assert_eq!(read("K=a#c"), [s("a#c"), s("a#c"), s("a"), s("a#c")]);
        // python-dotenv 1.2.4 (1.2.2 read `# c`).
        assert_eq!(read("K=   # c"), [s(""), s("# c"), s(""), s("")]);
        assert_eq!(read("K=#c"), [s(""), s("#c"), s(""), s("#c")]);
        assert_eq!(read("K=a b"), [None, s("a b"), s("a b"), s("a b")]);
        assert_eq!(
            read("K=\"a\\tb\""),
            [None, s("a\tb"), s("a\\tb"), s("a\tb")]
        );
        assert_eq!(
            read("K='${X:-d}'"),
            [s("${X:-d}"), s("${X:-d}"), s("${X:-d}"), s("d")]
        );
        assert_eq!(read("K=${X:-d}"), [s(""), s("d"), s("${X:-d}"), s("d")]);
        assert_eq!(
            read("K=\"x\ny\""),
            [s("x\ny"), s("x\ny"), s("x\ny"), s("x\ny")]
        );
        assert_eq!(read("K: v"), [None, s("v"), s("v"), None]);
        assert_eq!(read("FOO-BAR=1"), [None, s("1"), s("1"), s("1")]);
        assert_eq!(read("export K=v"), [s("v"), s("v"), s("v"), s("v")]);
    }

    #[test]
    fn expansion_sees_earlier_entries() {
        let doc = Document::parse("t", "A=x\nB=${A}y\nC=$A\n");
        let [dy, co, no, py] = Dialect::read_all(&doc, &|_| None);
        assert_eq!(dy[1].value(), Some("xy"));
        assert_eq!(co[1].value(), Some("xy"));
        assert_eq!(no[1].value(), Some("${A}y"));
        assert_eq!(py[1].value(), Some("xy"));
        assert_eq!(dy[2].value(), Some("x"));
        assert_eq!(py[2].value(), Some("$A"));
    }

    #[test]
    fn plain_fast_path_reads_as_every_loader_does() {
        let env = |_: &str| None;
        let file = FastMap::default();
        let vars = Vars {
            file: &file,
            env: &env,
        };
        for text in [
            "K=abc",
            "K=",
            "K=a=b:c/d?e&f;g~h^i|j!k",
            "K=\"hello world 1\"",
            "K='hello world 1'",
            "K=\"\"",
            "K=''",
            "K=\"x\"",
            "K=' a '",
            "_K9=\"postgres://u@h:5432/db?x=1\"",
        ] {
            let doc = Document::parse("t", text);
            let entry = doc.entries().next().unwrap();
            let fast = plain_value(&entry).unwrap_or_else(|| panic!("{text} is plain"));
            for d in Dialect::LOADERS {
                assert_eq!(
                    d.read_entry(&entry, &vars),
                    Reading::Value(fast.to_owned()),
                    "{d} reads {text}"
                );
            }
        }
        for text in [
            "K=\"a\\tb\"",
            "K='a' #c",
            "K=\"a\tb\"",
            "K=\"a#b\"",
            "K=\"$A\"",
            "K=a b",
            "K=\"a'",
            "K=\"",
            "K= \"a\"",
            "1K=a",
        ] {
            let doc = Document::parse("t", text);
            let entry = doc.entries().next().unwrap();
            assert_eq!(plain_value(&entry), None, "{text}");
        }
    }

    #[test]
    fn dialect_names_parse() {
        for d in Dialect::LOADERS.into_iter().chain([Dialect::Portable]) {
            assert_eq!(d.name().parse::<Dialect>(), Ok(d));
        }
        assert!("yaml".parse::<Dialect>().is_err());
    }
}
