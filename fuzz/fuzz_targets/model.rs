//! The crate against the reference model, one operation at a time.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cancel_token_fuzz::run_model(data));
