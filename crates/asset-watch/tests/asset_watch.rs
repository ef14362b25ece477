//! Behaviour against real inotify, real processes and real files in temp dirs.

#[path = "asset_watch/running.rs"]
mod running;
#[path = "asset_watch/side_by_side.rs"]
mod side_by_side;
#[path = "asset_watch/support.rs"]
mod support;
#[path = "asset_watch/watching.rs"]
mod watching;
