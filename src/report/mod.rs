//! Aggregations shared by report, script and flamegraph.
pub mod export;
pub mod folded;
pub mod graph;
pub mod header;
pub mod trace;
