//! cargo-fuzz target: rperf::fuzzing::sample_decoder on libFuzzer's inputs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rperf::fuzzing::sample_decoder(data));
