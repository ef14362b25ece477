//! Property tests: the parser and every dialect never panic and stay lossless on any
//! bytes; a rendered entry reads back as exactly its value.

use preflight_env_validate::{
    Dialect, Document, Limits, Reading, Rule, Schema, Validator, ValueType,
};
use proptest::prelude::*;

/// Bytes biased towards the characters `.env` syntax cares about.
fn env_bytes() -> impl Strategy<Value = Vec<u8>> {
    let special = prop::sample::select(b"=#'\"`\\${}:-_. \t\r\nexportAZaz09".to_vec());
    prop::collection::vec(prop_oneof![3 => special, 1 => any::<u8>()], 0..300)
}

fn schema() -> Schema {
    Schema::builder()
        .key("A", ValueType::port(), |k| k.required())
        .key("B", ValueType::list(ValueType::url(&[]), ','), |k| {
            k.secret()
        })
        .key("C", ValueType::bool(), |k| k.default("false"))
        .build()
        .expect("schema")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_and_is_lossless(bytes in env_bytes()) {
        let limits = Limits::default().max_line_bytes(64);
        for dialect in Dialect::LOADERS.into_iter().chain([Dialect::Portable]) {
            let doc = Document::parse_bytes("p.env", &bytes, dialect, &limits);
            prop_assert_eq!(doc.to_string(), String::from_utf8_lossy(&bytes).into_owned());
            let lines = doc.line_count() as u32;
            let report = Validator::new()
                .schema(schema())
                .template_document(doc.clone())
                .env_document(doc)
                .dialect(dialect)
                .run()
                .expect("in-memory run cannot fail");
            for f in report.findings() {
                if let Some(l) = &f.location {
                    // A file ending in a blank line is reported where dotenv-linter
                    // reports it: the (empty) line after the final newline.
                    let last = lines.max(1) + u32::from(f.rule == Rule::ExtraBlankLine);
                    prop_assert!(l.line <= last, "{f} beyond {lines} lines");
                }
            }
        }
    }

    #[test]
    fn rendered_entries_read_back_exactly(
        key in "[A-Z_][A-Z0-9_]{0,12}",
        value in prop_oneof![
            any::<String>(),
            "[ -~\t\n]{0,24}",
            "[a-z$#'\"`{}\\\\ ]{0,12}",
        ],
    ) {
        for dialect in Dialect::LOADERS.into_iter().chain([Dialect::Portable]) {
            let Ok(line) = dialect.render_entry(&key, &value) else { continue };
            let doc = Document::parse_bytes("r.env", line.as_bytes(), dialect, &Limits::default());
            let loaders: Vec<Dialect> = if dialect == Dialect::Portable {
                Dialect::LOADERS.to_vec()
            } else {
                vec![dialect]
            };
            for reader in loaders {
                let readings = reader.read(&doc, &|_| None);
                prop_assert_eq!(readings.len(), 1, "{} {:?}", reader, line);
                prop_assert_eq!(&readings[0], &Reading::Value(value.clone()), "{} rendered {:?}", reader, line);
            }
        }
    }
}

/// Per loader, what each key reads as (duplicates by the loader's rule): the values only.
fn values_by_key(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    Dialect::LOADERS
        .iter()
        .map(|&d| {
            let doc = Document::parse_bytes("v", text.as_bytes(), d, &Limits::default());
            let mut map = std::collections::BTreeMap::new();
            for (e, r) in doc.entries().zip(d.read(&doc, &|_| None)) {
                if let Reading::Value(v) = r {
                    if d.first_duplicate_wins() && map.contains_key(e.key()) {
                        continue;
                    }
                    map.insert(e.key().to_owned(), v);
                }
            }
            map
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `fix` never panics, is idempotent, and no loader loses or changes a value.
    #[test]
    fn fix_keeps_every_value_and_is_idempotent(bytes in env_bytes()) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let fixed = preflight_env_validate::fix(&Document::parse("p.env", &text), &[]);
        let again = preflight_env_validate::fix(&Document::parse("p.env", &fixed.text), &[]);
        prop_assert_eq!(&again.text, &fixed.text);
        let (before, after) = (values_by_key(&text), values_by_key(&fixed.text));
        for (d, (b, a)) in Dialect::LOADERS.iter().zip(before.iter().zip(&after)) {
            for (k, v) in b {
                prop_assert_eq!(a.get(k), Some(v), "{} reads {} differently", d, k);
            }
        }
    }
}

#[test]
fn render_refuses_rather_than_writes_wrongly() {
    // A value with every quote character and a backslash cannot be written for Node, and
    // `${…}` cannot be written for python-dotenv: both are refused, not mangled.
    assert!(Dialect::Node.render_entry("K", "'\"`\\").is_err());
    assert!(Dialect::Python.render_entry("K", "${HOME}").is_err());
    assert!(Dialect::Portable.render_entry("K", "a\"b'c").is_err());
    assert!(Dialect::Dotenvy.render_entry("bad-key", "v").is_err());
    assert_eq!(
        Dialect::Portable.render_entry("K", "a b").unwrap(),
        "K='a b'"
    );
}

#[test]
fn exponential_expansion_is_capped_not_built() {
    // Each line doubles the previous one: 2^60 bytes if expanded naively.
    let mut text = format!("L0={}\n", "x".repeat(1024));
    for i in 1..60 {
        text.push_str(&format!("L{i}=\"${{L{}}}${{L{}}}\"\n", i - 1, i - 1));
    }
    let start = std::time::Instant::now();
    for dialect in [
        Dialect::Dotenvy,
        Dialect::Compose,
        Dialect::Python,
        Dialect::Portable,
    ] {
        let report = Validator::new()
            .env_document(Document::parse(".env", &text))
            .dialect(dialect)
            .lint(false)
            .run()
            .expect("runs");
        // Portable mode reports the capped lines as disagreements (Node does not expand).
        let capped = report
            .findings()
            .iter()
            .filter(|f| f.message.contains("1 MiB") || f.message.contains("fails on the line"))
            .count();
        assert!(capped > 0, "{dialect}: no value was capped");
        assert!(
            report
                .values()
                .iter()
                .all(|(_, v)| v.as_str().len() <= 1 << 20)
        );
    }
    // Generous bound: the uncapped version would not finish at all.
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}
