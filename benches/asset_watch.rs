//! asset-watch figures, side by side with watchexec when it is installed
//! (`cargo install watchexec-cli`; found on PATH, in `$WATCHEXEC`, or /tmp/wx/bin) and
//! with nodemon (found on PATH or in `$NODEMON`, else installed with npm into
//! /tmp/asset-watch-bench-nodemon, outside the repository; skipped without npm).
//!
//! `ASSET_WATCH_SECTIONS=latency` runs section 1 only, `ASSET_WATCH_SECTIONS=startup`
//! section 2 only.
//!
//! `cargo bench --bench asset_watch` prints:
//! 1. save → command started latency (p50/p95) and runs per save, default settings;
//! 2. start-up on a generated 200k-file tree with a 21k-directory `node_modules` that is
//!    *not* gitignored: time until a change is acted on, CPU-s, RSS, inotify watches;
//!    then idle CPU over 60 s (`ASSET_WATCH_IDLE_SECS` to change), natively and by
//!    polling every second, one watcher at a time.
//!
//! "Command started" is observed the same way for both tools: the command is
//! `sh -c 'printf x > FIFO'` and a reader thread timestamps the FIFO opening. Each
//! watcher runs as its own process (ours: this binary re-executed with `--child`), so CPU
//! and memory are read from its `/proc` entry alone. The tree is generated once under
//! `/tmp/asset-watch-bench-tree` and reused.

mod support;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use preflight_asset_watch::{Command, Job, Watch};

const TREE: &str = "/tmp/asset-watch-bench-tree";
const SAVES: usize = 30;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2..]);
        return;
    }
    // `cargo bench` passes `--bench`; anything else (e.g. a filter) is ignored.
    let watchexec = find_watchexec();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.trim());
    println!(
        "asset-watch bench ({} cores)",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    match &watchexec {
        Some(w) => println!("watchexec: {} ({})", w.display(), version(w)),
        None => println!("watchexec: not found, its rows are left out"),
    }
    let nodemon = find_nodemon();
    match &nodemon {
        Some(n) => println!("nodemon: {} ({})", n.display(), version(n)),
        None => println!("nodemon: not found and npm could not install it, its rows are left out"),
    }

    let sections = std::env::var("ASSET_WATCH_SECTIONS").unwrap_or_default();
    if sections != "startup" {
        latency_section(watchexec.as_deref(), nodemon.as_deref());
    }
    if sections != "latency" {
        startup_section(watchexec.as_deref());
    }
}

/// Section 1: save → command started, per editor save style.
fn latency_section(watchexec: Option<&Path>, nodemon: Option<&Path>) {
    println!("\n## 1. save -> command started, {SAVES} saves per editor style");
    let small = tempfile::tempdir().expect("tempdir");
    std::fs::write(small.path().join("app.css"), "a{}").unwrap();
    for style in [Save::InPlace, Save::Atomic, Save::Vim] {
        let ours = latency(small.path(), &Tool::Ours(Vec::new()), style);
        print_latency(&format!("preflight, {}", style.name()), &ours);
        // Like for like with nodemon, which has no editor-temp ignores.
        let bare = Tool::Ours(vec!["--no-default-ignores".to_owned()]);
        let ours = latency(small.path(), &bare, style);
        print_latency(
            &format!("preflight --no-default-ignores, {}", style.name()),
            &ours,
        );
        if let Some(w) = watchexec {
            let theirs = latency(
                small.path(),
                &Tool::Watchexec(w.to_owned(), Vec::new()),
                style,
            );
            print_latency(&format!("watchexec, {}", style.name()), &theirs);
        }
        if let Some(n) = nodemon {
            let theirs = latency(small.path(), &Tool::Nodemon(n.to_owned()), style);
            print_latency(&format!("nodemon, {}", style.name()), &theirs);
        }
    }
}

/// Section 2: start-up on a 200k-file tree, then idle CPU.
fn startup_section(watchexec: Option<&Path>) {
    let secs: u64 = std::env::var("ASSET_WATCH_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    println!(
        "\n## 2. start-up on a 200k-file tree (node_modules not gitignored), then idle {secs} s"
    );
    let tree = generate_tree();
    let ours = |extra: &[&str]| Some(Tool::Ours(extra.iter().map(|s| (*s).to_owned()).collect()));
    let theirs = |extra: &[&str]| {
        watchexec.map(|w| {
            Tool::Watchexec(
                w.to_owned(),
                extra.iter().map(|s| (*s).to_owned()).collect(),
            )
        })
    };
    let setups = [
        ("preflight, defaults", ours(&[])),
        (
            "preflight, no default ignores",
            ours(&["--no-default-ignores"]),
        ),
        ("preflight, polling 1 s", ours(&["--poll"])),
        ("watchexec 2.8, defaults", theirs(&[])),
        ("watchexec 2.8, --poll 1s", theirs(&["--poll", "1s"])),
    ];
    // One at a time: a polling watcher opens every directory each second, and each
    // opening is an inotify event for a native watcher of the same tree.
    for (label, tool) in setups {
        let Some(tool) = tool else { continue };
        let started = startup(&tree, &tool);
        let pid = started.child.id();
        let before = support::cpu_time(Some(pid)).as_secs_f64();
        pause(Duration::from_secs(secs));
        let idle = support::cpu_time(Some(pid)).as_secs_f64() - before;
        println!(
            "{label:30} ready {:>7.1} ms  start cpu {:>5.2} s  rss {:>6.1} MB  watches {:>6}  idle {:>5.2} CPU-s ({:.2} % of a core)",
            started.ready.as_secs_f64() * 1e3,
            started.cpu,
            started.rss_kb as f64 / 1024.0,
            started.watches,
            idle,
            idle / secs as f64 * 100.0
        );
        stop(started.child);
    }
}

#[derive(Clone)]
enum Tool {
    Ours(Vec<String>),
    Watchexec(PathBuf, Vec<String>),
    Nodemon(PathBuf),
}

fn spawn_watcher(tool: &Tool, dir: &Path, fifo: &Path) -> Child {
    let cmd = format!("printf x > '{}'", fifo.display());
    let mut c = match tool {
        Tool::Ours(extra) => {
            let mut c = std::process::Command::new(std::env::current_exe().unwrap());
            c.arg("--child").arg(dir).arg(&cmd).args(extra);
            c
        }
        Tool::Watchexec(bin, extra) => {
            let mut c = std::process::Command::new(bin);
            c.args(["--postpone", "--quiet", "-w"]).arg(dir).args(extra);
            c.args(["--", "sh", "-c", &cmd]);
            c
        }
        Tool::Nodemon(bin) => {
            // Its defaults: restart on change (no queue), no coalescing window.
            let mut c = std::process::Command::new(bin);
            c.args(["--quiet", "--on-change-only", "-e", "css", "-w"])
                .arg(dir)
                .args(["--exec", &cmd]);
            c
        }
    };
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watcher")
}

/// Timestamps every opening of the FIFO by a command.
fn fifo_reader(fifo: &Path) -> mpsc::Receiver<Instant> {
    let (tx, rx) = mpsc::channel();
    let fifo = fifo.to_path_buf();
    std::thread::spawn(move || {
        loop {
            let Ok(mut f) = std::fs::File::open(&fifo) else {
                return;
            };
            let at = Instant::now();
            let mut sink = Vec::new();
            let _ = f.read_to_end(&mut sink);
            if tx.send(at).is_err() {
                return;
            }
        }
    });
    rx
}

fn make_fifo(dir: &Path) -> PathBuf {
    let fifo = dir.join("started.fifo");
    let _ = std::fs::remove_file(&fifo);
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    fifo
}

struct Latency {
    samples: Vec<Duration>,
    runs_per_save: Vec<usize>,
}

/// How an editor saves a file.
#[derive(Debug, Clone, Copy)]
enum Save {
    /// Truncate and write (VS Code, nano).
    InPlace,
    /// Write a temporary file, rename it over the original (JetBrains, many tools).
    Atomic,
    /// Vim's default: probe file `4913`, rename to a `~` backup, write anew, delete the
    /// backup.
    Vim,
}

impl Save {
    fn name(self) -> &'static str {
        match self {
            Self::InPlace => "in-place save",
            Self::Atomic => "atomic save",
            Self::Vim => "vim save",
        }
    }

    fn save(self, file: &Path, content: &str) {
        let dir = file.parent().unwrap();
        match self {
            Self::InPlace => std::fs::write(file, content).unwrap(),
            Self::Atomic => {
                let tmp = dir.join(".app.css.tmp");
                std::fs::write(&tmp, content).unwrap();
                std::fs::rename(&tmp, file).unwrap();
            }
            Self::Vim => {
                let probe = dir.join("4913");
                std::fs::write(&probe, "").unwrap();
                std::fs::remove_file(&probe).unwrap();
                let backup = dir.join("app.css~");
                std::fs::rename(file, &backup).unwrap();
                std::fs::write(file, content).unwrap();
                std::fs::remove_file(&backup).unwrap();
            }
        }
    }
}

fn latency(dir: &Path, tool: &Tool, style: Save) -> Latency {
    let fifo_dir = tempfile::tempdir().unwrap();
    let fifo = make_fifo(fifo_dir.path());
    let rx = fifo_reader(&fifo);
    let child = spawn_watcher(tool, dir, &fifo);
    let file = dir.join("app.css");
    // Ready: keep saving until a run is seen (postponed, so no start-up run), for at
    // most a minute: a tool that never runs is a failed bench, not an endless one.
    let ready_by = Instant::now() + Duration::from_secs(60);
    loop {
        std::fs::write(&file, "warmup{}").unwrap();
        if rx.recv_timeout(Duration::from_millis(200)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < ready_by,
            "the watcher never ran its command within a minute of saves"
        );
    }
    drain(&rx, Duration::from_millis(300));
    let mut samples = Vec::new();
    let mut runs_per_save = Vec::new();
    for i in 0..SAVES {
        let t0 = Instant::now();
        style.save(&file, &format!("a{{color:#{i:06}}}"));
        let started = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("no run after a save");
        samples.push(started - t0);
        runs_per_save.push(1 + drain(&rx, Duration::from_millis(250)));
    }
    stop(child);
    Latency {
        samples,
        runs_per_save,
    }
}

fn drain(rx: &mpsc::Receiver<Instant>, window: Duration) -> usize {
    let end = Instant::now() + window;
    let mut n = 0;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if rx.recv_timeout(left).is_err() {
            break;
        }
        n += 1;
    }
    n
}

fn print_latency(label: &str, l: &Latency) {
    let mut s = l.samples.clone();
    s.sort();
    let pct = |p: f64| s[((s.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    let extra: usize = l.runs_per_save.iter().map(|r| r - 1).sum();
    println!(
        "{label:32} p50 {:>6.1} ms  p95 {:>6.1} ms  min {:>5.1} ms  max {:>6.1} ms  runs/save: {} extra runs in {} saves",
        pct(0.5),
        pct(0.95),
        s[0].as_secs_f64() * 1e3,
        s[s.len() - 1].as_secs_f64() * 1e3,
        extra,
        l.runs_per_save.len()
    );
}

struct Started {
    child: Child,
    ready: Duration,
    cpu: f64,
    rss_kb: u64,
    watches: usize,
}

fn startup(tree: &Path, tool: &Tool) -> Started {
    let fifo_dir = tempfile::tempdir().unwrap();
    let fifo = make_fifo(fifo_dir.path());
    let rx = fifo_reader(&fifo);
    let sentinel = tree.join("src/sentinel.css");
    let t0 = Instant::now();
    let child = spawn_watcher(tool, tree, &fifo);
    // Touch a file every 20 ms until the watcher acts on it: "ready" is the first run.
    // 20 ms is above our 10 ms quiet gap (closer writes would merge into one growing batch
    // until the 250 ms cap) and below watchexec's 50 ms window.
    let ready = loop {
        std::fs::write(&sentinel, "x").unwrap();
        if let Ok(at) = rx.recv_timeout(Duration::from_millis(20)) {
            break at - t0;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "watcher never became ready"
        );
    };
    drain(&rx, Duration::from_millis(300));
    let pid = child.id();
    Started {
        ready,
        cpu: support::cpu_time(Some(pid)).as_secs_f64(),
        rss_kb: rss_kb(pid),
        watches: inotify_watches(pid),
        child,
    }
}

fn stop(mut child: Child) {
    // SIGTERM, so each tool stops the way a user would stop it.
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn inotify_watches(pid: u32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return 0;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_to_string(fd.path()).ok())
        .map(|info| {
            info.lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count()
        })
        .sum()
}

/// A web project: `src` (about 2k files) beside a `node_modules` of 21k directories and
/// about 198k files, which is not gitignored.
fn generate_tree() -> PathBuf {
    let root = PathBuf::from(TREE);
    let done = root.join(".generated");
    if done.exists() {
        return root;
    }
    let t = Instant::now();
    let _ = std::fs::remove_dir_all(&root);
    for d in 0..200 {
        let dir = root.join(format!("src/mod{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..10 {
            std::fs::write(dir.join(format!("file{f}.css")), "a{}").unwrap();
        }
    }
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".gitignore"), "dist/\n").unwrap();
    // 1,000 packages × 20 directories × ~9.4 files ≈ 21k dirs, 198k files.
    let mut files = 0usize;
    for p in 0..1000 {
        for d in 0..20 {
            let dir = root.join(format!("node_modules/pkg{p:04}/lib{d:02}"));
            std::fs::create_dir_all(&dir).unwrap();
            let n = if (p * 20 + d) % 5 == 0 { 9 } else { 10 };
            for f in 0..n {
                std::fs::write(dir.join(format!("m{f}.js")), "").unwrap();
                files += 1;
            }
        }
    }
    std::fs::write(&done, files.to_string()).unwrap();
    println!(
        "(generated {} in {:.1} s: {} files under node_modules)",
        root.display(),
        t.elapsed().as_secs_f64(),
        files
    );
    root
}

/// nodemon from `$NODEMON` or PATH, else installed with npm into a temp prefix (never
/// into the repository).
fn find_nodemon() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NODEMON").map(PathBuf::from)
        && p.exists()
    {
        return Some(p);
    }
    if let Some(p) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("nodemon"))
            .find(|p| p.exists())
    }) {
        return Some(p);
    }
    let prefix = PathBuf::from("/tmp/asset-watch-bench-nodemon");
    let bin = prefix.join("node_modules/.bin/nodemon");
    if !bin.exists() {
        let installed = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&prefix)
            .arg("nodemon@3")
            .status();
        if !installed.is_ok_and(|s| s.success()) {
            return None;
        }
    }
    bin.exists().then_some(bin)
}

fn find_watchexec() -> Option<PathBuf> {
    let candidates = std::env::var_os("WATCHEXEC")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::var_os("PATH").into_iter().flat_map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("watchexec"))
                .collect::<Vec<_>>()
        }))
        .chain([PathBuf::from("/tmp/wx/bin/watchexec")]);
    candidates.into_iter().find(|p| p.is_file())
}

fn version(bin: &Path) -> String {
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_default()
}

#[allow(
    clippy::disallowed_methods,
    reason = "the idle window is a real delay: nothing may happen in it"
)]
fn pause(d: Duration) {
    std::thread::sleep(d);
}

/// The watcher process: ours, with default settings unless told otherwise. Prints nothing;
/// the parent observes it through the FIFO and /proc.
fn child(args: &[String]) {
    let dir = PathBuf::from(&args[0]);
    let cmd = args[1].clone();
    let mut builder = Watch::builder().path(dir);
    if args.iter().any(|a| a == "--no-default-ignores") {
        builder = builder.default_ignores(false);
    }
    if args.iter().any(|a| a == "--poll") {
        builder = builder.poll(Duration::from_secs(1));
    }
    let watch = builder.build().expect("watch config");
    let job = Job::builder(Command::shell(cmd)).postpone(true).build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut watcher = watch.start().expect("start watching");
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        job.run(&mut watcher, term.recv(), |_| {})
            .await
            .expect("job");
    });
}
