//! Findings: problems in the environment, each with a stable rule id, a severity, the key
//! and where it is. A finding's text is built from keys, rule ids and the schema only; it
//! never contains a value read from a file or the process environment.

use std::fmt;
use std::sync::Arc;

use crate::Location;

/// How serious a finding is. Both make the CLI exit `1`; warnings can be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// Style or drift: the environment works but is likely to surprise someone.
    Warning,
    /// The environment is wrong: a loader misreads it, or the application will.
    Error,
}

impl Severity {
    /// `"warning"` or `"error"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $name:ident = $id:literal, $sev:ident, $linter:expr; )*) => {
        /// A rule: the stable identity of a kind of finding.
        ///
        /// Ids are kebab-case and never change meaning once released; use them with
        /// `--ignore` or [`Validator::ignore`](crate::Validator::ignore).
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Rule {
            $( $(#[$doc])* $name, )*
            /// A cross-field rule declared in a Rust schema, with the id its author gave.
            Custom(Arc<str>),
        }

        impl Rule {
            /// Every built-in rule, in documentation order.
            pub const BUILTIN: &'static [Rule] = &[$(Rule::$name),*];

            /// The stable id, e.g. `"duplicated-key"`.
            #[must_use]
            pub fn id(&self) -> &str {
                match self {
                    $( Self::$name => $id, )*
                    Self::Custom(id) => id,
                }
            }

            /// The severity a finding of this rule has unless configured otherwise.
            #[must_use]
            pub fn default_severity(&self) -> Severity {
                match self {
                    $( Self::$name => Severity::$sev, )*
                    Self::Custom(_) => Severity::Error,
                }
            }

            /// The dotenv-linter 4.0 check this rule corresponds to, if any.
            #[must_use]
            pub fn dotenv_linter_check(&self) -> Option<&'static str> {
                match self {
                    $( Self::$name => $linter, )*
                    Self::Custom(_) => None,
                }
            }

            /// Looks a built-in rule up by id; also accepts dotenv-linter check names.
            #[must_use]
            pub fn from_id(id: &str) -> Option<Rule> {
                Self::BUILTIN.iter().find(|r| {
                    r.id() == id || r.dotenv_linter_check() == Some(id)
                }).cloned()
            }
        }
    };
}

rules! {
    /// The file is not valid UTF-8 at this position.
    InvalidUtf8 = "invalid-utf8", Error, None;
    /// A line is longer than [`Limits::max_line_bytes`](crate::Limits::max_line_bytes); it was not parsed.
    LineTooLong = "line-too-long", Error, None;
    /// The chosen loader rejects this line (it fails to load, or stops loading).
    Syntax = "syntax", Error, None;
    /// The chosen loader silently skips this line, so the key is not set.
    IgnoredLine = "ignored-line", Error, None;
    /// Portable mode: the loaders read this line differently.
    LoaderDisagreement = "loader-disagreement", Error, None;
    /// A key is set more than once in one file.
    DuplicatedKey = "duplicated-key", Warning, Some("DuplicatedKey");
    /// The file does not end with a newline.
    EndingBlankLine = "ending-blank-line", Warning, Some("EndingBlankLine");
    /// Two blank lines in a row.
    ExtraBlankLine = "extra-blank-line", Warning, Some("ExtraBlankLine");
    /// A key contains a character other than letters, digits and `_`.
    IncorrectDelimiter = "incorrect-delimiter", Warning, Some("IncorrectDelimiter");
    /// A line has a key but no `=`.
    KeyWithoutValue = "key-without-value", Warning, Some("KeyWithoutValue");
    /// A key does not start with a letter or `_`.
    LeadingCharacter = "leading-character", Warning, Some("LeadingCharacter");
    /// A key has lowercase letters.
    LowercaseKey = "lowercase-key", Warning, Some("LowercaseKey");
    /// A value is quoted although nothing in it needs quotes.
    QuoteCharacter = "quote-character", Warning, Some("QuoteCharacter");
    /// Whitespace around `=`.
    SpaceCharacter = "space-character", Warning, Some("SpaceCharacter");
    /// A `$`/`${…}` reference is malformed (unclosed, empty, bad name).
    SubstitutionKey = "substitution-key", Warning, Some("SubstitutionKey");
    /// A line ends with spaces or tabs.
    TrailingWhitespace = "trailing-whitespace", Warning, Some("TrailingWhitespace");
    /// Keys of a blank-line separated group are not in alphabetical order.
    UnorderedKey = "unordered-key", Warning, Some("UnorderedKey");
    /// An unquoted value contains whitespace.
    ValueWithoutQuotes = "value-without-quotes", Warning, Some("ValueWithoutQuotes");
    /// A required key has no value from any source.
    MissingRequired = "missing-required", Error, Some("SchemaViolation");
    /// A required key is set to the empty string.
    EmptyValue = "empty-value", Error, None;
    /// A value does not match its declared type.
    InvalidValue = "invalid-value", Error, Some("SchemaViolation");
    /// A schema default does not match its own declared type.
    InvalidDefault = "invalid-default", Error, None;
    /// A `# @…` directive in the template cannot be understood.
    InvalidDirective = "invalid-directive", Error, None;
    /// A value breaks an `@when` rule (a value required under a condition).
    ConditionalValue = "conditional-value", Error, None;
    /// A key of the template is set in none of the env files (drift: template → env).
    MissingKey = "missing-key", Warning, None;
    /// A template key that has a default is set in none of the env files. Off unless
    /// enabled ([`Validator::enable`](crate::Validator::enable), CLI `--enable`): the
    /// default applies, so for most teams this is noise.
    MissingDefaultedKey = "missing-defaulted-key", Warning, None;
    /// An env file sets a key the template does not declare (drift: env → template).
    ExtraKey = "extra-key", Warning, Some("SchemaViolation");
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The source line a finding points at, with every value replaced by a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snippet {
    /// The line as shown: key and separators kept, values and comments masked.
    pub text: String,
    /// 1-based column of the caret within `text`.
    pub caret: u32,
}

/// One problem found in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Which rule fired.
    pub rule: Rule,
    /// How serious it is.
    pub severity: Severity,
    /// The key concerned, if any.
    pub key: Option<String>,
    /// Where; `None` for findings about the environment as a whole.
    pub location: Option<Location>,
    /// What is wrong, without the value.
    pub message: String,
    /// How to fix it, when there is a clear fix.
    pub help: Option<String>,
    /// The masked source line, for human output.
    pub snippet: Option<Snippet>,
}

impl Finding {
    pub(crate) fn new(rule: Rule, message: impl Into<String>) -> Self {
        Self {
            severity: rule.default_severity(),
            rule,
            key: None,
            location: None,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    pub(crate) fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub(crate) fn key_opt(mut self, key: Option<&str>) -> Self {
        self.key = key.map(str::to_owned);
        self
    }

    pub(crate) fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub(crate) fn at_opt(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn snippet(mut self, snippet: Option<Snippet>) -> Self {
        self.snippet = snippet;
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}[{}]: {}", self.severity, self.rule, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::BUILTIN {
            assert!(seen.insert(rule.id()), "duplicate id {}", rule.id());
            assert_eq!(Rule::from_id(rule.id()).as_ref(), Some(rule));
        }
        assert_eq!(Rule::from_id("UnorderedKey"), Some(Rule::UnorderedKey));
        assert_eq!(Rule::from_id("nope"), None);
    }
}
