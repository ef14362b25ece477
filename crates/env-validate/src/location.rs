//! Where a finding points: a file, line and column, or the process environment.

use std::fmt;
use std::sync::Arc;

/// A position in a named source, 1-based like rustc and editors expect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Location {
    /// The file as the user named it (or `<process environment>`).
    pub file: Arc<str>,
    /// 1-based line; `0` when the source has no lines (the process environment).
    pub line: u32,
    /// 1-based column in characters; `0` when not applicable.
    pub col: u32,
}

impl Location {
    pub(crate) fn new(file: Arc<str>, line: u32, col: u32) -> Self {
        Self { file, line, col }
    }

    /// True when the location is a line of a file.
    #[must_use]
    pub fn has_line(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (0, _) => f.write_str(&self.file),
            (l, 0) => write!(f, "{}:{l}", self.file),
            (l, c) => write!(f, "{}:{l}:{c}", self.file),
        }
    }
}
