//! Release builds link their line tables zlib-compressed: backtraces of an installed rperf
//! name file:line (std's backtrace and rperf's own symbolizer read compressed sections) at a
//! third of the size, so the installed binary stays small without giving up line numbers.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // PROFILE is "release" for every profile that inherits from release (`profiling` too).
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rustc-link-arg-bins=-Wl,--compress-debug-sections=zlib");
    }
}
