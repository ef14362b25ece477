//! `fix`: rewrites that remove lint findings without changing what any loader reads.
//!
//! Each kind of fix is one pass over the current text: the lints say where, the pass
//! proposes an edit per item, and the result is read by every modelled loader (dotenvy,
//! compose, Node, python-dotenv) and compared with the reading of the original. An edit
//! whose key reads differently in any loader is reverted; if anything else changed, the
//! whole pass is. A last comparison of the final text with the original is the safety
//! net: if it fails, nothing is changed. Renaming a key (lowercase, delimiters, a leading
//! digit) or completing a line (`FOO` → `FOO=`, `${A` → `${A}`) always changes a reading,
//! so those are reported and never made. This module must never put a value in a message.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::lint::{lint, ordering_groups, sort_key};
use crate::parse::{Item, ItemKind};
use crate::{Dialect, Document, Finding, Limits, Reading, Rule};

/// One fix made, or refused, by [`fix`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FixChange {
    /// The rule whose finding this addresses.
    pub rule: Rule,
    /// 1-based line in the original text.
    pub line: u32,
    /// The key, when the line has one (a line without `=` is never named).
    pub key: Option<String>,
    /// Whether the text was changed.
    pub applied: bool,
    /// What was done, or why not. Never contains a value.
    pub note: String,
}

/// The result of [`fix`]: the new text and what changed.
#[derive(Clone)]
#[non_exhaustive]
pub struct Fixed {
    /// The fixed text (equal to the input when nothing could be fixed). It may hold
    /// secrets: write it to the file, do not print it.
    pub text: String,
    /// Every fix made or refused, by line.
    pub changes: Vec<FixChange>,
    hunks: Vec<Hunk>,
}

impl std::fmt::Debug for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixed")
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("changes", &self.changes)
            .finish_non_exhaustive()
    }
}

/// Old and new text of one applied edit, for the masked diff.
#[derive(Debug, Clone)]
struct Hunk {
    line: u32,
    rule: Rule,
    old: String,
    new: String,
}

impl Fixed {
    /// Whether any fix was applied.
    #[must_use]
    pub fn changed(&self) -> bool {
        self.changes.iter().any(|c| c.applied)
    }

    /// A diff of the applied fixes in which every value and comment is masked (keys,
    /// separators and quotes-free structure only), for `--dry-run`.
    #[must_use]
    pub fn masked_diff(&self, name: &str) -> String {
        let mut out = String::new();
        if self.hunks.is_empty() {
            return out;
        }
        let _ = writeln!(out, "--- {name}\n+++ {name} (fixed)");
        let mut hunks: Vec<&Hunk> = self.hunks.iter().collect();
        hunks.sort_by_key(|h| h.line);
        for h in hunks {
            let _ = writeln!(out, "@@ line {} ({}) @@", h.line, h.rule);
            for l in masked_lines(&h.old) {
                let _ = writeln!(out, "-{l}");
            }
            for l in masked_lines(&h.new) {
                let _ = writeln!(out, "+{l}");
            }
        }
        out
    }
}

/// Each line of `text`, values and comments masked as in findings' snippets.
fn masked_lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    let doc = Document::parse("", text);
    let mut out = Vec::new();
    for item in &doc.items {
        let at = match &item.kind {
            ItemKind::Entry(raw) => raw.key.start,
            _ => item.range.start,
        };
        out.push(doc.snippet(item, at).text);
        for _ in item.line..item.end_line {
            out.push("‹value›".to_owned());
        }
    }
    out
}

/// Fixes what can be fixed without changing a reading, skipping the rules in `ignore`.
/// Idempotent: fixing the result again changes nothing.
///
/// ```
/// use preflight_env_validate::{Document, fix};
///
/// let doc = Document::parse(".env", "B = 'two'  \nA=1\nlower=x");
/// let fixed = fix(&doc, &[]);
/// assert_eq!(fixed.text, "A=1\nB=two\nlower=x\n");
/// // The lowercase key is reported, not renamed: the app reads `lower`.
/// assert!(fixed.changes.iter().any(|c| !c.applied && c.rule.id() == "lowercase-key"));
/// assert_eq!(fix(&Document::parse(".env", &fixed.text), &[]).text, fixed.text);
/// ```
#[must_use]
pub fn fix(doc: &Document, ignore: &[Rule]) -> Fixed {
    let original = doc.text().to_owned();
    let baseline = readings(&original);
    let mut state = State {
        text: original.clone(),
        changes: Vec::new(),
        hunks: Vec::new(),
        ignore,
        baseline: &baseline,
    };
    // Passes that keep every line where it is come first, so that every reported line
    // is a line of the original; deleting blank lines comes last.
    state.line_pass(&Rule::LeadingCharacter, |d, it, _| unindent(d, it));
    state.line_pass(&Rule::SpaceCharacter, |d, it, _| {
        no_space_around_equals(d, it)
    });
    state.line_pass(&Rule::TrailingWhitespace, |d, it, _| trim_end(d, it));
    state.line_pass(&Rule::QuoteCharacter, |d, it, _| unquote(d, it));
    state.line_pass(&Rule::ValueWithoutQuotes, |d, it, _| quote(d, it));
    state.line_pass(&Rule::DuplicatedKey, |d, it, _| comment_out(d, it));
    state.ending_newline();
    state.sort_groups();
    // Reported before blank lines are deleted, so that lines are the original's.
    state.refuse_the_rest();
    state.line_pass(&Rule::ExtraBlankLine, |d, it, _| Some(delete_line(d, it)));
    // The safety net: the whole result against the original.
    if !changed_keys(&baseline, &readings(&state.text)).is_empty() {
        for c in &mut state.changes {
            if c.applied {
                c.applied = false;
                c.note = "not fixed: the fixes together would change a reading".to_owned();
            }
        }
        state.text = original;
        state.hunks.clear();
    }
    state.changes.sort_by_key(|c| c.line);
    Fixed {
        text: state.text,
        changes: state.changes,
        hunks: state.hunks,
    }
}

/// Per loader (`[dotenvy, compose, node, python]`): what each key reads as, with the
/// loader's rule for duplicates. A line without `=` counts under its text.
type Readings = [HashMap<String, Reading>; 4];

fn readings(text: &str) -> Readings {
    Dialect::LOADERS.map(|d| {
        let doc = Document::parse_bytes("", text.as_bytes(), d, &Limits::default());
        let mut map = HashMap::new();
        for (item, r) in doc
            .items
            .iter()
            .filter(|i| matches!(i.kind, ItemKind::Entry(_)))
            .zip(d.read(&doc, &|_| None))
        {
            let key = sort_key(&doc, item).unwrap_or_default().to_owned();
            if d.first_duplicate_wins() && map.contains_key(&key) {
                continue;
            }
            map.insert(key, r);
        }
        map
    })
}

/// Keys whose reading changed in some loader. A line one loader rejected that now reads
/// as every other loader read it before and after is no change (`A=a b` → `A='a b'`
/// makes dotenvy load what the others always loaded).
fn changed_keys(before: &Readings, after: &Readings) -> Vec<String> {
    let mut keys: Vec<&String> = before.iter().chain(after).flat_map(|m| m.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter(|k| {
            (0..4).any(|d| {
                let (b, a) = (before[d].get(*k), after[d].get(*k));
                if b == a {
                    return false;
                }
                let agreed = match (b, a) {
                    (Some(Reading::Rejected(_)), Some(Reading::Value(v))) => {
                        (0..4).filter(|&e| e != d).all(|e| {
                            before[e].get(*k).and_then(Reading::value) == Some(v.as_str())
                                && after[e].get(*k).and_then(Reading::value) == Some(v.as_str())
                        })
                    }
                    _ => false,
                };
                !agreed
            })
        })
        .cloned()
        .collect()
}

/// One proposed edit: replace `range` of the current text.
struct Edit {
    range: std::ops::Range<usize>,
    new: String,
    line: u32,
    key: Option<String>,
    /// Keys whose readings this edit may change.
    keys: Vec<String>,
    rule: Rule,
    note: &'static str,
}

struct State<'a> {
    text: String,
    changes: Vec<FixChange>,
    hunks: Vec<Hunk>,
    ignore: &'a [Rule],
    baseline: &'a Readings,
}

impl State<'_> {
    fn findings(&self, doc: &Document, rule: &Rule) -> Vec<Finding> {
        if self.ignore.contains(rule) {
            return Vec::new();
        }
        lint(doc).into_iter().filter(|f| f.rule == *rule).collect()
    }

    /// One edit per item that has a finding of `rule`; `make` returns the item's new
    /// content (its line terminator excluded), or `None` when it cannot be fixed.
    fn line_pass(
        &mut self,
        rule: &Rule,
        make: impl Fn(&Document, &Item, &Finding) -> Option<String>,
    ) {
        let doc = Document::parse("", &self.text);
        let findings = self.findings(&doc, rule);
        let mut edits = Vec::new();
        let mut done = Vec::new();
        // The blank lines that end the file: one edit removes them all.
        let trailing_blanks = doc
            .items
            .iter()
            .rposition(|it| !matches!(it.kind, ItemKind::Blank))
            .map_or(0, |i| i + 1);
        for f in &findings {
            let line = f.location.as_ref().map_or(0, |l| l.line);
            let idx = doc.items.partition_point(|it| it.end_line < line);
            let (idx, range) = match doc.items.get(idx) {
                _ if *rule == Rule::ExtraBlankLine && idx >= trailing_blanks => {
                    // The end-of-file finding is on the line after the last item.
                    let Some(first) = doc.items.get(trailing_blanks) else {
                        continue;
                    };
                    (trailing_blanks, first.range.start..self.text.len())
                }
                Some(item) if item.line <= line && *rule == Rule::ExtraBlankLine => {
                    (idx, item.range.clone())
                }
                Some(item) if item.line <= line => (idx, item.range.start..item.content_end),
                _ => continue,
            };
            if done.contains(&idx) {
                continue;
            }
            done.push(idx);
            let item = &doc.items[idx];
            let Some(new) = make(&doc, item, f) else {
                self.refuse(rule, line, f.key.clone(), refusal(rule));
                continue;
            };
            edits.push(Edit {
                range,
                new,
                line,
                key: f.key.clone(),
                keys: sort_key(&doc, item)
                    .map(str::to_owned)
                    .into_iter()
                    .collect(),
                rule: rule.clone(),
                note: applied_note(rule),
            });
        }
        self.apply_verified(edits);
    }

    fn ending_newline(&mut self) {
        if self.ignore.contains(&Rule::EndingBlankLine)
            || self.text.is_empty()
            || self.text.ends_with('\n')
        {
            return;
        }
        let doc = Document::parse("", &self.text);
        if self.findings(&doc, &Rule::EndingBlankLine).is_empty() {
            return;
        }
        let eol = if self.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        let last = doc.items.last().map_or(1, |i| i.end_line);
        let len = self.text.len();
        self.apply_verified(vec![Edit {
            range: len..len,
            new: eol.to_owned(),
            line: last,
            key: None,
            keys: Vec::new(),
            rule: Rule::EndingBlankLine,
            note: "added the final newline",
        }]);
    }

    /// Sorts each ordering group that has an unordered-key finding. A key moves with the
    /// comment lines right above it (template directives stay with their key); comments
    /// after a group's last key stay where they are.
    fn sort_groups(&mut self) {
        let doc = Document::parse("", &self.text);
        let findings = self.findings(&doc, &Rule::UnorderedKey);
        if findings.is_empty() {
            return;
        }
        let flagged: Vec<u32> = findings
            .iter()
            .filter_map(|f| f.location.as_ref().map(|l| l.line))
            .collect();
        let groups = ordering_groups(&doc);
        let mut edits = Vec::new();
        let mut i = 0;
        while i < doc.items.len() {
            let Some(g) = groups[i] else {
                i += 1;
                continue;
            };
            let mut j = i;
            while j < doc.items.len() && groups[j] == Some(g) {
                j += 1;
            }
            // Units: a run of comments and the entry after it.
            let mut units: Vec<(usize, usize)> = Vec::new();
            let mut start = i;
            for k in i..j {
                if matches!(doc.items[k].kind, ItemKind::Entry(_)) {
                    units.push((start, k));
                    start = k + 1;
                }
            }
            let has_finding = units
                .iter()
                .any(|&(_, e)| flagged.contains(&doc.items[e].line));
            if has_finding && units.len() > 1 {
                let span = doc.items[units[0].0].range.start
                    ..doc.items[units[units.len() - 1].1].range.end;
                let complete = units
                    .iter()
                    .all(|&(_, e)| self.text[..doc.items[e].range.end].ends_with('\n'));
                let line = doc.items[units[0].0].line;
                if complete {
                    let mut sorted = units.clone();
                    sorted.sort_by_key(|&(_, e)| sort_key(&doc, &doc.items[e]));
                    let new: String = sorted
                        .iter()
                        .map(|&(s, e)| &self.text[doc.items[s].range.start..doc.items[e].range.end])
                        .collect();
                    edits.push(Edit {
                        range: span,
                        new,
                        line,
                        key: None,
                        keys: units
                            .iter()
                            .filter_map(|&(_, e)| sort_key(&doc, &doc.items[e]).map(str::to_owned))
                            .collect(),
                        rule: Rule::UnorderedKey,
                        note: "sorted the group (comments above a key moved with it)",
                    });
                } else {
                    self.refuse(
                        &Rule::UnorderedKey,
                        line,
                        None,
                        "not fixed: the file does not end with a newline",
                    );
                }
            }
            i = j;
        }
        self.apply_verified(edits);
    }

    /// Applies the edits, then reverts every edit whose keys read differently in any
    /// loader (all of them if a key no edit touched changed), until the readings match.
    fn apply_verified(&mut self, mut edits: Vec<Edit>) {
        let mut refused: Vec<Edit> = Vec::new();
        loop {
            if edits.is_empty() {
                break;
            }
            let candidate = apply(&self.text, &edits);
            let changed = changed_keys(self.baseline, &readings(&candidate));
            if changed.is_empty() {
                for e in &edits {
                    self.hunks.push(Hunk {
                        line: e.line,
                        rule: e.rule.clone(),
                        old: self.text[e.range.clone()].to_owned(),
                        new: e.new.clone(),
                    });
                    self.changes.push(FixChange {
                        rule: e.rule.clone(),
                        line: e.line,
                        key: e.key.clone(),
                        applied: true,
                        note: e.note.to_owned(),
                    });
                }
                self.text = candidate;
                break;
            }
            let (bad, good): (Vec<Edit>, Vec<Edit>) = edits
                .into_iter()
                .partition(|e| e.keys.iter().any(|k| changed.contains(k)));
            if bad.is_empty() {
                // Something no single edit explains: make none of them.
                refused.extend(good);
                break;
            }
            refused.extend(bad);
            edits = good;
        }
        for e in refused {
            self.refuse(
                &e.rule,
                e.line,
                e.key,
                "not fixed: a loader would read the entry differently",
            );
        }
    }

    fn refuse(&mut self, rule: &Rule, line: u32, key: Option<String>, note: &str) {
        self.changes.push(FixChange {
            rule: rule.clone(),
            line,
            key,
            applied: false,
            note: note.to_owned(),
        });
    }

    /// Findings of rules that are never fixed, and of fixable ones that remain.
    fn refuse_the_rest(&mut self) {
        let doc = Document::parse("", &self.text);
        for f in lint(&doc) {
            if self.ignore.contains(&f.rule) || f.rule == Rule::ExtraBlankLine {
                continue;
            }
            let line = f.location.as_ref().map_or(0, |l| l.line);
            if self
                .changes
                .iter()
                .any(|c| c.rule == f.rule && c.line == line)
            {
                continue;
            }
            self.refuse(&f.rule, line, f.key.clone(), refusal(&f.rule));
        }
    }
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.range.start);
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for e in sorted {
        if e.range.start < at {
            continue;
        }
        out.push_str(&text[at..e.range.start]);
        out.push_str(&e.new);
        at = e.range.end;
    }
    out.push_str(&text[at..]);
    out
}

fn applied_note(rule: &Rule) -> &'static str {
    match rule {
        Rule::LeadingCharacter => "removed the indentation",
        Rule::SpaceCharacter => "removed the whitespace around `=`",
        Rule::TrailingWhitespace => "removed the trailing whitespace",
        Rule::QuoteCharacter => "removed the quotes",
        Rule::ValueWithoutQuotes => "quoted the value",
        Rule::DuplicatedKey => "commented out the repeated entry (same value in every loader)",
        Rule::ExtraBlankLine => "removed the extra blank line",
        _ => "fixed",
    }
}

fn refusal(rule: &Rule) -> &'static str {
    match rule {
        Rule::LowercaseKey | Rule::IncorrectDelimiter | Rule::LeadingCharacter => {
            "not fixed: it would rename the variable the application reads"
        }
        Rule::KeyWithoutValue => {
            "not fixed: adding `=` would set an empty value where loaders now set none or copy the host's"
        }
        Rule::SubstitutionKey => {
            "not fixed: completing the reference would change the value loaders read"
        }
        Rule::QuoteCharacter | Rule::ValueWithoutQuotes | Rule::SpaceCharacter => {
            "not fixed: the value has a comment or spans lines; fix it by hand"
        }
        Rule::DuplicatedKey => "not fixed: the entry spans lines; keep one by hand",
        _ => "not fixed automatically",
    }
}

fn content<'d>(doc: &'d Document, item: &Item) -> &'d str {
    &doc.text()[item.range.start..item.content_end]
}

fn unindent(doc: &Document, item: &Item) -> Option<String> {
    let c = content(doc, item);
    let (bom, rest) = match c.strip_prefix('\u{feff}') {
        Some(r) => ("\u{feff}", r),
        None => ("", c),
    };
    let trimmed = rest.trim_start_matches([' ', '\t', '\x0b', '\x0c']);
    (trimmed.len() < rest.len()).then(|| format!("{bom}{trimmed}"))
}

fn trim_end(doc: &Document, item: &Item) -> Option<String> {
    let c = content(doc, item);
    Some(c.trim_end_matches([' ', '\t']).to_owned())
}

/// `KEY = value` → `KEY=value` (single-line `=` entries).
fn no_space_around_equals(doc: &Document, item: &Item) -> Option<String> {
    let ItemKind::Entry(raw) = &item.kind else {
        return None;
    };
    let (crate::Separator::Equals, sep) = raw.sep? else {
        return None;
    };
    let text = doc.text();
    let head = &text[item.range.start..raw.key.end];
    let value = text[sep + 1..item.content_end].trim_start_matches([' ', '\t']);
    Some(format!("{head}={value}"))
}

/// The entry's parts: the text before the value, and the value (with any comment).
/// Single-line `=` entries only.
fn split_value<'d>(doc: &'d Document, item: &Item) -> Option<(&'d str, &'d str)> {
    let ItemKind::Entry(raw) = &item.kind else {
        return None;
    };
    if item.end_line != item.line || !matches!(raw.sep, Some((crate::Separator::Equals, _))) {
        return None;
    }
    let text = doc.text();
    let v = &text[raw.value.start..item.content_end];
    let lead = v.len() - v.trim_start_matches([' ', '\t']).len();
    let start = raw.value.start + lead;
    let body = &text[start..item.content_end];
    Some((&text[item.range.start..start], body))
}

/// `KEY="plain"` → `KEY=plain`.
fn unquote(doc: &Document, item: &Item) -> Option<String> {
    let (head, body) = split_value(doc, item)?;
    let q = body.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let inner = body[1..].strip_suffix(q)?;
    if inner.contains(q) {
        return None;
    }
    Some(format!("{head}{inner}"))
}

/// `KEY=a b` → `KEY='a b'` (no comment on the line; a value with `'` or `\` is left).
fn quote(doc: &Document, item: &Item) -> Option<String> {
    let (head, body) = split_value(doc, item)?;
    let body = body.trim_end();
    if body.contains(['\'', '\\', '#', '"', '`']) {
        return None;
    }
    Some(format!("{head}'{body}'"))
}

/// A later duplicate becomes a comment, as dotenv-linter's fix does.
fn comment_out(doc: &Document, item: &Item) -> Option<String> {
    (item.end_line == item.line).then(|| format!("# {}", content(doc, item)))
}

fn delete_line(_doc: &Document, _item: &Item) -> String {
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(text: &str) -> String {
        fix(&Document::parse(".env", text), &[]).text
    }

    #[test]
    fn each_safe_fix() {
        assert_eq!(fixed(" A=1\n"), "A=1\n");
        assert_eq!(fixed("A = 1\n"), "A=1\n");
        assert_eq!(fixed("A=1  \n"), "A=1\n");
        assert_eq!(fixed("A=\"x\"\n"), "A=x\n");
        assert_eq!(fixed("A=\"\"\n"), "A=\n");
        assert_eq!(fixed("A=a b\n"), "A='a b'\n");
        assert_eq!(fixed("A=1\nA=1\n"), "A=1\n# A=1\n");
        assert_eq!(fixed("A=1"), "A=1\n");
        assert_eq!(fixed("A=1\n\n\nB=2\n\n"), "A=1\n\nB=2\n");
        assert_eq!(fixed("B=1\n# about A\nA=2\n"), "# about A\nA=2\nB=1\n");
    }

    #[test]
    fn fixes_that_would_change_a_reading_are_refused() {
        // Different duplicates: dotenvy keeps the first, the others the last.
        let f = fix(&Document::parse(".env", "A=1\nA=2\n"), &[]);
        assert_eq!(f.text, "A=1\nA=2\n");
        assert!(
            f.changes
                .iter()
                .any(|c| c.rule == Rule::DuplicatedKey && !c.applied)
        );
        // `'${X}'`: python-dotenv expands in single quotes, so the quotes are not removed…
        assert_eq!(fixed("A='$X'\n"), "A='$X'\n");
        // …and a forward reference keeps its order (sorted, `Z` would read `1`)…
        assert_eq!(fixed("Z=${A}\nA=1\n"), "Z=${A}\nA=1\n");
        // …unless it stays a forward reference.
        assert_eq!(fixed("B=${C}\nA=1\nC=2\n"), "A=1\nB=${C}\nC=2\n");
        // Renames are reported, never made.
        let f = fix(
            &Document::parse(".env", "foo=1\n\nFOO-BAR=2\n\n1X=3\n\nKEY\n"),
            &[],
        );
        assert_eq!(f.text, "foo=1\n\nFOO-BAR=2\n\n1X=3\n\nKEY\n");
        assert!(f.changes.iter().all(|c| !c.applied));
    }

    #[test]
    fn masked_diff_shows_no_values() {
        let f = fix(
            &Document::parse(".env", "B=hunter2\nA=\"swordfish\"\n"),
            &[],
        );
        let d = f.masked_diff(".env");
        assert!(!d.contains("hunter2") && !d.contains("swordfish"), "{d}");
        assert!(d.contains("+A=‹value›"), "{d}");
    }
}
