//! No value ever leaves through an output: every rule is made to fire on entries whose
//! values carry a marker, and every format, every finding's `Display`/`Debug`, the masked
//! values' `Debug` and the errors are searched for it. The example CLI prints exactly
//! `Report::render` on stdout and an `Error`'s chain on stderr, so this covers it too.

use std::collections::BTreeSet;

use preflight_env_validate::{
    Dialect, Document, Format, Limits, Report, Rule, Schema, Validator, ValueType,
};

/// Every value below contains this marker; it must never be printed.
const MARK: &str = "zqxSECRET";

fn template() -> String {
    format!(
        "\
# @required @secret @type=url(postgres)
DATABASE_URL=
# @required @secret @type=port
PORT=
# @required @secret @type=bool
DEBUG=
# @secret @type=int(min=1,max=9)
WORKERS=
# @secret @type=email
EMAIL=
# @secret @type=enum(a,b)
MODE=
# @secret @type=json
FLAGS=
# @secret @type=list(host)
HOSTS=
# @secret @type=duration
TIMEOUT=
# @secret @pattern=\"[a-z]+\"
SLUG=
# @secret @type=string(min=99)
TOKEN=
# @required @secret
EMPTY=
# @required @secret
ABSENT=
# @secret @type=bool @when=MODE_SWITCH=on:false
STRICT=
# @type=port @secret @default={MARK}1
BAD_DEFAULT=
# @frobnicate
ODD=
# @required
MODE_SWITCH=on
# @secret
NOT_IN_ENV_FILE=
# @secret @default={MARK}2
DEFAULTED_NOT_IN_ENV_FILE=
"
    )
}

fn env_bytes() -> Vec<u8> {
    let long = format!("LONG={MARK}{}\n", "x".repeat(300));
    let mut text = format!(
        "\
DATABASE_URL=mysql://app:{MARK}@db/app
PORT={MARK}
DEBUG={MARK}
WORKERS=99{MARK}
EMAIL={MARK}@
MODE={MARK}
FLAGS={{{MARK}
HOSTS=ok,{MARK} x
TIMEOUT={MARK}
SLUG={MARK}
TOKEN={MARK}
EMPTY=
STRICT=true
MODE_SWITCH=on
A=\"{MARK}\"
B={MARK}#glued
C={MARK} two words
D = {MARK}
E=${{{MARK}
F={MARK}
F={MARK}other
FOO-BAR={MARK}
1LEAD={MARK}
lower={MARK}
TRAIL={MARK} \n
KEYONLY
{MARK}pasted


YAML: {MARK}
TABS=\"{MARK}\\t\"
"
    )
    .into_bytes();
    text.extend_from_slice(long.as_bytes());
    text.extend_from_slice(format!("BIN={MARK}").as_bytes());
    text.extend_from_slice(b"\xff\xfe\n");
    text.extend_from_slice(format!("NO_NEWLINE={MARK}").as_bytes());
    text
}

fn run(dialect: Dialect) -> Report {
    let schema = Schema::builder()
        .key("SLUG", ValueType::string(), |k| {
            k.secret().pattern("[a-z]+")
        })
        .rule(
            "custom-check",
            &["TOKEN"],
            "TOKEN must differ from SLUG",
            |v| v.raw("TOKEN") != v.raw("SLUG"),
        )
        .build()
        .expect("schema");
    Validator::new()
        .template_document(Document::parse(".env.example", &template()))
        .env_document(Document::parse_bytes(
            ".env",
            &env_bytes(),
            dialect,
            &Limits::default().max_line_bytes(200),
        ))
        .schema(schema)
        .enable(&Rule::MissingDefaultedKey)
        .dialect(dialect)
        .run()
        .expect("runs")
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(MARK), "{what} leaks a value:\n{text}");
}

#[test]
fn no_rule_and_no_format_ever_prints_a_value() {
    let mut fired: BTreeSet<String> = BTreeSet::new();
    for dialect in Dialect::LOADERS.into_iter().chain([Dialect::Portable]) {
        let report = run(dialect);
        for f in report.findings() {
            fired.insert(f.rule.id().to_owned());
            assert_clean("finding Display", &f.to_string());
            assert_clean("finding Debug", &format!("{f:?}"));
        }
        for format in [Format::Human, Format::Json, Format::Github] {
            assert_clean(&format!("{dialect} {format:?}"), &report.render(format));
        }
        // Declared secrets are masked in the values' Debug too.
        let secret_values: String = report
            .values()
            .iter()
            .filter(|(_, v)| v.is_secret())
            .map(|(k, v)| format!("{k}={v:?}\n"))
            .collect();
        assert_clean("Values Debug", &secret_values);
    }
    let mut all: BTreeSet<String> = Rule::BUILTIN.iter().map(|r| r.id().to_owned()).collect();
    all.insert("custom-check".to_owned());
    let missing: Vec<_> = all.difference(&fired).collect();
    assert!(
        missing.is_empty(),
        "rules that never fired in the leak test: {missing:?}"
    );
}

#[test]
fn schema_errors_do_not_print_defaults() {
    let err = Schema::builder()
        .key("PORT", ValueType::port(), |k| {
            k.secret().default(&format!("{MARK}1"))
        })
        .build()
        .expect_err("invalid default");
    assert_clean("Error Display", &err.to_string());
    assert_clean("Error Debug", &format!("{err:?}"));
}

#[cfg(feature = "serde")]
#[test]
fn serde_errors_mask_values() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only the error matters")]
    struct Config {
        token: u16,
    }
    let report = Validator::new()
        .env_document(Document::parse(".env", &format!("TOKEN={MARK}\n")))
        .run()
        .expect("runs");
    let err = report
        .values()
        .deserialize::<Config>()
        .expect_err("not a number");
    assert!(err.to_string().contains("<hidden>"), "{err}");
    assert_clean("serde Error Display", &err.to_string());
    assert_clean("serde Error Debug", &format!("{err:?}"));
}
