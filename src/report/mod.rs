//! Aggregations shared by report, script and flamegraph.
pub mod folded;
pub mod graph;
pub mod trace;
