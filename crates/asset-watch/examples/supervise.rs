//! A tiny `concurrently`: runs `NAME=COMMAND` processes side by side with prefixed output.
//!
//! ```text
//! supervise [--success RULE] [--kill-others MODE] [--restart N] [--grace DURATION]
//!           [--color auto|always|never] [--raw] [--group] [--hide NAME]... [--prefix T]
//!           [--watch NAME:DIR=COMMAND]... [--stdin NAME] NAME=COMMAND...
//! ```
//!
//! Each command runs under `/bin/sh -c`; a `--watch` job reruns its command on changes
//! under DIR. `--stdin NAME` routes our stdin to the processes: `name:text` lines go to
//! that process, other lines and the end of input to NAME. `--grace` is a duration as
//! every preflight crate reads it (`5` is seconds; `500ms`, `1m30s`).
//!
//! The crate's integration tests drive this binary as the supervisor under test (signals,
//! SIGKILL, exit codes), so it stays small. Exit code: the supervisor's outcome; `2` for
//! bad arguments.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use preflight_asset_watch::{
    ColorChoice, Command, Job, KillOthers, ProcessSpec, Restart, Stop, StopSignal, Success,
    Supervisor, Watch, parse_duration,
};

#[derive(Debug, Parser)]
#[command(name = "supervise", about = "Run commands side by side", version)]
struct Args {
    /// Which exits make the run a success (`all`, `first`, `last`, `command-NAME`...).
    #[arg(long, value_name = "RULE")]
    success: Option<Success>,
    /// Stop the others when one exits (`on-exit`) or fails (`on-failure`).
    #[arg(long, value_name = "MODE")]
    kill_others: Option<KillOthers>,
    /// Restart each failing process up to N times.
    #[arg(long, value_name = "N", default_value_t = 0)]
    restart: u32,
    /// Grace period between SIGTERM and SIGKILL (`5` seconds, `500ms`).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    grace: Option<Duration>,
    /// Colour the prefixes.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// The processes' bytes only: no prefix, no status lines.
    #[arg(long)]
    raw: bool,
    /// Hold each process's output until it has ended.
    #[arg(long)]
    group: bool,
    /// Drop this process's output (repeatable; status lines stay).
    #[arg(long, value_name = "NAME")]
    hide: Vec<String>,
    /// The prefix template (`{name}`, `{index}`, `{pid}`...).
    #[arg(long, value_name = "TEMPLATE")]
    prefix: Option<String>,
    /// A watch job: rerun COMMAND on changes under DIR (repeatable).
    #[arg(long, value_name = "NAME:DIR=COMMAND")]
    watch: Vec<String>,
    /// The process that gets our stdin (and unprefixed input lines).
    #[arg(long, value_name = "NAME")]
    stdin: Option<String>,
    /// The processes.
    #[arg(value_name = "NAME=COMMAND")]
    processes: Vec<String>,
}

/// `--color`: the three choices of [`ColorChoice`].
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("supervise: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<i32> {
    let mut builder =
        Supervisor::builder()
            .raw(args.raw)
            .group(args.group)
            .color(match args.color {
                Color::Auto => ColorChoice::Auto,
                Color::Always => ColorChoice::Always,
                Color::Never => ColorChoice::Never,
            });
    if let Some(success) = args.success {
        builder = builder.success(success);
    }
    if let Some(kill_others) = args.kill_others {
        builder = builder.kill_others(kill_others);
    }
    if let Some(grace) = args.grace {
        builder = builder.stop(Stop::new(StopSignal::Term, grace));
    }
    if let Some(prefix) = args.prefix {
        builder = builder.prefix(prefix);
    }
    let restart = if args.restart == 0 {
        Restart::never()
    } else {
        Restart::tries(args.restart).backoff(Duration::from_millis(50), Duration::from_millis(200))
    };
    for spec in &args.watch {
        let bad = || format!("--watch: expected NAME:DIR=COMMAND, got `{spec}`");
        let (head, line) = spec.split_once('=').with_context(bad)?;
        let (name, dir) = head.split_once(':').with_context(bad)?;
        let watch = Watch::builder().path(dir).build()?;
        builder = builder.watch(name, watch, Job::builder(Command::shell(line)).build());
    }
    for spec in &args.processes {
        let (name, line) = spec
            .split_once('=')
            .with_context(|| format!("expected NAME=COMMAND, got `{spec}`"))?;
        let spec = ProcessSpec::new(name, Command::shell(line))
            .restart(restart)
            .hide(args.hide.iter().any(|h| h == name))
            .stdin(args.stdin.as_deref() == Some(name));
        builder = builder.process(spec);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let outcome = runtime.block_on(builder.build()?.run())?;
    Ok(outcome.exit_code())
}
