//! Absurd but valid settings are not panics: durations saturate.

use std::time::Duration;

use preflight_readiness::{Error, Policy, Target, Wait};

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_beyond_the_clock_saturates() {
    // Before: `started + deadline` overflowed the instant and panicked (wait-for -t
    // 9223372036854775807s).
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = Target::parse(&format!("tcp://{}", service.local_addr().unwrap())).unwrap();
    for deadline in [Duration::MAX, Duration::from_secs(i64::MAX as u64)] {
        let policy = Policy::builder().deadline(deadline).build().unwrap();
        let report = Wait::new([target.clone()])
            .policy(policy)
            .run()
            .await
            .unwrap();
        assert_eq!(report.targets.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interval_beyond_the_clock_saturates() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let policy = Policy::builder()
        .interval(Duration::MAX)
        .start_interval(Duration::MAX)
        .deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = Wait::new([Target::parse(&format!("tcp://{addr}")).unwrap()])
        .policy(policy)
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}

use proptest::prelude::*;

/// Pieces of target specs, adversarial ones over-represented: non-ASCII, NUL, huge
/// numbers, brackets, percent escapes, every scheme.
fn spec() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "postgres://",
        "redis://",
        "rediss://",
        "redis+unix://",
        "questdb://",
        "http://",
        "https://",
        "mysql://",
        "amqp://",
        "nats://",
        "mqtt://",
        "tcp://",
        "unix://",
        "file://",
        "cmd:",
        "sh:",
        "u",
        ":",
        "@",
        "/",
        "?",
        "#",
        "&",
        "=",
        "%",
        "%zz",
        "%ff",
        "[",
        "]",
        "::1",
        "127.0.0.1",
        "h",
        "65536",
        "99999999999999999999",
        "-1",
        "0",
        "é",
        "😀",
        "\u{0}",
        " ",
        "\n",
        "password=",
        "db=",
        "pg_port=",
        "ping",
        ",",
        "..",
    ]);
    prop::collection::vec(token, 0..16).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Every spec parses or is an error naming it; none panics, and no name or error shows
    /// the password that was put in.
    #[test]
    fn adversarial_specs_never_panic(spec in spec(), pw in "[A-Z]{2}[a-z]{2}[0-9]{2}") {
        let _ = Target::parse(&spec);
        let with_password = spec.replacen('@', &format!(":Q{pw}@"), 1);
        match Target::parse(&with_password) {
            Ok(t) => prop_assert!(!t.name().contains(&pw), "{}", t.name()),
            Err(e) => prop_assert!(!e.to_string().contains(&pw), "{e}"),
        }
    }

    #[test]
    fn durations_with_huge_numbers_never_panic(
        n in "[0-9]{1,30}",
        unit in "(ns|us|ms|s|m|h|d|w|y|)",
    ) {
        let _ = preflight_readiness::parse_duration(&format!("{n}{unit}"));
    }
}

#[test]
fn deeply_nested_specs_never_panic() {
    for spec in [
        format!("postgres://u:p@h/db?{}", "options=".repeat(10_000)),
        format!("http://h/{}", "[".repeat(10_000)),
        format!("redis://{}h", "u:p@".repeat(10_000)),
        format!("questdb://h?{}", "ping&".repeat(10_000)),
    ] {
        let _ = Target::parse(&spec);
    }
}
