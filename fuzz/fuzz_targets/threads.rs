//! The crate against the reference model, with pairs of operations run at once
//! on two threads.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cancel_token_fuzz::run_threads(data));
