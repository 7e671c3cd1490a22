//! `sse`: see `mercure_fuzz::sse` (`fuzz/src/sse.rs`) and `fuzz/README.md`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mercure_fuzz::sse::run(data));
