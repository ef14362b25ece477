//! Placeholder lib while modules land.
#![forbid(unsafe_code)]
mod dialect;
mod error;
mod finding;
mod location;
mod parse;
pub use dialect::{Dialect, Reading, UnknownDialect, Unrepresentable};
pub use error::{Error, Result};
pub use finding::{Finding, Rule, Severity, Snippet};
pub use location::Location;
pub use parse::{Document, Entry, Limits, Separator};
