//! Hiding passwords in connection strings. Every string that reaches a message, a log line
//! or a `Debug` output goes through [`mask`]. It must never return the password, even for
//! input it cannot parse: when in doubt it hides more, not less.

/// Query / keyword parameters whose value is a secret.
const SECRET_KEYS: &[&str] = &[
    "password",
    "pass",
    "sslpassword",
    "passwd",
    "secret",
    "token",
];

/// Returns `conn` with every password replaced by `***`: the `user:password@` part of a URL,
/// secret query parameters (`?password=`), and `password=` in a libpq keyword/value string.
///
/// ```
/// use preflight_test_guard::mask;
/// assert_eq!(mask("postgres://app:s3cret@db:5432/app"), "postgres://app:***@db:5432/app");
/// assert_eq!(mask("host=db password='s3 cret' dbname=app"), "host=db password=*** dbname=app");
/// ```
#[must_use]
pub fn mask(conn: &str) -> String {
    let (prefix, rest) = match conn.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => {
            if let Some(pairs) = keyword_pairs(conn) {
                return mask_keywords(&pairs);
            }
            if conn.contains('=') && !conn.contains('@') {
                // Looks like keywords but does not parse: we cannot tell where a password
                // ends, so show nothing of it.
                return "<unparseable connection string hidden>".to_owned();
            }
            // A URL without its scheme (`app:pw@db/app`): mask it like one.
            (String::new(), conn)
        }
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // The `@` normally sits in the authority; a password with an unescaped `/`, `?` or `#`
    // pushes it further right, so fall back to the last `@` anywhere (over-masking a
    // strange query beats leaking a password).
    let at = rest[..authority_end].rfind('@').or_else(|| rest.rfind('@'));
    match at {
        Some(at) => {
            let (userinfo, after) = rest.split_at(at);
            let userinfo = match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***"),
                None => userinfo.to_owned(),
            };
            format!("{prefix}{userinfo}{}", mask_tail(after))
        }
        None => format!("{prefix}{}", mask_tail(rest)),
    }
}

/// The pairs of a libpq keyword/value string, or `None` when `conn` is not one (every key
/// must be a plain identifier, so `app:pw@db/x?sslmode=require` is not taken for one).
fn keyword_pairs(conn: &str) -> Option<Vec<(String, String)>> {
    if !conn.contains('=') {
        return None;
    }
    let pairs = crate::target::parse_keyword_value(conn).ok()?;
    let plain = |k: &str| {
        !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    pairs.iter().all(|(k, _)| plain(k)).then_some(pairs)
}

fn mask_keywords(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            if is_secret_key(k) {
                format!("{k}=***")
            } else if v.is_empty() || v.contains([' ', '\'', '\\']) {
                format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|s| key.eq_ignore_ascii_case(s))
}

/// Masks secret parameters in the `?query#fragment` part of what follows the userinfo.
fn mask_tail(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_key(&percent_decode(k)) => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{path}?{}", masked.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Decodes `%XX` escapes; malformed escapes are kept as written (libpq is as lenient).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "two hex digits fit in a byte"
            )]
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_urls_queries_and_keyword_strings() {
        let cases = [
            (
                "redis://:pw@127.0.0.1:6379/2",
                "redis://:***@127.0.0.1:6379/2",
            ),
            ("redis://127.0.0.1", "redis://127.0.0.1"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://u:p@a@h/db", "postgres://u:***@h/db"),
            ("postgres://u:p/a?b#c@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u:p@h1:1,h2:2/db",
                "postgres://u:***@h1:1,h2:2/db",
            ),
            (
                "postgres://h/db?user=u&password=pw&sslmode=require",
                "postgres://h/db?user=u&password=***&sslmode=require",
            ),
            ("host=h password=pw", "host=h password=***"),
            (
                "host=h password = 'a b' user=x",
                "host=h password=*** user=x",
            ),
            (
                "host='unterminated password=pw",
                "<unparseable connection string hidden>",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(mask(input), want, "{input}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2Fvar%2frun"), "/var/run");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    proptest! {
        /// Whatever the shape, a password placed in a URL never survives masking.
        #[test]
        fn url_password_never_survives(
            scheme in "(postgres|postgresql|redis|rediss)",
            user in "[a-z]{0,8}",
            password in "[A-Za-z0-9!$&*+;=~_./?#-]{6,20}",
            host in "[a-z0-9.-]{1,20}(,[a-z0-9]{1,5})?",
            tail in "(/[a-z_0-9]{0,10})?(\\?[a-z=&]{0,20})?",
        ) {
            let url = format!("{scheme}://{user}:{password}@{host}{tail}");
            let masked = mask(&url);
            prop_assert!(!masked.contains(&format!(":{password}@")), "{masked}");
            prop_assert!(masked.contains(":***@"));
        }

        #[test]
        fn keyword_password_never_survives(password in "[A-Za-z0-9!$&*+;~_.-]{6,20}", quoted in any::<bool>()) {
            let conn = if quoted {
                format!("host=db password='{password}' dbname=app")
            } else {
                format!("host=db password={password} dbname=app")
            };
            let masked = mask(&conn);
            prop_assert!(masked.contains("password=*** "), "{masked}");
            let (bare, quoted) = (format!("={password}"), format!("'{password}'"));
            prop_assert!(!masked.contains(&bare) && !masked.contains(&quoted));
        }

        /// Without a scheme too (a URL missing `postgres://`).
        #[test]
        fn schemeless_password_never_survives(
            user in "[a-z]{1,8}",
            password in "Pw[A-Za-z0-9!$&*+;=~_.-]{6,20}",
            host in "[a-z0-9.-]{1,20}",
            tail in "(/[a-z_0-9]{0,10})?(\\?[a-z=&]{0,20})?",
        ) {
            let masked = mask(&format!("{user}:{password}@{host}{tail}"));
            prop_assert!(!masked.contains(&password), "{}", masked);
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = mask(&s);
            let _ = percent_decode(&s);
        }
    }
}
