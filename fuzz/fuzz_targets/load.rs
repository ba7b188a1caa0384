//! Loading: the first byte picks the format (TOML, YAML, JSON), the rest is the text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| opflow_fuzz::load(data));
