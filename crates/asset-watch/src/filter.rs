//! Which paths matter: built-in ignores, `.gitignore`/`.ignore` rules, user globs and
//! extensions.
//!
//! One matcher serves both the directory walk (to decide which directories get a watch at
//! all) and the event stream (to decide whether a changed file counts), so the two can
//! never disagree. It never touches the file system except to read ignore files.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::{Error, Result, error_chain};

/// Directories never worth watching: version-control stores, dependency and build trees.
/// `node_modules` and `target` are here on purpose: they are the trees that make other
/// watchers slow, and nobody edits them by hand.
pub(crate) const DEFAULT_IGNORED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    "_darcs",
    ".jj",
    "node_modules",
    "target",
    "__pycache__",
];

/// Files editors write beside the real one while saving (swap, backup, vim's `4913` probe,
/// JetBrains' safe-write temporaries). They are never the change the user means. Plain
/// string tests, not globs: this runs for every event.
pub(crate) fn is_editor_temp(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        ".swp",
        ".swx",
        ".swo",
        "~",
        "___jb_tmp___",
        "___jb_old___",
        ".kate-swp",
    ];
    SUFFIXES.iter().any(|s| name.ends_with(s))
        || name.starts_with(".#")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || name == ".DS_Store"
}

/// Names of per-directory ignore files, lowest precedence first.
const IGNORE_FILES: &[&str] = &[".gitignore", ".ignore"];

/// User-level filter settings; [`crate::WatchBuilder`] fills them.
#[derive(Debug, Clone, Default)]
pub(crate) struct FilterSpec {
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) extensions: Vec<String>,
    pub(crate) no_default_ignores: bool,
    pub(crate) no_vcs_ignores: bool,
}

/// A set of globs split by how they match: globs without `/` match any single path
/// component (so `-i build` prunes every `build` directory, and `*.min.css` matches a file
/// name anywhere), globs with `/` match the path relative to the watched root.
#[derive(Debug)]
struct Globs {
    names: GlobSet,
    paths: GlobSet,
    /// For `dir/**`-style path globs: `dir`, so the directory itself is pruned.
    dirs: GlobSet,
    empty: bool,
}

impl Globs {
    fn new<'a>(globs: impl IntoIterator<Item = &'a str>, problems: &mut Vec<Error>) -> Self {
        let (mut names, mut paths, mut dirs) = (
            GlobSetBuilder::new(),
            GlobSetBuilder::new(),
            GlobSetBuilder::new(),
        );
        let mut empty = true;
        for raw in globs {
            let glob = raw.trim_start_matches("./");
            let build = |g: &str| -> Result<Glob> {
                GlobBuilder::new(g)
                    .literal_separator(true)
                    .build()
                    .map_err(|source| Error::Glob {
                        glob: raw.to_owned(),
                        source: Box::new(source),
                    })
            };
            let result = if glob.contains('/') {
                let glob = glob.trim_start_matches('/');
                build(glob).and_then(|g| {
                    paths.add(g);
                    if let Some(dir) = glob.strip_suffix("/**") {
                        dirs.add(build(dir)?);
                    }
                    Ok(())
                })
            } else {
                build(glob).map(|g| {
                    names.add(g);
                })
            };
            match result {
                Ok(()) => empty = false,
                Err(e) => problems.push(e),
            }
        }
        let build = |b: GlobSetBuilder| b.build().unwrap_or_else(|_| GlobSet::empty());
        Self {
            names: build(names),
            paths: build(paths),
            dirs: build(dirs),
            empty,
        }
    }

    /// Whether `rel` (relative to its root) matches: any component against the name globs,
    /// the whole path against the path globs.
    fn matches(&self, rel: &Path, is_dir: bool) -> bool {
        if self.empty {
            return false;
        }
        if rel.components().any(|c| self.names.is_match(c.as_os_str())) {
            return true;
        }
        self.paths.is_match(rel) || (is_dir && self.dirs.is_match(rel))
    }

    /// Like [`Globs::matches`] but only the last component is tried against name globs: the
    /// walk has already checked every ancestor.
    fn matches_entry(&self, rel: &Path, is_dir: bool) -> bool {
        if self.empty {
            return false;
        }
        rel.file_name().is_some_and(|n| self.names.is_match(n))
            || self.paths.is_match(rel)
            || (is_dir && self.dirs.is_match(rel))
    }
}

/// A watched root: a directory (watched recursively, minus pruned parts) or a single file
/// (its directory is watched without recursion so atomic saves are seen).
#[derive(Debug, Clone)]
pub(crate) enum Root {
    Dir(PathBuf),
    File(PathBuf),
}

impl Root {
    pub(crate) fn dir(&self) -> &Path {
        match self {
            Self::Dir(p) => p,
            Self::File(p) => p.parent().unwrap_or(Path::new("/")),
        }
    }
}

/// The compiled filter.
#[derive(Debug)]
pub(crate) struct Filter {
    roots: Vec<Root>,
    include: Globs,
    exclude: Globs,
    extensions: Vec<String>,
    default_ignores: bool,
    vcs_ignores: bool,
    /// Per-directory ignore matchers, keyed by the directory holding the ignore files.
    ignores: HashMap<PathBuf, Gitignore>,
}

impl Filter {
    /// Compiles the spec; every bad glob is reported, not just the first.
    pub(crate) fn new(spec: &FilterSpec, roots: Vec<Root>) -> Result<Self> {
        let mut problems = Vec::new();
        let include = Globs::new(spec.include.iter().map(String::as_str), &mut problems);
        let exclude = Globs::new(spec.exclude.iter().map(String::as_str), &mut problems);
        if problems.len() == 1 {
            return Err(problems.remove(0));
        }
        if !problems.is_empty() {
            return Err(Error::Config {
                problems: problems.iter().map(error_chain).collect(),
            });
        }
        let mut filter = Self {
            roots,
            include,
            exclude,
            extensions: spec
                .extensions
                .iter()
                .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
            default_ignores: !spec.no_default_ignores,
            vcs_ignores: !spec.no_vcs_ignores,
            ignores: HashMap::new(),
        };
        if filter.vcs_ignores {
            let dirs: Vec<PathBuf> = filter
                .roots
                .iter()
                .flat_map(|r| ancestors_to_repo(r.dir()))
                .collect();
            for dir in dirs {
                filter.load_ignores(&dir)?;
            }
        }
        Ok(filter)
    }

    pub(crate) fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// Reads `.gitignore`/`.ignore` in `dir` (and `.git/info/exclude` at a repository
    /// root), replacing what was known for that directory.
    pub(crate) fn load_ignores(&mut self, dir: &Path) -> Result<()> {
        if !self.vcs_ignores {
            return Ok(());
        }
        let mut builder = GitignoreBuilder::new(dir);
        let mut any = false;
        let exclude = dir.join(".git/info/exclude");
        let files = std::iter::once(exclude).chain(IGNORE_FILES.iter().map(|n| dir.join(n)));
        for file in files {
            if !file.is_file() {
                continue;
            }
            any = true;
            if let Some(source) = builder.add(&file) {
                return Err(Error::IgnoreFile {
                    path: file,
                    source: Box::new(source),
                });
            }
        }
        if !any {
            self.ignores.remove(dir);
            return Ok(());
        }
        let matcher = builder.build().map_err(|source| Error::IgnoreFile {
            path: dir.join(".gitignore"),
            source: Box::new(source),
        })?;
        self.ignores.insert(dir.to_path_buf(), matcher);
        Ok(())
    }

    /// Whether a file name is one of the per-directory ignore files.
    pub(crate) fn is_ignore_file(name: &OsStr) -> bool {
        IGNORE_FILES.iter().any(|n| OsStr::new(n) == name)
    }

    /// The root `path` falls under (the deepest one) and the path relative to it.
    fn locate<'a>(&self, path: &'a Path) -> Option<(&Root, &'a Path)> {
        self.roots
            .iter()
            .filter_map(|root| match root {
                Root::Dir(dir) => path.strip_prefix(dir).ok().map(|rel| (root, rel)),
                Root::File(file) => (path == file)
                    .then(|| path.strip_prefix(root.dir()).ok().map(|rel| (root, rel)))
                    .flatten(),
            })
            .max_by_key(|(_, rel)| std::cmp::Reverse(rel.components().count()))
    }

    /// Whether the ignore files say `path` is ignored (deepest rule wins; `!` re-includes).
    fn vcs_ignored(&self, path: &Path, is_dir: bool) -> bool {
        if self.ignores.is_empty() {
            return false;
        }
        for dir in path.ancestors().skip(1) {
            if let Some(gi) = self.ignores.get(dir) {
                let m = gi.matched(path, is_dir);
                if m.is_ignore() {
                    return true;
                }
                if m.is_whitelist() {
                    return false;
                }
            }
        }
        false
    }

    /// During the walk: should this subdirectory (whose parent is kept) be watched?
    pub(crate) fn keep_dir(&self, path: &Path) -> bool {
        let Some((_, rel)) = self.locate(path) else {
            return false;
        };
        if self.default_ignores
            && path
                .file_name()
                .is_some_and(|n| DEFAULT_IGNORED_DIRS.iter().any(|d| OsStr::new(d) == n))
        {
            return false;
        }
        !self.exclude.matches_entry(rel, true) && !self.vcs_ignored(path, true)
    }

    /// For an event: is a directory at `path` inside the watched area (every ancestor
    /// below its root kept)?
    pub(crate) fn dir_in_scope(&self, path: &Path) -> bool {
        let Some((Root::Dir(root), _)) = self.locate(path) else {
            return false;
        };
        path.ancestors()
            .take_while(|a| a.starts_with(root) && *a != root.as_path())
            .all(|a| self.keep_dir(a))
    }

    /// For an event: does a change to the file at `path` count?
    pub(crate) fn keep_file(&self, path: &Path) -> bool {
        let Some((root, rel)) = self.locate(path) else {
            return false;
        };
        if let Root::File(_) = root {
            // The user named this very file: no filter applies to it.
            return true;
        }
        if self.default_ignores
            && path
                .file_name()
                .and_then(OsStr::to_str)
                .is_some_and(is_editor_temp)
        {
            return false;
        }
        if self.exclude.matches(rel, false) {
            return false;
        }
        if let Some(parent) = path.parent()
            && !self.dir_in_scope(parent)
        {
            return false;
        }
        if self.vcs_ignored(path, false) {
            return false;
        }
        if !self.extensions.is_empty() {
            let ext = path
                .extension()
                .and_then(OsStr::to_str)
                .map(str::to_ascii_lowercase);
            if !ext.is_some_and(|e| self.extensions.contains(&e)) {
                return false;
            }
        }
        self.include.empty || self.include.matches(rel, false)
    }
}

/// `dir` and its ancestors up to the repository root (the nearest one holding `.git`);
/// just `dir` when it is not inside a repository.
fn ancestors_to_repo(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in dir.ancestors() {
        out.push(a.to_path_buf());
        if a.join(".git").exists() {
            return out;
        }
    }
    vec![dir.to_path_buf()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(spec: &FilterSpec, root: &Path) -> Filter {
        Filter::new(spec, vec![Root::Dir(root.to_path_buf())]).unwrap()
    }

    #[test]
    fn default_ignores_prune_dependency_trees_and_swap_files() {
        let root = Path::new("/p");
        let f = filter(&FilterSpec::default(), root);
        assert!(!f.keep_dir(Path::new("/p/node_modules")));
        assert!(!f.keep_dir(Path::new("/p/a/target")));
        assert!(!f.keep_dir(Path::new("/p/.git")));
        assert!(f.keep_dir(Path::new("/p/src")));
        assert!(!f.keep_file(Path::new("/p/src/.main.css.swp")));
        assert!(!f.keep_file(Path::new("/p/src/4913")));
        assert!(!f.keep_file(Path::new("/p/src/main.css~")));
        assert!(!f.keep_file(Path::new("/p/node_modules/x/y.js")));
        assert!(f.keep_file(Path::new("/p/src/main.css")));
        assert!(!f.keep_file(Path::new("/elsewhere/main.css")));
    }

    #[test]
    fn default_ignores_can_be_turned_off() {
        let spec = FilterSpec {
            no_default_ignores: true,
            ..FilterSpec::default()
        };
        let f = filter(&spec, Path::new("/p"));
        assert!(f.keep_dir(Path::new("/p/node_modules")));
        assert!(f.keep_file(Path::new("/p/a.swp")));
    }

    #[test]
    fn extensions_are_case_insensitive_and_dot_tolerant() {
        let spec = FilterSpec {
            extensions: vec![".CSS".into(), "js".into()],
            ..FilterSpec::default()
        };
        let f = filter(&spec, Path::new("/p"));
        assert!(f.keep_file(Path::new("/p/a/b.css")));
        assert!(f.keep_file(Path::new("/p/a/b.JS")));
        assert!(!f.keep_file(Path::new("/p/a/b.scss")));
        assert!(!f.keep_file(Path::new("/p/Makefile")));
    }

    #[test]
    fn name_globs_match_any_component_and_path_globs_the_relative_path() {
        let spec = FilterSpec {
            exclude: vec!["build".into(), "*.min.css".into(), "vendor/**".into()],
            ..FilterSpec::default()
        };
        let f = filter(&spec, Path::new("/p"));
        assert!(!f.keep_dir(Path::new("/p/a/build")));
        assert!(!f.keep_file(Path::new("/p/a/build/x.css")));
        assert!(!f.keep_file(Path::new("/p/a/x.min.css")));
        assert!(!f.keep_dir(Path::new("/p/vendor")));
        assert!(f.keep_dir(Path::new("/p/a/vendor")));
        assert!(f.keep_file(Path::new("/p/a/x.css")));
    }

    #[test]
    fn include_globs_restrict_files_but_never_prune_directories() {
        let spec = FilterSpec {
            include: vec!["src/**/*.scss".into()],
            ..FilterSpec::default()
        };
        let f = filter(&spec, Path::new("/p"));
        assert!(f.keep_dir(Path::new("/p/lib")));
        assert!(f.keep_file(Path::new("/p/src/a/b.scss")));
        assert!(!f.keep_file(Path::new("/p/lib/b.scss")));
    }

    #[test]
    fn every_bad_glob_is_reported() {
        let spec = FilterSpec {
            exclude: vec!["a[".into(), "ok".into(), "{b".into()],
            ..FilterSpec::default()
        };
        let err = Filter::new(&spec, vec![Root::Dir("/p".into())]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`a[`") && msg.contains("`{b`"), "{msg}");
    }

    proptest::proptest! {
        /// Any glob is accepted or reported by name; matching any path never panics.
        #[test]
        fn arbitrary_globs_and_paths_never_panic(glob in "\\PC{0,20}", path in "[a-z/.*{}]{0,30}") {
            let spec = FilterSpec { exclude: vec![glob.clone()], include: vec![glob.clone()], ..FilterSpec::default() };
            match Filter::new(&spec, vec![Root::Dir("/p".into())]) {
                Ok(f) => {
                    let p = Path::new("/p").join(&path);
                    let _ = f.keep_file(&p);
                    let _ = f.keep_dir(&p);
                }
                Err(e) => proptest::prop_assert!(e.to_string().contains(&glob), "{e}"),
            }
        }
    }

    #[test]
    fn a_named_file_root_keeps_only_that_file() {
        let f = Filter::new(
            &FilterSpec::default(),
            vec![Root::File("/p/conf/app.toml".into())],
        )
        .unwrap();
        assert!(f.keep_file(Path::new("/p/conf/app.toml")));
        assert!(!f.keep_file(Path::new("/p/conf/other.toml")));
    }

    #[test]
    fn gitignore_rules_apply_with_negation_and_nesting() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git/info")).unwrap();
        std::fs::write(root.join(".gitignore"), "dist/\n*.log\n!keep.log\n").unwrap();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/.ignore"), "gen.css\n").unwrap();
        let mut f = filter(&FilterSpec::default(), root);
        f.load_ignores(&root.join("sub")).unwrap();
        assert!(!f.keep_dir(&root.join("dist")));
        assert!(!f.keep_file(&root.join("a.log")));
        assert!(f.keep_file(&root.join("keep.log")));
        assert!(!f.keep_file(&root.join("sub/gen.css")));
        assert!(f.keep_file(&root.join("gen.css")));
    }
}
