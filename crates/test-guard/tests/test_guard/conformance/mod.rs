//! Differential conformance against the real libpq: every case (a connection string, an
//! environment, service and password files) is resolved by libpq 15 on this machine (through
//! `libpq_resolve.py`, which stops libpq right after resolution, so nothing connects) and by
//! the guard, and the two answers are compared: host list, hostaddr, port list, database,
//! user, whether a password was found.
//!
//! The rule checked: the guard never clears a resolution that differs from libpq's. A case
//! ends one of four ways: identical, rejected by both, refused by design (libpq accepts,
//! the guard refuses with a reason naming the construct), or a finding (libpq rejects what
//! the guard accepts, or both accept and disagree), which fails the test.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use preflight_test_guard::{Host, Target};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

mod table;

/// libpq's compiled-in socket directory on Debian (checked against `PQhost` per case).
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// One case: the string, the environment (`{dir}` stands for the case's own directory,
/// which also holds the files), and files to write there (`name`, contents).
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) conn: String,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) files: Vec<(String, String)>,
}

impl Case {
    /// A case whose home directory and system configuration directory are its own (so
    /// the machine's files never take part unless a case unsets them).
    pub(crate) fn new(name: &str, conn: &str) -> Self {
        Self {
            name: name.to_owned(),
            conn: conn.to_owned(),
            env: vec![
                ("HOME".to_owned(), "{dir}".to_owned()),
                ("PGSYSCONFDIR".to_owned(), "{dir}/sys".to_owned()),
            ],
            files: Vec::new(),
        }
    }

    pub(crate) fn unset(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn file(mut self, name: &str, contents: &str) -> Self {
        self.files.push((name.to_owned(), contents.to_owned()));
        self
    }
}

/// One host slot as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    Socket(String),
    Ip(IpAddr),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolution {
    slots: Vec<(Place, u16)>,
    dbname: String,
    user: String,
    has_password: bool,
}

#[derive(Debug)]
enum Outcome {
    Identical,
    RejectedByBoth(String),
    RefusedByDesign(String),
    Finding(String),
}

fn place(raw: &str) -> Place {
    if raw.starts_with('/') || raw.starts_with('@') {
        Place::Socket(raw.to_owned())
    } else if let Ok(ip) = raw.parse() {
        Place::Ip(ip)
    } else {
        Place::Name(raw.to_ascii_lowercase())
    }
}

/// libpq's `parse_int_param` and range check for a port (it checks when it tries the host).
fn libpq_port(text: &str) -> Option<u16> {
    if text.is_empty() {
        return Some(5432);
    }
    let t = text.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    let t = t.trim_end_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let n = if negative { -n } else { n };
    u16::try_from(n).ok().filter(|p| *p >= 1)
}

/// What libpq resolved, split into slots as `connectOptions2` does. `Err` when libpq
/// rejects the case (at parse time, or at connect time for a port it cannot use).
fn libpq_resolution(answer: &Value) -> Result<Resolution, String> {
    if answer["ok"] != Value::Bool(true) {
        return Err(answer["error"].as_str().unwrap_or("").to_owned());
    }
    let text = |k: &str| answer[k].as_str().unwrap_or("").to_owned();
    let list = |k: &str| -> Option<Vec<String>> {
        let v = text(k);
        (!v.is_empty()).then(|| v.split(',').map(str::to_owned).collect())
    };
    let addrs = list("hostaddr");
    let hosts = list("host");
    let count = addrs
        .as_ref()
        .map(Vec::len)
        .or(hosts.as_ref().map(Vec::len))
        .unwrap_or(1);
    let ports = match list("port") {
        None => vec![String::new(); count],
        Some(p) if p.len() == 1 => vec![p[0].clone(); count],
        Some(p) => p,
    };
    let mut slots = Vec::new();
    for i in 0..count {
        let port = libpq_port(&ports[i])
            .ok_or_else(|| format!("libpq cannot use port {:?} (at connect time)", ports[i]))?;
        let addr = addrs.as_ref().map_or("", |a| a[i].as_str());
        let host = hosts.as_ref().map_or("", |h| h[i].as_str());
        let p = if !addr.is_empty() {
            match addr.parse() {
                Ok(ip) => Place::Ip(ip),
                Err(_) => Place::Name(format!("unparsed hostaddr {addr}")),
            }
        } else if !host.is_empty() {
            place(host)
        } else {
            Place::Socket(DEFAULT_SOCKET_DIR.to_owned())
        };
        slots.push((p, port));
    }
    // Cross-check the split against libpq's own first slot.
    let first = text("first_host");
    let expected_first = match &slots[0].0 {
        Place::Socket(s) => s.clone(),
        _ if !hosts.as_ref().map_or("", |h| h[0].as_str()).is_empty() => {
            hosts.as_ref().unwrap()[0].clone()
        }
        _ => addrs.as_ref().map_or(String::new(), |a| a[0].clone()),
    };
    assert_eq!(first, expected_first, "PQhost disagrees with the split");
    Ok(Resolution {
        slots,
        dbname: text("db"),
        user: text("pquser"),
        has_password: !text("password").is_empty(),
    })
}

fn guard_resolution(target: &Target) -> Resolution {
    Resolution {
        slots: target
            .endpoints()
            .iter()
            .map(|e| {
                let p = match &e.host {
                    Host::Socket(p) => Place::Socket(p.display().to_string()),
                    Host::Ip(ip) => Place::Ip(*ip),
                    Host::Name(n) => Place::Name(n.clone()),
                    other => Place::Name(format!("unexpected {other:?}")),
                };
                (p, e.port)
            })
            .collect(),
        dbname: target.database().unwrap_or("").to_owned(),
        user: target.user().unwrap_or("").to_owned(),
        has_password: target.has_password(),
    }
}

fn compare(libpq: Result<Resolution, String>, guard: Result<Target, String>) -> Outcome {
    match (libpq, guard) {
        (Err(why), Err(_)) => Outcome::RejectedByBoth(why),
        (Err(why), Ok(t)) => Outcome::Finding(format!(
            "libpq rejects ({why}) but the guard resolved {}",
            t.id()
        )),
        (Ok(_), Err(why)) => Outcome::RefusedByDesign(why),
        (Ok(l), Ok(t)) => {
            let g = guard_resolution(&t);
            if l == g {
                Outcome::Identical
            } else {
                Outcome::Finding(format!("libpq: {l:?}\nguard: {g:?}"))
            }
        }
    }
}

fn python() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import ctypes; ctypes.CDLL('libpq.so.5')"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Lays out each case's files in its own directory and fills `{dir}` in its environment.
fn materialise(cases: &[Case], root: &Path) -> Vec<(PathBuf, Vec<(String, String)>)> {
    cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let dir = root.join(format!("case{i}"));
            std::fs::create_dir_all(dir.join("sys")).unwrap();
            for (name, contents) in &case.files {
                let path = dir.join(name);
                std::fs::write(&path, contents).unwrap();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .unwrap();
                }
            }
            let dir_text = dir.display().to_string();
            let env = case
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.replace("{dir}", &dir_text)))
                .collect();
            (dir, env)
        })
        .collect()
}

/// Asks libpq about every case in one helper process.
fn ask_libpq(
    python: &str,
    cases: &[Case],
    envs: &[(PathBuf, Vec<(String, String)>)],
) -> Vec<Value> {
    let input: Vec<Value> = cases
        .iter()
        .zip(envs)
        .map(|(case, (_, env))| {
            let env: serde_json::Map<String, Value> = env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            serde_json::json!({ "conn": case.conn, "env": env })
        })
        .collect();
    let helper =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/test_guard/conformance/libpq_resolve.py");
    let mut child = Command::new(python)
        .arg(helper)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let body = serde_json::to_vec(&input).unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "libpq helper failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answers.len(), cases.len());
    answers
}

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    identical: usize,
    rejected_by_both: BTreeMap<String, usize>,
    refused: BTreeMap<String, usize>,
    findings: Vec<String>,
}

impl Tally {
    fn refused_total(&self) -> usize {
        self.refused.values().sum()
    }

    fn rejected_total(&self) -> usize {
        self.rejected_by_both.values().sum()
    }
}

/// libpq's message without the quoted values, to group the counts.
fn libpq_reason(message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    let mut out = String::new();
    let mut quoted = false;
    for c in first.chars() {
        if c == '"' {
            quoted = !quoted;
            out.push_str(if quoted { "\"…" } else { "\"" });
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

/// The construct a refusal names, without the case-specific values, to group the counts.
fn construct(reason: &str) -> String {
    let after = reason.rsplit("`: ").next().unwrap_or(reason);
    let mut out = String::new();
    let mut in_tick = false;
    for c in after.chars() {
        if c == '`' {
            in_tick = !in_tick;
            out.push_str(if in_tick { "`…" } else { "`" });
        } else if !in_tick {
            out.push(c);
        }
    }
    out
}

fn run(label: &str, cases: &[Case]) -> Option<Tally> {
    let Some(python) = python() else {
        preflight_testkit::skip_or_fail(&"python3 with libpq.so.5 (ctypes) is not available");
        return None;
    };
    let root = tempfile::tempdir().unwrap();
    let envs = materialise(cases, root.path());
    let answers = ask_libpq(python, cases, &envs);
    let mut tally = Tally::default();
    for ((case, (_, env)), answer) in cases.iter().zip(&envs).zip(&answers) {
        tally.cases += 1;
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let guard =
            Target::resolve(&case.conn, "case", &pairs.as_slice()).map_err(|e| e.to_string());
        match compare(libpq_resolution(answer), guard) {
            Outcome::Identical => tally.identical += 1,
            Outcome::RejectedByBoth(why) => {
                *tally
                    .rejected_by_both
                    .entry(libpq_reason(&why))
                    .or_default() += 1;
            }
            Outcome::RefusedByDesign(why) => {
                *tally.refused.entry(construct(&why)).or_default() += 1;
            }
            Outcome::Finding(what) => tally.findings.push(format!(
                "[{}] {:?} env {:?} files {:?}\n{what}",
                case.name, case.conn, case.env, case.files
            )),
        }
    }
    println!(
        "libpq conformance ({label}): {} cases, {} identical, {} rejected by both, {} refused by design, {} findings",
        tally.cases,
        tally.identical,
        tally.rejected_total(),
        tally.refused_total(),
        tally.findings.len()
    );
    for (reason, n) in &tally.rejected_by_both {
        println!("  rejected by both ({n}): {reason}");
    }
    for (construct, n) in &tally.refused {
        println!("  refused by design ({n}): {construct}");
    }
    Some(tally)
}

fn assert_clean(tally: &Tally) {
    assert!(
        tally.findings.is_empty(),
        "{} case(s) where the guard and libpq disagree:\n\n{}",
        tally.findings.len(),
        tally.findings.join("\n\n")
    );
}

/// Every documented libpq rule, one or more cases each.
#[test]
fn libpq_rule_table() {
    let cases = table::cases();
    let Some(tally) = run("rule table", &cases) else {
        return;
    };
    assert_clean(&tally);
    // The table is mostly things the guard reproduces; refusals stay the exception.
    assert!(
        tally.identical + tally.rejected_total() >= tally.cases * 8 / 10,
        "{tally:?}"
    );
}

/// Hundreds of generated mixes of URIs, keyword strings, quoting, percent-encoding, hosts,
/// `PG*` variables (set, unset, empty) and service files.
#[test]
fn libpq_generated_mixes() {
    let mut runner = TestRunner::new_with_rng(
        proptest::test_runner::Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = table::mix();
    let cases: Vec<Case> = (0..800)
        .map(|i| {
            let mut case = strategy.new_tree(&mut runner).unwrap().current();
            case.name = format!("mix {i}");
            case
        })
        .collect();
    let Some(tally) = run("generated", &cases) else {
        return;
    };
    assert_clean(&tally);
    assert!(
        tally.identical >= 200,
        "too few comparable cases: {tally:?}"
    );
}
