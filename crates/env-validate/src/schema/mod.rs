//! The schema: which keys exist, their types, which are required or secret, defaults,
//! and rules across keys. Built in Rust ([`Schema::builder`]) or read from the `# @…`
//! directives of an annotated `.env.example` ([`Schema::from_template`]).

mod template;
mod types;

use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;

use regex::Regex;

pub(crate) use types::parse_bool;
pub use types::{TypedValue, ValueType};

use crate::hash::{FastMap, FxHasher};
use crate::{Error, Location, Result, Values};

/// A condition on another key, as in `@required-if=DJANGO_ENV=production`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Condition {
    /// The key the condition looks at.
    pub key: String,
    /// The value it must have; `None` means "set and not empty".
    pub equals: Option<String>,
}

impl Condition {
    /// `key` equals `value`.
    #[must_use]
    pub fn equals(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            equals: Some(value.into()),
        }
    }

    /// `key` is set and not empty.
    #[must_use]
    pub fn is_set(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            equals: None,
        }
    }

    /// Parses `KEY=value` or `KEY`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let (key, equals) = match s.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().to_owned())),
            None => (s.trim(), None),
        };
        if key.is_empty() {
            return Err("the condition needs a key, as in KEY=value".to_owned());
        }
        Ok(Self {
            key: key.to_owned(),
            equals,
        })
    }

    pub(crate) fn holds(&self, values: &Values) -> bool {
        let Some(v) = values.raw(&self.key) else {
            return false;
        };
        match &self.equals {
            None => !v.is_empty(),
            Some(want) => {
                // Booleans compare by meaning, so `DEBUG=0` satisfies `DEBUG=false`.
                if values.is_bool(&self.key)
                    && let (Some(a), Some(b)) = (parse_bool(v, false), parse_bool(want, false))
                {
                    return a == b;
                }
                v == want
            }
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.equals {
            Some(v) => write!(f, "{}={v}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// One declared key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeySpec {
    /// The variable name.
    pub name: String,
    /// Its type.
    pub ty: ValueType,
    /// Must be set (or have a default).
    pub required: bool,
    /// Its value is never shown, and [`Values`]' `Debug` masks it.
    pub secret: bool,
    /// Used when the key is unset (or empty); checked against `ty` too.
    pub default: Option<String>,
    /// Whether the empty string is a value (otherwise it counts as unset).
    pub allow_empty: bool,
    /// A regex the whole raw value must match.
    pub pattern: Option<Regex>,
    /// Required when any of these holds.
    pub required_if: Vec<Condition>,
    /// When the condition holds, the value must be one of these.
    pub when: Vec<(Condition, Vec<String>)>,
    /// Free text from the template's comments, for docs and generated templates.
    pub description: Option<String>,
    /// Where the template declares it.
    pub declared_at: Option<Location>,
    /// `@wait` / `@wait=KIND`: the value names a service that an entry point should wait
    /// for before starting the app. This crate only records it; `Some(None)` means the
    /// value is itself a target (a URL), `Some(Some(kind))` names a probe kind for values
    /// that are not URLs (`tcp` for `host:port`, `questdb` for a host).
    pub wait: Option<Option<String>>,
}

impl KeySpec {
    fn new(name: String) -> Self {
        Self {
            name,
            ty: ValueType::string(),
            required: false,
            secret: false,
            default: None,
            allow_empty: false,
            pattern: None,
            required_if: Vec::new(),
            when: Vec::new(),
            description: None,
            declared_at: None,
            wait: None,
        }
    }
}

type RuleFn = dyn Fn(&Values) -> bool + Send + Sync;

/// A rule across keys written in Rust: when `check` returns false, a finding with `id`
/// and `message` is reported.
#[derive(Clone)]
pub(crate) struct CustomRule {
    pub(crate) id: Arc<str>,
    pub(crate) message: String,
    pub(crate) keys: Vec<String>,
    pub(crate) check: Arc<RuleFn>,
}

impl fmt::Debug for CustomRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomRule")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Declared keys by name without a second copy of each name: the name's hash maps to its
/// position in the key list, where the name itself is compared. A name whose hash collides
/// with an earlier name's (rare) goes to `collided`, searched in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyIndex {
    by_hash: FastMap<u64, usize>,
    collided: Vec<usize>,
}

impl KeyIndex {
    fn hash(key: &str) -> u64 {
        let mut h = FxHasher::default();
        h.write(key.as_bytes());
        h.finish()
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.by_hash.reserve(n);
    }

    fn get(&self, keys: &[KeySpec], key: &str) -> Option<usize> {
        self.get_hashed(keys, key, Self::hash(key))
    }

    /// The position of `key`, recorded as `next` if it is new.
    fn get_or_insert(&mut self, keys: &[KeySpec], key: &str, next: usize) -> usize {
        self.get_or_insert_hashed(keys, key, Self::hash(key), next)
    }

    fn get_hashed(&self, keys: &[KeySpec], key: &str, hash: u64) -> Option<usize> {
        let first = *self.by_hash.get(&hash)?;
        if keys[first].name == key {
            return Some(first);
        }
        self.collided.iter().copied().find(|&i| keys[i].name == key)
    }

    fn get_or_insert_hashed(
        &mut self,
        keys: &[KeySpec],
        key: &str,
        hash: u64,
        next: usize,
    ) -> usize {
        let first = *self.by_hash.entry(hash).or_insert(next);
        if first == next || keys[first].name == key {
            return first;
        }
        match self.collided.iter().copied().find(|&i| keys[i].name == key) {
            Some(i) => i,
            None => {
                self.collided.push(next);
                next
            }
        }
    }
}

/// The set of declared keys and rules.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub(crate) keys: Vec<KeySpec>,
    pub(crate) index: KeyIndex,
    pub(crate) rules: Vec<CustomRule>,
    /// Keys not in the schema are reported as `extra-key`.
    pub(crate) report_extra: bool,
}

impl Schema {
    /// Starts a schema in Rust.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder {
            schema: Schema {
                report_extra: true,
                ..Schema::default()
            },
            errors: Vec::new(),
        }
    }

    /// The declared keys in declaration order.
    pub fn keys(&self) -> impl Iterator<Item = &KeySpec> {
        self.keys.iter()
    }

    /// One key's declaration.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&KeySpec> {
        self.position(key).map(|i| &self.keys[i])
    }

    /// The declaration index of `key`.
    pub(crate) fn position(&self, key: &str) -> Option<usize> {
        self.index.get(&self.keys, key)
    }

    /// Whether the schema declares nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.rules.is_empty()
    }

    pub(crate) fn push(&mut self, spec: KeySpec) {
        let next = self.keys.len();
        let i = self.index.get_or_insert(&self.keys, &spec.name, next);
        if i == next {
            self.keys.push(spec);
        } else {
            self.keys[i] = spec;
        }
    }

    /// Adds `other`'s keys and rules; a key declared in both takes `other`'s declaration.
    pub fn merge(&mut self, other: Schema) {
        if self.keys.is_empty() && self.rules.is_empty() {
            *self = other;
            return;
        }
        for k in other.keys {
            self.push(k);
        }
        self.rules.extend(other.rules);
        self.report_extra |= other.report_extra;
    }

    /// Renders an annotated `.env.example` from the schema: descriptions and directives
    /// above each key, defaults as values, secrets always blank.
    #[must_use]
    pub fn render_template(&self) -> String {
        let mut out = String::new();
        for k in &self.keys {
            if let Some(d) = &k.description {
                for line in d.lines() {
                    out.push_str("# ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            let mut dirs = Vec::new();
            if k.required {
                dirs.push("@required".to_owned());
            }
            if k.secret {
                dirs.push("@secret".to_owned());
            }
            dirs.push(format!("@type={}", k.ty));
            if k.allow_empty {
                dirs.push("@allow-empty".to_owned());
            }
            if let Some(p) = &k.pattern {
                let src = p.as_str();
                let inner = src
                    .strip_prefix("^(?:")
                    .and_then(|s| s.strip_suffix(")$"))
                    .unwrap_or(src);
                dirs.push(format!(
                    "@pattern=\"{}\"",
                    inner.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
            for c in &k.required_if {
                dirs.push(format!("@required-if={c}"));
            }
            for (c, allowed) in &k.when {
                dirs.push(format!("@when={c}:{}", allowed.join("|")));
            }
            match &k.wait {
                Some(Some(kind)) => dirs.push(format!("@wait={kind}")),
                Some(None) => dirs.push("@wait".to_owned()),
                None => {}
            }
            let default = k.default.as_deref().filter(|_| !k.secret);
            if default.is_some() {
                dirs.push("@default".to_owned());
            }
            out.push_str("# ");
            out.push_str(&dirs.join(" "));
            out.push('\n');
            let value = default.unwrap_or("");
            let line = crate::Dialect::Portable
                .render_entry(&k.name, value)
                .unwrap_or_else(|_| format!("{}=", k.name));
            out.push_str(&line);
            out.push_str("\n\n");
        }
        if out.ends_with("\n\n") {
            out.pop();
        }
        out
    }
}

/// Builds a [`Schema`] in Rust; problems (a bad regex, an invalid default) are collected
/// and returned together by [`build`](Self::build).
#[derive(Debug)]
#[must_use]
pub struct SchemaBuilder {
    schema: Schema,
    errors: Vec<(String, String)>,
}

impl SchemaBuilder {
    /// Declares `name` with type `ty`; `configure` sets the rest.
    pub fn key(
        mut self,
        name: &str,
        ty: ValueType,
        configure: impl FnOnce(KeyBuilder) -> KeyBuilder,
    ) -> Self {
        let mut spec = KeySpec::new(name.to_owned());
        spec.ty = ty;
        let kb = configure(KeyBuilder {
            spec,
            errors: Vec::new(),
        });
        self.errors
            .extend(kb.errors.into_iter().map(|e| (name.to_owned(), e)));
        self.schema.push(kb.spec);
        self
    }

    /// Whether keys outside the schema are reported (`extra-key`). Default true.
    pub fn report_extra_keys(mut self, yes: bool) -> Self {
        self.schema.report_extra = yes;
        self
    }

    /// Adds a cross-field rule: when `check` returns false, an error finding `id` with
    /// `message` is reported against `keys` (the message must not contain values).
    pub fn rule(
        mut self,
        id: &str,
        keys: &[&str],
        message: &str,
        check: impl Fn(&Values) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.schema.rules.push(CustomRule {
            id: id.into(),
            message: message.to_owned(),
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            check: Arc::new(check),
        });
        self
    }

    /// Checks every default against its type and returns the schema, or the first error
    /// with every problem listed in it.
    pub fn build(self) -> Result<Schema> {
        let mut errors = self.errors;
        for k in &self.schema.keys {
            if let Some(d) = &k.default
                && let Err(e) = k.ty.check(d)
            {
                errors.push((k.name.clone(), format!("the default is invalid: {e}")));
            }
        }
        if errors.is_empty() {
            return Ok(self.schema);
        }
        let key = errors
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let reason = errors
            .iter()
            .map(|(k, e)| format!("{k}: {e}"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::Schema { key, reason })
    }
}

/// Configures one key of a [`SchemaBuilder`].
#[derive(Debug)]
#[must_use]
pub struct KeyBuilder {
    spec: KeySpec,
    errors: Vec<String>,
}

impl KeyBuilder {
    /// The key must be set (or have a default).
    pub fn required(mut self) -> Self {
        self.spec.required = true;
        self
    }

    /// The value is a secret.
    pub fn secret(mut self) -> Self {
        self.spec.secret = true;
        self
    }

    /// The value used when unset; checked against the type by `build()`.
    pub fn default(mut self, value: &str) -> Self {
        self.spec.default = Some(value.to_owned());
        self
    }

    /// An empty value is a value (by default it counts as unset).
    pub fn allow_empty(mut self) -> Self {
        self.spec.allow_empty = true;
        self
    }

    /// The whole raw value must match `regex`.
    pub fn pattern(mut self, regex: &str) -> Self {
        match types::compile_pattern(regex) {
            Ok(r) => self.spec.pattern = Some(r),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Required when `condition` holds.
    pub fn required_if(mut self, condition: Condition) -> Self {
        self.spec.required_if.push(condition);
        self
    }

    /// When `condition` holds, the value must be one of `allowed` (booleans compare by
    /// meaning).
    pub fn when(mut self, condition: Condition, allowed: &[&str]) -> Self {
        self.spec
            .when
            .push((condition, allowed.iter().map(|s| (*s).to_owned()).collect()));
        self
    }

    /// A description for docs and generated templates.
    pub fn describe(mut self, text: &str) -> Self {
        self.spec.description = Some(text.to_owned());
        self
    }

    /// Marks the key as a service to wait for (see [`KeySpec::wait`]): `None` when the
    /// value is a target URL, `Some(kind)` for a probe kind such as `"tcp"` or `"questdb"`.
    pub fn wait(mut self, kind: Option<&str>) -> Self {
        self.spec.wait = Some(kind.map(str::to_owned));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_tells_names_with_one_hash_apart() {
        let mut keys: Vec<KeySpec> = Vec::new();
        let mut index = KeyIndex::default();
        for name in ["A", "B", "C", "B"] {
            let next = keys.len();
            let i = index.get_or_insert_hashed(&keys, name, 7, next);
            if i == next {
                keys.push(KeySpec::new(name.to_owned()));
            }
        }
        assert_eq!(keys.len(), 3);
        for (i, name) in ["A", "B", "C"].into_iter().enumerate() {
            assert_eq!(index.get_hashed(&keys, name, 7), Some(i));
        }
        assert_eq!(index.get_hashed(&keys, "D", 7), None);
        assert_eq!(index.get_hashed(&keys, "A", 8), None);
    }

    #[test]
    fn builder_collects_every_problem() {
        let err = Schema::builder()
            .key("PORT", ValueType::port(), |k| k.default("0"))
            .key("NAME", ValueType::string(), |k| k.pattern("(["))
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("PORT") && msg.contains("NAME"), "{msg}");
    }

    #[test]
    fn render_template_blanks_secrets_and_reads_back() {
        let schema = Schema::builder()
            .key("DATABASE_URL", ValueType::url(&["postgres"]), |k| {
                k.required()
                    .secret()
                    .default("postgres://u:pw@h/db")
                    .describe("Main database")
            })
            .key("WORKERS", ValueType::int(Some(1), Some(64)), |k| {
                k.default("4")
            })
            .key("DEBUG", ValueType::bool(), |k| {
                k.when(Condition::equals("ENV", "production"), &["false"])
            })
            .build()
            .unwrap();
        let text = schema.render_template();
        assert!(!text.contains("pw"), "{text}");
        assert!(
            text.contains(
                "# Main database\n# @required @secret @type=url(postgres)\nDATABASE_URL=\n"
            ),
            "{text}"
        );
        let doc = crate::Document::parse(".env.example", &text);
        let (back, findings) = Schema::from_template(&doc, crate::Dialect::Portable);
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(
            back.get("WORKERS").and_then(|k| k.default.as_deref()),
            Some("4")
        );
        assert!(
            back.get("DATABASE_URL")
                .is_some_and(|k| k.secret && k.required)
        );
        assert_eq!(back.get("DEBUG").map(|k| k.when.len()), Some(1));
    }
}
