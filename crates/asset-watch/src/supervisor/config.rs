//! What a supervisor runs and by which rules: [`ProcessSpec`], [`KillOthers`] and the
//! validating [`SupervisorBuilder`].

use std::collections::HashSet;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::job::Job;
use crate::outcome::Success;
use crate::output::ColorChoice;
use crate::process::Stop;
use crate::restart::Restart;
use crate::watcher::Watch;

use super::Supervisor;

/// When one process ending stops the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KillOthers {
    /// Never; the supervisor ends when everything has ended (or on a signal).
    #[default]
    Never,
    /// When any process ends on its own, whatever its code (`concurrently -k`).
    OnExit,
    /// When a process fails (after its restarts are used up) or a watch job breaks
    /// (`--kill-others-on-fail`).
    OnFailure,
}

impl std::str::FromStr for KillOthers {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "never" => Ok(Self::Never),
            "on-exit" | "exit" => Ok(Self::OnExit),
            "on-failure" | "on-fail" | "failure" => Ok(Self::OnFailure),
            other => Err(Error::config(format!(
                "unknown kill-others mode `{other}` (use never, on-exit or on-failure)"
            ))),
        }
    }
}

/// A long-running process (a dev server) to run beside the others.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProcessSpec {
    pub(crate) name: String,
    pub(crate) command: Command,
    pub(crate) restart: Restart,
    pub(crate) stdin: bool,
    pub(crate) color: Option<String>,
    pub(crate) hide: bool,
}

impl ProcessSpec {
    /// A process named `name` (used in prefixes, input routing and success rules).
    pub fn new(name: impl Into<String>, command: Command) -> Self {
        Self {
            name: name.into(),
            command,
            restart: Restart::never(),
            stdin: false,
            color: None,
            hide: false,
        }
    }

    /// Restart policy on failure.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Makes this process the default input target and turns input handling on
    /// ([`SupervisorBuilder::handle_input`]): lines typed without a `name:` prefix go
    /// to it, and the end of our input closes its stdin. At most one process may.
    ///
    /// Every process has an open stdin either way (a pipe the supervisor holds): watch
    /// compilers such as `esbuild --watch` exit when their stdin closes.
    pub fn stdin(mut self, yes: bool) -> Self {
        self.stdin = yes;
        self
    }

    /// The prefix colour: a name (`red`, `bgBlue`, `gray`), modifiers joined by dots
    /// (`bold.red`), a hex colour (`#ff8800`) or `auto` (default: the palette, by
    /// position). Overrides [`SupervisorBuilder::prefix_colors`] for this process.
    pub fn color(mut self, color: impl Into<String>) -> Self {
        self.color = Some(color.into());
        self
    }

    /// Drops this process's output (`concurrently --hide`); its status lines stay.
    pub fn hide(mut self, yes: bool) -> Self {
        self.hide = yes;
        self
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Process(ProcessSpec),
    Watch {
        name: String,
        watch: Watch,
        job: Job,
    },
}

impl Entry {
    pub(crate) fn name(&self) -> &str {
        match self {
            Self::Process(p) => &p.name,
            Self::Watch { name, .. } => name,
        }
    }

    pub(crate) fn command_line(&self) -> String {
        match self {
            Self::Process(p) => p.command.to_string(),
            Self::Watch { job, .. } => job.command().to_string(),
        }
    }
}

/// Builder for [`Supervisor`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SupervisorBuilder {
    pub(crate) entries: Vec<Entry>,
    pub(crate) success: Success,
    pub(crate) kill_others: KillOthers,
    pub(crate) color: ColorChoice,
    pub(crate) stop: Stop,
    pub(crate) no_signals: bool,
    pub(crate) handle_input: bool,
    pub(crate) default_target: Option<String>,
    pub(crate) prefix: Option<String>,
    pub(crate) timestamp_format: Option<String>,
    pub(crate) prefix_colors: Vec<String>,
    pub(crate) raw: bool,
    pub(crate) max_processes: Option<usize>,
    pub(crate) teardown: Vec<Command>,
    pub(crate) timings: bool,
    pub(crate) group: bool,
}

impl SupervisorBuilder {
    /// Adds a long-running process.
    pub fn process(mut self, spec: ProcessSpec) -> Self {
        self.entries.push(Entry::Process(spec));
        self
    }

    /// Adds a watch job: `job` runs on every batch of changes from `watch`.
    pub fn watch(mut self, name: impl Into<String>, watch: Watch, job: Job) -> Self {
        self.entries.push(Entry::Watch {
            name: name.into(),
            watch,
            job,
        });
        self
    }

    /// Which exits decide the exit code (default [`Success::All`]).
    pub fn success(mut self, success: Success) -> Self {
        self.success = success;
        self
    }

    /// When one process ending stops the others (default [`KillOthers::Never`]).
    pub fn kill_others(mut self, mode: KillOthers) -> Self {
        self.kill_others = mode;
        self
    }

    /// Prefix colours (default [`ColorChoice::Auto`]).
    pub fn color(mut self, color: ColorChoice) -> Self {
        self.color = color;
        self
    }

    /// How processes are stopped by kill-others, and how leftovers of an ended process
    /// are stopped; on SIGINT/SIGTERM/SIGHUP the received signal is forwarded instead,
    /// with the same grace period.
    pub fn stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Whether [`Supervisor::run`] handles SIGINT, SIGTERM and SIGHUP (default `true`).
    pub fn handle_signals(mut self, yes: bool) -> Self {
        self.no_signals = !yes;
        self
    }

    /// Reads our stdin and routes it, line by line, as `concurrently -i` does: a line
    /// `name:text` or `index:text` goes (as `text`) to that process, any other line to
    /// the default target ([`SupervisorBuilder::default_input_target`], else the
    /// process marked with [`ProcessSpec::stdin`], else the first).
    pub fn handle_input(mut self, yes: bool) -> Self {
        self.handle_input = yes;
        self
    }

    /// The process (name or index) that receives input lines without a prefix.
    pub fn default_input_target(mut self, target: impl Into<String>) -> Self {
        self.default_target = Some(target.into());
        self
    }

    /// The prefix template (`concurrently -p`): `index`, `name` (default, padded),
    /// `pid`, `time`, `command`, `none`, or a template with `{index}`, `{name}`,
    /// `{command}`, `{pid}`, `{time}`.
    pub fn prefix(mut self, template: impl Into<String>) -> Self {
        self.prefix = Some(template.into());
        self
    }

    /// The format of `{time}` (`concurrently -t`; date-fns tokens `yyyy MM dd HH mm
    /// ss SSS`, UTC). Default [`crate::DEFAULT_TIMESTAMP_FORMAT`].
    pub fn timestamp_format(mut self, format: impl Into<String>) -> Self {
        self.timestamp_format = Some(format.into());
        self
    }

    /// Prefix colours by position (`concurrently -c`); the last applies to the rest.
    pub fn prefix_colors<S: Into<String>>(mut self, colors: impl IntoIterator<Item = S>) -> Self {
        self.prefix_colors = colors.into_iter().map(Into::into).collect();
        self
    }

    /// Output goes straight through, unprefixed, and no status lines are printed
    /// (`concurrently --raw`).
    pub fn raw(mut self, yes: bool) -> Self {
        self.raw = yes;
        self
    }

    /// At most `n` processes run at once (`concurrently -m`); the others wait, in order,
    /// for one to end. Watch jobs do not count.
    pub fn max_processes(mut self, n: usize) -> Self {
        self.max_processes = Some(n);
        self
    }

    /// A command run after everything has ended, however it ended (`--teardown`);
    /// several run one after the other, in order.
    pub fn teardown(mut self, command: Command) -> Self {
        self.teardown.push(command);
        self
    }

    /// Orders the output as if the entries ran one after the other (`concurrently
    /// --group`): an entry's output is held until every entry before it has ended.
    pub fn group(mut self, yes: bool) -> Self {
        self.group = yes;
        self
    }

    /// Prints a table of how long each process ran and how it ended (`--timings`).
    pub fn timings(mut self, yes: bool) -> Self {
        self.timings = yes;
        self
    }

    /// Validates names and rules; every problem is listed.
    pub fn build(self) -> Result<Supervisor> {
        let mut problems = Vec::new();
        if self.entries.is_empty() {
            problems.push("nothing to run: add a process or a watch job".to_owned());
        }
        let mut seen = HashSet::new();
        for entry in &self.entries {
            let name = entry.name();
            if name.trim().is_empty() {
                problems.push("a process has an empty name".to_owned());
            } else if name.contains(':') {
                problems.push(format!(
                    "process name `{name}` contains `:`, which input routing reserves"
                ));
            } else if !seen.insert(name) {
                problems.push(format!("two processes are named `{name}`"));
            }
        }
        let readers: Vec<&str> = self
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Process(p) if p.stdin => Some(p.name.as_str()),
                _ => None,
            })
            .collect();
        if readers.len() > 1 {
            problems.push(format!(
                "only one process can be the default input target, not {}",
                readers.join(", ")
            ));
        }
        let find = |id: &str| {
            self.entries
                .iter()
                .position(|e| e.name() == id)
                .or_else(|| id.parse::<usize>().ok().filter(|&i| i < self.entries.len()))
        };
        if let Success::Named(n) | Success::AllExcept(n) = &self.success
            && find(n).is_none()
        {
            problems.push(format!(
                "success condition names `{n}`, which is not a process"
            ));
        }
        let mut default_target = readers.first().and_then(|r| find(r)).unwrap_or(0);
        if let Some(t) = &self.default_target {
            match find(t) {
                Some(i) if matches!(self.entries[i], Entry::Process(_)) => default_target = i,
                Some(_) => problems.push(format!(
                    "default input target `{t}` is a watch job, which reads no input"
                )),
                None => problems.push(format!(
                    "default input target `{t}` is not a process name or index"
                )),
            }
        }
        if self.max_processes == Some(0) {
            problems.push("max processes must be at least 1".to_owned());
        }
        let fields: Vec<String> = self.entries.iter().map(Entry::command_line).collect();
        let fields: Vec<crate::prefix::Fields<'_>> = self
            .entries
            .iter()
            .zip(&fields)
            .enumerate()
            .map(|(index, (e, command))| crate::prefix::Fields {
                index,
                name: e.name(),
                command,
            })
            .collect();
        let colors = self.colors();
        if let Err(Error::Config { problems: p }) = crate::prefix::Prefix::build_all(
            &fields,
            self.prefix.as_deref(),
            self.timestamp_format.as_deref(),
            &colors,
            true,
        ) {
            problems.extend(p);
        }
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        let handle_input = self.handle_input || !readers.is_empty();
        Ok(Supervisor {
            config: std::sync::Arc::new(self),
            handle_input,
            default_target,
        })
    }

    /// Per-entry colour specs: the process's own, else the positional list.
    pub(crate) fn colors(&self) -> Vec<String> {
        let fallback = |i: usize| {
            self.prefix_colors
                .get(i)
                .or_else(|| self.prefix_colors.last())
                .cloned()
                .unwrap_or_else(|| "auto".to_owned())
        };
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| match e {
                Entry::Process(ProcessSpec { color: Some(c), .. }) => c.clone(),
                _ => fallback(i),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_process_may_be_the_default_input_target() {
        let err = Supervisor::builder()
            .process(ProcessSpec::new("a", Command::shell("cat")).stdin(true))
            .process(ProcessSpec::new("b", Command::shell("cat")).stdin(true))
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("only one process can be the default input target, not a, b"),
            "{err}"
        );
    }

    #[test]
    fn build_lists_every_problem() {
        let err = Supervisor::builder()
            .process(ProcessSpec::new("a", Command::shell("true")))
            .process(ProcessSpec::new("a", Command::shell("true")))
            .process(ProcessSpec::new("x:y", Command::shell("true")).color("purplish"))
            .success(Success::Named("zz".into()))
            .default_input_target("nope")
            .max_processes(0)
            .build()
            .unwrap_err()
            .to_string();
        for needle in [
            "two processes are named `a`",
            "`zz`",
            "`x:y` contains `:`",
            "purplish",
            "default input target `nope`",
            "max processes",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in {err}");
        }
    }

    #[test]
    fn input_target_and_success_rule_accept_an_index() {
        let s = Supervisor::builder()
            .process(ProcessSpec::new("a", Command::shell("true")))
            .process(ProcessSpec::new("b", Command::shell("true")))
            .default_input_target("1")
            .success(Success::Named("0".into()))
            .build()
            .unwrap();
        assert_eq!(s.default_target, 1);
        assert!(!s.handle_input);
        let s = Supervisor::builder()
            .process(ProcessSpec::new("a", Command::shell("true")))
            .process(ProcessSpec::new("b", Command::shell("true")).stdin(true))
            .build()
            .unwrap();
        assert_eq!(s.default_target, 1);
        assert!(s.handle_input);
    }
}
