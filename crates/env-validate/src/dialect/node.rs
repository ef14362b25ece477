//! Node `dotenv` 17/18, default parser (`lib/main.js` `LINE` regex): keys `[\w.-]+`,
//! `=` or `: `, values in `'…'`, `"…"` or `` `…` `` (multi-line), an unquoted value ends
//! at the first `#` (even without a space before it), only `\n` and `\r` are unescaped,
//! and only in double quotes; no expansion. Lines it cannot match are skipped silently.

use super::{Reading, is_colon};
use crate::Separator;

pub(super) fn read(key: &str, sep: Option<Separator>, raw: &str) -> Reading {
    let valid_key = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !valid_key {
        return Reading::Skipped(
            "Node dotenv skips the line: its keys are [A-Za-z0-9_.-]+".to_owned(),
        );
    }
    let Some(_) = sep else {
        return Reading::NoValue;
    };
    if is_colon(sep) && !raw.starts_with([' ', '\t']) {
        return Reading::Skipped("Node dotenv needs whitespace after `:`".to_owned());
    }
    Reading::Value(value(raw))
}

/// Applies the regex alternatives in their order: a quoted value whose closing quote is
/// followed only by whitespace and a comment (the longest such), else everything up to
/// the first `#`.
fn value(raw: &str) -> String {
    let t = raw.trim_start();
    if let Some(q) = t.chars().next().filter(|c| matches!(c, '\'' | '"' | '`'))
        && let Some(v) = quoted(t, q)
    {
        return unescape(v, q);
    }
    let cut = raw.find('#').unwrap_or(raw.len());
    let v = raw[..cut].trim();
    let first = v.chars().next();
    let stripped = match first {
        Some(q @ ('\'' | '"' | '`')) if v.len() >= 2 && v.ends_with(q) => &v[1..v.len() - 1],
        _ => v,
    };
    match first {
        Some(q) => unescape(stripped, q),
        None => String::new(),
    }
}

/// The content of the longest `q…q` prefix (where `\q` does not close) that is followed
/// only by whitespace and an optional `#` comment up to the end of its line.
fn quoted(t: &str, q: char) -> Option<&str> {
    let b = t.as_bytes();
    let qb = q as u8;
    // `(?:\\q|[^q])*` cannot pass an unescaped quote: only the first one can close.
    let mut i = 1;
    let first = loop {
        match b.get(i) {
            None => return None,
            Some(&b'\\') if b.get(i + 1) == Some(&qb) => i += 2,
            Some(&c) if c == qb => break i,
            Some(_) => i += 1,
        }
    };
    let rest = &t[first + 1..];
    let line_rest = rest.split('\n').next().unwrap_or("").trim_start();
    let ok = line_rest.is_empty() || line_rest.starts_with('#');
    ok.then(|| &t[1..first])
}

fn unescape(v: &str, q: char) -> String {
    if q == '"' && v.contains('\\') {
        v.replace("\\n", "\n").replace("\\r", "\r")
    } else {
        v.to_owned()
    }
}
