//! cargo-fuzz target: rperf::fuzzing::perf_data on libFuzzer's inputs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rperf::fuzzing::perf_data(data));
