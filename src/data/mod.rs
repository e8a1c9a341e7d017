//! perf.data, the file format, read and written side by side: [`read`] (file and pipe mode,
//! written by Linux perf or by `rperf record`) and [`write`] (the file and pipe writers, the
//! record encoders, the feature sections). The numbers of the format are in [`crate::abi`].

pub mod header;
pub mod read;
pub mod write;

pub use read::*;
