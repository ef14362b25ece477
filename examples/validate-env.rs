//! `validate-env`: the original `scripts/validate-env.sh`, done right. Validates env
//! files and (optionally) the process environment against an annotated `.env.example`,
//! lints them, and reports every problem at once without ever printing a value.
//!
//! ```text
//! cargo run --example validate-env -- --template examples/.env.example --env-file .env
//! cargo run --example validate-env -- --process-env --format github --dialect python
//! ```
//!
//! Exit codes: `0` clean (or warnings only with `--allow-warnings`), `1` findings, `2` the
//! tool could not run (unreadable file, usage error).

mod cli_io;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use preflight::env_validate::{
    Dialect, Document, Format, Limits, Rule, Schema, Severity, Validator,
};

#[derive(Parser, Debug)]
#[command(
    name = "validate-env",
    about = "Validate .env files and the environment against an annotated .env.example",
    after_help = "Without --template/--env-file/--process-env, uses ./.env.example and ./.env if they exist.\nExit codes: 0 clean, 1 findings, 2 tool or usage error."
)]
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("validate-env: error: {message}");
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
    args.env_file.append(&mut args.files);
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
            let doc = Document::from_path(t, args.dialect, &limits).map_err(|e| error_chain(&e))?;
            schema.merge(Schema::from_template(&doc, args.dialect).0);
        }
        cli_io::out(&schema.render_template());
        return Ok(ExitCode::SUCCESS);
    }

    let mut v = Validator::new()
        .dialect(args.dialect)
        .lint(!args.no_lint)
        .limits(limits);
    for id in args
        .ignore
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        let rule =
            Rule::from_id(id).ok_or_else(|| format!("unknown rule `{id}` (see --list-rules)"))?;
        v = v.ignore(&rule);
    }
    // Read here rather than by the validator, so the documents stay with `v`, which is
    // never dropped (see below).
    for t in &args.template {
        v = v.template_document(
            Document::from_path(t, args.dialect, &limits).map_err(|e| error_chain(&e))?,
        );
    }
    for e in &args.env_file {
        v = v.env_document(
            Document::from_path(e, args.dialect, &limits).map_err(|e| error_chain(&e))?,
        );
    }
    if args.process_env {
        v = v.process_env();
    }
    let report = v.run().map_err(|e| error_chain(&e))?;
    let format: Format = args.format.parse()?;
    cli_io::out(&report.render(format));
    let failing =
        report.has_errors() || (!args.allow_warnings && report.count(Severity::Warning) > 0);
    // The process exits next: freeing every value and finding one by one, and unmapping
    // the documents, is wasted work (a tenth of the run on a 100k-entry file).
    std::mem::forget(report);
    std::mem::forget(v);
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
