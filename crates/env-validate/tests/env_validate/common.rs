//! Helpers shared by the test modules.

use std::path::PathBuf;

use preflight_env_validate::{Dialect, Document, Finding, Limits, Reading};

pub(crate) fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub(crate) fn fixtures_in(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(dir))
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "env"))
        .collect();
    files.sort();
    files
}

/// `(rule, key, line)` of each finding, the shape the fixture tests assert exactly.
pub(crate) fn triples(findings: &[Finding]) -> Vec<(String, Option<String>, u32)> {
    findings
        .iter()
        .map(|f| {
            (
                f.rule.id().to_owned(),
                f.key.clone(),
                f.location.as_ref().map_or(0, |l| l.line),
            )
        })
        .collect()
}

/// A reading as a short string: the value, or `<rejected>`, `<skipped>`, `<inherit>`,
/// `<none>`.
pub(crate) fn show(r: &Reading) -> String {
    match r {
        Reading::Value(v) => v.clone(),
        Reading::Inherit => "<inherit>".into(),
        Reading::NoValue => "<none>".into(),
        Reading::Skipped(_) => "<skipped>".into(),
        Reading::Rejected(_) => "<rejected>".into(),
        _ => "<other>".into(),
    }
}

pub(crate) fn load(path: &std::path::Path, dialect: Dialect) -> Document {
    Document::from_path(path, dialect, &Limits::default()).expect("fixture readable")
}
