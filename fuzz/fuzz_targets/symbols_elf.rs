//! cargo-fuzz target: rperf::fuzzing::symbols_elf on libFuzzer's inputs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rperf::fuzzing::symbols_elf(data));
