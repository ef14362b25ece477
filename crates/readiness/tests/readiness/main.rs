//! Behaviour against real servers, processes, sockets and files. Services go through
//! `require!`: with `PREFLIGHT_REQUIRE_SERVICES=1` a missing one fails the test.
//! QuestDB's HTTP endpoints are a stand-in (QuestDB cannot be installed here); those tests
//! say `stand_in` in their names.

mod support;

mod bad_input;
mod commands;
mod examples;
mod http;
mod parsing;
mod questdb;
mod scenarios;
mod services;
mod waiting;
