//! What a template is built from: a directory of `.sql` files or a function that migrates a
//! connection, and the content hash that names the template. The hash covers everything
//! that changes the schema (file names and bytes, or the key the caller gives a function),
//! so a changed migration means a new template and an unchanged one means reuse.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The error a migration function returns.
pub type MigrateError = Box<dyn std::error::Error + Send + Sync>;

type MigrateFuture = Pin<Box<dyn Future<Output = Result<(), MigrateError>> + Send>>;
type MigrateFn = dyn Fn(MigrateContext) -> MigrateFuture + Send + Sync;

/// Bumped when the way templates are built changes, so old templates are not reused.
const FORMAT: &str = "preflight-scratch-v1";

/// The migrations a template is built from.
///
/// - [`Migrations::dir`]: every `*.sql` file of a directory (not its subdirectories), in
///   file-name order, each run as one batch (`20240101_init.sql`, sqlx's `0001_x.sql`;
///   `*.down.sql` files are skipped). The template is named after a hash of the file names
///   and contents.
/// - [`Migrations::sql`]: SQL given inline.
/// - [`Migrations::from_fn`]: your own migrator (refinery, sqlx, diesel, ...) run against the
///   template; you give the `key` that changes when your migrations change (a version, or a
///   hash of their sources).
#[derive(Clone)]
pub struct Migrations {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Dir(PathBuf),
    Sql(Arc<str>),
    Fn { key: Arc<str>, run: Arc<MigrateFn> },
}

impl fmt::Debug for Migrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Dir(dir) => f.debug_tuple("Migrations::dir").field(dir).finish(),
            Source::Sql(sql) => f.debug_tuple("Migrations::sql").field(&sql.len()).finish(),
            Source::Fn { key, .. } => f.debug_tuple("Migrations::from_fn").field(key).finish(),
        }
    }
}

/// What a migration function is given: a connection to the template being built, and how
/// to open your own (for a migrator with its own driver). Close every connection you open
/// before returning: a template cannot be cloned while anyone is connected to it.
#[derive(Debug)]
#[non_exhaustive]
pub struct MigrateContext {
    /// A connection to the template database.
    pub client: tokio_postgres::Client,
    /// The template's connection string (same credentials as the server's).
    pub url: String,
    /// The template's connection configuration.
    pub config: tokio_postgres::Config,
}

/// One migration file, read.
#[derive(Debug)]
pub(crate) struct Step {
    /// The file name (or `inline`), for errors.
    pub(crate) name: String,
    pub(crate) sql: String,
}

impl Migrations {
    /// Every `*.sql` file in `dir`, in file-name order (`*.down.sql` skipped).
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            source: Source::Dir(dir.into()),
        }
    }

    /// SQL given inline (may hold many statements).
    pub fn sql(sql: impl Into<String>) -> Self {
        Self {
            source: Source::Sql(sql.into().into()),
        }
    }

    /// Your own migrator. `key` names the schema version: change it whenever the
    /// migrations change, or the old template is reused.
    ///
    /// ```no_run
    /// # use preflight_test_guard::scratch::Migrations;
    /// let migrations = Migrations::from_fn("v3", |ctx| async move {
    ///     ctx.client.batch_execute("CREATE TABLE t (id int)").await?;
    ///     Ok(())
    /// });
    /// ```
    pub fn from_fn<F, Fut>(key: impl Into<String>, run: F) -> Self
    where
        F: Fn(MigrateContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), MigrateError>> + Send + 'static,
    {
        Self {
            source: Source::Fn {
                key: key.into().into(),
                run: Arc::new(move |ctx| Box::pin(run(ctx))),
            },
        }
    }

    /// The migration directory, if this is [`Migrations::dir`].
    pub(crate) fn directory(&self) -> Option<&Path> {
        match &self.source {
            Source::Dir(dir) => Some(dir),
            _ => None,
        }
    }

    /// Reads the steps (files) and the content hash (hex, 64 digits).
    pub(crate) fn load(&self) -> Result<(Vec<Step>, String)> {
        let mut hash = Sha256::new();
        hash.update(FORMAT.as_bytes());
        let steps = match &self.source {
            Source::Dir(dir) => read_dir(dir)?,
            Source::Sql(sql) => vec![Step {
                name: "inline SQL".to_owned(),
                sql: sql.to_string(),
            }],
            Source::Fn { key, .. } => {
                hash.update(b"\0fn\0");
                hash.update(key.as_bytes());
                Vec::new()
            }
        };
        for step in &steps {
            // Lengths keep `a`+`bc` apart from `ab`+`c`.
            for part in [step.name.as_bytes(), step.sql.as_bytes()] {
                hash.update((part.len() as u64).to_le_bytes());
                hash.update(part);
            }
        }
        let hex = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok((steps, hex))
    }

    /// The caller's function, if this is [`Migrations::from_fn`].
    pub(crate) fn function(&self) -> Option<Arc<MigrateFn>> {
        match &self.source {
            Source::Fn { run, .. } => Some(Arc::clone(run)),
            _ => None,
        }
    }
}

fn read_dir(dir: &Path) -> Result<Vec<Step>> {
    let io = |e: std::io::Error| Error::Migration {
        migration: dir.display().to_string(),
        reason: format!("cannot read the migration directory: {e}"),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().map_err(io)?.is_file()
            || std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
        if is_file && name.ends_with(".sql") && !name.ends_with(".down.sql") {
            files.push((name, entry.path()));
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Migration {
            migration: dir.display().to_string(),
            reason: "no `.sql` files in the migration directory".to_owned(),
        });
    }
    files
        .into_iter()
        .map(|(name, path)| {
            let sql = std::fs::read_to_string(&path).map_err(|e| Error::Migration {
                migration: path.display().to_string(),
                reason: format!("cannot read: {e}"),
            })?;
            Ok(Step { name, sql })
        })
        .collect()
}

/// The 1-based line of a 1-based character position in `sql` (PostgreSQL reports error
/// positions in characters).
pub(crate) fn line_of(sql: &str, position: usize) -> usize {
    sql.chars()
        .take(position.saturating_sub(1))
        .filter(|&c| c == '\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(m: &Migrations) -> String {
        m.load().unwrap().1
    }

    #[test]
    fn the_hash_follows_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, sql: &str| std::fs::write(dir.path().join(name), sql).unwrap();
        write("0001_a.sql", "CREATE TABLE a (id int);");
        write("0002_b.sql", "CREATE TABLE b (id int);");
        write("0002_b.down.sql", "DROP TABLE b;");
        write("notes.txt", "ignored");
        std::fs::create_dir(dir.path().join("sub.sql")).unwrap();
        let m = Migrations::dir(dir.path());
        let (steps, first) = m.load().unwrap();
        let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["0001_a.sql", "0002_b.sql"]);
        assert_eq!(hash(&m), first, "stable");
        write("notes.txt", "still ignored");
        write("0002_b.down.sql", "-- down files do not count");
        assert_eq!(hash(&m), first);
        write("0002_b.sql", "CREATE TABLE b (id bigint);");
        let changed = hash(&m);
        assert_ne!(changed, first);
        std::fs::rename(dir.path().join("0002_b.sql"), dir.path().join("0003_b.sql")).unwrap();
        assert_ne!(hash(&m), changed, "a rename is a change");
        assert_eq!(first.len(), 64);
    }

    #[test]
    fn functions_hash_their_key_and_bad_dirs_name_the_path() {
        let f = |key: &str| Migrations::from_fn(key, |_| async { Ok(()) });
        assert_eq!(hash(&f("v1")), hash(&f("v1")));
        assert_ne!(hash(&f("v1")), hash(&f("v2")));
        assert_ne!(
            hash(&Migrations::sql("SELECT 1")),
            hash(&Migrations::sql("SELECT 2"))
        );
        let err = Migrations::dir("/nonexistent/migrations")
            .load()
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/migrations"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = Migrations::dir(empty.path()).load().unwrap_err();
        assert!(err.to_string().contains("no `.sql` files"), "{err}");
    }

    #[test]
    fn error_positions_become_lines() {
        let sql = "CREATE TABLE a (id int);\nCREATE TABLE b (id nope);";
        assert_eq!(line_of(sql, 1), 1);
        assert_eq!(line_of(sql, sql.find("nope").unwrap() + 1), 2);
    }
}
