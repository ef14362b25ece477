//! Validate `.env` files and the process environment against a schema that lives in your
//! `.env.example`: every problem at once, located (`file:line:col`), with a stable rule
//! id, and **never showing a value** — not a secret's, not anyone's.
//!
//! What it checks:
//! - **Syntax as your loader reads it.** The `.env` loaders disagree (`#`, quotes,
//!   escapes, `${VAR:-default}`, keys, duplicates). Pick the [`Dialect`] your app uses
//!   (dotenvy, docker compose, Node `dotenv`, python-dotenv), or [`Dialect::Portable`] to
//!   flag every line the loaders read differently.
//! - **Lints** covering dotenv-linter's checks (see [`Rule`]).
//! - **The schema**, from `# @…` directives in the template or [`Schema::builder`]:
//!   required keys, types, defaults (checked too), patterns, cross-field rules.
//! - **Drift** between the env files and the template, both ways.
//!
//! ```
//! use preflight_env_validate::{Dialect, Document, Format, Rule, Validator};
//!
//! let template = Document::parse(".env.example", "\
//! ## @required @secret @type=url(postgres,postgresql)
//! DATABASE_URL=
//! ## @type=port @default
//! PORT=8000
//! ");
//! let env = Document::parse(".env", "DATABASE_URL=mysql://app:hunter2@db/app\nPORT=80\n");
//! let report = Validator::new()
//!     .template_document(template)
//!     .env_document(env)
//!     .dialect(Dialect::Python)
//!     .run()?;
//!
//! let rules: Vec<&str> = report.findings().iter().map(|f| f.rule.id()).collect();
//! assert_eq!(rules, ["invalid-value"], "{}", report.render(Format::Human));
//! let text = report.render(Format::Human);
//! assert!(text.contains(".env:1:1") && !text.contains("hunter2"));
//! assert_eq!(report.values().port("PORT")?, 80);
//! # Ok::<(), preflight_env_validate::Error>(())
//! ```
//!
//! # Template directives
//!
//! Comment lines that start with `@`, directly above a key (no blank line between), are
//! its directives; other comment lines there are its description. A blank line ends the
//! block, so section headers stay headers.
//!
//! | directive | meaning |
//! |---|---|
//! | `@required` / `@optional` | must be set (after defaults) / may be unset (the default) |
//! | `@secret` | the value is never shown; generated templates leave it blank |
//! | `@type=T` | the type, see below (default `string`) |
//! | `@default` / `@default=V` | the template's own value / `V` is used when unset; checked against the type |
//! | `@pattern="REGEX"` | the whole value must match |
//! | `@allow-empty` | `KEY=` is a value (otherwise empty counts as unset) |
//! | `@required-if=OTHER=value` | required when `OTHER` has that value (`@required-if=OTHER`: when it is set) |
//! | `@when=OTHER=value:a\|b` | when `OTHER` has that value, this one must be `a` or `b` (booleans by meaning) |
//! | `@wait` / `@wait=KIND` | a service to wait for before the app starts (recorded in [`KeySpec::wait`] for entry points such as `preflight check`; `KIND` for values that are not URLs, e.g. `tcp`, `questdb`) |
//!
//! Types: `string(min=,max=)` (length), `bool` (`true/false/1/0/yes/no/on/off`, any case;
//! anything else is an error — `"false"` is never true), `bool(strict)` (`true`/`false`),
//! `int(min=,max=)`, `float(min=,max=)`, `port`, `url(scheme,…)`, `host`, `email`,
//! `duration(min=,max=)` (`30s`, `1m30s`), `enum(a,b,…)`, `path(exists,absolute)`, `json`,
//! `list(T,sep=;)` (default separator `,`).
//!
//! # Switching lints off
//!
//! For a whole run: [`Validator::ignore`] (CLI `--ignore unordered-key,…`; dotenv-linter
//! check names are accepted too). For a region of a file, as in dotenv-linter:
//! `# env-validate:off unordered-key,lowercase-key` … `# env-validate:on` (no list: every
//! lint); `# dotenv-linter:off UnorderedKey` comments are honoured as well.
//!
//! # Loader differences modelled
//!
//! | input | dotenvy | compose | Node | python-dotenv |
//! |---|---|---|---|---|
//! | `K=a#c` | `a#c` | `a#c` | `a` | `a#c` |
//! | `K=   # c` | `""` | `# c` | `""` | `# c` |
//! | `K=a b` | error | `a b` | `a b` | `a b` |
//! | `K="a\tb"` | error | tab | `a\tb` | tab |
//! | `K='${X:-d}'` | literal | literal | literal | `d` |
//! | `K=${X:-d}` | `""` | `d` | literal | `d` |
//! | `K: v` | error | `v` | `v` | skipped |
//! | `FOO-BAR=1` | error | `1` | `1` | `1` |
//! | duplicate key | first wins | last wins | last wins | last wins |
//!
//! Node and python-dotenv are compared with the real loaders in the test suite.
//!
//! # Crate features
//!
//! - `serde`: `Values::deserialize` into your own struct (field names are the lowercased keys).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod dialect;
mod error;
mod finding;
mod hash;
mod lint;
mod location;
mod parse;
mod report;
mod schema;
#[cfg(feature = "serde")]
mod serde_impl;
mod validate;
mod values;

pub use dialect::{Dialect, Reading, UnknownDialect, Unrepresentable};
pub use error::{Error, Result};
pub use finding::{Finding, Rule, Severity, Snippet};
pub use location::Location;
pub use parse::{Document, Entry, Limits, Separator};
pub use report::{Format, Report};
pub use schema::{Condition, KeyBuilder, KeySpec, Schema, SchemaBuilder, TypedValue, ValueType};
pub use validate::Validator;
pub use values::{Source, Value, Values};
