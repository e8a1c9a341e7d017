//! cargo-fuzz target: rperf::fuzzing::tracepoint_format on libFuzzer's inputs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rperf::fuzzing::tracepoint_format(data));
