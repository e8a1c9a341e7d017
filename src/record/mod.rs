//! Recording: side-band synthesis, record encoding, features and the perf.data file writer.
pub mod drain;
pub mod encode;
pub mod features;
pub mod file;
pub mod hits;
pub mod leaf;
pub mod synth;
