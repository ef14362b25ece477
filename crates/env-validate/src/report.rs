//! The result of a run and its three renderings: human (rustc-like, with the masked line),
//! JSON, and GitHub Actions annotations. All three are built from findings, whose text
//! never holds a value, so no rendering can leak one.

use std::fmt::Write as _;

use crate::{Finding, Severity, Values};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// rustc-like text with the masked source line and a caret.
    #[default]
    Human,
    /// One JSON document: `{"findings": [...], "summary": {...}}`.
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`).
    Github,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" | "text" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            "github" => Ok(Self::Github),
            other => Err(format!(
                "unknown format `{other}` (expected human, json or github)"
            )),
        }
    }
}

/// What a validation found, and the values it loaded.
#[derive(Debug, Clone)]
pub struct Report {
    findings: Vec<Finding>,
    values: Values,
}

impl Report {
    pub(crate) fn new(findings: Vec<Finding>, values: Values) -> Self {
        Self { findings, values }
    }

    /// Every finding, ordered by file and position.
    #[must_use]
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The loaded values (typed where the schema declares a type).
    #[must_use]
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Consumes the report, returning the values.
    #[must_use]
    pub fn into_values(self) -> Values {
        self.values
    }

    /// Number of findings of a severity.
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Whether any finding is an error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// Whether there are no findings at all.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Renders the findings.
    #[must_use]
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Human => self.human(),
            Format::Json => self.json(),
            Format::Github => self.github(),
        }
    }

    fn human(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let _ = writeln!(out, "{}[{}]: {}", f.severity, f.rule, f.message);
            if let Some(loc) = &f.location {
                let _ = writeln!(out, "  --> {loc}");
                if let Some(s) = &f.snippet {
                    let n = loc.line.to_string();
                    let pad = " ".repeat(n.len());
                    let _ = writeln!(out, "{pad} |");
                    let _ = writeln!(out, "{n} | {}", s.text);
                    let _ = writeln!(
                        out,
                        "{pad} | {}^",
                        " ".repeat(s.caret.saturating_sub(1) as usize)
                    );
                }
            }
            if let Some(h) = &f.help {
                let _ = writeln!(out, "  = help: {h}");
            }
            out.push('\n');
        }
        let (e, w) = (self.count(Severity::Error), self.count(Severity::Warning));
        if e + w == 0 {
            out.push_str("no problems found\n");
        } else {
            let _ = writeln!(out, "{e} error{}, {w} warning{}", plural(e), plural(w));
        }
        out
    }

    fn json(&self) -> String {
        let findings: Vec<serde_json::Value> = self
            .findings
            .iter()
            .map(|f| {
                let loc = f.location.as_ref();
                serde_json::json!({
                    "rule": f.rule.id(),
                    "severity": f.severity.as_str(),
                    "key": f.key,
                    "file": loc.map(|l| l.file.to_string()),
                    "line": loc.filter(|l| l.line > 0).map(|l| l.line),
                    "column": loc.filter(|l| l.col > 0).map(|l| l.col),
                    "message": f.message,
                    "help": f.help,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "findings": findings,
            "summary": {
                "errors": self.count(Severity::Error),
                "warnings": self.count(Severity::Warning),
            },
        });
        let mut s = doc.to_string();
        s.push('\n');
        s
    }

    fn github(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut props = Vec::new();
            if let Some(l) = f.location.as_ref().filter(|l| l.has_line()) {
                props.push(format!("file={}", gh_prop(&l.file)));
                props.push(format!("line={}", l.line));
                if l.col > 0 {
                    props.push(format!("col={}", l.col));
                }
            }
            props.push(format!("title={}", gh_prop(f.rule.id())));
            let mut msg = f.message.clone();
            if let Some(h) = &f.help {
                msg.push_str("\nhelp: ");
                msg.push_str(h);
            }
            let _ = writeln!(out, "::{level} {}::{}", props.join(","), gh_data(&msg));
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Escaping of workflow command data (GitHub's `escapeData`).
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of workflow command properties (GitHub's `escapeProperty`).
fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}
