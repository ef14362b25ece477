//! The `build.rs` helper: protects compile-time database work (sqlx's `query!` macros
//! connect to `DATABASE_URL` while compiling) and tells cargo which variables the verdict
//! depends on, so a cached build is redone when any of them changes. Output follows the
//! build-script protocol only: `cargo::` lines on stdout, nothing else.

use std::io::{self, Write};

use crate::env::{Env, ProcessEnv, Recorded};
use crate::guard::Guard;
use crate::report::{Clearance, Refusal};

/// Runs the guard from a build script on the process environment, printing
/// `cargo::rerun-if-env-changed=VAR` for every variable read (also the unset ones),
/// `cargo::rerun-if-changed=FILE` for every existing file read, and on refusal one
/// `cargo::error=` line per message line, which fails the build.
///
/// Cargo reruns the script when one of those variables or files changes, not when a
/// server's marker does: a build that passed stays cached until its inputs change (a
/// refused build is always retried). Live markers are asked when the build-dependency has
/// the `postgres` / `redis` feature.
///
/// ```no_run
/// // build.rs
/// use preflight_test_guard::{Guard, build_script};
/// fn main() {
///     let guard = Guard::builder().flag("TESTING_IN_DOCKER").build().expect("valid guard");
///     let _ = build_script(&guard);
/// }
/// ```
///
/// # Errors
/// The [`Refusal`] (already reported to cargo).
pub fn build_script(guard: &Guard) -> Result<Clearance, Refusal> {
    build_script_with(guard, ProcessEnv, &mut io::stdout().lock())
}

/// [`build_script`] with an injected environment and output, for tests and wrappers.
///
/// # Errors
/// The [`Refusal`] (already written to `out`).
pub fn build_script_with(
    guard: &Guard,
    env: impl Env,
    out: &mut impl Write,
) -> Result<Clearance, Refusal> {
    let env = Recorded::new(env);
    let result = guard.check_blocking_with(&env);
    // Write errors are ignored: a build script cannot report them anywhere else.
    for var in env.vars() {
        let _ = writeln!(out, "cargo::rerun-if-env-changed={var}");
    }
    for file in env.files().into_iter().filter(|f| f.exists()) {
        let _ = writeln!(out, "cargo::rerun-if-changed={}", file.display());
    }
    match &result {
        Ok(clearance) if clearance.used_override() => {
            for line in clearance.to_string().lines() {
                let _ = writeln!(out, "cargo::warning={line}");
            }
        }
        Ok(_) => {}
        Err(refusal) => {
            for line in refusal.to_string().lines() {
                let _ = writeln!(out, "cargo::error={line}");
            }
        }
    }
    let _ = out.flush();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_every_variable_read_and_errors_on_refusal() {
        let guard = Guard::builder().flag("TESTING_IN_DOCKER").build().unwrap();
        let mut out = Vec::new();
        let env = [(
            "DATABASE_URL",
            "postgres://app:hunter2@db.prod.example.com/app",
        )];
        let result = build_script_with(&guard, env, &mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(result.is_err());
        for var in [
            "TESTING_IN_DOCKER",
            "DATABASE_URL",
            "REDIS_URL",
            "PGHOST",
            "PREFLIGHT_GUARD_ALLOW",
        ] {
            assert!(
                out.contains(&format!("cargo::rerun-if-env-changed={var}\n")),
                "{var}: {out}"
            );
        }
        assert!(out.contains("cargo::error=test-guard: REFUSED"), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.lines().all(|l| l.starts_with("cargo::")), "{out}");
    }
}
