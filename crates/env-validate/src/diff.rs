//! Key sets of several env files compared both ways (dotenv-linter's `diff`): which keys
//! each file lacks that another sets. Keys only: values are never read into the result,
//! and a line without `=` (possibly a pasted secret) is not a key.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::Document;

/// The result of [`diff_keys`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyDiff {
    /// The files compared, in the order given.
    pub files: Vec<String>,
    /// Every key that some file sets and another does not, sorted, with one flag per
    /// file: whether that file sets it.
    pub rows: Vec<(String, Vec<bool>)>,
}

/// Compares the key sets of `docs` (each against the union of all).
#[must_use]
pub fn diff_keys(docs: &[&Document]) -> KeyDiff {
    let mut seen: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for (i, doc) in docs.iter().enumerate() {
        for e in doc.entries().filter(|e| e.separator().is_some()) {
            seen.entry(e.key())
                .or_insert_with(|| vec![false; docs.len()])[i] = true;
        }
    }
    KeyDiff {
        files: docs.iter().map(|d| d.name().to_owned()).collect(),
        rows: seen
            .into_iter()
            .filter(|(_, has)| has.iter().any(|h| !h))
            .map(|(k, has)| (k.to_owned(), has))
            .collect(),
    }
}

impl KeyDiff {
    /// Whether every file sets the same keys.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The keys file number `index` lacks, sorted.
    #[must_use]
    pub fn missing_in(&self, index: usize) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|(_, has)| !has.get(index).copied().unwrap_or(true))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// A table (one row per differing key, one column per file), then one
    /// `FILE is missing keys: A, B` line per file that lacks any, as dotenv-linter prints.
    #[must_use]
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str("no difference found\n");
            return out;
        }
        let key_w = self
            .rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(3);
        let widths: Vec<usize> = self
            .files
            .iter()
            .map(|f| f.chars().count().max(7))
            .collect();
        let mut line = format!("{:<key_w$}", "KEY");
        for (f, w) in self.files.iter().zip(&widths) {
            let _ = write!(line, "  {f:<w$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for (key, has) in &self.rows {
            let mut line = format!("{key:<key_w$}");
            for (h, w) in has.iter().zip(&widths) {
                let _ = write!(line, "  {:<w$}", if *h { "set" } else { "missing" });
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
        for (i, f) in self.files.iter().enumerate() {
            let missing = self.missing_in(i);
            if !missing.is_empty() {
                let _ = writeln!(out, "{f} is missing keys: {}", missing.join(", "));
            }
        }
        out
    }

    /// `{"files": [...], "missing": {"FILE": ["KEY", ...]}, "keys": {"KEY": ["FILE", ...]}}`:
    /// for each file the keys it lacks, for each differing key the files that set it.
    #[must_use]
    pub fn render_json(&self) -> String {
        let missing: serde_json::Map<String, serde_json::Value> = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), serde_json::json!(self.missing_in(i))))
            .collect();
        let keys: serde_json::Map<String, serde_json::Value> = self
            .rows
            .iter()
            .map(|(k, has)| {
                let files: Vec<&str> = self
                    .files
                    .iter()
                    .zip(has)
                    .filter(|(_, h)| **h)
                    .map(|(f, _)| f.as_str())
                    .collect();
                (k.clone(), serde_json::json!(files))
            })
            .collect();
        let mut s = serde_json::json!({ "files": self.files, "missing": missing, "keys": keys })
            .to_string();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_every_file_with_the_union_and_never_shows_values() {
        let a = Document::parse(".env", "A=secret1\nB=2\nsk-pasted-token\n");
        let b = Document::parse(".env.prod", "B=3\nC=secret2\n");
        let c = Document::parse(".env.ci", "A=1\nB=1\nC=1\n");
        let d = diff_keys(&[&a, &b, &c]);
        assert_eq!(d.missing_in(0), ["C"]);
        assert_eq!(d.missing_in(1), ["A"]);
        assert!(d.missing_in(2).is_empty());
        let out = d.render_table() + &d.render_json();
        assert!(out.contains(".env is missing keys: C"), "{out}");
        assert!(out.contains(".env.prod is missing keys: A"), "{out}");
        for secret in ["secret1", "secret2", "sk-pasted"] {
            assert!(!out.contains(secret), "{out}");
        }
        assert!(diff_keys(&[&c, &c]).is_empty());
    }
}
