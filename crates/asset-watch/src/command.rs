//! What to run: a program with arguments, or a shell line.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;

/// A command to start, as configured by the user.
///
/// ```
/// use preflight_asset_watch::Command;
/// let build = Command::shell("npm run build:css").env("NODE_ENV", "development");
/// assert_eq!(build.to_string(), "npm run build:css");
/// let exact = Command::new("esbuild").args(["src/app.js", "--bundle"]);
/// assert_eq!(exact.to_string(), "esbuild src/app.js --bundle");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    shell_line: Option<String>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
}

impl Command {
    /// Runs `program` directly (no shell), with arguments added by [`Command::arg`].
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            shell_line: None,
            env: Vec::new(),
            cwd: None,
        }
    }

    /// Runs `line` with `/bin/sh -c`, so pipes, `&&` and globs work.
    pub fn shell(line: impl Into<String>) -> Self {
        let line = line.into();
        let mut cmd = Self::new("/bin/sh");
        cmd.args = vec!["-c".into(), line.clone().into()];
        cmd.shell_line = Some(line);
        cmd
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<A: Into<OsString>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the command (the rest is inherited).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the command in `dir`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Whether the user set `key` for this command (inherited variables do not count).
    pub(crate) fn sets_env(&self, key: &str) -> bool {
        self.env.iter().any(|(k, _)| k == OsStr::new(key))
    }

    /// The std command, ready for the spawner to add process-group and I/O settings.
    pub(crate) fn to_std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }
}

/// Shows the command line, never the environment (it may hold secrets).
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = &self.shell_line {
            return f.write_str(line);
        }
        write!(f, "{}", self.program.to_string_lossy())?;
        for arg in &self.args {
            write!(f, " {}", arg.to_string_lossy())?;
        }
        Ok(())
    }
}

/// Like `Display`: environment values are left out on purpose.
impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("line", &self.to_string())
            .field(
                "env_keys",
                &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("cwd", &self.cwd)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_env_values() {
        let cmd = Command::shell("deploy").env("TOKEN", "s3cret-value");
        let dbg = format!("{cmd:?}");
        assert!(
            dbg.contains("TOKEN") && !dbg.contains("s3cret-value"),
            "{dbg}"
        );
        assert!(cmd.sets_env("TOKEN") && !cmd.sets_env("PATH"));
    }
}
