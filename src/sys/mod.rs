//! The only unsafe code in rperf: perf_event_open and its ioctls, reading counters, forking
//! the workload, signals, locale, uname, mmap'd rings, mapped binaries and tracefs mounting.
//! Everything above this module is safe.

pub mod clock;
pub mod counter;
pub mod ids;
pub mod locale;
pub mod map;
pub mod ring;
pub mod signals;
pub mod topology;
pub mod tracefs;
pub mod workload;
