//! The dialects against the real loaders: python-dotenv (PyPI) and Node `dotenv` (npm),
//! installed by the test command from `tests/loaders/`, and the `dotenvy` crate. Same
//! files, same values, or a documented difference that is asserted to still exist.
//! docker compose is not installed here; its dialect is checked by the fixture tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use preflight_env_validate::{Dialect, Reading};
use preflight_testkit::skip_or_fail;

use crate::common::{fixture, fixtures_in, load};

type Map = BTreeMap<String, Option<String>>;

fn loaders_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/loaders")
}

/// Runs a loader script; `None` (after skip_or_fail) when the loader is not installed.
fn real(program: &str, script: &str, file: &Path) -> Option<Map> {
    let out = Command::new(program)
        .arg(loaders_dir().join(script))
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NODE_PATH", loaders_dir().join("node_modules"))
        .current_dir(loaders_dir())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            skip_or_fail(&format!(
                "{program} {script} failed ({}); install the loaders: python3 -m pip install -r crates/env-validate/tests/loaders/requirements.txt && npm ci --prefix crates/env-validate/tests/loaders",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .find(|l| l.contains("Error"))
                    .unwrap_or("no error output")
            ));
            return None;
        }
        Err(e) => {
            skip_or_fail(&format!("{program} not found: {e}"));
            return None;
        }
    };
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("loader prints a JSON object");
    Some(
        json.into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_owned)))
            .collect(),
    )
}

/// Our reading as the loader's `parse` returns it: last duplicate wins, a key without
/// value is `null` for python-dotenv and absent for Node.
fn ours(file: &Path, dialect: Dialect) -> Map {
    let doc = load(file, dialect);
    let mut map = Map::new();
    for (e, r) in doc.entries().zip(dialect.read(&doc, &|_| None)) {
        match r {
            Reading::Value(v) => {
                map.insert(e.key().to_owned(), Some(v));
            }
            Reading::NoValue if dialect == Dialect::Python => {
                map.insert(e.key().to_owned(), None);
            }
            _ => {}
        }
    }
    map
}

fn all_fixtures() -> Vec<PathBuf> {
    let mut v = fixtures_in("dialects");
    v.extend(fixtures_in("lint"));
    v.push(fixture("schema/app.env"));
    v.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/.env.example"));
    v
}

#[test]
fn python_dotenv_reads_every_fixture_as_the_python_dialect() {
    for file in all_fixtures() {
        let Some(theirs) = real("python3", "read_python.py", &file) else {
            return;
        };
        let mut mine = ours(&file, Dialect::Python);
        if file.ends_with("bom.env") {
            // Documented difference: python-dotenv 1.2.2 keeps a UTF-8 BOM in the first
            // key (fixed upstream after 1.2.2, #640); we strip it like every other loader.
            assert!(
                theirs.contains_key("\u{feff}BOM"),
                "python-dotenv fixed the BOM: drop this exception"
            );
            let v = mine.remove("BOM").expect("we read BOM");
            mine.insert("\u{feff}BOM".to_owned(), v);
        }
        assert_eq!(
            mine,
            theirs,
            "python-dotenv disagrees on {}",
            file.display()
        );
    }
}

#[test]
fn node_dotenv_reads_every_fixture_as_the_node_dialect() {
    for file in all_fixtures() {
        let Some(theirs) = real("node", "read_node.js", &file) else {
            return;
        };
        assert_eq!(
            ours(&file, Dialect::Node),
            theirs,
            "Node dotenv disagrees on {}",
            file.display()
        );
    }
}

#[test]
fn dotenvy_crate_reads_every_fixture_as_the_dotenvy_dialect() {
    let env = |name: &str| std::env::var(name).ok();
    for file in all_fixtures() {
        let mut theirs: Vec<(String, String)> = Vec::new();
        let mut their_errors = 0;
        for item in dotenvy::from_path_iter(&file).expect("opens") {
            match item {
                Ok(kv) => theirs.push(kv),
                Err(_) => their_errors += 1,
            }
        }
        let doc = load(&file, Dialect::Dotenvy);
        let mut mine = Vec::new();
        let mut my_errors = 0;
        for (e, r) in doc.entries().zip(Dialect::Dotenvy.read(&doc, &env)) {
            match r {
                Reading::Value(v) => mine.push((e.key().to_owned(), v)),
                Reading::Rejected(_) => my_errors += 1,
                other => panic!("dotenvy dialect produced {other:?}"),
            }
        }
        assert_eq!(mine, theirs, "dotenvy disagrees on {}", file.display());
        assert_eq!(
            my_errors,
            their_errors,
            "dotenvy error count on {}",
            file.display()
        );
    }
}

/// Deterministic awkward values: quotes, `#`, `$`, braces, backslashes, whitespace,
/// newlines, non-ASCII.
fn awkward_values() -> Vec<String> {
    let alphabet: Vec<char> = "aZ09_-./:@ #$'\"`\\{}=\t\né€😀!%&*()[];,".chars().collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut values: Vec<String> = [
        "",
        "plain",
        "with space",
        " lead",
        "trail ",
        "a#b",
        "a #b",
        "#x",
        "$HOME",
        "${X}",
        "${X:-d}",
        "it's",
        "say \"hi\"",
        "back\\slash",
        "multi\nline",
        "tab\there",
        "`tick`",
        "all '\" `",
        "=equals=",
        "ünïcödé",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for _ in 0..300 {
        let len = (next() % 12) as usize;
        values.push(
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect(),
        );
    }
    values
}

#[test]
fn rendered_values_read_back_exactly_through_the_real_loaders() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (dialect, program, script) in [
        (Dialect::Python, "python3", "read_python.py"),
        (Dialect::Node, "node", "read_node.js"),
        (Dialect::Portable, "python3", "read_python.py"),
        (Dialect::Portable, "node", "read_node.js"),
    ] {
        let mut text = String::new();
        let mut want = Map::new();
        let mut refused = 0;
        for (i, v) in awkward_values().iter().enumerate() {
            let key = format!("K{i}");
            match dialect.render_entry(&key, v) {
                Ok(line) => {
                    text.push_str(&line);
                    text.push('\n');
                    want.insert(key, Some(v.clone()));
                }
                Err(_) => refused += 1,
            }
        }
        assert!(
            want.len() > 150,
            "{dialect}: renders too few values ({refused} refused)"
        );
        let path = dir.path().join(format!("{dialect}-{program}.env"));
        std::fs::write(&path, &text).expect("write");
        let Some(theirs) = real(program, script, &path) else {
            return;
        };
        let wrong: Vec<_> = want
            .iter()
            .filter(|(k, v)| theirs.get(*k) != Some(*v))
            .map(|(k, v)| (k, v, theirs.get(k)))
            .collect();
        assert!(
            wrong.is_empty(),
            "{program} reads {dialect}-rendered values differently: {wrong:?}"
        );
        assert_eq!(theirs.len(), want.len(), "{program} read extra keys");
    }
}
