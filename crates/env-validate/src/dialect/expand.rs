//! `${…}` expansion as compose-go and python-dotenv do it. dotenvy's expansion is part of
//! its value scanner (`dotenvy.rs`); Node's `dotenv` does not expand.

use super::{MAX_VALUE, TOO_LONG, Vars};

/// Compose: `$$`, `$NAME`, `${NAME}`, `${NAME:-d}`, `${NAME-d}`, `${NAME:?e}`,
/// `${NAME?e}`, `${NAME:+a}`, `${NAME+a}`; the host environment wins over earlier lines;
/// an unset name is `""`. Errors name the variable, never a value.
pub(super) fn compose(input: &str, vars: &Vars<'_>) -> Result<String, String> {
    compose_at(input, vars, 0)
}

/// How deeply `${A:-${B:-…}}` defaults may nest: far beyond any real file, well inside the
/// stack (each level recurses).
const MAX_NESTING: usize = 64;

fn compose_at(input: &str, vars: &Vars<'_>, depth: usize) -> Result<String, String> {
    if depth > MAX_NESTING {
        return Err(format!(
            "`${{…}}` references nest more than {MAX_NESTING} deep"
        ));
    }
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
                out.push_str(&compose_braced(inner, vars, depth)?);
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

fn compose_braced(inner: &str, vars: &Vars<'_>, depth: usize) -> Result<String, String> {
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
    // The messages below never quote the text inside `${…}`: in a secret's value it is
    // part of the secret (`Kx9${Qv7top!}z`). They say what is wrong instead.
    let Some(op) = op_rest.chars().next() else {
        return Err("a `${NAME:…}` reference has no operator after the `:`".to_owned());
    };
    // `op` may be any character (`${Xé}`): slice by its length, not by one byte.
    let arg = &op_rest[op.len_utf8()..];
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
                compose_at(arg, vars, depth + 1)
            }
        }
        '+' => {
            if set {
                compose_at(arg, vars, depth + 1)
            } else {
                Ok(String::new())
            }
        }
        '?' => {
            if set {
                Ok(value.unwrap_or_default())
            } else {
                Err("a variable required by a `${NAME?…}` reference is unset".to_owned())
            }
        }
        _ => Err(
            "a `${…}` reference has an unknown operator (expected `-`, `+` or `?`, \
             optionally after `:`)"
                .to_owned(),
        ),
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

#[cfg(test)]
mod tests {
    use crate::dialect::{Dialect, Reading};
    use crate::parse::Document;

    fn compose_reading(text: &str) -> Reading {
        let doc = Document::parse("t", text);
        let [_, compose, _, _] = Dialect::read_all(&doc, &|_| None);
        compose.into_iter().last().unwrap()
    }

    #[test]
    fn a_non_ascii_operator_is_an_error_not_a_panic() {
        // Before: `&op_rest[1..]` sliced inside `é` and panicked.
        for text in ["A=${Xé}", "A=${X:é}", "A=${X😀d}", "A=${X:}"] {
            let doc = Document::parse("t", text);
            let _ = Dialect::read_all(&doc, &|_| None);
            assert!(
                matches!(compose_reading(text), Reading::Rejected(_)),
                "{text}"
            );
        }
    }

    #[test]
    fn errors_never_quote_what_is_inside_the_braces() {
        // Before: "`${Qv7topsecret…}` has an unknown operator" echoed part of a password.
        for text in [
            "DB_PASSWORD=Kx9${Qv7topsecret!}z",
            "DB_PASSWORD=Kx9${Qv7topsecret:}z",
            "DB_PASSWORD=Kx9${Qv7topsecret:?}z",
            "DB_PASSWORD=Kx9${Qv7topsecret?Qv7more}z",
        ] {
            let Reading::Rejected(message) = compose_reading(text) else {
                panic!("{text} is not rejected");
            };
            assert!(!message.contains("Qv7"), "{text}: {message}");
        }
    }
}
