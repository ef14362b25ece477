//! Docker Compose v2 (compose-go `dotenv/parser.go` + `template`): keys of letters,
//! digits and `_ . - [ ]`; `=` or `:`; a key alone copies the host's variable; leading
//! whitespace of a value is dropped; an unquoted value loses a ` #…` comment (a `#`
//! without a space before it stays); double quotes unescape `\a \b \f \n \r \t \v \\ \"
//! \$` and interpolate; single quotes are literal (`\'` aside). Interpolation is the
//! shell's: `$$`, `$NAME`, `${NAME:-d}`, `${NAME:?e}`, `${NAME:+a}` and the colon-less
//! forms, with the host environment winning over earlier lines. Errors stop the load.

use super::{Reading, Vars, expand};
use crate::Separator;

pub(super) fn read(key: &str, sep: Option<Separator>, raw: &str, vars: &Vars<'_>) -> Reading {
    if key
        .chars()
        .any(|c| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')))
    {
        return Reading::Rejected(
            "docker compose accepts only letters, digits and `_ . - [ ]` in a variable name"
                .to_owned(),
        );
    }
    if key.is_empty() {
        return Reading::Rejected("docker compose rejects an empty variable name".to_owned());
    }
    if sep.is_none() {
        return Reading::Inherit;
    }
    match value(raw, vars) {
        Ok(v) => Reading::Value(v),
        Err(why) => Reading::Rejected(why),
    }
}

fn is_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ' | '\u{85}' | '\u{a0}')
}

fn value(raw: &str, vars: &Vars<'_>) -> Result<String, String> {
    let t = raw.trim_start_matches(is_space);
    let q = match t.chars().next() {
        Some(q @ ('"' | '\'')) => q,
        _ => {
            let line = t.split('\n').next().unwrap_or("");
            let line = line.find(" #").map_or(line, |i| &line[..i]);
            return expand::compose(line.trim_end(), vars);
        }
    };
    let b = t.as_bytes();
    let qb = q as u8;
    let mut i = 1;
    let close = loop {
        match b.get(i) {
            None => return Err("docker compose rejects an unterminated quoted value".to_owned()),
            Some(&b'\\') if b.get(i + 1).is_some() => i += 2,
            Some(&c) if c == qb => break i,
            Some(_) => i += 1,
        }
    };
    let rest = t[close + 1..].split('\n').next().unwrap_or("");
    let rest = rest.trim_start_matches(is_space);
    if !(rest.is_empty() || rest.starts_with('#')) {
        return Err(
            "docker compose reads the text after the closing quote as another variable".to_owned(),
        );
    }
    let content = &t[1..close];
    if q == '\'' {
        return Ok(content.replace("\\'", "'"));
    }
    expand::compose(&unescape(content), vars)
}

/// Shell escapes of a double-quoted value. `\$` becomes `$$` so that interpolation, which
/// runs next, yields a literal `$`.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\x0b'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('$') => out.push_str("$$"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
