//! The directory walk that decides where watches go.
//!
//! Only directories are followed, and a pruned directory is never opened: a
//! `node_modules` with 20,000 directories costs one `readdir` entry, not 20,000 watches.
//! Symlinked directories are not followed (they could loop or leave the tree).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::filter::Filter;

/// Walks `start` (already known to be kept), calling `visit` on every kept directory
/// before listing it, so nothing created after the call can be missed: either the watch
/// sees it or the listing does. Files found are pushed to `files` when it is given (used
/// for directories that appear while watching: their files are changes).
pub(crate) fn walk(
    start: &Path,
    filter: &mut Filter,
    mut files: Option<&mut Vec<PathBuf>>,
    visit: &mut dyn FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let mut stack = vec![start.to_path_buf()];
    let mut subdirs = Vec::new();
    while let Some(dir) = stack.pop() {
        visit(&dir)?;
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(source) if dir == start => {
                return Err(Error::WatchPath { path: dir, source });
            }
            Err(e) => {
                // Deleted while we walked: its parent's watch reports that.
                tracing::debug!(dir = %dir.display(), error = %e, "directory vanished during walk");
                continue;
            }
        };
        let mut has_ignore_file = false;
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                subdirs.push(entry.path());
            } else {
                has_ignore_file |= Filter::is_ignore_file(&entry.file_name());
                if let Some(files) = files.as_deref_mut()
                    && kind.is_file()
                {
                    files.push(entry.path());
                }
            }
        }
        if has_ignore_file {
            filter.load_ignores(&dir)?;
        }
        stack.extend(subdirs.drain(..).filter(|d| filter.keep_dir(d)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{FilterSpec, Root};

    #[test]
    fn prunes_ignored_trees_before_visiting_them() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for d in ["src/a", "node_modules/x/y", "dist/sub", "src/.git/objects"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join(".gitignore"), "dist\n").unwrap();
        std::fs::write(root.join("src/a/f.css"), "x").unwrap();
        let mut filter = Filter::new(&FilterSpec::default(), vec![Root::Dir(root.into())]).unwrap();
        let mut seen = Vec::new();
        let mut files = Vec::new();
        walk(root, &mut filter, Some(&mut files), &mut |d| {
            seen.push(d.strip_prefix(root).unwrap().to_path_buf());
            Ok(())
        })
        .unwrap();
        seen.sort();
        let seen: Vec<_> = seen.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(seen, ["", "src", "src/a"]);
        assert!(files.contains(&root.join("src/a/f.css")));
    }
}
