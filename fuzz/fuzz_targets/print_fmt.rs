//! cargo-fuzz target: rperf::fuzzing::print_fmt on libFuzzer's inputs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rperf::fuzzing::print_fmt(data));
