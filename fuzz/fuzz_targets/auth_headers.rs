//! Request headers through credential extraction and the unverified reading of bearer
//! tokens (`sqlgate::fuzzing::auth_headers`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sqlgate::fuzzing::auth_headers(data));
