//! Typed access to the validated environment. Secret values are masked in `Debug`;
//! reading them is explicit ([`Value::as_str`]).

use std::fmt;
use std::process::Command;
use std::time::Duration;

use crate::hash::FastMap;
use crate::{Error, Location, Result, TypedValue};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// An entry of an env file.
    File(Location),
    /// The process environment.
    ProcessEnv,
    /// The schema's default.
    Default,
}

/// Where a value came from, compactly: the file is an index into [`Values`]' file list,
/// so recording it costs no allocation or reference count per entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    File { file: u32, line: u32, col: u32 },
    ProcessEnv,
    Default,
}

/// One variable's value.
#[derive(Clone)]
pub struct Value {
    pub(crate) raw: String,
    // Boxed: most values of a lint-only run have none, and a URL is large.
    pub(crate) typed: Option<Box<TypedValue>>,
    pub(crate) secret: bool,
    pub(crate) origin: Origin,
    /// Declaration index of the key in the validating run's schema ([`NO_SPEC`] when
    /// undeclared), so the schema check walks the values without looking each key up.
    pub(crate) spec: u32,
}

/// [`Value::spec`] of a key the schema does not declare.
pub(crate) const NO_SPEC: u32 = u32::MAX;

impl Value {
    /// The value as the loader reads it. For a secret this is the secret: handle with care.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The value converted to its declared type (`None` if undeclared or invalid).
    #[must_use]
    pub fn typed(&self) -> Option<&TypedValue> {
        self.typed.as_deref()
    }

    /// Whether the schema marks it secret.
    #[must_use]
    pub fn is_secret(&self) -> bool {
        self.secret
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Value");
        if self.secret {
            d.field("raw", &"<secret>");
        } else {
            d.field("raw", &self.raw).field("typed", &self.typed);
        }
        d.field("origin", &self.origin).finish()
    }
}

/// The variables after loading and validation: env files, process environment (when
/// asked) and defaults, each with its source. Building it never changes the process
/// environment; [`Values::apply_to`] hands the values to a child process instead.
#[derive(Clone, Default)]
pub struct Values {
    pub(crate) map: FastMap<String, Value>,
    pub(crate) files: Vec<std::sync::Arc<str>>,
}

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Values {
    /// One variable.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Where a variable's value came from.
    #[must_use]
    pub fn source(&self, key: &str) -> Option<Source> {
        self.map.get(key).map(|v| self.source_of(v))
    }

    pub(crate) fn source_of(&self, v: &Value) -> Source {
        match v.origin {
            Origin::File { file, line, col } => {
                let name = self
                    .files
                    .get(file as usize)
                    .cloned()
                    .unwrap_or_else(|| "".into());
                Source::File(Location::new(name, line, col))
            }
            Origin::ProcessEnv => Source::ProcessEnv,
            Origin::Default => Source::Default,
        }
    }

    /// The raw string of a variable.
    #[must_use]
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|v| v.raw.as_str())
    }

    /// Every variable, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        let mut all: Vec<(&str, &Value)> = self.map.iter().map(|(k, v)| (k.as_str(), v)).collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all.into_iter()
    }

    /// Number of variables.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn is_bool(&self, key: &str) -> bool {
        matches!(
            self.map.get(key).and_then(|v| v.typed.as_deref()),
            Some(TypedValue::Bool(_))
        )
    }

    fn typed_of(&self, key: &str) -> Result<&TypedValue> {
        let v = self.map.get(key).ok_or_else(|| Error::Access {
            key: key.to_owned(),
            reason: "is not set",
        })?;
        v.typed.as_deref().ok_or_else(|| Error::Access {
            key: key.to_owned(),
            reason: "has no valid typed value",
        })
    }

    fn wrong(key: &str, reason: &'static str) -> Error {
        Error::Access {
            key: key.to_owned(),
            reason,
        }
    }

    /// A `bool` variable.
    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.typed_of(key)? {
            TypedValue::Bool(b) => Ok(*b),
            _ => Err(Self::wrong(key, "is not declared as bool")),
        }
    }

    /// An `int` (or `port`) variable.
    pub fn int(&self, key: &str) -> Result<i64> {
        match self.typed_of(key)? {
            TypedValue::Int(n) => Ok(*n),
            TypedValue::Port(p) => Ok(i64::from(*p)),
            _ => Err(Self::wrong(key, "is not declared as int")),
        }
    }

    /// A `float` (or `int`) variable.
    pub fn float(&self, key: &str) -> Result<f64> {
        match self.typed_of(key)? {
            TypedValue::Float(n) => Ok(*n),
            #[allow(
                clippy::cast_precision_loss,
                reason = "ints in env files are far below 2^52"
            )]
            TypedValue::Int(n) => Ok(*n as f64),
            _ => Err(Self::wrong(key, "is not declared as float")),
        }
    }

    /// A `port` variable.
    pub fn port(&self, key: &str) -> Result<u16> {
        match self.typed_of(key)? {
            TypedValue::Port(p) => Ok(*p),
            _ => Err(Self::wrong(key, "is not declared as port")),
        }
    }

    /// A `url` variable.
    pub fn url(&self, key: &str) -> Result<&url::Url> {
        match self.typed_of(key)? {
            TypedValue::Url(u) => Ok(u),
            _ => Err(Self::wrong(key, "is not declared as url")),
        }
    }

    /// A `duration` variable.
    pub fn duration(&self, key: &str) -> Result<Duration> {
        match self.typed_of(key)? {
            TypedValue::Duration(d) => Ok(*d),
            _ => Err(Self::wrong(key, "is not declared as duration")),
        }
    }

    /// A variable as a string (any type).
    pub fn str(&self, key: &str) -> Result<&str> {
        self.raw(key).ok_or_else(|| Self::wrong(key, "is not set"))
    }

    /// Sets every variable on a child process's environment. This is the supported way
    /// to pass validated values on: the crate forbids `unsafe`, so it never calls
    /// `std::env::set_var` on the current process.
    pub fn apply_to(&self, command: &mut Command) {
        for (k, v) in &self.map {
            command.env(k, &v.raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_secrets_and_access_is_typed() {
        let mut values = Values::default();
        values.map.insert(
            "TOKEN".into(),
            Value {
                raw: "hunter2".into(),
                typed: Some(Box::new(TypedValue::String("hunter2".into()))),
                secret: true,
                origin: Origin::ProcessEnv,
                spec: NO_SPEC,
            },
        );
        values.map.insert(
            "PORT".into(),
            Value {
                raw: "80".into(),
                typed: Some(Box::new(TypedValue::Port(80))),
                secret: false,
                origin: Origin::Default,
                spec: NO_SPEC,
            },
        );
        let dbg = format!("{values:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert_eq!(values.port("PORT").unwrap(), 80);
        assert_eq!(values.int("PORT").unwrap(), 80);
        assert!(values.bool("PORT").is_err());
        assert!(
            values
                .bool("NOPE")
                .unwrap_err()
                .to_string()
                .contains("NOPE")
        );
        assert_eq!(values.str("TOKEN").unwrap(), "hunter2");
    }
}
