//! Profile exports built from the same sample walk as folded stacks: the Firefox Profiler's
//! processed format (through fxprof-processed-profile) and pprof (profile.proto, gzipped).
#[cfg(not(all(feature = "firefox", feature = "pprof")))]
use {super::folded::FoldOptions, anyhow::Result, std::path::Path};

// Each format is a default-on cargo feature: a build without it (`--no-default-features`)
// leaves its crates out and says so when the format is asked for.
#[cfg(feature = "firefox")]
mod firefox;
#[cfg(feature = "pprof")]
mod pprof;

#[cfg(feature = "firefox")]
pub use firefox::firefox;
#[cfg(feature = "pprof")]
pub use pprof::pprof;

/// The error for a format this build left out.
#[cfg(not(all(feature = "firefox", feature = "pprof")))]
fn not_built(format: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "--format {format} is not available: this rperf was built without the `{format}` \
         feature (rebuild with default features, or --features {format})"
    )
}

/// The Firefox Profiler's format, left out of this build.
#[cfg(not(feature = "firefox"))]
pub fn firefox(_input: &Path, _opts: &FoldOptions, _product: &str) -> Result<Vec<u8>> {
    Err(not_built("firefox"))
}

/// pprof, left out of this build.
#[cfg(not(feature = "pprof"))]
pub fn pprof(_input: &Path, _opts: &FoldOptions) -> Result<Vec<u8>> {
    Err(not_built("pprof"))
}

#[cfg(any(feature = "firefox", feature = "pprof"))]
const NO_SAMPLES: &str =
    "no samples to export (is the perf.data empty, or did the filters remove everything?)";

#[cfg(feature = "pprof")]
/// Events whose period counts nanoseconds of CPU time (modifiers aside).
fn is_clock(event: &str) -> bool {
    let base = event.split(':').next().unwrap_or(event);
    matches!(base, "cpu-clock" | "task-clock")
}
