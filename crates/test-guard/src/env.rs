//! Where the guard reads its inputs. Behind a trait so tests and `build.rs` can inject
//! variables without mutating the process environment, and so the build-script helper can
//! record every variable it read. Nothing here ever writes to the environment.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// A source of environment variables (and the few other facts of the process the guard asks).
///
/// Implemented for [`ProcessEnv`], for closures `Fn(&str) -> Option<String>`, for maps and for
/// arrays / slices of `(&str, &str)` pairs, so a test can pass `[("DATABASE_URL", "...")]`.
pub trait Env {
    /// The value of `name`, or `None` when it is unset.
    fn var(&self, name: &str) -> Option<String>;

    /// The contents of a file the guard needs (the libpq service file), or `None` when it
    /// cannot be read.
    fn read_file(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    /// Whether a person is at the keyboard (standard input is a terminal).
    fn is_interactive(&self) -> bool {
        std::io::stdin().is_terminal()
    }
}

/// The real process environment (`std::env::var_os`).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        // A non-UTF-8 value is still *set*: treat it lossily rather than as absent, so a
        // strange DATABASE_URL is refused instead of ignored.
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

impl<F> Env for F
where
    F: Fn(&str) -> Option<String>,
{
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for &[(&str, &str)] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, name: &str) -> Option<String> {
        self.as_slice().var(name)
    }
}

/// Wraps an [`Env`] and remembers every variable and file asked for, so a build script can
/// tell cargo to rerun when any of them changes.
#[derive(Debug, Default)]
pub struct Recorded<E> {
    inner: E,
    vars: RefCell<BTreeSet<String>>,
    files: RefCell<BTreeSet<PathBuf>>,
}

impl<E: Env> Recorded<E> {
    /// Records the reads made through `inner`.
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            vars: RefCell::default(),
            files: RefCell::default(),
        }
    }

    /// Every variable name read so far, sorted.
    pub fn vars(&self) -> Vec<String> {
        self.vars.borrow().iter().cloned().collect()
    }

    /// Every file path read so far (whether or not it existed), sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        self.files.borrow().iter().cloned().collect()
    }
}

impl<E: Env> Env for Recorded<E> {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.borrow_mut().insert(name.to_owned());
        self.inner.var(name)
    }
    fn read_file(&self, path: &Path) -> Option<String> {
        self.files.borrow_mut().insert(path.to_owned());
        self.inner.read_file(path)
    }
    fn is_interactive(&self) -> bool {
        self.inner.is_interactive()
    }
}

/// `true` for a set, non-empty value that is not a spelled-out "no"
/// (`0`, `false`, `no`, `off`, any case).
pub(crate) fn is_truthy(value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("") => false,
        Some(v) => !["0", "false", "no", "off"]
            .iter()
            .any(|no| v.eq_ignore_ascii_case(no)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_closures_and_maps_are_envs() {
        let pairs = [("A", "1"), ("A", "2")];
        assert_eq!(
            pairs.var("A").as_deref(),
            Some("2"),
            "last one wins, as in a shell"
        );
        assert_eq!(pairs.var("B"), None);
        let closure = |k: &str| (k == "X").then(|| "y".to_owned());
        assert_eq!(closure.var("X").as_deref(), Some("y"));
        let map: HashMap<String, String> = [("K".to_owned(), "v".to_owned())].into();
        assert_eq!(map.var("K").as_deref(), Some("v"));
    }

    #[test]
    fn recorded_lists_every_read_including_unset_ones() {
        let env = Recorded::new([("SET", "1")]);
        let _ = env.var("UNSET");
        let _ = env.var("SET");
        let _ = env.var("SET");
        let _ = env.read_file(Path::new("/nonexistent/pg_service.conf"));
        assert_eq!(env.vars(), ["SET", "UNSET"]);
        assert_eq!(env.files(), [PathBuf::from("/nonexistent/pg_service.conf")]);
    }

    #[test]
    fn truthiness() {
        for yes in ["1", "true", "yes", "docker"] {
            assert!(is_truthy(Some(yes)), "{yes}");
        }
        for no in ["", " ", "0", "false", "FALSE", "no", "off"] {
            assert!(!is_truthy(Some(no)), "{no:?}");
        }
        assert!(!is_truthy(None));
    }
}
