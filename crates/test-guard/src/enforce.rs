//! Sync entry points and `enforce`. The blocking check is the one place this crate builds a
//! tokio runtime (a current-thread one, on a thread of its own so it also works when the
//! caller is already inside a runtime or before `main`); it only does so when a live marker
//! must be read.

use std::io::Write;

use crate::env::{Env, ProcessEnv};
use crate::guard::Guard;
use crate::report::{Clearance, Refusal};

/// The exit code of [`Guard::enforce`] and the test-binary opt-in when the check refuses.
pub const REFUSED_EXIT_CODE: i32 = 1;

/// The exit code when the guard itself is misconfigured.
pub const CONFIG_ERROR_EXIT_CODE: i32 = 2;

impl Guard {
    /// [`Guard::check_with`] for sync callers (`build.rs`, a sync `main`, a before-main hook).
    /// Safe to call from inside a tokio runtime.
    ///
    /// # Errors
    /// The [`Refusal`], listing every failed check.
    pub fn check_blocking_with(&self, env: &impl Env) -> Result<Clearance, Refusal> {
        let plan = self.plan(env);
        if !plan.needs_live(&self.inner) {
            return self.finish(plan, Vec::new());
        }
        let readings = self.read_markers_blocking(&plan);
        self.finish(plan, readings)
    }

    /// [`Guard::check_blocking_with`] on the process environment.
    ///
    /// # Errors
    /// The [`Refusal`], listing every failed check.
    pub fn check_blocking(&self) -> Result<Clearance, Refusal> {
        self.check_blocking_with(&ProcessEnv)
    }

    #[cfg(any(feature = "postgres", feature = "redis"))]
    fn read_markers_blocking(&self, plan: &crate::check::Plan) -> crate::check::Readings {
        let failed = |reason: String| {
            vec![Some(vec![Err(crate::Error::Marker {
                target: "every target".to_owned(),
                reason,
            })])]
        };
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(self.read_markers_for(plan)),
                        Err(e) => failed(format!("cannot start a runtime: {e}")),
                    }
                })
                .join()
                .unwrap_or_else(|_| failed("the marker check panicked".to_owned()))
        })
    }

    #[cfg(not(any(feature = "postgres", feature = "redis")))]
    #[allow(clippy::unused_self, reason = "same signature as the live version")]
    fn read_markers_blocking(&self, _plan: &crate::check::Plan) -> crate::check::Readings {
        Vec::new()
    }

    /// For a service's or command's `main`: checks, and on refusal prints the message to
    /// stderr and exits with [`REFUSED_EXIT_CODE`]. A clearance that needed an override is
    /// announced on stderr too.
    pub async fn enforce(&self) -> Clearance {
        conclude(self.check().await)
    }

    /// [`Guard::enforce`] for sync callers.
    #[must_use = "the clearance says what was checked; ignore it explicitly with `let _ =`"]
    pub fn enforce_blocking(&self) -> Clearance {
        conclude(self.check_blocking())
    }
}

/// Prints and exits on refusal; announces overrides.
pub(crate) fn conclude(result: Result<Clearance, Refusal>) -> Clearance {
    let mut stderr = std::io::stderr().lock();
    match result {
        Ok(clearance) => {
            if clearance.used_override() {
                let _ = write!(stderr, "{clearance}");
            }
            clearance
        }
        Err(refusal) => {
            let _ = writeln!(stderr, "{refusal}");
            let _ = stderr.flush();
            std::process::exit(REFUSED_EXIT_CODE)
        }
    }
}
