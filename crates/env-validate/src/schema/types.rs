//! Value types: what a value must look like, and what it becomes once checked. Check
//! errors describe the expectation (from the schema), never the value that failed.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

/// The declared type of a variable. Build one with the constructors or parse the
/// template syntax (`"url(postgres,postgresql)"`, `"int(min=1,max=64)"`, `"list(host)"`).
#[derive(Debug, Clone)]
pub struct ValueType {
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    String {
        min_len: Option<usize>,
        max_len: Option<usize>,
    },
    Bool {
        strict: bool,
    },
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    Port,
    Url {
        schemes: Arc<[String]>,
    },
    Host,
    Email,
    Duration {
        min: Option<Duration>,
        max: Option<Duration>,
    },
    Enum(Arc<[String]>),
    Path {
        exists: bool,
        absolute: bool,
    },
    Json,
    List {
        item: Arc<ValueType>,
        sep: char,
    },
}

/// A checked value, converted to its type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TypedValue {
    /// `string`.
    String(String),
    /// `bool`.
    Bool(bool),
    /// `int` (64-bit).
    Int(i64),
    /// `float`.
    Float(f64),
    /// `port` (1–65535).
    Port(u16),
    /// `url`.
    Url(url::Url),
    /// `host`: a host name or an IP address, as written.
    Host(String),
    /// `email`.
    Email(String),
    /// `duration` (`30` seconds, `30s`, `1m30s`, `250ms`).
    Duration(Duration),
    /// `enum(…)`: the matching choice.
    Enum(String),
    /// `path`.
    Path(PathBuf),
    /// `json`.
    Json(serde_json::Value),
    /// `list(…)`.
    List(Vec<TypedValue>),
}

/// The standard boolean vocabulary: case-insensitive, anything else is an error, so
/// `"false"` is never true and a typo is never silently false.
const TRUE: [&str; 4] = ["true", "1", "yes", "on"];
const FALSE: [&str; 4] = ["false", "0", "no", "off"];

impl ValueType {
    fn of(kind: Kind) -> Self {
        Self { kind }
    }

    /// Any string.
    #[must_use]
    pub fn string() -> Self {
        Self::of(Kind::String {
            min_len: None,
            max_len: None,
        })
    }

    /// A string of `min..=max` characters.
    #[must_use]
    pub fn string_len(min: Option<usize>, max: Option<usize>) -> Self {
        Self::of(Kind::String {
            min_len: min,
            max_len: max,
        })
    }

    /// `true/false/1/0/yes/no/on/off`, case-insensitive.
    #[must_use]
    pub fn bool() -> Self {
        Self::of(Kind::Bool { strict: false })
    }

    /// Only `true` or `false`, lowercase.
    #[must_use]
    pub fn strict_bool() -> Self {
        Self::of(Kind::Bool { strict: true })
    }

    /// A 64-bit integer, optionally bounded (inclusive).
    #[must_use]
    pub fn int(min: Option<i64>, max: Option<i64>) -> Self {
        Self::of(Kind::Int { min, max })
    }

    /// A finite float, optionally bounded (inclusive).
    #[must_use]
    pub fn float(min: Option<f64>, max: Option<f64>) -> Self {
        Self::of(Kind::Float { min, max })
    }

    /// A TCP/UDP port, 1–65535.
    #[must_use]
    pub fn port() -> Self {
        Self::of(Kind::Port)
    }

    /// A URL; if `schemes` is not empty, its scheme must be one of them.
    #[must_use]
    pub fn url(schemes: &[&str]) -> Self {
        Self::of(Kind::Url {
            schemes: schemes
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .into(),
        })
    }

    /// A host name (RFC 1123) or an IPv4/IPv6 address.
    #[must_use]
    pub fn host() -> Self {
        Self::of(Kind::Host)
    }

    /// An email address (`local@domain.tld`).
    #[must_use]
    pub fn email() -> Self {
        Self::of(Kind::Email)
    }

    /// A duration: a bare number is seconds (`30`, `0.5`), otherwise humantime syntax
    /// (`30s`, `1m30s`, `250ms`), the rule every preflight crate uses.
    #[must_use]
    pub fn duration() -> Self {
        Self::of(Kind::Duration {
            min: None,
            max: None,
        })
    }

    /// One of the given choices, compared exactly.
    #[must_use]
    pub fn one_of(choices: &[&str]) -> Self {
        Self::of(Kind::Enum(
            choices.iter().map(|s| (*s).to_owned()).collect(),
        ))
    }

    /// A file system path; optionally it must exist / be absolute.
    #[must_use]
    pub fn path(exists: bool, absolute: bool) -> Self {
        Self::of(Kind::Path { exists, absolute })
    }

    /// Any JSON document.
    #[must_use]
    pub fn json() -> Self {
        Self::of(Kind::Json)
    }

    /// A `sep`-separated list whose items have type `item` (items are trimmed).
    #[must_use]
    pub fn list(item: ValueType, sep: char) -> Self {
        Self::of(Kind::List {
            item: Arc::new(item),
            sep,
        })
    }

    pub(crate) fn is_bool(&self) -> bool {
        matches!(self.kind, Kind::Bool { .. })
    }

    /// Checks `value` and converts it. The error says what was expected; it never
    /// contains the value.
    pub fn check(&self, value: &str) -> Result<TypedValue, String> {
        match &self.kind {
            Kind::String { min_len, max_len } => {
                let n = value.chars().count();
                if let Some(min) = min_len
                    && n < *min
                {
                    return Err(format!("must be at least {min} characters long"));
                }
                if let Some(max) = max_len
                    && n > *max
                {
                    return Err(format!("must be at most {max} characters long"));
                }
                Ok(TypedValue::String(value.to_owned()))
            }
            Kind::Bool { strict } => {
                parse_bool(value, *strict)
                    .map(TypedValue::Bool)
                    .ok_or_else(|| {
                        if *strict {
                            "expected `true` or `false`".to_owned()
                        } else {
                            "expected a boolean (true/false, 1/0, yes/no, on/off)".to_owned()
                        }
                    })
            }
            Kind::Int { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| "expected an integer".to_owned())?;
                bounds(n, *min, *max)?;
                Ok(TypedValue::Int(n))
            }
            Kind::Float { min, max } => {
                let n: f64 = value
                    .parse()
                    .ok()
                    .filter(|f: &f64| f.is_finite())
                    .ok_or_else(|| "expected a number".to_owned())?;
                bounds(n, *min, *max)?;
                Ok(TypedValue::Float(n))
            }
            Kind::Port => value
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .map(TypedValue::Port)
                .ok_or_else(|| "expected a port number (1-65535)".to_owned()),
            Kind::Url { schemes } => {
                let url = url::Url::parse(value).map_err(|e| format!("expected a URL ({e})"))?;
                if !schemes.is_empty() && !schemes.iter().any(|s| s == url.scheme()) {
                    return Err(format!("URL scheme must be one of: {}", schemes.join(", ")));
                }
                if url.cannot_be_a_base() {
                    return Err("expected a URL with `scheme://`".to_owned());
                }
                Ok(TypedValue::Url(url))
            }
            Kind::Host => is_host(value)
                .then(|| TypedValue::Host(value.to_owned()))
                .ok_or_else(|| "expected a host name or IP address".to_owned()),
            Kind::Email => {
                let ok = value.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && !local.contains(char::is_whitespace)
                        && domain.contains('.')
                        && is_host(domain)
                });
                ok.then(|| TypedValue::Email(value.to_owned()))
                    .ok_or_else(|| "expected an email address".to_owned())
            }
            Kind::Duration { min, max } => {
                let d = crate::duration::parse_duration(value).ok_or_else(|| {
                    "expected a duration such as 30 (seconds), 30s, 1m30s or 250ms".to_owned()
                })?;
                if let Some(min) = min
                    && d < *min
                {
                    return Err(format!(
                        "must be at least {}",
                        humantime::format_duration(*min)
                    ));
                }
                if let Some(max) = max
                    && d > *max
                {
                    return Err(format!(
                        "must be at most {}",
                        humantime::format_duration(*max)
                    ));
                }
                Ok(TypedValue::Duration(d))
            }
            Kind::Enum(choices) => choices
                .iter()
                .find(|c| *c == value)
                .map(|c| TypedValue::Enum(c.clone()))
                .ok_or_else(|| format!("expected one of: {}", choices.join(", "))),
            Kind::Path { exists, absolute } => {
                if value.contains('\0') {
                    return Err("expected a path (it contains a NUL byte)".to_owned());
                }
                let p = PathBuf::from(value);
                if *absolute && !p.is_absolute() {
                    return Err("expected an absolute path".to_owned());
                }
                if *exists && std::fs::metadata(&p).is_err() {
                    return Err("the path does not exist".to_owned());
                }
                Ok(TypedValue::Path(p))
            }
            Kind::Json => serde_json::from_str(value)
                .map(TypedValue::Json)
                .map_err(|e| format!("expected JSON ({})", json_reason(&e))),
            Kind::List { item, sep } => value
                .split(*sep)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .enumerate()
                .map(|(i, part)| item.check(part).map_err(|e| format!("item {}: {e}", i + 1)))
                .collect::<Result<Vec<_>, _>>()
                .map(TypedValue::List),
        }
    }
}

/// serde_json's messages carry only positions for syntax errors; keep just that part.
fn json_reason(e: &serde_json::Error) -> String {
    format!("syntax error at line {} column {}", e.line(), e.column())
}

pub(crate) fn parse_bool(value: &str, strict: bool) -> Option<bool> {
    if strict {
        return match value {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
    }
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(value)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(value)) {
        Some(false)
    } else {
        None
    }
}

fn bounds<T: PartialOrd + fmt::Display + Copy>(
    n: T,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), String> {
    if let Some(min) = min
        && n < min
    {
        return Err(format!("must be at least {min}"));
    }
    if let Some(max) = max
        && n > max
    {
        return Err(format!("must be at most {max}"));
    }
    Ok(())
}

fn is_host(s: &str) -> bool {
    let bare = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl fmt::Display for ValueType {
    /// The template syntax, which [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn opt<T: fmt::Display>(name: &str, v: Option<T>) -> Option<String> {
            v.map(|v| format!("{name}={v}"))
        }
        let (name, args): (&str, Vec<String>) = match &self.kind {
            Kind::String { min_len, max_len } => (
                "string",
                [opt("min", *min_len), opt("max", *max_len)]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            Kind::Bool { strict } => (
                "bool",
                if *strict {
                    vec!["strict".into()]
                } else {
                    vec![]
                },
            ),
            Kind::Int { min, max } => (
                "int",
                [opt("min", *min), opt("max", *max)]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            Kind::Float { min, max } => (
                "float",
                [opt("min", *min), opt("max", *max)]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            Kind::Port => ("port", vec![]),
            Kind::Url { schemes } => ("url", schemes.to_vec()),
            Kind::Host => ("host", vec![]),
            Kind::Email => ("email", vec![]),
            Kind::Duration { min, max } => (
                "duration",
                [
                    opt("min", min.map(humantime::format_duration)),
                    opt("max", max.map(humantime::format_duration)),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
            Kind::Enum(c) => ("enum", c.to_vec()),
            Kind::Path { exists, absolute } => (
                "path",
                [
                    exists.then(|| "exists".to_owned()),
                    absolute.then(|| "absolute".to_owned()),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
            Kind::Json => ("json", vec![]),
            Kind::List { item, sep } => {
                let mut a = vec![item.to_string()];
                if *sep != ',' {
                    a.push(format!("sep={sep}"));
                }
                ("list", a)
            }
        };
        if args.is_empty() {
            f.write_str(name)
        } else {
            write!(f, "{name}({})", args.join(","))
        }
    }
}

impl FromStr for ValueType {
    type Err = String;

    /// Parses `name` or `name(arg, key=value, …)`; see the crate docs for each type's
    /// arguments.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (name, args) = match s.find('(') {
            Some(open) => {
                let inner = s[open + 1..]
                    .strip_suffix(')')
                    .ok_or_else(|| format!("type `{s}` is missing its closing `)`"))?;
                (s[..open].trim(), split_args(inner))
            }
            None => (s, Vec::new()),
        };
        let mut kv = Vec::new();
        let mut words = Vec::new();
        for a in &args {
            match a.split_once('=') {
                Some((k, v)) if !a.contains('(') => kv.push((k.trim(), v.trim())),
                _ => words.push(a.as_str()),
            }
        }
        let num = |key: &str| -> Result<Option<i64>, String> {
            kv.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| {
                    v.parse()
                        .map_err(|_| format!("`{key}={v}` is not an integer"))
                })
                .transpose()
        };
        let float = |key: &str| -> Result<Option<f64>, String> {
            kv.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| {
                    v.parse()
                        .map_err(|_| format!("`{key}={v}` is not a number"))
                })
                .transpose()
        };
        let dur = |key: &str| -> Result<Option<Duration>, String> {
            kv.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| {
                    crate::duration::parse_duration(v)
                        .ok_or_else(|| format!("`{key}={v}` is not a duration"))
                })
                .transpose()
        };
        let allowed = |keys: &[&str], words_ok: bool| -> Result<(), String> {
            if let Some((k, _)) = kv.iter().find(|(k, _)| !keys.contains(k)) {
                return Err(format!("type `{name}` has no argument `{k}`"));
            }
            if !words_ok && !words.is_empty() {
                return Err(format!("type `{name}` takes no argument `{}`", words[0]));
            }
            Ok(())
        };
        let usize_of = |v: Option<i64>| v.map(|n| usize::try_from(n).unwrap_or(0));
        let t = match name {
            "string" | "str" => {
                allowed(&["min", "max"], false)?;
                Self::string_len(usize_of(num("min")?), usize_of(num("max")?))
            }
            "bool" | "boolean" => {
                allowed(&[], true)?;
                match words.as_slice() {
                    [] => Self::bool(),
                    ["strict"] => Self::strict_bool(),
                    _ => return Err("type `bool` takes only `strict`".to_owned()),
                }
            }
            "int" | "integer" => {
                allowed(&["min", "max"], false)?;
                Self::int(num("min")?, num("max")?)
            }
            "float" | "number" => {
                allowed(&["min", "max"], false)?;
                Self::float(float("min")?, float("max")?)
            }
            "port" => {
                allowed(&[], false)?;
                Self::port()
            }
            "url" => {
                allowed(&[], true)?;
                Self::url(&words)
            }
            "host" | "hostname" => {
                allowed(&[], false)?;
                Self::host()
            }
            "email" => {
                allowed(&[], false)?;
                Self::email()
            }
            "duration" => {
                allowed(&["min", "max"], false)?;
                Self::of(Kind::Duration {
                    min: dur("min")?,
                    max: dur("max")?,
                })
            }
            "enum" => {
                allowed(&[], true)?;
                if words.is_empty() {
                    return Err("type `enum` needs its choices, e.g. enum(debug,info)".to_owned());
                }
                Self::one_of(&words)
            }
            "path" => {
                allowed(&[], true)?;
                let mut exists = false;
                let mut absolute = false;
                for w in &words {
                    match *w {
                        "exists" => exists = true,
                        "absolute" => absolute = true,
                        other => return Err(format!("type `path` has no option `{other}`")),
                    }
                }
                Self::path(exists, absolute)
            }
            "json" => {
                allowed(&[], false)?;
                Self::json()
            }
            "list" => {
                allowed(&["sep"], true)?;
                let item = match words.as_slice() {
                    [] => Self::string(),
                    [one] => one.parse()?,
                    _ => return Err("type `list` takes one item type".to_owned()),
                };
                let sep = match kv.iter().find(|(k, _)| *k == "sep") {
                    None => ',',
                    Some((_, v)) => {
                        let mut c = v.chars();
                        match (c.next(), c.next()) {
                            (Some(ch), None) => ch,
                            _ => return Err("`sep=` takes one character".to_owned()),
                        }
                    }
                };
                Self::list(item, sep)
            }
            "" => return Err("empty type".to_owned()),
            other => {
                return Err(format!(
                    "unknown type `{other}` (expected string, bool, int, float, port, url, host, email, duration, enum, path, json or list)"
                ));
            }
        };
        Ok(t)
    }
}

/// Splits on top-level commas (a nested `list(url(a,b))` keeps its inner commas).
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out.retain(|a| !a.is_empty());
    out
}

/// A compiled `@pattern`, anchored so it must match the whole value.
pub(crate) fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("invalid pattern: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> ValueType {
        s.parse().unwrap()
    }

    #[test]
    fn types_parse_and_display_round_trip() {
        for s in [
            "string",
            "string(min=1,max=64)",
            "bool",
            "bool(strict)",
            "int(min=1,max=10)",
            "float(min=0,max=1)",
            "port",
            "url(postgres,postgresql)",
            "host",
            "email",
            "duration(min=1s)",
            "enum(debug,info,warning)",
            "path(exists,absolute)",
            "json",
            "list(url(redis,rediss),sep=;)",
        ] {
            assert_eq!(t(s).to_string(), s);
        }
        for bad in [
            "nope",
            "int(min=x)",
            "enum",
            "url(",
            "bool(loose)",
            "port(x)",
            "list(sep=ab)",
        ] {
            assert!(bad.parse::<ValueType>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_read_a_bare_number_as_seconds() {
        let secs = |v: &str, ty: &str| match t(ty).check(v) {
            Ok(TypedValue::Duration(d)) => Ok(d),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(secs("30", "duration"), Ok(Duration::from_secs(30)));
        assert_eq!(secs("0.5", "duration"), Ok(Duration::from_millis(500)));
        assert_eq!(secs("1m30s", "duration"), Ok(Duration::from_secs(90)));
        assert_eq!(secs("250ms", "duration"), Ok(Duration::from_millis(250)));
        assert!(secs("soon", "duration").is_err());
        assert!(secs("-5", "duration").is_err());
        // The bounds follow the same rule.
        assert!(secs("5", "duration(min=10)").is_err());
        assert_eq!(secs("10", "duration(min=10)"), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn checks_accept_and_reject() {
        assert_eq!(t("bool").check("FALSE"), Ok(TypedValue::Bool(false)));
        assert!(t("bool").check("flase").is_err());
        assert!(t("bool(strict)").check("1").is_err());
        assert_eq!(t("port").check("5432"), Ok(TypedValue::Port(5432)));
        assert!(t("port").check("0").is_err());
        assert!(t("port").check("65536").is_err());
        assert!(t("int(min=1,max=10)").check("11").is_err());
        assert!(t("url(postgres)").check("mysql://x/y").is_err());
        assert!(t("url").check("not a url").is_err());
        assert!(t("host").check("db.internal").is_ok());
        assert!(t("host").check("::1").is_ok());
        assert!(t("host").check("bad host").is_err());
        assert!(t("email").check("ops@example.com").is_ok());
        assert!(t("email").check("ops@localhost").is_err());
        assert_eq!(
            t("duration").check("1m30s"),
            Ok(TypedValue::Duration(Duration::from_secs(90)))
        );
        assert!(t("enum(a,b)").check("c").is_err());
        assert!(t("json").check("{\"a\": 1}").is_ok());
        assert!(t("json").check("{").is_err());
        assert_eq!(
            t("list(port)").check("1, 2"),
            Ok(TypedValue::List(vec![
                TypedValue::Port(1),
                TypedValue::Port(2)
            ]))
        );
        assert_eq!(
            t("list(port)").check("1,x").unwrap_err(),
            "item 2: expected a port number (1-65535)"
        );
    }

    #[test]
    fn errors_never_contain_the_value() {
        let secret = "s3cr3t VALUE/9f8e";
        for ty in [
            "bool",
            "int",
            "float",
            "port",
            "url",
            "host",
            "email",
            "duration",
            "enum(a)",
            "json",
            "list(int)",
            "string(max=3)",
        ] {
            let err = t(ty).check(secret).unwrap_err();
            assert!(!err.contains(secret), "{ty}: {err}");
        }
    }
}
