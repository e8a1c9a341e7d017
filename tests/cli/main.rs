//! End-to-end tests: the real rperf binary, with Linux perf as the oracle where it is present.
mod common;
mod corrupt;
mod dwarf;
mod flamegraph;
mod inline;
mod list;
mod record;
mod report;
mod script;
mod stat;
