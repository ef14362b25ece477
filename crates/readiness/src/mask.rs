//! Password masking for anything that names a target. It works on text, not on a parsed
//! URL, so it also masks specs that no URL parser accepts (multi-host Postgres URLs,
//! half-typed input in an error message). It must never let a password through: when in
//! doubt it masks too much.

/// What a masked secret is replaced with.
pub(crate) const MASK: &str = "***";

/// Masks the password in `scheme://user:password@host...` and the value of every
/// `password=`/`pass=` query parameter.
pub(crate) fn mask(spec: &str) -> String {
    let mut out = mask_userinfo(spec);
    for key in ["password=", "pass=", "passwd="] {
        out = mask_query_values(&out, key);
    }
    out
}

fn mask_userinfo(spec: &str) -> String {
    let Some(scheme_end) = spec.find("://") else {
        return spec.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &spec[rest_start..];
    // A password may contain `/`, so the userinfo ends at the last `@` before the query.
    let search_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..search_end].rfind('@') else {
        return spec.to_owned();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:{MASK}{}",
            &spec[..rest_start],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => spec.to_owned(),
    }
}

fn mask_query_values(spec: &str, key: &str) -> String {
    let mut out = String::with_capacity(spec.len());
    let mut rest = spec;
    while let Some(pos) = find_param(rest, key) {
        let value_start = pos + key.len();
        out.push_str(&rest[..value_start]);
        out.push_str(MASK);
        let value_len = rest[value_start..]
            .find(['&', '#', ' '])
            .unwrap_or(rest.len() - value_start);
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

/// Finds `key` at the start of a query parameter (after `?`, `&` or a space, as in libpq
/// key/value strings), case-insensitively.
fn find_param(haystack: &str, key: &str) -> Option<usize> {
    let lower = haystack.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(key) {
        let pos = from + found;
        if pos == 0 || matches!(lower.as_bytes()[pos - 1], b'?' | b'&' | b' ') {
            return Some(pos);
        }
        from = pos + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_userinfo_passwords() {
        assert_eq!(
            mask("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            mask("postgres://admin:quest@h1:5432,h2:5433/qdb"),
            "postgres://admin:***@h1:5432,h2:5433/qdb"
        );
        assert_eq!(mask("postgres://u:p/a@ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(mask("http://user@host/x"), "http://user@host/x");
        assert_eq!(mask("tcp://host:80"), "tcp://host:80");
    }

    #[test]
    fn masks_password_query_parameters() {
        assert_eq!(
            mask("postgres://h/db?user=a&password=s3cret&sslmode=disable"),
            "postgres://h/db?user=a&password=***&sslmode=disable"
        );
        assert_eq!(mask("x://h?PASSWORD=s3cret"), "x://h?PASSWORD=***");
        assert_eq!(mask("x://h?mypassword=keep"), "x://h?mypassword=keep");
    }
}
