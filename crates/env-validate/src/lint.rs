//! Lints: dotenv-linter 4.0's checks (same names, see [`Rule::dotenv_linter_check`]),
//! over the lossless document. One pass, hash map for duplicates, adjacent comparison for
//! order: linear in the file, whatever its size. Never reads a value into a message.

use std::collections::hash_map::Entry;

use crate::hash::FastMap;
use crate::parse::{Item, ItemKind, RawEntry};
use crate::{Document, Finding, Rule, Separator};

pub(crate) fn lint(doc: &Document) -> Vec<Finding> {
    let mut out = Vec::new();
    let text = doc.text();
    let bytes = text.as_bytes();
    // Room for the entries, not every item: a template is half comments.
    let mut seen: FastMap<&str, u32> =
        FastMap::with_capacity_and_hasher(doc.entries().count(), Default::default());
    let mut prev_blank = false;
    let mut prev_key: Option<&str> = None;
    let mut control = Control::default();
    let mut mark = 0;
    for item in &doc.items {
        // Findings of the previous item are filtered with the state it was linted under.
        control.drop_disabled(&mut out, mark);
        mark = out.len();
        if let ItemKind::Comment = item.kind {
            control.update(&text[item.range.start..item.content_end]);
        }
        let finding = |rule: Rule, msg: String, at: usize| {
            Finding::new(rule, msg)
                .at(doc.location(at))
                .snippet(Some(doc.snippet(item, at)))
        };
        trailing_whitespace(doc, item, &mut out);
        match &item.kind {
            ItemKind::Blank => {
                if prev_blank {
                    out.push(finding(
                        Rule::ExtraBlankLine,
                        "extra blank line".to_owned(),
                        item.range.start,
                    ));
                }
                prev_blank = true;
                prev_key = None;
                continue;
            }
            ItemKind::Comment | ItemKind::TooLong => {}
            ItemKind::Entry(raw) if raw.sep.is_none() => {
                // A line without `=` may be a pasted value: never echo it as a key.
                out.push(finding(
                    Rule::KeyWithoutValue,
                    "the line has no `=`: some loaders ignore it, compose copies a host variable of that name".to_owned(),
                    item.range.start,
                ));
                prev_key = None;
            }
            ItemKind::Entry(raw) => {
                let key = &text[raw.key.clone()];
                let f = |rule, msg: String| finding(rule, msg, raw.key.start).key(key);
                key_rules(key, &f, &mut out);
                match raw.sep {
                    None => {}
                    Some((kind, sep)) => {
                        if sep > 0 && matches!(bytes[sep - 1], b' ' | b'\t') && sep > raw.key.end {
                            out.push(
                                finding(
                                    Rule::SpaceCharacter,
                                    "whitespace before the separator".to_owned(),
                                    raw.key.end,
                                )
                                .key(key),
                            );
                        }
                        let after = &text[raw.value.clone()];
                        // `KEY: value` needs the space; only `=` is checked after.
                        if kind == Separator::Equals
                            && after.starts_with([' ', '\t'])
                            && !after.trim().is_empty()
                        {
                            out.push(
                                finding(
                                    Rule::SpaceCharacter,
                                    "whitespace after the separator".to_owned(),
                                    sep + 1,
                                )
                                .key(key),
                            );
                        }
                        value_rules(doc, item, raw, key, &mut out);
                    }
                }
                match seen.entry(key) {
                    Entry::Occupied(first) => out.push(f(
                        Rule::DuplicatedKey,
                        format!("`{key}` is set again (first on line {}); dotenvy keeps the first value, the other loaders the last", first.get()),
                    )),
                    Entry::Vacant(slot) => {
                        slot.insert(item.line);
                    }
                }
                if let Some(prev) = prev_key
                    && key < prev
                    && !references(&text[raw.value.clone()], prev)
                {
                    out.push(f(
                        Rule::UnorderedKey,
                        format!("`{key}` should go before `{prev}`"),
                    ));
                }
                prev_key = Some(key);
            }
        }
        prev_blank = false;
    }
    control.drop_disabled(&mut out, mark);
    mark = out.len();
    if !text.is_empty() && !text.ends_with('\n') {
        let last = doc.items.last().map_or(1, |i| i.end_line);
        let (_, end) = doc.line_bounds(last);
        out.push(
            Finding::new(
                Rule::EndingBlankLine,
                "the file does not end with a newline",
            )
            .at(doc.location(end)),
        );
    }
    control.drop_disabled(&mut out, mark);
    out
}

/// In-file control comments, as dotenv-linter has them: `# env-validate:off rule,rule`
/// until `# env-validate:on rule,rule` (no list: every lint). dotenv-linter's own
/// `# dotenv-linter:off UnorderedKey` comments are honoured too.
#[derive(Default)]
struct Control {
    all: bool,
    rules: Vec<Rule>,
}

impl Control {
    fn update(&mut self, comment: &str) {
        let body = comment.trim_start().trim_start_matches('#').trim();
        let Some(rest) = body
            .strip_prefix("env-validate:")
            .or_else(|| body.strip_prefix("dotenv-linter:"))
        else {
            return;
        };
        let (cmd, list) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let rules: Vec<Rule> = list
            .split(',')
            .map(str::trim)
            .filter_map(Rule::from_id)
            .collect();
        match (cmd, rules.is_empty()) {
            ("off", true) => self.all = true,
            ("off", false) => self.rules.extend(rules),
            ("on", true) => {
                self.all = false;
                self.rules.clear();
            }
            ("on", false) => self.rules.retain(|r| !rules.contains(r)),
            _ => {}
        }
    }

    #[inline]
    fn drop_disabled(&self, out: &mut Vec<Finding>, from: usize) {
        if !self.all && self.rules.is_empty() {
            return;
        }
        let tail = out.split_off(from);
        out.extend(
            tail.into_iter()
                .filter(|f| !(self.all || self.rules.contains(&f.rule))),
        );
    }
}

fn key_rules(key: &str, f: &dyn Fn(Rule, String) -> Finding, out: &mut Vec<Finding>) {
    // The usual key, `[A-Z_][A-Z0-9_]*`, breaks none of the rules below.
    let b = key.as_bytes();
    if b.first().is_some_and(|c| !c.is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
    {
        return;
    }
    match key.chars().next() {
        None => {
            out.push(f(Rule::LeadingCharacter, "the key is empty".to_owned()));
            return;
        }
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            out.push(f(
                Rule::LeadingCharacter,
                format!("`{key}` must start with a letter or `_`"),
            ));
        }
        Some(_) => {}
    }
    let body = key.trim_start_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    if body
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    {
        out.push(f(
            Rule::IncorrectDelimiter,
            format!("`{key}` has characters other than letters, digits and `_`"),
        ));
    }
    if key.chars().any(|c| c.is_lowercase()) {
        out.push(f(
            Rule::LowercaseKey,
            format!("`{key}` should be uppercase"),
        ));
    }
}

/// The part of an unquoted value before a ` #` comment, trimmed.
fn unquoted_part(v: &str) -> &str {
    let line = v.split('\n').next().unwrap_or("");
    let cut = line
        .char_indices()
        .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))
        .map_or(line.len(), |(i, _)| i);
    line[..cut].trim()
}

fn value_rules(doc: &Document, item: &Item, raw: &RawEntry, key: &str, out: &mut Vec<Finding>) {
    let text = doc.text();
    let v = &text[raw.value.clone()];
    let lead = v.len() - v.trim_start_matches([' ', '\t']).len();
    let vstart = raw.value.start + lead;
    let body = &v[lead..];
    // The usual unquoted value: no quote, whitespace, `#`, `$` or backslash, so none of the
    // value rules can apply.
    if body.bytes().all(crate::dialect::is_plain_byte) {
        return;
    }
    let f = |rule, msg: String, at: usize| {
        Finding::new(rule, msg)
            .key(key)
            .at(doc.location(at))
            .snippet(Some(doc.snippet(item, at)))
    };
    let quote = body.chars().next().filter(|c| matches!(c, '\'' | '"'));
    if let Some(q) = quote {
        if let Some(close) = body[1..].find(q) {
            let inner = &body[1..1 + close];
            let needs = inner.is_empty()
                || inner.contains(|c: char| c.is_whitespace() || "$#&='\"`\\".contains(c));
            if !needs {
                out.push(f(
                    Rule::QuoteCharacter,
                    format!("the value of `{key}` does not need quotes"),
                    vstart,
                ));
            }
        }
    } else {
        let part = unquoted_part(body);
        if part.contains(char::is_whitespace) && !part.starts_with('`') {
            out.push(f(
                Rule::ValueWithoutQuotes,
                format!("the value of `{key}` has whitespace and no quotes (dotenvy rejects it)"),
                vstart,
            ));
        }
    }
    if quote != Some('\'')
        && let Some(why) = bad_substitution(body)
    {
        out.push(f(Rule::SubstitutionKey, format!("`{key}`: {why}"), vstart));
    }
}

fn bad_substitution(v: &str) -> Option<&'static str> {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            let Some(len) = v[i + 2..].find('}') else {
                return Some("a `${` is never closed");
            };
            let inner = &v[i + 2..i + 2 + len];
            let name_len = inner
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            let name = &inner[..name_len];
            let rest = &inner[name_len..];
            let op_ok = rest.is_empty()
                || [":-", "-", ":?", "?", ":+", "+"]
                    .iter()
                    .any(|op| rest.starts_with(op));
            if name.is_empty() || name.as_bytes()[0].is_ascii_digit() || !op_ok {
                return Some("a `${…}` reference has an invalid variable name");
            }
            i += 2 + len;
        }
        i += 1;
    }
    None
}

fn references(value: &str, key: &str) -> bool {
    value.match_indices(key).any(|(i, _)| {
        let before = &value[..i];
        let after = &value[i + key.len()..];
        let ends_name = !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        ends_name && (before.ends_with('$') || before.ends_with("${"))
    })
}

fn trailing_whitespace(doc: &Document, item: &Item, out: &mut Vec<Finding>) {
    // The usual case first: the item's last byte (terminator excluded) is no blank.
    let last = item
        .content_end
        .checked_sub(1)
        .map(|i| doc.text().as_bytes()[i]);
    if !matches!(last, Some(b' ' | b'\t')) {
        return;
    }
    // Inside a multi-line quoted value, trailing spaces are data: check the last line only.
    let (start, end) = doc.line_bounds(item.end_line);
    let line = &doc.text()[start..end];
    let trimmed = line.trim_end_matches([' ', '\t']);
    if trimmed.len() != line.len() {
        let at = start + trimmed.len();
        let mut f =
            Finding::new(Rule::TrailingWhitespace, "trailing whitespace").at(doc.location(at));
        if item.end_line == item.line {
            f = f.snippet(Some(doc.snippet(item, at)));
        }
        if let ItemKind::Entry(raw) = &item.kind {
            f = f.key(&doc.text()[raw.key.clone()]);
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str) -> Vec<(String, u32)> {
        lint(&Document::parse("t", text))
            .into_iter()
            .map(|f| (f.rule.id().to_owned(), f.location.map_or(0, |l| l.line)))
            .collect()
    }

    fn one(rule: &str, line: u32) -> Vec<(String, u32)> {
        vec![(rule.to_owned(), line)]
    }

    #[test]
    fn each_dotenv_linter_check() {
        assert_eq!(ids("A=1\nA=2\n"), one("duplicated-key", 2));
        assert_eq!(ids("A=1"), one("ending-blank-line", 1));
        assert_eq!(ids("A=1\n\n\nB=2\n"), one("extra-blank-line", 3));
        assert_eq!(ids("FOO-BAR=1\n"), one("incorrect-delimiter", 1));
        assert_eq!(ids("FOO\n"), one("key-without-value", 1));
        assert_eq!(ids("1FOO=1\n"), one("leading-character", 1));
        assert_eq!(ids("foo=1\n"), one("lowercase-key", 1));
        assert_eq!(ids("A=\"abc\"\n"), one("quote-character", 1));
        assert_eq!(ids("A =1\n"), one("space-character", 1));
        assert_eq!(ids("A=${B\n"), one("substitution-key", 1));
        assert_eq!(ids("A=1 \n"), one("trailing-whitespace", 1));
        assert_eq!(ids("B=1\nA=2\n"), one("unordered-key", 2));
        assert_eq!(ids("A=a b\n"), one("value-without-quotes", 1));
    }

    #[test]
    fn control_comments_switch_rules_off_and_on() {
        let text = "# env-validate:off unordered-key\nB=1\nA=1\n# env-validate:on\nD=1\nC=1\n# dotenv-linter:off LowercaseKey\nlower=1\n";
        assert_eq!(ids(text), vec![("unordered-key".to_owned(), 6)]);
        assert_eq!(ids("# env-validate:off\nb=1 \n\n\n"), vec![]);
    }

    #[test]
    fn clean_files_and_allowed_forms_are_quiet() {
        assert_eq!(ids(""), vec![]);
        assert_eq!(
            ids("# c\nA=1\nB=\"a b\"\n\nA2=${A:-x}\nC='$x'\nD=\"x\ny\"\n"),
            vec![]
        );
        // A key that references the previous one may come after it out of order.
        assert_eq!(ids("B=1\nA=$B\n"), vec![]);
        assert_eq!(ids("A=1 # comment\n"), vec![]);
    }
}
