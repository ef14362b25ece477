//! Reading a schema from an annotated `.env.example`: comment lines starting with `@`
//! directly above an entry are its directives, other comment lines directly above it
//! its description. A blank line ends a block, so section headers stay headers.

use std::borrow::Cow;

use super::{Condition, KeySpec, Schema, ValueType, types};
use crate::hash::FastMap;
use crate::parse::ItemKind;
use crate::{Dialect, Document, Entry, Finding, Reading, Rule};

/// One `@name` or `@name=value` with where it was written, borrowed from the line
/// unless it had to be unescaped.
struct Directive<'a> {
    name: Cow<'a, str>,
    value: Option<Cow<'a, str>>,
    at: usize,
}

impl Schema {
    /// Reads the schema from a template's directives. Problems (unknown directives, bad
    /// types, invalid defaults, directives attached to nothing) are findings, all of them.
    ///
    /// Values in the template are read as `dialect` reads them; a bare `@default` makes
    /// the template's value the key's default.
    #[must_use]
    pub fn from_template(doc: &Document, dialect: Dialect) -> (Schema, Vec<Finding>) {
        // Template values matter only for a bare `@default`: read them on first need.
        let readings: std::cell::OnceCell<Vec<Reading>> = std::cell::OnceCell::new();
        let mut schema = Schema {
            report_extra: true,
            ..Schema::default()
        };
        // At most one key per item; most templates are mostly keys and comments.
        schema.index.reserve(doc.items.len() / 2);
        schema.keys.reserve(doc.items.len() / 2);
        let mut findings = Vec::new();
        let mut pending: Vec<Directive<'_>> = Vec::new();
        // Templates repeat a handful of types: parse each spelling once.
        let mut types: FastMap<&str, Result<ValueType, String>> = FastMap::default();
        let mut description: Vec<String> = Vec::new();
        let mut entry_index = 0;
        let orphan = |findings: &mut Vec<Finding>, pending: &mut Vec<Directive<'_>>| {
            for d in pending.drain(..) {
                findings.push(
                    Finding::new(
                        Rule::InvalidDirective,
                        format!("`@{}` is not attached to a key", d.name),
                    )
                    .at(doc.location(d.at))
                    .help("put directives on the comment lines directly above the key, with no blank line between"),
                );
            }
        };
        for item in &doc.items {
            match &item.kind {
                ItemKind::Blank | ItemKind::TooLong => {
                    orphan(&mut findings, &mut pending);
                    description.clear();
                }
                ItemKind::Comment => {
                    let line = &doc.text()[item.range.start..item.content_end];
                    let hash = line.find('#').map_or(0, |i| i + 1);
                    let body = line[hash..].trim();
                    if body.starts_with('@') {
                        let base = item.range.start
                            + hash
                            + (line[hash..].len() - line[hash..].trim_start().len());
                        if let Err((msg, at)) = tokenize(body, base, &mut pending) {
                            findings.push(
                                Finding::new(Rule::InvalidDirective, msg).at(doc.location(at)),
                            );
                        }
                    } else {
                        description.push(body.to_owned());
                    }
                }
                ItemKind::Entry(raw) => {
                    let key = &doc.text()[raw.key.clone()];
                    let needs_reading = pending
                        .iter()
                        .any(|d| d.name == "default" && d.value.is_none());
                    let reading = if needs_reading {
                        readings
                            .get_or_init(|| dialect.read(doc, &|_| None))
                            .get(entry_index)
                    } else {
                        None
                    };
                    entry_index += 1;
                    let mut spec = KeySpec::new(key.to_owned());
                    spec.declared_at = Some(Entry { doc, item, raw }.location());
                    if !description.is_empty() {
                        spec.description = Some(std::mem::take(&mut description).join("\n"));
                    }
                    for d in pending.drain(..) {
                        if let Err(msg) = apply(&mut spec, &d, reading, &mut types) {
                            findings.push(
                                Finding::new(Rule::InvalidDirective, msg)
                                    .key(key)
                                    .at(doc.location(d.at)),
                            );
                        }
                    }
                    if let Some(default) = &spec.default
                        && let Err(why) = spec.ty.check(default)
                    {
                        findings.push(
                            Finding::new(
                                Rule::InvalidDefault,
                                format!("the default of `{key}` is invalid: {why}"),
                            )
                            .key(key)
                            .at(spec
                                .declared_at
                                .clone()
                                .unwrap_or_else(|| doc.location(raw.key.start))),
                        );
                        spec.default = None;
                    }
                    schema.push(spec);
                }
            }
        }
        orphan(&mut findings, &mut pending);
        (schema, findings)
    }
}

fn apply<'a>(
    spec: &mut KeySpec,
    d: &Directive<'a>,
    reading: Option<&Reading>,
    types: &mut FastMap<&'a str, Result<ValueType, String>>,
) -> Result<(), String> {
    let need = |what: &str| -> Result<&str, String> {
        d.value
            .as_deref()
            .ok_or_else(|| format!("`@{}` needs a value, as in @{}={what}", d.name, d.name))
    };
    let no_value = || -> Result<(), String> {
        match d.value {
            Some(_) => Err(format!("`@{}` takes no value", d.name)),
            None => Ok(()),
        }
    };
    match d.name.as_ref() {
        "required" => {
            no_value()?;
            spec.required = true;
        }
        "optional" => {
            no_value()?;
            spec.required = false;
        }
        "secret" | "sensitive" => {
            no_value()?;
            spec.secret = true;
        }
        "allow-empty" => {
            no_value()?;
            spec.allow_empty = true;
        }
        "type" => {
            need("url(postgres)")?;
            let text: &'a str = match &d.value {
                Some(Cow::Borrowed(s)) => s,
                _ => {
                    spec.ty = need("url(postgres)")?.parse::<ValueType>()?;
                    return Ok(());
                }
            };
            spec.ty = types.entry(text).or_insert_with(|| text.parse()).clone()?;
        }
        "default" => {
            spec.default = Some(match &d.value {
                Some(v) => v.to_string(),
                None => match reading {
                    Some(Reading::Value(v)) => v.clone(),
                    _ => return Err("bare `@default` needs a value on the key's line".to_owned()),
                },
            });
        }
        "pattern" => {
            spec.pattern = Some(types::compile_pattern(need("\"^[a-z]+$\"")?)?);
        }
        "required-if" => {
            spec.required_if
                .push(Condition::parse(need("OTHER_KEY=value")?)?);
        }
        "when" => {
            let v = need("OTHER_KEY=value:allowed|allowed")?;
            let (cond, allowed) = v.rsplit_once(':').ok_or_else(|| {
                "`@when` needs `:allowed` values, as in @when=ENV=production:false".to_owned()
            })?;
            let allowed: Vec<String> = allowed.split('|').map(|s| s.trim().to_owned()).collect();
            if allowed.iter().any(String::is_empty) {
                return Err("`@when` has an empty allowed value".to_owned());
            }
            spec.when.push((Condition::parse(cond)?, allowed));
        }
        "wait" => {
            spec.wait = Some(match d.value.as_deref() {
                None => None,
                Some(kind)
                    if !kind.is_empty()
                        && kind
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
                {
                    Some(kind.to_owned())
                }
                Some(_) => {
                    return Err(
                        "`@wait` takes an optional probe kind in lowercase letters, digits and `-`, as in @wait=questdb"
                            .to_owned(),
                    );
                }
            });
        }
        other => {
            return Err(format!(
                "unknown directive `@{other}` (expected required, optional, secret, type, default, pattern, allow-empty, required-if, when or wait)"
            ));
        }
    }
    Ok(())
}

/// Splits `@a @b=value @c="quoted value" @type=url(x, y)` into directives. `base` is the
/// byte offset of `body` in the document, for locations.
fn tokenize<'a>(
    body: &'a str,
    base: usize,
    out: &mut Vec<Directive<'a>>,
) -> Result<(), (String, usize)> {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let at = base + i;
        if b[i] != b'@' {
            return Err((
                "directive lines hold only `@name` or `@name=value` items".to_owned(),
                at,
            ));
        }
        let start = i + 1;
        let mut j = start;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b'_') {
            j += 1;
        }
        let raw_name = &body[start..j];
        let name = if raw_name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(raw_name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(raw_name)
        };
        if name.is_empty() {
            return Err(("`@` must be followed by a directive name".to_owned(), at));
        }
        let mut value = None;
        if j < b.len() && b[j] == b'=' {
            j += 1;
            if j < b.len() && b[j] == b'"' {
                let mut v = String::new();
                j += 1;
                loop {
                    match b.get(j) {
                        None => {
                            return Err((
                                format!("`@{name}` has an unterminated quoted value"),
                                at,
                            ));
                        }
                        Some(b'\\') if matches!(b.get(j + 1), Some(b'"' | b'\\')) => {
                            v.push(b[j + 1] as char);
                            j += 2;
                        }
                        Some(b'"') => {
                            j += 1;
                            break;
                        }
                        Some(_) => {
                            let ch = body[j..].chars().next().unwrap_or('\u{FFFD}');
                            v.push(ch);
                            j += ch.len_utf8();
                        }
                    }
                }
                value = Some(Cow::Owned(v));
            } else {
                let vs = j;
                let mut depth = 0i32;
                while j < b.len() && (depth > 0 || !b[j].is_ascii_whitespace()) {
                    match b[j] {
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                value = Some(Cow::Borrowed(&body[vs..j]));
            }
        }
        out.push(Directive { name, value, at });
        i = j;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> (Schema, Vec<Finding>) {
        Schema::from_template(&Document::parse(".env.example", text), Dialect::Portable)
    }

    #[test]
    fn directives_attach_to_the_next_key() {
        let (s, f) = schema(
            "# Database\n\n# Main database.\n# @required @secret @type=url(postgres, postgresql)\nDATABASE_URL=\n# @type=port @default\nPORT=8000\n# @type=bool @when=DJANGO_ENV=production:false\nDEBUG=false\n# @pattern=\"^[a-z ]+$\" @required-if=DEBUG=true\nNAME=x\n",
        );
        assert!(f.is_empty(), "{f:?}");
        let db = s.get("DATABASE_URL").unwrap();
        assert!(db.required && db.secret);
        assert_eq!(db.ty.to_string(), "url(postgres,postgresql)");
        assert_eq!(db.description.as_deref(), Some("Main database."));
        assert_eq!(db.declared_at.as_ref().map(|l| l.line), Some(5));
        assert_eq!(s.get("PORT").unwrap().default.as_deref(), Some("8000"));
        assert_eq!(s.get("DEBUG").unwrap().when[0].1, vec!["false".to_owned()]);
        let name = s.get("NAME").unwrap();
        assert!(name.pattern.as_ref().unwrap().is_match("a b"));
        assert_eq!(name.required_if[0], Condition::equals("DEBUG", "true"));
    }

    #[test]
    fn wait_directive_records_the_probe_kind() {
        let (s, f) = schema(
            "# @wait @type=url(postgres)\nDATABASE_URL=\n# @wait=questdb\nQDB_HOST=q\nPORT=1\n# @wait=Bad!\nX=1\n",
        );
        let got: Vec<_> = f.iter().map(|f| f.rule.id()).collect();
        assert_eq!(got, ["invalid-directive"], "{f:?}");
        assert_eq!(s.get("DATABASE_URL").unwrap().wait, Some(None));
        assert_eq!(
            s.get("QDB_HOST").unwrap().wait,
            Some(Some("questdb".to_owned()))
        );
        assert_eq!(s.get("PORT").unwrap().wait, None);
        let again = schema(&s.render_template()).0;
        assert_eq!(
            again.get("QDB_HOST").unwrap().wait,
            Some(Some("questdb".to_owned()))
        );
    }

    #[test]
    fn every_bad_directive_is_a_finding() {
        let (_, f) = schema(
            "# @type=nope\nA=1\n# @frobnicate\nB=2\n# @type=port @default\nC=99999\n# @required\n\nD=1\n# @when=X\nE=1\n",
        );
        let got: Vec<_> = f
            .iter()
            .map(|f| (f.rule.id().to_owned(), f.location.as_ref().unwrap().line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("invalid-directive".to_owned(), 1),
                ("invalid-directive".to_owned(), 3),
                ("invalid-default".to_owned(), 6),
                ("invalid-directive".to_owned(), 7),
                ("invalid-directive".to_owned(), 10),
            ]
        );
    }
}
