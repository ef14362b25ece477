//! `preflight`: one command at a container's entry point. It validates the environment
//! against the annotated template, optionally refuses to run against production, waits
//! for the services the template names, then replaces itself with the app.
//!
//! ```text
//! cargo run --example preflight -- check [OPTIONS] [-- CMD ARGS...]
//! cargo run --example preflight -- check --template examples/.env.example -- gunicorn app.wsgi
//! cargo run --example preflight -- test -- pytest        # = check --guard
//! ```
//!
//! The steps, each timed:
//! 1. **validate**: the process environment and every `--env-file` against the template
//!    (`--template`, default `./.env.example`; its `# @…` directives are the schema). Any
//!    error ends the run with exit `1` and the report, which never shows a value.
//! 2. **guard** (with `--guard`, or the `test` subcommand): the test guard, on the
//!    validated environment, with the `guard` example's policy flags (`GUARD_*`).
//! 3. **wait**: every template key marked `@wait` (its value is a target such as
//!    `postgres://…`) or `@wait=KIND` (the value is not a URL: `tcp` for `host:port`,
//!    `questdb` for a QuestDB host, or any scheme to prefix), plus `--wait TARGET`, minus
//!    `--skip KEY`; the policy flags are `wait-for`'s (`WAIT_*`).
//! 4. **exec** `CMD`: it replaces this process, so its signals and exit code are its own.
//!    Values read from `--env-file`s are handed to it; the process environment wins.
//!
//! Exit codes: `0` (or the command's own), `1` invalid environment, refused by the guard or
//! a service unhealthy, `124` the deadline passed while waiting, `2` usage or configuration
//! error; `127`/`126` when the command cannot be found / run.

mod cli_io;
mod questdb_cli;
mod readiness_cli;
mod test_guard_cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use preflight::env_validate::{
    Dialect, Document, Format, Limits, Schema, Severity, Source, Validator, Values,
};
use preflight::readiness::Target;
use questdb_cli::QuestDbArgs;
use readiness_cli::{Output, ms};
use test_guard_cli::{CLEARED, REFUSED, USAGE};

const PROGRAM: &str = "preflight";
/// Invalid environment (the guard's refusal and an unhealthy service share the code).
const INVALID: u8 = REFUSED;

#[derive(Parser, Debug)]
#[command(
    name = "preflight",
    version,
    about = "Validate the environment, guard, wait for services, then exec the app",
    after_help = "Exit codes: 0 (or the command's own), 1 invalid environment / refused / unhealthy, 124 deadline passed while waiting, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Step,
}

#[derive(Subcommand, Debug)]
enum Step {
    /// Validate the environment, wait for the services the template names, then exec CMD.
    Check(CheckArgs),
    /// `check --guard`: the same, refusing first unless the test guard clears the target.
    Test(CheckArgs),
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The annotated template that holds the schema and the `@wait` directives.
    #[arg(
        long,
        env = "PREFLIGHT_TEMPLATE",
        value_name = "PATH",
        default_value = ".env.example"
    )]
    template: PathBuf,
    /// Env files to read, validate and hand to CMD (repeatable; a later one wins).
    #[arg(long = "env-file", short = 'e', value_name = "PATH")]
    env_files: Vec<PathBuf>,
    /// The loader whose reading of the env files counts: dotenvy, compose, node, python or
    /// portable (flags every line the loaders read differently).
    #[arg(long, env = "PREFLIGHT_DIALECT", default_value = "portable")]
    dialect: Dialect,
    /// Also run the dotenv-linter style lints (warnings; they never fail the check).
    #[arg(long)]
    lint: bool,
    /// Run the test guard before waiting (implied by `preflight test`).
    #[arg(long)]
    guard: bool,
    /// Another target to wait for (repeatable), as `wait-for` takes it.
    #[arg(long = "wait", value_name = "TARGET")]
    wait: Vec<String>,
    /// Do not wait for this template key (repeatable).
    #[arg(long = "skip", value_name = "KEY")]
    skip: Vec<String>,
    /// Wait for nothing the template names (`--wait` targets still count).
    #[arg(long)]
    no_wait: bool,

    #[command(flatten)]
    policy: readiness_cli::PolicyArgs,

    #[command(flatten)]
    guard_policy: test_guard_cli::PolicyArgs,

    /// The app to exec once everything is ready.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

fn main() -> ExitCode {
    cli_io::init_tracing();
    let (guard, mut args) = match Cli::parse().command {
        Step::Check(args) => (args.guard, args),
        Step::Test(args) => (true, args),
    };
    args.guard = guard;
    let output = Output::from_args(&args.policy);
    let started = Instant::now();
    let env = match run(&args, output) {
        Ok(env) => env,
        Err(code) => return ExitCode::from(code),
    };
    if args.command.is_empty() {
        return ExitCode::from(CLEARED);
    }
    say_step(
        output,
        "exec",
        started.elapsed(),
        &args.command.join(" "),
        true,
    );
    readiness_cli::exec_or_exit(PROGRAM, &args.command, &env, 0)
}

/// Runs validate, guard and wait. `Ok` with the variables to hand to CMD, or the exit code
/// of the first step that failed.
fn run(args: &CheckArgs, output: Output) -> Result<Vec<(String, String)>, u8> {
    let step = Instant::now();
    let limits = Limits::default();
    let template = match Document::from_path(&args.template, args.dialect, &limits) {
        Ok(doc) => doc,
        Err(err) => return Err(error(output, "validate", &cli_io::error_chain(&err), USAGE)),
    };
    let (schema, _) = Schema::from_template(&template, args.dialect);
    let mut validator = Validator::new()
        .dialect(args.dialect)
        .lint(args.lint)
        .limits(limits)
        .template_document(template)
        .process_env();
    for file in &args.env_files {
        validator = validator.env_file(file);
    }
    let report = match validator.run() {
        Ok(report) => report,
        Err(err) => return Err(error(output, "validate", &cli_io::error_chain(&err), USAGE)),
    };
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let values = report.values();
    match output {
        Output::Json => readiness_cli::json_line(&serde_json::json!({
            "event": "step",
            "step": "validate",
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "variables": values.len(),
            "elapsed_ms": step.elapsed().as_secs_f64() * 1000.0,
            "report": serde_json::from_str::<serde_json::Value>(&report.render(Format::Json))
                .unwrap_or_default(),
        })),
        Output::Human if errors + warnings > 0 => eprint!("{}", report.render(Format::Human)),
        _ => {}
    }
    if errors > 0 {
        if output != Output::Json {
            eprintln!("{PROGRAM}: the environment is invalid ({errors} error(s)); not starting");
        }
        return Err(INVALID);
    }
    if output == Output::Human {
        say_step(
            output,
            "validate",
            step.elapsed(),
            &format!("{} variable(s) valid", values.len()),
            false,
        );
    }

    if args.guard {
        let step = Instant::now();
        let guard = match args.guard_policy.guard() {
            Ok(guard) => guard,
            Err(err) => return Err(error(output, "guard", &err.to_string(), USAGE)),
        };
        // The guard judges what the app will get: the validated values (env files and
        // defaults included), then anything else of the process environment (PG*, ...).
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .or_else(|| values.raw(name).map(str::to_owned))
        };
        match guard.check_blocking_with(&env) {
            Ok(clearance) => {
                if clearance.used_override() && output == Output::Human {
                    eprint!("{clearance}");
                }
                say_step(output, "guard", step.elapsed(), "cleared", false);
            }
            Err(refusal) => {
                return Err(error(
                    output,
                    "guard",
                    &format!("refusing to run\n{refusal}"),
                    REFUSED,
                ));
            }
        }
    }

    let targets = match targets(args, &schema, values, output) {
        Ok(targets) => targets,
        Err(message) => return Err(error(output, "wait", &message, USAGE)),
    };
    let env = env_file_values(values);
    if targets.is_empty() {
        return Ok(env);
    }
    let policy = match args.policy.policy() {
        Ok(policy) => policy,
        Err(err) => return Err(error(output, "wait", &err.to_string(), USAGE)),
    };
    let step = Instant::now();
    match readiness_cli::wait(PROGRAM, targets, &policy, output) {
        Ok(report) => {
            say_step(
                output,
                "wait",
                step.elapsed(),
                &format!("{} service(s) ready", report.targets.len()),
                false,
            );
            Ok(env)
        }
        Err(err) => {
            let code = u8::try_from(err.exit_code()).unwrap_or(INVALID);
            Err(error(output, "wait", &err.to_string(), code))
        }
    }
}

/// The services to wait for: the template's `@wait` keys that have a value, then `--wait`.
fn targets(
    args: &CheckArgs,
    schema: &Schema,
    values: &Values,
    output: Output,
) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    if !args.no_wait {
        for spec in schema.keys() {
            let Some(kind) = &spec.wait else { continue };
            let key = spec.name.as_str();
            if args.skip.iter().any(|k| k == key) {
                continue;
            }
            let value = values.raw(key).unwrap_or_default().trim();
            if value.is_empty() {
                if output == Output::Human {
                    eprintln!("{PROGRAM}: {key} is not set: not waited for");
                }
                continue;
            }
            targets
                .push(target(kind.as_deref(), value, output).map_err(|e| format!("{key}: {e}"))?);
        }
    }
    for spec in &args.wait {
        targets.push(Target::parse(spec).map_err(|e| e.to_string())?);
    }
    Ok(targets)
}

/// A target from a template value and the key's `@wait` kind.
fn target(kind: Option<&str>, value: &str, output: Output) -> Result<Target, String> {
    let parsed = match kind {
        None => Target::parse(value),
        Some("questdb") => return questdb(value, output),
        Some(scheme) if !value.contains("://") => Target::parse(&format!("{scheme}://{value}")),
        Some(_) => Target::parse(value),
    };
    parsed.map_err(|e| e.to_string())
}

/// QuestDB at `host`, with everything else as `wait-for-questdb` reads it from the
/// environment (QuestDB's own `QDB_PG_USER`, `QDB_PG_PASSWORD[_FILE]`,
/// `QDB_HTTP_USER`/`QDB_HTTP_PASSWORD[_FILE]`, `*_NET_BIND_TO` ports), so the entry point
/// logs in as the server expects.
fn questdb(host: &str, output: Output) -> Result<Target, String> {
    let args = QuestDbArgs {
        host: Some(host.to_owned()),
        ..QuestDbArgs::default()
    };
    let settings = args.settings()?;
    if output == Output::Human {
        for note in &settings.notes {
            eprintln!("{PROGRAM}: {note}");
        }
    }
    settings.target().map_err(|e| e.to_string())
}

/// What the env files set and the process environment does not: handed to CMD.
fn env_file_values(values: &Values) -> Vec<(String, String)> {
    values
        .iter()
        .filter(|(key, _)| matches!(values.source(key), Some(Source::File(_))))
        .filter(|(key, _)| std::env::var_os(key).is_none())
        .map(|(key, value)| (key.to_owned(), value.as_str().to_owned()))
        .collect()
}

/// Reports a step that passed: its own time, or with `total` the time since the start.
fn say_step(output: Output, step: &str, elapsed: Duration, what: &str, total: bool) {
    match output {
        Output::Human if total => {
            eprintln!("{PROGRAM}: {step} {what} (total {})", ms(elapsed));
        }
        Output::Human => eprintln!("{PROGRAM}: {step}: {what} ({})", ms(elapsed)),
        Output::Json => readiness_cli::json_line(&serde_json::json!({
            "event": "step",
            "step": step,
            "ok": true,
            (if total { "total_ms" } else { "elapsed_ms" }): elapsed.as_secs_f64() * 1000.0,
        })),
        Output::Quiet => {}
    }
}

/// Reports a failed step and returns its exit code.
fn error(output: Output, step: &str, message: &str, code: u8) -> u8 {
    if output == Output::Json {
        readiness_cli::json_line(&serde_json::json!({
            "event": "step",
            "step": step,
            "ok": false,
            "exit_code": code,
            "error": message,
        }));
    }
    eprintln!("{PROGRAM}: {step}: {message}");
    code
}
