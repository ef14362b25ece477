//! python-dotenv 1.2.4 (`parser.py`, `main.py`): keys `[^=#\s]+`, horizontal whitespace
//! after `=` is skipped, and a `#` after such whitespace makes the value empty (`K=  # c`;
//! 1.2.2 read `# c`); `'…'` and `"…"` may span lines, a backslash inside them always
//! escapes the next character when looking for the closing quote (1.2.2 only skipped an
//! escaped quote, so `"a\\"` ran on); `\\` and `\'` are unescaped in single quotes,
//! `\\ \' \" \a \b \f \n \r \t \v` in double quotes; an unquoted value loses a ` #…`
//! comment and trailing whitespace but keeps a `#` with no space before it. `${NAME}` /
//! `${NAME:-default}` expand everywhere, single quotes included. A leading UTF-8 BOM is
//! dropped (1.2.4). A line it cannot parse is skipped with a logged warning.

use super::{Reading, Vars, expand};
use crate::Separator;

pub(super) fn read(key: &str, sep: Option<Separator>, raw: &str, vars: &Vars<'_>) -> Reading {
    let valid_key = !key.is_empty() && !key.contains(|c: char| c == '#' || c.is_whitespace());
    match sep {
        _ if !valid_key => Reading::Skipped(
            "python-dotenv skips the line: a key cannot contain whitespace or `#`".to_owned(),
        ),
        None => Reading::NoValue,
        Some(Separator::Colon) => {
            Reading::Skipped("python-dotenv skips `KEY: value` lines".to_owned())
        }
        Some(Separator::Equals) => match value(raw) {
            Ok(v) => Reading::Value(expand::python(&v, vars)),
            Err(why) => Reading::Skipped(why.to_owned()),
        },
    }
}

fn value(raw: &str) -> Result<String, &'static str> {
    let t = raw.trim_start_matches(|c: char| c.is_whitespace() && c != '\n' && c != '\r');
    if t.len() < raw.len() && t.starts_with('#') {
        return Ok(String::new());
    }
    let (content, rest, q) = match t.chars().next() {
        Some(q @ ('\'' | '"')) => {
            let b = t.as_bytes();
            let qb = q as u8;
            let mut i = 1;
            let close = loop {
                match b.get(i) {
                    None => return Err("python-dotenv skips a value whose quote is never closed"),
                    Some(&b'\\') if b.get(i + 1).is_some() => i += 2,
                    Some(&c) if c == qb => break i,
                    Some(_) => i += 1,
                }
            };
            (&t[1..close], &t[close + 1..], q)
        }
        _ => {
            let line = t.split(['\r', '\n']).next().unwrap_or("");
            return Ok(strip_comment(line).trim_end().to_owned());
        }
    };
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() && c != '\n' && c != '\r');
    if !(rest.is_empty() || rest.starts_with('#')) {
        return Err("python-dotenv skips a line with text after the closing quote");
    }
    Ok(unescape(content, q))
}

/// `re.sub(r"\s+#.*", "", part)`: a `#` starts a comment only after whitespace.
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && i > 0 && (b[i - 1] as char).is_ascii_whitespace() {
            let mut s = i;
            while s > 0 && (b[s - 1] as char).is_ascii_whitespace() {
                s -= 1;
            }
            return &line[..s];
        }
    }
    line
}

fn unescape(v: &str, q: char) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let next = chars.peek().copied();
        let decoded = match (q, next) {
            (_, Some('\\')) => Some('\\'),
            (_, Some('\'')) => Some('\''),
            ('"', Some('"')) => Some('"'),
            ('"', Some('a')) => Some('\x07'),
            ('"', Some('b')) => Some('\x08'),
            ('"', Some('f')) => Some('\x0c'),
            ('"', Some('n')) => Some('\n'),
            ('"', Some('r')) => Some('\r'),
            ('"', Some('t')) => Some('\t'),
            ('"', Some('v')) => Some('\x0b'),
            _ => None,
        };
        match decoded {
            Some(d) => {
                out.push(d);
                chars.next();
            }
            None => out.push('\\'),
        }
    }
    out
}
