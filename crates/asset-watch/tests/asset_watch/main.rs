//! Integration tests of `preflight-asset-watch`: behaviour against real inotify, real
//! processes and real files in temp dirs. One binary per crate, named after it
//! (`cargo test -p preflight-asset-watch --test asset_watch`); its modules:

// Running commands per batch: queueing, restart, stop escalation, what the command is told.
mod running;
// The `supervise` example binary as the supervisor under test, side by side with others.
mod side_by_side;
// Shared helpers: waiting on conditions, process checks.
mod support;
// Watching: real inotify (and polling) on temp dirs; debounce, the batch cap, ignores.
mod watching;
