//! Behaviour against real servers, processes, sockets and files. Services go through
//! `require!`: with `PREFLIGHT_REQUIRE_SERVICES=1` a missing one fails the test.
//! QuestDB's HTTP endpoints are a stand-in (QuestDB cannot be installed here); those tests
//! say `stand_in` in their names.
//!
//! One binary per crate, named after it
//! (`cargo test -p preflight-readiness --test readiness`); its modules:

// Local servers the tests control, a black hole, event collection.
mod support;

// Absurd but valid settings are not panics: durations saturate.
mod bad_input;
// Command probes own their processes: process groups, timeouts, no leftovers.
mod commands;
// The `wait-for` and `wait-for-questdb` examples, run as the binaries users run.
mod examples;
// HTTP and HTTPS against a local server started by the test.
mod http;
// Property tests for every parser: target specs, durations, status rules.
mod parsing;
// The QuestDB ladder: real PostgreSQL for PG wire, a stand-in for the HTTP endpoints.
mod questdb;
// The policy's rules, scenario by scenario, against scripted services on loopback.
mod scenarios;
// Every protocol probe against the real server.
mod services;
// The wait loop: not ready → ready, deadlines, Docker semantics, events, monitor mode.
mod waiting;
