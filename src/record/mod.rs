//! Recording: side-band synthesis from /proc, the host facts for the feature sections, build-id
//! hits, binaries captured from containers and the `-g` leaf fixer (the perf.data writer and encoders are in `data::write`).
pub mod cgroups;
pub mod containers;
pub mod drain;
pub mod features;
pub mod hits;
pub mod leaf;
pub mod offcpu;
pub mod open;
pub mod synth;
