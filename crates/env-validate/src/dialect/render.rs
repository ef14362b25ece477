//! Writing `KEY=value` so that a loader reads back exactly `value`: bare when nothing in
//! it needs quoting, single quotes when the loader takes them literally, else the
//! loader's own double-quote escapes (Node: backticks). Values a loader cannot represent
//! are refused, never written wrongly.

use super::Dialect;

/// A value (or key) that a loader cannot read back exactly, whatever the quoting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{dialect} cannot represent this value exactly: {reason}")]
#[non_exhaustive]
pub struct Unrepresentable {
    /// The loader.
    pub dialect: Dialect,
    /// Why (never the value itself).
    pub reason: &'static str,
}

fn bare_safe(v: &str) -> bool {
    !v.is_empty()
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'.' | b'/' | b':' | b'@' | b'%' | b'+' | b',' | b'-' | b'='
                )
        })
}

fn python_expands(v: &str) -> bool {
    v.find("${").is_some_and(|i| v[i..].contains('}'))
}

pub(super) fn render_entry(
    dialect: Dialect,
    key: &str,
    value: &str,
) -> Result<String, Unrepresentable> {
    let fail = |reason| Err(Unrepresentable { dialect, reason });
    let mut k = key.chars();
    if !(k
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return fail("the key is not of the form [A-Za-z_][A-Za-z0-9_]*");
    }
    if value.is_empty() || bare_safe(value) {
        return Ok(format!("{key}={value}"));
    }
    if value.contains('\r') {
        return fail("carriage returns do not survive line splitting");
    }
    let expands = matches!(dialect, Dialect::Python | Dialect::Portable) && python_expands(value);
    let single_ok = !(value.contains(['\'', '\\']) || expands);
    if single_ok {
        return Ok(format!("{key}='{value}'"));
    }
    let mut out = format!("{key}=");
    match dialect {
        Dialect::Portable => return fail("no quoting reads the same in every loader"),
        Dialect::Node => {
            if value.contains('`') {
                return fail("Node dotenv has no escape for a value with every quote character");
            }
            // Node's quote regex takes the `\\`` that would end such a value as escaped.
            if value.ends_with('\\') {
                return fail("Node dotenv cannot read a quoted value that ends with a backslash");
            }
            out.push('`');
            out.push_str(value);
            out.push('`');
        }
        Dialect::Python if python_expands(value) => {
            return fail("python-dotenv always expands `${…}` and has no escape for it");
        }
        Dialect::Dotenvy | Dialect::Compose | Dialect::Python => {
            out.push('"');
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '$' if dialect != Dialect::Python => out.push_str("\\$"),
                    '\t' if dialect != Dialect::Dotenvy => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
    }
    Ok(out)
}
