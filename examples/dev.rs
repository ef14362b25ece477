//! The original `npm run dev` (`concurrently "nodemon --watch static/css …" "nodemon
//! --watch static/js …" "server"`), as one supervisor: watch jobs and a server side by
//! side, prefixed output, no orphan left behind.
//!
//! ```text
//! cargo run --example dev                              # reads ./dev.toml
//! cargo run --example dev -- --config path/to/dev.toml
//! ```
//!
//! See `examples/dev.toml` for the format. Paths and commands are relative to the config
//! file's directory. Exit code: the one chosen by `settings.success` (a real code, not
//! just 0/1), 128 + signal after Ctrl-C / SIGTERM / SIGHUP, 2 for a bad config.

mod cli_io;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use preflight_asset_watch::DevConfig;

#[derive(Debug, Parser)]
#[command(
    about = "Run the dev setup from dev.toml: watch jobs and servers side by side",
    version
)]
struct Args {
    /// The config file.
    #[arg(short, long, default_value = "dev.toml")]
    config: PathBuf,
    /// Parse and check the config, then exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let supervisor = match DevConfig::from_file(&args.config).and_then(|c| c.supervisor()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dev: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
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
            eprintln!("dev: {e}");
            ExitCode::from(2)
        }
    }
}
