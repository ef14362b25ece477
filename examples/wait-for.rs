//! `wait-for`: wait until services are ready, then run a command in this process's place.
//!
//! ```text
//! cargo run --example wait-for -- [OPTIONS] TARGET... [-- CMD ARGS...]
//! cargo run --example wait-for -- -t 1m postgres://app@db/app redis://cache:6379 -- ./server
//! WAIT_HOSTS=db:5432,cache:6379 cargo run --example wait-for
//! ```
//!
//! Targets: `host:port`, `tcp://`, `http(s)://`, `postgres://`, `redis(s)://`,
//! `questdb://`, `mysql://`, `amqp://`, `nats://`, `mqtt://`, `unix:///path`,
//! `file:///path`, `cmd:program args`, `sh:script`. Without TARGET arguments they come from
//! `WAIT_HOSTS` (comma- or space-separated, docker-compose-wait style) and `WAIT_PATHS`
//! (files that must exist). Every option also reads a `WAIT_*` variable; an invalid value
//! is an error (exit 2), never silently replaced by a default.
//!
//! `--once` probes every target once and exits `0` or `1`: the HEALTHCHECK (or the
//! `test-db-connection.sh`) of any service, bounded by `--probe-timeout`.
//!
//! Exit codes: `0` ready (or the command's own code after `--`), `124` the deadline
//! passed, `1` a target became unhealthy (with `--once`: not healthy), `2` usage or
//! target-spec error.

mod cli_io;
mod readiness_cli;

use std::process::ExitCode;

use clap::Parser;
use preflight_readiness::{HttpProbe, StatusRule, Target};

use readiness_cli::{Output, PolicyArgs};

const PROGRAM: &str = "wait-for";

#[derive(Parser, Debug)]
#[command(
    name = "wait-for",
    version,
    about = "Wait until services are ready (protocol-level probes, millisecond detection), then exec a command",
    after_help = "Exit codes: 0 ready (or the command's own), 124 deadline passed, 1 unhealthy, 2 usage error.\nThe command after `--` replaces this process once every target is ready."
)]
struct Cli {
    /// Targets to wait for (default: $WAIT_HOSTS and $WAIT_PATHS).
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,

    #[command(flatten)]
    policy: PolicyArgs,

    /// HTTP(S) targets: status codes that count as ready (`200`, `200-399`, `2xx,304`).
    #[arg(long, env = "WAIT_HTTP_STATUS", value_name = "RULE", value_parser = StatusRule::parse)]
    http_status: Option<StatusRule>,
    /// HTTP(S) targets: the body must contain this text.
    #[arg(long, env = "WAIT_HTTP_BODY", value_name = "TEXT")]
    http_body: Option<String>,
    /// HTTP(S) targets: the body must match this regex.
    #[arg(long, env = "WAIT_HTTP_REGEX", value_name = "REGEX")]
    http_regex: Option<String>,
    /// HTTP(S) targets: request header `NAME: VALUE` (repeatable).
    #[arg(long = "http-header", value_name = "NAME: VALUE", value_parser = header)]
    http_headers: Vec<(String, String)>,
    /// HTTP(S) targets: request method.
    #[arg(long, env = "WAIT_HTTP_METHOD", default_value = "GET")]
    http_method: String,
    /// HTTP(S) targets: do not follow redirects (judge the 3xx itself).
    #[arg(long, env = "WAIT_HTTP_NO_REDIRECT")]
    no_redirect: bool,
    /// HTTPS targets: also trust the CA certificates in this PEM file.
    #[arg(long, env = "WAIT_CA_FILE", value_name = "PEM")]
    ca_file: Option<std::path::PathBuf>,
    /// HTTPS targets: skip certificate verification.
    #[arg(long, env = "WAIT_INSECURE")]
    insecure: bool,

    /// Command to exec once every target is ready.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

impl Cli {
    fn specs(&self) -> Vec<String> {
        if !self.targets.is_empty() {
            return self.targets.clone();
        }
        let list = |var: &str| -> Vec<String> {
            std::env::var(var)
                .unwrap_or_default()
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut specs = list("WAIT_HOSTS");
        specs.extend(
            list("WAIT_PATHS")
                .into_iter()
                .map(|path| format!("file://{path}")),
        );
        specs
    }

    fn has_http_options(&self) -> bool {
        self.http_status.is_some()
            || self.http_body.is_some()
            || self.http_regex.is_some()
            || !self.http_headers.is_empty()
            || self.http_method != "GET"
            || self.no_redirect
            || self.ca_file.is_some()
            || self.insecure
    }

    fn target(&self, spec: &str) -> preflight_readiness::Result<Target> {
        let lower = spec.trim().to_ascii_lowercase();
        let is_http = lower.starts_with("http://") || lower.starts_with("https://");
        if !is_http || !self.has_http_options() {
            return Target::parse(spec);
        }
        let mut http = HttpProbe::builder(spec.trim())
            .method(self.http_method.clone())
            .follow_redirects(!self.no_redirect)
            .insecure(self.insecure);
        if let Some(status) = &self.http_status {
            http = http.status(status.clone());
        }
        if let Some(body) = &self.http_body {
            http = http.body_contains(body.clone());
        }
        if let Some(regex) = &self.http_regex {
            http = http.body_regex(regex.clone());
        }
        if let Some(ca) = &self.ca_file {
            http = http.ca_file(ca.clone());
        }
        for (name, value) in &self.http_headers {
            http = http.header(name.clone(), value.clone());
        }
        Ok(Target::new(spec.trim(), http.build()?))
    }
}

/// `--http-header NAME: VALUE`, split and trimmed.
fn header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: expected `NAME: VALUE`"))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

fn main() -> ExitCode {
    cli_io::init_tracing();
    let cli = Cli::parse();
    let output = Output::from_args(&cli.policy);
    let specs = cli.specs();
    if specs.is_empty() {
        eprintln!("{PROGRAM}: no targets: give TARGET arguments or set WAIT_HOSTS (try --help)");
        return ExitCode::from(2);
    }
    let mut targets = Vec::with_capacity(specs.len());
    for spec in &specs {
        match cli.target(spec) {
            Ok(target) => targets.push(target),
            Err(err) => return readiness_cli::fail(PROGRAM, output, &err),
        }
    }
    match cli.policy.policy() {
        Ok(policy) => readiness_cli::run(PROGRAM, targets, &policy, output, &cli.command),
        Err(err) => readiness_cli::fail(PROGRAM, output, &err),
    }
}
