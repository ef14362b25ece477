//! `manage test`: the original project's `manage.py test` guard, done right. It refuses
//! with a clear message unless the guard clears the environment (same policy and flags as
//! the `guard` example), then runs the test command in its place, or only reports the
//! clearance when no command is given.
//!
//! ```text
//! cargo run --example manage -- test -- cargo nextest run
//! ```
//!
//! Exit codes: the command's own once it runs (it replaces this process: signals and exit
//! status are its own); `1` refused; `2` usage or configuration error; `127` / `126` when
//! the command cannot be found / run.

mod cli_io;
mod test_guard_cli;

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use test_guard_cli::{CLEARED, PolicyArgs, REFUSED, USAGE};

#[derive(Parser, Debug)]
#[command(
    name = "manage",
    about = "Project management commands, guarded",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the tests, but only where the guard clears the environment.
    Test {
        #[command(flatten)]
        policy: PolicyArgs,
        /// The test command (after `--`); without one, only report the clearance.
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli_io::init_tracing();
    let Command::Test { policy, command } = Cli::parse().command;
    let guard = match policy.guard() {
        Ok(guard) => guard,
        Err(e) => {
            cli_io::report("manage test", &e);
            return ExitCode::from(USAGE);
        }
    };
    // A sync main: the blocking check runs its own small runtime only if a marker is read.
    let clearance = match guard.check_blocking() {
        Ok(clearance) => clearance,
        Err(refusal) => {
            eprintln!("manage test: refusing to run the tests\n{refusal}");
            return ExitCode::from(REFUSED);
        }
    };
    if clearance.used_override() {
        eprint!("{clearance}");
    }
    let Some((program, args)) = command.split_first() else {
        cli_io::out(&clearance.to_string());
        cli_io::out("manage test: cleared; pass the test command after `--` to run it\n");
        return ExitCode::from(CLEARED);
    };
    let err = std::process::Command::new(program).args(args).exec();
    eprintln!("manage test: cannot run `{program}`: {err}");
    ExitCode::from(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}
