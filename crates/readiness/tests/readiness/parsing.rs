//! Property tests for every parser: target specs, durations and (with `http`) status
//! rules never panic; well-formed specs parse; passwords never reach a name or an error.

use preflight_readiness::{Target, parse_duration};
use proptest::prelude::*;

const SCHEMES: &[&str] = &[
    "tcp",
    "http",
    "https",
    "postgres",
    "postgresql",
    "redis",
    "rediss",
    "questdb",
    "mysql",
    "amqp",
    "nats",
    "mqtt",
    "unix",
    "file",
    "gopher",
];

proptest! {
    #[test]
    fn any_string_parses_or_errors_without_panicking(spec in any::<String>()) {
        let _ = Target::parse(&spec);
    }

    #[test]
    fn url_like_strings_never_panic(
        scheme in prop::sample::select(SCHEMES),
        rest in "[a-zA-Z0-9:@/?#&=%\\[\\]._-]{0,40}",
    ) {
        let _ = Target::parse(&format!("{scheme}://{rest}"));
    }

    #[test]
    fn host_port_round_trips(host in "[a-z][a-z0-9-]{0,20}", port in 1_u16..) {
        let spec = format!("{host}:{port}");
        let target = Target::parse(&spec).unwrap();
        prop_assert_eq!(target.name(), spec.as_str());
        let tcp = Target::parse(&format!("tcp://{host}:{port}")).unwrap();
        prop_assert_eq!(tcp.name(), format!("tcp://{host}:{port}"));
    }

    #[test]
    fn bad_ports_are_errors_naming_the_port(host in "[a-z]{1,10}", port in 65536_u32..10_000_000) {
        // `sh:…` and `cmd:…` are command probes, not hosts (see the next test).
        prop_assume!(host != "sh" && host != "cmd");
        let err = Target::parse(&format!("{host}:{port}")).unwrap_err();
        prop_assert!(err.to_string().contains(&port.to_string()), "{}", err);
        prop_assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn passwords_never_appear_in_names_or_errors(
        scheme in prop::sample::select(SCHEMES),
        user in "[a-z]{1,8}",
        secret in "[A-Z]{12}",
        host in "[a-z]{1,10}",
        tail in "(:[0-9]{1,6})?(/[a-z]{0,5})?",
    ) {
        let spec = format!("{scheme}://{user}:{secret}@{host}{tail}");
        match Target::parse(&spec) {
            Ok(target) => prop_assert!(!target.name().contains(&secret), "{}", target.name()),
            Err(err) => prop_assert!(!err.to_string().contains(&secret), "{}", err),
        }
    }

    #[test]
    fn durations_never_panic(input in any::<String>()) {
        let _ = parse_duration(&input);
    }

    #[test]
    fn seconds_and_compose_units_agree(secs in 0_u64..100_000) {
        let bare = parse_duration(&secs.to_string()).unwrap();
        let compose = parse_duration(&format!("{}m{}s", secs / 60, secs % 60)).unwrap();
        prop_assert_eq!(bare, compose);
    }
}

/// Well-formed URL specs with credentials, for schemes whose probes take them.
const CREDENTIAL_SCHEMES: &[&str] = &[
    "http",
    "https",
    "postgres",
    "postgresql",
    "redis",
    "rediss",
    "mysql",
    "amqp",
    "nats",
    "mqtt",
];

proptest! {
    #[test]
    fn well_formed_urls_parse_and_hide_their_password(
        scheme in prop::sample::select(CREDENTIAL_SCHEMES),
        user in "[a-z]{1,8}",
        secret in "[A-Z]{12}",
        host in "[a-z][a-z0-9-]{0,10}",
        port in prop::option::of(1_u16..),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let spec = format!("{scheme}://{user}:{secret}@{host}{port}");
        match Target::parse(&spec) {
            Ok(target) => {
                prop_assert!(!target.name().contains(&secret), "{}", target.name());
                prop_assert!(target.name().contains(&host), "{}", target.name());
            }
            // Built without the scheme's feature: the only acceptable refusal.
            Err(preflight_readiness::Error::FeatureDisabled { .. }) => {}
            Err(err) => prop_assert!(false, "{spec}: {err}"),
        }
    }
}

#[cfg(feature = "http")]
mod status_rules {
    use preflight_readiness::StatusRule;
    use proptest::prelude::*;

    /// One part of a valid rule: a code, a class (`2xx`/`2XX`) or a range.
    fn part() -> impl Strategy<Value = String> {
        prop_oneof![
            (100_u16..=599).prop_map(|c| c.to_string()),
            (1_u16..=5, any::<bool>())
                .prop_map(|(d, upper)| format!("{d}{}", if upper { "XX" } else { "xx" })),
            (100_u16..=599, 0_u16..=150)
                .prop_map(|(low, width)| format!("{low}-{}", (low + width).min(599))),
        ]
    }

    proptest! {
        #[test]
        fn status_rules_never_panic(input in "[0-9xX, -]{0,20}") {
            if let Ok(rule) = StatusRule::parse(&input) {
                let again = StatusRule::parse(&rule.to_string()).unwrap();
                prop_assert_eq!(again, rule);
            }
        }

        /// Generated valid, so every case reaches the round-trip: a parse failure here
        /// is a failure, not a skipped case.
        #[test]
        fn valid_status_rules_round_trip(
            parts in prop::collection::vec(part(), 1..5),
            separator in prop::sample::select(&[",", ", ", " , "][..]),
        ) {
            let input = parts.join(separator);
            let rule = StatusRule::parse(&input)
                .map_err(|e| TestCaseError::fail(format!("`{input}`: {e}")))?;
            let printed = rule.to_string();
            let again = StatusRule::parse(&printed)
                .map_err(|e| TestCaseError::fail(format!("`{printed}`: {e}")))?;
            prop_assert_eq!(again, rule);
        }
    }
}

#[test]
fn command_prefixes_win_over_a_host_named_like_them() {
    // Found by `bad_ports_are_errors_naming_the_port`: `sh:6538038` is a shell command.
    assert_eq!(Target::parse("sh:6538038").unwrap().name(), "sh:6538038");
    assert!(Target::parse("cmd:80").is_ok());
    // A host really named `sh` is reached with an explicit scheme.
    assert_eq!(Target::parse("tcp://sh:80").unwrap().name(), "tcp://sh:80");
    assert!(Target::parse("tcp://sh:6538038").is_err());
}
