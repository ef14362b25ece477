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

pub(crate) type Map = BTreeMap<String, Option<String>>;

fn loaders_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/loaders")
}

/// Runs a loader script on one file; `None` (after skip_or_fail) when it is not installed.
fn real(program: &str, script: &str, file: &Path) -> Option<Map> {
    real_many(program, script, &[file.to_owned()])?.pop()
}

/// Runs a loader script once on many files (one process, not one per file).
pub(crate) fn real_many(program: &str, script: &str, files: &[PathBuf]) -> Option<Vec<Map>> {
    let out = Command::new(program)
        .arg(loaders_dir().join(script))
        .args(files)
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
    let json: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&out.stdout).expect("loader prints a JSON list of objects");
    assert_eq!(json.len(), files.len(), "one reading per file");
    Some(
        json.into_iter()
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k, v.as_str().map(str::to_owned)))
                    .collect()
            })
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

pub(crate) fn all_fixtures() -> Vec<PathBuf> {
    let mut v = fixtures_in("dialects");
    v.extend(fixtures_in("lint"));
    v.extend(fixtures_in("dotenv-linter"));
    v.push(fixture("schema/app.env"));
    v.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/.env.example"));
    v
}

#[test]
fn python_dotenv_reads_every_fixture_as_the_python_dialect() {
    let files = all_fixtures();
    let Some(all) = real_many("python3", "read_python.py", &files) else {
        return;
    };
    for (file, theirs) in files.into_iter().zip(all) {
        // python-dotenv 1.2.4 strips a UTF-8 BOM as we do (1.2.2 kept it in the first key).
        let mine = ours(&file, Dialect::Python);
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
    let files = all_fixtures();
    let Some(all) = real_many("node", "read_node.js", &files) else {
        return;
    };
    for (file, theirs) in files.into_iter().zip(all) {
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

/// The rows of the crate docs' table of loader differences: one `.env` line each.
const TABLE_ROWS: &[&str] = &[
    "K=a#c",
    "K=a #c",
    "K=   # c",
    "K=#c",
    "K=a b",
    "K=\"a\\tb\"",
    "K=\"a\\\\\"",
    "K='${X:-d}'",
    "K=${X:-d}",
    "K: v",
    "FOO-BAR=1",
    "\u{feff}K=1",
];

/// A reading as a table cell; never used for secrets (the rows are the table's own).
fn cell(r: Option<Option<String>>) -> String {
    match r {
        None => "error / skipped".to_owned(),
        Some(None) => "not set".to_owned(),
        Some(Some(v)) if v.is_empty() => "`\"\"`".to_owned(),
        Some(Some(v)) => format!("`{}`", v.replace('\t', "‹tab›").replace('|', "\\|")),
    }
}

/// The one value a map read from a one-entry file holds (`None`: the loader read none).
fn only(map: &Map) -> Option<Option<String>> {
    map.values().next().cloned()
}

/// Builds the docs' table from the real loaders (python-dotenv, Node dotenv, the dotenvy
/// crate; compose from its model, docker compose is not installed here) and checks that
/// `src/lib.rs` shows exactly it. `UPDATE_LOADER_TABLE=1` (scripts/loader-table) rewrites it.
#[test]
fn the_docs_table_of_loader_differences_is_generated_from_the_real_loaders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let python = python_version();
    let node = node_version();
    let (Some(python), Some(node)) = (python, node) else {
        return;
    };
    let mut table = format!(
        "| input | dotenvy {} | compose (model) | Node dotenv {node} | python-dotenv {python} |\n|---|---|---|---|---|\n",
        dotenvy_version()
    );
    for (i, row) in TABLE_ROWS.iter().enumerate() {
        let path = dir.path().join(format!("row{i}.env"));
        std::fs::write(&path, format!("{row}\n")).expect("write");
        let dotenvy: Option<Option<String>> = dotenvy::from_path_iter(&path)
            .expect("opens")
            .next()
            .and_then(Result::ok)
            .map(|(_, v)| Some(v));
        let doc = load(&path, Dialect::Compose);
        let compose = match Dialect::Compose.read(&doc, &|_| None).pop() {
            Some(Reading::Value(v)) => Some(Some(v)),
            Some(Reading::Inherit | Reading::NoValue) => Some(None),
            _ => None,
        };
        let Some(node) = real("node", "read_node.js", &path) else {
            return;
        };
        let Some(python) = real("python3", "read_python.py", &path) else {
            return;
        };
        let shown = row.replace('\u{feff}', "‹BOM›").replace('|', "\\|");
        table.push_str(&format!(
            "| `{shown}` | {} | {} | {} | {} |\n",
            cell(dotenvy),
            cell(compose),
            cell(only(&node)),
            cell(only(&python))
        ));
    }
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).expect("read lib.rs");
    let (start, end) = (
        "//! <!-- loader-table:start -->\n",
        "//! <!-- loader-table:end -->",
    );
    let a = text.find(start).expect("start marker") + start.len();
    let b = text.find(end).expect("end marker");
    let generated: String = table.lines().map(|l| format!("//! {l}\n")).collect();
    if std::env::var_os("UPDATE_LOADER_TABLE").is_some() {
        std::fs::write(&lib, format!("{}{generated}{}", &text[..a], &text[b..])).expect("write");
        return;
    }
    assert_eq!(
        text[a..b],
        generated,
        "the loaders read the table's rows differently now: run scripts/loader-table"
    );
}

fn python_version() -> Option<String> {
    tool_version(
        "python3",
        &[
            "-c",
            "import importlib.metadata as m; print(m.version('python-dotenv'))",
        ],
    )
}

fn node_version() -> Option<String> {
    tool_version("node", &["-p", "require('dotenv/package.json').version"])
}

fn tool_version(program: &str, args: &[&str]) -> Option<String> {
    match Command::new(program)
        .args(args)
        .env("NODE_PATH", loaders_dir().join("node_modules"))
        .current_dir(loaders_dir())
        .output()
    {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        _ => {
            skip_or_fail(&format!(
                "{program}: the loader is not installed (see scripts/test)"
            ));
            None
        }
    }
}

/// The dotenvy version the tests link, from the lock file.
fn dotenvy_version() -> String {
    let lock = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let text = std::fs::read_to_string(lock).expect("Cargo.lock");
    text.split("[[package]]")
        .find(|p| p.contains("name = \"dotenvy\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map_or_else(|| "?".to_owned(), |v| v.trim_matches('"').to_owned())
}
