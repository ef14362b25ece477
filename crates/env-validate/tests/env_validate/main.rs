//! Integration tests of `preflight-env-validate` against committed fixtures, the real
//! `.env` loaders (python-dotenv, Node dotenv, the dotenvy crate), and generated input.
//!
//! One binary per crate, named after it
//! (`cargo test -p preflight-env-validate --test env_validate`); its modules:

// No panic on adversarial `.env` text, in every dialect.
mod adversarial;
// Helpers shared by the test modules.
mod common;
// Lint parity with dotenv-linter 4.0, fixture by fixture.
mod dotenv_linter;
// `fix` on every fixture, checked with the real loaders.
mod fixing;
// Expected findings and readings for every fixture, asserted exactly (rule, key, line).
mod fixtures;
// The dialects against the real loaders: python-dotenv, Node `dotenv`, dotenvy.
mod loaders;
// No value ever leaves through an output.
mod no_leak;
// Property tests: the parser and every dialect never panic and stay lossless.
mod properties;
