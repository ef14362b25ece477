//! Side by side: the `supervise` example binary as the supervisor under test, real
//! signals, real process trees.

use std::path::Path;
use std::process::{Child, Output, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{KillOnDrop, OutputLines, alive, pids, supervise_bin, wait_until_blocking};

fn supervise(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(supervise_bin());
    cmd.args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("FORCE_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn finish(child: Child) -> (Output, String) {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

/// Two process trees: one that exits on the signal, one that ignores INT and TERM (so
/// only the grace period's SIGKILL ends it); each leaves a background grandchild.
const TREES: [&str; 2] = [
    "polite=echo $$ >> leaders; sleep 300 & echo $! >> kids; wait",
    "stubborn=trap '' INT TERM HUP; echo $$ >> leaders; sleep 300 & echo $! >> kids; while :; do sleep 0.05; done",
];

fn start_trees(dir: &Path) -> (Child, Vec<u32>) {
    start_trees_with_grace(dir, "500ms")
}

fn start_trees_with_grace(dir: &Path, grace: &str) -> (Child, Vec<u32>) {
    let child = supervise(
        dir,
        &["--color", "never", "--grace", grace, TREES[0], TREES[1]],
    )
    .spawn()
    .unwrap();
    wait_until_blocking("both trees to start", || {
        pids(&dir.join("leaders")).len() == 2 && pids(&dir.join("kids")).len() == 2
    });
    let mut all = pids(&dir.join("leaders"));
    all.extend(pids(&dir.join("kids")));
    assert!(all.iter().all(|&p| alive(p)));
    (child, all)
}

fn assert_all_gone(all: &[u32], when: &str) {
    wait_until_blocking(
        &format!("every child and grandchild to be gone {when}"),
        || all.iter().all(|&p| !alive(p)),
    );
}

#[test]
fn sigint_sigterm_and_sighup_are_forwarded_and_leave_no_process_behind() {
    for (signal, code) in [
        (Signal::SIGINT, 130),
        (Signal::SIGTERM, 143),
        (Signal::SIGHUP, 129),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (child, all) = start_trees(dir.path());
        let _guard = KillOnDrop(child.id());
        kill(Pid::from_raw(child.id().cast_signed()), signal).unwrap();
        let (out, text) = finish(child);
        assert_eq!(out.status.code(), Some(code), "after {signal}: {text}");
        // The supervisor waited for the groups: nothing may be left when it returns,
        // except processes the kernel has not finished tearing down.
        assert_all_gone(&all, &format!("after {signal}"));
        assert!(
            text.contains("[stubborn] stopped (killed by SIGKILL)"),
            "{text}"
        );
        assert!(text.contains("[polite]   stopped"), "{text}");
    }
}

#[test]
fn a_second_ctrl_c_kills_at_once_instead_of_waiting_out_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    // A minute of grace: only the second signal can end the stubborn tree in time.
    let (mut child, all) = start_trees_with_grace(dir.path(), "60s");
    let _guard = KillOnDrop(child.id());
    let output = OutputLines::of(&mut child);
    let pid = Pid::from_raw(child.id().cast_signed());
    let started = std::time::Instant::now();
    kill(pid, Signal::SIGINT).unwrap();
    // The polite tree stopping proves the first signal was handled.
    output.wait_for("the polite tree to stop", |line| {
        line.starts_with("[polite]") && line.contains("stopped")
    });
    kill(pid, Signal::SIGINT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "waited out the grace period"
    );
    // The last lines may still be in the pipe after the supervisor exited.
    output.wait_line("[stubborn] stopped (killed by SIGKILL)");
    assert_all_gone(&all, "after a second SIGINT");
}

#[test]
fn sigkill_of_the_supervisor_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, all) = start_trees(dir.path());
    let _guard = KillOnDrop(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    // Direct children get their parent-death signal; the guardian ends the groups
    // (grandchildren and the signal-ignoring tree) within its one-second grace.
    assert_all_gone(&all, "after SIGKILL of the supervisor");
}

#[test]
fn sigkill_of_the_supervisor_also_ends_setsid_escapees() {
    // Out of every group the guardian knows: found by the run token in its environment.
    let dir = tempfile::tempdir().unwrap();
    let mut child = supervise(
        dir.path(),
        &[
            "--color",
            "never",
            "s=setsid sh -c 'echo $$ > setsid.pid; exec sleep 300' & \
             until [ -s setsid.pid ]; do sleep 0.01; done; exec sleep 300",
        ],
    )
    .spawn()
    .unwrap();
    let _guard = KillOnDrop(child.id());
    wait_until_blocking("the setsid escapee", || {
        pids(&dir.path().join("setsid.pid")).len() == 1
    });
    let escapee = pids(&dir.path().join("setsid.pid"))[0];
    child.kill().unwrap();
    child.wait().unwrap();
    assert_all_gone(&[escapee], "after SIGKILL of the supervisor");
}

#[test]
fn prefixes_keep_partial_lines_and_carriage_returns() {
    let dir = tempfile::tempdir().unwrap();
    let child = supervise(
        dir.path(),
        &[
            "--color",
            "never",
            r#"bar=printf '10%%\r50%%\r'; printf '100%%\n'; printf 'prompt> '"#,
        ],
    )
    .spawn()
    .unwrap();
    let (out, text) = finish(child);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("[bar] 10%\r[bar] 50%\r[bar] 100%\n"),
        "{text:?}"
    );
    // The partial last line is printed, then ended before the next status line.
    assert!(
        text.contains("[bar] prompt> \n[bar] exited with code 0"),
        "{text:?}"
    );
}

#[test]
fn colour_follows_force_color_and_no_color_and_reaches_children() {
    let dir = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = supervise(dir.path(), &["c=echo \"force=$FORCE_COLOR\""]);
        cmd.envs(env.iter().copied());
        finish(cmd.spawn().unwrap()).1
    };
    let piped = run(&[]);
    assert!(
        piped.starts_with("[c] force=\n"),
        "no colour when piped: {piped:?}"
    );
    let forced = run(&[("FORCE_COLOR", "1")]);
    assert!(
        forced.starts_with("\x1b[36m[c]\x1b[0m force=1\n"),
        "{forced:?}"
    );
    let vetoed = run(&[("FORCE_COLOR", "1"), ("NO_COLOR", "1")]);
    assert!(
        vetoed.starts_with("[c] force=1\n"),
        "NO_COLOR wins over FORCE_COLOR: {vetoed:?}"
    );
}

/// `--color auto|always|never`, nothing else: `auto` follows the environment (it used to
/// mean never, as did any word but `always`), a typo is a usage error.
#[test]
fn the_color_flag_takes_auto_always_or_never() {
    let dir = tempfile::tempdir().unwrap();
    let run = |color: &str, env: &[(&str, &str)]| {
        let mut cmd = supervise(dir.path(), &["--color", color, "c=echo hi"]);
        cmd.envs(env.iter().copied());
        finish(cmd.spawn().unwrap())
    };
    let coloured = "\x1b[36m[c]\x1b[0m hi\n";
    let (_, text) = run("auto", &[("FORCE_COLOR", "1")]);
    assert!(
        text.starts_with(coloured),
        "auto honours FORCE_COLOR: {text:?}"
    );
    let (_, text) = run("always", &[]);
    assert!(text.starts_with(coloured), "{text:?}");
    let (_, text) = run("never", &[("FORCE_COLOR", "1")]);
    assert!(text.starts_with("[c] hi\n"), "{text:?}");
    let (out, _) = run("sometimes", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sometimes"), "{stderr}");
}

/// Commands that exit at once, while the supervisor reaps adopted orphans on every
/// SIGCHLD: a child that became a zombie before it was registered as ours used to be
/// reaped by that sweep, and its owner's wait then failed with "cannot control `c` (pid
/// N): No child processes" (seen in CI). Forty instant commands per run, ten runs.
#[test]
fn commands_that_exit_at_once_are_never_reaped_from_under_their_owner() {
    let dir = tempfile::tempdir().unwrap();
    let commands: Vec<String> = (0..40).map(|i| format!("p{i}=true")).collect();
    let mut args = vec!["--color", "never"];
    args.extend(commands.iter().map(String::as_str));
    for round in 0..10 {
        let (out, text) = finish(supervise(dir.path(), &args).spawn().unwrap());
        assert!(
            out.status.success() && !text.contains("cannot control"),
            "round {round}: {:?}\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(text.matches("exited with code 0").count(), 40, "{text}");
    }
}

#[test]
fn kill_others_on_failure_stops_the_rest_and_returns_the_real_code() {
    let dir = tempfile::tempdir().unwrap();
    let (out, text) = finish(
        supervise(
            dir.path(),
            &[
                "--color",
                "never",
                "--kill-others",
                "on-failure",
                "server=echo $$ > server.pid; sleep 300 & wait",
                "build=until [ -s server.pid ]; do sleep 0.01; done; exit 4",
            ],
        )
        .spawn()
        .unwrap(),
    );
    assert_eq!(out.status.code(), Some(4), "{text}");
    let server = pids(&dir.path().join("server.pid"))[0];
    assert_all_gone(&[server], "after kill-others");
    assert!(text.contains("[build]  exited with code 4"), "{text}");
    assert!(
        text.contains("[server] stopped (killed by SIGTERM)"),
        "{text}"
    );
}

#[test]
fn a_failing_process_is_restarted_up_to_the_limit_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let (out, text) = finish(
        supervise(
            dir.path(),
            &[
                "--color",
                "never",
                "--restart",
                "2",
                "flaky=echo run >> runs; exit 4",
            ],
        )
        .spawn()
        .unwrap(),
    );
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("runs"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    assert!(text.contains("restarting in 50 ms (1/2)"), "{text}");
    assert!(text.contains("restarting in 100 ms (2/2)"), "{text}");
}

#[test]
fn a_process_that_succeeds_is_not_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let (out, text) = finish(
        supervise(
            dir.path(),
            &["--color", "never", "--restart", "5", "ok=echo run >> runs"],
        )
        .spawn()
        .unwrap(),
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("runs"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[test]
fn a_watch_job_runs_beside_processes_and_its_group_is_stopped_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let watch = format!(
        "css:{}=echo $$ >> leaders; sleep 300 & echo $! >> kids; wait",
        src.display()
    );
    let mut child = supervise(
        dir.path(),
        &[
            "--color",
            "never",
            "--watch",
            &watch,
            "server=echo $$ >> leaders; exec sleep 300",
        ],
    )
    .spawn()
    .unwrap();
    let _guard = KillOnDrop(child.id());
    let output = OutputLines::of(&mut child);
    output.wait_line("[css]    watching 1 directory");
    wait_until_blocking("the initial run and the server", || {
        pids(&dir.path().join("leaders")).len() == 2
    });
    // The watch job's command is still running: a change is queued behind it, so the
    // group we stop on SIGINT is the first run's.
    std::fs::write(src.join("a.css"), "x").unwrap();
    let mut all = pids(&dir.path().join("leaders"));
    all.extend(pids(&dir.path().join("kids")));
    kill(Pid::from_raw(child.id().cast_signed()), Signal::SIGINT).unwrap();
    output.wait_line("[css]    stopped (killed by SIGINT)");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_all_gone(&all, "after SIGINT with a watch job");
}

#[test]
fn hitting_the_inotify_watch_limit_is_an_error_naming_the_sysctl() {
    // A real kernel limit: inside a new user namespace /proc/sys/user/max_inotify_watches
    // belongs to us, so it can be lowered without touching the machine-wide sysctl.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        std::fs::create_dir_all(dir.path().join(format!("tree/d{i:02}"))).unwrap();
    }
    let watch = format!("w:{}=true", dir.path().join("tree").display());
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c"])
        .arg(r#"echo 5 > /proc/sys/user/max_inotify_watches && exec "$0" "$@""#)
        .arg(supervise_bin())
        .args(["--color", "never", "--watch", &watch])
        .output()
        .expect("unshare (util-linux) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("unshare failed") && !err.contains("Permission denied"),
        "cannot create a user namespace here: {err}"
    );
    assert!(
        text.contains("inotify watch limit reached after 5 watches"),
        "stdout: {text}\nstderr: {err}"
    );
    assert!(text.contains("fs.inotify.max_user_watches"), "{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
}

/// `DevConfig` end to end, in process: paths and commands are relative to the file's
/// directory, `env` reaches the command, and kill-others on exit ends the watch job.
#[cfg(feature = "config")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_toml_runs_relative_to_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    let path = dir.path().join("dev.toml");
    std::fs::write(
        &path,
        r#"
        [settings]
        kill_others = "on-exit"
        color = "never"

        [[watch]]
        name = "build"
        paths = ["src"]
        command = "echo built >> build.log"

        [[process]]
        name = "once"
        command = "until [ -s build.log ]; do sleep 0.01; done; printf '%s' \"$GREETING\" > greeting.txt; exit 6"
        env = { GREETING = "hello" }
        "#,
    )
    .unwrap();
    // No signal handlers: they would outlive the test and keep Ctrl-C from the harness.
    let supervisor = preflight_asset_watch::DevConfig::from_file(&path)
        .unwrap()
        .builder()
        .unwrap()
        .handle_signals(false)
        .build()
        .unwrap();
    let outcome = tokio::time::timeout(crate::support::PATIENCE, supervisor.run())
        .await
        .expect("the supervisor must end when `once` exits")
        .unwrap();
    assert_eq!(outcome.exit_code(), 6);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("greeting.txt")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("build.log")).unwrap(),
        "built\n"
    );
    let build = outcome
        .processes
        .iter()
        .find(|p| p.name == "build")
        .unwrap();
    assert!(build.stopped, "{build:?}");
}

#[test]
fn a_kernel_queue_overflow_becomes_a_rescan_run() {
    // A real IN_Q_OVERFLOW: the supervisor is stopped (SIGSTOP) while far more events
    // than fs.inotify.max_queued_events pile up in the kernel, then resumed.
    let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(16384);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let watch = format!("w:{}=echo \"kind=$PREFLIGHT_CHANGE_KIND\"", src.display());
    let mut child = supervise(dir.path(), &["--color", "never", "--watch", &watch])
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let output = OutputLines::of(&mut child);
    output.wait_line("[w] kind=initial");
    let pid = Pid::from_raw(child.id().cast_signed());
    kill(pid, Signal::SIGSTOP).unwrap();
    // Each new file is at least CREATE + MODIFY + CLOSE_WRITE (plus OPEN).
    for i in 0..(limit / 2) {
        std::fs::write(src.join(format!("f{i:05}.css")), "x").unwrap();
    }
    kill(pid, Signal::SIGCONT).unwrap();
    // The command's own line may come before or after the status line of its start.
    let mut seen = (false, false);
    while seen != (true, true) {
        let line = output.wait_for("the rescan run", |l| {
            l == "[w] events were lost: rebuilding everything" || l == "[w] kind=rescan"
        });
        if line.contains("events were lost") {
            seen.0 = true;
        } else {
            seen.1 = true;
        }
    }
    kill(pid, Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
}

#[test]
fn typed_lines_are_routed_by_name_and_the_end_of_input_reaches_only_the_default_target() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = supervise(
        dir.path(),
        &[
            "--color",
            "never",
            "--kill-others",
            "on-exit",
            "--stdin",
            "reader",
            "reader=cat",
            "other=cat; echo other-saw-eof",
        ],
    );
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let _guard = KillOnDrop(child.id());
    let mut input = child.stdin.take().unwrap();
    let output = OutputLines::of(&mut child);
    input.write_all(b"first line\nother:for oth").unwrap();
    input.write_all(b"er\nsecond").unwrap();
    input.write_all(b" half\n").unwrap();
    // `other` echoes its line before the end of input stops it (kill-others): wait for
    // the echo, or a loaded machine may stop `other` before its `cat` has run at all.
    output.wait_line("[other]  for other");
    // Closing our input must reach the default target as end of file, or `cat` would
    // never exit; kill-others then stops `other`, whose stdin is still open.
    drop(input);
    let text = output.rest();
    let status = child.wait().unwrap();
    assert!(status.success(), "{text}");
    assert!(
        text.contains("[reader] first line\n[reader] second half\n"),
        "{text:?}"
    );
    assert!(text.contains("[other]  for other\n"), "{text:?}");
    assert!(!text.contains("other-saw-eof"), "{text:?}");
    assert!(
        text.contains("[other]  stopped (killed by SIGTERM)"),
        "{text:?}"
    );
}

/// The inode of a pipe as `/proc/PID/fd/N` shows it (`pipe:[123]`).
fn fd_link(pid: u32, fd: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

#[test]
fn every_process_has_an_open_stdin_pipe_held_by_the_supervisor() {
    // esbuild --watch and tailwindcss --watch exit when stdin closes: without input
    // handling, every process still reads a pipe whose write end the supervisor holds.
    let dir = tempfile::tempdir().unwrap();
    let mut child = supervise(
        dir.path(),
        &[
            "--color",
            "never",
            "a=echo $$ > a.pid; exec cat",
            "b=echo $$ > b.pid; exec cat",
        ],
    )
    .spawn()
    .unwrap();
    let _guard = KillOnDrop(child.id());
    let output = OutputLines::of(&mut child);
    wait_until_blocking("both processes to start", || {
        pids(&dir.path().join("a.pid")).len() == 1 && pids(&dir.path().join("b.pid")).len() == 1
    });
    let supervisor = child.id();
    for name in ["a.pid", "b.pid"] {
        let pid = pids(&dir.path().join(name))[0];
        let stdin = fd_link(pid, "0").unwrap();
        assert!(stdin.starts_with("pipe:"), "{name}: stdin is {stdin}");
        let held = std::fs::read_dir(format!("/proc/{supervisor}/fd"))
            .unwrap()
            .flatten()
            .any(|e| {
                fd_link(supervisor, &e.file_name().to_string_lossy()).as_deref() == Some(&stdin)
            });
        assert!(held, "{name}: the supervisor holds no end of {stdin}");
        assert!(alive(pid), "{name} ended: its stdin was closed");
    }
    kill(Pid::from_raw(supervisor.cast_signed()), Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    output.wait_line("[a] stopped (killed by SIGTERM)");
}

#[test]
fn a_background_job_is_stopped_when_its_command_ends_and_before_the_supervisor_exits() {
    // `"sleep 2.5 & echo started"`: the shell exits at once; its job must not outlive it.
    let dir = tempfile::tempdir().unwrap();
    let (out, text) = finish(
        supervise(
            dir.path(),
            &[
                "--color",
                "never",
                "bg=sleep 300 & echo $! > bg.pid; echo started",
            ],
        )
        .spawn()
        .unwrap(),
    );
    assert!(out.status.success(), "{text}");
    let bg = pids(&dir.path().join("bg.pid"))[0];
    // No waiting: the supervisor returns only when every descendant is gone.
    assert!(!alive(bg), "the background sleep {bg} survived: {text}");
    assert!(text.contains("[bg] started"), "{text}");
    assert!(
        text.contains(&format!(
            "[bg] started\n[bg] stopped 1 leftover process (pid {bg}) after the command ended\n[bg] exited with code 0"
        )),
        "{text}"
    );
}

#[test]
fn setsid_and_double_forked_descendants_are_adopted_and_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = supervise(
        dir.path(),
        &[
            "--color",
            "never",
            // A new session and process group: out of reach of a group signal.
            "escapee=setsid sh -c 'echo $$ > setsid.pid; exec sleep 300' & \
             until [ -s setsid.pid ]; do sleep 0.01; done; echo escaped",
            // Double fork: the middle shell exits, the sleep is orphaned while the
            // command still runs, and the subreaper adopts it.
            "daemon=(sh -c 'echo $$ > orphan.pid; exec sleep 300' &); \
             until [ -s orphan.pid ]; do sleep 0.01; done; echo $$ > daemon.pid; exec sleep 300",
        ],
    )
    .spawn()
    .unwrap();
    let _guard = KillOnDrop(child.id());
    let output = OutputLines::of(&mut child);
    let supervisor = child.id();
    // Reported once the leftovers are gone.
    output.wait_line("[escapee] stopped 1 leftover process");
    let setsid = pids(&dir.path().join("setsid.pid"))[0];
    assert!(
        !alive(setsid),
        "the setsid escapee {setsid} survived its command"
    );
    wait_until_blocking("the double-forked daemon", || {
        pids(&dir.path().join("daemon.pid")).len() == 1
    });
    let orphan = pids(&dir.path().join("orphan.pid"))[0];
    let ppid = std::fs::read_to_string(format!("/proc/{orphan}/stat"))
        .unwrap()
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned))
        .unwrap();
    assert_eq!(
        ppid,
        supervisor.to_string(),
        "the orphan was not adopted by the supervisor"
    );
    kill(Pid::from_raw(supervisor.cast_signed()), Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert!(
        !alive(orphan),
        "the double-forked orphan {orphan} survived the supervisor"
    );
}

#[test]
fn a_watch_run_that_backgrounds_a_process_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let watch = format!("w:{}=sleep 1033 & echo $! >> bg; echo x", src.display());
    let mut child = supervise(dir.path(), &["--color", "never", "--watch", &watch])
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let output = OutputLines::of(&mut child);
    output.wait_line("[w] done: exited with code 0");
    let bg = pids(&dir.path().join("bg"));
    assert_eq!(bg.len(), 1);
    assert!(!alive(bg[0]), "the run's background sleep survived the run");
    kill(Pid::from_raw(child.id().cast_signed()), Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
}

#[test]
fn raw_hide_group_and_prefix_templates_shape_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--color", "never"];
        all.extend(args);
        let (out, text) = finish(supervise(dir.path(), &all).spawn().unwrap());
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    // Raw: the processes' bytes only, no prefix, no status line.
    assert_eq!(run(&["--raw", "a=printf 'hello\\n'"]), "hello\n");
    // Hidden: the output is dropped, the status lines stay.
    let text = run(&["--hide", "a", "a=echo secret", "b=echo shown"]);
    assert!(!text.contains("secret"), "{text}");
    assert!(
        text.contains("[a] exited with code 0") && text.contains("[b] shown"),
        "{text}"
    );
    // Grouped: b's output waits until a has ended, though b ends first.
    let text = run(&[
        "--group",
        "a=until [ -s b.done ]; do sleep 0.01; done; echo from-a",
        "b=echo from-b; echo x > b.done",
    ]);
    let (a, b) = (
        text.find("[a] from-a").unwrap(),
        text.find("[b] from-b").unwrap(),
    );
    assert!(a < b, "{text}");
    // Templates: index, name and pid.
    let text = run(&["--prefix", "{index}:{name}:{pid}|", "a=echo $$"]);
    let line = text.lines().next().unwrap();
    let (prefix, pid) = line.split_once("| ").unwrap();
    assert_eq!(prefix, format!("0:a:{pid}"), "{text}");
}
