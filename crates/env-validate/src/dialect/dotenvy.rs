//! dotenvy 0.15.7 (`parse.rs`): a strict key, `=` required, unquoted whitespace is an
//! error unless a `#` comment follows, escapes `\\ \' \" \$ \␠ \n` only (in double quotes
//! and unquoted), `$NAME` / `${NAME}` expansion with the process environment first.
//! `${NAME:-default}` is not supported: dotenvy looks up a variable literally named
//! `NAME:-default`, which gives `""`.

use super::{MAX_VALUE, Reading, TOO_LONG, Vars, is_colon};
use crate::Separator;

pub(super) fn read(key: &str, sep: Option<Separator>, raw: &str, vars: &Vars<'_>) -> Reading {
    let mut chars = key.chars();
    let valid_key = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid_key {
        return Reading::Rejected(
            "dotenvy accepts only keys like [A-Za-z_][A-Za-z0-9_.]*".to_owned(),
        );
    }
    if sep.is_none() || is_colon(sep) {
        return Reading::Rejected("dotenvy requires `=` after the key".to_owned());
    }
    let value = cut_comment(raw).trim();
    if value.is_empty() || value.starts_with('#') {
        return Reading::Value(String::new());
    }
    match parse_value(value, vars) {
        Ok(v) => Reading::Value(v),
        Err(why) => Reading::Rejected(why.to_owned()),
    }
}

/// dotenvy's line reader (`iter.rs`, `eval_end_state`) drops a `#` comment that follows
/// whitespace outside quotes before the value is parsed, so `$A # note` is `$A`.
fn cut_comment(raw: &str) -> &str {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Complete,
        Space,
        Escape,
        Weak,
        WeakEscape,
        Strong,
        StrongEscape,
    }
    let mut s = S::Complete;
    for (i, c) in raw.char_indices() {
        s = match s {
            S::Space if c == '#' => return &raw[..i],
            S::Space | S::Complete => match c {
                '\\' => S::Escape,
                '"' => S::Weak,
                '\'' => S::Strong,
                c if s == S::Complete && c.is_whitespace() && c != '\n' && c != '\r' => S::Space,
                _ => S::Complete,
            },
            S::Escape => S::Complete,
            S::Weak => match c {
                '\\' => S::WeakEscape,
                '"' => S::Complete,
                _ => S::Weak,
            },
            S::WeakEscape => S::Weak,
            S::Strong => match c {
                '\\' => S::StrongEscape,
                '\'' => S::Complete,
                _ => S::Strong,
            },
            S::StrongEscape => S::Strong,
        };
    }
    raw
}

#[derive(PartialEq)]
enum Subst {
    None,
    Block,
    Braced,
}

fn parse_value(input: &str, vars: &Vars<'_>) -> Result<String, &'static str> {
    let mut strong = false;
    let mut weak = false;
    let mut escaped = false;
    let mut expecting_end = false;
    let mut out = String::with_capacity(input.len());
    let mut mode = Subst::None;
    let mut name = String::new();
    for c in input.chars() {
        if out.len() > MAX_VALUE {
            return Err(TOO_LONG);
        }
        if expecting_end {
            if c == ' ' || c == '\t' {
                continue;
            } else if c == '#' {
                break;
            }
            return Err("dotenvy rejects unquoted whitespace inside a value");
        } else if escaped {
            match c {
                '\\' | '\'' | '"' | '$' | ' ' => out.push(c),
                'n' => out.push('\n'),
                _ => {
                    return Err(
                        "dotenvy supports only the escapes \\\\ \\' \\\" \\$ \\n and an escaped space",
                    );
                }
            }
            escaped = false;
        } else if strong {
            if c == '\'' {
                strong = false;
            } else {
                out.push(c);
            }
        } else if mode != Subst::None {
            if c.is_alphanumeric() {
                name.push(c);
            } else if mode == Subst::Block {
                if c == '{' && name.is_empty() {
                    mode = Subst::Braced;
                } else {
                    substitute(vars, &std::mem::take(&mut name), &mut out);
                    if c == '$' {
                        mode = Subst::Block;
                    } else {
                        mode = Subst::None;
                        out.push(c);
                    }
                }
            } else if c == '}' {
                mode = Subst::None;
                substitute(vars, &std::mem::take(&mut name), &mut out);
            } else {
                name.push(c);
            }
        } else if c == '$' {
            mode = Subst::Block;
        } else if weak {
            if c == '"' {
                weak = false;
            } else if c == '\\' {
                escaped = true;
            } else {
                out.push(c);
            }
        } else if c == '\'' {
            strong = true;
        } else if c == '"' {
            weak = true;
        } else if c == '\\' {
            escaped = true;
        } else if c == ' ' || c == '\t' {
            expecting_end = true;
        } else {
            out.push(c);
        }
    }
    if mode == Subst::Braced {
        return Err("dotenvy rejects a `${` that is never closed");
    }
    if strong || weak {
        return Err("dotenvy rejects an unterminated quote");
    }
    substitute(vars, &name, &mut out);
    Ok(out)
}

fn substitute(vars: &Vars<'_>, name: &str, out: &mut String) {
    if name.is_empty() {
        return;
    }
    if let Some(v) = vars.env_then_file(name) {
        out.push_str(&v);
    }
}
