//! `www_authenticate`: see `mercure_fuzz::www_authenticate` (`fuzz/src/www_authenticate.rs`) and `fuzz/README.md`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mercure_fuzz::www_authenticate::run(data));
