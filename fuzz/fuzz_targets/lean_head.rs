//! `lean_head`: see `mercure_fuzz::lean_head` (`fuzz/src/lean_head.rs`) and `fuzz/README.md`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mercure_fuzz::lean_head::run(data));
