//! `guard`: the test guard as a command, for scripts, containers and nextest setup scripts.
//!
//! ```text
//! cargo run --example guard -- check            # 0 cleared, 1 refused, 2 usage/config error
//! cargo run --example guard -- mark URL production
//! cargo run --example guard -- unmark URL
//! cargo run --example guard -- show URL
//! ```
//!
//! As a nextest setup script (`.config/nextest.toml`), so a refusal stops the whole run:
//!
//! ```toml
//! experimental = ["setup-scripts"]
//! [scripts.setup.test-guard]
//! command = "cargo run --quiet --example guard -- check --quiet"
//! [[profile.default.scripts]]
//! filter = "all()"
//! setup = "test-guard"
//! ```

mod cli_io;
#[path = "test_guard_cli/mod.rs"]
mod test_guard_cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use preflight_test_guard::{Guard, Target};
use test_guard_cli::{CLEARED, MarkerArgs, PolicyArgs, REFUSED, USAGE};

#[derive(Parser, Debug)]
#[command(
    name = "guard",
    about = "Refuse to let tests touch a production database",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the environment: exit 0 when cleared, 1 when refused, 2 on a usage error.
    Check {
        #[command(flatten)]
        policy: PolicyArgs,
        /// Print nothing when cleared (the refusal still goes to stderr).
        #[arg(short, long)]
        quiet: bool,
    },
    /// Mark a server: `production` once on production, `test` on a test database that no
    /// host rule allows.
    Mark {
        /// The server's connection string (postgres://, redis://).
        url: String,
        /// The marker value, e.g. `production` or `test`.
        environment: String,
        #[command(flatten)]
        marker: MarkerArgs,
    },
    /// Remove a server's marker.
    Unmark {
        /// The server's connection string.
        url: String,
        #[command(flatten)]
        marker: MarkerArgs,
    },
    /// Show a server's marker.
    Show {
        /// The server's connection string.
        url: String,
        #[command(flatten)]
        marker: MarkerArgs,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    ExitCode::from(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> u8 {
    let (url, marker) = match &cli.command {
        Command::Check { policy, quiet } => return check(policy, *quiet).await,
        Command::Mark { url, marker, .. }
        | Command::Unmark { url, marker }
        | Command::Show { url, marker } => (url, marker),
    };
    let (guard, target) = match marker.guard().and_then(|g| Ok((g, Target::parse(url)?))) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("guard: {e}");
            return USAGE;
        }
    };
    let outcome = match &cli.command {
        Command::Mark { environment, .. } => marker_op(&guard, &target, Some(environment)).await,
        Command::Unmark { .. } => marker_op(&guard, &target, None).await,
        _ => show(&guard, &target).await,
    };
    match outcome {
        Ok(()) => CLEARED,
        Err(e @ preflight_test_guard::Error::InvalidMarkerValue { .. }) => {
            eprintln!("guard: {e}");
            USAGE
        }
        Err(e) => {
            eprintln!("guard: {e}");
            REFUSED
        }
    }
}

async fn check(policy: &PolicyArgs, quiet: bool) -> u8 {
    let guard = match policy.guard() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("guard: {e}");
            return USAGE;
        }
    };
    match guard.check().await {
        Ok(clearance) => {
            // An override is announced even with --quiet: it must stay loud.
            if clearance.used_override() {
                eprint!("{clearance}");
            } else if !quiet {
                cli_io::out(&clearance.to_string());
            }
            CLEARED
        }
        Err(refusal) => {
            eprintln!("{refusal}");
            REFUSED
        }
    }
}

async fn marker_op(
    guard: &Guard,
    target: &Target,
    value: Option<&String>,
) -> preflight_test_guard::Result<()> {
    match value {
        Some(v) => {
            guard.set_marker(target, v).await?;
            cli_io::out(&format!("marked {} as `{v}`\n", target.id()));
        }
        None => {
            guard.clear_marker(target).await?;
            cli_io::out(&format!("removed the marker of {}\n", target.id()));
        }
    }
    Ok(())
}

async fn show(guard: &Guard, target: &Target) -> preflight_test_guard::Result<()> {
    let reading = guard.read_marker(target).await?;
    let value = reading
        .value
        .as_deref()
        .map_or_else(|| "no marker".to_owned(), |v| format!("`{v}`"));
    cli_io::out(&format!(
        "{}: {} = {value}\n",
        target.masked(),
        reading.source
    ));
    if reading.standby {
        cli_io::out(&format!("{}: the server is a standby\n", target.id()));
    }
    Ok(())
}
