//! No panic on adversarial `.env` text, in every dialect: non-ASCII right after `${NAME`
//! (the `A=${Xé}` panic), NUL, huge numbers, deeply nested expansions, every type.

use preflight_env_validate::{Dialect, Document, Limits, Validator};
use proptest::prelude::*;

/// Lines made of the tokens `.env` syntax and the value types care about.
fn line() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "${",
        "}",
        "$",
        ":-",
        "-",
        ":+",
        "+",
        ":?",
        "?",
        ":",
        "=",
        "'",
        "\"",
        "\\",
        "#",
        " ",
        "\t",
        "export ",
        "A",
        "B_1",
        "é",
        "😀",
        "\u{0}",
        "\u{feff}",
        "\r",
        "99999999999999999999999",
        "-1",
        "1e400",
        "NaN",
        "0x",
        "true",
        "postgres://u:p@h:5432/db",
        "[",
        "{\"a\":",
        "a,b",
        "1m30s",
        "18446744073709551616s",
    ]);
    prop::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

/// `${A:-${A:-…}}` nested `depth` times.
fn nested(depth: usize) -> String {
    let mut s = "x".to_owned();
    for _ in 0..depth {
        s = format!("${{A:-{s}}}");
    }
    s
}

const TEMPLATE: &str = "\
# @required @type=int(1..10)\nA=\n# @secret @type=url(postgres)\nB_1=\n\
# @type=duration\nC=\n# @type=float\nD=\n# @type=json\nE=\n# @type=list\nF=\n\
# @type=bool\nG=\n# @type=port\nH=\n# @type=email\nI=\n# @type=enum(a,b)\nJ=\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn adversarial_lines_never_panic(
        lines in prop::collection::vec((prop::sample::select(vec!["A", "B_1", "C", "D", "E", "F", "G", "H", "I", "J", "a b", ""]), line()), 0..8),
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let limits = Limits::default();
        let template = Document::parse("t.env", TEMPLATE);
        for dialect in Dialect::LOADERS.into_iter().chain([Dialect::Portable]) {
            let doc = Document::parse_bytes("p.env", text.as_bytes(), dialect, &limits);
            let _ = Dialect::read_all(&doc, &|_| None);
            let report = Validator::new()
                .template_document(template.clone())
                .env_document(doc)
                .dialect(dialect)
                .run()
                .expect("in-memory run cannot fail");
            let _ = report.findings().len();
        }
    }
}

#[test]
fn deep_nesting_never_panics() {
    for depth in [10, 100, 1_000, 5_000] {
        let text = format!("A={}\n", nested(depth));
        for dialect in Dialect::LOADERS.into_iter().chain([Dialect::Portable]) {
            let doc = Document::parse_bytes("p.env", text.as_bytes(), dialect, &Limits::default());
            let _ = Dialect::read_all(&doc, &|_| None);
        }
    }
}
