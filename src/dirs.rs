//! Where rperf keeps its own files, for every layer that reads or writes them (record's
//! kernel text address, the session's kallsyms).
use std::path::PathBuf;

/// Where rperf keeps caches (the kernel symbol table): `$RPERF_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/rperf`, else `~/.cache/rperf`.
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("RPERF_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("rperf")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("rperf")))
}
