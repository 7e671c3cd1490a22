//! `link_header`: see `mercure_fuzz::link_header` (`fuzz/src/link_header.rs`) and `fuzz/README.md`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mercure_fuzz::link_header::run(data));
