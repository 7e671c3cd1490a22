//! `publish_form`: see `mercure_fuzz::publish_form` (`fuzz/src/publish_form.rs`) and `fuzz/README.md`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mercure_fuzz::publish_form::run(data));
