//! The supervisor's rules on a scripted fake process and tokio's paused clock: restart,
//! kill-others, success rules, input routing and `--max-processes`, in milliseconds and
//! without real processes. What only real processes show (signals, process groups,
//! leftovers, stdin pipes) is tested in `tests/asset_watch/side_by_side.rs`.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::launch::{Launch, Run};
use super::*;
use crate::command::Command;
use crate::outcome::Success;
use crate::output::ColorChoice;
use crate::restart::Restart;

/// What one run of a fake process does.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Exits with this code after this many milliseconds.
    Exit(u64, i32),
    /// Runs until stopped.
    Forever,
    /// Exits with this code once its stdin is closed.
    UntilInputEnd(i32),
}

#[derive(Default)]
struct Fake {
    scripts: Mutex<HashMap<String, VecDeque<Script>>>,
    log: Arc<Mutex<Vec<String>>>,
    epoch: Mutex<Option<Instant>>,
}

impl Fake {
    fn script(self, name: &str, runs: &[Script]) -> Self {
        self.scripts
            .lock()
            .unwrap()
            .insert(name.to_owned(), runs.iter().copied().collect());
        self
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn ms(&self) -> u128 {
        let epoch = *self.epoch.lock().unwrap().get_or_insert_with(Instant::now);
        epoch.elapsed().as_millis()
    }
}

struct FakeRun {
    name: String,
    script: Script,
    started: Instant,
    input_ended: bool,
    log: Arc<Mutex<Vec<String>>>,
}

impl Launch for Fake {
    type Run = FakeRun;

    async fn start(
        &self,
        spec: &ProcessSpec,
        _output: &Output,
        _leftovers: Stop,
        _scope: &str,
    ) -> Result<FakeRun> {
        let script = {
            let mut scripts = self.scripts.lock().unwrap();
            let queue = scripts.get_mut(&spec.name).expect("a script per process");
            if queue.len() > 1 {
                queue.pop_front().unwrap()
            } else {
                queue[0]
            }
        };
        let at = self.ms();
        self.log
            .lock()
            .unwrap()
            .push(format!("{at} start {}", spec.name));
        Ok(FakeRun {
            name: spec.name.clone(),
            script,
            started: Instant::now(),
            input_ended: false,
            log: Arc::clone(&self.log),
        })
    }
}

impl Run for FakeRun {
    async fn wait(&mut self) -> Result<Exit> {
        match self.script {
            Script::Exit(ms, code) => {
                tokio::time::sleep_until(self.started + Duration::from_millis(ms)).await;
                Ok(Exit::Code(code))
            }
            Script::UntilInputEnd(code) if self.input_ended => Ok(Exit::Code(code)),
            Script::UntilInputEnd(_) | Script::Forever => std::future::pending().await,
        }
    }

    async fn stop(
        &mut self,
        stop: Stop,
        _escalate: impl Future<Output = ()> + Send,
    ) -> Result<Exit> {
        self.log
            .lock()
            .unwrap()
            .push(format!("stop {} {}", self.name, stop.signal));
        Ok(Exit::Signal(stop.signal.number()))
    }

    fn feed(&mut self, bytes: Vec<u8>) {
        self.log.lock().unwrap().push(format!(
            "input {} {:?}",
            self.name,
            String::from_utf8_lossy(&bytes)
        ));
    }

    fn close_input(&mut self) {
        self.input_ended = true;
        self.log.lock().unwrap().push(format!("eof {}", self.name));
    }

    fn duration(&self) -> Duration {
        self.started.elapsed()
    }
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn builder(names: &[&str]) -> SupervisorBuilder {
    names.iter().fold(
        Supervisor::builder()
            .handle_signals(false)
            .color(ColorChoice::Never),
        |b, n| b.process(ProcessSpec::new(*n, Command::shell("unused"))),
    )
}

async fn run(
    b: SupervisorBuilder,
    fake: Fake,
    input: Option<&[u8]>,
) -> (Outcome, Arc<Fake>, String) {
    let fake = Arc::new(fake);
    let buf = Buf::default();
    let source = input.map(|bytes| {
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(bytes.to_vec()).unwrap();
        rx
    });
    fake.ms();
    let outcome = b
        .build()
        .unwrap()
        .run_to(Sink::new(Box::new(buf.clone())), Arc::clone(&fake), source)
        .await
        .unwrap();
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (outcome, fake, text)
}

#[tokio::test(start_paused = true)]
async fn a_failing_process_restarts_after_a_fixed_delay_up_to_the_limit() {
    let b = builder(&[]).process(ProcessSpec::new("flaky", Command::shell("unused")).restart(
        Restart::tries(2).backoff(Duration::from_millis(100), Duration::from_millis(100)),
    ));
    let (outcome, fake, text) = run(
        b,
        Fake::default().script("flaky", &[Script::Exit(0, 4)]),
        None,
    )
    .await;
    assert_eq!(outcome.exit_code(), 4);
    assert_eq!(outcome.processes[0].restarts, 2);
    assert_eq!(
        fake.log(),
        ["0 start flaky", "100 start flaky", "200 start flaky"]
    );
    assert!(text.contains("restarting in 100 ms (1/2)"), "{text}");
    assert!(text.contains("restarting in 100 ms (2/2)"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn kill_others_on_failure_stops_the_rest_and_does_not_restart_them() {
    let b = builder(&[])
        .process(ProcessSpec::new("server", Command::shell("unused")).restart(Restart::forever()))
        .process(ProcessSpec::new("build", Command::shell("unused")))
        .kill_others(KillOthers::OnFailure);
    let fake = Fake::default()
        .script("server", &[Script::Forever])
        .script("build", &[Script::Exit(50, 3)]);
    let (outcome, fake, _) = run(b, fake, None).await;
    assert_eq!(outcome.exit_code(), 3, "{outcome:?}");
    assert_eq!(
        fake.log(),
        ["0 start server", "0 start build", "stop server SIGTERM"]
    );
    let server = &outcome.processes[0];
    assert!(server.stopped && server.restarts == 0, "{server:?}");
}

#[tokio::test(start_paused = true)]
async fn processes_stopped_by_kill_others_are_not_failures() {
    let b = builder(&["server", "once"]).kill_others(KillOthers::OnExit);
    let fake = Fake::default()
        .script("server", &[Script::Forever])
        .script("once", &[Script::Exit(10, 0)]);
    let (outcome, _, _) = run(b, fake, None).await;
    assert_eq!(outcome.processes[0].exit, Some(Exit::Signal(15)));
    assert_eq!(outcome.exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn each_success_rule_picks_its_code_in_the_order_processes_ended() {
    // a exits 3 first, b 5 second, c 0 last: ordered by the (paused) clock, not by sleeps.
    for (rule, expected) in [
        ("all", 3),
        ("first", 3),
        ("last", 0),
        ("command-b", 5),
        ("command-1", 5),
        ("!command-a", 5),
        ("command-c", 0),
    ] {
        let b = builder(&["a", "b", "c"]).success(rule.parse::<Success>().unwrap());
        let fake = Fake::default()
            .script("a", &[Script::Exit(10, 3)])
            .script("b", &[Script::Exit(20, 5)])
            .script("c", &[Script::Exit(30, 0)]);
        let (outcome, _, _) = run(b, fake, None).await;
        assert_eq!(outcome.exit_code(), expected, "--success {rule}");
    }
}

#[tokio::test(start_paused = true)]
async fn typed_lines_go_to_the_named_process_or_the_default_target() {
    let b = builder(&["server", "css"])
        .handle_input(true)
        .default_input_target("css")
        .kill_others(KillOthers::OnExit);
    let fake = Fake::default()
        .script("server", &[Script::Forever])
        .script("css", &[Script::UntilInputEnd(0)]);
    let (outcome, fake, _) = run(b, fake, Some(b"server:rs\n0:again\nhello\n")).await;
    assert_eq!(outcome.exit_code(), 0);
    let log = fake.log();
    let inputs: Vec<&String> = log.iter().filter(|l| !l.contains("start")).collect();
    assert_eq!(
        inputs,
        [
            "input server \"rs\\n\"",
            "input server \"again\\n\"",
            "input css \"hello\\n\"",
            "eof css",
            "stop server SIGTERM",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn max_processes_starts_the_next_only_when_one_ends() {
    let b = builder(&["a", "b", "c"]).max_processes(2);
    let fake = Fake::default()
        .script("a", &[Script::Exit(10, 0)])
        .script("b", &[Script::Exit(30, 0)])
        .script("c", &[Script::Exit(10, 0)]);
    let (outcome, fake, _) = run(b, fake, None).await;
    assert_eq!(outcome.exit_code(), 0);
    assert_eq!(fake.log(), ["0 start a", "0 start b", "10 start c"]);
}

#[tokio::test(start_paused = true)]
async fn timings_and_hidden_output_and_prefix_templates() {
    let b = builder(&[])
        .process(ProcessSpec::new("web", Command::shell("unused")))
        .prefix("{index}-{name}")
        .timings(true);
    let fake = Fake::default().script("web", &[Script::Exit(1500, 2)]);
    let (outcome, _, text) = run(b, fake, None).await;
    assert_eq!(outcome.exit_code(), 2);
    assert!(
        text.contains("0-web exited with code 2 after 1.50 s"),
        "{text}"
    );
    assert!(text.contains("web  │ 1.50 s   │ 2"), "{text}");
}
