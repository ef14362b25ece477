//! Expected findings and readings for every fixture, asserted exactly (rule, key, line).

use preflight_env_validate::{Dialect, Rule, Schema, Validator, ValueType};

use crate::common::{fixture, fixtures_in, load, show, triples};

type Expected = &'static [(&'static str, Option<&'static str>, u32)];
/// Per entry: the key and its reading by [dotenvy, compose, node, python].
type Readings = &'static [(&'static str, [&'static str; 4])];

fn lint_of(file: &str) -> Vec<(String, Option<String>, u32)> {
    let report = Validator::new()
        .env_file(fixture(&format!("lint/{file}")))
        .run()
        .expect("runs");
    triples(report.findings())
}

fn owned(e: Expected) -> Vec<(String, Option<String>, u32)> {
    e.iter()
        .map(|(r, k, l)| ((*r).to_owned(), k.map(str::to_owned), *l))
        .collect()
}

#[test]
fn every_lint_rule_has_a_fixture_with_exact_findings() {
    // Portable mode, lints on: a lint often comes with the loader disagreement it warns of.
    let cases: &[(&str, Expected)] = &[
        ("clean.env", &[]),
        (
            "duplicated-key.env",
            &[
                ("duplicated-key", Some("A"), 3),
                ("unordered-key", Some("A"), 3),
                ("loader-disagreement", Some("A"), 3),
            ],
        ),
        ("ending-blank-line.env", &[("ending-blank-line", None, 2)]),
        ("extra-blank-line.env", &[("extra-blank-line", None, 3)]),
        (
            "incorrect-delimiter.env",
            &[
                ("incorrect-delimiter", Some("FOO-BAR"), 1),
                ("loader-disagreement", Some("FOO-BAR"), 1),
            ],
        ),
        (
            "key-without-value.env",
            &[
                ("key-without-value", None, 2),
                ("loader-disagreement", None, 2),
            ],
        ),
        (
            "leading-character.env",
            &[
                ("leading-character", Some("1FOO"), 1),
                ("loader-disagreement", Some("1FOO"), 1),
            ],
        ),
        ("lowercase-key.env", &[("lowercase-key", Some("foo"), 1)]),
        ("quote-character.env", &[("quote-character", Some("A"), 1)]),
        (
            "space-character.env",
            &[
                ("space-character", Some("A"), 1),
                ("space-character", Some("B"), 2),
            ],
        ),
        (
            "substitution-key.env",
            &[
                ("loader-disagreement", Some("A"), 1),
                ("substitution-key", Some("A"), 1),
                ("loader-disagreement", Some("C"), 2),
                ("substitution-key", Some("C"), 2),
            ],
        ),
        (
            "trailing-whitespace.env",
            &[("trailing-whitespace", Some("A"), 1)],
        ),
        (
            "unordered-key.env",
            &[
                ("unordered-key", Some("A"), 2),
                ("loader-disagreement", Some("C"), 5),
            ],
        ),
        (
            "value-without-quotes.env",
            &[
                ("loader-disagreement", Some("A"), 1),
                ("value-without-quotes", Some("A"), 1),
            ],
        ),
    ];
    let files: Vec<String> = fixtures_in("lint")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        cases
            .iter()
            .map(|(f, _)| (*f).to_owned())
            .collect::<Vec<_>>()
    );
    for (file, expected) in cases {
        assert_eq!(lint_of(file), owned(expected), "{file}");
    }
    // Every dotenv-linter check has a fixture named after our rule id.
    for rule in Rule::BUILTIN
        .iter()
        .filter(|r| r.dotenv_linter_check().is_some())
    {
        let covered = files.contains(&format!("{}.env", rule.id()));
        let schema_rule = rule.dotenv_linter_check() == Some("SchemaViolation");
        assert!(covered || schema_rule, "no fixture for {rule}");
    }
}

#[test]
fn dialect_fixtures_read_as_each_loader_does() {
    // [dotenvy, compose, node, python] per entry, in file order.
    let cases: &[(&str, Readings)] = &[
        (
            "bom.env",
            &[
                ("BOM", ["<rejected>", "1", "1", "1"]),
                ("NEXT", ["2", "2", "2", "2"]),
            ],
        ),
        (
            "comments.env",
            &[
                ("SPACED", ["a", "a", "a", "a"]),
                ("GLUED", ["a#c", "a#c", "a", "a#c"]),
                ("EMPTY_THEN_COMMENT", ["", "# c", "", ""]),
                ("ONLY_COMMENT", ["", "#c", "", "#c"]),
                ("QUOTED_HASH", ["a#b", "a#b", "a#b", "a#b"]),
            ],
        ),
        (
            "crlf.env",
            &[
                ("CRLF", ["a", "a", "a", "a"]),
                ("CRLF_QUOTED", ["b", "b", "b", "b"]),
                ("CRLF_COMMENT", ["c", "c", "c", "c"]),
            ],
        ),
        (
            "duplicates.env",
            &[
                ("DUP", ["first", "first", "first", "first"]),
                ("OTHER", ["x", "x", "x", "x"]),
                ("DUP", ["second", "second", "second", "second"]),
            ],
        ),
        (
            "expansion.env",
            &[
                ("BASE", ["/srv", "/srv", "/srv", "/srv"]),
                (
                    "BRACED",
                    ["/srv/app", "/srv/app", "${BASE}/app", "/srv/app"],
                ),
                ("BARE", ["/srv/bin", "/srv/bin", "$BASE/bin", "$BASE/bin"]),
                (
                    "DEFAULTED",
                    [
                        "",
                        "fallback",
                        "${UNSET_ENV_VALIDATE_X:-fallback}",
                        "fallback",
                    ],
                ),
                ("IN_SINGLE", ["${BASE}", "${BASE}", "${BASE}", "/srv"]),
            ],
        ),
        (
            "keys.env",
            &[
                ("EXPORTED", ["1", "1", "1", "1"]),
                ("DOTTED.KEY", ["2", "2", "2", "2"]),
                ("DASHED-KEY", ["<rejected>", "3", "3", "3"]),
                ("YAML", ["<rejected>", "4", "4", "<skipped>"]),
                ("KEY_ONLY", ["<rejected>", "<inherit>", "<none>", "<none>"]),
                ("INDENTED", ["5", "5", "5", "5"]),
            ],
        ),
        (
            "multiline.env",
            &[
                ("PEM", ["-----BEGIN KEY-----\nabc\n-----END KEY-----"; 4]),
                ("SINGLE_ML", ["one\ntwo"; 4]),
                ("AFTER", ["1"; 4]),
            ],
        ),
        (
            "quotes.env",
            &[
                ("SINGLE", ["single $x"; 4]),
                ("DOUBLE", ["double"; 4]),
                ("SPACE_BEFORE", ["x"; 4]),
                (
                    "ESCAPES",
                    ["a\nb\"c\\d", "a\nb\"c\\d", "a\nb\\\"c\\\\d", "a\nb\"c\\d"],
                ),
                ("TAB_ESCAPE", ["<rejected>", "a\tb", "a\\tb", "a\tb"]),
                ("UNQUOTED_SPACE", ["<rejected>", "a b", "a b", "a b"]),
                (
                    "TRAILING_TEXT",
                    ["<rejected>", "<rejected>", "\"a\" junk", "<skipped>"],
                ),
            ],
        ),
    ];
    let files: Vec<String> = fixtures_in("dialects")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        cases
            .iter()
            .map(|(f, _)| (*f).to_owned())
            .collect::<Vec<_>>()
    );
    for (file, expected) in cases {
        let doc = load(&fixture(&format!("dialects/{file}")), Dialect::Portable);
        let all = Dialect::read_all(&doc, &|_| None);
        let got: Vec<(String, [String; 4])> = doc
            .entries()
            .enumerate()
            .map(|(i, e)| (e.key().to_owned(), [0, 1, 2, 3].map(|d| show(&all[d][i]))))
            .collect();
        let want: Vec<(String, [String; 4])> = expected
            .iter()
            .map(|(k, r)| ((*k).to_owned(), r.map(str::to_owned)))
            .collect();
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn portable_mode_flags_exactly_the_lines_loaders_disagree_on() {
    let cases: &[(&str, Expected)] = &[
        ("bom.env", &[("loader-disagreement", Some("BOM"), 1)]),
        (
            "comments.env",
            &[
                ("loader-disagreement", Some("GLUED"), 2),
                ("loader-disagreement", Some("EMPTY_THEN_COMMENT"), 3),
                ("loader-disagreement", Some("ONLY_COMMENT"), 4),
            ],
        ),
        ("crlf.env", &[]),
        ("duplicates.env", &[("loader-disagreement", Some("DUP"), 3)]),
        (
            "expansion.env",
            &[
                ("loader-disagreement", Some("BRACED"), 2),
                ("loader-disagreement", Some("BARE"), 3),
                ("loader-disagreement", Some("DEFAULTED"), 4),
                ("loader-disagreement", Some("IN_SINGLE"), 5),
            ],
        ),
        (
            "keys.env",
            &[
                ("loader-disagreement", Some("DASHED-KEY"), 3),
                ("loader-disagreement", Some("YAML"), 4),
                ("loader-disagreement", None, 5),
            ],
        ),
        ("multiline.env", &[]),
        (
            "quotes.env",
            &[
                ("loader-disagreement", Some("ESCAPES"), 4),
                ("loader-disagreement", Some("TAB_ESCAPE"), 5),
                ("loader-disagreement", Some("UNQUOTED_SPACE"), 6),
                ("loader-disagreement", Some("TRAILING_TEXT"), 7),
            ],
        ),
    ];
    for (file, expected) in cases {
        let r = Validator::new()
            .env_file(fixture(&format!("dialects/{file}")))
            .lint(false)
            .run()
            .expect("runs");
        assert_eq!(triples(r.findings()), owned(expected), "{file}");
    }
    // With one dialect chosen, only what that loader rejects or skips is reported.
    let r = Validator::new()
        .env_file(fixture("dialects/quotes.env"))
        .dialect(Dialect::Dotenvy)
        .lint(false)
        .run()
        .expect("runs");
    assert_eq!(
        triples(r.findings()),
        owned(&[
            ("syntax", Some("TAB_ESCAPE"), 5),
            ("syntax", Some("UNQUOTED_SPACE"), 6),
            ("syntax", Some("TRAILING_TEXT"), 7),
        ])
    );
    let r = Validator::new()
        .env_file(fixture("dialects/keys.env"))
        .dialect(Dialect::Python)
        .lint(false)
        .run()
        .expect("runs");
    assert_eq!(
        triples(r.findings()),
        owned(&[("ignored-line", Some("YAML"), 4)])
    );
}

fn schema_run(dialect: Dialect) -> Vec<(String, Option<String>, u32)> {
    let r = Validator::new()
        .template(fixture("schema/app.env.example"))
        .env_file(fixture("schema/app.env"))
        .dialect(dialect)
        .lint(false)
        .run()
        .expect("runs");
    triples(r.findings())
}

const SCHEMA_TEMPLATE_FINDINGS: Expected = &[
    ("missing-required", Some("SENTRY_DSN"), 28),
    ("invalid-default", Some("BAD_DEFAULT"), 37),
    ("missing-key", Some("BAD_DEFAULT"), 37),
    ("invalid-directive", Some("UNKNOWN_DIRECTIVE"), 38),
    ("missing-key", Some("UNKNOWN_DIRECTIVE"), 39),
];

#[test]
fn schema_fixture_reports_every_problem_once() {
    let mut want = owned(SCHEMA_TEMPLATE_FINDINGS);
    want.extend(owned(&[
        ("invalid-value", Some("ADMIN_EMAIL"), 1),
        ("loader-disagreement", Some("CACHE_HOST"), 3),
        ("invalid-value", Some("CACHE_HOST"), 3),
        ("invalid-value", Some("DATABASE_URL"), 4),
        ("invalid-value", Some("DATA_DIR"), 5),
        ("conditional-value", Some("DEBUG"), 6),
        ("invalid-value", Some("EXTRA_PORTS"), 7),
        ("loader-disagreement", Some("FLAGS"), 8),
        ("invalid-value", Some("FLAGS"), 8),
        ("empty-value", Some("NAME"), 9),
        ("loader-disagreement", Some("PORT"), 10),
        ("invalid-value", Some("PORT"), 10),
        ("invalid-value", Some("SAMPLE_RATE"), 11),
        ("invalid-value", Some("SECRET_KEY"), 12),
        ("invalid-value", Some("SLUG"), 13),
        ("invalid-value", Some("TIMEOUT"), 14),
        ("invalid-value", Some("WORKERS"), 15),
        ("extra-key", Some("STRAY"), 16),
    ]));
    assert_eq!(schema_run(Dialect::Portable), want);
}

#[test]
fn values_are_validated_as_the_chosen_loader_reads_them() {
    // `PORT=80#web`: Node cuts at `#` and reads a valid port; the others read `80#web`.
    let node = schema_run(Dialect::Node);
    assert!(
        !node
            .iter()
            .any(|(r, k, _)| r == "invalid-value" && k.as_deref() == Some("PORT"))
    );
    let python = schema_run(Dialect::Python);
    assert!(
        python
            .iter()
            .any(|(r, k, _)| r == "invalid-value" && k.as_deref() == Some("PORT"))
    );
    // No dialect-specific findings leak into single-dialect runs.
    assert!(!python.iter().any(|(r, _, _)| r == "loader-disagreement"));
}

#[test]
fn process_env_wins_and_rust_rules_run() {
    let schema = Schema::builder()
        .key("MIN_POOL", ValueType::int(Some(0), None), |k| {
            k.default("1")
        })
        .key("MAX_POOL", ValueType::int(Some(1), None), |k| {
            k.default("10")
        })
        .rule(
            "pool-order",
            &["MIN_POOL", "MAX_POOL"],
            "MIN_POOL must not exceed MAX_POOL",
            |v| v.int("MIN_POOL").unwrap_or(0) <= v.int("MAX_POOL").unwrap_or(i64::MAX),
        )
        .build()
        .expect("valid schema");
    let doc = preflight_env_validate::Document::parse(".env", "MAX_POOL=5\nMIN_POOL=2\n");
    let run = |env: &[(&str, &str)]| {
        Validator::new()
            .schema(schema.clone())
            .env_document(doc.clone())
            .env_map(env.iter().copied())
            .run()
            .expect("runs")
    };
    let ok = run(&[]);
    assert!(ok.is_clean(), "{:?}", ok.findings());
    assert_eq!(ok.values().int("MIN_POOL").unwrap(), 2);
    let bad = run(&[("MIN_POOL", "9")]);
    assert_eq!(
        triples(bad.findings()),
        vec![("pool-order".to_owned(), Some("MIN_POOL".to_owned()), 0)]
    );
    assert_eq!(
        bad.findings()[0]
            .location
            .as_ref()
            .map(|l| l.file.to_string()),
        Some("<process environment>".to_owned())
    );
    assert!(matches!(
        bad.values().source("MIN_POOL").unwrap(),
        preflight_env_validate::Source::ProcessEnv
    ));
}

#[test]
fn the_shipped_sample_template_is_clean_and_complete() {
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/.env.example");
    let doc = load(&sample, Dialect::Portable);
    let (schema, findings) = Schema::from_template(&doc, Dialect::Portable);
    assert!(findings.is_empty(), "{findings:?}");
    let lint = Validator::new().template(&sample).run().expect("runs");
    let non_missing: Vec<_> = lint
        .findings()
        .iter()
        .filter(|f| f.rule != Rule::MissingRequired)
        .collect();
    assert!(non_missing.is_empty(), "{non_missing:?}");
    for key in [
        "DATABASE_URL",
        "DJANGO_SECRET_KEY",
        "CELERY_BROKER_URL",
        "REDIS_URL",
        "QDB_PG_PASSWORD",
    ] {
        assert!(
            schema.get(key).is_some_and(|k| k.secret),
            "{key} must be secret"
        );
    }
    // A filled-in .env that follows the template validates clean. Keys without a default
    // keep the template's own value for that key (one reading per entry, in file order).
    let readings = Dialect::Portable.read(&doc, &|_| None);
    assert_eq!(
        readings.len(),
        doc.entries().count(),
        "one reading per entry"
    );
    let filled: String = doc
        .entries()
        .zip(&readings)
        .map(|(e, reading)| {
            let v = match e.key() {
                "DJANGO_SECRET_KEY" => "x".repeat(60),
                "QDB_PG_PASSWORD" | "EMAIL_HOST_PASSWORD" => "pw".to_owned(),
                "SENTRY_DSN" => "https://key@sentry.example.com/1".to_owned(),
                "DJANGO_ENV" => "production".to_owned(),
                _ => schema
                    .get(e.key())
                    .and_then(|k| k.default.clone())
                    .unwrap_or_else(|| reading.value().unwrap_or("").to_owned()),
            };
            let v = if e.key() == "DATABASE_URL" {
                "postgres://app:pw@db:5432/app".to_owned()
            } else {
                v
            };
            let v = if e.key().ends_with("_URL") && e.key() != "DATABASE_URL" {
                "redis://cache:6379/0".to_owned()
            } else {
                v
            };
            Dialect::Portable
                .render_entry(e.key(), &v)
                .expect("portable")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let r = Validator::new()
        .template(&sample)
        .env_document(preflight_env_validate::Document::parse(".env", &filled))
        .ignore(&Rule::UnorderedKey)
        .run()
        .expect("runs");
    assert!(
        r.is_clean(),
        "{}",
        r.render(preflight_env_validate::Format::Human)
    );
}

#[test]
fn unreadable_and_oversized_files_are_tool_errors_naming_the_file() {
    let missing = Validator::new()
        .env_file(fixture("nope.env"))
        .run()
        .expect_err("missing file");
    assert!(matches!(missing, preflight_env_validate::Error::Io { .. }));
    assert!(missing.to_string().contains("nope.env"), "{missing}");
    let big = Validator::new()
        .env_file(fixture("schema/app.env"))
        .limits(preflight_env_validate::Limits::default().max_file_bytes(16))
        .run()
        .expect_err("over the limit");
    assert!(
        matches!(
            big,
            preflight_env_validate::Error::FileTooLarge { limit: 16, .. }
        ),
        "{big}"
    );
    assert!(big.to_string().contains("app.env"), "{big}");
}
