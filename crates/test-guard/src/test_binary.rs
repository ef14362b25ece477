//! The one-line opt-in for test binaries: a before-main hook (via `ctor`, re-exported so
//! users need no dependency of their own) that refuses before any test runs. It writes to
//! stderr only and exits non-zero, never panics, and prints nothing on stdout, so nextest's
//! `--list` parsing is untouched. It runs in every process of the binary: once per binary
//! under `cargo test`, once per test (and during listing) under nextest.

/// Refuses to let this test binary run unless the guard clears it, before any test starts.
///
/// Put it once in a test crate (an integration test file, or `src/lib.rs` under
/// `#[cfg(test)]`). With no argument it uses [`Guard::default()`](crate::Guard::default);
/// otherwise pass a closure returning a [`Guard`](crate::Guard), a
/// [`GuardBuilder`](crate::GuardBuilder) or a `Result<Guard, Error>`:
///
/// ```no_run,standalone_crate
/// // Compiled by the doc tests but not run: its hook would refuse the doctest binary itself.
/// preflight_test_guard::guard_test_binary!(|| {
///     preflight_test_guard::Guard::builder().flag("TESTING_IN_DOCKER")
/// });
/// ```
///
/// On refusal the message goes to stderr and the process exits with
/// [`REFUSED_EXIT_CODE`](crate::REFUSED_EXIT_CODE); a misconfigured guard exits with
/// [`CONFIG_ERROR_EXIT_CODE`](crate::CONFIG_ERROR_EXIT_CODE). Needs the `test-binary`
/// feature.
///
/// Under nextest the check runs in every test process and in the `--list` phase (a
/// refusal there stops the run before any test): with a live PostgreSQL marker that is one
/// short connection, about 5 ms on loopback, per test. For a single check per run, use the
/// `guard` example as a nextest setup script as well.
///
/// The crate using it may `deny(unsafe_code)` but not `forbid` it: `ctor` must
/// `allow(unsafe_code)` for the link section that runs the hook.
#[macro_export]
macro_rules! guard_test_binary {
    () => {
        $crate::guard_test_binary!(|| $crate::Guard::default());
    };
    ($make:expr $(,)?) => {
        $crate::__private::ctor::declarative::ctor! {
            #[ctor(unsafe, anonymous, crate_path = $crate::__private::ctor)]
            fn __preflight_test_guard() {
                $crate::__private::run_test_binary_guard($make);
            }
        }
    };
}

/// What `guard_test_binary!` accepts from its closure.
#[doc(hidden)]
pub trait IntoGuard {
    fn into_guard(self) -> crate::Result<crate::Guard>;
}

impl IntoGuard for crate::Guard {
    fn into_guard(self) -> crate::Result<crate::Guard> {
        Ok(self)
    }
}

impl IntoGuard for crate::GuardBuilder {
    fn into_guard(self) -> crate::Result<crate::Guard> {
        self.build()
    }
}

impl IntoGuard for crate::Result<crate::Guard> {
    fn into_guard(self) -> crate::Result<crate::Guard> {
        self
    }
}

/// Called by the macro before `main`.
#[doc(hidden)]
pub fn run_test_binary_guard<G: IntoGuard>(make: impl FnOnce() -> G) {
    use std::io::Write;
    match make().into_guard() {
        Ok(guard) => {
            let _ = crate::enforce::conclude(guard.check_blocking());
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "test-guard: {e}");
            std::process::exit(crate::CONFIG_ERROR_EXIT_CODE);
        }
    }
}
