//! End-to-end tests: the real rperf binary, with Linux perf as the oracle where it is present.
mod common;
mod corpus;
mod corrupt;
mod dwarf;
mod faults;
mod flamegraph;
mod inline;
mod list;
mod newcomer;
mod record;
mod report;
mod script;
mod security;
mod stat;
mod top;
