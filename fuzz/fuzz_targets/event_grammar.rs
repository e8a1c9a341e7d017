//! cargo-fuzz target: rperf::fuzzing::event_grammar on libFuzzer's inputs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rperf::fuzzing::event_grammar(data));
