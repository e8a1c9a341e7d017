//! rperf: a Linux profiler in the spirit of perf. The binary is a thin shell over this library.

pub mod callchain;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod data;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod output;
pub mod record;
pub mod replay;
pub mod report;
pub mod session;
pub mod stat;
pub mod sys;
pub mod target;
