//! A tiny `concurrently`: `supervise [--success RULE] [--kill-others MODE] [--restart N]
//! [--grace MS] [--color always|never] [--raw] [--group] [--hide NAME]... [--prefix T]
//! [--watch NAME:DIR=COMMAND]... [--stdin] NAME=COMMAND...`. `--stdin` routes our stdin (`name:text` lines to that process, other
//! lines and the end of input to the process that follows `--stdin`).
//! Each command runs under `/bin/sh -c`; a `--watch` job reruns its command on changes
//! under DIR.
//!
//! The crate's integration tests drive this binary as the supervisor under test (signals,
//! SIGKILL, exit codes), so it stays small and dependency-free.

use std::process::ExitCode;
use std::time::Duration;

use preflight_asset_watch::{
    ColorChoice, Command, Job, KillOthers, ProcessSpec, Restart, Stop, StopSignal, Success,
    Supervisor, Watch,
};

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("supervise: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<i32, Box<dyn std::error::Error>> {
    let mut builder = Supervisor::builder();
    let mut restart = Restart::never();
    let mut stdin = false;
    let mut hide: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--success" => builder = builder.success(value()?.parse::<Success>()?),
            "--kill-others" => builder = builder.kill_others(value()?.parse::<KillOthers>()?),
            "--restart" => {
                restart = Restart::tries(value()?.parse()?)
                    .backoff(Duration::from_millis(50), Duration::from_millis(200));
            }
            "--grace" => {
                let grace = humantime_ms(&value()?)?;
                builder = builder.stop(Stop::new(StopSignal::Term, grace));
            }
            "--stdin" => stdin = true,
            "--raw" => builder = builder.raw(true),
            "--group" => builder = builder.group(true),
            "--hide" => hide.push(value()?),
            "--prefix" => builder = builder.prefix(value()?),
            "--color" => {
                builder = builder.color(if value()? == "always" {
                    ColorChoice::Always
                } else {
                    ColorChoice::Never
                });
            }
            "--watch" => {
                let spec = value()?;
                let (head, line) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("expected NAME:DIR=COMMAND, got `{spec}`"))?;
                let (name, dir) = head
                    .split_once(':')
                    .ok_or_else(|| format!("expected NAME:DIR=COMMAND, got `{spec}`"))?;
                let watch = Watch::builder().path(dir).build()?;
                builder = builder.watch(name, watch, Job::builder(Command::shell(line)).build());
            }
            spec => {
                let (name, line) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("expected NAME=COMMAND, got `{spec}`"))?;
                let spec = ProcessSpec::new(name, Command::shell(line))
                    .restart(restart)
                    .hide(hide.iter().any(|h| h == name));
                builder = builder.process(spec.stdin(std::mem::take(&mut stdin)));
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(builder.build()?.run())?;
    Ok(outcome.exit_code())
}

/// Milliseconds as a plain number, to keep this example free of parsing crates.
fn humantime_ms(s: &str) -> Result<Duration, std::num::ParseIntError> {
    Ok(Duration::from_millis(s.trim_end_matches("ms").parse()?))
}
