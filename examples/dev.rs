//! The original `npm run dev` (`concurrently "nodemon --watch static/css …" "nodemon
//! --watch static/js …" "server"`), as one supervisor: watch jobs and a server side by
//! side, prefixed output, nothing left running.
//!
//! ```text
//! cargo run --example dev                                   # reads ./dev.toml
//! cargo run --example dev -- --config path/to/dev.toml
//! cargo run --example dev -- -k -n api,web "npm:start" "python3 -m http.server"
//! cargo run --example dev -- "npm:watch-*" -c auto --restart-tries 3 --restart-after 1000
//! ```
//!
//! With commands on the command line, `dev` takes `concurrently`'s options (the names are
//! the same where the feature is); without, it reads `dev.toml` (see
//! `examples/dev.toml`, whose paths and commands are relative to the file).
//!
//! Exit code: the one chosen by `--success` (a real code, not just 0/1), 128 + signal
//! after Ctrl-C / SIGTERM / SIGHUP, 2 for a bad config or bad arguments.

mod cli_io;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use preflight_asset_watch::{
    ColorChoice, Command, DevConfig, KillOthers, ProcessSpec, Restart, Stop, StopSignal, Success,
    Supervisor, SupervisorBuilder, expand_commands, read_package_json,
};

#[derive(Debug, Parser)]
#[command(
    about = "Run commands side by side (like concurrently), or the dev setup from dev.toml",
    version
)]
struct Args {
    /// Commands to run, each a shell line; `npm:script`, `yarn:script`, `pnpm:script`
    /// and wildcards (`npm:watch-*`) expand from ./package.json. None: read --config.
    commands: Vec<String>,
    /// The config file, read when no command is given.
    #[arg(long, default_value = "dev.toml")]
    config: PathBuf,
    /// Parse and check the setup, then exit.
    #[arg(long)]
    check: bool,

    /// Names of the processes, in order, separated by --name-separator.
    #[arg(short = 'n', long)]
    names: Option<String>,
    /// The separator of --names.
    #[arg(long, default_value = ",")]
    name_separator: String,
    /// Prefix colours, comma-separated: red, bold.blue, bgGreen, #ff8800, auto; the
    /// last applies to the rest.
    #[arg(short = 'c', long, value_delimiter = ',')]
    prefix_colors: Vec<String>,
    /// Prefix: index, pid, time, command, name, none, or a template with {index},
    /// {pid}, {time}, {command}, {name}.
    #[arg(short = 'p', long)]
    prefix: Option<String>,
    /// Format of {time} (date-fns tokens yyyy MM dd HH mm ss SSS; UTC).
    #[arg(short = 't', long)]
    timestamp_format: Option<String>,
    /// No colours.
    #[arg(long)]
    no_color: bool,
    /// Output only the processes' raw output: no prefixes, no status lines.
    #[arg(short = 'r', long)]
    raw: bool,
    /// Hide the output of these processes (names or indices, comma-separated).
    #[arg(long, value_delimiter = ',')]
    hide: Vec<String>,
    /// Print how long each process ran, at the end.
    #[arg(long)]
    timings: bool,
    /// Order the output as if the commands ran one after the other.
    #[arg(short = 'g', long)]
    group: bool,

    /// Stop the others when one ends, whatever its code.
    #[arg(short = 'k', long)]
    kill_others: bool,
    /// Stop the others when one fails.
    #[arg(long)]
    kill_others_on_fail: bool,
    /// Which exits decide the exit code: all, first, last, command-NAME|INDEX,
    /// !command-NAME|INDEX.
    #[arg(short = 's', long, default_value = "all")]
    success: String,
    /// Restart a failed process this many times (negative: forever).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    restart_tries: i64,
    /// Delay before a restart, in ms (fixed), or `exponential` (1 s, 2 s, 4 s, … up to 30 s).
    #[arg(long, default_value = "0")]
    restart_after: String,
    /// The signal that stops processes (kill-others, leftovers).
    #[arg(long = "kill-signal", visible_alias = "ks", default_value = "TERM")]
    kill_signal: String,
    /// Milliseconds before SIGKILL follows the stop signal.
    #[arg(long, default_value_t = 5000)]
    kill_timeout: u64,
    /// Run at most this many processes at once (a number, or a percentage of the CPUs
    /// such as `50%`).
    #[arg(short = 'm', long)]
    max_processes: Option<String>,
    /// Route our stdin to the processes: `name:text` or `index:text` lines go to that
    /// process, other lines to --default-input-target.
    #[arg(short = 'i', long)]
    handle_input: bool,
    /// The process (name or index) that gets input lines without a prefix.
    #[arg(long, default_value = "0")]
    default_input_target: String,
    /// A command to run after everything has ended (repeatable; in order).
    #[arg(long)]
    teardown: Vec<String>,
    /// Arguments after `--` replace {1}…{9}, {@} and {*} in the commands.
    #[arg(short = 'P', long)]
    passthrough_arguments: bool,
    /// After `--`: with -P, the arguments for the placeholders; without, more commands.
    #[arg(last = true)]
    passthrough: Vec<String>,
}

fn main() -> ExitCode {
    cli_io::init_tracing();
    let args = Args::parse();
    let supervisor = match setup(&args) {
        Ok(s) => s,
        Err(e) => {
            cli_io::report("dev", &*e);
            return ExitCode::from(2);
        }
    };
    if args.check {
        cli_io::out(&format!("{}: ok\n", args.config.display()));
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dev: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(supervisor.run()) {
        Ok(outcome) => ExitCode::from(u8::try_from(outcome.exit_code()).unwrap_or(1)),
        Err(e) => {
            cli_io::report("dev", &e);
            ExitCode::from(2)
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

fn setup(args: &Args) -> Result<Supervisor, BoxError> {
    if args.commands.is_empty() && (args.passthrough_arguments || args.passthrough.is_empty()) {
        return Ok(DevConfig::from_file(&args.config)?.supervisor()?);
    }
    Ok(from_command_line(args)?.build()?)
}

fn from_command_line(args: &Args) -> Result<SupervisorBuilder, BoxError> {
    let mut lines = args.commands.clone();
    if !args.passthrough_arguments {
        // As in concurrently: without -P, what follows `--` is more commands.
        lines.extend(args.passthrough.iter().cloned());
    }
    let names: Vec<String> = args
        .names
        .as_deref()
        .map(|n| n.split(&args.name_separator).map(str::to_owned).collect())
        .unwrap_or_default();
    let package = read_package_json(&std::env::current_dir()?)?;
    let passthrough = args.passthrough_arguments.then_some(&args.passthrough[..]);
    let commands = expand_commands(&lines, &names, package.as_deref(), passthrough)?;

    let restart = restart(args.restart_tries, &args.restart_after)?;
    let mut b = Supervisor::builder()
        .success(args.success.parse::<Success>()?)
        .kill_others(if args.kill_others_on_fail {
            KillOthers::OnFailure
        } else if args.kill_others {
            KillOthers::OnExit
        } else {
            KillOthers::Never
        })
        .stop(Stop::new(
            args.kill_signal.parse::<StopSignal>()?,
            Duration::from_millis(args.kill_timeout),
        ))
        .prefix_colors(args.prefix_colors.iter().cloned())
        .raw(args.raw)
        .timings(args.timings)
        .group(args.group)
        .handle_input(args.handle_input)
        .default_input_target(&args.default_input_target);
    if args.no_color {
        b = b.color(ColorChoice::Never);
    }
    if let Some(p) = &args.prefix {
        b = b.prefix(p);
    }
    if let Some(t) = &args.timestamp_format {
        b = b.timestamp_format(t);
    }
    if let Some(m) = &args.max_processes {
        b = b.max_processes(max_processes(m)?);
    }
    for line in &args.teardown {
        b = b.teardown(Command::shell(line));
    }
    for (index, c) in commands.into_iter().enumerate() {
        let hide = args
            .hide
            .iter()
            .any(|h| *h == c.name || h.parse::<usize>() == Ok(index));
        b = b.process(
            ProcessSpec::new(c.name, Command::shell(c.line))
                .restart(restart)
                .hide(hide),
        );
    }
    Ok(b)
}

/// `--restart-tries` and `--restart-after` as concurrently reads them.
fn restart(tries: i64, after: &str) -> Result<Restart, BoxError> {
    let r = match tries {
        t if t < 0 => Restart::forever(),
        t => Restart::tries(u32::try_from(t).unwrap_or(u32::MAX)),
    };
    if after == "exponential" {
        return Ok(r.backoff(Duration::from_secs(1), Duration::from_secs(30)));
    }
    let ms: u64 = after
        .parse()
        .map_err(|_| format!("--restart-after: `{after}` is not milliseconds or `exponential`"))?;
    let d = Duration::from_millis(ms);
    Ok(r.backoff(d, d))
}

/// `-m 3` or `-m 50%` (of the CPUs, at least 1).
fn max_processes(value: &str) -> Result<usize, BoxError> {
    let bad = || format!("--max-processes: `{value}` is not a number or a percentage");
    if let Some(pct) = value.strip_suffix('%') {
        let pct: f64 = pct.parse().map_err(|_| bad())?;
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a small positive count of CPUs"
        )]
        return Ok(((cpus as f64 * pct / 100.0).floor() as usize).max(1));
    }
    Ok(value.parse().map_err(|_| bad())?)
}
