//! `${…}` expansion as compose-go and python-dotenv do it. dotenvy's expansion is part of
//! its value scanner (`dotenvy.rs`); Node's `dotenv` does not expand.

use super::{MAX_VALUE, TOO_LONG, Vars};

/// Compose: `$$`, `$NAME`, `${NAME}`, `${NAME:-d}`, `${NAME-d}`, `${NAME:?e}`,
/// `${NAME?e}`, `${NAME:+a}`, `${NAME+a}`; the host environment wins over earlier lines;
/// an unset name is `""`. Errors name the variable, never a value.
pub(super) fn compose(input: &str, vars: &Vars<'_>) -> Result<String, String> {
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    let mut lit = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&input[lit..i]);
        let next = b.get(i + 1).copied();
        match next {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let Some(close) = matching_brace(b, i + 2) else {
                    return Err("a `${` is never closed".to_owned());
                };
                let inner = &input[i + 2..close];
                out.push_str(&compose_braced(inner, vars)?);
                if out.len() > MAX_VALUE {
                    return Err(TOO_LONG.to_owned());
                }
                i = close + 1;
            }
            Some(c) if c == b'_' || c.is_ascii_alphabetic() => {
                let end = name_end(b, i + 1);
                let name = &input[i + 1..end];
                out.push_str(&vars.env_then_file(name).unwrap_or_default());
                if out.len() > MAX_VALUE {
                    return Err(TOO_LONG.to_owned());
                }
                i = end;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
        lit = i;
    }
    out.push_str(&input[lit..]);
    Ok(out)
}

fn name_end(b: &[u8], from: usize) -> usize {
    let mut j = from;
    while j < b.len() && (b[j] == b'_' || b[j].is_ascii_alphanumeric()) {
        j += 1;
    }
    j
}

fn matching_brace(b: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = from;
    while j < b.len() {
        match b[j] {
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(j),
            b'}' => depth -= 1,
            _ => {}
        }
        j += 1;
    }
    None
}

fn compose_braced(inner: &str, vars: &Vars<'_>) -> Result<String, String> {
    let b = inner.as_bytes();
    if b.is_empty() || !(b[0] == b'_' || b[0].is_ascii_alphabetic()) {
        return Err("a `${…}` reference has an invalid variable name".to_owned());
    }
    let end = name_end(b, 0);
    let name = &inner[..end];
    let rest = &inner[end..];
    let value = vars.env_then_file(name);
    let (colon, op_rest) = match rest.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() {
        return Ok(value.unwrap_or_default());
    }
    let Some(op) = op_rest.chars().next() else {
        return Err(format!("`${{{name}:}}` has no operator"));
    };
    let arg = &op_rest[1..];
    // With `:` an empty value counts as unset, as in the shell.
    let set = match &value {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    match op {
        '-' => {
            if set {
                Ok(value.unwrap_or_default())
            } else {
                compose(arg, vars)
            }
        }
        '+' => {
            if set {
                compose(arg, vars)
            } else {
                Ok(String::new())
            }
        }
        '?' => {
            if set {
                Ok(value.unwrap_or_default())
            } else {
                Err(format!(
                    "required variable `{name}` is unset (`${{{name}?…}}`)"
                ))
            }
        }
        _ => Err(format!("`${{{name}…}}` has an unknown operator")),
    }
}

/// python-dotenv: only `${NAME}` and `${NAME:-default}`; earlier lines of the file win over
/// the process environment (`dotenv_values` semantics); a set-but-empty variable does not
/// take the default.
pub(super) fn python(input: &str, vars: &Vars<'_>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find("${") {
        let after = &rest[pos + 2..];
        // The name is `[^}:]*`, then an optional `:-default` with `[^}]*`.
        let Some(close) = after.find('}') else { break };
        let body = &after[..close];
        let (name, default) = match body.find(':') {
            Some(c) => match body[c..].strip_prefix(":-") {
                Some(d) => (&body[..c], Some(d)),
                None => {
                    // Not a valid reference: the text stays as it is.
                    out.push_str(&rest[..pos + 2]);
                    rest = after;
                    continue;
                }
            },
            None => (body, None),
        };
        out.push_str(&rest[..pos]);
        let value = vars
            .file_then_env(name)
            .unwrap_or_else(|| default.unwrap_or("").to_owned());
        out.push_str(&value);
        if out.len() > MAX_VALUE {
            // The caller rejects a value over the cap; stop growing it.
            return out;
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}
