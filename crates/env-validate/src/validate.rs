//! The validation run: load templates and env files, lint them, read each entry as the
//! chosen loader does, then check the result against the schema. Every problem becomes
//! a finding; only I/O and size limits are errors. The process environment is read
//! only when asked, and never written.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::hash::{FastMap, FastSet};
use crate::values::{NO_SPEC, Origin, Value};
use crate::{
    Dialect, Document, Entry, Finding, Limits, Location, Reading, Report, Result, Rule, Schema,
    Values, lint,
};

const PROCESS_ENV: &str = "<process environment>";

enum Input {
    Path(PathBuf),
    Doc(Document),
}

/// Configures and runs a validation.
///
/// Precedence, highest first: the process environment (when enabled; loaders do not
/// override variables that are already set), then env files, a later file over an
/// earlier one, then schema defaults. Within one file, duplicates follow the dialect
/// (dotenvy keeps the first, the others the last).
#[must_use]
pub struct Validator {
    schema: Schema,
    templates: Vec<Input>,
    env_files: Vec<Input>,
    process_env: Option<HashMap<String, String>>,
    dialect: Dialect,
    lint: bool,
    ignore: HashSet<String>,
    limits: Limits,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("dialect", &self.dialect)
            .field("lint", &self.lint)
            .field("templates", &self.templates.len())
            .field("env_files", &self.env_files.len())
            .field("process_env", &self.process_env.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Validator {
    /// A validator with no schema, no inputs, the portable dialect and lints on.
    pub fn new() -> Self {
        Self {
            schema: Schema::default(),
            templates: Vec::new(),
            env_files: Vec::new(),
            process_env: None,
            dialect: Dialect::Portable,
            lint: true,
            ignore: Self::OFF_BY_DEFAULT
                .iter()
                .map(|r| r.id().to_owned())
                .collect(),
            limits: Limits::default(),
        }
    }

    /// Adds a schema built in Rust (merged over any template's).
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema.merge(schema);
        self
    }

    /// Reads the schema from an annotated template such as `.env.example`.
    pub fn template(mut self, path: impl Into<PathBuf>) -> Self {
        self.templates.push(Input::Path(path.into()));
        self
    }

    /// A template given as an already parsed document.
    pub fn template_document(mut self, doc: Document) -> Self {
        self.templates.push(Input::Doc(doc));
        self
    }

    /// Adds an env file (a later file overrides an earlier one).
    pub fn env_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.env_files.push(Input::Path(path.into()));
        self
    }

    /// An env file given as an already parsed document.
    pub fn env_document(mut self, doc: Document) -> Self {
        self.env_files.push(Input::Doc(doc));
        self
    }

    /// Includes the current process environment (read, never modified).
    pub fn process_env(self) -> Self {
        self.env_map(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Uses `vars` as the process environment: for tests, or an environment captured
    /// elsewhere.
    pub fn env_map<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.process_env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Which loader's reading to validate (default [`Dialect::Portable`]).
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Turns the dotenv-linter style lints on or off (default on).
    pub fn lint(mut self, on: bool) -> Self {
        self.lint = on;
        self
    }

    /// Rules that report nothing unless [enabled](Self::enable).
    pub const OFF_BY_DEFAULT: &'static [Rule] = &[Rule::MissingDefaultedKey];

    /// Drops findings of a rule (by id, e.g. `unordered-key`).
    pub fn ignore(mut self, rule: &Rule) -> Self {
        self.ignore.insert(rule.id().to_owned());
        self
    }

    /// Reports findings of a rule that is off by default (see [`Self::OFF_BY_DEFAULT`]),
    /// or one ignored earlier.
    pub fn enable(mut self, rule: &Rule) -> Self {
        self.ignore.remove(rule.id());
        self
    }

    /// Size limits for the files read.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    fn load<'a>(&self, input: &'a Input) -> Result<Cow<'a, Document>> {
        match input {
            Input::Path(p) => Document::from_path(p, self.dialect, &self.limits).map(Cow::Owned),
            Input::Doc(d) => Ok(Cow::Borrowed(d)),
        }
    }

    /// Runs the validation. `Err` only when a file cannot be read or exceeds the limits.
    pub fn run(&self) -> Result<Report> {
        let templates = self
            .templates
            .iter()
            .map(|i| self.load(i))
            .collect::<Result<Vec<_>>>()?;
        let env_docs = self
            .env_files
            .iter()
            .map(|i| self.load(i))
            .collect::<Result<Vec<_>>>()?;
        let mut findings = Vec::new();
        let mut schema = Schema::default();
        for t in &templates {
            findings.extend(t.parse_findings());
            let (s, f) = Schema::from_template(t, self.dialect);
            findings.extend(f);
            schema.merge(s);
        }
        schema.merge(self.schema.clone());
        if self.lint {
            for d in templates.iter().chain(&env_docs) {
                findings.extend(lint::lint(d));
            }
        }

        let env = self.process_env.as_ref();
        let lookup = |name: &str| env.and_then(|e| e.get(name).cloned());
        let mut values = Values::default();
        let entry_count: usize = env_docs.iter().map(|d| d.items.len()).sum();
        // Drift (template keys absent from every env file): which declared keys were seen,
        // by declaration index, found with the same lookup as the extra-key check.
        let mut in_files: Vec<bool> = vec![false; schema.keys.len()];
        // Most keys are both declared and set: room for the larger side, not the sum
        // (a table twice too big is megabytes of fresh pages on a large file).
        values.map.reserve(entry_count.max(schema.keys.len()));
        let mut extra: Vec<(String, Location)> = Vec::new();
        let mut extra_seen: FastSet<&str> = FastSet::default();
        values.files = env_docs.iter().map(|d| d.name_arc().clone()).collect();
        for (doc_index, doc) in env_docs.iter().enumerate() {
            let doc_index = u32::try_from(doc_index).unwrap_or(u32::MAX);
            findings.extend(doc.parse_findings());
            let readings = self.read(doc, &lookup, &mut findings);
            let mut set_here: FastSet<&str> = FastSet::default();
            if self.dialect.first_duplicate_wins() {
                set_here.reserve(doc.items.len());
            }
            // Portable: keys this file sets twice, with the first value and its line. The
            // values table finds them, so a file without duplicates needs no extra map.
            let mut dups: FastMap<&str, (u32, String)> = FastMap::default();
            for (entry, reading) in doc.entries().zip(readings) {
                let key = entry.key();
                let mut spec = NO_SPEC;
                if !schema.keys.is_empty() {
                    match schema.position(key) {
                        Some(i) => {
                            in_files[i] = true;
                            spec = u32::try_from(i).unwrap_or(NO_SPEC);
                        }
                        None => {
                            if entry.separator().is_some()
                                && schema.report_extra
                                && extra_seen.insert(key)
                            {
                                extra.push((key.to_owned(), entry.location()));
                            }
                        }
                    }
                }
                let raw = match reading {
                    Reading::Value(v) => v,
                    Reading::Inherit => match lookup(key) {
                        Some(v) => v,
                        None => continue,
                    },
                    _ => continue,
                };
                // dotenvy does not override what it already set from this file.
                if self.dialect.first_duplicate_wins() && !set_here.insert(key) {
                    continue;
                }
                let replaced = values.map.insert(
                    key.to_owned(),
                    Value {
                        raw,
                        typed: None,
                        secret: false,
                        spec,
                        origin: {
                            let (line, col) = entry.line_col();
                            Origin::File {
                                file: doc_index,
                                line,
                                col,
                            }
                        },
                    },
                );
                if self.dialect == Dialect::Portable
                    && let Some(old) = replaced
                    && let Origin::File { file, line, .. } = old.origin
                    && file == doc_index
                {
                    dups.entry(key).or_insert((line, old.raw));
                }
            }
            duplicate_disagreements(doc, dups, &values, &mut findings);
        }
        if let Some(env) = env {
            // Only declared keys: the rest of the process environment is none of ours.
            for (i, k) in schema.keys().enumerate() {
                if let Some(v) = env.get(&k.name) {
                    values.map.insert(
                        k.name.clone(),
                        Value {
                            raw: v.clone(),
                            typed: None,
                            secret: false,
                            origin: Origin::ProcessEnv,
                            spec: u32::try_from(i).unwrap_or(NO_SPEC),
                        },
                    );
                }
            }
        }
        for (key, at) in extra {
            findings.push(
                Finding::new(
                    Rule::ExtraKey,
                    format!("`{key}` is not declared in the template or schema"),
                )
                .key(&key)
                .at(at)
                .help("declare it in .env.example, or remove it"),
            );
        }
        self.check_schema(
            &schema,
            &mut values,
            &mut findings,
            !env_docs.is_empty(),
            &in_files,
        );
        findings.retain(|f| !self.ignore.contains(f.rule.id()));
        let docs: Vec<&Document> = templates.iter().chain(&env_docs).map(|d| &**d).collect();
        let rank_of = |l: &Location| docs.iter().position(|d| *d.name_arc() == l.file);
        findings.sort_by_key(|f| {
            let loc = f.location.as_ref();
            let rank = loc.and_then(rank_of).unwrap_or(usize::MAX);
            (rank, loc.map_or(0, |l| l.line), loc.map_or(0, |l| l.col))
        });
        // Every finding that points into a file shows its (masked) line, whichever check
        // produced it.
        for f in &mut findings {
            if f.snippet.is_none()
                && let Some(loc) = f.location.as_ref().filter(|l| l.has_line())
                && let Some(doc) = rank_of(loc).map(|i| docs[i])
            {
                f.snippet = doc.snippet_for_line(loc.line);
            }
        }
        Ok(Report::new(findings, values))
    }

    /// Reads a document as the dialect does, turning rejected and skipped lines (and, in
    /// portable mode, disagreements) into findings.
    fn read(
        &self,
        doc: &Document,
        lookup: &dyn Fn(&str) -> Option<String>,
        out: &mut Vec<Finding>,
    ) -> Vec<Reading> {
        let problem = |e: &Entry<'_>, r: &Reading, loader: Dialect| -> Option<Finding> {
            let (rule, why) = match r {
                Reading::Rejected(w) => (Rule::Syntax, w),
                Reading::Skipped(w) => (Rule::IgnoredLine, w),
                _ => return None,
            };
            let msg = if loader == Dialect::Portable {
                why.clone()
            } else {
                format!("{why} ({} reads this file)", loader.loader())
            };
            Some(
                Finding::new(rule, msg)
                    .key_opt(shown_key(e))
                    .at(e.location())
                    .snippet(Some(e.snippet(e.raw.key.start))),
            )
        };
        if self.dialect != Dialect::Portable {
            let readings = self.dialect.read(doc, lookup);
            out.extend(
                doc.entries()
                    .zip(&readings)
                    .filter_map(|(e, r)| problem(&e, r, self.dialect)),
            );
            return readings;
        }
        let portable = crate::dialect::read_portable(doc, lookup);
        let mut picked = Vec::with_capacity(portable.len());
        for (e, r) in doc.entries().zip(portable) {
            let each = match r {
                crate::dialect::PortableReading::Plain(v) => {
                    picked.push(Reading::Value(v));
                    continue;
                }
                crate::dialect::PortableReading::Each(each) => *each,
            };
            let rs: [&Reading; 4] = [&each[0], &each[1], &each[2], &each[3]];
            if rs.iter().all(|r| *r == rs[0]) {
                out.extend(problem(&e, rs[0], Dialect::Portable));
            } else {
                out.push(disagreement(&e, &rs));
            }
            // The first accepting loader's reading is the one validated.
            picked.push(
                each.into_iter()
                    .find(|r| matches!(r, Reading::Value(_)))
                    .unwrap_or(Reading::NoValue),
            );
        }
        picked
    }

    fn check_schema(
        &self,
        schema: &Schema,
        values: &mut Values,
        out: &mut Vec<Finding>,
        have_env_files: bool,
        in_files: &[bool],
    ) {
        let process_loc = || Location::new(PROCESS_ENV.into(), 0, 0);
        let files = values.files.clone();
        let value_loc = |v: &Value| match v.origin {
            Origin::File { file, line, col } => {
                Some(Location::new(files.get(file as usize)?.clone(), line, col))
            }
            Origin::ProcessEnv => Some(process_loc()),
            Origin::Default => None,
        };
        let mut missing_required: FastSet<&str> = FastSet::default();
        // Set, non-empty values are checked in one walk over the values table (no lookup
        // per key); their findings are tagged with the declaration index, so the report
        // keeps declaration order whatever the table's order.
        let mut checked = vec![false; schema.keys.len()];
        let mut tagged: Vec<(usize, Finding)> = Vec::new();
        let mut found = Vec::new();
        for v in values.map.values_mut() {
            let i = v.spec as usize;
            let Some(spec) = schema.keys.get(i) else {
                continue;
            };
            if spec.allow_empty || !v.raw.is_empty() {
                checked[i] = true;
                v.secret = spec.secret;
                check_value(spec, v, &value_loc, &mut found);
                tagged.extend(found.drain(..).map(|f| (i, f)));
            }
        }
        for (i, spec) in schema.keys().enumerate() {
            if checked[i] {
                continue;
            }
            let key = spec.name.as_str();
            let removed = values.map.remove(key);
            let was_empty = removed.as_ref().is_some_and(|v| v.raw.is_empty());
            let empty_at = removed.as_ref().and_then(value_loc);
            if let Some(d) = &spec.default {
                values.map.insert(
                    key.to_owned(),
                    Value {
                        raw: d.clone(),
                        typed: spec.ty.check(d).ok().map(Box::new),
                        secret: spec.secret,
                        origin: Origin::Default,
                        spec: u32::try_from(i).unwrap_or(NO_SPEC),
                    },
                );
            } else if spec.required {
                missing_required.insert(key);
                let f = if was_empty {
                    Finding::new(
                        Rule::EmptyValue,
                        format!("`{key}` is required but set to the empty string"),
                    )
                    .at_opt(empty_at)
                } else {
                    Finding::new(
                        Rule::MissingRequired,
                        format!("`{key}` is required but not set"),
                    )
                    .at_opt(spec.declared_at.clone())
                };
                tagged.push((
                    i,
                    f.key(key)
                        .help(format!("set {key} in the environment or an env file")),
                ));
            }
        }
        // Stable: a key's own findings stay in the order they were made.
        tagged.sort_by_key(|(i, _)| *i);
        out.extend(tagged.into_iter().map(|(_, f)| f));
        // Conditions see the typed values, so they run after every key is checked.
        for spec in schema.keys() {
            let key = spec.name.as_str();
            for cond in &spec.required_if {
                if !values.map.contains_key(key)
                    && !missing_required.contains(key)
                    && cond.holds(values)
                {
                    missing_required.insert(key);
                    out.push(
                        Finding::new(
                            Rule::MissingRequired,
                            format!("`{key}` is required when {cond}"),
                        )
                        .key(key)
                        .at_opt(spec.declared_at.clone()),
                    );
                }
            }
            for (cond, allowed) in &spec.when {
                let Some(v) = values.map.get(key) else {
                    continue;
                };
                if !cond.holds(values) {
                    continue;
                }
                let ok = allowed.iter().any(|a| {
                    if spec.ty.is_bool()
                        && let (Some(x), Some(y)) = (
                            crate::schema::parse_bool(&v.raw, false),
                            crate::schema::parse_bool(a, false),
                        )
                    {
                        return x == y;
                    }
                    *a == v.raw
                });
                if !ok {
                    out.push(
                        Finding::new(
                            Rule::ConditionalValue,
                            format!("`{key}` must be {} when {cond}", allowed.join(" or ")),
                        )
                        .key(key)
                        .at_opt(value_loc(v)),
                    );
                }
            }
        }
        for rule in &schema.rules {
            if !(rule.check)(values) {
                let first = rule.keys.first();
                let loc = first.and_then(|k| values.map.get(k)).and_then(value_loc);
                let mut f =
                    Finding::new(Rule::Custom(rule.id.clone()), rule.message.clone()).at_opt(loc);
                if let Some(k) = first {
                    f = f.key(k);
                }
                out.push(f);
            }
        }
        if have_env_files {
            for (spec, _) in schema.keys().zip(in_files).filter(|(_, seen)| !**seen) {
                let key = spec.name.as_str();
                if missing_required.contains(key) {
                    continue;
                }
                // With a default the app still gets a value: only worth saying when asked.
                let (rule, help) = if spec.default.is_some() {
                    (
                        Rule::MissingDefaultedKey,
                        "add it to the env file to pin the value, or leave the default to apply",
                    )
                } else {
                    (Rule::MissingKey, "add it to the env file (empty if unused)")
                };
                out.push(
                    Finding::new(
                        rule,
                        format!("`{key}` is in the template but in none of the env files"),
                    )
                    .key(key)
                    .at_opt(spec.declared_at.clone())
                    .help(help),
                );
            }
        }
        // Secrets declared in the schema are masked in Values' Debug whatever their source.
        for spec in schema.keys().filter(|s| s.secret) {
            if let Some(v) = values.map.get_mut(&spec.name) {
                v.secret = true;
            }
        }
    }
}

/// Type and pattern of one present value.
/// `loc` is called only when there is something to report.
fn check_value(
    spec: &crate::KeySpec,
    v: &mut Value,
    loc: &dyn Fn(&Value) -> Option<Location>,
    out: &mut Vec<Finding>,
) {
    let key = spec.name.as_str();
    match spec.ty.check(&v.raw) {
        Ok(t) => v.typed = Some(Box::new(t)),
        Err(why) => out.push(
            Finding::new(Rule::InvalidValue, format!("`{key}`: {why}"))
                .key(key)
                .at_opt(loc(v))
                .help(format!("the schema declares `{}`", spec.ty)),
        ),
    }
    if let Some(p) = &spec.pattern
        && !p.is_match(&v.raw)
    {
        let shown = p
            .as_str()
            .strip_prefix("^(?:")
            .and_then(|s| s.strip_suffix(")$"))
            .unwrap_or(p.as_str());
        out.push(
            Finding::new(
                Rule::InvalidValue,
                format!("`{key}` does not match the pattern `{shown}`"),
            )
            .key(key)
            .at_opt(loc(v)),
        );
    }
}

fn disagreement(entry: &crate::Entry<'_>, rs: &[&Reading; 4]) -> Finding {
    // Group loaders by identical reading; describe each group without its value.
    let mut groups: Vec<(Vec<&'static str>, &Reading)> = Vec::new();
    for (d, r) in Dialect::LOADERS.iter().zip(rs) {
        match groups.iter_mut().find(|(_, g)| *g == *r) {
            Some((names, _)) => names.push(d.loader()),
            None => groups.push((vec![d.loader()], r)),
        }
    }
    let mut value_groups = 0;
    let parts: Vec<String> = groups
        .iter()
        .map(|(names, r)| {
            let what = match r {
                Reading::Value(_) => {
                    value_groups += 1;
                    if value_groups == 1 {
                        "read one value".to_owned()
                    } else {
                        "read a different value".to_owned()
                    }
                }
                other => other.describe().to_owned(),
            };
            format!("{} {what}", join_and(names))
        })
        .collect();
    let subject = shown_key(entry).map_or_else(|| "this line".to_owned(), |k| format!("`{k}`"));
    Finding::new(
        Rule::LoaderDisagreement,
        format!("loaders read {subject} differently: {}", parts.join("; ")),
    )
    .key_opt(shown_key(entry))
    .at(entry.location())
    .snippet(Some(entry.snippet(entry.raw.key.start)))
    .help(hint(entry.raw_value()))
}

/// The key, unless the line has no `=`: then the "key" may be a pasted value.
fn shown_key<'a>(entry: &crate::Entry<'a>) -> Option<&'a str> {
    entry.separator().map(|_| entry.key())
}

fn join_and(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The usual cause of a disagreement, from the anchors' table of loader differences.
fn hint(raw: &str) -> &'static str {
    let t = raw.trim_start();
    if t.starts_with('#')
        || (raw.contains('#') && !raw.contains(" #") && !t.starts_with(['"', '\'']))
    {
        return "quote the value: loaders disagree on where an unquoted `#` starts a comment";
    }
    if t.starts_with('\'') && raw.contains('$') {
        return "python-dotenv expands `${…}` even in single quotes; avoid `$` or pick a dialect";
    }
    if raw.contains("${") || raw.contains('$') {
        return "`$`/`${…}` expansion differs per loader (dotenvy has no `:-`, Node none); avoid it or pick a dialect";
    }
    if t.starts_with('"') && raw.contains('\\') {
        return "escapes in double quotes differ per loader; use single quotes or literal characters";
    }
    if !t.starts_with(['"', '\'', '`']) && t.trim_end().contains(char::is_whitespace) {
        return "quote values that contain whitespace (dotenvy rejects them unquoted)";
    }
    "use `KEY=value` with a plain key ([A-Z_][A-Z0-9_]*) and a quoted value to read the same everywhere"
}

/// In portable mode, a key set twice in one file with different values: dotenvy keeps
/// the first, the other loaders the last. `dups` holds each such key's first value and
/// line; the last is the one in `values`.
fn duplicate_disagreements(
    doc: &Document,
    dups: FastMap<&str, (u32, String)>,
    values: &Values,
    out: &mut Vec<Finding>,
) {
    let mut found: Vec<(&str, u32, u32, u32)> = dups
        .into_iter()
        .filter_map(|(key, (first_line, first))| {
            let last = values.map.get(key)?;
            match last.origin {
                Origin::File { line, col, .. } if last.raw != first => {
                    Some((key, first_line, line, col))
                }
                _ => None,
            }
        })
        .collect();
    found.sort_unstable_by_key(|&(_, _, line, _)| line);
    for (key, first_line, line, col) in found {
        out.push(
            Finding::new(
                Rule::LoaderDisagreement,
                format!(
                    "`{key}` is set twice with different values: dotenvy keeps line {first_line}, the other loaders line {line}"
                ),
            )
            .key(key)
            .at(Location::new(doc.name_arc().clone(), line, col))
            .help("keep one entry per key"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(v: Validator) -> Vec<String> {
        let template = Document::parse(
            ".env.example",
            "# @type=port @default\nPORT=8000\n# @type=int\nWORKERS=\n",
        );
        let env = Document::parse(".env", "OTHER=1\n");
        let report = v
            .template_document(template)
            .env_document(env)
            .lint(false)
            .ignore(&Rule::ExtraKey)
            .run()
            .expect("runs");
        report
            .findings()
            .iter()
            .map(|f| format!("{} {}", f.rule.id(), f.key.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn a_missing_key_with_a_default_is_reported_only_when_enabled() {
        assert_eq!(missing(Validator::new()), ["missing-key WORKERS"]);
        assert_eq!(
            missing(Validator::new().enable(&Rule::MissingDefaultedKey)),
            ["missing-defaulted-key PORT", "missing-key WORKERS"]
        );
    }
}
