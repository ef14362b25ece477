//! One table drives the rules; the properties check what no table can enumerate.

use proptest::prelude::*;

use super::*;

/// `(input, redacted)`: every rule, every scheme the crates accept, every place a secret
/// can sit.
const CASES: &[(&str, &str)] = &[
    // Nothing to hide.
    ("tcp://db:5432", "tcp://db:5432"),
    ("db:5432", "db:5432"),
    ("[::1]:5432", "[::1]:5432"),
    ("unix:///run/app.sock", "unix:///run/app.sock"),
    ("file:///tmp/ready", "file:///tmp/ready"),
    (
        "http://h:8080/health?verbose=1",
        "http://h:8080/health?verbose=1",
    ),
    ("postgres://app@db/app", "postgres://app@db/app"),
    ("redis://127.0.0.1", "redis://127.0.0.1"),
    ("", ""),
    // Userinfo where a keyword string was expected (found by readiness' bad-input
    // property test: `db=:pw@` read as the keyword `db`).
    ("db=:pw@", "db=***"),
    ("host=h db=u:pw@x", "host=h db=***"),
    // Userinfo passwords, every scheme.
    ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
    (
        "postgresql://u:pw@h:5432/db",
        "postgresql://u:***@h:5432/db",
    ),
    (
        "redis://:pw@127.0.0.1:6379/0",
        "redis://:***@127.0.0.1:6379/0",
    ),
    ("rediss://u:pw@cache:6380", "rediss://u:***@cache:6380"),
    (
        "redis+unix://:pw@/run/redis.sock",
        "redis+unix://:***@/run/redis.sock",
    ),
    ("mysql://root:pw@db:3306", "mysql://root:***@db:3306"),
    ("mariadb://root:pw@db", "mariadb://root:***@db"),
    (
        "amqp://guest:pw@mq:5672/%2f",
        "amqp://guest:***@mq:5672/%2f",
    ),
    ("nats://u:pw@nats:4222", "nats://u:***@nats:4222"),
    ("mqtt://u:pw@broker", "mqtt://u:***@broker"),
    (
        "questdb://admin:quest@qdb?pg_port=8812",
        "questdb://admin:***@qdb?pg_port=8812",
    ),
    ("tcp://u:pw@h:1", "tcp://u:***@h:1"),
    ("POSTGRES://u:pw@h", "POSTGRES://u:***@h"),
    // Passwords with every awkward character, raw or percent-encoded.
    (
        "postgres://u:S3cr?tZq9@127.0.0.1:5999/x",
        "postgres://u:***@127.0.0.1:5999/x",
    ),
    ("postgres://u:a#b@h/db", "postgres://u:***@h/db"),
    ("postgres://u:p@a@h/db", "postgres://u:***@h/db"),
    ("postgres://u:p/a?b#c@h/db", "postgres://u:***@h/db"),
    ("postgres://u:p@/x@h/db", "postgres://u:***@h/db"),
    ("postgres://u:p:q@h/db", "postgres://u:***@h/db"),
    ("postgres://u:p%40ss%2Fw@h/db", "postgres://u:***@h/db"),
    ("postgres://u:100%@h/db", "postgres://u:***@h/db"),
    ("redis://:a%23b?c@h:6379", "redis://:***@h:6379"),
    ("mysql://u:p w@h", "mysql://u:***@h"),
    (
        "postgres://u:pw@h1:5432,h2:5433/db",
        "postgres://u:***@h1:5432,h2:5433/db",
    ),
    (
        "postgres://u:pw@[::1]:5432/db",
        "postgres://u:***@[::1]:5432/db",
    ),
    // Token-only userinfo, and user names that are tokens.
    ("nats://s3cr3t@nats:4222", "nats://***@nats:4222"),
    (
        "https://ghp_tok@github.com/o/r",
        "https://***@github.com/o/r",
    ),
    (
        "https://tok:x-oauth-basic@github.com",
        "https://***:***@github.com",
    ),
    ("http://u:pw@h/x", "http://***:***@h/x"),
    ("redis://tok@h", "redis://***@h"),
    (
        "https://sk_live_tok:@api.example.com",
        "https://***:***@api.example.com",
    ),
    ("nats://tok:@nats", "nats://***:***@nats"),
    ("mqtt://user@broker", "mqtt://user@broker"),
    // Query and fragment parameters, any case, percent-encoded keys.
    (
        "postgres://h/db?user=a&password=pw&sslmode=disable",
        "postgres://h/db?user=a&password=***&sslmode=disable",
    ),
    (
        "postgres://h/db?sslpassword=pw",
        "postgres://h/db?sslpassword=***",
    ),
    ("x://h?PASSWORD=pw", "x://h?PASSWORD=***"),
    ("x://h?Pass=pw&passwd=pw", "x://h?Pass=***&passwd=***"),
    ("x://h?token=pw;secret=pw", "x://h?token=***;secret=***"),
    (
        "x://h?key=pw&api_key=pw&access_token=pw",
        "x://h?key=***&api_key=***&access_token=***",
    ),
    ("x://h?pass%77ord=pw", "x://h?pass%77ord=***"),
    (
        "x://h/p#access_token=pw&x=1",
        "x://h/p#access_token=***&x=1",
    ),
    ("x://h?a=1?password=pw", "x://h?a=1?password=***"),
    ("x://h?user=a&ping&db=1", "x://h?user=a&ping&db=1"),
    (
        "x://h?dbname=postgres%3A%2F%2Fu%3Apw%40h",
        "x://h?dbname=***",
    ),
    // An `@` after the path: hidden with what precedes it (over-masking beats a leak).
    ("postgres://h/db?password=pw&x=a@b", "postgres://***@b"),
    ("postgres://h:5432/db?x=a@b", "postgres://h:***@b"),
    // Without a scheme.
    ("app:pw@db:5432", "app:***@db:5432"),
    ("app:p@ss@db:5432/x", "app:***@db:5432/x"),
    ("tok@db:5432", "***@db:5432"),
    ("db:5432?password=pw", "db:5432?password=***"),
    ("post gres://u:pw@h", "***:***@h"),
    // libpq keyword/value strings: quotes, escapes, spaces around `=`.
    ("host=h password=pw", "host=h password=***"),
    (
        "host=h password = 'a b' user=x",
        "host=h password=*** user=x",
    ),
    (
        "host=h password='a\\'b c' user=x",
        "host=h password=*** user=x",
    ),
    ("host=h password=a\\ b user=x", "host=h password=*** user=x"),
    ("PASSWORD=pw", "PASSWORD=***"),
    (
        "host=h sslpassword='' port=5432",
        "host=h sslpassword=*** port=5432",
    ),
    ("host='my host' dbname=app", "host='my host' dbname=app"),
    ("dbname=postgres://u:pw@h/db host=x", "dbname=*** host=x"),
    ("dbname='host=h password=pw'", "dbname=***"),
    ("user=a@b host=h", "user=a@b host=h"),
    // Fail-safe: an unparseable keyword string shows its host, or nothing.
    (
        "host=h password='unterminated",
        "host=h <unparseable connection string hidden>",
    ),
    (
        "host='unterminated password=pw",
        "<unparseable connection string hidden>",
    ),
    ("password=x junk", "<unparseable connection string hidden>"),
    ("host=h =x", "host=h <unparseable connection string hidden>"),
    (
        "password=x :s3cret@=",
        "<unparseable connection string hidden>",
    ),
    (
        "host=h a-b=s3cret",
        "host=h <unparseable connection string hidden>",
    ),
];

#[test]
fn the_table() {
    let mut failures = Vec::new();
    for (input, want) in CASES {
        let got = redact(input);
        if got != *want {
            failures.push(format!("redact({input:?}) = {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn secret_keys() {
    for key in [
        "password",
        "pass",
        "passwd",
        "pwd",
        "sslpassword",
        "token",
        "secret",
        "key",
        "PassWord",
        "TOKEN",
        "DB_PASSWORD",
        "api-key",
        "client_secret",
        "auth",
        "x.pass",
    ] {
        assert!(is_secret_key(key), "{key}");
    }
    for key in ["user", "host", "dbname", "sslmode", "port", "passage", "db"] {
        assert!(!is_secret_key(key), "{key}");
    }
}

#[test]
fn deep_nesting_is_hidden_not_followed() {
    let mut s = "password=pw".to_owned();
    for _ in 0..8 {
        s = format!("dbname='{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    }
    assert_eq!(redact(&s), "dbname=***");
    let deep = "x://h?a=".repeat(10_000) + "1";
    assert!(!redact(&deep).is_empty());
}

/// Characters a password may hold, the awkward ones over-represented.
fn password() -> impl Strategy<Value = String> {
    "[A-Za-z0-9@:/?#%&=;' \\\\!$*+~_.-]{0,6}CANARY[A-Za-z0-9@:/?#%&=;' \\\\!$*+~_.é-]{0,12}"
}

/// `true` when `text` shows any 4-character fragment of `secret`'s canary part.
fn leaks(text: &str, secret: &str) -> bool {
    text.contains("CANA") || text.contains("ANAR") || text.contains("NARY") || {
        let chars: Vec<char> = secret.chars().collect();
        chars
            .windows(6)
            .any(|w| text.contains(&w.iter().collect::<String>()))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A userinfo password, whatever it holds, never shows, for any scheme and tail.
    #[test]
    fn url_passwords_never_show(
        scheme in "(postgres|postgresql|redis|rediss|mysql|amqp|nats|mqtt|http|https|questdb|x)://|",
        user in "[a-z]{0,8}",
        password in password(),
        host in "[a-z0-9.-]{1,12}(:[0-9]{1,5})?(,[a-z0-9]{1,5})?",
        tail in "(/[a-z_0-9]{0,10})?(\\?[a-z=&]{0,20})?(#[a-z]{0,4})?",
    ) {
        let url = format!("{scheme}{user}:{password}@{host}{tail}");
        let out = redact(&url);
        prop_assert!(!leaks(&out, &password), "{url} -> {out}");
    }

    /// A token in the userinfo never shows.
    #[test]
    fn tokens_never_show(
        scheme in "(nats|http|https|redis|x)",
        token in "[A-Za-z0-9@/?#%=_.-]{0,6}CANARY[A-Za-z0-9@/?#%=_.-]{0,12}:?",
        host in "[a-z0-9.-]{1,12}",
    ) {
        let url = format!("{scheme}://{token}@{host}:4222");
        let out = redact(&url);
        prop_assert!(!leaks(&out, &token), "{url} -> {out}");
    }

    /// A secret query parameter never shows, with any key spelling and neighbours.
    #[test]
    fn query_secrets_never_show(
        base in "(postgres://h/db|redis://h:6379|x://h|h:1|)",
        before in "([a-z]{1,5}=[a-z0-9]{0,5}&){0,3}",
        key in "(password|PASSWORD|pass|Passwd|sslpassword|token|secret|key|api_key|pass%77ord)",
        value in "[A-Za-z0-9!$*+~_.:/%-]{0,5}CANARY[A-Za-z0-9!$*+~_.:/-]{0,8}",
        after in "(&[a-z]{1,5}=[a-z0-9]{0,5}){0,3}",
    ) {
        let url = format!("{base}?{before}{key}={value}{after}");
        let out = redact(&url);
        prop_assert!(!leaks(&out, &value), "{url} -> {out}");
    }

    /// A keyword-string password, quoted with escapes or bare, never shows.
    #[test]
    fn keyword_passwords_never_show(
        before in "(host=[a-z]{1,6} |port=[0-9]{1,4} |user='[a-z ]{0,6}' ){0,3}",
        key in "(password|sslpassword|PASSWORD)",
        value in "[A-Za-z0-9!$&*+;=~_.@:/?# '\\\\-]{0,5}CANARY[A-Za-z0-9!$&*+;=~_.@:/?# '\\\\-]{0,8}",
        quoted in any::<bool>(),
        after in "( dbname=[a-z]{1,6}| sslmode=require){0,2}",
    ) {
        let written = if quoted {
            format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
        } else {
            value.replace('\\', "\\\\").replace(' ', "\\ ").replace('\'', "\\'")
        };
        let conn = format!("{before}{key}={written}{after}");
        let out = redact(&conn);
        prop_assert!(!leaks(&out, &value), "{conn} -> {out}");
    }

    /// Whatever the input (non-ASCII, NUL, deep nesting), no panic, and a string without
    /// any of the characters a secret needs comes back unchanged.
    #[test]
    fn never_panics(s in "\\PC*|[\\x00-\\x7f]*|(x://u:p@h\\?dbname=|dbname=')*") {
        let _ = redact(&s);
        let _ = is_secret_key(&s);
        let _ = percent_decode(&s);
        if !s.contains(['@', '?', '#', '=', ';', '&']) {
            prop_assert_eq!(redact(&s), s);
        }
    }
}
