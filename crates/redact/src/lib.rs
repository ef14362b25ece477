//! Hide the secrets in connection strings and URLs before they reach a message, a log line
//! or a `Debug` output.
//!
//! preflight's crates print the targets they wait for and guard (`postgres://…`,
//! `redis://…`, libpq `host=… password=…` strings, bare `user:password@host:port`). Each of
//! them passes every such string through [`redact`] first, so there is one set of rules to
//! get right and to test:
//!
//! - the password of URL userinfo, whatever it contains (`@ : / ? # %`, percent-encoded or
//!   not): everything up to the **last** `@` is userinfo, because the parsers disagree on
//!   where it ends (libpq takes the first `@` before the path and lets `?` through,
//!   tokio-postgres the first `@` anywhere, the WHATWG URL standard the last `@` before
//!   `/?#`) and a password that one of them reads must not show for any of them;
//! - token-only userinfo (`nats://TOKEN@host`, `https://TOKEN@host`), kept only for the
//!   schemes where a lone userinfo is a user name (`postgres://app@db`);
//! - the values of password-like query and fragment parameters ([`is_secret_key`]:
//!   `password`, `pass`, `passwd`, `sslpassword`, `token`, `secret`, `key`, … in any case,
//!   percent-encoded or not);
//! - libpq keyword/value strings (`host=db password='s3 cr\'et'`), parsed with libpq's
//!   quoting and escape rules, and connection strings nested in their values;
//! - a fail-safe: what cannot be parsed shows at most its host, or nothing.
//!
//! It works on text, not on a parsed URL, so it also hides secrets in strings no URL parser
//! accepts (multi-host Postgres URLs, half-typed input quoted by an error message). When in
//! doubt it hides too much, never too little.
//!
//! ```
//! use preflight_redact::redact;
//!
//! assert_eq!(redact("postgres://app:S3cr?t#1@db:5432/app"), "postgres://app:***@db:5432/app");
//! assert_eq!(redact("nats://s3cr3t-token@nats:4222"), "nats://***@nats:4222");
//! assert_eq!(redact("redis://cache/0?password=s3cret&db=1"), "redis://cache/0?password=***&db=1");
//! assert_eq!(
//!     redact("host=db password='s3 cr\\'et' dbname=app"),
//!     "host=db password=*** dbname=app"
//! );
//! assert_eq!(redact("app:s3cret@db:5432"), "app:***@db:5432");
//! // Nothing secret: returned as it was.
//! assert_eq!(redact("tcp://db:5432"), "tcp://db:5432");
//! ```
//!
//! This crate has no dependencies and no features; it never panics, whatever the input.
#![forbid(unsafe_code)]

/// What a hidden secret is replaced with.
pub const MASK: &str = "***";

/// What an unparseable libpq keyword/value string is replaced with (after its host, when
/// one was read before the error).
pub const UNPARSEABLE: &str = "<unparseable connection string hidden>";

/// How deeply connection strings nested in keyword values are followed before the value is
/// hidden whole (libpq expands one level: `dbname=postgres://…`).
const MAX_DEPTH: u8 = 4;

/// Returns `input` with every secret it carries replaced by [`MASK`]; see the
/// [crate docs](crate) for the rules. Input with no secret is returned unchanged.
///
/// ```
/// use preflight_redact::redact;
/// assert_eq!(redact("amqp://guest:guest@mq:5672/%2f"), "amqp://guest:***@mq:5672/%2f");
/// assert_eq!(redact("https://ghp_tok3n@example.com/x?a=1"), "https://***@example.com/x?a=1");
/// ```
#[must_use]
pub fn redact(input: &str) -> String {
    redact_at(input, 0)
}

fn redact_at(input: &str, depth: u8) -> String {
    if depth > MAX_DEPTH {
        return MASK.to_owned();
    }
    if let Some((scheme, rest)) = split_scheme(input) {
        return redact_url(Some(scheme), rest, depth);
    }
    if looks_like_keywords(input) {
        return redact_keywords(input, depth);
    }
    if input.contains(['@', '?', '#']) {
        return redact_url(None, input, depth);
    }
    input.to_owned()
}

/// Whether the value of a parameter or keyword named `key` is a secret: `password`, `pass`,
/// `passwd`, `pwd`, `sslpassword`, `token`, `secret`, `key` and names built on them
/// (`access_token`, `DB_PASSWORD`, `api-key`, `client_secret`), in any case.
///
/// ```
/// use preflight_redact::is_secret_key;
/// assert!(is_secret_key("PassWord") && is_secret_key("sslpassword") && is_secret_key("api_key"));
/// assert!(!is_secret_key("user") && !is_secret_key("sslmode"));
/// ```
#[must_use]
pub fn is_secret_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    const SUFFIXES: &[&str] = &["password", "passwd", "pwd", "secret", "token", "key"];
    const WORDS: &[&str] = &["pass", "auth", "credential", "credentials", "apikey"];
    SUFFIXES.iter().any(|s| key.ends_with(s))
        || key
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| WORDS.contains(&word) || SUFFIXES.contains(&word))
}

/// `scheme` and what follows `://`, when `input` starts with a valid URL scheme.
fn split_scheme(input: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = input.split_once("://")?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

/// Schemes whose userinfo user is a user name, not a credential (unlike `https://TOKEN:x@`).
const USER_SCHEMES: &[&str] = &[
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "amqp",
    "amqps",
    "mqtt",
    "mqtts",
    "nats",
    "redis",
    "rediss",
    "redis+unix",
    "unix+redis",
    "questdb",
    "tcp",
    "mongodb",
    "mongodb+srv",
];

/// Schemes where a userinfo without `:` is a user name (for `nats://TOKEN@` it is a token).
const LONE_USER_SCHEMES: &[&str] = &[
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "amqp",
    "amqps",
    "mqtt",
    "mqtts",
    "questdb",
    "mongodb",
    "mongodb+srv",
];

fn scheme_in(scheme: Option<&str>, list: &[&str]) -> bool {
    scheme.is_some_and(|s| list.iter().any(|l| s.eq_ignore_ascii_case(l)))
}

/// A user name that can be shown: nothing that could be part of a path, query or secret.
fn plain_user(user: &str) -> bool {
    !user.is_empty()
        && !user.contains(|c: char| {
            c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '&' | '=' | ';')
        })
}

/// `rest` is what follows `scheme://` (or the whole input when it has no scheme).
fn redact_url(scheme: Option<&str>, rest: &str, depth: u8) -> String {
    let mut out = String::with_capacity(rest.len() + 16);
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    // The last `@` anywhere: every parser's userinfo ends at or before it.
    let after = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, password)) => {
                    // `TOKEN:@host` (curl's `-u TOKEN:`): with no password, the user is the
                    // credential.
                    let show = (scheme.is_none() || scheme_in(scheme, USER_SCHEMES))
                        && !password.is_empty();
                    if show && plain_user(user) {
                        out.push_str(user);
                    } else if !user.is_empty() {
                        out.push_str(MASK);
                    }
                    out.push(':');
                    out.push_str(MASK);
                }
                None if scheme_in(scheme, LONE_USER_SCHEMES) && plain_user(userinfo) => {
                    out.push_str(userinfo);
                }
                None if userinfo.is_empty() => {}
                None => out.push_str(MASK),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    redact_tail(after, &mut out, depth);
    out
}

/// Copies `host[:port][/path]` and hides secret `key=value` pairs in what follows the first
/// `?`, `#` or `;` (query, fragment, matrix parameters).
fn redact_tail(tail: &str, out: &mut String, depth: u8) {
    let Some(start) = tail.find(['?', '#', ';']) else {
        out.push_str(tail);
        return;
    };
    out.push_str(&tail[..start]);
    let params = &tail[start..];
    let mut piece_start = 0;
    for (i, c) in params.char_indices().chain([(params.len(), '&')]) {
        if i == params.len() || matches!(c, '?' | '#' | '&' | ';') {
            if piece_start < i {
                redact_param(&params[piece_start..i], out, depth);
            }
            if i < params.len() {
                out.push(c);
            }
            piece_start = i + c.len_utf8();
        }
    }
}

fn redact_param(pair: &str, out: &mut String, depth: u8) {
    let Some((key, value)) = pair.split_once('=') else {
        out.push_str(pair);
        return;
    };
    let decoded = percent_decode(value);
    // A connection string nested in a value (`?dbname=postgres%3A%2F%2Fu%3Apw%40h`) is
    // hidden whole when it carries a secret.
    if is_secret_key(&percent_decode(key)) || redact_at(&decoded, depth + 1) != decoded {
        out.push_str(key);
        out.push('=');
        out.push_str(MASK);
    } else {
        out.push_str(pair);
    }
}

/// Decodes `%XX` escapes; malformed ones stay as written, invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key =` at the start, as a libpq keyword/value string begins.
fn looks_like_keywords(input: &str) -> bool {
    let s = input.trim_start();
    let key_len = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    key_len > 0
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s[key_len..].trim_start().starts_with('=')
}

/// One `key=value` of a keyword/value string: the key, the value as written, the value as
/// libpq reads it.
struct Pair<'a> {
    key: &'a str,
    raw: &'a str,
    value: String,
}

/// Parses a libpq keyword/value string by `conninfo_parse`'s rules: pairs separated by
/// whitespace, `=` with optional whitespace around it, values either bare (ending at
/// whitespace) or single-quoted, `\` escaping the next character in both.
fn parse_keywords(input: &str) -> (Vec<Pair<'_>>, bool) {
    let mut pairs = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return (pairs, true);
        }
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        if key.is_empty() {
            return (pairs, false);
        }
        let after_key = rest[key_end..].trim_start();
        let Some(after_eq) = after_key.strip_prefix('=') else {
            return (pairs, false);
        };
        let value_src = after_eq.trim_start();
        let mut value = String::new();
        let mut chars = value_src.char_indices();
        let end = if value_src.starts_with('\'') {
            chars.next();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, escaped)) => value.push(escaped),
                        None => break,
                    },
                    '\'' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let Some(end) = end else {
                return (pairs, false);
            };
            end
        } else {
            let mut end = value_src.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    c if c.is_whitespace() => {
                        end = i;
                        break;
                    }
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    c => value.push(c),
                }
            }
            end
        };
        pairs.push(Pair {
            key,
            raw: &value_src[..end],
            value,
        });
        rest = &value_src[end..];
    }
}

fn redact_keywords(input: &str, depth: u8) -> String {
    let (pairs, complete) = parse_keywords(input);
    // libpq knows only identifier keywords: anything else is not a keyword string we can
    // trust to split where libpq would (`password=x :s3cret@=`).
    let identifiers = pairs.iter().all(|p| {
        p.key
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && p.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if !complete || !identifiers {
        // We cannot tell where a secret ends: show the host, if one was read, and nothing
        // else.
        return match pairs
            .iter()
            .find(|p| p.key == "host" && redact_at(&p.value, depth + 1) == p.value)
        {
            Some(host) => format!("host={} {UNPARSEABLE}", host.raw),
            None => UNPARSEABLE.to_owned(),
        };
    }
    let mut out = String::with_capacity(input.len());
    for pair in &pairs {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(pair.key);
        out.push('=');
        // A connection string nested in a value (libpq expands `dbname=postgres://…`), or
        // userinfo typed where a keyword was expected (`db=:s3cret@`), is hidden whole
        // when it carries a secret: its quoting is not worth reproducing.
        let nested_secret = (pair.value.contains("://") || pair.value.contains('='))
            && redact_at(&pair.value, depth + 1) != pair.value;
        // `user:password@` userinfo (a lone `user@` is a user name: `user=app@server`).
        let userinfo_secret = pair
            .value
            .rsplit_once('@')
            .is_some_and(|(before, _)| before.contains(':'));
        if is_secret_key(pair.key) || nested_secret || userinfo_secret {
            out.push_str(MASK);
        } else {
            out.push_str(pair.raw);
        }
    }
    out
}

#[cfg(test)]
mod tests;
