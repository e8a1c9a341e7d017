//! Recording: what `rperf record` gathers besides the ring buffers.
pub mod synth;
