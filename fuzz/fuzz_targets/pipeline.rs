//! The whole pipeline: compile, then render the package to in-memory files
//! (or print the diagnostics when the manifest does not compile).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| opflow_fuzz::pipeline(data));
