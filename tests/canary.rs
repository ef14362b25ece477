//! The canary: every example binary, every output format, fed a unique secret in every
//! position a secret can sit. No secret may appear in any output, whole or as any fragment
//! of 4 or more characters, and no run may panic.
//!
//! Each position carries its own canary, so one run can test many positions and a leak
//! names the position it came from. The test prints how many (binary, format, position)
//! combinations it tried.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::{Run, example, run};

/// A secret of 12 characters from a seed: letters and digits that no message contains by
/// chance, distinct for every position.
fn canary(seed: usize) -> String {
    const ALPHABET: &[u8] = b"KqZxWvJmRtPyHgFdBnXcLk";
    let mut state = (seed as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    let mut out = String::from("Kq");
    for _ in 0..10 {
        state ^= state >> 13;
        state = state.wrapping_mul(0x5851_F42D_4C95_7F2D).wrapping_add(1);
        let byte = ALPHABET[(state >> 33) as usize % ALPHABET.len()];
        out.push(byte as char);
        out.push(char::from(b'2' + (state >> 40) as u8 % 8));
    }
    out.truncate(12);
    out
}

/// Every 4-character window of `secret`: seeing any of them is a leak.
fn fragments(secret: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars.windows(4).map(|w| w.iter().collect()).collect()
}

/// The positions of one run: name → the secret as written and its canary core.
#[derive(Default)]
struct Positions {
    list: Vec<(String, String)>,
}

impl Positions {
    /// A new canary for `position`.
    fn add(&mut self, position: impl Into<String>) -> String {
        let secret = canary(self.list.len() + 1 + 1000 * SEED.with(|s| s.get()));
        SEED.with(|s| s.set(s.get() + 1));
        self.list.push((position.into(), secret.clone()));
        secret
    }
}

thread_local! {
    static SEED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The combinations tried and the leaks found.
#[derive(Default)]
struct Tally {
    combos: BTreeSet<(String, String, String)>,
    leaks: Vec<String>,
}

impl Tally {
    fn check(&mut self, binary: &str, format: &str, positions: &Positions, run: &Run) {
        run.assert_no_panic(&format!("{binary} {format}"));
        let output = run.output();
        for (position, secret) in &positions.list {
            self.combos
                .insert((binary.to_owned(), format.to_owned(), position.clone()));
            if let Some(fragment) = fragments(secret).into_iter().find(|f| output.contains(f)) {
                self.leaks.push(format!(
                    "{binary} [{format}] leaks `{fragment}` of the {position} secret:\n{output}"
                ));
            }
        }
    }
}

/// Where a password sits in a URL: as written (with the characters that broke the old
/// maskers), and the variant's name.
const URL_PASSWORDS: &[(&str, &str)] = &[
    ("plain", "{}"),
    ("with ? and #", "{a}?#{b}"),
    ("with @ and /", "{a}@/{b}"),
    ("percent-encoded", "{a}%40%3F{b}"),
];

fn url_password(template: &str, secret: &str) -> String {
    let (a, b) = secret.split_at(6);
    template
        .replace("{}", secret)
        .replace("{a}", a)
        .replace("{b}", b)
}

/// Targets for `wait-for`, one secret each; every one points at a closed port.
fn wait_for_targets(p: &mut Positions) -> Vec<String> {
    let mut targets = Vec::new();
    let urls = [
        "postgres://u:{pw}@127.0.0.1:1/db",
        "postgresql://u:{pw}@127.0.0.1:1/db?sslmode=disable",
        "redis://:{pw}@127.0.0.1:1/0",
        "rediss://u:{pw}@127.0.0.1:1",
        "mysql://root:{pw}@127.0.0.1:1",
        "amqp://guest:{pw}@127.0.0.1:1/%2f",
        "nats://u:{pw}@127.0.0.1:1",
        "mqtt://u:{pw}@127.0.0.1:1",
        "http://u:{pw}@127.0.0.1:1/health",
        "questdb://admin:{pw}@127.0.0.1?pg_port=1&health_port=1",
        "tcp://u:{pw}@127.0.0.1:1",
    ];
    for url in urls {
        let scheme = url.split("://").next().unwrap();
        for (variant, template) in URL_PASSWORDS {
            let secret = p.add(format!("{scheme} URL password ({variant})"));
            targets.push(url.replace("{pw}", &url_password(template, &secret)));
        }
    }
    for (position, template) in [
        ("nats token", "nats://{}@127.0.0.1:1"),
        ("https token", "https://{}@127.0.0.1:1/"),
        (
            "https token with empty password",
            "https://{}:@127.0.0.1:1/",
        ),
        ("?password=", "postgres://127.0.0.1:1/db?password={}"),
        ("?sslpassword=", "postgres://127.0.0.1:1/db?sslpassword={}"),
        (
            "?PASSWORD= after others",
            "postgres://127.0.0.1:1/db?user=a&PASSWORD={}&x=1",
        ),
        ("?token=", "redis://127.0.0.1:1/0?token={}"),
        ("?secret=", "http://127.0.0.1:1/?secret={}"),
        ("?key=", "http://127.0.0.1:1/?a=1&key={}"),
        ("#access_token=", "http://127.0.0.1:1/#access_token={}"),
        ("bare user:password@host:port", "u:{}@127.0.0.1:1"),
        (
            "libpq keyword string",
            "host=127.0.0.1 port=1 password='{} x'",
        ),
        ("cmd: argument", "cmd:false {}"),
        ("sh: script", "sh:exit 1 # {}"),
        ("sh: env assignment", "sh:PGPASSWORD={} false"),
        ("malformed URL", "postgres://u:{}@[bad"),
        ("bad port", "redis://u:{}@127.0.0.1:99999"),
        ("bad host", "http://u:{}@127.0.0.1:1:2/"),
        ("unknown scheme", "gopher://u:{}@127.0.0.1:1"),
        ("tcp without port", "tcp://u:{}@127.0.0.1"),
    ] {
        let secret = p.add(position);
        targets.push(template.replace("{}", &secret));
    }
    targets
}

fn wait_for(tally: &mut Tally) {
    let bin = example("wait-for");
    let mut positions = Positions::default();
    let targets = wait_for_targets(&mut positions);
    // Each target alone (a bad one is a usage error that stops the run), in each format.
    for (target, (position, secret)) in targets.iter().zip(&positions.list) {
        let one = Positions {
            list: vec![(position.clone(), secret.clone())],
        };
        for format in ["human", "json"] {
            let mut cmd = Command::new(&bin);
            cmd.args(["-t", "300ms", "--probe-timeout", "200ms"]);
            if format == "json" {
                cmd.arg("--json");
            }
            cmd.arg(target);
            tally.check("wait-for", format, &one, &run(cmd));
        }
    }
    // Specs from the environment (`WAIT_HOSTS`), all at once.
    let mut env_positions = Positions::default();
    let mut list = Vec::new();
    for (position, template) in [
        (
            "WAIT_HOSTS postgres password",
            "postgres://u:{}@127.0.0.1:1/db",
        ),
        ("WAIT_HOSTS redis password", "redis://:{}@127.0.0.1:1"),
        ("WAIT_HOSTS nats token", "nats://{}@127.0.0.1:1"),
        ("WAIT_HOSTS bare user:password", "u:{}@127.0.0.1:1"),
        (
            "WAIT_HOSTS ?password=",
            "postgres://127.0.0.1:1/db?password={}",
        ),
    ] {
        let secret = env_positions.add(position);
        list.push(template.replace("{}", &secret));
    }
    for format in ["human", "json"] {
        let mut cmd = Command::new(&bin);
        cmd.env("WAIT_HOSTS", list.join(",")).args(["-t", "300ms"]);
        if format == "json" {
            cmd.arg("--json");
        }
        tally.check("wait-for", format, &env_positions, &run(cmd));
    }
}

fn wait_for_questdb(tally: &mut Tally) {
    let bin = example("wait-for-questdb");
    for format in ["human", "json", "once"] {
        let mut p = Positions::default();
        let flag = p.add("--password");
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--host",
            "127.0.0.1",
            "--health-port",
            "1",
            "--pg-port",
            "1",
        ])
        .args(["-t", "300ms", "--password", &flag]);
        match format {
            "json" => {
                cmd.arg("--json");
            }
            "once" => {
                cmd.arg("--once");
            }
            _ => {}
        }
        tally.check("wait-for-questdb", format, &p, &run(cmd));

        let mut p = Positions::default();
        let env = p.add("QDB_PG_PASSWORD");
        let mut cmd = Command::new(&bin);
        cmd.env("QDB_PG_PASSWORD", env)
            .args([
                "--host",
                "127.0.0.1",
                "--health-port",
                "1",
                "--pg-port",
                "1",
            ])
            .args(["-t", "300ms"]);
        if format == "json" {
            cmd.arg("--json");
        }
        tally.check("wait-for-questdb", format, &p, &run(cmd));
    }
}

/// Connection strings for the guard, one secret each.
fn guard_urls(p: &mut Positions) -> Vec<(String, String)> {
    let mut urls = Vec::new();
    for (variant, template) in URL_PASSWORDS {
        let secret = p.add(format!("DATABASE_URL password ({variant})"));
        urls.push((
            "DATABASE_URL".to_owned(),
            format!(
                "postgres://app:{}@127.0.0.1:1/app_test",
                url_password(template, &secret)
            ),
        ));
    }
    for (position, var, template) in [
        (
            "keyword string password",
            "DATABASE_URL",
            "host=127.0.0.1 port=1 dbname=app_test password='{} x'",
        ),
        (
            "unterminated keyword string",
            "DATABASE_URL",
            "host=127.0.0.1 password='{}",
        ),
        (
            "?password=",
            "DATABASE_URL",
            "postgres://127.0.0.1:1/app_test?password={}",
        ),
        (
            "?sslpassword=",
            "DATABASE_URL",
            "postgres://127.0.0.1:1/app_test?sslpassword={}",
        ),
        (
            "schemeless URL",
            "DATABASE_URL",
            "app:{}@127.0.0.1:1/app_test",
        ),
        (
            "malformed URL",
            "DATABASE_URL",
            "postgres://app:{}@[bad/app_test",
        ),
        (
            "production host",
            "DATABASE_URL",
            "postgres://app:{}@db.prod.example.com:5432/app",
        ),
        (
            "REDIS_URL password",
            "REDIS_URL",
            "redis://:{}@127.0.0.1:1/0",
        ),
        ("REDIS_URL token", "REDIS_URL", "redis://{}@127.0.0.1:1/0"),
    ] {
        let secret = p.add(position);
        urls.push((var.to_owned(), template.replace("{}", &secret)));
    }
    urls
}

fn guard(tally: &mut Tally) {
    let guard = example("guard");
    let manage = example("manage");
    let mut positions = Positions::default();
    let urls = guard_urls(&mut positions);
    for ((var, url), (position, secret)) in urls.iter().zip(&positions.list) {
        let one = Positions {
            list: vec![(position.clone(), secret.clone())],
        };
        for (binary, format, args) in [
            ("guard", "check", vec!["check"]),
            ("guard", "check --no-live", vec!["check", "--no-live"]),
            ("guard", "check --quiet", vec!["check", "--quiet"]),
            ("guard", "show", vec!["show"]),
            (
                "guard",
                "usage error",
                vec!["check", "--marker-timeout", "x"],
            ),
            ("manage", "test", vec!["test"]),
            ("manage", "test -- cmd", vec!["test", "--", "true"]),
        ] {
            let mut cmd = Command::new(if binary == "guard" { &guard } else { &manage });
            cmd.args(&args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("TESTING_IN_DOCKER", "1")
                .env(var, url);
            if !(args.contains(&"show") || args.contains(&"--no-live")) {
                cmd.args(["--marker-timeout", "300ms"]);
            }
            tally.check(binary, format, &one, &run(cmd));
        }
        // The same string given as a flag rather than the environment.
        let mut cmd = Command::new(&guard);
        cmd.args(["check", "--marker-timeout", "300ms", "--url", url])
            .env_clear()
            .env("TESTING_IN_DOCKER", "1");
        tally.check("guard", "check --url", &one, &run(cmd));
    }
    // libpq's environment: PGPASSWORD and friends.
    let mut p = Positions::default();
    let pgpassword = p.add("PGPASSWORD");
    let mut cmd = Command::new(&guard);
    cmd.args(["check", "--marker-timeout", "300ms"])
        .env_clear()
        .env("TESTING_IN_DOCKER", "1")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", "1")
        .env("PGDATABASE", "app_test")
        .env("PGPASSWORD", pgpassword);
    tally.check("guard", "check (libpq env)", &p, &run(cmd));
}

/// A template with every type, and a `.env` whose every value is a canary, for secret and
/// non-secret keys alike, plus the malformed lines a pasted secret makes.
fn env_files(p: &mut Positions) -> (String, String) {
    let types = [
        ("STR", "string(min=50)"),
        ("INT", "int(1..10)"),
        ("FLOAT", "float"),
        ("BOOL", "bool"),
        ("PORT", "port"),
        ("URL", "url(postgres)"),
        ("HOST", "host"),
        ("EMAIL", "email"),
        ("DURATION", "duration"),
        ("ENUM", "enum(a,b)"),
        ("PATH", "path"),
        ("JSON", "json"),
        ("LIST", "list"),
    ];
    let mut template = String::new();
    let mut env = String::new();
    for (secret_key, prefix) in [(true, "SECRET_"), (false, "PLAIN_")] {
        for (name, ty) in types {
            let key = format!("{prefix}{name}");
            let secret = p.add(format!("{key} value ({ty})"));
            let tag = if secret_key { "@secret " } else { "" };
            template.push_str(&format!("# @required {tag}@type={ty}\n{key}=\n"));
            env.push_str(&format!("{key}={secret}!\n"));
        }
    }
    let url_pw = p.add("URL password in a plain key");
    template.push_str("# @type=url(postgres)\nPLAIN_DB=\n");
    env.push_str(&format!("PLAIN_DB=mysql://u:{url_pw}@h/db\n"));
    for (position, line) in [
        ("line without =", "{}\n"),
        (
            "pasted PEM block",
            "PEM=-----BEGIN KEY-----\nMIIE{}vQIBADANBgkqhkiG9w0BAQEF\n-----END KEY-----\n",
        ),
        ("lowercase key value", "lower_key={}\n"),
        ("invalid key value", "1BAD-KEY={}\n"),
        ("space before =", "SPACED ={}\n"),
        ("unterminated quote", "QUOTED=\"{}\n"),
        ("compose ${…} in a secret", "SECRET_EXPANDED=Kx${{}!}z\n"),
        ("unknown operator", "SECRET_OP=${{}é}\n"),
        ("duplicate key", "SECRET_STR={}\n"),
        ("value with spaces", "PLAIN_SPACES=a {} b\n"),
        ("export line", "export EXPORTED={}\n"),
        ("single-quoted", "SINGLE='{}\n"),
        ("trailing whitespace", "TRAILING={}   \n"),
        ("lowercase secret line", "{}lower\n"),
    ] {
        let secret = p.add(position);
        env.push_str(&line.replace("{}", &secret));
    }
    template.push_str("# @secret\nSECRET_EXPANDED=\n# @secret\nSECRET_OP=\n# @secret\nPEM=\n");
    (template, env)
}

fn validate_env(tally: &mut Tally) {
    let bin = example("validate-env");
    let dir = tempfile::tempdir().unwrap();
    let mut positions = Positions::default();
    let (template, env) = env_files(&mut positions);
    std::fs::write(dir.path().join(".env.example"), &template).unwrap();
    std::fs::write(dir.path().join(".env"), &env).unwrap();
    for dialect in ["portable", "dotenvy", "compose", "node", "python"] {
        for format in ["human", "json", "github"] {
            let mut cmd = Command::new(&bin);
            cmd.current_dir(dir.path()).args([
                "-t",
                ".env.example",
                "-e",
                ".env",
                "-d",
                dialect,
                "-f",
                format,
            ]);
            tally.check(
                "validate-env",
                &format!("{format} ({dialect})"),
                &positions,
                &run(cmd),
            );
            // As a lint-only run of the file (positional, like dotenv-linter).
            let mut cmd = Command::new(&bin);
            cmd.current_dir(dir.path())
                .args([".env", "-d", dialect, "-f", format]);
            tally.check(
                "validate-env",
                &format!("{format} lint ({dialect})"),
                &positions,
                &run(cmd),
            );
        }
    }
    // The process environment, each type, secret and plain keys.
    let mut p = Positions::default();
    let mut vars = Vec::new();
    for line in template.lines().filter(|l| !l.starts_with('#')) {
        let key = line.trim_end_matches('=').to_owned();
        let secret = p.add(format!("process env {key}"));
        vars.push((key, format!("{secret}!")));
    }
    for format in ["human", "json", "github"] {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir.path())
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .args(["-t", ".env.example", "--process-env", "-f", format]);
        tally.check(
            "validate-env",
            &format!("{format} (process env)"),
            &p,
            &run(cmd),
        );
    }
}

fn dev(tally: &mut Tally) {
    let bin = example("dev");
    let dir = tempfile::tempdir().unwrap();
    let mut p = Positions::default();
    let env_secret = p.add("dev.toml env value");
    let config = format!(
        "[[process]]\nname = \"app\"\ncommand = \"exit 3\"\nenv = {{ TOKEN = \"{env_secret}\" }}\n"
    );
    std::fs::write(dir.path().join("dev.toml"), config).unwrap();
    let mut cmd = Command::new(&bin);
    cmd.current_dir(dir.path()).arg("--check");
    tally.check("dev", "check", &p, &run(cmd));

    let mut p = Positions::default();
    let broken = p.add("malformed dev.toml line");
    std::fs::write(
        dir.path().join("broken.toml"),
        format!(
            "[[process]]\nname = \"app\"\ncommand = \"true\"\nenv = {{ TOKEN = \"{broken} }}\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(&bin);
    cmd.current_dir(dir.path())
        .args(["--check", "-c", "broken.toml"]);
    tally.check("dev", "config error", &p, &run(cmd));
}

/// `preflight check` / `preflight test`: an invalid environment (the validate step's
/// report), a valid one whose `@wait` targets carry canary passwords and never answer (the
/// wait step's progress and deadline), and a guard refusal of a production URL.
fn preflight(tally: &mut Tally) {
    let bin = example("preflight");
    let dir = tempfile::tempdir().unwrap();
    let closed = preflight_testkit::free_port();
    let mut p = Positions::default();
    let (template, env) = env_files(&mut p);
    let wait_template = "# @required @secret @wait @type=url(postgres)\nWAIT_DB=\n\
                         # @required @secret @wait @type=url(redis)\nWAIT_CACHE=\n";
    std::fs::write(
        dir.path().join(".env.example"),
        format!("{template}{wait_template}"),
    )
    .unwrap();
    std::fs::write(dir.path().join(".env"), &env).unwrap();
    for format in [&[][..], &["--json"][..], &["--quiet"][..]] {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir.path())
            .args(["check", "--template", ".env.example", "--env-file", ".env"])
            .args(format)
            .args(["--", "true"]);
        tally.check(
            "preflight",
            &format!("invalid env {format:?}"),
            &p,
            &run(cmd),
        );
    }

    let mut p = Positions::default();
    let db = url_password(
        &format!("postgres://app:{{}}@127.0.0.1:{closed}/app"),
        &p.add("@wait postgres URL password"),
    );
    let cache = url_password(
        &format!("redis://:{{}}@127.0.0.1:{closed}/0"),
        &p.add("@wait redis URL password"),
    );
    std::fs::write(dir.path().join("wait.env.example"), wait_template).unwrap();
    for format in [&[][..], &["--json"][..]] {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir.path())
            .env("WAIT_DB", &db)
            .env("WAIT_CACHE", &cache)
            .args(["check", "-t", "300ms", "--template", "wait.env.example"])
            .args(format)
            .args(["--", "true"]);
        tally.check(
            "preflight",
            &format!("wait deadline {format:?}"),
            &p,
            &run(cmd),
        );
    }

    let mut p = Positions::default();
    let prod = url_password(
        "postgres://app:{}@db.prod.example.com:5432/app",
        &p.add("guarded production URL password"),
    );
    std::fs::write(
        dir.path().join("guard.env.example"),
        "# @required @secret @type=url(postgres)\nDATABASE_URL=\n",
    )
    .unwrap();
    for format in [&[][..], &["--json"][..]] {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir.path())
            .env("DATABASE_URL", &prod)
            .env("TESTING_IN_DOCKER", "1")
            .args(["test", "--no-live", "--template", "guard.env.example"])
            .args(format)
            .args(["--", "true"]);
        tally.check(
            "preflight",
            &format!("guard refusal {format:?}"),
            &p,
            &run(cmd),
        );
    }
}

#[test]
fn no_secret_reaches_any_output() {
    let mut tally = Tally::default();
    wait_for(&mut tally);
    wait_for_questdb(&mut tally);
    guard(&mut tally);
    validate_env(&mut tally);
    dev(&mut tally);
    preflight(&mut tally);
    let binaries: BTreeSet<&str> = tally.combos.iter().map(|(b, _, _)| b.as_str()).collect();
    println!(
        "canary: tried {} (binary, format, position) combinations over {} binaries",
        tally.combos.len(),
        binaries.len()
    );
    assert!(
        tally.leaks.is_empty(),
        "{} leaks:\n\n{}",
        tally.leaks.len(),
        tally.leaks.join("\n\n")
    );
}
