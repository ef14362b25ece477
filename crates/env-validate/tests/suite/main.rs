//! Integration tests of `preflight-env-validate` against committed fixtures, the real
//! `.env` loaders (python-dotenv, Node dotenv, the dotenvy crate), and generated input.

mod adversarial;
mod common;
mod dotenv_linter;
mod fixing;
mod fixtures;
mod loaders;
mod no_leak;
mod properties;
