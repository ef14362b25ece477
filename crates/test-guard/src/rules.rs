//! Host rules and database-name patterns: small wildcard patterns (`*` any run, `?` one
//! character), matched case-insensitively. Deliberately not regexes: a rule is read by the
//! person deciding whether production is safe, so it must be obvious what it matches.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A wildcard pattern such as `test_*`, `*_test`, `*.rds.amazonaws.com` or `db`.
///
/// `*` matches any run of characters (also none), `?` exactly one; everything else matches
/// itself, ignoring ASCII case. A pattern is at most 255 characters, non-empty and has no
/// whitespace or control characters.
///
/// ```
/// use preflight_test_guard::Pattern;
/// let p: Pattern = "*.rds.amazonaws.com".parse()?;
/// assert!(p.matches("prod.abc123.eu-west-1.rds.amazonaws.com"));
/// assert!(!p.matches("localhost"));
/// # Ok::<(), preflight_test_guard::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    text: String,
    lowered: Vec<char>,
}

impl Pattern {
    /// Parses a pattern; see the type docs for the syntax.
    ///
    /// # Errors
    /// [`Error::InvalidPattern`] naming the pattern and the problem.
    pub fn new(pattern: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidPattern {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        if pattern.is_empty() {
            return Err(invalid("empty pattern"));
        }
        if pattern.chars().count() > 255 {
            return Err(invalid("longer than 255 characters"));
        }
        if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace or control characters"));
        }
        // `*.` is `*` once host names lose their trailing dot.
        let core = pattern.trim_end_matches('.');
        if pattern.chars().all(|c| c == '*') || (!core.is_empty() && core.chars().all(|c| c == '*'))
        {
            // A rule that matches everything is a global off switch in disguise.
            return Err(invalid(
                "matches everything; name the hosts or databases instead",
            ));
        }
        Ok(Self {
            text: pattern.to_owned(),
            lowered: pattern.chars().map(|c| c.to_ascii_lowercase()).collect(),
        })
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `candidate` matches, ignoring ASCII case.
    #[must_use]
    pub fn matches(&self, candidate: &str) -> bool {
        let text: Vec<char> = candidate.chars().map(|c| c.to_ascii_lowercase()).collect();
        wildcard(&self.lowered, &text)
    }

    /// Whether the host name `candidate` matches, ignoring ASCII case and a trailing dot
    /// on either side (`db.example.com.` is the fully qualified spelling of
    /// `db.example.com`, and resolves to the same address).
    #[must_use]
    pub fn matches_host(&self, candidate: &str) -> bool {
        let text: Vec<char> = candidate
            .trim_end_matches('.')
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let pattern = match self.lowered.as_slice() {
            [rest @ .., '.'] if !rest.is_empty() => rest,
            all => all,
        };
        wildcard(pattern, &text)
    }
}

/// Iterative wildcard match with single-star backtracking: linear in practice, never
/// exponential, no recursion to overflow.
fn wildcard(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

impl FromStr for Pattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.text)
    }
}

/// Parses a comma- or whitespace-separated list of patterns, reporting every bad one.
///
/// # Errors
/// [`Error::Config`] listing each invalid pattern.
pub fn parse_patterns(list: &str) -> Result<Vec<Pattern>> {
    let mut patterns = Vec::new();
    let mut problems = Vec::new();
    for item in list.split(|c: char| c == ',' || c.is_whitespace()) {
        if item.is_empty() {
            continue;
        }
        match Pattern::new(item) {
            Ok(p) => patterns.push(p),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(patterns)
    } else {
        Err(Error::Config { problems })
    }
}

/// Cloud database hosts refused by default: a test never belongs on a managed production
/// service (thegetty/lod-gateway#320 refused `.amazonaws.com` for this reason).
pub(crate) const DEFAULT_DENY_HOSTS: &[&str] = &[
    "*.amazonaws.com",
    "*.database.azure.com",
    "*.redis.cache.windows.net",
    "*.neon.tech",
    "*.supabase.co",
    "*.supabase.com",
    "*.render.com",
    "*.railway.app",
    "*.rlwy.net",
    "*.aivencloud.com",
    "*.cockroachlabs.cloud",
    "*.upstash.io",
    "*.redis-cloud.com",
    "*.redislabs.com",
    "*.psdb.cloud",
    "*.timescale.com",
];

/// Database names that mean "a test database" by default: Django's `test_` prefix, the
/// common `_test` suffix (Rails, Ecto), numbered parallel copies, sqlx's test databases, and
/// GitLab's plain `test`.
pub(crate) const DEFAULT_TEST_DATABASES: &[&str] =
    &["test", "test_*", "*_test", "*_test_*", "_sqlx_test_*"];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcards() {
        let m = |p: &str, t: &str| Pattern::new(p).unwrap().matches(t);
        assert!(m("test_*", "test_app"));
        assert!(m("test_*", "TEST_"));
        assert!(!m("test_*", "app_test"));
        assert!(m("*_test", "app_test"));
        assert!(m("*_test_*", "app_test_3"));
        assert!(!m("*_test_*", "app_test"));
        assert!(m("db?", "db1"));
        assert!(!m("db?", "db"));
        assert!(m("*.neon.tech", "ep-x.eu.aws.neon.tech"));
        assert!(!m("*.neon.tech", "neon.tech.evil.example"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
    }

    #[test]
    fn host_matches_ignore_the_trailing_dot() {
        let h = |p: &str, t: &str| Pattern::new(p).unwrap().matches_host(t);
        assert!(h("*.amazonaws.com", "db.x.eu-west-1.rds.amazonaws.com."));
        assert!(h("db.prod.example.com.", "DB.prod.example.com"));
        assert!(h("db", "db."));
        assert!(!h("*.amazonaws.com", "amazonaws.com.evil."));
        // Database names are not host names: no trailing-dot folding there.
        assert!(!Pattern::new("app_test").unwrap().matches("app_test."));
    }

    #[test]
    fn bad_patterns_are_named() {
        for bad in ["", "*", "***", "*.", "a b", "x\ty"] {
            let err = Pattern::new(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
        let err = parse_patterns("ok, *, also ok,a\u{7}b")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`*`") && err.contains("a\u{7}b"), "{err}");
        let list = parse_patterns("db, redis  cache-*").unwrap();
        assert_eq!(
            list.iter().map(Pattern::as_str).collect::<Vec<_>>(),
            ["db", "redis", "cache-*"]
        );
    }

    #[test]
    fn defaults_parse() {
        for p in DEFAULT_DENY_HOSTS.iter().chain(DEFAULT_TEST_DATABASES) {
            Pattern::new(p).unwrap();
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Pattern::new(&s);
            let _ = parse_patterns(&s);
        }

        /// A pattern without wildcards matches exactly itself (in any case).
        #[test]
        fn literal_matches_itself(s in "[A-Za-z0-9._-]{1,40}", other in "[A-Za-z0-9._-]{1,40}") {
            let p = Pattern::new(&s).unwrap();
            prop_assert!(p.matches(&s.to_uppercase()));
            prop_assert_eq!(p.matches(&other), s.eq_ignore_ascii_case(&other));
        }

        /// `prefix*suffix` agrees with the obvious definition.
        #[test]
        fn star_agrees_with_prefix_suffix(pre in "[a-z_]{0,6}", suf in "[a-z_]{0,6}", text in "[a-z_]{0,16}") {
            prop_assume!(!(pre.is_empty() && suf.is_empty()));
            let p = Pattern::new(&format!("{pre}*{suf}")).unwrap();
            let want = text.len() >= pre.len() + suf.len() && text.starts_with(&pre) && text.ends_with(&suf);
            prop_assert_eq!(p.matches(&text), want);
        }
    }
}
