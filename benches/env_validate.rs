//! env-validate figures (`cargo bench --bench env_validate`).
//!
//! 1. In-process, criterion: parse + lint + validate a generated 10,000-entry `.env`
//!    against a 10,000-key annotated template (portable mode: every line read by all
//!    four dialects), the same without a template, parse-only, and the python dialect.
//! 2. Linearity: the same full run at 1k / 10k / 100k entries (median of a few runs).
//! 3. Whole process, side by side on the same files: the `validate-env` example (lint
//!    only, like `dotenv-linter check`, and with the template) against
//!    `dotenv-linter check` (4.0, `cargo install dotenv-linter`). Wall time, median of
//!    several runs, measured with `std::time::Instant` around `Command::output`. Two
//!    files per size: keys sorted (lint-clean), and the same entries shuffled (what real
//!    files look like; dotenv-linter's order check is quadratic there).
//!    The bench builds the example itself (`cargo build --profile bench --example
//!    validate-env`, a no-op when it is up to date), so the figure is always the current
//!    source's, never a stale binary's.
//!
//! Everything is local files and processes; no network.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use preflight::env_validate::{Dialect, Document, Validator};

const TYPES: [&str; 5] = ["int(min=0)", "url(postgres)", "string", "bool", "port"];

/// A realistic, lint-clean file: groups of 20 sorted keys under a comment, separated by
/// blank lines, values of five kinds (some quoted).
fn env_text(n: usize) -> String {
    let mut s = String::with_capacity(n * 48);
    for i in 0..n {
        if i % 20 == 0 {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&format!("# group {}\n", i / 20));
        }
        let key = format!("KEY_{i:06}");
        let value = match i % 5 {
            0 => format!("{}", i * 7),
            1 => format!("postgres://app@db{}.internal:5432/app", i % 97),
            2 => format!("\"hello world {i}\""),
            3 => ["true", "false"][i % 2].to_owned(),
            _ => format!("{}", 1024 + i % 60000),
        };
        s.push_str(&format!("{key}={value}\n"));
    }
    s
}

/// The same entries in a fixed pseudo-random order, comments and blank lines dropped.
fn shuffled_text(n: usize) -> String {
    let mut lines: Vec<String> = env_text(n)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..lines.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lines.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    lines.join("\n") + "\n"
}

/// The matching template: one `@type` directive per key.
fn template_text(n: usize) -> String {
    let mut s = String::with_capacity(n * 40);
    for i in 0..n {
        if i % 20 == 0 && i > 0 {
            s.push('\n');
        }
        let ty = TYPES[i % 5];
        s.push_str(&format!("# @required @type={ty}\nKEY_{i:06}=\n"));
    }
    s
}

fn full_run(env: &str, template: &str, dialect: Dialect) -> usize {
    let report = Validator::new()
        .template_document(Document::parse(".env.example", template))
        .env_document(Document::parse(".env", env))
        .dialect(dialect)
        .run()
        .expect("in-memory run");
    report.findings().len()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_process(cmd: &mut Command, runs: usize) -> Option<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let out = cmd.output().ok()?;
        times.push(start.elapsed());
        // Exit 0 (clean) or 1 (findings) are both a completed check; anything else is not.
        if !matches!(out.status.code(), Some(0 | 1)) {
            eprintln!(
                "  {:?} failed: {}",
                cmd.get_program(),
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
    }
    Some(median(times))
}

/// Builds the `validate-env` example (optimised) from the current source and returns
/// its path: timing whatever happens to be in `target/release` could time old code.
fn example_binary() -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        // The bench profile (release + line tables) shares the dependencies this bench
        // was just built with, in `target/release`: no second optimised build.
        .args([
            "build",
            "--profile",
            "bench",
            "--quiet",
            "--example",
            "validate-env",
            "--features",
            "env-validate",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        println!("  validate-env: the release build failed ({status:?})");
        return None;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let p = target.join("release/examples/validate-env");
    p.exists().then_some(p)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let env10k = env_text(10_000);
    let tpl10k = template_text(10_000);
    assert_eq!(
        full_run(&env10k, &tpl10k, Dialect::Portable),
        0,
        "generated files must be clean"
    );

    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    c.bench_function("parse 10k entries", |b| {
        b.iter(|| {
            Document::parse(".env", black_box(&env10k))
                .entries()
                .count()
        });
    });
    c.bench_function(
        "parse+lint+validate 10k entries, portable (4 dialects)",
        |b| {
            b.iter(|| full_run(black_box(&env10k), &tpl10k, Dialect::Portable));
        },
    );
    c.bench_function("parse+lint 10k entries, portable, no template", |b| {
        b.iter(|| {
            Validator::new()
                .env_document(Document::parse(".env", black_box(&env10k)))
                .run()
                .expect("runs")
                .findings()
                .len()
        });
    });
    c.bench_function("parse+lint+validate 10k entries, python dialect", |b| {
        b.iter(|| full_run(black_box(&env10k), &tpl10k, Dialect::Python));
    });
    c.final_summary();

    println!("\nlinearity, in-process parse+lint+validate (portable), median of 5:");
    for n in [1_000, 10_000, 100_000] {
        let (env, tpl) = (env_text(n), template_text(n));
        let t = median(
            (0..5)
                .map(|_| {
                    let s = Instant::now();
                    black_box(full_run(&env, &tpl, Dialect::Portable));
                    s.elapsed()
                })
                .collect(),
        );
        println!(
            "  {n:>7} entries: {}  ({:.0} ns/entry)",
            ms(t),
            t.as_nanos() as f64 / n as f64
        );
    }

    println!("\nwhole process, same file, median wall time:");
    let dir = tempfile::tempdir().expect("tempdir");
    let example = example_binary();
    let linter = Command::new("dotenv-linter")
        .arg("--version")
        .output()
        .is_ok();
    if !linter {
        println!("  dotenv-linter: not installed; run `cargo install dotenv-linter`");
    }
    for n in [1_000, 3_000, 10_000, 100_000] {
        for (kind, text) in [("sorted", env_text(n)), ("shuffled", shuffled_text(n))] {
            let env = dir.path().join(format!("{kind}{n}.env"));
            let tpl = dir.path().join(format!("{kind}{n}.env.example"));
            std::fs::write(&env, text).expect("write");
            std::fs::write(&tpl, template_text(n)).expect("write");
            let runs = if n >= 100_000 { 3 } else { 7 };
            let mut line = format!("  {n:>7} entries, {kind:<8}:");
            if let Some(bin) = &example {
                if let Some(t) = time_process(Command::new(bin).arg("--env-file").arg(&env), runs) {
                    line.push_str(&format!("  validate-env lint {:>10}", ms(t)));
                }
                let mut with_tpl = Command::new(bin);
                with_tpl
                    .arg("--template")
                    .arg(&tpl)
                    .arg("--env-file")
                    .arg(&env);
                if let Some(t) = time_process(&mut with_tpl, runs) {
                    line.push_str(&format!("  +template {:>10}", ms(t)));
                }
            }
            // dotenv-linter 4.0 is quadratic on unordered keys: 100k entries would take
            // many minutes, so it is measured up to 10k.
            if linter && n <= 10_000 {
                let mut cmd = Command::new("dotenv-linter");
                cmd.args(["check", "--skip-updates", "--quiet", "--plain"])
                    .arg(&env);
                if let Some(t) = time_process(&mut cmd, if n >= 10_000 { 3 } else { runs }) {
                    line.push_str(&format!("  dotenv-linter check {:>10}", ms(t)));
                }
            }
            println!("{line}");
        }
    }
}
