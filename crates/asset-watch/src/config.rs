//! `dev.toml`: a side-by-side setup (watch jobs and processes) read from a file.
//!
//! Relative paths (watched paths, `cwd`) are resolved against the file's directory, and
//! commands run there, so `dev --config path/to/project/dev.toml` works from anywhere.
//! Unknown keys are errors (a typo must not silently do nothing), and every value problem
//! found is reported at once, each naming its key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::job::{Job, OnBusy};
use crate::outcome::Success;
use crate::output::ColorChoice;
use crate::process::{Stop, StopSignal};
use crate::restart::Restart;
use crate::supervisor::{KillOthers, ProcessSpec, Supervisor, SupervisorBuilder};
use crate::watcher::Watch;

/// A parsed `dev.toml`.
///
/// ```
/// use preflight_asset_watch::DevConfig;
/// let toml = r#"
///     [settings]
///     kill_others = "on-failure"
///
///     [[process]]
///     name = "server"
///     command = "python3 -m http.server 8000"
///     restart = 3
/// "#;
/// let config = DevConfig::from_toml(toml, std::env::temp_dir().join("dev.toml"))?;
/// let supervisor = config.supervisor()?;
/// # let _ = supervisor;
/// # Ok::<(), preflight_asset_watch::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DevConfig {
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    watch: Vec<WatchEntry>,
    #[serde(default)]
    process: Vec<ProcessEntry>,
    #[serde(skip)]
    base: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    success: Option<String>,
    kill_others: Option<String>,
    color: Option<String>,
    stop_signal: Option<String>,
    grace: Option<String>,
    prefix: Option<String>,
    timestamp_format: Option<String>,
    #[serde(default)]
    raw: bool,
    max_processes: Option<usize>,
    #[serde(default)]
    handle_input: bool,
    default_input_target: Option<String>,
    #[serde(default)]
    teardown: Vec<String>,
    #[serde(default)]
    timings: bool,
    #[serde(default)]
    group: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchEntry {
    name: String,
    paths: Vec<PathBuf>,
    command: CommandLine,
    #[serde(default)]
    extensions: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    debounce: Option<String>,
    poll: Option<String>,
    on_busy: Option<String>,
    #[serde(default)]
    postpone: bool,
    cwd: Option<PathBuf>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RestartSetting {
    Tries(u32),
    Word(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessEntry {
    name: String,
    command: CommandLine,
    restart: Option<RestartSetting>,
    restart_delay: Option<String>,
    restart_max_delay: Option<String>,
    restart_after: Option<String>,
    cwd: Option<PathBuf>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    stdin: bool,
    color: Option<String>,
    #[serde(default)]
    hide: bool,
}

impl DevConfig {
    /// Reads and parses a file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigFile {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses TOML text; `path` names it in errors and anchors relative paths.
    pub fn from_toml(text: &str, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut config: Self = toml::from_str(text).map_err(|e| Error::ConfigSyntax {
            path: path.to_path_buf(),
            message: syntax_message(text, &e),
        })?;
        config.base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(config)
    }

    /// Builds the supervisor. Every problem (bad duration, unknown policy, missing path,
    /// duplicate name) is reported at once, each naming its key.
    pub fn supervisor(&self) -> Result<Supervisor> {
        self.builder()?.build()
    }

    /// The supervisor's builder, for settings the file does not hold (for example
    /// [`SupervisorBuilder::handle_signals`]). Validated like [`DevConfig::supervisor`]:
    /// when this succeeds, `build()` does too.
    pub fn builder(&self) -> Result<SupervisorBuilder> {
        let mut problems = Vec::new();
        let mut builder = Supervisor::builder();
        builder = self.apply_settings(builder, &mut problems);
        for (i, w) in self.watch.iter().enumerate() {
            let key = format!("watch[{i}] ({})", w.name);
            if let Some((watch, job)) = self.watch_entry(w, &key, &mut problems) {
                builder = builder.watch(&w.name, watch, job);
            }
        }
        let mut package_json: Option<Option<String>> = None;
        for (i, p) in self.process.iter().enumerate() {
            let key = format!("process[{i}] ({})", p.name);
            let mut restart = match &p.restart {
                None => Restart::never(),
                Some(RestartSetting::Tries(n)) => Restart::tries(*n),
                Some(RestartSetting::Word(w)) if w == "forever" || w == "always" => {
                    Restart::forever()
                }
                Some(RestartSetting::Word(w)) if w == "never" => Restart::never(),
                Some(RestartSetting::Word(w)) => {
                    problems.push(format!(
                        "{key}.restart: `{w}` is not a number, \"forever\" or \"never\""
                    ));
                    Restart::never()
                }
            };
            let delay = duration(
                p.restart_delay.as_deref(),
                &key,
                "restart_delay",
                &mut problems,
            );
            let max = duration(
                p.restart_max_delay.as_deref(),
                &key,
                "restart_max_delay",
                &mut problems,
            );
            let after = duration(
                p.restart_after.as_deref(),
                &key,
                "restart_after",
                &mut problems,
            );
            if after.is_some() && (delay.is_some() || max.is_some()) {
                problems.push(format!(
                    "{key}: restart_after (a fixed delay) excludes restart_delay and restart_max_delay (a doubling delay)"
                ));
            } else if let Some(after) = after {
                restart = restart.backoff(after, after);
            } else if delay.is_some() || max.is_some() {
                let delay = delay.unwrap_or(restart.delay);
                restart = restart.backoff(delay, max.unwrap_or(restart.max_delay));
            }
            // `npm:dev`, `npm:watch-*`: expanded from the package.json next to the file,
            // as on the command line; a wildcard makes one process per script, named
            // after the match with this entry's name in front.
            let expanded = match &p.command {
                CommandLine::Shell(line) => {
                    let package = package_json.get_or_insert_with(|| {
                        crate::shortcut::read_package_json(&self.base).unwrap_or_else(|e| {
                            problems.push(format!("{key}: {}", crate::error::error_chain(&e)));
                            None
                        })
                    });
                    match crate::shortcut::expand_commands(
                        std::slice::from_ref(line),
                        std::slice::from_ref(&p.name),
                        package.as_deref(),
                        None,
                    ) {
                        Ok(list) => list
                            .into_iter()
                            .map(|c| (c.name, CommandLine::Shell(c.line)))
                            .collect(),
                        Err(e) => {
                            problems.push(prefixed(&key, "command", &e));
                            Vec::new()
                        }
                    }
                }
                argv @ CommandLine::Argv(_) => vec![(p.name.clone(), argv.clone())],
            };
            for (name, line) in expanded {
                let command = self.command(&line, p.cwd.as_deref(), &p.env, &key, &mut problems);
                let mut spec = ProcessSpec::new(name, command)
                    .restart(restart)
                    .stdin(p.stdin)
                    .hide(p.hide);
                if let Some(c) = &p.color {
                    spec = spec.color(c);
                }
                builder = builder.process(spec);
            }
        }
        // A trial build adds the builder's own checks (names, rules) to the list.
        match builder.clone().build() {
            Ok(_) if problems.is_empty() => Ok(builder),
            Ok(_) => Err(Error::Config { problems }),
            Err(Error::Config { problems: more }) => {
                problems.extend(more);
                Err(Error::Config { problems })
            }
            Err(e) => Err(e),
        }
    }

    fn apply_settings(
        &self,
        mut b: SupervisorBuilder,
        problems: &mut Vec<String>,
    ) -> SupervisorBuilder {
        let s = &self.settings;
        let key = "settings";
        if let Some(v) = &s.success {
            match v.parse::<Success>() {
                Ok(v) => b = b.success(v),
                Err(e) => problems.push(prefixed(key, "success", &e)),
            }
        }
        if let Some(v) = &s.kill_others {
            match v.parse::<KillOthers>() {
                Ok(v) => b = b.kill_others(v),
                Err(e) => problems.push(prefixed(key, "kill_others", &e)),
            }
        }
        if let Some(v) = &s.color {
            match v.as_str() {
                "auto" => b = b.color(ColorChoice::Auto),
                "always" => b = b.color(ColorChoice::Always),
                "never" => b = b.color(ColorChoice::Never),
                other => problems.push(format!(
                    "settings.color: `{other}` is not auto, always or never"
                )),
            }
        }
        let mut stop = Stop::default();
        if let Some(v) = &s.stop_signal {
            match v.parse::<StopSignal>() {
                Ok(sig) => stop.signal = sig,
                Err(e) => problems.push(prefixed(key, "stop_signal", &e)),
            }
        }
        if let Some(g) = duration(s.grace.as_deref(), key, "grace", problems) {
            stop.grace = g;
        }
        if let Some(p) = &s.prefix {
            b = b.prefix(p);
        }
        if let Some(t) = &s.timestamp_format {
            b = b.timestamp_format(t);
        }
        if let Some(m) = s.max_processes {
            b = b.max_processes(m);
        }
        if let Some(t) = &s.default_input_target {
            b = b.default_input_target(t);
        }
        for line in &s.teardown {
            let cmd = Command::shell(line).current_dir(&self.base);
            b = b.teardown(cmd);
        }
        b.raw(s.raw)
            .handle_input(s.handle_input)
            .timings(s.timings)
            .group(s.group)
            .stop(stop)
    }

    fn watch_entry(
        &self,
        w: &WatchEntry,
        key: &str,
        problems: &mut Vec<String>,
    ) -> Option<(Watch, Job)> {
        let mut wb = Watch::builder()
            .paths(w.paths.iter().map(|p| self.base.join(p)))
            .extensions(w.extensions.iter().cloned());
        for g in &w.include {
            wb = wb.include(g);
        }
        for g in &w.exclude {
            wb = wb.exclude(g);
        }
        if let Some(d) = duration(w.debounce.as_deref(), key, "debounce", problems) {
            wb = wb.debounce(d);
        }
        if let Some(d) = duration(w.poll.as_deref(), key, "poll", problems) {
            wb = wb.poll(d);
        }
        let mut jb =
            Job::builder(self.command(&w.command, w.cwd.as_deref(), &w.env, key, problems))
                .name(&w.name)
                .postpone(w.postpone);
        if let Some(p) = &w.on_busy {
            match p.parse::<OnBusy>() {
                Ok(p) => jb = jb.on_busy(p),
                Err(e) => problems.push(prefixed(key, "on_busy", &e)),
            }
        }
        match wb.build() {
            Ok(watch) => Some((watch, jb.build())),
            Err(Error::Config { problems: p }) => {
                problems.extend(p.into_iter().map(|p| format!("{key}: {p}")));
                None
            }
            Err(e) => {
                problems.push(format!("{key}: {e}"));
                None
            }
        }
    }

    fn command(
        &self,
        line: &CommandLine,
        cwd: Option<&Path>,
        env: &BTreeMap<String, String>,
        key: &str,
        problems: &mut Vec<String>,
    ) -> Command {
        let mut cmd = match line {
            CommandLine::Shell(s) => {
                if s.trim().is_empty() {
                    problems.push(format!("{key}.command is empty"));
                }
                Command::shell(s)
            }
            CommandLine::Argv(v) => match v.split_first() {
                Some((program, args)) => Command::new(program).args(args),
                None => {
                    problems.push(format!("{key}.command is empty"));
                    Command::new("true")
                }
            },
        };
        cmd = cmd.current_dir(cwd.map_or_else(|| self.base.clone(), |c| self.base.join(c)));
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd
    }
}

fn duration(
    value: Option<&str>,
    key: &str,
    field: &str,
    problems: &mut Vec<String>,
) -> Option<Duration> {
    let value = value?;
    match crate::parse_duration(value) {
        Ok(d) => Some(d),
        Err(_) => {
            problems.push(format!("{key}.{field}: `{value}` is not a duration; write e.g. \"10\" (seconds), \"250ms\" or \"1m30s\""));
            None
        }
    }
}

fn prefixed(key: &str, field: &str, e: &Error) -> String {
    format!("{key}.{field}: {}", strip_config(e))
}

fn strip_config(e: &Error) -> String {
    match e {
        Error::Config { problems } => problems.join("; "),
        e => e.to_string(),
    }
}

/// The parser's message with its line and column, without the source line it would quote:
/// a malformed line may hold a secret (`env = { TOKEN = "s3cret }`).
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("TOML parse error at line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"
            [settings]
            success = "most"
            grace = "soon"

            [[watch]]
            name = "css"
            paths = ["missing"]
            command = "true"
            on_busy = "later"

            [[process]]
            name = "css"
            command = []
            restart_after = "1s"
            restart_delay = "2s"
            color = "mauve"
        "#;
        let config = DevConfig::from_toml(text, dir.path().join("dev.toml")).unwrap();
        let err = config.supervisor().unwrap_err().to_string();
        for needle in [
            "settings.success",
            "settings.grace",
            "watch[0] (css).on_busy",
            "watch[0] (css): cannot watch",
            "process[0] (css).command is empty",
            "process[0] (css): restart_after",
            "mauve",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in {err}");
        }
    }

    #[test]
    fn npm_shortcuts_and_wildcards_expand_from_the_package_json_next_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"scripts": {"watch-js": "a", "watch-css": "b", "start": "c"}}"#,
        )
        .unwrap();
        let text = r#"
            [[process]]
            name = "w-"
            command = "npm:watch-*"

            [[process]]
            name = "web"
            command = "npm:start -- --port 3000"

            [[process]]
            name = "none"
            command = "npm:nothing-*"
        "#;
        let config = DevConfig::from_toml(text, dir.path().join("dev.toml")).unwrap();
        let err = config.supervisor().unwrap_err().to_string();
        assert!(
            err.contains("process[2] (none).command") && err.contains("nothing-*"),
            "{err}"
        );
        let text = text
            .split("[[process]]\n            name = \"none\"")
            .next()
            .unwrap();
        let config = DevConfig::from_toml(text, dir.path().join("dev.toml")).unwrap();
        let b = config.builder().unwrap();
        let got: Vec<(String, String)> = b
            .entries
            .iter()
            .map(|e| (e.name().to_owned(), e.command_line()))
            .collect();
        assert_eq!(
            got,
            [
                ("w-js".to_owned(), "npm run watch-js".to_owned()),
                ("w-css".to_owned(), "npm run watch-css".to_owned()),
                ("web".to_owned(), "npm run start -- --port 3000".to_owned()),
            ]
        );
    }

    #[test]
    fn durations_follow_the_crate_rule_a_bare_number_is_seconds() {
        let mut problems = Vec::new();
        let d = |v| duration(Some(v), "watch.css", "debounce", &mut Vec::new());
        assert_eq!(d("10"), Some(Duration::from_secs(10)));
        assert_eq!(d("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(d("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(
            duration(Some("soon"), "watch.css", "debounce", &mut problems),
            None
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("watch.css.debounce: `soon`"),
            "{problems:?}"
        );
    }

    #[test]
    fn syntax_errors_do_not_quote_the_line() {
        // Before: toml's message quoted the malformed line, secret and all.
        let text = "[[process]]\nname = \"a\"\ncommand = \"true\"\nenv = { TOKEN = \"Kq7s3cret }\n";
        let err = DevConfig::from_toml(text, "dev.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4"), "{err}");
        assert!(!err.contains("Kq7s"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_line_number() {
        let err = DevConfig::from_toml("[[process]]\nname = \"a\"\ncomand = \"x\"\n", "dev.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dev.toml") && err.contains("comand") && err.contains("line 3"),
            "{err}"
        );
    }

    proptest::proptest! {
        /// Any text is either a config or an error naming the file; never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            if let Err(e) = DevConfig::from_toml(&text, "dev.toml") {
                proptest::prop_assert!(e.to_string().starts_with("dev.toml"));
            }
        }
    }

    #[test]
    fn a_valid_file_builds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("css")).unwrap();
        let text = r#"
            [settings]
            kill_others = "on-failure"
            success = "command-server"
            grace = "2s"
            prefix = "{time} {name}"
            timestamp_format = "HH:mm:ss"
            max_processes = 4
            handle_input = true
            default_input_target = "server"
            teardown = ["echo bye"]
            timings = true
            group = true

            [[watch]]
            name = "css"
            paths = ["css"]
            extensions = ["css"]
            command = ["cat", "css/a.css"]
            debounce = "20ms"

            [[process]]
            name = "server"
            command = "python3 -m http.server"
            restart = "forever"
            restart_delay = "100ms"
            stdin = true
            color = "bold.red"

            [[process]]
            name = "quiet"
            command = "true"
            restart = 2
            restart_after = "1s"
            hide = true
        "#;
        let config = DevConfig::from_toml(text, dir.path().join("dev.toml")).unwrap();
        config.supervisor().unwrap();
    }
}
