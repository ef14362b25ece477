//! Hiding passwords in connection strings. Every string that reaches a message, a log line
//! or a `Debug` output goes through [`mask`], which is the workspace's one redaction
//! (`preflight-redact`, shared with readiness and testkit so the rules cannot drift).

/// Returns `conn` with every secret hidden: the password of URL userinfo (whatever it
/// holds), token-only userinfo, secret query parameters (`?password=`, `?sslpassword=`,
/// `?token=`…) and secret keywords of a libpq keyword/value string. A keyword string that
/// cannot be parsed shows at most its host. This is the workspace's one redaction,
/// [`preflight_redact::redact`].
///
/// ```
/// use preflight_test_guard::mask;
/// assert_eq!(mask("postgres://app:s3cret@db:5432/app"), "postgres://app:***@db:5432/app");
/// assert_eq!(mask("host=db password='s3 cret' dbname=app"), "host=db password=*** dbname=app");
/// ```
#[must_use]
pub fn mask(conn: &str) -> String {
    preflight_redact::redact(conn)
}

/// Decodes `%XX` escapes; malformed escapes are kept as written (libpq is as lenient),
/// bytes that are not UTF-8 become U+FFFD. (libpq's strict URI decoding, with its own
/// errors, is `target::libpq::uri_decode`.)
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rules themselves are tested by `preflight-redact`'s table; here only that
    /// `mask` is that redaction.
    #[test]
    fn mask_is_the_shared_redaction() {
        for conn in [
            "postgres://u:S3cr?tZq9@h/db",
            "host=h password='a b' user=x",
            "host='unterminated password=pw",
            "app:pw@db/app",
        ] {
            assert_eq!(mask(conn), preflight_redact::redact(conn));
            assert!(!mask(conn).contains("pw") && !mask(conn).contains("S3cr"));
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2Fvar%2frun"), "/var/run");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    proptest! {
        #[test]
        fn percent_decode_never_panics(s in "\\PC*") {
            let _ = percent_decode(&s);
        }
    }
}
