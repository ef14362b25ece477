//! `guard`: the test guard as a command, for scripts, containers and nextest setup scripts.
//!
//! ```text
//! cargo run --example guard -- check            # 0 cleared, 1 refused, 2 usage/config error
//! cargo run --example guard -- mark URL production
//! cargo run --example guard -- unmark URL
//! cargo run --example guard -- show URL
//! ```
//!
//! `show`, `mark` and `unmark` resolve URL exactly as `check` does (the client's rules,
//! `--client libpq` by default: service file, `.pgpass` and `PG*` variables included) and
//! print the resolved target (hosts, ports, database, user; never the password) before
//! acting. `mark` and `unmark` refuse (exit 1) a string that resolves to several hosts: the
//! client connects to the first that answers, so which server would be marked is unknown.
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
mod test_guard_cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use preflight_test_guard::{Guard, Host, Target};
use test_guard_cli::{CLEARED, MarkerArgs, PolicyArgs, REFUSED, ResolveArgs, USAGE};

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
    /// Mark a database: `production` once on production, `test` on a test database that no
    /// host rule allows.
    ///
    /// A marker belongs to the one database the URL names (PostgreSQL) or the one database
    /// index (Redis): marking postgres://db/app says nothing about postgres://db/other, and
    /// redis://cache/0 nothing about redis://cache/5. `--server` marks every database of
    /// the server instead, including ones created later.
    Mark {
        /// The connection string (postgres://, redis://) of the database to mark.
        url: String,
        /// The marker value, e.g. `production` or `test`.
        environment: String,
        /// Mark the whole server (PostgreSQL: `ALTER ROLE ALL SET`, needs a superuser;
        /// Redis: the `<key>:server` key in db 0). A database's own marker wins over it,
        /// but a protected value in either refuses.
        #[arg(long)]
        server: bool,
        #[command(flatten)]
        marker: MarkerArgs,
        #[command(flatten)]
        resolve: ResolveArgs,
    },
    /// Remove a database's marker (or, with `--server`, the server-wide one).
    Unmark {
        /// The connection string.
        url: String,
        /// Remove the server-wide marker instead.
        #[arg(long)]
        server: bool,
        #[command(flatten)]
        marker: MarkerArgs,
        #[command(flatten)]
        resolve: ResolveArgs,
    },
    /// Show a server's marker.
    Show {
        /// The server's connection string.
        url: String,
        #[command(flatten)]
        marker: MarkerArgs,
        #[command(flatten)]
        resolve: ResolveArgs,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    cli_io::init_tracing();
    ExitCode::from(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> u8 {
    let (url, marker, resolve) = match &cli.command {
        Command::Check { policy, quiet } => return check(policy, *quiet).await,
        Command::Mark {
            url,
            marker,
            resolve,
            ..
        }
        | Command::Unmark {
            url,
            marker,
            resolve,
            ..
        }
        | Command::Show {
            url,
            marker,
            resolve,
        } => (url, marker, resolve),
    };
    let (guard, target) = match marker.guard().and_then(|g| Ok((g, resolve.resolve(url)?))) {
        Ok(pair) => pair,
        Err(e) => {
            cli_io::report("guard", &e);
            return USAGE;
        }
    };
    cli_io::out(&format!("{}\n", describe(&target)));
    let writes = !matches!(cli.command, Command::Show { .. });
    if writes && target.endpoints().len() > 1 {
        eprintln!(
            "guard: refusing to change the marker of {}: it resolves to {} hosts and the client connects to the first that answers, so which server would be changed is not known; name one host",
            target.id(),
            target.endpoints().len()
        );
        return REFUSED;
    }
    let outcome = match &cli.command {
        Command::Mark {
            environment,
            server,
            ..
        } => marker_op(&guard, &target, Some(environment), *server).await,
        Command::Unmark { server, .. } => marker_op(&guard, &target, None, *server).await,
        _ => show(&guard, &target).await,
    };
    match outcome {
        Ok(()) => CLEARED,
        Err(e @ preflight_test_guard::Error::InvalidMarkerValue { .. }) => {
            cli_io::report("guard", &e);
            USAGE
        }
        Err(e) => {
            cli_io::report("guard", &e);
            REFUSED
        }
    }
}

/// The resolved target, one line: where the client goes, as whom; never the password.
fn describe(target: &Target) -> String {
    let hosts: Vec<String> = target
        .endpoints()
        .iter()
        .map(|e| match &e.host {
            Host::Socket(dir) => format!("socket {}:{}", dir.display(), e.port),
            host => format!("{host}:{}", e.port),
        })
        .collect();
    format!(
        "resolved {}: host {} dbname {} user {} password {}",
        target.kind(),
        hosts.join(","),
        target.database().unwrap_or("-"),
        target.user().unwrap_or("-"),
        if target.has_password() { "***" } else { "none" }
    )
}

async fn check(policy: &PolicyArgs, quiet: bool) -> u8 {
    let guard = match policy.guard() {
        Ok(guard) => guard,
        Err(e) => {
            cli_io::report("guard", &e);
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
    server: bool,
) -> preflight_test_guard::Result<()> {
    let what = if server {
        format!("the whole server of {}", target.id())
    } else {
        target.id()
    };
    match (value, server) {
        (Some(v), false) => guard.set_marker(target, v).await?,
        (Some(v), true) => guard.set_server_marker(target, v).await?,
        (None, false) => guard.clear_marker(target).await?,
        (None, true) => guard.clear_server_marker(target).await?,
    }
    match value {
        Some(v) => cli_io::out(&format!("marked {what} as `{v}`\n")),
        None => cli_io::out(&format!("removed the marker of {what}\n")),
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
    for m in reading
        .markers
        .iter()
        .filter(|m| m.source != reading.source)
    {
        let v = m.value.as_deref().unwrap_or("no marker");
        cli_io::out(&format!("  also read: {} = {v}\n", m.source));
    }
    if let Some(landed) = &reading.landed {
        cli_io::out(&format!("  {landed}\n"));
    }
    if reading.standby {
        cli_io::out(&format!("{}: the server is a standby\n", target.id()));
    }
    Ok(())
}
