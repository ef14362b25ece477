//! Lints: dotenv-linter 4.0's checks (same names, see [`Rule::dotenv_linter_check`]),
//! over the lossless document. One pass, hash map for duplicates, adjacent comparison for
//! order: linear in the file, whatever its size. Never reads a value into a message.

use std::collections::hash_map::Entry;

use crate::hash::{FastMap, FastSet};
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
    // References between keys only matter (and are only tracked) in a file with a `$`.
    let mut group = Group::new(text.contains('$'));
    let mut control = Control::default();
    let mut mark = 0;
    for item in &doc.items {
        // Findings of the previous item are filtered with the state it was linted under.
        control.drop_disabled(&mut out, mark);
        mark = out.len();
        if let ItemKind::Comment = item.kind
            && control.update(&text[item.range.start..item.content_end])
        {
            // A control comment starts a new ordering group, as in dotenv-linter: the
            // file it fixed and switched a check off in stays clean.
            group.reset();
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
                group.reset();
                continue;
            }
            ItemKind::Comment | ItemKind::TooLong => {}
            ItemKind::Entry(raw) if raw.sep.is_none() => {
                // A line without `=` may be a pasted value: it takes part in every check
                // a key would (as in dotenv-linter), but is never echoed as a key.
                let content = &text[line_content_start(doc, item, raw)..item.content_end];
                out.push(finding(
                    Rule::KeyWithoutValue,
                    "the line has no `=`: some loaders ignore it, compose copies a host variable of that name".to_owned(),
                    item.range.start,
                ));
                let indented = is_indented(doc, item);
                let f = |rule, msg: String| finding(rule, msg, raw.key.start);
                key_rules(content.trim_end(), None, indented, &f, &mut out);
                duplicate(&mut seen, content.trim_end(), None, item, &f, &mut out);
                group.order(content.trim_end(), None, item.line, &f, &mut out);
            }
            ItemKind::Entry(raw) => {
                let key = &text[raw.key.clone()];
                let f = |rule, msg: String| finding(rule, msg, raw.key.start).key(key);
                key_rules(key, Some(key), is_indented(doc, item), &f, &mut out);
                if let Some((kind, sep)) = raw.sep {
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
                    if kind == Separator::Equals && after.starts_with([' ', '\t']) {
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
                duplicate(&mut seen, key, Some(key), item, &f, &mut out);
                if group.references_group(&text[raw.value.clone()]) {
                    // A key whose value uses a key of the group may follow it: the group
                    // ends here, and this key starts none (dotenv-linter's grouping).
                    group.reset();
                } else {
                    group.order(key, Some(key), item.line, &f, &mut out);
                }
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
    } else if prev_blank
        && !text.is_empty()
        && let Some(last) = doc.items.last()
    {
        // `A=1\n\n`: the blank line before the end of the file is one too many (the end
        // of the file is the line after it, as dotenv-linter counts).
        let line = last.end_line.saturating_add(1);
        out.push(
            Finding::new(Rule::ExtraBlankLine, "the file ends with a blank line")
                .at(doc.line_location(line)),
        );
    }
    control.drop_disabled(&mut out, mark);
    out
}

/// The ordering group of each item, as UnorderedKey sees them (for `fix`): entries and
/// ordinary comments carry their group's number; blank lines, control comments and
/// entries whose value references their group (each a group boundary) carry `None`.
pub(crate) fn ordering_groups(doc: &Document) -> Vec<Option<usize>> {
    let text = doc.text();
    let mut group = Group::new(true);
    let mut id = 0;
    let mut control = Control::default();
    let mut out = Vec::with_capacity(doc.items.len());
    for item in &doc.items {
        let boundary = match &item.kind {
            ItemKind::Blank => true,
            ItemKind::Comment => control.update(&text[item.range.start..item.content_end]),
            ItemKind::TooLong => true,
            ItemKind::Entry(raw) => {
                raw.sep.is_some() && group.references_group(&text[raw.value.clone()])
            }
        };
        if boundary {
            group.reset();
            id += 1;
            out.push(None);
            continue;
        }
        if let ItemKind::Entry(raw) = &item.kind {
            let key = match raw.sep {
                Some(_) => &text[raw.key.clone()],
                None => text[line_content_start(doc, item, raw)..item.content_end].trim_end(),
            };
            if let Some(keys) = &mut group.keys {
                keys.insert(key);
            }
        }
        out.push(Some(id));
    }
    out
}

/// The key an entry sorts by: its key, or for a line without `=` its text.
pub(crate) fn sort_key<'d>(doc: &'d Document, item: &Item) -> Option<&'d str> {
    match &item.kind {
        ItemKind::Entry(raw) if raw.sep.is_some() => Some(&doc.text()[raw.key.clone()]),
        ItemKind::Entry(raw) => {
            Some(doc.text()[line_content_start(doc, item, raw)..item.content_end].trim_end())
        }
        _ => None,
    }
}

/// Where the line's text starts: after a byte-order mark on the first line, at the
/// indentation otherwise (`export ` included).
fn line_content_start(doc: &Document, item: &Item, raw: &RawEntry) -> usize {
    let start = item.range.start;
    let bytes = doc.text().as_bytes();
    let mut p = start;
    if doc.text()[start..].starts_with('\u{FEFF}') {
        p += 3;
    }
    while p < raw.key.start && matches!(bytes[p], b' ' | b'\t' | b'\x0b' | b'\x0c') {
        p += 1;
    }
    // `export KEY` lines without `=`: the key is after `export`.
    if raw.export { raw.key.start } else { p }
}

/// Whether the line starts with whitespace (a byte-order mark aside): the parser skips
/// it, so the key looks fine, but dotenv-linter reports it as a leading character.
fn is_indented(doc: &Document, item: &Item) -> bool {
    let rest = &doc.text()[item.range.start..item.content_end];
    let rest = rest.strip_prefix('\u{FEFF}').unwrap_or(rest);
    rest.starts_with([' ', '\t', '\x0b', '\x0c'])
}

/// Reports `key` (the whole line when it has no `=`) if an earlier line had it.
fn duplicate<'a>(
    seen: &mut FastMap<&'a str, u32>,
    key: &'a str,
    shown: Option<&str>,
    item: &Item,
    f: &dyn Fn(Rule, String) -> Finding,
    out: &mut Vec<Finding>,
) {
    match seen.entry(key) {
        Entry::Occupied(first) => out.push(f(
            Rule::DuplicatedKey,
            match shown {
                Some(key) => format!(
                    "`{key}` is set again (first on line {}); dotenvy keeps the first value, the other loaders the last",
                    first.get()
                ),
                None => format!("this line repeats line {} (it has no `=`)", first.get()),
            },
        )),
        Entry::Vacant(slot) => {
            slot.insert(item.line);
        }
    }
}

/// The ordering group of dotenv-linter's UnorderedKey: the keys since the last blank
/// line, control comment, or line whose value references a key of the group. A key is
/// out of order when it sorts before the largest key of its group so far: one
/// comparison per key, so the check stays linear.
struct Group<'a> {
    /// The largest key so far, shown unless it came from a line without `=`, and its line.
    max: Option<(&'a str, bool, u32)>,
    /// The group's keys, only when the file has a `$` (otherwise nothing can reference).
    keys: Option<FastSet<&'a str>>,
}

impl<'a> Group<'a> {
    fn new(track_references: bool) -> Self {
        Self {
            max: None,
            keys: track_references.then(FastSet::default),
        }
    }

    fn reset(&mut self) {
        self.max = None;
        if let Some(keys) = &mut self.keys {
            keys.clear();
        }
    }

    fn references_group(&self, value: &str) -> bool {
        match &self.keys {
            Some(keys) if !keys.is_empty() && value.contains('$') => {
                substitution_keys(value).any(|k| keys.contains(k))
            }
            _ => false,
        }
    }

    fn order(
        &mut self,
        key: &'a str,
        shown: Option<&str>,
        line: u32,
        f: &dyn Fn(Rule, String) -> Finding,
        out: &mut Vec<Finding>,
    ) {
        if let Some(keys) = &mut self.keys {
            keys.insert(key);
        }
        match self.max {
            Some((max, max_shown, max_line)) if key < max => {
                let this = shown.map_or_else(
                    || "this line (it has no `=`)".to_owned(),
                    |k| format!("`{k}`"),
                );
                let other = if max_shown {
                    format!("`{max}`")
                } else {
                    format!("line {max_line} (it has no `=`)")
                };
                out.push(f(
                    Rule::UnorderedKey,
                    format!("{this} should go before {other}"),
                ));
            }
            Some((max, ..)) if key == max => {}
            _ => self.max = Some((key, shown.is_some(), line)),
        }
    }
}

/// The variables a value references, as dotenv-linter finds them: none in single quotes,
/// the content of a closed pair of double quotes, `${NAME}` up to the `}`, `$NAME` up to
/// the first character that is not a letter, digit or `_`; escaped `\$` skipped.
fn substitution_keys(value: &str) -> impl Iterator<Item = &str> {
    let mut v = value.trim();
    if v.starts_with('\'') {
        v = "";
    } else if let Some(inner) = v.strip_prefix('"') {
        v = match inner.strip_suffix('"') {
            Some(inner) if !is_escaped(inner) => inner,
            _ => "",
        };
    }
    let mut rest = v;
    std::iter::from_fn(move || {
        loop {
            let i = rest.find('$')?;
            let prefix = &rest[..i];
            let after = &rest[i + 1..];
            if is_escaped(prefix) {
                rest = after;
                continue;
            }
            let (key, tail) = match after.strip_prefix('{') {
                Some(b) if b.contains('}') => b.split_at(b.find('}').unwrap_or(b.len())),
                _ => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    after.split_at(end)
                }
            };
            if key.is_empty() {
                rest = "";
                return None;
            }
            rest = tail;
            return Some(key);
        }
    })
}

/// Whether the text before a `$` ends in an odd number of backslashes.
fn is_escaped(prefix: &str) -> bool {
    prefix.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// In-file control comments, as dotenv-linter has them: `# env-validate:off rule,rule`
/// until `# env-validate:on rule,rule` (no list: every lint). dotenv-linter's own
/// `# dotenv-linter:off UnorderedKey` comments are honoured with its exact meaning (a
/// comma- or space-separated list; no list switches nothing).
#[derive(Default)]
struct Control {
    all: bool,
    rules: Vec<Rule>,
}

impl Control {
    /// Applies a comment; returns whether it was a control comment.
    fn update(&mut self, comment: &str) -> bool {
        let body = comment.trim_start().trim_start_matches('#').trim();
        let (rest, ours) = match body.strip_prefix("env-validate:") {
            Some(rest) => (rest, true),
            None => match body.strip_prefix("dotenv-linter:") {
                Some(rest) => (rest, false),
                None => return false,
            },
        };
        let mut words = rest.split([' ', '\t', ',']).filter(|w| !w.is_empty());
        let off = match words.next() {
            Some("off") => true,
            Some("on") => false,
            _ => return false,
        };
        let rules: Vec<Rule> = words.filter_map(Rule::from_id).collect();
        match (off, rules.is_empty() && ours) {
            (true, true) => self.all = true,
            (true, false) => self.rules.extend(rules),
            (false, true) => {
                self.all = false;
                self.rules.clear();
            }
            (false, false) => self.rules.retain(|r| !rules.contains(r)),
        }
        true
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

/// The key rules. `shown` is the key as it may appear in messages; `None` for a line
/// without `=`, whose text (`key`) may be a pasted secret.
fn key_rules(
    key: &str,
    shown: Option<&str>,
    indented: bool,
    f: &dyn Fn(Rule, String) -> Finding,
    out: &mut Vec<Finding>,
) {
    let name = |what: &str| shown.map_or_else(|| what.to_owned(), |k| format!("`{k}`"));
    if indented {
        out.push(f(
            Rule::LeadingCharacter,
            format!(
                "the line starts with whitespace before {}",
                name("its text")
            ),
        ));
    }
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
        Some(c) if !(c.is_ascii_alphabetic() || c == '_' || indented) => {
            out.push(f(
                Rule::LeadingCharacter,
                format!("{} must start with a letter or `_`", name("the line")),
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
            format!(
                "{} has characters other than letters, digits and `_`",
                name("the line")
            ),
        ));
    }
    if key.chars().any(|c| c.is_lowercase()) {
        out.push(f(
            Rule::LowercaseKey,
            format!("{} should be uppercase", name("the line")),
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
            // `""` needs no quotes either: `KEY=` is the same empty value everywhere.
            let needs = inner.contains(|c: char| c.is_whitespace() || "$#&='\"`\\".contains(c));
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
        } else if b[i] == b'$' {
            // `$NAME}`: a `}` right after a bare name is a `${NAME}` missing its `{`
            // (every loader reads the `}` as text).
            let name_len = b[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            if name_len > 0 && b.get(i + 1 + name_len) == Some(&b'}') {
                return Some("a `}` follows `$NAME`: is a `{` missing?");
            }
            i += name_len;
        }
        i += 1;
    }
    None
}

fn trailing_whitespace(doc: &Document, item: &Item, out: &mut Vec<Finding>) {
    // Comments are text, as in dotenv-linter: their trailing blanks are nobody's value.
    if let ItemKind::Comment = item.kind {
        return;
    }
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

    #[test]
    fn unordered_key_compares_with_the_largest_key_of_the_group() {
        // dotenv-linter's own cases (check/unordered_key.rs).
        assert_eq!(
            ids("FOO=BAR\nBAR=FOO\nDDD=BAR\nZOO=BAR\n"),
            vec![("unordered-key".into(), 2), ("unordered-key".into(), 3)]
        );
        // A reference to *any* key of the group starts a new group; the referencing key
        // is in none.
        assert_eq!(
            ids(
                "HHH=VAL\nZZZ=VALUE\nBBB=$XYZ\nCCC=$HHH\nTTT=BIG\nXYZ=G\nGGG=JJJ\nAAA=$ZZZ\nMMM=$GGG$ZZZ\n"
            ),
            vec![
                ("unordered-key".into(), 3),
                ("unordered-key".into(), 7),
                ("unordered-key".into(), 8)
            ]
        );
        assert_eq!(
            ids(
                "BBB=XYZ\nHHH=VAL\nZZZ=VALUE\nCCC=$NNN$HHH # uses HHH\nBAR=FOOD\nBIG=FOOT\nWWW=$XYZ$TTT\nYYY=FOO\nBOO=$BAR$BBB$ZZZ\nTTT=BIG\nXYZ=G\n"
            ),
            vec![]
        );
        // Control comments start a new group.
        assert_eq!(
            ids(
                "FOO=BAR\n# dotenv-linter:off LowercaseKey\nBar=FOO\nbar=FOO\n# dotenv-linter:on LowercaseKey\nX=X\n"
            ),
            vec![]
        );
        // A line without `=` neither resets the group nor is echoed.
        let f = lint(&Document::parse("t", "A=1\nZZZ\nB=2\n"));
        let unordered: Vec<_> = f.iter().filter(|f| f.rule == Rule::UnorderedKey).collect();
        assert_eq!(unordered.len(), 1);
        assert_eq!(
            unordered[0].message,
            "`B` should go before line 2 (it has no `=`)"
        );
        assert!(f.iter().all(|f| !f.message.contains("ZZZ")), "{f:?}");
    }

    #[test]
    fn indented_keys_and_files_ending_in_a_blank_line() {
        assert_eq!(ids(" FOO=1\n"), one("leading-character", 1));
        assert_eq!(ids("\tA=B\nFOO=BAZ\n"), one("leading-character", 1));
        assert_eq!(ids("  export A=1\n"), one("leading-character", 1));
        assert_eq!(ids("\u{feff}A=1\n"), vec![]);
        assert_eq!(ids("A=1\n\n"), one("extra-blank-line", 3));
        assert_eq!(
            ids("A=1\n\n\n"),
            vec![
                ("extra-blank-line".into(), 3),
                ("extra-blank-line".into(), 4)
            ]
        );
        assert_eq!(ids("\n\nA=1\n"), one("extra-blank-line", 2));
    }

    #[test]
    fn stray_braces_and_dotenv_linter_control_comments() {
        assert_eq!(ids("TEST=$BAR}\n"), one("substitution-key", 1));
        assert_eq!(ids("FOO=\\$BAR}\n"), vec![]);
        assert_eq!(ids("FOO=$ABC{${BAR}\nBIZ=$FOO-$ABC\n"), vec![]);
        // dotenv-linter's `off` without a list switches nothing; a space-separated list works.
        assert_eq!(ids("# dotenv-linter:off\nb=1\n"), one("lowercase-key", 2));
        assert_eq!(
            ids("# dotenv-linter:off LowercaseKey DuplicatedKey\nb=1\nb=2\n"),
            vec![]
        );
    }
}
