//! `validate-env`: the original `scripts/validate-env.sh`, done right. Validates env
//! files and (optionally) the process environment against an annotated `.env.example`,
//! lints them, and reports every problem at once without ever printing a value.
//!
//! ```text
//! cargo run --example validate-env -- --template examples/.env.example --env-file .env
//! cargo run --example validate-env -- --process-env --format github --dialect python
//! cargo run --example validate-env -- --fix --dry-run .env      # what would change, values masked
//! cargo run --example validate-env -- --fix .env                # writes .env_<unix-time>.bak first
//! cargo run --example validate-env -- diff .env .env.prod .env.ci   # key sets, both ways
//! ```
//!
//! Exit codes: `0` clean (or warnings only with `--allow-warnings`; `--fix` done; `diff`:
//! same keys), `1` findings (or keys differ), `2` the tool could not run (unreadable file,
//! usage error).

mod cli_io;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use preflight::env_validate::{
    Dialect, Document, Format, Limits, Rule, Schema, Severity, Validator, diff_keys, fix,
};

#[derive(Parser, Debug)]
#[command(
    name = "validate-env",
    about = "Validate .env files and the environment against an annotated .env.example",
    after_help = "Without --template/--env-file/--process-env, uses ./.env.example and ./.env if they exist.\nExit codes: 0 clean, 1 findings, 2 tool or usage error.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    args: Args,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compare the key sets of env files, each against all the others (values never shown).
    /// Exit 1 when they differ.
    Diff {
        /// The files to compare (two or more).
        #[arg(value_name = "FILE", num_args = 2.., required = true)]
        files: Vec<PathBuf>,
        /// Output: a table, or JSON.
        #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "human", "json"])]
        format: String,
        /// Refuse files larger than this many bytes.
        #[arg(long, default_value_t = Limits::default().max_file_bytes)]
        max_file_bytes: usize,
    },
}

#[derive(clap::Args, Debug)]
struct Args {
    /// Annotated template that holds the schema (repeatable).
    #[arg(long, short = 't', value_name = "PATH")]
    template: Vec<PathBuf>,
    /// Env file to validate; a later one overrides an earlier one (repeatable).
    #[arg(long = "env-file", short = 'e', value_name = "PATH")]
    env_file: Vec<PathBuf>,
    /// Env files to lint and validate, as positional arguments (like `dotenv-linter check`).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Also validate the process environment (it wins over env files, as loaders do).
    #[arg(long)]
    process_env: bool,
    /// Output format.
    #[arg(long, short = 'f', default_value = "human", value_parser = ["human", "json", "github"])]
    format: String,
    /// Loader whose reading is validated: dotenvy, compose, node, python, or portable
    /// (flag every line the loaders read differently).
    #[arg(
        long,
        short = 'd',
        default_value = "portable",
        env = "VALIDATE_ENV_DIALECT"
    )]
    dialect: Dialect,
    /// Rule ids (or dotenv-linter check names) to ignore, comma-separated.
    #[arg(long, short = 'i', value_delimiter = ',', env = "VALIDATE_ENV_IGNORE")]
    ignore: Vec<String>,
    /// Rules that are off by default to report too, comma-separated (`missing-defaulted-key`:
    /// a template key with a default that no env file sets).
    #[arg(long, value_delimiter = ',', env = "VALIDATE_ENV_ENABLE")]
    enable: Vec<String>,
    /// Skip the dotenv-linter style lints.
    #[arg(long)]
    no_lint: bool,
    /// Exit 0 when there are only warnings.
    #[arg(long)]
    allow_warnings: bool,
    /// Print the schema as a fresh template (secrets blank) instead of validating.
    #[arg(long)]
    print_template: bool,
    /// List the rules and exit.
    #[arg(long)]
    list_rules: bool,
    /// Refuse files larger than this many bytes.
    #[arg(long, default_value_t = Limits::default().max_file_bytes)]
    max_file_bytes: usize,
    /// Rewrite the templates and env files to remove lint findings, only where every
    /// loader reads the result as before (renames and value changes are reported, not made).
    #[arg(long)]
    fix: bool,
    /// With --fix: print what would change (values masked) and write nothing.
    #[arg(long, requires = "fix")]
    dry_run: bool,
    /// With --fix: do not keep a `FILE_<unix-time>.bak` copy of each rewritten file.
    #[arg(long, requires = "fix")]
    no_backup: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Diff {
            files,
            format,
            max_file_bytes,
        }) => diff(&files, &format, max_file_bytes),
        None => run(cli.args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("validate-env: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(mut args: Args) -> Result<ExitCode, String> {
    if args.list_rules {
        for r in Rule::BUILTIN {
            let linter = r.dotenv_linter_check().unwrap_or("-");
            cli_io::out(&format!(
                "{:<22} {:<8} {linter}\n",
                r.id(),
                r.default_severity()
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let limits = Limits::default().max_file_bytes(args.max_file_bytes);
    merge_positional(&mut args);
    if args.template.is_empty() && args.env_file.is_empty() && !args.process_env {
        for (list, name) in [
            (&mut args.template, ".env.example"),
            (&mut args.env_file, ".env"),
        ] {
            if Path::new(name).exists() {
                list.push(PathBuf::from(name));
            }
        }
        if args.template.is_empty() && args.env_file.is_empty() {
            return Err("nothing to validate: give --template, --env-file or --process-env (no ./.env.example or ./.env here)".into());
        }
    }
    if args.print_template {
        let mut schema = Schema::default();
        for t in &args.template {
            let doc = Document::from_path(t, args.dialect, &limits)
                .map_err(|e| cli_io::error_chain(&e))?;
            schema.merge(Schema::from_template(&doc, args.dialect).0);
        }
        cli_io::out(&schema.render_template());
        return Ok(ExitCode::SUCCESS);
    }

    if args.fix {
        return fix_files(&args, &limits);
    }

    let mut v = Validator::new()
        .dialect(args.dialect)
        .lint(!args.no_lint)
        .limits(limits);
    for rule in rules(&args.enable)? {
        v = v.enable(&rule);
    }
    for rule in rules(&args.ignore)? {
        v = v.ignore(&rule);
    }
    // Read here rather than by the validator, so the documents stay with `v`, which is
    // never dropped (see below).
    for t in &args.template {
        v = v.template_document(
            Document::from_path(t, args.dialect, &limits).map_err(|e| cli_io::error_chain(&e))?,
        );
    }
    for e in &args.env_file {
        v = v.env_document(
            Document::from_path(e, args.dialect, &limits).map_err(|e| cli_io::error_chain(&e))?,
        );
    }
    if args.process_env {
        v = v.process_env();
    }
    let report = v.run().map_err(|e| cli_io::error_chain(&e))?;
    let format: Format = args.format.parse()?;
    cli_io::out(&report.render(format));
    let failing =
        report.has_errors() || (!args.allow_warnings && report.count(Severity::Warning) > 0);
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Adds the positional files to the env files, except one already given as --template
/// or --env-file: it is that, not a second env file (a template counted as an env file
/// would hide every key missing from the real ones).
fn merge_positional(args: &mut Args) {
    let mut seen: Vec<PathBuf> = args
        .template
        .iter()
        .chain(&args.env_file)
        .map(|p| same_file_key(p))
        .collect();
    for f in std::mem::take(&mut args.files) {
        let k = same_file_key(&f);
        if !seen.contains(&k) {
            seen.push(k);
            args.env_file.push(f);
        }
    }
}

/// The path as the OS resolves it, so that `./.env` and `.env` are one file.
fn same_file_key(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned())
}

/// Rule ids (or dotenv-linter check names) as given on the command line.
fn rules(ids: &[String]) -> Result<Vec<Rule>, String> {
    ids.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|id| {
            Rule::from_id(id).ok_or_else(|| format!("unknown rule `{id}` (see --list-rules)"))
        })
        .collect()
}

/// `--fix`: each template and env file in turn. Reports what was fixed and what was not
/// (rule, line, key: never a value); `--dry-run` shows a diff with every value masked.
fn fix_files(args: &Args, limits: &Limits) -> Result<ExitCode, String> {
    let ignore = rules(&args.ignore)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (mut fixed_total, mut left_total) = (0, 0);
    for path in args.template.iter().chain(&args.env_file) {
        let doc = Document::from_path(path, Dialect::Portable, limits)
            .map_err(|e| cli_io::error_chain(&e))?;
        let fixed = fix(&doc, &ignore);
        let name = path.display().to_string();
        for c in &fixed.changes {
            let key = c
                .key
                .as_deref()
                .map(|k| format!(" `{k}`"))
                .unwrap_or_default();
            println!("{name}:{} {}{key}: {}", c.line, c.rule, c.note);
        }
        fixed_total += fixed.changes.iter().filter(|c| c.applied).count();
        left_total += fixed.changes.iter().filter(|c| !c.applied).count();
        if !fixed.changed() {
            continue;
        }
        if args.dry_run {
            print!("{}", fixed.masked_diff(&name));
            continue;
        }
        if !args.no_backup {
            let mut backup = path.as_os_str().to_owned();
            backup.push(format!("_{stamp}.bak"));
            // `copy` keeps the permissions: a backup of a secret file stays private.
            std::fs::copy(path, &backup).map_err(|e| format!("cannot back up {name}: {e}"))?;
            println!("{name}: original kept as {}", Path::new(&backup).display());
        }
        write_in_place(path, &fixed.text).map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    let verb = if args.dry_run { "would fix" } else { "fixed" };
    println!(
        "{verb} {fixed_total}, left {left_total} for a person (renames and value changes are never automatic)"
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes next to the file and renames over it, keeping its permissions.
fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    let perms = std::fs::metadata(path)?.permissions();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".validate-env-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::set_permissions(&tmp, perms)?;
    std::fs::rename(&tmp, path)
}

/// `diff FILE…`: key sets compared both ways; exit 1 when they differ.
fn diff(files: &[PathBuf], format: &str, max_file_bytes: usize) -> Result<ExitCode, String> {
    let limits = Limits::default().max_file_bytes(max_file_bytes);
    let docs = files
        .iter()
        .map(|p| {
            Document::from_path(p, Dialect::Portable, &limits).map_err(|e| cli_io::error_chain(&e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let d = diff_keys(&docs.iter().collect::<Vec<_>>());
    match format {
        "json" => cli_io::out(&d.render_json()),
        _ => cli_io::out(&d.render_table()),
    }
    Ok(if d.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(argv: &[&str]) -> Args {
        let mut full = vec!["validate-env"];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).expect("parses").args
    }

    #[test]
    fn a_positional_template_is_not_also_an_env_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = dir.path().join(".env2");
        let e = dir.path().join(".env1");
        std::fs::write(&t, "A=\nB=\n").expect("write");
        std::fs::write(&e, "A=1\n").expect("write");
        let (t, e) = (t.to_str().unwrap(), e.to_str().unwrap());
        let mut a = args(&["--template", t, "--env-file", e, e, t]);
        merge_positional(&mut a);
        assert_eq!(a.env_file, [PathBuf::from(e)]);
        let report = Validator::new()
            .template(t)
            .env_file(e)
            .run()
            .expect("runs");
        assert!(
            report.findings().iter().any(|f| f.rule == Rule::MissingKey),
            "B is missing from the only env file"
        );
    }

    #[test]
    fn fix_writes_a_backup_and_dry_run_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = dir.path().join(".env");
        let original = "B = 1\nA=hunter2\n";
        std::fs::write(&env, original).expect("write");
        let p = env.to_str().unwrap();
        let limits = Limits::default();
        fix_files(&args(&["--fix", "--dry-run", p]).merged(), &limits).expect("dry run");
        assert_eq!(std::fs::read_to_string(&env).unwrap(), original);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no backup"
        );
        fix_files(&args(&["--fix", p]).merged(), &limits).expect("fix");
        assert_eq!(std::fs::read_to_string(&env).unwrap(), "A=hunter2\nB=1\n");
        let backups: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".bak"))
            .collect();
        assert_eq!(backups.len(), 1);
        assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), original);
    }

    impl Args {
        fn merged(mut self) -> Self {
            merge_positional(&mut self);
            self
        }
    }
}
