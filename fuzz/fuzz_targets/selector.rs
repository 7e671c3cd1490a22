//! `selector`: see `mercure_fuzz::selector` (`fuzz/src/selector.rs`) and `fuzz/README.md`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mercure_fuzz::selector::run(data));
