//! Rerun a command when files change: `nodemon --watch`, `watchexec`, done with pruned
//! watches, no lost change and no orphan.
//!
//! ```text
//! cargo run --example watch -- -w static/css --ext css -- npm run build:css
//! cargo run --example watch -- -w src --ignore 'gen/**' --on-busy restart -- ./serve.sh
//! cargo run --example watch -- -w /mnt/share --poll 1s --shell -- 'make && ./deploy'
//! ```
//!
//! The command gets `PREFLIGHT_CHANGED_PATHS` (one path per line) and
//! `PREFLIGHT_CHANGE_KIND` (`initial`, `change`, `rescan`). Status lines go to stderr.
//! Ctrl-C / SIGTERM stop the running command's whole process group (signal, grace,
//! SIGKILL) and exit with 130 / 143. Whatever a run leaves in the background
//! (`sleep 9 &`, a `setsid` or double-forked daemon) is stopped when the run ends. Exit
//! code 2: bad arguments or paths.

mod cli_io;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use preflight_asset_watch::{Command, Job, JobEvent, OnBusy, Stop, StopSignal, Watch};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(about = "Rerun a command when files change", version)]
struct Args {
    /// Directory or file to watch (repeatable; default: the current directory).
    #[arg(short = 'w', long = "watch", value_name = "PATH")]
    paths: Vec<std::path::PathBuf>,
    /// Only files with these extensions count (comma-separated).
    #[arg(short = 'e', long = "ext", value_delimiter = ',')]
    extensions: Vec<String>,
    /// Ignore files and prune directories matching this glob (repeatable).
    #[arg(short = 'i', long = "ignore", value_name = "GLOB")]
    ignore: Vec<String>,
    /// Only files matching this glob count (repeatable).
    #[arg(short = 'f', long = "include", value_name = "GLOB")]
    include: Vec<String>,
    /// Quiet gap before a batch of changes runs the command.
    #[arg(short = 'd', long, value_parser = preflight_asset_watch::parse_duration)]
    debounce: Option<Duration>,
    /// What to do with changes during a run: queue, restart or ignore.
    #[arg(short = 'o', long, default_value = "queue")]
    on_busy: OnBusy,
    /// Do not run at start; wait for the first change.
    #[arg(short = 'p', long)]
    postpone: bool,
    /// Poll at this interval instead of inotify (bind mounts, NFS, WSL).
    #[arg(long, value_parser = preflight_asset_watch::parse_duration, value_name = "INTERVAL")]
    poll: Option<Duration>,
    /// Signal that stops a run (restart, quit).
    #[arg(long, default_value = "TERM")]
    stop_signal: StopSignal,
    /// Grace period after the stop signal before SIGKILL.
    #[arg(long, default_value = "5s", value_parser = preflight_asset_watch::parse_duration)]
    grace: Duration,
    /// Do not apply the built-in ignores (.git, node_modules, target, swap files).
    #[arg(long)]
    no_default_ignores: bool,
    /// Do not apply .gitignore / .ignore rules.
    #[arg(long)]
    no_vcs_ignores: bool,
    /// Run the command through `/bin/sh -c` (one string).
    #[arg(long)]
    shell: bool,
    /// Print nothing of our own.
    #[arg(short, long)]
    quiet: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

fn main() -> ExitCode {
    cli_io::init_tracing();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("watch: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            cli_io::report("watch", &*e);
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<u8> {
    let paths = if args.paths.is_empty() {
        vec![std::path::PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut builder = Watch::builder()
        .paths(paths)
        .extensions(args.extensions.iter().cloned())
        .default_ignores(!args.no_default_ignores)
        .vcs_ignores(!args.no_vcs_ignores);
    for glob in &args.ignore {
        builder = builder.exclude(glob);
    }
    for glob in &args.include {
        builder = builder.include(glob);
    }
    if let Some(d) = args.debounce {
        builder = builder.debounce(d);
    }
    if let Some(p) = args.poll {
        builder = builder.poll(p);
    }
    let watch = builder.build()?;

    let command = if args.shell {
        Command::shell(args.command.join(" "))
    } else {
        Command::new(&args.command[0]).args(&args.command[1..])
    };
    let job = Job::builder(command)
        .on_busy(args.on_busy)
        .postpone(args.postpone)
        .stop(Stop::new(args.stop_signal, args.grace))
        .build();

    let started = Instant::now();
    let mut watcher = watch.start()?;
    let quiet = args.quiet;
    if !quiet {
        let n = watcher.watch_count();
        eprintln!(
            "[watch] watching {n} director{} ({} ms)",
            if n == 1 { "y" } else { "ies" },
            started.elapsed().as_millis()
        );
    }

    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
    let shutdown = async move {
        let code = tokio::select! {
            _ = int.recv() => 130,
            _ = term.recv() => 143,
        };
        let _ = tx.send(code);
    };
    job.run(&mut watcher, shutdown, |event| {
        if !quiet {
            print_event(&event);
        }
    })
    .await?;
    Ok(rx.await.unwrap_or(1))
}

fn print_event(event: &JobEvent) {
    match event {
        JobEvent::Started { run, changes, .. } => {
            let why = if changes.is_rescan() {
                "events were lost: full rebuild".to_owned()
            } else if changes.is_initial() && changes.is_empty() {
                "initial run".to_owned()
            } else {
                match changes.paths().next() {
                    Some(first) if changes.len() == 1 => first.display().to_string(),
                    Some(first) => format!("{} and {} more", first.display(), changes.len() - 1),
                    None => "change".to_owned(),
                }
            };
            eprintln!("[watch] run {run}: {why}");
        }
        JobEvent::Finished(r) => eprintln!(
            "[watch] run {} {}{} in {} ms",
            r.run,
            r.exit,
            if r.stopped { " (stopped)" } else { "" },
            r.duration.as_millis()
        ),
        JobEvent::Dropped { paths } => eprintln!("[watch] busy: ignored {paths} changed paths"),
        JobEvent::SpawnFailed { run, error } => eprintln!("[watch] run {run}: {error}"),
        _ => {}
    }
}
