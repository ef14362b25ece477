//! `fix` on every fixture: the real loaders (python-dotenv, Node dotenv, the dotenvy
//! crate) read the fixed file exactly as the original, a second `fix` changes nothing,
//! and the dry-run diff shows no value.

use preflight_env_validate::{Dialect, Document, Reading, fix};

use crate::common::load;
use crate::loaders::{Map, all_fixtures, real_many};

/// dotenvy's reading of a file: values by key (first wins, as `dotenvy::from_path` sets
/// them) and the number of lines it rejects.
fn dotenvy_reading(path: &std::path::Path) -> (Map, usize) {
    let mut map = Map::new();
    let mut errors = 0;
    for item in dotenvy::from_path_iter(path).expect("opens") {
        match item {
            Ok((k, v)) => {
                map.entry(k).or_insert(Some(v));
            }
            Err(_) => errors += 1,
        }
    }
    (map, errors)
}

#[test]
fn fix_never_changes_what_a_loader_reads_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = all_fixtures();
    let mut fixed_files = Vec::new();
    let mut applied = 0;
    for (i, file) in files.iter().enumerate() {
        let doc = load(file, Dialect::Portable);
        let fixed = fix(&doc, &[]);
        applied += fixed.changes.iter().filter(|c| c.applied).count();
        let again = fix(&Document::parse("again", &fixed.text), &[]);
        assert_eq!(
            again.text,
            fixed.text,
            "fix is not idempotent on {}",
            file.display()
        );
        assert!(!again.changed(), "{}: {:?}", file.display(), again.changes);
        for line in fixed
            .masked_diff("x")
            .lines()
            .filter(|l| l.starts_with(['+', '-']))
        {
            let body = &line[1..];
            if let Some((_, after)) = body.split_once('=') {
                let after = after.trim_start();
                assert!(
                    after.is_empty() || after == "‹value›",
                    "{}: the diff shows a value: {line}",
                    file.display()
                );
            }
        }
        let out = dir.path().join(format!("{i}.env"));
        std::fs::write(&out, &fixed.text).expect("write");
        fixed_files.push(out);
        // Our compose model (docker compose is not installed) reads it the same too.
        let before = load(file, Dialect::Compose);
        let after = load(&fixed_files[i], Dialect::Compose);
        let read = |d: &Document| -> Vec<(String, Reading)> {
            d.entries()
                .map(|e| e.key().to_owned())
                .zip(Dialect::Compose.read(d, &|_| None))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect()
        };
        assert_eq!(
            read(&before),
            read(&after),
            "compose reads {} differently",
            file.display()
        );
    }
    println!("fix: {} fixtures, {applied} fixes applied", files.len());
    assert!(
        applied > 50,
        "only {applied} fixes applied over the fixtures"
    );
    for (program, script) in [("python3", "read_python.py"), ("node", "read_node.js")] {
        let Some(before) = real_many(program, script, &files) else {
            return;
        };
        let after = real_many(program, script, &fixed_files).expect("ran before");
        for ((file, b), a) in files.iter().zip(before).zip(after) {
            assert_eq!(
                b,
                a,
                "{program} reads the fixed {} differently",
                file.display()
            );
        }
    }
    for (file, out) in files.iter().zip(&fixed_files) {
        let (b, b_errors) = dotenvy_reading(file);
        let (a, a_errors) = dotenvy_reading(out);
        // A line dotenvy rejected may now read as every other loader reads it
        // (`A=a b` → `A='a b'`): only new values, never a changed or lost one.
        assert!(
            a_errors <= b_errors,
            "dotenvy rejects more of the fixed {}",
            file.display()
        );
        for (k, v) in &b {
            assert_eq!(
                a.get(k),
                Some(v),
                "dotenvy reads {k} of the fixed {} differently",
                file.display()
            );
        }
        if a_errors == b_errors {
            assert_eq!(
                a.len(),
                b.len(),
                "dotenvy reads new keys in the fixed {}",
                file.display()
            );
        }
    }
}
