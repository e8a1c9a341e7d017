//! rperf: a Linux profiler in the spirit of perf. The binary is a thin shell over this library.
// unsafe code only in sys/, the system calls; everything above it is safe.
#![deny(unsafe_code)]

pub mod abi;
pub mod annotate;
pub mod buildid_cache;
pub mod callchain;
pub mod cgroup;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod data;
pub mod dirs;
pub mod events;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod output;
pub mod probe;
pub mod record;
pub mod replay;
pub mod report;
pub mod session;
pub mod stat;
#[allow(unsafe_code)]
pub mod sys;
pub mod target;
pub mod top;
pub mod trace;
pub mod tui;
