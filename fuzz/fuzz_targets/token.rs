//! `token`: see `mercure_fuzz::token` (`fuzz/src/token.rs`) and `fuzz/README.md`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mercure_fuzz::token::run(data));
